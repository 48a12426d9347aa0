"""The pages attendees use, as their browser sees them (without JavaScript)."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import close_old_connections, connection
from django.test import Client

from booking.form_tokens import form_token
from booking.models import Booking, BookingPage
from booking.public_display import format_start
from booking.services import bookings as services
from booking.services.bookings import booking_cancel
from booking.tokens import manage_token
from calendars.models import Connection
from tests.booking.pages import at, days_ahead, make_host

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("follow_ups", "generous_rate_limits"),
]


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


def test_a_lost_race_says_the_time_was_just_taken_and_offers_the_times_still_free(
    radicale_server, owner, client
):
    host = make_host(radicale_server, owner)
    start = at(days_ahead(3), 10)
    form_url = f"{host.path}new/?tz=UTC&duration=30&start={format_start(start)}"
    data = form_data(client.get(form_url))
    other = Client()
    other.post(form_url, form_data(other.get(form_url), name="Quicker", email="q@example.com"))

    lost = client.post(form_url, data)

    assert "This time was just taken" in lost.text
    others = re.findall(r'name="other_start" value="(\d{8}T\d{6}Z)"', lost.text)
    assert format_start(start) not in others
    assert format_start(start + timedelta(minutes=30)) in others
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
    from booking.services.bookings import booking_create
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


# What the attendee sees, in their zone and clock


def when_on(html: str) -> str:
    """The text of the form's line that says when the meeting is."""
    return re.sub(r"<[^>]+>", "", re.search(r'booking-public__when">(.*?)</p>', html, re.S)[1])


def test_the_form_shows_the_day_and_time_in_the_attendees_zone_and_clock(
    radicale_server, owner, client
):
    host = make_host(radicale_server, owner, time_zone="Europe/Berlin")
    # 22:00 in Berlin is 05:00 the next morning in Tokyo.
    start = at(days_ahead(10), 22, zone="Europe/Berlin")
    tokyo = start.astimezone(ZoneInfo("Asia/Tokyo"))
    url = f"{host.path}new/?duration=30&start={format_start(start)}&tz=Asia/Tokyo"

    twelve = when_on(client.get(url + "&clock=12").text)
    twenty_four = when_on(client.get(url + "&clock=24").text)

    day = f"{tokyo:%A} {tokyo.day} {tokyo:%B %Y}"  # 05:00 in summer, 06:00 in winter
    assert twelve == f"{day}, {tokyo.hour}:00 am\u2013{tokyo.hour}:30 am (Asia/Tokyo)"
    assert twenty_four == f"{day}, {tokyo:%H}:00\u2013{tokyo:%H}:30 (Asia/Tokyo)"


def test_the_confirmation_manage_and_cancel_pages_keep_the_attendees_zone_and_clock(
    radicale_server, owner, client
):
    host = make_host(radicale_server, owner, time_zone="Europe/Berlin")
    start = at(days_ahead(10), 22, zone="Europe/Berlin")
    tokyo = start.astimezone(ZoneInfo("Asia/Tokyo"))
    form_url = f"{host.path}new/?tz=Asia/Tokyo&clock=12&duration=30&start={format_start(start)}"
    done = client.post(form_url, form_data(client.get(form_url)))
    booking = Booking.objects.get()
    manage = f"/bookings/{booking.id}/{manage_token(booking)}/"
    expected = f"{tokyo:%A} {tokyo.day} {tokyo:%B %Y}, {tokyo.hour}:00 am\u2013{tokyo.hour}:30 am"

    assert (booking.attendee_time_zone, booking.attendee_clock) == ("Asia/Tokyo", 12)
    for url in (done.url, manage, manage + "cancel/"):
        text = client.get(url).text
        assert expected in text, url
        assert f"{tokyo:%H:%M}" not in text, url


def test_the_two_instants_of_a_repeated_hour_show_their_offsets(radicale_server, owner, client):
    # New York falls back on Sunday 3 November 2030: 01:00-02:00 happens twice.
    host = make_host(
        radicale_server, owner, time_zone="America/New_York", weekly_hours={"7": [[60, 120]]}
    )

    with time_machine.travel(datetime(2030, 10, 25, 12, tzinfo=UTC)):
        page = client.get(host.path + "?tz=America/New_York&month=2030-11&day=2030-11-03")

    labels = re.findall(r'booking-picker__time" href="[^"]*">([^<]*)<', page.text)
    assert labels == ["01:00 (UTC-4)", "01:30 (UTC-4)", "01:00 (UTC-5)", "01:30 (UTC-5)"]


