from __future__ import annotations

import functools

import factory
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from accounts.models import User

DEFAULT_PASSWORD = "correct horse battery staple"


@functools.cache
def _default_password_hash() -> str:
    # Argon2 is slow on purpose; hash the shared test password once per process.
    return make_password(DEFAULT_PASSWORD)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.LazyFunction(_default_password_hash)
    email_verified_at = factory.LazyFunction(timezone.now)
    time_zone = "Europe/Berlin"
