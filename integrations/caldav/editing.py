"""Editing the user's own events inside CalDAV objects (RFC 5545), for the portfolio.

Pure: it parses an object, changes it and writes it back; the provider does the HTTP. An
instance is named as ``changes`` names it (``<href>|<UID>/<original start>``, the start in UTC
``YYYYMMDDTHHMMSSZ`` or a date ``YYYYMMDD``; a single event is its href alone).

- THIS on an instance writes an override (a VEVENT with RECURRENCE-ID) in the same object, or
  an EXDATE on the master to remove it.
- ALL changes the master: title, location and description on it and on every override; its
  time of day (in its own zone) and length change as the edited instance's did, on the master's
  own date. The EXDATEs, RDATEs, overrides' RECURRENCE-IDs and a timed UNTIL move by the same
  wall-clock shift, so they still name the instances they named; other overrides keep their
  own times, the edited one takes the draft's.
- FOLLOWING ends the master's rule before the instance (UNTIL; a COUNT becomes one), and, for a
  change, starts a new series there in a new object (a new UID), with the rest of the
  recurrence (COUNT less the instances already past), the later EXDATEs, RDATEs and overrides,
  then changed as ALL.

Every changed VEVENT gets SEQUENCE + 1 and a new DTSTAMP (a split-off series starts at 0). Event
content stays in memory: the errors raised here carry fixed messages only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
from dateutil.rrule import rrulestr

from integrations.base import (
    BOOKING_MARKER_PROPERTY,
    MARKER_PROPERTY,
    EditScope,
    EventDraft,
    MarkerKind,
    Window,
)
from integrations.choices import gettext_noop
from integrations.ical import PRODID

_RECURRENCE = ("RRULE", "RDATE", "EXDATE", "EXRULE")
# Generated VTIMEZONEs cover the transitions in these years (icalendar stops at 2038 otherwise).
_ZONE_YEARS = (date(1970, 1, 1), date(2100, 1, 1))
_MARGIN = timedelta(days=2)
_UTC_NAMES = frozenset({"", "UTC", "ETC/UTC", "Z"})

Moment = date | datetime  # a DATE or a DATE-TIME value (aware, or naive when floating)


class EditError(ValueError):
    """The object cannot be edited as asked: unreadable, or the instance is not in it."""


class InstanceGone(EditError):
    """The event or instance named is no longer in the object."""


class Unsupported(EditError):
    """A change this module does not make (said to the user in plain words)."""


@dataclass(frozen=True, slots=True)
class InstanceRef:
    """An event id taken apart: the object's href, and for an instance of a series its UID and
    original start."""

    href: str
    uid: str = ""
    key: str = ""

    @classmethod
    def parse(cls, event_id: str) -> InstanceRef:
        href, bar, rest = event_id.partition("|")
        if not bar:
            return cls(href=href)
        uid, slash, key = rest.rpartition("/")
        if not slash or not uid:
            raise InstanceGone("Not an event id of this calendar.")
        original_of(key)  # checked here, so that a malformed id is an unknown event
        return cls(href=href, uid=uid, key=key)

    @property
    def recurring(self) -> bool:
        return bool(self.uid)

    @property
    def event_id(self) -> str:
        return self.with_key(self.key) if self.uid else self.href

    def with_key(self, key: str, *, href: str = "", uid: str = "") -> str:
        """The event id of the instance ``key`` of this (or the named) object and series."""
        return f"{href or self.href}|{uid or self.uid}/{key}"


def original_of(key: str) -> Moment:
    """The original start named by an instance key: an aware UTC datetime, or a date."""
    try:
        if "T" in key:
            return datetime.strptime(key, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return datetime.strptime(key, "%Y%m%d").date()
    except ValueError as error:
        raise InstanceGone("Not an instance key.") from error


def key_of(value: Moment, zone: tzinfo) -> str:
    """An instance key, as the reader makes it (floating times read in ``zone``)."""
    if isinstance(value, datetime):
        return _in_utc(value, zone).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


# Objects --------------------------------------------------------------------------------------


def parse_object(data: bytes) -> icalendar.Calendar:
    """The object as icalendar reads it, to be written back with everything we do not touch."""
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except Exception:  # icalendar's errors share no base class, and may quote the text
        raise EditError("This event's calendar data could not be read.") from None
    if not isinstance(calendar, icalendar.Calendar):
        raise EditError("This event's calendar data could not be read.")
    return calendar


def serialised(calendar: icalendar.Calendar) -> bytes:
    """The object to store: every zone it names defined in it (RFC 5545 3.6.5)."""
    calendar.add_missing_timezones(*_ZONE_YEARS)
    data: bytes = calendar.to_ical()
    return data


def marker_kind(calendar: icalendar.Calendar) -> MarkerKind | None:
    """Which of our markers an event of the object carries: blocks and booking events are never
    changed as the user's own events."""
    events = calendar.walk("VEVENT")
    if any(str(event.get(MARKER_PROPERTY, "")).strip() for event in events):
        return MarkerKind.BLOCK
    if any(str(event.get(BOOKING_MARKER_PROPERTY, "")).strip() for event in events):
        return MarkerKind.BOOKING
    return None


