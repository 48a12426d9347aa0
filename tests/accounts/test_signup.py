import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditLog, Consent, TwoFactor, User
from accounts.selectors import consent_granted
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SIGNUP = reverse("accounts:signup")


def signup_data(**overrides):
    data = {
        "email": "New.Person@Example.com",
        "password": "a long and unusual passphrase",
        "time_zone": "America/New_York",
        "accept_legal": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def signup(client, django_capture_on_commit_callbacks):
    """Post the sign-up form and run what it schedules after commit (the verification e-mail)."""

    def post(**overrides):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(SIGNUP, signup_data(**overrides))

    return post


def verification_link(mail) -> str:
    return re.search(r"http://testserver(/accounts/verify/\S+/)", mail.body).group(1)


def test_signup_creates_an_unverified_user_with_a_lowercased_email(signup, mailoutbox):
    response = signup()

    assert response.status_code == 302
    assert response.url == reverse("accounts:verify_sent")
    user = User.objects.get()
    assert user.email == "new.person@example.com"
    assert user.time_zone == "America/New_York"
    assert not user.email_verified
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["new.person@example.com"]


def test_signup_records_legal_consent_with_its_time_and_version(signup, settings):
    signup()

    user = User.objects.get()
    terms = user.consents.get(kind=Consent.Kind.TERMS)
    privacy = user.consents.get(kind=Consent.Kind.PRIVACY)
    assert terms.granted and privacy.granted
    assert terms.document_version == settings.LEGAL_DOCUMENTS_VERSION
    assert terms.recorded_at is not None


def test_marketing_consent_is_off_unless_ticked(signup, client):
    signup()
    assert consent_granted(user=User.objects.get(), kind=Consent.Kind.MARKETING_EMAIL) is False


def test_marketing_consent_is_stored_with_its_time_when_ticked(signup, client):
    signup(marketing_email="on")

    row = User.objects.get().consents.get(kind=Consent.Kind.MARKETING_EMAIL)
    assert row.granted is True
    assert row.recorded_at is not None


def test_the_marketing_checkbox_starts_unchecked(client):
    html = client.get(SIGNUP).content.decode()
    checkbox = re.search(r'<input[^>]*name="marketing_email"[^>]*>', html).group(0)
    assert "checked" not in checkbox


def test_signup_without_accepting_the_legal_documents_is_refused_in_place(signup):
    response = signup(accept_legal=None)

    assert response.status_code == 200
    assert (
        "You need to accept the Terms of Service and the Privacy Policy."
        in response.content.decode()
    )
    assert 'value="New.Person@Example.com"' in response.content.decode()
    assert not User.objects.exists()


def test_duplicate_email_in_another_case_is_refused(signup, client):
    UserFactory(email="taken@example.com")

    response = signup(email="TAKEN@example.com")

    assert response.status_code == 200
    assert "An account with this e-mail address already exists" in response.content.decode()
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "too short"),
        ("password123456", "too common"),
        ("8675309112233", "entirely numeric"),
    ],
)
def test_weak_passwords_get_a_field_error(signup, client, password, message):
    response = signup(password=password)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.exists()


def test_a_password_like_the_email_is_refused(signup, client):
    response = signup(email="janedoe-calendar@example.com", password="janedoe-calendar")
    assert "too similar" in response.content.decode()


def test_an_unknown_time_zone_falls_back_to_utc(signup, client):
    signup(time_zone="Mars/Olympus_Mons")
    assert User.objects.get().time_zone == "UTC"


def test_malformed_email_gets_a_field_error(signup, client):
    response = signup(email="not-an-address")
    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()


def test_the_verification_link_verifies_and_signs_in_once(signup, client, mailoutbox):
    signup()
    link = verification_link(mailoutbox[0])
    before = client.cookies["sessionid"].value

    response = client.get(link)

    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    user = User.objects.get()
    assert user.email_verified
    assert client.cookies["sessionid"].value != before  # a new session id for the signed-in user
    assert client.get(reverse("dashboard")).status_code == 200
    login = AuditLog.objects.get(user=user, action=AuditLog.Action.LOGIN)
    assert login.metadata == {"method": "email_link"}


