"""The CalDAV provider against real servers: every protocol test runs on Radicale and Xandikos."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from urllib.parse import urljoin

import icalendar
import pytest

from integrations.base import (
    BOOKING_MARKER_PROPERTY,
    MARKER_PROPERTY,
    BlockSpec,
    BusyPolicy,
    Interval,
    MarkerKind,
    ProviderError,
    Window,
)
from integrations.caldav.provider import CalDAVProvider, block_uid
from integrations.ical import render_block
from tests.caldav_servers import Account, CalDAVServer
from tests.integrations.spans import each_names_its_event, times_of

WINDOW = Window(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 3, 1, tzinfo=UTC))


def event(uid: str, start: str, end: str, *, extra: str = "", title: str = "Planning") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other client//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20300101T000000Z\r\n"
        f"DTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:{title}\r\n{extra}"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


WEEKLY_WITH_EXCEPTIONS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other client//EN\r\n"
    # Mondays 08:00 UTC, five times: the 2nd moved to 12:00, the 3rd removed (EXDATE), the 4th
    # cancelled by an override.
    "BEGIN:VEVENT\r\nUID:weekly-1\r\nDTSTAMP:20300101T000000Z\r\n"
    "DTSTART:20300107T080000Z\r\nDTEND:20300107T090000Z\r\nRRULE:FREQ=WEEKLY;COUNT=5\r\n"
    "EXDATE:20300121T080000Z\r\nSUMMARY:Weekly\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:weekly-1\r\nDTSTAMP:20300101T000000Z\r\n"
    "RECURRENCE-ID:20300114T080000Z\r\nDTSTART:20300114T120000Z\r\nDTEND:20300114T130000Z\r\n"
    "SUMMARY:Weekly (moved)\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:weekly-1\r\nDTSTAMP:20300101T000000Z\r\n"
    "RECURRENCE-ID:20300128T080000Z\r\nDTSTART:20300128T080000Z\r\nDTEND:20300128T090000Z\r\n"
    "STATUS:CANCELLED\r\nSUMMARY:Weekly\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)


def at(day: int, hour: int, minute: int = 0, *, month: int = 1) -> datetime:
    return datetime(2030, month, day, hour, minute, tzinfo=UTC)


def block(block_id: str = "block-1", *, title: str = "Busy", hour: int = 9) -> BlockSpec:
    return BlockSpec(
        block_id=block_id, start=at(10, hour), end=at(10, hour + 1), all_day=False, title=title
    )


@pytest.fixture
def account(caldav_server: CalDAVServer) -> Account:
    return caldav_server.new_account()


@pytest.fixture
def calendar_url(caldav_server: CalDAVServer, account: Account) -> str:
    return caldav_server.create_calendar(account, "Work", color="#FF8800FF")


@pytest.fixture
def make_provider() -> Iterator[Callable[[Account], CalDAVProvider]]:
    providers = []

    def make(account: Account, **changes: str) -> CalDAVProvider:
        provider = CalDAVProvider.from_secrets({**account.secrets, **changes})
        providers.append(provider)
        return provider

    yield make
    for provider in providers:
        provider.close()


@pytest.fixture
def provider(make_provider, account: Account) -> CalDAVProvider:
    return make_provider(account)


@contextlib.contextmanager
def http_log(provider: CalDAVProvider, before: Callable[[str, dict], None] | None = None):
    """Every HTTP request the provider sends, as (method, status), counted below our own code:
    on the HTTP library's connection pool."""
    pool = provider._session._pool
    original = pool.stream
    sent: list[tuple[str, int]] = []

    @contextlib.contextmanager
    def stream(method, url, **kwargs):
        if before is not None:
            before(method, {name.decode(): value.decode() for name, value in kwargs["headers"]})
        with original(method, url, **kwargs) as response:
            sent.append((method, response.status))
            yield response

    pool.stream = stream
    try:
        yield sent
    finally:
        pool.stream = original


