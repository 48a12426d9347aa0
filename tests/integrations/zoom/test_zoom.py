"""Zoom: connecting an account (OAuth with PKCE), meetings, and its rotating refresh tokens."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.db import connection as db
from django.urls import reverse

from accounts.models import AuditLog
from calendars import services
from calendars.models import Connection
from calendars.selectors import connection_secrets
from calendars.zoom_tokens import client_for_connection
from integrations.base import ProviderError
from integrations.zoom import oauth as zoom_oauth
from integrations.zoom.oauth import secrets_from_token_answer, token_request

pytestmark = pytest.mark.django_db

CONNECT = "calendars_oauth:zoom_connect"
CALLBACK = "calendars_oauth:zoom_callback"
START = datetime(2030, 5, 6, 7, 30, tzinfo=UTC)


def start(client) -> str:
    response = client.post(reverse(CONNECT))
    assert response.status_code == 302
    return response["Location"]


def callback(client, query: dict[str, str]):
    return client.get(reverse(CALLBACK), query)


def raw_rows(sql: str) -> str:
    with db.cursor() as cursor:
        cursor.execute(sql)
        return repr(cursor.fetchall())


def connected(user, fake) -> Connection:
    return services.connection_connect_zoom(
        user=user,
        email=fake.email,
        secrets=secrets_from_token_answer(fake.grant()),
        ip_address=None,
    )


def make_stale(connection: Connection) -> dict[str, str]:
    """The stored access token has expired, as it would after an hour."""
    stored = connection_secrets(connection)
    expired = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    services.connection_store_refreshed_secrets(
        connection=connection, secrets={**stored, "expires_at": expired}
    )
    return stored


def book(connection: Connection, topic: str = "Ada Lovelace"):
    return client_for_connection(connection).create_meeting(
        topic=topic, start=START, duration_minutes=30, time_zone="Europe/Paris"
    )


# Connecting ---------------------------------------------------------------------------------------


def test_connecting_zoom_seals_the_tokens_names_the_connection_and_audits(
    owner, owner_client, zoom_fake
):
    response = callback(owner_client, zoom_fake.consent(start(owner_client)))

    assert response.status_code == 302
    assert response["Location"] == reverse("calendars:calendar_list")
    connection = Connection.objects.get(user=owner)
    assert connection.kind == Connection.Kind.ZOOM
    assert connection.label == connection.username == zoom_fake.email
    assert connection.status == Connection.Status.OK
    assert not connection.calendars.exists()
    stored = connection_secrets(connection)
    assert set(stored) == {"access_token", "refresh_token", "expires_at", "user_id"}
    assert stored["user_id"] == zoom_fake.user_id
    assert zoom_fake.refresh_works(stored["refresh_token"])
    assert datetime.fromisoformat(stored["expires_at"]) > datetime.now(UTC)
    for token in (stored["refresh_token"], stored["access_token"]):
        assert token not in raw_rows("SELECT * FROM calendars_connection")
        assert token not in raw_rows("SELECT * FROM accounts_auditlog")
    audit = AuditLog.objects.get(user=owner)
    assert audit.action == AuditLog.Action.CONNECTION_ADDED
    assert audit.metadata == {"connection": str(connection.id), "provider": "zoom"}
    page = owner_client.get(response["Location"]).content.decode()
    assert f"Connected Zoom ({zoom_fake.email})" in page


def test_the_code_is_exchanged_with_basic_client_auth_and_the_pkce_verifier(
    owner_client, zoom_fake
):
    url = start(owner_client)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}

    callback(owner_client, zoom_fake.consent(url))

    assert url.startswith(zoom_fake.base_url + "/oauth/authorize?")
    assert query["code_challenge_method"] == "S256"
    assert query["redirect_uri"] == "http://testserver/calendars/oauth/zoom/callback/"
    assert len(query["state"]) >= 32
    (exchange,) = zoom_fake.token_requests
    assert exchange["grant_type"] == "authorization_code"
    assert exchange["code_verifier"]
    assert "client_secret" not in exchange  # sent as HTTP Basic, which the fake insists on


def test_a_callback_with_another_state_is_refused_before_any_token_exchange(
    owner, owner_client, zoom_fake
):
    answer = zoom_fake.consent(start(owner_client))

    response = callback(owner_client, {**answer, "state": "forged-" + answer["state"]})

    assert response.status_code == 400
    assert "no longer valid" in response.content.decode()
    assert zoom_fake.token_requests == []
    assert not Connection.objects.exists()
    assert not AuditLog.objects.exists()


def test_a_replayed_callback_is_refused_and_stores_nothing_more(owner, owner_client, zoom_fake):
    answer = zoom_fake.consent(start(owner_client))
    assert callback(owner_client, answer).status_code == 302

    response = callback(owner_client, answer)

    assert response.status_code == 400
    assert len(zoom_fake.token_requests) == 1
    assert Connection.objects.filter(user=owner).count() == 1
    assert AuditLog.objects.filter(user=owner).count() == 1


def test_a_code_zoom_refuses_stores_nothing(owner, owner_client, zoom_fake):
    answer = zoom_fake.consent(start(owner_client))
    zoom_fake.codes.clear()

    response = callback(owner_client, answer)

    assert response.status_code == 400
    assert "used already" in response.content.decode()
    assert not Connection.objects.exists()


def test_missing_meeting_permissions_are_refused_and_store_nothing(owner, owner_client, zoom_fake):
    zoom_fake.granted_scope = "user:read:user"

    response = callback(owner_client, zoom_fake.consent(start(owner_client)))

    assert response.status_code == 400
    assert "did not grant every permission" in response.content.decode()
    assert not Connection.objects.exists()


def test_a_zoom_app_that_asks_for_more_than_multical_uses_is_refused(
    owner, owner_client, zoom_fake
):
    zoom_fake.granted_scope += " meeting:read:invitation"

    response = callback(owner_client, zoom_fake.consent(start(owner_client)))

    assert response.status_code == 400
    assert "asks for more than Multical uses (meeting:read:invitation)" in (
        response.content.decode()
    )
    assert not Connection.objects.exists()


# The granular scope Zoom's API reference gives for each call the client makes.
SCOPE_OF_CALL = {
    ("GET", "/users/me"): "user:read:user",
    ("POST", "/users/me/meetings"): "meeting:write:meeting",
    ("PATCH", "/meetings/{id}"): "meeting:update:meeting",
    ("DELETE", "/meetings/{id}"): "meeting:delete:meeting",
}


def test_the_scopes_zoom_is_asked_for_are_exactly_those_of_the_calls_the_code_makes(
    owner, owner_client, zoom_fake
):
    callback(owner_client, zoom_fake.consent(start(owner_client)))
    connection = Connection.objects.get(user=owner)
    meeting = book(connection)
    client_for_connection(connection).update_meeting(
        meeting.id, topic="Moved", start=START, duration_minutes=45, time_zone="UTC"
    )
    client_for_connection(connection).delete_meeting(meeting.id)

    calls = {
        (r.method, "/meetings/{id}" if r.path.startswith("/meetings/") else r.path)
        for r in zoom_fake.requests
    }
    assert calls == set(SCOPE_OF_CALL)
    assert sorted(SCOPE_OF_CALL.values()) == sorted(zoom_oauth.SCOPES)
    assert zoom_fake.granted_scope.split() == zoom_oauth.SCOPES


def test_connecting_zoom_again_updates_the_users_single_zoom_connection(
    owner, owner_client, zoom_fake
):
    callback(owner_client, zoom_fake.consent(start(owner_client)))
    connection = Connection.objects.get(user=owner)
    services.connection_forget_credentials(
        connection=connection, error=ProviderError("Zoom refused", permanent=True)
    )
    zoom_fake.email = "other@zoom.example"

    assert callback(owner_client, zoom_fake.consent(start(owner_client))).status_code == 302

    connection.refresh_from_db()
    assert Connection.objects.filter(user=owner).count() == 1
    assert connection.label == "other@zoom.example"
    assert connection.status == Connection.Status.OK
    assert connection_secrets(connection)["refresh_token"]
    assert AuditLog.objects.filter(user=owner).first().action == AuditLog.Action.CONNECTION_UPDATED


def test_both_views_require_login(client, zoom_fake):
    for name, method in ((CONNECT, client.post), (CALLBACK, client.get)):
        response = method(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))


def test_the_views_are_404_without_a_zoom_client_id(owner_client, settings):
    settings.ZOOM_CLIENT_ID = ""

    assert owner_client.post(reverse(CONNECT)).status_code == 404
    assert owner_client.get(reverse(CALLBACK), {"state": "x", "code": "y"}).status_code == 404


def test_the_calendar_page_disables_connect_zoom_without_a_client_id(owner_client, settings):
    settings.ZOOM_CLIENT_ID = ""

    page = owner_client.get(reverse("calendars:calendar_list")).content.decode()

    assert page.count('disabled aria-describedby="zoom-unavailable"') == 1
    assert "Zoom is not set up on this server" in page


def test_the_calendar_page_offers_connect_zoom_and_no_password_for_it(
    owner, owner_client, zoom_fake
):
    connection = connected(owner, zoom_fake)

    page = owner_client.get(reverse("calendars:calendar_list")).content.decode()

    assert f'action="{reverse(CONNECT)}"' in page
    assert "zoom-unavailable" not in page
    assert reverse("calendars:connection_credentials", args=[connection.id]) not in page


# Meetings -----------------------------------------------------------------------------------------


def test_a_meeting_is_created_with_the_topic_given_and_recording_off(owner, zoom_fake):
    connection = connected(owner, zoom_fake)

    meeting = book(connection, topic="Ada Lovelace")

    stored = zoom_fake.meetings[meeting.id]
    assert meeting.join_url == stored["join_url"]
    assert stored["topic"] == "Ada Lovelace"
    assert stored["type"] == 2
    assert stored["start_time"] == "2030-05-06T07:30:00Z"
    assert stored["duration"] == 30
    assert stored["timezone"] == "Europe/Paris"
    assert stored["settings"] == {"auto_recording": "none", "join_before_host": False}


def test_a_meeting_is_moved_and_retitled(owner, zoom_fake):
    connection = connected(owner, zoom_fake)
    meeting = book(connection)
    later = START.astimezone(ZoneInfo("Europe/Paris")) + timedelta(days=1)

    client_for_connection(connection).update_meeting(
        meeting.id, topic="Grace Hopper", start=later, duration_minutes=45, time_zone="Europe/Paris"
    )

    stored = zoom_fake.meetings[meeting.id]
    assert stored["topic"] == "Grace Hopper"
    assert stored["start_time"] == "2030-05-07T07:30:00Z"
    assert stored["duration"] == 45
    assert stored["settings"]["auto_recording"] == "none"


def test_moving_a_meeting_that_is_gone_is_a_permanent_error(owner, zoom_fake):
    connection = connected(owner, zoom_fake)

    with pytest.raises(ProviderError) as raised:
        client_for_connection(connection).update_meeting(
            "123", topic="x", start=START, duration_minutes=30, time_zone="UTC"
        )

    assert raised.value.permanent


def test_a_deleted_meeting_is_gone_and_deleting_it_again_is_fine(owner, zoom_fake):
    connection = connected(owner, zoom_fake)
    meeting = book(connection)
    client = client_for_connection(connection)

    client.delete_meeting(meeting.id)
    client.delete_meeting(meeting.id)

    assert meeting.id not in zoom_fake.meetings
    assert [r.method for r in zoom_fake.requests][-2:] == ["DELETE", "DELETE"]


def test_a_429_is_transient_with_its_retry_after(owner, zoom_fake):
    connection = connected(owner, zoom_fake)
    zoom_fake.throttle(retry_after=12)

    with pytest.raises(ProviderError) as raised:
        book(connection)

    assert not raised.value.permanent
    assert raised.value.retry_after == 12
    assert zoom_fake.meetings == {}
    assert book(connection).join_url


def test_a_server_error_is_transient(owner, zoom_fake):
    connection = connected(owner, zoom_fake)
    zoom_fake.break_down(status=503)

    with pytest.raises(ProviderError) as raised:
        book(connection)

    assert not raised.value.permanent
    assert zoom_fake.meetings == {}


def test_an_unreachable_zoom_is_transient(owner, zoom_fake, settings):
    connection = connected(owner, zoom_fake)
    settings.ZOOM_API_URL = "http://127.0.0.1:9/v2"  # the discard port: nobody listens

    with pytest.raises(ProviderError) as raised:
        book(connection)

    assert not raised.value.permanent


# Rotating refresh tokens --------------------------------------------------------------------------


def test_an_expired_access_token_is_refreshed_once_and_the_new_refresh_token_stored_at_once(
    owner, zoom_fake
):
    connection = connected(owner, zoom_fake)
    old = make_stale(connection)
    zoom_fake.expire_access()

    book(connection)

    assert len(zoom_fake.refresh_grants) == 1
    # Refreshed before the call, not after a refusal.
    assert [r.method for r in zoom_fake.requests] == ["POST"]
    stored = connection_secrets(Connection.objects.get(id=connection.id))
    assert stored["refresh_token"] != old["refresh_token"]
    assert zoom_fake.refresh_works(stored["refresh_token"])
    # Later calls use the stored token without refreshing again.
    book(connection)
    assert len(zoom_fake.refresh_grants) == 1
    # The old refresh token was spent: Zoom refuses it now.
    assert not zoom_fake.refresh_works(old["refresh_token"])
    spent = token_request({"grant_type": "refresh_token", "refresh_token": old["refresh_token"]})
    assert spent.status_code == 400


def test_an_access_token_zoom_refuses_is_refreshed_once_and_the_call_retried(owner, zoom_fake):
    connection = connected(owner, zoom_fake)
    zoom_fake.expire_access()  # Zoom says no before our stored expiry does

    meeting = book(connection)

    assert meeting.id in zoom_fake.meetings
    assert len(zoom_fake.refresh_grants) == 1
    assert [r.method for r in zoom_fake.requests] == ["POST", "POST"]


def test_a_second_401_after_a_refresh_is_permanent(owner, zoom_fake):
    connection = connected(owner, zoom_fake)
    zoom_fake.access_lifetime = 0  # every token Zoom issues from now on is refused at once
    zoom_fake.expire_access()

    with pytest.raises(ProviderError) as raised:
        book(connection)

    assert raised.value.permanent
    assert "reconnect Zoom" in raised.value.message
    assert len(zoom_fake.refresh_grants) == 1


def test_a_refused_refresh_deletes_the_credentials_and_asks_for_a_reconnect(owner, zoom_fake):
    connection = connected(owner, zoom_fake)
    make_stale(connection)
    zoom_fake.revoke()

    with pytest.raises(ProviderError) as raised:
        book(connection)

    assert raised.value.permanent
    connection.refresh_from_db()
    assert connection.secrets == ""
    assert connection_secrets(connection) == {}
    assert connection.status == Connection.Status.NEEDS_RECONNECT
    assert connection.last_error == "Zoom refused the stored authorization; reconnect Zoom."
    # Nothing is spent again: without credentials there is nothing to try.
    with pytest.raises(ProviderError):
        book(connection)
    assert len(zoom_fake.refresh_grants) == 1


def test_a_wrong_client_secret_on_our_side_keeps_the_users_credentials(owner, zoom_fake, settings):
    connection = connected(owner, zoom_fake)
    make_stale(connection)
    settings.ZOOM_CLIENT_SECRET = "not-the-secret"

    with pytest.raises(ProviderError) as raised:
        book(connection)

    assert not raised.value.permanent
    connection.refresh_from_db()
    assert connection_secrets(connection)["refresh_token"]
    assert connection.status != Connection.Status.NEEDS_RECONNECT


@pytest.mark.django_db(transaction=True)
def test_two_workers_refreshing_at_once_spend_the_refresh_token_once(owner, zoom_fake):
    connection = connected(owner, zoom_fake)
    make_stale(connection)
    zoom_fake.expire_access()
    zoom_fake.refresh_delay = 0.3  # the second worker arrives while the first is refreshing
    results: dict[int, object] = {}

    def worker(number: int) -> None:
        try:
            # Each worker loaded the connection itself, before either refreshed.
            results[number] = book(Connection.objects.get(id=connection.id), topic=f"T{number}")
        except Exception as error:  # reported by the assertion below
            results[number] = error
        finally:
            db.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert all(not isinstance(result, Exception) for result in results.values()), results
    assert len(results) == 2
    assert len(zoom_fake.refresh_grants) == 1
    stored = connection_secrets(Connection.objects.get(id=connection.id))
    assert zoom_fake.refresh_works(stored["refresh_token"])
    assert len(zoom_fake.meetings) == 2
