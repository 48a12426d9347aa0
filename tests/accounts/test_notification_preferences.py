"""Notification preferences: reconnect alerts and booking e-mails, on by default, honoured where
those e-mails are sent (the attendees of bookings are always told)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from booking.models import Booking, BookingPage
from booking.services.follow_up import booking_follow_up
from calendars.services import connection_record_error
from integrations.base import ProviderError
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

SETTINGS = reverse("accounts:settings")
NOTIFICATIONS = reverse("accounts:notification_preferences")
ATTENDEE = "grace@attendee.example"


def revoke(connection, capture) -> None:
    with capture(execute=True):
        connection_record_error(
            connection=connection, error=ProviderError("Access was revoked.", permanent=True)
        )


def ticked(html: str, name: str) -> bool:
    (checkbox,) = re.findall(rf'<input type="checkbox" name="{name}"[^>]*>', html)
    return " checked" in checkbox


def make_booking(owner) -> Booking:
    start = datetime(2030, 5, 6, 9, 0, tzinfo=UTC)
    return Booking.objects.create(
        owner=owner,
        title="Intro call",
        start=start,
        end=start + timedelta(minutes=30),
        attendee_name="Grace Hopper",
        attendee_email=ATTENDEE,
        location=BookingPage.Location.NONE,
        submission_key=uuid.uuid4().hex,
    )


def test_both_are_on_for_a_new_account_and_shown_ticked(owner_client, owner):
    html = owner_client.get(SETTINGS).content.decode()

    assert owner.notify_reconnect_alerts and owner.notify_booking_emails
    assert ticked(html, "notify_reconnect_alerts")
    assert ticked(html, "notify_booking_emails")


def test_switching_one_off_and_on_again_is_saved(owner_client, owner):
    response = owner_client.post(NOTIFICATIONS, {"notify_booking_emails": "on"})

    assert response.status_code == 302
    assert response.url == SETTINGS
    owner.refresh_from_db()
    assert owner.notify_reconnect_alerts is False
    assert owner.notify_booking_emails is True

    owner_client.post(NOTIFICATIONS, {"notify_reconnect_alerts": "on"})
    owner.refresh_from_db()
    assert owner.notify_reconnect_alerts is True
    assert owner.notify_booking_emails is False
    html = owner_client.get(SETTINGS).content.decode()
    assert ticked(html, "notify_reconnect_alerts")
    assert not ticked(html, "notify_booking_emails")


def test_the_preferences_change_only_by_a_signed_in_post(owner_client, owner):
    assert owner_client.get(NOTIFICATIONS).status_code == 405
    response = Client().post(NOTIFICATIONS, {})
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))
    owner.refresh_from_db()
    assert owner.notify_reconnect_alerts and owner.notify_booking_emails


def test_a_broken_connection_e_mails_its_owner_by_default(
    owner, mailoutbox, django_capture_on_commit_callbacks
):
    revoke(ConnectionFactory(user=owner), django_capture_on_commit_callbacks)

    assert [message.to for message in mailoutbox] == [[owner.email]]


def test_switched_off_reconnect_alerts_send_no_e_mail(
    owner, mailoutbox, django_capture_on_commit_callbacks
):
    owner.notify_reconnect_alerts = False
    owner.save(update_fields=["notify_reconnect_alerts"])
    connection = ConnectionFactory(user=owner)

    revoke(connection, django_capture_on_commit_callbacks)

    assert mailoutbox == []
    connection.refresh_from_db()
    assert connection.status == connection.Status.NEEDS_RECONNECT  # the dashboard still says so


def test_a_booking_e_mails_the_owner_and_the_attendee_by_default(owner, mailoutbox):
    booking_follow_up(booking_id=make_booking(owner).id)

    assert sorted(message.to[0] for message in mailoutbox) == sorted([ATTENDEE, owner.email])


def test_switched_off_booking_e_mails_still_tell_the_attendee(owner, mailoutbox):
    owner.notify_booking_emails = False
    owner.save(update_fields=["notify_booking_emails"])
    booking = make_booking(owner)

    booking_follow_up(booking_id=booking.id)

    assert [message.to for message in mailoutbox] == [[ATTENDEE]]
    booking.refresh_from_db()
    assert booking.notified_sequence == booking.sequence  # done: the owner's is not owed later
