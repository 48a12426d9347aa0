"""iCalendar in and out, shared by the CalDAV and iCal-link providers.

``read_events`` turns iCalendar text into ``RemoteEvent`` instances inside a window, with
recurrences expanded by recurring-ical-events (RRULE, RDATE, EXDATE, moved instances, DST).
``render_block`` writes a block (or a booking's event) as a VCALENDAR carrying the marker of its
kind.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import icalendar
import recurring_ical_events
import x_wr_timezone
from dateutil.rrule import rrulestr
from icalendar.parser import Contentline, Contentlines
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
from recurring_ical_events.occurrence import Occurrence
from recurring_ical_events.series import Series

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
from integrations.choices import gettext_noop, in_english
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
TOO_MANY_EMPTY_SERIES = gettext_noop(
    "This calendar has too many recurring events that never occur."
)
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
TOO_MANY_INSTANCES = gettext_noop(
    "This calendar has more than %(limit)s events in the period being read; sync fewer days ahead."
)


class ICalendarError(ValueError):
    """The text is not iCalendar at all (an HTML error page, an empty body, binary data).

    Worded as a ``ProviderError`` is: ``msgid`` in English with ``params`` apart, so the error it
    becomes reads in each reader's language; ``str()`` is the English with the values in."""

    def __init__(self, message: str, *, params: Mapping[str, str | int] | None = None) -> None:
        self.msgid = message
        self.params: dict[str, str | int] = dict(params or {})
        super().__init__(in_english(message, self.params))


@dataclass(slots=True)
class ParsedEvents:
    events: list[RemoteEvent]
    skipped: int = 0


def parse_calendar(data: bytes | str) -> icalendar.Calendar:
    """Parse iCalendar text into one calendar, forgiving a byte-order mark, stray whitespace and
    the mistakes ``_repaired`` puts right.

    A file of several VCALENDARs (old Mozilla and Sunbird exports write one per event) is read
    as one calendar holding all their components; anything else after a VCALENDAR is refused.
    """
    if len(data) > MAX_CALENDAR_BYTES:
        raise ICalendarError(gettext_noop("This iCalendar file is too large to read."))
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    text = text.lstrip("\ufeff \t\r\n")
    if not text.upper().startswith("BEGIN:VCALENDAR"):
        raise ICalendarError(gettext_noop("This is not an iCalendar file."))
    try:
        # icalendar leaves this classmethod unannotated; it returns Contentlines.
        lines: Contentlines = Contentlines.from_ical(text)  # type: ignore[no-untyped-call]
        _check_structure(lines)
        # icalendar's parser takes the content lines as they are, instead of unfolding again;
        # its from_ical is annotated for text only, though its parser accepts content lines.
        components: list[icalendar.Calendar] = icalendar.Calendar.from_ical(  # type: ignore[call-overload]
            _repaired(lines), multiple=True
        )
    except (ICalendarError, MemoryError):
        raise
    except Exception as error:
        # icalendar's parser fails in more ways than ValueError on broken input (a TZID given
        # twice, a zone name too long for the file system): each means this file cannot be read.
        raise ICalendarError(gettext_noop("This iCalendar file could not be read.")) from error
    if not components or not all(isinstance(c, icalendar.Calendar) for c in components):
        raise ICalendarError(gettext_noop("This iCalendar file could not be read."))
    calendar, *others = components
    for other in others:
        calendar.subcomponents.extend(other.subcomponents)
    return calendar


