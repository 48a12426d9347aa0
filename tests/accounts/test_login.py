import json

import pytest
from django.urls import reverse

from accounts.models import AuditLog
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
        "accounts:password_change",
    ]:
        response = client.get(reverse(name))
        assert response.status_code == 302, name
        assert response.url.startswith(LOGIN), name


def test_every_dashboard_section_renders_its_empty_state(owner_client):
    for name, text in [
        ("calendars:calendar_list", "No calendars connected yet"),
        ("syncrules:rule_list", "Connect at least two calendars first"),
        ("booking:page_list", "First, choose your public address"),
        ("portfolio:portfolio", "Nothing to show yet"),
        ("dashboard", "Connect your calendars"),
    ]:
        response = owner_client.get(reverse(name))
        assert response.status_code == 200
        assert text in response.content.decode(), name


def test_logout_needs_a_post(owner_client):
    assert owner_client.get(reverse("accounts:logout")).status_code == 405


# The audit log --------------------------------------------------------------------------------


def test_a_password_log_in_is_audited_with_its_address(client, owner):
    client.post(
        LOGIN, {"username": owner.email, "password": DEFAULT_PASSWORD}, REMOTE_ADDR="203.0.113.5"
    )

    entry = AuditLog.objects.get(user=owner)
    assert entry.action == AuditLog.Action.LOGIN
    assert entry.ip_address == "203.0.113.5"
    assert entry.metadata == {"method": "password"}


def test_a_wrong_password_is_audited_without_the_password(client, owner):
    client.post(
        LOGIN, {"username": owner.email.upper(), "password": "hunter2-guess"}, REMOTE_ADDR="::1"
    )

    entry = AuditLog.objects.get(user=owner)
    assert entry.action == AuditLog.Action.LOGIN_FAILED
    assert entry.ip_address == "::1"
    assert entry.metadata == {"reason": "invalid_login"}
    assert "hunter2" not in json.dumps(list(AuditLog.objects.values()), default=str)


def test_each_failed_attempt_is_a_row_of_its_own(client, owner):
    for guess in ("first guess", "second guess"):
        client.post(LOGIN, {"username": owner.email, "password": guess})
    client.post(LOGIN, {"username": owner.email, "password": DEFAULT_PASSWORD})

    actions = list(AuditLog.objects.filter(user=owner).order_by("created_at", "pk"))
    assert [entry.action for entry in actions] == [
        AuditLog.Action.LOGIN_FAILED,
        AuditLog.Action.LOGIN_FAILED,
        AuditLog.Action.LOGIN,
    ]


def test_a_right_password_for_an_unverified_account_is_audited_as_failed(client):
    user = UserFactory(email_verified_at=None)

    client.post(LOGIN, {"username": user.email, "password": DEFAULT_PASSWORD})

    entry = AuditLog.objects.get(user=user)
    assert entry.action == AuditLog.Action.LOGIN_FAILED
    assert entry.metadata == {"reason": "unverified"}


def test_a_disabled_account_is_audited_as_failed(client):
    user = UserFactory(is_active=False)

    client.post(LOGIN, {"username": user.email, "password": DEFAULT_PASSWORD})

    assert AuditLog.objects.get(user=user).action == AuditLog.Action.LOGIN_FAILED


def test_an_unknown_address_leaves_no_audit_entry(client, owner):
    client.post(LOGIN, {"username": "nobody@example.com", "password": "whatever it is"})

    assert not AuditLog.objects.exists()


def test_a_form_without_a_password_is_not_an_attempt(client, owner):
    client.post(LOGIN, {"username": owner.email, "password": ""})

    assert not AuditLog.objects.exists()


def test_the_login_page_keeps_next_after_a_password_log_in(client, owner):
    response = client.post(
        f"{LOGIN}?next=/rules/", {"username": owner.email, "password": DEFAULT_PASSWORD}
    )

    assert response.url == "/rules/"
    assert AuditLog.objects.get(user=owner).action == AuditLog.Action.LOGIN
