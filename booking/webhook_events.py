"""Bookings told to the owner's webhooks (``webhooks.services.event_record``), in the
transaction of the change: a booking that is rolled back is never told of."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from booking.models import Booking
from webhooks.events import BookingEvent, BookingFacts
from webhooks.models import EventType
from webhooks.services import event_record


def booking_facts(booking: Booking) -> BookingFacts:
    """The booking's fields webhooks carry: what Multical stores for it, the location's kind
    only, and the page's slug without an unlisted page's secret (or, for a member's booking of a
    team page, the team page's)."""
    page = booking.page
    team_page = booking.team_page
    return BookingFacts(
        id=booking.id,
        page_id=page.id if page is not None else None,
        page_slug=page.slug if page is not None else None,
        title=booking.title,
        start=booking.start,
        end=booking.end,
        status=booking.status,
        attendee_name=booking.attendee_name,
        attendee_email=booking.attendee_email,
        attendee_time_zone=booking.attendee_time_zone,
        answers=tuple(
            (str(answer.get("question", "")), str(answer.get("answer", "")))
            for answer in booking.answers
        ),
        location=booking.location,
        created_at=booking.created_at,
        cancelled_at=booking.cancelled_at,
        cancelled_by=booking.cancelled_by,
        cancel_reason=booking.cancel_reason,
        team_page_id=team_page.id if team_page is not None else None,
        team_page_slug=team_page.slug if team_page is not None else None,
    )


def booking_event_emit(
    booking: Booking, event_type: EventType, *, previous: tuple[datetime, datetime] | None = None
) -> None:
    """Record ``event_type`` for the owner's subscriptions that want it; call it in the
    transaction that made the change."""
    event_record(
        user_id=booking.owner_id,
        event=BookingEvent(
            type=event_type,
            booking=booking_facts(booking),
            occurred_at=timezone.now(),
            previous_start=previous[0] if previous else None,
            previous_end=previous[1] if previous else None,
        ),
    )
