"""Celery tasks of outgoing webhooks, on a queue of their own (``CELERY_WEBHOOKS_QUEUE``) so a
slow receiver never holds up syncs or e-mails. They take a delivery's id only, never a body."""

from __future__ import annotations

from celery import shared_task

from webhooks import services


@shared_task(acks_late=True)
def deliver_webhook(delivery_id: str) -> None:
    """Try the delivery if it is due and unclaimed; a failure schedules the next try itself
    (``services.delivery_attempt``), so running this twice sends at most once."""
    services.delivery_attempt(delivery_id=delivery_id)


@shared_task(acks_late=True)
def sweep_webhooks() -> None:
    """Queue deliveries whose message was lost, give up old ones, pause failing subscriptions."""
    services.deliveries_sweep()
