"""Keeping a Zoom connection's access token fresh: Zoom's refresh tokens rotate.

Every refresh answers with a new refresh token and spends the old one. Two consequences:

- The newest tokens are sealed and saved the moment they arrive, before the access token is used.
  Call this outside a database transaction, so a rollback cannot take the only valid token with it.
- Refreshes of one account are serialised by a lock in the shared cache. A worker that finds the
  lock taken waits, then reads the stored tokens again and uses the ones its peer just stored, so
  two workers never spend the same refresh token (the second would be refused, and the account lost).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
from django.core.cache import cache
from django.utils.translation import gettext_noop

from calendars import services
from calendars.models import Connection
from calendars.selectors import connection_secrets
from integrations.base import ProviderError
from integrations.zoom.client import REFUSED, ZoomClient
from integrations.zoom.oauth import secrets_from_token_answer, token_request

# Longer than a token request can take, so a lock held by a worker that died frees itself.
LOCK_SECONDS = 60
WAIT_SECONDS = 30
# Refresh a little before Zoom would refuse the token, not after a failed call.
EXPIRY_MARGIN = timedelta(seconds=60)
NOT_CONNECTED = gettext_noop("Zoom is not connected; reconnect Zoom.")
MISCONFIGURED = gettext_noop(
    "This server's Zoom app settings were refused by Zoom; its operator has to fix them."
)
UNREACHABLE = gettext_noop("Zoom's sign-in service could not be reached; we will try again.")
LOCK_BUSY = gettext_noop("Zoom's authorization is being renewed; we will try again shortly.")


class ConnectionTokens:
    """The access token of one Zoom connection, refreshed (once, under the lock) when needed."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def access_token(self) -> str:
        stored = _stored(self.connection)
        if _fresh(stored):
            return stored["access_token"]
        return self.refreshed(stored.get("access_token", ""))

    def refreshed(self, stale: str) -> str:
        with _refresh_lock(str(self.connection.id)):
            self.connection.refresh_from_db(fields=["secrets", "status"])
            stored = _stored(self.connection)
            if stored.get("access_token") != stale and _fresh(stored):
                return stored["access_token"]  # a peer refreshed while we waited
            return self._refresh(stored)

    def _refresh(self, stored: Mapping[str, str]) -> str:
        """Spend the stored refresh token; store what comes back at once.

        A refused refresh deletes the stored credentials and marks the connection as needing a
        reconnect: a rotating refresh token Zoom refused (spent, revoked, or the app uninstalled)
        can never work again, and keeping it would only have every later call fail the same way.
        """
        try:
            response = token_request(
                {"grant_type": "refresh_token", "refresh_token": stored["refresh_token"]}
            )
        except httpx.HTTPError as error:
            raise ProviderError(UNREACHABLE, permanent=False) from error
        if response.status_code == 429 or response.status_code >= 500:
            raise ProviderError(UNREACHABLE, permanent=False)
        if _error_code(response) == "invalid_client":
            # Our own client id or secret is wrong (an operator's mistake): the user's tokens are
            # fine and must survive until it is fixed.
            raise ProviderError(MISCONFIGURED, permanent=False)
        if response.status_code != 200:
            refused = ProviderError(REFUSED, permanent=True)
            services.connection_forget_credentials(connection=self.connection, error=refused)
            raise refused
        answer = response.json()
        fresh = secrets_from_token_answer(
            {"refresh_token": stored["refresh_token"], **answer}  # Zoom always rotates; in case
        )
        services.connection_store_refreshed_secrets(
            connection=self.connection, secrets={**stored, **fresh}
        )
        return fresh["access_token"]


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", ""))
    except ValueError:
        return ""


def client_for_connection(connection: Connection) -> ZoomClient:
    """A client acting as the connection's Zoom account."""
    return ZoomClient(ConnectionTokens(connection))


def _stored(connection: Connection) -> dict[str, str]:
    stored = connection_secrets(connection)
    if not stored.get("refresh_token"):
        raise ProviderError(NOT_CONNECTED, permanent=True)
    return stored


def _fresh(stored: Mapping[str, str]) -> bool:
    try:
        expires_at = datetime.fromisoformat(stored.get("expires_at", ""))
    except ValueError:
        return False
    return bool(stored.get("access_token")) and datetime.now(UTC) < expires_at - EXPIRY_MARGIN


@contextmanager
def _refresh_lock(connection_id: str) -> Iterator[None]:
    key, token = f"zoom:refresh:{connection_id}", uuid.uuid4().hex
    deadline = time.monotonic() + WAIT_SECONDS
    while not cache.add(key, token, timeout=LOCK_SECONDS):
        if time.monotonic() > deadline:
            raise ProviderError(LOCK_BUSY, permanent=False, retry_after=5)
        time.sleep(0.05)
    try:
        yield
    finally:
        if cache.get(key) == token:
            cache.delete(key)
