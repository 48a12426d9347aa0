"""Celery tasks for sync. They take ids only, and each calls one engine function.

Triggers for one calendar coalesce: a sync is queued only when none is waiting already, so a burst
of notifications costs one sync. One sync of a calendar runs at a time (a lock in the shared
cache); a trigger that finds it running has that sync go once more when it ends, so no change
waits for the next poll.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from celery import shared_task
from django.core.cache import cache
from django.db import transaction

from calendars.busy import forget_busy
from calendars.models import Calendar
from integrations.base import ProviderError
from syncrules import engine

logger = logging.getLogger(__name__)

# Longer than the slowest sync, so a lock held by a worker that died frees itself.
LOCK_SECONDS = 15 * 60
RETRY_LIMIT = 8


def _queued_key(calendar_id: str) -> str:
    return f"sync:queued:{calendar_id}"


def _full_key(calendar_id: str) -> str:
    return f"sync:full:{calendar_id}"


def enqueue_calendar_sync(calendar_id: str, *, full: bool = False) -> None:
    """Ask for a sync of one calendar once the current transaction commits (coalesced).

    Whatever asks for a sync has reason to think the calendar changed: busy time that booking
    pages keep for it is forgotten at once.
    """
    calendar_id = str(calendar_id)
    forget_busy([calendar_id])

    def enqueue() -> None:
        if full:
            cache.set(_full_key(calendar_id), True, timeout=LOCK_SECONDS)
        if cache.add(_queued_key(calendar_id), True, timeout=LOCK_SECONDS):
            sync_calendar.delay(calendar_id)

    transaction.on_commit(enqueue)


def enqueue_connection_resync(connection_id: str) -> None:
    """Full syncs of what reads from or writes into the connection's calendars."""
    for calendar_id in engine.calendar_ids_touching_connection(str(connection_id)):
        enqueue_calendar_sync(calendar_id, full=True)


def enqueue_stale_block_removal() -> None:
    transaction.on_commit(remove_stale_blocks.delay)


def backoff_seconds(attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, never sooner than the provider asked."""
    ceiling = min(30 * 2**attempt, 3600)
    return max(retry_after or 0, random.uniform(ceiling / 2, ceiling))  # noqa: S311 - jitter, not crypto


def _again_key(calendar_id: str) -> str:
    return f"sync:again:{calendar_id}"


@contextmanager
def _calendar_lock(calendar_id: str) -> Iterator[bool]:
    """Hold the calendar's sync lock, or say it is held.

    A trigger that finds the lock held leaves a mark and tries the lock once more; the holder,
    after releasing it, queues one more sync if it finds the mark. Whichever of the two steps
    comes second sees the other's, so a change notified during a sync is never left waiting.
    """
    key, token = f"sync:lock:{calendar_id}", uuid.uuid4().hex
    acquired = cache.add(key, token, timeout=LOCK_SECONDS)
    if not acquired:
        cache.set(_again_key(calendar_id), True, timeout=LOCK_SECONDS)
        acquired = cache.add(key, token, timeout=LOCK_SECONDS)
        if acquired:
            cache.delete(_again_key(calendar_id))
    try:
        yield acquired
    finally:
        if acquired:
            if cache.get(key) == token:
                cache.delete(key)
            if cache.get(_again_key(calendar_id)):
                cache.delete(_again_key(calendar_id))
                if cache.add(_queued_key(calendar_id), True, timeout=LOCK_SECONDS):
                    sync_calendar.delay(calendar_id)


@shared_task(bind=True, acks_late=True, max_retries=RETRY_LIMIT)
def sync_calendar(self, calendar_id: str) -> None:  # type: ignore[no-untyped-def]
    cache.delete(_queued_key(calendar_id))
    with _calendar_lock(calendar_id) as acquired:
        if not acquired:
            return  # another worker is syncing it, and will sync it again for this trigger
        full = bool(cache.get(_full_key(calendar_id)))
        cache.delete(_full_key(calendar_id))
        calendar = Calendar.objects.select_related("connection").filter(id=calendar_id).first()
        if calendar is None:
            return
        try:
            engine.sync_source_calendar(calendar, full=full)
        except ProviderError as error:
            if error.permanent:
                return  # the engine marked the connection; retrying cannot help
            if full:
                cache.set(_full_key(calendar_id), True, timeout=LOCK_SECONDS)
            raise self.retry(
                countdown=backoff_seconds(self.request.retries, error.retry_after)
            ) from None


@shared_task(acks_late=True)
def remove_stale_blocks() -> None:
    engine.remove_stale_blocks()


@shared_task
def poll_calendars() -> None:
    """Queue a sync of every polled calendar that feeds an enabled rule (coalesced, so cheap)."""
    for calendar_id in engine.polled_source_calendar_ids():
        enqueue_calendar_sync(calendar_id)


@shared_task
def reconcile_all() -> None:
    """Daily: re-read every source in full (heals missed changes, rolls the window forward)."""
    for calendar_id in engine.source_calendar_ids():
        enqueue_calendar_sync(calendar_id, full=True)
    enqueue_stale_block_removal()


@shared_task(acks_late=True)
def release_connection(connection_id: str) -> None:
    engine.release_connection(connection_id)
