"""Once a day every OAuth connection uses its credentials, so tokens are refreshed (and rotated
ones stored) before an unused refresh token can lapse; a revoked one asks for a reconnect."""

from __future__ import annotations

import pytest
from django.core import mail

from calendars import tasks
from calendars.models import Calendar, Connection
from calendars.selectors import connection_secrets
from calendars.services import connection_connect_zoom
from integrations.zoom.oauth import secrets_from_token_answer
from multical.lib import vault
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def google_connection(owner, google_fake, *, expired: bool) -> Connection:
    secrets = google_fake.grant(expired=expired)
    connection = Connection(user=owner, kind=Connection.Kind.GOOGLE, label=secrets["email"])
    connection.secrets = vault.seal_json(secrets, context=vault.context_for(connection, "secrets"))
    connection.save()
    return connection


def test_an_expired_access_token_is_refreshed_and_sealed_again(
    owner, google_fake, run_tasks_inline
):
    connection = google_connection(owner, google_fake, expired=True)
    stale = connection_secrets(connection)["access_token"]
    google_fake.add_calendar("family@example.com", "Family")

    with run_tasks_inline():
        tasks.keep_connections_authorized()

    connection.refresh_from_db()
    assert connection_secrets(connection)["access_token"] != stale
    assert google_fake.token_requests == 1
    # The calendar list is brought up to date on the way.
    assert Calendar.objects.filter(connection=connection, name="Family").exists()


def test_a_revoked_authorization_asks_for_a_reconnect_once(owner, google_fake, run_tasks_inline):
    connection = google_connection(owner, google_fake, expired=True)
    google_fake.revoke(connection_secrets(connection)["refresh_token"])

    for _ in range(2):
        with run_tasks_inline():
            tasks.keep_connections_authorized()

    connection.refresh_from_db()
    assert connection.status == Connection.Status.NEEDS_RECONNECT
    assert len(mail.outbox) == 1


def test_a_zoom_refresh_token_is_rotated_and_the_new_one_stored(owner, zoom_fake, run_tasks_inline):
    connection = connection_connect_zoom(
        user=owner,
        email=zoom_fake.email,
        secrets=secrets_from_token_answer(zoom_fake.grant()),
        ip_address=None,
    )
    zoom_fake.expire_access()
    before = connection_secrets(connection)["refresh_token"]

    with run_tasks_inline():
        tasks.keep_connections_authorized()

    connection.refresh_from_db()
    after = connection_secrets(connection)["refresh_token"]
    assert len(zoom_fake.refresh_grants) == 1
    assert after != before and zoom_fake.refresh_works(after)


def test_only_usable_oauth_connections_are_visited(owner, monkeypatch):
    visited: list[str] = []
    monkeypatch.setattr(tasks.keep_connection_authorized, "delay", visited.append)
    google = ConnectionFactory(user=owner, kind=Connection.Kind.GOOGLE)
    ConnectionFactory(user=owner, kind=Connection.Kind.CALDAV)
    ConnectionFactory(
        user=owner, kind=Connection.Kind.MICROSOFT, status=Connection.Status.NEEDS_RECONNECT
    )
    ConnectionFactory(user=owner, kind=Connection.Kind.ZOOM, status=Connection.Status.DISCONNECTED)

    tasks.keep_connections_authorized()

    assert visited == [str(google.id)]
