"""iCalendar in and out, shared by the CalDAV and iCal-link providers.

``read_events`` turns iCalendar text into ``RemoteEvent`` instances inside a window, with
recurrences expanded by recurring-ical-events (RRULE, RDATE, EXDATE, moved instances, DST).
``render_block`` writes a block (or a booking's event) as a VCALENDAR carrying the marker of its
kind.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import icalendar
import recurring_ical_events
import x_wr_timezone
from dateutil.rrule import rrulestr
from icalendar.parser import Contentline, Contentlines
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from integrations.base import (
    BOOKING_MARKER_PROPERTY,
    MARKER_PROPERTY,
    BlockSpec,
    EventStatus,
    MarkerKind,
    RemoteEvent,
    Response,
    Transparency,
    Window,
)
from integrations.video_links import find_video_link

logger = logging.getLogger(__name__)

PRODID = "-//Multical//Multical//EN"
MARKER_PROPERTIES = {MarkerKind.BLOCK: MARKER_PROPERTY, MarkerKind.BOOKING: BOOKING_MARKER_PROPERTY}

# Recurrence rules are expanded by dateutil, which starts at DTSTART and, for a rule that never
# matches, searches every period up to the year 9999: seconds of CPU for one line of a feed, and
# feeds are user-supplied. So only series whose expansion is bounded are expanded; the others are
# skipped as malformed:
# - daily or coarser, at one time of day (calendar apps write nothing finer);
# - starting no more than _MAX_RULE_DAYS before the end of the window, per INTERVAL (a daily
#   series begun before about 1750 is skipped; yearly birthdays since then are read);
# - daily and weekly rules may filter only by weekday and month, which always match; monthly and
#   yearly ones must match once in a full cycle of the calendar, which is asked of dateutil;
# - more than _MAX_EMPTY_SERIES monthly or yearly rules that never match refuse the file.
# In a VTIMEZONE, which icalendar turns into a time zone cached for the whole process, anything
# but a yearly rule at one time of day refuses the file.
_RULE_FREQUENCIES = frozenset({"DAILY", "WEEKLY", "MONTHLY", "YEARLY"})
_TIME_PARTS = ("BYHOUR", "BYMINUTE", "BYSECOND")
_DAY_FILTERS = frozenset({"BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYSETPOS", "BYEASTER"})
_MAX_RULE_DAYS = 100_000
_MAX_EMPTY_SERIES = 16
TOO_MANY_EMPTY_SERIES = "This calendar has too many recurring events that never occur."
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# The Gregorian calendar repeats every 400 years: 4,800 months.
_CYCLE_YEARS = 400
_CYCLE_PERIODS = {"MONTHLY": 4_800, "YEARLY": 400}
# Real files nest three deep (VCALENDAR, VEVENT, VALARM); icalendar walks components recursively.
_MAX_DEPTH = 16
_STRUCTURE_NAMES = frozenset({"BEGIN", "END", "RRULE", "EXRULE"})
_SPACES = re.compile(r"[ \t]+")
# IANA zone names ("America/Argentina/Buenos_Aires"); anything else is not looked up at all.
_ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-]{1,30}(?:/[A-Za-z0-9_+\-]{1,30}){0,2}")

_PARTSTAT = {
    "ACCEPTED": Response.ACCEPTED,
    "TENTATIVE": Response.TENTATIVE,
    "DECLINED": Response.DECLINED,
    "NEEDS-ACTION": Response.NEEDS_ACTION,
}


# Parsing takes about ten times its input in memory. iCal links are fetched up to this size
# already; one CalDAV object (an event and its exceptions) is never near it.
MAX_CALENDAR_BYTES = 10 * 1024 * 1024
# Event instances one read may expand to: 25 a day over the widest window a rule can ask for.
# A few hundred bytes of recurring events can ask for millions; each costs a copy of its event.
MAX_INSTANCES = 10_000
TOO_MANY_INSTANCES = (
    f"This calendar has more than {MAX_INSTANCES:,} events in the period being read; sync fewer "
    "days ahead."
)


class ICalendarError(ValueError):
    """The text is not iCalendar at all (an HTML error page, an empty body, binary data)."""


@dataclass(slots=True)
class ParsedEvents:
    events: list[RemoteEvent]
    skipped: int = 0


def parse_calendar(data: bytes | str) -> icalendar.Calendar:
    """Parse one VCALENDAR, forgiving a byte-order mark and stray whitespace."""
    if len(data) > MAX_CALENDAR_BYTES:
        raise ICalendarError("This iCalendar file is too large to read.")
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    text = text.lstrip("\ufeff \t\r\n")
    if not text.upper().startswith("BEGIN:VCALENDAR"):
        raise ICalendarError("This is not an iCalendar file.")
    try:
        lines = Contentlines.from_ical(text)
        _check_structure(lines)
        # icalendar's parser takes the content lines as they are, instead of unfolding again.
        return icalendar.Calendar.from_ical(_own_zone_ids(lines))
    except (ICalendarError, MemoryError):
        raise
    except Exception as error:
        # icalendar's parser fails in more ways than ValueError on broken input (a TZID given
        # twice, a zone name too long for the file system): each means this file cannot be read.
        raise ICalendarError("This iCalendar file could not be read.") from error


def read_events(
    calendar: icalendar.Calendar,
    window: Window,
    *,
    series_prefix: str = "",
    default_zone: tzinfo = UTC,
    own_addresses: Iterable[str] = (),
) -> ParsedEvents:
    """The events of ``calendar`` that overlap ``window``, one per instance, cancelled ones dropped.

    ``series_prefix`` makes ids unique where one collection holds several objects (CalDAV: the
    resource's href). Floating times and unknown zones fall back to X-WR-TIMEZONE, then to
    ``default_zone``. ``own_addresses`` are the owner's e-mail addresses, to read their response.
    ``calendar`` is adjusted in place (an unusable X-WR-TIMEZONE and undated events dropped,
    reused UIDs split).
    """
    feed_zone = _calendar_zone(calendar)
    if feed_zone is None:
        # recurring-ical-events applies X-WR-TIMEZONE itself and fails on anything but an IANA
        # name (Outlook writes Windows names), which would lose every event of the feed.
        calendar.pop("X-WR-TIMEZONE", None)
    zone = feed_zone or default_zone
    if calendar.get("X-WR-TIMEZONE"):
        try:
            calendar = x_wr_timezone.to_standard(calendar)
        except Exception as error:  # a date that cannot be moved to the zone (the year 9999)
            raise ICalendarError("The events of this calendar could not be read.") from error
    undated = _drop_undated_events(calendar) + _drop_unbounded_series(calendar, window)
    _split_reused_uids(calendar)
    recurring_uids = {
        str(component.get("UID", ""))
        for component in calendar.walk("VEVENT")
        if any(key in component for key in ("RRULE", "RDATE", "RECURRENCE-ID"))
    }
    addresses = {address.lower() for address in own_addresses}
    parsed = ParsedEvents(events=[], skipped=undated)
    seen_ids: set[str] = set()
    try:
        instances = _instances(calendar, window)
    except ICalendarError:
        raise
    except Exception as error:  # the library's errors share no base class
        # Raised, not returned empty: an empty read would look like "every event was deleted".
        raise ICalendarError("The events of this calendar could not be read.") from error
    for component in instances:
        try:
            event = _to_event(component, zone, recurring_uids, series_prefix, addresses)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as error:
            parsed.skipped += 1
            logger.info("Skipped a malformed event: %s", type(error).__name__)
            continue
        if event is None:
            continue
        if event.id in seen_ids:
            # Feeds repeat UIDs for what are really different events; keep both.
            event = replace(event, id=f"{event.id}#{event.start:%Y%m%dT%H%M}")
        seen_ids.add(event.id)
        parsed.events.append(event)
    return parsed


def _instances(calendar: icalendar.Calendar, window: Window) -> list[icalendar.Component]:
    """recurring-ical-events' ``between``, series by series, refusing more than
    ``MAX_INSTANCES`` before it copies any of them."""
    query = recurring_ical_events.of(calendar, skip_bad_series=True)
    skip = tuple(query.suppressed_errors)
    occurrences = []
    for series in query.series:
        with contextlib.suppress(*skip):
            for occurrence in series.between(window.start, window.end):
                occurrences.append(occurrence)
                if len(occurrences) > MAX_INSTANCES:
                    raise ICalendarError(TOO_MANY_INSTANCES)
    return [occurrence.as_component(False) for occurrence in occurrences]


def render_block(spec: BlockSpec, *, uid: str) -> bytes:
    """A VCALENDAR holding one block or booking event: always with DTEND, private, no alarms or
    attendees, with the marker of ``spec.kind``.

    Written directly rather than through icalendar's generic serializer, which costs more than
    everything else in a block write together; the shape is fixed and small, and the block is
    read back with icalendar in the tests.
    """
    if spec.all_day:
        start, end = (
            f"DTSTART;VALUE=DATE:{spec.start:%Y%m%d}",
            f"DTEND;VALUE=DATE:{spec.end:%Y%m%d}",
        )
    else:
        start = f"DTSTART:{spec.start.astimezone(UTC):%Y%m%dT%H%M%SZ}"
        end = f"DTEND:{spec.end.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "BEGIN:VEVENT",
        f"UID:{_text(uid)}",
        f"DTSTAMP:{datetime.now(UTC):%Y%m%dT%H%M%SZ}",
        start,
        end,
        f"SUMMARY:{_text(spec.title)}",
        *([f"DESCRIPTION:{_text(spec.description)}"] if spec.description else []),
        *([f"LOCATION:{_text(spec.location)}"] if spec.location else []),
        f"TRANSP:{'TRANSPARENT' if spec.transparency == Transparency.FREE else 'OPAQUE'}",
        "CLASS:PRIVATE",
        f"{MARKER_PROPERTIES[spec.kind]}:{_text(spec.block_id)}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return b"".join(_folded(line) for line in lines)


def _text(value: str) -> str:
    """RFC 5545 TEXT escaping (3.3.11)."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _folded(line: str) -> bytes:
    """One content line, folded at 75 octets without splitting a UTF-8 character (RFC 5545 3.1)."""
    data = line.encode()
    if len(data) <= 75:
        return data + b"\r\n"
    parts, limit = [], 75
    while data:
        cut = min(limit, len(data))
        while cut < len(data) and (data[cut] & 0xC0) == 0x80:
            cut -= 1  # step back off a continuation byte
        parts.append(data[:cut])
        data, limit = data[cut:], 74  # continuation lines start with one space
    return b"\r\n ".join(parts) + b"\r\n"


def _drop_undated_events(calendar: icalendar.Calendar) -> int:
    """Remove the events without a DTSTART, which would fail the expansion of the whole calendar."""
    undated = [
        component
        for component in calendar.subcomponents
        if component.name == "VEVENT" and "DTSTART" not in component
    ]
    for component in undated:
        calendar.subcomponents.remove(component)
    return len(undated)


def _own_zone_ids(lines: Contentlines) -> Contentlines:
    """The file with each custom time zone renamed after its own definition.

    icalendar keeps the first zone it builds for a TZID it does not know (Outlook's "Customized
    Time Zone", say) for the whole process, and uses it for every later file naming that TZID:
    another user's feed would be read in this one's zone. A digest of the definition in the name
    keeps different definitions apart, and lets identical ones share the cached zone.
    """
    renames = _custom_zone_ids(lines)
    if not renames:
        return lines
    return Contentlines(_with_zone_renamed(line, renames) for line in lines)


def _custom_zone_ids(lines: Contentlines) -> dict[str, str]:
    renames: dict[str, str] = {}
    definition: list[str] | None = None
    tzid = ""
    for line in lines:
        try:
            name, _, value = line.parts()
        except (AttributeError, ValueError):
            continue
        name = name.upper()
        if name == "BEGIN" and value.upper() == "VTIMEZONE":
            definition, tzid = [], ""
        if definition is None:
            continue
        definition.append(str(line))
        if name == "TZID":
            tzid = value
        elif name == "END" and value.upper() == "VTIMEZONE":
            if tzid and not _known_zone(tzid):
                digest = hashlib.sha256("\n".join(definition).encode()).hexdigest()[:16]
                renames[tzid] = f"{tzid} #{digest}"
            definition = None
    return renames


_IANA_ZONES = frozenset(available_timezones())


def _known_zone(tzid: str) -> bool:
    name = tzid.strip("/")
    return name in _IANA_ZONES or name in WINDOWS_TO_OLSON


def _with_zone_renamed(line: object, renames: dict[str, str]) -> object:
    try:
        name, params, value = line.parts()  # type: ignore[attr-defined]
        raw_value = line.raw_parts()[2]  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return line
    if name.upper() == "TZID" and value in renames:
        # The zone's own TZID line: the digest appended to the value as written.
        head = line[: len(line) - len(raw_value)]  # type: ignore[index]
        return Contentline(f"{head}{raw_value}{renames[value][len(value) :]}")
    if params.get("TZID") in renames:
        params["TZID"] = renames[params["TZID"]]
        return Contentline(f"{name};{params.to_ical().decode()}:{raw_value}")
    return line


def _check_structure(lines: Contentlines) -> None:
    """Refuse a file nested deeper than ``_MAX_DEPTH``, or whose VTIMEZONE observances recur other
    than yearly at one time of day.

    Read from the content lines icalendar parses, before it builds (and caches, for every later
    file) a time zone from them.
    """
    stack: list[str] = []
    for line in lines:
        # icalendar reads a name up to the first ":" or ";", ignoring the spaces and tabs in it.
        head = line.split(":", 1)[0].split(";", 1)[0]
        if _SPACES.sub("", head.strip()).upper() not in _STRUCTURE_NAMES:
            continue
        try:
            name, _, value = line.parts()
        except ValueError:
            continue
        name = name.upper()
        if name == "BEGIN":
            stack.append(value.upper())
            if len(stack) > _MAX_DEPTH:
                raise ICalendarError("This iCalendar file is nested too deeply.")
        elif name == "END":
            if stack:
                stack.pop()
        elif name in ("RRULE", "EXRULE") and "VTIMEZONE" in stack:
            parts = _rule_parts(value)
            if parts.get("FREQ") != ["YEARLY"] or any(
                len(parts.get(part, ())) > 1 for part in _TIME_PARTS
            ):
                raise ICalendarError("This iCalendar file has a time zone we cannot use.")


def _rule_parts(value: str) -> dict[str, list[str]]:
    """An RRULE value's parts, split as icalendar splits them (a malformed pair is ignored)."""
    parts: dict[str, list[str]] = {}
    for pair in value.split(";"):
        key, equals, values = pair.partition("=")
        if equals and "=" not in values:
            parts.setdefault(key.strip().upper(), []).extend(
                item.strip().upper() for item in values.split(",")
            )
    return parts


def _drop_unbounded_series(calendar: icalendar.Calendar, window: Window) -> int:
    """Remove the recurring events whose expansion is not bounded (see ``_RULE_FREQUENCIES``),
    wherever they are nested: recurring-ical-events expands them all."""
    removed = 0
    probes = _Probes()
    for parent in calendar.walk():
        for component in list(parent.subcomponents):
            if (
                component.name == "VEVENT"
                and "RRULE" in component
                and not _bounded(component, window, probes)
            ):
                parent.subcomponents.remove(component)
                removed += 1
    return removed


@dataclass(slots=True)
class _Probes:
    """Whether monthly and yearly rules ever match, by rule and start (copies are asked once),
    and how many never do."""

    matches: dict[tuple[bytes, datetime], bool] = field(default_factory=dict)
    empty: int = 0


def _bounded(event: icalendar.Event, window: Window, probes: _Probes) -> bool:
    start = event.get("DTSTART")
    if not isinstance(start, icalendar.vDDDTypes) or not isinstance(start.dt, date):
        return False
    start = start.dt if isinstance(start.dt, datetime) else datetime.combine(start.dt, time.min)
    try:
        span = _aware_utc(window.end, UTC) - _aware_utc(start, UTC)
    except OverflowError:  # a start at the very edge of the calendar
        return False
    rules = event.get("RRULE")
    for rule in rules if isinstance(rules, list) else [rules]:
        if not isinstance(rule, icalendar.vRecur):
            return False  # icalendar could not read it (a broken property)
        try:
            text = rule.to_ical()
            parts = _rule_parts(text.decode())
            interval = int(parts.get("INTERVAL", ["1"])[0])
        except (TypeError, ValueError):  # icalendar cannot write it back (an UNTIL of a time)
            return False
        frequency = parts.get("FREQ", [""])[0]
        if (
            frequency not in _RULE_FREQUENCIES
            or interval < 1
            or any(len(parts.get(part, ())) > 1 for part in _TIME_PARTS)
            or span.days / interval > _MAX_RULE_DAYS
        ):
            return False
        if frequency in ("DAILY", "WEEKLY"):
            weekdays = {day[-2:] for day in parts.get("BYDAY", [])}
            if (_DAY_FILTERS & parts.keys()) or (
                # Every 7n days is the weekday of DTSTART.
                frequency == "DAILY"
                and interval % 7 == 0
                and weekdays
                and _WEEKDAYS[start.weekday()] not in weekdays
            ):
                return False
            continue
        key = (text, start.replace(tzinfo=None))
        if key not in probes.matches:
            probes.matches[key] = _matches_in_a_cycle(rule, key[1], frequency, interval)
            probes.empty += not probes.matches[key]
            if probes.empty > _MAX_EMPTY_SERIES:
                raise ICalendarError(TOO_MANY_EMPTY_SERIES)
        if not probes.matches[key]:
            return False
    return True


def _matches_in_a_cycle(
    rule: icalendar.vRecur, start: datetime, frequency: str, interval: int
) -> bool:
    """Whether a monthly or yearly rule has any occurrence, asked of dateutil near the year 9999.

    DTSTART moves forward by whole cycles of the calendar that are also whole intervals, so the
    rule sees the same dates in the same phase; from there dateutil's search for a first match
    ends at the year 9999 after at most two cycles (some milliseconds) instead of eight thousand
    years.
    """
    cycle = _CYCLE_YEARS * interval // math.gcd(interval, _CYCLE_PERIODS[frequency])
    shift = max((datetime.max.year - start.year - cycle) // cycle, 0) * cycle
    unbounded = icalendar.vRecur({k: v for k, v in rule.items() if k not in ("UNTIL", "COUNT")})
    try:
        probe = rrulestr(
            unbounded.to_ical().decode(), dtstart=start.replace(year=start.year + shift)
        )
        return next(iter(probe), None) is not None
    except (ValueError, TypeError, OverflowError):
        return True  # dateutil refuses the rule, and recurring-ical-events skips the series


def _split_reused_uids(calendar: icalendar.Calendar) -> None:
    """Give events that share a UID but start at different times a UID each, keyed by the start.

    recurring-ical-events keeps one event per UID (the highest SEQUENCE), but feeds reuse UIDs for
    what are really different events. Copies at the same start, and series with moved instances
    (RECURRENCE-ID), are left to it.
    """
    events_by_uid: dict[str, list[icalendar.Event]] = defaultdict(list)
    for component in calendar.walk("VEVENT"):
        events_by_uid[str(component.get("UID", ""))].append(component)
    for uid, events in events_by_uid.items():
        starts = [event.get("DTSTART") for event in events]
        if len(events) < 2 or any(
            "RECURRENCE-ID" in event or not isinstance(start, icalendar.vDDDTypes)
            for event, start in zip(events, starts, strict=True)
        ):
            continue
        try:
            keys = [_ical_text(start) for start in starts]
        except (ValueError, OverflowError):  # a period that ends past the year 9999
            continue
        if len(set(keys)) > 1:
            for event, key in zip(events, keys, strict=True):
                event["UID"] = f"{uid}#{key}"


def _ical_text(value: icalendar.vDDDTypes) -> str:
    text = value.to_ical()
    return text.decode() if isinstance(text, bytes) else str(text)


def _calendar_zone(calendar: icalendar.Calendar) -> tzinfo | None:
    name = str(calendar.get("X-WR-TIMEZONE", "")).strip()
    if not _ZONE_NAME.fullmatch(name):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _to_event(
    component: icalendar.Event,
    zone: tzinfo,
    recurring_uids: set[str],
    series_prefix: str,
    own_addresses: set[str],
) -> RemoteEvent | None:
    status = str(component.get("STATUS", "CONFIRMED")).upper()
    if status == "CANCELLED":
        return None
    uid = str(component.get("UID", "")).strip()
    start_value = component.DTSTART
    # recurring-ical-events derives DTEND from DURATION; with neither, the event is a moment.
    end_value = component.DTEND or start_value
    all_day = not isinstance(start_value, datetime)
    if all_day:
        start, end = _date_as_utc(start_value), _date_as_utc(end_value)
        if end <= start:
            end = start + timedelta(days=1)
    else:
        start, end = _aware_utc(start_value, zone), _aware_utc(end_value, zone)
    series_id = f"{series_prefix}{uid}"
    event_id = series_id
    if uid in recurring_uids:
        original = component.get("RECURRENCE-ID")
        original_start = original.dt if original is not None else start_value
        event_id = f"{series_id}/{_instance_key(original_start, zone)}"
    busy_status = str(component.get("X-MICROSOFT-CDO-BUSYSTATUS", "")).upper()
    transparent = str(component.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT"
    title = str(component.get("SUMMARY", ""))
    description = str(component.get("DESCRIPTION", ""))
    location = str(component.get("LOCATION", ""))
    return RemoteEvent(
        id=event_id,
        series_id=series_id,
        start=start,
        end=end,
        all_day=all_day,
        status=EventStatus.TENTATIVE
        if status == "TENTATIVE" or busy_status == "TENTATIVE"
        else EventStatus.CONFIRMED,
        transparency=Transparency.FREE
        if transparent or busy_status == "FREE"
        else Transparency.BUSY,
        response=_own_response(component, own_addresses),
        title=title,
        description=description,
        location=location,
        video_link=find_video_link(
            str(component.get("X-GOOGLE-CONFERENCE", "")),
            str(component.get("URL", "")),
            location,
            description,
        ),
        ical_uid=uid,
        block_id=str(component.get(MARKER_PROPERTY, "")).strip(),
        booking_id=str(component.get(BOOKING_MARKER_PROPERTY, "")).strip(),
    )


def _own_response(component: icalendar.Event, own_addresses: set[str]) -> Response:
    if not own_addresses:
        return Response.NONE
    attendees = component.get("ATTENDEE", [])
    if not isinstance(attendees, list):
        attendees = [attendees]
    for attendee in attendees:
        address = str(attendee).lower().removeprefix("mailto:")
        if address in own_addresses:
            return _PARTSTAT.get(
                str(attendee.params.get("PARTSTAT", "NEEDS-ACTION")).upper(), Response.NEEDS_ACTION
            )
    return Response.NONE


def _aware_utc(value: datetime, zone: tzinfo) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def _date_as_utc(value: date) -> datetime:
    return datetime.combine(value, time.min, tzinfo=UTC)


def _instance_key(original_start: date | datetime, zone: tzinfo) -> str:
    if isinstance(original_start, datetime):
        return _aware_utc(original_start, zone).strftime("%Y%m%dT%H%M%SZ")
    return original_start.strftime("%Y%m%d")