def owner_zone(name: str) -> tzinfo:
    """The zone named by an owner's setting (an IANA name), for times a calendar leaves floating
    without naming a zone of its own; UTC when it is empty or unknown."""
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a path
        return UTC


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
    ``default_zone`` (the calendar's or its owner's zone). ``own_addresses`` are the owner's
    e-mail addresses, to read their response. Events without a UID are events of their own; of
    an event given more than once, only its latest version counts; an empty RRULE is none.
    What cannot be read (an event without a start, a series that cannot be expanded, or whose
    expansion is unbounded) is left out and counted in ``skipped``; the rest is read.
    ``calendar`` is adjusted in place (an unusable X-WR-TIMEZONE, undated events and superseded
    versions dropped, UIDs given and split).
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
            raise ICalendarError(
                gettext_noop("The events of this calendar could not be read.")
            ) from error
    _drop_empty_rules(calendar)
    skipped = _drop_undated_events(calendar) + _drop_unbounded_series(calendar, window)
    _name_events_without_uid(calendar)
    _drop_superseded_versions(calendar)
    _split_reused_uids(calendar)
    recurring_uids = {
        str(component.get("UID", ""))
        for component in calendar.walk("VEVENT")
        if any(key in component for key in ("RRULE", "RDATE", "RECURRENCE-ID"))
    }
    addresses = {address.lower() for address in own_addresses}
    seen_ids: set[str] = set()
    try:
        instances, unreadable = _instances(calendar, window)
    except ICalendarError:
        raise
    except Exception as error:  # the library's errors share no base class
        # Raised, not returned empty: an empty read would look like "every event was deleted".
        raise ICalendarError(
            gettext_noop("The events of this calendar could not be read.")
        ) from error
    parsed = ParsedEvents(events=[], skipped=skipped + unreadable)
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


def _instances(
    calendar: icalendar.Calendar, window: Window
) -> tuple[list[icalendar.Component], int]:
    """recurring-ical-events' ``between``, series by series, refusing more than
    ``MAX_INSTANCES`` before it copies any of them; and how many series could not be expanded.

    A series the library rejects (a broken property, a period that ends before it starts, two
    starts) is left out whole and counted, and the others are read: one bad event must neither
    hide a calendar nor vanish unseen. When not one series can be read, that is an error, not
    an empty calendar (which would read as "every event was deleted").
    """
    uids = {str(event.get("UID", "")) for event in calendar.walk("VEVENT")}
    all_series = _series(calendar, uids)
    unreadable = len(uids) - len(all_series)
    occurrences: list[Occurrence] = []
    for series in all_series:
        found = []
        try:
            for occurrence in series.between(window.start, window.end):
                found.append(occurrence)
                if len(occurrences) + len(found) > MAX_INSTANCES:
                    raise ICalendarError(TOO_MANY_INSTANCES, params={"limit": MAX_INSTANCES})
        except (ICalendarError, MemoryError):
            raise
        except Exception:  # the library's errors share no base class
            unreadable += 1
            continue
        occurrences.extend(found)
    if unreadable:
        logger.info("Skipped %s series that could not be expanded", unreadable)
        if unreadable == len(uids):
            raise ICalendarError(gettext_noop("The events of this calendar could not be read."))
    return [occurrence.as_component(False) for occurrence in occurrences], unreadable


def _series(calendar: icalendar.Calendar, uids: set[str]) -> list[Series]:
    """The library's series of the calendar (one per UID), without the ones it cannot build.

    It skips the series it knows to be broken; on any other failure the series are built one
    UID at a time, so that only the broken ones are lost.
    """
    try:
        return list(recurring_ical_events.of(calendar, skip_bad_series=True).series)
    except Exception:  # the library's errors share no base class
        if len(uids) < 2:
            return []
    by_uid: dict[str, list[icalendar.Component]] = defaultdict(list)
    for event in calendar.walk("VEVENT"):
        by_uid[str(event.get("UID", ""))].append(event)
    built = []
    for events in by_uid.values():
        alone = icalendar.Calendar()
        alone.subcomponents = events
        try:
            built.extend(recurring_ical_events.of(alone, skip_bad_series=True).series)
        except Exception:  # noqa: S112 - counted by the caller as a series not built
            continue
    return built


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


