"""The start times a public booking page offers: a pure function of a page's availability, the
owner's busy time and bookings, and the current time. No models, no I/O.

Hours are wall-clock times in the owner's zone; everything else is absolute time (aware
datetimes, compared as instants, returned in UTC). Across a change of the zone's offset:
- a meeting lasts its duration in real time, and must lie inside one interval of hours in real
  time: from the first time the clock shows the interval's start until the last time it runs up
  to its end (on a fall-back night an interval over the repeated hour is an hour longer, and
  one over the skipped hour an hour shorter);
- start times step by the increment on the wall clock from the interval's start, while the
  wall-clock time is before the interval's end; a step whose wall-clock time does not exist (the
  skipped hour) is left out, and one that exists twice (the repeated hour) offers both instants,
  each once and in time order.
A day's interval ending at 1440 ends at the next midnight, but a meeting never spans two days'
intervals, even where 22:00-24:00 touches the next day's 00:00-02:00: each day's hours stand
alone (like two touching intervals within a day), so a meeting belongs to one day for its date
override and its daily cap.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from integrations.base import Interval, Window, merge_intervals

DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)
MINUTES_PER_DAY = 1440


@dataclass(frozen=True, slots=True)
class Availability:
    """A booking page's hours and rules, in the owner's zone.

    Hours are ``(start_minute, end_minute)`` pairs, minutes from local midnight with
    ``0 <= start < end <= 1440`` (1440 is the next midnight). A date in ``date_overrides``
    replaces its weekday's hours; a date listed with no hours is a day off.
    """

    time_zone: ZoneInfo
    # ISO weekday (1 = Monday .. 7 = Sunday) -> hours; a weekday left out has none.
    weekly_hours: Mapping[int, Sequence[tuple[int, int]]]
    date_overrides: Mapping[date, Sequence[tuple[int, int]]]
    # Free time needed before and after a meeting, against busy time and other bookings.
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    # No slot starts earlier than now + this.
    minimum_notice: timedelta = timedelta(0)
    # Slots start on one of this many owner-local days, today included.
    horizon_days: int = 60
    # Start times step by this on the wall clock from each interval's start.
    increment: timedelta = timedelta(minutes=30)
    # At most this many of this page's confirmed bookings start on one owner-local day.
    max_per_day: int | None = None

    def __post_init__(self) -> None:
        if self.increment <= timedelta(0):
            raise ValueError("increment must be positive")
        if self.buffer_before < timedelta(0) or self.buffer_after < timedelta(0):
            raise ValueError("buffers cannot be negative")
        if set(self.weekly_hours) - set(range(1, 8)):
            raise ValueError("weekly hours are keyed by ISO weekday, 1 to 7")
        for hours in (*self.weekly_hours.values(), *self.date_overrides.values()):
            for start, end in hours:
                if not 0 <= start < end <= MINUTES_PER_DAY:
                    raise ValueError(f"hours ({start}, {end}) are not 0 <= start < end <= 1440")

    def hours_on(self, day: date) -> Sequence[tuple[int, int]]:
        """The hours of ``day``: its override when it has one, else its weekday's."""
        if day in self.date_overrides:
            return self.date_overrides[day]
        return self.weekly_hours.get(day.isoweekday(), ())


