"""The Microsoft Graph provider against stateful fakes of Microsoft's identity platform and Graph."""

from __future__ import annotations

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import pytest
import time_machine
from django.urls import path

from calendars import push
from calendars.webhooks import microsoft as webhooks
from integrations.base import (
    BlockSpec,
    BusyPolicy,
    EventStatus,
    Interval,
    MarkerKind,
    ProviderError,
    Response,
    Transparency,
    Window,
)
from integrations.microsoft import client as graph_module
from integrations.microsoft import mapping
from integrations.microsoft.credentials import REFUSED
from integrations.microsoft.provider import MicrosoftProvider
from integrations.push import channel_secret
from integrations.registry import build_provider
from tests.factories import CalendarFactory, ConnectionFactory
from tests.fakes.faults import Fault
from tests.fakes.microsoft import FakeAccount, MicrosoftFake
from tests.integrations.spans import each_names_its_event, times_of

WINDOW = Window(start=datetime(2026, 3, 1, tzinfo=UTC), end=datetime(2026, 4, 15, tzinfo=UTC))
BLOCK_ID = "5c1e0f9a-8a5b-4f0e-a3c2-7d9e1b2f4a60"

# The receivers, routed as the lead wires them, for the tests that run a live server.
urlpatterns = [
    path("microsoft/notifications/", webhooks.graph_notification, name="microsoft_notification"),
    path("microsoft/lifecycle/", webhooks.graph_lifecycle, name="microsoft_lifecycle"),
]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.fixture
def account(microsoft_fake: MicrosoftFake) -> FakeAccount:
    return microsoft_fake.connect()


@pytest.fixture
def provider(account: FakeAccount) -> MicrosoftProvider:
    provider = MicrosoftProvider.from_secrets(account.secrets)
    yield provider
    provider.close()


def spec(**changes) -> BlockSpec:
    values = {
        "block_id": BLOCK_ID,
        "start": utc(2026, 3, 10, 9),
        "end": utc(2026, 3, 10, 10),
        "all_day": False,
        "title": "Busy",
    }
    return BlockSpec(**{**values, **changes})


# Reading ------------------------------------------------------------------------------------


def test_the_registry_builds_the_provider_from_a_connections_secrets(account):
    assert isinstance(build_provider("microsoft", account.secrets), MicrosoftProvider)


def test_calendars_are_listed_across_pages(microsoft_fake, account, provider):
    graph = microsoft_fake.graph
    graph.page_size = 2
    graph.add_calendar(account.user, "Work", hex_color="#1F6FEB")
    graph.add_calendar(account.user, "Shared by Grace", can_edit=False)
    graph.add_calendar(account.user, "Birthdays", can_edit=False)
    graph.add_calendar(microsoft_fake.identity.add_user("grace@contoso.example"), "Not hers to see")

    calendars = {calendar.name: calendar for calendar in provider.list_calendars()}

    assert sorted(calendars) == ["Birthdays", "Calendar", "Shared by Grace", "Work"]
    assert calendars["Work"].color == "#1f6feb"
    assert calendars["Calendar"].color == ""
    assert calendars["Shared by Grace"].read_only and not calendars["Work"].read_only
    assert graph.count("GET", "/me/calendars") == 2


def test_a_first_read_follows_every_page_to_the_delta_link(microsoft_fake, account, provider):
    graph = microsoft_fake.graph
    graph.page_size = 2
    ids = [
        graph.add_event(
            account.default_calendar,
            f"Meeting {n}",
            utc(2026, 3, 2 + n, 9),
            utc(2026, 3, 2 + n, 10),
        )
        for n in range(5)
    ]
    cancelled = graph.add_event(
        account.default_calendar, "Called off", utc(2026, 3, 3, 14), utc(2026, 3, 3, 15)
    )
    graph.cancel_event(cancelled)
    graph.add_event(account.default_calendar, "Long ago", utc(2025, 1, 1, 9), utc(2025, 1, 1, 10))

    changes = provider.changes(account.default_calendar, "", WINDOW)

    assert changes.full_resync
    assert [event.id for event in changes.events] == ids
    assert changes.removed_ids == []
    assert graph.count("GET", "/calendarView/delta") == 3  # six instances in the window, two a page
    assert "$deltatoken=" in json.loads(changes.next_cursor)["delta_link"]


def test_events_become_utc_instances_with_their_status_response_and_link(
    microsoft_fake, account, provider
):
    graph = microsoft_fake.graph
    calendar = account.default_calendar
    graph.add_event(
        calendar,
        "Board review",
        utc(2026, 3, 10, 8),
        utc(2026, 3, 10, 9, 30),
        show_as="tentative",
        response="tentativelyAccepted",
        location="Room 4",
        body={"contentType": "html", "content": "<p>Agenda: <b>budget</b></p>"},
        join_url="https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc",
    )
    graph.add_event(
        calendar, "Offsite", utc(2026, 3, 12), utc(2026, 3, 14), is_all_day=True, show_as="free"
    )
    graph.add_event(
        calendar, "Declined", utc(2026, 3, 11, 9), utc(2026, 3, 11, 10), response="declined"
    )
    graph.add_event(
        calendar,
        "Away",
        utc(2026, 3, 11, 12),
        utc(2026, 3, 11, 13),
        show_as="oof",
        response="notResponded",
    )

    events = {event.title: event for event in provider.changes(calendar, "", WINDOW).events}

    review = events["Board review"]
    assert (review.start, review.end) == (utc(2026, 3, 10, 8), utc(2026, 3, 10, 9, 30))
    assert review.start.tzinfo == UTC and not review.all_day
    assert review.status == EventStatus.TENTATIVE and review.transparency == Transparency.BUSY
    assert review.response == Response.TENTATIVE
    assert (review.location, review.description) == ("Room 4", "Agenda: budget")
    assert review.video_link == "https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc"
    assert review.ical_uid.startswith("040000008200E00074C5B7101A82E008")
    assert review.block_id == ""  # another client's event: no marker of ours
    offsite = events["Offsite"]
    assert offsite.all_day and (offsite.start, offsite.end) == (utc(2026, 3, 12), utc(2026, 3, 14))
    assert offsite.transparency == Transparency.FREE
    assert events["Declined"].response == Response.DECLINED
    assert events["Away"].transparency == Transparency.BUSY
    assert events["Away"].response == Response.NEEDS_ACTION
    assert events["Away"].status == EventStatus.CONFIRMED