def _drop_empty_rules(calendar: icalendar.Calendar) -> None:
    """Remove empty recurrence rules: holiday feeds (calendarlabs.com) write ``RRULE:`` on every
    event, which recurs no more than an event without one."""
    for component in calendar.walk("VEVENT"):
        rules = component.get("RRULE")
        if rules is None:
            continue
        kept = [
            rule
            for rule in (rules if isinstance(rules, list) else [rules])
            if not (isinstance(rule, icalendar.vRecur) and not rule)
        ]
        if not kept:
            del component["RRULE"]
        elif isinstance(rules, list) and len(kept) < len(rules):
            component["RRULE"] = kept


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


def _repaired(lines: Contentlines) -> Contentlines:
    """The file's content lines, with what real-world writers get wrong put right before
    icalendar reads them (it would read a broken value as nothing, and the expansion then drops
    the whole series):

    - a custom zone renamed after its own definition. icalendar keeps the first zone it builds
      for a TZID it does not know (Outlook's "Customized Time Zone", say) for the whole process,
      and uses it for every later file naming that TZID: another user's feed would be read in
      this one's zone. A digest of the definition in the name keeps different definitions apart,
      and lets identical ones share the cached zone;
    - a zone named the way Windows displays it ("(UTC-05:00) Eastern Time (US & Canada)"), which
      Exchange writes without a definition, renamed to the zone it names;
    - a zone holding the time in its name (Outlook: ``TZID="W. Europe Standard Time:20200609T0900
      00"`` with nothing after it) gives the time back;
    - a date written with a "Z" (Google birthdays: ``RDATE:20131210Z``) is the date;
    - a duration of weeks or days written as a time (Synology: ``PT1W``) is that duration.
    """
    zones = _ZoneNames(_custom_zone_ids(lines))
    repaired = [_repaired_line(line, zones) for line in lines]
    if all(new is old for new, old in zip(repaired, lines, strict=True)):
        return lines
    return Contentlines(repaired)


def _custom_zone_ids(lines: Contentlines) -> dict[str, str]:
    """TZID → new name for every zone the file defines: its own name when known, else the name
    with a digest of the definition."""
    renames: dict[str, str] = {}
    definition: list[str] | None = None
    tzid = ""
    for line in lines:
        # Outside a definition only its BEGIN matters: the other lines are passed over unparsed
        # (parsing them costs as much as icalendar's own reading of the file).
        if definition is None and _line_name(line) != "BEGIN":
            continue
        try:
            name, value = _name_and_value(line)
        except (AttributeError, ValueError):
            continue
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
            elif tzid:
                renames[tzid] = tzid
            definition = None
    return renames


_IANA_ZONES = frozenset(available_timezones())


def _known_zone(tzid: str) -> bool:
    name = tzid.strip("/")
    return name in _IANA_ZONES or name in WINDOWS_TO_OLSON


@dataclass(slots=True)
class _ZoneNames:
    """What each TZID of one file is renamed to (itself when it stays), decided once per name."""

    defined: dict[str, str]
    decided: dict[str, str] = field(default_factory=dict)

    def __call__(self, tzid: str) -> str:
        if tzid not in self.decided:
            if tzid in self.defined:
                self.decided[tzid] = self.defined[tzid]
            elif _known_zone(tzid):
                self.decided[tzid] = tzid
            else:
                self.decided[tzid] = _displayed_zone(tzid) or tzid
        return self.decided[tzid]


# The properties whose values are dates or times, and the start of every line _repaired_line may
# change: the others are passed over without being parsed.
_DATE_PROPERTIES = frozenset({"DTSTART", "DTEND", "DUE", "RECURRENCE-ID", "RDATE", "EXDATE"})
_REPAIRED_PREFIXES = (*_DATE_PROPERTIES, "DURATION", "TZID")
_TZID_PARAMETER = re.compile(r';\s*TZID\s*=\s*("[^"]*"|[^;:]*)', re.IGNORECASE)
_TIME_IN_ZONE_NAME = re.compile(r"(.+?):(\d{8}(?:T\d{6}Z?)?)")
_DATES_IN_UTC = re.compile(r"\d{8}Z(?:,\d{8}Z)*")
_DURATION_AS_TIME = re.compile(r"([+-]?)PT(\d+[WD])")


