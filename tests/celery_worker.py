"""A real Celery worker of the project, for tests whose worker talks to the Microsoft fake.

    python -m tests.celery_worker <celery worker arguments>

The same worker as ``celery --app multical worker``, except that msal reaches the fake identity
platform through the relay named in ``MULTICAL_TEST_IDENTITY_RELAY`` (tests/fakes/microsoft.py):
in the test's own process msal is handed the fake object itself, which another process cannot be.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    relay = os.environ.get("MULTICAL_TEST_IDENTITY_RELAY", "")
    if relay:
        from integrations.microsoft import credentials
        from tests.fakes.microsoft import RelayHttpClient

        credentials.identity_http_client = lambda: RelayHttpClient(relay)
    from multical.celery import app

    app.worker_main(["worker", *sys.argv[1:]])


if __name__ == "__main__":
    main()
