"""Graph subscriptions of calendars: create, renew and remove them (the tasks call these).

A calendar's ``push_channel_id`` is our random id for its subscription (the clientState Graph
echoes is derived from it, so nothing secret is stored); ``push_resource_id`` is Graph's
subscription id, which notifications name; ``push_expires_at`` is the expiry Graph granted.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import cast

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from calendars.models import Calendar, Connection
from calendars.selectors import provider_for_connection
from calendars.services import connection_keep_refreshed_secrets
from integrations.microsoft.provider import MicrosoftProvider

# The names the notification receivers are routed under (see ``webhooks``).
NOTIFICATION_URL_NAME = "microsoft-notification"
LIFECYCLE_URL_NAME = "microsoft-lifecycle"
# Renew when less than this remains: a failed renewal then has a day of retries before it lapses.
RENEW_AHEAD = timedelta(days=1)
USABLE = (Connection.Status.OK, Connection.Status.SYNCING, Connection.Status.ERROR)


def notification_addresses() -> tuple[str, str]:
    """Where Graph sends change notifications, and lifecycle notifications."""
    return (
        settings.SITE_URL + reverse(NOTIFICATION_URL_NAME),
        settings.SITE_URL + reverse(LIFECYCLE_URL_NAME),
    )


def subscriptions_due_for_renewal(*, now: datetime | None = None) -> QuerySet[Calendar]:
    now = now or timezone.now()
    return Calendar.objects.filter(
        connection__kind=Connection.Kind.MICROSOFT,
        connection__status__in=USABLE,
        push_expires_at__lt=now + RENEW_AHEAD,
    ).exclude(push_resource_id="")


def subscription_create(*, calendar: Calendar) -> None:
    """Subscribe to the calendar's changes, replacing the subscription it had (if any)."""
    provider = _provider(calendar.connection)
    try:
        _subscribe(provider, calendar)
    finally:
        connection_keep_refreshed_secrets(connection=calendar.connection, provider=provider)


def subscription_renew(*, calendar: Calendar) -> None:
    """Extend the subscription; one Graph has forgotten is created again."""
    provider = _provider(calendar.connection)
    try:
        expires_at = (
            provider.renew(calendar.push_resource_id) if calendar.push_resource_id else None
        )
        if expires_at is None:
            _subscribe(provider, calendar)
        else:
            calendar.push_expires_at = expires_at
            calendar.save(update_fields=["push_expires_at"])
    finally:
        connection_keep_refreshed_secrets(connection=calendar.connection, provider=provider)


def subscription_delete(*, calendar: Calendar) -> None:
    """Stop the calendar's subscription (one Graph no longer knows is fine)."""
    if calendar.push_resource_id:
        provider = _provider(calendar.connection)
        try:
            provider.unwatch(calendar.push_channel_id, calendar.push_resource_id)
        finally:
            connection_keep_refreshed_secrets(connection=calendar.connection, provider=provider)
    calendar.push_channel_id, calendar.push_resource_id, calendar.push_expires_at = "", "", None
    calendar.save(update_fields=["push_channel_id", "push_resource_id", "push_expires_at"])


def _subscribe(provider: MicrosoftProvider, calendar: Calendar) -> None:
    previous = calendar.push_resource_id
    channel_id = uuid.uuid4().hex
    address, lifecycle_address = notification_addresses()
    subscription_id, expires_at = provider.watch(
        calendar.remote_id,
        channel_id=channel_id,
        address=address,
        lifecycle_address=lifecycle_address,
    )
    calendar.push_channel_id, calendar.push_resource_id = channel_id, subscription_id
    calendar.push_expires_at = expires_at
    calendar.save(update_fields=["push_channel_id", "push_resource_id", "push_expires_at"])
    # Stored first: from now on the old subscription's notifications name an unknown id.
    if previous and previous != subscription_id:
        provider.unwatch("", previous)


def _provider(connection: Connection) -> MicrosoftProvider:
    if connection.kind != Connection.Kind.MICROSOFT:
        raise ValueError("Only Microsoft connections have Graph subscriptions.")
    return cast(MicrosoftProvider, provider_for_connection(connection))
