"""Bookings made, moved, cancelled and deleted.

Every write re-checks the time live (busy time read afresh from the providers, then the database
under a lock on the owner), and PostgreSQL's exclusion constraint settles whatever race is left:
two confirmed bookings of one owner can never overlap. The calendar event, the Zoom meeting and
the e-mails follow in a task (``booking.follow_up``) once the change is committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from booking.availability import (
    PageSlots,
    availability_of,
    forget_bookings,
    open_starts,
    page_slots,
)
from booking.models import Booking, BookingPage
from booking.tasks import enqueue_follow_up
from integrations.base import Window

# The constraint names that tell a lost race from a repeated submission.
_OVERLAP = "booking_no_overlap"
_SAME_SUBMISSION = "booking_owner_submission_key"


class SlotUnavailable(Exception):
    """The time is no longer free (taken a moment ago, or outside the page's hours)."""


class BusyUnknown(Exception):
    """A calendar that decides whether the time is free could not be read: nothing is booked."""


class BookingClosed(Exception):
    """The booking was cancelled (it cannot be moved), or the page is gone or switched off."""


def booking_create(
    *,
    page: BookingPage,
    start: datetime,
    duration: int,
    attendee_name: str,
    attendee_email: str,
    attendee_time_zone: str,
    answers: Sequence[dict[str, str]],
    submission_key: str,
) -> Booking:
    """Book ``start`` for ``duration`` minutes, or raise. The same ``submission_key`` (a
    double-click, a retried request) returns the booking already made."""
    if not page.active:
        raise BookingClosed("This page is not taking bookings.")
    if duration not in page.durations:
        raise SlotUnavailable("That meeting length is not offered.")
    earlier = _by_submission(page.owner_id, submission_key)
    if earlier is not None:
        return earlier
    offered = _check_live(page, start=start, duration=duration)
    booking = Booking(
        owner_id=page.owner_id,
        page=page,
        title=page.title,
        start=start,
        end=start + timedelta(minutes=duration),
        attendee_name=attendee_name,
        attendee_email=attendee_email,
        attendee_time_zone=attendee_time_zone,
        answers=list(answers),
        location=page.location,
        location_detail=page.location_detail,
        calendar=page.write_calendar,
        submission_key=submission_key,
    )
    try:
        with transaction.atomic():
            _check_stored(page, start=start, duration=duration, offered=offered)
            booking.save(force_insert=True)
            forget_bookings(booking.owner_id)
            enqueue_follow_up(booking.id)
    except IntegrityError as error:
        if _SAME_SUBMISSION in str(error):
            earlier = _by_submission(page.owner_id, submission_key)
            if earlier is not None:
                return earlier
        if _OVERLAP in str(error):
            raise SlotUnavailable("This time was just taken.") from error
        raise
    return booking


def booking_reschedule(
    *, booking: Booking, start: datetime, actor: str = Booking.Actor.OWNER
) -> Booking:
    """Move a confirmed booking to ``start``, keeping its length; the attendee's links stay valid."""
    if booking.is_cancelled:
        raise BookingClosed("A cancelled booking cannot be moved.")
    page = booking.page
    if page is None:
        raise BookingClosed("The booking page of this booking was deleted.")
    duration = int((booking.end - booking.start).total_seconds() // 60)
    offered = _check_live(page, start=start, duration=duration, rescheduling=booking)
    try:
        with transaction.atomic():
            current = Booking.objects.select_for_update().get(id=booking.id)
            if current.is_cancelled:
                raise BookingClosed("A cancelled booking cannot be moved.")
            _check_stored(
                page, start=start, duration=duration, offered=offered, rescheduling=current
            )
            current.start, current.end = start, start + timedelta(minutes=duration)
            current.sequence += 1
            current.save(update_fields=["start", "end", "sequence", "updated_at"])
            forget_bookings(current.owner_id)
            enqueue_follow_up(current.id)
    except IntegrityError as error:
        if _OVERLAP in str(error):
            raise SlotUnavailable("This time was just taken.") from error
        raise
    booking.refresh_from_db()
    return booking


@transaction.atomic
def booking_cancel(
    *, booking: Booking, actor: str = Booking.Actor.OWNER, reason: str = ""
) -> Booking:
    """Cancel; cancelling twice is harmless (the second time changes nothing)."""
    current = Booking.objects.select_for_update().get(id=booking.id)
    if not current.is_cancelled:
        current.status = Booking.Status.CANCELLED
        current.cancelled_at = timezone.now()
        current.cancelled_by = actor
        current.cancel_reason = reason.strip()
        current.sequence += 1
        current.save(
            update_fields=[
                "status",
                "cancelled_at",
                "cancelled_by",
                "cancel_reason",
                "sequence",
                "updated_at",
            ]
        )
        forget_bookings(current.owner_id)
        enqueue_follow_up(current.id)
    booking.refresh_from_db()
    return booking


def booking_delete(*, booking: Booking) -> None:
    """Forget a booking for good: only a cancelled one or one that is over (a coming meeting must
    be cancelled first, so the attendee hears of it)."""
    if not booking.is_cancelled and booking.end > timezone.now():
        raise BookingClosed("Cancel the booking before deleting it.")
    if _follow_up_pending(booking):
        # The follow-up needs the row to remove the event and meeting and tell the attendee.
        raise BookingClosed("The cancellation is still being sent out; try again in a minute.")
    booking.delete()


def _follow_up_pending(booking: Booking) -> bool:
    steps = [booking.notified_sequence]
    if booking.calendar_id:
        steps.append(booking.event_sequence)
    if booking.zoom_meeting_id:
        steps.append(booking.meeting_sequence)
    return any(step < booking.sequence for step in steps)


def _by_submission(owner_id: object, submission_key: str) -> Booking | None:
    return Booking.objects.filter(owner_id=owner_id, submission_key=submission_key).first()


def _check_live(
    page: BookingPage, *, start: datetime, duration: int, rescheduling: Booking | None = None
) -> PageSlots:
    """The time must still be offered when busy time is read afresh from every calendar; what was
    read is returned for the check under the lock."""
    offered = page_slots(
        page,
        now=timezone.now(),
        window=_just(start),
        duration=duration,
        rescheduling=rescheduling,
        fresh=True,
    )
    if offered.unreadable:
        raise BusyUnknown("We could not check the calendar just now. Please try again shortly.")
    if start not in offered.slots:
        raise SlotUnavailable("This time was just taken.")
    return offered


def _check_stored(
    page: BookingPage,
    *,
    start: datetime,
    duration: int,
    offered: PageSlots,
    rescheduling: Booking | None = None,
) -> None:
    """Under a lock on the owner, the same computation again with the bookings stored by now
    (buffers and daily caps included, which the constraint alone would not catch): bookings of
    one owner are decided one at a time."""
    User.objects.select_for_update().only("id").get(id=page.owner_id)
    assert offered.span is not None  # a readable answer always has its span
    still_open = open_starts(
        page,
        availability_of(page),
        busy=offered.busy,
        span=offered.span,
        now=timezone.now(),
        window=_just(start),
        duration=duration,
        rescheduling=rescheduling,
    )
    if start not in still_open:
        raise SlotUnavailable("This time was just taken.")


def _just(start: datetime) -> Window:
    return Window(start, start + timedelta(seconds=1))
