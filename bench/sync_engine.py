"""What the sync engine costs us, section by section.

    .venv/bin/python bench/sync_engine.py

- Planner: throughput of ``syncrules.planner.plan`` on a 10,000-event calendar (a realistic mix:
  weekly series, all-day events, some free, declined and tentative ones, links in descriptions,
  keyword and working-hour filters on, then every event copied with full details), each as a first
  plan with no blocks yet and as a full plan against a block for every copied event with identical
  fingerprints (the steady state of a nightly reconciliation). Target: >= 50,000 events/s.
- The engine on a real Radicale and a throwaway database (see ``bench/sync_engine_caldav.py``).
Each section is a function returning its lines; ``main`` calls them in order and prints them.
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from integrations.base import (
    EventStatus,
    RemoteEvent,
    Response,
    Transparency,
    Window,
)
from syncrules.planner import plan
from syncrules.planning import ExistingBlock, Handling, Plan, RuleOptions, RuleSpec, Visibility

PLANNER_EVENTS = 10_000
PLANNER_TARGET_RATE = 50_000  # events/s
ROUNDS = 7
WINDOW = Window(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 3, 2, tzinfo=UTC))
KEY = b"bench-fingerprint-key-0123456789"
OPTIONS = RuleOptions(
    visibility=Visibility.TITLE,
    busy_title="Busy (client work)",
    show_location=True,
    exclude_keywords=("private", "dentist", "personal"),
    tentative=Handling.BUSY,
    all_day=Handling.BUSY,
    working_hours=(clock(7), clock(21)),
    time_zone=ZoneInfo("Europe/Berlin"),
)
COPY_EVERYTHING = RuleOptions(
    visibility=Visibility.FULL,
    show_location=True,
    skip_declined=False,
    skip_free=False,
    all_day=Handling.BUSY,
)
TITLES = [
    "Standup",
    "Client sync: Globex",
    "1:1 with Sam",
    "Design review",
    "Private: dentist",
    "Quarterly planning",
    "Lunch",
    "Interview - backend",
]
LINKS = [
    "https://meet.google.com/abc-defg-hij",
    "https://us02web.zoom.us/j/81234567890?pwd=Zk9Xc3",
    "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NzI1YjQ5%40thread.v2/0",
]


def planner_calendar(size: int, *, seed: int = 7) -> list[RemoteEvent]:
    """``size`` events: 60% instances of weekly series, 5% all-day, ~8% free, ~5% declined."""
    rng = random.Random(seed)
    events = []
    for number in range(size):
        day = rng.randrange(60)
        start = WINDOW.start + timedelta(
            days=day, hours=6 + rng.randrange(14), minutes=15 * rng.randrange(4)
        )
        series_id = f"series-{number % 600}" if number % 10 < 6 else f"single-{number}"
        link = rng.choice(LINKS) if rng.random() < 0.4 else ""
        description = (
            f"Agenda: item one, item two, item three.\nJoin: {link}\nDial-in +1 555 0100"
            if rng.random() < 0.5
            else ""
        )
        fields = {
            "status": EventStatus.TENTATIVE if rng.random() < 0.05 else EventStatus.CONFIRMED,
            "transparency": Transparency.FREE if rng.random() < 0.08 else Transparency.BUSY,
            "response": Response.DECLINED if rng.random() < 0.05 else Response.ACCEPTED,
            "title": rng.choice(TITLES),
            "description": description,
            "location": f"Room {number % 40} {link}".strip(),
            "video_link": link,
        }
        if rng.random() < 0.05:
            midnight = datetime(start.year, start.month, start.day, tzinfo=UTC)
            events.append(
                RemoteEvent(
                    id=f"event-{number}",
                    series_id=series_id,
                    start=midnight,
                    end=midnight + timedelta(days=1),
                    all_day=True,
                    **fields,
                )
            )
        else:
            events.append(
                RemoteEvent(
                    id=f"event-{number}",
                    series_id=series_id,
                    start=start,
                    end=start + timedelta(minutes=rng.choice((15, 30, 45, 60, 90))),
                    **fields,
                )
            )
    return events


def timed(run: Callable[[], object]) -> tuple[list[float], object]:
    """Wall-clock seconds of ``ROUNDS`` runs (after a warm-up), and the last run's result."""
    result = run()
    seconds = []
    for _ in range(ROUNDS):
        gc.collect()
        started = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - started)
    return seconds, result


def planner_runs(
    events: list[RemoteEvent], options: RuleOptions
) -> tuple[list[float], list[float], Plan, int]:
    """Timings of a first plan (no blocks) and of a full plan against a block per copied event."""

    rule = RuleSpec(id="rule", options=options, targets=frozenset({"target"}), window=WINDOW)

    def full_plan(existing: list[ExistingBlock]) -> Plan:
        return plan(rules=[rule], events=events, existing=existing, key=KEY, full=True)

    first_seconds, first = timed(lambda: full_plan([]))
    existing = [
        ExistingBlock(
            id=f"block-{number}",
            source_event_id=create.event.id,
            source_series_id=create.event.series_id,
            target_calendar_id=create.target_calendar_id,
            fingerprint=create.fingerprint,
            rule_id=create.rule_id,
        )
        for number, create in enumerate(first.creates)
    ]
    steady_seconds, steady = timed(lambda: full_plan(existing))
    assert not (steady.creates or steady.updates or steady.deletes), "steady state must be a no-op"
    assert steady.unchanged == len(existing)
    return first_seconds, steady_seconds, first, len(existing)


def rate_line(label: str, seconds: list[float]) -> str:
    best, median = min(seconds), statistics.median(seconds)
    rate = PLANNER_EVENTS / median
    verdict = "ok" if rate >= PLANNER_TARGET_RATE else "BELOW TARGET"
    return (
        f"  {label:<44} {best * 1000:6.1f} / {median * 1000:6.1f} ms  "
        f"{PLANNER_EVENTS / best:>9,.0f} / {rate:>9,.0f} events/s  "
        f"(target >= {PLANNER_TARGET_RATE:,}: {verdict})"
    )


def bench_planner() -> list[str]:
    events = planner_calendar(PLANNER_EVENTS)
    lines = [
        f"planner: {PLANNER_EVENTS:,} events, 1 target; ms and events/s as best / median of {ROUNDS} runs"
    ]

    first_seconds, steady_seconds, first, blocks = planner_runs(events, OPTIONS)
    lines.append(f" with filters on ({len(first.creates):,} copied, {len(first.skips):,} skipped):")
    lines.append(rate_line("first plan, no blocks yet", first_seconds))
    lines.append(rate_line(f"full plan, {blocks:,} unchanged blocks", steady_seconds))

    # Every event copied: the most rendering and fingerprinting a 10,000-event calendar can cost.
    first_seconds, steady_seconds, first, blocks = planner_runs(events, COPY_EVERYTHING)
    lines.append(f" with filters off ({len(first.creates):,} copied):")
    lines.append(rate_line("first plan, no blocks yet", first_seconds))
    lines.append(rate_line(f"full plan, {blocks:,} unchanged blocks", steady_seconds))
    return lines


def main() -> None:
    for line in bench_planner():
        print(line, flush=True)
    from bench.sync_engine_caldav import bench_engine

    for line in bench_engine():
        print(line, flush=True)


if __name__ == "__main__":
    main()
