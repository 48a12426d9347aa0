"""Writes for calendar connections: connect, refresh, update credentials, disconnect, remove.

Connecting talks to the provider before anything is stored, so a wrong password or a link that is
not a calendar becomes a form error and leaves nothing behind. ProviderError passes through to the
caller, which shows its message.

A new calendar account (or a disconnected one connected again) counts against the Free plan's
calendar accounts (``accounts.billing.plans``): over the limit ``PlanLimitReached`` is raised before
the provider is asked, and checked again when the connection is saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.billing.plans import Limit, limit_check
from accounts.models import AuditLog, User
from accounts.selectors import wants_reconnect_alerts
from accounts.services import audit_log_record
from calendars.models import Calendar, Connection
from calendars.selectors import connection_secrets, provider_for_connection
from integrations.base import Provider, ProviderError, RemoteCalendar
from integrations.registry import build_provider
from multical.lib import vault
from multical.lib.email import send_templated_email

ICLOUD_SERVER_URL = "https://caldav.icloud.com/"


def connection_connect_caldav(
    *, user: User, kind: str, server_url: str, username: str, password: str, ip_address: str | None
) -> Connection:
    """Connect an Apple iCloud account (``server_url`` ignored) or any CalDAV server."""
    if kind == Connection.Kind.ICLOUD:
        server_url = ICLOUD_SERVER_URL
        label = username
    else:
        label = f"{username} @ {urlsplit(server_url).hostname}"
    return _connection_create(
        user=user,
        kind=kind,
        label=label,
        server_url=server_url,
        username=username,
        secrets={"password": password},
        ip_address=ip_address,
    )


def connection_connect_ics(
    *, user: User, url: str, label: str, ip_address: str | None
) -> Connection:
    return _connection_create(
        user=user,
        kind=Connection.Kind.ICS,
        label=label,
        server_url="",
        username="",
        secrets={"url": url},
        ip_address=ip_address,
    )


def _connection_create(
    *,
    user: User,
    kind: str,
    label: str,
    server_url: str,
    username: str,
    secrets: Mapping[str, str],
    ip_address: str | None,
) -> Connection:
    limit_check(user=user, limit=Limit.CALENDAR_ACCOUNTS)
    connection = Connection(user=user, kind=kind, server_url=server_url, username=username)
    provider_settings = {"server_url": server_url, "username": username, **secrets}
    remote_calendars = build_provider(connection.provider_slug, provider_settings).list_calendars()
    if kind == Connection.Kind.ICS and not label:
        label = remote_calendars[0].name
    connection.label = label[: Connection._meta.get_field("label").max_length]
    _seal_secrets(connection, secrets)
    with transaction.atomic():
        limit_check(user=user, limit=Limit.CALENDAR_ACCOUNTS)
        connection.save()
        _calendars_update(connection, remote_calendars)
        _audit(connection, AuditLog.Action.CONNECTION_ADDED, ip_address)
    return connection


def connection_refresh_calendars(*, connection: Connection) -> None:
    """Bring the list of calendars in step with the provider's (names, colours, new and gone ones)."""
    provider = provider_for_connection(connection)
    try:
        remote_calendars = provider.list_calendars()
    finally:
        connection_keep_refreshed_secrets(connection=connection, provider=provider)
    with transaction.atomic():
        _calendars_update(connection, remote_calendars)


def connection_keep_authorized(*, connection: Connection) -> None:
    """Use an OAuth connection's credentials once, so that its tokens are refreshed (and rotated
    ones stored) before they lapse, even when nothing has synced through it for weeks: Microsoft
    and Zoom refresh tokens expire when unused. A calendar account also gets its calendar list
    brought up to date on the way. Raises ``ProviderError``."""
    if connection.kind == Connection.Kind.ZOOM:
        # Imported here: the Zoom client builds on this module's services.
        from integrations.zoom.tokens import client_for_connection

        client_for_connection(connection).me()
    else:
        connection_refresh_calendars(connection=connection)


