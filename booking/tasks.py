"""Celery tasks for bookings. They take the booking's id only: never a token or any content."""

from __future__ import annotations

from uuid import UUID

from celery import Task, shared_task
from django.db import transaction
from django.utils import timezone

from booking.models import Booking
from booking.services.follow_up import booking_follow_up, follow_up_waits, follow_ups_unfinished
from integrations.base import ProviderError
from multical import metrics
from multical.lib.retry import RETRY_LIMIT, backoff_seconds


def enqueue_follow_up(booking_id: UUID | str) -> None:
    """Have the booking's meeting, event and e-mails follow it once the current transaction
    commits (a rolled-back change sends nothing)."""
    booking_id = str(booking_id)
    transaction.on_commit(lambda: follow_booking.delay(booking_id))


@shared_task(bind=True, acks_late=True, max_retries=RETRY_LIMIT)
def follow_booking(self: Task, booking_id: str) -> None:
    """Run the follow-up; transient failures (a provider, the mail server) are retried with
    backoff, and the last try sends the e-mails even if Zoom is still failing."""
    try:
        booking_follow_up(booking_id=booking_id, last_try=self.request.retries >= RETRY_LIMIT)
    except ProviderError as error:
        if error.permanent:
            raise
        raise _retry(
            self, booking_id, backoff_seconds(self.request.retries, error.retry_after)
        ) from None
    except OSError:  # the mail server or the network (smtplib's errors are OSErrors)
        raise _retry(self, booking_id, backoff_seconds(self.request.retries, None)) from None
    _count_follow_up_lag(booking_id)


def _retry(task: Task, booking_id: str, countdown: float) -> Exception:
    """The task's retry in ``countdown`` seconds, noted for the sweeper (``resume_follow_ups``)."""
    follow_up_waits(booking_id, seconds=countdown)
    return task.retry(countdown=countdown)


@shared_task
def resume_follow_ups() -> None:
    """Queue again the follow-ups a dead worker or a lost message left unfinished (the beat's
    ``resume-follow-ups``). Two beats queue one twice at most, and the second run finds nothing to
    do or the first one running."""
    for booking_id in follow_ups_unfinished(now=timezone.now()):
        follow_booking.delay(booking_id)


def _count_follow_up_lag(booking_id: str) -> None:
    """Measure from the booking's latest change to now: its ``updated_at`` marks the change a
    person made (the follow-up saves only its own fields, never that one)."""
    changed_at = Booking.objects.filter(id=booking_id).values_list("updated_at", flat=True).first()
    if changed_at is not None:
        metrics.follow_up_done(lag_seconds=(timezone.now() - changed_at).total_seconds())