def new_object(draft: EventDraft) -> tuple[str, bytes]:
    """A new ordinary event (no marker of ours): its UID and the object holding it."""
    uid = str(uuid.uuid4())
    calendar = icalendar.Calendar()
    calendar.add("VERSION", "2.0")
    calendar.add("PRODID", PRODID)
    event = icalendar.Event()
    event.add("UID", uid)
    event.add("SEQUENCE", 0)
    _set_times(event, *draft_times(draft))
    _set_content(event, draft)
    _stamp(event)
    calendar.add_component(event)
    return uid, serialised(calendar)


def draft_times(draft: EventDraft, event: icalendar.Event | None = None) -> tuple[Moment, Moment]:
    """The draft's start and end as iCalendar values: dates, or times in the draft's zone.

    A draft in UTC (also what a caller that knows no zone sends) changing an ``event`` written
    in a zone of its own keeps that zone: the same times, still shown in the event's zone."""
    if draft.all_day:
        return draft.start.date(), draft.end.date()
    zone = _zone(draft.time_zone)
    current = getattr(event.get("DTSTART"), "dt", None) if event is not None else None
    in_utc = draft.time_zone.strip().upper() in _UTC_NAMES
    if in_utc and isinstance(current, datetime) and current.tzinfo is not None:
        zone = current.tzinfo
    return draft.start.astimezone(zone), draft.end.astimezone(zone)


def instance_window(calendar: icalendar.Calendar, ref: InstanceRef) -> Window:
    """A span that holds the instance ``ref`` names wherever an override moved it, and whatever
    zone floating times are read in (two days either side)."""
    if not ref.recurring:
        event = _single(calendar)
        moments = [_start(event), _end(event)]
    else:
        original = original_of(ref.key)
        moments = [original]
        for event in _events(calendar):
            if str(event.get("UID", "")).strip() != ref.uid or "RECURRENCE-ID" not in event:
                continue
            if abs(_as_utc(_recurrence_id(event)) - _as_utc(original)) <= _MARGIN:
                moments += [_start(event), _end(event)]
    times = [_as_utc(moment) for moment in moments]
    return Window(min(times) - _MARGIN, max(times) + _MARGIN)


def organised_by(calendar: icalendar.Calendar, ref: InstanceRef, addresses: Iterable[str]) -> bool:
    """Whether the owner organises the event: it names no organizer, or names one of the owner's
    addresses. When the server does not say the owner's addresses, an event naming an organizer
    counts as an invitation: the panel then says that answers go through the user's calendar
    app, which is true either way, rather than offering nothing."""
    events = [
        event
        for event in _events(calendar)
        if not ref.recurring or str(event.get("UID", "")).strip() == ref.uid
    ]
    organizer = next((str(e["ORGANIZER"]) for e in events if "ORGANIZER" in e), "")
    known = {address.lower() for address in addresses}
    if not organizer:
        return True
    return organizer.lower().removeprefix("mailto:") in known


# The series of one UID ---------------------------------------------------------------------