def test_the_instances_of_a_series_share_the_series_id(microsoft_fake, account, provider):
    master, occurrences = microsoft_fake.graph.add_series(
        account.default_calendar,
        "Weekly sync",
        utc(2026, 3, 2, 9),
        duration=timedelta(minutes=30),
        count=3,
    )

    events = provider.changes(account.default_calendar, "", WINDOW).events

    assert [event.id for event in events] == occurrences
    assert {event.series_id for event in events} == {master}


def test_an_incremental_read_brings_what_another_client_added_changed_and_deleted(
    microsoft_fake, account, provider
):
    graph, calendar = microsoft_fake.graph, account.default_calendar
    kept = graph.add_event(calendar, "Kept", utc(2026, 3, 2, 9), utc(2026, 3, 2, 10))
    moved = graph.add_event(calendar, "Moved", utc(2026, 3, 3, 9), utc(2026, 3, 3, 10))
    deleted = graph.add_event(calendar, "Deleted", utc(2026, 3, 4, 9), utc(2026, 3, 4, 10))
    called_off = graph.add_event(calendar, "Called off", utc(2026, 3, 5, 9), utc(2026, 3, 5, 10))
    gone_away = graph.add_event(calendar, "Pushed out", utc(2026, 3, 6, 9), utc(2026, 3, 6, 10))
    first = provider.changes(calendar, "", WINDOW)

    added = graph.add_event(calendar, "Added", utc(2026, 3, 7, 9), utc(2026, 3, 7, 10))
    graph.update_event(moved, start=utc(2026, 3, 3, 15), end=utc(2026, 3, 3, 16))
    graph.delete_event(deleted)
    graph.cancel_event(called_off)
    graph.update_event(gone_away, start=utc(2026, 6, 1, 9), end=utc(2026, 6, 1, 10))
    changes = provider.changes(calendar, first.next_cursor, WINDOW)

    assert not changes.full_resync
    assert {event.id: event.start for event in changes.events} == {
        moved: utc(2026, 3, 3, 15),
        added: utc(2026, 3, 7, 9),
    }
    assert sorted(changes.removed_ids) == sorted([deleted, called_off, gone_away])
    assert kept not in changes.removed_ids
    assert changes.next_cursor != first.next_cursor


def test_an_event_moved_out_of_the_window_arrives_as_its_id_with_null_fields_and_is_removed(
    microsoft_fake, account, provider
):
    graph, calendar = microsoft_fake.graph, account.default_calendar
    moved = graph.add_event(calendar, "Pushed out", utc(2026, 3, 6, 9), utc(2026, 3, 6, 10))
    first = provider.changes(calendar, "", WINDOW)
    graph.update_event(moved, start=utc(2026, 6, 1, 9), end=utc(2026, 6, 1, 10))

    raw = provider._graph.json("GET", json.loads(first.next_cursor)["delta_link"])
    changes = provider.changes(calendar, first.next_cursor, WINDOW)

    (item,) = raw["value"]
    assert item["id"] == moved and "@removed" not in item
    fields = {name: value for name, value in item.items() if name != "id" and name[0] != "@"}
    assert {"start", "end", "subject", "isCancelled"} <= set(fields)
    assert set(fields.values()) == {None}
    assert (changes.events, changes.removed_ids, changes.skipped) == ([], [moved], 0)


def test_an_item_with_a_start_and_end_that_cannot_be_read_is_skipped_not_removed(
    microsoft_fake, account, provider
):
    graph, calendar = microsoft_fake.graph, account.default_calendar
    broken = graph.add_event(calendar, "Broken", utc(2026, 3, 6, 9), utc(2026, 3, 6, 10))
    first = provider.changes(calendar, "", WINDOW)
    graph.update_event(broken, end=utc(2026, 3, 6, 8))  # ends before it starts

    changes = provider.changes(calendar, first.next_cursor, WINDOW)

    assert (changes.events, changes.removed_ids, changes.skipped) == ([], [], 1)


def test_an_idle_poll_costs_one_request(microsoft_fake, account, provider):
    microsoft_fake.graph.add_event(
        account.default_calendar, "Standing", utc(2026, 3, 2, 9), utc(2026, 3, 2, 10)
    )
    cursor = provider.changes(account.default_calendar, "", WINDOW).next_cursor
    microsoft_fake.graph.reset_counts()

    changes = provider.changes(account.default_calendar, cursor, WINDOW)

    assert changes.is_empty
    assert microsoft_fake.graph.count() == 1


