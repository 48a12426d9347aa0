"""The portfolio's events, read from a real Radicale, the Google fake and the Microsoft fake through
the providers: blocks hidden, copies of one meeting joined, failures reported one by one."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from calendars.models import Connection
from calendars.selectors import connection_secrets
from portfolio.fetch import NEEDS_RECONNECT, events_for
from portfolio.services import preference_update
from syncrules.models import Block
from tests.portfolio.world import (
    GOOGLE_CALENDAR,
    block_marker,
    booking_marker,
    connect_google,
    connect_microsoft,
    days,
)
from tests.syncrules.world import make_world, soon

pytestmark = pytest.mark.django_db

WEEK = days(soon(0, 0), 7)


def titles(result) -> list[str]:
    return [event.title for event in result.events]


def named(result, title: str):
    (event,) = [event for event in result.events if event.title == title]
    return event


def calendar_names(event) -> list[str]:
    return [calendar.name for calendar in event.calendars]


def test_events_of_caldav_google_and_microsoft_calendars_come_back_in_time_order(mixed, owner):
    mixed.caldav_event(
        "Work", "standup", soon(1, 9), minutes=15, title="Stand-up", location="Room 4"
    )
    mixed.caldav_event("Personal", "gym", soon(3, 7), title="Gym")
    mixed.google_event(
        "School play",
        soon(2, 15),
        location="Hall",
        hangoutLink="https://meet.google.com/abc-defg-hij",
    )
    mixed.outlook_event(
        "Board call", soon(1, 12), join_url="https://teams.microsoft.com/l/meetup-join/19%3ameeting"
    )

    result = events_for(owner, WEEK)

    assert result.failures == []
    assert titles(result) == ["Stand-up", "Board call", "School play", "Gym"]
    standup = named(result, "Stand-up")
    assert (standup.start, standup.end) == (soon(1, 9), soon(1, 9, 15))
    assert calendar_names(standup) == ["Work"]
    assert standup.location == "Room 4"
    assert named(result, "School play").video_link == "https://meet.google.com/abc-defg-hij"
    assert calendar_names(named(result, "Board call")) == ["Outlook"]
    assert named(result, "Board call").video_link.startswith("https://teams.microsoft.com/")


def test_only_events_inside_the_window_come_back_and_all_day_events_keep_their_dates(mixed, owner):
    mixed.caldav_event("Work", "before", soon(0, 0) - timedelta(hours=2), title="Before")
    mixed.caldav_event("Work", "edge", soon(0, 0) - timedelta(minutes=30), title="Across the start")
    mixed.caldav_event("Work", "after", soon(7, 0), title="After")
    mixed.google.add_event(GOOGLE_CALENDAR, "Holiday", soon(2, 0).date(), soon(4, 0).date())

    result = events_for(owner, WEEK)

    assert titles(result) == ["Across the start", "Holiday"]
    holiday = named(result, "Holiday")
    assert holiday.all_day
    assert (holiday.start.date(), holiday.end.date()) == (soon(2, 0).date(), soon(4, 0).date())


def test_blocks_our_sync_wrote_are_hidden_at_every_provider(mixed, owner):
    mixed.world.rule(["Personal"], ["Work", "Family", "Outlook"])
    mixed.caldav_event("Personal", "dentist", soon(2, 8), title="Dentist")
    mixed.world.sync("Personal")
    # The blocks are there, one per target, each as its provider keeps it.
    assert Block.objects.filter(state=Block.State.SYNCED).count() == 3
    assert len(mixed.world.blocks("Work")) == 1
    assert [e["summary"] for e in mixed.google.live_events(GOOGLE_CALENDAR)] == ["Busy"]
    assert [
        e.subject for e in mixed.microsoft.graph.live_events(mixed.outlook.default_calendar)
    ] == ["Busy"]

    result = events_for(owner, WEEK)

    assert titles(result) == ["Dentist"]
    assert calendar_names(result.events[0]) == ["Personal"]


def test_a_block_is_hidden_by_our_table_alone_and_by_its_marker_alone(mixed, owner):
    # Graph's delta never shows our marker: only the table of blocks we wrote knows this one.
    unmarked = mixed.outlook_event("Busy", soon(1, 11))
    Block.objects.create(
        source_event_id="elsewhere",
        source_series_id="elsewhere",
        target_calendar=mixed.calendars["Outlook"],
        target_event_id=unmarked,
        state=Block.State.SYNCED,
        start=soon(1, 11),
        end=soon(1, 12),
    )
    # A marked block whose row is gone (a restored backup, a second installation).
    mixed.caldav_event(
        "Work", "orphan", soon(1, 13), title="Busy", extra=block_marker(str(uuid.uuid4()))
    )
    mixed.google_event(
        "Busy",
        soon(1, 15),
        extendedProperties={"private": {"multical_block": str(uuid.uuid4())}},
    )
    mixed.outlook_event("Lunch", soon(1, 12))

    result = events_for(owner, WEEK)

    assert titles(result) == ["Lunch"]


def test_booking_events_are_real_events_and_say_so(mixed, owner):
    booking = str(uuid.uuid4())
    mixed.caldav_event(
        "Work", "booked", soon(2, 10), title="Intro call with Ada", extra=booking_marker(booking)
    )
    mixed.google_event(
        "Consultation",
        soon(3, 10),
        extendedProperties={"private": {"multical_booking": str(uuid.uuid4())}},
    )
    mixed.caldav_event("Work", "plain", soon(2, 12), title="Plain")

    result = events_for(owner, WEEK)

    assert titles(result) == ["Intro call with Ada", "Plain", "Consultation"]
    assert [event.booking for event in result.events] == [True, False, True]


def test_the_same_meeting_in_several_calendars_is_shown_once_listing_them_all(mixed, owner):
    uid = "kickoff-5b1e@example.com"
    mixed.caldav_event("Work", uid, soon(2, 10), title="Kick-off", location="Room 1")
    mixed.google_event(
        "Kick-off", soon(2, 10), iCalUID=uid, hangoutLink="https://meet.google.com/kic-koff-abc"
    )
    mixed.outlook_event("Kick-off", soon(2, 10), ical_uid=uid)
    # Same UID at another time: another instance of a series, not a copy.
    mixed.google_event("Kick-off", soon(3, 10), iCalUID=uid)

    result = events_for(owner, WEEK)

    assert titles(result) == ["Kick-off", "Kick-off"]
    first, second = result.events
    assert calendar_names(first) == ["Work", "Family", "Outlook"]
    assert first.location == "Room 1"
    assert first.video_link == "https://meet.google.com/kic-koff-abc"  # from Google's copy
    assert calendar_names(second) == ["Family"]


def test_declined_invitations_stay_and_are_flagged_for_dimming(mixed, owner):
    mixed.outlook_event("Optional sync", soon(1, 14), response="declined")
    mixed.outlook_event("Planning", soon(1, 16), response="accepted")

    result = events_for(owner, WEEK)

    assert [(event.title, event.declined) for event in result.events] == [
        ("Optional sync", True),
        ("Planning", False),
    ]


def test_a_failing_provider_is_reported_with_its_reason_while_the_others_come_back(mixed, owner):
    mixed.caldav_event("Work", "standup", soon(1, 9), title="Stand-up")
    mixed.google_event("School play", soon(2, 15))
    mixed.outlook_event("Board call", soon(1, 12))
    mixed.google.fail_next(5, status=500)

    result = events_for(owner, WEEK)

    assert titles(result) == ["Stand-up", "Board call"]
    (failure,) = result.failures
    assert failure.calendar == mixed.calendars["Family"]
    assert "Google Calendar is having trouble (HTTP 500)" in failure.reason
    assert not failure.needs_reconnect


def test_a_calendar_server_that_is_gone_is_reported(radicale_server, owner, google_fake):
    world = make_world(radicale_server, owner, ["Work"])
    family = connect_google(owner, google_fake)
    google_fake.add_event(GOOGLE_CALENDAR, "School play", soon(2, 15), soon(2, 16))
    # The server moved away: nothing listens at its address any more.
    dead = "http://127.0.0.1:9/"
    calendar = world.calendars["Work"]
    calendar.remote_id = calendar.remote_id.replace(radicale_server.url.rstrip("/") + "/", dead)
    calendar.save(update_fields=["remote_id"])
    Connection.objects.filter(id=world.connection.id).update(server_url=dead)

    result = events_for(owner, WEEK)

    assert titles(result) == ["School play"]
    assert [failure.calendar for failure in result.failures] == [calendar]
    assert result.failures[0].reason
    assert family not in [failure.calendar for failure in result.failures]


def test_hidden_calendars_are_not_even_read(mixed, owner):
    mixed.caldav_event("Work", "standup", soon(1, 9), title="Stand-up")
    mixed.google_event("School play", soon(2, 15))
    mixed.outlook_event("Board call", soon(1, 12))
    preference_update(calendar=mixed.calendars["Family"], shown=False)
    preference_update(calendar=mixed.calendars["Outlook"], shown=False)
    mixed.microsoft.graph.reset_counts()

    result = events_for(owner, WEEK)

    assert titles(result) == ["Stand-up"]
    assert result.failures == []
    assert mixed.google.request_count == 0
    assert mixed.microsoft.graph.count() == 0

    preference_update(calendar=mixed.calendars["Family"], shown=True)
    assert titles(events_for(owner, WEEK)) == ["Stand-up", "School play"]


def test_calendar_ids_narrow_the_read_to_those_calendars_of_the_user(mixed, owner, outsider):
    mixed.caldav_event("Work", "standup", soon(1, 9), title="Stand-up")
    mixed.google_event("School play", soon(2, 15))

    only_family = events_for(owner, WEEK, calendar_ids=[mixed.calendars["Family"].id])
    strangers = events_for(outsider, WEEK, calendar_ids=[c.id for c in mixed.calendars.values()])

    assert titles(only_family) == ["School play"]
    assert mixed.google.request_count == 1
    assert strangers.events == [] and strangers.failures == []


def test_an_account_that_needs_reconnecting_is_reported_without_asking_its_provider(mixed, owner):
    mixed.caldav_event("Work", "standup", soon(1, 9), title="Stand-up")
    Connection.objects.filter(id=mixed.calendars["Family"].connection_id).update(
        status=Connection.Status.NEEDS_RECONNECT, last_error=""
    )
    Connection.objects.filter(id=mixed.calendars["Outlook"].connection_id).update(
        status=Connection.Status.DISCONNECTED
    )

    result = events_for(owner, WEEK)

    assert titles(result) == ["Stand-up"]
    assert [(f.calendar.name, f.reason, f.needs_reconnect) for f in result.failures] == [
        ("Family", NEEDS_RECONNECT, True)
    ]
    assert mixed.google.request_count == 0


def test_tokens_refreshed_while_reading_are_sealed_again(radicale_server, owner, google_fake):
    family = connect_google(owner, google_fake, expired=True)
    google_fake.add_event(GOOGLE_CALENDAR, "School play", soon(2, 15), soon(2, 16))
    before = connection_secrets(family.connection)["access_token"]

    result = events_for(owner, WEEK)

    assert titles(result) == ["School play"]
    assert (
        connection_secrets(Connection.objects.get(id=family.connection_id))["access_token"]
        != before
    )


def test_calendars_of_one_account_are_read_at_the_same_time(owner, microsoft_fake):
    outlook, account = connect_microsoft(owner, microsoft_fake, "ada@contoso.test")
    second_id = microsoft_fake.graph.add_calendar(account.user, "Projects")
    outlook.connection.calendars.create(remote_id=second_id, name="Projects")
    microsoft_fake.graph.add_event(account.default_calendar, "Board call", soon(1, 9), soon(1, 10))
    microsoft_fake.graph.add_event(second_id, "Launch", soon(2, 9), soon(2, 10))
    microsoft_fake.graph.latency = 1.0
    microsoft_fake.graph.reset_counts()

    result = events_for(owner, WEEK)

    assert titles(result) == ["Board call", "Launch"]
    assert max(microsoft_fake.graph.max_in_flight.values()) == 2
