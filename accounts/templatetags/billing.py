"""``{% billing_notice %}``: what needs the user's attention about their plan (a failed payment,
rules and pages paused when Pro ended), for pages whose views know nothing of billing."""

from __future__ import annotations

from typing import Any

from django import template

from accounts.billing.plans import plan_overview

register = template.Library()


@register.inclusion_tag("accounts/billing_notice.html", takes_context=True)
def billing_notice(context: template.Context) -> dict[str, Any]:
    user = context["request"].user
    return {"plan": plan_overview(user) if user.is_authenticated else None}