@pytest.mark.parametrize(
    ("status", "code"),
    [(410, "syncStateNotFound"), (400, "resyncRequired")],
    ids=["gone", "resync"],
)
def test_a_stale_delta_link_means_a_full_read(microsoft_fake, account, provider, status, code):
    graph = microsoft_fake.graph
    standing = graph.add_event(
        account.default_calendar, "Standing", utc(2026, 3, 2, 9), utc(2026, 3, 2, 10)
    )
    cursor = provider.changes(account.default_calendar, "", WINDOW).next_cursor
    graph.invalidate_delta_links(status=status, code=code)

    changes = provider.changes(account.default_calendar, cursor, WINDOW)

    assert changes.full_resync
    assert [event.id for event in changes.events] == [standing]
    assert provider.changes(account.default_calendar, changes.next_cursor, WINDOW).is_empty


def test_a_delta_link_to_another_host_is_not_followed_with_our_token(
    microsoft_fake, account, provider
):
    cursor = json.dumps(
        {"delta_link": "https://attacker.example/v1.0/me/calendarView/delta?$deltatoken=x"}
    )

    changes = provider.changes(account.default_calendar, cursor, WINDOW)

    assert changes.full_resync
    assert microsoft_fake.graph.count() == 1


def test_every_request_asks_for_immutable_ids_utc_and_text_bodies(
    microsoft_fake, account, provider
):
    graph = microsoft_fake.graph
    event_id = graph.add_event(
        account.default_calendar, "Standing", utc(2026, 3, 2, 9), utc(2026, 3, 2, 10)
    )
    provider.list_calendars()
    [event] = provider.changes(account.default_calendar, "", WINDOW).events
    provider.find_block(account.default_calendar, BLOCK_ID)
    remote_id = provider.put_block(account.default_calendar, spec())
    provider.delete_event(account.default_calendar, remote_id)

    assert event.id == event_id  # the fake hands out changeable ids to anyone not asking for these
    assert graph.count() == 5
    for request in graph.requests:
        assert {
            'IdType="ImmutableId"',
            'outlook.timezone="UTC"',
            'outlook.body-content-type="text"',
        } <= set(request.prefer), request


def test_busy_time_is_one_span_per_event_clipped_to_the_window_and_not_merged(
    microsoft_fake, account, provider
):
    graph = microsoft_fake.graph
    work = graph.add_calendar(account.user, "Work")
    graph.add_event(account.default_calendar, "Before", utc(2026, 3, 1, 22), utc(2026, 3, 2, 9))
    graph.add_event(account.default_calendar, "A", utc(2026, 3, 2, 9), utc(2026, 3, 2, 10))
    graph.add_event(work, "Overlapping", utc(2026, 3, 2, 9, 30), utc(2026, 3, 2, 11))
    graph.add_event(work, "Same time", utc(2026, 3, 2, 9, 30), utc(2026, 3, 2, 11))
    graph.add_event(work, "Runs past", utc(2026, 3, 2, 23), utc(2026, 3, 3, 2))
    graph.add_event(work, "After", utc(2026, 3, 3, 9), utc(2026, 3, 3, 10))

    busy = provider.busy([account.default_calendar, work], Window(utc(2026, 3, 2), utc(2026, 3, 3)))

    assert each_names_its_event(busy)
    assert times_of(busy) == [
        Interval(utc(2026, 3, 2), utc(2026, 3, 2, 9)),
        Interval(utc(2026, 3, 2, 9), utc(2026, 3, 2, 10)),
        Interval(utc(2026, 3, 2, 9, 30), utc(2026, 3, 2, 11)),
        Interval(utc(2026, 3, 2, 9, 30), utc(2026, 3, 2, 11)),
        Interval(utc(2026, 3, 2, 23), utc(2026, 3, 3)),
    ]


def hours(*values: int) -> list[Interval]:
    return [Interval(utc(2026, 3, 2, hour), utc(2026, 3, 2, hour + 1)) for hour in values]


HOLIDAY = Interval(utc(2026, 3, 3), utc(2026, 3, 4), all_day=True)
FREE_ALL_DAY = Interval(utc(2026, 3, 4), utc(2026, 3, 5), all_day=True)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (BusyPolicy(), [*hours(8, 9, 10, 13, 15), HOLIDAY]),
        (BusyPolicy(tentative=False), [*hours(8, 13, 15), HOLIDAY]),
        (BusyPolicy(free=True), [*hours(8, 9, 10, 11, 13, 15), HOLIDAY, FREE_ALL_DAY]),
        (BusyPolicy(all_day=False), hours(8, 9, 10, 13, 15)),
        (BusyPolicy(tentative=False, free=True, all_day=False), hours(8, 11, 13, 15)),
    ],
)
def test_busy_time_counts_tentative_free_and_all_day_events_as_the_policy_says(
    microsoft_fake, account, provider, policy, expected
):
    graph = microsoft_fake.graph
    calendar = account.default_calendar

    def add(subject: str, hour: int, **fields) -> str:
        return graph.add_event(
            calendar, subject, utc(2026, 3, 2, hour), utc(2026, 3, 2, hour + 1), **fields
        )

    add("Busy", 8)
    add("Tentative", 9, show_as="tentative")
    add("Answered tentative", 10, response="tentativelyAccepted")
    add("Free", 11, show_as="free")
    add("Declined", 12, response="declined")
    add("Not answered", 13, response="notResponded")
    graph.cancel_event(add("Cancelled", 14))
    add("Out of office", 15, show_as="oof")
    graph.add_event(calendar, "Holiday", utc(2026, 3, 3), utc(2026, 3, 4), is_all_day=True)
    graph.add_event(
        calendar, "Free all day", utc(2026, 3, 4), utc(2026, 3, 5), is_all_day=True, show_as="free"
    )

    assert times_of(provider.busy([calendar], WINDOW, policy)) == expected


def test_busy_time_of_a_calendar_that_is_gone_is_a_permanent_error(account, provider):
    with pytest.raises(ProviderError) as caught:
        provider.busy(["AAMkAGI2-no-such-calendar"], WINDOW)

    assert caught.value.permanent


