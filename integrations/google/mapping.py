"""Google Calendar event resources to and from the contract's values.

Ids. A ``RemoteEvent.id`` is Google's instance id (reads use ``singleEvents=true``), its
``series_id`` the ``recurringEventId`` (or its own id for a single event). A block is created with
an event id derived from its block id, so a retried insert meets the first one instead of
duplicating it; our marker is ``extendedProperties.private["multical_block"]``. A booking's event
is written the same way with its own marker key and its own id prefix, so a block and a booking
with the same id are two events.

The user's own events (``EventDraft``) are written without any marker. A series changed from one
instance on keeps each instance's date: ``series_times`` puts the draft's time of day and length
on the series' date, in the series' zone. "This and following" ends the series with an UNTIL just
before the instance (``trimmed_recurrence``) and continues it as a new series from the instance
(``continued_recurrence``, with what is left of a COUNT), as Google's guide to recurring events
describes.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr

from integrations.base import (
    BlockSpec,
    EventDetail,
    EventDraft,
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
# The owner's answers, in Google's words.
ANSWERS = {
    Response.ACCEPTED: "accepted",
    Response.TENTATIVE: "tentative",
    Response.DECLINED: "declined",
}
# What a new series split off an old one carries over from it, besides times and content.
SERIES_FIELDS = (
    "attendees",
    "transparency",
    "visibility",
    "colorId",
    "reminders",
    "guestsCanInviteOthers",
    "guestsCanModify",
    "guestsCanSeeOtherGuests",
    "extendedProperties",
    "source",
)


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
        time_zone="" if all_day else str(item["start"].get("timeZone", "")),
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


# The user's own events ----------------------------------------------------------------------------


def to_detail(item: dict[str, Any]) -> EventDetail | None:
    """The instance as the portfolio's panel shows it; None for kinds that are never shown.

    Raises ``ValueError``/``KeyError``/``TypeError`` on a malformed item.
    """
    event = to_remote_event(item)
    if event is None:
        return None
    own = own_attendee(item)
    organizer = bool(item.get("organizer", {}).get("self"))
    return EventDetail(
        event=event,
        etag=str(item.get("etag", "")),
        recurring="recurringEventId" in item,
        web_link=str(item.get("htmlLink", "")),
        organizer=organizer or not item.get("attendees"),
        can_reply=own is not None and not own.get("organizer") and not organizer,
    )


def own_attendee(item: dict[str, Any]) -> dict[str, Any] | None:
    """The attendee that stands for the calendar this copy of the event is in, if any."""
    for attendee in item.get("attendees", []):
        if attendee.get("self"):
            return dict(attendee)
    return None


def draft_body(draft: EventDraft) -> dict[str, Any]:
    """A new ordinary event: content and times, no marker."""
    start, end = draft_times(draft)
    body: dict[str, Any] = {"summary": draft.title, "start": start, "end": end}
    if draft.description:
        body["description"] = draft.description
    if draft.location:
        body["location"] = draft.location
    return body


def draft_changes(
    draft: EventDraft, times: tuple[dict[str, Any], dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A patch setting the draft's content and ``times`` (the draft's own by default); the other
    kind of time (date or date-time) is cleared, as a patch keeps fields it does not name."""
    start, end = times or draft_times(draft)
    return {
        "summary": draft.title,
        "description": draft.description,
        "location": draft.location,
        "start": _clearing(start),
        "end": _clearing(end),
    }


def draft_times(draft: EventDraft) -> tuple[dict[str, Any], dict[str, Any]]:
    """The draft's start and end: dates for an all-day event, else times in its zone."""
    if draft.all_day:
        return {"date": draft.start.date().isoformat()}, {"date": draft.end.date().isoformat()}
    zone, name = _zone(draft.time_zone)
    return (
        {"dateTime": draft.start.astimezone(zone).isoformat(), "timeZone": name},
        {"dateTime": draft.end.astimezone(zone).isoformat(), "timeZone": name},
    )


def series_times(
    anchor: dict[str, Any], draft: EventDraft, time_zone: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start and end on ``anchor``'s date (a start or original start), with the draft's time of day
    and length read in ``time_zone`` (the series' zone): each instance keeps its own date."""
    zone, name = _zone(time_zone)
    if anchor.get("date"):
        day = date.fromisoformat(anchor["date"])
    else:
        day = _moment(anchor)[0].astimezone(zone).date()
    if draft.all_day:
        days = max((draft.end.date() - draft.start.date()).days, 1)
        return {"date": day.isoformat()}, {"date": (day + timedelta(days=days)).isoformat()}
    start = datetime.combine(day, draft.start.astimezone(zone).time(), zone)
    # The length is elapsed time, so it is added in UTC (a wall-clock sum is off across DST).
    end = (start.astimezone(UTC) + (draft.end - draft.start)).astimezone(zone)
    return (
        {"dateTime": start.isoformat(), "timeZone": name},
        {"dateTime": end.isoformat(), "timeZone": name},
    )


def series_zone(master: dict[str, Any], fallback: str) -> str:
    """The zone a series is expanded in (Google requires one for a timed series)."""
    return str(master.get("start", {}).get("timeZone") or fallback)


def same_start(one: dict[str, Any], other: dict[str, Any]) -> bool:
    return _moment(one) == _moment(other)


def trimmed_recurrence(recurrence: list[str], original_start: dict[str, Any]) -> list[str]:
    """The series' rules ending just before the instance that started at ``original_start``."""
    if original_start.get("date"):
        last = date.fromisoformat(original_start["date"]) - timedelta(days=1)
        until = f"{last:%Y%m%d}"
    else:
        until = f"{_moment(original_start)[0] - timedelta(seconds=1):%Y%m%dT%H%M%SZ}"
    return [
        _with_bound(line, f"UNTIL={until}") if line.startswith("RRULE:") else line
        for line in recurrence
    ]


def continued_recurrence(
    recurrence: list[str], series_start: dict[str, Any], original_start: dict[str, Any]
) -> list[str]:
    """The series' rules for a new series starting at the instance that started at
    ``original_start``: a COUNT is what is left of it, an UNTIL stays as it was."""
    rules = []
    for line in recurrence:
        parts = line[6:].split(";") if line.startswith("RRULE:") else []
        count = next((p[6:] for p in parts if p.startswith("COUNT=")), "")
        if count:
            zone, _ = _zone(series_start.get("timeZone", "UTC"))
            first, upto = _local(series_start, zone), _local(original_start, zone)
            before = 0
            for moment in rrulestr(line, dtstart=first):
                if moment >= upto:
                    break
                before += 1
            line = _with_bound(line, f"COUNT={max(int(count) - before, 1)}")
        rules.append(line)
    return rules


def _with_bound(rule: str, bound: str) -> str:
    parts = [p for p in rule[6:].split(";") if not p.startswith(("COUNT=", "UNTIL="))]
    return "RRULE:" + ";".join([*parts, bound])


def _local(when: dict[str, Any], zone: ZoneInfo) -> datetime:
    """A start as the naive local time a recurrence rule is expanded in."""
    if when.get("date"):
        return datetime.combine(date.fromisoformat(when["date"]), time.min)
    return _moment(when)[0].astimezone(zone).replace(tzinfo=None)


def _clearing(when: dict[str, Any]) -> dict[str, Any]:
    """``when`` for a patch: the fields of the other kind of time set to null (deleted)."""
    if "date" in when:
        return {**when, "dateTime": None, "timeZone": None}
    return {**when, "date": None}


def _zone(name: str) -> tuple[ZoneInfo, str]:
    try:
        return ZoneInfo(name), name
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC"), "UTC"