@dataclass(slots=True)
class Series:
    """The VEVENTs of one UID in an object: its master (None when the object holds overrides
    only) and its overrides; ``zone`` reads floating times."""

    calendar: icalendar.Calendar
    uid: str
    master: icalendar.Event | None
    overrides: list[icalendar.Event]
    zone: tzinfo

    @classmethod
    def of(cls, calendar: icalendar.Calendar, uid: str, zone: tzinfo) -> Series:
        events = [e for e in _events(calendar) if str(e.get("UID", "")).strip() == uid]
        masters = [e for e in events if "RECURRENCE-ID" not in e]
        if not events or len(masters) > 1:
            raise InstanceGone("No such series in this object.")
        overrides = [e for e in events if "RECURRENCE-ID" in e]
        return cls(calendar, uid, masters[0] if masters else None, overrides, zone)

    def override(self, key: str) -> icalendar.Event | None:
        for event in self.overrides:
            if _key(event, self.zone) == key:
                return event
        return None

    def first_key(self) -> str:
        if self.master is None:
            return ""
        return key_of(_start(self.master), self.zone)

    def original_value(self, key: str) -> Moment:
        """The original start ``key`` names, written as the master's DTSTART is (a date, a time
        in its zone, or a floating time), for a RECURRENCE-ID or an EXDATE."""
        original = original_of(key)
        start = _start(self.master) if self.master is not None else original
        if not isinstance(original, datetime):
            return original
        if not isinstance(start, datetime):
            return original.date()
        if start.tzinfo is None:
            return original.astimezone(self.zone).replace(tzinfo=None)
        return original.astimezone(start.tzinfo)

    def remove(self, events: Iterable[icalendar.Event]) -> None:
        gone = {id(event) for event in events}
        self.calendar.subcomponents = [c for c in self.calendar.subcomponents if id(c) not in gone]
        self.overrides = [event for event in self.overrides if id(event) not in gone]


# Changes ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    """What to store after a change: ``body`` for the object (None: delete it), ``new_object``
    (uid, body) for a series split off by FOLLOWING, and the event id of the instance changed,
    as it is named now."""

    body: bytes | None
    event_id: str
    new_object: tuple[str, bytes] | None = None


def update(
    calendar: icalendar.Calendar,
    ref: InstanceRef,
    draft: EventDraft,
    scope: EditScope,
    *,
    zone: tzinfo,
    collection: str,
) -> Change:
    """Change the event or instance ``ref`` of the object to ``draft``, for ``scope``.

    ``collection`` is the calendar's path, where a series split off by FOLLOWING is stored."""
    if not ref.recurring:
        event = _single(calendar)
        _set_times(event, *draft_times(draft, event))
        _set_content(event, draft)
        _bump(event)
        return Change(serialised(calendar), ref.href)
    series = Series.of(calendar, ref.uid, zone)
    if series.master is None or scope == EditScope.THIS:
        _edit_instance(series, ref.key, draft)
        return Change(serialised(calendar), ref.with_key(ref.key))
    if scope == EditScope.ALL or ref.key == series.first_key():
        key = _edit_all(series, ref.key, draft)
        return Change(serialised(calendar), ref.with_key(key))
    uid, rest = _split(series, ref.key)
    key = _edit_all(rest, ref.key, draft)
    for event in _events(rest.calendar):
        event["SEQUENCE"] = 0  # a new event
    href = f"{collection}{uid}.ics"
    return Change(
        serialised(calendar),
        ref.with_key(key, href=href, uid=uid),
        new_object=(uid, serialised(rest.calendar)),
    )


def remove(
    calendar: icalendar.Calendar, ref: InstanceRef, scope: EditScope, *, zone: tzinfo
) -> Change:
    """Remove the event or the instances ``scope`` names; ``body`` None: delete the object."""
    if not ref.recurring:
        return Change(None, ref.href)
    series = Series.of(calendar, ref.uid, zone)
    master = series.master
    whole = scope == EditScope.ALL or (
        scope == EditScope.FOLLOWING and ref.key == series.first_key()
    )
    if whole:
        series.remove([event for event in [master, *series.overrides] if event is not None])
    elif master is None:
        series.remove([event for event in series.overrides if _key(event, zone) == ref.key])
    elif scope == EditScope.THIS:
        series.remove([event for event in series.overrides if _key(event, zone) == ref.key])
        master.add("EXDATE", series.original_value(ref.key))
        _bump(master)
    else:
        _end_before(series, ref.key)
        series.remove([event for event in series.overrides if _key(event, zone) >= ref.key])
        _bump(master)
    if not _events(calendar):
        return Change(None, ref.href)
    return Change(serialised(calendar), ref.href)


