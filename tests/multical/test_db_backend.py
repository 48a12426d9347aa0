"""Our PostgreSQL backend reads instants with psycopg's compiled loader and gets Django's values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection
from django.test.utils import override_settings

from multical.db.postgresql import base
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# Instants whose text form PostgreSQL writes differently: whole seconds, micro- and milliseconds,
# a leap day, the far past and future, and one written from another offset.
INSTANTS = [
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
    datetime(2026, 10, 25, 0, 59, 59, 999999, tzinfo=UTC),
    datetime(2028, 2, 29, 23, 30, 0, 120000, tzinfo=UTC),
    datetime(1, 1, 1, 0, 0, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime(2026, 7, 1, 9, 15, tzinfo=timezone(timedelta(hours=-9, minutes=-30))),
]


def test_the_compiled_loader_reads_timestamptz():
    with connection.cursor() as cursor:
        loader = cursor.cursor.adapters.get_loader(base._TIMESTAMPTZ, base.Format.TEXT)
    assert loader is base._CompiledUtcLoader


def test_instants_read_back_as_django_reads_them():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT value FROM unnest(%s::timestamptz[]) WITH ORDINALITY AS t(value, n) ORDER BY n",
            [INSTANTS],
        )
        read = [row[0] for row in cursor.fetchall()]
    assert read == INSTANTS
    # Django's own values: aware, in datetime.timezone.utc, never another zone object.
    assert all(value.tzinfo is UTC for value in read)


def test_model_rows_carry_utc_instants():
    joined = datetime(2026, 11, 1, 8, 45, 30, 5, tzinfo=UTC)
    user = UserFactory(date_joined=joined)
    stored = type(user).objects.get(pk=user.pk)
    assert stored.date_joined == joined
    assert stored.date_joined.tzinfo is UTC


def test_another_connection_zone_keeps_djangos_loader(settings):
    """A database in another zone (``TIME_ZONE`` in its settings) is left to Django's loader."""
    wrapper = base.DatabaseWrapper({**connection.settings_dict, "TIME_ZONE": "Europe/Berlin"})
    with override_settings(USE_TZ=True):
        params = wrapper.get_connection_params()
    loader = params["context"].get_loader(base._TIMESTAMPTZ, base.Format.TEXT)
    assert loader is not base._CompiledUtcLoader
    assert loader.timezone.key == "Europe/Berlin"
