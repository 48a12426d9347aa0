"""Graph's event JSON to ``RemoteEvent``, and a ``BlockSpec`` to the event JSON we write."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from integrations.base import (
    BlockSpec,
    EventDetail,
    EventDraft,
    EventStatus,
    MarkerKind,
    RemoteCalendar,
    RemoteEvent,
    Response,
    Transparency,
)
from integrations.video_links import find_video_link

# Our markers on the events we write: single-value extended properties in our own namespace.
BLOCK_PROPERTY_ID = "String {6b1f0c5e-3d2a-4f7b-9a1e-5c8d2e4f7a90} Name multical_block"
BOOKING_PROPERTY_ID = "String {6b1f0c5e-3d2a-4f7b-9a1e-5c8d2e4f7a90} Name multical_booking"
PROPERTY_IDS = {MarkerKind.BLOCK: BLOCK_PROPERTY_ID, MarkerKind.BOOKING: BOOKING_PROPERTY_ID}
# Reads that can expand properties (calendarView, not delta) ask for the booking marker.
EXPAND_BOOKING_MARKER = f"singleValueExtendedProperties($filter=id eq '{BOOKING_PROPERTY_ID}')"
# A single event read (the portfolio's panel) asks for the block marker; the booking marker comes
# from the transactionId every create of ours sets (Graph documents one property per $expand).
EXPAND_BLOCK_MARKER = f"singleValueExtendedProperties($filter=id eq '{BLOCK_PROPERTY_ID}')"
# Delta cannot expand properties, but it returns the transactionId a create set, and Graph never
# lets an update change it: every event we create carries "<prefix><id>.<nonce>" there too, so a
# read recognises it from the instant it exists. Graph refuses a used transactionId (or, for the
# same body, answers with the event it made), which makes it a retry key: a create sent again,
# after a timeout whose request still lands later or after a crash, carries the same one and cannot
# make the block twice. The nonce changes only when the block is written again in place of an event
# that is gone (see ``transaction_id``).
TRANSACTION_PREFIXES = {
    MarkerKind.BLOCK: "multical-block.",
    MarkerKind.BOOKING: "multical-booking.",
}
_NONCE = re.compile(r"[0-9a-f]{8}")

_RESPONSES = {
    "accepted": Response.ACCEPTED,
    "tentativelyAccepted": Response.TENTATIVE,
    "declined": Response.DECLINED,
    "notResponded": Response.NEEDS_ACTION,
}
_HEX_COLOR = frozenset("0123456789abcdefABCDEF")


def remote_calendar(item: Mapping[str, Any]) -> RemoteCalendar:
    color = str(item.get("hexColor") or "")
    # Graph gives a hex colour for calendars coloured in new Outlook, else only a name ("lightBlue").
    valid = len(color) == 7 and color[0] == "#" and set(color[1:]) <= _HEX_COLOR
    return RemoteCalendar(
        remote_id=str(item["id"]),
        name=str(item.get("name") or ""),
        color=color.lower() if valid else "",
        read_only=not item.get("canEdit", False),
    )


def is_cancelled(item: Mapping[str, Any]) -> bool:
    return bool(item.get("isCancelled"))


def left_window(item: Mapping[str, Any]) -> bool:
    """True for a delta item that names an event and nothing else: neither a start nor an end.

    Graph sends an event moved out of a delta round's window so (its id, every other field null)
    rather than as ``@removed``. An item with a start or an end is an event, however broken.
    """
    return not _has_time(item.get("start")) and not _has_time(item.get("end"))


def remote_event(item: Mapping[str, Any]) -> RemoteEvent:
    """One event instance (single, occurrence or exception); ValueError when it is malformed.

    ``block_id`` and ``booking_id`` come from our marker of each kind: the extended property where
    the read expanded it (calendarView), else the transactionId our create set (delta reads, which
    cannot expand properties but return it), so every read recognises the events we wrote.
    """
    all_day = bool(item.get("isAllDay"))
    start, end = _when(item["start"], all_day=all_day), _when(item["end"], all_day=all_day)
    if end <= start:
        raise ValueError("an event that ends before it starts")
    show_as = item.get("showAs") or "busy"
    title = str(item.get("subject") or "")
    description = _body_text(item.get("body"))
    location = str((item.get("location") or {}).get("displayName") or "")
    join_url = str((item.get("onlineMeeting") or {}).get("joinUrl") or "")
    response = (item.get("responseStatus") or {}).get("response", "")
    return RemoteEvent(
        id=str(item["id"]),
        series_id=str(item.get("seriesMasterId") or item["id"]),
        start=start,
        end=end,
        all_day=all_day,
        status=EventStatus.TENTATIVE if show_as == "tentative" else EventStatus.CONFIRMED,
        transparency=Transparency.FREE if show_as == "free" else Transparency.BUSY,
        response=_RESPONSES.get(response, Response.NONE),
        title=title,
        description=description,
        location=location,
        video_link=join_url or find_video_link(location, description),
        ical_uid=str(item.get("iCalUId") or ""),
        block_id=_marker(item, MarkerKind.BLOCK),
        booking_id=_marker(item, MarkerKind.BOOKING),
    )


def block_event(spec: BlockSpec) -> dict[str, Any]:
    """The event body of a block or booking event: private, no reminder, no attendees, carrying
    the marker of its kind. An update sends it as it is (Graph refuses a transactionId there)."""
    return {
        "subject": spec.title,
        "body": {"contentType": "text", "content": spec.description},
        "location": {"displayName": spec.location},
        "start": _graph_time(spec.start, all_day=spec.all_day),
        "end": _graph_time(spec.end, all_day=spec.all_day),
        "isAllDay": spec.all_day,
        "showAs": "free" if spec.transparency == Transparency.FREE else "busy",
        "sensitivity": "private",
        "isReminderOn": False,
        "responseRequested": False,
        "attendees": [],
        "singleValueExtendedProperties": [{"id": PROPERTY_IDS[spec.kind], "value": spec.block_id}],
    }


def new_block_event(spec: BlockSpec, *, replacing: str = "", attempt: int = 0) -> dict[str, Any]:
    """The body that creates a block or booking event: ``block_event`` with its transactionId
    (``transaction_id``)."""
    return {
        **block_event(spec),
        "transactionId": transaction_id(spec, replacing=replacing, attempt=attempt),
    }


def transaction_id(spec: BlockSpec, *, replacing: str = "", attempt: int = 0) -> str:
    """``multical-block.<id>.<nonce>`` (or ``multical-booking.…``).

    The nonce is derived from the block, the remote event this create replaces (``replacing``: ""
    for the block's first event, else the id of the one found gone) and ``attempt`` (the number of
    transactionIds already refused for them): every retry of a create sends the same one, and a
    block written again after its event was deleted gets a new one.
    """
    key = f"{spec.block_id}\0{replacing}\0{attempt}".encode()
    nonce = hashlib.sha256(key).hexdigest()[:8]
    return f"{TRANSACTION_PREFIXES[spec.kind]}{spec.block_id}.{nonce}"


def block_filter(block_id: str, kind: MarkerKind = MarkerKind.BLOCK) -> str:
    """The OData filter for the events carrying ``block_id`` in our marker of ``kind``."""
    value = block_id.replace("'", "''")
    return (
        f"singleValueExtendedProperties/Any(ep: ep/id eq '{PROPERTY_IDS[kind]}' "
        f"and ep/value eq '{value}')"
    )


def graph_datetime(moment: datetime) -> str:
    """An aware datetime as Graph wants it in queries and subscriptions (UTC, ISO 8601)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_graph_datetime(value: str) -> datetime:
    """Graph's ``2026-03-10T09:00:00.1234567Z`` (seven fractional digits) as an aware datetime."""
    head, _, rest = value.rstrip("Z").partition(".")
    parsed = datetime.fromisoformat(head + (f".{rest[:6]}" if rest else ""))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _graph_time(moment: datetime, *, all_day: bool) -> dict[str, str]:
    if all_day:
        # Graph wants all-day events at midnight; RemoteEvent's dates are midnight UTC already.
        return {"dateTime": f"{moment.date().isoformat()}T00:00:00", "timeZone": "UTC"}
    return {"dateTime": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def _when(value: Mapping[str, Any], *, all_day: bool) -> datetime:
    local = parse_graph_datetime(str(value["dateTime"])).replace(tzinfo=None)
    if all_day:
        # All-day events are dates: Graph gives them as midnight, whatever zone was asked for.
        return datetime.combine(local.date(), time.min, tzinfo=UTC)
    zone_name = str(value.get("timeZone") or "UTC")
    # We ask for UTC; another zone arrives only if Graph ignored that (a write's answer may keep
    # the zone it was sent in): Windows names (what we write) and IANA names map.
    try:
        if zone_name in ("UTC", "Etc/UTC"):
            zone: tzinfo = UTC
        else:
            zone = ZoneInfo(WINDOWS_TO_OLSON.get(zone_name, zone_name))
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {zone_name!r}") from error
    return local.replace(tzinfo=zone).astimezone(UTC)


def marker(item: Mapping[str, Any], kind: MarkerKind) -> str:
    """The id in our marker of ``kind`` on a Graph event ("" when it carries none)."""
    return _marker(item, kind)


def _marker(item: Mapping[str, Any], kind: MarkerKind) -> str:
    """The id in our marker of ``kind``: the extended property when the item has it, else the
    id in a transactionId of ours ("" for another app's, or none)."""
    if found := _property(item, PROPERTY_IDS[kind]):
        return found
    value = item.get("transactionId")
    prefix = TRANSACTION_PREFIXES[kind]
    if not isinstance(value, str) or not value.startswith(prefix):
        return ""
    marked, _, nonce = value.removeprefix(prefix).rpartition(".")
    return marked if marked and _NONCE.fullmatch(nonce) else ""


def _has_time(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(value.get("dateTime"))


def _property(item: Mapping[str, Any], property_id: str) -> str:
    # Graph may write the property id's GUID in another case than we sent it.
    for prop in item.get("singleValueExtendedProperties") or []:
        if isinstance(prop, Mapping) and str(prop.get("id", "")).lower() == property_id.lower():
            return str(prop.get("value") or "")
    return ""


def _body_text(body: Any) -> str:
    if not isinstance(body, Mapping):
        return ""
    content = str(body.get("content") or "")
    if str(body.get("contentType", "")).lower() == "html":
        return html_to_text(content)
    return content.strip()


class _TextExtractor(HTMLParser):
    _SKIPPED = frozenset({"script", "style", "head", "title"})
    _BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skipping += 1
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED:
            self._skipping = max(self._skipping - 1, 0)
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The readable text of an HTML body: tags dropped, entities decoded, one blank line at most."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = [" ".join(line.split()) for line in "".join(extractor.parts).splitlines()]
    text: list[str] = []
    for line in lines:
        if line or (text and text[-1]):
            text.append(line)
    return "\n".join(text).strip()


# The user's own events (the portfolio) ----------------------------------------------------------

# What a Graph event's ``type`` says about it: an instance of a series, or the series itself.
INSTANCE_TYPES = frozenset({"occurrence", "exception"})
SERIES_MASTER = "seriesMaster"
# Outlook keeps the responses of invitees as these; "none" and "organizer" are not invitations.
_INVITEE_RESPONSES = frozenset({"notResponded", "accepted", "tentativelyAccepted", "declined"})
# IANA names the Unicode CLDR's Windows mapping spells the old way.
_IANA_ALIASES = {
    "Asia/Kolkata": "Asia/Calcutta",
    "Asia/Kathmandu": "Asia/Katmandu",
    "Asia/Yangon": "Asia/Rangoon",
    "Asia/Ho_Chi_Minh": "Asia/Saigon",
    "America/Argentina/Buenos_Aires": "America/Buenos_Aires",
    "America/Nuuk": "America/Godthab",
    "Europe/Kyiv": "Europe/Kiev",
    "Atlantic/Faroe": "Atlantic/Faeroe",
    "Pacific/Kanton": "Pacific/Enderbury",
}
_WINDOWS_NAMES = {olson: windows for windows, olson in WINDOWS_TO_OLSON.items()}


def etag(item: Mapping[str, Any]) -> str:
    """The version of a Graph event as ``If-Match`` takes it: its ``@odata.etag`` (W/"changeKey")."""
    value = item.get("@odata.etag")
    if isinstance(value, str) and value:
        return value
    change_key = item.get("changeKey")
    return f'W/"{change_key}"' if isinstance(change_key, str) and change_key else ""


def event_detail(item: Mapping[str, Any]) -> EventDetail:
    """A Graph event read on demand as the portfolio's ``EventDetail``; ValueError if malformed."""
    organizer = bool(item.get("isOrganizer", True))
    response = str((item.get("responseStatus") or {}).get("response") or "")
    invitee = not organizer and (
        bool(item.get("responseRequested")) or response in _INVITEE_RESPONSES
    )
    return EventDetail(
        event=remote_event(item),
        etag=etag(item),
        recurring=item.get("type") in INSTANCE_TYPES,
        web_link=str(item.get("webLink") or ""),
        organizer=organizer,
        can_reply=invitee,
    )


@functools.lru_cache(maxsize=512)
def windows_zone(name: str) -> str:
    """The Windows time zone Graph is sent for the IANA zone ``name``; "UTC" when none keeps the
    same clock.

    Graph documents Windows names for writes (and only some IANA names, which it has been seen to
    refuse in creates), so we always send a Windows name: the Unicode CLDR's own for the zone, else
    the first whose UTC offsets are the zone's at every half month of this year and the next two
    (Europe/Amsterdam keeps Europe/Berlin's clock: "W. Europe Standard Time").
    """
    if name in ("UTC", "Etc/UTC", "Etc/GMT", "GMT", "Z"):
        return "UTC"
    olson = _IANA_ALIASES.get(name, name)
    if olson in _WINDOWS_NAMES:
        return _WINDOWS_NAMES[olson]
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    year = datetime.now(UTC).year
    instants = [
        datetime(year + n, month, day, 12, tzinfo=UTC)
        for n in range(3)
        for month in range(1, 13)
        for day in (1, 15)
    ]
    clock = [instant.astimezone(zone).utcoffset() for instant in instants]
    for windows, candidate in sorted(WINDOWS_TO_OLSON.items()):
        try:
            other = ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
        if [instant.astimezone(other).utcoffset() for instant in instants] == clock:
            return "UTC" if windows == "UTC" else windows
    return "UTC"


def new_event(draft: EventDraft) -> dict[str, Any]:
    """The body that creates an ordinary event from a draft: no marker, no transactionId."""
    return {
        "subject": draft.title,
        "body": {"contentType": "text", "content": draft.description},
        "location": {"displayName": draft.location},
        **_span(draft.start, draft.end, all_day=draft.all_day, zone_name=draft.time_zone),
    }


def event_changes(item: Mapping[str, Any], draft: EventDraft) -> dict[str, Any]:
    """The PATCH that makes the event ``item`` (one instance) what ``draft`` says: only what
    differs, so an untouched formatted body or a zone is never rewritten."""
    current = remote_event(item)
    changes = _content_changes(current, draft)
    if (current.start, current.end, current.all_day) != (draft.start, draft.end, draft.all_day):
        changes.update(
            _span(draft.start, draft.end, all_day=draft.all_day, zone_name=draft.time_zone)
        )
    return changes


def series_changes(
    master: Mapping[str, Any], instance: Mapping[str, Any], draft: EventDraft
) -> dict[str, Any]:
    """The PATCH of a series master that applies to every instance what the user changed in one.

    The title, location and description become the draft's; the time of day and the length move
    by as much as the draft moved them from the instance as read (in the draft's zone), and the
    master keeps its own date, so each instance keeps its date. Nothing else is sent.
    """
    seen, series = remote_event(instance), remote_event(master)
    changes = _content_changes(series, draft)
    if (seen.start, seen.end, seen.all_day) == (draft.start, draft.end, draft.all_day):
        return changes
    zone = _zone(draft.time_zone)
    first = series.start.date() if series.all_day else series.start.astimezone(zone).date()
    if draft.all_day:
        days = max((draft.end.date() - draft.start.date()).days, 1)
        start = datetime.combine(first, time.min, tzinfo=UTC)
        changes.update(_span(start, start + timedelta(days=days), all_day=True, zone_name="UTC"))
        return changes
    if series.all_day or seen.all_day:
        start = datetime.combine(first, draft.start.astimezone(zone).time(), tzinfo=zone)
        length = draft.end - draft.start
    else:
        shift = _clock(draft.start, zone) - _clock(seen.start, zone)
        day = timedelta(days=1)
        start_clock = (_clock(series.start, zone) + shift) % day
        start = datetime.combine(first, time.min, tzinfo=zone) + start_clock
        length = (series.end - series.start) + (draft.end - draft.start) - (seen.end - seen.start)
        if length <= timedelta(0):
            length = draft.end - draft.start
    changes.update(_span(start, start + length, all_day=False, zone_name=draft.time_zone))
    return changes


def _content_changes(current: RemoteEvent, draft: EventDraft) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if draft.title != current.title:
        changes["subject"] = draft.title
    if draft.description.strip() != current.description:
        changes["body"] = {"contentType": "text", "content": draft.description}
    if draft.location != current.location:
        changes["location"] = {"displayName": draft.location}
    return changes


def _span(start: datetime, end: datetime, *, all_day: bool, zone_name: str) -> dict[str, Any]:
    """``start``, ``end`` and ``isAllDay`` as Graph takes them: timed ones as the wall time in the
    Windows zone standing for ``zone_name`` (so the event keeps the user's zone), all-day ones as
    midnight dates."""
    if all_day:
        return {
            "start": _midnight(start.date()),
            "end": _midnight(end.date()),
            "isAllDay": True,
        }
    windows = windows_zone(zone_name)
    zone = _zone(zone_name) if windows != "UTC" else UTC
    return {
        "start": _wall_time(start, zone, windows),
        "end": _wall_time(end, zone, windows),
        "isAllDay": False,
    }


def _midnight(day: date) -> dict[str, str]:
    return {"dateTime": f"{day.isoformat()}T00:00:00", "timeZone": "UTC"}


def _wall_time(moment: datetime, zone: tzinfo, windows: str) -> dict[str, str]:
    return {"dateTime": moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": windows}


def _zone(name: str) -> tzinfo:
    try:
        return UTC if name in ("UTC", "Etc/UTC") else ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _clock(moment: datetime, zone: tzinfo) -> timedelta:
    """The wall-clock time of day of ``moment`` in ``zone``, as a span since midnight."""
    local = moment.astimezone(zone)
    return timedelta(hours=local.hour, minutes=local.minute, seconds=local.second)
