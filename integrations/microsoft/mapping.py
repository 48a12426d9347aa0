"""Graph's event JSON to ``RemoteEvent``, and a ``BlockSpec`` to the event JSON we write."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime, time
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from integrations.base import (
    BlockSpec,
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
    # We ask for UTC; another zone arrives only if Graph ignored that, and then only IANA names map.
    try:
        zone = UTC if zone_name in ("UTC", "Etc/UTC") else ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {zone_name!r}") from error
    return local.replace(tzinfo=zone).astimezone(UTC)


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
