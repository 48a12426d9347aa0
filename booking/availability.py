"""A page's open times: its rules, minus busy time read from the owner's calendars, minus bookings.

This is the part of booking that touches the database and the providers; the arithmetic is in
``booking.slots``. Busy time is read for whole UTC days, so the cache serves every visitor of the
day; the check made just before a booking is stored reads the providers afresh.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from uuid import UUID
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet

from booking.models import Booking, BookingPage, TeamPage
from booking.slots import (
    Availability,
    Refusal,
    available_slots,
    local_day_window,
    start_refusal,
)
from calendars.busy import calendars_busy
from calendars.models import Calendar, Connection
from integrations.base import BusyPolicy, Interval, Window
from syncrules.models import Block

# Busy time is read a little wider than the slots asked for, so buffers at the edges see it.
_MARGIN = timedelta(days=1)


@dataclass(slots=True)
class PageSlots:
    slots: list[datetime] = field(default_factory=list)
    # Calendars whose busy time could not be read; while any is listed, no time is offered.
    unreadable: list[Calendar] = field(default_factory=list)
    # The busy time the slots were computed from (placed in the page's zone), and the span read.
    busy: list[Interval] = field(default_factory=list)
    span: Window | None = None


@dataclass(frozen=True, slots=True)
class Draft:
    """What an unsaved page holds beside its own fields: its date overrides (date -> hours) and the
    calendars chosen to make the owner busy. Given to ``page_slots``, it stands in for the saved
    rows, so the page form can preview settings before they are saved."""

    date_overrides: Mapping[date, Sequence[Sequence[int]]] = field(default_factory=dict)
    busy_calendars: Sequence[Calendar] = ()


def availability_of(page: BookingPage, draft: Draft | None = None) -> Availability:
    overrides = (
        draft.date_overrides
        if draft is not None
        else {override.date: override.hours for override in page.date_overrides.all()}
    )
    return Availability(
        time_zone=ZoneInfo(page.time_zone),
        weekly_hours={int(day): _spans(hours) for day, hours in page.weekly_hours.items()},
        date_overrides={day: _spans(hours) for day, hours in overrides.items()},
        buffer_before=timedelta(minutes=page.buffer_before),
        buffer_after=timedelta(minutes=page.buffer_after),
        minimum_notice=timedelta(minutes=page.minimum_notice),
        horizon_days=page.horizon_days,
        increment=timedelta(minutes=page.increment),
        max_per_day=page.max_per_day,
    )


def busy_policy_of(page: BookingPage | TeamPage) -> BusyPolicy:
    """Which events make the page's owner busy; a team page's options apply to every member."""
    return BusyPolicy(
        tentative=page.tentative_is_busy,
        free=page.free_is_busy,
        all_day=page.all_day_events == BookingPage.AllDayEvents.BUSY_ONLY,
    )


def busy_calendars_of(page: BookingPage, draft: Draft | None = None) -> list[Calendar]:
    """The calendars whose events make the owner busy for this page."""
    return list(_busy_calendars(page, draft).select_related("connection"))


def busy_calendar_ids(page: BookingPage) -> list[str]:
    """The ids of ``busy_calendars_of(page)``, for keys that change with them: one narrow query
    where the calendars and their connections would be read for nothing."""
    return [str(id_) for id_ in _busy_calendars(page, None).values_list("id", flat=True)]


def _busy_calendars(page: BookingPage, draft: Draft | None) -> QuerySet[Calendar]:
    calendars: QuerySet[Calendar]
    if page.busy_in_all_calendars:
        calendars = Calendar.objects.filter(connection__user_id=page.owner_id)
    elif draft is None:
        calendars = page.busy_calendars.filter(connection__user_id=page.owner_id)
    else:
        chosen = [calendar.id for calendar in draft.busy_calendars]
        calendars = Calendar.objects.filter(id__in=chosen, connection__user_id=page.owner_id)
    return calendars.exclude(connection__status__in=Connection.RELEASED)


def page_slots(
    page: BookingPage,
    *,
    now: datetime,
    window: Window,
    duration: int,
    rescheduling: Booking | None = None,
    fresh: bool = False,
    lead: timedelta = timedelta(0),
    draft: Draft | None = None,
) -> PageSlots:
    """The start times offered for a ``duration``-minute meeting starting inside ``window``.

    ``rescheduling`` is a booking being moved: its own time (in the database, and in the
    calendars its event and the blocks copied from it) does not count against it; any other
    event at that very time still does.
    ``fresh`` skips the busy-time cache. ``lead``: only times still bookable that much later are
    offered (see ``available_slots``). ``draft``: ``page`` is unsaved, and these are its overrides
    and chosen calendars.
    """
    availability = availability_of(page, draft)
    span = _busy_window(page, now=now, window=window, availability=availability, fresh=fresh)
    read = calendars_busy(busy_calendars_of(page, draft), span, busy_policy_of(page), fresh=fresh)
    if read.unreadable:
        return PageSlots(unreadable=read.unreadable)
    busy = [_in_zone(span, availability.time_zone) for span in read.spans]
    if rescheduling is not None:
        own = _own_event_ids(rescheduling)
        busy = [span for span in busy if span.event_id not in own]
    slots = open_starts(
        page,
        availability,
        busy=busy,
        span=span,
        now=now,
        window=window,
        duration=duration,
        rescheduling=rescheduling,
        lead=lead,
    )
    return PageSlots(slots=slots, busy=busy, span=span)


def open_starts(
    page: BookingPage,
    availability: Availability,
    *,
    busy: Sequence[Interval],
    span: Window,
    now: datetime,
    window: Window,
    duration: int,
    rescheduling: Booking | None = None,
    lead: timedelta = timedelta(0),
) -> list[datetime]:
    """The starts offered given ``busy`` (read over ``span``) and the bookings stored now."""
    bookings = _confirmed_bookings(page, _bookings_window(span, window, availability), rescheduling)
    return available_slots(
        availability,
        duration=timedelta(minutes=duration),
        now=now,
        busy=busy,
        bookings=[Interval(booking.start, booking.end) for booking in bookings],
        booked_starts=[booking.start for booking in bookings if booking.page_id == page.id],
        window=window,
        lead=lead,
    )


def open_refusal(
    page: BookingPage,
    availability: Availability,
    *,
    busy: Sequence[Interval],
    span: Window,
    now: datetime,
    start: datetime,
    duration: int,
    rescheduling: Booking | None = None,
) -> Refusal | None:
    """Why ``start`` is not among ``open_starts`` with the same arguments (the bookings stored
    now), or None when it is: the booking service asks it again under its lock with the busy
    time it has just read."""
    window = Window(start, start + timedelta(seconds=1))
    bookings = _confirmed_bookings(page, _bookings_window(span, window, availability), rescheduling)
    return start_refusal(
        availability,
        start=start,
        duration=timedelta(minutes=duration),
        now=now,
        busy=busy,
        bookings=[Interval(booking.start, booking.end) for booking in bookings],
        booked_starts=[booking.start for booking in bookings if booking.page_id == page.id],
    )


def _busy_window(
    page: BookingPage, *, now: datetime, window: Window, availability: Availability, fresh: bool
) -> Window:
    if fresh:
        # Just what the asked window and its buffers touch: a quick read right before booking.
        return Window(
            window.start - availability.buffer_before - _MARGIN,
            window.end + timedelta(hours=24) + availability.buffer_after,
        )
    # Whole UTC days over the whole horizon: one cache entry per calendar serves every month view.
    first = datetime.combine(now.date(), time(0), tzinfo=now.tzinfo) - _MARGIN
    return Window(first, first + timedelta(days=page.horizon_days + 3))


def _bookings_window(span: Window, window: Window, availability: Availability) -> Window:
    """Where stored bookings matter to starts inside ``window``: the span busy time was read over
    (buffers included), and the whole owner-local days the window touches, however long, since
    the daily cap counts every booking of a start's day."""
    zone = availability.time_zone
    first = local_day_window(window.start.astimezone(zone).date(), zone).start
    last = local_day_window(window.end.astimezone(zone).date(), zone).end
    return Window(min(span.start, first), max(span.end, last))