def stored_event(
    server: CalDAVServer, account: Account, calendar_url: str, href: str
) -> icalendar.Event:
    data = server.read_object(account, urljoin(calendar_url, href))
    assert data is not None
    return icalendar.Calendar.from_ical(data).walk("VEVENT")[0]


# Xandikos has no access control or authentication: these run on Radicale alone.
RADICALE_ONLY = pytest.mark.parametrize("caldav_server", ["radicale"], indirect=True)


# Discovery ------------------------------------------------------------------------------------


def test_calendars_are_listed_with_name_colour_and_time_zone(caldav_server, account, provider):
    work = caldav_server.create_calendar(
        account, "Work", color="#FF8800FF", time_zone="Europe/Paris"
    )
    home = caldav_server.create_calendar(account, "Home")

    calendars = {calendar.remote_id: calendar for calendar in provider.list_calendars()}

    assert calendars[work].name == "Work"
    assert calendars[work].color == "#ff8800"
    assert calendars[work].time_zone == "Europe/Paris"
    assert calendars[work].read_only is False
    assert (calendars[home].name, calendars[home].color, calendars[home].time_zone) == (
        "Home",
        "",
        "",
    )


@RADICALE_ONLY
def test_a_calendar_the_account_may_only_read_is_flagged_read_only(
    caldav_server, account, provider
):
    shared = caldav_server.create_calendar(account, "Team", read_only=True)
    own = caldav_server.create_calendar(account, "Mine")

    calendars = {calendar.remote_id: calendar for calendar in provider.list_calendars()}

    assert calendars[shared].read_only is True
    assert calendars[own].read_only is False


@RADICALE_ONLY
def test_writing_to_a_read_only_calendar_is_a_permanent_error(caldav_server, account, provider):
    shared = caldav_server.create_calendar(account, "Team", read_only=True)

    with pytest.raises(ProviderError) as raised:
        provider.put_block(shared, block())

    assert raised.value.permanent
    assert "read-only" in raised.value.message


@RADICALE_ONLY
def test_a_wrong_password_is_a_permanent_error_that_never_shows_the_password(
    caldav_server, account, calendar_url, make_provider, caplog
):
    caplog.set_level("DEBUG")
    provider = make_provider(account, password="wrong-password-123")

    with pytest.raises(ProviderError) as listing:
        provider.list_calendars()
    with pytest.raises(ProviderError) as reading:
        provider.changes(calendar_url, "", WINDOW)

    for error in (listing.value, reading.value):
        assert error.permanent
        assert error.message == "The server refused the user name or password."
    assert "wrong-password-123" not in caplog.text


def test_a_calendar_that_is_gone_is_a_permanent_error(caldav_server, account, provider):
    missing = urljoin(caldav_server.calendar_home(account), "no-such-calendar/")

    with pytest.raises(ProviderError) as raised:
        provider.changes(missing, "", WINDOW)

    assert raised.value.permanent


# Reading --------------------------------------------------------------------------------------


def test_first_read_expands_recurrence_with_a_moved_and_a_cancelled_instance(
    caldav_server, account, calendar_url, provider
):
    href = caldav_server.put_object(account, calendar_url, "weekly.ics", WEEKLY_WITH_EXCEPTIONS)
    path = href.removeprefix(caldav_server.url.rstrip("/"))

    changes = provider.changes(calendar_url, "", WINDOW)

    assert changes.full_resync
    assert sorted((e.start, e.end) for e in changes.events) == [
        (at(7, 8), at(7, 9)),
        (at(14, 12), at(14, 13)),
        (at(4, 8, month=2), at(4, 9, month=2)),
    ]
    assert {e.series_id for e in changes.events} == {path}
    assert {e.id for e in changes.events} == {
        f"{path}|weekly-1/20300107T080000Z",
        f"{path}|weekly-1/20300114T080000Z",
        f"{path}|weekly-1/20300204T080000Z",
    }
    assert {e.title for e in changes.events} == {"Weekly", "Weekly (moved)"}


