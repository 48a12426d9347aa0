"""The events webhooks tell of, as the apps that cause them describe them, and their payloads.

The apps above this one (booking, sync rules, calendars) build one of these frozen dataclasses and
hand it to ``webhooks.services.event_record`` in the transaction of their change. None carries
event content from a calendar: a booking's fields are what the product stores for bookings made
through its pages; the rest are ids, providers, counts, states and times. docs/WEBHOOKS.md shows
each payload.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol
from uuid import UUID

from webhooks.models import EventType

# Sent as the value of "reason" in rule.paused: the end of a Pro plan left more rules on than
# the Free plan keeps.
RULE_PAUSED_BY_PLAN = "plan_limit"


def rfc3339(moment: datetime | None) -> str | None:
    """``moment`` in UTC, written as RFC 3339 with its zone (``2026-12-10T14:00:00Z``)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Event(Protocol):
    """What ``event_record`` takes: a type, when it happened, and the payload's ``data``."""

    @property
    def type(self) -> EventType: ...

    @property
    def occurred_at(self) -> datetime: ...

    def data(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class BookingFacts:
    """A booking as webhooks show it: the fields Multical stores for it, and no others.

    ``page_slug`` is the page's own slug, never the secret part of an unlisted page's address;
    ``team_page_id`` and ``team_page_slug`` name the team page of a team booking (a member's own
    booking of it, whose ``page_id`` is None);
    ``location`` is the kind of place (``zoom``, ``phone``, ``in_person``, ``link``, ``none``),
    not its details.
    """

    id: UUID
    page_id: UUID | None
    page_slug: str | None
    title: str
    start: datetime
    end: datetime
    status: str
    attendee_name: str
    attendee_email: str
    attendee_time_zone: str
    answers: Sequence[tuple[str, str]]
    location: str
    created_at: datetime
    cancelled_at: datetime | None = None
    cancelled_by: str = ""
    cancel_reason: str = ""
    team_page_id: UUID | None = None
    team_page_slug: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "status": self.status,
            "title": self.title,
            "start": rfc3339(self.start),
            "end": rfc3339(self.end),
            "duration_minutes": int((self.end - self.start).total_seconds() // 60),
            "page": (
                {"id": str(self.page_id), "slug": self.page_slug}
                if self.page_id is not None
                else None
            ),
            "team_page": (
                {"id": str(self.team_page_id), "slug": self.team_page_slug}
                if self.team_page_id is not None
                else None
            ),
            "attendee": {
                "name": self.attendee_name,
                "email": self.attendee_email,
                "time_zone": self.attendee_time_zone,
            },
            "answers": [
                {"question": question, "answer": answer} for question, answer in self.answers
            ],
            "location": self.location,
            "created_at": rfc3339(self.created_at),
            "cancelled_at": rfc3339(self.cancelled_at),
            "cancelled_by": self.cancelled_by or None,
            "cancel_reason": self.cancel_reason,
        }


@dataclass(frozen=True, slots=True)
class BookingEvent:
    """``booking.created``, ``booking.rescheduled`` (with the times it had before) or
    ``booking.cancelled``."""

    type: EventType
    booking: BookingFacts
    occurred_at: datetime
    previous_start: datetime | None = None
    previous_end: datetime | None = None

    TYPES: ClassVar[frozenset[EventType]] = frozenset(
        {EventType.BOOKING_CREATED, EventType.BOOKING_RESCHEDULED, EventType.BOOKING_CANCELLED}
    )

    def __post_init__(self) -> None:
        if self.type not in self.TYPES:
            raise ValueError(f"{self.type} is not a booking event.")

    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"booking": self.booking.as_dict()}
        if self.type == EventType.BOOKING_RESCHEDULED:
            data["previous"] = {
                "start": rfc3339(self.previous_start),
                "end": rfc3339(self.previous_end),
            }
        return data


@dataclass(frozen=True, slots=True)
class ConnectionNeedsReconnect:
    """A calendar account's credentials were refused: its owner must connect it again."""

    connection_id: UUID
    provider: str
    occurred_at: datetime

    @property
    def type(self) -> EventType:
        return EventType.CONNECTION_NEEDS_RECONNECT

    def data(self) -> dict[str, Any]:
        return {
            "connection": {
                "id": str(self.connection_id),
                "provider": self.provider,
                "status": "needs_reconnect",
            }
        }


@dataclass(frozen=True, slots=True)
class DeletionsHeld:
    """The mass-deletion guard held back removing ``blocks`` blocks whose source events vanished
    from a calendar at once, until a full read no sooner than ``confirm_after`` confirms it."""

    calendar_id: UUID
    connection_id: UUID
    provider: str
    blocks: int
    occurred_at: datetime
    confirm_after: datetime

    @property
    def type(self) -> EventType:
        return EventType.SYNC_DELETIONS_HELD

    def data(self) -> dict[str, Any]:
        return {
            "calendar": {
                "id": str(self.calendar_id),
                "connection_id": str(self.connection_id),
                "provider": self.provider,
            },
            "deletions_held": self.blocks,
            "held_at": rfc3339(self.occurred_at),
            "confirm_after": rfc3339(self.confirm_after),
        }


@dataclass(frozen=True, slots=True)
class RulePaused:
    """A sync rule was switched off by Multical (not by its owner); ``reason`` says why."""

    rule_id: UUID
    reason: str
    occurred_at: datetime

    @property
    def type(self) -> EventType:
        return EventType.RULE_PAUSED

    def data(self) -> dict[str, Any]:
        return {
            "rule": {"id": str(self.rule_id), "enabled": False},
            "reason": self.reason,
            "paused_at": rfc3339(self.occurred_at),
        }


@dataclass(frozen=True, slots=True)
class PingEvent:
    """What "Send a test event" sends: the subscription's id, nothing else."""

    subscription_id: UUID
    occurred_at: datetime

    @property
    def type(self) -> EventType:
        return EventType.TEST

    def data(self) -> dict[str, Any]:
        return {"subscription": {"id": str(self.subscription_id)}, "test": True}
