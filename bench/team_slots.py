"""What a team booking page's slot computation costs, and how evenly round-robin shares bookings.

    .venv/bin/python bench/team_slots.py

- Slot computation: ``booking.team_slots.collective_slots`` and ``round_robin_slots`` over a
  60-day horizon for 5 members in 5 zones (Berlin, London, Lisbon, Helsinki, New York), each
  with 2,000 random busy spans of 15-120 minutes (5 calendars of 400 spans drawn from a pool of
  300 events of the member's, so calendars kept in sync hold copies of one another's events and
  spans overlap), 50 bookings (30 of them on this page, which caps each member at 6 a day),
  10-minute buffers, hours Monday to Friday 08:00-18:00 in their own zone. The page: Monday to Friday 09:00-18:00
  in Berlin, 30-minute meetings on a 15-minute grid, 4 hours' notice.
  Target: p95 <= 50 ms for each.
- Fairness: 1,000 round-robin bookings among 3 members of equal weight who are all free, each
  given by ``round_robin_pick`` and counted; the figure is the largest member's count over the
  smallest's. Target: <= 1.1. Then the same with weights 1:2 (target shares 1:2), and 1,000
  bookings at random starts of the round-robin page above, among whoever is free then.
Each section is a function returning its lines; ``main`` calls them in order and prints them.
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from booking.slots import Availability
from booking.team_slots import TeamMember, collective_slots, round_robin_pick, round_robin_slots
from integrations.base import Interval

ROUNDS = 200
TARGET_P95_MS = 50.0
FAIRNESS_TARGET = 1.1
BOOKINGS = 1_000
HORIZON_DAYS = 60
ZONES = ("Europe/Berlin", "Europe/London", "Europe/Lisbon", "Europe/Helsinki", "America/New_York")
CALENDARS = 5
SPANS_PER_CALENDAR = 400
POOL = 300
MEMBER_BOOKINGS = 50
PAGE_BOOKINGS = 30
DURATION = timedelta(minutes=30)
NOW = datetime(2030, 1, 7, 8, 13, tzinfo=UTC)
WEEKDAYS = range(1, 6)
PAGE = Availability(
    time_zone=ZoneInfo("Europe/Berlin"),
    weekly_hours={weekday: [(9 * 60, 18 * 60)] for weekday in WEEKDAYS},
    date_overrides={},
    minimum_notice=timedelta(hours=4),
    horizon_days=HORIZON_DAYS,
    increment=timedelta(minutes=15),
)


def random_spans(rng: random.Random, count: int, minutes: Sequence[int]) -> list[Interval]:
    """``count`` spans starting on a 5-minute grid anywhere in the horizon, in random order."""
    spans = []
    for _ in range(count):
        start = NOW + timedelta(minutes=5 * rng.randrange(HORIZON_DAYS * 24 * 12))
        spans.append(Interval(start, start + timedelta(minutes=rng.choice(minutes))))
    return spans


def team(rng: random.Random) -> list[TeamMember[str]]:
    members = []
    for number, zone in enumerate(ZONES):
        pool = random_spans(rng, POOL, range(15, 121, 5))
        # Each calendar's spans are objects of their own, as read from the cache or a provider.
        busy = [
            Interval(span.start + timedelta(0), span.end + timedelta(0))
            for _ in range(CALENDARS)
            for span in rng.choices(pool, k=SPANS_PER_CALENDAR)
        ]
        bookings = random_spans(rng, MEMBER_BOOKINGS, (30, 60))
        members.append(
            TeamMember(
                key=f"member-{number}",
                availability=Availability(
                    time_zone=ZoneInfo(zone),
                    weekly_hours={weekday: [(8 * 60, 18 * 60)] for weekday in WEEKDAYS},
                    date_overrides={},
                    buffer_before=timedelta(minutes=10),
                    buffer_after=timedelta(minutes=10),
                    max_per_day=6,
                ),
                busy=busy,
                bookings=bookings,
                booked_starts=[booking.start for booking in bookings[:PAGE_BOOKINGS]],
            )
        )
    return members


def timed(run: Callable[[], object]) -> tuple[float, float, float]:
    """p50, p95 and max in milliseconds over ``ROUNDS`` runs, after one to warm up."""
    run()
    milliseconds = []
    for _ in range(ROUNDS):
        gc.collect()
        started = time.perf_counter()
        run()
        milliseconds.append((time.perf_counter() - started) * 1000)
    p95 = statistics.quantiles(milliseconds, n=20)[-1]
    return statistics.median(milliseconds), p95, max(milliseconds)


def slot_computation() -> list[str]:
    members = team(random.Random(2030))
    spans = sum(len(member.busy) for member in members)
    lines = [
        f"team slot computation: {HORIZON_DAYS} days, {len(members)} members x "
        f"{spans // len(members):,} busy spans ({spans:,} in all), {MEMBER_BOOKINGS} bookings each"
    ]
    for name, compute in (("collective", collective_slots), ("round-robin", round_robin_slots)):

        def run(compute: Callable[..., list[object]] = compute) -> list[object]:
            return compute(PAGE, members, duration=DURATION, now=NOW)

        offered = len(run())
        p50, p95, slowest = timed(run)
        verdict = "ok" if p95 <= TARGET_P95_MS else "ABOVE TARGET"
        lines.append(
            f"  {name:<11}  {offered:5,} starts offered   p50 {p50:6.2f} ms   p95 {p95:6.2f} ms   "
            f"max {slowest:6.2f} ms   over {ROUNDS} runs "
            f"(target p95 <= {TARGET_P95_MS:.0f} ms: {verdict})"
        )
    return lines


def shares(weights: dict[str, float] | None, frees: Sequence[frozenset[str]]) -> Counter[str]:
    """Bookings per member after one pick from each free set in turn, counting as it goes."""
    counts: Counter[str] = Counter()
    for free in frees:
        counts[round_robin_pick(free, recent_counts=counts, weights=weights)] += 1
    return counts


def fairness() -> list[str]:
    everyone = frozenset({"ada", "grace", "linus"})
    equal = shares(None, [everyone] * BOOKINGS)
    ratio = max(equal.values()) / min(equal.values())
    verdict = "ok" if ratio <= FAIRNESS_TARGET else "ABOVE TARGET"
    weighted = shares({"ada": 1, "grace": 2}, [frozenset({"ada", "grace"})] * BOOKINGS)
    rng = random.Random(2031)
    offered = round_robin_slots(PAGE, team(rng), duration=DURATION, now=NOW)
    at_random = shares(None, [rng.choice(offered)[1] for _ in range(BOOKINGS)])
    return [
        f"round-robin fairness over {BOOKINGS:,} bookings, 3 members of equal weight, all free: "
        f"max/min {ratio:.3f} {sorted(equal.values())} (target <= {FAIRNESS_TARGET}: {verdict})",
        f"  weights 1:2, both free: {weighted['ada']} : {weighted['grace']} "
        f"(1:{weighted['grace'] / weighted['ada']:.3f})",
        f"  at random starts of the round-robin page above, among whoever is free: "
        f"max/min {max(at_random.values()) / min(at_random.values()):.3f} "
        f"{sorted(at_random.values())}",
    ]


def main() -> None:
    for section in (slot_computation, fairness):
        for line in section():
            print(line, flush=True)


if __name__ == "__main__":
    main()
