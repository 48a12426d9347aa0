"""Signing in to Microsoft: msal, with one account's serialized token cache per connection.

The cache (access token, refresh token, id token) is the connection's secret; when msal refreshes a
token the cache changes and the caller seals the new one (``Credentials.changed``). msal fetches the
authority's OpenID configuration each time an app is built — once per provider, so once per sync —
so this process keeps those public documents for an hour.
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any

import msal
from django.conf import settings

from integrations.base import ProviderError
from integrations.choices import gettext_noop

# offline_access, openid and profile are reserved scopes that msal adds by itself.
SCOPES = ["Calendars.ReadWrite", "User.Read"]

REFUSED = gettext_noop("Microsoft refused the stored authorization; reconnect the account.")
UNAVAILABLE = gettext_noop("Microsoft's sign-in service did not answer; trying again later.")
# The answers of a refresh that mean only the user can fix it (revoked, password changed, MFA).
_NEEDS_USER = {"invalid_grant", "interaction_required", "consent_required", "login_required"}
_DISCOVERY_SECONDS = 3600
_TIMEOUT_SECONDS = 10


class _DiscoveryCache:
    """Successful GETs (msal only GETs discovery documents, which hold nothing secret)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
        return entry[1] if entry and entry[0] > time.monotonic() else None

    def put(self, key: str, response: Any) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + _DISCOVERY_SECONDS, response)


_discovery_cache = _DiscoveryCache()


class _CachingHttpClient:
    """msal's ``http_client`` interface (``get``/``post``/``close``) over another one."""

    def __init__(self, inner: Any, cache: _DiscoveryCache) -> None:
        self._inner, self._cache = inner, cache

    def get(self, url: str, params: Any = None, headers: Any = None, **kwargs: Any) -> Any:
        key = f"{url}?{sorted((params or {}).items())}"
        if (cached := self._cache.get(key)) is not None:
            return cached
        response = self._inner.get(url, params=params, headers=headers, **kwargs)
        if 200 <= response.status_code < 300:
            self._cache.put(key, response)
        return response

    def post(
        self, url: str, params: Any = None, data: Any = None, headers: Any = None, **kwargs: Any
    ) -> Any:
        return self._inner.post(url, params=params, data=data, headers=headers, **kwargs)

    def close(self) -> None:
        self._inner.close()


def identity_http_client() -> Any:
    """The HTTP client msal reaches the identity platform with (the test suite puts its fake here).

    requests, as msal's own default, with a timeout and one retry on a dropped connection.
    """
    import requests  # msal's own dependency

    session = requests.Session()
    # Every request with a timeout: requests has no session-wide one, so its method is wrapped.
    session.request = functools.partial(session.request, timeout=_TIMEOUT_SECONDS)  # type: ignore[method-assign]
    adapter = requests.adapters.HTTPAdapter(max_retries=1)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return _CachingHttpClient(session, _discovery_cache)


def confidential_client(
    *, token_cache: msal.TokenCache | None = None, http_client: Any = None
) -> msal.ConfidentialClientApplication:
    """Our msal app (for sign-in as well as for refreshing a connection's tokens)."""
    return msal.ConfidentialClientApplication(
        settings.MICROSOFT_CLIENT_ID,
        client_credential=settings.MICROSOFT_CLIENT_SECRET,
        authority=settings.MICROSOFT_AUTHORITY,
        token_cache=token_cache,
        http_client=http_client or identity_http_client(),
    )


class Credentials:
    """One account's token cache, and the access token taken from it (refreshed when needed).

    The msal app is built on first use, so a provider that never calls Graph costs nothing. Safe
    to share between threads: one refresh at a time.
    """

    def __init__(
        self,
        *,
        token_cache: str,
        home_account_id: str = "",
        username: str = "",
        http_client: Any = None,
    ) -> None:
        self._cache = msal.SerializableTokenCache()
        if token_cache:
            self._cache.deserialize(token_cache)
        self.home_account_id = home_account_id
        self.username = username
        self._http_client = http_client
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()
        self._token = ""

    @property
    def changed(self) -> bool:
        """True once msal has written to the cache (a refresh): seal ``serialize()`` again."""
        changed: bool = self._cache.has_state_changed
        return changed

    def serialize(self) -> str:
        serialized: str = self._cache.serialize()
        return serialized

    def access_token(self, *, rejected: str = "") -> str:
        """A current access token. Pass the one Graph ``rejected`` to force a refresh; when
        another thread has refreshed it meanwhile, its new token is returned instead."""
        with self._lock:
            if not self._token or self._token == rejected:
                self._token = self._acquire(force_refresh=bool(rejected))
            return self._token

    def _acquire(self, *, force_refresh: bool) -> str:
        try:
            if self._app is None:
                self._app = confidential_client(
                    token_cache=self._cache, http_client=self._http_client
                )
            account = self._account(self._app)
            if account is None:
                raise ProviderError(REFUSED, permanent=True)
            # From the cache when the token has more than five minutes left, else a refresh.
            result = self._app.acquire_token_silent_with_error(
                SCOPES, account, force_refresh=force_refresh
            )
        except ProviderError:
            raise
        except Exception as error:  # requests' and msal's errors: the service did not answer
            raise ProviderError(UNAVAILABLE, permanent=False) from error
        if not result:  # no refresh token in the cache
            raise ProviderError(REFUSED, permanent=True)
        if "access_token" not in result:
            if result.get("error") in _NEEDS_USER:
                raise ProviderError(REFUSED, permanent=True)
            raise ProviderError(UNAVAILABLE, permanent=False)
        token: str = result["access_token"]
        return token

    def _account(self, app: msal.ConfidentialClientApplication) -> dict[str, Any] | None:
        accounts: list[dict[str, Any]] = app.get_accounts()
        for account in accounts:
            if self.home_account_id and account.get("home_account_id") == self.home_account_id:
                return account
        if self.username:
            for account in accounts:
                if account.get("username", "").lower() == self.username.lower():
                    return account
        return None
