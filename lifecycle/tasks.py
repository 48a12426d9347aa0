"""Celery tasks of an account's life as a whole. They take ids only."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from accounts.models import User
from lifecycle import deletion
from multical.lib.retry import RETRY_LIMIT, backoff_seconds

# With backoff, about two hours of retries before the account is deleted whatever is left.


@shared_task(bind=True, acks_late=True, max_retries=RETRY_LIMIT)
def delete_account(self, user_id: str) -> None:
    """Finish a requested account deletion; provider outages and cancellations still being sent
    are waited out with backoff, and the last try deletes the account regardless."""
    try:
        deletion.account_delete(user_id=user_id, last_try=self.request.retries >= RETRY_LIMIT)
    except deletion.DeletionIncomplete as incomplete:
        raise self.retry(
            countdown=backoff_seconds(self.request.retries, incomplete.retry_after)
        ) from None


# Longer than a deletion's whole run of retries: one still marked after this lost its task.
STALLED_DELETION = timedelta(hours=3)


@shared_task
def resume_stalled_deletions() -> None:
    """Queue again every deletion asked for long ago whose task was lost (a broker restart): the
    account stays closed meanwhile, and a second run of a deletion is harmless."""
    cutoff = timezone.now() - STALLED_DELETION
    for user_id in User.objects.filter(deletion_requested_at__lt=cutoff).values_list(
        "id", flat=True
    ):
        delete_account.delay(str(user_id))
