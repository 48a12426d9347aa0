"""A full read on a slow server: listed in time-range chunks that each answer in time, every object
fetched once, progress told as it goes; the sync token asked apart, and again when it failed."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin, urlsplit

import pytest
from django.core.cache import cache

from integrations.base import ProviderError, Window
from integrations.caldav import client
from integrations.caldav.provider import CalDAVProvider
from integrations.caldav.sync import FAST_SHARE, Pace
from tests.caldav_servers import Account, RadicaleServer
from tests.fault_proxy import FaultProxy
from tests.integrations.caldav.scripted_server import ScriptedServer, multistatus
from tests.integrations.caldav.slow_proxy import SlowProxy, running_slow_proxy
from tests.integrations.caldav.test_transport import calendar_state, provider_for

WINDOW = Window(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 3, 1, tzinfo=UTC))
DAYS = 59
PER_DAY = 3
# One listing of the whole window (178 objects) takes about 3.6 s behind the proxy, a 14-day
# chunk (about 43) under a second: the timeout lies between.
TIMEOUT = 2.0
PER_OBJECT = 0.02


def event(uid: str, start: datetime, *, extra: str = "") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other client//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20300101T000000Z\r\n"
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDTEND:{start + timedelta(minutes=30):%Y%m%dT%H%M%SZ}\r\n"
        f"SUMMARY:Planning\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


# The pace of a long read ------------------------------------------------------------------------


def test_a_timeout_halves_the_next_request_down_to_the_floor_then_gives_up():
    pace = Pace(size=14, floor=3, ceiling=100)

    assert [pace.slowed(), pace.size] == [True, 7]
    assert [pace.slowed(), pace.size] == [True, 3.5]
    assert [pace.slowed(), pace.size] == [True, 3]
    assert [pace.slowed(), pace.size] == [False, 3]


def test_fast_answers_double_the_next_request_up_to_the_ceiling():
    pace = Pace(size=14, floor=1, ceiling=40)

    pace.answered(0.1, timeout=10)
    assert pace.size == 28
    pace.answered(0.1, timeout=10)
    assert pace.size == 40


def test_an_answer_that_is_not_fast_keeps_the_size():
    pace = Pace(size=14, floor=1, ceiling=100)

    pace.answered(10 * FAST_SHARE, timeout=10)

    assert pace.size == 14


# A large calendar behind a slow server ----------------------------------------------------------


@pytest.fixture
def account(radicale_server: RadicaleServer) -> Account:
    return radicale_server.new_account()


@pytest.fixture
def slow(radicale_server: RadicaleServer, monkeypatch) -> Iterator[SlowProxy]:
    monkeypatch.setattr(client, "TIMEOUT", TIMEOUT)
    with running_slow_proxy(radicale_server.url, per_object=PER_OBJECT) as proxy:
        yield proxy


@pytest.fixture
def big_calendar(radicale_server: RadicaleServer, account: Account) -> str:
    """Three events a day through the window, and a daily series across all of it."""
    url = radicale_server.create_calendar(account, "Big")
    for day in range(DAYS):
        for slot in range(PER_DAY):
            start = WINDOW.start + timedelta(days=day, hours=8 + 2 * slot)
            radicale_server.put_object(
                account, url, f"e-{day}-{slot}.ics", event(f"e-{day}-{slot}", start)
            )
    daily = event("daily", WINDOW.start + timedelta(hours=7), extra="RRULE:FREQ=DAILY\r\n")
    radicale_server.put_object(account, url, "daily.ics", daily)
    return url


def through(proxy_url: str, calendar_url: str) -> str:
    return urljoin(proxy_url, urlsplit(calendar_url).path)


def test_a_calendar_too_large_for_one_request_is_read_in_chunks_each_event_once(
    slow, account, big_calendar
):
    provider = CalDAVProvider.from_secrets({**account.secrets, "server_url": slow.url})
    url = through(slow.url, big_calendar)
    with pytest.raises(ProviderError, match="did not answer in time"):
        provider.busy([url], WINDOW)  # one calendar-query for the whole window
    reached: list[datetime] = []
    provider.report_progress(reached.append)
    slow.seen.clear()

    changes = provider.changes(url, "", WINDOW)

    ids = [e.id for e in changes.events]
    assert changes.full_resync
    assert len(ids) == len(set(ids)) == DAYS * PER_DAY + DAYS
    assert Counter(e.series_id.rsplit("/", 1)[-1] for e in changes.events)["daily.ics"] == DAYS
    assert reached == sorted(reached) and len(reached) >= 3
    assert WINDOW.start < reached[0] and reached[-1] < WINDOW.end
    fetched = Counter(
        href.decode()
        for method, body in slow.seen
        if b"calendar-multiget" in body
        for href in re.findall(rb"<d:href>([^<]+)</d:href>", body)
    )
    assert len(fetched) == DAYS * PER_DAY + 1 and set(fetched.values()) == {1}
    assert json.loads(changes.next_cursor)["sync_token"]


# The sync token, asked apart -----------------------------------------------------------------


def token_failing(radicale_server, account, fault_proxy: FaultProxy, failure: float | int):
    """A calendar of one event behind the proxy, whose second PROPFIND of each round (a first
    read's ask for the token alone) gets ``failure``: a status, or seconds of stall. The
    calendar's address, a provider through the proxy, and the address through it."""
    calendar_url = radicale_server.create_calendar(account, "Work")
    radicale_server.put_object(
        account, calendar_url, "a.ics", event("a", WINDOW.start + timedelta(days=3, hours=9))
    )
    provider = CalDAVProvider.from_secrets({**account.secrets, "server_url": fault_proxy.url})
    fault_proxy.fault = lambda method, path, count: (
        failure if method == "PROPFIND" and count == 2 else None
    )
    return calendar_url, provider, through(fault_proxy.url, calendar_url)


@pytest.mark.parametrize("failure", [500, 1.5], ids=["server error", "timeout"])
def test_a_token_that_failed_does_not_fail_the_read_and_is_asked_again_next_poll(
    radicale_server, account, fault_proxy: FaultProxy, monkeypatch, failure
):
    monkeypatch.setattr(client, "TIMEOUT", 1.0)
    calendar_url, provider, url = token_failing(radicale_server, account, fault_proxy, failure)

    first = provider.changes(url, "", WINDOW)

    assert [e.start.day for e in first.events] == [4]
    assert json.loads(first.next_cursor).get("token_wanted") is True
    fault_proxy.reset()

    asked_again = provider.changes(url, first.next_cursor, WINDOW)

    assert asked_again.is_empty
    assert fault_proxy.seen == {"PROPFIND": 2}  # the token, then the ctag
    cursor = json.loads(asked_again.next_cursor)
    assert cursor["sync_token"] and "token_wanted" not in cursor
    fault_proxy.reset()

    idle = provider.changes(url, asked_again.next_cursor, WINDOW)

    assert idle.is_empty and idle.next_cursor == asked_again.next_cursor
    assert fault_proxy.seen == {"PROPFIND": 1}
    radicale_server.put_object(
        account, calendar_url, "b.ics", event("b", WINDOW.start + timedelta(days=5, hours=9))
    )
    changed = provider.changes(url, idle.next_cursor, WINDOW)
    assert not changed.full_resync and [e.start.day for e in changed.events] == [6]


def test_a_token_failing_again_is_asked_once_a_poll_and_a_change_is_read_in_full(
    radicale_server, account, fault_proxy: FaultProxy
):
    calendar_url, provider, url = token_failing(radicale_server, account, fault_proxy, 500)
    first = provider.changes(url, "", WINDOW)
    radicale_server.put_object(
        account, calendar_url, "b.ics", event("b", WINDOW.start + timedelta(days=5, hours=9))
    )
    fault_proxy.reset()
    # The token, asked first, fails again.
    fault_proxy.fault = lambda method, path, count: (
        500 if method == "PROPFIND" and count == 1 else None
    )

    changes = provider.changes(url, first.next_cursor, WINDOW)

    assert changes.full_resync
    assert sorted(e.start.day for e in changes.events) == [4, 6]
    assert fault_proxy.seen["PROPFIND"] == 2  # the token once, then the ctag
    assert json.loads(changes.next_cursor).get("token_wanted") is True


def test_a_collection_slow_even_for_its_ctag_is_waited_for_longer_on_the_next_attempt(
    monkeypatch,
):
    monkeypatch.setattr(client, "TIMEOUT", 0.5)

    def slow_state(request):  # type: ignore[no-untyped-def]
        time.sleep(0.8)  # longer than the timeout, shorter than twice it
        return calendar_state()

    with ScriptedServer() as server:
        server.routes[("PROPFIND", "/cal/")] = slow_state
        server.routes[("REPORT", "/cal/")] = lambda request: multistatus()
        url = f"{server.url}cal/"
        try:
            with pytest.raises(ProviderError) as raised:
                provider_for(server.url).changes(url, "", WINDOW)
            assert not raised.value.permanent  # retried later...

            read = provider_for(server.url).changes(url, "", WINDOW)  # ...with more patience
        finally:
            cache.delete("caldav:patience:" + hashlib.sha256(url.encode()).hexdigest()[:32])

    assert read.full_resync
