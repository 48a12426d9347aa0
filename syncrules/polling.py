"""Polling calendars that have no push (CalDAV, iCal links), spread evenly over the interval.

Asking every polled calendar at once each interval makes a stampede: thousands of syncs queued in
the same second, servers hit together, push syncs waiting behind them. Instead each calendar has
its own moment in the interval, fixed by its id (``moment_in_interval``), kept in its
``SyncState.next_poll_at``. A tick every second (``hand_out``) takes the calendars whose moment
has come, moves each to its next moment and counts a request for those still to be polled; the
caller wakes them on the polling queue once that has committed.

The claim is an ``UPDATE`` of rows picked ``FOR UPDATE SKIP LOCKED``: two beats running at once (a
fail-over mistake) hand out each calendar once, and a tick that dies before it commits hands out
nothing. A calendar is left out of a round, and only moved on, when it was synced less than half
an interval ago (a change was read anyway), has a sync waiting already, waits out a backoff, or is
not polled any more (its rules are off, its channel is live again).

Pacing per server lives with the sync task (``syncrules.pacing``): this only says when.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from multical.lib.bulk_save import save_fields
from syncrules import engine
from syncrules.models import SyncState

# Calendars handed out by one tick at most: after a beat outage the backlog drains over a few
# ticks instead of in one burst (and each row is then back at its own moment).
ROUND_LIMIT = 2000
# Polls waiting in the polling queue at most: a tick hands out no more than brings it to this.
BACKLOG_LIMIT = 1000
# Calendars whose first moment is set per tick (new rows, or all of them after an upgrade).
ENROL_LIMIT = 5000


@dataclass(frozen=True, slots=True)
class Round:
    """What one tick did: the calendars to wake, and how many it left out this time."""

    polled: list[str]
    skipped: int


def interval() -> timedelta:
    return timedelta(seconds=settings.SYNC_POLL_INTERVAL_SECONDS)


def moment_in_interval(calendar_id: str | uuid.UUID, every: timedelta) -> timedelta:
    """The calendar's own moment in each interval (an offset from the start of the interval,
    counted from the epoch): the same in every process, spread evenly over calendars."""
    fraction = int.from_bytes(uuid.UUID(str(calendar_id)).bytes[:8], "big") / 2**64
    return timedelta(microseconds=int(fraction * every / timedelta(microseconds=1)))


def next_moment(calendar_id: str | uuid.UUID, after: datetime, every: timedelta) -> datetime:
    """The calendar's first moment later than ``after``."""
    epoch = datetime(2000, 1, 1, tzinfo=after.tzinfo)
    offset = moment_in_interval(calendar_id, every)
    cycles = (after - epoch - offset) // every + 1
    return epoch + offset + cycles * every


def hand_out(*, now: datetime | None = None, backlog: int = 0) -> Round:
    """One tick: claim the calendars whose moment has come and count a request for each to poll.

    ``backlog``: polls already waiting in the polling queue. The round is cut so that no more
    than ``BACKLOG_LIMIT`` wait: when the workers fall behind, calendars stay due (oldest first)
    instead of piling up in the broker, where each would wait behind all the others anyway.

    Runs in its own transaction; wake the calendars returned after it has committed."""
    now = now or timezone.now()
    every = interval()
    limit = min(ROUND_LIMIT, BACKLOG_LIMIT - backlog)
    if limit <= 0:
        return Round(polled=[], skipped=0)
    with transaction.atomic():
        _enrol(now, every)
        claimed = _claim_due(now, every, limit)
        if not claimed:
            return Round(polled=[], skipped=0)
        polled = set(engine.polled_source_calendar_ids(among=[row.calendar_id for row in claimed]))
        recent = now - every / 2
        chosen = [
            row.calendar_id
            for row in claimed
            if row.calendar_id in polled
            and not row.pending
            and (row.retry_at is None or row.retry_at <= now)
            and (row.finished_at is None or row.finished_at < recent)
        ]
        if chosen:
            SyncState.objects.filter(calendar_id__in=chosen).update(
                requested=F("requested") + 1,
                pending_since=Coalesce(F("pending_since"), Value(now)),
            )
    return Round(polled=chosen, skipped=len(claimed) - len(chosen))


@dataclass(frozen=True, slots=True)
class _Claimed:
    calendar_id: str
    pending: bool
    finished_at: datetime | None
    retry_at: datetime | None


def _claim_due(now: datetime, every: timedelta, limit: int) -> list[_Claimed]:
    """Rows whose moment has come, each moved to its next moment (whole intervals later, so it
    keeps its place in the interval); rows another tick holds are skipped, not waited for."""
    rows = list(
        SyncState.objects.filter(next_poll_at__lte=now)
        .order_by("next_poll_at")
        .select_for_update(skip_locked=True)
        .values_list(
            "calendar_id",
            "next_poll_at",
            "requested",
            "served",
            "full_requested",
            "full_served",
            "finished_at",
            "retry_at",
        )[:limit]
    )
    if not rows:
        return []
    save_fields(
        [SyncState(calendar_id=row[0], next_poll_at=_moved_on(row[1], now, every)) for row in rows],
        ["next_poll_at"],
    )
    return [
        _Claimed(
            calendar_id=str(calendar_id),
            pending=requested > served or full_requested > full_served,
            finished_at=finished_at,
            retry_at=retry_at,
        )
        for (
            calendar_id,
            _,
            requested,
            served,
            full_requested,
            full_served,
            finished_at,
            retry_at,
        ) in rows
    ]


def _moved_on(moment: datetime | None, now: datetime, every: timedelta) -> datetime:
    """The first moment after ``now`` a whole number of intervals after ``moment``."""
    assert moment is not None  # only rows with a moment are due
    return moment + ((now - moment) // every + 1) * every


def _enrol(now: datetime, every: timedelta) -> None:
    """Give rows the poller has not seen yet their first moment."""
    new = list(
        SyncState.objects.filter(next_poll_at__isnull=True)
        .select_for_update(skip_locked=True)
        .values_list("calendar_id", flat=True)[:ENROL_LIMIT]
    )
    if not new:
        return
    save_fields(
        [
            SyncState(calendar_id=calendar_id, next_poll_at=next_moment(calendar_id, now, every))
            for calendar_id in new
        ],
        ["next_poll_at"],
    )


def track_new_sources() -> int:
    """Give calendars that feed an enabled rule and have no sync state yet a row, so the poller
    sees them; the number made. (A rule asks for a sync of its sources when it is made, which
    makes the row; this mends what a crash between the two left.)"""
    missing = list(
        engine.source_calendars_without_state().values_list("id", flat=True)[:ENROL_LIMIT]
    )
    SyncState.objects.bulk_create(
        [SyncState(calendar_id=calendar_id) for calendar_id in missing], ignore_conflicts=True
    )
    return len(missing)
