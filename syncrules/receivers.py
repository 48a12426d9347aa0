"""The sync engine's answers to what the calendars app publishes (``calendars.signals``) and to
policy changes of organizations (``orgs.policies.policy_changed``)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import receiver

from calendars.signals import calendar_changed, connection_released, connection_restored
from orgs.policies import policy_changed
from syncrules import engine, tasks


@receiver(calendar_changed)
def sync_changed_calendar(sender: Any, *, calendar_id: str, full: bool = False, **_: Any) -> None:
    tasks.enqueue_calendar_sync(calendar_id, full=full)


@receiver(connection_restored)
def resync_restored_connection(sender: Any, *, connection_id: str, **_: Any) -> None:
    tasks.enqueue_connection_resync(connection_id)


@receiver(connection_released)
def release_connection(sender: Any, *, connection_id: str, **_: Any) -> None:
    transaction.on_commit(lambda: tasks.release_connection.delay(connection_id))


@receiver(policy_changed)
def rerender_under_policy(
    sender: Any, *, organization_id: str, domains: tuple[str, ...] = (), **_: Any
) -> None:
    """Every block out of the organization's accounts is rendered again under its policy: a full
    read of each of their source calendars, asked for durably in the changing transaction (the
    same request a rule change makes)."""
    for calendar_id in engine.organization_source_calendar_ids(organization_id, also=domains):
        tasks.enqueue_calendar_sync(calendar_id, full=True)
