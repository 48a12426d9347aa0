"""Google Calendar event resources to and from the contract's values.

Ids. A ``RemoteEvent.id`` is Google's instance id (reads use ``singleEvents=true``), its
``series_id`` the ``recurringEventId`` (or its own id for a single event). A block is created with
an event id derived from its block id, so a retried insert meets the first one instead of
duplicating it; our marker is ``extendedProperties.private["multical_block"]``. A booking's event
is written the same way with its own marker key and its own id prefix, so a block and a booking
with the same id are two events.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from integrations.base import (
    BlockSpec,
    EventStatus,
    MarkerKind,
    RemoteEvent,
    Response,
    Transparency,
)
from integrations.video_links import find_video_link

MARKER_KEYS = {MarkerKind.BLOCK: "multical_block", MarkerKind.BOOKING: "multical_booking"}
# Every id of one kind starts with its prefix, so ids of the two kinds never meet.
_ID_PREFIXES = {MarkerKind.BLOCK: "mc", MarkerKind.BOOKING: "mb"}
# Not time the owner is busy with: a working location, a contact's birthday.
SKIPPED_EVENT_TYPES = frozenset({"workingLocation", "birthday"})

_RESPONSES = {
    "accepted": Response.ACCEPTED,
    "tentative": Response.TENTATIVE,
    "declined": Response.DECLINED,
    "needsAction": Response.NEEDS_ACTION,
}


def block_event_id(block_id: str, kind: MarkerKind = MarkerKind.BLOCK) -> str:
    """The Google event id of a block (or booking event): base32hex (a-v, 0-9), 5 to 1024
    characters, always the same for one id and kind."""
    prefix = _ID_PREFIXES[kind]
    try:
        return prefix + uuid.UUID(block_id).hex
    except ValueError:
        digest = base64.b32hexencode(hashlib.sha256(block_id.encode()).digest())
        return prefix + digest.decode().lower().rstrip("=")


def marker(item: dict[str, Any], kind: MarkerKind = MarkerKind.BLOCK) -> str:
    private = item.get("extendedProperties", {}).get("private", {})
    return str(private.get(MARKER_KEYS[kind], ""))


def is_cancelled(item: dict[str, Any]) -> bool:
    return item.get("status") == "cancelled"


def to_remote_event(item: dict[str, Any]) -> RemoteEvent | None:
    """The instance as a ``RemoteEvent``; None for kinds that are never sources.

    Raises ``ValueError``/``KeyError``/``TypeError`` on a malformed item (the caller counts it).
    """
    if item.get("eventType") in SKIPPED_EVENT_TYPES:
        return None
    start, all_day = _moment(item["start"])
    end, _ = _moment(item["end"])
    return RemoteEvent(
        id=item["id"],
        series_id=item.get("recurringEventId") or item["id"],
        start=start,
        end=end,
        all_day=all_day,
        status=EventStatus(item.get("status", "confirmed")),
        transparency=(
            Transparency.FREE if item.get("transparency") == "transparent" else Transparency.BUSY
        ),
        response=_own_response(item),
        title=item.get("summary", ""),
        description=item.get("description", ""),
        location=item.get("location", ""),
        video_link=_video_link(item),
        ical_uid=item.get("iCalUID", ""),
        block_id=marker(item),
        booking_id=marker(item, MarkerKind.BOOKING),
    )


def block_body(spec: BlockSpec) -> dict[str, Any]:
    """The event resource of a block or booking event: private, no attendees or reminders,
    carrying the marker of its kind."""
    if spec.all_day:
        start: dict[str, str] = {"date": spec.start.date().isoformat()}
        end: dict[str, str] = {"date": spec.end.date().isoformat()}
    else:
        start = {"dateTime": spec.start.astimezone(UTC).isoformat(), "timeZone": "UTC"}
        end = {"dateTime": spec.end.astimezone(UTC).isoformat(), "timeZone": "UTC"}
    body: dict[str, Any] = {
        "summary": spec.title,
        "start": start,
        "end": end,
        "transparency": "transparent" if spec.transparency == Transparency.FREE else "opaque",
        "visibility": "private",
        "reminders": {"useDefault": False},
        "extendedProperties": {"private": {MARKER_KEYS[spec.kind]: spec.block_id}},
    }
    if spec.description:
        body["description"] = spec.description
    if spec.location:
        body["location"] = spec.location
    return body


def _moment(when: dict[str, Any]) -> tuple[datetime, bool]:
    """Aware UTC for a dateTime; midnight UTC of the date for an all-day date."""
    if when.get("date"):
        return datetime.combine(date.fromisoformat(when["date"]), time.min, UTC), True
    moment = datetime.fromisoformat(when["dateTime"])
    if moment.tzinfo is None:
        try:
            zone = ZoneInfo(when.get("timeZone") or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC), False


def _own_response(item: dict[str, Any]) -> Response:
    for attendee in item.get("attendees", []):
        if attendee.get("self"):
            return _RESPONSES.get(attendee.get("responseStatus", ""), Response.NEEDS_ACTION)
    return Response.NONE


def _video_link(item: dict[str, Any]) -> str:
    if item.get("hangoutLink"):
        return str(item["hangoutLink"])
    for entry in item.get("conferenceData", {}).get("entryPoints", []):
        if entry.get("entryPointType") == "video" and entry.get("uri"):
            return str(entry["uri"])
    return find_video_link(item.get("location", ""), item.get("description", ""))