def test_floating_times_are_read_in_the_calendar_time_zone(caldav_server, account, provider):
    paris = caldav_server.create_calendar(account, "Paris", time_zone="Europe/Paris")
    caldav_server.put_object(
        account, paris, "floating.ics", event("f-1", "20300110T090000", "20300110T100000")
    )

    (found,) = provider.changes(paris, "", WINDOW).events

    assert (found.start, found.end) == (at(10, 8), at(10, 9))


def test_an_event_added_by_another_client_arrives_as_a_change(
    caldav_server, account, calendar_url, provider
):
    first = provider.changes(calendar_url, "", WINDOW)
    href = caldav_server.put_object(
        account, calendar_url, "new.ics", event("new-1", "20300115T100000Z", "20300115T110000Z")
    )
    path = href.removeprefix(caldav_server.url.rstrip("/"))

    changes = provider.changes(calendar_url, first.next_cursor, WINDOW)

    assert not changes.full_resync
    assert changes.replaced_series == {path}
    assert [(e.id, e.series_id, e.start, e.title) for e in changes.events] == [
        (path, path, at(15, 10), "Planning")
    ]


def test_an_event_edited_by_another_client_replaces_its_series(
    caldav_server, account, calendar_url, provider
):
    href = caldav_server.put_object(
        account, calendar_url, "edit.ics", event("edit-1", "20300115T100000Z", "20300115T110000Z")
    )
    caldav_server.put_object(
        account, calendar_url, "other.ics", event("other-1", "20300116T100000Z", "20300116T110000Z")
    )
    first = provider.changes(calendar_url, "", WINDOW)
    caldav_server.put_object(
        account,
        calendar_url,
        "edit.ics",
        event("edit-1", "20300117T140000Z", "20300117T150000Z", title="Moved"),
    )
    path = href.removeprefix(caldav_server.url.rstrip("/"))

    changes = provider.changes(calendar_url, first.next_cursor, WINDOW)

    assert not changes.full_resync
    assert changes.replaced_series == {path}
    assert [(e.start, e.title) for e in changes.events] == [(at(17, 14), "Moved")]


def test_an_event_deleted_by_another_client_is_a_replaced_series_without_events(
    caldav_server, account, calendar_url, provider
):
    href = caldav_server.put_object(
        account, calendar_url, "gone.ics", event("gone-1", "20300115T100000Z", "20300115T110000Z")
    )
    first = provider.changes(calendar_url, "", WINDOW)
    caldav_server.delete_object(account, href)

    changes = provider.changes(calendar_url, first.next_cursor, WINDOW)

    assert not changes.full_resync
    assert changes.replaced_series == {href.removeprefix(caldav_server.url.rstrip("/"))}
    assert changes.events == []


def test_an_idle_poll_costs_exactly_one_request(caldav_server, account, calendar_url, provider):
    caldav_server.put_object(
        account, calendar_url, "a.ics", event("a-1", "20300115T100000Z", "20300115T110000Z")
    )
    first = provider.changes(calendar_url, "", WINDOW)

    with http_log(provider) as sent:
        changes = provider.changes(calendar_url, first.next_cursor, WINDOW)

    assert changes.is_empty
    assert changes.next_cursor == first.next_cursor
    assert sent == [("PROPFIND", 207)]


def test_the_requests_after_one_change_do_not_grow_with_the_calendar(
    caldav_server, account, provider
):
    def requests_after_one_change(size: int) -> list[tuple[str, int]]:
        calendar = caldav_server.create_calendar(account, f"Size {size}")
        for number in range(size):
            day = 1 + number % 28
            caldav_server.put_object(
                account,
                calendar,
                f"e{number}.ics",
                event(f"e{number}", f"203001{day:02}T100000Z", f"203001{day:02}T110000Z"),
            )
        cursor = provider.changes(calendar, "", WINDOW).next_cursor
        caldav_server.put_object(
            account, calendar, "e0.ics", event("e0", "20300120T150000Z", "20300120T160000Z")
        )
        with http_log(provider) as sent:
            changes = provider.changes(calendar, cursor, WINDOW)
        assert len(changes.events) == 1
        return sent

    small, large = requests_after_one_change(2), requests_after_one_change(40)

    assert small == large == [("PROPFIND", 207), ("REPORT", 207), ("REPORT", 207)]


