"""Celery tasks of organizations: billing and domains. They take row ids only."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from accounts.billing.stripe_api import StripeUnavailable
from multical.lib.retry import RETRY_LIMIT, backoff_seconds
from orgs import billing, domains

# Pushes one task makes before leaving the rest to the beat: members joining all the while.
_PUSHES_PER_TASK = 3


@shared_task(bind=True, acks_late=True, max_retries=RETRY_LIMIT)
def push_seats(self, row_id: int) -> None:
    """Bring Stripe's quantity to the organization's seats wanted; looks again after each push,
    since members may have changed while it ran. Running twice pushes the same number twice."""
    try:
        for _push in range(_PUSHES_PER_TASK):
            if not billing.seats_push(row_id=row_id):
                return
    except StripeUnavailable:
        raise self.retry(countdown=backoff_seconds(self.request.retries, None)) from None


@shared_task
def push_pending_seats() -> None:
    """Queue a push for every subscription whose seats Stripe does not bill as wanted (a lost
    message, Stripe down), and cancel those of deleted organizations. Two beats at once only queue
    the same pushes twice: each push takes the row's lock or leaves it to the one holding it."""
    for row_id in billing.seats_pending():
        push_seats.delay(row_id)
    try:
        billing.orphans_cancel()
    except StripeUnavailable:
        return


@shared_task
def recheck_waiting_domains() -> None:
    """Read again the records of domains still waiting for theirs, so an admin who published the
    record need not come back to press Check now. Two beats at once read each domain once: a
    check claims it by a conditional update first."""
    for domain_id in domains.domains_waiting(now=timezone.now()):
        domains.domain_recheck(domain_id)
