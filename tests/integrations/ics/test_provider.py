"""The iCal-link provider against a local feed server: real-world exports, cheap polls, clear errors."""

from __future__ import annotations

import email.utils
import json
import socket
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from integrations import ical
from integrations.base import (
    BlockSpec,
    BusyPolicy,
    EventStatus,
    Interval,
    ProviderError,
    RemoteEvent,
    Transparency,
    Window,
)
from integrations.ics import provider as ics_provider
from integrations.ics.provider import FEED_ID, ICSProvider
from integrations.registry import build_provider
from multical.lib.safe_http import PRIVATE_NETWORK_MESSAGE, RESERVED_ADDRESS_MESSAGE
from tests.integrations.spans import each_names_its_event, times_of

FEEDS = Path(__file__).parent / "feeds"
WINDOW = Window(start=datetime(2025, 3, 1, tzinfo=UTC), end=datetime(2025, 4, 15, tzinfo=UTC))

STANDUP = "0r3hq8k2m9q7v1c5t4n6b8x2s0@google.com"
WEEKLY_SYNC = (
    "040000008200E00074C5B7101A82E00800000000C0F4A1E38B7CDB01000000000000000"
    "010000000D8E3B7A0F4C2B44A9E3C5D7F1A2B3C4D"
)
CLIENT_CALL = (
    "040000008200E00074C5B7101A82E00800000000CC11DD22EE33DB01000000000000000"
    "010000000A1B2C3D4E5F60718293A4B5C6D7E8F90"
)
SCHOOL_RUN = "5F0C2B1A-3D4E-4F5A-9B6C-7D8E9F0A1B2C"
SWIMMING = "C3D4E5F6-A7B8-4C9D-8E0F-1A2B3C4D5E6F"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.fixture
def provider(feed) -> ICSProvider:
    return ICSProvider.from_secrets({"url": feed.url})


@pytest.fixture
def parses(monkeypatch) -> list[int]:
    """Counts how often the provider parses a feed."""
    calls: list[int] = []

    def counting_parse(data):
        calls.append(1)
        return ical.parse_calendar(data)

    monkeypatch.setattr(ics_provider, "parse_calendar", counting_parse)
    return calls


def instances(events: list[RemoteEvent], series_id: str) -> list[tuple[datetime, datetime]]:
    return sorted((event.start, event.end) for event in events if event.series_id == series_id)


def by_title(events: list[RemoteEvent]) -> dict[str, RemoteEvent]:
    return {event.title: event for event in events}


# The three exports


def test_a_google_export_lists_its_name_and_zone(feed, provider):
    feed.serve_file("google.ics")
    [calendar] = provider.list_calendars()
    assert (
        calendar.remote_id,
        calendar.name,
        calendar.color,
        calendar.time_zone,
        calendar.read_only,
    ) == (
        FEED_ID,
        "Work",
        "",
        "Europe/Berlin",
        True,
    )


def test_a_zone_name_too_long_for_a_file_name_is_left_out(feed, provider):
    feed.serve(
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nX-WR-CALNAME:Odd\r\n"
        + b"X-WR-TIMEZONE:Europe/"
        + b"x" * 400
        + b"\r\nEND:VCALENDAR\r\n"
    )
    [calendar] = provider.list_calendars()
    assert (calendar.name, calendar.time_zone) == ("Odd", "")


def test_a_google_weekly_series_keeps_its_local_time_across_the_berlin_dst_change(feed, provider):
    feed.serve_file("google.ics")
    change = provider.changes(FEED_ID, "", WINDOW)
    assert change.full_resync
    assert change.skipped == 0
    assert instances(change.events, STANDUP) == [
        (utc(2025, 3, 3, 8, 30), utc(2025, 3, 3, 9, 0)),  # 09:30 CET
        (utc(2025, 3, 10, 10, 0), utc(2025, 3, 10, 10, 30)),  # moved to 11:00 CET
        # 17 March is an EXDATE
        (utc(2025, 3, 24, 8, 30), utc(2025, 3, 24, 9, 0)),
        (utc(2025, 3, 31, 7, 30), utc(2025, 3, 31, 8, 0)),  # 09:30 CEST from 30 March
        # 7 April is cancelled
        (
            utc(2025, 4, 14, 7, 30),
            utc(2025, 4, 14, 8, 0),
        ),  # the series is endless; the window ends it
    ]