def connection_update_credentials(
    *, connection: Connection, secrets: Mapping[str, str], ip_address: str | None
) -> None:
    """Replace the password (or iCal link), checking it with the provider first; reconnects it."""
    reviving = connection.status == Connection.Status.DISCONNECTED
    if reviving:
        limit_check(user=connection.user, limit=Limit.CALENDAR_ACCOUNTS)
    provider_settings = {
        "server_url": connection.server_url,
        "username": connection.username,
        **secrets,
    }
    remote_calendars = build_provider(connection.provider_slug, provider_settings).list_calendars()
    _seal_secrets(connection, secrets)
    connection.status = Connection.Status.OK
    connection.last_error = ""
    connection.last_error_at = None
    from syncrules.tasks import enqueue_connection_resync

    with transaction.atomic():
        if reviving:
            limit_check(user=connection.user, limit=Limit.CALENDAR_ACCOUNTS)
        connection.save(update_fields=["secrets", "status", "last_error", "last_error_at"])
        _calendars_update(connection, remote_calendars)
        # Whatever was missed while it was broken is read again in full.
        enqueue_connection_resync(connection.id)
        _audit(connection, AuditLog.Action.CONNECTION_UPDATED, ip_address)


def connection_record_error(*, connection: Connection, error: ProviderError) -> None:
    """Show a provider failure on the connection.

    A permanent one means the user must act (reconnect): the connection says so, and the user
    gets one e-mail when it first happens, not one per failed sync.
    """
    newly_broken = error.permanent and connection.status != Connection.Status.NEEDS_RECONNECT
    connection.status = (
        Connection.Status.NEEDS_RECONNECT if error.permanent else Connection.Status.ERROR
    )
    connection.last_error = error.message[: Connection._meta.get_field("last_error").max_length]
    connection.last_error_at = timezone.now()
    connection.save(update_fields=["status", "last_error", "last_error_at"])
    if newly_broken:
        transaction.on_commit(lambda: _send_reconnect_email(connection))


def _send_reconnect_email(connection: Connection) -> None:
    if not wants_reconnect_alerts(connection.user):
        return
    send_templated_email(
        to=connection.user.email,
        template="calendars/email/needs-reconnect",
        context={
            "connection": connection,
            "calendars_url": settings.SITE_URL + reverse("calendars:calendar_list"),
        },
    )


@transaction.atomic
def connection_disconnect(*, connection: Connection, ip_address: str | None) -> None:
    """Stop syncing the account; its blocks are removed, then its credentials deleted (a task)."""
    _connection_release(connection, status=Connection.Status.DISCONNECTED)
    _audit(connection, AuditLog.Action.CONNECTION_DISCONNECTED, ip_address)


@transaction.atomic
def connection_remove(*, connection: Connection, ip_address: str | None) -> None:
    """Like disconnecting, and then the account and its calendars are deleted too."""
    _connection_release(connection, status=Connection.Status.REMOVING)
    _audit(connection, AuditLog.Action.CONNECTION_REMOVED, ip_address)


def _connection_release(connection: Connection, *, status: str) -> None:
    # Imported here: the sync engine builds on this module, not the other way round.
    from syncrules.tasks import release_connection

    connection.status = status
    connection.save(update_fields=["status"])
    transaction.on_commit(lambda: release_connection.delay(str(connection.id)))


def connection_keep_refreshed_secrets(*, connection: Connection, provider: Provider) -> None:
    """Seal again the credentials a provider refreshed while it worked (OAuth access tokens)."""
    if provider.secrets_changed:
        connection_store_refreshed_secrets(
            connection=connection,
            secrets={**connection_secrets(connection), **provider.current_secrets()},
        )


def _audit(connection: Connection, action: str, ip_address: str | None) -> None:
    audit_log_record(
        user=connection.user,
        action=action,
        ip_address=ip_address,
        connection=str(connection.id),
        provider=connection.kind,
    )


def _seal_secrets(connection: Connection, secrets: Mapping[str, str]) -> None:
    connection.secrets = vault.seal_json(
        dict(secrets), context=vault.context_for(connection, "secrets")
    )


