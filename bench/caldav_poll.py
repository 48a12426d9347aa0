"""What a CalDAV poll costs us: HTTP requests and our own CPU time, on a real Radicale.

    .venv/bin/python bench/caldav_poll.py [--rounds N]

Starts Radicale on loopback with two calendars written straight into its storage (100 and 5,000
events, a tenth of them weekly series), then measures with ``time.process_time`` of this process
(the server's work is not counted), each poll with a provider built from secrets as a sync task
does:
- an idle poll of the 5,000-event calendar (target: 1 request, < 20 ms);
- a poll after another client changed one event, at 100 and at 5,000 events (target: the same
  number of requests, time ratio <= 1.2), and as a control the 100-event poll again with the
  5,000-event calendar's server latency added: Radicale answers that calendar ~200 ms slower per
  request, and waiting longer alone costs this process CPU time, which is not our code's work.
No database: Django is configured with the one setting the outbound check reads.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from django.conf import settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


settings.configure(OUTBOUND_ALLOW_LOOPBACK=True)

from integrations.base import Window  # noqa: E402
from integrations.caldav import dav  # noqa: E402
from integrations.caldav.provider import CalDAVProvider  # noqa: E402
from tests.caldav_servers import Account, RadicaleServer  # noqa: E402

USER, PASSWORD = "bench", "bench-password"
SIZES = (100, 5000)
WINDOW = Window(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 7, 1, tzinfo=UTC))


def event_text(number: int, *, revision: int = 0) -> str:
    start = WINDOW.start + timedelta(hours=7 + number % 11, days=(number * 7) % 180)
    rule = "RRULE:FREQ=WEEKLY;COUNT=10\r\n" if number % 10 == 0 else ""
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:event-{number}\r\nDTSTAMP:20300101T000000Z\r\nSEQUENCE:{revision}\r\n"
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDTEND:{start + timedelta(minutes=45):%Y%m%dT%H%M%SZ}\r\n"
        f"{rule}SUMMARY:Meeting {number} (revision {revision})\r\nLOCATION:Room {number % 40}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def write_calendar(storage: Path, name: str, size: int) -> None:
    """Radicale's layout: a folder per collection, its properties in .Radicale.props, one .ics per item."""
    folder = storage / "collection-root" / USER / name
    folder.mkdir(parents=True)
    (folder / ".Radicale.props").write_text(json.dumps({"tag": "VCALENDAR", "D:displayname": name}))
    for number in range(size):
        (folder / f"event-{number}.ics").write_text(event_text(number))


@dataclass
class Poll:
    cursor: str
    requests: int
    cpu_ms: float
    http_ms: float  # the part of cpu_ms spent inside HTTP exchanges (the HTTP library, sockets)
    wall_ms: float
    received: int  # response bytes
    events: int


class _HTTPProbe:
    """Wraps the provider's HTTP exchanges: counts the CPU time spent in them, and can make the
    server seem slower (``delay`` seconds of waiting before each request) for the control run."""

    seconds = 0.0
    delay = 0.0

    @classmethod
    def install(cls) -> None:
        send = dav.DAVSession._send

        def probed_send(session, *args):
            if cls.delay:
                time.sleep(cls.delay)
            started = time.process_time()
            try:
                return send(session, *args)
            finally:
                cls.seconds += time.process_time() - started

        dav.DAVSession._send = probed_send


def poll(account: Account, calendar_url: str, cursor: str) -> Poll:
    """One poll with a fresh provider, as a sync task makes it (collector paused while timed)."""
    gc.collect()
    gc.disable()
    _HTTPProbe.seconds = 0.0
    wall = time.perf_counter()
    started = time.process_time()
    provider = CalDAVProvider.from_secrets(account.secrets)
    changes = provider.changes(calendar_url, cursor, WINDOW)
    elapsed = (time.process_time() - started) * 1000
    wall_ms = (time.perf_counter() - wall) * 1000
    gc.enable()
    provider.close()
    return Poll(
        changes.next_cursor,
        provider.request_count,
        elapsed,
        _HTTPProbe.seconds * 1000,
        wall_ms,
        provider.received_bytes,
        len(changes.events),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="polls measured per figure (median)")
    rounds = parser.parse_args().rounds
    _HTTPProbe.install()

    with tempfile.TemporaryDirectory(prefix="caldav-bench-") as folder:
        server = RadicaleServer(Path(folder))
        server.add_user(USER, PASSWORD)
        loaded = time.monotonic()
        for size in SIZES:
            write_calendar(server.storage, f"events-{size}", size)
        server.start()
        print(
            f"Radicale on {server.url}: {sum(SIZES):,} events written in {time.monotonic() - loaded:.1f} s"
        )
        account = Account(server.url, USER, PASSWORD)
        try:
            return measure(server, account, rounds)
        finally:
            server.stop()


