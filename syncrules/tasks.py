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
queue in batches, the nightly reconciliation to the bulk queue. A task's turn at its calendars is
``syncrules.runner``'s; polled calendars' syncs are paced per server (``syncrules.pacing``).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any
from uuid import UUID

from celery import Task, shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from kombu import Producer
from kombu.exceptions import ChannelError

from calendars.busy import forget_busy
from calendars.models import Calendar
from integrations.base import ProviderError
from multical import metrics
from multical.lib import locks
from multical.lib.retry import RETRY_LIMIT, backoff_seconds
from syncrules import engine, polling, reconcile, runner, state

logger = logging.getLogger(__name__)

# How long a wake-up call counts as queued: a lost one is replaced by the sweeper after this.
QUEUED_SECONDS = 5 * 60
# Calendars per task in the poller's rounds: a worker's turn pays for its bookkeeping once per
# batch (``syncrules.runner``), and holds a calendar at most as long as the batch's other reads.
POLL_BATCH = 10


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


@shared_task(bind=True, acks_late=True, max_retries=None)
def sync_calendar(self: Task, calendar_id: str, queue: str = "") -> None:
    """Serve what is asked of one calendar's sync (``syncrules.runner``); a transient failure is
    retried through the broker."""
    queue = queue or settings.CELERY_TASK_DEFAULT_QUEUE
    cache.delete(queued_key(calendar_id, queue))
    turn = runner.take_turn([calendar_id])
    _follow_up(turn, queue=queue, retry_here=False)
    if turn.fault is not None:
        raise turn.fault
    if calendar_id in turn.retry:
        raise self.retry(countdown=turn.retry[calendar_id])


@shared_task(acks_late=True)
def sync_calendars(calendar_ids: list[str], queue: str = "") -> None:
    """Serve what is asked of several calendars in one turn (the poller's batches)."""
    queue = queue or settings.CELERY_POLL_QUEUE
    cache.delete_many([queued_key(calendar_id, queue) for calendar_id in calendar_ids])
    turn = runner.take_turn(calendar_ids)
    _follow_up(turn, queue=queue, retry_here=True)
    if turn.fault is not None:
        raise turn.fault


def _follow_up(turn: runner.Turn, *, queue: str, retry_here: bool) -> None:
    """Send what the turn left: calendars paced (and, when ``retry_here``, retried) back to
    ``queue`` after their wait; those asked for again while it ran, to the default queue (a
    notification or a person asked, never the poller, which leaves a calendar with a sync under
    way alone)."""
    later = {**turn.paced, **(turn.retry if retry_here else {})}
    for calendar_id, wait in later.items():
        _wake(calendar_id, countdown=wait, queue=queue)
    for calendar_id, wait in turn.again.items():
        _wake(calendar_id, countdown=wait)


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
    queue = settings.CELERY_POLL_QUEUE
    handed_out = polling.hand_out(backlog=_waiting_in(queue) * POLL_BATCH)
    # Each calendar handed out had nothing waiting (``hand_out`` leaves those alone), so none is
    # queued yet: marked queued all at once, for the sweeper, and sent in batches, over one
    # connection to the broker for the whole round.
    cache.set_many(
        {queued_key(calendar_id, queue): True for calendar_id in handed_out.polled},
        timeout=QUEUED_SECONDS,
    )
    with sync_calendars.app.producer_or_acquire() as producer:
        for first in range(0, len(handed_out.polled), POLL_BATCH):
            batch = handed_out.polled[first : first + POLL_BATCH]
            sync_calendars.apply_async((batch,), {"queue": queue}, queue=queue, producer=producer)
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
