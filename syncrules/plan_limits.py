"""The Free plan's limit on sync rules, as billing asks (``accounts.billing.plans``): rules that
are on count; when Pro ends the newest beyond the limit are switched off, and come back with Pro."""

from __future__ import annotations

from accounts.billing.plans import Limited
from accounts.models import PlanPause, User
from syncrules.models import SyncRule
from syncrules.services import rule_set_enabled


def count(user: User) -> int:
    return SyncRule.objects.filter(user=user, enabled=True).count()


def pause_beyond(user: User, allowed: int) -> list[SyncRule]:
    rules = SyncRule.objects.filter(user=user, enabled=True).order_by("created_at", "id")
    paused = list(rules[allowed:])
    for rule in paused:
        rule_set_enabled(rule=rule, enabled=False)
        PlanPause.objects.create(user=user, rule=rule)
    return paused


def resume(pause: PlanPause) -> None:
    rule_set_enabled(rule=pause.rule, enabled=True)


LIMITED = Limited(count=count, pause_beyond=pause_beyond, resume=resume)
