"""A calendar's own page: its sync state, and "Sync now".

It lives in syncrules, not in calendars, because what it shows and does is syncing: the
calendars app sits below syncrules in the layers (docs/ARCHITECTURE.md) and cannot import it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.http import AuthenticatedHttpRequest
from calendars.models import Calendar
from multical.lib import rate_limits
from syncrules import selectors
from syncrules.tasks import enqueue_calendar_sync
from syncrules.views import live_parts


@login_required
@require_http_methods(["GET", "POST"])
@rate_limits.ratelimit(
    group="sync-now", rate=rate_limits.setting_rate("SYNC_NOW_RATE"), method="POST"
)
def calendar_detail(request: AuthenticatedHttpRequest, calendar_id: str) -> HttpResponse:
    """A calendar's sync state; POST asks for a sync now."""
    calendar = selectors.get_calendar_for_user(request.user, calendar_id)
    if request.method == "POST":
        enqueue_calendar_sync(calendar.id)
        messages.success(request, _("Sync queued"))
        return redirect("syncrules:calendar_detail", calendar_id=calendar.id)
    return render(request, "calendars/calendar_detail.html", _calendar_status_context(calendar))


@login_required
@require_GET
def calendar_status(request: AuthenticatedHttpRequest, calendar_id: str) -> JsonResponse:
    """The calendar page's sync facts, for static/syncrules/live_status.js while it syncs."""
    calendar = selectors.get_calendar_for_user(request.user, calendar_id)
    context = _calendar_status_context(calendar)
    return live_parts(
        request,
        active=context["active"],
        parts={"calendar-status": ("syncrules/includes/calendar_facts.html", context)},
    )


def _calendar_status_context(calendar: Calendar) -> dict[str, Any]:
    activity = selectors.calendar_activity([calendar.id])[str(calendar.id)]
    return {
        "calendar": calendar,
        "state": selectors.calendar_sync_state(calendar),
        "activity": activity,
        "active": activity != selectors.Activity.IDLE,
    }
