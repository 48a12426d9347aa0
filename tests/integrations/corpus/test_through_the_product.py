"""Real-world calendars read the way the product reads them: iCal links whose times float, and
events no reader can expand, counted on the calendar and told on its page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from calendars.busy import calendars_busy
from calendars.models import Calendar
from calendars.services import connection_connect_ics
from integrations.base import BusyPolicy, Window
from integrations.ics.provider import FEED_ID, ICSProvider
from tests.syncrules.world import World, event_ics, make_world, soon

CORPUS = Path(__file__).parent


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_floating_times_of_an_ical_link_are_read_in_the_owners_zone(feed):
    # TripIt writes local times without a zone and the feed names none either.
    feed.serve((CORPUS / "tripit_floating_times.ics").read_bytes())
    provider = ICSProvider.from_secrets({"url": feed.url, "time_zone": "America/Los_Angeles"})

    events = provider.changes(FEED_ID, "", Window(utc(2011, 10, 1), utc(2011, 11, 1))).events

    directions = [e for e in events if e.title.startswith("Directions from SFO")]
    # 10:05 in California, on daylight time (UTC-7); the second is written in UTC.
    assert sorted((e.start, e.end) for e in directions) == [
        (utc(2011, 10, 11, 17, 5), utc(2011, 10, 11, 18, 5)),
        (utc(2011, 10, 25, 16, 36), utc(2011, 10, 25, 17, 36)),
    ]


def test_floating_times_of_an_ical_link_follow_the_feeds_own_zone_before_the_owners(feed):
    feed.serve(
        (CORPUS / "tripit_floating_times.ics")
        .read_bytes()
        .replace(b"X-PUBLISHED-TTL:PT15M", b"X-WR-TIMEZONE:Europe/Berlin\r\nX-PUBLISHED-TTL:PT15M")
    )
    provider = ICSProvider.from_secrets({"url": feed.url, "time_zone": "America/Los_Angeles"})

    events = provider.changes(FEED_ID, "", Window(utc(2011, 10, 1), utc(2011, 11, 1))).events

    directions = [e for e in events if e.title.startswith("Directions from SFO")]
    assert sorted(e.start for e in directions) == [
        utc(2011, 10, 11, 8, 5),
        utc(2011, 10, 25, 16, 36),
    ]


def floating_feed(local: datetime) -> bytes:
    """A feed of one hour-long event at ``local``, a floating time, naming no zone at all."""
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:floating\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{local:%Y%m%dT%H%M%S}\r\n"
        f"DTEND:{local + timedelta(hours=1):%Y%m%dT%H%M%S}\r\nSUMMARY:Trip\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


@pytest.mark.django_db
def test_a_linked_feeds_floating_times_are_copied_at_the_owners_local_time(
    radicale_server, owner, feed
):
    owner.time_zone = "America/New_York"
    owner.save(update_fields=["time_zone"])
    world = make_world(radicale_server, owner, ["Work"])
    local = soon(2, 9).replace(tzinfo=None)
    feed.serve(floating_feed(local))
    link = connection_connect_ics(user=owner, url=feed.url, label="Trips", ip_address=None)
    world.calendars["Trips"] = link.calendars.get()
    world.rule(["Trips"], ["Work"])

    world.sync("Trips")

    nine_in_new_york = local.replace(tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)
    assert [event.DTSTART for event in world.blocks("Work")] == [nine_in_new_york]


@pytest.mark.django_db
def test_a_linked_feeds_floating_times_are_busy_at_the_owners_local_time(owner, feed):
    owner.time_zone = "America/New_York"
    owner.save(update_fields=["time_zone"])
    local = soon(2, 9).replace(tzinfo=None)
    feed.serve(floating_feed(local))
    link = connection_connect_ics(user=owner, url=feed.url, label="Trips", ip_address=None)
    calendar = Calendar.objects.select_related("connection").get(connection=link)

    busy = calendars_busy([calendar], Window(soon(0, 0), soon(7, 0)), BusyPolicy(), fresh=True)

    nine_in_new_york = local.replace(tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)
    assert [span.start for span in busy.spans] == [nine_in_new_york]


# Events no reader can expand: counted on the calendar, shown on its page ---------------------


def broken_series(uid: str, start: datetime) -> str:
    """A series whose extra date is a period that ends before it starts: no reader expands it."""
    period = (
        f"{start + timedelta(days=7):%Y%m%dT%H%M%SZ}/{start + timedelta(days=6):%Y%m%dT%H%M%SZ}"
    )
    return event_ics(uid, start, extra=f"RDATE;VALUE=PERIOD:{period}")


def feed_body(*objects: str) -> bytes:
    events = "".join(
        text.split("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\n")[1].split(
            "END:VCALENDAR"
        )[0]
        for text in objects
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\n{events}END:VCALENDAR\r\n".encode()


@pytest.fixture
def linked(radicale_server, owner, feed) -> World:
    world = make_world(radicale_server, owner, ["Work"])
    feed.serve(feed_body(event_ics("first", soon(1, 10))))
    link = connection_connect_ics(user=owner, url=feed.url, label="Club", ip_address=None)
    world.calendars["Club"] = link.calendars.get()
    world.rule(["Club"], ["Work"])
    return world


@pytest.mark.django_db
def test_events_no_reader_can_expand_are_counted_on_the_calendar_and_shown_on_its_page(
    linked, feed, owner_client
):
    feed.serve(
        feed_body(
            event_ics("readable", soon(2, 10)),
            broken_series("broken-1", soon(3, 10)),
            broken_series("broken-2", soon(4, 10)),
        )
    )

    linked.sync("Club")

    club = Calendar.objects.get(id=linked.calendars["Club"].id)
    assert club.unreadable_events == 2
    assert [event.DTSTART for event in linked.blocks("Work")] == [soon(2, 10)]
    html = owner_client.get(reverse("syncrules:calendar_detail", args=[club.id])).content.decode()
    assert re.search(r"2 events in this calendar could not be read", html)


@pytest.mark.django_db
def test_the_count_of_unreadable_events_holds_through_idle_polls_and_clears_once_they_read(
    linked, feed, owner_client
):
    feed.serve(feed_body(event_ics("readable", soon(2, 10)), broken_series("broken", soon(3, 10))))
    linked.sync("Club")
    linked.sync("Club")  # the feed has not changed: nothing is read again

    club = Calendar.objects.get(id=linked.calendars["Club"].id)
    assert club.unreadable_events == 1
    html = owner_client.get(reverse("syncrules:calendar_detail", args=[club.id])).content.decode()
    assert "1 event in this calendar could not be read, so it is not copied" in html

    feed.serve(feed_body(event_ics("readable", soon(2, 10)), event_ics("fixed", soon(3, 10))))
    linked.sync("Club")

    club = Calendar.objects.get(id=linked.calendars["Club"].id)
    assert club.unreadable_events == 0
    html = owner_client.get(reverse("syncrules:calendar_detail", args=[club.id])).content.decode()
    assert "could not be read" not in html


def never_advancing(uid: str, start: datetime) -> str:
    """A weekly series with an interval of 0: Radicale stores it, and no reader can expand it."""
    return event_ics(uid, start, extra="RRULE:FREQ=WEEKLY;INTERVAL=0")


@pytest.mark.django_db
def test_a_caldav_calendars_count_of_unreadable_events_follows_each_change(
    radicale_server, owner, owner_client
):
    world = make_world(radicale_server, owner, ["Club", "Work"])
    world.rule(["Club"], ["Work"])
    world.put("Club", "readable", soon(2, 10))
    world.sync("Club", full=True)

    def count() -> int:
        return Calendar.objects.get(id=world.calendars["Club"].id).unreadable_events

    assert count() == 0
    # The only change, and it cannot be read: one.
    radicale_server.write_object_file(
        world.url("Club"), "broken-1.ics", never_advancing("broken-1", soon(3, 10))
    )
    world.sync("Club")
    assert count() == 1
    # Another one beside it, read incrementally: two.
    radicale_server.write_object_file(
        world.url("Club"), "broken-2.ics", never_advancing("broken-2", soon(4, 10))
    )
    world.sync("Club")
    assert count() == 2
    # One mended: one left, without waiting for a full read.
    radicale_server.write_object_file(
        world.url("Club"), "broken-1.ics", event_ics("broken-1", soon(3, 10))
    )
    world.sync("Club")
    assert count() == 1
    world.delete("Club", "broken-2")
    world.sync("Club")
    assert count() == 0
    assert sorted(event.DTSTART for event in world.blocks("Work")) == [soon(2, 10), soon(3, 10)]
    club = reverse("syncrules:calendar_detail", args=[world.calendars["Club"].id])
    assert "could not be read" not in owner_client.get(club).content.decode()
