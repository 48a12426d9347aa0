"""The fast path for reading iCalendar: the common shapes of event, read straight from the text.

``parse_calendar`` and ``read_events`` (the general path) cost about a millisecond of CPU per event:
icalendar's content-line parser builds typed objects for every property, and recurring-ical-events
wraps each event in a series. Most objects are a plain event or a simple series, so
``read_simple`` reads those from the text in a fraction of that, and declines (returns None)
everything else, which the caller then reads the general way.

Exact by construction, not close: what the general path treats specially is declined, not
imitated (custom or Windows zones, X-WR-TIMEZONE, RDATE and rules with other parts, events without
a UID or given twice, moved instances without their series, unusual parameters, typed properties
that icalendar could fail on, more instances than ``MAX_INSTANCES``), and what is accepted is read
with the general path's own rules: icalendar's unfolding and unescaping, recurring-ical-events'
series algorithm (its recurrence-id keys, EXDATE matching and window edges, dateutil for the
rule), and ``read_events``' mapping to ``RemoteEvent``, sharing its helpers for times and ids.
tests/integrations/test_ical_fast_path.py compares the two paths field by field on generated
calendars; ``bench/ical_parse.py`` measures both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Final, Literal
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, weekday, weekdays
from icalendar import Component
from icalendar.parser.content_line import NEWLINE, UFOLD
from icalendar.parser.property import unescape_backslash
from icalendar.prop import vCalAddress, vText, vUnknown, vUri
from icalendar.timezone import tzp

from integrations.base import (
    BOOKING_MARKER_PROPERTY,
    MARKER_PROPERTY,
    EventStatus,
    RemoteEvent,
    Response,
    Transparency,
    Window,
)
from integrations.ical import (
    _IANA_ZONES,
    _MAX_RULE_DAYS,
    _PARTSTAT,
    MAX_CALENDAR_BYTES,
    MAX_INSTANCES,
    ParsedEvents,
    _aware_utc,
    _date_as_utc,
    _instance_key,
    _status,
    _transparency,
    _zone_name,
)
from integrations.video_links import find_video_link

Time = date | datetime


@dataclass(frozen=True, slots=True)
class SimpleRead:
    """What ``read_simple`` read: the events, and every UID of the text (CalDAV pairs objects of
    moved instances stored apart with the object of their series by UID)."""

    parsed: ParsedEvents
    uids: frozenset[str]


def read_simple(
    data: bytes | str,
    window: Window,
    *,
    series_prefix: str = "",
    series_id: str = "",
    default_zone: tzinfo = UTC,
    own_addresses: Iterable[str] = (),
) -> SimpleRead | None:
    """Exactly what the general path reads from ``data`` (same arguments as ``read_events``), or
    None when the text holds anything the fast path does not read.

    ``series_id``, when given, is every event's series id, and the id of each event that is not
    an instance of a recurring one, in place of its prefixed UID: CalDAV names the events of an
    object after the object, and naming them so at once saves copying every event."""
    try:
        events = _events(_lines(data))
        series = _series(events, window)
        return _read(series, window, (series_prefix, series_id), default_zone, own_addresses)
    except _Declined:
        return None


class _Declined(Exception):
    """The text holds something only the general path reads."""


# --- Content lines ---------------------------------------------------------------------------

# A content line as icalendar splits it, written plainly: a name, then parameters whose values
# are quoted (where a backslash is a character) or free of the characters icalendar's parameter
# parser reads otherwise (an unquoted backslash escapes), then the value after the first colon
# outside quotes. The values of the parameters that are read are checked again (``_param``).
_PARAM_VALUE = r'(?:"[^"\x00-\x08\x0a-\x1f\x7f]*"|[^";:,=\\\x00-\x08\x0a-\x1f\x7f]+)'
_LINE = re.compile(rf"([A-Za-z0-9_.-]+)((?:;[A-Za-z0-9-]+={_PARAM_VALUE}(?:,{_PARAM_VALUE})*)*):")
_PARAM = re.compile(rf";([A-Za-z0-9-]+)=({_PARAM_VALUE}(?:,{_PARAM_VALUE})*)")
_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_PLAIN_PARAM = re.compile(r'"?([A-Za-z0-9_/+.-]+)"?')

Params = dict[str, str]


def _lines(data: bytes | str) -> list[tuple[str, Params, str]]:
    """(name upper-case, parameters by upper-case name (raw), raw value) of each content line,
    unfolded as icalendar unfolds."""
    if len(data) > MAX_CALENDAR_BYTES:
        raise _Declined
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    text = text.lstrip("\ufeff \t\r\n")
    if text[:15].upper() != "BEGIN:VCALENDAR":
        raise _Declined
    line_breaks = text.count("\r\n")
    if text.count("\r") != line_breaks:
        raise _Declined  # a lone carriage return stays inside icalendar's lines
    # With CRLF throughout and no blank line, icalendar's unfolding is removing CRLF + space or
    # tab, and its line split is splitting at CRLF; both are much cheaper written so.
    plain = text.count("\n") == line_breaks and "\r\n\r\n" not in text
    if "\n " in text or "\n\t" in text:
        text = text.replace("\r\n ", "").replace("\r\n\t", "") if plain else UFOLD.sub("", text)
    lines: list[tuple[str, Params, str]] = []
    for line in text.split("\r\n") if plain else NEWLINE.split(text):
        if not line:
            continue
        head, colon, value = line.partition(":")
        if colon and _NAME.fullmatch(head):
            lines.append((head.upper(), {}, value))
            continue
        match = _LINE.match(line)
        if match is None:
            raise _Declined
        params: Params = {}
        for name, raw in _PARAM.findall(match.group(2)):
            name = name.upper()
            if name in params:
                raise _Declined
            params[name] = raw
        lines.append((match.group(1).upper(), params, line[match.end() :]))
    return lines


def _param(params: Params, name: str) -> str | None:
    """A parameter that is read: one plain value (quotes removed), or None when absent."""
    raw = params.get(name)
    if raw is None:
        return None
    match = _PLAIN_PARAM.fullmatch(raw)
    if match is None or raw.startswith('"') != raw.endswith('"'):
        raise _Declined
    return match.group(1)


# --- Components ------------------------------------------------------------------------------


class _Event:
    """One VEVENT as written: the properties that are read, by name (parameters, raw value)."""

    __slots__ = ("attendees", "exdates", "props")

    def __init__(self) -> None:
        self.props: dict[str, tuple[Params, str]] = {}
        self.exdates: list[tuple[Params, str]] = []
        self.attendees: list[tuple[Params, str]] = []


# Properties of an event that the general path reads, each allowed once.
_READ_ONCE = frozenset(
    {
        "UID",
        "DTSTART",
        "DTEND",
        "DURATION",
        "RRULE",
        "RECURRENCE-ID",
        "SEQUENCE",
        "STATUS",
        "TRANSP",
        "SUMMARY",
        "DESCRIPTION",
        "LOCATION",
        "URL",
        "X-GOOGLE-CONFERENCE",
        "X-MICROSOFT-CDO-BUSYSTATUS",
        MARKER_PROPERTY,
        BOOKING_MARKER_PROPERTY,
    }
)
_DATE_TIME = re.compile(r"\d{8}T\d{6}Z?", re.ASCII)
_CLOCK = r"T(?=\d)(?:\d{1,6}H)?(?:\d{1,6}M)?(?:\d{1,6}S)?"
_DURATION = re.compile(rf"[+-]?P(?:\d{{1,6}}W|\d{{1,6}}D(?:{_CLOCK})?|{_CLOCK})", re.ASCII)
_UTC_OFFSET = re.compile(r"[+-](?:[01]\d|2[0-3])[0-5]\d(?:[0-5]\d)?", re.ASCII)
_INTEGER = re.compile(r"\d{1,9}", re.ASCII)
_GEO = re.compile(r"-?\d{1,3}(?:\.\d{1,20})?;-?\d{1,3}(?:\.\d{1,20})?", re.ASCII)
_ZONE_RULE = re.compile(
    r"FREQ=YEARLY(?:;(?:BYMONTH=(?:[1-9]|1[0-2])|BYDAY=[+-]?[1-5]?(?:MO|TU|WE|TH|FR|SA|SU)"
    r"|BYMONTHDAY=[+-]?(?:[1-9]|[12]\d|3[01])|UNTIL=\d{8}T\d{6}Z))*",
    re.ASCII,
)
# Typed properties that are not read, and the values icalendar surely reads; any other typed
# property is declined. An alarm or a zone with a value icalendar cannot read fails the file; an
# event keeps such a value, but only after a ValueError (a date far enough off overflows).
_EVENT_VALUES = {
    "DTSTAMP": _DATE_TIME,
    "CREATED": _DATE_TIME,
    "LAST-MODIFIED": _DATE_TIME,
    "PRIORITY": _INTEGER,
    "GEO": _GEO,
    "CATEGORIES": re.compile(r".*", re.DOTALL),  # split at commas, never fails
}
_ALARM_VALUES = {
    "TRIGGER": _DURATION,
    "TRIGGER;DATE-TIME": _DATE_TIME,  # Apple's alarm that never rings: 19760401T005545Z
    "DURATION": _DURATION,
    "REPEAT": _INTEGER,
    "ACKNOWLEDGED": _DATE_TIME,
}
# Value types that a VALUE parameter may give properties that are not read: text, and in an
# event (which keeps what it cannot read) binary.
_EVENT_TYPES = frozenset({"TEXT", "URI", "BINARY"})
_ALARM_TYPES = frozenset({"TEXT", "URI"})
_ZONE_VALUES = {
    "TZOFFSETFROM": _UTC_OFFSET,
    "TZOFFSETTO": _UTC_OFFSET,
    "RRULE": _ZONE_RULE,
    "LAST-MODIFIED": _DATE_TIME,
}
_NESTING = {
    "": frozenset({"VCALENDAR"}),
    "VCALENDAR": frozenset({"VEVENT", "VTIMEZONE"}),
    "VEVENT": frozenset({"VALARM"}),
    "VTIMEZONE": frozenset({"STANDARD", "DAYLIGHT"}),
}
_TEXT_TYPES = (vText, vUnknown, vUri, vCalAddress)


@lru_cache(maxsize=1024)  # bounded: the names come from user-supplied files
def _plain(name: str) -> bool:
    """Whether icalendar reads the property as text, which cannot fail."""
    return issubclass(Component.types_factory.for_property(name, None), _TEXT_TYPES)


def _events(lines: list[tuple[str, Params, str]]) -> list[_Event]:
    """The events of the lines, after checking that icalendar reads every other line as the
    general path needs (no failure, nothing that changes how the events are read)."""
    stack: list[str] = []
    events: list[_Event] = []
    event = _Event()
    for name, params, value in lines:
        top = stack[-1] if stack else ""
        if name in ("BEGIN", "END"):
            kind = value.upper()
            if params or "\\" in value:
                raise _Declined
            if name == "BEGIN":
                if kind not in _NESTING.get(top, ()):
                    raise _Declined
                stack.append(kind)
                if kind == "VEVENT":
                    event = _Event()
            else:
                if kind != top:
                    raise _Declined
                stack.pop()
                if kind == "VEVENT":
                    events.append(event)
            continue
        if top == "VEVENT":
            if name in _READ_ONCE:
                if name in event.props:
                    raise _Declined
                event.props[name] = (params, value)
            elif name == "EXDATE":
                event.exdates.append((params, value))
            elif name == "ATTENDEE":
                event.attendees.append((params, value))
            elif not _readable(_EVENT_VALUES, _EVENT_TYPES, name, params, value):
                raise _Declined
        elif top == "VCALENDAR":
            if name == "X-WR-TIMEZONE" or "VALUE" in params or not _plain(name):
                raise _Declined
        elif top == "VALARM":
            if not _readable(_ALARM_VALUES, _ALARM_TYPES, name, params, value):
                raise _Declined
        elif top == "VTIMEZONE" and name == "TZID":
            if params or value not in _IANA_ZONES:
                raise _Declined  # a zone icalendar would build from the definition
        elif top in ("VTIMEZONE", "STANDARD", "DAYLIGHT"):
            if params or not (_plain(name) or _zone_value(name, value)):
                raise _Declined
        else:
            raise _Declined  # a property outside any component
    if stack:
        raise _Declined
    return events


def _readable(
    forms: dict[str, re.Pattern[str]],
    types: frozenset[str],
    name: str,
    params: Params,
    value: str,
) -> bool:
    """Whether icalendar reads a property that is not read without failing: one of a text type,
    given as such or by its VALUE, or typed and of the form ``forms`` gives for its name (or for
    its name and VALUE)."""
    kind = _param(params, "VALUE")
    if kind in types or (kind is None and _plain(name)):
        return True
    form = forms.get(name if kind is None else f"{name};{kind}")
    return form is not None and bool(form.fullmatch(value))


def _zone_value(name: str, value: str) -> bool:
    """Whether a property of a VTIMEZONE (which icalendar builds strictly) reads without fail."""
    if name in ("DTSTART", "RDATE"):
        try:
            return all(_date_time(part).tzinfo is None for part in value.split(","))
        except _Declined:
            return False
    form = _ZONE_VALUES.get(name)
    return form is not None and bool(form.fullmatch(value))


# --- Values ----------------------------------------------------------------------------------

_UTC_ZONE: Final = tzp.localize_utc(datetime(2000, 1, 1)).tzinfo  # what icalendar gives "Z"
_zones: dict[str, ZoneInfo] = {}


def _date_time(value: str, zone: tzinfo | None = None) -> datetime:
    if not _DATE_TIME.fullmatch(value):
        raise _Declined
    try:
        moment = datetime(
            int(value[:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[9:11]),
            int(value[11:13]),
            int(value[13:15]),
        )
    except ValueError:
        raise _Declined from None
    if len(value) == 16:
        if zone is not None:
            raise _Declined  # icalendar ignores the "Z" of a time with a TZID
        return moment.replace(tzinfo=_UTC_ZONE)
    return moment if zone is None else moment.replace(tzinfo=zone)


def _date(value: str) -> date:
    if len(value) != 8 or not value.isdigit() or not value.isascii():
        raise _Declined
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        raise _Declined from None


def _zone(params: Params) -> ZoneInfo | None:
    name = _param(params, "TZID")
    if name is None:
        return None
    if name not in _zones:
        if name not in _IANA_ZONES:
            raise _Declined  # Windows names, custom zones: icalendar finds or builds those
        _zones[name] = ZoneInfo(name)
    return _zones[name]


def _time(prop: tuple[Params, str]) -> Time:
    """A DTSTART, DTEND or RECURRENCE-ID as icalendar reads it."""
    params, value = prop
    if params.keys() - {"TZID", "VALUE"}:
        raise _Declined  # RANGE=THISANDFUTURE, and whatever else
    kind = _param(params, "VALUE")
    if len(value) == 8:
        if kind not in (None, "DATE") or "TZID" in params:
            raise _Declined
        return _date(value)
    if kind not in (None, "DATE-TIME"):
        raise _Declined
    return _date_time(value, _zone(params))


def _times(prop: tuple[Params, str]) -> list[Time]:
    """An EXDATE's values, each read by its form as icalendar's date-time lists are."""
    params, value = prop
    if params.keys() - {"TZID", "VALUE"} or _param(params, "VALUE") not in (
        None,
        "DATE",
        "DATE-TIME",
    ):
        raise _Declined
    zone = _zone(params)
    times: list[Time] = []
    for part in value.split(","):
        if len(part) == 8:
            if zone is not None:
                raise _Declined
            times.append(_date(part))
        else:
            times.append(_date_time(part, zone))
    return times


_UNITS = {
    "W": timedelta(weeks=1),
    "D": timedelta(days=1),
    "H": timedelta(hours=1),
    "M": timedelta(minutes=1),
    "S": timedelta(seconds=1),
}


def _duration(value: str) -> timedelta:
    if not _DURATION.fullmatch(value) or value.startswith("-"):
        raise _Declined
    total = timedelta()
    number = ""
    for character in value.lstrip("+P"):
        if character.isdigit():
            number += character
        elif character != "T":
            total += int(number) * _UNITS[character]
            number = ""
    return total


def _text(props: dict[str, tuple[Params, str]], name: str, default: str = "") -> str:
    """A TEXT, URI or CAL-ADDRESS value as icalendar gives it: backslash escapes undone."""
    prop = props.get(name)
    if prop is None:
        return default
    if "VALUE" in prop[0]:
        raise _Declined
    return unescape_backslash(prop[1]) if "\\" in prop[1] else prop[1]


def _raw(props: dict[str, tuple[Params, str]], name: str) -> str:
    """An X- property's value: icalendar keeps an unknown type's value verbatim."""
    prop = props.get(name)
    if prop is None:
        return ""
    if "VALUE" in prop[0]:
        raise _Declined
    return prop[1]


def _is_naive(moment: Time) -> bool:
    return isinstance(moment, datetime) and moment.tzinfo is None


def _same_kind(first: Time, second: Time) -> bool:
    """Both dates, both floating or both aware: mixing makes recurring-ical-events convert."""
    same_type = isinstance(first, datetime) == isinstance(second, datetime)
    return same_type and _is_naive(first) == _is_naive(second)


# --- Series ----------------------------------------------------------------------------------

_FREQUENCIES: dict[str, Literal[0, 1, 2, 3, 4, 5, 6]] = {
    "DAILY": DAILY,
    "WEEKLY": WEEKLY,
    "MONTHLY": MONTHLY,
    "YEARLY": YEARLY,
}
_WEEKDAYS = {repr(day): day for day in weekdays}


@dataclass(slots=True)
class _Rule:
    frequency: Literal[0, 1, 2, 3, 4, 5, 6]
    interval: int
    count: int | None
    until: datetime | None
    by_weekday: tuple[weekday, ...] | None
    week_start: weekday | None


class _Timed:
    """An event with its times read: the component an occurrence of it stands for."""

    __slots__ = ("duration", "end", "event", "keys", "recurrence", "start")

    def __init__(self, event: _Event, start: Time, end: Time, recurrence: Time | None) -> None:
        self.event = event
        self.start = start
        self.end = end
        # Subtracted as the library does (a time of day apart, across a change of offset).
        self.duration: timedelta = end - start  # type: ignore[operator]
        self.recurrence = recurrence
        self.keys = _recurrence_ids(recurrence) if recurrence is not None else ()


@dataclass(slots=True)
class _Series:
    uid: str
    core: _Timed
    rule: _Rule | None
    exdates: list[Time]
    moved: list[_Timed]


def _series(events: list[_Event], window: Window) -> list[_Series]:
    """The events by UID, as recurring-ical-events groups them; declined where the general path
    would first drop, rename or merge events (no UID, no start, versions, shared UIDs)."""
    uids: dict[str, None] = {}  # in the order they come
    masters: dict[str, _Event] = {}
    moved: dict[str, list[_Event]] = {}
    for event in events:
        uid = _text(event.props, "UID")
        if not uid or uid != uid.strip() or "DTSTART" not in event.props:
            raise _Declined
        sequence = event.props.get("SEQUENCE")
        if sequence is not None and (sequence[0] or not _INTEGER.fullmatch(sequence[1])):
            raise _Declined
        uids[uid] = None
        if "RECURRENCE-ID" in event.props:
            moved.setdefault(uid, []).append(event)
        elif uid in masters:
            raise _Declined  # two versions, or two events sharing a UID
        else:
            masters[uid] = event
    all_series = []
    for uid in uids:
        master = masters.get(uid)
        if master is None:
            raise _Declined  # moved instances without their series
        core = _timed(master, None)
        rule = _rule(master, core.start, window)
        exdates = [moment for prop in master.exdates for moment in _times(prop)]
        all_series.append(_Series(uid, core, rule, exdates, _moved(moved.get(uid, []))))
    return all_series


def _timed(event: _Event, recurrence: Time | None) -> _Timed:
    """The event's start and end as recurring-ical-events reads them (DTEND, else DURATION, else
    a day for a date and nothing for a time)."""
    props = event.props
    start = _time(props["DTSTART"])
    if "DTEND" in props:
        if "DURATION" in props:
            raise _Declined
        end = _time(props["DTEND"])
    elif "DURATION" in props:
        if props["DURATION"][0]:
            raise _Declined
        duration = _duration(props["DURATION"][1])
        if not isinstance(start, datetime) and (duration.seconds or duration.microseconds):
            raise _Declined  # a date plus a time of day: a datetime end
        end = start + duration
    else:
        end = start if isinstance(start, datetime) else start + timedelta(days=1)
    if not _same_kind(start, end) or start > end:
        raise _Declined  # the library would convert, or swap the two
    return _Timed(event, start, end, recurrence)


def _moved(events: list[_Event]) -> list[_Timed]:
    """The moved instances of a series: each its own, plain (no rules of its own), under a
    RECURRENCE-ID that no other one shares in any of the forms the library matches them by."""
    moved = []
    written: set[str] = set()
    keys: set[datetime] = set()
    for event in events:
        if "RRULE" in event.props or event.exdates:
            raise _Declined
        params, value = event.props["RECURRENCE-ID"]
        recurrence = _time((params, value))
        if value in written or keys & set(_recurrence_ids(recurrence)):
            raise _Declined  # versions of one instance (the general path keeps the latest)
        written.add(value)
        timed = _timed(event, recurrence)
        keys.update(timed.keys)
        moved.append(timed)
    return moved


def _rule(event: _Event, start: Time, window: Window) -> _Rule | None:
    """The event's RRULE when it is one the fast path expands: a frequency, INTERVAL, COUNT or an
    UNTIL of the start's kind, and weekdays for a daily or weekly rule; and bounded as
    ``ical._bounded`` requires (else the general path skips the series)."""
    prop = event.props.get("RRULE")
    if prop is None:
        return None
    params, value = prop
    if params or not value:
        raise _Declined
    parts: dict[str, str] = {}
    for pair in value.split(";"):
        key, equals, part = pair.partition("=")
        if not equals or key in parts or not part:
            raise _Declined
        parts[key] = part
    frequency = _FREQUENCIES.get(parts.pop("FREQ", ""))
    interval = parts.pop("INTERVAL", "1")
    count = parts.pop("COUNT", None)
    until = parts.pop("UNTIL", None)
    days = parts.pop("BYDAY", None)
    week_start = parts.pop("WKST", None)
    if (
        frequency is None
        or parts
        or not _INTEGER.fullmatch(interval)
        or int(interval) < 1
        or (count is not None and (not _INTEGER.fullmatch(count) or int(count) < 1))
        or (count is not None and until is not None)
        or (days is not None and frequency not in (DAILY, WEEKLY))
        or (week_start is not None and week_start not in _WEEKDAYS)
    ):
        raise _Declined
    by_weekday = None
    if days is not None:
        names = days.split(",")
        if not all(name in _WEEKDAYS for name in names):
            raise _Declined  # "1MO" and the like: only plain weekdays
        by_weekday = tuple(_WEEKDAYS[name] for name in names)
    rule = _Rule(
        frequency=frequency,
        interval=int(interval),
        count=int(count) if count is not None else None,
        until=_until(until, start) if until is not None else None,
        by_weekday=by_weekday,
        week_start=_WEEKDAYS[week_start] if week_start else None,
    )
    _check_bounded(rule, start, window)
    return rule


def _until(value: str, start: Time) -> datetime:
    """UNTIL as dateutil compares it with the occurrences: of the kind of the start (a date for
    dates, UTC for a zoned start, floating for a floating one); other mixes are declined, as
    recurring-ical-events rewrites them."""
    if not isinstance(start, datetime):
        moment = _date(value)
        return datetime(moment.year, moment.month, moment.day)
    until = _date_time(value)
    if (until.tzinfo is None) != (start.tzinfo is None):
        raise _Declined
    return until


def _check_bounded(rule: _Rule, start: Time, window: Window) -> None:
    moment = start if isinstance(start, datetime) else datetime(start.year, start.month, start.day)
    try:
        span = _aware_utc(window.end, UTC) - _aware_utc(moment, UTC)
    except OverflowError:
        raise _Declined from None
    if span.days / rule.interval > _MAX_RULE_DAYS:
        raise _Declined
    if (
        rule.frequency == DAILY
        and rule.interval % 7 == 0
        and rule.by_weekday
        and weekdays[moment.weekday()] not in rule.by_weekday
    ):
        raise _Declined


# --- Expansion -------------------------------------------------------------------------------


def _recurrence_ids(moment: Time) -> tuple[datetime, ...]:
    """recurring-ical-events' ``to_recurrence_ids``: the keys an occurrence is matched by."""
    if not isinstance(moment, datetime):
        return (datetime(moment.year, moment.month, moment.day),)
    if moment.tzinfo is None:
        return (moment,)
    return (moment.astimezone(UTC).replace(tzinfo=None), moment.replace(tzinfo=None))


