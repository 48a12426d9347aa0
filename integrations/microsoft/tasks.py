"""Celery tasks for Graph subscriptions. They take calendar ids and call one service each."""

from __future__ import annotations

from collections.abc import Callable

from celery import Task, shared_task
from django.db import transaction

from calendars.models import Calendar
from calendars.services import connection_record_error
from integrations.base import ProviderError
from integrations.microsoft import services
from syncrules.tasks import RETRY_LIMIT, backoff_seconds


def enqueue_subscription_renewal(calendar_id: str) -> None:
    calendar_id = str(calendar_id)
    transaction.on_commit(lambda: renew_subscription.delay(calendar_id))


def enqueue_subscription_recreation(calendar_id: str) -> None:
    calendar_id = str(calendar_id)
    transaction.on_commit(lambda: recreate_subscription.delay(calendar_id))


@shared_task(bind=True, acks_late=True, max_retries=RETRY_LIMIT)
def renew_subscription(self: Task, calendar_id: str) -> None:
    _run(self, calendar_id, services.subscription_renew)


@shared_task(bind=True, acks_late=True, max_retries=RETRY_LIMIT)
def recreate_subscription(self: Task, calendar_id: str) -> None:
    _run(self, calendar_id, services.subscription_create)


@shared_task
def renew_expiring_subscriptions() -> None:
    """Periodic: renew every subscription with less than a day left."""
    for calendar_id in services.subscriptions_due_for_renewal().values_list("id", flat=True):
        enqueue_subscription_renewal(str(calendar_id))


def _run(task: Task, calendar_id: str, service: Callable[..., None]) -> None:
    calendar = Calendar.objects.select_related("connection").filter(id=calendar_id).first()
    if calendar is None or calendar.connection.status not in services.USABLE:
        return
    try:
        service(calendar=calendar)
    except ProviderError as error:
        if error.permanent:
            connection_record_error(connection=calendar.connection, error=error)
            return
        raise task.retry(
            countdown=backoff_seconds(task.request.retries, error.retry_after)
        ) from None
