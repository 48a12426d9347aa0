"""Open times of a page: the owner's read (``/pages/{id}/slots``) and anyone's for a listed page
(``/public/{handle}/{slug}/slots``), checked against a brute force and the public page."""

from __future__ import annotations

import random
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from booking.availability import forget_bookings
from booking.models import Booking, BookingPage
from calendars.models import Calendar
from tests.booking.pages import at, days_ahead, make_host

pytestmark = pytest.mark.django_db

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
MORNINGS = {str(day): [[9 * 60, 12 * 60]] for day in range(1, 8)}


@pytest.fixture(autouse=True)
def generous_limits(settings):
    settings.BOOKING_BROWSE_RATE = "10000/m"
    settings.RATE_LIMIT_DEFAULT = "10000/m"


def anyone() -> Client:
    """A visitor without a key, from an address of its own (limits count per address)."""
    return Client(REMOTE_ADDR=f"10.{random.randrange(256)}.{random.randrange(256)}.7")


def _booked(page: BookingPage, start: datetime, minutes: int = 30) -> Booking:
    return Booking.objects.create(
        owner=page.owner,
        page=page,
        title=page.title,
        start=start,
        end=start + timedelta(minutes=minutes),
        attendee_name="Grace Guest",
        attendee_email="grace@example.com",
        location=page.location,
        submission_key=f"k-{start.isoformat()}",
    )


def _brute_force(
    first: date, last: date, *, duration: int, blocked: list[tuple[datetime, datetime]]
) -> set[tuple[datetime, datetime]]:
    """Every half hour of 09:00 to 12:00 in Berlin whose meeting misses ``blocked``, kept when
    it starts on a day from ``first`` to ``last`` in New York."""
    found = set()
    for offset in range(-2, (last - first).days + 3):
        day = first + timedelta(days=offset)
        for minute in range(9 * 60, 12 * 60 - duration + 1, 30):
            start = datetime(day.year, day.month, day.day, tzinfo=BERLIN) + timedelta(
                minutes=minute
            )
            end = start + timedelta(minutes=duration)
            if any(start < b_end and b_start < end for b_start, b_end in blocked):
                continue
            if first <= start.astimezone(NEW_YORK).date() <= last:
                found.add((start, end))
    return found


@pytest.mark.parametrize("duration", [30, 60])
def test_the_owners_slots_are_every_open_time_in_the_zone_asked(
    radicale_server, owner, owner_api, duration
):
    host = make_host(
        radicale_server, owner, time_zone="Europe/Berlin", weekly_hours=MORNINGS, durations=[30, 60]
    )
    first = days_ahead(3)
    busy = at(first, 10, zone="Europe/Berlin")
    host.world.put("work", "dentist", busy, minutes=45)
    booked = _booked(host.page, at(first + timedelta(days=1), 9, zone="Europe/Berlin"))
    last = first + timedelta(days=2)

    response = owner_api.get(
        f"/pages/{host.page.id}/slots",
        start=first.isoformat(),
        end=last.isoformat(),
        time_zone="America/New_York",
        duration=duration,
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["time_zone"], body["duration"], body["durations"]) == (
        "America/New_York",
        duration,
        [30, 60],
    )
    expected = _brute_force(
        first,
        last,
        duration=duration,
        blocked=[(busy, busy + timedelta(minutes=45)), (booked.start, booked.end)],
    )
    assert expected
    assert [slot["start"] for slot in body["slots"]] == [
        start.astimezone(NEW_YORK).isoformat() for start, _end in sorted(expected)
    ]
    assert [slot["end"] for slot in body["slots"]] == [
        end.astimezone(NEW_YORK).isoformat() for _start, end in sorted(expected)
    ]


def test_a_listed_pages_public_slots_are_the_times_its_page_offers(radicale_server, owner):
    host = make_host(radicale_server, owner)
    day = days_ahead(2)
    host.world.put("work", "lunch", at(day, 12), minutes=90)
    month = day.strftime("%Y-%m")

    page = anyone().get(host.path, {"tz": "UTC", "day": day.isoformat(), "month": month})
    api = anyone().get(
        f"/api/v1/public/{host.handle}/{host.page.slug}/slots",
        {"start": day.isoformat(), "end": day.isoformat(), "time_zone": "UTC"},
    )

    assert api.status_code == 200, api.content
    offered = re.findall(r'booking-picker__time" href="[^"]*start=(\d{8}T\d{6}Z)"', page.text)
    assert len(offered) == 48 - 3
    assert [
        datetime.fromisoformat(slot["start"]).strftime("%Y%m%dT%H%M%SZ")
        for slot in api.json()["slots"]
    ] == offered