def _single(calendar: icalendar.Calendar) -> icalendar.Event:
    events = _events(calendar)
    if len(events) != 1:
        raise InstanceGone("Not a single event.")
    return events[0]


def _edit_instance(series: Series, key: str, draft: EventDraft) -> None:
    """THIS: the instance's override, made from the master when there is none yet."""
    event = series.override(key)
    if event is None:
        if series.master is None:
            raise InstanceGone("No such instance.")
        event = _copy(series.master)
        for name in _RECURRENCE:
            event.pop(name, None)
        event.add("RECURRENCE-ID", series.original_value(key))
        series.calendar.add_component(event)
        series.overrides.append(event)
    _set_times(event, *draft_times(draft, event))
    _set_content(event, draft)
    _bump(event)


def _edit_all(series: Series, key: str, draft: EventDraft) -> str:
    """ALL: every instance's content, and the series moved and resized as the edited instance
    ``key`` was; the key that instance has afterwards.

    The edited instance's change of time of day (in the master's zone) and of length is applied
    to the master, on the master's own date: editing a moved instance moves the others as much,
    not to its time. The edited instance, when it has an override, is where the draft puts it.
    """
    master = _master(series)
    start, end = _start(master), _end(master)
    if isinstance(start, datetime) == draft.all_day:
        raise Unsupported(
            gettext_noop(
                "A recurring event cannot switch between all-day and timed for several instances "
                "at once; change this one instance instead."
            )
        )
    edited = series.override(key)
    if edited is not None:
        was_start, was_end = _start(edited), _end(edited)
    else:
        was_start = series.original_value(key)
        was_end = _after(was_start, _length(start, end))
    new_start, new_end = draft_times(draft)
    frame = _frame(start, series.zone)
    series_start: Moment = start
    if isinstance(start, datetime):
        moved_by = _time_of_day(new_start, frame) - _time_of_day(was_start, frame)
        wall = datetime.combine(start.date(), (_wall(start, frame) + moved_by).time())
        series_start = wall if start.tzinfo is None else wall.replace(tzinfo=frame)
    length = _length(start, end) + (_length(new_start, new_end) - _length(was_start, was_end))
    if length <= timedelta(0):
        length = _length(new_start, new_end)
    shift = _wall(series_start, frame) - _wall(start, frame)
    if shift:
        _shift_series(series, shift, frame)
    _set_times(master, series_start, _after(series_start, length))
    for event in [master, *series.overrides]:
        _set_content(event, draft)
        _bump(event)
    if edited is not None:
        _set_times(edited, new_start, new_end)
    original = original_of(key)
    if isinstance(original, datetime):
        original = _moved(original, shift, frame)
    return key_of(original, series.zone)


def _shift_series(series: Series, shift: timedelta, frame: tzinfo) -> None:
    """Move what names the master's instances (EXDATE, RDATE, RECURRENCE-ID, a timed UNTIL) by
    ``shift`` of wall-clock time in ``frame``, so that it names the same instances at their new
    time."""
    master = _master(series)

    def move(value: Moment) -> Moment:
        return _moved(value, shift, frame) if isinstance(value, datetime) else value

    for name in ("EXDATE", "RDATE"):
        _replace_dates(master, name, move)
    for event in series.overrides:
        recurrence = _recurrence_id(event)
        del event["RECURRENCE-ID"]
        event.add("RECURRENCE-ID", move(recurrence))
    rules = []
    for rule in _rules(master):
        until = rule.get("UNTIL")
        if until and isinstance(until[0], datetime):
            rule = icalendar.vRecur({**rule, "UNTIL": [move(until[0])]})
        rules.append(rule)
    _set_rules(master, rules)


