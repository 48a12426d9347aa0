"""The portfolio page, its events for a visible range (JSON), and the calendars' preferences."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import cache, wraps
from typing import Any, cast
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.http import AuthenticatedHttpRequest
from calendars.models import Calendar, Connection
from integrations.base import ActionRefused, EventConflict, ProviderError
from integrations.wording import error_text
from multical.lib import rate_limits
from portfolio import actions
from portfolio.fetch import events_for
from portfolio.forms import (
    ChangeForm,
    EventForm,
    EventRefForm,
    MoveForm,
    PreferenceForm,
    RangeError,
    RemoveForm,
    ReplyForm,
    parse_range,
)
from portfolio.payload import opened_json, result_json
from portfolio.selectors import calendar_color, get_calendar_for_user, portfolio_calendars
from portfolio.services import preference_update
from portfolio.words import portfolio_words

URL_CALENDAR_PLACEHOLDER = UUID(int=0)


@cache
def _zone_names() -> list[str]:
    return sorted(zoneinfo.available_timezones())


@never_cache
@login_required
@require_GET
def portfolio(request: AuthenticatedHttpRequest) -> HttpResponse:
    calendars = portfolio_calendars(request.user)
    config = {
        "writable": [item.id for item in calendars if item.writable],
        "scopes": {item.id: item.scopes for item in calendars if item.writable},
        "zoom": Connection.objects.usable()
        .filter(user=request.user, kind=Connection.Kind.ZOOM)
        .exclude(secrets="")
        .exists(),
        "eventsUrl": reverse("portfolio:events"),
        # With the calendar's id in place of this one: the page fills in each event's calendar.
        "eventUrls": {
            action: reverse(f"portfolio:{name}", args=[URL_CALENDAR_PLACEHOLDER])
            for action, name in (
                ("open", "event"),
                ("create", "event_create"),
                ("update", "event_update"),
                ("move", "event_move"),
                ("remove", "event_remove"),
                ("reply", "event_reply"),
            )
        },
        "calendarPlaceholder": str(URL_CALENDAR_PLACEHOLDER),
        "timeZone": request.user.time_zone,
        "firstDay": request.user.week_start,
        "clock": request.user.clock,
    }
    return render(
        request,
        "portfolio/portfolio.html",
        {
            "calendars": calendars,
            "config": config,
            "words": portfolio_words(),
            "zones": _zone_names(),
            "user_zone": request.user.time_zone,
            "writable_calendars": [item for item in calendars if item.writable],
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
        return JsonResponse({"error": gettext("Log in to see your calendars.")}, status=401)
    try:
        window = parse_range(request.GET.get("start"), request.GET.get("end"))
    except RangeError as error:
        return JsonResponse({"error": str(error)}, status=400)
    return JsonResponse(result_json(events_for(request.user, window)))


@never_cache
@login_required
@require_POST
def calendar_preference(request: AuthenticatedHttpRequest, calendar_id: str) -> HttpResponse:
    """Change how a calendar is shown: JSON for the page's script, else back to the page."""
    calendar = get_calendar_for_user(request.user, calendar_id)
    wants_json = "application/json" in request.headers.get("Accept", "")
    form = PreferenceForm(request.POST)
    if not form.is_valid():
        if wants_json:
            return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
        problems = [str(message) for messages_ in form.errors.values() for message in messages_]
        messages.error(
            request,
            gettext("That could not be saved: %(problems)s") % {"problems": " ".join(problems)},
        )
        return redirect("portfolio:portfolio")
    preference = preference_update(calendar=calendar, **form.changes())
    if wants_json:
        return JsonResponse(
            {
                "id": str(calendar.id),
                "color": calendar_color(calendar),
                "shown": preference.shown,
                "name": preference.display_name or calendar.name,
            }
        )
    return redirect("portfolio:portfolio")


# The event panel's actions: JSON in and out, for the page's script ------------------------------

_action_limit = rate_limits.ratelimit(
    group="portfolio-action", rate=rate_limits.setting_rate("PORTFOLIO_ACTION_RATE")
)
_JsonView = Callable[[AuthenticatedHttpRequest, Calendar], JsonResponse]


def _signed_in(view: _JsonView) -> Callable[[HttpRequest, UUID], JsonResponse]:
    """Like ``login_required``, but a script is answered 401 in JSON instead of redirected."""

    @wraps(view)
    def checked(request: HttpRequest, calendar_id: UUID) -> JsonResponse:
        if not request.user.is_authenticated:
            return JsonResponse({"error": gettext("Log in to change your calendars.")}, status=401)
        # Anyone else's calendar is a 404 before anything they sent is even looked at.
        calendar = get_calendar_for_user(request.user, calendar_id)
        return view(cast(AuthenticatedHttpRequest, request), calendar)

    return checked