def test_every_day_the_page_offers_from_six_minutes_to_midnight_can_be_booked(
    radicale_server, owner, client
):
    host = make_host(radicale_server, owner, horizon_days=2)

    with time_machine.travel(datetime(2030, 6, 10, 23, 54, tzinfo=UTC), tick=False):
        page = client.get(host.path + "?tz=UTC&month=2030-06").text
        open_days = re.findall(r'booking-picker__day[^"]*" href="[^"]*day=([\d-]+)"', page)
        last_day = client.get(host.path + f"?tz=UTC&month=2030-06&day={open_days[-1]}").text
        last_time = times_on(last_day)[-1]
        form_url = f"{host.path}new/?tz=UTC&duration=30&start={last_time}"
        booked = client.post(form_url, form_data(client.get(form_url)))

    # Today is over by the time a form is sent; tomorrow is the horizon's last day.
    assert open_days == ["2030-06-11"]
    assert booked.status_code == 302
    assert Booking.objects.get().start == datetime(2030, 6, 11, 23, 30, tzinfo=UTC)


# Refusals


def test_a_length_the_host_dropped_while_the_form_was_open_is_refused_not_replaced(
    radicale_server, owner, client
):
    host = make_host(radicale_server, owner, durations=[30, 45])
    form_url = f"{host.path}new/?tz=UTC&duration=45&start={format_start(at(days_ahead(3), 10))}"
    data = form_data(client.get(form_url))
    host.page.durations = [30, 60]
    host.page.save()

    refused = client.post(form_url, data)
    tampered = [client.post(form_url, {**data, "duration": bad}) for bad in ("0", "-30", "x")]

    assert not Booking.objects.exists()
    assert refused.status_code == 200
    assert "45-minute meetings are not offered" in refused.text
    assert 'value="Grace Guest"' in refused.text
    # The attendee chooses one of the lengths offered now.
    assert re.findall(r'name="duration" value="(\d+)"', refused.text) == ["30", "60"]
    for response in tampered:
        assert response.status_code == 200
        assert "not offered" in response.text
    chosen = client.post(form_url, {**data, "duration": "60"})
    assert chosen.status_code == 302
    assert Booking.objects.get().end - Booking.objects.get().start == timedelta(minutes=60)


def test_a_link_to_the_form_with_a_length_not_offered_goes_back_to_the_page_and_says_so(
    radicale_server, owner, client
):
    host = make_host(radicale_server, owner)
    start = format_start(at(days_ahead(3), 10))

    response = client.get(f"{host.path}new/?tz=UTC&duration=45&start={start}", follow=True)

    assert response.redirect_chain[0][0].startswith(host.path + "?")
    assert "45-minute meetings are not offered" in response.text


def test_a_start_out_of_range_is_refused_on_every_form_not_a_server_error(
    radicale_server, owner, client
):
    host = make_host(radicale_server, owner)
    booking = _booked(host, client)
    reschedule = f"/bookings/{booking.id}/{manage_token(booking)}/reschedule/?tz=Asia/Tokyo"
    # The last second a datetime holds is past what it can hold in a zone ahead of UTC.
    far = "99991231T235959Z"
    form_url = f"{host.path}new/?tz=Asia/Tokyo&duration=30&start={far}"

    shown = client.get(form_url, follow=True)
    sent = client.post(form_url, {**_typed(host, at(days_ahead(3), 11)), "start": far}, follow=True)
    moved = client.post(reschedule, {"start": far}, follow=True)

    for response in (shown, sent, moved):
        assert response.status_code == 200
        assert "Pick a time first" in response.text
    # A start that is a time, only far off, is refused for being too far ahead.
    later = "21001231T100000Z"
    sent = client.post(form_url, {**_typed(host, at(days_ahead(3), 11)), "start": later})
    moved = client.post(reschedule, {"start": later}, follow=True)
    for response in (sent, moved):
        assert response.status_code == 200
        assert "too far ahead: bookings open 60 days in advance" in response.text
    booking.refresh_from_db()
    assert booking.start == at(days_ahead(3), 10)
    assert Booking.objects.count() == 1