def _split(series: Series, key: str) -> tuple[str, Series]:
    """FOLLOWING: end the series before ``key``, and return the rest as a new series (a new
    UID, for an object of its own) whose first instance is ``key``."""
    master = _master(series)
    original = series.original_value(key)
    uid = str(uuid.uuid4())
    rest = _copy(master)
    rest["UID"] = uid
    _set_times(rest, original, _after(original, _length(_start(master), _end(master))))
    rules = []
    for rule in _rules(master):
        count = rule.get("COUNT")
        if count:
            left = int(count[0]) - _occurrences_before(rule, master, original, series.zone)
            if left <= 0:
                continue
            rule = icalendar.vRecur({**rule, "COUNT": [left]})
        rules.append(rule)
    _set_rules(rest, rules)
    for name in ("EXDATE", "RDATE"):
        _replace_dates(rest, name, _same, keep=lambda value: key_of(value, series.zone) >= key)
    later = [event for event in series.overrides if _key(event, series.zone) >= key]
    calendar = icalendar.Calendar()
    calendar.add("VERSION", "2.0")
    calendar.add("PRODID", PRODID)
    calendar.add_component(rest)
    moved = []
    for event in later:
        copy = _copy(event)
        copy["UID"] = uid
        calendar.add_component(copy)
        moved.append(copy)
    _end_before(series, key)
    series.remove(later)
    _bump(master)
    return uid, Series(calendar, uid, rest, moved, series.zone)


def _end_before(series: Series, key: str) -> None:
    """End the master's recurrence just before the instance ``key``: an UNTIL one second
    earlier (in UTC for a zoned start; a day earlier for dates) in place of a COUNT or a later
    UNTIL; the RDATEs and EXDATEs from ``key`` on go."""
    master = _master(series)
    original = series.original_value(key)
    until: Moment
    if isinstance(original, datetime):
        until = original - timedelta(seconds=1)
        if until.tzinfo is not None:
            until = until.astimezone(UTC)
    else:
        until = original - timedelta(days=1)
    rules = []
    for rule in _rules(master):
        kept = {name: value for name, value in rule.items() if name not in ("COUNT", "UNTIL")}
        current = rule.get("UNTIL")
        earlier = current and key_of(current[0], series.zone) < key_of(until, series.zone)
        kept["UNTIL"] = current if earlier else [until]
        rules.append(icalendar.vRecur(kept))
    _set_rules(master, rules)
    for name in ("EXDATE", "RDATE"):
        _replace_dates(master, name, _same, keep=lambda value: key_of(value, series.zone) < key)


def _occurrences_before(
    rule: icalendar.vRecur, master: icalendar.Event, original: Moment, zone: tzinfo
) -> int:
    """How many instances the rule makes before ``original`` (EXDATEs count: COUNT counts them)."""
    frame = _frame(_start(master), zone)
    limit = _wall(original, frame)
    text = rule.to_ical()
    expanded = rrulestr(
        text.decode() if isinstance(text, bytes) else str(text),
        dtstart=_wall(_start(master), frame),
    )
    before = 0
    for moment in expanded:  # bounded: the rule has a COUNT
        if moment >= limit:
            break
        before += 1
    return before


# Values ---------------------------------------------------------------------------------------


def _events(calendar: icalendar.Calendar) -> list[icalendar.Event]:
    return [c for c in calendar.subcomponents if isinstance(c, icalendar.Event)]


def _master(series: Series) -> icalendar.Event:
    if series.master is None:
        raise InstanceGone("This series has no master event in the object.")
    return series.master


def _copy(event: icalendar.Event) -> icalendar.Event:
    copy = icalendar.Event.from_ical(event.to_ical())
    if not isinstance(copy, icalendar.Event):
        raise EditError("This event could not be copied.")
    return copy


def _value(event: icalendar.Event, name: str) -> Moment:
    prop = event.get(name)
    value = getattr(prop, "dt", None)
    if not isinstance(value, date):
        raise EditError("An event without a start, or with an unreadable one.")
    return value


def _start(event: icalendar.Event) -> Moment:
    return _value(event, "DTSTART")


def _recurrence_id(event: icalendar.Event) -> Moment:
    return _value(event, "RECURRENCE-ID")


def _end(event: icalendar.Event) -> Moment:
    start = _start(event)
    if "DTEND" in event:
        return _value(event, "DTEND")
    duration = getattr(event.get("DURATION"), "dt", None)
    if isinstance(duration, timedelta):
        return start + duration
    return start if isinstance(start, datetime) else start + timedelta(days=1)


def _length(start: Moment, end: Moment) -> timedelta:
    """The time from ``start`` to ``end`` (whole days between dates)."""
    if isinstance(start, datetime) and isinstance(end, datetime):
        if (start.tzinfo is None) != (end.tzinfo is None):
            end = end.replace(tzinfo=start.tzinfo)
        return end - start
    if not isinstance(start, datetime) and not isinstance(end, datetime):
        return end - start
    raise EditError("An event whose start and end are not of one kind.")


