"""Webhook subscriptions and their delivery logs, through the same services as Settings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from pydantic import WithJsonSchema

from api.auth import KeyAuth, key_of
from api.pagination import PageQuery, page
from api.problems import ApiProblem, FieldProblem, Problem, conflict, invalid
from api.schemas import Out
from api.scopes import Scope
from multical.lib import rate_limits
from webhooks import selectors, services
from webhooks.models import SUBSCRIBABLE_EVENTS, WebhookDelivery, WebhookSubscription

router = Router(tags=["Webhooks"])
_read = KeyAuth(Scope.WEBHOOKS_READ)
_write = KeyAuth(Scope.WEBHOOKS_WRITE)

# An event's name, documented as the list of those a webhook can ask for; the service checks it.
EventName = Annotated[
    str,
    WithJsonSchema({"type": "string", "enum": [str(choice) for choice in SUBSCRIBABLE_EVENTS]}),
]


class SubscriptionIn(Schema):
    url: str = Field(max_length=1000, description="An https:// address on the public internet.")
    events: list[EventName] = Field(min_length=1, description="The events to send there.")


class SubscriptionPatch(Schema):
    url: str | None = Field(None, max_length=1000)
    events: list[EventName] | None = Field(None, min_length=1)
    active: bool | None = Field(None, description="false pauses it; true resumes it.")


class SubscriptionOut(Out):
    id: UUID
    url: str
    events: list[str]
    active: bool
    paused_reason: str | None
    paused_at: datetime | None
    failing_since: datetime | None
    last_success_at: datetime | None
    created_at: datetime


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="The signing secret (`whsec_…`), shown this once.")


class SubscriptionList(Out):
    items: list[SubscriptionOut]
    next_cursor: str | None


class SecretOut(Out):
    secret: str = Field(description="The new signing secret, shown this once.")
    previous_valid_until: datetime = Field(
        description="Until then each delivery is signed with the old secret too."
    )


class DeliveryOut(Out):
    id: UUID = Field(description="The idempotency id the receiver sees in `webhook-id`.")
    event_type: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_latency_ms: int | None
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    finished_at: datetime | None


class DeliveryList(Out):
    items: list[DeliveryOut]
    next_cursor: str | None


def _out(subscription: WebhookSubscription) -> SubscriptionOut:
    return SubscriptionOut(
        id=subscription.id,
        url=subscription.url,
        events=list(subscription.events),
        active=subscription.active,
        paused_reason=subscription.paused_reason or None,
        paused_at=subscription.paused_at,
        failing_since=subscription.failing_since,
        last_success_at=subscription.last_success_at,
        created_at=subscription.created_at,
    )


def _delivery(delivery: WebhookDelivery) -> DeliveryOut:
    waiting = delivery.status in WebhookDelivery.OPEN
    return DeliveryOut(
        id=delivery.id,
        event_type=delivery.event_type,
        status=delivery.status,
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error or None,
        last_latency_ms=delivery.last_latency_ms,
        created_at=delivery.created_at,
        last_attempt_at=delivery.last_attempt_at,
        next_attempt_at=delivery.next_attempt_at if waiting else None,
        finished_at=delivery.finished_at,
    )


def _refused(error: services.WebhookRefused) -> ApiProblem:
    """The service's refusal as a problem: a field's, or the account's limit (409)."""
    if isinstance(error, services.TooManyWebhooks):
        return conflict("too_many_webhooks", error.translated())
    field = "url" if isinstance(error, services.InvalidWebhookURL) else "events"
    return invalid([FieldProblem(field=field, message=error.translated())])


def _get(request: HttpRequest, subscription_id: UUID) -> WebhookSubscription:
    return selectors.get_subscription_for_user(key_of(request).user, subscription_id)


@router.get("", response=SubscriptionList, auth=_read, summary="List webhooks")
def list_webhooks(request: HttpRequest, query: Query[PageQuery]) -> SubscriptionList:
    rows, cursor = page(
        selectors.subscriptions_for_user(key_of(request).user),
        query,
        order="created_at",
        descending=False,
        scope="webhooks",
    )
    return SubscriptionList(items=[_out(row) for row in rows], next_cursor=cursor)