def test_a_link_opened_in_another_browser_verifies_but_signs_nobody_in(signup, mailoutbox):
    # An attacker signs up and sends their own link to a victim: were the victim signed into the
    # attacker's account, the calendars they connect next would be the attacker's to read.
    signup()
    link = verification_link(mailoutbox[0])
    victim = Client()

    response = victim.get(link)

    assert response.status_code == 302
    assert response.url == reverse("accounts:login")
    assert User.objects.get().email_verified
    assert victim.get(reverse("dashboard")).status_code == 302
    assert not AuditLog.objects.filter(action=AuditLog.Action.LOGIN).exists()


def test_a_used_link_signs_nobody_in_and_says_it_was_used(signup, client, mailoutbox):
    signup()
    link = verification_link(mailoutbox[0])
    client.get(link)
    stranger = Client()

    response = stranger.get(link)

    assert response.status_code == 410
    assert "This link was already used" in response.content.decode()
    assert stranger.get(reverse("dashboard")).status_code == 302
    assert AuditLog.objects.filter(action=AuditLog.Action.LOGIN).count() == 1


def test_a_used_link_sends_a_signed_in_user_on(signup, client, mailoutbox):
    signup()
    link = verification_link(mailoutbox[0])
    client.get(link)

    response = client.get(link)

    assert response.status_code == 302
    assert response.url == reverse("dashboard")


def test_an_expired_link_neither_verifies_nor_signs_in(signup, client, mailoutbox, settings):
    with time_machine.travel(timezone.now() - timedelta(days=1, minutes=1)):
        signup()
    link = verification_link(mailoutbox[0])

    response = client.get(link)

    assert response.status_code == 400
    assert not User.objects.get().email_verified
    assert client.get(reverse("dashboard")).status_code == 302


def test_a_link_for_another_account_changes_nothing_for_a_signed_in_user(
    signup, client, mailoutbox, owner
):
    signup()
    link = verification_link(mailoutbox[0])
    signed_in = Client()
    signed_in.force_login(owner)

    response = signed_in.get(link)

    assert response.status_code == 409
    assert not User.objects.get(email="new.person@example.com").email_verified
    assert signed_in.get(reverse("dashboard")).context["user"] == owner
    # Still good for its owner.
    assert client.get(link).url == reverse("dashboard")


def test_a_link_dies_when_the_password_changes(signup, client, mailoutbox):
    signup()
    link = verification_link(mailoutbox[0])
    user = User.objects.get()
    user.set_password("another long passphrase")
    user.save(update_fields=["password"])

    response = client.get(link)

    assert response.status_code == 400
    assert not User.objects.get().email_verified
    assert client.get(reverse("dashboard")).status_code == 302


def test_a_link_for_an_account_with_two_factor_asks_for_the_code(signup, client, mailoutbox):
    signup()
    link = verification_link(mailoutbox[0])
    user = User.objects.get()
    TwoFactor.objects.create(user=user, secret="unused", enabled_at=timezone.now())

    response = client.get(link)

    assert response.url == reverse("accounts:login_two_factor")
    assert client.get(reverse("dashboard")).status_code == 302


def test_a_tampered_verification_link_is_refused(signup, client, mailoutbox):
    signup()
    link = verification_link(mailoutbox[0])

    assert client.get(link[:-3] + "xx/").status_code == 400
    assert client.get("/accounts/verify/bm90LWEtdXVpZA/abc-123/").status_code == 400
    assert not User.objects.get().email_verified


def test_the_verification_email_has_text_and_html_parts(signup, client, mailoutbox):
    signup()

    message = mailoutbox[0]
    assert message.subject == "Confirm your e-mail address for Multical"
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert verification_link(message) in html


def test_resending_answers_the_same_for_known_and_unknown_addresses(signup, client, mailoutbox):
    signup()
    mailoutbox.clear()
    resend = reverse("accounts:verify_resend")

    known = client.post(resend, {"email": "new.person@example.com"}, follow=True)
    unknown = client.post(resend, {"email": "nobody@example.com"}, follow=True)

    assert len(mailoutbox) == 1
    assert [str(m) for m in known.context["messages"]] == [
        str(m) for m in unknown.context["messages"]
    ]


def test_resending_to_a_verified_address_sends_nothing(client, mailoutbox):
    UserFactory(email="done@example.com")
    client.post(reverse("accounts:verify_resend"), {"email": "done@example.com"})
    assert mailoutbox == []


def test_resending_with_a_malformed_address_is_a_400(client):
    assert client.post(reverse("accounts:verify_resend"), {"email": "nope"}).status_code == 400
