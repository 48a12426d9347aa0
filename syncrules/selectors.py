"""Reads for sync rules and the sync state of calendars.

Every lookup of a user's object goes through a helper that 404s anyone else: rules by their
owner, calendars through the connection they belong to.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import User
from calendars.models import Calendar
from multical.lib import locks
from syncrules import state
from syncrules.engine import POLLED_KINDS
from syncrules.models import Block, SyncRule, SyncRun, SyncState

HISTORY_LENGTH = 50


class Activity(enum.StrEnum):
    """What a calendar's sync is doing now (of a rule: the busiest of its sources)."""

    IDLE = "idle"
    QUEUED = "queued"
    SYNCING = "syncing"


_BUSIEST = [Activity.SYNCING, Activity.QUEUED, Activity.IDLE]


def calendar_activity(calendar_ids: Iterable[object]) -> dict[str, Activity]:
    """Each calendar's activity: a sync holds its lock, or one is asked for and not yet served."""
    ids = [str(calendar_id) for calendar_id in calendar_ids]
    running = locks.held(state.sync_lock_name(calendar_id) for calendar_id in ids)
    pending = {
        str(sync_state.calendar_id)
        for sync_state in SyncState.objects.filter(calendar_id__in=ids)
        if sync_state.pending
    }
    return {
        calendar_id: Activity.SYNCING
        if state.sync_lock_name(calendar_id) in running
        else Activity.QUEUED
        if calendar_id in pending
        else Activity.IDLE
        for calendar_id in ids
    }


def rules_activity(rules: Iterable[SyncRule]) -> dict[str, Activity]:
    """Each rule's activity: the busiest of its sources' (an idle rule when it is off)."""
    rules = list(rules)
    sources = {str(rule.id): [str(c.id) for c in rule.sources.all()] for rule in rules}
    of_calendar = calendar_activity({c for ids in sources.values() for c in ids})
    result = {}
    for rule in rules:
        found = {of_calendar[calendar_id] for calendar_id in sources[str(rule.id)]}
        busiest = next((a for a in _BUSIEST if a in found), Activity.IDLE)
        result[str(rule.id)] = busiest if rule.enabled else Activity.IDLE
    return result


def get_rule_for_user(user: User, rule_id: str) -> SyncRule:
    return get_object_or_404(SyncRule, id=rule_id, user=user)


def get_calendar_for_user(user: User, calendar_id: str) -> Calendar:
    return get_object_or_404(
        Calendar.objects.select_related("connection"), id=calendar_id, connection__user=user
    )


def calendars_for_user(user: User) -> QuerySet[Calendar]:
    """The user's calendars, grouped by connection (in the order they were connected)."""
    return (
        Calendar.objects.filter(connection__user=user)
        .select_related("connection")
        .order_by("connection__created_at", "connection_id", "name")
    )


def writable_calendars_for_user(user: User) -> QuerySet[Calendar]:
    return calendars_for_user(user).filter(read_only=False)


def rules_for_user(user: User) -> QuerySet[SyncRule]:
    """The user's rules with their calendars, their block count and their latest run."""
    calendars = Calendar.objects.select_related("connection").order_by("name")
    return (
        SyncRule.objects.filter(user=user)
        .annotate(block_count=Count("blocks"))
        .order_by("created_at")
        .prefetch_related(
            Prefetch("sources", queryset=calendars),
            Prefetch("targets", queryset=calendars),
            Prefetch(
                "runs",
                queryset=SyncRun.objects.select_related("source_calendar").order_by("-started_at")[
                    :1
                ],
                to_attr="latest_runs",
            ),
        )
    )


@dataclass(frozen=True, slots=True)
class SharedBlocks:
    """Blocks of events ``rule`` copies that show another rule's rendering (it is more private)."""

    rule: SyncRule
    count: int


def rule_blocks(rule: SyncRule) -> tuple[int, list[SharedBlocks]]:
    """How many blocks the rule's rendering shows, and the blocks of its calendars credited to
    other rules instead (one block per event and calendar, whichever rules copy it)."""
    own = Block.objects.filter(rule=rule).count()
    others = (
        Block.objects.filter(
            source_calendar__in=rule.sources.all(), target_calendar__in=rule.targets.all()
        )
        .exclude(rule=rule)
        .exclude(rule=None)
        .values("rule_id")
        .annotate(count=Count("id"))
    )
    counts = {row["rule_id"]: row["count"] for row in others}
    rules = SyncRule.objects.filter(id__in=counts, user_id=rule.user_id).order_by("created_at")
    return own, [SharedBlocks(rule=other, count=counts[other.id]) for other in rules]


@dataclass(frozen=True, slots=True)
class Overlap:
    """Another enabled rule that copies some of the same calendars into some of the same ones."""

    rule: SyncRule
    pairs: list[tuple[Calendar, Calendar]]  # (source, target), by name


