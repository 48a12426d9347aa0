"""The portfolio page, its events for a visible range (JSON), and the calendars' preferences."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from multical.lib import rate_limits
from portfolio.fetch import events_for
from portfolio.forms import PreferenceForm, RangeError, parse_range
from portfolio.payload import result_json
from portfolio.selectors import calendar_color, get_calendar_for_user, portfolio_calendars
from portfolio.services import preference_update


@cache
def _zone_names() -> list[str]:
    return sorted(zoneinfo.available_timezones())


@never_cache
@login_required
@require_GET
def portfolio(request: AuthenticatedHttpRequest) -> HttpResponse:
    calendars = portfolio_calendars(request.user)
    config = {
        "eventsUrl": reverse("portfolio:events"),
        "timeZone": request.user.time_zone,
    }
    return render(
        request,
        "portfolio/portfolio.html",
        {
            "calendars": calendars,
            "config": config,
            "zones": _zone_names(),
            "user_zone": request.user.time_zone,
        },
    )


@never_cache
@rate_limits.ratelimit(
    group="portfolio-fetch", rate=rate_limits.setting_rate("PORTFOLIO_FETCH_RATE")
)
@require_GET
def events(request: HttpRequest) -> JsonResponse:
    """The events of the user's shown calendars between ``start`` and ``end`` (ISO 8601 instants,
    at most 42 days apart), and the calendars that could not be read."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "Log in to see your calendars."}, status=401)
    try:
        window = parse_range(request.GET.get("start"), request.GET.get("end"))
    except RangeError as error:
        return JsonResponse({"error": str(error)}, status=400)
    return JsonResponse(result_json(events_for(request.user, window)))


@never_cache
@login_required
@require_POST
def calendar_preference(request: AuthenticatedHttpRequest, calendar_id: str) -> HttpResponse:
    """Change a calendar's colour or visibility: JSON for the page's script, else back to the page."""
    calendar = get_calendar_for_user(request.user, calendar_id)
    wants_json = "application/json" in request.headers.get("Accept", "")
    form = PreferenceForm(request.POST)
    if not form.is_valid():
        if wants_json:
            return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
        messages.error(request, "That colour could not be saved: choose one as #rrggbb.")
        return redirect("portfolio:portfolio")
    preference = preference_update(calendar=calendar, **form.changes())
    if wants_json:
        return JsonResponse(
            {"id": str(calendar.id), "color": calendar_color(calendar), "shown": preference.shown}
        )
    return redirect("portfolio:portfolio")
