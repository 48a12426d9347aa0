"""What a public booking page costs us, section by section.

    .venv/bin/python bench/slots.py

- Slot computation: ``booking.slots.available_slots`` over a 60-day horizon for an owner with
  5 calendars of 2,000 random busy spans each (10,000 unmerged spans, seeded) and 200 bookings;
  hours Monday to Friday 09:00-12:30 and 13:30-17:00 in Europe/Berlin, 30-minute meetings on a
  15-minute grid, 10-minute buffers. The calendars draw their spans from one pool of 1,200
  events, as calendars kept in sync hold copies of each other's events (10,000 independent
  spans would leave no free minute in 60 days). Target: p95 <= 20 ms.
- Public page: gunicorn (3 sync workers, as the Dockerfile runs it) serving a host whose
  Radicale calendar holds 200 events; 1,000 month views from 20 concurrent clients (each with
  its own connection) with busy time cached: first as attendees without a session (whole pages
  kept a minute, ``booking.page_cache``), then with a session cookie (each page rendered, as an
  owner looking at their own page sees it). Target: p95 <= 150 ms.
- Double-booking storm: 100 attendees load the form for one time, then submit together; 20
  rounds. Target: exactly one booking each round.
Each section is a function returning its lines; ``main`` calls them in order and prints them.
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from booking.slots import Availability, available_slots
from integrations.base import Interval

SLOT_ROUNDS = 200
SLOT_TARGET_P95_MS = 20.0
HORIZON_DAYS = 60
CALENDARS = 5
SPANS_PER_CALENDAR = 2_000
POOL = 1_200
BOOKINGS = 200
NOW = datetime(2030, 1, 7, 8, 13, tzinfo=UTC)
WORKDAY = [(9 * 60, 12 * 60 + 30), (13 * 60 + 30, 17 * 60)]
AVAILABILITY = Availability(
    time_zone=ZoneInfo("Europe/Berlin"),
    weekly_hours={weekday: WORKDAY for weekday in range(1, 6)},
    date_overrides={},
    buffer_before=timedelta(minutes=10),
    buffer_after=timedelta(minutes=10),
    minimum_notice=timedelta(hours=4),
    horizon_days=HORIZON_DAYS,
    increment=timedelta(minutes=15),
)


def random_spans(rng: random.Random, count: int, minutes: tuple[int, ...]) -> list[Interval]:
    """``count`` spans starting on a 5-minute grid anywhere in the horizon, in random order."""
    spans = []
    for _ in range(count):
        start = NOW + timedelta(minutes=5 * rng.randrange(HORIZON_DAYS * 24 * 12))
        spans.append(Interval(start, start + timedelta(minutes=rng.choice(minutes))))
    return spans


def slot_computation() -> list[str]:
    rng = random.Random(2030)
    pool = random_spans(rng, POOL, (15, 30, 45, 60, 90))
    # Each calendar's spans are objects of their own, as read from the cache or a provider.
    busy = [
        Interval(span.start + timedelta(0), span.end + timedelta(0))
        for _ in range(CALENDARS)
        for span in rng.choices(pool, k=SPANS_PER_CALENDAR)
    ]
    bookings = random_spans(rng, BOOKINGS, (30,))

    def run() -> list[datetime]:
        return available_slots(
            AVAILABILITY,
            duration=timedelta(minutes=30),
            now=NOW,
            busy=busy,
            bookings=bookings,
        )

    slots = run()
    milliseconds = []
    for _ in range(SLOT_ROUNDS):
        gc.collect()
        started = time.perf_counter()
        run()
        milliseconds.append((time.perf_counter() - started) * 1000)
    p50, p95 = statistics.median(milliseconds), statistics.quantiles(milliseconds, n=20)[-1]
    verdict = "ok" if p95 <= SLOT_TARGET_P95_MS else "ABOVE TARGET"
    return [
        f"slot computation: {HORIZON_DAYS} days, {CALENDARS} calendars x "
        f"{SPANS_PER_CALENDAR:,} busy spans, {BOOKINGS} bookings; {len(slots):,} slots offered",
        f"  p50 {p50:6.2f} ms   p95 {p95:6.2f} ms   max {max(milliseconds):6.2f} ms   "
        f"over {SLOT_ROUNDS} runs (target p95 <= {SLOT_TARGET_P95_MS:.0f} ms: {verdict})",
    ]


def public_page_and_storm() -> list[str]:
    # Imported here: these sections need Django, a database and a CalDAV server.
    from bench.booking_web import booking_site, page_latency, storm
    from bench.harness import throwaway_database

    with (
        throwaway_database(),
        tempfile.TemporaryDirectory() as folder,
        booking_site(Path(folder)) as site,
    ):
        return page_latency(site) + storm(site)


def main() -> None:
    for section in (slot_computation, public_page_and_storm):
        for line in section():
            print(line, flush=True)


if __name__ == "__main__":
    main()
