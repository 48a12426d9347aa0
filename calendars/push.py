"""Keeping push channels alive: a channel is opened for every calendar that feeds an enabled rule
and whose provider pushes, replaced a day before it expires, and stopped when it is not needed.

Push is best-effort: a missed notification is healed by the nightly full re-read. Only ids and
the expiry are stored; the secret a notification must carry is derived (integrations.push).
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
from calendars.services import connection_keep_refreshed_secrets, connection_record_error
from integrations.base import ProviderError

logger = logging.getLogger(__name__)

# Replace a channel this long before it expires, so a failed attempt has time for retries.
RENEW_AHEAD = timedelta(days=1)
PUSH_KINDS = {Connection.Kind.GOOGLE: "google-notification"}
USABLE = (Connection.Status.OK, Connection.Status.SYNCING, Connection.Status.ERROR)


def calendars_needing_a_channel() -> QuerySet[Calendar]:
    return (
        Calendar.objects.filter(
            connection__kind__in=PUSH_KINDS,
            connection__status__in=USABLE,
            rules_as_source__enabled=True,
        )
        .filter(
            Q(push_expires_at__isnull=True) | Q(push_expires_at__lt=timezone.now() + RENEW_AHEAD)
        )
        .select_related("connection")
        .distinct()
    )


def calendar_watch(calendar: Calendar) -> None:
    """Open a new channel for the calendar, then stop the one it replaces."""
    connection = calendar.connection
    provider = provider_for_connection(connection)
    try:
        old = (calendar.push_channel_id, calendar.push_resource_id)
        channel_id = str(uuid.uuid4())
        address = settings.SITE_URL + reverse(PUSH_KINDS[connection.kind])
        resource_id, expires_at = provider.watch(
            calendar.remote_id, channel_id=channel_id, address=address
        )
        calendar.push_channel_id, calendar.push_resource_id = channel_id, resource_id
        calendar.push_expires_at = expires_at
        calendar.save(update_fields=["push_channel_id", "push_resource_id", "push_expires_at"])
        if old[0]:
            try:
                provider.unwatch(*old)
            except ProviderError:
                # It expires by itself; until then its notifications only cost a coalesced sync.
                logger.info("Could not stop a replaced channel of calendar %s", calendar.id)
    finally:
        connection_keep_refreshed_secrets(connection=connection, provider=provider)


def calendar_unwatch(calendar: Calendar) -> None:
    """Stop the calendar's channel (before its credentials go, or when nothing needs it)."""
    if not calendar.push_channel_id:
        return
    try:
        provider_for_connection(calendar.connection).unwatch(
            calendar.push_channel_id, calendar.push_resource_id
        )
    except ProviderError:
        logger.info("Could not stop the channel of calendar %s", calendar.id)
    calendar.push_channel_id = calendar.push_resource_id = ""
    calendar.push_expires_at = None
    calendar.save(update_fields=["push_channel_id", "push_resource_id", "push_expires_at"])


def renew_push_channels() -> int:
    """Open or replace every channel that is missing or expires within a day; how many."""
    renewed = 0
    for calendar in calendars_needing_a_channel():
        try:
            calendar_watch(calendar)
        except ProviderError as error:
            if error.permanent:
                connection_record_error(connection=calendar.connection, error=error)
            logger.warning("Could not open a push channel for calendar %s", calendar.id)
            continue
        renewed += 1
    return renewed
