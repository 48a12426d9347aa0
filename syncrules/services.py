"""Writes for sync rules: create, update, turn on or off, delete, and the "block each other" set.

A rule change is followed by the syncs it calls for, queued when the transaction commits: a full
read of each source of an enabled rule (so every block is rendered again with the new settings),
and a clean-up that removes blocks no rule wants any more (a source or target taken out of the
rule, a rule turned off or deleted).

A rule created on, or turned on, counts against the Free plan's rules (``accounts.billing.plans``):
over the limit the service raises ``PlanLimitReached`` and saves nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import time
from typing import ClassVar

from django.db import transaction

from accounts.billing.plans import Limit, limit_check
from accounts.models import User
from calendars.models import Calendar
from multical.lib.model_settings import ModelSettings
from syncrules.choices import Handling, ShowAs, Visibility
from syncrules.models import SyncRule
from syncrules.tasks import enqueue_calendar_sync, enqueue_stale_block_removal

BLOCK_EACH_OTHER_SUFFIX = " → others"


@dataclass(frozen=True, kw_only=True)
class RuleSettings(ModelSettings):
    """A rule's own settings, its calendars aside: what the rule form, the admin, the demo (and
    any other caller) hands the services, typed. A new setting is a field of the model, a field
    here and a field of the form."""

    name: str
    enabled: bool
    visibility: Visibility
    busy_title: str
    show_location: bool
    show_video_link: bool
    include_keywords: tuple[str, ...]
    exclude_keywords: tuple[str, ...]
    skip_declined: bool
    skip_free: bool
    tentative: Handling
    all_day: Handling
    show_as: ShowAs
    lookahead_days: int
    lookback_days: int
    weekdays: tuple[int, ...]  # ISO weekdays; empty: every day
    working_hours_start: time | None
    working_hours_end: time | None

    TYPED: ClassVar = {
        "visibility": Visibility,
        "tentative": Handling,
        "all_day": Handling,
        "show_as": ShowAs,
    }
    SEQUENCES: ClassVar = ("include_keywords", "exclude_keywords", "weekdays")


def rule_build(*, user: User, settings: RuleSettings) -> SyncRule:
    """An unsaved rule holding ``settings`` (for a preview, or to save)."""
    rule = SyncRule(user=user)
    settings.apply_to(rule)
    return rule


@transaction.atomic
def rule_create(
    *,
    user: User,
    settings: RuleSettings,
    sources: Sequence[Calendar],
    targets: Sequence[Calendar],
) -> SyncRule:
    rule = rule_build(user=user, settings=settings)
    if rule.enabled:
        limit_check(user=user, limit=Limit.RULES)
    sources, targets = _checked_calendars(user, sources, targets)
    rule.save()
    rule.sources.set(sources)
    rule.targets.set(targets)
    _enqueue_full_syncs(sources)
    return rule


@transaction.atomic
def rule_update(
    *,
    rule: SyncRule,
    settings: RuleSettings,
    sources: Sequence[Calendar],
    targets: Sequence[Calendar],
) -> SyncRule:
    """Save new settings; every block is rendered again, and blocks the rule no longer wants go."""
    sources, targets = _checked_calendars(rule.user, sources, targets)
    _switching_on(rule, settings.enabled)
    former_sources = list(rule.sources.all())
    settings.apply_to(rule)
    rule.save()
    rule.sources.set(sources)
    rule.targets.set(targets)
    _enqueue_full_syncs([*former_sources, *sources])
    enqueue_stale_block_removal()
    return rule


@transaction.atomic
def rule_set_enabled(*, rule: SyncRule, enabled: bool) -> None:
    """Turning a rule off removes its blocks (but those another rule also copies, which that rule
    renders again); turning it on writes them again."""
    if rule.enabled == enabled:
        return
    _switching_on(rule, enabled)
    rule.enabled = enabled
    rule.save(update_fields=["enabled", "plan_paused_at", "updated_at"])
    _enqueue_full_syncs(rule.sources.all())
    if not enabled:
        enqueue_stale_block_removal()


@transaction.atomic
def rule_delete(*, rule: SyncRule) -> None:
    """Delete the rule; its blocks outlive it (rule = NULL) until the clean-up deletes them
    remotely, or another rule that copies the same events renders them again."""
    sources = list(rule.sources.all())
    rule.delete()
    _enqueue_full_syncs(sources)
    enqueue_stale_block_removal()


@transaction.atomic
def rules_block_each_other(*, user: User, calendars: Sequence[Calendar]) -> list[SyncRule]:
    """One rule per calendar, copying its events as busy blocks into all the others."""
    if len({calendar.id for calendar in calendars}) < 2:
        raise ValueError("Blocking each other takes at least two calendars.")
    calendars, _ = _checked_calendars(user, calendars, calendars)
    limit_check(user=user, limit=Limit.RULES, adding=len(calendars))
    max_length = SyncRule._meta.get_field("name").max_length
    assert max_length is not None  # the name is a CharField, which has one
    name_length = max_length - len(BLOCK_EACH_OTHER_SUFFIX)
    rules = []
    for calendar in calendars:
        rule = SyncRule.objects.create(
            user=user, name=f"{calendar.name[:name_length]}{BLOCK_EACH_OTHER_SUFFIX}"
        )
        rule.sources.set([calendar])
        rule.targets.set([other for other in calendars if other.id != calendar.id])
        _enqueue_full_syncs([calendar])
        rules.append(rule)
    return rules


def _switching_on(rule: SyncRule, enabled: object) -> None:
    """A rule being turned on must fit the plan; once on, it is no longer paused by the plan."""
    if enabled and not rule.enabled:
        limit_check(user=rule.user, limit=Limit.RULES)
        rule.plan_paused_at = None


def _checked_calendars(
    user: User, sources: Iterable[Calendar], targets: Iterable[Calendar]
) -> tuple[list[Calendar], list[Calendar]]:
    """The rule's calendars, refusing what the forms already rule out (tenant isolation first)."""
    sources, targets = list(sources), list(targets)
    calendar_ids = {calendar.id for calendar in [*sources, *targets]}
    owned = Calendar.objects.filter(id__in=calendar_ids, connection__user=user).count()
    if owned != len(calendar_ids):
        raise ValueError("A rule can only use its owner's calendars.")
    if any(calendar.read_only for calendar in targets):
        raise ValueError("A read-only calendar cannot be a target.")
    return sources, targets


def _enqueue_full_syncs(calendars: Iterable[Calendar]) -> None:
    """A full read of each of ``calendars`` that an enabled rule reads, so that every block made
    from it is planned again under those rules (the blocks of the others are the clean-up's)."""
    read = (
        Calendar.objects.filter(
            id__in={calendar.id for calendar in calendars}, rules_as_source__enabled=True
        )
        .values_list("id", flat=True)
        .distinct()
    )
    for calendar_id in read:
        enqueue_calendar_sync(calendar_id, full=True)