def test_a_moved_instance_keeps_the_id_of_the_slot_it_came_from(feed, provider):
    feed.serve_file("google.ics")
    events = provider.changes(FEED_ID, "", WINDOW).events
    moved = by_title(events)["Team stand-up (moved)"]
    assert moved.id == f"{STANDUP}/20250310T083000Z"
    assert len({event.id for event in events}) == len(events)


def test_google_single_all_day_free_and_cancelled_events(feed, provider):
    feed.serve_file("google.ics")
    events = by_title(provider.changes(FEED_ID, "", WINDOW).events)
    review = events["Quarterly review"]
    assert (review.start, review.end, review.transparency) == (
        utc(2025, 3, 12, 15),
        utc(2025, 3, 12, 16),
        Transparency.BUSY,
    )
    assert events["Lunch (maybe)"].transparency == Transparency.FREE
    offsite = events["Team offsite"]
    assert offsite.all_day
    assert (offsite.start.date(), offsite.end.date()) == (date(2025, 3, 20), date(2025, 3, 22))
    assert "Vendor demo" not in events  # STATUS:CANCELLED
    assert "Planning, after the window" not in events


def test_an_outlook_export_with_a_windows_zone_is_read(feed, provider):
    feed.serve_file("outlook.ics")
    [calendar] = provider.list_calendars()
    assert (calendar.name, calendar.time_zone) == (
        "Calendar",
        "",
    )  # X-WR-TIMEZONE is a Windows name
    events = provider.changes(FEED_ID, "", WINDOW).events
    assert instances(events, WEEKLY_SYNC) == [
        (utc(2025, 3, 6, 8), utc(2025, 3, 6, 8, 30)),  # 09:00 W. Europe Standard Time, winter
        (utc(2025, 3, 13, 13), utc(2025, 3, 13, 13, 30)),  # moved to 14:00
        (utc(2025, 3, 20, 8), utc(2025, 3, 20, 8, 30)),
        # 27 March is an EXDATE
        (utc(2025, 4, 3, 7), utc(2025, 4, 3, 7, 30)),  # summer time
        (utc(2025, 4, 10, 7), utc(2025, 4, 10, 7, 30)),
    ]


def test_outlook_busy_status_zones_and_all_day_events(feed, provider):
    feed.serve_file("outlook.ics")
    events = by_title(provider.changes(FEED_ID, "", WINDOW).events)
    assert events["Planungsgespräch"].status == EventStatus.TENTATIVE
    assert events["Planungsgespräch"].transparency == Transparency.BUSY
    assert events["Focus time"].transparency == Transparency.FREE  # X-MICROSOFT-CDO-BUSYSTATUS:FREE
    out_of_office = events["Out of office"]
    assert (out_of_office.all_day, out_of_office.start.date(), out_of_office.transparency) == (
        True,
        date(2025, 3, 24),
        Transparency.BUSY,
    )
    # "Eastern Standard Time" has no VTIMEZONE: icalendar maps the Windows name; 10:00 EDT.
    assert events["Call with the New York office"].start == utc(2025, 3, 11, 14)
    # An unknown TZID with no usable X-WR-TIMEZONE falls back to UTC.
    assert events["Imported from another system"].start == utc(2025, 3, 13, 10)


def test_outlook_events_that_reuse_a_uid_are_both_kept(feed, provider):
    feed.serve_file("outlook.ics")
    events = provider.changes(FEED_ID, "", WINDOW).events
    calls = [event for event in events if event.title == "Client call"]
    assert sorted(event.start for event in calls) == [utc(2025, 3, 18, 14), utc(2025, 3, 19, 14)]
    assert len({event.id for event in calls}) == 2
    assert all(event.id.startswith(CLIENT_CALL) for event in calls)


def test_an_icloud_export_lists_its_colour(feed, provider):
    feed.serve_file("icloud.ics")
    [calendar] = provider.list_calendars()
    assert (calendar.name, calendar.color, calendar.time_zone) == (
        "Family",
        "#ff2968",
        "America/New_York",
    )


