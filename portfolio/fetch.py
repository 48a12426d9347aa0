"""Every real event of a user's calendars over a window, read from the providers on demand.

Nothing read here is kept: no database row, file, log line or cache entry holds a title, a
description, a location or a link. The result lives in memory for one response.

Calendars are read concurrently (``calendars.reading``).

What is left out, and what is joined:
- blocks our sync wrote: an event whose id our table of blocks lists for that calendar (the only
  signal where a read cannot see markers, as in Microsoft's delta), then any event carrying our
  block marker; unless the user shows that calendar's blocks, then each is its own event, flagged
  ``block`` and named after its rule. Events written for bookings are real events and stay,
  flagged ``booking``.
- declined invitations of a calendar whose declined events the user hides.
- the same meeting in several calendars (one iCalendar UID, the same start and end) is one
  event listing its calendars.
- cancelled events never come from the providers. Declined invitations are kept and flagged
  ``declined``, for the page to show dimmed: they are still on the calendar.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils.translation import gettext, gettext_noop

from accounts.models import User
from calendars.models import Calendar, Connection
from calendars.reading import read_calendars
from integrations.base import EventStatus, RemoteEvent, Response, Window
from integrations.base import Transparency as Busy
from integrations.wording import error_text
from syncrules.models import Block

logger = logging.getLogger(__name__)

# Calendars the user let go of are not shown at all; the others are read or reported.
# All-day events are dates, the same everywhere, while the window's edges are instants in one
# zone: read a day more on each side so no date the window touches is missed.
DATE_MARGIN = timedelta(days=1)

NEEDS_RECONNECT = gettext_noop(
    "This account needs to be reconnected before its events can be shown."
)


@dataclass(frozen=True, slots=True)
class CalendarFailure:
    """A calendar whose events are missing from the result, and why, in plain words."""

    calendar: Calendar
    reason: str
    # Retrying cannot help: the account needs the user (reconnect, new password).
    needs_reconnect: bool = False


@dataclass(slots=True)
class PortfolioEvent:
    """One real event, possibly found in several of the user's calendars.

    Timed events have aware UTC ``start``/``end``. All-day events have ``all_day`` set and
    midnight-UTC datetimes standing for dates (first day, day after the last), as in
    ``RemoteEvent``: read them with ``.date()``.
    """

    id: str
    title: str
    start: datetime
    end: datetime
    all_day: bool
    calendars: list[Calendar]
    # (calendar, the provider's id of this event there): what an action on a copy names.
    refs: list[tuple[Calendar, str]] = field(default_factory=list)
    location: str = ""
    video_link: str = ""
    booking: bool = False
    declined: bool = False
    tentative: bool = False
    free: bool = False
    # An instance of a recurring series (an action asks which instances it is for).
    recurring: bool = False
    # A block sync wrote (shown only where the user asked), and the name of its rule.
    block: bool = False
    rule: str = ""


@dataclass(slots=True)
class PortfolioResult:
    events: list[PortfolioEvent] = field(default_factory=list)
    failures: list[CalendarFailure] = field(default_factory=list)


def events_for(
    user: User, window: Window, *, calendar_ids: Collection[object] | None = None
) -> PortfolioResult:
    """The real events of the user's shown calendars (of ``calendar_ids`` among them, when given)
    over ``window``, in time order, and the calendars that could not be read.

    Timed events overlap ``window``; all-day events are those whose dates the window touches,
    give or take a day (the caller's view shows the dates it covers). Calendars the user hid in
    the portfolio are not read.
    """
    calendars = readable_calendars(user, calendar_ids=calendar_ids)
    result = PortfolioResult()
    to_read: list[Calendar] = []
    for calendar in calendars:
        if calendar.connection.is_usable:
            to_read.append(calendar)
        else:
            reason = calendar.connection.error_text or gettext(NEEDS_RECONNECT)
            result.failures.append(CalendarFailure(calendar, reason, needs_reconnect=True))

    wide = Window(window.start - DATE_MARGIN, window.end + DATE_MARGIN)
    reads = read_calendars(
        to_read, lambda provider, calendar: provider.changes(calendar.remote_id, "", wide).events
    )
    found: list[tuple[Calendar, Sequence[RemoteEvent]]] = []
    for read in reads:
        if read.error is not None:
            logger.info(
                "Portfolio: calendar %s could not be read: %s", read.calendar.id, read.error
            )
            result.failures.append(
                CalendarFailure(
                    read.calendar, error_text(read.error), needs_reconnect=read.error.permanent
                )
            )
        else:
            found.append((read.calendar, read.value or []))
    result.events = assemble(
        found,
        window=window,
        known_blocks=known_blocks(to_read),
        display=_display_of(to_read),
    )
    result.failures.sort(key=lambda failure: _calendar_order(failure.calendar))
    return result


def readable_calendars(
    user: User, *, calendar_ids: Collection[object] | None = None
) -> list[Calendar]:
    """The user's calendars the portfolio shows (not hidden, account not let go of), in order."""
    calendars = (
        Calendar.objects.filter(connection__user=user)
        .exclude(connection__status__in=Connection.RELEASED)
        .exclude(portfolio_preference__shown=False)
        .select_related("connection", "portfolio_preference")
        .order_by("connection__created_at", "connection_id", "name", "id")
    )
    if calendar_ids is not None:
        calendars = calendars.filter(id__in=[str(calendar_id) for calendar_id in calendar_ids])
    return list(calendars)


@dataclass(frozen=True, slots=True)
class Display:
    """How one calendar's events are shown (its ``CalendarPreference``)."""

    show_declined: bool = True
    show_blocks: bool = False


@dataclass(frozen=True, slots=True)
class KnownBlocks:
    """The blocks we wrote into the calendars read: by (calendar id, remote event id) for
    providers whose reads cannot carry our marker, and each block's rule by block id."""

    by_event: Mapping[tuple[str, str], str] = field(default_factory=dict)
    rules: Mapping[str, str] = field(default_factory=dict)


def known_blocks(calendars: Iterable[Calendar]) -> KnownBlocks:
    """What our table of blocks says about these calendars (ids and rule names only)."""
    by_event: dict[tuple[str, str], str] = {}
    rules: dict[str, str] = {}
    rows = Block.objects.filter(target_calendar__in=list(calendars)).values_list(
        "id", "target_calendar_id", "target_event_id", "rule__name"
    )
    for block_id, calendar_id, event_id, rule in rows:
        rules[str(block_id)] = rule or ""
        if event_id:
            by_event[(str(calendar_id), event_id)] = str(block_id)
    return KnownBlocks(by_event=by_event, rules=rules)


def _display_of(calendars: Iterable[Calendar]) -> dict[str, Display]:
    display = {}
    for calendar in calendars:
        preference = getattr(calendar, "portfolio_preference", None)
        if preference is not None:
            display[str(calendar.id)] = Display(preference.show_declined, preference.show_blocks)
    return display


def assemble(
    reads: Iterable[tuple[Calendar, Sequence[RemoteEvent]]],
    *,
    window: Window,
    known_blocks: KnownBlocks = KnownBlocks(),
    display: Mapping[str, Display] | None = None,
) -> list[PortfolioEvent]:
    """The portfolio's events from what each calendar read: blocks left out (or shown apart where
    the calendar's display asks), declined invitations left out where it asks, copies of one
    meeting joined, in time order. A pure function of its arguments."""
    display = display or {}
    date_window = Window(window.start - DATE_MARGIN, window.end + DATE_MARGIN)
    merged: dict[tuple[object, ...], PortfolioEvent] = {}
    for calendar, events in reads:
        calendar_id = str(calendar.id)
        shown = display.get(calendar_id, Display())
        for event in events:
            if event.status == EventStatus.CANCELLED or not _inside(event, window, date_window):
                continue
            block_id = event.block_id or known_blocks.by_event.get((calendar_id, event.id))
            if block_id is not None:
                if shown.show_blocks:
                    block = _portfolio_event(calendar, event)
                    block.block, block.rule = True, known_blocks.rules.get(block_id, "")
                    merged[("block", calendar_id, event.id)] = block
                continue
            if event.response == Response.DECLINED and not shown.show_declined:
                continue
            key: tuple[object, ...] = (
                (event.ical_uid, event.start, event.end, event.all_day)
                if event.ical_uid
                else (calendar_id, event.id)
            )
            found = merged.get(key)
            if found is None:
                merged[key] = _portfolio_event(calendar, event)
            else:
                _join(found, calendar, event)
    return sorted(
        merged.values(), key=lambda event: (event.start, not event.all_day, event.end, event.title)
    )


def _inside(event: RemoteEvent, window: Window, date_window: Window) -> bool:
    bounds = date_window if event.all_day else window
    if event.end <= event.start:
        return bounds.start <= event.start < bounds.end
    return event.start < bounds.end and event.end > bounds.start


def _portfolio_event(calendar: Calendar, event: RemoteEvent) -> PortfolioEvent:
    digest = hashlib.blake2b(f"{calendar.id}\n{event.id}".encode(), digest_size=9).hexdigest()
    return PortfolioEvent(
        id=digest,
        title=event.title.strip(),
        start=event.start,
        end=event.end,
        all_day=event.all_day,
        calendars=[calendar],
        refs=[(calendar, event.id)],
        location=event.location.strip(),
        video_link=event.video_link,
        booking=bool(event.booking_id),
        declined=event.response == Response.DECLINED,
        tentative=_tentative(event),
        free=event.transparency == Busy.FREE,
        recurring=event.series_id != event.id,
    )


def _join(found: PortfolioEvent, calendar: Calendar, event: RemoteEvent) -> None:
    """Another calendar's copy of ``found``: list the calendar, fill what the first copy lacked."""
    if calendar not in found.calendars:
        found.calendars.append(calendar)
    found.refs.append((calendar, event.id))
    found.recurring = found.recurring or event.series_id != event.id
    found.title = found.title or event.title.strip()
    found.location = found.location or event.location.strip()
    found.video_link = found.video_link or event.video_link
    found.booking = found.booking or bool(event.booking_id)
    # Declined only where every copy says so; free only when no copy keeps the time busy.
    found.declined = found.declined and event.response == Response.DECLINED
    found.tentative = found.tentative and _tentative(event)
    found.free = found.free and event.transparency == Busy.FREE


def _tentative(event: RemoteEvent) -> bool:
    return event.status == EventStatus.TENTATIVE or event.response == Response.TENTATIVE


def _calendar_order(calendar: Calendar) -> tuple[object, ...]:
    return (calendar.connection.created_at, str(calendar.connection_id), calendar.name)
