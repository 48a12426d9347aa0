"""Bookings made, moved, cancelled and deleted.

Every write re-checks the time live (busy time read afresh from the providers, then the database
under a lock on the owner), and PostgreSQL's exclusion constraint settles whatever race is left:
two confirmed bookings of one owner can never overlap. The calendar event, the Zoom meeting and
the e-mails follow in a task (``booking.services.follow_up``) once the change is committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from accounts.models import User
from booking.availability import (
    PageSlots,
    availability_of,
    forget_bookings,
    open_refusal,
    page_slots,
)
from booking.models import Booking, BookingPage
from booking.slots import Refusal, start_refusal
from booking.tasks import enqueue_follow_up
from booking.webhook_events import booking_event_emit
from integrations.base import Window
from webhooks.models import EventType

# The constraint names that tell a lost race from a repeated submission.
_OVERLAP = "booking_no_overlap"
_SAME_SUBMISSION = "booking_owner_submission_key"


def _worded(message: str | Promise, values: dict[str, object]) -> str:
    return str(message % values)


# Refusals are worded when they are read (``str(error)``), not when they are raised: in the
# language active where they are shown, the attendee's on the public pages, the owner's on theirs.
_lazy_worded = lazy(_worded, str)
# Why a time is not offered, by reason (see ``_refusal_message`` for the two that take numbers).
_REFUSALS = {
    Refusal.HOURS: _("This time is outside the hours this page offers."),
    Refusal.GRID: _("This is not one of the start times this page offers."),
    Refusal.FULL: _("That day is fully booked."),
    Refusal.TAKEN: _("This time was just taken."),
}
_PASSED = _("This time has passed.")
_TOO_SOON = _("This time is too soon: bookings are taken at least %(notice)s ahead.")
_TOO_FAR = ngettext_lazy(
    "This time is too far ahead: bookings open %(days)s day in advance.",
    "This time is too far ahead: bookings open %(days)s days in advance.",
    "days",
)
_DAYS = ngettext_lazy("%(count)s day", "%(count)s days", "count")
_HOURS = ngettext_lazy("%(count)s hour", "%(count)s hours", "count")
_MINUTES = ngettext_lazy("%(count)s minute", "%(count)s minutes", "count")
_CALENDAR_UNREADABLE = _("We could not check the calendar just now. Please try again shortly.")
_NOT_TAKING_BOOKINGS = _("This page is not taking bookings.")
_CANCELLED_CANNOT_MOVE = _("A cancelled booking cannot be moved.")
_PAGE_DELETED = _("The booking page of this booking was deleted.")


class SlotUnavailable(Exception):
    """The page does not offer the time (any more): ``reason`` says why, the message in words."""

    def __init__(self, reason: Refusal, message: str | Promise) -> None:
        super().__init__(message)
        self.reason = reason


class LengthNotOffered(Exception):
    """The page does not offer meetings of the length asked for (any more)."""


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
    attendee_clock: int = Booking.Clock.TWENTY_FOUR,
    attendee_language: str = "en",
) -> Booking:
    """Book ``start`` for ``duration`` minutes, or raise. The same ``submission_key`` (a
    double-click, a retried request) returns the booking already made, whenever it arrives:
    before, while or after the first one is stored."""
    earlier = _by_submission(page.owner_id, submission_key)
    if earlier is not None:
        return earlier
    if not page.active:
        raise BookingClosed(_NOT_TAKING_BOOKINGS)
    if duration not in page.durations:
        raise LengthNotOffered(
            _lazy_worded(
                ngettext_lazy(
                    "Meetings of %(minutes)s minute are not offered.",
                    "Meetings of %(minutes)s minutes are not offered.",
                    "minutes",
                ),
                {"minutes": duration},
            )
        )
    try:
        offered = _check_live(page, start=start, duration=duration)
    except SlotUnavailable:
        # Its twin may have been stored while this one read the calendars: the time is theirs.
        earlier = _by_submission(page.owner_id, submission_key)
        if earlier is not None:
            return earlier
        raise
    booking = Booking(
        owner_id=page.owner_id,
        page=page,
        title=page.title,
        start=start,
        end=start + timedelta(minutes=duration),
        attendee_name=attendee_name,
        attendee_email=attendee_email,
        attendee_time_zone=attendee_time_zone,
        attendee_clock=attendee_clock,
        language=attendee_language,
        answers=list(answers),
        location=page.location,
        location_detail=page.location_detail,
        calendar=page.write_calendar,
        submission_key=submission_key,
    )
    try:
        with transaction.atomic():
            _lock_owner(page.owner_id)
            # A twin that got the lock first has committed by now.
            earlier = _by_submission(page.owner_id, submission_key)
            if earlier is not None:
                return earlier
            _check_stored(page, start=start, duration=duration, offered=offered)
            booking.save(force_insert=True)
            forget_bookings(booking.owner_id)
            enqueue_follow_up(booking.id)
            booking_event_emit(booking, EventType.BOOKING_CREATED)
    except IntegrityError as error:
        if _SAME_SUBMISSION in str(error):
            earlier = _by_submission(page.owner_id, submission_key)
            if earlier is not None:
                return earlier
        if _OVERLAP in str(error):
            raise _refused(Refusal.TAKEN, page) from error
        raise
    return booking


def booking_reschedule(
    *, booking: Booking, start: datetime, actor: str = Booking.Actor.OWNER
) -> Booking:
    """Move a confirmed booking to ``start``, keeping its length; the attendee's links stay valid."""
    if booking.is_cancelled:
        raise BookingClosed(_CANCELLED_CANNOT_MOVE)
    page = booking.page
    if page is None:
        raise BookingClosed(_PAGE_DELETED)
    duration = int((booking.end - booking.start).total_seconds() // 60)
    offered = _check_live(page, start=start, duration=duration, rescheduling=booking)
    try:
        with transaction.atomic():
            _lock_owner(page.owner_id)
            current = Booking.objects.select_for_update().get(id=booking.id)
            if current.is_cancelled:
                raise BookingClosed(_CANCELLED_CANNOT_MOVE)
            _check_stored(
                page, start=start, duration=duration, offered=offered, rescheduling=current
            )
            previous = (current.start, current.end)
            current.start, current.end = start, start + timedelta(minutes=duration)
            current.sequence += 1
            current.save(update_fields=["start", "end", "sequence", "updated_at"])
            forget_bookings(current.owner_id)
            enqueue_follow_up(current.id)
            booking_event_emit(current, EventType.BOOKING_RESCHEDULED, previous=previous)
    except IntegrityError as error:
        if _OVERLAP in str(error):
            raise _refused(Refusal.TAKEN, page) from error
        raise
    booking.refresh_from_db()
    return booking


@transaction.atomic
def booking_cancel(
    *, booking: Booking, actor: str = Booking.Actor.OWNER, reason: str = ""
) -> Booking:
    """Cancel; cancelling twice is harmless (the second time changes nothing).

    A seat of a collective team booking is not cancelled alone: the meeting was offered because
    every member could come, so a member who cannot cancels it for everyone, through the lead,
    and the attendee is told (and may book again). The lead is locked before its seats, in every
    path, so two cancellations of one meeting never wait for each other in a circle."""
    lead_id = Booking.objects.filter(id=booking.id).values_list("team_lead_id", flat=True).get()
    if lead_id is not None:
        booking_cancel(booking=Booking.objects.get(id=lead_id), actor=actor, reason=reason)
        booking.refresh_from_db()
        return booking
    current = Booking.objects.select_for_update().get(id=booking.id)
    if not current.is_cancelled:
        _cancel(current, actor=actor, reason=reason)
        # A collective team booking: the other members' seats go with the attendee's booking.
        for seat in Booking.objects.select_for_update().filter(
            team_lead=current, status=Booking.Status.CONFIRMED
        ):
            _cancel(seat, actor=actor, reason=reason)
    booking.refresh_from_db()
    return booking


def _cancel(current: Booking, *, actor: str, reason: str) -> None:
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
    booking_event_emit(current, EventType.BOOKING_CANCELLED)


def booking_delete(*, booking: Booking) -> None:
    """Forget a booking for good: only a cancelled one or one that is over (a coming meeting must
    be cancelled first, so the attendee hears of it)."""
    if not booking.is_cancelled and booking.end > timezone.now():
        raise BookingClosed(_("Cancel the booking before deleting it."))
    if _follow_up_pending(booking):
        # The follow-up needs the row to remove the event and meeting and tell the attendee.
        raise BookingClosed(_("The cancellation is still being sent out; try again in a minute."))
    booking.delete()


def _follow_up_pending(booking: Booking) -> bool:
    steps = [booking.notified_sequence]
    if booking.calendar_id:
        steps.append(booking.event_sequence)
    if booking.zoom_meeting_id:
        steps.append(booking.meeting_sequence)
    return any(step < booking.sequence for step in steps)


def _by_submission(owner_id: UUID, submission_key: str) -> Booking | None:
    return Booking.objects.filter(owner_id=owner_id, submission_key=submission_key).first()


def _check_live(
    page: BookingPage, *, start: datetime, duration: int, rescheduling: Booking | None = None
) -> PageSlots:
    """The time must still be offered when busy time is read afresh from every calendar; what was
    read is returned for the check under the lock. A time the page could not offer whatever the
    calendars say (notice, horizon, hours, grid) is refused before any calendar is read."""
    now = timezone.now()
    availability = availability_of(page)
    reason = start_refusal(availability, start=start, duration=timedelta(minutes=duration), now=now)
    if reason is not None:
        raise _refused(reason, page)
    offered = page_slots(
        page,
        now=now,
        window=_just(start),
        duration=duration,
        rescheduling=rescheduling,
        fresh=True,
    )
    if offered.unreadable:
        raise BusyUnknown(_CALENDAR_UNREADABLE)
    if start not in offered.slots:
        assert offered.span is not None  # a readable answer always has its span
        reason = open_refusal(
            page,
            availability,
            busy=offered.busy,
            span=offered.span,
            now=now,
            start=start,
            duration=duration,
            rescheduling=rescheduling,
        )
        # Free again a moment later (a booking cancelled meanwhile) is still a time just taken.
        raise _refused(reason or Refusal.TAKEN, page)
    return offered


def _check_stored(
    page: BookingPage,
    *,
    start: datetime,
    duration: int,
    offered: PageSlots,
    rescheduling: Booking | None = None,
) -> None:
    """Under the lock on the owner, the same computation again with the bookings stored by now
    (buffers and daily caps included, which the constraint alone would not catch)."""
    assert offered.span is not None  # a readable answer always has its span
    reason = open_refusal(
        page,
        availability_of(page),
        busy=offered.busy,
        span=offered.span,
        now=timezone.now(),
        start=start,
        duration=duration,
        rescheduling=rescheduling,
    )
    if reason is not None:
        raise _refused(reason, page)


def _lock_owner(owner_id: UUID) -> None:
    """Bookings of one owner are decided one at a time, until the transaction ends."""
    User.objects.select_for_update().only("id").get(id=owner_id)


def _refused(reason: Refusal, page: BookingPage) -> SlotUnavailable:
    return SlotUnavailable(reason, _refusal_message(reason, page))


def _refusal_message(reason: Refusal, page: BookingPage) -> str | Promise:
    """Why the page does not offer a time, in the reader's words (worded when shown)."""
    if reason == Refusal.NOTICE:
        if not page.minimum_notice:
            return _PASSED
        return _lazy_worded(_TOO_SOON, {"notice": _span_words(page.minimum_notice)})
    if reason == Refusal.HORIZON:
        return _lazy_worded(_TOO_FAR, {"days": page.horizon_days})
    return _REFUSALS.get(reason, _REFUSALS[Refusal.TAKEN])


def _span_words(minutes: int) -> str | Promise:
    """``minutes`` in the largest whole unit: "2 days", "4 hours", "90 minutes"."""
    if minutes % (24 * 60) == 0:
        return _lazy_worded(_DAYS, {"count": minutes // (24 * 60)})
    if minutes % 60 == 0:
        return _lazy_worded(_HOURS, {"count": minutes // 60})
    return _lazy_worded(_MINUTES, {"count": minutes})


def _just(start: datetime) -> Window:
    return Window(start, start + timedelta(seconds=1))
