from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    """Argon2id with the OWASP-recommended floor: 19 MiB of memory, two passes, one lane.

    Django's default hasher would follow its own defaults as they change; these are pinned so that
    what we promise on the privacy page stays true. A hash made with other parameters is
    upgraded at the owner's next login.
    """

    memory_cost = 19_456
    time_cost = 2
    parallelism = 1
