"""How a refusal of the Free plan reads where it happens: always with the way to upgrade."""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from accounts.billing.plans import PlanLimitReached

# Where the plan card, with its Upgrade button, is.
PLAN_CARD = "accounts:settings"
PLAN_CARD_ANCHOR = "#plan"


def limit_message(refusal: PlanLimitReached, alternative: str) -> SafeString:
    """A one-line message (for ``messages``) naming the limit, linking to the upgrade, and saying
    what else the user can do (``alternative``, translated, starting with "or")."""
    return format_html(
        gettext('{refusal} <a href="{url}">Upgrade to Pro</a> to lift the limit, {alternative}'),
        refusal=refusal.message,
        url=reverse(PLAN_CARD) + PLAN_CARD_ANCHOR,
        alternative=alternative,
    )