def test_a_server_without_ctag_is_polled_with_one_empty_sync(
    caldav_server, account, calendar_url, provider
):
    first = provider.changes(calendar_url, "", WINDOW)
    token_only = '{"sync_token":' + first.next_cursor.split('"sync_token":', 1)[1]

    with http_log(provider) as sent:
        changes = provider.changes(calendar_url, token_only, WINDOW)

    assert changes.is_empty
    assert sent == [("REPORT", 207)]


def test_an_invalid_sync_token_gives_a_full_resync_with_a_fresh_token(
    caldav_server, account, calendar_url, provider
):
    caldav_server.put_object(
        account, calendar_url, "a.ics", event("a-1", "20300115T100000Z", "20300115T110000Z")
    )
    stale = '{"ctag":"old","sync_token":"http://radicale.org/ns/sync/0123456789abcdef"}'

    changes = provider.changes(calendar_url, stale, WINDOW)

    assert changes.full_resync
    assert [e.start for e in changes.events] == [at(15, 10)]
    assert provider.changes(calendar_url, changes.next_cursor, WINDOW).is_empty


def test_a_malformed_object_is_skipped_and_counted(caldav_server, account, calendar_url, provider):
    # Accepted by both servers, but not expandable: SEQUENCE must be a number.
    broken = event("broken-1", "20300115T100000Z", "20300115T110000Z", extra="SEQUENCE:abc\r\n")
    caldav_server.put_object(
        account, calendar_url, "good.ics", event("good-1", "20300116T100000Z", "20300116T110000Z")
    )
    caldav_server.put_object(account, calendar_url, "broken.ics", broken)

    full = provider.changes(calendar_url, "", WINDOW)
    caldav_server.put_object(
        account, calendar_url, "good2.ics", event("good-2", "20300117T100000Z", "20300117T110000Z")
    )
    incremental = provider.changes(calendar_url, full.next_cursor, WINDOW)

    assert (full.skipped, [e.start for e in full.events]) == (1, [at(16, 10)])
    assert (incremental.skipped, [e.start for e in incremental.events]) == (0, [at(17, 10)])
    assert not incremental.full_resync
    # What could not be read is left as it was, not reported as gone.
    assert all("broken" not in href for href in incremental.replaced_series)


def test_a_change_beside_a_malformed_object_is_read_in_full_to_count_them_all(
    caldav_server, account, calendar_url, provider
):
    broken = event("broken-1", "20300115T100000Z", "20300115T110000Z", extra="SEQUENCE:abc\r\n")
    caldav_server.put_object(account, calendar_url, "broken.ics", broken)
    full = provider.changes(calendar_url, "", WINDOW)
    caldav_server.put_object(
        account, calendar_url, "broken2.ics", broken.replace("broken-1", "broken-2")
    )

    another = provider.changes(calendar_url, full.next_cursor, WINDOW)
    caldav_server.put_object(
        account, calendar_url, "broken.ics", broken.replace("SEQUENCE:abc", "SEQUENCE:1")
    )
    mended = provider.changes(calendar_url, another.next_cursor, WINDOW)

    assert (full.skipped, another.skipped, mended.skipped) == (1, 2, 1)
    assert another.full_resync and mended.full_resync
    assert [e.start for e in mended.events] == [at(15, 10)]


# Blocks ---------------------------------------------------------------------------------------


