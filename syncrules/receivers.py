"""The sync engine's answers to what the calendars app publishes (``calendars.signals``)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import receiver

from calendars.signals import calendar_changed, connection_released, connection_restored
from syncrules import tasks


@receiver(calendar_changed)
def sync_changed_calendar(sender: Any, *, calendar_id: str, full: bool = False, **_: Any) -> None:
    tasks.enqueue_calendar_sync(calendar_id, full=full)


@receiver(connection_restored)
def resync_restored_connection(sender: Any, *, connection_id: str, **_: Any) -> None:
    tasks.enqueue_connection_resync(connection_id)


@receiver(connection_released)
def release_connection(sender: Any, *, connection_id: str, **_: Any) -> None:
    transaction.on_commit(lambda: tasks.release_connection.delay(connection_id))