def _repaired_line(line: Contentline, zones: _ZoneNames) -> Contentline:
    """The line as written, or the line with its zone renamed and its value put right."""
    head = line[:16].lstrip().upper()
    if not head.startswith(_REPAIRED_PREFIXES):
        return line
    tail = line.rpartition(":")[2].strip()
    zone = _TZID_PARAMETER.search(line)
    written_zone = zone.group(1).strip('"') if zone else ""
    if not (
        head.startswith("TZID")
        or (
            zone
            and (zones(written_zone) != written_zone or ":" in written_zone or "^" in written_zone)
        )
        or _DATES_IN_UTC.fullmatch(tail)
        or _DURATION_AS_TIME.fullmatch(tail)
    ):
        return line  # the common case, decided without parsing the line
    try:
        name, params, value = line.parts()
        raw_value = line.raw_parts()[2]
    except (AttributeError, ValueError):
        return line
    name = name.upper()
    if name == "TZID":
        # A zone's own TZID line: the digest appended to the value as written.
        renamed = zones(value)
        if renamed == value or not renamed.startswith(value):
            return line
        return Contentline(f"{line}{renamed[len(value) :]}")
    if name == "DURATION":
        fixed = _DURATION_AS_TIME.fullmatch(raw_value.strip())
        if fixed is None:
            return line
        raw_value = f"{fixed.group(1)}P{fixed.group(2)}"
    elif name in _DATE_PROPERTIES:
        tzid = params.get("TZID")
        if isinstance(tzid, str):
            swallowed = _TIME_IN_ZONE_NAME.fullmatch(tzid)
            if swallowed is not None:
                tzid = swallowed.group(1).strip()
                raw_value = raw_value or swallowed.group(2)
            params["TZID"] = zones(tzid)
        if _DATES_IN_UTC.fullmatch(raw_value.strip()):
            raw_value = raw_value.strip().replace("Z", "")
            params["VALUE"] = "DATE"
            params.pop("TZID", None)
    else:
        return line
    parameters = params.to_ical().decode()
    return Contentline(f"{name}{';' if parameters else ''}{parameters}:{raw_value}")


def _displayed_zone(tzid: str) -> str | None:
    """The zone a name as Windows displays it stands for: "(UTC-05:00) Eastern Time (US &
    Canada)" (and "(GMT-05:00) ..." of older versions) is America/New_York. An unknown place
    with a whole-hour offset is read at that fixed offset, which is closer than UTC."""
    match = _DISPLAYED_ZONE.fullmatch(tzid.replace("\\", "").strip())
    if match is None:
        return None
    sign, hours, minutes, place = match.groups()
    zone = _WINDOWS_DISPLAY_NAMES.get(_SPACES.sub(" ", place).casefold())
    if zone is not None:
        return zone
    if not sign:
        return "Etc/UTC"
    if minutes != "00":
        return None
    # The Etc zones count the other way round: Etc/GMT+5 is five hours behind UTC.
    return f"Etc/GMT{'+' if sign == '-' else '-'}{int(hours)}"


