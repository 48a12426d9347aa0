from __future__ import annotations

from celery import shared_task

from multical import health


@shared_task
def record_heartbeat() -> None:
    health.record_heartbeat()
