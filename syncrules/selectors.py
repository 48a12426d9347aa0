"""Reads for sync rules and the sync state of calendars.

Every lookup of a user's object goes through a helper that 404s anyone else: rules by their
owner, calendars through the connection they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User
from calendars.models import Calendar
from syncrules.engine import POLLED_KINDS
from syncrules.models import Block, SyncRule, SyncRun

HISTORY_LENGTH = 50


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
        .select_related("plan_pause")
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
    if calendar.last_synced_at is None:
        return None
    return calendar.last_synced_at + timedelta(seconds=settings.SYNC_POLL_INTERVAL_SECONDS)