def test_html_bodies_are_read_as_text():
    item = {
        "id": "e1",
        "start": {"dateTime": "2026-03-10T09:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-10T10:00:00.0000000", "timeZone": "UTC"},
        "body": {
            "contentType": "html",
            "content": "<html><head><style>p{}</style></head><body><p>Dial&nbsp;in:</p>"
            "<div>https://zoom.us/j/123456789</div><script>x()</script></body></html>",
        },
    }

    event = mapping.remote_event(item)

    assert event.description == "Dial in:\n\nhttps://zoom.us/j/123456789"
    assert event.video_link == "https://zoom.us/j/123456789"


# Blocks -------------------------------------------------------------------------------------


def test_a_block_is_private_without_attendees_or_reminder_and_carries_our_marker(
    microsoft_fake, account, provider
):
    remote_id = provider.put_block(
        account.default_calendar,
        spec(
            title="Busy (Client A)",
            description="Synced by Multical",
            transparency=Transparency.FREE,
        ),
    )

    event = microsoft_fake.graph.event(remote_id)
    assert event.calendar_id == account.default_calendar
    assert event.properties == {mapping.BLOCK_PROPERTY_ID: BLOCK_ID}
    assert (event.subject, event.body["content"]) == ("Busy (Client A)", "Synced by Multical")
    assert (event.start, event.end) == (utc(2026, 3, 10, 9), utc(2026, 3, 10, 10))
    assert event.sensitivity == "private" and event.show_as == "free"
    assert event.attendees == [] and not event.is_reminder_on and not event.is_all_day


def test_an_all_day_block_is_written_as_dates(microsoft_fake, account, provider):
    remote_id = provider.put_block(
        account.default_calendar, spec(start=utc(2026, 3, 12), end=utc(2026, 3, 14), all_day=True)
    )

    event = microsoft_fake.graph.event(remote_id)
    assert event.is_all_day and (event.start, event.end) == (utc(2026, 3, 12), utc(2026, 3, 14))
    assert event.show_as == "busy"


def test_updating_a_block_changes_the_same_event(microsoft_fake, account, provider):
    remote_id = provider.put_block(account.default_calendar, spec())

    again = provider.put_block(
        account.default_calendar,
        spec(start=utc(2026, 3, 10, 14), end=utc(2026, 3, 10, 15)),
        remote_id,
    )

    assert again == remote_id
    assert len(microsoft_fake.graph.live_events(account.default_calendar)) == 1
    event = microsoft_fake.graph.event(remote_id)
    assert event.start == utc(2026, 3, 10, 14)
    assert event.properties == {mapping.BLOCK_PROPERTY_ID: BLOCK_ID}
    assert microsoft_fake.graph.count("PATCH", f"/me/events/{remote_id}") == 1


def test_updating_a_block_someone_deleted_puts_it_back(microsoft_fake, account, provider):
    remote_id = provider.put_block(account.default_calendar, spec())
    microsoft_fake.graph.delete_event(remote_id)

    again = provider.put_block(account.default_calendar, spec(), remote_id)

    assert again != remote_id
    assert [event.id for event in microsoft_fake.graph.live_events(account.default_calendar)] == [
        again
    ]


def test_find_block_finds_the_event_carrying_our_marker(microsoft_fake, account, provider):
    graph = microsoft_fake.graph
    other_calendar = graph.add_calendar(account.user, "Work")
    graph.add_event(
        account.default_calendar, "Someone's", utc(2026, 3, 10, 9), utc(2026, 3, 10, 10)
    )
    remote_id = provider.put_block(account.default_calendar, spec())
    provider.put_block(account.default_calendar, spec(block_id="another-block"))

    assert provider.find_block(account.default_calendar, BLOCK_ID) == remote_id
    assert provider.find_block(account.default_calendar, "never-written") is None
    assert provider.find_block(other_calendar, BLOCK_ID) is None


def booking(**changes) -> BlockSpec:
    values = {
        "title": "Intro call with Ana Lima",
        "description": "Booked through Multical.\nAnswers: budget; timeline",
        "location": "https://example.zoom.us/j/123",
        "kind": MarkerKind.BOOKING,
    }
    return spec(**{**values, **changes})


def test_a_booking_event_carries_the_booking_marker_and_reads_back_as_a_real_event(
    microsoft_fake, account, provider
):
    calendar = account.default_calendar
    remote_id = provider.put_block(calendar, booking())

    stored = microsoft_fake.graph.event(remote_id)
    # calendarView expands the marker (busy time reads it so); delta reads the transactionId.
    (viewed,) = provider._instances(calendar, WINDOW)
    (delta,) = provider.changes(calendar, "", WINDOW).events

    assert stored.properties == {mapping.BOOKING_PROPERTY_ID: BLOCK_ID}
    assert (viewed.id, viewed.booking_id, viewed.ours) == (remote_id, BLOCK_ID, False)
    assert (delta.id, delta.booking_id, delta.ours) == (remote_id, BLOCK_ID, False)
    assert (delta.title, delta.description, delta.location) == (
        "Intro call with Ana Lima",
        "Booked through Multical.\nAnswers: budget; timeline",
        "https://example.zoom.us/j/123",
    )


def test_a_booking_event_is_updated_in_place(microsoft_fake, account, provider):
    remote_id = provider.put_block(account.default_calendar, booking())

    again = provider.put_block(
        account.default_calendar,
        booking(start=utc(2026, 3, 11, 9), end=utc(2026, 3, 11, 10)),
        remote_id,
    )

    assert again == remote_id
    event = microsoft_fake.graph.event(remote_id)
    assert event.start == utc(2026, 3, 11, 9)
    assert event.properties == {mapping.BOOKING_PROPERTY_ID: BLOCK_ID}


