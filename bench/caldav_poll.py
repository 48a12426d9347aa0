"""What a CalDAV poll costs us: HTTP requests and our own CPU time, on a real Radicale.

    .venv/bin/python bench/caldav_poll.py [--rounds N]

Starts Radicale on loopback with two calendars written straight into its storage (100 and 5,000
events, a tenth of them weekly series), then measures with ``time.process_time`` of this process
(the server's work is not counted), each poll with a provider built from secrets as a sync task
does:
- an idle poll of the 5,000-event calendar (target: 1 request, < 20 ms);
- a poll after another client changed one event, at 100 and at 5,000 events (target: the same
  number of requests, time ratio <= 1.2).

Radicale answers for the 5,000-event calendar ~200 ms later per request, and on a virtual machine
work done after such a wait costs more CPU time than the same work done straight away (the
``wake-up cost`` line shows it on pure computation). So the ratio is judged with the calendars
behind ``latency_proxy.py``, which answers every request 400 ms after it arrived: the two then
differ in size only. The ratio against Radicale directly is printed too.
No database: Django is configured with the one setting the outbound check reads.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


settings.configure(OUTBOUND_ALLOW_LOOPBACK=True, OUTBOUND_ALLOWED_NETWORKS=[])

from bench.harness import radicale_with_calendars, warm_up  # noqa: E402
from bench.latency_proxy import LatencyProxy  # noqa: E402
from integrations.base import Window  # noqa: E402
from integrations.caldav import client as dav  # noqa: E402
from integrations.caldav.provider import CalDAVProvider  # noqa: E402
from tests.caldav_servers import Account, RadicaleServer  # noqa: E402

USER, PASSWORD = "bench", "bench-password"
SIZES = (100, 5000)
HOLD_MS = 400  # the equal server latency; Radicale answers the 5,000-event calendar within ~300 ms
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
    """Wraps the provider's HTTP exchanges to count the CPU time spent in them."""

    seconds = 0.0

    @classmethod
    def install(cls) -> None:
        send = dav.DAVSession._send

        def probed_send(session, *args):
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

    with radicale_with_calendars(
        prefix="caldav-bench-", user=USER, password=PASSWORD, sizes=SIZES, write=write_calendar
    ) as (server, loaded):
        print(f"Radicale on {server.url}: {sum(SIZES):,} events written in {loaded:.1f} s")
        return measure(server, Account(server.url, USER, PASSWORD), rounds)


def measure(server: RadicaleServer, account: Account, rounds: int) -> int:
    calendars = calendar_urls(server.url)
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
    direct = polls_after_changes(server, account, cursors, range(1, rounds + 1))
    with LatencyProxy(server.url, HOLD_MS) as proxy:
        held = polls_after_changes(
            server,
            Account(proxy.url, USER, PASSWORD),
            cursors,
            range(rounds + 1, 2 * rounds + 1),
        )
        late = proxy.late()

    print()
    print(f"idle poll, {large:,} events:             {describe(idle)}")
    for size in SIZES:
        print(f"poll after 1 change, {size:>5} events: {describe(direct[size])}")
    print(f"every answer {HOLD_MS} ms after its request ({late} later than that):")
    for size in SIZES:
        print(f"poll after 1 change, {size:>5} events: {describe(held[size])}")
    print(
        f"wake-up cost: a small computation takes {wake_up_cost():.2f}x the CPU time "
        f"after a {HOLD_MS} ms wait as straight after the previous one"
    )
    idle_ms = statistics.median(p.cpu_ms for p in idle)
    ratio = cpu_ratio(held, large, small)
    print(f"CPU time ratio after 1 change, {large:,} / {small} events: {ratio:.2f}")
    print(f"  against Radicale directly: {cpu_ratio(direct, large, small):.2f}")
    own_ratio = statistics.median(p.cpu_ms - p.http_ms for p in held[large]) / statistics.median(
        p.cpu_ms - p.http_ms for p in held[small]
    )
    print(f"  without the HTTP exchanges (parsing, expansion, ids): {own_ratio:.2f}")
    print()
    checks = [
        ("idle poll is 1 request", {p.requests for p in idle} == {1}),
        ("idle poll under 20 ms CPU", idle_ms < 20),
        (
            f"same requests after 1 change at {small} and {large:,} events",
            {p.requests for p in direct[small]} == {p.requests for p in direct[large]},
        ),
        ("CPU time ratio <= 1.2", ratio <= 1.2 and late == 0),
    ]
    for name, passed in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {name}")
    return 0 if all(passed for _, passed in checks) else 1


def calendar_urls(base_url: str) -> dict[int, str]:
    return {size: f"{base_url}{USER}/events-{size}/" for size in SIZES}


def polls_after_changes(
    server: RadicaleServer, reader: Account, cursors: dict[int, str], revisions: range
) -> dict[int, list[Poll]]:
    """For each revision, another client changes the same event in both calendars (so the change
    itself is the same work) straight on the server, then ``reader`` polls each calendar once."""
    writer = Account(server.url, USER, PASSWORD)
    changed: dict[int, list[Poll]] = {size: [] for size in SIZES}
    for revision in revisions:
        number = (revision * 37) % min(SIZES)
        for size, url in calendar_urls(reader.server_url).items():
            server.put_object(
                writer,
                calendar_urls(server.url)[size],
                f"event-{number}.ics",
                event_text(number, revision=revision),
            )
            result = poll(reader, url, cursors[size])
            assert result.events >= 1, "the change did not arrive"
            cursors[size] = result.cursor
            changed[size].append(result)
    return changed


def cpu_ratio(polls: dict[int, list[Poll]], large: int, small: int) -> float:
    return statistics.median(p.cpu_ms for p in polls[large]) / statistics.median(
        p.cpu_ms for p in polls[small]
    )


def wake_up_cost(pause: float = HOLD_MS / 1000, rounds: int = 15) -> float:
    """CPU time of one fixed computation after a ``pause`` of sleep, over the same straight away."""

    def timed() -> float:
        started = time.thread_time()
        sum(len(str(number)) for number in range(1_000))  # ~0.1 ms
        return time.thread_time() - started

    straight = statistics.median(timed() for _ in range(rounds))
    after_waits = []
    for _ in range(rounds):
        time.sleep(pause)
        after_waits.append(timed())
    return statistics.median(after_waits) / straight


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
