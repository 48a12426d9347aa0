"""Celery tasks for bookings. They take the booking's id only: never a token or any content."""

from __future__ import annotations

from uuid import UUID

from celery import Task, shared_task
from django.db import transaction

from booking.services.follow_up import booking_follow_up
from integrations.base import ProviderError
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
        raise self.retry(
            countdown=backoff_seconds(self.request.retries, error.retry_after)
        ) from None
    except OSError:  # the mail server or the network (smtplib's errors are OSErrors)
        raise self.retry(countdown=backoff_seconds(self.request.retries, None)) from None
