"""Connecting a Zoom account: the user-level OAuth 2.0 authorization-code flow with PKCE (S256).

A multi-tenant product must use user-level OAuth: server-to-server apps only reach the Zoom account
that owns them. ``authorization_start`` gives the consent URL and what the session must keep (state
and code verifier); ``authorization_finish`` exchanges the code at ``ZOOM_OAUTH_URL/token`` with
HTTP Basic client authentication and asks ``GET /users/me`` which account it was (its address, to
name the connection, and Zoom's id of the user, sealed with the tokens, which Zoom's
deauthorization notice names).

Zoom takes the scopes from the app's Marketplace configuration rather than from the request, so the
token answer's ``scope`` is checked against ``integrations.scopes.ZOOM_CONNECTION`` instead: every
one of them must be granted, and nothing more, so the permissions page stays exactly true.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from django.conf import settings

from integrations import scopes
from integrations.base import ProviderError
from integrations.choices import gettext_noop
from integrations.oauth_state import Grant, OAuthError, missing_scopes, new_state
from integrations.zoom.client import ZoomClient, static_token

SCOPES = scopes.names(scopes.ZOOM_CONNECTION)
TIMEOUT = httpx.Timeout(15.0)

NO_CODE = gettext_noop("Zoom sent no authorization back. Nothing was connected; please try again.")
REFUSED = gettext_noop(
    "Zoom did not accept this authorization (it may have been used already). Nothing was "
    "connected; please start again."
)
UNREACHABLE = gettext_noop(
    "Zoom's sign-in service could not be reached. Nothing was connected; try again."
)
SCOPES_MISSING = gettext_noop(
    "Zoom did not grant every permission Multical needs to manage meetings (the server's Zoom app "
    "may lack some). Nothing was connected; ask the operator to check the app's scopes."
)
SCOPES_EXTRA = gettext_noop(
    "This server's Zoom app asks for more than Multical uses (%(scopes)s). Nothing was connected; "
    "ask the operator to remove those scopes from the app, as its permissions page promises."
)
NO_LASTING_ACCESS = gettext_noop(
    "Zoom gave no lasting access. Nothing was connected; please start again."
)
NO_ACCOUNT = gettext_noop("Zoom did not say which account was connected. Nothing was connected.")


def is_configured() -> bool:
    return bool(settings.ZOOM_CLIENT_ID)


def authorization_start(*, redirect_uri: str) -> tuple[str, dict[str, str]]:
    """The consent URL to send the user to, and the pending flow to keep in their session."""
    state = new_state()
    verifier = secrets.token_urlsafe(64)
    query = {
        "response_type": "code",
        "client_id": settings.ZOOM_CLIENT_ID,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": _challenge(verifier),
        "code_challenge_method": "S256",
    }
    url = f"{settings.ZOOM_OAUTH_URL.rstrip('/')}/authorize?{urlencode(query)}"
    return url, {"state": state, "code_verifier": verifier}


def authorization_finish(
    *, pending: Mapping[str, Any], query: Mapping[str, str], redirect_uri: str
) -> Grant:
    """Exchange the callback's code (its state already checked) for the account's tokens."""
    code = query.get("code", "")
    if not code:
        raise OAuthError(NO_CODE)
    try:
        token = token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": pending["code_verifier"],
            }
        )
    except httpx.HTTPError as error:
        raise OAuthError(UNREACHABLE, status=502) from error
    if token.status_code >= 500:
        raise OAuthError(UNREACHABLE, status=502)
    if token.status_code != 200:
        raise OAuthError(REFUSED)
    answer = token.json()
    if missing_scopes(SCOPES, answer.get("scope")):
        raise OAuthError(SCOPES_MISSING)
    if extra := _extra_scopes(answer.get("scope")):
        raise OAuthError(SCOPES_EXTRA, params={"scopes": ", ".join(extra)})
    if not answer.get("refresh_token") or not answer.get("access_token"):
        raise OAuthError(NO_LASTING_ACCESS)
    try:
        me = ZoomClient(static_token(answer["access_token"])).me()
    except ProviderError as error:
        raise OAuthError(NO_ACCOUNT, status=502) from error
    email, user_id = me.get("email"), me.get("id")
    if (
        not isinstance(email, str)
        or "@" not in email
        or not isinstance(user_id, str)
        or not user_id
    ):
        raise OAuthError(NO_ACCOUNT, status=502)
    return Grant(
        email=email.lower(), secrets={**secrets_from_token_answer(answer), "user_id": user_id}
    )


def _extra_scopes(granted: object) -> list[str]:
    """The granted scopes Multical does not use (Zoom answers with a space-separated string)."""
    names = granted.split() if isinstance(granted, str) else []
    return sorted(set(names) - set(SCOPES))


def token_request(data: Mapping[str, str]) -> httpx.Response:
    """POST to Zoom's token endpoint, the client authenticated with HTTP Basic."""
    return httpx.post(
        f"{settings.ZOOM_OAUTH_URL.rstrip('/')}/token",
        data=dict(data),
        auth=(settings.ZOOM_CLIENT_ID, settings.ZOOM_CLIENT_SECRET),
        timeout=TIMEOUT,
    )


def secrets_from_token_answer(answer: Mapping[str, Any]) -> dict[str, str]:
    """The secrets to seal from a token answer: both tokens and when the access token expires."""
    expires_at = datetime.now(UTC) + timedelta(seconds=float(answer.get("expires_in") or 3600))
    return {
        "access_token": str(answer["access_token"]),
        "refresh_token": str(answer["refresh_token"]),
        "expires_at": expires_at.isoformat(),
    }


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
