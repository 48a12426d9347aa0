"""A worker's turn at syncing a list of calendars: one calendar when a notification or a person
asked, a batch of them when the poller hands out a round.

Most polls find nothing new, so what a poll costs besides its request to the provider decides how
many one worker serves. A turn pays for the bookkeeping once per batch instead of once per
calendar:

1. the sync locks of the calendars nobody is syncing, taken in one round trip (the others are
   left to their holder, which looks at the requests again at its end);
2. their rows (calendar, connection, owner) in one query; the pauses of their servers in one
   cache read, and one slot of each paced server (``syncrules.pacing``), held for the turn, which
   asks one server at a time;
3. what is asked of each, claimed (read, then marked started), and the rules reading those
   claimed, in one query;
4. each calendar synced in turn; what it leaves on its rows (cursor, time, the claim served)
   kept for the next step, since a crash before it only means reading the same again;
5. every ``RELEASE_EVERY`` seconds and at the end, the rows of those done written in one
   transaction (``multical.lib.bulk_save.write_together``), their locks given back, and their
   requests looked at once more right after: what came in while they were held is synced again.

A turn leaves the broker to its caller (``syncrules.tasks``): it says which calendars to try
again, when, and why.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from calendars.models import Calendar
from integrations.base import ProviderError
from multical import metrics
from multical.lib import locks
from multical.lib.bulk_save import Statement, update_statement, write_together
from syncrules import engine, pacing, state
from syncrules.models import SyncRule
from syncrules.notifications import mass_deletion_notify
from webhooks.events import DeletionsHeld
from webhooks.services import event_record

logger = logging.getLogger(__name__)

# How long the locks of calendars already synced may wait for the rest of a long turn.
RELEASE_EVERY = 2.0


@dataclass
class Turn:
    """What a turn leaves to its caller, by calendar: seconds to wait before trying again."""

    # A transient failure, backed off (the wait is also kept in the calendar's sync state).
    retry: dict[str, float] = field(default_factory=dict)
    # Its server is paused or every slot of it is taken.
    paced: dict[str, float] = field(default_factory=dict)
    # More was asked of it while the turn held it (0: at once).
    again: dict[str, float] = field(default_factory=dict)
    # The first fault of ours, for the caller to raise once the rest is done (the others are
    # logged); the calendars are backed off like a provider's failure, and left to the sweeper.
    fault: Exception | None = None
    faulted: set[str] = field(default_factory=set)


def take_turn(calendar_ids: Sequence[str]) -> Turn:
    """Serve what is asked of each of the calendars (see the module's description)."""
    turn = Turn()
    names = {state.sync_lock_name(calendar_id): calendar_id for calendar_id in calendar_ids}
    with locks.try_locks(names) as held, ExitStack() as slots:
        mine = [calendar_id for name, calendar_id in names.items() if name in held.names]
        if not mine:
            return turn
        calendars = {
            str(calendar.id): calendar
            for calendar in Calendar.objects.select_related("connection__user").filter(id__in=mine)
        }
        servers = {
            calendar_id: pacing.server_of(calendar.connection)
            for calendar_id, calendar in calendars.items()
        }
        _pace(servers, slots, turn)
        claims = state.sync_claims(
            calendar_id for calendar_id in calendars if calendar_id not in turn.paced
        )
        rules = engine.enabled_rules_by_source(claims) if claims else {}
        finished: list[metrics.SyncFinished] = []
        throttled: dict[str, float] = {}  # servers that asked to slow down during the turn
        writes: list[Statement] = []  # the bookkeeping of those done, committed at each release
        done: list[str] = []
        released_at = time.monotonic()
        for calendar_id in mine:
            claim = claims.get(calendar_id)
            server = servers.get(calendar_id, "")
            if server in throttled:
                turn.paced[calendar_id] = throttled[server] + pacing.retry_soon()
            elif claim is not None and calendar_id not in turn.paced:
                _sync_one(
                    calendars[calendar_id],
                    claim,
                    rules.get(calendar_id, []),
                    server=server,
                    throttled=throttled,
                    turn=turn,
                    finished=finished,
                    writes=writes,
                )
            done.append(calendar_id)
            if time.monotonic() - released_at >= RELEASE_EVERY:
                _release(held, done, writes, turn)
                done, released_at = [], time.monotonic()
        _release(held, done, writes, turn)
        metrics.syncs_finished(finished)
    return turn


def _pace(servers: dict[str, str], slots: ExitStack, turn: Turn) -> None:
    """Hold one slot of each server the calendars are paced by; those whose server is paused,
    or has no slot free, are left for later (``turn.paced``)."""
    wanted = set(servers.values()) - {""}
    paused = pacing.paused(wanted)
    free = {
        server
        for server in wanted
        if server not in paused and slots.enter_context(pacing.server_slot(server))
    }
    for calendar_id, server in servers.items():
        if server in paused:
            # Spread over a little while, so that the calendars of a paused server do not all
            # come back in the same second.
            wait = paused[server]
            turn.paced[calendar_id] = wait + random.uniform(0, min(wait / 2, 30))  # noqa: S311
        elif server and server not in free:
            turn.paced[calendar_id] = pacing.retry_soon()


def _sync_one(
    calendar: Calendar,
    claim: state.Claim,
    rules: list[SyncRule],
    *,
    server: str,
    throttled: dict[str, float],
    turn: Turn,
    finished: list[metrics.SyncFinished],
    writes: list[Statement],
) -> None:
    """Serve one calendar's claim, its bookkeeping added to ``writes``; a transient failure backs
    it off, and a throttled one pauses its whole ``server`` (noted in ``throttled``, for the rest
    of the turn)."""
    calendar_id = str(calendar.id)
    started = time.monotonic()

    def count(outcome: str) -> None:
        lag = (
            (timezone.now() - claim.pending_since).total_seconds()
            if claim.pending_since and outcome != "failed"
            else None
        )
        finished.append(
            metrics.SyncFinished(
                provider=calendar.connection.kind,
                outcome=outcome,
                seconds=time.monotonic() - started,
                lag_seconds=lag,
            )
        )

    try:
        report = engine.sync_source(
            calendar, full=claim.full, confirm_deletions=claim.confirm_deletions, rules=rules
        )
    except ProviderError as error:
        if error.permanent:
            # The engine marked the connection; retrying cannot help, reconnecting will.
            writes.append(
                state.served_statement(
                    calendar_id=calendar_id, claim=claim, report=engine.SyncReport()
                )
            )
            count("permanent")
            return
        retry_after = error.retry_after
        if error.throttled and server:
            throttled[server] = pacing.pause(server, error.retry_after)
            retry_after = max(retry_after or 0, throttled[server])
        count("failed")
        turn.retry[calendar_id] = state.sync_failed(
            calendar_id=calendar_id, retry_after=retry_after
        )
        return
    except Exception as fault:
        # A fault of ours (or the database's): backed off like a provider's, and reported.
        state.sync_failed(calendar_id=calendar_id, retry_after=None)
        count("failed")
        turn.faulted.add(calendar_id)
        if turn.fault is None:
            turn.fault = fault
        else:
            logger.exception("The sync of a calendar failed", extra={"calendar": calendar_id})
        return
    if report.synced is not None:
        writes.append(update_statement(calendar, list(report.synced.changes(calendar))))
    writes.append(state.served_statement(calendar_id=calendar_id, claim=claim, report=report))
    count("ok")
    if report.deletions_held and claim.held_at is None:
        with transaction.atomic():  # a new hold is told of with its own record, or not at all
            _write(writes)
            event_record(user_id=calendar.connection.user_id, event=_held(calendar, report))
    if report.deletions_confirmed:
        _write(writes)  # before anyone is told
        mass_deletion_notify(calendar=calendar, removed=report.deletions_confirmed)


def _held(calendar: Calendar, report: engine.SyncReport) -> DeletionsHeld:
    now = timezone.now()
    return DeletionsHeld(
        calendar_id=calendar.id,
        connection_id=calendar.connection_id,
        provider=calendar.connection.kind,
        blocks=report.deletions_held,
        occurred_at=now,
        confirm_after=now + timedelta(seconds=settings.MASS_DELETION_CONFIRM_SECONDS),
    )


def _write(writes: list[Statement]) -> None:
    if writes:
        write_together(writes)
        writes.clear()


def _release(
    held: locks.Locks, calendar_ids: list[str], writes: list[Statement], turn: Turn
) -> None:
    """Commit the bookkeeping of the calendars done with, give back their locks, then look at
    what was asked of them while they were held (in that order: a request whose own sync found
    the lock held is seen here)."""
    _write(writes)
    if not calendar_ids:
        return
    held.release(state.sync_lock_name(calendar_id) for calendar_id in calendar_ids)
    turn.again.update(
        state.waits_before_next(
            calendar_id
            for calendar_id in calendar_ids
            if calendar_id not in turn.retry
            and calendar_id not in turn.paced
            and calendar_id not in turn.faulted
        )
    )
