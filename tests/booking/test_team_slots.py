"""Team booking pages' slot computation: collective and round-robin starts, and who gets a booking.

The examples are worked out by hand (comments give wall-clock times). The seeded random cases are
checked against an oracle written apart from the code: it reads every UTC minute's wall clock in
each zone and asks each rule of the module's docstring of each candidate minute directly, without
``available_slots`` or any of its helpers.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest

from booking.models import (
    Booking,
    BookingPage,
    Profile,
    TeamDateOverride,
    TeamPage,
    TeamPageMember,
)
from booking.public_display import format_start
from booking.services.bookings import SlotUnavailable
from booking.services.teams import team_booking_create, team_booking_reschedule
from booking.slots import Availability, available_slots
from booking.team_availability import team_members, team_slots
from booking.team_slots import TeamMember, collective_slots, round_robin_pick, round_robin_slots
from calendars.busy import BusyRead
from integrations.base import (
    EventStatus,
    Interval,
    RemoteEvent,
    Response,
    Transparency,
    Window,
    busy_intervals,
)
from orgs.models import Membership, Organization, Role
from tests.booking.pages import at, days_ahead
from tests.booking.team_world import make_team
from tests.booking.test_slots import (
    BERLIN,
    EVERY_DAY,
    KOLKATA,
    LORD_HOWE,
    MONDAY,
    MONDAY_MORNING,
    NEW_YORK,
    ST_JOHNS,
    availability,
    hours,
    minutes,
    span,
    utc,
)
from tests.booking.test_team_public_pages import times_on
from tests.factories import CalendarFactory, UserFactory

UTC_ZONE = ZoneInfo("UTC")

SECOND = timedelta(seconds=1)


def member(
    key: str,
    zone: ZoneInfo = BERLIN,
    *,
    weekly: dict[int, list[tuple[int, int]]] | None = None,
    on: dict[date, list[tuple[int, int]]] | None = None,
    busy: Sequence[Interval] = (),
    bookings: Sequence[Interval] = (),
    booked_starts: Sequence[datetime] = (),
    **settings,
) -> TeamMember[str]:
    """A member open every day all day unless given hours."""
    if weekly is None and on is None:
        weekly = {day: hours("00:00-24:00") for day in EVERY_DAY}
    return TeamMember(
        key=key,
        availability=availability(zone, weekly=weekly, on=on, **settings),
        busy=busy,
        bookings=bookings,
        booked_starts=booked_starts,
    )


MONDAY_NINE_TO_ELEVEN = availability(on={MONDAY: hours("09:00-11:00")}, increment=minutes(30))


def collective(
    members: Sequence[TeamMember[str]],
    page: Availability = MONDAY_NINE_TO_ELEVEN,
    *,
    length: int = 30,
    now: datetime = MONDAY_MORNING,
    **options,
) -> list[datetime]:
    return collective_slots(page, members, duration=minutes(length), now=now, **options)


def round_robin(
    members: Sequence[TeamMember[str]],
    page: Availability = MONDAY_NINE_TO_ELEVEN,
    *,
    length: int = 30,
    now: datetime = MONDAY_MORNING,
    **options,
) -> list[tuple[datetime, frozenset[str]]]:
    return round_robin_slots(page, members, duration=minutes(length), now=now, **options)


# Collective and round-robin pages


def test_a_start_is_offered_only_when_every_member_is_free() -> None:
    ada = member("ada", busy=[span(utc(2026, 6, 1, 7), 30)])  # 09:00-09:30
    grace = member("grace", busy=[span(utc(2026, 6, 1, 8), 60)])  # 10:00-11:00

    # 09:00 09:30 10:00 10:30: Ada is busy at 09:00, Grace from 10:00.
    assert collective([ada, grace]) == [utc(2026, 6, 1, 7, 30)]


def test_round_robin_offers_a_start_when_any_member_is_free_and_says_who() -> None:
    ada = member("ada", busy=[span(utc(2026, 6, 1, 7), 30)])  # 09:00-09:30
    grace = member("grace", busy=[span(utc(2026, 6, 1, 7), 60)])  # 09:00-10:00

    # Nobody is free at 09:00; Ada alone at 09:30; both after.
    assert round_robin([ada, grace]) == [
        (utc(2026, 6, 1, 7, 30), frozenset({"ada"})),
        (utc(2026, 6, 1, 8), frozenset({"ada", "grace"})),
        (utc(2026, 6, 1, 8, 30), frozenset({"ada", "grace"})),
    ]


def test_each_member_is_held_to_their_own_hours_in_their_own_zone() -> None:
    page = availability(on={MONDAY: hours("13:00-18:00")}, increment=minutes(60))
    ada = member("ada", BERLIN, weekly={1: hours("09:00-17:00")})
    # 09:00-12:00 in New York is 15:00-18:00 in Berlin.
    linus = member("linus", NEW_YORK, weekly={1: hours("09:00-12:00")})

    # Berlin 13:00 14:00 15:00 16:00 17:00: Ada until her 16:00 start, Linus from his 09:00.
    assert round_robin([ada, linus], page, length=60) == [
        (utc(2026, 6, 1, 11), frozenset({"ada"})),
        (utc(2026, 6, 1, 12), frozenset({"ada"})),
        (utc(2026, 6, 1, 13), frozenset({"ada", "linus"})),
        (utc(2026, 6, 1, 14), frozenset({"ada", "linus"})),
        (utc(2026, 6, 1, 15), frozenset({"linus"})),
    ]
    assert collective([ada, linus], page, length=60) == [utc(2026, 6, 1, 13), utc(2026, 6, 1, 14)]


def test_a_meeting_must_fit_inside_one_interval_of_a_members_hours_not_only_start_in_it() -> None:
    page = availability(on={MONDAY: hours("09:00-12:00")}, increment=minutes(15))
    # Touching intervals stand alone: a meeting from 09:45 to 10:15 is in neither.
    ada = member("ada", weekly={1: hours("09:00-10:00", "10:00-11:00")})

    assert collective([ada], page) == [
        utc(2026, 6, 1, 7),
        utc(2026, 6, 1, 7, 15),
        utc(2026, 6, 1, 7, 30),
        utc(2026, 6, 1, 8),
        utc(2026, 6, 1, 8, 15),
        utc(2026, 6, 1, 8, 30),
    ]


def test_the_grid_notice_and_horizon_are_the_pages_not_the_members() -> None:
    page = availability(
        weekly={day: hours("09:00-10:00") for day in EVERY_DAY},
        increment=minutes(20),
        minimum_notice=timedelta(hours=2),
        horizon_days=2,
    )
    # Her own page would step by an hour, want a day's notice and open one day only.
    ada = member("ada", increment=minutes(60), minimum_notice=timedelta(days=1), horizon_days=1)

    # Now is 07:00 Monday: 09:00 09:20 09:40 on Monday and Tuesday.
    assert collective([ada], page, length=20) == [
        utc(2026, 6, 1, 7),
        utc(2026, 6, 1, 7, 20),
        utc(2026, 6, 1, 7, 40),
        utc(2026, 6, 2, 7),
        utc(2026, 6, 2, 7, 20),
        utc(2026, 6, 2, 7, 40),
    ]


def test_each_members_buffers_keep_their_own_busy_time_and_bookings_away() -> None:
    # Ada needs 15 minutes after a meeting before her 10:30 event; Grace 30 minutes around her
    # 08:00-08:45 booking (the larger buffer, on both sides).
    ada = member("ada", busy=[span(utc(2026, 6, 1, 8, 30), 30)], buffer_after=minutes(15))
    grace = member(
        "grace",
        bookings=[span(utc(2026, 6, 1, 6), 45)],
        buffer_before=minutes(10),
        buffer_after=minutes(30),
    )

    # 09:00 is in Grace's buffer until 09:15; a meeting at 10:00 would end 15 minutes before
    # Ada's 10:30 with none to spare.
    assert collective([ada, grace]) == [utc(2026, 6, 1, 7, 30)]


def test_a_members_daily_cap_counts_their_bookings_on_this_page_by_their_own_day() -> None:
    page = availability(
        weekly={day: hours("00:00-24:00") for day in EVERY_DAY},
        increment=minutes(60),
        horizon_days=2,
    )
    # Monday 23:00 UTC is already Tuesday 09:00 in Lord Howe (UTC+10:30 in June).
    linus = member(
        "linus", LORD_HOWE, weekly={2: hours("08:00-10:00")}, max_per_day=1,
        booked_starts=[utc(2026, 6, 1, 22, 30)],
    )  # fmt: skip
    ada = member("ada", LORD_HOWE, weekly={2: hours("08:00-10:00")}, max_per_day=2)

    # Tuesday 08:30 and 09:30 in Lord Howe are Monday 22:00 and 23:00 in Berlin.
    assert round_robin([linus, ada], page, length=30) == [
        (utc(2026, 6, 1, 22), frozenset({"ada"})),
        (utc(2026, 6, 1, 23), frozenset({"ada"})),
    ]


def test_a_members_hours_across_their_spring_forward_last_their_real_time() -> None:
    # 8 March 2026: New York skips 02:00-03:00. Linus's 01:00-04:00 lasts two real hours,
    # 06:00-08:00 UTC; the page (in UTC) steps every 30 minutes all day.
    page = availability(UTC_ZONE, weekly={7: hours("00:00-24:00")})
    linus = member("linus", NEW_YORK, on={date(2026, 3, 8): hours("01:00-04:00")})

    assert collective([linus], page, length=60, now=utc(2026, 3, 7, 12)) == [
        utc(2026, 3, 8, 6),
        utc(2026, 3, 8, 6, 30),
        utc(2026, 3, 8, 7),
    ]


def test_a_members_hours_ending_in_their_repeated_hour_end_the_second_time() -> None:
    # 25 October 2026: Berlin runs 02:00-03:00 twice, CEST then CET. Ada's 01:00-02:30 lasts
    # from 23:00 UTC to the second 02:30, 01:30 UTC; the page (in UTC) steps every 30 minutes.
    page = availability(UTC_ZONE, on={date(2026, 10, 25): hours("00:00-03:00")})
    ada = member("ada", BERLIN, on={date(2026, 10, 25): hours("01:00-02:30")})

    assert collective([ada], page, length=60, now=utc(2026, 10, 24, 12)) == [
        utc(2026, 10, 25, 0),
        utc(2026, 10, 25, 0, 30),
    ]


def test_a_members_clock_falling_back_across_midnight_keeps_each_start_on_its_own_day() -> None:
    # On 7 November 2010 St John's fell back at 00:01 NDT (02:31 UTC) to 23:01 NST: Sunday
    # 00:00 NDT is 02:30 UTC, and 02:31-03:30 UTC are Saturday again. Saturday is full.
    page = availability(UTC_ZONE, on={date(2010, 11, 7): hours("00:00-06:00")})
    kim = member(
        "kim",
        ST_JOHNS,
        on={date(2010, 11, 6): hours("22:00-24:00"), date(2010, 11, 7): hours("00:00-02:00")},
        max_per_day=1,
        booked_starts=[utc(2010, 11, 6, 15)],
    )

    # Sunday's hours run in real time from 02:30 to 05:30 UTC, but 03:00 UTC is Saturday
    # 23:30 NST: a Saturday start, and Saturday is full.
    assert collective([kim], page, now=utc(2010, 11, 5, 12)) == [
        utc(2010, 11, 7, 2, 30),
        utc(2010, 11, 7, 3, 30),
        utc(2010, 11, 7, 4),
        utc(2010, 11, 7, 4, 30),
        utc(2010, 11, 7, 5),
    ]


def test_a_team_of_one_is_offered_what_their_own_page_would_offer() -> None:
    rng = random.Random(20)
    own = availability(
        BERLIN,
        weekly={day: hours("08:00-12:00", "13:00-19:00") for day in range(1, 6)},
        buffer_before=minutes(10),
        buffer_after=minutes(15),
        minimum_notice=timedelta(hours=3),
        horizon_days=21,
        increment=minutes(15),
        max_per_day=4,
    )
    start = MONDAY_MORNING
    busy = [
        span(start + minutes(5 * rng.randrange(21 * 288)), rng.choice((15, 60))) for _ in range(300)
    ]
    bookings = [span(start + minutes(5 * rng.randrange(21 * 288)), 30) for _ in range(20)]
    booked = [booking.start for booking in bookings[:12]]
    page = availability(
        BERLIN, weekly=dict(own.weekly_hours), minimum_notice=own.minimum_notice,
        horizon_days=own.horizon_days, increment=own.increment,
    )  # fmt: skip
    ada = TeamMember("ada", own, busy=busy, bookings=bookings, booked_starts=booked)

    alone = available_slots(
        own, duration=minutes(45), now=start, busy=busy, bookings=bookings, booked_starts=booked
    )
    assert len(alone) > 100
    assert collective([ada], page, length=45) == alone
    assert round_robin([ada], page, length=45) == [(slot, frozenset({"ada"})) for slot in alone]


def test_a_window_and_a_lead_narrow_the_starts_as_on_a_single_page() -> None:
    page = availability(weekly={1: hours("09:00-12:00")}, increment=minutes(30))
    ada = member("ada")

    # Now is 07:00; a lead of 2 hours and 10 minutes leaves 09:30 first; the window ends at 11:00.
    slots = collective(
        [ada], page, lead=minutes(130), window=Window(utc(2026, 6, 1, 6), utc(2026, 6, 1, 9))
    )
    assert slots == [utc(2026, 6, 1, 7, 30), utc(2026, 6, 1, 8), utc(2026, 6, 1, 8, 30)]


def test_a_team_page_without_members_or_with_its_own_buffers_or_cap_is_refused() -> None:
    ada = member("ada")
    with pytest.raises(ValueError, match="at least one member"):
        collective([])
    with pytest.raises(ValueError, match="at least one member"):
        round_robin([])
    with pytest.raises(ValueError, match="once"):
        round_robin([ada, member("ada", NEW_YORK)])
    for own in ({"buffer_before": minutes(5)}, {"buffer_after": minutes(5)}, {"max_per_day": 3}):
        page = availability(on={MONDAY: hours("09:00-11:00")}, **own)
        with pytest.raises(ValueError, match="members'"):
            collective([ada], page)


# Who gets the booking


def test_the_member_with_the_fewest_bookings_relative_to_their_weight_gets_it() -> None:
    free = {"ada", "grace", "linus"}

    assert round_robin_pick(free, recent_counts={"ada": 3, "grace": 2, "linus": 4}) == "grace"
    # 3/1 against 5/2 and 7/3: Linus, of weight 3, has the fewest for his weight.
    weights = {"grace": 2, "linus": 3}
    counts = {"ada": 3, "grace": 5, "linus": 7}
    assert round_robin_pick(free, recent_counts=counts, weights=weights) == "linus"
    # A member missing from the counts has had none; only the free are considered.
    assert round_robin_pick({"ada", "grace"}, recent_counts={"ada": 1}) == "grace"
    assert round_robin_pick({"ada"}, recent_counts={"ada": 9, "grace": 0}) == "ada"


def test_ties_go_to_the_earliest_in_the_priority_then_to_the_smallest_key() -> None:
    free = ["ada", "grace", "linus"]
    even = {"ada": 2, "grace": 1, "linus": 1}

    assert round_robin_pick(free, recent_counts=even, priority=["linus", "ada", "grace"]) == "linus"
    # Equal for their weights (2/2 and 1/1): the priority decides, the unlisted come last.
    weights = {"ada": 2}
    assert round_robin_pick(free, recent_counts=even, weights=weights, priority=["ada"]) == "ada"
    assert round_robin_pick(free, recent_counts=even, priority=["ada"]) == "grace"
    assert round_robin_pick(free, recent_counts={}) == "ada"
    assert round_robin_pick(reversed(free), recent_counts={}) == "ada"


def test_picking_from_nobody_or_with_a_weight_that_is_not_positive_is_refused() -> None:
    with pytest.raises(ValueError, match="no member"):
        round_robin_pick([], recent_counts={})
    with pytest.raises(ValueError, match="positive"):
        round_robin_pick(["ada", "grace"], recent_counts={}, weights={"grace": 0})


def book(
    rounds: int,
    free: Iterable[str],
    *,
    weights: dict[str, float] | None = None,
    priority: Sequence[str] = (),
) -> tuple[Counter[str], list[str]]:
    """``rounds`` bookings, each given to ``round_robin_pick`` of ``free`` and counted."""
    everyone = frozenset(free)
    counts: Counter[str] = Counter()
    order = []
    for _ in range(rounds):
        picked = round_robin_pick(
            everyone, recent_counts=counts, weights=weights, priority=priority
        )
        counts[picked] += 1
        order.append(picked)
    return counts, order


def test_a_thousand_bookings_among_three_equal_members_always_free_are_shared_evenly() -> None:
    counts, _ = book(1_000, ["ada", "grace", "linus"])

    assert sum(counts.values()) == 1_000
    assert max(counts.values()) / min(counts.values()) <= 1.1


def test_weights_of_one_and_two_share_a_thousand_bookings_one_to_two() -> None:
    counts, _ = book(1_000, ["ada", "grace"], weights={"ada": 1, "grace": 2})

    assert counts["ada"] + counts["grace"] == 1_000
    assert abs(counts["grace"] / counts["ada"] - 2) <= 0.02


def test_the_priority_order_breaks_ties_in_turn() -> None:
    _, order = book(6, ["ada", "grace", "linus"], priority=["linus", "ada", "grace"])

    assert order == ["linus", "ada", "grace", "linus", "ada", "grace"]


def test_a_member_free_less_often_catches_up_when_free() -> None:
    counts: Counter[str] = Counter()
    # Linus is free for one booking in three; whenever he is, he has had the fewest since.
    for turn in range(900):
        free = {"ada", "grace", "linus"} if turn % 3 == 0 else {"ada", "grace"}
        counts[round_robin_pick(free, recent_counts=counts)] += 1

    # He gets every turn he is free but the first, when all three had none and Ada's key is the
    # smallest; Ada and Grace share the rest.
    assert counts == {"ada": 301, "grace": 300, "linus": 299}


# Against an oracle: seeded random teams across changes of offset

ZONES = (BERLIN, NEW_YORK, LORD_HOWE, KOLKATA, ST_JOHNS)
# Changes of offset: a case's now is a few days before one, and its page and members are often
# in the zone that changes (any zone may be drawn with any date).
CHANGES = (
    (utc(2026, 3, 8, 7), NEW_YORK),  # springs forward: 02:00-03:00 skipped
    (utc(2026, 3, 29, 1), BERLIN),  # springs forward: 02:00-03:00 skipped
    (utc(2026, 4, 4, 15), LORD_HOWE),  # falls back half an hour: 01:30-02:00 twice
    (utc(2026, 10, 3, 15, 30), LORD_HOWE),  # springs forward half an hour: 02:00-02:30 skipped
    (utc(2026, 10, 25, 1), BERLIN),  # falls back: 02:00-03:00 twice
    (utc(2026, 11, 1, 6), NEW_YORK),  # falls back: 01:00-02:00 twice
    (utc(2010, 11, 7, 2, 31), ST_JOHNS),  # falls back across midnight: 23:01-00:01 twice
    (utc(2010, 3, 14, 3, 31), ST_JOHNS),  # springs forward: 00:01-01:01 skipped
)


@dataclass(frozen=True)
class Case:
    change: datetime
    page: Availability
    members: tuple[TeamMember[str], ...]
    duration: timedelta
    now: datetime
    window: Window | None
    lead: timedelta


# Wall-clock times where the zones above change offset, or next to them: the night's early hours
# and the last hour before midnight (St John's fell back from 00:01 to 23:01).
NIGHT = (0, 60, 75, 90, 105, 120, 135, 150, 165, 180, 210, 1380, 1395, 1410, 1425)


def random_hours(rng: random.Random) -> list[tuple[int, int]]:
    """One to three intervals on a 15-minute clock, half their ends at night's changes."""

    def boundary() -> int:
        return rng.choice(NIGHT) if rng.random() < 0.5 else 15 * rng.randrange(96)

    chosen = []
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.15:
            chosen.append((0, 1440))
            continue
        start = boundary()
        ends = [
            end for end in (boundary(), boundary(), start + 15 * rng.randint(1, 40)) if end > start
        ]
        chosen.append((start, min(1440, rng.choice(ends or [1440]))))
    return chosen


