"""The Free plan's limit on booking pages, as billing asks (``accounts.billing.plans``): open
pages count; when Pro ends the newest beyond the limit are closed, and open again with Pro
(unless an organization's policy keeps the owner from publishing pages, ``orgs.policies``)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from accounts.billing.plans import Limited
from accounts.models import User
from booking.models import BookingPage
from orgs.policies import public_pages_refusal


def count(user: User) -> int:
    return BookingPage.objects.filter(owner=user, active=True).count()


def pause_beyond(user: User, allowed: int) -> list[BookingPage]:
    pages = BookingPage.objects.filter(owner=user, active=True).order_by("created_at", "id")
    paused = list(pages[allowed:])
    now = timezone.now()
    for page in paused:
        page.active, page.plan_paused_at = False, now
        page.save(update_fields=["active", "plan_paused_at", "updated_at"])
    return paused


def _paused(user: User) -> QuerySet[BookingPage]:
    pages = BookingPage.objects.filter(owner=user, active=False, plan_paused_at__isnull=False)
    return pages.order_by("plan_paused_at", "id")


def paused(user: User) -> list[BookingPage]:
    return list(_paused(user))


def resume_paused(user: User) -> int:
    if public_pages_refusal(user) is not None:
        return 0  # an organization's policy keeps them closed: they stay paused
    pages = list(_paused(user))
    for page in pages:
        page.active, page.plan_paused_at = True, None
        page.save(update_fields=["active", "plan_paused_at", "updated_at"])
    return len(pages)


LIMITED = Limited(count=count, pause_beyond=pause_beyond, paused=paused, resume=resume_paused)
