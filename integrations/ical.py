"""iCalendar in and out, shared by the CalDAV and iCal-link providers.

``read_events`` turns iCalendar text into ``RemoteEvent`` instances inside a window, with
recurrences expanded by recurring-ical-events (RRULE, RDATE, EXDATE, moved instances, DST).
``render_block`` writes a block (or a booking's event) as a VCALENDAR carrying the marker of its
kind.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events
import x_wr_timezone

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

_PARTSTAT = {
    "ACCEPTED": Response.ACCEPTED,
    "TENTATIVE": Response.TENTATIVE,
    "DECLINED": Response.DECLINED,
    "NEEDS-ACTION": Response.NEEDS_ACTION,
}


class ICalendarError(ValueError):
    """The text is not iCalendar at all (an HTML error page, an empty body, binary data)."""


@dataclass(slots=True)
class ParsedEvents:
    events: list[RemoteEvent]
    skipped: int = 0


def parse_calendar(data: bytes | str) -> icalendar.Calendar:
    """Parse one VCALENDAR, forgiving a byte-order mark and stray whitespace."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    text = text.lstrip("\ufeff \t\r\n")
    if not text.upper().startswith("BEGIN:VCALENDAR"):
        raise ICalendarError("This is not an iCalendar file.")
    try:
        return icalendar.Calendar.from_ical(text)
    except ValueError as error:
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
        calendar = x_wr_timezone.to_standard(calendar)
    undated = _drop_undated_events(calendar)
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
        instances = recurring_ical_events.of(calendar, skip_bad_series=True).between(
            window.start, window.end
        )
    except Exception as error:  # the library's errors share no base class
        # Raised, not returned empty: an empty read would look like "every event was deleted".
        raise ICalendarError("The events of this calendar could not be read.") from error
    for component in instances:
        try:
            event = _to_event(component, zone, recurring_uids, series_prefix, addresses)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
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
        keys = [start.to_ical().decode() for start in starts]
        if len(set(keys)) > 1:
            for event, key in zip(events, keys, strict=True):
                event["UID"] = f"{uid}#{key}"


def _calendar_zone(calendar: icalendar.Calendar) -> tzinfo | None:
    name = str(calendar.get("X-WR-TIMEZONE", "")).strip()
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
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