def _comparable(moment: Time, zone: tzinfo | None) -> datetime:
    """recurring-ical-events' ``convert_to_datetime``."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    if moment.tzinfo is None:
        return moment if zone is None else moment.replace(tzinfo=zone)
    return moment if zone is not None else moment.replace(tzinfo=None)


def _in_window(window: Window, start: Time, end: Time) -> bool:
    """recurring-ical-events' ``time_span_contains_event`` after ``make_comparable``: dates and
    floating times are compared as if in the window's zone."""
    zone = window.start.tzinfo
    start, end = _comparable(start, zone), _comparable(end, zone)
    if start == end:
        return window.start <= start < window.end
    return start < window.end and window.start < end


def _occurrences(series: _Series, window: Window) -> list[tuple[_Timed, Time, Time, Time]]:
    """(component, start, end, recurrence id) of each occurrence in the window, found as
    recurring-ical-events' ``Series.between`` finds them."""
    core = series.core
    exdates = series.exdates
    timed = isinstance(core.start, datetime)
    zone = core.start.tzinfo if isinstance(core.start, datetime) else None
    if zone is None and any(
        isinstance(moment, datetime) and (moment.tzinfo is not None or not timed)
        for moment in exdates
    ):
        raise _Declined  # the library would move the series into the EXDATE's terms
    first = _comparable(core.start, zone)
    duration = core.duration
    excluded_days = {moment for moment in exdates if not isinstance(moment, datetime)}
    excluded = {key for moment in exdates for key in _recurrence_ids(moment)}
    moved = {key: timed for timed in series.moved for key in timed.keys}
    span_start = _comparable(window.start - duration, zone)
    span_end = _comparable(window.end, zone)
    rule = series.rule
    starts = []
    if (rule is None or rule.until is None or not first > rule.until) and (
        span_start <= first <= span_end
    ):
        starts.append(first)
    if rule is not None:
        starts.extend(
            rrule(
                rule.frequency,
                dtstart=first,
                interval=rule.interval,
                count=rule.count,
                until=rule.until,
                byweekday=rule.by_weekday,
                wkst=rule.week_start,
            ).between(span_start, span_end, inc=True)
        )
    dates_only = not timed and not isinstance(core.end, datetime)
    found = []
    returned: set[datetime] = set()
    taken: set[int] = set()
    matched = bool(excluded or moved)
    for start in starts:
        if start in returned or (excluded_days and start.date() in excluded_days):
            continue
        instance = None
        if matched:
            keys = _recurrence_ids(start)
            if not excluded.isdisjoint(keys):
                continue
            for key in keys:
                instance = moved.get(key, instance)
        if instance is None:
            returned.add(start)
            end = start + duration
            first_day, last_day = (start.date(), end.date()) if dates_only else (start, end)
            if _in_window(window, first_day, last_day):
                found.append((core, first_day, last_day, first_day))
            continue
        if id(instance) in taken:
            continue
        taken.add(id(instance))
        if _in_window(window, instance.start, instance.end):
            found.append(_moved_occurrence(instance))
    for instance in series.moved:
        if id(instance) in taken or not excluded.isdisjoint(instance.keys):
            continue
        if _in_window(window, instance.start, instance.end):
            found.append(_moved_occurrence(instance))
    return found