def _key(event: icalendar.Event, zone: tzinfo) -> str:
    return key_of(_recurrence_id(event), zone)


def _set_times(event: icalendar.Event, start: Moment, end: Moment) -> None:
    for name in ("DTSTART", "DTEND", "DURATION"):
        event.pop(name, None)
    event.add("DTSTART", start)
    event.add("DTEND", end)


def _set_content(event: icalendar.Event, draft: EventDraft) -> None:
    for name, value in (
        ("SUMMARY", draft.title),
        ("LOCATION", draft.location),
        ("DESCRIPTION", draft.description),
    ):
        event.pop(name, None)
        if value:
            event.add(name, value)


def _stamp(event: icalendar.Event) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    for name in ("DTSTAMP", "LAST-MODIFIED"):
        event.pop(name, None)
        event.add(name, now)


def _bump(event: icalendar.Event) -> None:
    try:
        sequence = int(str(event.get("SEQUENCE", 0)).strip())
    except ValueError:
        sequence = 0
    event["SEQUENCE"] = sequence + 1
    _stamp(event)


def _rules(event: icalendar.Event) -> list[icalendar.vRecur]:
    rules = event.get("RRULE")
    if rules is None:
        return []
    return list(rules) if isinstance(rules, list) else [rules]


def _set_rules(event: icalendar.Event, rules: list[icalendar.vRecur]) -> None:
    event.pop("RRULE", None)
    for rule in rules:
        event.add("RRULE", rule)


def _dates(event: icalendar.Event, name: str) -> list[Moment]:
    """The values of every EXDATE or RDATE line (a period by its start)."""
    lines = event.get(name)
    if lines is None:
        return []
    found: list[Moment] = []
    for line in lines if isinstance(lines, list) else [lines]:
        for item in getattr(line, "dts", []):
            value = item.dt
            value = value[0] if isinstance(value, tuple) else value
            if isinstance(value, date):
                found.append(value)
    return found


def _replace_dates(
    event: icalendar.Event,
    name: str,
    change: Callable[[Moment], Moment],
    *,
    keep: Callable[[Moment], bool] = lambda value: True,
) -> None:
    """Write the EXDATE or RDATE values again, changed and filtered, one value a line."""
    values = _dates(event, name)
    if not values:
        return
    event.pop(name, None)
    for value in values:
        if keep(value):
            event.add(name, change(value))


def _same(value: Moment) -> Moment:
    return value


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a path
        return UTC


def _in_utc(value: datetime, zone: tzinfo) -> datetime:
    return (value if value.tzinfo is not None else value.replace(tzinfo=zone)).astimezone(UTC)


def _as_utc(value: Moment) -> datetime:
    """A date at midnight UTC, a floating time as if in UTC: for spans with a margin only."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time.min, tzinfo=UTC)
    return _in_utc(value, UTC)


def _frame(start: Moment, zone: tzinfo) -> tzinfo:
    """The zone a series' wall-clock times are in: its start's, or ``zone`` for floating ones."""
    return (start.tzinfo if isinstance(start, datetime) else None) or zone


def _wall(value: Moment, frame: tzinfo) -> datetime:
    """``value`` as a naive wall-clock time in ``frame`` (a floating time as written, a date at
    midnight)."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time.min)
    if value.tzinfo is None:
        return value
    return value.astimezone(frame).replace(tzinfo=None)


def _time_of_day(value: Moment, frame: tzinfo) -> timedelta:
    wall = _wall(value, frame)
    return wall - datetime.combine(wall.date(), time.min)


def _after(start: Moment, length: timedelta) -> Moment:
    """The end ``length`` of elapsed time after ``start`` (whole days, at least one, for a date)."""
    if not isinstance(start, datetime):
        return start + timedelta(days=max(1, length.days))
    if start.tzinfo is None:
        return start + length
    return (start.astimezone(UTC) + length).astimezone(start.tzinfo)


def _moved(value: datetime, shift: timedelta, frame: tzinfo) -> datetime:
    """``value`` moved by ``shift`` of wall-clock time in ``frame``, written as it was (in its
    own zone, in UTC, or floating)."""
    if value.tzinfo is None:
        return value + shift
    moved = (_wall(value, frame) + shift).replace(tzinfo=frame)
    return moved.astimezone(value.tzinfo)
