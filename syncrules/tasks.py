"""Celery tasks for sync. They take ids only, and each calls the engine or the sync state.

What a sync must do is a row, not a message: a trigger counts a request in the calendar's
``SyncState`` (``syncrules.state``) and then sends a wake-up call, coalesced in the cache so a
burst of notifications costs one message. One sync of a calendar runs at a time, under a lock that
dies with its holder (``multical.lib.locks``: a PostgreSQL advisory lock on the worker's own
connection), so a killed worker never leaves its calendar locked. A sync that finds the lock held
returns at once: the holder, once it has released the lock, looks at the row again and queues one
more sync if requests came in meanwhile, so no change waits for the next poll. Whatever is still
unserved after a crash or a lost message, the sweeper (``resume_syncs``, every 30 s) queues again.

Wake-up calls go to a queue by urgency (see ``CELERY_TASK_DEFAULT_QUEUE`` in the settings): what a
notification or a person asked for to the default queue, the poller's rounds to the polling
queue, the nightly reconciliation to the bulk queue. Polled calendars' syncs are paced per server
(``syncrules.pacing``).
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from celery import Task, shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from kombu import Producer
from kombu.exceptions import ChannelError

from calendars.busy import forget_busy
from calendars.models import Calendar
from integrations.base import ProviderError
from multical import metrics
from multical.lib import locks
from multical.lib.retry import RETRY_LIMIT, backoff_seconds
from syncrules import engine, pacing, polling, reconcile, state
from syncrules.notifications import mass_deletion_notify

logger = logging.getLogger(__name__)

# How long a wake-up call counts as queued: a lost one is replaced by the sweeper after this.
QUEUED_SECONDS = 5 * 60


def queued_key(calendar_id: str, queue: str) -> str:
    return f"sync:queued:{queue}:{calendar_id}"


def enqueue_calendar_sync(
    calendar_id: UUID | str, *, full: bool = False, queue: str | None = None
) -> None:
    """Ask for a sync of one calendar (a full read when ``full``): counted now, in the current
    transaction, and a worker woken once it commits (coalesced), on ``queue`` (the default
    queue, for what a person waits for, unless a routine caller names its own).

    Whatever asks for a sync has reason to think the calendar changed: busy time that booking
    pages keep for it is forgotten at once.
    """
    calendar_id = str(calendar_id)
    forget_busy([calendar_id])
    state.sync_request(calendar_id=calendar_id, full=full)
    transaction.on_commit(lambda: _wake(calendar_id, queue=queue))


def _wake(
    calendar_id: str,
    *,
    countdown: float = 0,
    queue: str | None = None,
    producer: Producer | None = None,
) -> None:
    """Send a sync task to ``queue`` unless one is believed queued there already.

    Coalesced per queue: a push notification's wake-up goes out even while a poll's waits in the
    polling queue's backlog (whichever runs second finds nothing asked and returns at once)."""
    queue = queue or settings.CELERY_TASK_DEFAULT_QUEUE
    if cache.add(queued_key(calendar_id, queue), True, timeout=QUEUED_SECONDS + countdown):
        sync_calendar.apply_async(
            (calendar_id,), {"queue": queue}, queue=queue, countdown=countdown, producer=producer
        )


def _waiting_in(queue: str) -> int:
    """How many tasks wait in ``queue`` on the broker (0 when it cannot say)."""
    with sync_calendar.app.connection_for_read() as connection:
        try:
            # A virtual channel (Redis, the filesystem broker): counts without declaring.
            channel: Any = connection.default_channel
            return int(channel.queue_declare(queue, passive=True).message_count)
        except ChannelError:
            return 0  # no task has been sent to it yet


def enqueue_connection_resync(connection_id: str) -> None:
    """Full syncs of what reads from or writes into the connection's calendars."""
    for calendar_id in engine.calendar_ids_touching_connection(str(connection_id)):
        enqueue_calendar_sync(calendar_id, full=True)


def enqueue_stale_block_removal() -> None:
    transaction.on_commit(remove_stale_blocks.delay)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """After one attempt: retry a failure after ``retry_in`` seconds (through the broker), or try
    again after ``paced_for`` seconds because the calendar's server is busy or paused."""

    retry_in: float | None = None
    paced_for: float | None = None


