"""Keeping push channels alive (Google channels, Graph subscriptions).

Every calendar that feeds an enabled rule, at a provider that pushes, has a channel. A day before
it expires it is renewed where the provider can (Graph: PATCH) or replaced by a new one, and the
old one is stopped (Google has no renewal). Stopped before the credentials go.

Push is best-effort: a missed notification is healed by the nightly full re-read. Only ids and
the expiry are stored; the secret a notification carries is derived from the channel id
(``integrations.push``).
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from calendars.models import Calendar, Connection
from calendars.selectors import provider_for_connection
from calendars.services import connection_keep_refreshed_secrets
from integrations.base import ProviderError

logger = logging.getLogger(__name__)

# Renew this long before expiry, so a failed attempt has a day of retries before a gap.
RENEW_AHEAD = timedelta(days=1)
# Where each pushing provider sends notifications, and lifecycle events ("" where it has none);
# keyed by the kind as a connection stores it, a str.
NOTIFICATION_URLS: dict[str, tuple[str, str]] = {
    Connection.Kind.GOOGLE: ("google_notification", ""),
    Connection.Kind.MICROSOFT: ("microsoft_notification", "microsoft_lifecycle"),
}


def calendars_needing_a_channel() -> QuerySet[Calendar]:
    return (
        Calendar.objects.filter(
            connection__kind__in=NOTIFICATION_URLS,
            connection__status__in=Connection.USABLE,
            rules_as_source__enabled=True,
        )
        .filter(
            Q(push_expires_at__isnull=True) | Q(push_expires_at__lt=timezone.now() + RENEW_AHEAD)
        )
        .select_related("connection")
        .distinct()
    )


def calendar_watch(calendar: Calendar, *, anew: bool = False) -> None:
    """Renew the calendar's channel where the provider can, else open a new one and stop the old.

    ``anew`` skips the renewal (the provider told us it removed the channel).
    """
    connection = calendar.connection
    provider = provider_for_connection(connection)
    try:
        if calendar.push_resource_id and not anew:
            expires_at = provider.renew(calendar.push_resource_id)
            if expires_at is not None:
                calendar.push_expires_at = expires_at
                calendar.save(update_fields=["push_expires_at"])
                return
        old = (calendar.push_channel_id, calendar.push_resource_id)
        channel_id = str(uuid.uuid4())
        notification, lifecycle = NOTIFICATION_URLS[connection.kind]
        resource_id, expires_at = provider.watch(
            calendar.remote_id,
            channel_id=channel_id,
            address=settings.SITE_URL + reverse(notification),
            lifecycle_address=settings.SITE_URL + reverse(lifecycle) if lifecycle else "",
        )
        # Stored first: from now on notifications naming the old channel are unknown to us.
        calendar.push_channel_id, calendar.push_resource_id = channel_id, resource_id
        calendar.push_expires_at = expires_at
        calendar.save(update_fields=["push_channel_id", "push_resource_id", "push_expires_at"])
        # Always stopped by its own ids: Google gives every channel on a calendar the same
        # resource id, so only the channel id tells the old one from the new.
        if old[0] and old[1]:
            try:
                provider.unwatch(*old)
            except ProviderError:
                # It expires by itself; until then its notifications only cost a coalesced sync.
                logger.info("Could not stop a replaced channel of calendar %s", calendar.id)
    finally:
        connection_keep_refreshed_secrets(connection=connection, provider=provider)


def calendar_unwatch(calendar: Calendar) -> None:
    """Stop the calendar's channel (before its credentials go, or when nothing needs it)."""
    if not calendar.push_resource_id:
        return
    provider = provider_for_connection(calendar.connection)
    try:
        provider.unwatch(calendar.push_channel_id, calendar.push_resource_id)
    except ProviderError:
        logger.info("Could not stop the channel of calendar %s", calendar.id)
    finally:
        connection_keep_refreshed_secrets(connection=calendar.connection, provider=provider)
    calendar.push_channel_id = calendar.push_resource_id = ""
    calendar.push_expires_at = None
    calendar.save(update_fields=["push_channel_id", "push_resource_id", "push_expires_at"])