_DISPLAYED_ZONE = re.compile(r"\((?:UTC|GMT)(?:([+-])(\d{1,2}):(\d{2}))?\)\s*(.+)", re.IGNORECASE)
# Windows' names for its zones, with the zone each stands for (from the Unicode CLDR's
# windowsZones.xml, the names as its comments give them, and a few of older Windows versions).
_WINDOWS_DISPLAY_NAMES = {
    name.casefold(): zone
    for name, _, zone in (
        line.rpartition(" = ")
        for line in """
International Date Line West = Etc/GMT+12
Coordinated Universal Time-11 = Etc/GMT+11
Aleutian Islands = America/Adak
Hawaii = Pacific/Honolulu
Marquesas Islands = Pacific/Marquesas
Alaska = America/Anchorage
Coordinated Universal Time-09 = Etc/GMT+9
Baja California = America/Tijuana
Coordinated Universal Time-08 = Etc/GMT+8
Pacific Time (US & Canada) = America/Los_Angeles
Arizona = America/Phoenix
Chihuahua, La Paz, Mazatlan = America/Mazatlan
Mountain Time (US & Canada) = America/Denver
Yukon = America/Whitehorse
Central America = America/Guatemala
Central Time (US & Canada) = America/Chicago
Easter Island = Pacific/Easter
Guadalajara, Mexico City, Monterrey = America/Mexico_City
Saskatchewan = America/Regina
Bogota, Lima, Quito, Rio Branco = America/Bogota
Chetumal = America/Cancun
Eastern Time (US & Canada) = America/New_York
Haiti = America/Port-au-Prince
Havana = America/Havana
Indiana (East) = America/Indiana/Indianapolis
Turks and Caicos = America/Grand_Turk
Asuncion = America/Asuncion
Atlantic Time (Canada) = America/Halifax
Caracas = America/Caracas
Cuiaba = America/Cuiaba
Georgetown, La Paz, Manaus, San Juan = America/La_Paz
Santiago = America/Santiago
Newfoundland = America/St_Johns
Araguaina = America/Araguaina
Brasilia = America/Sao_Paulo
Cayenne, Fortaleza = America/Cayenne
City of Buenos Aires = America/Argentina/Buenos_Aires
Greenland = America/Nuuk
Montevideo = America/Montevideo
Punta Arenas = America/Punta_Arenas
Saint Pierre and Miquelon = America/Miquelon
Salvador = America/Bahia
Coordinated Universal Time-02 = Etc/GMT+2
Azores = Atlantic/Azores
Cabo Verde Is. = Atlantic/Cape_Verde
Coordinated Universal Time = Etc/UTC
Dublin, Edinburgh, Lisbon, London = Europe/London
Monrovia, Reykjavik = Atlantic/Reykjavik
Sao Tome = Africa/Sao_Tome
Casablanca = Africa/Casablanca
Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna = Europe/Berlin
Belgrade, Bratislava, Budapest, Ljubljana, Prague = Europe/Budapest
Brussels, Copenhagen, Madrid, Paris = Europe/Paris
Sarajevo, Skopje, Warsaw, Zagreb = Europe/Warsaw
West Central Africa = Africa/Lagos
Amman = Asia/Amman
Athens, Bucharest = Europe/Bucharest
Beirut = Asia/Beirut
Cairo = Africa/Cairo
Chisinau = Europe/Chisinau
Damascus = Asia/Damascus
Gaza, Hebron = Asia/Hebron
Harare, Pretoria = Africa/Johannesburg
Helsinki, Kyiv, Riga, Sofia, Tallinn, Vilnius = Europe/Kyiv
Jerusalem = Asia/Jerusalem
Juba = Africa/Juba
Kaliningrad = Europe/Kaliningrad
Khartoum = Africa/Khartoum
Tripoli = Africa/Tripoli
Windhoek = Africa/Windhoek
Baghdad = Asia/Baghdad
Istanbul = Europe/Istanbul
Kuwait, Riyadh = Asia/Riyadh
Minsk = Europe/Minsk
Moscow, St. Petersburg = Europe/Moscow
Nairobi = Africa/Nairobi
Tehran = Asia/Tehran
Abu Dhabi, Muscat = Asia/Dubai
Astrakhan, Ulyanovsk = Europe/Astrakhan
Baku = Asia/Baku
Izhevsk, Samara = Europe/Samara
Port Louis = Indian/Mauritius
Saratov = Europe/Saratov
Tbilisi = Asia/Tbilisi
Volgograd = Europe/Volgograd
Yerevan = Asia/Yerevan
Kabul = Asia/Kabul
Ashgabat, Tashkent = Asia/Tashkent
Ekaterinburg = Asia/Yekaterinburg
Islamabad, Karachi = Asia/Karachi
Qyzylorda = Asia/Qyzylorda
Chennai, Kolkata, Mumbai, New Delhi = Asia/Kolkata
Sri Jayawardenepura = Asia/Colombo
Kathmandu = Asia/Kathmandu
Astana = Asia/Bishkek
Dhaka = Asia/Dhaka
Omsk = Asia/Omsk
Yangon (Rangoon) = Asia/Yangon
Bangkok, Hanoi, Jakarta = Asia/Bangkok
Barnaul, Gorno-Altaysk = Asia/Barnaul
Hovd = Asia/Hovd
Krasnoyarsk = Asia/Krasnoyarsk
Novosibirsk = Asia/Novosibirsk
Tomsk = Asia/Tomsk
Beijing, Chongqing, Hong Kong, Urumqi = Asia/Shanghai
Irkutsk = Asia/Irkutsk
Kuala Lumpur, Singapore = Asia/Singapore
Perth = Australia/Perth
Taipei = Asia/Taipei
Ulaanbaatar = Asia/Ulaanbaatar
Eucla = Australia/Eucla
Chita = Asia/Chita
Osaka, Sapporo, Tokyo = Asia/Tokyo
Pyongyang = Asia/Pyongyang
Seoul = Asia/Seoul
Yakutsk = Asia/Yakutsk
Adelaide = Australia/Adelaide
Darwin = Australia/Darwin
Brisbane = Australia/Brisbane
Canberra, Melbourne, Sydney = Australia/Sydney
Guam, Port Moresby = Pacific/Port_Moresby
Hobart = Australia/Hobart
Vladivostok = Asia/Vladivostok
Lord Howe Island = Australia/Lord_Howe
Bougainville Island = Pacific/Bougainville
Chokurdakh = Asia/Srednekolymsk
Magadan = Asia/Magadan
Norfolk Island = Pacific/Norfolk
Sakhalin = Asia/Sakhalin
Solomon Is., New Caledonia = Pacific/Guadalcanal
Anadyr, Petropavlovsk-Kamchatsky = Asia/Kamchatka
Auckland, Wellington = Pacific/Auckland
Coordinated Universal Time+12 = Etc/GMT-12
Fiji = Pacific/Fiji
Chatham Islands = Pacific/Chatham
Coordinated Universal Time+13 = Etc/GMT-13
Nuku'alofa = Pacific/Tongatapu
Samoa = Pacific/Apia
Kiritimati Island = Pacific/Kiritimati
Greenwich Mean Time : Dublin, Edinburgh, Lisbon, London = Europe/London
Helsinki, Kiev, Riga, Sofia, Tallinn, Vilnius = Europe/Kyiv
Buenos Aires = America/Argentina/Buenos_Aires
""".strip().splitlines()
    )
}