@router.post(
    "",
    response={201: SubscriptionCreated, 409: Problem},
    auth=_write,
    summary="Add a webhook",
    description="The address is checked as every address we send to: https, and public (no "
    "private, loopback or metadata address). The answer holds the signing secret, once.",
)
def create_webhook(request: HttpRequest, body: SubscriptionIn) -> Status[SubscriptionCreated]:
    try:
        subscription, secret = services.subscription_create(
            user=key_of(request).user,
            url=body.url,
            events=body.events,
            ip_address=rate_limits.client_address(request),
        )
    except services.WebhookRefused as error:
        raise _refused(error) from error
    return Status(201, SubscriptionCreated(**_out(subscription).model_dump(), secret=secret))


@router.get(
    "/{subscription_id}",
    response={200: SubscriptionOut, 404: Problem},
    auth=_read,
    summary="One webhook",
)
def get_webhook(request: HttpRequest, subscription_id: UUID) -> SubscriptionOut:
    return _out(_get(request, subscription_id))


@router.patch(
    "/{subscription_id}",
    response={200: SubscriptionOut, 404: Problem},
    auth=_write,
    summary="Change, pause or resume a webhook",
    description="Fields left out keep their value. Resuming sends what waited first.",
)
def update_webhook(
    request: HttpRequest, subscription_id: UUID, body: SubscriptionPatch
) -> SubscriptionOut:
    subscription = _get(request, subscription_id)
    try:
        services.subscription_update(subscription=subscription, url=body.url, events=body.events)
    except services.WebhookRefused as error:
        raise _refused(error) from error
    if body.active is False and subscription.active:
        services.subscription_pause(subscription=subscription)
    elif body.active and not subscription.active:
        services.subscription_resume(subscription=subscription)
    return _out(_get(request, subscription_id))


@router.delete(
    "/{subscription_id}",
    response={204: None, 404: Problem},
    auth=_write,
    summary="Delete a webhook and its delivery log",
)
def delete_webhook(request: HttpRequest, subscription_id: UUID) -> HttpResponse:
    services.subscription_delete(
        subscription=_get(request, subscription_id),
        ip_address=rate_limits.client_address(request),
    )
    return HttpResponse(status=204)


@router.post(
    "/{subscription_id}/rotate-secret",
    response={200: SecretOut, 404: Problem},
    auth=_write,
    summary="Make a new signing secret",
)
def rotate_webhook_secret(request: HttpRequest, subscription_id: UUID) -> SecretOut:
    subscription = _get(request, subscription_id)
    secret = services.subscription_rotate_secret(
        subscription=subscription, ip_address=rate_limits.client_address(request)
    )
    valid_until = subscription.previous_secret_expires_at
    assert valid_until is not None
    return SecretOut(secret=secret, previous_valid_until=valid_until)


@router.post(
    "/{subscription_id}/test",
    response={202: DeliveryOut, 404: Problem},
    auth=_write,
    summary="Send a test event now",
    description="A `webhook.test` event, paused or not, tried once; see its delivery.",
)
def test_webhook(request: HttpRequest, subscription_id: UUID) -> Status[DeliveryOut]:
    delivery = services.subscription_send_test(subscription=_get(request, subscription_id))
    return Status(202, _delivery(delivery))


@router.get(
    "/{subscription_id}/deliveries",
    response={200: DeliveryList, 404: Problem},
    auth=_read,
    summary="A webhook's delivery log, newest first",
    description="Times, statuses, latency and attempts; no payload is kept once sent.",
)
def list_deliveries(
    request: HttpRequest, subscription_id: UUID, query: Query[PageQuery]
) -> DeliveryList:
    subscription = _get(request, subscription_id)
    rows, cursor = page(
        selectors.deliveries_for(subscription),
        query,
        order="created_at",
        descending=True,
        scope=f"deliveries.{subscription.id}",
    )
    return DeliveryList(items=[_delivery(row) for row in rows], next_cursor=cursor)
