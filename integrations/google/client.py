"""The Google Calendar API client: credentials and their refresh, pacing, and errors in plain words.

``GoogleClient.call`` runs one API request and turns every failure into a ``ProviderError``
(``GoogleAPIError`` when Google answered with an HTTP error, so callers can accept a 404 or 409
where it means something). Access tokens are refreshed by google-auth before a request when they
are expired or about to be, and after a 401; the client then reports the new secrets so the
caller can seal them again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import google_auth_httplib2
import httplib2
from django.conf import settings
from django.core.cache import cache
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import Error as ClientLibraryError
from googleapiclient.errors import HttpError

from integrations.base import ProviderError
from integrations.choices import gettext_noop
from multical.lib.http_headers import retry_after_seconds

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 20
# Google allows 600 requests a minute per user; stay under it with room for other clients.
DEFAULT_REQUESTS_PER_MINUTE = 500

REVOKED = gettext_noop("Google refused the stored authorization; reconnect the account.")
UNAUTHORIZED = gettext_noop(
    "Google did not accept the stored authorization; reconnect the account."
)
FORBIDDEN = gettext_noop(
    "Google refused access: the calendar is read-only or not shared with this account."
)
NOT_FOUND = gettext_noop(
    "This calendar no longer exists at Google, or the account lost access to it."
)
RATE_LIMITED = gettext_noop("Google asked us to slow down; trying again shortly.")
UNREACHABLE = gettext_noop("Google Calendar could not be reached; trying again later.")
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
DAILY_LIMIT_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})


class GoogleAPIError(ProviderError):
    """Google answered with an HTTP error; ``status`` and ``reason`` say which."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        reason: str,
        permanent: bool,
        retry_after: float | None = None,
        params: Mapping[str, str | int] | None = None,
    ) -> None:
        super().__init__(
            message,
            permanent=permanent,
            retry_after=retry_after,
            params=params,
            throttled=status == 429 or (status == 403 and reason in RATE_LIMIT_REASONS),
        )
        self.status = status
        self.reason = reason


def parse_expiry(value: str) -> datetime | None:
    """A stored ``expires_at`` (ISO 8601) as the naive UTC datetime google-auth expects."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None  # unknown expiry: google-auth uses the token until Google answers 401
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


class GoogleClient:
    """One account's authorised connection to the Calendar API."""

    def __init__(
        self, *, refresh_token: str, access_token: str, expires_at: str, email: str
    ) -> None:
        self.email = email
        self.credentials = Credentials(
            token=access_token or None,
            refresh_token=refresh_token or None,
            token_uri=settings.GOOGLE_TOKEN_URI,
            client_id=settings.GOOGLE_CLIENT_ID,
            client_secret=settings.GOOGLE_CLIENT_SECRET,
            expiry=parse_expiry(expires_at),
        )
        self._issued = (access_token, refresh_token)
        self._service: Any = None
        self.request_count = 0
        # Pacing is per account: keyed by a digest, so no address lands in the cache's keys.
        account = email or refresh_token
        self._pace_key = hashlib.sha256(f"google-account:{account}".encode()).hexdigest()[:32]

    @property
    def secrets_changed(self) -> bool:
        """True once a refresh gave new tokens: seal ``current_secrets()`` again."""
        return (self.credentials.token or "", self.credentials.refresh_token or "") != self._issued

    def current_secrets(self) -> dict[str, str]:
        expiry = self.credentials.expiry
        return {
            "refresh_token": self.credentials.refresh_token or "",
            "access_token": self.credentials.token or "",
            "expires_at": expiry.replace(tzinfo=UTC).isoformat() if expiry else "",
            "email": self.email,
        }

    @property
    def service(self) -> Any:
        if self._service is None:
            http = httplib2.Http(timeout=TIMEOUT_SECONDS)
            http.redirect_codes = http.redirect_codes - {308}
            self._service = build(
                "calendar",
                "v3",
                http=google_auth_httplib2.AuthorizedHttp(self.credentials, http=http),
                static_discovery=True,
                cache_discovery=False,
                client_options={"api_endpoint": settings.GOOGLE_API_ENDPOINT},
            )
        return self._service

    def call(self, request: Any) -> dict[str, Any]:
        """Execute one prepared request; its JSON answer ({} for an empty one)."""
        self._take_request_slot()
        self.request_count += 1
        try:
            return request.execute() or {}
        except HttpError as error:
            raise api_error(error) from None
        except RefreshError as error:
            raise refresh_error(error) from None
        except (TransportError, httplib2.HttpLib2Error, OSError) as error:
            logger.info("Google Calendar unreachable: %s", type(error).__name__)
            raise ProviderError(UNREACHABLE, permanent=False) from None
        except (ClientLibraryError, ValueError) as error:
            # An answer that is not the JSON Google sends (a proxy's error page, a cut body).
            logger.info("Unreadable answer from Google Calendar: %s", type(error).__name__)
            raise ProviderError(
                gettext_noop(
                    "Google Calendar sent an answer we could not read; trying again later."
                ),
                permanent=False,
            ) from None

    def _take_request_slot(self) -> None:
        """Count the request against the account's minute; over the limit, back off until the next."""
        limit = getattr(settings, "GOOGLE_REQUESTS_PER_MINUTE", DEFAULT_REQUESTS_PER_MINUTE)
        now = time.time()
        key = f"google:pace:{self._pace_key}:{int(now // 60)}"
        cache.add(key, 0, timeout=120)
        if cache.incr(key) > limit:
            raise ProviderError(
                gettext_noop(
                    "Paused to stay under Google's request limit for this account; continuing "
                    "shortly."
                ),
                permanent=False,
                retry_after=60 - now % 60,
            )