def test_a_block_is_written_updated_and_deleted_with_our_marker(
    caldav_server, account, calendar_url, provider
):
    href = provider.put_block(calendar_url, block(title="Busy"))
    written = stored_event(caldav_server, account, calendar_url, href)

    same = provider.put_block(calendar_url, block(title="Busy (client)", hour=14), remote_id=href)
    updated = stored_event(caldav_server, account, calendar_url, href)
    provider.delete_event(calendar_url, href)

    assert same == href
    assert str(written[MARKER_PROPERTY]) == "block-1"
    assert "DTEND" in written
    assert (str(updated[MARKER_PROPERTY]), str(updated["SUMMARY"]), updated.DTSTART) == (
        "block-1",
        "Busy (client)",
        at(10, 14),
    )
    assert caldav_server.read_object(account, urljoin(calendar_url, href)) is None


def test_a_block_read_back_is_ours_and_its_id_is_the_remote_id(
    caldav_server, account, calendar_url, provider
):
    first = provider.changes(calendar_url, "", WINDOW)
    href = provider.put_block(calendar_url, block())

    (found,) = provider.changes(calendar_url, first.next_cursor, WINDOW).events

    assert (found.id, found.series_id, found.block_id, found.ours) == (href, href, "block-1", True)


def test_a_retried_create_updates_the_first_one_instead_of_duplicating(
    caldav_server, account, calendar_url, make_provider
):
    first_try = make_provider(account).put_block(calendar_url, block(title="Busy"))

    # The worker crashed before it stored the remote id; a new one creates again.
    second_try = make_provider(account).put_block(calendar_url, block(title="Busy again"))

    assert second_try == first_try
    assert caldav_server.list_objects(account, calendar_url) == [first_try]
    assert (
        str(stored_event(caldav_server, account, calendar_url, first_try)["SUMMARY"])
        == "Busy again"
    )


def test_a_stale_etag_is_read_again_and_the_update_goes_through(
    caldav_server, account, calendar_url, provider
):
    href = provider.put_block(calendar_url, block(title="Busy"))
    edited = stored_event(caldav_server, account, calendar_url, href)
    edited["SUMMARY"] = "Edited elsewhere"
    caldav_server.put_object(account, calendar_url, href.rsplit("/", 1)[1], _wrap(edited))

    with http_log(provider) as sent:
        provider.put_block(calendar_url, block(title="Ours again"), remote_id=href)

    assert sent == [("PUT", 412), ("PROPFIND", 207), ("PUT", 204)]
    assert str(stored_event(caldav_server, account, calendar_url, href)["SUMMARY"]) == "Ours again"


def test_an_update_that_keeps_conflicting_is_a_transient_error(
    caldav_server, account, calendar_url, provider
):
    href = provider.put_block(calendar_url, block(title="Busy"))
    edits = iter(range(100))

    def edit_before_each_update(method: str, headers: dict) -> None:
        if method == "PUT" and "If-Match" in headers:
            changed = block(title=f"Edit {next(edits)}")
            caldav_server.put_object(
                account, calendar_url, href.rsplit("/", 1)[1], _render(changed)
            )

    with (
        http_log(provider, before=edit_before_each_update) as sent,
        pytest.raises(ProviderError) as raised,
    ):
        provider.put_block(calendar_url, block(title="Ours"), remote_id=href)

    assert not raised.value.permanent
    assert [status for method, status in sent if method == "PUT"] == [412, 412]


def test_a_block_is_found_by_its_place_and_else_by_its_marker(
    caldav_server, account, calendar_url, provider
):
    href = provider.put_block(calendar_url, block("block-1"))
    # Another tool copied a block of ours to a name of its own.
    moved = caldav_server.put_object(
        account, calendar_url, "renamed.ics", _render(block("block-2"))
    )

    assert provider.find_block(calendar_url, "block-1") == href
    assert provider.find_block(calendar_url, "block-2") == moved.removeprefix(
        caldav_server.url.rstrip("/")
    )
    assert provider.find_block(calendar_url, "block-3") is None


BOOKING_ID = "0b1c6a52-5f7e-4c36-9a57-1f8a3f1d2e4b"


