from __future__ import annotations

from celery import shared_task

from calendars import push


@shared_task
def renew_push_channels() -> None:
    push.renew_push_channels()
