from __future__ import annotations

import functools

import factory
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from accounts.models import User
from calendars.models import Calendar, Connection
from multical.lib import vault

DEFAULT_PASSWORD = "correct horse battery staple"
CONNECTION_PASSWORD = "server-password-7f3a9c"


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


class ConnectionFactory(factory.django.DjangoModelFactory):
    """A CalDAV connection with sealed secrets (pass ``secrets={...}`` to choose them)."""

    class Meta:
        model = Connection
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    kind = Connection.Kind.CALDAV
    label = factory.Sequence(lambda n: f"person{n} @ dav.example.com")
    server_url = "https://dav.example.com/"
    username = "person"

    @factory.post_generation
    def secrets(connection, create, extracted, **kwargs):
        values = extracted or {"password": CONNECTION_PASSWORD}
        connection.secrets = vault.seal_json(
            values, context=vault.context_for(connection, "secrets")
        )
        if create:
            connection.save(update_fields=["secrets"])


class CalendarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Calendar

    connection = factory.SubFactory(ConnectionFactory)
    remote_id = factory.Sequence(lambda n: f"https://dav.example.com/calendars/person/cal{n}/")
    name = factory.Sequence(lambda n: f"Calendar {n}")
    color = "#3b5bdb"
