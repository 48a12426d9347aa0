"""The Google provider against the local fake of Calendar v3, through the real client library."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
import time_machine
from django.core.cache import cache

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
from integrations.google.client import REVOKED
from integrations.google.mapping import block_event_id
from integrations.google.provider import GoogleProvider
from integrations.push import channel_secret
from tests.integrations.spans import each_names_its_event, times_of

if TYPE_CHECKING:
    from tests.fakes.google import GoogleFake

# The fake's fixture; imported by pytest itself, so its asserts are rewritten.

CALENDAR = "owner@example.com"
WINDOW = Window(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 3, 1, tzinfo=UTC))
BLOCK_ID = "0b1c6a52-5f7e-4c36-9a57-1f8a3f1d2e4b"


def at(day: int, hour: int, month: int = 1) -> datetime:
    return datetime(2030, month, day, hour, tzinfo=UTC)


def block(*, title: str = "Busy", hour: int = 9, **changes) -> BlockSpec:
    values = {
        "block_id": BLOCK_ID,
        "start": at(10, hour),
        "end": at(10, hour + 1),
        "all_day": False,
        "title": title,
    }
    return BlockSpec(**{**values, **changes})


@pytest.fixture
def fake(google_fake: GoogleFake) -> GoogleFake:
    google_fake.add_calendar(CALENDAR, "Work", time_zone="Europe/Berlin")
    return google_fake


@pytest.fixture
def provider(fake: GoogleFake) -> GoogleProvider:
    return GoogleProvider.from_secrets(fake.grant())


def full_read(provider: GoogleProvider):
    return provider.changes(CALENDAR, "", WINDOW)


def list_requests(fake: GoogleFake) -> list:
    return [r for r in fake.requests if r.method == "GET" and r.path.endswith("/events")]


# Calendars ------------------------------------------------------------------------------------


def test_calendars_are_listed_across_pages_with_their_name_colour_zone_and_access(fake, provider):
    fake.page_size = 2
    fake.add_calendar("team@group.calendar.google.com", "Team", access_role="writer")
    fake.add_calendar("holidays@group.v.calendar.google.com", "Holidays", access_role="reader")
    fake.add_calendar("busy@example.com", "Colleague", access_role="freeBusyReader")
    fake.add_calendar("side@example.com", "Side", summary_override="My side job", color="#AB12CD")

    calendars = {c.remote_id: c for c in provider.list_calendars()}

    assert len(calendars) == 5
    assert fake.request_count == 3
    assert calendars[CALENDAR].name == "Work"
    assert calendars[CALENDAR].time_zone == "Europe/Berlin"
    assert calendars["side@example.com"].name == "My side job"
    assert calendars["side@example.com"].color == "#ab12cd"
    assert not calendars[CALENDAR].read_only
    assert not calendars["team@group.calendar.google.com"].read_only
    assert calendars["holidays@group.v.calendar.google.com"].read_only
    assert calendars["busy@example.com"].read_only


# Reading changes ------------------------------------------------------------------------------


def test_a_first_read_pages_through_the_window_with_recurring_events_as_instances(fake, provider):
    fake.page_size = 2
    series = fake.add_event(
        CALENDAR, "Standup", at(7, 8), at(7, 9), recurrence=["RRULE:FREQ=WEEKLY;COUNT=4"]
    )
    single = fake.add_event(CALENDAR, "Dentist", at(9, 14), at(9, 15))
    fake.add_event(CALENDAR, "Next year", at(1, 9, month=6), at(1, 10, month=6))

    changes = full_read(provider)

    assert changes.full_resync
    assert {e.id for e in changes.events} == {
        single,
        *(fake.instance_id(series, at(7 + 7 * k, 8)) for k in range(4)),
    }
    standups = sorted((e for e in changes.events if e.series_id == series), key=lambda e: e.start)
    assert [e.start for e in standups] == [at(7 + 7 * k, 8) for k in range(4)]
    assert standups[0].id == f"{series}_20300107T080000Z"
    requests = list_requests(fake)
    assert len(requests) == 3  # five instances, two a page
    assert requests[0].query["timeMin"] == ["2030-01-01T00:00:00+00:00"]
    assert requests[0].query["timeMax"] == ["2030-03-01T00:00:00+00:00"]
    assert all(r.query["singleEvents"] == ["true"] for r in requests)
    assert all(r.query["showDeleted"] == ["true"] for r in requests)
    assert all(r.query["maxResults"] == ["2500"] for r in requests)
    assert json.loads(changes.next_cursor).keys() == {"sync_token"}


def test_event_fields_are_read_into_remote_events(fake, provider):
    fake.add_event(
        CALENDAR,
        "Review",
        datetime(2030, 1, 14, 10, tzinfo=UTC) + timedelta(hours=0),
        datetime(2030, 1, 14, 11, tzinfo=UTC),
        event_id="meeting1",
        description="Agenda",
        location="Room 4",
        status="tentative",
        transparency="transparent",
        hangoutLink="https://meet.google.com/abc-defg-hij",
        attendees=[
            {"email": "boss@example.com", "responseStatus": "accepted", "organizer": True},
            {"email": "owner@example.com", "self": True, "responseStatus": "declined"},
        ],
    )
    fake.add_event(
        CALENDAR,
        "Offsite",
        date(2030, 1, 20),
        date(2030, 1, 22),
        event_id="offsite1",
        conferenceData={
            "entryPoints": [
                {"entryPointType": "phone", "uri": "tel:+1-555-0100"},
                {"entryPointType": "video", "uri": "https://example.zoom.us/j/123"},
            ]
        },
    )
    berlin = datetime.fromisoformat("2030-07-01T09:00:00+02:00")
    fake.add_event(
        CALENDAR,
        "Summer",
        berlin,
        berlin + timedelta(hours=1),
        event_id="summer1",
        time_zone="Europe/Berlin",
        description="Join at https://teams.microsoft.com/l/meetup-join/xyz",
    )
    fake.add_event(CALENDAR, "Home", at(15, 0), at(15, 23), eventType="workingLocation")
    fake.add_event(
        CALENDAR, "Ada's birthday", date(2030, 1, 16), date(2030, 1, 17), eventType="birthday"
    )

    events = {
        e.id: e
        for e in provider.changes(CALENDAR, "", Window(WINDOW.start, at(1, 0, month=8))).events
    }

    assert events.keys() == {"meeting1", "offsite1", "summer1"}
    review = events["meeting1"]
    assert (review.title, review.description, review.location) == ("Review", "Agenda", "Room 4")
    assert review.status == EventStatus.TENTATIVE
    assert review.transparency == Transparency.FREE
    assert review.response == Response.DECLINED
    assert review.video_link == "https://meet.google.com/abc-defg-hij"
    assert review.ical_uid == "meeting1@google.com"
    assert not review.ours
    offsite = events["offsite1"]
    assert offsite.all_day
    assert (offsite.start, offsite.end) == (at(20, 0), at(22, 0))
    assert offsite.video_link == "https://example.zoom.us/j/123"
    assert offsite.response == Response.NONE
    summer = events["summer1"]
    assert summer.start == datetime(2030, 7, 1, 7, tzinfo=UTC)
    assert summer.start.tzinfo == UTC
    assert summer.video_link == "https://teams.microsoft.com/l/meetup-join/xyz"


def test_an_incremental_read_returns_what_another_client_changed(fake, provider):
    series = fake.add_event(
        CALENDAR, "Standup", at(7, 8), at(7, 9), recurrence=["RRULE:FREQ=DAILY;COUNT=5"]
    )
    edited = fake.add_event(CALENDAR, "Lunch", at(9, 12), at(9, 13))
    deleted = fake.add_event(CALENDAR, "Call", at(9, 15), at(9, 16))
    quiet = fake.add_event(CALENDAR, "Untouched", at(9, 17), at(9, 18))
    cursor = full_read(provider).next_cursor

    added = fake.add_event(CALENDAR, "New", at(12, 9), at(12, 10))
    fake.edit_event(CALENDAR, edited, summary="Long lunch", end=at(9, 14))
    moved, cancelled = fake.instance_id(series, at(8, 8)), fake.instance_id(series, at(9, 8))
    fake.move_instance(CALENDAR, moved, at(8, 11), at(8, 12))
    fake.cancel_instance(CALENDAR, cancelled)
    fake.delete_event(CALENDAR, deleted)
    fake.requests.clear()

    changes = provider.changes(CALENDAR, cursor, WINDOW)

    assert not changes.full_resync
    by_id = {e.id: e for e in changes.events}
    assert by_id.keys() == {added, edited, moved}
    assert quiet not in by_id
    assert (by_id[edited].title, by_id[edited].end) == ("Long lunch", at(9, 14))
    assert (by_id[moved].start, by_id[moved].series_id) == (at(8, 11), series)
    assert set(changes.removed_ids) == {cancelled, deleted}
    (request,) = fake.requests
    assert "syncToken" in request.query
    assert not {"timeMin", "timeMax", "q", "orderBy", "updatedMin"} & request.query.keys()
    assert changes.next_cursor != cursor


def test_a_cancelled_instance_arrives_without_content_or_marker_and_is_removed(fake, provider):
    series = fake.add_event(
        CALENDAR,
        "Our block series",
        at(7, 8),
        at(7, 9),
        recurrence=["RRULE:FREQ=DAILY;COUNT=3"],
        extendedProperties={"private": {"multical_block": "some-block"}},
    )
    cursor = full_read(provider).next_cursor
    cancelled = fake.instance_id(series, at(8, 8))
    fake.cancel_instance(CALENDAR, cancelled)

    changes = provider.changes(CALENDAR, cursor, WINDOW)

    seen = fake.calendars[CALENDAR].view[cancelled].resource
    assert seen.keys() == {
        "kind",
        "etag",
        "id",
        "status",
        "recurringEventId",
        "originalStartTime",
    }
    assert changes.removed_ids == [cancelled]
    assert changes.events == []


def test_a_deleted_series_removes_every_instance(fake, provider):
    series = fake.add_event(
        CALENDAR, "Standup", at(7, 8), at(7, 9), recurrence=["RRULE:FREQ=DAILY;COUNT=3"]
    )
    cursor = full_read(provider).next_cursor
    fake.delete_event(CALENDAR, series)

    changes = provider.changes(CALENDAR, cursor, WINDOW)

    assert set(changes.removed_ids) == {fake.instance_id(series, at(d, 8)) for d in (7, 8, 9)}
    assert changes.events == []


def test_moving_a_whole_series_replaces_its_instances(fake, provider):
    series = fake.add_event(
        CALENDAR, "Standup", at(7, 8), at(7, 9), recurrence=["RRULE:FREQ=DAILY;COUNT=3"]
    )
    cursor = full_read(provider).next_cursor
    fake.edit_event(CALENDAR, series, start=at(7, 10), end=at(7, 11))

    changes = provider.changes(CALENDAR, cursor, WINDOW)

    assert set(changes.removed_ids) == {fake.instance_id(series, at(d, 8)) for d in (7, 8, 9)}
    assert {e.id for e in changes.events} == {
        fake.instance_id(series, at(d, 10)) for d in (7, 8, 9)
    }
    assert {e.series_id for e in changes.events} == {series}


def test_changes_outside_the_window_still_arrive_on_an_incremental_read(fake, provider):
    cursor = full_read(provider).next_cursor
    far = fake.add_event(CALENDAR, "Far away", at(1, 9, month=9), at(1, 10, month=9))

    changes = provider.changes(CALENDAR, cursor, WINDOW)

    assert [e.id for e in changes.events] == [far]


def test_an_incremental_read_pages_and_takes_the_sync_token_from_the_last_page(fake, provider):
    fake.page_size = 2
    cursor = full_read(provider).next_cursor
    added = [
        fake.add_event(CALENDAR, f"Event {n}", at(10 + n, 9), at(10 + n, 10)) for n in range(5)
    ]
    fake.requests.clear()

    changes = provider.changes(CALENDAR, cursor, WINDOW)
    fake.requests.clear()
    again = provider.changes(CALENDAR, changes.next_cursor, WINDOW)

    assert [e.id for e in changes.events] == added
    assert again.is_empty
    assert fake.request_count == 1


def test_an_idle_incremental_poll_costs_one_request(fake, provider):
    fake.add_event(CALENDAR, "Lunch", at(9, 12), at(9, 13))
    cursor = full_read(provider).next_cursor
    before = fake.request_count

    changes = provider.changes(CALENDAR, cursor, WINDOW)

    assert changes.is_empty
    assert fake.request_count - before == 1
    assert fake.token_requests == 0
    assert not provider.secrets_changed


def test_a_forgotten_sync_token_leads_to_a_full_read(fake, provider):
    lunch = fake.add_event(CALENDAR, "Lunch", at(9, 12), at(9, 13))
    cursor = full_read(provider).next_cursor
    fake.invalidate_sync_tokens()
    fake.requests.clear()

    changes = provider.changes(CALENDAR, cursor, WINDOW)

    assert changes.full_resync
    assert [e.id for e in changes.events] == [lunch]
    assert changes.removed_ids == []
    assert [("syncToken" in r.query, "timeMin" in r.query) for r in fake.requests] == [
        (True, False),
        (False, True),
    ]
    assert provider.changes(CALENDAR, changes.next_cursor, WINDOW).is_empty


def test_a_full_read_leaves_cancelled_instances_out(fake, provider):
    series = fake.add_event(
        CALENDAR, "Standup", at(7, 8), at(7, 9), recurrence=["RRULE:FREQ=DAILY;COUNT=3"]
    )
    fake.cancel_instance(CALENDAR, fake.instance_id(series, at(8, 8)))
    fake.delete_event(CALENDAR, fake.add_event(CALENDAR, "Gone", at(9, 12), at(9, 13)))

    changes = full_read(provider)

    assert {e.id for e in changes.events} == {
        fake.instance_id(series, at(7, 8)),
        fake.instance_id(series, at(9, 8)),
    }
    assert changes.removed_ids == []


def test_a_malformed_event_is_skipped_and_counted(fake, provider):
    fake.add_event(CALENDAR, "Fine", at(9, 12), at(9, 13))
    fake.add_event(CALENDAR, "Broken", at(9, 14), at(9, 15), event_id="broken1")
    fake.calendars[CALENDAR].view["broken1"].resource["start"] = {"dateTime": "not a time"}

    changes = full_read(provider)

    assert [e.title for e in changes.events] == ["Fine"]
    assert changes.skipped == 1


def test_the_cursor_holds_a_position_and_no_event_content(fake, provider):
    fake.add_event(CALENDAR, "Secret merger talks", at(9, 12), at(9, 13), location="Board room")

    cursor = full_read(provider).next_cursor

    assert "merger" not in cursor and "Board" not in cursor
    assert list(json.loads(cursor)) == ["sync_token"]


# Writing blocks -------------------------------------------------------------------------------


def test_a_block_is_inserted_private_without_attendees_or_reminders_and_with_our_marker(
    fake, provider
):
    remote_id = provider.put_block(CALENDAR, block(title="Busy (Acme)"))

    stored = fake.event(CALENDAR, remote_id)
    assert remote_id == block_event_id(BLOCK_ID)
    assert set(remote_id) <= set("abcdefghijklmnopqrstuv0123456789")
    assert stored["summary"] == "Busy (Acme)"
    assert stored["visibility"] == "private"
    assert stored["transparency"] == "opaque"
    assert stored["reminders"] == {"useDefault": False}
    assert "attendees" not in stored
    assert stored["extendedProperties"] == {"private": {"multical_block": BLOCK_ID}}
    assert stored["start"] == {"dateTime": "2030-01-10T09:00:00+00:00", "timeZone": "UTC"}
    (read,) = full_read(provider).events
    assert read.ours and read.block_id == BLOCK_ID and read.id == remote_id


def test_a_free_block_is_transparent_and_an_all_day_block_is_written_with_dates(fake, provider):
    remote_id = provider.put_block(
        CALENDAR,
        block(transparency=Transparency.FREE, all_day=True, start=at(10, 0), end=at(12, 0)),
    )

    stored = fake.event(CALENDAR, remote_id)
    assert stored["transparency"] == "transparent"
    assert (stored["start"], stored["end"]) == ({"date": "2030-01-10"}, {"date": "2030-01-12"})
    (read,) = full_read(provider).events
    assert read.all_day and (read.start, read.end) == (at(10, 0), at(12, 0))


def test_a_retried_insert_with_the_same_block_id_does_not_duplicate(fake, provider):
    first = provider.put_block(CALENDAR, block(title="Busy"))

    second = provider.put_block(CALENDAR, block(title="Busy (renamed)"))

    assert first == second
    (only,) = fake.live_events(CALENDAR)
    assert only["summary"] == "Busy (renamed)"


def test_a_block_deleted_in_google_is_put_back_under_its_own_id(fake, provider):
    remote_id = provider.put_block(CALENDAR, block())
    fake.delete_event(CALENDAR, remote_id)

    again = provider.put_block(CALENDAR, block())

    assert again == remote_id
    (only,) = fake.live_events(CALENDAR)
    assert only["id"] == remote_id and only["status"] == "confirmed"


def test_a_block_is_updated_in_place(fake, provider):
    remote_id = provider.put_block(CALENDAR, block(title="Busy", hour=9))

    updated = provider.put_block(CALENDAR, block(title="Busy", hour=14), remote_id=remote_id)

    assert updated == remote_id
    (only,) = fake.live_events(CALENDAR)
    assert only["start"]["dateTime"] == "2030-01-10T14:00:00+00:00"
    assert only["extendedProperties"]["private"]["multical_block"] == BLOCK_ID


def test_updating_a_block_that_is_gone_for_good_creates_it_again(fake, provider):
    remote_id = provider.put_block(CALENDAR, block(), remote_id="vanished0123")

    assert remote_id == block_event_id(BLOCK_ID)
    assert [e["id"] for e in fake.live_events(CALENDAR)] == [remote_id]


def test_find_block_finds_a_block_by_its_own_id_or_by_its_marker(fake, provider):
    remote_id = provider.put_block(CALENDAR, block())
    other = "5d7c1e3a-0000-4000-8000-000000000001"
    elsewhere = fake.add_event(
        CALENDAR,
        "Busy",
        at(11, 9),
        at(11, 10),
        extendedProperties={"private": {"multical_block": other}},
    )

    assert provider.find_block(CALENDAR, BLOCK_ID) == remote_id
    assert provider.find_block(CALENDAR, other) == elsewhere
    assert provider.find_block(CALENDAR, "5d7c1e3a-0000-4000-8000-00000000ffff") is None
    fake.delete_event(CALENDAR, remote_id)
    assert provider.find_block(CALENDAR, BLOCK_ID) is None


def booking(**changes) -> BlockSpec:
    values = {
        "block_id": BLOCK_ID,
        "start": at(10, 9),
        "end": at(10, 10),
        "all_day": False,
        "title": "Intro call with Ana Lima",
        "description": "Booked through Multical.\nAnswers: budget; timeline",
        "location": "https://example.zoom.us/j/123",
        "kind": MarkerKind.BOOKING,
    }
    return BlockSpec(**{**values, **changes})


def test_a_booking_event_carries_the_booking_marker_and_reads_back_as_a_real_event(fake, provider):
    remote_id = provider.put_block(CALENDAR, booking())

    stored = fake.event(CALENDAR, remote_id)
    assert remote_id == block_event_id(BLOCK_ID, MarkerKind.BOOKING)
    assert stored["extendedProperties"] == {"private": {"multical_booking": BLOCK_ID}}
    (read,) = full_read(provider).events
    assert (read.id, read.booking_id, read.block_id, read.ours) == (remote_id, BLOCK_ID, "", False)
    assert (read.title, read.description, read.location) == (
        "Intro call with Ana Lima",
        "Booked through Multical.\nAnswers: budget; timeline",
        "https://example.zoom.us/j/123",
    )


def test_a_booking_event_is_updated_in_place_and_a_retried_insert_does_not_duplicate_it(
    fake, provider
):
    first = provider.put_block(CALENDAR, booking())
    again = provider.put_block(CALENDAR, booking(title="Retried"))

    moved = provider.put_block(CALENDAR, booking(start=at(11, 9), end=at(11, 10)), first)

    assert first == again == moved
    (only,) = fake.live_events(CALENDAR)
    assert only["start"]["dateTime"] == "2030-01-11T09:00:00+00:00"
    assert only["extendedProperties"] == {"private": {"multical_booking": BLOCK_ID}}


def test_a_block_and_a_booking_with_the_same_id_are_two_events_found_apart(fake, provider):
    block_event = provider.put_block(CALENDAR, block())
    booking_event = provider.put_block(CALENDAR, booking())

    assert block_event != booking_event
    assert len(fake.live_events(CALENDAR)) == 2
    assert provider.find_block(CALENDAR, BLOCK_ID) == block_event
    assert provider.find_block(CALENDAR, BLOCK_ID, kind=MarkerKind.BOOKING) == booking_event
    provider.delete_event(CALENDAR, booking_event)
    assert provider.find_block(CALENDAR, BLOCK_ID, kind=MarkerKind.BOOKING) is None
    assert provider.find_block(CALENDAR, BLOCK_ID) == block_event
    read = {e.id: e for e in full_read(provider).events}
    assert read[block_event].ours and not read[block_event].booking_id


def test_a_booking_event_under_another_id_is_found_by_its_marker_and_never_as_a_block(
    fake, provider
):
    elsewhere = fake.add_event(
        CALENDAR,
        "Intro call",
        at(11, 9),
        at(11, 10),
        extendedProperties={"private": {"multical_booking": BLOCK_ID}},
    )

    assert provider.find_block(CALENDAR, BLOCK_ID, kind=MarkerKind.BOOKING) == elsewhere
    assert provider.find_block(CALENDAR, BLOCK_ID) is None


def test_deleting_a_block_twice_or_an_unknown_event_is_not_an_error(fake, provider):
    remote_id = provider.put_block(CALENDAR, block())

    provider.delete_event(CALENDAR, remote_id)
    provider.delete_event(CALENDAR, remote_id)  # 410: deleted already
    provider.delete_event(CALENDAR, "nevercreated0")  # 404

    assert fake.live_events(CALENDAR) == []
    assert [r.method for r in fake.requests].count("DELETE") == 3


def test_writing_to_a_read_only_calendar_is_a_permanent_error(fake, provider):
    fake.add_calendar("holidays@example.com", "Holidays", access_role="reader")

    with pytest.raises(ProviderError) as caught:
        provider.put_block("holidays@example.com", block())

    assert caught.value.permanent
    assert "read-only" in caught.value.message


def test_a_calendar_that_no_longer_exists_is_a_permanent_error_that_does_not_name_it(
    fake, provider
):
    with pytest.raises(ProviderError) as caught:
        provider.changes("gone@example.com", "", WINDOW)

    assert caught.value.permanent
    assert "gone@example.com" not in caught.value.message


# Credentials ----------------------------------------------------------------------------------


def test_a_rejected_access_token_is_refreshed_and_the_new_secrets_are_offered(fake):
    secrets = fake.grant()
    provider = GoogleProvider.from_secrets(secrets)
    fake.expire_access_tokens()

    provider.list_calendars()

    assert fake.token_requests == 1
    assert provider.secrets_changed
    current = provider.current_secrets()
    assert current["access_token"] != secrets["access_token"]
    assert current["access_token"] in fake.access_tokens
    assert current["refresh_token"] == secrets["refresh_token"]
    assert current["email"] == fake.email
    assert datetime.fromisoformat(current["expires_at"]) > datetime.now(UTC) + timedelta(minutes=50)
    assert [r.path.endswith("calendarList") for r in fake.requests] == [True, True]


def test_an_expired_access_token_is_refreshed_before_the_request(fake):
    provider = GoogleProvider.from_secrets(fake.grant(expired=True))

    provider.list_calendars()

    assert fake.token_requests == 1
    assert fake.request_count == 1  # no request was spent on a 401
    assert provider.secrets_changed


def test_stored_secrets_without_an_expiry_or_access_token_still_work(fake):
    secrets = {**fake.grant(), "expires_at": "", "access_token": ""}

    GoogleProvider.from_secrets(secrets).list_calendars()

    assert fake.token_requests == 1


def test_a_revoked_authorization_is_a_permanent_error_asking_to_reconnect(fake):
    secrets = fake.grant()
    fake.revoke(secrets["refresh_token"])
    provider = GoogleProvider.from_secrets(secrets)

    with pytest.raises(ProviderError) as caught:
        provider.changes(CALENDAR, "", WINDOW)

    assert caught.value.permanent
    assert caught.value.message == REVOKED
    assert secrets["refresh_token"] not in caught.value.message
    assert not provider.secrets_changed


# Limits and failures --------------------------------------------------------------------------


def test_a_403_rate_limit_is_transient(fake, provider):
    fake.fail_next(1, status=403)

    with pytest.raises(ProviderError) as caught:
        provider.list_calendars()

    assert not caught.value.permanent
    assert provider.list_calendars()  # the next try goes through


def test_a_429_is_transient_and_carries_retry_after(fake, provider):
    fake.fail_next(1, status=429, retry_after=7)

    with pytest.raises(ProviderError) as caught:
        provider.changes(CALENDAR, "", WINDOW)

    assert not caught.value.permanent
    assert caught.value.retry_after == 7


def test_a_server_error_is_transient(fake, provider):
    fake.fail_next(1, status=503)

    with pytest.raises(ProviderError) as caught:
        provider.put_block(CALENDAR, block())

    assert not caught.value.permanent


def test_an_unreachable_google_is_transient(fake, settings):
    provider = GoogleProvider.from_secrets(fake.grant())
    settings.GOOGLE_API_ENDPOINT = "http://127.0.0.1:9/calendar/v3/"

    with pytest.raises(ProviderError) as caught:
        provider.list_calendars()

    assert not caught.value.permanent


def test_requests_are_paced_under_the_per_user_limit(fake, settings):
    settings.GOOGLE_REQUESTS_PER_MINUTE = 3
    moment = datetime(2030, 1, 1, 12, 0, 15, tzinfo=UTC)
    with time_machine.travel(moment, tick=False):
        provider = GoogleProvider.from_secrets({**fake.grant(), "email": "paced@example.com"})
        other_account = GoogleProvider.from_secrets({**fake.grant(), "email": "other@example.com"})
        try:
            for _ in range(3):
                provider.list_calendars()
            with pytest.raises(ProviderError) as caught:
                provider.list_calendars()
            other_account.list_calendars()  # the limit is per account
        finally:
            minute = int(moment.timestamp() // 60)
            cache.delete_many(
                [f"google:pace:{p._client._pace_key}:{minute}" for p in (provider, other_account)]
            )

    assert not caught.value.permanent
    assert caught.value.retry_after == 45
    assert fake.request_count == 4


# Busy times -----------------------------------------------------------------------------------


def test_busy_time_is_one_span_per_event_clipped_to_the_window_and_not_merged(fake, provider):
    fake.add_calendar("side@example.com", "Side")
    fake.add_event(CALENDAR, "Started before", at(8, 22), at(9, 10))
    fake.add_event(CALENDAR, "Meeting", at(9, 9), at(9, 11))
    fake.add_event("side@example.com", "Overlap", at(9, 10), at(9, 12))
    fake.add_event("side@example.com", "Same time", at(9, 10), at(9, 12))
    fake.add_event(CALENDAR, "Runs past", at(10, 22), at(11, 2))
    fake.add_event(CALENDAR, "After", at(11, 9), at(11, 10))
    window = Window(at(9, 0), at(11, 0))

    busy = provider.busy([CALENDAR, "side@example.com"], window)

    assert each_names_its_event(busy)
    assert times_of(busy) == [
        Interval(at(9, 0), at(9, 10)),
        Interval(at(9, 9), at(9, 11)),
        Interval(at(9, 10), at(9, 12)),
        Interval(at(9, 10), at(9, 12)),
        Interval(at(10, 22), at(11, 0)),
    ]


def test_busy_time_reads_the_window_of_each_calendar_asking_only_for_what_it_weighs(fake, provider):
    fake.page_size = 2
    fake.add_calendar("side@example.com", "Side")
    fake.add_event(
        CALENDAR, "Standup", at(7, 8), at(7, 9), recurrence=["RRULE:FREQ=WEEKLY;COUNT=3"]
    )
    fake.add_event("side@example.com", "Lunch", at(9, 12), at(9, 13))

    busy = provider.busy([CALENDAR, "side@example.com"], WINDOW)

    assert each_names_its_event(busy)
    assert times_of(busy) == [
        Interval(at(7, 8), at(7, 9)),
        Interval(at(9, 12), at(9, 13)),
        Interval(at(14, 8), at(14, 9)),
        Interval(at(21, 8), at(21, 9)),
    ]
    requests = list_requests(fake)
    assert len(requests) == fake.request_count == 3  # two pages, then one
    first = requests[0].query
    assert (first["timeMin"], first["timeMax"]) == (
        ["2030-01-01T00:00:00+00:00"],
        ["2030-03-01T00:00:00+00:00"],
    )
    assert (first["singleEvents"], first["showDeleted"]) == (["true"], ["false"])
    assert first["fields"] == [
        "items(id,start,end,status,transparency,eventType,attendees(self,responseStatus),"
        "extendedProperties),nextPageToken"
    ]


@pytest.fixture
def every_kind_of_event(fake):
    """One event of each kind that busy time weighs, each at its own hour of 9 January."""

    def add(title: str, hour: int, **fields) -> None:
        fake.add_event(CALENDAR, title, at(9, hour), at(9, hour + 1), **fields)

    def answered(response: str) -> list[dict]:
        return [
            {"email": "boss@example.com", "organizer": True, "responseStatus": "accepted"},
            {"email": "owner@example.com", "self": True, "responseStatus": response},
        ]

    add("busy", 8)
    add("tentative", 9, status="tentative")
    add("answered tentative", 10, attendees=answered("tentative"))
    add("free", 11, transparency="transparent")
    add("declined", 12, attendees=answered("declined"))
    add("not answered", 13, attendees=answered("needsAction"))
    fake.delete_event(CALENDAR, fake.add_event(CALENDAR, "cancelled", at(9, 14), at(9, 15)))
    add("working location", 15, eventType="workingLocation", transparency="transparent")
    fake.add_event(CALENDAR, "holiday", date(2030, 1, 10), date(2030, 1, 11))
    fake.add_event(
        CALENDAR, "free all day", date(2030, 1, 11), date(2030, 1, 12), transparency="transparent"
    )


ALL_DAY_HOLIDAY = Interval(at(10, 0), at(11, 0), all_day=True)
FREE_ALL_DAY = Interval(at(11, 0), at(12, 0), all_day=True)


def hours(*values: int) -> list[Interval]:
    return [Interval(at(9, hour), at(9, hour + 1)) for hour in values]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (BusyPolicy(), [*hours(8, 9, 10, 13), ALL_DAY_HOLIDAY]),
        (BusyPolicy(tentative=False), [*hours(8, 13), ALL_DAY_HOLIDAY]),
        (BusyPolicy(free=True), [*hours(8, 9, 10, 11, 13), ALL_DAY_HOLIDAY, FREE_ALL_DAY]),
        (BusyPolicy(all_day=False), hours(8, 9, 10, 13)),
        (BusyPolicy(tentative=False, free=True, all_day=False), hours(8, 11, 13)),
    ],
)
def test_busy_time_counts_tentative_free_and_all_day_events_as_the_policy_says(
    every_kind_of_event, provider, policy, expected
):
    assert times_of(provider.busy([CALENDAR], WINDOW, policy)) == expected


def test_busy_times_of_an_unknown_calendar_are_a_permanent_error(fake, provider):
    with pytest.raises(ProviderError) as caught:
        provider.busy(["gone@example.com"], WINDOW)

    assert caught.value.permanent


# Push channels --------------------------------------------------------------------------------


def test_watch_opens_a_channel_with_a_derived_token_and_unwatch_stops_it(fake, provider):
    resource_id, expires_at = provider.watch(
        CALENDAR, channel_id="channel-1", address="https://multical.example/hooks/google/"
    )

    channel = fake.channels["channel-1"]
    assert channel.resource_id == resource_id
    assert channel.calendar_id == CALENDAR
    assert channel.address == "https://multical.example/hooks/google/"
    assert channel.token == channel_secret("channel-1")
    assert expires_at == channel.expiration
    assert timedelta(days=6) < expires_at - datetime.now(UTC) <= timedelta(days=7)

    provider.unwatch("channel-1", resource_id)
    provider.unwatch("channel-1", resource_id)  # unknown to Google by now: fine

    assert fake.channels == {}
    assert fake.stopped_channels == ["channel-1"]