def _check_structure(lines: Contentlines) -> None:
    """Refuse a file nested deeper than ``_MAX_DEPTH``, or whose VTIMEZONE observances recur other
    than yearly at one time of day.

    Read from the content lines icalendar parses, before it builds (and caches, for every later
    file) a time zone from them.
    """
    stack: list[str] = []
    for line in lines:
        if _line_name(line) not in _STRUCTURE_NAMES:
            continue
        try:
            name, value = _name_and_value(line)
        except ValueError:
            continue
        if name == "BEGIN":
            stack.append(value.upper())
            if len(stack) > _MAX_DEPTH:
                raise ICalendarError(gettext_noop("This iCalendar file is nested too deeply."))
        elif name == "END":
            if stack:
                stack.pop()
        elif name in ("RRULE", "EXRULE") and "VTIMEZONE" in stack:
            parts = _rule_parts(value)
            if parts.get("FREQ") != ["YEARLY"] or any(
                len(parts.get(part, ())) > 1 for part in _TIME_PARTS
            ):
                raise ICalendarError(
                    gettext_noop("This iCalendar file has a time zone we cannot use.")
                )


def _line_name(line: str) -> str:
    """The property name of a content line, upper-case, as icalendar's parser reads it (up to the
    first ":" or ";", ignoring the spaces and tabs in it), without parsing the rest. A name with
    a quote or backslash before that point is one icalendar refuses, so none is taken for
    another here."""
    head = line.split(":", 1)[0].split(";", 1)[0].strip()
    if " " in head or "\t" in head:
        head = _SPACES.sub("", head)
    return head.upper()