def booking(*, title: str = "Intro call with Ana Lima", hour: int = 9) -> BlockSpec:
    return BlockSpec(
        block_id=BOOKING_ID,
        start=at(10, hour),
        end=at(10, hour + 1),
        all_day=False,
        title=title,
        description="Booked through Multical.\nAnswers: budget; timeline",
        location="https://example.zoom.us/j/123",
        kind=MarkerKind.BOOKING,
    )


def test_a_booking_event_carries_the_booking_marker_and_reads_back_as_a_real_event(
    caldav_server, account, calendar_url, provider
):
    first = provider.changes(calendar_url, "", WINDOW)
    href = provider.put_block(calendar_url, booking())

    stored = stored_event(caldav_server, account, calendar_url, href)
    (found,) = provider.changes(calendar_url, first.next_cursor, WINDOW).events

    assert str(stored[BOOKING_MARKER_PROPERTY]) == BOOKING_ID and MARKER_PROPERTY not in stored
    assert str(stored["UID"]) == block_uid(BOOKING_ID, MarkerKind.BOOKING)
    assert (found.id, found.booking_id, found.block_id, found.ours) == (href, BOOKING_ID, "", False)
    assert (found.title, found.description, found.location) == (
        "Intro call with Ana Lima",
        "Booked through Multical.\nAnswers: budget; timeline",
        "https://example.zoom.us/j/123",
    )


def test_a_booking_event_is_updated_in_place_and_a_retried_create_does_not_duplicate_it(
    caldav_server, account, calendar_url, make_provider
):
    first = make_provider(account).put_block(calendar_url, booking())
    again = make_provider(account).put_block(calendar_url, booking(title="Retried"))

    moved = make_provider(account).put_block(calendar_url, booking(hour=14), remote_id=first)

    assert first == again == moved
    assert caldav_server.list_objects(account, calendar_url) == [first]
    stored = stored_event(caldav_server, account, calendar_url, first)
    assert (stored.DTSTART, str(stored[BOOKING_MARKER_PROPERTY])) == (at(10, 14), BOOKING_ID)


def test_a_block_and_a_booking_with_the_same_id_are_two_events_found_apart(
    caldav_server, account, calendar_url, provider
):
    block_href = provider.put_block(calendar_url, block(BOOKING_ID))
    booking_href = provider.put_block(calendar_url, booking())

    assert block_href != booking_href
    assert sorted(caldav_server.list_objects(account, calendar_url)) == sorted(
        [block_href, booking_href]
    )
    assert provider.find_block(calendar_url, BOOKING_ID) == block_href
    assert provider.find_block(calendar_url, BOOKING_ID, kind=MarkerKind.BOOKING) == booking_href
    provider.delete_event(calendar_url, booking_href)
    assert provider.find_block(calendar_url, BOOKING_ID, kind=MarkerKind.BOOKING) is None
    assert provider.find_block(calendar_url, BOOKING_ID) == block_href


def test_a_booking_event_elsewhere_is_found_by_its_marker_and_never_as_a_block(
    caldav_server, account, calendar_url, provider
):
    moved = caldav_server.put_object(
        account, calendar_url, "renamed.ics", render_block(booking(), uid="other-uid")
    ).removeprefix(caldav_server.url.rstrip("/"))

    assert provider.find_block(calendar_url, BOOKING_ID, kind=MarkerKind.BOOKING) == moved
    assert provider.find_block(calendar_url, BOOKING_ID) is None


def test_deleting_an_event_that_is_already_gone_is_fine(
    caldav_server, account, calendar_url, provider
):
    href = provider.put_block(calendar_url, block())
    caldav_server.delete_object(account, urljoin(calendar_url, href))

    provider.delete_event(calendar_url, href)

    assert caldav_server.list_objects(account, calendar_url) == []


# Busy times -----------------------------------------------------------------------------------


