"""Connecting a Microsoft 365 account through msal's auth-code flow, against the identity fake.

The fake plays the whole flow: its ``authorize`` is the consent screen (it answers with a one-time
code bound to the PKCE challenge, redirect URI and nonce), its token endpoint redeems the code once.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection as db
from django.test import Client
from django.urls import reverse

from accounts.models import AuditLog
from calendars.models import Connection
from calendars.selectors import connection_secrets, provider_for_connection
from integrations import scopes
from integrations.microsoft import credentials
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

CONNECT = "calendars_oauth:microsoft_connect"
CALLBACK = "calendars_oauth:microsoft_callback"
EMAIL = "ada@contoso.example"


@pytest.fixture
def account(microsoft_fake):
    user = microsoft_fake.identity.add_user(EMAIL, "Ada Lovelace")
    microsoft_fake.graph.add_calendar(user, "Calendar", default=True)
    microsoft_fake.graph.add_calendar(user, "Holidays", can_edit=False)
    return user


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


def code_redemptions(microsoft_fake) -> int:
    return microsoft_fake.identity.grant_count("authorization_code")


def refresh_tokens_in(token_cache: str) -> list[str]:
    return [entry["secret"] for entry in json.loads(token_cache)["RefreshToken"].values()]


def raw_rows(sql: str) -> str:
    with db.cursor() as cursor:
        cursor.execute(sql)
        return repr(cursor.fetchall())


def test_connecting_microsoft_lists_calendars_seals_the_token_cache_and_audits(
    owner, owner_client, microsoft_fake, account
):
    answer = microsoft_fake.identity.authorize(start(owner_client), account)

    response = callback(owner_client, answer)

    assert response.status_code == 302
    assert response["Location"] == reverse("calendars:calendar_list")
    connection = Connection.objects.get(user=owner)
    assert connection.kind == Connection.Kind.MICROSOFT
    assert connection.label == connection.username == EMAIL
    assert connection.status == Connection.Status.OK
    assert sorted(c.name for c in connection.calendars.all()) == ["Calendar", "Holidays"]
    assert connection.calendars.get(name="Holidays").read_only
    stored = connection_secrets(connection)
    assert stored["home_account_id"] == account.home_account_id
    assert stored["email"] == EMAIL
    (refresh_token,) = refresh_tokens_in(stored["token_cache"])
    page = owner_client.get(response["Location"])
    assert f"Connected {EMAIL}: 2 calendars." in page.content.decode()
    # Nothing readable at rest: neither in the connection's row nor in the audit log.
    assert refresh_token not in raw_rows("SELECT * FROM calendars_connection")
    assert refresh_token not in raw_rows("SELECT * FROM accounts_auditlog")
    audit = AuditLog.objects.get(user=owner)
    assert audit.action == AuditLog.Action.CONNECTION_ADDED
    assert audit.metadata == {"connection": str(connection.id), "provider": "microsoft"}


def test_the_sealed_token_cache_works_for_later_syncs(owner, owner_client, microsoft_fake, account):
    callback(owner_client, microsoft_fake.identity.authorize(start(owner_client), account))
    microsoft_fake.identity.expire_access_tokens()

    provider = provider_for_connection(Connection.objects.get(user=owner))

    assert len(provider.list_calendars()) == 2
    assert microsoft_fake.identity.grant_count("refresh_token") == 1


def test_the_consent_url_asks_for_exactly_the_declared_scopes_with_pkce(
    owner_client, microsoft_fake, account
):
    url = start(owner_client)

    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert set(query["scope"].split()) == set(scopes.names(scopes.MICROSOFT_CALENDAR_CONNECTION))
    assert query["code_challenge_method"] == "S256"
    assert query["redirect_uri"] == "http://testserver/calendars/oauth/microsoft/callback/"
    assert len(query["state"]) >= 32
    # Refreshing a connection later asks for the same permissions.
    assert sorted(credentials.SCOPES) == sorted(
        scopes.msal_names(scopes.MICROSOFT_CALENDAR_CONNECTION)
    )


def test_a_callback_with_another_state_is_refused_before_any_token_exchange(
    owner, owner_client, microsoft_fake, account
):
    answer = microsoft_fake.identity.authorize(start(owner_client), account)

    response = callback(owner_client, {**answer, "state": "forged-" + answer["state"]})

    assert response.status_code == 400
    assert "no longer valid" in response.content.decode()
    assert code_redemptions(microsoft_fake) == 0
    assert not Connection.objects.exists()
    assert not AuditLog.objects.filter(user=owner).exists()


def test_a_replayed_callback_is_refused_and_stores_nothing_more(
    owner, owner_client, microsoft_fake, account
):
    answer = microsoft_fake.identity.authorize(start(owner_client), account)
    assert callback(owner_client, answer).status_code == 302

    response = callback(owner_client, answer)

    assert response.status_code == 400
    assert code_redemptions(microsoft_fake) == 1
    assert Connection.objects.filter(user=owner).count() == 1
    assert AuditLog.objects.filter(user=owner).count() == 1


def test_a_replayed_code_under_a_fresh_state_is_refused_cleanly(
    owner, owner_client, microsoft_fake, account
):
    first = microsoft_fake.identity.authorize(start(owner_client), account)
    assert callback(owner_client, first).status_code == 302
    fresh_state = parse_qs(urlsplit(start(owner_client)).query)["state"][0]

    response = callback(owner_client, {**first, "state": fresh_state})

    assert response.status_code == 400
    assert "used already" in response.content.decode()
    assert Connection.objects.filter(user=owner).count() == 1
    assert AuditLog.objects.filter(user=owner).count() == 1


def test_a_callback_without_a_pending_flow_is_refused(owner, microsoft_fake, account):
    # The session never started a flow: no msal flow dict, so no PKCE verifier nor nonce.
    other_browser = client_for(owner)
    answer = microsoft_fake.identity.authorize(start(client_for(owner)), account)

    response = callback(other_browser, answer)

    assert response.status_code == 400
    assert code_redemptions(microsoft_fake) == 0
    assert not Connection.objects.exists()


def test_a_denied_consent_shows_a_friendly_page_and_stores_nothing(
    owner_client, microsoft_fake, account
):
    state = parse_qs(urlsplit(start(owner_client)).query)["state"][0]

    response = callback(
        owner_client,
        {
            "error": "access_denied",
            "error_description": "AADSTS65004: User declined to consent.",
            "state": state,
        },
    )

    assert response.status_code == 200
    assert "You did not allow Multical to use your Microsoft 365 calendars" in (
        response.content.decode()
    )
    assert code_redemptions(microsoft_fake) == 0
    assert not Connection.objects.exists()


def test_another_user_cannot_complete_someone_elses_flow(
    owner, outsider, owner_client, microsoft_fake, account
):
    answer = microsoft_fake.identity.authorize(start(owner_client), account)

    response = callback(client_for(outsider), answer)

    assert response.status_code == 400
    assert code_redemptions(microsoft_fake) == 0
    assert not Connection.objects.exists()
    # The owner's own flow is untouched and still completes.
    assert callback(owner_client, answer).status_code == 302
    assert Connection.objects.get().user == owner


def test_reconnecting_the_same_account_updates_it_instead_of_adding_another(
    owner, owner_client, microsoft_fake, account
):
    callback(owner_client, microsoft_fake.identity.authorize(start(owner_client), account))
    connection = Connection.objects.get(user=owner)
    old_cache = connection_secrets(connection)["token_cache"]
    Connection.objects.filter(id=connection.id).update(
        status=Connection.Status.NEEDS_RECONNECT, last_error="Microsoft refused"
    )
    microsoft_fake.identity.revoke(account)

    response = callback(
        owner_client, microsoft_fake.identity.authorize(start(owner_client), account)
    )

    assert response.status_code == 302
    connection.refresh_from_db()
    assert Connection.objects.filter(user=owner).count() == 1
    assert connection.status == Connection.Status.OK
    assert connection.last_error == ""
    assert connection_secrets(connection)["token_cache"] != old_cache
    assert list(AuditLog.objects.filter(user=owner).values_list("action", flat=True)) == [
        AuditLog.Action.CONNECTION_UPDATED,
        AuditLog.Action.CONNECTION_ADDED,
    ]


def test_the_connect_view_is_404_without_a_client_id(owner_client, microsoft_fake, settings):
    settings.MICROSOFT_CLIENT_ID = ""

    assert owner_client.post(reverse(CONNECT)).status_code == 404


def test_connect_does_not_start_a_flow_on_a_get(owner_client, microsoft_fake):
    assert owner_client.get(reverse(CONNECT)).status_code == 405


# The account's address: Graph's /me, as User.Read allows ------------------------------------------


def test_a_work_account_is_named_after_its_mailbox_not_its_sign_in_name(
    owner, owner_client, microsoft_fake
):
    user = microsoft_fake.identity.add_user("ada.lovelace@contoso.example", "Ada Lovelace")
    user.upn = "alovelace@contoso.onmicrosoft.example"
    microsoft_fake.graph.add_calendar(user, "Calendar", default=True)

    response = callback(owner_client, microsoft_fake.identity.authorize(start(owner_client), user))

    assert response.status_code == 302
    connection = Connection.objects.get(user=owner)
    assert connection.label == connection.username == "ada.lovelace@contoso.example"
    assert connection_secrets(connection)["email"] == "ada.lovelace@contoso.example"
    (me,) = [r for r in microsoft_fake.graph.requests if r.path == "/me"]
    assert me.query["$select"] == "mail,userPrincipalName"


def test_an_account_without_a_mailbox_is_named_after_its_user_principal_name(
    owner, owner_client, microsoft_fake
):
    user = microsoft_fake.identity.add_user("grace@contoso.example", "Grace Hopper")
    user.upn, user.has_mailbox = "Grace.Hopper@Contoso.onmicrosoft.example", False
    microsoft_fake.graph.add_calendar(user, "Calendar", default=True)

    callback(owner_client, microsoft_fake.identity.authorize(start(owner_client), user))

    connection = Connection.objects.get(user=owner)
    assert connection.username == "grace.hopper@contoso.onmicrosoft.example"


def test_when_graph_cannot_say_who_the_account_is_nothing_is_connected(
    owner, owner_client, microsoft_fake, account
):
    answer = microsoft_fake.identity.authorize(start(owner_client), account)
    microsoft_fake.graph.throttle(status=503, retry_after=None, times=1)

    response = callback(owner_client, answer)

    assert response.status_code == 502
    assert "did not say which account" in response.content.decode()
    assert not Connection.objects.exists()
    assert not AuditLog.objects.exists()


def test_a_connection_named_after_its_sign_in_name_is_updated_when_reconnected(
    owner, owner_client, microsoft_fake
):
    """A connection made when the name came from the id token (a UPN) is the same account."""
    user = microsoft_fake.identity.add_user("ada.lovelace@contoso.example", "Ada Lovelace")
    user.upn = "alovelace@contoso.onmicrosoft.example"
    microsoft_fake.graph.add_calendar(user, "Calendar", default=True)
    callback(owner_client, microsoft_fake.identity.authorize(start(owner_client), user))
    Connection.objects.filter(user=owner).update(username=user.upn, label=user.upn)

    callback(owner_client, microsoft_fake.identity.authorize(start(owner_client), user))

    connection = Connection.objects.get(user=owner)
    assert connection.username == "ada.lovelace@contoso.example"