# What icalendar takes for a name (its validate_token), and what makes a line need its parser.
_TOKEN = re.compile(r"[\w.-]+")
_NEEDS_PARSING = frozenset('";\\')


def _name_and_value(line: Contentline) -> tuple[str, str]:
    """The line's name (upper-case) and value as ``line.parts()`` gives them, raising ValueError
    as it does. A plain line (a name without parameters, a colon, a value without backslashes)
    is split without icalendar's parser, which costs many times more."""
    name, colon, value = line.partition(":")
    if colon and _NEEDS_PARSING.isdisjoint(name) and "\\" not in value:
        name = _SPACES.sub("", name.strip())
        if _TOKEN.fullmatch(name):
            return name.upper(), value
    name, _, value = line.parts()
    return name.upper(), value


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


def _bounded(event: icalendar.Component, window: Window, probes: _Probes) -> bool:
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


# The properties that say when an event happens: events identical in all of them are at the
# same times. Nothing of the event's content is among them.
_TIMING_PROPERTIES = ("DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID")


def _timing(event: icalendar.Component) -> str:
    """A digest of the event's timing properties, parameters (its zone) included."""
    parts = []
    for name in _TIMING_PROPERTIES:
        values = event.get(name)
        for value in values if isinstance(values, list) else [] if values is None else [values]:
            try:
                written = value.to_ical()
                params = value.params.to_ical() if hasattr(value, "params") else b""
            except (ValueError, TypeError, AttributeError, OverflowError):
                written, params = str(value).encode(), b""
            written = written if isinstance(written, bytes) else str(written).encode()
            parts.append(b"%s;%s:%s" % (name.encode(), params, written))
    return hashlib.sha256(b"\n".join(parts)).hexdigest()[:16]


def _name_events_without_uid(calendar: icalendar.Calendar) -> None:
    """Give each event without a UID one of its own, made from its timing.

    Instances are grouped into series, and their ids made, by UID; without one, a festival's
    programme or an Exchange export is a heap of events that must each stay one. The name
    follows the event's own times, not its place in the file, so it is the same at every read
    while the event is; events at identical times are numbered in the order they come.
    """
    named: dict[str, int] = defaultdict(int)
    for event in calendar.walk("VEVENT"):
        if str(event.get("UID", "")).strip():
            continue
        digest = _timing(event)
        named[digest] += 1
        event["UID"] = f"#{digest}" if named[digest] == 1 else f"#{digest}-{named[digest]}"


