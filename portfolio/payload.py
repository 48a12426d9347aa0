"""The portfolio's events and failures as the page's JSON: only what the page shows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.utils.translation import gettext, gettext_noop

from calendars.models import Calendar, Connection
from integrations.base import EditScope, Transparency
from portfolio.actions import Opened
from portfolio.fetch import CalendarFailure, PortfolioEvent, PortfolioResult
from portfolio.selectors import calendar_color, calendar_label

# The provider's own page for an event, named as people know it.
WEB_LABELS: dict[str, str] = {
    Connection.Kind.GOOGLE: gettext_noop("Open in Google Calendar"),
    Connection.Kind.MICROSOFT: gettext_noop("Open in Outlook"),
}
OWN_PAGE = gettext_noop("Open in its calendar")


def result_json(result: PortfolioResult) -> dict[str, Any]:
    colors: dict[object, str] = {}

    def calendar_json(calendar: Calendar) -> dict[str, str]:
        if calendar.id not in colors:
            colors[calendar.id] = calendar_color(calendar)
        return {
            "id": str(calendar.id),
            "name": calendar_label(calendar),
            "color": colors[calendar.id],
        }

    return {
        "events": [event_json(event, calendar_json) for event in result.events],
        "failures": [failure_json(failure) for failure in result.failures],
    }


def event_json(event: PortfolioEvent, calendar_json: Any) -> dict[str, Any]:
    return {
        "id": event.id,
        "title": event.title,
        "start": _when(event.start, event.all_day),
        "end": _when(event.end, event.all_day),
        "allDay": event.all_day,
        "calendars": [calendar_json(calendar) for calendar in event.calendars],
        "refs": [
            {"calendar": str(calendar.id), "event": event_id} for calendar, event_id in event.refs
        ],
        "recurring": event.recurring,
        "block": event.block,
        "rule": event.rule,
        "location": event.location,
        "videoLink": _web_link(event.video_link),
        "booking": event.booking,
        "declined": event.declined,
        "tentative": event.tentative,
        "free": event.free,
    }


def failure_json(failure: CalendarFailure) -> dict[str, Any]:
    return {
        "calendar": {"id": str(failure.calendar.id), "name": calendar_label(failure.calendar)},
        "reason": failure.reason,
        "needsReconnect": failure.needs_reconnect,
    }


def _web_link(url: str) -> str:
    # Providers hand over links as written by whoever made the event: only web addresses pass.
    return url if url.lower().startswith(("https://", "http://")) else ""


def _when(moment: datetime, all_day: bool) -> str:
    if all_day:
        # A date, the same in every zone (see RemoteEvent).
        return moment.date().isoformat()
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def opened_json(opened: Opened) -> dict[str, Any]:
    """One event as the panel shows it: its content (read now, sent, not kept), the version read,
    and what may be done with it here."""
    detail, event, calendar = opened.detail, opened.detail.event, opened.calendar
    actions = opened.actions
    return {
        "calendar": {
            "id": str(calendar.id),
            "name": calendar_label(calendar),
            "color": calendar_color(calendar),
            "readOnly": calendar.read_only,
        },
        "event": {
            "id": event.id,
            "title": event.title.strip(),
            "start": _when(event.start, event.all_day),
            "end": _when(event.end, event.all_day),
            "allDay": event.all_day,
            "location": event.location.strip(),
            "description": event.description,
            "videoLink": _web_link(event.video_link),
            "response": event.response.value,
            "free": event.transparency == Transparency.FREE,
        },
        "etag": detail.etag,
        "recurring": detail.recurring,
        "webLink": _web_link(detail.web_link),
        "webLabel": gettext(WEB_LABELS.get(calendar.connection.kind, OWN_PAGE)),
        "organizer": detail.organizer,
        "canReply": detail.can_reply and bool(actions and actions.replies),
        "replyNote": actions.reply_note if actions else "",
        "editable": opened.editable,
        "scopes": [scope.value for scope in EditScope if actions and scope in actions.scopes],
        "keeper": (
            {"kind": opened.keeper.kind, "url": opened.keeper.url, "label": opened.keeper.label}
            if opened.keeper
            else None
        ),
    }
