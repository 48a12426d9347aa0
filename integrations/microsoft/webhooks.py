"""Receivers of Graph's change and lifecycle notifications.

Graph first checks an address by POSTing ``?validationToken=…``: we echo the token as text/plain
at once (Graph waits 10 s) and touch nothing else. A notification is a JSON batch ``{"value":
[…]}``; each item names Graph's subscription id (``Calendar.push_resource_id``) and carries the
clientState we gave it, derived from the calendar's ``push_channel_id``. An item whose
subscription we do not know, or whose clientState does not verify, is ignored before any work is
queued. Graph retries and duplicates notifications, and throttles endpoints slower than 3 s, so
the answer is a quick 202 and the syncs coalesce per calendar.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from calendars.models import Calendar, Connection
from calendars.tasks import enqueue_channel_renewal
from integrations.push import channel_secret_matches
from syncrules.tasks import enqueue_calendar_sync


@csrf_exempt
@require_POST
def graph_notification(request: HttpRequest) -> HttpResponse:
    if (token := request.GET.get("validationToken")) is not None:
        return _echo(token)
    items = _items(request)
    if items is None:
        return HttpResponseBadRequest()
    for calendar_id in {calendar.id for calendar, _ in _verified(items)}:
        enqueue_calendar_sync(str(calendar_id))
    return HttpResponse(status=202)


@csrf_exempt
@require_POST
def graph_lifecycle(request: HttpRequest) -> HttpResponse:
    """reauthorizationRequired → renew; subscriptionRemoved → subscribe again and read in full;
    missed → read the changes (the delta link has them)."""
    if (token := request.GET.get("validationToken")) is not None:
        return _echo(token)
    items = _items(request)
    if items is None:
        return HttpResponseBadRequest()
    handled: set[tuple[str, str]] = set()
    for calendar, item in _verified(items):
        calendar_id, event = str(calendar.id), str(item.get("lifecycleEvent", ""))
        if (calendar_id, event) in handled:
            continue
        handled.add((calendar_id, event))
        if event == "reauthorizationRequired":
            enqueue_channel_renewal(calendar_id)
        elif event == "subscriptionRemoved":
            enqueue_channel_renewal(calendar_id, anew=True)
            enqueue_calendar_sync(calendar_id, full=True)
        elif event == "missed":
            enqueue_calendar_sync(calendar_id)
    return HttpResponse(status=202)


def _echo(token: str) -> HttpResponse:
    return HttpResponse(token, content_type="text/plain; charset=utf-8")


def _items(request: HttpRequest) -> list[dict[str, Any]] | None:
    try:
        payload = json.loads(request.body)
    except ValueError:
        return None
    items = payload.get("value") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return None
    return [item for item in items if isinstance(item, dict)]


def _verified(items: list[dict[str, Any]]) -> Iterator[tuple[Calendar, dict[str, Any]]]:
    """The items from a subscription of ours whose clientState verifies, with their calendar."""
    subscription_ids = {
        item["subscriptionId"] for item in items if isinstance(item.get("subscriptionId"), str)
    }
    calendars = {
        calendar.push_resource_id: calendar
        for calendar in Calendar.objects.filter(
            push_resource_id__in=subscription_ids, connection__kind=Connection.Kind.MICROSOFT
        )
        .exclude(push_channel_id="")
        .only("id", "push_channel_id", "push_resource_id")
    }
    for item in items:
        calendar = calendars.get(item.get("subscriptionId"))  # type: ignore[arg-type]
        client_state = item.get("clientState")
        if (
            calendar is not None
            and isinstance(client_state, str)
            and channel_secret_matches(calendar.push_channel_id, client_state)
        ):
            yield calendar, item
