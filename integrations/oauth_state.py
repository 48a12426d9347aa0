"""What an OAuth flow keeps in the session between the redirect to the provider and the callback.

One pending flow per provider, under its own session key: the random ``state``, the PKCE code
verifier (or msal's whole flow dict), the user it was started for and when. The callback takes it
out before anything else happens, so a state works once: a replayed, foreign or missing state finds
nothing and no token is ever exchanged for it. Secrets from the provider never enter the session.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from integrations.choices import gettext_noop, in_english

# Long enough to read a consent screen and sign in with a second factor.
PENDING_SECONDS = 15 * 60

STATE_INVALID = gettext_noop(
    "This connection attempt is no longer valid (it expired, was already used, or was started in "
    "another browser). Nothing was connected; please start again."
)


class OAuthError(Exception):
    """Why a flow could not be completed, in words for the user; ``status`` for the error page.

    The words are English, marked for the catalogues, with what varies apart in ``params``, as a
    ``ProviderError``'s are: the page shows them in the reader's language
    (``integrations.wording.translated``). ``message`` has the values filled in."""

    def __init__(
        self, message: str, *, status: int = 400, params: Mapping[str, str | int] | None = None
    ) -> None:
        self.msgid = message
        self.params: dict[str, str | int] = dict(params or {})
        self.message = in_english(message, self.params)
        super().__init__(self.message)
        self.status = status


@dataclass(frozen=True)
class Grant:
    """A completed authorization: the account's address and the secrets to seal for it."""

    email: str
    secrets: dict[str, str]


def new_state() -> str:
    return secrets.token_urlsafe(32)


def _key(provider: str) -> str:
    return f"oauth:pending:{provider}"


def pending_save(request: HttpRequest, provider: str, pending: Mapping[str, Any]) -> None:
    """Remember a flow just started (``pending["state"]`` included); replaces an older one."""
    request.session[_key(provider)] = {
        **pending,
        "user_id": str(request.user.pk),
        "started_at": time.time(),
    }


def pending_pop(request: HttpRequest, provider: str, *, state: str) -> dict[str, Any]:
    """The pending flow ``state`` belongs to, removed from the session; else ``OAuthError``.

    Removed whatever the outcome, so neither a wrong guess nor a replay leaves it usable.
    """
    pending = request.session.pop(_key(provider), None)
    if (
        not isinstance(pending, dict)
        or not state
        or not hmac.compare_digest(str(pending.get("state", "")), state)
        or pending.get("user_id") != str(request.user.pk)
        or time.time() - float(pending.get("started_at", 0)) > PENDING_SECONDS
    ):
        raise OAuthError(STATE_INVALID, status=400)
    return pending


def missing_scopes(required: Iterable[str], granted: str | Iterable[str] | None) -> list[str]:
    """The required scopes a token response did not grant (users may untick some at Google)."""
    if granted is None:
        return []  # no "scope" in the answer means: as requested (RFC 6749, 5.1)
    granted_set = set(granted.split() if isinstance(granted, str) else granted)
    return [scope for scope in required if scope not in granted_set]
