"""Celery tasks for sync. They take ids only, and each calls the engine or the sync state.

What a sync must do is a row, not a message: a trigger counts a request in the calendar's
``SyncState`` (``syncrules.state``) and then sends a wake-up call, coalesced in the cache so a
burst of notifications costs one message. One sync of a calendar runs at a time, under a lock that
dies with its holder (``multical.lib.locks``: a PostgreSQL advisory lock on the worker's own
connection), so a killed worker never leaves its calendar locked. A sync that finds the lock held
returns at once: the holder, once it has released the lock, looks at the row again and queues one
more sync if requests came in meanwhile, so no change waits for the next poll. Whatever is still
unserved after a crash or a lost message, the sweeper (``resume_syncs``, every 30 s) queues again.
"""

from __future__ import annotations

import logging
from uuid import UUID

from celery import Task, shared_task
from django.core.cache import cache
from django.db import transaction

from calendars.busy import forget_busy
from calendars.models import Calendar
from integrations.base import ProviderError
from multical.lib import locks
from multical.lib.retry import RETRY_LIMIT, backoff_seconds
from syncrules import engine, reconcile, state
from syncrules.notifications import mass_deletion_notify

logger = logging.getLogger(__name__)

# How long a wake-up call counts as queued: a lost one is replaced by the sweeper after this.
QUEUED_SECONDS = 5 * 60


def _queued_key(calendar_id: str) -> str:
    return f"sync:queued:{calendar_id}"


def enqueue_calendar_sync(calendar_id: UUID | str, *, full: bool = False) -> None:
    """Ask for a sync of one calendar (a full read when ``full``): counted now, in the current
    transaction, and a worker woken once it commits (coalesced).

    Whatever asks for a sync has reason to think the calendar changed: busy time that booking
    pages keep for it is forgotten at once.
    """
    calendar_id = str(calendar_id)
    forget_busy([calendar_id])
    state.sync_request(calendar_id=calendar_id, full=full)
    transaction.on_commit(lambda: _wake(calendar_id))


def _wake(calendar_id: str, *, countdown: float = 0) -> None:
    """Send a sync task unless one is believed queued already."""
    if cache.add(_queued_key(calendar_id), True, timeout=QUEUED_SECONDS + countdown):
        if countdown:
            sync_calendar.apply_async((calendar_id,), countdown=countdown)
        else:
            sync_calendar.apply_async((calendar_id,))


def enqueue_connection_resync(connection_id: str) -> None:
    """Full syncs of what reads from or writes into the connection's calendars."""
    for calendar_id in engine.calendar_ids_touching_connection(str(connection_id)):
        enqueue_calendar_sync(calendar_id, full=True)


def enqueue_stale_block_removal() -> None:
    transaction.on_commit(remove_stale_blocks.delay)


@shared_task(bind=True, acks_late=True, max_retries=None)
def sync_calendar(self: Task, calendar_id: str) -> None:
    cache.delete(_queued_key(calendar_id))
    with locks.try_lock(state.sync_lock_name(calendar_id)) as held:
        if not held:
            return  # another worker is syncing it, and looks at the requests again at its end
        retry_in = _sync_as_requested(calendar_id)
    if retry_in is not None:
        raise self.retry(countdown=retry_in)
    wait = state.wait_before_next(calendar_id=calendar_id)
    if wait is not None:
        _wake(calendar_id, countdown=wait)


def _sync_as_requested(calendar_id: str) -> float | None:
    """Serve what is asked of the calendar's sync; the seconds to wait before retrying a
    transient failure, or None."""
    claim = state.sync_claim(calendar_id=calendar_id)
    if claim is None:
        return None
    calendar = Calendar.objects.select_related("connection__user").filter(id=calendar_id).first()
    if calendar is None:
        return None
    try:
        report = engine.sync_source_calendar(
            calendar, full=claim.full, confirm_deletions=claim.confirm_deletions
        )
    except ProviderError as error:
        if error.permanent:
            # The engine marked the connection; retrying cannot help, reconnecting will.
            state.sync_served(calendar_id=calendar_id, claim=claim, report=engine.SyncReport())
            return None
        return state.sync_failed(calendar_id=calendar_id, retry_after=error.retry_after)
    except Exception:
        # A fault of ours (or the database's): backed off like a provider's, and reported.
        state.sync_failed(calendar_id=calendar_id, retry_after=None)
        raise
    state.sync_served(calendar_id=calendar_id, claim=claim, report=report)
    if report.deletions_confirmed:
        mass_deletion_notify(calendar=calendar, removed=report.deletions_confirmed)
    return None


@shared_task
def resume_syncs() -> None:
    """Periodic: queue again every calendar whose requests wait unserved with no sync running
    (a worker killed mid-sync, a lost message, a retry whose time has come)."""
    calendar_ids = state.calendars_to_resume()
    running = locks.held(state.sync_lock_name(calendar_id) for calendar_id in calendar_ids)
    for calendar_id in calendar_ids:
        if state.sync_lock_name(calendar_id) not in running:
            _wake(calendar_id)


@shared_task(acks_late=True)
def remove_stale_blocks() -> None:
    engine.remove_stale_blocks()


@shared_task
def finish_clean_ups() -> None:
    """Periodic: remove the blocks no rule copies any more, and finish the disconnections and
    removals whose task was lost (each is a row's state, so nothing is forgotten; one whose task
    is still retrying is left to it)."""
    remove_stale_blocks.delay()
    for connection_id in engine.unfinished_release_ids():
        release_connection.delay(connection_id)


@shared_task
def poll_calendars() -> None:
    """Queue a sync of every polled calendar that feeds an enabled rule (coalesced, so cheap)."""
    for calendar_id in engine.polled_source_calendar_ids():
        enqueue_calendar_sync(calendar_id)


@shared_task
def reconcile_all() -> None:
    """Daily: re-read every source in full (heals missed changes, rolls the window forward), and
    every target, to mend the blocks someone deleted or moved there."""
    for calendar_id in engine.source_calendar_ids():
        enqueue_calendar_sync(calendar_id, full=True)
    for calendar_id in reconcile.reconciled_target_ids():
        reconcile_target.delay(calendar_id)
    enqueue_stale_block_removal()


@shared_task(bind=True, acks_late=True, max_retries=RETRY_LIMIT)
def reconcile_target(self: Task, calendar_id: str) -> None:
    calendar = Calendar.objects.select_related("connection__user").filter(id=calendar_id).first()
    if calendar is None:
        return
    try:
        sources = reconcile.reconcile_target(calendar)
    except ProviderError as error:
        if error.permanent:
            return  # the connection needs its user; the next night tries again
        raise self.retry(
            countdown=backoff_seconds(self.request.retries, error.retry_after)
        ) from None
    for source_id in sources:
        enqueue_calendar_sync(source_id, full=True)


@shared_task(bind=True, acks_late=True, max_retries=RETRY_LIMIT)
def release_connection(self: Task, connection_id: str) -> None:
    """Finish a disconnect or removal; blocks a provider will not take now are tried again with
    backoff, and the last try forgets what is left."""
    left = engine.release_connection(connection_id, last_try=self.request.retries >= RETRY_LIMIT)
    if left is not None:
        raise self.retry(countdown=backoff_seconds(self.request.retries, left.retry_after))
