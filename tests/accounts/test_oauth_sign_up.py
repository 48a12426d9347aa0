"""Finishing signing up after Google or Microsoft verified an address no account uses yet.

The identity waits in the session (never in a URL or a form field) for fifteen minutes and one
use; the account exists only once its owner accepted the Terms and the Privacy Policy, recorded in
the consent ledger exactly as the password sign-up records them.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import AuditLog, Consent, User
from accounts.oauth_views import SIGN_UP_SESSION_KEY
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

SIGN_UP = reverse("accounts_oauth:sign_up")
CANCEL = reverse("accounts_oauth:sign_up_cancel")
ACCEPT = {"accept_legal": "on", "time_zone": "America/New_York"}


def reach_the_step(client: Client, google, next_url: str | None = None) -> None:
    """Sign in at the Google fake with an address no account uses: the step awaits consent."""
    data = {} if next_url is None else {"next": next_url}
    auth_url = client.post(reverse("accounts_oauth:google_sign_in"), data)["Location"]
    answer = google.authorize(auth_url)
    response = client.get(reverse("accounts_oauth:google_sign_in_callback"), answer)
    assert response.status_code == 302
    assert response["Location"] == SIGN_UP


def signed_in_as(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def refused_as_no_longer_valid(response) -> bool:
    return response.status_code == 400 and "This sign-up is no longer valid" in (
        response.content.decode()
    )


@pytest.fixture
def google(google_fake):
    return google_fake


# The page -----------------------------------------------------------------------------------------


def test_the_step_shows_the_address_but_no_field_to_change_it(client, google):
    reach_the_step(client, google)

    page = client.get(SIGN_UP).content.decode()

    assert "Finish signing up" in page
    assert google.email in page
    assert 'name="email"' not in page
    assert not any(google.email in tag for tag in re.findall(r"<input[^>]*>", page))


def test_the_terms_box_is_required_and_the_news_box_starts_unchecked(client, google):
    reach_the_step(client, google)

    page = client.get(SIGN_UP).content.decode()

    legal = re.search(r'<input[^>]*name="accept_legal"[^>]*>', page).group(0)
    news = re.search(r'<input[^>]*name="marketing_email"[^>]*>', page).group(0)
    assert "required" in legal
    assert "checked" not in news
    assert reverse("terms") in page and reverse("privacy") in page


def test_nothing_is_created_before_consent(client, google):
    reach_the_step(client, google)
    client.get(SIGN_UP)

    assert not User.objects.exists()
    assert not Consent.objects.exists()
    assert signed_in_as(client) is None


def test_the_identity_waits_in_the_session_not_in_the_url(client, google):
    reach_the_step(client, google)

    held = client.session[SIGN_UP_SESSION_KEY]
    assert held["provider"] == "google"
    assert held["email"] == google.email
    assert held["subject"]  # Google's stable id for the account


# Consent ------------------------------------------------------------------------------------------


def test_the_terms_must_be_accepted(client, google):
    reach_the_step(client, google)

    response = client.post(SIGN_UP, {"marketing_email": "on"})

    assert response.status_code == 200
    assert "You need to accept the Terms of Service and the Privacy Policy" in (
        response.content.decode()
    )
    assert not User.objects.exists()
    assert signed_in_as(client) is None
    assert SIGN_UP_SESSION_KEY in client.session  # the owner can still tick the box


def test_accepting_creates_a_verified_account_without_a_usable_password(client, google):
    reach_the_step(client, google)
    before = timezone.now()

    response = client.post(SIGN_UP, ACCEPT)

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    user = User.objects.get()
    assert user.email == google.email
    assert user.email_verified_at is not None and user.email_verified_at >= before
    assert not user.has_usable_password()
    assert user.time_zone == "America/New_York"
    assert signed_in_as(client) == str(user.pk)


def test_the_time_zone_falls_back_to_utc_without_javascript(client, google):
    reach_the_step(client, google)

    client.post(SIGN_UP, {"accept_legal": "on"})

    assert User.objects.get().time_zone == "UTC"


def test_consent_is_recorded_with_its_time_and_document_version(client, google):
    reach_the_step(client, google)
    before = timezone.now()

    client.post(SIGN_UP, ACCEPT)

    user = User.objects.get()
    terms = user.consents.get(kind=Consent.Kind.TERMS)
    privacy = user.consents.get(kind=Consent.Kind.PRIVACY)
    news = user.consents.get(kind=Consent.Kind.MARKETING_EMAIL)
    assert terms.granted and privacy.granted
    assert terms.document_version == privacy.document_version
    assert terms.document_version == django_settings.LEGAL_DOCUMENTS_VERSION
    assert terms.recorded_at >= before and privacy.recorded_at >= before
    assert news.granted is False


def test_consent_rows_are_the_same_as_a_password_sign_up_records(client, google):
    reach_the_step(client, google)
    client.post(SIGN_UP, {**ACCEPT, "marketing_email": "on"})
    services.user_register(
        email="password@example.com",
        password=DEFAULT_PASSWORD,
        time_zone="UTC",
        marketing_email=True,
    )

    def rows(email: str) -> list[tuple[str, bool, str]]:
        consents = Consent.objects.filter(user__email=email).order_by("kind")
        return [(c.kind, c.granted, c.document_version) for c in consents]

    assert rows(google.email) == rows("password@example.com")
    assert len(rows(google.email)) == 3


def test_product_news_is_recorded_when_ticked(client, google):
    reach_the_step(client, google)

    client.post(SIGN_UP, {**ACCEPT, "marketing_email": "on"})

    news = User.objects.get().consents.get(kind=Consent.Kind.MARKETING_EMAIL)
    assert news.granted is True
    assert news.recorded_at is not None


def test_signing_up_rotates_the_session_and_audits_the_login(client, google):
    reach_the_step(client, google)
    before = client.session.session_key

    client.post(SIGN_UP, ACCEPT, REMOTE_ADDR="203.0.113.7")

    assert client.session.session_key != before
    audit = AuditLog.objects.get(user=User.objects.get())
    assert audit.action == AuditLog.Action.LOGIN
    assert audit.ip_address == "203.0.113.7"
    assert audit.metadata == {"provider": "google"}


def test_the_new_account_cannot_log_in_with_any_password(client, google):
    reach_the_step(client, google)
    client.post(SIGN_UP, ACCEPT)
    client.logout()

    for password in ("", "!", DEFAULT_PASSWORD):
        client.post(reverse("accounts:login"), {"username": google.email, "password": password})
        assert signed_in_as(client) is None


def test_a_microsoft_sign_up_creates_its_account(client, microsoft_fake):
    account = microsoft_fake.identity.add_user("Grace@Contoso.example")
    auth_url = client.post(reverse("accounts_oauth:microsoft_sign_in"))["Location"]
    answer = microsoft_fake.identity.authorize(auth_url, account)
    response = client.get(reverse("accounts_oauth:microsoft_sign_in_callback"), answer)
    assert response["Location"] == SIGN_UP

    client.post(SIGN_UP, ACCEPT)

    user = User.objects.get()
    assert user.email == "grace@contoso.example"
    assert signed_in_as(client) == str(user.pk)
    assert AuditLog.objects.get(user=user).metadata == {"provider": "microsoft"}


# Leaving, expiry, replay --------------------------------------------------------------------------


def test_cancelling_creates_nothing_and_forgets_the_identity(client, google):
    reach_the_step(client, google)

    response = client.post(CANCEL, follow=True)

    assert "no account was created" in response.content.decode()
    assert SIGN_UP_SESSION_KEY not in client.session
    assert refused_as_no_longer_valid(client.post(SIGN_UP, ACCEPT))
    assert not User.objects.exists()


def test_the_identity_still_works_just_before_fifteen_minutes(client, google):
    reach_the_step(client, google)

    with time_machine.travel(timezone.now() + timedelta(minutes=14)):
        response = client.post(SIGN_UP, ACCEPT)

    assert response.status_code == 302
    assert User.objects.exists()


def test_the_identity_expires_after_fifteen_minutes(client, google):
    reach_the_step(client, google)

    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        page = client.get(SIGN_UP)
        answer = client.post(SIGN_UP, ACCEPT)

    assert refused_as_no_longer_valid(page)
    assert refused_as_no_longer_valid(answer)
    assert SIGN_UP_SESSION_KEY not in client.session
    assert not User.objects.exists()
    assert signed_in_as(client) is None


def test_a_completed_sign_up_cannot_be_replayed(client, google):
    reach_the_step(client, google)
    assert client.post(SIGN_UP, ACCEPT).status_code == 302

    response = client.post(SIGN_UP, ACCEPT)  # the browser's back button, or a resent form

    assert refused_as_no_longer_valid(response)
    assert SIGN_UP_SESSION_KEY not in client.session
    assert User.objects.count() == 1
    assert Consent.objects.count() == 3
    assert AuditLog.objects.count() == 1


def test_the_step_needs_an_identity_held_by_this_session(client):
    assert refused_as_no_longer_valid(client.get(SIGN_UP))
    assert refused_as_no_longer_valid(client.post(SIGN_UP, ACCEPT))
    assert not User.objects.exists()


# Attacks ------------------------------------------------------------------------------------------


def test_another_browser_cannot_finish_someone_elses_sign_up(client, google):
    reach_the_step(client, google)
    stranger = Client()

    response = stranger.post(SIGN_UP, ACCEPT)

    assert refused_as_no_longer_valid(response)
    assert not User.objects.exists()
    assert signed_in_as(stranger) is None
    assert SIGN_UP_SESSION_KEY in client.session  # the owner's own step is untouched


def test_the_session_id_from_before_the_sign_up_opens_nothing_afterwards(client, google):
    reach_the_step(client, google)
    old_key = client.session.session_key
    client.post(SIGN_UP, ACCEPT)
    thief = Client()
    thief.cookies[django_settings.SESSION_COOKIE_NAME] = old_key

    assert refused_as_no_longer_valid(thief.post(SIGN_UP, ACCEPT))
    assert thief.get(reverse("dashboard"))["Location"].startswith(reverse("accounts:login"))
    assert User.objects.count() == 1


REMOVE = "(removed)"


@pytest.mark.parametrize(
    "change",
    [
        {"provider": "github"},
        {"provider": REMOVE},
        {"email": "not-an-address"},
        {"email": ["someone@example.com"]},
        {"email": REMOVE},
        {"next": None},
        {"held_at": "now"},
        {"held_at": REMOVE},
        {"held_at": 9e99},  # in the future: never "fresh"
    ],
)
def test_a_malformed_held_identity_is_refused_and_dropped(client, change):
    held = {
        "provider": "google",
        "email": "someone@example.com",
        "subject": "1234",
        "next": "",
        "held_at": timezone.now().timestamp(),
    }
    held.update(change)
    session = client.session
    session[SIGN_UP_SESSION_KEY] = {key: value for key, value in held.items() if value != REMOVE}
    session.save()

    assert refused_as_no_longer_valid(client.post(SIGN_UP, ACCEPT))
    assert SIGN_UP_SESSION_KEY not in client.session
    assert not User.objects.exists()


def test_a_held_identity_that_is_not_a_mapping_is_refused(client):
    session = client.session
    session[SIGN_UP_SESSION_KEY] = "google:someone@example.com"
    session.save()

    assert refused_as_no_longer_valid(client.post(SIGN_UP, ACCEPT))
    assert not User.objects.exists()


def test_a_well_formed_held_identity_is_what_the_step_needs(client):
    """The counterpart of the two tests above: the same shape, unchanged, is accepted."""
    session = client.session
    session[SIGN_UP_SESSION_KEY] = {
        "provider": "google",
        "email": "someone@example.com",
        "subject": "1234",
        "next": "",
        "held_at": timezone.now().timestamp(),
    }
    session.save()

    assert client.post(SIGN_UP, ACCEPT).status_code == 302
    assert User.objects.get().email == "someone@example.com"


def test_a_forged_session_cookie_holds_no_identity(client, google):
    reach_the_step(client, google)
    forger = Client()
    forger.cookies[django_settings.SESSION_COOKIE_NAME] = "x" * 32

    assert refused_as_no_longer_valid(forger.post(SIGN_UP, ACCEPT))
    assert not User.objects.exists()


def csrf_token(client: Client) -> str:
    page = client.get(reverse("accounts:login")).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def test_the_consent_form_needs_the_csrf_token(google):
    client = Client(enforce_csrf_checks=True)
    token = csrf_token(client)
    start = client.post(reverse("accounts_oauth:google_sign_in"), {"csrfmiddlewaretoken": token})
    answer = google.authorize(start["Location"])
    client.get(reverse("accounts_oauth:google_sign_in_callback"), answer)
    assert SIGN_UP_SESSION_KEY in client.session

    refused = client.post(SIGN_UP, ACCEPT)
    accepted = client.post(SIGN_UP, {**ACCEPT, "csrfmiddlewaretoken": csrf_token(client)})

    assert refused.status_code == 403
    assert accepted.status_code == 302
    assert User.objects.count() == 1


def test_an_email_field_posted_to_the_step_is_ignored(client, google):
    reach_the_step(client, google)

    client.post(SIGN_UP, {**ACCEPT, "email": "victim@example.com"})

    assert list(User.objects.values_list("email", flat=True)) == [google.email]


# An account appears meanwhile ---------------------------------------------------------------------


def test_an_account_created_meanwhile_is_signed_into_instead(client, google):
    reach_the_step(client, google)
    user = UserFactory(email=google.email, email_verified_at=None)

    response = client.post(SIGN_UP, ACCEPT)

    assert response.status_code == 302
    user.refresh_from_db()
    assert signed_in_as(client) == str(user.pk)
    assert User.objects.count() == 1
    # Linked as the sign-in links: verified now, and its unproven password no longer works.
    assert user.email_verified_at is not None
    assert not user.has_usable_password()
    assert not Consent.objects.filter(user=user).exists()
    assert AuditLog.objects.get(user=user).action == AuditLog.Action.LOGIN


def test_an_account_inserted_between_the_check_and_the_insert_is_signed_into(
    client, google, monkeypatch
):
    reach_the_step(client, google)
    user = UserFactory(email=google.email)
    monkeypatch.setattr(services, "user_exists", lambda *, email: False)

    response = client.post(SIGN_UP, ACCEPT)

    assert response.status_code == 302
    assert signed_in_as(client) == str(user.pk)
    assert User.objects.count() == 1


def test_a_disabled_account_created_meanwhile_is_not_signed_into(client, google):
    reach_the_step(client, google)
    UserFactory(email=google.email, is_active=False)

    response = client.post(SIGN_UP, ACCEPT)

    assert response.status_code == 403
    assert "is disabled" in response.content.decode()
    assert signed_in_as(client) is None
    assert SIGN_UP_SESSION_KEY not in client.session


# Where to go afterwards ---------------------------------------------------------------------------


def test_the_step_leads_where_the_login_page_was_to_lead(client, google):
    reach_the_step(client, google, next_url="/rules/")

    response = client.post(SIGN_UP, ACCEPT)

    assert response["Location"] == "/rules/"


@pytest.mark.parametrize("hostile", ["//evil.com/", "https://evil.com/", "javascript:alert(1)"])
def test_the_step_never_leads_off_this_site(client, google, hostile):
    reach_the_step(client, google, next_url=hostile)

    response = client.post(SIGN_UP, ACCEPT)

    assert response["Location"] == reverse("dashboard")


def test_a_next_posted_to_the_step_is_ignored(client, google):
    reach_the_step(client, google, next_url="/rules/")

    response = client.post(SIGN_UP + "?next=/booking/", {**ACCEPT, "next": "//evil.com/"})

    assert response["Location"] == "/rules/"


def test_a_hostile_next_in_the_session_is_still_not_followed(client, google):
    reach_the_step(client, google)
    session = client.session
    session[SIGN_UP_SESSION_KEY] = {**session[SIGN_UP_SESSION_KEY], "next": "//evil.com/"}
    session.save()

    response = client.post(SIGN_UP, ACCEPT)

    assert response["Location"] == reverse("dashboard")