def api_error(error: HttpError) -> GoogleAPIError:
    """Google's HTTP error in plain words (never the URL, which names the calendar)."""
    status = error.resp.status
    reason = _reason(error.content)
    retry_after = retry_after_seconds(error.resp.get("retry-after", ""))

    def make(message: str, *, permanent: bool, wait: float | None = None) -> GoogleAPIError:
        return GoogleAPIError(
            message,
            status=status,
            reason=reason,
            permanent=permanent,
            retry_after=wait,
            params={"status": status},
        )

    if status == 401:
        return make(UNAUTHORIZED, permanent=True)
    if status == 429 or (status == 403 and reason in RATE_LIMIT_REASONS):
        return make(RATE_LIMITED, permanent=False, wait=retry_after)
    if status == 403 and reason in DAILY_LIMIT_REASONS:
        return make(
            gettext_noop("Google's daily request limit is used up; trying again later."),
            permanent=False,
            wait=retry_after or 3600,
        )
    if status == 403:
        return make(FORBIDDEN, permanent=True)
    if status == 404:
        return make(NOT_FOUND, permanent=True)
    if status >= 500:
        return make(
            gettext_noop(
                "Google Calendar is having trouble (HTTP %(status)s); trying again later."
            ),
            permanent=False,
            wait=retry_after,
        )
    return make(
        gettext_noop("Google Calendar refused the request (HTTP %(status)s)."), permanent=False
    )


def refresh_error(error: RefreshError) -> ProviderError:
    data = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], dict) else {}
    code = data.get("error", "")
    if code == "invalid_grant":
        return ProviderError(REVOKED, permanent=True)
    if not data and "necessary fields" in str(error):
        # No refresh token stored (an incomplete sign-in): only reconnecting can give one.
        return ProviderError(REVOKED, permanent=True)
    if code in ("invalid_client", "unauthorized_client"):
        logger.error("Google refused this server's OAuth client (%s)", code)
        return ProviderError(
            gettext_noop(
                "Google refused this server's sign-in settings; the operator must check them."
            ),
            permanent=False,
        )
    return ProviderError(UNREACHABLE, permanent=False)


def _reason(content: bytes) -> str:
    try:
        data = json.loads(content)
        return str(data["error"]["errors"][0]["reason"])
    except (ValueError, KeyError, IndexError, TypeError):
        return ""
