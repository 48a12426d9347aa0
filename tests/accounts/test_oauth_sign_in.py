"""Signing in with Google and Microsoft, against the provider fakes.

An existing account whose address the provider verified is signed into; an unknown verified
address is sent to the finish-signing-up step (tests/accounts/test_oauth_sign_up.py); everything
else is refused without logging anyone in, and a state that is missing, foreign or replayed is
refused before any code is exchanged. Where the login page was to lead (``next``) is followed
after sign-in only if it is a path on this site.
"""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditLog, User
from accounts.oauth_views import SIGN_UP_SESSION_KEY, microsoft_verified_email
from integrations.oauth_state import OAuthError
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CONSUMER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"


def start(client: Client, provider: str, next_url: str | None = None) -> str:
    data = {} if next_url is None else {"next": next_url}
    response = client.post(reverse(f"accounts_oauth:{provider}_sign_in"), data)
    assert response.status_code == 302
    return response["Location"]


def callback(client: Client, provider: str, query: dict[str, str]):
    return client.get(reverse(f"accounts_oauth:{provider}_sign_in_callback"), query)


def signed_in_as(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def unverified_id_token(issue):
    """The Google fake's id token maker, with ``email_verified`` false."""

    def unverified(email: str) -> str:
        header, claims, signature = issue(email).split(".")
        data = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
        data["email_verified"] = False
        claims = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
        return f"{header}.{claims}.{signature}"

    return unverified


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

    assert "scope=openid+email&" in url  # no profile: the name is never read
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


def test_an_unknown_google_address_is_asked_to_finish_signing_up(client, google):
    response = callback(client, "google", google.authorize(start(client, "google")))

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts_oauth:sign_up")
    assert client.session[SIGN_UP_SESSION_KEY]["email"] == google.email
    assert not User.objects.exists()
    assert signed_in_as(client) is None


def test_a_disabled_account_is_not_signed_in_nor_signed_up_again(client, google):
    UserFactory(email=google.email, is_active=False)

    response = callback(client, "google", google.authorize(start(client, "google")))

    assert response.status_code == 403
    assert "is disabled" in response.content.decode()
    assert SIGN_UP_SESSION_KEY not in client.session
    assert signed_in_as(client) is None


def test_an_address_google_did_not_verify_is_refused(client, google, monkeypatch):
    user = UserFactory(email=google.email)
    monkeypatch.setattr(google, "_id_token", unverified_id_token(google._id_token))

    response = callback(client, "google", google.authorize(start(client, "google")))

    assert response.status_code == 403
    assert signed_in_as(client) is None
    assert not AuditLog.objects.filter(user=user).exists()


def test_an_unknown_address_google_did_not_verify_is_not_offered_a_sign_up(
    client, google, monkeypatch
):
    monkeypatch.setattr(google, "_id_token", unverified_id_token(google._id_token))

    response = callback(client, "google", google.authorize(start(client, "google")))

    assert response.status_code == 403
    assert "did not confirm" in response.content.decode()
    assert SIGN_UP_SESSION_KEY not in client.session
    assert not User.objects.exists()


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
    connect_url = owner_client.post(reverse("calendars_oauth:google_connect"))["Location"]
    answer = google.authorize(connect_url)
    owner_client.logout()

    response = callback(owner_client, "google", answer)

    assert response.status_code == 400


def test_sign_in_does_not_start_on_a_get(client, google):
    assert client.get(reverse("accounts_oauth:google_sign_in")).status_code == 405


def test_the_start_view_needs_the_csrf_token():
    client = Client(enforce_csrf_checks=True)

    assert client.post(reverse("accounts_oauth:google_sign_in")).status_code == 403


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

    for scope in ("email", "openid", "profile"):  # profile: MSAL adds it to every request
        assert scope in url
    assert "User.Read" not in url  # the id token says who signed in; Graph is not asked


def test_a_personal_microsoft_account_is_signed_in_when_microsoft_vouches_for_its_address(
    client, microsoft
):
    user = UserFactory(email="ada@outlook.example")
    account = microsoft.identity.add_user("ada@outlook.example")
    account.tenant_id = CONSUMER_TENANT

    response = callback(
        client, "microsoft", microsoft.identity.authorize(start(client, "microsoft"), account)
    )

    assert response.status_code == 302
    assert signed_in_as(client) == str(user.pk)


def test_an_unknown_microsoft_address_is_asked_to_finish_signing_up(client, microsoft):
    account = microsoft.identity.add_user("Nobody@Contoso.example")

    response = callback(
        client, "microsoft", microsoft.identity.authorize(start(client, "microsoft"), account)
    )

    assert response["Location"] == reverse("accounts_oauth:sign_up")
    held = client.session[SIGN_UP_SESSION_KEY]
    assert (held["provider"], held["email"]) == ("microsoft", "nobody@contoso.example")
    assert held["subject"]
    assert signed_in_as(client) is None


@pytest.mark.parametrize("xms_edov", [True, "1", "true", "True"])
def test_microsoft_is_trusted_when_the_email_domain_owner_is_verified(client, microsoft, xms_edov):
    user = UserFactory(email="ada@contoso.example")
    account = microsoft.identity.add_user("ada@contoso.example")
    account.xms_edov = xms_edov

    response = callback(
        client, "microsoft", microsoft.identity.authorize(start(client, "microsoft"), account)
    )

    assert response.status_code == 302
    assert signed_in_as(client) == str(user.pk)


@pytest.mark.parametrize("xms_edov", [False, "0", "false", ""])
def test_microsoft_is_refused_when_the_email_domain_owner_is_not_verified(
    client, microsoft, xms_edov
):
    user = UserFactory(email="ada@contoso.example")
    account = microsoft.identity.add_user("ada@contoso.example")
    account.xms_edov = xms_edov

    response = callback(
        client, "microsoft", microsoft.identity.authorize(start(client, "microsoft"), account)
    )

    assert response.status_code == 403
    page = response.content.decode()
    assert "could not confirm that your organisation owns the domain of ada@contoso.example" in page
    assert "administrator must verify this domain" in page
    assert signed_in_as(client) is None
    assert not AuditLog.objects.filter(user=user).exists()


def test_microsoft_is_refused_when_the_domain_claim_is_not_enabled(client, microsoft):
    UserFactory(email="ada@contoso.example")
    account = microsoft.identity.add_user("ada@contoso.example")
    account.xms_edov = None

    response = callback(
        client, "microsoft", microsoft.identity.authorize(start(client, "microsoft"), account)
    )

    assert response.status_code == 403
    assert "must enable the optional claim xms_edov" in response.content.decode()
    assert signed_in_as(client) is None


@pytest.mark.parametrize("xms_edov", [False, None])
def test_an_unknown_address_microsoft_does_not_vouch_for_is_not_offered_a_sign_up(
    client, microsoft, xms_edov
):
    account = microsoft.identity.add_user("nobody@contoso.example")
    account.xms_edov = xms_edov

    response = callback(
        client, "microsoft", microsoft.identity.authorize(start(client, "microsoft"), account)
    )

    assert response.status_code == 403
    assert SIGN_UP_SESSION_KEY not in client.session
    assert not User.objects.exists()


def test_only_the_email_claim_counts_never_preferred_username():
    claims = {"preferred_username": "ada@contoso.example", "xms_edov": True}

    with pytest.raises(OAuthError) as refused:
        microsoft_verified_email(claims)
    assert refused.value.status == 403
    assert microsoft_verified_email({**claims, "email": "Ada.L@Contoso.example"}) == (
        "ada.l@contoso.example"
    )


@pytest.mark.parametrize("xms_edov", ["yes", None, {}, ["true"]])
def test_only_true_and_its_string_forms_count_as_verified(xms_edov):
    with pytest.raises(OAuthError):
        microsoft_verified_email({"email": "ada@contoso.example", "xms_edov": xms_edov})


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


def test_the_sign_up_page_offers_the_configured_providers(client, google, microsoft):
    page = client.get(reverse("accounts:signup")).content.decode()

    assert "Sign up with Google" in page
    assert "Sign up with Microsoft" in page


def test_the_login_page_hides_the_buttons_without_client_ids(client, settings):
    settings.GOOGLE_CLIENT_ID = settings.MICROSOFT_CLIENT_ID = ""

    page = client.get(reverse("accounts:login")).content.decode()

    assert "Sign in with" not in page
    assert "Sign up with" not in client.get(reverse("accounts:signup")).content.decode()
    assert client.post(reverse("accounts_oauth:google_sign_in")).status_code == 404
    assert client.post(reverse("accounts_oauth:microsoft_sign_in")).status_code == 404


# Where to go after signing in (next) --------------------------------------------------------------

HOSTILE_NEXT = [
    "//evil.com/",
    "///evil.com/",
    "https://evil.com/",
    "http://testserver@evil.com/",
    "http://testserver/rules/",
    "javascript:alert(document.cookie)",
    "/\\evil.com/",
    "/\t/evil.com/",
    "rules/",
]


def test_the_login_page_hands_its_next_to_both_buttons(client, google, microsoft):
    page = client.get(reverse("accounts:login"), {"next": "/rules/"}).content.decode()

    assert page.count('<input type="hidden" name="next" value="/rules/">') == 3


def test_google_sign_in_leads_where_the_login_page_was_to_lead(client, google):
    UserFactory(email=google.email)
    url = start(client, "google", "/rules/?tab=mine")

    response = callback(client, "google", google.authorize(url))

    assert response["Location"] == "/rules/?tab=mine"
    assert "rules" not in url  # kept in the session, not sent through the provider


def test_microsoft_sign_in_leads_where_the_login_page_was_to_lead(client, microsoft):
    UserFactory(email="ada@contoso.example")
    account = microsoft.identity.add_user("ada@contoso.example")
    url = start(client, "microsoft", "/rules/")

    response = callback(client, "microsoft", microsoft.identity.authorize(url, account))

    assert response["Location"] == "/rules/"
    assert "rules" not in url


@pytest.mark.parametrize("hostile", HOSTILE_NEXT)
def test_a_next_off_this_site_leads_to_the_dashboard(client, google, hostile):
    UserFactory(email=google.email)

    response = callback(client, "google", google.authorize(start(client, "google", hostile)))

    assert response["Location"] == reverse("dashboard")
    assert signed_in_as(client) is not None


def test_a_next_added_to_the_callback_url_is_ignored(client, google):
    UserFactory(email=google.email)
    answer = google.authorize(start(client, "google"))

    response = callback(client, "google", {**answer, "next": "/rules/"})

    assert response["Location"] == reverse("dashboard")