def test_a_block_and_a_booking_with_the_same_id_are_two_events_found_apart(
    microsoft_fake, account, provider
):
    calendar = account.default_calendar
    block_event = provider.put_block(calendar, spec())
    booking_event = provider.put_block(calendar, booking())

    assert block_event != booking_event
    assert len(microsoft_fake.graph.live_events(calendar)) == 2
    assert provider.find_block(calendar, BLOCK_ID) == block_event
    assert provider.find_block(calendar, BLOCK_ID, kind=MarkerKind.BOOKING) == booking_event
    provider.delete_event(calendar, booking_event)
    assert provider.find_block(calendar, BLOCK_ID, kind=MarkerKind.BOOKING) is None
    assert provider.find_block(calendar, BLOCK_ID) == block_event


def test_deleting_a_block_removes_the_event_and_a_gone_one_is_fine(
    microsoft_fake, account, provider
):
    remote_id = provider.put_block(account.default_calendar, spec())

    provider.delete_event(account.default_calendar, remote_id)
    provider.delete_event(account.default_calendar, remote_id)

    assert microsoft_fake.graph.live_events(account.default_calendar) == []
    assert [r.status for r in microsoft_fake.graph.requests if r.method == "DELETE"] == [204, 404]


def test_writing_to_a_read_only_calendar_is_permanent(microsoft_fake, account, provider):
    shared = microsoft_fake.graph.add_calendar(account.user, "Shared by Grace", can_edit=False)

    with pytest.raises(ProviderError) as raised:
        provider.put_block(shared, spec())

    assert raised.value.permanent
    assert "read-only" in raised.value.message


def test_a_calendar_that_no_longer_exists_is_permanent(account, provider):
    with pytest.raises(ProviderError) as raised:
        provider.changes("AAMkAGI2-gone=", "", WINDOW)

    assert raised.value.permanent


# Recognising our events ---------------------------------------------------------------------


def test_a_block_is_ours_in_the_very_next_delta_read_of_its_calendar(
    microsoft_fake, account, provider
):
    calendar = account.default_calendar
    cursor = provider.changes(calendar, "", WINDOW).next_cursor

    remote_id = provider.put_block(calendar, spec())
    (incremental,) = provider.changes(calendar, cursor, WINDOW).events
    (full,) = provider.changes(calendar, "", WINDOW).events

    assert (incremental.id, incremental.block_id, incremental.ours) == (remote_id, BLOCK_ID, True)
    assert incremental.booking_id == ""
    assert (full.id, full.block_id, full.ours) == (remote_id, BLOCK_ID, True)


def test_a_booking_event_carries_its_booking_id_in_the_very_next_delta_read(
    microsoft_fake, account, provider
):
    calendar = account.default_calendar
    cursor = provider.changes(calendar, "", WINDOW).next_cursor

    remote_id = provider.put_block(calendar, booking())
    (event,) = provider.changes(calendar, cursor, WINDOW).events

    assert (event.id, event.booking_id) == (remote_id, BLOCK_ID)
    assert (event.block_id, event.ours) == ("", False)  # a real event: sync rules copy it


def test_each_create_carries_a_transaction_id_of_its_kind_its_id_and_a_fresh_nonce(
    microsoft_fake, account, provider
):
    graph, calendar = microsoft_fake.graph, account.default_calendar
    first = provider.put_block(calendar, spec())
    graph.delete_event(first)  # removed by hand: putting it back is a new create
    second = provider.put_block(calendar, spec(), first)
    booked = provider.put_block(calendar, booking())

    block_ids = [graph.event(first).transaction_id, graph.event(second).transaction_id]
    for transaction_id in block_ids:
        assert re.fullmatch(rf"multical-block\.{BLOCK_ID}\.[0-9a-f]{{8}}", transaction_id or "")
    assert block_ids[0] != block_ids[1]
    assert re.fullmatch(
        rf"multical-booking\.{BLOCK_ID}\.[0-9a-f]{{8}}", graph.event(booked).transaction_id or ""
    )
    # The extended property stays: filters find blocks by it.
    assert graph.event(second).properties == {mapping.BLOCK_PROPERTY_ID: BLOCK_ID}


def test_updating_a_block_sends_no_transaction_id_and_keeps_the_first(
    microsoft_fake, account, provider
):
    graph, calendar = microsoft_fake.graph, account.default_calendar
    remote_id = provider.put_block(calendar, spec())
    created_with = graph.event(remote_id).transaction_id

    provider.put_block(
        calendar, spec(start=utc(2026, 3, 10, 14), end=utc(2026, 3, 10, 15)), remote_id
    )

    event = graph.event(remote_id)
    assert event.start == utc(2026, 3, 10, 14)
    assert created_with is not None
    assert event.transaction_id == created_with
    # Graph refuses an update that carries one (the fake as well), so the update above had none.
    refused = provider._graph.request(
        "PATCH",
        f"/me/events/{quote(remote_id, safe='')}",
        json={"transactionId": created_with},
        accept=(400,),
    )
    assert (refused.status_code, graph_module.error_code(refused)) == (400, "ErrorInvalidRequest")


def test_a_create_refused_for_a_used_transaction_id_updates_the_block_already_there(
    microsoft_fake, account, provider
):
    graph, calendar = microsoft_fake.graph, account.default_calendar
    first = provider.put_block(calendar, spec())

    # The row never learnt the first id (a crash), and the block has moved since: the create is
    # sent again with the same transactionId, and refused as a different body.
    again = provider.put_block(calendar, spec(start=utc(2026, 3, 10, 14), end=utc(2026, 3, 10, 15)))

    assert again == first
    assert [event.id for event in graph.live_events(calendar)] == [first]
    assert graph.event(first).start == utc(2026, 3, 10, 14)
    assert [r.status for r in graph.requests if r.method in ("POST", "PATCH")] == [201, 400, 200]


