"""The two plans, what the Free plan allows, and the check that enforces it.

What counts against the Free limits is what does work for the user:

- sync rules that are **on** (a rule saved switched off is kept, and costs nothing);
- **calendar accounts** connected: a Google or Microsoft account, an iCloud or CalDAV login, or an
  iCal link, each with however many calendars it holds (Zoom is not a calendar; a disconnected
  account or one being removed does not count);
- booking pages that are **open** (a paused page keeps its settings and bookings).

The services that add or switch on one of these call ``limit_check`` first, in their transaction,
and refuse with ``PlanLimitReached``: nothing is saved, and the view shows why with a way to upgrade.

Each app that owns a limited thing registers how it is counted, paused when Pro ends and resumed
(``register_limited``, from its ``AppConfig.ready``): billing imports none of them, and the mark of
a thing paused by the plan lives on the thing itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import Subscription, User


class Plan(models.TextChoices):
    FREE = "free", "Free"
    PRO = "pro", "Pro"


class Limit(models.TextChoices):
    RULES = "rules", _("sync rules on")
    CALENDAR_ACCOUNTS = "calendar_accounts", _("calendar accounts connected")
    BOOKING_PAGES = "booking_pages", _("booking pages open")


FREE_LIMITS = {Limit.RULES: 1, Limit.CALENDAR_ACCOUNTS: 2, Limit.BOOKING_PAGES: 1}


@dataclass(frozen=True)
class Limited:
    """How the app that owns a limited thing counts it and, for what Pro's end pauses: pauses the
    ones beyond what Free allows (switched off and marked as paused by the plan, oldest kept;
    returns them), lists those still paused that way, and resumes them all (returns how many)."""

    count: Callable[[User], int]
    pause_beyond: Callable[[User, int], list[Any]] | None = None
    paused: Callable[[User], list[Any]] | None = None
    resume: Callable[[User], int] | None = None

    def __post_init__(self) -> None:
        pausing = (self.pause_beyond, self.paused, self.resume)
        if any(pausing) and not all(pausing):
            raise TypeError("What Pro's end pauses must be listed and resumed too.")


_LIMITED: dict[Limit, Limited] = {}


def register_limited(limit: Limit, limited: Limited) -> None:
    _LIMITED[limit] = limited


def limited(limit: Limit) -> Limited:
    try:
        return _LIMITED[limit]
    except KeyError:
        raise LookupError(f"No app registered how to count {limit.label}.") from None


_REFUSALS = {
    Limit.RULES: _(
        "The Free plan runs %(allowed)s sync rule at a time, and you have %(in_use)s on."
    ),
    Limit.CALENDAR_ACCOUNTS: _(
        "The Free plan connects %(allowed)s calendar accounts, and you have %(in_use)s connected."
    ),
    Limit.BOOKING_PAGES: _(
        "The Free plan keeps %(allowed)s booking page open at a time, and you have %(in_use)s open."
    ),
}


class PlanLimitReached(Exception):
    """Adding this would take the user past a Free limit; nothing was changed."""

    def __init__(self, *, limit: Limit, allowed: int, in_use: int) -> None:
        self.limit, self.allowed, self.in_use = limit, allowed, in_use
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """Why, in the active language."""
        return _REFUSALS[self.limit] % {"allowed": self.allowed, "in_use": self.in_use}


def billing_configured() -> bool:
    """Whether this server sells Pro. Without Stripe keys nobody is limited (self-hosting)."""
    return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_PRO_PRICE_ID)


# Other ways than the user's own subscription to have Pro (an organization paying for its members'
# seats), registered by the apps that own them (``register_plan_source``): billing imports none.
_PLAN_SOURCES: list[Callable[[User], str | None]] = []


def register_plan_source(source: Callable[[User], str | None]) -> None:
    """``source(user)`` names what gives the user Pro through it (an organization's name), or
    None; on the terms of a personal subscription (live while Stripe keeps it going, past due
    included)."""
    if source not in _PLAN_SOURCES:
        _PLAN_SOURCES.append(source)


def plan_for(user: User) -> Plan:
    if not billing_configured():
        return Plan.PRO
    subscription = Subscription.objects.filter(user=user).only("status").first()
    if subscription is not None and subscription.is_live:
        return Plan.PRO
    return Plan.PRO if _pro_through(user) else Plan.FREE


def _pro_through(user: User) -> str | None:
    """What other than a subscription of their own gives the user Pro, named, if anything."""
    return next((name for source in _PLAN_SOURCES if (name := source(user))), None)


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
    # The rules and pages Pro's end paused (syncrules' and booking's models).
    paused_rules: list[Any] = field(default_factory=list)
    paused_pages: list[Any] = field(default_factory=list)
    # What gives the user Pro when no subscription of their own does (an organization's name).
    pro_through: str = ""

    @property
    def rows(self) -> list[tuple[str, int, int]]:
        """(what, in use, Free allows) for each limit."""
        return [(str(limit.label), self.usage[limit], FREE_LIMITS[limit]) for limit in Limit]

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
    subscription = Subscription.objects.filter(user=user).first()
    own = subscription is not None and subscription.is_live
    through = "" if own else (_pro_through(user) or "")
    return Overview(
        configured=True,
        plan=Plan.PRO if own or through else Plan.FREE,
        subscription=subscription,
        usage=usage(user),
        paused_rules=_paused(user, Limit.RULES),
        paused_pages=_paused(user, Limit.BOOKING_PAGES),
        pro_through=through,
    )


def _paused(user: User, limit: Limit) -> list[Any]:
    paused = limited(limit).paused
    return paused(user) if paused is not None else []


def _in_use(user: User, limit: Limit) -> int:
    return limited(limit).count(user)