def available_slots(
    availability: Availability,
    *,
    duration: timedelta,
    now: datetime,
    busy: Iterable[Interval],
    bookings: Iterable[Interval],
    booked_starts: Iterable[datetime] = (),
    window: Window | None = None,
    lead: timedelta = timedelta(0),
) -> list[datetime]:
    """The starts, sorted and in UTC, of the ``duration``-long meetings the page offers.

    ``busy`` is the owner's busy time from every calendar the page watches (unmerged, overlapping
    is fine); ``bookings`` the meeting times of the owner's confirmed bookings on every page;
    ``booked_starts`` the starts of this page's confirmed bookings, for ``max_per_day``. A slot
    starts on the grid of an interval of hours, no earlier than ``now + minimum_notice``, on one
    of the ``horizon_days`` owner-local days from today, and (with ``window``) inside the window.
    ``lead`` moves the earliest start later still, but not today nor the horizon: times shown now
    must stay bookable for ``lead``, and a booking made then counts its days from its own now.

    Buffers: a slot needs ``buffer_before`` free before it and ``buffer_after`` after it, where a
    calendar's busy time is not free. Against a booking the buffers are shared, not stacked: a
    booking has the same buffers around it (this page's settings stand in for whichever page it
    was made on), and free time is free for both, so a slot keeps ``max(buffer_before,
    buffer_after)`` away from every booking on both sides.
    """
    if duration <= timedelta(0):
        raise ValueError("duration must be positive")
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    zone = availability.time_zone
    today = now.astimezone(zone).date()
    last_day = today + timedelta(days=availability.horizon_days - 1)
    earliest = now + lead + availability.minimum_notice
    latest = first_instant(datetime.combine(last_day + DAY, time()), zone)
    if window is not None:
        earliest, latest = max(earliest, window.start), min(latest, window.end)
    if earliest >= latest:
        return []

    starts, ends = blocked_spans(availability, busy, bookings)
    full = full_days(availability, booked_starts)
    slots: list[datetime] = []
    count = len(starts)
    day = max(today, earliest.astimezone(zone).date())
    last_day = min(last_day, latest.astimezone(zone).date())
    while day <= last_day:
        hours = availability.hours_on(day)
        if hours and day not in full:
            for start in _starts_on(day, hours, zone, duration, availability.increment):
                if start < earliest:
                    continue
                if start >= latest:
                    break
                # Each candidate finds its blocked span on its own: a clock that falls back across
                # midnight runs the end of one day again after the next day began, so the days'
                # candidates do not come in time order.
                index = bisect_right(ends, start)
                if index == count or starts[index] >= start + duration:
                    slots.append(start)
        day += DAY
    slots.sort()
    return slots


class Refusal(StrEnum):
    """Why a start is not offered; ``start_refusal`` gives the first that applies, in this order."""

    NOTICE = "notice"  # earlier than now plus the minimum notice (or past)
    HORIZON = "horizon"  # after the last day bookings are open for
    HOURS = "hours"  # the meeting does not lie within one interval of the day's hours
    GRID = "grid"  # within the hours, but not one of their start times
    FULL = "full"  # its owner-local day has its ``max_per_day`` bookings
    TAKEN = "taken"  # busy time or another booking (with the buffers) is in the way


def start_refusal(
    availability: Availability,
    *,
    start: datetime,
    duration: timedelta,
    now: datetime,
    busy: Iterable[Interval] = (),
    bookings: Iterable[Interval] = (),
    booked_starts: Iterable[datetime] = (),
    lead: timedelta = timedelta(0),
) -> Refusal | None:
    """Why ``available_slots`` with the same arguments does not offer ``start``, or None when it
    does. Any aware ``start`` is answered, however far from now (the horizon is checked before
    any arithmetic on it)."""
    if start < now + lead + availability.minimum_notice:
        return Refusal.NOTICE
    zone = availability.time_zone
    last_day = now.astimezone(zone).date() + timedelta(days=availability.horizon_days - 1)
    if start >= first_instant(datetime.combine(last_day + DAY, time()), zone):
        return Refusal.HORIZON

    def offered(busy: Iterable[Interval], bookings: Iterable[Interval]) -> bool:
        return start in available_slots(
            availability,
            duration=duration,
            now=now,
            busy=busy,
            bookings=bookings,
            window=Window(start, start + SECOND),
            lead=lead,
        )

    if not offered((), ()):
        return Refusal.GRID if _within_hours(availability, start, duration) else Refusal.HOURS
    if start.astimezone(zone).date() in full_days(availability, booked_starts):
        return Refusal.FULL
    if not offered(busy, bookings):
        return Refusal.TAKEN
    return None


def slots_by_day(slots: Iterable[datetime], zone: ZoneInfo) -> dict[date, list[datetime]]:
    """``slots`` grouped by their date in ``zone`` (the attendee's), in order; not converted."""
    days: dict[date, list[datetime]] = {}
    for slot in slots:
        days.setdefault(slot.astimezone(zone).date(), []).append(slot)
    return days


def blocked_spans(
    availability: Availability, busy: Iterable[Interval], bookings: Iterable[Interval]
) -> tuple[list[datetime], list[datetime]]:
    """The starts and ends of the merged spans a meeting itself must not overlap.

    A slot [s, s + d) with its buffers overlaps busy time [a, b) exactly when the meeting
    overlaps [a - buffer_after, b + buffer_before), so buffers move onto the blocked spans once
    instead of onto every candidate. Empty spans block nothing, buffers or not.
    """
    before, after = availability.buffer_before, availability.buffer_after
    around = max(before, after)
    # Calendars kept in sync hold copies of one another's events: each span is moved once.
    distinct = {(span.start, span.end) for span in busy if span.start < span.end}
    spans = [(start - after, end + before) for start, end in distinct]
    spans.extend(
        (booking.start - around, booking.end + around)
        for booking in bookings
        if booking.start < booking.end
    )
    merged = merge_intervals(spans)
    return [span.start for span in merged], [span.end for span in merged]