def _moved_occurrence(instance: _Timed) -> tuple[_Timed, Time, Time, Time]:
    assert instance.recurrence is not None
    return (instance, instance.start, instance.end, instance.recurrence)


# --- Events ----------------------------------------------------------------------------------


def _read(
    all_series: list[_Series],
    window: Window,
    naming: tuple[str, str],
    zone: tzinfo,
    own_addresses: Iterable[str],
) -> SimpleRead:
    """``read_events``' mapping of each occurrence to a ``RemoteEvent`` (``ical._to_event``);
    ``naming`` is the series prefix and the series id of ``read_simple``."""
    series_prefix, object_id = naming
    addresses = {address.lower() for address in own_addresses}
    occurrences = []
    for series in all_series:
        occurrences.extend(_occurrences(series, window))
        if len(occurrences) > MAX_INSTANCES:
            raise _Declined  # the general path refuses the calendar
    recurring = {series.uid for series in all_series if series.rule is not None or series.moved}
    contents: dict[int, _Content | None] = {}
    events = []
    seen_ids: set[str] = set()
    for timed, start, end, recurrence in occurrences:
        key = id(timed.event)
        if key not in contents:
            contents[key] = _content(timed.event, addresses)
        content = contents[key]
        if content is None:
            continue  # cancelled
        series_id = f"{series_prefix}{content.uid}"
        event_id = series_id
        if content.uid in recurring:
            event_id = f"{series_id}/{_instance_key(recurrence, zone)}"
        if event_id in seen_ids:
            raise _Declined  # the general path renames the second
        seen_ids.add(event_id)
        if object_id:
            event_id = event_id if event_id != series_id else object_id
            series_id = object_id
        if isinstance(start, datetime):
            assert isinstance(end, datetime)
            start_utc, end_utc = _aware_utc(start, zone), _aware_utc(end, zone)
            time_zone = _zone_name(start)
        else:
            start_utc, end_utc = _date_as_utc(start), _date_as_utc(end)
            if end_utc <= start_utc:
                end_utc = start_utc + timedelta(days=1)
            time_zone = ""
        events.append(
            RemoteEvent(
                id=event_id,
                series_id=series_id,
                start=start_utc,
                end=end_utc,
                all_day=not isinstance(start, datetime),
                status=content.status,
                transparency=content.transparency,
                response=content.response,
                title=content.title,
                description=content.description,
                location=content.location,
                video_link=content.video_link,
                ical_uid=content.uid,
                time_zone=time_zone,
                block_id=content.block_id,
                booking_id=content.booking_id,
            )
        )
    return SimpleRead(ParsedEvents(events=events), frozenset(series.uid for series in all_series))


