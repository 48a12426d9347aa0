"""Reads for calendars. Every lookup of a user's object goes through a helper that 404s outsiders."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User
from calendars.models import Connection
from integrations.base import Provider
from integrations.registry import build_provider
from multical.lib import vault


def get_connection_for_user(user: User, connection_id: str) -> Connection:
    return get_object_or_404(Connection, id=connection_id, user=user)


def connections_for_user(user: User) -> QuerySet[Connection]:
    return Connection.objects.filter(user=user).prefetch_related("calendars")


def connections_needing_attention(user: User) -> list[Connection]:
    """Connections that stopped working: the ones the user must mend first, then passing errors."""
    broken = Connection.objects.filter(
        user=user, status__in=[Connection.Status.NEEDS_RECONNECT, Connection.Status.ERROR]
    )
    return sorted(broken, key=lambda c: (c.status != Connection.Status.NEEDS_RECONNECT, c.label))


def connection_secrets(connection: Connection) -> dict[str, str]:
    """The connection's decrypted secrets; keep the result in memory, and only as long as needed."""
    if not connection.secrets:
        return {}
    return vault.unseal_json(connection.secrets, context=vault.context_for(connection, "secrets"))


def provider_for_connection(connection: Connection) -> Provider:
    """The connection's provider; the owner's zone reads times a calendar leaves floating."""
    return build_provider(
        connection.provider_slug,
        {
            "server_url": connection.server_url,
            "username": connection.username,
            "time_zone": connection.user.time_zone,
            **connection_secrets(connection),
        },
    )