def full_days(availability: Availability, booked_starts: Iterable[datetime]) -> set[date]:
    """Owner-local dates that already have ``max_per_day`` of this page's bookings."""
    if availability.max_per_day is None:
        return set()
    zone = availability.time_zone
    counts = Counter(start.astimezone(zone).date() for start in booked_starts)
    return {day for day, booked in counts.items() if booked >= availability.max_per_day}


def local_day_window(day: date, zone: ZoneInfo) -> Window:
    """Every instant whose date in ``zone`` is ``day``: from the first time the clock shows its
    midnight (or the jump over it) to the last time it runs up to the next one. That is 23 or 25
    hours across a change of offset, and a little more than the day itself where the clock falls
    back across midnight and shows the day's last minutes again after the next day began."""
    midnight = datetime.combine(day, time())
    return Window(first_instant(midnight, zone), interval_end(midnight + DAY, zone))


def _within_hours(availability: Availability, start: datetime, duration: timedelta) -> bool:
    """Whether the meeting lies in real time within one interval of its owner-local day's hours."""
    zone = availability.time_zone
    day = start.astimezone(zone).date()
    midnight = datetime.combine(day, time())
    return any(
        first_instant(midnight + first * MINUTE, zone) <= start
        and start + duration <= interval_end(midnight + last * MINUTE, zone)
        for first, last in availability.hours_on(day)
    )


def _starts_on(
    day: date,
    hours: Sequence[tuple[int, int]],
    zone: ZoneInfo,
    duration: timedelta,
    increment: timedelta,
) -> list[datetime]:
    """Sorted UTC instants of the grid starts on ``day`` whose meeting fits in its interval."""
    midnight = datetime.combine(day, time())
    here, there = wall_instants(midnight, zone), wall_instants(midnight + DAY, zone)
    starts: list[datetime] = []
    if len(here) == len(there) == 1 and there[0] - here[0] == DAY:
        # A 24-hour day with one offset throughout (no zone changes its offset twice in a day):
        # wall-clock and real time step alike, so no conversion per start.
        base = here[0]
        for first, last in hours:
            start, end = base + first * MINUTE, base + last * MINUTE - duration
            while start <= end:
                starts.append(start)
                start += increment
    else:
        for first, last in hours:
            wall, stop = midnight + first * MINUTE, midnight + last * MINUTE
            end = interval_end(stop, zone) - duration
            while wall < stop:
                starts.extend(start for start in wall_instants(wall, zone) if start <= end)
                wall += increment
    # Intervals may come in any order or overlap, and the repeated hour interleaves its starts.
    return sorted(set(starts))


def wall_instants(wall: datetime, zone: ZoneInfo) -> tuple[datetime, ...]:
    """The UTC instants at which the clock in ``zone`` shows naive ``wall``: one, none (skipped
    by a spring-forward gap) or two (repeated by a fall-back), earliest first."""
    first = wall.replace(tzinfo=zone).astimezone(UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return (first,)
    # In a gap, fold=0 reads the wall time with the offset before the change (the later
    # instant) and fold=1 with the one after; in a fold it is the other way round.
    return (first, second) if first < second else ()


def first_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant the clock shows ``wall`` or, when it skips it, the jump over it."""
    instants = wall_instants(wall, zone)
    return instants[0] if instants else _jump_over(wall, zone)


def interval_end(wall: datetime, zone: ZoneInfo) -> datetime:
    """When an interval of hours ending at ``wall`` ends: the last time the clock runs up to
    ``wall`` from before it. That is the jump when the clock skips ``wall``, and the second time
    it shows ``wall`` when the clock falls back to before ``wall`` (02:30 on a night that repeats
    02:00-03:00), but the first when it falls back to ``wall`` itself (02:00 that night)."""
    instants = wall_instants(wall, zone)
    if not instants:
        return _jump_over(wall, zone)
    last = instants[-1]
    if (last - SECOND).astimezone(zone).replace(tzinfo=None) < wall:
        return last
    return instants[0]


def _jump_over(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant the clock jumps forward over the skipped wall time ``wall``.

    Read with the offset after the jump, ``wall`` is an instant before it; with the offset
    before, one after it. Offsets change on whole seconds, so bisect the seconds between.
    """
    before = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    after = int(wall.replace(tzinfo=zone, fold=0).timestamp())
    while after - before > 1:
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) < wall:
            before = middle
        else:
            after = middle
    return datetime.fromtimestamp(after, UTC)
