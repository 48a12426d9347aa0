"""Reads of outgoing webhooks, each scoped to its owner (anyone else gets a 404)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User
from webhooks.models import WebhookDelivery, WebhookSubscription


def subscriptions_for_user(user: User) -> QuerySet[WebhookSubscription]:
    """The user's subscriptions, oldest first."""
    return WebhookSubscription.objects.filter(user=user).order_by("created_at", "id")


def get_subscription_for_user(user: User, public_id: object) -> WebhookSubscription:
    """The user's subscription with this public id; Http404 for anyone else's, or none."""
    return get_object_or_404(WebhookSubscription, id=public_id, user=user)


def deliveries_for(subscription: WebhookSubscription) -> QuerySet[WebhookDelivery]:
    """The subscription's delivery log, newest first (bodies are not loaded)."""
    return (
        WebhookDelivery.objects.filter(subscription=subscription)
        .defer("body")
        .order_by("-created_at", "-id")
    )
