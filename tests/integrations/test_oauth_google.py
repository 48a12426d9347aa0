"""Connecting a Google account through OAuth: PKCE, state bound to the session, sealed tokens.

The Google fake plays the whole flow over HTTP, through google-auth-oauthlib unmodified: its
``authorize`` is the user's consent (a one-time code bound to the PKCE challenge and redirect URI),
its token endpoint redeems the code once, checks the verifier and answers with an id token.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection as db
from django.test import Client
from django.urls import reverse

from accounts.models import AuditLog
from calendars.models import Connection
from calendars.selectors import connection_secrets, provider_for_connection
from integrations import scopes
from tests.factories import DEFAULT_PASSWORD
from tests.fakes.google import GoogleFake

pytestmark = pytest.mark.django_db

CONNECT = "calendars_oauth:google_connect"
CALLBACK = "calendars_oauth:google_callback"


@pytest.fixture
def google(google_fake) -> GoogleFake:
    google_fake.add_calendar("primary", google_fake.email)
    google_fake.add_calendar("team@group.calendar.google.com", "Team", access_role="reader")
    return google_fake


def client_for(user) -> Client:
    client = Client()
    client.login(email=user.email, password=DEFAULT_PASSWORD)
    return client


def start(client: Client) -> str:
    response = client.post(reverse(CONNECT))
    assert response.status_code == 302
    return response["Location"]


def callback(client: Client, query: dict[str, str]):
    return client.get(reverse(CALLBACK), query)


def raw_rows(sql: str) -> str:
    with db.cursor() as cursor:
        cursor.execute(sql)
        return repr(cursor.fetchall())


def test_connecting_google_lists_calendars_seals_tokens_and_audits(owner, owner_client, google):
    response = callback(owner_client, google.authorize(start(owner_client)))

    assert response.status_code == 302
    assert response["Location"] == reverse("calendars:calendar_list")
    connection = Connection.objects.get(user=owner)
    assert connection.kind == Connection.Kind.GOOGLE
    assert connection.label == connection.username == google.email
    assert connection.status == Connection.Status.OK
    assert sorted(c.name for c in connection.calendars.all()) == sorted(["Team", google.email])
    assert connection.calendars.get(remote_id="team@group.calendar.google.com").read_only
    stored = connection_secrets(connection)
    assert stored["refresh_token"] in google.refresh_tokens
    assert stored["email"] == google.email
    assert stored["expires_at"]
    page = owner_client.get(response["Location"])
    assert f"Connected {google.email}: 2 calendars." in page.content.decode()
    # Nothing readable at rest: neither in the connection's row nor in the audit log.
    for token in (stored["refresh_token"], stored["access_token"]):
        assert token not in raw_rows("SELECT * FROM calendars_connection")
        assert token not in raw_rows("SELECT * FROM accounts_auditlog")
    audit = AuditLog.objects.get(user=owner)
    assert audit.action == AuditLog.Action.CONNECTION_ADDED
    assert audit.metadata == {"connection": str(connection.id), "provider": "google"}


def test_the_sealed_tokens_work_for_later_syncs(owner, owner_client, google):
    callback(owner_client, google.authorize(start(owner_client)))

    provider = provider_for_connection(Connection.objects.get(user=owner))

    assert len(provider.list_calendars()) == 2


def test_the_consent_url_asks_for_offline_access_pkce_and_exactly_the_declared_scopes(
    owner_client, google, settings
):
    url = start(owner_client)

    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert url.startswith(settings.GOOGLE_AUTH_URI + "?")
    assert query["scope"].split() == scopes.names(scopes.GOOGLE_CALENDAR_CONNECTION)
    assert "https://www.googleapis.com/auth/calendar.calendarlist.readonly" in query["scope"]
    assert query["access_type"] == "offline"
    assert query["prompt"] == "consent"
    assert query["include_granted_scopes"] == "true"
    assert query["code_challenge_method"] == "S256"
    assert query["redirect_uri"] == "http://testserver/calendars/oauth/google/callback/"
    assert len(query["state"]) >= 32
    assert query["client_id"] == google.client_id


def test_a_callback_with_another_state_is_refused_before_any_token_exchange(
    owner, owner_client, google
):
    answer = google.authorize(start(owner_client))

    response = callback(owner_client, {**answer, "state": "forged-" + answer["state"]})

    assert response.status_code == 400
    assert "no longer valid" in response.content.decode()
    assert google.code_redemptions == 0
    assert not Connection.objects.filter(user=owner).exists()
    assert not AuditLog.objects.filter(user=owner).exists()


def test_a_replayed_callback_is_refused_and_stores_nothing_more(owner, owner_client, google):
    answer = google.authorize(start(owner_client))
    assert callback(owner_client, answer).status_code == 302

    response = callback(owner_client, answer)

    assert response.status_code == 400
    assert google.code_redemptions == 1
    assert Connection.objects.filter(user=owner).count() == 1
    assert AuditLog.objects.filter(user=owner).count() == 1


def test_a_replayed_code_under_a_fresh_state_is_refused_cleanly(owner, owner_client, google):
    first = google.authorize(start(owner_client))
    assert callback(owner_client, first).status_code == 302
    fresh_state = google.authorize(start(owner_client))["state"]

    response = callback(owner_client, {**first, "state": fresh_state})

    assert response.status_code == 400
    assert "used already" in response.content.decode()
    assert Connection.objects.filter(user=owner).count() == 1
    assert AuditLog.objects.filter(user=owner).count() == 1


def test_a_callback_without_a_pending_flow_is_refused(owner, google):
    # The session never started a flow, so there is no PKCE verifier to redeem the code with.
    other_browser = client_for(owner)
    answer = google.authorize(start(client_for(owner)))

    response = callback(other_browser, answer)

    assert response.status_code == 400
    assert google.code_redemptions == 0
    assert not Connection.objects.exists()


def test_a_denied_consent_shows_a_friendly_page_and_stores_nothing(owner, owner_client, google):
    state = google.authorize(start(owner_client))["state"]

    response = callback(owner_client, {"error": "access_denied", "state": state})

    assert response.status_code == 200
    assert "You did not allow Multical" in response.content.decode()
    assert google.code_redemptions == 0
    assert not Connection.objects.exists()
    # The state was used up by the answer, so it cannot be completed afterwards.
    assert callback(owner_client, {"code": "x", "state": state}).status_code == 400


def test_another_user_cannot_complete_someone_elses_flow(owner, outsider, owner_client, google):
    answer = google.authorize(start(owner_client))

    response = callback(client_for(outsider), answer)

    assert response.status_code == 400
    assert google.code_redemptions == 0
    assert not Connection.objects.exists()
    # The owner's own flow is untouched and still completes.
    assert callback(owner_client, answer).status_code == 302
    assert Connection.objects.get().user == owner


def test_reconnecting_the_same_account_updates_it_instead_of_adding_another(
    owner, owner_client, google
):
    callback(owner_client, google.authorize(start(owner_client)))
    connection = Connection.objects.get(user=owner)
    old_refresh_token = connection_secrets(connection)["refresh_token"]
    Connection.objects.filter(id=connection.id).update(
        status=Connection.Status.NEEDS_RECONNECT, last_error="Google refused"
    )

    response = callback(
        owner_client, google.authorize(start(owner_client), email=google.email.upper())
    )

    assert response.status_code == 302
    connection.refresh_from_db()
    assert Connection.objects.filter(user=owner).count() == 1
    assert connection.status == Connection.Status.OK
    assert connection.last_error == ""
    assert connection_secrets(connection)["refresh_token"] != old_refresh_token
    assert connection.calendars.count() == 2
    assert list(AuditLog.objects.filter(user=owner).values_list("action", flat=True)) == [
        AuditLog.Action.CONNECTION_UPDATED,
        AuditLog.Action.CONNECTION_ADDED,
    ]


def test_another_google_account_becomes_a_second_connection(owner, owner_client, google):
    first_email = google.email
    callback(owner_client, google.authorize(start(owner_client)))

    callback(owner_client, google.authorize(start(owner_client), email="work@example.org"))

    assert sorted(Connection.objects.filter(user=owner).values_list("label", flat=True)) == sorted(
        [first_email, "work@example.org"]
    )


def test_an_unticked_calendar_permission_is_refused_and_stores_nothing(owner, owner_client, google):
    answer = google.authorize(
        start(owner_client), granted_scope="openid https://www.googleapis.com/auth/userinfo.email"
    )

    response = callback(owner_client, answer)

    assert response.status_code == 400
    assert "allow them all" in response.content.decode()
    assert not Connection.objects.exists()


def test_both_views_require_login(client, google):
    for name, method in ((CONNECT, client.post), (CALLBACK, client.get)):
        response = method(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))


def test_the_connect_view_is_404_without_a_client_id(owner_client, settings):
    settings.GOOGLE_CLIENT_ID = ""
    settings.MICROSOFT_CLIENT_ID = ""

    assert owner_client.post(reverse(CONNECT)).status_code == 404
    assert owner_client.post(reverse("calendars_oauth:microsoft_connect")).status_code == 404
    assert owner_client.get(reverse(CALLBACK), {"state": "x", "code": "y"}).status_code == 404


def test_the_calendar_page_disables_both_buttons_without_client_ids(owner_client, settings):
    settings.GOOGLE_CLIENT_ID = ""
    settings.MICROSOFT_CLIENT_ID = ""

    page = owner_client.get(reverse("calendars:calendar_list")).content.decode()

    assert page.count('disabled aria-describedby="google-unavailable"') == 1
    assert page.count('disabled aria-describedby="microsoft-unavailable"') == 1
    assert "Google is not set up on this server" in page
    assert "Microsoft 365 is not set up on this server" in page


def test_the_calendar_page_offers_both_buttons_with_client_ids(owner_client, settings):
    settings.GOOGLE_CLIENT_ID = "google-client"
    settings.MICROSOFT_CLIENT_ID = "microsoft-client"

    page = owner_client.get(reverse("calendars:calendar_list")).content.decode()

    assert f'action="{reverse(CONNECT)}"' in page
    assert f'action="{reverse("calendars_oauth:microsoft_connect")}"' in page
    # Other providers' buttons (Zoom…) have their own settings; these two must be enabled.
    assert 'aria-describedby="google-unavailable"' not in page
    assert 'aria-describedby="microsoft-unavailable"' not in page
    assert "Google is not set up on this server" not in page
    assert "Microsoft 365 is not set up on this server" not in page