def test_busy_time_is_one_span_per_event_clipped_to_the_window_and_not_merged(
    caldav_server, account, calendar_url, provider
):
    other = caldav_server.create_calendar(account, "Other")
    put = caldav_server.put_object
    put(
        account, calendar_url, "before.ics", event("before", "20300114T220000Z", "20300115T100000Z")
    )
    put(account, calendar_url, "a.ics", event("a", "20300115T100000Z", "20300115T110000Z"))
    put(account, other, "b.ics", event("b", "20300115T103000Z", "20300115T120000Z"))
    put(account, other, "c.ics", event("c", "20300115T103000Z", "20300115T120000Z"))
    put(account, other, "past.ics", event("past", "20300115T230000Z", "20300116T020000Z"))
    put(account, other, "after.ics", event("after", "20300116T090000Z", "20300116T100000Z"))
    provider.put_block(
        calendar_url,
        BlockSpec(block_id="blk", start=at(15, 14), end=at(15, 15), all_day=False, title="Busy"),
    )

    busy = provider.busy([calendar_url, other], Window(at(15, 0), at(16, 0)))

    assert each_names_its_event(busy)
    assert times_of(busy) == [
        Interval(at(15, 0), at(15, 10)),
        Interval(at(15, 10), at(15, 11)),
        Interval(at(15, 10, 30), at(15, 12)),
        Interval(at(15, 10, 30), at(15, 12)),
        Interval(at(15, 14), at(15, 15)),
        Interval(at(15, 23), at(16, 0)),
    ]


def hours(*values: int) -> list[Interval]:
    return [Interval(at(15, hour), at(15, hour + 1)) for hour in values]


HOLIDAY = Interval(at(16, 0), at(17, 0), all_day=True)
FREE_ALL_DAY = Interval(at(17, 0), at(18, 0), all_day=True)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (BusyPolicy(), [*hours(8, 9, 10), HOLIDAY]),
        (BusyPolicy(tentative=False), [*hours(8), HOLIDAY]),
        (BusyPolicy(free=True), [*hours(8, 9, 10, 11), HOLIDAY, FREE_ALL_DAY]),
        (BusyPolicy(all_day=False), hours(8, 9, 10)),
        (BusyPolicy(tentative=False, free=True, all_day=False), hours(8, 11)),
    ],
)
def test_busy_time_counts_tentative_free_and_all_day_events_as_the_policy_says(
    caldav_server, account, calendar_url, provider, policy, expected
):
    def put(uid: str, hour: int, extra: str = "") -> None:
        data = event(uid, f"20300115T{hour:02}0000Z", f"20300115T{hour + 1:02}0000Z", extra=extra)
        caldav_server.put_object(account, calendar_url, f"{uid}.ics", data)

    def put_all_day(uid: str, day: int, extra: str = "") -> None:
        data = event(uid, f"203001{day}", f"203001{day + 1}", extra=extra).replace(
            "DTSTART:", "DTSTART;VALUE=DATE:"
        )
        data = data.replace("DTEND:", "DTEND;VALUE=DATE:")
        caldav_server.put_object(account, calendar_url, f"{uid}.ics", data)

    put("busy", 8)
    put("tentative", 9, "STATUS:TENTATIVE\r\n")
    put("exchange-tentative", 10, "X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE\r\n")
    put("free", 11, "TRANSP:TRANSPARENT\r\n")
    put("cancelled", 12, "STATUS:CANCELLED\r\n")
    put_all_day("holiday", 16)
    put_all_day("free-all-day", 17, "TRANSP:TRANSPARENT\r\n")

    assert times_of(provider.busy([calendar_url], WINDOW, policy)) == expected


def test_busy_time_of_a_calendar_that_is_gone_is_a_permanent_error(
    caldav_server, account, provider
):
    missing = urljoin(caldav_server.calendar_home(account), "no-such-calendar/")

    with pytest.raises(ProviderError) as raised:
        provider.busy([missing], WINDOW)

    assert raised.value.permanent


def _render(spec: BlockSpec) -> bytes:
    return render_block(spec, uid=block_uid(spec.block_id))


def _wrap(component: icalendar.Event) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("PRODID", "-//Other client//EN")
    calendar.add("VERSION", "2.0")
    calendar.add_component(component)
    return calendar.to_ical()
