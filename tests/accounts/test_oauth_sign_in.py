"""Signing in with Google and Microsoft, against the provider fakes.

Only an existing account whose address the provider verified is signed into; everything else is
refused without logging anyone in, and a state that is missing, foreign or replayed is refused
before any code is exchanged.
"""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditLog
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CONSUMER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"


def start(client: Client, provider: str) -> str:
    response = client.post(reverse(f"accounts_oauth:{provider}-sign-in"))
    assert response.status_code == 302
    return response["Location"]


def callback(client: Client, provider: str, query: dict[str, str]):
    return client.get(reverse(f"accounts_oauth:{provider}-sign-in-callback"), query)


def signed_in_as(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


@pytest.fixture
def google(google_fake):
    return google_fake


@pytest.fixture
def microsoft(microsoft_fake):
    return microsoft_fake


# Google -------------------------------------------------------------------------------------------


def test_google_signs_a_verified_account_in_and_audits_it(client, google):
    user = UserFactory(email=google.email)

    response = callback(client, "google", google.authorize(start(client, "google")))

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert signed_in_as(client) == str(user.pk)
    audit = AuditLog.objects.get(user=user)
    assert audit.action == AuditLog.Action.LOGIN
    assert audit.metadata == {"provider": "google"}


def test_google_asks_for_exactly_the_sign_in_scopes_with_pkce(client, google):
    url = start(client, "google")

    assert "scope=openid+email+profile&" in url
    assert "code_challenge_method=S256" in url


def test_signing_in_changes_the_session_id(client, google):
    UserFactory(email=google.email)
    url = start(client, "google")
    before = client.session.session_key

    callback(client, "google", google.authorize(url))

    assert client.session.session_key != before


def test_an_account_never_verified_is_verified_by_google_and_loses_its_password(client, google):
    user = UserFactory(email=google.email, email_verified_at=None)

    callback(client, "google", google.authorize(start(client, "google")))

    user.refresh_from_db()
    assert signed_in_as(client) == str(user.pk)
    assert user.email_verified_at is not None
    assert not user.has_usable_password()


def test_an_unknown_google_address_is_told_to_sign_up_first(client, google):
    response = callback(client, "google", google.authorize(start(client, "google")))

    assert response.status_code == 200
    assert f"No Multical account uses {google.email}" in response.content.decode()
    assert signed_in_as(client) is None


def test_an_address_google_did_not_verify_is_refused(client, google, monkeypatch):
    user = UserFactory(email=google.email)
    issue = google._id_token

    def unverified(email: str) -> str:
        header, claims, signature = issue(email).split(".")
        data = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
        data["email_verified"] = False
        claims = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
        return f"{header}.{claims}.{signature}"

    monkeypatch.setattr(google, "_id_token", unverified)

    response = callback(client, "google", google.authorize(start(client, "google")))

    assert response.status_code == 403
    assert signed_in_as(client) is None
    assert not AuditLog.objects.filter(user=user).exists()


def test_a_google_callback_with_another_state_is_refused_before_any_exchange(client, google):
    UserFactory(email=google.email)
    answer = google.authorize(start(client, "google"))

    response = callback(client, "google", {**answer, "state": "forged"})

    assert response.status_code == 400
    assert "no longer valid" in response.content.decode()
    assert google.code_redemptions == 0
    assert signed_in_as(client) is None


def test_a_replayed_google_callback_is_refused(client, google):
    UserFactory(email=google.email)
    answer = google.authorize(start(client, "google"))
    assert callback(client, "google", answer).status_code == 302
    client.logout()

    response = callback(client, "google", answer)

    assert response.status_code == 400
    assert google.code_redemptions == 1
    assert signed_in_as(client) is None


def test_a_google_callback_without_a_pending_flow_is_refused(google):
    UserFactory(email=google.email)
    answer = google.authorize(start(Client(), "google"))
    stranger = Client()

    response = callback(stranger, "google", answer)

    assert response.status_code == 400
    assert google.code_redemptions == 0
    assert signed_in_as(stranger) is None


def test_the_connect_flow_state_does_not_complete_a_sign_in(owner_client, google):
    connect_url = owner_client.post(reverse("calendars_oauth:google-connect"))["Location"]
    answer = google.authorize(connect_url)
    owner_client.logout()

    response = callback(owner_client, "google", answer)

    assert response.status_code == 400


def test_sign_in_does_not_start_on_a_get(client, google):
    assert client.get(reverse("accounts_oauth:google-sign-in")).status_code == 405


def test_the_start_view_needs_the_csrf_token():
    client = Client(enforce_csrf_checks=True)

    assert client.post(reverse("accounts_oauth:google-sign-in")).status_code == 403


# Microsoft ----------------------------------------------------------------------------------------


def test_microsoft_signs_a_work_account_in(client, microsoft):
    user = UserFactory(email="ada@contoso.example")
    account = microsoft.identity.add_user("Ada@Contoso.example")

    response = callback(
        client, "microsoft", microsoft.identity.authorize(start(client, "microsoft"), account)
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert signed_in_as(client) == str(user.pk)
    assert AuditLog.objects.get(user=user).metadata == {"provider": "microsoft"}


def test_microsoft_asks_for_the_sign_in_scopes(client, microsoft):
    url = start(client, "microsoft")

    for scope in ("email", "User.Read", "openid", "profile"):
        assert scope in url


def test_a_personal_microsoft_account_is_not_taken_as_verified(client, microsoft):
    UserFactory(email="ada@outlook.example")
    account = microsoft.identity.add_user("ada@outlook.example")
    account.tenant_id = CONSUMER_TENANT

    response = callback(
        client, "microsoft", microsoft.identity.authorize(start(client, "microsoft"), account)
    )

    assert response.status_code == 403
    assert signed_in_as(client) is None


def test_an_unknown_microsoft_address_is_told_to_sign_up_first(client, microsoft):
    account = microsoft.identity.add_user("nobody@contoso.example")

    response = callback(
        client, "microsoft", microsoft.identity.authorize(start(client, "microsoft"), account)
    )

    assert "No Multical account uses nobody@contoso.example" in response.content.decode()
    assert signed_in_as(client) is None


def test_a_microsoft_callback_with_another_state_or_replayed_is_refused(client, microsoft):
    UserFactory(email="ada@contoso.example")
    account = microsoft.identity.add_user("ada@contoso.example")
    answer = microsoft.identity.authorize(start(client, "microsoft"), account)

    forged = callback(client, "microsoft", {**answer, "state": "forged"})
    replayed = callback(client, "microsoft", answer)

    assert forged.status_code == replayed.status_code == 400
    assert microsoft.identity.grant_count("authorization_code") == 0
    assert signed_in_as(client) is None


def test_a_replayed_microsoft_callback_is_refused(client, microsoft):
    UserFactory(email="ada@contoso.example")
    account = microsoft.identity.add_user("ada@contoso.example")
    answer = microsoft.identity.authorize(start(client, "microsoft"), account)
    assert callback(client, "microsoft", answer).status_code == 302
    client.logout()

    response = callback(client, "microsoft", answer)

    assert response.status_code == 400
    assert microsoft.identity.grant_count("authorization_code") == 1
    assert signed_in_as(client) is None


# The login page -----------------------------------------------------------------------------------


def test_the_login_page_offers_the_configured_providers(client, google, microsoft):
    page = client.get(reverse("accounts:login")).content.decode()

    assert "Sign in with Google" in page
    assert "Sign in with Microsoft" in page


def test_the_login_page_hides_the_buttons_without_client_ids(client, settings):
    settings.GOOGLE_CLIENT_ID = settings.MICROSOFT_CLIENT_ID = ""

    page = client.get(reverse("accounts:login")).content.decode()

    assert "Sign in with" not in page
    assert client.post(reverse("accounts_oauth:google-sign-in")).status_code == 404
    assert client.post(reverse("accounts_oauth:microsoft-sign-in")).status_code == 404
