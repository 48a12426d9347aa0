import pytest
from django.urls import reverse

from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")


def test_a_verified_user_logs_in_and_lands_on_the_dashboard(client, owner):
    response = client.post(LOGIN, {"username": owner.email, "password": DEFAULT_PASSWORD})

    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200


def test_the_email_is_matched_in_any_case(client, owner):
    response = client.post(LOGIN, {"username": owner.email.upper(), "password": DEFAULT_PASSWORD})
    assert response.status_code == 302


def test_a_wrong_password_is_refused_with_a_message(client, owner):
    response = client.post(LOGIN, {"username": owner.email, "password": "wrong password"})

    assert response.status_code == 200
    assert "do not match an account" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_an_unverified_user_is_asked_to_verify_first(client):
    user = UserFactory(email_verified_at=None)

    response = client.post(LOGIN, {"username": user.email, "password": DEFAULT_PASSWORD})

    assert response.status_code == 200
    assert "Please verify your e-mail address first" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_an_unverified_user_with_a_wrong_password_learns_nothing_about_verification(client):
    user = UserFactory(email_verified_at=None)
    response = client.post(LOGIN, {"username": user.email, "password": "wrong password"})
    assert "verify" not in response.content.decode().lower()


def test_signed_in_users_skip_the_landing_and_login_pages(owner_client):
    assert owner_client.get(reverse("landing")).url == reverse("dashboard")
    assert owner_client.get(LOGIN).url == reverse("dashboard")


def test_dashboard_sections_require_login(client):
    for name in [
        "dashboard",
        "calendars:calendar_list",
        "syncrules:rule_list",
        "booking:page_list",
        "portfolio:portfolio",
        "accounts:settings",
        "accounts:password-change",
    ]:
        response = client.get(reverse(name))
        assert response.status_code == 302, name
        assert response.url.startswith(LOGIN), name


def test_every_dashboard_section_renders_its_empty_state(owner_client):
    for name, text in [
        ("calendars:calendar_list", "No calendars connected yet"),
        ("syncrules:rule_list", "Connect at least two calendars first"),
        ("booking:page_list", "No booking pages yet"),
        ("portfolio:portfolio", "Nothing to show yet"),
        ("dashboard", "Connect your calendars"),
    ]:
        response = owner_client.get(reverse(name))
        assert response.status_code == 200
        assert text in response.content.decode(), name


def test_logout_needs_a_post(owner_client):
    assert owner_client.get(reverse("accounts:logout")).status_code == 405