def _drop_superseded_versions(calendar: icalendar.Calendar) -> None:
    """Keep only the latest version of an event written more than once (a rescheduled event
    appended instead of replaced): the highest SEQUENCE, then the latest DTSTAMP (RFC 5545
    3.8.7.4). Copies that agree on both are not versions but events that share a UID (or one
    event twice): ``_split_reused_uids`` and the expansion deal with them.
    """
    copies: dict[tuple[str, str], list[icalendar.Component]] = defaultdict(list)
    for event in calendar.walk("VEVENT"):
        copies[(str(event.get("UID", "")), _recurrence_key(event))].append(event)
    superseded: set[int] = set()
    for versions in copies.values():
        if len(versions) < 2:
            continue
        stamps = [_version(event) for event in versions]
        latest = max(stamps)
        if len(set(stamps)) > 1:
            superseded.update(
                id(event) for event, stamp in zip(versions, stamps, strict=True) if stamp != latest
            )
    if superseded:
        for parent in calendar.walk():
            parent.subcomponents = [c for c in parent.subcomponents if id(c) not in superseded]


def _recurrence_key(event: icalendar.Component) -> str:
    recurrence = event.get("RECURRENCE-ID")
    if recurrence is None:
        return ""
    try:
        return _ical_text(recurrence)
    except (ValueError, TypeError, AttributeError, OverflowError):
        return str(recurrence)


def _version(event: icalendar.Component) -> tuple[int, datetime]:
    try:
        sequence = int(str(event.get("SEQUENCE", "0")).strip())
    except ValueError:
        sequence = -1  # the expansion refuses it anyway
    try:
        stamp = _aware_utc(event.get("DTSTAMP").dt, UTC)
    except (AttributeError, TypeError, ValueError, OverflowError):
        stamp = datetime.min.replace(tzinfo=UTC)
    return sequence, stamp


def _split_reused_uids(calendar: icalendar.Calendar) -> None:
    """Give events that share a UID but start at different times a UID each, keyed by the start.

    recurring-ical-events keeps one event per UID (the highest SEQUENCE), but feeds reuse UIDs for
    what are really different events. Starts written alike that are not the same times (in
    another zone, a one-off and a series) are told apart by a digest of their timing. Copies at
    the very same times, and series with moved instances (RECURRENCE-ID), are left to it.
    """
    events_by_uid: dict[str, list[icalendar.Component]] = defaultdict(list)
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
        timings = [_timing(event) for event in events]
        timings_by_key: dict[str, set[str]] = defaultdict(set)
        for key, timing in zip(keys, timings, strict=True):
            timings_by_key[key].add(timing)
        keys = [
            key if len(timings_by_key[key]) == 1 else f"{key}/{timing}"
            for key, timing in zip(keys, timings, strict=True)
        ]
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


def _zone_name(moment: datetime) -> str:
    """The IANA name of the zone a timed start was written in ("" for UTC, floating or a zone
    known only by a name that is not IANA's)."""
    key = getattr(moment.tzinfo, "key", "")
    return key if isinstance(key, str) and key != "UTC" else ""


def _to_event(
    component: icalendar.Component,
    zone: tzinfo,
    recurring_uids: set[str],
    series_prefix: str,
    own_addresses: set[str],
) -> RemoteEvent | None:
    if not isinstance(component, icalendar.Event):
        # icalendar parses every VEVENT into an Event; its walk() is typed for any component.
        raise TypeError("Not an event.")
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
        status=_status(status, busy_status),
        transparency=_transparency(transparent=transparent, busy_status=busy_status),
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
        time_zone="" if all_day else _zone_name(start_value),
        block_id=str(component.get(MARKER_PROPERTY, "")).strip(),
        booking_id=str(component.get(BOOKING_MARKER_PROPERTY, "")).strip(),
    )


def _status(status: str, busy_status: str) -> EventStatus:
    """Tentative when the event or Outlook's busy status (X-MICROSOFT-CDO-BUSYSTATUS) says so."""
    tentative = status == "TENTATIVE" or busy_status == "TENTATIVE"
    return EventStatus.TENTATIVE if tentative else EventStatus.CONFIRMED


def _transparency(*, transparent: bool, busy_status: str) -> Transparency:
    """Free when TRANSP says TRANSPARENT or Outlook's busy status says FREE."""
    return Transparency.FREE if transparent or busy_status == "FREE" else Transparency.BUSY


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