class _Stored(NamedTuple):
    """A confirmed booking as the open times need it: read as values, not as model rows, which
    cost more to build than the slot arithmetic for an owner with hundreds of bookings."""

    start: datetime
    end: datetime
    page_id: UUID | None


def _confirmed_bookings(
    page: BookingPage, window: Window, rescheduling: Booking | None
) -> list[_Stored]:
    bookings = Booking.objects.filter(
        owner_id=page.owner_id,
        status=Booking.Status.CONFIRMED,
        start__lt=window.end,
        end__gt=window.start,
    )
    if rescheduling is not None:
        bookings = bookings.exclude(id=rescheduling.id)
    return [_Stored(*row) for row in bookings.values_list("start", "end", "page_id")]


def _in_zone(span: Interval, zone: ZoneInfo) -> Interval:
    """An all-day span covers whole days where the owner is, not UTC's days."""
    if not span.all_day:
        return span
    last_day = (span.end - timedelta(microseconds=1)).date()
    return replace(
        span,
        start=local_day_window(span.start.date(), zone).start,
        end=local_day_window(last_day, zone).end,
    )


def _own_event_ids(booking: Booking) -> set[str]:
    """The booking's event in its calendar, and the blocks sync rules copied from it elsewhere."""
    if not booking.remote_event_id:
        return set()
    copies = Block.objects.filter(
        source_calendar_id=booking.calendar_id, source_event_id=booking.remote_event_id
    ).exclude(target_event_id="")
    return {booking.remote_event_id, *copies.values_list("target_event_id", flat=True)}


def bookings_version(owner_id: object) -> str:
    """Changes whenever one of the owner's bookings is made, moved, cancelled or deleted: part of
    the key under which public pages keep their rendered times."""
    return cache.get(bookings_version_key(owner_id)) or ""


def forget_bookings(owner_id: object) -> None:
    """Once the current transaction commits, pages stop reusing times computed before it."""
    key = bookings_version_key(owner_id)
    transaction.on_commit(lambda: cache.set(key, uuid.uuid4().hex[:12], None))


def bookings_version_key(owner_id: object) -> str:
    return f"booking:bookings-version:{owner_id}"


def _spans(hours: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    return [(int(start), int(end)) for start, end in hours]