def test_public_slots_tell_nothing_the_page_does_not(radicale_server, owner):
    host = make_host(radicale_server, owner)

    body = anyone().get(f"/api/v1/public/{host.handle}/{host.page.slug}/slots").json()

    assert set(body) == {"start", "end", "time_zone", "duration", "durations", "slots"}
    assert str(host.page.id) not in str(body)
    assert body["time_zone"] == "UTC" and body["duration"] == 30
    assert (date.fromisoformat(body["end"]) - date.fromisoformat(body["start"])).days == 6


def test_only_listed_open_pages_have_public_slots(radicale_server, owner):
    host = make_host(radicale_server, owner, listed=False)
    page = host.page
    BookingPage.objects.create(owner=owner, title="Off", slug="off", listed=True, active=False)
    BookingPage.objects.create(owner=owner, title="None", slug="none", listed=True, durations=[])

    for address in [
        f"{host.handle}/{page.slug}",
        f"{host.handle}/{page.slug}--{page.secret}",
        f"{host.handle}/off",
        f"{host.handle}/none",
        f"nobody-here/{page.slug}",
        f"{host.handle}/in%00tro",
    ]:
        response = anyone().get(f"/api/v1/public/{address}/slots")
        assert response.status_code == 404, address
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "not_found"


def test_public_slots_count_against_the_booking_pages_limit(radicale_server, owner, settings):
    host = make_host(radicale_server, owner)
    settings.BOOKING_BROWSE_RATE = "2/m"
    visitor = anyone()
    url = f"/api/v1/public/{host.handle}/{host.page.slug}/slots"

    answers = [visitor.get(url) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[2]["Content-Type"] == "application/problem+json"
    assert answers[2].json()["code"] == "rate_limited"
    assert 1 <= int(answers[2]["Retry-After"]) <= 60


def test_public_slots_stay_out_of_the_anonymous_budget(radicale_server, owner, settings):
    host = make_host(radicale_server, owner)
    settings.RATE_LIMIT_DEFAULT = "1/m"
    visitor = anyone()
    url = f"/api/v1/public/{host.handle}/{host.page.slug}/slots"

    answers = [visitor.get(url) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 200]


def test_a_range_too_long_an_unknown_zone_or_length_is_refused(radicale_server, owner, owner_api):
    host = make_host(radicale_server, owner)
    url = f"/pages/{host.page.id}/slots"
    today = days_ahead(0)

    cases = {
        "end": {"start": today.isoformat(), "end": (today + timedelta(days=62)).isoformat()},
        "time_zone": {"time_zone": "Mars/Olympus_Mons"},
        "duration": {"duration": 45},
    }
    for field, params in cases.items():
        response = owner_api.get(url, **params)
        assert response.status_code == 422, field
        assert [error["field"] for error in response.json()["errors"]] == [field]
    full = {"start": today.isoformat(), "end": (today + timedelta(days=61)).isoformat()}
    assert owner_api.get(url, **full).status_code == 200
    far = {"start": "9999-12-25", "end": "9999-12-31"}
    assert owner_api.get(url, **far).json()["slots"] == []


def test_a_calendar_that_cannot_be_read_gives_no_times_but_a_503(radicale_server, owner, owner_api):
    host = make_host(radicale_server, owner)
    # Nothing listens on the discard port: the server is down.
    Calendar.objects.filter(id=host.world.calendars["work"].id).update(
        remote_id="http://127.0.0.1:9/user/calendar/"
    )

    response = owner_api.get(f"/pages/{host.page.id}/slots")

    assert response.status_code == 503
    assert response.json()["code"] == "calendar_unreadable"
    assert int(response["Retry-After"]) > 0


def test_kept_open_times_follow_a_booking_and_a_change_of_the_page(
    radicale_server, owner, owner_api, django_capture_on_commit_callbacks
):
    host = make_host(radicale_server, owner, time_zone="Europe/Berlin", weekly_hours=MORNINGS)
    day = days_ahead(3)
    path = f"/pages/{host.page.id}/slots"
    query = {"start": day.isoformat(), "end": day.isoformat(), "time_zone": "Europe/Berlin"}
    first = [slot["start"] for slot in owner_api.get(path, **query).json()["slots"]]
    taken = at(day, 10, zone="Europe/Berlin")

    with django_capture_on_commit_callbacks(execute=True):
        _booked(host.page, taken)
        forget_bookings(owner.id)
    after_booking = [slot["start"] for slot in owner_api.get(path, **query).json()["slots"]]
    host.page.weekly_hours = {str(weekday): [[9 * 60, 10 * 60]] for weekday in range(1, 8)}
    host.page.save()
    after_change = [slot["start"] for slot in owner_api.get(path, **query).json()["slots"]]

    assert len(first) == 6
    assert len(after_booking) == 5
    assert len(after_change) == 2