def test_a_refused_form_says_the_real_reason_and_keeps_what_was_typed(
    radicale_server, owner, client
):
    host = make_host(
        radicale_server,
        owner,
        minimum_notice=24 * 60,
        weekly_hours={str(day): [[9 * 60, 12 * 60]] for day in range(1, 8)},
    )
    question = host.page.questions.create(label="What about?")
    day = days_ahead(3)
    Client().post(
        f"{host.path}new/",
        _typed(host, at(day, 10), name="Quicker", email="q@example.com"),
    )
    assert Booking.objects.count() == 1
    reasons = {
        at(days_ahead(1), 0): "too soon: bookings are taken at least 1 day ahead",
        at(day, 20): "outside the hours this page offers",
        at(day, 11, 10): "not one of the start times this page offers",
        at(day, 10): "This time was just taken",
    }

    for start, reason in reasons.items():
        typed = _typed(host, start, **{f"question_{question.id}": "The roadmap"})
        response = client.post(f"{host.path}new/?tz=UTC", typed)

        assert response.status_code == 200, start
        assert reason in response.text, start
        assert "This time was just taken" not in response.text or reason.startswith("This time")
        assert 'value="Grace Guest"' in response.text
        assert 'value="grace@example.com"' in response.text
        assert "The roadmap" in response.text
    # The times still free that day are offered in the form itself, and one books.
    taken = client.post(f"{host.path}new/?tz=UTC", _typed(host, at(day, 10)))
    others = re.findall(r'name="other_start" value="(\d{8}T\d{6}Z)"', taken.text)
    assert format_start(at(day, 10)) not in others
    assert format_start(at(day, 11)) in others
    chosen = client.post(
        f"{host.path}new/?tz=UTC",
        {**_typed(host, at(day, 10)), "other_start": format_start(at(day, 11))},
    )
    assert chosen.status_code == 302
    assert Booking.objects.filter(attendee_name="Grace Guest").get().start == at(day, 11)


def _typed(host, start, **fields: str) -> dict[str, str]:
    """What a filled-in form for ``start`` on ``host``'s page sends, with a fresh submission key
    and the form's token."""
    return {
        "form_token": form_token(host.page),
        "start": format_start(start),
        "duration": "30",
        "tz": "UTC",
        "clock": "24",
        "submission": f"key-{start:%Y%m%d%H%M%S}-{len(fields)}-{fields.get('name', '')}",
        "name": "Grace Guest",
        "email": "grace@example.com",
        **fields,
    }


def test_a_page_switched_off_while_the_form_is_open_says_it_stopped_taking_bookings(
    radicale_server, owner, client
):
    host = make_host(radicale_server, owner, listed=False)
    form_url = f"{host.path}new/?tz=UTC&duration=30&start={format_start(at(days_ahead(3), 10))}"
    data = form_data(client.get(form_url))
    BookingPage.objects.filter(id=host.page.id).update(active=False)

    response = client.post(form_url, data)

    assert response.status_code == 410
    assert "stopped taking bookings" in response.text
    assert not Booking.objects.exists()
    # Without the unlisted page's secret it is still nobody's business.
    guessed = f"/book/{host.handle}/{host.page.slug}--{'0' * 32}/new/"
    assert client.post(guessed, data).status_code == 404


def test_public_pages_show_the_host_not_the_sign_up_header_nor_an_empty_location(
    radicale_server, owner, client
):
    host = make_host(radicale_server, owner, location=BookingPage.Location.NONE)
    booking = _booked(host, client)

    for url in (
        host.path,
        f"/book/{host.handle}/",
        f"/bookings/{booking.id}/{manage_token(booking)}/",
    ):
        text = client.get(url).text
        header = re.search(r'<header class="site-header[^"]*">(.*?)</header>', text, re.S)[1]
        assert "Ada Host" in header, url
        assert "Sign up free" not in text and "Log in" not in text, url
        assert "No location" not in text, url


@pytest.mark.django_db(transaction=True)
def test_a_double_click_lands_on_the_same_confirmation(radicale_server, owner, client, monkeypatch):
    host = make_host(radicale_server, owner)
    form_url = f"{host.path}new/?tz=UTC&duration=30&start={format_start(at(days_ahead(3), 10))}"
    data = form_data(client.get(form_url))
    # Both clicks have read the calendars before either is stored.
    barrier, read = threading.Barrier(2), services.page_slots

    def in_step(*args, **kwargs):
        offered = read(*args, **kwargs)
        barrier.wait(timeout=30)
        return offered

    monkeypatch.setattr(services, "page_slots", in_step)
    answers: list[object] = [None, None]

    def click(number: int) -> None:
        browser = Client()
        browser.cookies = client.cookies
        try:
            answers[number] = browser.post(form_url, data)
        finally:
            close_old_connections()
            connection.close()

    clicks = [threading.Thread(target=click, args=(number,)) for number in range(2)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join()

    first, second = answers
    assert (first.status_code, second.status_code) == (302, 302)
    assert first.url == second.url
    assert "You are booked" in client.get(second.url).text
    assert Booking.objects.count() == 1


def test_a_page_that_offers_no_length_says_so_instead_of_failing(radicale_server, owner, client):
    host = make_host(radicale_server, owner, durations=[])
    form_url = f"{host.path}new/?tz=UTC&duration=30&start={format_start(at(days_ahead(3), 10))}"

    shown = client.get(host.path)
    form = client.get(form_url)
    sent = client.post(form_url, _typed(host, at(days_ahead(3), 10)))

    for response in (shown, form, sent):
        assert response.status_code == 200
        assert "is not taking bookings yet" in response.text
    assert "Intro call" not in client.get(f"/book/{host.handle}/").text
    assert not Booking.objects.exists()
