"""The start times a team booking page offers: a pure function of the page's grid, each member's
hours, busy time, bookings and caps, and the current time. No models, no I/O.

A team page has an ``Availability`` of its own, in the page's zone, and each member has theirs,
in the member's zone. They combine like this, every rule as ``booking.slots`` defines it (DST
included); the page's buffers and cap must be left unset, as each member brings their own:

- **The grid is the page's.** The candidate starts are exactly those ``available_slots`` gives
  for the page with no busy time: on the page's grid (its increment, stepped on the page's wall
  clock from the start of each interval of the page's hours), the meeting within one interval of
  the page's hours in real time, no earlier than ``now + lead + page.minimum_notice``, on one of
  the page's ``horizon_days`` page-local days, and inside ``window``.
- **A member is free at a start** when the meeting lies, in real time, within one interval of
  the member's hours on the member-local date of its start (from the first time the member's
  clock shows the interval's start to the last time it runs up to its end, as ``slots`` defines
  it, but anywhere inside, not only on a grid of the member's); that date has fewer than the
  member's ``max_per_day`` bookings of this team page (counted by member-local date); and the
  member's busy time and bookings, with the member's buffers, are out of the way exactly as
  ``available_slots`` keeps them out of a page's way.
- A member's ``minimum_notice``, ``horizon_days`` and ``increment`` are not used: the page sets
  when and how often a team meets.

A **collective** page offers a start when every member is free then; a **round-robin** page when
at least one is, and the booking goes to one of those (``round_robin_pick``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from typing import Any, Generic, Protocol, TypeVar

from booking.slots import (
    DAY,
    MINUTE,
    Availability,
    available_slots,
    blocked_spans,
    first_instant,
    full_days,
    interval_end,
    wall_instants,
)
from integrations.base import Interval, Window


class _MemberKey(Protocol):
    """What identifies a member: hashable, and ordered, for the last tie-break of a pick."""

    def __hash__(self) -> int: ...

    def __lt__(self, other: Any, /) -> bool: ...


K = TypeVar("K", bound=_MemberKey)


@dataclass(frozen=True, slots=True)
class TeamMember(Generic[K]):
    """One member's side of a team page.

    ``availability`` gives the member's hours (in their own zone, date overrides included), their
    buffers and their ``max_per_day``. ``busy`` is their busy time from every calendar they have
    the page watch, and ``bookings`` the meeting times of their confirmed bookings on every page,
    personal and team alike, both as ``available_slots`` takes them (unmerged; all-day spans
    already placed in the member's zone). ``booked_starts`` are the starts of their confirmed
    bookings on this team page, for ``max_per_day``.
    """

    key: K
    availability: Availability
    busy: Sequence[Interval] = ()
    bookings: Sequence[Interval] = ()
    booked_starts: Sequence[datetime] = ()


def collective_slots(
    page: Availability,
    members: Sequence[TeamMember[K]],
    *,
    duration: timedelta,
    now: datetime,
    window: Window | None = None,
    lead: timedelta = timedelta(0),
) -> list[datetime]:
    """The starts, sorted and in UTC, of the ``duration``-long meetings a collective page offers:
    the page's candidate starts at which every member is free (see the module's docstring).

    ``window`` and ``lead`` mean what they mean to ``available_slots``. A page without members,
    or with a key twice, is refused.
    """
    starts = _candidates(page, members, duration=duration, now=now, window=window, lead=lead)
    # Each member only looks at the starts every member before them left.
    for member in members:
        starts = _free_starts(member, starts, duration)
    return starts


def round_robin_slots(
    page: Availability,
    members: Sequence[TeamMember[K]],
    *,
    duration: timedelta,
    now: datetime,
    window: Window | None = None,
    lead: timedelta = timedelta(0),
) -> list[tuple[datetime, frozenset[K]]]:
    """The starts, sorted and in UTC, that a round-robin page offers, each with the keys of the
    members free then (never empty): the page's candidate starts at which at least one member is
    free (see the module's docstring). The booking goes to ``round_robin_pick`` of that set.

    ``window`` and ``lead`` mean what they mean to ``available_slots``; re-checking one start
    under the members' locks is a call with ``window=Window(start, start + SECOND)``. A page
    without members, or with a key twice, is refused.
    """
    starts = _candidates(page, members, duration=duration, now=now, window=window, lead=lead)
    free: dict[datetime, list[K]] = {}
    for member in members:
        for start in _free_starts(member, starts, duration):
            free.setdefault(start, []).append(member.key)
    return [(start, frozenset(free[start])) for start in starts if start in free]


def round_robin_pick(
    free: Iterable[K],
    *,
    recent_counts: Mapping[K, int],
    weights: Mapping[K, float] | None = None,
    priority: Sequence[K] = (),
) -> K:
    """The member of ``free`` who gets the booking.

    The one with the fewest recent bookings relative to their weight, ``count / weight`` compared
    exactly (a member of weight 2 is picked until they have twice the bookings of a member of
    weight 1, so over many bookings each gets a share proportional to their weight). A member
    missing from ``recent_counts`` has 0 bookings, one missing from ``weights`` weight 1; weights
    must be positive. Which bookings count as recent is the caller's choice, the same for every
    member. Ties go to the member earliest in ``priority``, members not in it after those who
    are, and then to the smallest key, so the same inputs always pick the same member.
    """
    candidates = set(free)
    if not candidates:
        raise ValueError("no member is free to pick")
    weights = weights or {}
    position: dict[K, int] = {}
    for index, key in enumerate(priority):
        position.setdefault(key, index)

    def load(key: K) -> Fraction:
        weight = weights.get(key, 1)
        if weight <= 0:
            raise ValueError(f"weights must be positive, not {weight!r}")
        return Fraction(recent_counts.get(key, 0)) / Fraction(weight)

    return min(candidates, key=lambda key: (load(key), position.get(key, len(priority)), key))


def _candidates(
    page: Availability,
    members: Sequence[TeamMember[K]],
    *,
    duration: timedelta,
    now: datetime,
    window: Window | None,
    lead: timedelta,
) -> list[datetime]:
    """The page's candidate starts, sorted, after checking the inputs."""
    if page.buffer_before or page.buffer_after or page.max_per_day is not None:
        raise ValueError("a team page's buffers and daily cap are its members', not its own")
    if not members:
        raise ValueError("a team page needs at least one member")
    if len({member.key for member in members}) != len(members):
        raise ValueError("each member is on a team page once")
    return available_slots(
        page, duration=duration, now=now, busy=(), bookings=(), window=window, lead=lead
    )


def _free_starts(
    member: TeamMember[K], starts: Sequence[datetime], duration: timedelta
) -> list[datetime]:
    """Those of ``starts`` (sorted) at which ``member`` is free for ``duration``.

    One walk through the starts alongside the member's open ranges and blocked spans, each in
    time order, so every start costs a few comparisons and no search.
    """
    if not starts:
        return []
    availability = member.availability
    zone = availability.time_zone
    # One definition of "in the way" and "full": the single-owner page's, for this member.
    blocked_starts, blocked_ends = blocked_spans(availability, member.busy, member.bookings)
    full = full_days(availability, member.booked_starts)
    first_day = starts[0].astimezone(zone).date() - DAY
    last_day = starts[-1].astimezone(zone).date() + DAY
    opens, closes, odd = _open_ranges(availability, first_day, last_day, duration, full)
    free: list[datetime] = []
    opened = blocked = 0
    open_count, blocked_count = len(opens), len(blocked_starts)
    for start in starts:
        while opened < open_count and closes[opened] < start:
            opened += 1
        if not (opened < open_count and opens[opened] <= start) and not any(
            first <= start <= last and start.astimezone(zone).date() == day
            for first, last, day in odd
        ):
            continue
        # As ``available_slots`` asks ``bisect_right(ends, start)``: the first span ending after.
        while blocked < blocked_count and blocked_ends[blocked] <= start:
            blocked += 1
        if blocked == blocked_count or blocked_starts[blocked] >= start + duration:
            free.append(start)
    return free


def _open_ranges(
    availability: Availability,
    first_day: date,
    last_day: date,
    duration: timedelta,
    full: set[date],
) -> tuple[list[datetime], list[datetime], list[tuple[datetime, datetime, date]]]:
    """The starts whose ``duration``-long meeting lies within the member's hours (as
    ``_within_hours`` has it: in real time, inside one interval of the start's own local day),
    from ``first_day`` to ``last_day`` leaving out the ``full`` days.

    Each interval of hours gives the closed range [first, last] of the starts that keep the
    meeting inside it. A range all of whose instants fall on its own day (every range but on a
    night the clock falls back across midnight) goes, merged with its neighbours, into the first
    two lists, disjoint and in time order. Any other keeps its day in the third, for a start in
    it to be checked against its own local date.
    """
    zone = availability.time_zone
    ranges: list[tuple[datetime, datetime]] = []
    odd: list[tuple[datetime, datetime, date]] = []
    day = first_day
    here = wall_instants(datetime.combine(day, time()), zone)
    while day <= last_day:
        midnight = datetime.combine(day, time())
        there = wall_instants(midnight + DAY, zone)
        hours = () if day in full else availability.hours_on(day)
        if len(here) == len(there) == 1 and there[0] - here[0] == DAY:
            # One offset all day (as ``_starts_on`` has it): wall clock and real time step alike.
            base = here[0]
            ranges.extend(
                (base + first * MINUTE, base + last * MINUTE - duration) for first, last in hours
            )
        elif hours:
            # The instants before the previous day's last or from the next day's first may be
            # another day's, where the clock falls back across a midnight.
            own_from = interval_end(midnight, zone)
            own_until = first_instant(midnight + DAY, zone)
            for first, last in hours:
                opens = first_instant(midnight + first * MINUTE, zone)
                closes = interval_end(midnight + last * MINUTE, zone) - duration
                if opens < own_from or closes >= own_until:
                    odd.append((opens, closes, day))
                else:
                    ranges.append((opens, closes))
        here = there
        day += DAY
    opens_at: list[datetime] = []
    closes_at: list[datetime] = []
    for earliest, latest in sorted(ranges):
        if earliest > latest:
            continue  # the interval is shorter than the meeting
        if closes_at and earliest <= closes_at[-1]:
            closes_at[-1] = max(closes_at[-1], latest)
        else:
            opens_at.append(earliest)
            closes_at.append(latest)
    odd = [(earliest, latest, day) for earliest, latest, day in odd if earliest <= latest]
    return opens_at, closes_at, odd
