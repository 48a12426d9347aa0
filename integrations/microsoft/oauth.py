"""Connecting a Microsoft 365 / Outlook account: msal's authorization-code flow (PKCE and nonce).

``authorization_start`` gives msal's consent URL and its flow dict (state, code verifier, nonce),
which the session keeps; ``authorization_finish`` hands that dict and the callback's query back to
msal, which redeems the code and checks the id token's nonce, then asks Graph's ``/me`` for the
account's address (``User.Read``). The connection's secret is the serialized token cache, sealed by
the caller; it never passes through the session.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import msal
from django.conf import settings

from integrations import scopes
from integrations.base import ProviderError
from integrations.choices import gettext_noop
from integrations.microsoft.credentials import confidential_client
from integrations.microsoft.provider import MicrosoftProvider
from integrations.oauth_state import Grant, OAuthError, missing_scopes, new_state

# What we hand msal; it adds openid, profile and offline_access itself (declared in ``scopes``).
SCOPES = scopes.msal_names(scopes.MICROSOFT_CALENDAR_CONNECTION)

REFUSED = gettext_noop(
    "Microsoft did not accept this authorization (it may have been used already). Nothing was "
    "connected; please start again."
)
UNREACHABLE = gettext_noop(
    "Microsoft's sign-in service could not be reached. Nothing was connected; try again."
)
SCOPES_MISSING = gettext_noop(
    "Microsoft did not grant access to your calendars (an administrator may need to approve "
    "Multical). Nothing was connected."
)
NO_ACCOUNT = gettext_noop(
    "Microsoft did not say which account was connected. Nothing was connected."
)


def is_configured() -> bool:
    return bool(settings.MICROSOFT_CLIENT_ID)


def authorization_start(*, redirect_uri: str) -> tuple[str, dict[str, Any]]:
    """The consent URL to send the user to, and msal's flow dict to keep in their session."""
    try:
        with warnings.catch_warnings():
            # msal recommends form_post, but that answer is a cross-site POST, which browsers send
            # without our SameSite=Lax session cookie: the state could not be checked against the
            # session. A code in the query is single use and worthless without the PKCE verifier.
            warnings.filterwarnings("ignore", message="response_mode='form_post'")
            flow = confidential_client().initiate_auth_code_flow(
                SCOPES, redirect_uri=redirect_uri, state=new_state(), response_mode="query"
            )
    except Exception as error:  # msal fetches the authority's discovery documents first
        raise OAuthError(UNREACHABLE, status=502) from error
    return flow["auth_uri"], flow


def authorization_finish(
    *, pending: Mapping[str, Any], query: Mapping[str, str], redirect_uri: str
) -> Grant:
    """Redeem the callback's code with msal (state already checked; msal checks it again)."""
    flow = {key: value for key, value in pending.items() if key not in ("user_id", "started_at")}
    cache = msal.SerializableTokenCache()
    app = confidential_client(token_cache=cache)
    try:
        result = app.acquire_token_by_auth_code_flow(flow, dict(query), scopes=SCOPES)
    except ValueError as error:  # msal: the answer does not belong to this flow
        raise OAuthError(REFUSED) from error
    except Exception as error:  # requests' and msal's transport errors
        raise OAuthError(UNREACHABLE, status=502) from error
    if "access_token" not in result:
        raise OAuthError(REFUSED)
    granted = result.get("scope", "")
    granted = granted.split() if isinstance(granted, str) else granted
    if missing_scopes([s.lower() for s in SCOPES], [s.lower() for s in granted]):
        raise OAuthError(SCOPES_MISSING)
    accounts = app.get_accounts()
    if len(accounts) != 1:
        raise OAuthError(NO_ACCOUNT, status=502)
    secrets = {"token_cache": cache.serialize(), "home_account_id": accounts[0]["home_account_id"]}
    email = _account_address(secrets)
    return Grant(email=email, secrets={**secrets, "email": email})


def _account_address(secrets: Mapping[str, str]) -> str:
    """The address Graph's ``/me`` gives the account just connected; else ``OAuthError``."""
    provider = MicrosoftProvider.from_secrets(secrets)
    try:
        email = provider.account_address()
    except ProviderError as error:
        raise OAuthError(NO_ACCOUNT, status=502) from error
    finally:
        provider.close()
    if not email:
        raise OAuthError(NO_ACCOUNT, status=502)
    return email
