"""CalDAV servers as they are in the wild, played by a real Radicale: a sync-collection that fails
with a server error, object names the server encodes its own way, moved instances stored as
objects of their own, and calendars that name no zone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import pytest

from integrations.base import Window
from integrations.caldav.provider import CalDAVProvider
from tests.caldav_servers import Account, RadicaleServer
from tests.fault_proxy import FaultProxy

WINDOW = Window(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 3, 1, tzinfo=UTC))


def at(day: int, hour: int, minute: int = 0, *, month: int = 1) -> datetime:
    return datetime(2030, month, day, hour, minute, tzinfo=UTC)


def event(uid: str, start: str, end: str, *, extra: str = "") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other client//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20300101T000000Z\r\n"
        f"DTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:Planning\r\n{extra}"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


@pytest.fixture
def account(radicale_server: RadicaleServer) -> Account:
    return radicale_server.new_account()


@pytest.fixture
def calendar_url(radicale_server: RadicaleServer, account: Account) -> str:
    return radicale_server.create_calendar(account, "Work")


@pytest.fixture
def make_provider() -> Iterator[Callable[..., CalDAVProvider]]:
    providers = []

    def make(account: Account, **changes: str) -> CalDAVProvider:
        provider = CalDAVProvider.from_secrets({**account.secrets, **changes})
        providers.append(provider)
        return provider

    yield make
    for provider in providers:
        provider.close()


# Item: a sync-collection answered with a server error -----------------------------------------


@pytest.mark.parametrize("status", [500, 507])
def test_a_sync_collection_failing_with_a_server_error_falls_back_to_a_full_listing(
    radicale_server, account, calendar_url, make_provider, fault_proxy: FaultProxy, status
):
    radicale_server.put_object(
        account, calendar_url, "a.ics", event("a-1", "20300115T100000Z", "20300115T110000Z")
    )
    provider = make_provider(account, server_url=fault_proxy.url)
    through_proxy = urljoin(fault_proxy.url, urlsplit(calendar_url).path)
    first = provider.changes(through_proxy, "", WINDOW)
    radicale_server.put_object(
        account, calendar_url, "b.ics", event("b-1", "20300116T100000Z", "20300116T110000Z")
    )
    fault_proxy.reset()
    # Only the sync-collection, the first REPORT after the ctag check, fails.
    fault_proxy.fault = lambda method, path, count: (
        status if method == "REPORT" and count == 1 else None
    )

    changes = provider.changes(through_proxy, first.next_cursor, WINDOW)

    assert changes.full_resync
    assert sorted(e.start for e in changes.events) == [at(15, 10), at(16, 10)]
    assert provider.changes(through_proxy, changes.next_cursor, WINDOW).is_empty


# Item: hrefs sent back as the server gave them ------------------------------------------------


def test_an_object_named_with_a_semicolon_is_edited_not_deleted(
    radicale_server, account, calendar_url, make_provider
):
    radicale_server.put_object(
        account,
        calendar_url,
        "semi%3Bcolon.ics",
        event("semi-1", "20300115T100000Z", "20300115T110000Z"),
    )
    provider = make_provider(account)
    first = provider.changes(calendar_url, "", WINDOW)
    radicale_server.put_object(
        account,
        calendar_url,
        "semi%3Bcolon.ics",
        event("semi-1", "20300117T140000Z", "20300117T150000Z"),
    )

    changes = provider.changes(calendar_url, first.next_cursor, WINDOW)

    [(series_id, _)] = [(e.series_id, e.start) for e in first.events]
    assert not changes.full_resync
    assert [(e.series_id, e.start) for e in changes.events] == [(series_id, at(17, 14))]
    assert changes.replaced_series == {series_id}


# Item: a moved instance stored as an object of its own (as Bedework stores it) ----------------

WEEKLY = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Bedework.org//BedeWork V3.9//EN\r\n"
    "BEGIN:VEVENT\r\nUID:weekly-b\r\nDTSTAMP:20300101T000000Z\r\n"
    "DTSTART:20300107T080000Z\r\nDTEND:20300107T090000Z\r\nRRULE:FREQ=WEEKLY;COUNT=5\r\n"
    "SUMMARY:Weekly\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def moved(day: int, hour: int) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Bedework.org//BedeWork V3.9//EN\r\n"
        "BEGIN:VEVENT\r\nUID:weekly-b\r\nDTSTAMP:20300101T000000Z\r\n"
        f"RECURRENCE-ID:20300114T080000Z\r\nDTSTART:203001{day:02}T{hour:02}0000Z\r\n"
        f"DTEND:203001{day:02}T{hour + 1:02}0000Z\r\nSUMMARY:Weekly (moved)\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def test_a_moved_instance_stored_as_its_own_object_takes_the_place_of_its_slot(
    radicale_server, account, calendar_url, make_provider
):
    series = radicale_server.put_object(account, calendar_url, "series.ics", WEEKLY)
    # Radicale refuses a second object with the same UID: written as another server stores it.
    radicale_server.write_object_file(calendar_url, "moved.ics", moved(15, 12))
    provider = make_provider(account)

    full = provider.changes(calendar_url, "", WINDOW)

    series_path = urlsplit(series).path
    assert sorted(e.start for e in full.events) == [
        at(7, 8),
        at(15, 12),
        at(21, 8),
        at(28, 8),
        at(4, 8, month=2),
    ]
    assert {e.series_id for e in full.events} == {series_path}
    assert f"{series_path}|weekly-b/20300114T080000Z" in {e.id for e in full.events}


def test_an_edited_series_keeps_its_instance_moved_into_another_object(
    radicale_server, account, calendar_url, make_provider
):
    series = radicale_server.put_object(account, calendar_url, "series.ics", WEEKLY)
    radicale_server.write_object_file(calendar_url, "moved.ics", moved(15, 12))
    provider = make_provider(account)
    first = provider.changes(calendar_url, "", WINDOW)
    radicale_server.write_object_file(
        calendar_url, "series.ics", WEEKLY.replace("SUMMARY:Weekly", "SUMMARY:Renamed")
    )

    changes = provider.changes(calendar_url, first.next_cursor, WINDOW)

    assert not changes.full_resync
    assert urlsplit(series).path in changes.replaced_series
    assert sorted((e.start, e.title) for e in changes.events) == [
        (at(7, 8), "Renamed"),
        (at(15, 12), "Weekly (moved)"),
        (at(21, 8), "Renamed"),
        (at(28, 8), "Renamed"),
        (at(4, 8, month=2), "Renamed"),
    ]


def test_a_moved_instance_moved_again_in_its_own_object_is_read_with_its_series(
    radicale_server, account, calendar_url, make_provider
):
    series = radicale_server.put_object(account, calendar_url, "series.ics", WEEKLY)
    radicale_server.write_object_file(calendar_url, "moved.ics", moved(15, 12))
    provider = make_provider(account)
    first = provider.changes(calendar_url, "", WINDOW)
    radicale_server.write_object_file(calendar_url, "moved.ics", moved(16, 13))

    changes = provider.changes(calendar_url, first.next_cursor, WINDOW)

    assert not changes.full_resync
    assert urlsplit(series).path in changes.replaced_series
    assert sorted(e.start for e in changes.events) == [
        at(7, 8),
        at(16, 13),
        at(21, 8),
        at(28, 8),
        at(4, 8, month=2),
    ]


# Item: floating times in a calendar that names no zone ---------------------------------------


def test_floating_times_in_a_calendar_without_a_zone_are_read_in_the_owners_zone(
    radicale_server, account, calendar_url, make_provider
):
    radicale_server.put_object(
        account, calendar_url, "floating.ics", event("f-1", "20300110T090000", "20300110T100000")
    )
    provider = make_provider(account, time_zone="America/New_York")

    (found,) = provider.changes(calendar_url, "", WINDOW).events

    assert (found.start, found.end) == (at(10, 14), at(10, 15))