def overlapping_rules(
    user: User,
    *,
    sources: Iterable[Calendar],
    targets: Iterable[Calendar],
    excluding: SyncRule | None = None,
) -> list[Overlap]:
    """The user's enabled rules (but ``excluding``) that copy one of ``sources`` into one of
    ``targets``: where they meet, each event gets one block, as the more private rule renders it."""
    source_by_id = {c.id: c for c in sources}
    target_by_id = {c.id: c for c in targets}
    rules = SyncRule.objects.filter(
        user=user, enabled=True, sources__in=source_by_id.keys(), targets__in=target_by_id.keys()
    )
    if excluding is not None:
        rules = rules.exclude(id=excluding.id)
    found = []
    for rule in rules.distinct().order_by("created_at").prefetch_related("sources", "targets"):
        pairs = [
            (source_by_id[source.id], target_by_id[target.id])
            for source in rule.sources.all()
            if source.id in source_by_id
            for target in rule.targets.all()
            if target.id in target_by_id and target.id != source.id
        ]
        if pairs:
            found.append(
                Overlap(rule=rule, pairs=sorted(pairs, key=lambda p: (p[0].name, p[1].name)))
            )
    return found


def rule_runs(rule: SyncRule) -> QuerySet[SyncRun]:
    """The rule's latest runs, newest first: counts and errors only."""
    return rule.runs.select_related("source_calendar").order_by("-started_at")[:HISTORY_LENGTH]


@dataclass(frozen=True, slots=True)
class CalendarRule:
    rule: SyncRule
    as_source: bool
    as_target: bool


@dataclass(frozen=True, slots=True)
class CalendarSyncState:
    calendar: Calendar
    polled: bool  # a polled kind that feeds a rule that is on: the beat schedule reads it
    next_poll_at: datetime | None
    blocks_held: int  # blocks written into this calendar, as a target
    blocks_made: int  # blocks made from this calendar's events, as a source
    rules: list[CalendarRule]


def calendar_sync_state(calendar: Calendar) -> CalendarSyncState:
    rules = (
        SyncRule.objects.filter(user_id=calendar.connection.user_id)
        .filter(Q(sources=calendar) | Q(targets=calendar))
        .distinct()
        .order_by("created_at")
    )
    source_of = set(calendar.rules_as_source.values_list("id", flat=True))
    target_of = set(calendar.rules_as_target.values_list("id", flat=True))
    polled = calendar.connection.kind in POLLED_KINDS and any(
        rule.enabled for rule in rules if rule.id in source_of
    )
    return CalendarSyncState(
        calendar=calendar,
        polled=polled,
        next_poll_at=_next_poll_at(calendar) if polled else None,
        blocks_held=Block.objects.filter(target_calendar=calendar).count(),
        blocks_made=Block.objects.filter(source_calendar=calendar).count(),
        rules=[
            CalendarRule(rule=rule, as_source=rule.id in source_of, as_target=rule.id in target_of)
            for rule in rules
        ],
    )


def _next_poll_at(calendar: Calendar) -> datetime | None:
    """When the poller next looks at the calendar: its own moment in the interval
    (``syncrules.polling``), or a whole interval after its last sync before the poller has
    given it one."""
    planned = (
        SyncState.objects.filter(calendar=calendar).values_list("next_poll_at", flat=True).first()
    )
    if planned is not None:
        return planned
    if calendar.last_synced_at is None:
        return None
    return calendar.last_synced_at + timedelta(seconds=settings.SYNC_POLL_INTERVAL_SECONDS)


# How long the home page keeps telling of a mass deletion that went ahead.
MASS_DELETION_SHOWN_FOR = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class MassDeletion:
    """Most events of a source calendar vanished at once: their blocks are held (being checked
    again) or were removed after a confirming read."""

    calendar: Calendar
    blocks: int
    held: bool
    at: datetime


def mass_deletions_for_user(user: User) -> list[MassDeletion]:
    """Deletions held now, then those confirmed in the last week, newest first; one per calendar."""
    found: dict[object, MassDeletion] = {}
    for held in SyncState.objects.filter(
        calendar__connection__user=user, deletions_held__gt=0
    ).select_related("calendar"):
        found[held.calendar_id] = MassDeletion(
            calendar=held.calendar,
            blocks=held.deletions_held,
            held=True,
            at=held.deletions_held_at or timezone.now(),
        )
    runs = (
        SyncRun.objects.filter(
            rule__user=user,
            deletions_confirmed=True,
            started_at__gte=timezone.now() - MASS_DELETION_SHOWN_FOR,
        )
        .exclude(source_calendar=None)
        .select_related("source_calendar")
        .order_by("-started_at")
    )
    for run in runs:
        if run.source_calendar is None:  # excluded by the query, which the type cannot tell
            continue
        found.setdefault(
            run.source_calendar_id,
            MassDeletion(
                calendar=run.source_calendar, blocks=run.deleted, held=False, at=run.started_at
            ),
        )
    return sorted(found.values(), key=lambda deletion: deletion.at, reverse=True)
