"""Receivers of Graph's change and lifecycle notifications.

Graph first checks an address by POSTing ``?validationToken=…`` with no body: we echo the token as
text/plain at once (Graph waits 10 s) and touch nothing else; a token of another shape, or one
that comes with a body, is a 400 and never reflected. A notification is a JSON batch ``{"value":
[…]}``; each item names Graph's subscription id (``Calendar.push_resource_id``) and carries the
clientState we gave it, derived from the calendar's ``push_channel_id``. A body of any other shape
is a 400. An item whose subscription we do not know, or whose clientState does not verify, is
ignored before any work is queued. Graph retries and duplicates notifications, and throttles
endpoints slower than 3 s, so the answer is a quick 202 and the syncs coalesce per calendar.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from calendars.models import Calendar, Connection
from calendars.signals import calendar_changed
from calendars.tasks import enqueue_channel_renewal
from calendars.webhooks import answer_timed
from integrations.push import channel_secret_matches

# Graph's handshake token is opaque ("Validation: Testing client application reachability for
# subscription Request-Id: <uuid>" today, and it may change) but never holds HTML or script: a
# token longer than this, or with a character outside printable ASCII or one that means something
# in HTML, is not Graph's and is never reflected back.
_VALIDATION_TOKEN = re.compile(r"[ !#$%(-;=?-_a-~]{1,1024}")
# Graph's subscription ids are GUIDs.
_SUBSCRIPTION_ID_LENGTH = 200
# The fields of a change or lifecycle notification that are strings when present (null allowed,
# except for the ones we read: subscriptionId, clientState, and lifecycleEvent on its endpoint).
_STRING_FIELDS = (
    "changeType",
    "resource",
    "tenantId",
    "subscriptionExpirationDateTime",
    "lifecycleEvent",
    "clientState",
)


@answer_timed("microsoft")
@csrf_exempt
@require_POST
def graph_notification(request: HttpRequest) -> HttpResponse:
    if "validationToken" in request.GET:
        return _validation_answer(request)
    items = _items(request, lifecycle=False)
    if items is None:
        return HttpResponseBadRequest()
    for calendar_id in {calendar.id for calendar, _ in _verified(items)}:
        calendar_changed.send(sender=Calendar, calendar_id=str(calendar_id))
    return HttpResponse(status=202)


@answer_timed("microsoft")
@csrf_exempt
@require_POST
def graph_lifecycle(request: HttpRequest) -> HttpResponse:
    """reauthorizationRequired → renew; subscriptionRemoved → subscribe again and read in full;
    missed → read the changes (the delta link has them)."""
    if "validationToken" in request.GET:
        return _validation_answer(request)
    items = _items(request, lifecycle=True)
    if items is None:
        return HttpResponseBadRequest()
    handled: set[tuple[str, str]] = set()
    for calendar, item in _verified(items):
        calendar_id, event = str(calendar.id), item["lifecycleEvent"]
        if (calendar_id, event) in handled:
            continue
        handled.add((calendar_id, event))
        if event == "reauthorizationRequired":
            enqueue_channel_renewal(calendar_id)
        elif event == "subscriptionRemoved":
            enqueue_channel_renewal(calendar_id, anew=True)
            calendar_changed.send(sender=Calendar, calendar_id=calendar_id, full=True)
        elif event == "missed":
            calendar_changed.send(sender=Calendar, calendar_id=calendar_id)
    return HttpResponse(status=202)


def _validation_answer(request: HttpRequest) -> HttpResponse:
    """Graph's handshake: one token in the query and no body. Only then is the token echoed."""
    tokens = request.GET.getlist("validationToken")
    if len(tokens) != 1 or request.body or not _VALIDATION_TOKEN.fullmatch(tokens[0]):
        return HttpResponseBadRequest()
    return HttpResponse(tokens[0], content_type="text/plain; charset=utf-8")


def _items(request: HttpRequest, *, lifecycle: bool) -> list[dict[str, Any]] | None:
    """The batch's items, or None when the body is not a batch of well-formed items."""
    try:
        payload = json.loads(request.body)
    except (ValueError, RecursionError):
        return None
    items = payload.get("value") if isinstance(payload, dict) else None
    if not isinstance(items, list) or not all(_well_formed(item, lifecycle) for item in items):
        return None
    return items


def _well_formed(item: object, lifecycle: bool) -> bool:
    if not isinstance(item, dict):
        return False
    subscription_id = item.get("subscriptionId")
    if (
        not isinstance(subscription_id, str)
        or not 0 < len(subscription_id) <= _SUBSCRIPTION_ID_LENGTH
    ):
        return False
    required = ("clientState", "lifecycleEvent") if lifecycle else ("clientState",)
    return all(isinstance(item.get(name), str) for name in required) and all(
        item.get(name) is None or isinstance(item[name], str) for name in _STRING_FIELDS
    )


def _verified(items: list[dict[str, Any]]) -> Iterator[tuple[Calendar, dict[str, Any]]]:
    """The items from a subscription of ours whose clientState verifies, with their calendar."""
    subscription_ids = {item["subscriptionId"] for item in items}
    calendars = {
        calendar.push_resource_id: calendar
        for calendar in Calendar.objects.filter(
            push_resource_id__in=subscription_ids, connection__kind=Connection.Kind.MICROSOFT
        )
        .exclude(push_channel_id="")
        .only("id", "push_channel_id", "push_resource_id")
    }
    for item in items:
        calendar = calendars.get(item["subscriptionId"])
        if calendar is not None and channel_secret_matches(
            calendar.push_channel_id, item["clientState"]
        ):
            yield calendar, item
