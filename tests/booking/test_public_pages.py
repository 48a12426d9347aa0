"""The pages attendees use, as their browser sees them (without JavaScript)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client

from booking.models import Booking, BookingPage
from booking.public import format_start
from booking.services import booking_cancel
from booking.tokens import manage_token
from calendars.models import Connection
from tests.booking.pages import at, days_ahead, make_host

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_follow_up(monkeypatch):
    monkeypatch.setattr("booking.services.enqueue_follow_up", lambda booking_id: None)


@pytest.fixture(autouse=True)
def generous_rate_limits(settings):
    # Every test client shares one address; the rate-limit test sets its own.
    settings.BOOKING_BROWSE_RATE = "10000/m"
    settings.BOOKING_SUBMIT_RATE = "10000/m"


def times_on(html: str) -> list[str]:
    return re.findall(r'booking-picker__time" href="[^"]*start=(\d{8}T\d{6}Z)"', html)


def form_data(response, **fields: str) -> dict[str, str]:
    """What the browser posts: the form's hidden fields, a name, an address, and ``fields``."""
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', response.text))
    hidden.pop("csrfmiddlewaretoken", None)
    return {**hidden, "name": "Grace Guest", "email": "grace@example.com", **fields}


def test_a_listed_page_is_found_by_its_slug_and_on_the_profile(radicale_server, owner, client):
    host = make_host(radicale_server, owner)
    BookingPage.objects.create(owner=owner, title="Secret chat", slug="secret", durations=[15])

    assert client.get(host.path).status_code == 200
    profile = client.get(f"/book/{host.handle}/")
    assert "Intro call" in profile.text
    assert "Secret chat" not in profile.text


def test_an_unlisted_page_is_found_only_with_its_secret(radicale_server, owner, client):
    host = make_host(radicale_server, owner, listed=False)
    page = host.page

    assert client.get(f"/book/{host.handle}/{page.slug}--{page.secret}/").status_code == 200
    for guess in (page.slug, f"{page.slug}--", f"{page.slug}--{page.secret[:-1]}x"):
        assert client.get(f"/book/{host.handle}/{guess}/").status_code == 404


def test_unknown_handles_and_switched_off_pages_are_not_found(radicale_server, owner, client):
    host = make_host(radicale_server, owner, active=False)
    assert client.get(host.path).status_code == 404
    assert client.get("/book/nobody-here/intro/").status_code == 404


def test_times_are_shown_in_the_attendee_zone_and_clock(radicale_server, owner, client):
    day = days_ahead(10)
    host = make_host(
        radicale_server,
        owner,
        time_zone="Europe/Berlin",
        weekly_hours={str(day.isoweekday()): [[9 * 60, 10 * 60]]},
    )
    query = f"?tz=America/New_York&clock=12&month={day:%Y-%m}&day={day:%Y-%m-%d}"

    response = client.get(host.path + query)

    nine_in_berlin = at(day, 9, zone="Europe/Berlin")
    assert times_on(response.text) == [
        format_start(nine_in_berlin),
        format_start(nine_in_berlin + timedelta(minutes=30)),
    ]
    new_york_hour = nine_in_berlin.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    assert f">{new_york_hour.hour % 12 or 12}:00 am<" in response.text


def test_a_busy_event_removes_its_times(radicale_server, owner, client):
    day = days_ahead(10)
    host = make_host(radicale_server, owner, weekly_hours={str(day.isoweekday()): [[540, 660]]})
    host.world.put("work", "standup", at(day, 9, 30), minutes=30)

    response = client.get(host.path + f"?tz=UTC&month={day:%Y-%m}&day={day:%Y-%m-%d}")

    assert times_on(response.text) == [
        format_start(at(day, 9)),
        format_start(at(day, 10)),
        format_start(at(day, 10, 30)),
    ]


def test_a_calendar_that_cannot_be_read_shows_no_times(radicale_server, owner, client):
    host = make_host(radicale_server, owner)
    Connection.objects.filter(id=host.world.connection.id).update(
        status=Connection.Status.NEEDS_RECONNECT
    )

    response = client.get(host.path + "?tz=UTC")

    assert "Times can't be shown right now" in response.text
    assert times_on(response.text) == []


def test_an_attendee_books_and_only_their_browser_sees_the_confirmation(
    radicale_server, owner, client
):
    host = make_host(radicale_server, owner)
    host.page.questions.create(label="What about?", required=True)
    start = at(days_ahead(3), 10)
    form_url = f"{host.path}new/?tz=Europe/Berlin&clock=24&duration=30&start={format_start(start)}"
    form = client.get(form_url)
    assert form.status_code == 200

    missing = client.post(form_url, form_data(form))
    assert missing.status_code == 200
    assert "This field is required" in missing.text
    assert not Booking.objects.exists()

    question = host.page.questions.get()
    done = client.post(form_url, form_data(form, **{f"question_{question.id}": "Roadmap"}))

    booking = Booking.objects.get()
    assert done.status_code == 302
    assert booking.attendee_time_zone == "Europe/Berlin"
    assert booking.answers == [{"question": "What about?", "answer": "Roadmap"}]
    confirmation = client.get(done.url)
    assert "You are booked" in confirmation.text
    assert Client().get(done.url).status_code == 404


def test_a_double_click_books_once(radicale_server, owner, client):
    host = make_host(radicale_server, owner)
    start = at(days_ahead(3), 10)
    form_url = f"{host.path}new/?tz=UTC&duration=30&start={format_start(start)}"
    data = form_data(client.get(form_url))

    first = client.post(form_url, data)
    second = client.post(form_url, data)

    assert Booking.objects.count() == 1
    assert first.url == second.url


