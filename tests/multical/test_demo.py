"""The demo world against a real Radicale: a user connected to two calendars of sample events,
one rule whose first sync fills Work with blocks, and a second seeding that changes nothing."""

from __future__ import annotations

from datetime import date, datetime, time
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events

from accounts.models import User
from booking.models import BookingPage
from booking.selectors.owner import public_page_path, slot_preview
from calendars.busy import calendars_busy
from calendars.models import Calendar, Connection
from integrations.base import MARKER_PROPERTY, BusyPolicy, Window
from multical.demo import DEMO_EMAIL, RULE_NAME, demo_objects, demo_seed, demo_sync
from syncrules.models import Block, SyncRule

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(radicale_server):
    return radicale_server.new_account()


def seed(account):
    return demo_seed(
        server_url=account.server_url,
        username=account.username,
        password=account.password,
        time_zone="Europe/Paris",
    )


def server_objects(radicale_server, account, world) -> dict[str, list[bytes]]:
    return {
        calendar.name: [
            radicale_server.read_object(account, urljoin(account.server_url, path))
            for path in radicale_server.list_objects(account, calendar.remote_id)
        ]
        for calendar in (world.work, world.personal)
    }


def blocks(objects: list[bytes]) -> list[bytes]:
    return [data for data in objects if MARKER_PROPERTY.encode() in data]


def counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "connections": Connection.objects.count(),
        "calendars": Calendar.objects.count(),
        "rules": SyncRule.objects.count(),
        "pages": BookingPage.objects.count(),
        "blocks": Block.objects.count(),
    }


def test_seeding_connects_a_verified_demo_user_to_two_calendars_with_one_rule(account):
    world = seed(account)

    assert world.user.email == DEMO_EMAIL
    assert world.user.email_verified
    assert world.user.check_password(account.password)
    assert world.connection.kind == Connection.Kind.CALDAV
    assert world.connection.status == Connection.Status.OK
    assert {(c.name, c.color) for c in world.connection.calendars.all()} == {
        ("Work", "#2563eb"),
        ("Personal", "#16a34a"),
    }
    assert world.rule.name == RULE_NAME
    assert world.rule.visibility == SyncRule.Visibility.BUSY
    assert list(world.rule.sources.all()) == [world.personal]
    assert list(world.rule.targets.all()) == [world.work]


def test_the_demo_page_offers_weekday_times_less_busy_time_and_books_into_work(account, client):
    world = seed(account)
    demo_sync(world)

    page = world.page
    assert (page.title, page.listed, page.active, page.durations) == (
        "Intro call",
        True,
        True,
        [30],
    )
    assert page.write_calendar == world.work
    assert page.busy_in_all_calendars
    assert sorted(page.weekly_hours) == ["1", "2", "3", "4", "5"]
    assert client.get(public_page_path(page)).status_code == 200
    preview = slot_preview(page, duration=30, days=14)
    assert preview.unreadable == []
    offered = [slot for day in preview.days for slot in day.slots]
    assert offered, "no open times in two weeks"
    assert all(
        slot.isoweekday() <= 5 and time(9) <= slot.time() <= time(16, 30) for slot in offered
    )
    # The weekly meetings in Work are busy time: none of their starts is offered.
    busy = calendars_busy(
        [world.work, world.personal], Window(preview.start, preview.end), BusyPolicy()
    )
    assert not any(span.start <= slot < span.end for span in busy.spans for slot in offered)


def test_seeding_writes_the_sample_events_to_the_server(radicale_server, account):
    world = seed(account)

    objects = server_objects(radicale_server, account, world)
    summaries = {
        name: {
            str(event["SUMMARY"])
            for data in found
            for event in icalendar.Calendar.from_ical(data).walk("VEVENT")
        }
        for name, found in objects.items()
    }
    assert {"Weekly team meeting", "Daily stand-up", "Quarterly review with Globex"} <= summaries[
        "Work"
    ]
    assert {"Dentist", "School run", "Day off", "Parcel delivery window"} <= summaries["Personal"]
    assert len(objects["Work"]) == 6
    assert len(objects["Personal"]) == 7


def test_first_sync_fills_work_with_busy_blocks_of_personal_events(radicale_server, account):
    world = seed(account)

    demo_sync(world)

    written = blocks(server_objects(radicale_server, account, world)["Work"])
    assert written
    assert len(written) == Block.objects.filter(target_calendar=world.work).count()
    assert all(b"SUMMARY:Busy" in data for data in written)
    assert all(b"Dentist" not in data for data in written)


def test_seeding_and_syncing_again_changes_nothing(radicale_server, account):
    demo_sync(seed(account))
    world = seed(account)
    before = (counts(), server_objects(radicale_server, account, world))

    demo_sync(seed(account))

    assert (counts(), server_objects(radicale_server, account, world)) == before


def test_a_wiped_server_gets_fresh_calendars_and_no_leftover_blocks(radicale_server, account):
    world = seed(account)
    demo_sync(world)
    radicale_server.delete_object(account, world.work.remote_id)

    world = seed(account)
    demo_sync(world)

    written = blocks(server_objects(radicale_server, account, world)["Work"])
    assert Connection.objects.count() == 1
    assert SyncRule.objects.count() == 1
    assert len(written) == Block.objects.count() > 0
    assert BookingPage.objects.get().write_calendar == world.work


def test_sample_events_hold_a_moved_and_a_cancelled_meeting_a_declined_invite_and_free_time():
    today, zone = date(2026, 3, 2), ZoneInfo("Europe/Paris")  # a Monday

    objects = demo_objects(today=today, zone=zone)

    meeting = icalendar.Calendar.from_ical(objects["work"]["demo-team-meeting.ics"])
    starts = [
        event["DTSTART"].dt
        for event in recurring_ical_events.of(meeting).between(today, date(2026, 5, 1))
    ]
    assert datetime(2026, 3, 17, 10, tzinfo=zone) not in starts  # cancelled
    assert datetime(2026, 3, 10, 10, tzinfo=zone) not in starts  # moved to the Wednesday
    assert datetime(2026, 3, 11, 14, tzinfo=zone) in starts
    assert len(starts) == 5
    pitch = icalendar.Calendar.from_ical(objects["work"]["demo-vendor-pitch.ics"])
    mine = next(a for a in pitch.walk("VEVENT")[0]["ATTENDEE"] if DEMO_EMAIL in a)
    assert mine.params["PARTSTAT"] == "DECLINED"
    parcel = icalendar.Calendar.from_ical(objects["personal"]["demo-parcel.ics"])
    assert parcel.walk("VEVENT")[0]["TRANSP"] == "TRANSPARENT"
    day_off = icalendar.Calendar.from_ical(objects["personal"]["demo-day-off.ics"])
    assert day_off.walk("VEVENT")[0]["DTSTART"].dt == date(2026, 3, 13)
    standup = icalendar.Calendar.from_ical(objects["work"]["demo-standup.ics"])
    assert standup.walk("VEVENT")[0]["DTSTART"].dt == datetime.combine(
        today, time(9, 30), tzinfo=zone
    )
