"""Celery tasks for accounts. They take ids only."""

from __future__ import annotations

from celery import shared_task

from accounts import deletion
from syncrules.tasks import backoff_seconds

# With backoff, about two hours of retries before the account is deleted whatever is left.
RETRY_LIMIT = 8


@shared_task(bind=True, acks_late=True, max_retries=RETRY_LIMIT)
def delete_account(self, user_id: str) -> None:  # type: ignore[no-untyped-def]
    """Finish a requested account deletion; provider outages and cancellations still being sent
    are waited out with backoff, and the last try deletes the account regardless."""
    try:
        deletion.account_delete(user_id=user_id, last_try=self.request.retries >= RETRY_LIMIT)
    except deletion.DeletionIncomplete as incomplete:
        raise self.retry(
            countdown=backoff_seconds(self.request.retries, incomplete.retry_after)
        ) from None
