"""A page's open times from its rules and the owner's real calendars."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from booking.availability import local_day_window, page_slots
from tests.booking.pages import at, days_ahead, make_host

pytestmark = pytest.mark.django_db

EVENINGS = {str(day): [[18 * 60, 22 * 60]] for day in range(1, 8)}


def all_day_event(uid: str, day) -> str:
    return "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//tests//EN",
            "BEGIN:VEVENT",
            f"UID:{uid}",
            "DTSTAMP:20260101T000000Z",
            f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
            f"DTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}",
            "SUMMARY:Holiday",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )


def test_an_all_day_event_blocks_the_owners_own_day_not_utcs(radicale_server, owner):
    day = days_ahead(5)
    host = make_host(radicale_server, owner, time_zone="America/New_York", weekly_hours=EVENINGS)
    host.world.put_raw("work", "holiday", all_day_event("holiday", day))
    zone = host.page.time_zone
    window = local_day_window(day - timedelta(days=1), ZoneInfo(zone))
    window = type(window)(window.start, window.end + timedelta(days=2))

    found = page_slots(host.page, now=at(days_ahead(0), 0), window=window, duration=60)

    local_days = {slot.astimezone(ZoneInfo(zone)).date() for slot in found.slots}
    # 18:00-22:00 in New York is 23:00-03:00 UTC: UTC's reading of the holiday would block the
    # evening before and leave the holiday's own evening open.
    assert local_days == {day - timedelta(days=1), day + timedelta(days=1)}
    assert at(day, 20, zone=zone) not in found.slots
    assert at(day - timedelta(days=1), 20, zone=zone) in found.slots


def test_all_day_events_can_be_left_out(radicale_server, owner):
    day = days_ahead(5)
    host = make_host(radicale_server, owner, weekly_hours=EVENINGS, all_day_events="ignore")
    host.world.put_raw("work", "holiday", all_day_event("holiday", day))
    window = local_day_window(day, ZoneInfo("UTC"))

    found = page_slots(host.page, now=at(days_ahead(0), 0), window=window, duration=60)

    assert at(day, 18) in found.slots
