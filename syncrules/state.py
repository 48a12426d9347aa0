"""Durable sync requests: what has been asked of each calendar's sync, and what is done.

A trigger counts one request in the calendar's ``SyncState`` row, in the trigger's own
transaction; the message to a worker is only a wake-up call. A sync claims the count it starts
from and marks it served once everything it did has committed, so a request outlives any crash:
a worker killed mid-sync, a lost message, a broker restart. ``calendars_to_resume`` finds what is
asked and not served, for the sweeper to queue again. A full read asked for (new rule settings,
a connection back) is served only by a full read that started after it; the mass-deletion guard
asks for one, to be read no sooner than ``MASS_DELETION_CONFIRM_SECONDS`` after its hold.

Every function here runs under the calendar's sync lock except ``sync_request`` and
``calendars_to_resume``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from calendars.models import Calendar
from multical.lib.retry import backoff_seconds
from syncrules.engine import SyncReport
from syncrules.models import SyncState

# A request not served after this long, while no sync holds its calendar, is queued again.
RESUME_AFTER = timedelta(seconds=20)
RESUME_BATCH = 500


def sync_lock_name(calendar_id: str) -> str:
    """The name of the lock one sync of the calendar holds (``multical.lib.locks``)."""
    return f"sync:{calendar_id}"


def sync_request(*, calendar_id: str, full: bool = False) -> None:
    """Count one request for a sync of the calendar (a full read when ``full``), in the current
    transaction; a calendar that does not exist (any more) is left alone."""
    now = timezone.now()
    changes = {
        "requested": F("requested") + 1,
        "pending_since": Coalesce(F("pending_since"), Value(now)),
    }
    if full:
        changes["full_requested"] = F("requested") + 1
    states = SyncState.objects.filter(calendar_id=calendar_id)
    if states.update(**changes):
        return
    if not Calendar.objects.filter(id=calendar_id).exists():
        return
    SyncState.objects.bulk_create([SyncState(calendar_id=calendar_id)], ignore_conflicts=True)
    states.update(**changes)


@dataclass(frozen=True, slots=True)
class Claim:
    """What the sync about to run serves: the request count it starts from, and how to read."""

    requested: int
    full: bool
    confirm_deletions: bool
    # When the oldest request it serves came in (for the lag the operator's metrics show).
    pending_since: datetime | None = None


def sync_claim(*, calendar_id: str) -> Claim | None:
    """The claim of a sync starting now, or None when nothing is asked of it yet.

    A full read asked for by the mass-deletion guard waits until it may confirm the hold; syncs
    asked for meanwhile read the changes only.
    """
    state = SyncState.objects.filter(calendar_id=calendar_id).first()
    if state is None or not state.pending:
        return None
    now = timezone.now()
    held_at = state.deletions_held_at
    confirmable = held_at is not None and now >= held_at + timedelta(
        seconds=settings.MASS_DELETION_CONFIRM_SECONDS
    )
    full = state.full_requested > state.full_served and (held_at is None or confirmable)
    if not full and state.requested <= state.served:
        return None
    SyncState.objects.filter(calendar_id=calendar_id).update(started_at=now)
    return Claim(
        requested=state.requested,
        full=full,
        confirm_deletions=confirmable,
        pending_since=state.pending_since,
    )


def sync_served(*, calendar_id: str, claim: Claim, report: SyncReport) -> None:
    """Mark the claim served, and hold, keep or clear a mass deletion as ``report`` says."""
    now = timezone.now()
    changes: dict[str, object] = {
        "served": Greatest(F("served"), Value(claim.requested)),
        "finished_at": now,
        "failures": 0,
        "retry_at": None,
    }
    if claim.full:
        changes["full_served"] = Greatest(F("full_served"), Value(claim.requested))
    if report.deletions_held:
        # A request of its own for a full read, which sync_claim lets through (and the sweeper
        # queues) once the hold is MASS_DELETION_CONFIRM_SECONDS old.
        changes["requested"] = F("requested") + 1
        changes["full_requested"] = F("requested") + 1
        changes["deletions_held"] = report.deletions_held
        changes["deletions_held_at"] = Coalesce(F("deletions_held_at"), Value(now))
        changes["retry_at"] = Coalesce(F("deletions_held_at"), Value(now)) + timedelta(
            seconds=settings.MASS_DELETION_CONFIRM_SECONDS
        )
        changes["pending_since"] = Value(now)
    else:
        if claim.full and claim.confirm_deletions:
            # The confirming read is done: the deletions went ahead, or were no longer called for.
            changes["deletions_held"] = 0
            changes["deletions_held_at"] = None
        # Still pending when requests came in during the sync (the conditions read the row as it
        # was, so the full reads served are those this update marks).
        full_served = changes.get("full_served", F("full_served"))
        changes["pending_since"] = Case(
            When(
                Q(requested__gt=claim.requested) | Q(full_requested__gt=full_served),
                then=Value(now),
            ),
            default=None,
        )
    SyncState.objects.filter(calendar_id=calendar_id).update(**changes)


def sync_failed(*, calendar_id: str, retry_after: float | None) -> float:
    """Count a failed attempt; the seconds to wait before the next one (also kept in the row, so
    the sweeper honours them)."""
    state = SyncState.objects.filter(calendar_id=calendar_id).first()
    failures = (state.failures if state else 0) + 1
    delay = backoff_seconds(failures - 1, retry_after)
    SyncState.objects.filter(calendar_id=calendar_id).update(
        failures=failures, retry_at=timezone.now() + timedelta(seconds=delay)
    )
    return delay


def wait_before_next(*, calendar_id: str) -> float | None:
    """After a sync: None when nothing more is asked, else the seconds until the next sync may
    run (0 for at once)."""
    state = SyncState.objects.filter(calendar_id=calendar_id).first()
    if state is None or not state.pending:
        return None
    if state.retry_at is None:
        return 0.0
    return max((state.retry_at - timezone.now()).total_seconds(), 0.0)


def calendars_to_resume(*, now: datetime | None = None) -> list[str]:
    """Calendars with a request waiting longer than ``RESUME_AFTER`` and due (not waiting out a
    backoff or a hold), oldest first; the caller leaves out those a sync holds."""
    now = now or timezone.now()
    return [
        str(calendar_id)
        for calendar_id in SyncState.objects.filter(pending_since__lte=now - RESUME_AFTER)
        .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))
        .filter(Q(requested__gt=F("served")) | Q(full_requested__gt=F("full_served")))
        .order_by("pending_since")
        .values_list("calendar_id", flat=True)[:RESUME_BATCH]
    ]
