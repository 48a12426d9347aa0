"""The two plans, what the Free plan allows, and the check that enforces it.

What counts against the Free limits is what does work for the user:

- sync rules that are **on** (a rule saved switched off is kept, and costs nothing);
- **calendar accounts** connected: a Google or Microsoft account, an iCloud or CalDAV login, or an
  iCal link, each with however many calendars it holds (Zoom is not a calendar; a disconnected
  account or one being removed does not count);
- booking pages that are **open** (a paused page keeps its settings and bookings).

The services that add or switch on one of these call ``limit_check`` first, in their transaction,
and refuse with ``PlanLimitReached``: nothing is saved, and the view shows why with a way to upgrade.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db import models, transaction

from accounts.models import PlanPause, Subscription, User
from booking.models import BookingPage
from calendars.models import Connection
from syncrules.models import SyncRule


class Plan(models.TextChoices):
    FREE = "free", "Free"
    PRO = "pro", "Pro"


class Limit(models.TextChoices):
    RULES = "rules", "sync rules on"
    CALENDAR_ACCOUNTS = "calendar_accounts", "calendar accounts connected"
    BOOKING_PAGES = "booking_pages", "booking pages open"


FREE_LIMITS = {Limit.RULES: 1, Limit.CALENDAR_ACCOUNTS: 2, Limit.BOOKING_PAGES: 1}

_REFUSALS = {
    Limit.RULES: "The Free plan runs {allowed} sync rule at a time, and you have {in_use} on.",
    Limit.CALENDAR_ACCOUNTS: (
        "The Free plan connects {allowed} calendar accounts, and you have {in_use} connected."
    ),
    Limit.BOOKING_PAGES: (
        "The Free plan keeps {allowed} booking page open at a time, and you have {in_use} open."
    ),
}


class PlanLimitReached(Exception):
    """Adding this would take the user past a Free limit; nothing was changed."""

    def __init__(self, *, limit: Limit, allowed: int, in_use: int) -> None:
        self.limit, self.allowed, self.in_use = limit, allowed, in_use
        super().__init__(_REFUSALS[limit].format(allowed=allowed, in_use=in_use))

    @property
    def message(self) -> str:
        return str(self)


def billing_configured() -> bool:
    """Whether this server sells Pro. Without Stripe keys nobody is limited (self-hosting)."""
    return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_PRO_PRICE_ID)


def plan_for(user: User) -> Plan:
    if not billing_configured():
        return Plan.PRO
    subscription = Subscription.objects.filter(user=user).only("status").first()
    return Plan.PRO if subscription is not None and subscription.is_live else Plan.FREE


def usage(user: User) -> dict[Limit, int]:
    """How much of each limited thing the user has now."""
    return {limit: _in_use(user, limit) for limit in Limit}


def limit_check(*, user: User, limit: Limit, adding: int = 1) -> None:
    """Refuse with ``PlanLimitReached`` if ``adding`` more would exceed the user's plan.

    Inside a transaction the user's row is locked first, so that two requests adding at the same
    moment are counted one after the other.
    """
    if plan_for(user) == Plan.PRO:
        return
    if transaction.get_connection().in_atomic_block:
        User.objects.select_for_update().filter(pk=user.pk).exists()
    allowed, in_use = FREE_LIMITS[limit], _in_use(user, limit)
    if in_use + adding > allowed:
        raise PlanLimitReached(limit=limit, allowed=allowed, in_use=in_use)


def would_exceed(*, user: User, limit: Limit) -> PlanLimitReached | None:
    """The refusal adding one more would meet, if any (for a prompt before the user fills a form)."""
    try:
        limit_check(user=user, limit=limit)
    except PlanLimitReached as refusal:
        return refusal
    return None


@dataclass
class Overview:
    """What the Settings page and the notices say about the user's plan."""

    configured: bool
    plan: Plan
    subscription: Subscription | None
    usage: dict[Limit, int] = field(default_factory=dict)
    paused_rules: list[SyncRule] = field(default_factory=list)
    paused_pages: list[BookingPage] = field(default_factory=list)

    @property
    def rows(self) -> list[tuple[str, int, int]]:
        """(what, in use, Free allows) for each limit."""
        return [(limit.label, self.usage[limit], FREE_LIMITS[limit]) for limit in Limit]

    @property
    def free_limits(self) -> dict[str, int]:
        return {limit.value: allowed for limit, allowed in FREE_LIMITS.items()}

    @property
    def payment_failed(self) -> bool:
        return self.subscription is not None and self.subscription.payment_failed_at is not None

    @property
    def paused_count(self) -> int:
        return len(self.paused_rules) + len(self.paused_pages)


def plan_overview(user: User) -> Overview:
    configured = billing_configured()
    if not configured:
        return Overview(configured=False, plan=Plan.PRO, subscription=None)
    pauses = PlanPause.objects.filter(user=user).select_related("rule", "page")
    pauses = pauses.order_by("paused_at", "id")
    return Overview(
        configured=True,
        plan=plan_for(user),
        subscription=Subscription.objects.filter(user=user).first(),
        usage=usage(user),
        paused_rules=[pause.rule for pause in pauses if pause.rule and not pause.rule.enabled],
        paused_pages=[pause.page for pause in pauses if pause.page and not pause.page.active],
    )


def plan_pause_forget(*, rule: SyncRule | None = None, page: BookingPage | None = None) -> None:
    """The owner switched this rule or page on again: it is no longer paused by the plan."""
    if rule is not None:
        PlanPause.objects.filter(rule=rule).delete()
    if page is not None:
        PlanPause.objects.filter(page=page).delete()


def _in_use(user: User, limit: Limit) -> int:
    if limit == Limit.RULES:
        return SyncRule.objects.filter(user=user, enabled=True).count()
    if limit == Limit.BOOKING_PAGES:
        return BookingPage.objects.filter(owner=user, active=True).count()
    return (
        Connection.objects.filter(user=user)
        .exclude(kind=Connection.Kind.ZOOM)
        .exclude(status__in=Connection.RELEASED)
        .count()
    )
