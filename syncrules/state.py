"""Durable sync requests: what has been asked of each calendar's sync, and what is done.

A trigger counts one request in the calendar's ``SyncState`` row, in the trigger's own
transaction; the message to a worker is only a wake-up call. A sync claims the count it starts
from and marks it served once everything it did has committed, so a request outlives any crash:
a worker killed mid-sync, a lost message, a broker restart. ``calendars_to_resume`` finds what is
asked and not served, for the sweeper to queue again. A full read asked for (new rule settings,
a connection back) is served only by a full read that started after it; the mass-deletion guard
asks for one, to be read no sooner than ``MASS_DELETION_CONFIRM_SECONDS`` after its hold.

Every function here runs under the calendar's sync lock except ``sync_request``,
``calendars_to_resume`` and ``waits_before_next`` (which looks once the lock is given back). The
claims and the looks take many calendars at once, for a worker's batch (``syncrules.runner``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import F, Field, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from calendars.models import Calendar
from multical.lib.bulk_save import Statement
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
    # Since when a mass deletion has been held (kept while the hold lasts).
    held_at: datetime | None = None


def sync_claims(calendar_ids: Iterable[str]) -> dict[str, Claim]:
    """The claims of syncs of the calendars starting now, by calendar (two queries for all);
    those with nothing asked of them yet are left out.

    A full read asked for by the mass-deletion guard waits until it may confirm the hold; syncs
    asked for meanwhile read the changes only.
    """
    now = timezone.now()
    confirm_after = timedelta(seconds=settings.MASS_DELETION_CONFIRM_SECONDS)
    # Those asked for: more requests than served, or a full read not held back for a hold.
    rows = list(
        SyncState.objects.filter(calendar_id__in=list(calendar_ids))
        .filter(
            Q(requested__gt=F("served"))
            | Q(full_requested__gt=F("full_served"))
            & (Q(deletions_held_at__isnull=True) | Q(deletions_held_at__lte=now - confirm_after))
        )
        .values_list(
            "calendar_id",
            "requested",
            "full_requested",
            "full_served",
            "deletions_held_at",
            "pending_since",
        )
    )
    if rows:
        SyncState.objects.filter(calendar_id__in=[row[0] for row in rows]).update(started_at=now)
    claims = {}
    for calendar_id, requested, full_requested, full_served, held_at, pending_since in rows:
        confirmable = held_at is not None and now >= held_at + confirm_after
        claims[str(calendar_id)] = Claim(
            requested=requested,
            full=full_requested > full_served and (held_at is None or confirmable),
            confirm_deletions=confirmable,
            pending_since=pending_since,
            held_at=held_at,
        )
    return claims


def sync_served(*, calendar_id: str, claim: Claim, report: SyncReport) -> None:
    """Mark the claim served, and hold, keep or clear a mass deletion as ``report`` says."""
    statement, values = served_statement(calendar_id=calendar_id, claim=claim, report=report)
    with connection.cursor() as cursor:
        cursor.execute(statement, values)


def served_statement(*, calendar_id: str, claim: Claim, report: SyncReport) -> Statement:
    """``sync_served`` as a statement with its values, for a caller that commits it together
    with its own (``multical.lib.bulk_save.write_together``)."""
    now = timezone.now()
    held_since = claim.held_at or now
    values = {
        "calendar": _prepared("calendar", calendar_id),
        "requested": claim.requested,
        "full": claim.full,
        "now": _prepared("finished_at", now),
        "held": report.deletions_held,
        "held_since": _prepared("deletions_held_at", held_since),
        # The confirming read is done: the deletions went ahead, or were no longer called for.
        "cleared": claim.full and claim.confirm_deletions and not report.deletions_held,
        # A hold asks for a full read of its own, which sync_claims lets through (and the
        # sweeper queues) once the hold is MASS_DELETION_CONFIRM_SECONDS old.
        "retry_at": _prepared(
            "retry_at",
            held_since + timedelta(seconds=settings.MASS_DELETION_CONFIRM_SECONDS)
            if report.deletions_held
            else None,
        ),
    }
    return _SERVED, [values[name] for name in _SERVED_NAMES]


def _prepared(field: str, value: object) -> object:
    """``value`` as the database takes it for ``SyncState.<field>``."""
    model_field = SyncState._meta.get_field(field)
    assert isinstance(model_field, Field)
    return model_field.get_db_prep_save(value, connection)


def _positional(statement: str) -> tuple[str, list[str]]:
    """A statement written with ``%(name)s`` placeholders, as ``%s`` ones, and the names in order
    (so that it can run together with other statements, whose values come in a list)."""
    pattern = re.compile(r"%\((\w+)\)s")
    return pattern.sub("%s", statement), pattern.findall(statement)


# Marking a claim served: plain SQL (every database of ours runs it), one statement whatever the
# case, built once (the same text each time, so many go together in one round trip). Every expression reads the row as it was before the update, so "still
# pending" is judged by requests that came in during the sync and full reads this one did not
# serve. "Full served" is written out twice (its new value) since a SET cannot read another.
_SERVED, _SERVED_NAMES = _positional(
    f"""
    UPDATE {SyncState._meta.db_table} SET
        served = CASE WHEN served > %(requested)s THEN served ELSE %(requested)s END,
        full_served = CASE WHEN %(full)s AND full_served < %(requested)s
            THEN %(requested)s ELSE full_served END,
        finished_at = %(now)s,
        failures = 0,
        retry_at = %(retry_at)s,
        requested = CASE WHEN %(held)s > 0 THEN requested + 1 ELSE requested END,
        full_requested = CASE WHEN %(held)s > 0 THEN requested + 1 ELSE full_requested END,
        deletions_held = CASE WHEN %(held)s > 0 THEN %(held)s
            WHEN %(cleared)s THEN 0 ELSE deletions_held END,
        deletions_held_at = CASE WHEN %(held)s > 0 THEN %(held_since)s
            WHEN %(cleared)s THEN NULL ELSE deletions_held_at END,
        pending_since = CASE
            WHEN %(held)s > 0 THEN %(now)s
            WHEN requested > %(requested)s THEN %(now)s
            WHEN full_requested > CASE WHEN %(full)s AND full_served < %(requested)s
                THEN %(requested)s ELSE full_served END THEN %(now)s
            ELSE NULL
        END
    WHERE calendar_id = %(calendar)s
    """  # noqa: S608 - the table's name from the model; every value is a parameter
)


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


def waits_before_next(calendar_ids: Iterable[str]) -> dict[str, float]:
    """After their syncs: the calendars with more asked of them, each with the seconds until
    its next sync may run (0 for at once), in one query."""
    now = timezone.now()
    return {
        str(state.calendar_id): (
            0.0 if state.retry_at is None else max((state.retry_at - now).total_seconds(), 0.0)
        )
        for state in SyncState.objects.filter(calendar_id__in=list(calendar_ids)).only(
            "requested", "served", "full_requested", "full_served", "retry_at"
        )
        if state.pending
    }


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