def _action(method: str) -> Callable[[_JsonView], Callable[[HttpRequest, UUID], JsonResponse]]:
    """What every action endpoint is: never cached, rate-limited, signed in (another user's
    calendar a 404), and ``method`` only."""

    def wrap(view: _JsonView) -> Callable[[HttpRequest, UUID], JsonResponse]:
        return never_cache(_action_limit(_signed_in(require_http_methods([method])(view))))

    return wrap


def _invalid(form: forms.Form) -> JsonResponse:
    return JsonResponse(
        {"error": gettext("Some fields need another look."), "fields": form.errors.get_json_data()},
        status=400,
    )


def _failed(error: ProviderError, calendar: Calendar, event_id: str) -> JsonResponse:
    """A provider's refusal or failure as the panel shows it: nothing is lost, and after a
    conflict the event as it is now comes along, so the user sees what changed."""
    body: dict[str, object] = {"error": error_text(error)}
    if isinstance(error, EventConflict) and event_id:
        try:
            current = actions.event_open(calendar=calendar, event_id=event_id)
            body["current"] = opened_json(current)
        except ProviderError:
            pass  # gone meanwhile: the message says the event changed
        return JsonResponse(body, status=409)
    if isinstance(error, ActionRefused):
        return JsonResponse(body, status=403)
    response = JsonResponse(body, status=502 if error.permanent else 503)
    if not error.permanent:
        response["Retry-After"] = str(max(1, round(error.retry_after or 30)))
    return response


def _act(
    calendar: Calendar,
    form: forms.Form,
    act: Callable[[dict[str, Any]], actions.Opened | None],
    *,
    status: int = 200,
) -> JsonResponse:
    """Check the form, carry out ``act`` with its data, answer with the event as it is now (or
    that it is gone), or with why not."""
    if not form.is_valid():
        return _invalid(form)
    data = form.cleaned_data
    try:
        opened = act(data)
    except ProviderError as error:
        return _failed(error, calendar, data.get("event", ""))
    if opened is None:
        return JsonResponse({"removed": True})
    return JsonResponse(opened_json(opened), status=status)


@_action("GET")
def event(request: AuthenticatedHttpRequest, calendar: Calendar) -> JsonResponse:
    """One event, read now, for the panel: ``calendar`` and ``event`` as the feed named them."""
    return _act(
        calendar,
        EventRefForm(request.GET),
        lambda data: actions.event_open(calendar=calendar, event_id=data["event"]),
    )


@_action("POST")
def event_create(request: AuthenticatedHttpRequest, calendar: Calendar) -> JsonResponse:
    """A new event in one of the user's writable calendars."""
    return _act(
        calendar,
        EventForm(request.POST),
        lambda data: actions.event_create(
            calendar=calendar, draft=data["draft"], zoom=data["zoom"]
        ),
        status=201,
    )


@_action("POST")
def event_update(request: AuthenticatedHttpRequest, calendar: Calendar) -> JsonResponse:
    """An event edited (``scope`` for a recurring one, ``etag`` as read)."""
    return _act(
        calendar,
        ChangeForm(request.POST),
        lambda data: actions.event_update(
            calendar=calendar,
            event_id=data["event"],
            draft=data["draft"],
            scope=data["scope"],
            etag=data["etag"],
        ),
    )


@_action("POST")
def event_move(request: AuthenticatedHttpRequest, calendar: Calendar) -> JsonResponse:
    """An event dragged or resized: new times, the rest kept."""
    return _act(
        calendar,
        MoveForm(request.POST),
        lambda data: actions.event_move(
            calendar=calendar,
            event_id=data["event"],
            start=data["start"],
            end=data["end"],
            scope=data["scope"],
            etag=data["etag"],
        ),
    )


@_action("POST")
def event_remove(request: AuthenticatedHttpRequest, calendar: Calendar) -> JsonResponse:
    return _act(
        calendar,
        RemoveForm(request.POST),
        lambda data: actions.event_remove(
            calendar=calendar,
            event_id=data["event"],
            scope=data["scope"],
            etag=data["etag"],
        ),
    )


@_action("POST")
def event_reply(request: AuthenticatedHttpRequest, calendar: Calendar) -> JsonResponse:
    """The owner's answer to an invitation."""
    return _act(
        calendar,
        ReplyForm(request.POST),
        lambda data: actions.event_reply(
            calendar=calendar,
            event_id=data["event"],
            response=data["response"],
        ),
    )
