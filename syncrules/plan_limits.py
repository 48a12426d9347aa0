"""The Free plan's limit on sync rules, as billing asks (``accounts.billing.plans``): rules that
are on count; when Pro ends the newest beyond the limit are switched off, and come back with Pro."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.billing.plans import Limited
from accounts.models import User
from syncrules.models import SyncRule
from syncrules.services import rule_set_enabled
from webhooks.events import RULE_PAUSED_BY_PLAN, RulePaused
from webhooks.services import event_record


def count(user: User) -> int:
    return SyncRule.objects.filter(user=user, enabled=True).count()


def pause_beyond(user: User, allowed: int) -> list[SyncRule]:
    rules = SyncRule.objects.filter(user=user, enabled=True).order_by("created_at", "id")
    paused = list(rules[allowed:])
    now = timezone.now()
    for rule in paused:
        with transaction.atomic():
            rule_set_enabled(rule=rule, enabled=False)
            rule.plan_paused_at = now
            rule.save(update_fields=["plan_paused_at"])
            event_record(user_id=user.id, event=RulePaused(rule.id, RULE_PAUSED_BY_PLAN, now))
    return paused


def _paused(user: User) -> QuerySet[SyncRule]:
    rules = SyncRule.objects.filter(user=user, enabled=False, plan_paused_at__isnull=False)
    return rules.order_by("plan_paused_at", "id")


def paused(user: User) -> list[SyncRule]:
    return list(_paused(user))


def resume_paused(user: User) -> int:
    rules = list(_paused(user))
    for rule in rules:
        rule_set_enabled(rule=rule, enabled=True)
    return len(rules)


LIMITED = Limited(count=count, pause_beyond=pause_beyond, paused=paused, resume=resume_paused)