def test_a_create_refused_for_a_used_transaction_id_with_no_block_left_is_sent_with_the_next_one(
    microsoft_fake, account, provider
):
    graph, calendar = microsoft_fake.graph, account.default_calendar
    first = provider.put_block(calendar, spec())
    graph.delete_event(first)  # removed by hand; its transactionId stays used

    again = provider.put_block(calendar, spec())

    assert [event.id for event in graph.live_events(calendar)] == [again]
    assert graph.event(first).transaction_id == mapping.transaction_id(spec())
    assert graph.event(again).transaction_id == mapping.transaction_id(spec(), attempt=1)
    assert [r.status for r in graph.requests if r.method == "POST"] == [201, 400, 201]


def test_a_block_written_again_in_place_of_its_deleted_event_gets_a_new_transaction_id(
    microsoft_fake, account, provider
):
    graph, calendar = microsoft_fake.graph, account.default_calendar
    first = provider.put_block(calendar, spec())
    graph.delete_event(first)

    again = provider.put_block(calendar, spec(), first)  # the update finds it gone

    assert [event.id for event in graph.live_events(calendar)] == [again]
    assert graph.event(again).transaction_id == mapping.transaction_id(spec(), replacing=first)
    assert [r.status for r in graph.requests if r.method in ("POST", "PATCH")] == [201, 404, 201]


def test_a_create_that_timed_out_and_lands_after_its_retry_makes_one_event(
    microsoft_fake, account, monkeypatch
):
    """The client gives up on a create that Graph still carries out later, after the retry has
    looked for the block, found nothing and created it: the late one must not make a second."""
    graph, calendar = microsoft_fake.graph, account.default_calendar
    monkeypatch.setattr(graph_module, "TIMEOUT", httpx.Timeout(0.5))
    retried, landed = threading.Event(), threading.Event()
    stalls = iter([True])

    def decide(method: str, path: str) -> Fault | None:
        if method != "POST" or not next(stalls, False):
            return None
        return Fault(before=lambda _port: retried.wait(10), after=lambda _port: landed.set())

    graph.faults.decide = decide
    first_try, retry = (MicrosoftProvider.from_secrets(account.secrets) for _ in range(2))
    try:
        with pytest.raises(ProviderError):
            first_try.put_block(calendar, spec())
        assert retry.find_block(calendar, BLOCK_ID) is None  # not landed yet
        created = retry.put_block(calendar, spec())
    finally:
        retried.set()
        first_try.close()
        retry.close()
    assert landed.wait(10)

    assert [event.id for event in graph.live_events(calendar)] == [created]


def test_an_identical_create_repeated_with_its_transaction_id_gets_the_first_event_back(
    microsoft_fake, account, provider
):
    path = f"/me/calendars/{quote(account.default_calendar, safe='')}/events"
    body = {**mapping.block_event(spec()), "transactionId": f"multical-block.{BLOCK_ID}.0000abcd"}

    first = provider._graph.json("POST", path, json=body)
    again = provider._graph.json("POST", path, json=body)

    assert again["id"] == first["id"]
    assert [event.id for event in microsoft_fake.graph.live_events(account.default_calendar)] == [
        first["id"]
    ]


def test_another_apps_transaction_id_does_not_make_an_event_ours(microsoft_fake, account, provider):
    graph, calendar = microsoft_fake.graph, account.default_calendar
    for transaction_id in (
        "{F433A331-8F92-4ABC-9D98-6ADF4F303795}",
        f"multical-blocks.{BLOCK_ID}.0000abcd",
        f"multical-block.{BLOCK_ID}",
    ):
        graph.add_event(
            calendar,
            "Theirs",
            utc(2026, 3, 2, 9),
            utc(2026, 3, 2, 10),
            transaction_id=transaction_id,
        )

    events = provider.changes(calendar, "", WINDOW).events

    assert len(events) == 3
    assert all((event.block_id, event.booking_id) == ("", "") for event in events)


def test_our_extended_property_wins_over_the_transaction_id():
    item = {
        "id": "e1",
        "start": {"dateTime": "2026-03-10T09:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-10T10:00:00.0000000", "timeZone": "UTC"},
        "transactionId": "multical-block.from-the-create.0000abcd",
        "singleValueExtendedProperties": [
            {"id": mapping.BLOCK_PROPERTY_ID.lower(), "value": "from-the-property"}
        ],
    }

    assert mapping.remote_event(item).block_id == "from-the-property"


# Tokens -------------------------------------------------------------------------------------


def test_an_expired_access_token_is_refreshed_silently_and_the_new_cache_is_exposed(
    microsoft_fake, account, provider
):
    assert not provider.secrets_changed
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=2)):
        provider.list_calendars()

    assert microsoft_fake.identity.grant_count("refresh_token") == 1
    assert provider.secrets_changed
    secrets = provider.current_secrets()
    assert secrets["token_cache"] != account.secrets["token_cache"]
    assert secrets["home_account_id"] == account.user.home_account_id
    # The sealed-again cache works on its own: no second refresh.
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=2)):
        MicrosoftProvider.from_secrets(secrets).list_calendars()
    assert microsoft_fake.identity.grant_count("refresh_token") == 1