def test_an_icloud_daily_series_keeps_its_local_time_across_the_new_york_dst_change(feed, provider):
    feed.serve_file("icloud.ics")
    events = provider.changes(FEED_ID, "", WINDOW).events
    assert instances(events, SCHOOL_RUN) == [
        (utc(2025, 3, 7, 13), utc(2025, 3, 7, 13, 30)),  # 08:00 EST
        # 8 March is an EXDATE
        (utc(2025, 3, 9, 12), utc(2025, 3, 9, 12, 30)),  # 08:00 EDT from 9 March
        (utc(2025, 3, 10, 13), utc(2025, 3, 10, 13, 30)),  # moved to 09:00
        (utc(2025, 3, 11, 12), utc(2025, 3, 11, 12, 30)),  # COUNT=5 ends it
    ]
    assert [start for start, _ in instances(events, SWIMMING)] == [
        utc(2025, 3, 5, 23),  # 18:00 EST, an endless series with DURATION instead of DTEND
        utc(2025, 3, 12, 22),
        utc(2025, 3, 19, 22),
        utc(2025, 3, 26, 22),
        utc(2025, 4, 2, 22),
        utc(2025, 4, 9, 22),
    ]


def test_icloud_yearly_all_day_and_floating_events(feed, provider):
    feed.serve_file("icloud.ics")
    events = by_title(provider.changes(FEED_ID, "", WINDOW).events)
    birthday = events["Sam's birthday"]
    assert (birthday.all_day, birthday.start.date(), birthday.end.date()) == (
        True,
        date(2025, 3, 22),
        date(2025, 3, 23),
    )
    assert birthday.transparency == Transparency.FREE
    # No TZID at all: read in the feed's X-WR-TIMEZONE, 19:00 EDT.
    assert events["Parents' evening"].start == utc(2025, 3, 25, 23)


