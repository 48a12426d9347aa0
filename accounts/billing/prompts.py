"""How a refusal of the Free plan reads where it happens: always with the way to upgrade."""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.billing.plans import PlanLimitReached

# Where the plan card, with its Upgrade button, is.
PLAN_CARD = "accounts:settings"
PLAN_CARD_ANCHOR = "#plan"


def limit_message(refusal: PlanLimitReached, alternative: str) -> SafeString:
    """A one-line message (for ``messages``) naming the limit, linking to the upgrade, and saying
    what else the user can do (``alternative``, starting with "or")."""
    return format_html(
        '{} <a href="{}">Upgrade to Pro</a> to lift the limit, {}',
        refusal.message,
        reverse(PLAN_CARD) + PLAN_CARD_ANCHOR,
        alternative,
    )