def test_a_token_graph_turns_away_is_refreshed_once_and_the_request_retried(
    microsoft_fake, account, provider
):
    microsoft_fake.identity.expire_access_tokens(account.user)

    assert [c.name for c in provider.list_calendars()] == ["Calendar"]
    assert microsoft_fake.identity.grant_count("refresh_token") == 1
    assert [r.status for r in microsoft_fake.graph.requests] == [401, 200]
    assert provider.secrets_changed


def test_a_revoked_authorization_needs_a_reconnect(microsoft_fake, account, provider):
    microsoft_fake.identity.revoke(account.user)
    microsoft_fake.identity.expire_access_tokens(account.user)

    with pytest.raises(ProviderError) as raised:
        provider.list_calendars()

    assert raised.value.permanent
    assert raised.value.message == REFUSED


def test_an_outage_of_the_sign_in_service_is_transient(microsoft_fake, account, provider):
    microsoft_fake.identity.token_failure = (503, {"error": "temporarily_unavailable"})
    microsoft_fake.identity.expire_access_tokens(account.user)

    with pytest.raises(ProviderError) as raised:
        provider.list_calendars()

    assert not raised.value.permanent


# Pacing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
def test_throttling_is_transient_and_says_when_to_come_back(
    microsoft_fake, account, provider, status
):
    microsoft_fake.graph.throttle(status=status, retry_after=7, times=1)

    with pytest.raises(ProviderError) as raised:
        provider.changes(account.default_calendar, "", WINDOW)

    assert not raised.value.permanent
    assert raised.value.retry_after == 7
    assert provider.changes(account.default_calendar, "", WINDOW).full_resync


def test_a_server_error_is_transient(microsoft_fake, account, provider):
    microsoft_fake.graph.throttle(status=500, retry_after=None, times=1)

    with pytest.raises(ProviderError) as raised:
        provider.list_calendars()

    assert not raised.value.permanent and raised.value.retry_after is None


def test_a_graph_that_does_not_answer_in_time_is_transient(microsoft_fake, account, monkeypatch):
    monkeypatch.setattr(graph_module, "TIMEOUT", httpx.Timeout(0.2))
    provider = MicrosoftProvider.from_secrets(account.secrets)
    microsoft_fake.graph.latency = 1.0

    with pytest.raises(ProviderError) as raised:
        provider.list_calendars()

    assert not raised.value.permanent


def test_tokens_turned_away_at_once_are_refreshed_once(microsoft_fake, account, provider):
    graph = microsoft_fake.graph
    provider.list_calendars()  # holds an access token now
    microsoft_fake.identity.expire_access_tokens(account.user)
    graph.latency = 0.1

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: provider.find_block(account.default_calendar, BLOCK_ID), range(4)))

    assert microsoft_fake.identity.grant_count("refresh_token") == 1
    assert [r.status for r in graph.requests].count(200) == 5


def test_never_more_than_four_requests_are_in_flight_for_one_mailbox(
    microsoft_fake, account, provider
):
    graph = microsoft_fake.graph
    graph.latency = 0.15
    second = MicrosoftProvider.from_secrets(
        account.secrets
    )  # e.g. another sync of the same account
    providers = [provider, second] * 6

    with ThreadPoolExecutor(max_workers=len(providers)) as pool:
        found = list(
            pool.map(lambda p: p.find_block(account.default_calendar, BLOCK_ID), providers)
        )

    assert found == [None] * 12
    assert graph.count() == 12
    assert graph.max_in_flight[account.user.oid] == 4


def test_another_mailbox_has_its_own_four_slots(microsoft_fake, account, provider):
    graph = microsoft_fake.graph
    grace = microsoft_fake.connect("grace@contoso.example", "Grace Hopper")
    other = MicrosoftProvider.from_secrets(grace.secrets)
    # Tokens fetched first, so the eight requests start together; each then lasts long enough
    # that all eight overlap even on a loaded machine.
    provider.find_block(account.default_calendar, BLOCK_ID)
    other.find_block(grace.default_calendar, BLOCK_ID)
    graph.max_in_flight.clear()
    graph.latency = 1.5
    calls = [(provider, account.default_calendar)] * 4 + [(other, grace.default_calendar)] * 4

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        list(pool.map(lambda call: call[0].find_block(call[1], BLOCK_ID), calls))

    assert graph.max_in_flight == {account.user.oid: 4, grace.user.oid: 4}


# Subscriptions ------------------------------------------------------------------------------


@pytest.fixture
def subscribed_calendar(microsoft_fake, account, live_server, settings, transactional_db):
    """A calendar of a Microsoft connection, with the receivers served by a live server."""
    settings.SITE_URL = live_server.url
    connection = ConnectionFactory(
        kind="microsoft", label=account.user.email, secrets=account.secrets
    )
    return CalendarFactory(
        connection=connection, remote_id=account.default_calendar, name="Calendar"
    )


@pytest.mark.urls(__name__)
def test_subscribing_passes_graphs_validation_handshake_and_keeps_the_granted_expiry(
    microsoft_fake, subscribed_calendar, live_server
):
    graph = microsoft_fake.graph
    graph.subscription_max_minutes = 90  # less than we ask for: we keep what Graph grants

    push.calendar_watch(subscribed_calendar)

    calendar = subscribed_calendar
    calendar.refresh_from_db()
    subscription = graph.subscriptions[calendar.push_resource_id]
    assert subscription["clientState"] == channel_secret(calendar.push_channel_id)
    assert subscription["resource"] == f"/me/calendars/{calendar.remote_id}/events"
    assert subscription["changeType"] == "created,updated,deleted"
    assert subscription["notificationUrl"] == f"{live_server.url}/microsoft/notifications/"
    assert subscription["lifecycleNotificationUrl"] == f"{live_server.url}/microsoft/lifecycle/"
    expected = datetime.now(UTC) + timedelta(minutes=90)
    assert abs(calendar.push_expires_at - expected) < timedelta(minutes=1)
    assert [(d.status, d.content_type.split(";")[0]) for d in graph.deliveries] == [
        (200, "text/plain")
    ] * 2