def test_a_lost_race_says_the_time_was_just_taken_and_shows_fresh_times(
    radicale_server, owner, client
):
    host = make_host(radicale_server, owner)
    start = at(days_ahead(3), 10)
    form_url = f"{host.path}new/?tz=UTC&duration=30&start={format_start(start)}"
    data = form_data(client.get(form_url))
    other = Client()
    other.post(form_url, form_data(other.get(form_url), name="Quicker", email="q@example.com"))

    lost = client.post(form_url, data, follow=True)

    assert "This time was just taken" in lost.text
    assert format_start(start) not in times_on(lost.text)
    assert Booking.objects.get().attendee_name == "Quicker"


def test_times_too_close_to_book_by_the_time_the_form_is_sent_are_not_offered(
    radicale_server, owner, client
):
    host = make_host(radicale_server, owner, minimum_notice=60)
    day = days_ahead(3)
    soon, later = at(day, 11), at(day, 11, 30)

    with time_machine.travel(at(day, 9, 57), tick=False):
        shown = times_on(client.get(f"{host.path}?tz=UTC&day={day:%Y-%m-%d}").text)
        # Still bookable now: only what the page offers keeps a margin.
        form_url = f"{host.path}new/?tz=UTC&duration=30&start={format_start(soon)}"
        booked = client.post(form_url, form_data(client.get(form_url)))

    assert format_start(soon) not in shown
    assert shown[0] == format_start(later)
    assert booked.status_code == 302
    assert Booking.objects.get().start == soon


def test_a_time_in_the_past_or_garbage_goes_back_to_the_page(radicale_server, owner, client):
    host = make_host(radicale_server, owner)
    for start in ("20200101T100000Z", "not-a-time", ""):
        response = client.get(f"{host.path}new/?start={start}")
        assert response.status_code == 302
        assert response.url.startswith(host.path)


def test_the_manage_link_cancels_once_and_then_says_so(radicale_server, owner, client):
    host = make_host(radicale_server, owner)
    booking = _booked(host, client)
    token = manage_token(booking)
    manage = f"/bookings/{booking.id}/{token}/"

    assert "Reschedule" in client.get(manage).text
    client.post(manage + "cancel/", {"reason": "Something came up"})

    booking.refresh_from_db()
    assert booking.is_cancelled
    assert (booking.cancelled_by, booking.cancel_reason) == ("attendee", "Something came up")
    again = client.get(manage + "cancel/", follow=True)
    assert "This booking was cancelled" in again.text
    moved = client.get(manage + "reschedule/", follow=True)
    assert "This booking was cancelled" in moved.text


def test_a_wrong_token_or_another_booking_id_is_not_found(radicale_server, owner, client):
    host = make_host(radicale_server, owner)
    booking = _booked(host, client)
    token = manage_token(booking)
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")

    assert client.get(f"/bookings/{booking.id}/{forged}/").status_code == 404
    assert client.post(f"/bookings/{booking.id}/{forged}/cancel/").status_code == 404
    other = "00000000-0000-4000-8000-000000000000"
    assert client.get(f"/bookings/{other}/{token}/").status_code == 404
    booking.refresh_from_db()
    assert not booking.is_cancelled


def test_the_manage_link_reschedules_to_a_free_time(radicale_server, owner, client):
    host = make_host(radicale_server, owner)
    booking = _booked(host, client)
    token = manage_token(booking)
    new_start = booking.start + timedelta(days=1)

    client.post(
        f"/bookings/{booking.id}/{token}/reschedule/?tz=UTC", {"start": format_start(new_start)}
    )

    booking.refresh_from_db()
    assert booking.start == new_start
    assert booking.sequence == 1


def test_submitting_too_often_is_rate_limited(radicale_server, owner, client, settings):
    host = make_host(radicale_server, owner)
    booking = _booked(host, client)
    booking_cancel(booking=booking)
    url = f"/bookings/{booking.id}/{manage_token(booking)}/cancel/"
    # A rate of its own: its counter is not shared with any other test's.
    settings.BOOKING_SUBMIT_RATE = "7/m"

    statuses = [client.post(url).status_code for _ in range(8)]

    assert statuses[:7] == [302] * 7
    assert statuses[7] == 429
    assert "Retry-After" in client.post(url)


def _booked(host, client) -> Booking:
    start = at(days_ahead(3), 10)
    form_url = f"{host.path}new/?tz=UTC&duration=30&start={format_start(start)}"
    client.post(form_url, form_data(client.get(form_url)))
    return Booking.objects.get()


def test_shown_times_are_reused_until_a_booking_or_a_calendar_change_retires_them(
    radicale_server, owner, client, django_capture_on_commit_callbacks
):
    from booking.services import booking_create
    from syncrules.tasks import enqueue_calendar_sync

    day = days_ahead(10)
    host = make_host(radicale_server, owner, weekly_hours={str(day.isoweekday()): [[540, 660]]})
    url = host.path + f"?tz=UTC&month={day:%Y-%m}&day={day:%Y-%m-%d}"
    all_four = [format_start(at(day, hour, minute)) for hour in (9, 10) for minute in (0, 30)]
    assert times_on(client.get(url).text) == all_four

    # Straight on the server, with no notification yet: the page keeps what it showed.
    host.world.put("work", "standup", at(day, 9), minutes=30)
    assert times_on(client.get(url).text) == all_four
    enqueue_calendar_sync(host.world.calendars["work"].id)  # what a notification does
    assert times_on(client.get(url).text) == all_four[1:]

    with django_capture_on_commit_callbacks(execute=True):
        booking_create(
            page=host.page,
            start=at(day, 10),
            duration=30,
            attendee_name="Grace Guest",
            attendee_email="grace@example.com",
            attendee_time_zone="UTC",
            answers=[],
            submission_key="k",
        )
    assert times_on(client.get(url).text) == [all_four[1], all_four[3]]