def random_availability(
    rng: random.Random, zone: ZoneInfo, now: datetime, *, page: bool
) -> Availability:
    today = now.astimezone(zone).date()
    weekly = {day: random_hours(rng) for day in EVERY_DAY if rng.random() < 0.85}
    overrides = {
        today + timedelta(days=rng.randint(-1, 6)): random_hours(rng) if rng.random() < 0.7 else []
        for _ in range(rng.randint(0, 2))
    }
    if page:
        return Availability(
            time_zone=zone,
            weekly_hours=weekly,
            date_overrides=overrides,
            minimum_notice=minutes(rng.choice((0, 0, 45, 180))),
            horizon_days=rng.randint(1, 5),
            increment=minutes(rng.choice((15, 20, 30, 45, 60))),
        )
    return Availability(
        time_zone=zone,
        weekly_hours=weekly,
        date_overrides=overrides,
        buffer_before=minutes(rng.choice((0, 0, 10, 15, 30))),
        buffer_after=minutes(rng.choice((0, 0, 5, 15, 45))),
        max_per_day=rng.choice((None, None, 1, 2)),
        # Not the page's, so never used: a member's own grid, notice and horizon.
        increment=minutes(rng.choice((7, 60))),
        minimum_notice=timedelta(days=rng.choice((0, 3))),
        horizon_days=1,
    )