def warm_up(server: RadicaleServer, account: Account, url: str) -> None:
    """Radicale parses and caches every item at its first listing: let it, untimed and unlimited."""
    body = (
        '<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
        '<d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR"/></c:filter></c:calendar-query>'
    )
    with server.client(account) as client:
        client.timeout = httpx.Timeout(600)
        client.request(
            "REPORT", url, content=body, headers={"Depth": "1", "Content-Type": "application/xml"}
        )


def measure(server: RadicaleServer, account: Account, rounds: int) -> int:
    calendars = {size: f"{server.url}{USER}/events-{size}/" for size in SIZES}
    for url in calendars.values():
        warm_up(server, account, url)
    cursors = {}
    for size, url in calendars.items():
        started = time.monotonic()
        first = poll(account, url, "")
        cursors[size] = first.cursor
        print(
            f"first read, {size:>5} events: {first.requests} requests, {first.cpu_ms:7.1f} ms CPU, "
            f"{first.events:,} instances in the window ({time.monotonic() - started:.1f} s wall)"
        )

    large, small = max(SIZES), min(SIZES)
    idle = [poll(account, calendars[large], cursors[large]) for _ in range(rounds)]
    changed: dict[int, list[Poll]] = {size: [] for size in SIZES}
    for revision in range(1, rounds + 1):
        # The same event in both calendars, so the change itself is the same work.
        number = (revision * 37) % small
        for size, url in calendars.items():
            server.put_object(
                account, url, f"event-{number}.ics", event_text(number, revision=revision)
            )
            result = poll(account, url, cursors[size])
            assert result.events >= 1, "the change did not arrive"
            cursors[size] = result.cursor
            changed[size].append(result)

    # Control: the small calendar again, with the large one's server latency added, to tell the
    # calendar's size from the server's slowness (waiting longer costs a process CPU time too).
    latency = {
        size: statistics.median(p.wall_ms / p.requests for p in changed[size]) for size in SIZES
    }
    _HTTPProbe.delay = max(0.0, latency[large] - latency[small]) / 1000
    matched = []
    for revision in range(rounds + 1, 2 * rounds + 1):
        number = (revision * 37) % small
        server.put_object(
            account, calendars[small], f"event-{number}.ics", event_text(number, revision=revision)
        )
        result = poll(account, calendars[small], cursors[small])
        cursors[small] = result.cursor
        matched.append(result)
    _HTTPProbe.delay = 0.0

    print()
    print(f"idle poll, {large:,} events:             {describe(idle)}")
    for size in SIZES:
        print(f"poll after 1 change, {size:>5} events: {describe(changed[size])}")
    print(
        f"control, {small} events, server made as slow as with {large:,} "
        f"(+{_delay_ms(latency, large, small):.0f} ms per request): {describe(matched)}"
    )
    idle_ms = statistics.median(p.cpu_ms for p in idle)
    large_ms = statistics.median(p.cpu_ms for p in changed[large])
    ratio = large_ms / statistics.median(p.cpu_ms for p in changed[small])
    own_ratio = statistics.median(p.cpu_ms - p.http_ms for p in changed[large]) / statistics.median(
        p.cpu_ms - p.http_ms for p in changed[small]
    )
    print(f"CPU time ratio after 1 change, {large:,} / {small} events: {ratio:.2f}")
    print(f"  without the HTTP exchanges (parsing, expansion, ids): {own_ratio:.2f}")
    print(
        f"  against the control with the same server latency: "
        f"{large_ms / statistics.median(p.cpu_ms for p in matched):.2f}"
    )
    print()
    checks = [
        ("idle poll is 1 request", {p.requests for p in idle} == {1}),
        ("idle poll under 20 ms CPU", idle_ms < 20),
        (
            f"same requests after 1 change at {small} and {large:,} events",
            {p.requests for p in changed[small]} == {p.requests for p in changed[large]},
        ),
        ("CPU time ratio <= 1.2", ratio <= 1.2),
    ]
    for name, passed in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {name}")
    return 0 if all(passed for _, passed in checks) else 1


def _delay_ms(latency: dict[int, float], large: int, small: int) -> float:
    return max(0.0, latency[large] - latency[small])


def describe(polls: list[Poll]) -> str:
    requests = sorted({p.requests for p in polls})
    received = statistics.median(p.received for p in polls)
    events = statistics.mean(p.events for p in polls)
    cpu = statistics.median(p.cpu_ms for p in polls)
    http = statistics.median(p.http_ms for p in polls)
    own = statistics.median(p.cpu_ms - p.http_ms for p in polls)
    return (
        f"requests {requests}, {received:,.0f} bytes received, {events:.1f} instances, "
        f"median CPU {cpu:5.2f} ms (HTTP exchanges {http:4.2f} ms, the rest {own:4.2f} ms)"
    )


if __name__ == "__main__":
    sys.exit(main())