@pytest.mark.urls(__name__)
def test_an_address_that_fails_the_handshake_gets_no_subscription(
    microsoft_fake, subscribed_calendar, account, live_server
):
    provider = MicrosoftProvider.from_secrets(account.secrets)

    with pytest.raises(ProviderError) as raised:
        provider.watch(
            account.default_calendar,
            channel_id="channel-1",
            address=f"{live_server.url}/not-our-receiver/",
            lifecycle_address=f"{live_server.url}/microsoft/lifecycle/",
        )

    assert not raised.value.permanent
    assert "could not confirm our notification address" in raised.value.message
    assert microsoft_fake.graph.subscriptions == {}


@pytest.mark.urls(__name__)
def test_renewing_extends_the_subscription_and_a_forgotten_one_is_created_again(
    microsoft_fake, subscribed_calendar
):
    graph, calendar = microsoft_fake.graph, subscribed_calendar
    graph.subscription_max_minutes = 60
    push.calendar_watch(calendar)
    first_id, first_expiry = calendar.push_resource_id, calendar.push_expires_at

    graph.subscription_max_minutes = 4230
    push.calendar_watch(calendar)
    calendar.refresh_from_db()
    assert calendar.push_resource_id == first_id
    assert calendar.push_expires_at > first_expiry + timedelta(days=2)
    assert graph.count("PATCH", f"/subscriptions/{first_id}") == 1

    del graph.subscriptions[first_id]  # expired or dropped at Microsoft
    push.calendar_watch(calendar)
    calendar.refresh_from_db()
    assert calendar.push_resource_id != first_id
    assert list(graph.subscriptions) == [calendar.push_resource_id]


@pytest.mark.urls(__name__)
def test_unsubscribing_deletes_the_subscription_and_a_gone_one_is_fine(
    microsoft_fake, subscribed_calendar
):
    calendar = subscribed_calendar
    push.calendar_watch(calendar)
    subscription_id = calendar.push_resource_id

    push.calendar_unwatch(calendar)
    MicrosoftProvider.from_secrets(microsoft_secrets(calendar)).unwatch("", subscription_id)

    calendar.refresh_from_db()
    assert microsoft_fake.graph.subscriptions == {}
    assert (calendar.push_channel_id, calendar.push_resource_id, calendar.push_expires_at) == (
        "",
        "",
        None,
    )
    assert [r.status for r in microsoft_fake.graph.requests if r.method == "DELETE"] == [204, 404]


@pytest.mark.urls(__name__)
def test_a_refreshed_token_cache_is_sealed_again(microsoft_fake, account, subscribed_calendar):
    calendar = subscribed_calendar
    microsoft_fake.identity.expire_access_tokens()

    push.calendar_watch(calendar)

    calendar.connection.refresh_from_db()
    sealed = microsoft_secrets(calendar)
    assert microsoft_fake.identity.grant_count("refresh_token") == 1
    assert sealed["token_cache"] != account.secrets["token_cache"]
    microsoft_fake.graph.reset_counts()
    # The sealed cache holds the new access token: Graph takes it without another refresh.
    MicrosoftProvider.from_secrets(sealed).list_calendars()
    assert [r.status for r in microsoft_fake.graph.requests] == [200]
    assert microsoft_fake.identity.grant_count("refresh_token") == 1


def microsoft_secrets(calendar) -> dict[str, str]:
    from calendars.selectors import connection_secrets

    return connection_secrets(calendar.connection)


# Subscription lifetimes: never beyond Graph's documented maximum -------------------------------


@pytest.mark.urls(__name__)
def test_a_subscription_is_never_asked_for_beyond_graphs_documented_maximum(
    microsoft_fake, subscribed_calendar, settings
):
    settings.MICROSOFT_SUBSCRIPTION_MINUTES = 10080  # Graph refuses anything past 4230
    calendar = subscribed_calendar

    push.calendar_watch(calendar)
    calendar.push_expires_at = datetime.now(UTC) + timedelta(hours=2)
    calendar.save(update_fields=["push_expires_at"])
    push.calendar_watch(calendar)

    calendar.refresh_from_db()
    assert calendar.push_resource_id in microsoft_fake.graph.subscriptions
    (renewal,) = [r for r in microsoft_fake.graph.requests if r.method == "PATCH"]
    assert renewal.status == 200
    latest = datetime.now(UTC) + timedelta(minutes=4230)
    assert datetime.now(UTC) + timedelta(days=2) < calendar.push_expires_at <= latest


@pytest.mark.urls(__name__)
def test_a_subscription_graph_refuses_is_reported_in_graphs_words(
    microsoft_fake, subscribed_calendar, account, live_server
):
    microsoft_fake.graph.subscription_limit_minutes = 60  # shorter than we ask for
    provider = MicrosoftProvider.from_secrets(account.secrets)

    with pytest.raises(ProviderError) as raised:
        provider.watch(
            account.default_calendar,
            channel_id="channel-1",
            address=f"{live_server.url}/microsoft/notifications/",
            lifecycle_address=f"{live_server.url}/microsoft/lifecycle/",
        )

    assert raised.value.message == (
        "Microsoft refused the subscription: "
        "Subscription expiration can only be 60 minutes in the future."
    )
    assert not raised.value.permanent
    assert microsoft_fake.graph.subscriptions == {}
