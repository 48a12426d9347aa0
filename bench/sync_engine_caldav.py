"""The sync engine end to end on a real Radicale and a throwaway PostgreSQL database.

Imported by ``bench/sync_engine.py``, which prints these figures after the planner's:
- initial sync of source events into one target (default 5,000; `MULTICAL_BENCH_INITIAL` sets it):
  our own CPU per event (time.process_time of this process: the server's work is not counted;
  target <= 2 ms). Radicale checks a new item's UID against every item of the collection, so its
  writes slow down as the target fills: 5,000 blocks take it many minutes, while our CPU per event
  stays flat — a smaller figure measures the same overhead sooner;
- incremental sync after 1 changed event at 100 vs 10,000 source events: CPU time ratio (target
  <= 1.2) and request counts (target: the same);
- requests per changed event.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROUNDS = 7
INITIAL_EVENTS = int(os.environ.get("MULTICAL_BENCH_INITIAL", "5000"))


def _event(number: int, start: datetime, revision: int = 0) -> str:
    begin = start + timedelta(days=(number * 3) % 55, hours=7 + number % 10)
    # One event in 50 carries the word the incremental rules copy (see _measure).
    tag = " tracked" if number % 50 == 0 else ""
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:bench-{number}\r\nDTSTAMP:20260101T000000Z\r\nSEQUENCE:{revision}\r\n"
        f"DTSTART:{begin:%Y%m%dT%H%M%SZ}\r\nDTEND:{begin + timedelta(minutes=30 + revision):%Y%m%dT%H%M%SZ}\r\n"
        f"SUMMARY:Meeting {number}{tag}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


@contextmanager
def _django() -> Iterator[None]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django
    from django.db import connection
    from django.test.utils import setup_test_environment

    django.setup()
    setup_test_environment()
    original = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)


class _RequestCounter:
    def __init__(self) -> None:
        import niquests

        self.count = 0
        self._session_class = niquests.Session
        self._send = niquests.Session.send

    def __enter__(self) -> _RequestCounter:
        counter, send = self, self._send

        def counting_send(session, request, **kwargs):  # type: ignore[no-untyped-def]
            counter.count += 1
            return send(session, request, **kwargs)

        self._session_class.send = counting_send
        return self

    def __exit__(self, *exc: object) -> None:
        self._session_class.send = self._send


def bench_engine() -> list[str]:
    with _django(), tempfile.TemporaryDirectory() as folder:
        from tests.caldav_servers import RadicaleServer

        server = RadicaleServer(Path(folder))
        server.start()
        try:
            return _measure(server)
        finally:
            server.stop()


def _measure(server) -> list[str]:  # type: ignore[no-untyped-def]
    from calendars.models import Calendar
    from syncrules import engine
    from syncrules.models import Block
    from tests.factories import UserFactory
    from tests.syncrules.world import make_world

    user = UserFactory(email="bench@example.com")
    world = make_world(
        server, user, ["Source 100", "Source 10000", "Source initial", "Target", "Target 2"]
    )
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    for name, size in (
        ("Source 100", 100),
        ("Source 10000", 10_000),
        ("Source initial", INITIAL_EVENTS),
    ):
        for number in range(size):
            server.write_object_file(world.url(name), f"bench-{number}.ics", _event(number, start))
    world.rule(["Source initial"], ["Target"], lookahead_days=60)
    # The incremental rules read and plan every event but copy one in 50, so that setting them
    # up does not mean writing 10,000 blocks first; the changed event is one that is copied.
    for name in ("Source 100", "Source 10000"):
        world.rule([name], ["Target 2"], lookahead_days=60, include_keywords=["tracked"])
    for name in ("Source 100", "Source 10000", "Source initial"):
        # Radicale indexes files written behind its back at the first listing: do that unmeasured.
        with server.client(world.account) as client:
            client.request("PROPFIND", world.url(name), headers={"Depth": "1"}, timeout=600)

    def sync(name: str, *, full: bool = False) -> tuple[float, int]:
        calendar = Calendar.objects.select_related("connection").get(id=world.calendars[name].id)
        with _RequestCounter() as counter:
            began = time.process_time()
            engine.sync_source_calendar(calendar, full=full)
            return time.process_time() - began, counter.count

    lines = [
        "sync engine on Radicale (our CPU: time.process_time of this process, server excluded)"
    ]
    wall = time.perf_counter()
    cpu, requests = sync("Source initial")
    wall = time.perf_counter() - wall
    created = Block.objects.filter(source_calendar=world.calendars["Source initial"]).count()
    per_event = cpu * 1000 / max(created, 1)
    lines.append(
        f"  initial sync, {INITIAL_EVENTS:,} events: {created:,} blocks, {requests:,} requests, {wall:.1f} s wall, "
        f"{cpu * 1000:,.0f} ms CPU = {per_event:.2f} ms per event (target <= 2 ms: {'ok' if per_event <= 2 else 'MISSED'})"
    )

    results = {}
    for name, size in (("Source 100", 100), ("Source 10000", 10_000)):
        sync(name)  # the initial sync, not measured
        samples, counts = [], []
        for revision in range(1, ROUNDS + 1):
            world.put_raw(name, f"bench-{size // 2}", _event(size // 2, start, revision))
            cpu, requests = sync(name)
            samples.append(cpu)
            counts.append(requests)
        results[size] = (statistics.median(samples), counts)
        lines.append(
            f"  after 1 change, {size:>6,} source events: median {statistics.median(samples) * 1000:.1f} ms CPU, "
            f"requests {sorted(set(counts))}"
        )
    ratio = results[10_000][0] / results[100][0]
    same = set(results[10_000][1]) == set(results[100][1])
    lines.append(
        f"  ratio 10,000 / 100: {ratio:.2f} (target <= 1.2: {'ok' if ratio <= 1.2 else 'MISSED'})"
    )
    lines.append(f"  same request count: {'ok' if same else 'MISSED'}")
    lines.append(
        f"  requests per changed event: {statistics.median(results[100][1]):.0f} (source: ctag, sync-collection, multiget; target: the block's ETag, then the PUT)"
    )
    return lines