def random_case(seed: int) -> Case:
    rng = random.Random(seed)
    change, changing = rng.choice(CHANGES)

    def zone(*others: ZoneInfo) -> ZoneInfo:
        return changing if rng.random() < 0.5 else rng.choice((*ZONES, *others))

    now = change - timedelta(days=rng.randint(0, 3), minutes=rng.randrange(1440))
    first = now - timedelta(days=1)

    def when() -> datetime:
        return first + minutes(5 * rng.randrange(8 * 288))

    members = []
    for number in range(rng.randint(1, 4)):
        spans = [
            span(when(), rng.choice((0, 15, 30, 45, 60, 90, 120, 180)))
            for _ in range(rng.randint(0, 24))
        ]
        spans += rng.sample(spans, k=len(spans) // 4)  # calendars holding copies of one event
        bookings = [span(when(), rng.choice((30, 60))) for _ in range(rng.randint(0, 4))]
        members.append(
            TeamMember(
                key=f"m{number}",
                availability=random_availability(rng, zone(), now, page=False),
                busy=spans,
                bookings=bookings,
                booked_starts=[when() for _ in range(rng.randint(0, 6))],
            )
        )
    window = None
    if rng.random() < 0.3:
        start = now + minutes(30 * rng.randrange(5 * 48))
        window = Window(start, start + timedelta(hours=rng.randint(1, 72)))
    return Case(
        change=change,
        page=random_availability(rng, zone(UTC_ZONE), now, page=True),
        members=tuple(members),
        duration=minutes(rng.choice((15, 30, 45, 60, 90))),
        now=now,
        window=window,
        lead=minutes(rng.choice((0, 0, 10))),
    )


class Clock:
    """The wall clock of one zone at every UTC minute from ``first`` to ``last``.

    An interval of hours in real time is read off the clock itself: from the first minute the
    clock shows a time inside it on its day, to the end of the last such minute.
    """

    def __init__(self, zone: ZoneInfo, first: datetime, last: datetime) -> None:
        self.first = first
        self.moments: list[datetime] = []
        self.shown: list[tuple[date, int]] = []
        self.by_day: dict[date, list[tuple[datetime, int]]] = {}
        moment, step = first, minutes(1)
        while moment < last:
            local = moment.astimezone(zone)
            shown = (local.date(), local.hour * 60 + local.minute)
            self.moments.append(moment)
            self.shown.append(shown)
            self.by_day.setdefault(shown[0], []).append((moment, shown[1]))
            moment += step
        self._spans: dict[tuple[date, int, int], tuple[datetime, datetime] | None] = {}

    def index(self, moment: datetime) -> int:
        return (moment - self.first) // minutes(1)

    def wall(self, moment: datetime) -> tuple[date, int]:
        return self.shown[self.index(moment)]

    def real_span(self, day: date, first: int, last: int) -> tuple[datetime, datetime] | None:
        key = (day, first, last)
        if key not in self._spans:
            inside = [moment for moment, shown in self.by_day[day] if first <= shown < last]
            self._spans[key] = (min(inside), max(inside) + minutes(1)) if inside else None
        return self._spans[key]

    def fits(
        self, hours: Iterable[tuple[int, int]], day: date, start: datetime, end: datetime
    ) -> bool:
        for first, last in hours:
            real = self.real_span(day, first, last)
            if real is not None and real[0] <= start and end <= real[1]:
                return True
        return False


@cache
def clock_around(zone: ZoneInfo, change: datetime) -> Clock:
    """One clock for every case drawn around ``change``: from 6 days before it to 9 after."""
    return Clock(zone, change - timedelta(days=6), change + timedelta(days=9))


@cache
def oracle(seed: int) -> tuple[Case, list[tuple[datetime, frozenset[str]]]]:
    """Seed ``seed``'s case, and every page start in it with the members free then (empty sets
    included), minute by minute."""
    case = random_case(seed)
    zones = {case.page.time_zone, *(m.availability.time_zone for m in case.members)}
    clocks = {zone: clock_around(zone, case.change) for zone in zones}
    page, page_clock = case.page, clocks[case.page.time_zone]
    today = case.now.astimezone(page.time_zone).date()
    last_day = today + timedelta(days=page.horizon_days - 1)
    increment = page.increment // minutes(1)
    offered = []
    # The first whole minute no earlier than now plus the lead and the notice.
    earliest = page_clock.index(case.now + case.lead + page.minimum_notice + minutes(1) - SECOND)
    for index in range(earliest, len(page_clock.moments)):
        start, (day, shown) = page_clock.moments[index], page_clock.shown[index]
        end = start + case.duration
        if day > last_day:
            break  # the first instant of the day after the horizon, and everything after it
        if day < today:
            continue
        if case.window and not case.window.start <= start < case.window.end:
            continue
        on_grid = [
            (first, last)
            for first, last in page.hours_on(day)
            if first <= shown < last and (shown - first) % increment == 0
        ]
        if not page_clock.fits(on_grid, day, start, end):
            continue
        offered.append(
            (start, frozenset(m.key for m in case.members if free(m, start, end, clocks)))
        )
    return case, offered


def free(
    member: TeamMember[str], start: datetime, end: datetime, clocks: dict[ZoneInfo, Clock]
) -> bool:
    own = member.availability
    zone_clock = clocks[own.time_zone]
    day, _ = zone_clock.wall(start)
    if not zone_clock.fits(own.hours_on(day), day, start, end):
        return False
    if own.max_per_day is not None:
        same_day = [b for b in member.booked_starts if b.astimezone(own.time_zone).date() == day]
        if len(same_day) >= own.max_per_day:
            return False
    before, after = start - own.buffer_before, end + own.buffer_after
    if any(b.start < b.end and b.start < after and b.end > before for b in member.busy):
        return False
    around = max(own.buffer_before, own.buffer_after)
    return not any(
        b.start < b.end and b.start < end + around and b.end > start - around
        for b in member.bookings
    )


SEEDS = range(300)


def test_collective_slots_match_a_minute_by_minute_oracle_across_changes_of_offset() -> None:
    offered = 0
    for seed in SEEDS:
        case, starts = oracle(seed)
        expected = [start for start, free_then in starts if len(free_then) == len(case.members)]
        got = collective_slots(
            case.page, case.members, duration=case.duration, now=case.now,
            window=case.window, lead=case.lead,
        )  # fmt: skip
        assert got == expected, f"seed {seed}"
        offered += len(got)
    assert offered > 300  # the cases offer times, not only refuse them


def test_round_robin_slots_match_a_minute_by_minute_oracle_across_changes_of_offset() -> None:
    shared = partial = 0
    for seed in SEEDS:
        case, starts = oracle(seed)
        expected = [(start, free_then) for start, free_then in starts if free_then]
        got = round_robin_slots(
            case.page, case.members, duration=case.duration, now=case.now,
            window=case.window, lead=case.lead,
        )  # fmt: skip
        assert got == expected, f"seed {seed}"
        shared += sum(len(free_then) > 1 for _, free_then in got)
        partial += sum(len(free_then) < len(case.members) for _, free_then in got)
    # Starts where several members are free and where only some are both come up often.
    assert shared > 500
    assert partial > 500


# Through a team page: its date overrides, members' own hours, and its busy options
#
# The pages, their overrides and their members are rows; each member's calendar answers with
# events of every kind (tentative, free, all-day, declined, cancelled), through the provider
# contract's own reading of a window (``busy_intervals``), as any calendar would. The oracle
# reads the same rows' raw values and events, minute by minute, with none of the team's code.


@dataclass(frozen=True)
class MemberCase:
    # "" with no hours of their own: the member meets in the page's hours.
    zone: str
    weekly: dict[str, list[list[int]]]
    events: tuple[RemoteEvent, ...]


@dataclass(frozen=True)
class PageCase:
    change: datetime
    now: datetime
    duration: int
    zone: str
    weekly: dict[str, list[list[int]]]
    overrides: dict[date, list[list[int]]]
    minimum_notice: int
    horizon_days: int
    increment: int
    buffer_before: int
    buffer_after: int
    tentative_is_busy: bool
    free_is_busy: bool
    all_day_events: str
    members: tuple[MemberCase, ...]


def random_week(rng: random.Random) -> dict[str, list[list[int]]]:
    return {
        str(day): [list(period) for period in random_hours(rng)]
        for day in EVERY_DAY
        if rng.random() < 0.85
    }


def random_events(rng: random.Random, now: datetime, horizon: int) -> tuple[RemoteEvent, ...]:
    """Timed events from a little before now to the horizon, and all-day ones on its UTC dates,
    of every status, transparency and answer."""
    events = []
    for number in range(rng.randint(0, 14)):
        if rng.random() < 0.2:
            first = datetime.combine(
                now.date() + timedelta(days=rng.randint(0, horizon)), time(), tzinfo=UTC
            )
            start, end, all_day = first, first + timedelta(days=rng.choice((1, 1, 2))), True
        else:
            start = now - timedelta(hours=6) + minutes(5 * rng.randrange((horizon + 1) * 288))
            end, all_day = start + minutes(rng.choice((15, 30, 45, 60, 90, 180))), False
        events.append(
            RemoteEvent(
                id=f"e{number}",
                series_id=f"e{number}",
                start=start,
                end=end,
                all_day=all_day,
                status=rng.choices(list(EventStatus), weights=(6, 3, 1))[0],
                transparency=rng.choices(list(Transparency), weights=(7, 3))[0],
                response=rng.choices(list(Response), weights=(5, 2, 2, 1, 1))[0],
            )
        )
    return tuple(events)


def random_page_case(seed: int) -> PageCase:
    rng = random.Random(seed)
    change, changing = rng.choice(CHANGES)

    def zone() -> ZoneInfo:
        return changing if rng.random() < 0.5 else rng.choice((*ZONES, UTC_ZONE))

    now = change - timedelta(days=rng.randint(0, 3), minutes=rng.randrange(1440))
    page_zone = zone()
    today = now.astimezone(page_zone).date()
    horizon = rng.randint(1, 5)
    members = []
    for _ in range(rng.randint(1, 3)):
        own = rng.random() < 0.5
        members.append(
            MemberCase(
                zone=zone().key if own else "",
                weekly=random_week(rng) if own else {},
                events=random_events(rng, now, horizon),
            )
        )
    return PageCase(
        change=change,
        now=now,
        duration=rng.choice((15, 30, 45, 60, 90)),
        zone=page_zone.key,
        weekly=random_week(rng),
        overrides={
            today + timedelta(days=rng.randint(-1, 5)): (
                [list(period) for period in random_hours(rng)] if rng.random() < 0.6 else []
            )
            for _ in range(rng.randint(0, 3))
        },
        minimum_notice=rng.choice((0, 0, 45, 180)),
        horizon_days=horizon,
        increment=rng.choice((15, 20, 30, 45, 60)),
        buffer_before=rng.choice((0, 0, 10, 30)),
        buffer_after=rng.choice((0, 0, 5, 45)),
        tentative_is_busy=rng.random() < 0.5,
        free_is_busy=rng.random() < 0.5,
        all_day_events=rng.choice(("busy", "ignore")),
        members=tuple(members),
    )


def keeps_busy(event: RemoteEvent, case: PageCase) -> bool:
    """Whether the page's options make ``event`` busy time, read off the editor's words: a
    declined or cancelled event never does; "Tentative events make members busy"; "Events marked
    free make members busy too"; "All-day events: Count when shown as busy / Never count"."""
    if event.status == EventStatus.CANCELLED or event.response == Response.DECLINED:
        return False
    tentative = EventStatus.TENTATIVE in (event.status, event.response)
    return (
        (case.tentative_is_busy or not tentative)
        and (case.free_is_busy or event.transparency != Transparency.FREE)
        and (case.all_day_events == "busy" or not event.all_day)
    )


def page_oracle(case: PageCase) -> list[tuple[datetime, list[int]]]:
    """Every start the page's grid offers, with the positions of the members free then."""
    zone = ZoneInfo(case.zone)
    page_clock = clock_around(zone, case.change)

    def page_hours(day: date) -> list[list[int]]:
        if day in case.overrides:
            return case.overrides[day]
        return case.weekly.get(str(day.isoweekday()), [])

    def busy_spans(member: MemberCase) -> list[tuple[datetime, datetime]]:
        clock = clock_around(ZoneInfo(member.zone or case.zone), case.change)
        spans = []
        for event in member.events:
            if not keeps_busy(event, case):
                continue
            if event.all_day:
                # Whole days where the member meets, from the first minute the clock shows the
                # first date to the end of the last minute it shows the last.
                first_day, last_day = (
                    event.start.date(),
                    (event.end - timedelta(microseconds=1)).date(),
                )
                opening, closing = (
                    clock.real_span(first_day, 0, 1440),
                    clock.real_span(last_day, 0, 1440),
                )
                assert opening is not None and closing is not None
                spans.append((opening[0], closing[1]))
            else:
                spans.append((event.start, event.end))
        return spans

    busy = [busy_spans(member) for member in case.members]
    before, after = minutes(case.buffer_before), minutes(case.buffer_after)
    today = case.now.astimezone(zone).date()
    last_day = today + timedelta(days=case.horizon_days - 1)
    earliest = page_clock.index(case.now + minutes(case.minimum_notice) + minutes(1) - SECOND)
    offered = []
    for index in range(earliest, len(page_clock.moments)):
        start, (day, shown) = page_clock.moments[index], page_clock.shown[index]
        end = start + minutes(case.duration)
        if day > last_day:
            break
        if day < today:
            continue
        on_grid = [
            (first, last)
            for first, last in page_hours(day)
            if first <= shown < last and (shown - first) % case.increment == 0
        ]
        if not page_clock.fits(on_grid, day, start, end):
            continue
        free_then = []
        for position, member in enumerate(case.members):
            if member.zone:
                clock = clock_around(ZoneInfo(member.zone), case.change)
                own_day, _ = clock.wall(start)
                own_hours = member.weekly.get(str(own_day.isoweekday()), [])
                if not clock.fits([tuple(h) for h in own_hours], own_day, start, end):
                    continue
            elif not page_clock.fits([tuple(h) for h in page_hours(day)], day, start, end):
                continue
            if any(a < end + after and b > start - before for a, b in busy[position] if a < b):
                continue
            free_then.append(position)
        offered.append((start, free_then))
    return offered


@pytest.fixture
def oracle_team(db):
    organization = Organization.objects.create(name="Oracle")
    people = []
    for number in range(3):
        user = UserFactory(email=f"oracle{number}@example.com")
        Membership.objects.create(organization=organization, user=user, role=Role.MEMBER)
        Profile.objects.create(user=user, handle=f"oracle-{number}", display_name=f"P{number}")
        CalendarFactory(connection__user=user)
        people.append(user)
    return organization, people


def test_team_pages_with_date_overrides_own_hours_and_busy_options_match_an_oracle(
    oracle_team, monkeypatch
) -> None:
    organization, people = oracle_team
    events: dict[object, tuple[RemoteEvent, ...]] = {}

    def read(calendars, window, policy, *, fresh=False):
        spans = []
        for calendar in calendars:
            spans += busy_intervals(events[calendar.connection.user_id], window, policy)
        return BusyRead(spans=spans)

    monkeypatch.setattr("booking.team_availability.calendars_busy", read)
    offered = partial = overridden = 0
    for seed in range(120):
        case = random_page_case(seed)
        page = TeamPage.objects.create(
            organization=organization,
            title="Oracle",
            slug=f"oracle-{seed}",
            durations=[case.duration],
            time_zone=case.zone,
            weekly_hours=case.weekly,
            minimum_notice=case.minimum_notice,
            horizon_days=case.horizon_days,
            increment=case.increment,
            buffer_before=case.buffer_before,
            buffer_after=case.buffer_after,
            tentative_is_busy=case.tentative_is_busy,
            free_is_busy=case.free_is_busy,
            all_day_events=case.all_day_events,
        )
        for day, periods in case.overrides.items():
            TeamDateOverride.objects.create(page=page, date=day, hours=periods)
        for position, member in enumerate(case.members):
            TeamPageMember.objects.create(
                page=page,
                user=people[position],
                priority=position,
                time_zone=member.zone,
                weekly_hours=member.weekly,
            )
            events[people[position].id] = member.events
        members = team_members(page)
        expected = page_oracle(case)
        zone = ZoneInfo(case.zone)
        window = Window(case.now, case.now + timedelta(days=case.horizon_days + 2))
        for kind in TeamPage.Kind:
            page.kind = kind
            found = team_slots(page, members, now=case.now, window=window, duration=case.duration)
            if kind == TeamPage.Kind.COLLECTIVE:
                wanted = {
                    start: frozenset(people[p].id for p in free_then)
                    for start, free_then in expected
                    if len(free_then) == len(case.members)
                }
            else:
                wanted = {
                    start: frozenset(people[p].id for p in free_then)
                    for start, free_then in expected
                    if free_then
                }
            assert found.free == wanted, f"seed {seed}, {kind}"
        offered += len(expected)
        partial += sum(0 < len(free_then) < len(case.members) for _, free_then in expected)
        overridden += sum(start.astimezone(zone).date() in case.overrides for start, _ in expected)
    # The cases offer times, some only to some members, and some on overridden dates.
    assert offered > 1000 and partial > 200 and overridden > 100


def all_day_event(uid: str, day: date) -> str:
    return "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//tests//EN",
            "BEGIN:VEVENT",
            f"UID:{uid}",
            "DTSTAMP:20260101T000000Z",
            f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
            f"DTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}",
            "SUMMARY:Holiday",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("generous_rate_limits")
@pytest.mark.parametrize("kind", list(TeamPage.Kind))
def test_tentative_free_and_all_day_events_keep_members_busy_as_the_page_says(
    radicale_server, client, monkeypatch, kind
) -> None:
    for where in ("booking.services.teams", "booking.services.bookings"):
        monkeypatch.setattr(f"{where}.enqueue_follow_up", lambda booking_id: None)
    team = make_team(radicale_server, size=2)
    day = days_ahead(5)
    holiday = day + timedelta(days=1)
    # Every member has them: on a round-robin page, too, nobody is left free by them.
    for world in team.worlds.values():
        world.put("work", "maybe", at(day, 10), minutes=60, extra="STATUS:TENTATIVE")
        world.put("work", "free", at(day, 12), minutes=60, extra="TRANSP:TRANSPARENT")
        world.put_raw("work", "holiday", all_day_event("holiday", holiday))
    as_they_come = team.page(kind, slug="as-they-come")
    other_way = team.page(
        kind,
        slug="other-way",
        tentative_is_busy=False,
        free_is_busy=True,
        all_day_events=BookingPage.AllDayEvents.IGNORE,
    )
    tentative, free, all_day = at(day, 10), at(day, 12), at(holiday, 10)

    def shown(page: TeamPage, start: datetime) -> bool:
        url = f"/book/acme/{page.slug}/?tz=UTC&clock=24&month={start:%Y-%m}&day={start:%Y-%m-%d}"
        return format_start(start) in times_on(client.get(url).text)

    def book(page: TeamPage, start: datetime, key: str) -> Booking:
        return team_booking_create(
            page=page,
            start=start,
            duration=30,
            attendee_name="Grace Guest",
            attendee_email="grace@example.com",
            attendee_time_zone="UTC",
            submission_key=key,
        )

    # What the public page shows.
    assert not shown(as_they_come, tentative) and shown(as_they_come, free)
    assert not shown(as_they_come, all_day)
    assert shown(other_way, tentative) and not shown(other_way, free)
    assert shown(other_way, all_day)
    assert shown(as_they_come, at(day, 11)) and shown(other_way, at(day, 11))

    # The live check at booking, and a move, read the events alike.
    for start in (tentative, all_day):
        with pytest.raises(SlotUnavailable):
            book(as_they_come, start, key=f"refused-{start:%d%H}")
    with pytest.raises(SlotUnavailable):
        book(other_way, free, key="refused-free")
    first = book(as_they_come, free, key="first")
    with pytest.raises(SlotUnavailable):
        team_booking_reschedule(booking=first, start=tentative)
    team_booking_reschedule(booking=first, start=at(day, 14))
    second = book(other_way, all_day, key="second")
    with pytest.raises(SlotUnavailable):
        team_booking_reschedule(booking=second, start=free)
    team_booking_reschedule(booking=second, start=tentative)
    assert Booking.objects.filter(status=Booking.Status.CONFIRMED).count() == (
        4 if kind == TeamPage.Kind.COLLECTIVE else 2
    )