def _calendars_update(connection: Connection, remote_calendars: list[RemoteCalendar]) -> None:
    existing = {calendar.remote_id: calendar for calendar in connection.calendars.all()}
    for remote in remote_calendars:
        calendar = existing.pop(remote.remote_id, None) or Calendar(
            connection=connection, remote_id=remote.remote_id
        )
        calendar.name = remote.name[:200] or "Untitled calendar"
        calendar.color = remote.color
        calendar.time_zone = remote.time_zone
        calendar.read_only = remote.read_only
        calendar.save()
    Calendar.objects.filter(id__in=[calendar.id for calendar in existing.values()]).delete()


def connection_connect_oauth(
    *, user: User, kind: str, email: str, secrets: Mapping[str, str], ip_address: str | None
) -> Connection:
    """Connect a Google or Microsoft account from a completed OAuth flow, or reconnect it.

    The same account (by its address) connected again gets the new secrets and is healthy again,
    instead of a second connection. The calendars are listed before anything is stored.
    """
    connection = _live_connection(user=user, kind=kind, username__iexact=email)
    reconnecting = connection is not None
    # The same account connected again is not one more; a disconnected one becomes one again.
    adding = connection is None or connection.status == Connection.Status.DISCONNECTED
    if adding:
        limit_check(user=user, limit=Limit.CALENDAR_ACCOUNTS)
    provider = build_provider(kind, secrets)
    remote_calendars = provider.list_calendars()
    if provider.secrets_changed:
        secrets = {**secrets, **provider.current_secrets()}
    connection = _authorized(
        connection or Connection(user=user, kind=kind), email=email, secrets=secrets
    )
    with transaction.atomic():
        if adding:
            limit_check(user=user, limit=Limit.CALENDAR_ACCOUNTS)
        connection.save()
        _calendars_update(connection, remote_calendars)
        if reconnecting:
            from syncrules.tasks import enqueue_connection_resync

            # Whatever was missed while it was broken is read again in full.
            enqueue_connection_resync(connection.id)
        action = (
            AuditLog.Action.CONNECTION_UPDATED if reconnecting else AuditLog.Action.CONNECTION_ADDED
        )
        _audit(connection, action, ip_address)
    return connection


def connection_connect_zoom(
    *, user: User, email: str, secrets: Mapping[str, str], ip_address: str | None
) -> Connection:
    """Connect the user's Zoom account from a completed OAuth flow: one per user.

    Connecting again (the same account or another) updates that connection with the new account
    and secrets and makes it healthy again. It has no calendars: booking pages create meetings.
    """
    connection = _live_connection(user=user, kind=Connection.Kind.ZOOM)
    reconnecting = connection is not None
    connection = _authorized(
        connection or Connection(user=user, kind=Connection.Kind.ZOOM), email=email, secrets=secrets
    )
    with transaction.atomic():
        connection.save()
        action = (
            AuditLog.Action.CONNECTION_UPDATED if reconnecting else AuditLog.Action.CONNECTION_ADDED
        )
        _audit(connection, action, ip_address)
    return connection


def _live_connection(*, user: User, kind: str, **lookup: str) -> Connection | None:
    """The user's connection of that kind (and account) that is not being removed, if any."""
    return (
        Connection.objects.filter(user=user, kind=kind, **lookup)
        .exclude(status=Connection.Status.REMOVING)
        .first()
    )


def _authorized(connection: Connection, *, email: str, secrets: Mapping[str, str]) -> Connection:
    """The connection as a completed OAuth flow leaves it: named after the account, healthy."""
    connection.username = email[: Connection._meta.get_field("username").max_length]
    connection.label = email[: Connection._meta.get_field("label").max_length]
    connection.status = Connection.Status.OK
    connection.last_error = ""
    connection.last_error_at = None
    _seal_secrets(connection, secrets)
    return connection


def connection_store_refreshed_secrets(
    *, connection: Connection, secrets: Mapping[str, str]
) -> None:
    """Seal and save credentials the provider just rotated, at once (Zoom's refresh tokens)."""
    _seal_secrets(connection, secrets)
    connection.save(update_fields=["secrets"])


def connection_forget_credentials(*, connection: Connection, error: ProviderError) -> None:
    """Delete credentials the provider refused for good, and ask the user to reconnect."""
    connection.secrets = ""
    connection.save(update_fields=["secrets"])
    connection_record_error(connection=connection, error=error)