@shared_task(bind=True, acks_late=True, max_retries=None)
def sync_calendar(self: Task, calendar_id: str, queue: str = "") -> None:
    queue = queue or settings.CELERY_TASK_DEFAULT_QUEUE
    cache.delete(queued_key(calendar_id, queue))
    with locks.try_lock(state.sync_lock_name(calendar_id)) as held:
        if not held:
            return  # another worker is syncing it, and looks at the requests again at its end
        outcome = _sync_paced(calendar_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    if outcome.paced_for is not None:
        _wake(calendar_id, countdown=outcome.paced_for, queue=queue)
        return
    wait = state.wait_before_next(calendar_id=calendar_id)
    if wait is not None:
        # Asked for while it ran: by a notification or a person, never by the poller (which
        # leaves a calendar with a sync under way alone), so on the default queue.
        _wake(calendar_id, countdown=wait)


def _sync_paced(calendar_id: str) -> _Outcome:
    """Serve what is asked of the calendar's sync, within its server's pace (``pacing``)."""
    calendar = Calendar.objects.select_related("connection__user").filter(id=calendar_id).first()
    if calendar is None:
        return _Outcome()
    server = pacing.server_of(calendar.connection)
    if not server:
        return _sync_as_requested(calendar, server="")
    paused = pacing.paused_for(server)
    if paused:
        # Spread over a little while, so the calendars of a paused server do not all come back
        # in the same second.
        return _Outcome(paced_for=paused + random.uniform(0, min(paused / 2, 30)))  # noqa: S311
    with pacing.server_slot(server) as slot:
        if not slot:
            return _Outcome(paced_for=pacing.retry_soon())
        return _sync_as_requested(calendar, server=server)


def _sync_as_requested(calendar: Calendar, *, server: str) -> _Outcome:
    """Serve what is asked of the calendar's sync; a transient failure gives the seconds to wait
    before retrying, and a throttled one pauses its whole ``server`` too."""
    calendar_id = str(calendar.id)
    claim = state.sync_claim(calendar_id=calendar_id)
    if claim is None:
        return _Outcome()
    started = time.monotonic()

    def count(outcome: str) -> None:
        lag = (
            (timezone.now() - claim.pending_since).total_seconds()
            if claim.pending_since and outcome != "failed"
            else None
        )
        metrics.sync_finished(
            provider=calendar.connection.kind,
            outcome=outcome,
            seconds=time.monotonic() - started,
            lag_seconds=lag,
        )

    try:
        report = engine.sync_source_calendar(
            calendar, full=claim.full, confirm_deletions=claim.confirm_deletions
        )
    except ProviderError as error:
        if error.permanent:
            # The engine marked the connection; retrying cannot help, reconnecting will.
            state.sync_served(calendar_id=calendar_id, claim=claim, report=engine.SyncReport())
            count("permanent")
            return _Outcome()
        retry_after = error.retry_after
        if error.throttled and server:
            retry_after = max(retry_after or 0, pacing.pause(server, error.retry_after))
        count("failed")
        return _Outcome(
            retry_in=state.sync_failed(calendar_id=calendar_id, retry_after=retry_after)
        )
    except Exception:
        # A fault of ours (or the database's): backed off like a provider's, and reported.
        state.sync_failed(calendar_id=calendar_id, retry_after=None)
        count("failed")
        raise
    state.sync_served(calendar_id=calendar_id, claim=claim, report=report)
    count("ok")
    if report.deletions_confirmed:
        mass_deletion_notify(calendar=calendar, removed=report.deletions_confirmed)
    return _Outcome()


@shared_task
def resume_syncs() -> None:
    """Periodic: queue again every calendar whose requests wait unserved with no sync running
    and no wake-up call queued (a worker killed mid-sync, a lost message, a retry whose time has
    come), on its home queue: the polling queue for polled calendars, the default one for the
    rest. Calendars an enabled rule reads that have no sync state yet get one (the poller's)."""
    polling.track_new_sources()
    calendar_ids = state.calendars_to_resume()
    running = locks.held(state.sync_lock_name(calendar_id) for calendar_id in calendar_ids)
    idle = [
        calendar_id
        for calendar_id in calendar_ids
        if state.sync_lock_name(calendar_id) not in running
    ]
    queued = cache.get_many(
        [
            queued_key(calendar_id, queue)
            for calendar_id in idle
            for queue in settings.CELERY_QUEUES_ALL
        ]
    )
    kinds = dict(Calendar.objects.filter(id__in=idle).values_list("id", "connection__kind"))
    for calendar_id in idle:
        if any(queued_key(calendar_id, queue) in queued for queue in settings.CELERY_QUEUES_ALL):
            continue
        polled = kinds.get(uuid.UUID(calendar_id)) in engine.POLLED_KINDS
        _wake(calendar_id, queue=settings.CELERY_POLL_QUEUE if polled else None)


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
    """Every second: wake the polled calendars whose moment in the interval has come
    (``syncrules.polling``), on the polling queue."""
    handed_out = polling.hand_out(backlog=_waiting_in(settings.CELERY_POLL_QUEUE))
    # One connection to the broker for the whole round, not one taken from the pool per call.
    with sync_calendar.app.producer_or_acquire() as producer:
        for calendar_id in handed_out.polled:
            _wake(calendar_id, queue=settings.CELERY_POLL_QUEUE, producer=producer)
    if handed_out.polled or handed_out.skipped:
        metrics.poll_spread(queued=len(handed_out.polled), skipped=handed_out.skipped)


@shared_task
def reconcile_all() -> None:
    """Daily: re-read every source in full (heals missed changes, rolls the window forward), and
    every target, to mend the blocks someone deleted or moved there."""
    for calendar_id in engine.source_calendar_ids():
        enqueue_calendar_sync(calendar_id, full=True, queue=settings.CELERY_BULK_QUEUE)
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
        enqueue_calendar_sync(source_id, full=True, queue=settings.CELERY_BULK_QUEUE)


@shared_task(bind=True, acks_late=True, max_retries=RETRY_LIMIT)
def release_connection(self: Task, connection_id: str) -> None:
    """Finish a disconnect or removal; blocks a provider will not take now are tried again with
    backoff, and the last try forgets what is left."""
    left = engine.release_connection(connection_id, last_try=self.request.retries >= RETRY_LIMIT)
    if left is not None:
        raise self.retry(countdown=backoff_seconds(self.request.retries, left.retry_after))
