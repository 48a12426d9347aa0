"""An attendee books, reschedules and cancels in a real browser; the calendar event in Radicale,
the Zoom meeting and the e-mails follow.

The first test runs the follow-up tasks eagerly in the live server's own thread, so the e-mails they
send land in this process's outbox; the second leaves them to a real Celery worker.
"""

from __future__ import annotations

import itertools
import re
import threading
import time

import pytest
from playwright.sync_api import expect

from booking.models import Booking, BookingPage
from booking.services import bookings as services
from calendars.services import connection_connect_zoom
from integrations.base import BOOKING_MARKER_PROPERTY
from integrations.zoom.oauth import secrets_from_token_answer
from tests.booking.pages import make_host, someone_else_books

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


def test_a_double_click_on_the_form_shows_the_confirmation(
    page, radicale_server, owner, monkeypatch
):
    host = make_host(radicale_server, owner, minimum_notice=24 * 60)
    # The server reads the calendars for both clicks before it stores either (the timing that
    # made the second click answer "just taken" most of the time), then stores the first click
    # first: the browser shows the answer to the second.
    both_read, read = threading.Barrier(2), services.page_slots
    submissions: list[str] = []
    arrivals = itertools.count()

    def in_step(*args, **kwargs):
        offered = read(*args, **kwargs)
        second = next(arrivals) == 1
        submissions.append("read")
        both_read.wait(timeout=10)
        if second:
            wait_for(Booking.objects.exists, seconds=10)
        return offered

    monkeypatch.setattr(services, "page_slots", in_step)

    page.goto(host.path)
    page.locator(".booking-picker__times a").first.click()
    page.get_by_label("Your name").fill("Grace Guest")
    page.get_by_label("E-mail address").fill("grace@example.com")
    box = page.get_by_role("button", name="Book this time").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    # Chromium merges two clicks that come within one task into one request; a person's second
    # click comes while the first request is on its way, and the browser sends it again. (The
    # mouse, unlike a locator, does not wait for the first navigation to finish.)
    page.mouse.click(x, y)
    wait_for(lambda: submissions == ["read"], seconds=5)
    page.mouse.click(x, y)

    expect(page.get_by_role("heading", name="You are booked")).to_be_visible()
    assert submissions == ["read", "read"]
    assert Booking.objects.count() == 1


@pytest.mark.parametrize("width", [390, 1280])
def test_a_refused_form_says_why_keeps_what_was_typed_and_fits_the_screen(
    page, radicale_server, owner, width
):
    host = make_host(radicale_server, owner, minimum_notice=24 * 60)
    page.set_viewport_size({"width": width, "height": 800})

    page.goto(host.path)
    page.locator(".booking-picker__times a").first.click()
    page.get_by_label("Your name").fill("Grace Guest")
    page.get_by_label("E-mail address").fill("grace@example.com")
    # Someone else books that very time while the form is being filled in.
    chosen = someone_else_books(host, page.url)
    page.get_by_role("button", name="Book this time").click()

    expect(page.get_by_role("alert")).to_contain_text("This time was just taken")
    expect(page.get_by_label("Your name")).to_have_value("Grace Guest")
    expect(page.get_by_label("E-mail address")).to_have_value("grace@example.com")
    expect(page.locator(".site-header")).to_have_text("Ada Host")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.locator('input[name="other_start"]').first.check()
    page.get_by_role("button", name="Book the chosen time").click()

    expect(page.get_by_role("heading", name="You are booked")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert Booking.objects.get(attendee_name="Grace Guest").start > chosen


def test_every_page_an_attendee_sees_fits_a_phone_under_the_hosts_name(
    page, radicale_server, owner
):
    host = make_host(radicale_server, owner, minimum_notice=24 * 60, durations=[30, 60])
    page.set_viewport_size({"width": 390, "height": 800})
    seen: list[str] = []

    def fits(name: str) -> None:
        expect(page.locator(".site-header")).to_have_text("Ada Host")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
        seen.append(name)

    page.goto(f"/book/{host.handle}/")
    fits("profile")
    page.goto(host.path)
    expect(page).to_have_url(re.compile(r"tz=Europe%2FBerlin"))
    fits("page")
    page.locator(".booking-picker__times a").first.click()
    fits("form")
    page.get_by_label("Your name").fill("Grace Guest")
    page.get_by_label("E-mail address").fill("grace@example.com")
    page.get_by_role("button", name="Book this time").click()
    expect(page.get_by_role("heading", name="You are booked")).to_be_visible()
    fits("booked")
    page.get_by_role("link", name="Cancel or reschedule").click()
    fits("manage")
    page.get_by_role("link", name="Reschedule", exact=True).click()
    expect(page.get_by_role("heading", name="Pick a new time")).to_be_visible()
    fits("reschedule")
    page.go_back()
    page.get_by_role("link", name="Cancel", exact=True).click()
    fits("cancel")
    page.get_by_role("button", name="Cancel the booking").click()
    expect(page.get_by_role("heading", name="This booking was cancelled")).to_be_visible()
    fits("cancelled")

    # A form sent for a length the host has dropped since asks for one of those offered now.
    page.goto(host.path + "?tz=Europe/Berlin&duration=60")
    page.locator(".booking-picker__times a").first.click()
    page.get_by_label("Your name").fill("Grace Guest")
    page.get_by_label("E-mail address").fill("grace@example.com")
    BookingPage.objects.filter(id=host.page.id).update(durations=[30, 45])
    page.get_by_role("button", name="Book this time").click()
    expect(page.get_by_role("alert")).to_contain_text("60-minute meetings are not offered")
    expect(page.get_by_role("radio", name="45 minutes")).to_be_visible()
    fits("length refused")
    # Then the host switches the page off.
    BookingPage.objects.filter(id=host.page.id).update(active=False)
    page.get_by_role("radio", name="45 minutes").check()
    page.get_by_role("button", name="Book this time").click()
    expect(page.get_by_role("heading", name="Intro call stopped taking bookings")).to_be_visible()
    fits("stopped")

    assert len(seen) == 10
    assert Booking.objects.count() == 1
