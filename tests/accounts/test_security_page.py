"""Settings → Security: the user's own audit log, and the events that fill it."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditLog
from accounts.services import audit_log_record
from calendars.models import Connection
from calendars.services import connection_connect_oauth, connection_connect_zoom
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

SECURITY = reverse("accounts:security")
NEW_PASSWORD = "a brand new passphrase"


def entry(user, action, *, at, ip="203.0.113.9", **metadata):
    record = audit_log_record(user=user, action=action, ip_address=ip, **metadata)
    record.created_at = at
    record.save(update_fields=["created_at"])
    return record


def rows(response) -> list[str]:
    """The table's body rows as plain text, one string per row."""
    html = response.content.decode()
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in body.split("<tr>")[1:]]


def test_the_page_lists_the_users_entries_newest_first_in_words(owner_client, owner):
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    entry(owner, AuditLog.Action.LOGIN, at=start, method="password")
    entry(
        owner, AuditLog.Action.LOGIN_FAILED, at=start + timedelta(hours=1), reason="invalid_login"
    )
    entry(owner, AuditLog.Action.DATA_EXPORTED, at=start + timedelta(hours=2), ip="2001:db8::5")

    response = owner_client.get(SECURITY)

    assert response.status_code == 200
    listed = rows(response)
    assert len(listed) == 3
    assert "Downloaded a copy of the account" in listed[0] and "2001:db8::5" in listed[0]
    assert "Failed login" in listed[1] and "wrong password" in listed[1]
    assert "Logged in" in listed[2] and "with password" in listed[2]
    assert "203.0.113.9" in listed[2]


def test_times_are_shown_in_the_users_zone_and_on_their_clock(owner_client, owner):
    owner.time_zone = "Asia/Kolkata"
    owner.save(update_fields=["time_zone"])
    entry(owner, AuditLog.Action.LOGIN, at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC))

    html = owner_client.get(SECURITY).content.decode()

    assert "Sun 1 Mar 2026, 17:30" in html
    assert "Asia/Kolkata" in html

    owner.clock = 12
    owner.save(update_fields=["clock"])
    assert "Sun 1 Mar 2026, 5:30 pm" in owner_client.get(SECURITY).content.decode()


def test_the_log_is_paginated(owner_client, owner):
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    for minute in range(30):
        entry(owner, AuditLog.Action.LOGIN, at=start + timedelta(minutes=minute))

    first = owner_client.get(SECURITY)
    second = owner_client.get(SECURITY, {"page": 2})

    assert len(rows(first)) == 25
    assert "Sun 1 Mar 2026, 13:29" in rows(first)[0]  # Berlin: the newest entry
    assert len(rows(second)) == 5
    assert "Sun 1 Mar 2026, 13:00" in rows(second)[-1]
    assert "Page 1 of 2" in first.content.decode()


def test_another_users_entries_never_appear(owner_client, owner, outsider):
    entry(owner, AuditLog.Action.LOGIN, at=datetime(2026, 3, 1, tzinfo=UTC), ip="198.51.100.1")
    entry(outsider, AuditLog.Action.LOGIN, at=datetime(2026, 3, 2, tzinfo=UTC), ip="198.51.100.66")
    entry(outsider, AuditLog.Action.DATA_EXPORTED, at=datetime(2026, 3, 2, tzinfo=UTC))

    html = owner_client.get(SECURITY).content.decode()

    assert "198.51.100.1" in html
    assert "198.51.100.66" not in html
    assert "Downloaded" not in html
    assert len(rows(owner_client.get(SECURITY))) == 1


def test_logged_out_visitors_are_sent_to_log_in(client):
    response = client.get(SECURITY)

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_zoom_and_oauth_connections_are_listed_with_their_provider(
    owner_client, owner, google_fake
):
    connection_connect_oauth(
        user=owner,
        kind=Connection.Kind.GOOGLE,
        email=google_fake.email,
        secrets=google_fake.grant(),
        ip_address="192.0.2.10",
    )
    connection_connect_zoom(
        user=owner,
        email="host@zoom.example",
        secrets={"access_token": "z"},
        ip_address="192.0.2.11",
    )

    listed = rows(owner_client.get(SECURITY))

    assert "Connected an account" in listed[0] and "Zoom" in listed[0]
    assert "192.0.2.11" in listed[0]
    assert "Connected an account" in listed[1] and "Google Calendar" in listed[1]
    assert "192.0.2.10" in listed[1]
    metadata = [row.metadata["provider"] for row in AuditLog.objects.filter(user=owner)]
    assert metadata == ["zoom", "google"]


def test_a_password_change_is_audited(owner):
    client = Client(REMOTE_ADDR="203.0.113.20")
    client.login(email=owner.email, password=DEFAULT_PASSWORD)

    client.post(
        reverse("accounts:password_change"),
        {
            "old_password": DEFAULT_PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )

    audit = AuditLog.objects.get(user=owner)
    assert audit.action == AuditLog.Action.PASSWORD_CHANGED
    assert audit.ip_address == "203.0.113.20"
    assert audit.metadata == {}


def test_a_completed_password_reset_is_audited_without_the_password(client, owner, mailoutbox):
    client.post(reverse("accounts:password_reset"), {"email": owner.email})
    assert not AuditLog.objects.exists()  # asking for the link proves nothing yet
    link = mailoutbox[0].body.split("http://testserver", 1)[1].split()[0]
    form_url = client.get(link).url

    client.post(
        form_url,
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        REMOTE_ADDR="203.0.113.21",
    )

    audit = AuditLog.objects.get(user=owner)
    assert audit.action == AuditLog.Action.PASSWORD_RESET
    assert audit.ip_address == "203.0.113.21"
    assert NEW_PASSWORD not in str(audit.metadata)


def test_a_failed_password_change_is_not_audited(owner_client, owner):
    owner_client.post(
        reverse("accounts:password_change"),
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert not AuditLog.objects.filter(user=owner).exists()
