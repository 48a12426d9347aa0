"""The Free plan's limit on booking pages, as billing asks (``accounts.billing.plans``): open
pages count; when Pro ends the newest beyond the limit are closed, and open again with Pro."""

from __future__ import annotations

from accounts.billing.plans import Limited
from accounts.models import PlanPause, User
from booking.models import BookingPage


def count(user: User) -> int:
    return BookingPage.objects.filter(owner=user, active=True).count()


def pause_beyond(user: User, allowed: int) -> list[BookingPage]:
    pages = BookingPage.objects.filter(owner=user, active=True).order_by("created_at", "id")
    paused = list(pages[allowed:])
    for page in paused:
        page.active = False
        page.save(update_fields=["active", "updated_at"])
        PlanPause.objects.create(user=user, page=page)
    return paused


def resume(pause: PlanPause) -> None:
    pause.page.active = True
    pause.page.save(update_fields=["active", "updated_at"])


LIMITED = Limited(count=count, pause_beyond=pause_beyond, resume=resume)
