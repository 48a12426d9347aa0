"""Connecting a Google account: the OAuth 2.0 authorization-code flow with PKCE.

``authorization_start`` gives the consent URL and what the session must keep (state and code
verifier); ``authorization_finish`` exchanges the code for tokens and says which account it was.
We ask for offline access with ``prompt=consent`` so every connection gets a refresh token, and
for exactly the scopes in ``integrations.scopes``.

The account's address comes from the id token, decoded without checking Google's signature. That
is sound here: the token is not something the browser handed us, it is the body of the token
endpoint's answer to our own client-authenticated request over TLS, so TLS already tells us Google
issued it (OpenID Connect Core 1.0, 3.1.3.7, point 6). Its audience and issuer are still checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from google.auth import jwt
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from integrations import scopes
from integrations.choices import gettext_noop
from integrations.oauth_state import Grant, OAuthError, missing_scopes, new_state

SCOPES = scopes.names(scopes.GOOGLE_CALENDAR_CONNECTION)
ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})

NO_CODE = gettext_noop(
    "Google sent no authorization back. Nothing was connected; please try again."
)
REFUSED = gettext_noop(
    "Google did not accept this authorization (it may have been used already). Nothing was "
    "connected; please start again."
)
UNREACHABLE = gettext_noop(
    "Google's sign-in service could not be reached. Nothing was connected; try again."
)
SCOPES_MISSING = gettext_noop(
    "Multical needs every permission on Google's consent screen to sync your calendars (some "
    "boxes were left unticked). Nothing was connected; please start again and allow them all."
)
NO_LASTING_ACCESS = gettext_noop(
    "Google gave no lasting access. Nothing was connected; please start again."
)
NO_ACCOUNT = gettext_noop("Google did not say which account was connected. Nothing was connected.")


def is_configured() -> bool:
    return bool(settings.GOOGLE_CLIENT_ID)


def authorization_start(*, redirect_uri: str) -> tuple[str, dict[str, str]]:
    """The consent URL to send the user to, and the pending flow to keep in their session."""
    state = new_state()
    flow = build_flow(redirect_uri=redirect_uri)
    url, _ = flow.authorization_url(
        state=state, access_type="offline", prompt="consent", include_granted_scopes="true"
    )
    return url, {"state": state, "code_verifier": flow.code_verifier}


def authorization_finish(
    *, pending: Mapping[str, Any], query: Mapping[str, str], redirect_uri: str
) -> Grant:
    """Exchange the callback's code (its state already checked) for the account's tokens."""
    code = query.get("code", "")
    if not code:
        raise OAuthError(NO_CODE)
    flow = build_flow(redirect_uri=redirect_uri, code_verifier=pending["code_verifier"])
    token = exchange_code(flow, code)
    if missing_scopes(SCOPES, token.get("scope")):
        raise OAuthError(SCOPES_MISSING)
    if not token.get("refresh_token"):
        raise OAuthError(NO_LASTING_ACCESS)
    email = _email_from_id_token(token.get("id_token", ""))
    return Grant(
        email=email,
        secrets={
            "refresh_token": token["refresh_token"],
            "access_token": token.get("access_token", ""),
            "expires_at": _expires_at(token),
            "email": email,
        },
    )


def build_flow(
    *, redirect_uri: str, scopes: list[str] = SCOPES, code_verifier: str | None = None
) -> Flow:
    """google-auth-oauthlib's flow for our client, with PKCE (a verifier made when none is given)."""
    config = {
        "web": {
            "client_id": settings.GOOGLE_CLIENT_ID,
            "client_secret": settings.GOOGLE_CLIENT_SECRET,
            "auth_uri": settings.GOOGLE_AUTH_URI,
            "token_uri": settings.GOOGLE_TOKEN_URI,
        }
    }
    return Flow.from_client_config(
        config,
        scopes=scopes,
        redirect_uri=redirect_uri,
        code_verifier=code_verifier,
        autogenerate_code_verifier=True,
    )


def exchange_code(flow: Flow, code: str) -> dict[str, Any]:
    try:
        return dict(flow.fetch_token(code=code))
    except OAuth2Error as error:
        raise OAuthError(REFUSED) from error
    except requests.RequestException as error:
        raise OAuthError(UNREACHABLE, status=502) from error
    except Warning as changed:
        # oauthlib raises this when the granted scopes differ from the requested ones (with
        # include_granted_scopes, earlier grants come back too); the token rides on it, and the
        # scopes are checked by the caller.
        token = getattr(changed, "token", None)
        if token is None:
            raise
        return dict(token)


def _email_from_id_token(id_token: str) -> str:
    try:
        claims = jwt.decode(id_token, verify=False)
    except ValueError as error:
        raise OAuthError(NO_ACCOUNT, status=502) from error
    if (
        claims.get("aud") != settings.GOOGLE_CLIENT_ID
        or claims.get("iss") not in ISSUERS
        or not claims.get("email")
        or claims.get("email_verified") is False
    ):
        raise OAuthError(NO_ACCOUNT, status=502)
    return str(claims["email"]).lower()


def _expires_at(token: Mapping[str, Any]) -> str:
    if token.get("expires_at"):
        moment = datetime.fromtimestamp(float(token["expires_at"]), UTC)
    elif token.get("expires_in"):
        moment = datetime.now(UTC) + timedelta(seconds=float(token["expires_in"]))
    else:
        return ""
    return moment.isoformat()
