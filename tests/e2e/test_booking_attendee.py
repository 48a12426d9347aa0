"""An attendee books, reschedules and cancels in a real browser; the calendar event in Radicale,
the Zoom meeting and the e-mails follow.

The first test runs the follow-up tasks eagerly in the live server's own thread, so the e-mails they
send land in this process's outbox; the second leaves them to a real Celery worker.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from booking.models import Booking, BookingPage
from calendars.services import connection_connect_zoom
from integrations.base import BOOKING_MARKER_PROPERTY
from integrations.zoom.oauth import secrets_from_token_answer
from tests.booking.pages import make_host

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def eager_tasks(monkeypatch):
    from multical.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    monkeypatch.setitem(app.conf, "task_eager_propagates", True)


def link(mail, action: str) -> str:
    return re.search(rf"(http://\S+/bookings/\S+/{action})", mail.body).group(1)


def booking_events(host):
    return [e for e in host.world.events("work") if BOOKING_MARKER_PROPERTY in e]


def test_an_attendee_books_moves_and_cancels_and_everything_follows(
    page, radicale_server, owner, zoom_fake, mailoutbox, eager_tasks, tmp_path
):
    connection_connect_zoom(
        user=owner,
        email=zoom_fake.email,
        secrets=secrets_from_token_answer(zoom_fake.grant()),
        ip_address=None,
    )
    host = make_host(
        radicale_server, owner, location=BookingPage.Location.ZOOM, minimum_notice=24 * 60
    )

    # The first visit picks up the browser's zone (Europe/Berlin) by itself.
    page.goto(host.path)
    expect(page).to_have_url(re.compile(r"tz=Europe%2FBerlin"))
    expect(page.get_by_role("heading", name="Intro call")).to_be_visible()
    page.screenshot(path=tmp_path / "public-page.png", full_page=True)
    first_time = page.locator(".booking-picker__times a").first
    chosen = first_time.inner_text()
    first_time.click()
    page.get_by_label("Your name").fill("Grace Guest")
    page.get_by_label("E-mail address").fill("grace@example.com")
    page.get_by_role("button", name="Book this time").click()
    expect(page.get_by_role("heading", name="You are booked")).to_be_visible()
    page.screenshot(path=tmp_path / "booked.png", full_page=True)
    expect(page.get_by_text(chosen, exact=False)).to_be_visible()

    booking = Booking.objects.get()
    (meeting,) = zoom_fake.meetings.values()
    assert meeting["settings"]["auto_recording"] == "none"
    assert "grace@example.com" not in meeting["topic"]
    (event,) = booking_events(host)
    assert str(event[BOOKING_MARKER_PROPERTY]) == str(booking.id)
    assert event.decoded("DTSTART") == booking.start
    to_attendee = [mail for mail in mailoutbox if mail.to == ["grace@example.com"]]
    assert len(to_attendee) == 1
    assert any(mail.to == [owner.email] for mail in mailoutbox)

    # Reschedule through the e-mailed link: a time on another day.
    page.goto(link(to_attendee[0], "reschedule"))
    page.locator(".booking-picker__day:not(.is-chosen)[href]").first.click()
    page.locator(".booking-picker__times button").first.click()
    expect(page.get_by_text("Your booking is moved")).to_be_visible()
    moved = Booking.objects.get()
    assert moved.start != booking.start and moved.sequence == 1
    (meeting_after,) = zoom_fake.meetings.values()
    assert meeting_after["id"] == meeting["id"]  # updated, not re-created
    assert meeting_after["start_time"] == f"{moved.start:%Y-%m-%dT%H:%M:%SZ}"
    (event,) = booking_events(host)
    assert event.decoded("DTSTART") == moved.start

    # Cancel through the link from the first e-mail: it still works after the move.
    page.goto(link(to_attendee[0], "cancel"))
    page.get_by_label("Reason (optional, shared with the other side)").fill("Something came up")
    page.get_by_role("button", name="Cancel the booking").click()
    expect(page.get_by_role("heading", name="This booking was cancelled")).to_be_visible()
    assert Booking.objects.get().is_cancelled
    assert zoom_fake.meetings == {}
    assert booking_events(host) == []
    assert len([m for m in mailoutbox if m.to == ["grace@example.com"]]) == 3

    # The used link says so kindly.
    page.goto(link(to_attendee[0], "reschedule"))
    expect(page.get_by_role("heading", name="This booking was cancelled")).to_be_visible()


def test_with_a_real_worker_the_calendar_event_follows_booking_and_cancelling(
    page, radicale_server, owner, celery_worker_process
):
    host = make_host(radicale_server, owner, minimum_notice=24 * 60)

    page.goto(host.path)
    page.locator(".booking-picker__times a").first.click()
    page.get_by_label("Your name").fill("Grace Guest")
    page.get_by_label("E-mail address").fill("grace@example.com")
    page.get_by_role("button", name="Book this time").click()
    expect(page.get_by_role("heading", name="You are booked")).to_be_visible()
    booking = Booking.objects.get()
    wait_for(lambda: len(booking_events(host)) == 1)
    assert str(booking_events(host)[0][BOOKING_MARKER_PROPERTY]) == str(booking.id)

    page.get_by_role("link", name="Cancel or reschedule").click()
    page.get_by_role("link", name="Cancel").click()
    page.get_by_role("button", name="Cancel the booking").click()
    expect(page.get_by_role("heading", name="This booking was cancelled")).to_be_visible()
    wait_for(lambda: booking_events(host) == [])
    booking.refresh_from_db()
    assert booking.event_sequence == booking.sequence == 1


def wait_for(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the worker did not get there in time"
        time.sleep(0.2)
