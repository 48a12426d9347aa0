"""Writes for calendar connections: connect, refresh, update credentials, disconnect, remove.

Connecting talks to the provider before anything is stored, so a wrong password or a link that is
not a calendar becomes a form error and leaves nothing behind. ProviderError passes through to the
caller, which shows its message. An account the user has already connected (the same CalDAV server
and user name, Apple ID, iCal link, Google, Microsoft or Zoom account) is never connected twice:
connecting it again updates that connection, and brings back a disconnected one.

A new calendar account (or a disconnected one connected again) counts against the Free plan's
calendar accounts (``accounts.billing.plans``): over the limit ``PlanLimitReached`` is raised before
the provider is asked, and checked again when the connection is saved. An organization's policy
may refuse an account (its kind, or a personal Google or Microsoft account: ``orgs.policies``):
``PolicyRefused`` is raised before the provider is asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_noop

from accounts.billing.plans import Limit, limit_check
from accounts.languages import owner_language
from accounts.models import AuditLog, User
from accounts.selectors import wants_reconnect_alerts
from accounts.services import audit_log_record
from calendars.models import LAST_ERROR_FIELDS, Calendar, Connection
from calendars.selectors import connection_secrets, provider_for_connection
from calendars.signals import connection_released, connection_restored
from integrations.base import Provider, ProviderError, RemoteCalendar
from integrations.registry import build_provider
from multical import metrics
from multical.lib import vault
from multical.lib.email import send_templated_email
from orgs.policies import PolicyRefused, connect_refusal, require_may_connect
from webhooks.events import ConnectionNeedsReconnect
from webhooks.services import event_record

ICLOUD_SERVER_URL = "https://caldav.icloud.com/"
ZOOM_REMOVED = gettext_noop(
    "Multical was removed from this Zoom account, so booking pages no longer add Zoom meetings; "
    "connect Zoom again to bring them back."
)
# The secret a Microsoft grant keeps its account's lasting id under.
MICROSOFT_ACCOUNT_ID = "home_account_id"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def connection_connect_caldav(
    *, user: User, kind: str, server_url: str, username: str, password: str, ip_address: str | None
) -> Connection:
    """Connect an Apple iCloud account (``server_url`` ignored) or any CalDAV server.

    The same account connected again (the same server address and user name; the same Apple ID,
    in any letter case) updates the user's connection to it, as ``_connection_connect`` says.
    """
    if kind == Connection.Kind.ICLOUD:
        server_url = ICLOUD_SERVER_URL
        label = username
    else:
        label = f"{username} @ {urlsplit(server_url).hostname}"
    return _connection_connect(
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
    """Connect an iCal link, labelled ``label`` or else by the feed's own name.

    The same link connected again updates the user's connection to it (its label only when one is
    given). The link itself stays sealed: the connection is recognised by a keyed fingerprint.
    """
    return _connection_connect(
        user=user,
        kind=Connection.Kind.ICS,
        label=label,
        server_url="",
        username=_link_name(user, url),
        secrets={"url": url},
        ip_address=ip_address,
    )


class _Account(TypedDict):
    """What tells one connected account from another: whose, and which at which server."""

    user: User
    kind: str
    server_url: str
    username: str


def _connection_connect(
    *,
    user: User,
    kind: str,
    label: str,
    server_url: str,
    username: str,
    secrets: Mapping[str, str],
    ip_address: str | None,
) -> Connection:
    """Check the account with its provider (its calendars are listed), then store it.

    If the user already has a connection to this account (``_same_account``), that connection
    gets the new credentials and calendars, is healthy again (a disconnected one comes back) and is
    read again in full; otherwise a new one is made. Another user's connection to the same account
    is never looked at.
    """
    account: _Account = {
        "user": user,
        "kind": kind,
        "server_url": server_url,
        "username": username,
    }
    # An organization's policy may refuse the kind, or a personal account (``orgs.policies``).
    require_may_connect(user=user, kind=kind, address=_policy_address(kind, username))
    found = _same_account(**account, secrets=secrets)
    if found is None or found.status == Connection.Status.DISCONNECTED:
        limit_check(user=user, limit=Limit.CALENDAR_ACCOUNTS)
    provider = build_provider(
        Connection(kind=kind).provider_slug,
        {"server_url": server_url, "username": username, **secrets},
    )
    remote_calendars = provider.list_calendars()
    if provider.secrets_changed:
        secrets = {**secrets, **provider.current_secrets()}
    with transaction.atomic():
        _lock_connections_of(user)
        # Looked up again under the lock: a form sent twice at once finds the first one's.
        connection = _same_account(**account, secrets=secrets) or Connection(**account)
        if connection._state.adding or connection.status == Connection.Status.DISCONNECTED:
            limit_check(user=user, limit=Limit.CALENDAR_ACCOUNTS)
        # The name as given now: an account's address may have changed, or its letter case.
        connection.username = username
        if label or connection._state.adding:
            label = label or remote_calendars[0].name
            connection.label = label[: Connection._meta.get_field("label").max_length]
        _connection_store(
            connection, secrets=secrets, remote_calendars=remote_calendars, ip_address=ip_address
        )
    return connection


def _policy_address(kind: str, username: str) -> str:
    """The account's address as organization policies read it: none for an iCal link."""
    return "" if kind == Connection.Kind.ICS else username


