"""Signing in with Google or Microsoft: a start view (POST) and a callback per provider.

The pending flow (state and PKCE verifier, or msal's flow dict) is kept by
``integrations.oauth_state`` under a key of its own, so a sign-in never collides with a calendar
connection in progress, and the callback takes it out before any token is exchanged. Identity is
the e-mail address of the id token the provider's token endpoint returned to our own
client-authenticated request (see ``integrations.google.oauth`` for why its signature need not be
checked), and only when the provider vouches for it; ``user_sign_in_with_provider`` decides.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from google.auth import jwt
from google_auth_oauthlib.flow import Flow

from accounts import services
from accounts.models import AuditLog
from integrations import oauth_state, scopes
from integrations.google import oauth as google_oauth
from integrations.microsoft.auth import confidential_client
from multical.lib.requests import client_ip

GOOGLE = "google"
MICROSOFT = "microsoft"
NAMES = {GOOGLE: "Google", MICROSOFT: "Microsoft"}
GOOGLE_SCOPES = scopes.names(scopes.GOOGLE_SIGN_IN)
MICROSOFT_SCOPES = scopes.msal_names(scopes.MICROSOFT_SIGN_IN)
# The tenant of personal Microsoft accounts (outlook.com, hotmail.com, live.com).
MICROSOFT_CONSUMER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"

REFUSED = "{name} did not accept this sign-in (it may have been used already). Please try again."
UNREACHABLE = "{name}'s sign-in service could not be reached. Please try again."
NO_ACCOUNT = "{name} did not say which account you signed in with."
UNVERIFIED = (
    "{name} did not confirm that {email} is your address, so we cannot sign you in with it. "
    "Log in with your password instead."
)
UNKNOWN = "No Multical account uses {email}. Sign up first, then you can sign in with {name}."
DENIED = "You did not sign in at {name}, so you are not logged in."
STATE_INVALID = (
    "This sign-in attempt is no longer valid (it expired, was already used, or was started in "
    "another browser). Please start again."
)


def _pending_key(provider: str) -> str:
    return f"sign-in:{provider}"


def _redirect_uri(provider: str) -> str:
    return settings.SITE_URL + reverse(f"accounts_oauth:{provider}-sign-in-callback")


def _error(request: HttpRequest, provider: str, message: str, *, status: int) -> HttpResponse:
    return render(
        request,
        "accounts/oauth_error.html",
        {"provider_name": NAMES[provider], "message": message},
        status=status,
    )


def _start(
    request: HttpRequest, provider: str, url: str, pending: Mapping[str, Any]
) -> HttpResponse:
    oauth_state.pending_save(request, _pending_key(provider), pending)
    return redirect(url)


def _finish(request: HttpRequest, provider: str, email: str, verified: bool) -> HttpResponse:
    name = NAMES[provider]
    user = services.user_sign_in_with_provider(email=email, email_verified=verified)
    if user is None:
        message = (UNVERIFIED if not verified else UNKNOWN).format(name=name, email=email)
        return _error(request, provider, message, status=403 if not verified else 200)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    services.audit_log_record(
        user=user, action=AuditLog.Action.LOGIN, ip_address=client_ip(request), provider=provider
    )
    return redirect("dashboard")


Identify = Callable[[Mapping[str, Any], Mapping[str, str]], tuple[str, bool]]


def _callback(request: HttpRequest, provider: str, identify: Identify) -> HttpResponse:
    """State first (a missing, foreign or replayed one exchanges nothing), then the identity."""
    name = NAMES[provider]
    try:
        pending = oauth_state.pending_pop(
            request, _pending_key(provider), state=request.GET.get("state", "")
        )
    except oauth_state.OAuthError:
        return _error(request, provider, STATE_INVALID, status=400)
    try:
        if request.GET.get("error"):
            return _error(request, provider, DENIED.format(name=name), status=200)
        email, verified = identify(pending, request.GET.dict())
    except oauth_state.OAuthError as error:
        return _error(request, provider, error.message.format(name=name), status=error.status)
    return _finish(request, provider, email, verified)


# Google -------------------------------------------------------------------------------------------


def _google_flow(*, code_verifier: str | None = None) -> Flow:
    return google_oauth.build_flow(
        redirect_uri=_redirect_uri(GOOGLE), scopes=GOOGLE_SCOPES, code_verifier=code_verifier
    )


def _google_identity(pending: Mapping[str, Any], query: Mapping[str, str]) -> tuple[str, bool]:
    if not query.get("code"):
        raise oauth_state.OAuthError(REFUSED)
    flow = _google_flow(code_verifier=pending["code_verifier"])
    try:
        token = google_oauth.exchange_code(flow, query["code"])
    except oauth_state.OAuthError as error:
        message = REFUSED if error.status == 400 else UNREACHABLE
        raise oauth_state.OAuthError(message, status=error.status) from error
    try:
        claims = jwt.decode(token.get("id_token", ""), verify=False)
    except ValueError as error:
        raise oauth_state.OAuthError(NO_ACCOUNT, status=502) from error
    if (
        claims.get("aud") != settings.GOOGLE_CLIENT_ID
        or claims.get("iss") not in google_oauth.ISSUERS
        or not claims.get("email")
    ):
        raise oauth_state.OAuthError(NO_ACCOUNT, status=502)
    return str(claims["email"]).lower(), claims.get("email_verified") is True


@require_POST
def google_sign_in(request: HttpRequest) -> HttpResponse:
    """Send the visitor to Google (a POST, so no prefetch or cross-site link starts a flow)."""
    if not settings.GOOGLE_CLIENT_ID:
        raise Http404("Google sign-in is not set up on this server.")
    state = oauth_state.new_state()
    flow = _google_flow()
    url, _ = flow.authorization_url(state=state, prompt="select_account")
    return _start(request, GOOGLE, url, {"state": state, "code_verifier": flow.code_verifier})


@require_GET
def google_sign_in_callback(request: HttpRequest) -> HttpResponse:
    if not settings.GOOGLE_CLIENT_ID:
        raise Http404("Google sign-in is not set up on this server.")
    return _callback(request, GOOGLE, _google_identity)


# Microsoft ----------------------------------------------------------------------------------------


def _microsoft_identity(pending: Mapping[str, Any], query: Mapping[str, str]) -> tuple[str, bool]:
    flow = {key: value for key, value in pending.items() if key not in ("user_id", "started_at")}
    try:
        result = confidential_client().acquire_token_by_auth_code_flow(
            flow, dict(query), scopes=MICROSOFT_SCOPES
        )
    except ValueError as error:  # msal: the answer does not belong to this flow
        raise oauth_state.OAuthError(REFUSED) from error
    except Exception as error:  # requests' and msal's transport errors
        raise oauth_state.OAuthError(UNREACHABLE, status=502) from error
    claims = result.get("id_token_claims") or {}
    if "access_token" not in result or not claims:
        raise oauth_state.OAuthError(REFUSED)
    email = str(claims.get("email") or claims.get("preferred_username") or "").lower()
    if "@" not in email:
        raise oauth_state.OAuthError(NO_ACCOUNT, status=502)
    # Microsoft has no email_verified claim. A work or school tenant's directory vouches for its
    # users' addresses; a personal account's address is not vouched for, so it is refused. The
    # fake issues no ``xms_edov`` claim, so ``preferred_username`` of a work tenant is accepted.
    tenant = str(claims.get("tid") or "")
    return email, bool(tenant) and tenant != MICROSOFT_CONSUMER_TENANT


@require_POST
def microsoft_sign_in(request: HttpRequest) -> HttpResponse:
    """Send the visitor to Microsoft (a POST, so no prefetch or cross-site link starts a flow)."""
    if not settings.MICROSOFT_CLIENT_ID:
        raise Http404("Microsoft sign-in is not set up on this server.")
    try:
        with warnings.catch_warnings():
            # As for connections: a form_post answer is a cross-site POST, sent without our
            # SameSite=Lax session cookie, so its state could not be checked.
            warnings.filterwarnings("ignore", message="response_mode='form_post'")
            flow = confidential_client().initiate_auth_code_flow(
                MICROSOFT_SCOPES,
                redirect_uri=_redirect_uri(MICROSOFT),
                state=oauth_state.new_state(),
                response_mode="query",
                prompt="select_account",
            )
    except Exception:  # msal fetches the authority's discovery documents first
        return _error(request, MICROSOFT, UNREACHABLE.format(name="Microsoft"), status=502)
    return _start(request, MICROSOFT, flow["auth_uri"], flow)


@require_GET
def microsoft_sign_in_callback(request: HttpRequest) -> HttpResponse:
    if not settings.MICROSOFT_CLIENT_ID:
        raise Http404("Microsoft sign-in is not set up on this server.")
    return _callback(request, MICROSOFT, _microsoft_identity)