@dataclass(frozen=True, slots=True)
class _Content:
    """What every occurrence of one component shares."""

    uid: str
    status: EventStatus
    transparency: Transparency
    response: Response
    title: str
    description: str
    location: str
    video_link: str
    block_id: str
    booking_id: str


def _content(event: _Event, addresses: set[str]) -> _Content | None:
    """The component's content as ``ical._to_event`` reads it; None when it is cancelled."""
    props = event.props
    status = _text(props, "STATUS", "CONFIRMED").upper()
    if status == "CANCELLED":
        return None
    busy_status = _raw(props, "X-MICROSOFT-CDO-BUSYSTATUS").upper()
    transparent = _text(props, "TRANSP", "OPAQUE").upper() == "TRANSPARENT"
    description = _text(props, "DESCRIPTION")
    location = _text(props, "LOCATION")
    return _Content(
        uid=_text(props, "UID").strip(),
        status=_status(status, busy_status),
        transparency=_transparency(transparent=transparent, busy_status=busy_status),
        response=_response(event.attendees, addresses),
        title=_text(props, "SUMMARY"),
        description=description,
        location=location,
        video_link=find_video_link(
            _raw(props, "X-GOOGLE-CONFERENCE"), _text(props, "URL"), location, description
        ),
        block_id=_raw(props, MARKER_PROPERTY).strip(),
        booking_id=_raw(props, BOOKING_MARKER_PROPERTY).strip(),
    )


def _response(attendees: list[tuple[Params, str]], addresses: set[str]) -> Response:
    """``ical._own_response``: the PARTSTAT of the first attendee who is the owner."""
    if not addresses:
        return Response.NONE
    for params, value in attendees:
        if "VALUE" in params:
            raise _Declined
        address = unescape_backslash(value) if "\\" in value else value
        if address.lower().removeprefix("mailto:") in addresses:
            return _PARTSTAT.get(
                (_param(params, "PARTSTAT") or "NEEDS-ACTION").upper(), Response.NEEDS_ACTION
            )
    return Response.NONE