def _same_account(
    *, user: User, kind: str, server_url: str, username: str, secrets: Mapping[str, str]
) -> Connection | None:
    """The user's own connection to this account, if any (one being removed does not count; of
    several made before accounts were recognised, one in use first, then the oldest).

    A Microsoft account is also recognised by its home account id, which stays when the address
    that names it changes (connections named by a sign-in name before Graph's address was used).
    """
    wanted = _account_key(kind, server_url, username)
    account_id = secrets.get(MICROSOFT_ACCOUNT_ID, "") if kind == Connection.Kind.MICROSOFT else ""
    matches = [
        connection
        for connection in Connection.objects.filter(user=user, kind=kind).exclude(
            status=Connection.Status.REMOVING
        )
        if _account_key(kind, connection.server_url, _account_name(connection)) == wanted
        or (account_id and _readable_secrets(connection).get(MICROSOFT_ACCOUNT_ID) == account_id)
    ]
    return min(
        matches,
        key=lambda c: (c.status == Connection.Status.DISCONNECTED, c.created_at),
        default=None,
    )


def _account_key(kind: str, server_url: str, username: str) -> tuple[str, ...]:
    """What makes two connections of one kind the same account."""
    if kind == Connection.Kind.ZOOM:
        return ()  # one Zoom account per user: booking pages need no choice
    if kind == Connection.Kind.CALDAV:
        # The same address however it is written: letter case, a default port, a last slash.
        parts = urlsplit(server_url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
        host = parts.hostname or ""
        return (parts.scheme, host, str(port), parts.path.rstrip("/"), parts.query, username)
    # Apple IDs and OAuth accounts are e-mail addresses; an iCal link is named by a fingerprint.
    return (username.lower(),)


def _account_name(connection: Connection) -> str:
    if connection.kind == Connection.Kind.ICS and not connection.username:
        # A link connected before links were named by their fingerprint.
        url = _readable_secrets(connection).get("url")
        return _link_name(connection.user, url) if url else ""
    return connection.username


def _readable_secrets(connection: Connection) -> dict[str, str]:
    """The connection's secrets, or none when they were deleted or cannot be opened any more
    (sealed under a key since dropped): such a connection is then known by its name alone."""
    try:
        return connection_secrets(connection)
    except vault.VaultError:
        return {}


def _link_name(user: User, url: str) -> str:
    """An iCal link's name: a keyed fingerprint, so the link (a secret) is never stored unsealed,
    and per user, so that two users' rows do not show that they follow the same link."""
    digest = salted_hmac("calendars.ics-link", f"{user.pk}:{url}", algorithm="sha256")
    return f"link:{digest.hexdigest()}"


def _lock_connections_of(user: User) -> None:
    # The user's row stands for their connections: connecting is one request at a time per user.
    User.objects.select_for_update().filter(pk=user.pk).exists()


def _connection_store(
    connection: Connection,
    *,
    secrets: Mapping[str, str],
    remote_calendars: list[RemoteCalendar],
    ip_address: str | None,
) -> None:
    """Save the connection, healthy, with these credentials and calendars (in the caller's
    transaction). One that existed is read again in full: whatever was missed while it was
    broken or disconnected."""
    existed = not connection._state.adding
    connection.status = Connection.Status.OK
    connection.clear_error()
    connection.released_at = None
    _seal_secrets(connection, secrets)
    connection.save(
        update_fields=[
            *("label", "username", "secrets", "status"),
            *(*LAST_ERROR_FIELDS, "released_at"),
        ]
        if existed
        else None
    )
    _calendars_update(connection, remote_calendars)
    if existed:
        connection_restored.send(sender=Connection, connection_id=str(connection.id))
    action = AuditLog.Action.CONNECTION_UPDATED if existed else AuditLog.Action.CONNECTION_ADDED
    _audit(connection, action, ip_address)


def connection_refresh_calendars(*, connection: Connection) -> None:
    """Bring the list of calendars in step with the provider's (names, colours, new and gone ones)."""
    provider = provider_for_connection(connection)
    try:
        remote_calendars = provider.list_calendars()
    finally:
        connection_keep_refreshed_secrets(connection=connection, provider=provider)
    with transaction.atomic():
        _calendars_update(connection, remote_calendars)


def connection_update_credentials(
    *, connection: Connection, secrets: Mapping[str, str], ip_address: str | None
) -> None:
    """Replace the password (or iCal link), checking it with the provider first; reconnects it.

    An iCal link the user has already connected as another connection is refused (a
    ``ProviderError`` naming it): two connections of one link would be the same account twice.
    New credentials are connecting the account again, so an organization's policy that would
    refuse connecting it refuses them too (``PolicyRefused``, before the provider is asked).
    """
    refusal = connection_credentials_refusal(connection)
    if refusal is not None:
        raise PolicyRefused(refusal)
    if connection.kind == Connection.Kind.ICS:
        link_name = _link_name(connection.user, secrets["url"])
        other = _same_account(
            user=connection.user,
            kind=connection.kind,
            server_url="",
            username=link_name,
            secrets=secrets,
        )
        if other is not None and other.id != connection.id:
            raise ProviderError(
                gettext_noop("This link is already connected as %(label)s."),
                permanent=True,
                params={"label": other.label},
            )
        connection.username = link_name
    reviving = connection.status == Connection.Status.DISCONNECTED
    if reviving:
        limit_check(user=connection.user, limit=Limit.CALENDAR_ACCOUNTS)
    provider_settings = {
        "server_url": connection.server_url,
        "username": connection.username,
        **secrets,
    }
    remote_calendars = build_provider(connection.provider_slug, provider_settings).list_calendars()
    with transaction.atomic():
        if reviving:
            limit_check(user=connection.user, limit=Limit.CALENDAR_ACCOUNTS)
        _connection_store(
            connection, secrets=secrets, remote_calendars=remote_calendars, ip_address=ip_address
        )


def connection_credentials_refusal(connection: Connection) -> str | None:
    """Why an organization's policy refuses new credentials for ``connection``, in the words the
    connect pages use, or None: the check connecting the same account again makes."""
    return connect_refusal(
        user=connection.user,
        kind=connection.kind,
        address=_policy_address(connection.kind, connection.username),
    )


def connection_record_error(*, connection: Connection, error: ProviderError) -> None:
    """Show a provider failure on the connection.

    A permanent one means the user must act (reconnect): the connection says so, and the user
    gets one e-mail when it first happens, not one per failed sync.
    """
    _count_error(kind=connection.kind, error=error)
    newly_broken = error.permanent and connection.status != Connection.Status.NEEDS_RECONNECT
    connection.status = (
        Connection.Status.NEEDS_RECONNECT if error.permanent else Connection.Status.ERROR
    )
    connection.note_error(error)
    with transaction.atomic():
        connection.save(update_fields=["status", *LAST_ERROR_FIELDS])
        if newly_broken:
            event_record(
                user_id=connection.user_id,
                event=ConnectionNeedsReconnect(connection.id, connection.kind, timezone.now()),
            )
    if newly_broken:
        transaction.on_commit(lambda: _send_reconnect_email(connection))


def calendar_record_error(*, calendar: Calendar, error: ProviderError) -> None:
    """Show a failure to read or write the calendar on it, and a permanent one on its
    connection too (``connection_record_error``)."""
    calendar.note_error(error)
    calendar.save(update_fields=list(LAST_ERROR_FIELDS))
    if error.permanent:
        connection_record_error(connection=calendar.connection, error=error)
    else:
        _count_error(kind=calendar.connection.kind, error=error)  # else counted just above


def _count_error(*, kind: str, error: ProviderError) -> None:
    """Count a provider failure for the operator's metrics, by kind and HTTP status class."""
    status = error.params.get("status", getattr(error, "status", None))
    status = status if isinstance(status, int) else None
    metrics.provider_error(
        provider=kind,
        status=status,
        kind=metrics.error_kind(
            permanent=error.permanent, throttled=error.throttled, status=status
        ),
    )


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
        language=owner_language(connection.user),
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
    connection.status, connection.released_at = status, timezone.now()
    connection.save(update_fields=["status", "released_at"])
    connection_released.send(sender=Connection, connection_id=str(connection.id))


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
    """Connect a Google or Microsoft account from a completed OAuth flow.

    The account is named by its address; the same account connected again updates the user's
    connection to it, as ``_connection_connect`` says. The calendars are listed before anything
    is stored.
    """
    email = email[: Connection._meta.get_field("username").max_length]
    return _connection_connect(
        user=user,
        kind=kind,
        label=email,
        server_url="",
        username=email,
        secrets=secrets,
        ip_address=ip_address,
    )


def connection_connect_zoom(
    *, user: User, email: str, secrets: Mapping[str, str], ip_address: str | None
) -> Connection:
    """Connect the user's Zoom account from a completed OAuth flow: one per user.

    Connecting again (the same account or another) updates that connection with the new account
    and secrets and makes it healthy again. It has no calendars: booking pages create meetings.
    """
    email = email[: Connection._meta.get_field("username").max_length]
    require_may_connect(user=user, kind=Connection.Kind.ZOOM, address=email)
    with transaction.atomic():
        _lock_connections_of(user)
        connection = _same_account(
            user=user, kind=Connection.Kind.ZOOM, server_url="", username=email, secrets=secrets
        ) or Connection(user=user, kind=Connection.Kind.ZOOM)
        connection.username = email
        connection.label = email[: Connection._meta.get_field("label").max_length]
        _connection_store(connection, secrets=secrets, remote_calendars=[], ip_address=ip_address)
    return connection


def connection_store_refreshed_secrets(
    *, connection: Connection, secrets: Mapping[str, str]
) -> None:
    """Seal and save credentials the provider just rotated, at once (Zoom's refresh tokens)."""
    _seal_secrets(connection, secrets)
    connection.save(update_fields=["secrets"])


def connection_forget_zoom_user(*, zoom_user_id: str) -> int:
    """Delete the credentials of the Zoom connections of that Zoom user (they removed the app at
    Zoom) and ask their owners to reconnect; returns how many there were.

    The Zoom user id is sealed with the tokens, so each live Zoom connection is opened to compare:
    a user has at most one, and Zoom sends this notice once per removal.
    """
    forgotten = 0
    zoom_connections = Connection.objects.filter(kind=Connection.Kind.ZOOM).exclude(secrets="")
    for connection in zoom_connections.select_related("user").iterator():
        if _readable_secrets(connection).get("user_id") == zoom_user_id:
            error = ProviderError(ZOOM_REMOVED, permanent=True)
            connection_forget_credentials(connection=connection, error=error)
            forgotten += 1
    return forgotten


def connection_forget_credentials(*, connection: Connection, error: ProviderError) -> None:
    """Delete credentials the provider refused for good, and ask the user to reconnect."""
    connection.secrets = ""
    connection.save(update_fields=["secrets"])
    connection_record_error(connection=connection, error=error)
