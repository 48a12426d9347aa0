"""Booking's answer to an organization's policy (``orgs.policies``): when it keeps its members
from publishing booking pages, the pages they have open are closed at once, in the policy
change's own transaction (kept as drafts: their owners may edit them, not open them)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from booking.models import BookingPage
from orgs.policies import members_refused_public_pages, policy_changed


@receiver(policy_changed)
def close_pages_the_policy_refuses(sender: Any, *, organization_id: str, **_: Any) -> None:
    members = members_refused_public_pages(organization_id)
    if members:
        BookingPage.objects.filter(owner_id__in=members, active=True).update(active=False)