MINIMAL = """\ufeffBEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Example//Feed//EN\r
{calendar_properties}BEGIN:VEVENT\r
UID:one@example.com\r
DTSTAMP:20250301T000000Z\r
DTSTART;TZID=Mars/Olympus_Mons:20250303T100000\r
DTEND;TZID=Mars/Olympus_Mons:20250303T110000\r
SUMMARY:Somewhere\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_an_unknown_tzid_falls_back_to_the_feeds_x_wr_timezone(feed, provider):
    feed.serve(MINIMAL.format(calendar_properties="X-WR-TIMEZONE:America/New_York\r\n").encode())
    [event] = provider.changes(FEED_ID, "", WINDOW).events
    assert event.start == utc(2025, 3, 3, 15)  # 10:00 EST


def test_an_event_without_a_start_is_skipped_and_counted_not_fatal(feed, provider):
    undated = "BEGIN:VEVENT\r\nUID:undated@example.com\r\nSUMMARY:No start\r\nEND:VEVENT\r\n"
    feed.serve(
        MINIMAL.format(calendar_properties="")
        .replace("BEGIN:VEVENT", undated + "BEGIN:VEVENT", 1)
        .encode()
    )
    change = provider.changes(FEED_ID, "", WINDOW)
    assert [event.title for event in change.events] == ["Somewhere"]
    assert change.skipped == 1


def test_a_feed_without_a_name_is_called_ical_link(feed, provider):
    feed.serve(MINIMAL.format(calendar_properties="").encode())
    [calendar] = provider.list_calendars()
    assert (calendar.name, calendar.color, calendar.time_zone) == ("iCal link", "", "")


def test_a_gzip_feed_is_read(feed, provider):
    feed.serve_file("outlook.ics")
    feed.gzip = True
    events = provider.changes(FEED_ID, "", WINDOW).events
    assert len(events) == 12
    assert "gzip" in feed.requests[0]["Accept-Encoding"]


# Polling


def test_an_idle_poll_costs_one_request_and_no_parsing(feed, provider, parses):
    feed.serve_file("google.ics")
    first = provider.changes(FEED_ID, "", WINDOW)
    requests_before, parses_before = len(feed.requests), len(parses)

    idle = provider.changes(FEED_ID, first.next_cursor, WINDOW)

    assert idle.is_empty
    assert idle.next_cursor == first.next_cursor
    assert len(feed.requests) == requests_before + 1
    assert len(parses) == parses_before
    assert feed.requests[-1]["If-None-Match"] == feed.etag
    assert feed.requests[-1]["If-Modified-Since"] == feed.last_modified


def test_if_modified_since_alone_is_enough_for_a_304(feed, provider, parses):
    feed.serve_file("icloud.ics")
    feed.send_etag = False
    first = provider.changes(FEED_ID, "", WINDOW)
    idle = provider.changes(FEED_ID, first.next_cursor, WINDOW)
    assert idle.is_empty
    assert len(parses) == 1
    assert "If-None-Match" not in feed.requests[-1]


def test_a_feed_without_validators_is_recognised_by_its_body(feed, provider, parses):
    feed.serve_file("icloud.ics")
    feed.send_etag = feed.send_last_modified = False
    first = provider.changes(FEED_ID, "", WINDOW)
    idle = provider.changes(FEED_ID, first.next_cursor, WINDOW)
    assert idle.is_empty
    assert (len(feed.requests), len(parses)) == (2, 1)


def test_a_fresh_dtstamp_alone_is_not_a_change(feed, provider, parses):
    # Google stamps every download with the time of the download.
    feed.serve_file("google.ics")
    feed.send_etag = feed.send_last_modified = False
    first = provider.changes(FEED_ID, "", WINDOW)
    feed.serve(feed.body.replace(b"DTSTAMP:20250301T120000Z", b"DTSTAMP:20250302T061500Z"))
    idle = provider.changes(FEED_ID, first.next_cursor, WINDOW)
    assert idle.is_empty
    assert len(parses) == 1


def test_a_changed_feed_is_a_full_resync(feed, provider):
    feed.serve_file("google.ics")
    first = provider.changes(FEED_ID, "", WINDOW)
    feed.serve(feed.body.replace(b"DTSTART:20250312T150000Z", b"DTSTART:20250312T143000Z"))

    changed = provider.changes(FEED_ID, first.next_cursor, WINDOW)

    assert changed.full_resync
    assert changed.next_cursor != first.next_cursor
    assert by_title(changed.events)["Quarterly review"].start == utc(2025, 3, 12, 14, 30)
    assert len(changed.events) == len(first.events)
    assert feed.requests[-1]["If-None-Match"] != feed.etag  # it asked with the old validator


def test_a_feed_that_cannot_be_expanded_is_a_transient_error_not_an_empty_calendar(
    feed, provider, monkeypatch
):
    feed.serve_file("google.ics")
    first = provider.changes(FEED_ID, "", WINDOW)
    feed.serve(feed.body.replace(b"Quarterly review", b"Quarterly review moved"))

    def broken_expansion(*args, **kwargs):
        raise ValueError("bad series")

    monkeypatch.setattr("integrations.ical.recurring_ical_events.of", broken_expansion)
    with pytest.raises(ProviderError) as raised:
        provider.changes(FEED_ID, first.next_cursor, WINDOW)

    assert raised.value.permanent is False


def test_the_cursor_holds_validators_and_a_hash_never_content(feed, provider):
    feed.serve_file("google.ics")
    cursor = provider.changes(FEED_ID, "", WINDOW).next_cursor
    assert json.loads(cursor) == {
        "etag": feed.etag,
        "last_modified": feed.last_modified,
        "body_sha256": json.loads(cursor)["body_sha256"],
    }
    assert len(json.loads(cursor)["body_sha256"]) == 64
    assert "stand-up" not in cursor


def test_a_first_read_sends_no_validators(feed, provider):
    feed.serve_file("google.ics")
    provider.changes(FEED_ID, "", WINDOW)
    assert "If-None-Match" not in feed.requests[0]
    assert "If-Modified-Since" not in feed.requests[0]


# Errors the connect form and the poller show


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html><html><body><h1>Sign in</h1></body></html>",
        b"",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    ],
    ids=["html", "empty", "binary"],
)
def test_a_body_that_is_not_icalendar_is_a_permanent_error(feed, provider, body):
    feed.serve(body)
    for read in (provider.list_calendars, lambda: provider.changes(FEED_ID, "", WINDOW)):
        with pytest.raises(ProviderError) as caught:
            read()
        assert caught.value.permanent
        assert caught.value.message == "This link does not lead to an iCalendar file."


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_a_refused_link_is_a_permanent_error(feed, provider, status):
    feed.serve(b"Not here")
    feed.status = status
    with pytest.raises(ProviderError) as caught:
        provider.list_calendars()
    assert caught.value.permanent
    assert (
        caught.value.message
        == f"The link was refused (HTTP {status}). Check that it is still shared."
    )


def test_a_busy_server_is_transient_and_says_when_to_retry(feed, provider):
    feed.serve(b"Service Unavailable")
    feed.status = 503
    feed.headers = {"Retry-After": "120"}
    with pytest.raises(ProviderError) as caught:
        provider.changes(FEED_ID, "", WINDOW)
    assert not caught.value.permanent
    assert caught.value.retry_after == 120


def test_a_rate_limit_with_an_http_date_retry_after(feed, provider):
    feed.serve(b"Too Many Requests")
    feed.status = 429
    feed.headers = {
        "Retry-After": email.utils.format_datetime(
            datetime.now(UTC) + timedelta(seconds=90), usegmt=True
        )
    }
    with pytest.raises(ProviderError) as caught:
        provider.list_calendars()
    assert not caught.value.permanent
    assert 80 < caught.value.retry_after <= 90


def test_a_server_error_without_retry_after_is_transient(feed, provider):
    feed.serve(b"oops")
    feed.status = 500
    with pytest.raises(ProviderError) as caught:
        provider.list_calendars()
    assert (caught.value.permanent, caught.value.retry_after) == (False, None)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://10.0.0.1/calendar.ics", PRIVATE_NETWORK_MESSAGE),
        ("webcal://169.254.169.254/latest/meta-data/", RESERVED_ADDRESS_MESSAGE),
        ("http://[::ffff:192.168.0.1]/", RESERVED_ADDRESS_MESSAGE),  # mapped: never allowed
    ],
)
def test_a_link_to_a_private_address_is_refused_permanently(url, message):
    with pytest.raises(ProviderError) as caught:
        ICSProvider.from_secrets({"url": url}).list_calendars()
    assert caught.value.permanent
    assert caught.value.message == message


def test_loopback_links_are_refused_in_production(feed, provider, settings):
    settings.OUTBOUND_ALLOW_LOOPBACK = False
    feed.serve_file("google.ics")
    with pytest.raises(ProviderError) as caught:
        provider.list_calendars()
    assert caught.value.permanent
    assert feed.requests == []


def test_a_link_that_is_not_a_web_address_is_refused():
    with pytest.raises(ProviderError, match="Only http, https and webcal links"):
        ICSProvider.from_secrets({"url": "file:///etc/passwd"}).list_calendars()


def test_an_unreachable_server_is_transient():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    unreachable = ICSProvider.from_secrets({"url": f"http://127.0.0.1:{port}/calendar.ics"})
    with pytest.raises(ProviderError) as caught:
        unreachable.changes(FEED_ID, "", WINDOW)
    assert not caught.value.permanent


# Read-only, and busy times for booking pages


def test_the_registry_builds_a_read_only_provider(feed):
    provider = build_provider("ics", {"server_url": "", "url": feed.url})
    assert isinstance(provider, ICSProvider)
    assert provider.slug == "ics"
    feed.serve_file("google.ics")
    assert [calendar.read_only for calendar in provider.list_calendars()] == [True]


def test_writes_are_refused_as_read_only(provider):
    spec = BlockSpec(
        block_id="b1",
        start=utc(2025, 3, 3, 9),
        end=utc(2025, 3, 3, 10),
        all_day=False,
        title="Busy",
    )
    for write in (
        lambda: provider.put_block(FEED_ID, spec),
        lambda: provider.put_block(FEED_ID, spec, remote_id="x"),
        lambda: provider.find_block(FEED_ID, "b1"),
        lambda: provider.delete_event(FEED_ID, "x"),
    ):
        with pytest.raises(ProviderError) as caught:
            write()
        assert (caught.value.permanent, caught.value.message) == (True, "iCal links are read-only.")


def test_busy_times_leave_out_free_and_cancelled_events(feed, provider):
    feed.serve_file("google.ics")
    assert times_of(provider.busy([FEED_ID], WINDOW)) == [
        Interval(utc(2025, 3, 3, 8, 30), utc(2025, 3, 3, 9)),
        Interval(utc(2025, 3, 10, 10), utc(2025, 3, 10, 10, 30)),
        Interval(utc(2025, 3, 12, 15), utc(2025, 3, 12, 16)),
        Interval(utc(2025, 3, 20), utc(2025, 3, 22), all_day=True),
        Interval(utc(2025, 3, 24, 8, 30), utc(2025, 3, 24, 9)),
        Interval(utc(2025, 3, 31, 7, 30), utc(2025, 3, 31, 8)),
        Interval(utc(2025, 4, 14, 7, 30), utc(2025, 4, 14, 8)),
    ]


def test_busy_times_count_tentative_and_leave_out_exchange_free_one_span_per_event(feed, provider):
    feed.serve_file("outlook.ics")
    busy = provider.busy([FEED_ID], Window(utc(2025, 3, 11), utc(2025, 3, 13)))
    # The New York call (14:00-14:30) and the tentative event (14:00-15:00) overlap and stay
    # two spans (the caller merges); the Exchange-free event is absent.
    assert each_names_its_event(busy)
    assert times_of(busy) == [
        Interval(utc(2025, 3, 11, 14), utc(2025, 3, 11, 14, 30)),
        Interval(utc(2025, 3, 11, 14), utc(2025, 3, 11, 15)),
    ]


def vevent(uid: str, start: str, end: str, extra: str = "") -> str:
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\nDTSTART{start}\r\n"
        f"DTEND{end}\r\nSUMMARY:{uid}\r\n{extra}END:VEVENT\r\n"
    )


EVERY_KIND = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n"
    + vevent("busy", ":20250303T080000Z", ":20250303T090000Z")
    + vevent("tentative", ":20250303T090000Z", ":20250303T100000Z", "STATUS:TENTATIVE\r\n")
    + vevent(
        "exchange-tentative",
        ":20250303T100000Z",
        ":20250303T110000Z",
        "X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE\r\n",
    )
    + vevent("free", ":20250303T110000Z", ":20250303T120000Z", "TRANSP:TRANSPARENT\r\n")
    + vevent("cancelled", ":20250303T120000Z", ":20250303T130000Z", "STATUS:CANCELLED\r\n")
    + vevent("holiday", ";VALUE=DATE:20250304", ";VALUE=DATE:20250305")
    + vevent(
        "free-all-day", ";VALUE=DATE:20250305", ";VALUE=DATE:20250306", "TRANSP:TRANSPARENT\r\n"
    )
    + vevent("runs-past", ":20250331T230000Z", ":20250401T020000Z")
    + "END:VCALENDAR\r\n"
).encode()
MARCH = Window(utc(2025, 3, 1), utc(2025, 4, 1))
HOLIDAY = Interval(utc(2025, 3, 4), utc(2025, 3, 5), all_day=True)
FREE_ALL_DAY = Interval(utc(2025, 3, 5), utc(2025, 3, 6), all_day=True)
RUNS_PAST = Interval(utc(2025, 3, 31, 23), utc(2025, 4, 1))


def hours(*values: int) -> list[Interval]:
    return [Interval(utc(2025, 3, 3, hour), utc(2025, 3, 3, hour + 1)) for hour in values]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (BusyPolicy(), [*hours(8, 9, 10), HOLIDAY, RUNS_PAST]),
        (BusyPolicy(tentative=False), [*hours(8), HOLIDAY, RUNS_PAST]),
        (BusyPolicy(free=True), [*hours(8, 9, 10, 11), HOLIDAY, FREE_ALL_DAY, RUNS_PAST]),
        (BusyPolicy(all_day=False), [*hours(8, 9, 10), RUNS_PAST]),
        (BusyPolicy(tentative=False, free=True, all_day=False), [*hours(8, 11), RUNS_PAST]),
    ],
)
def test_busy_times_count_tentative_free_and_all_day_events_as_the_policy_says(
    feed, provider, policy, expected
):
    feed.serve(EVERY_KIND)

    assert times_of(provider.busy([FEED_ID], MARCH, policy)) == expected


def test_busy_for_another_calendar_id_is_empty_and_costs_nothing(feed, provider):
    feed.serve_file("google.ics")
    assert provider.busy(["other"], WINDOW) == []
    assert feed.requests == []
