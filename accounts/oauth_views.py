"""Signing in with Google or Microsoft: a start view (POST) and a callback per provider, and the
"finish signing up" step for an address no account uses yet.

The pending flow (state and PKCE verifier, or msal's flow dict) is kept by
``integrations.oauth_state`` under a key of its own, so a sign-in never collides with a calendar
connection in progress, and the callback takes it out before any token is exchanged. Identity is
the e-mail address of the id token the provider's token endpoint returned to our own
client-authenticated request (see ``integrations.google.oauth`` for why its signature need not be
checked), and only when the provider vouches for it.

An existing account is signed into (``user_sign_in_with_provider``). For an address no account
uses, nothing is created at the callback: Terms and Privacy consent cannot be implied by a provider
sign-in. The verified identity (provider, address, subject) is held in the session, never in a URL
or a form field the browser could alter, for ``SIGN_UP_SECONDS`` and one use; the account is
created only when its owner accepts the legal documents on the finish-signing-up page.

Where to go afterwards: the login page's ``next`` travels in the pending flow and then in the held
identity (both in the session, not in the URL the provider sends back), and is followed only if it
is a path on this site.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from google.auth import jwt
from google_auth_oauthlib.flow import Flow

from accounts import forms, selectors, services, sign_in
from accounts.models import User
from integrations import oauth_state, scopes
from integrations.google import oauth as google_oauth
from integrations.microsoft.credentials import confidential_client

logger = logging.getLogger(__name__)

GOOGLE = "google"
MICROSOFT = "microsoft"
NAMES = {GOOGLE: "Google", MICROSOFT: "Microsoft"}
GOOGLE_SCOPES = scopes.names(scopes.GOOGLE_SIGN_IN)
MICROSOFT_SCOPES = scopes.msal_names(scopes.MICROSOFT_SIGN_IN)
# The finish-signing-up step: long enough to read the Terms, short enough that a forgotten tab
# on a shared computer cannot be used to open an account later.
SIGN_UP_SESSION_KEY = "accounts:oauth:sign-up"
SIGN_UP_SECONDS = 15 * 60
# Longer than any path of ours with its query; a longer ``next`` is dropped.
NEXT_MAX_LENGTH = 2000

REFUSED = gettext_lazy(
    "{name} did not accept this sign-in (it may have been used already). Please try again."
)
UNREACHABLE = gettext_lazy("{name}'s sign-in service could not be reached. Please try again.")
NO_ACCOUNT = gettext_lazy("{name} did not say which account you signed in with.")
UNVERIFIED = gettext_lazy(
    "{name} did not confirm that {email} is your address, so we cannot sign you in with it. "
    "Log in with your password instead."
)
DISABLED = gettext_lazy("The Multical account that uses {email} is disabled.")
DENIED = gettext_lazy("You did not sign in at {name}, so you are not logged in.")
STATE_INVALID = gettext_lazy(
    "This sign-in attempt is no longer valid (it expired, was already used, or was started in "
    "another browser). Please start again."
)
SIGN_UP_INVALID = gettext_lazy(
    "This sign-up is no longer valid (it expired, was already completed, or was started in "
    "another browser). No account was created; please sign in with Google or Microsoft again."
)
SIGN_UP_CANCELLED = gettext_lazy("You did not finish signing up, so no account was created.")
MICROSOFT_NO_EMAIL = gettext_lazy(
    "Microsoft did not share an e-mail address for this account, so we cannot tell which "
    "Multical account is yours. Log in or sign up with your e-mail address and a password instead."
)
MICROSOFT_DOMAIN_UNVERIFIED = gettext_lazy(
    "Microsoft could not confirm that your organisation owns the domain of {email}, so we cannot "
    "sign you in with it. Your organisation's administrator must verify this domain in Microsoft "
    "Entra ID. Until then, log in or sign up with your e-mail address and a password."
)
MICROSOFT_NO_DOMAIN_CLAIM = gettext_lazy(
    "Microsoft did not say whether the domain of {email} is verified, so we cannot sign you in "
    "with it. The administrator of this Multical server must enable the optional claim xms_edov "
    "in its Microsoft app registration. Until then, log in or sign up with your e-mail address "
    "and a password."
)


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in; ``email`` identifies them only when ``verified``."""

    email: str
    verified: bool
    subject: str


def _pending_key(provider: str) -> str:
    return f"sign-in:{provider}"


def _redirect_uri(provider: str) -> str:
    return settings.SITE_URL + reverse(f"accounts_oauth:{provider}_sign_in_callback")


def _error(request: HttpRequest, provider: str, message: str, *, status: int) -> HttpResponse:
    return render(
        request,
        "accounts/oauth_error.html",
        {"provider_name": NAMES.get(provider, ""), "message": message},
        status=status,
    )


def safe_next(request: HttpRequest, url: object) -> str:
    """``url`` if it is a path on this site, else "" (``//evil.com``, ``https://…``, ``javascript:``)."""
    if (
        isinstance(url, str)
        and url.startswith("/")
        and len(url) <= NEXT_MAX_LENGTH
        and url_has_allowed_host_and_scheme(
            url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return url
    return ""


def _start(
    request: HttpRequest, provider: str, url: str, pending: Mapping[str, Any]
) -> HttpResponse:
    next_url = safe_next(request, request.POST.get("next"))
    oauth_state.pending_save(request, _pending_key(provider), {**pending, "next": next_url})
    return redirect(url)


def _sign_in(request: HttpRequest, user: User, provider: str, next_url: str) -> HttpResponse:
    """Log in (under a new session id, after the code when two-factor sign-in is on), audit it,
    and go where the login page was to lead."""
    return sign_in.sign_in(request, user, next_url=safe_next(request, next_url), provider=provider)


def _finish(request: HttpRequest, provider: str, identity: Identity, next_url: str) -> HttpResponse:
    name = NAMES[provider]
    if not identity.verified:
        message = UNVERIFIED.format(name=name, email=identity.email)
        return _error(request, provider, message, status=403)
    user = services.user_sign_in_with_provider(email=identity.email, email_verified=True)
    if user is not None:
        return _sign_in(request, user, provider, next_url)
    if selectors.user_exists(email=identity.email):
        return _error(request, provider, DISABLED.format(email=identity.email), status=403)
    request.session[SIGN_UP_SESSION_KEY] = {
        "provider": provider,
        "email": identity.email,
        "subject": identity.subject,
        "next": next_url,
        "held_at": time.time(),
    }
    return redirect("accounts_oauth:sign_up")


Identify = Callable[[Mapping[str, Any], Mapping[str, str]], Identity]


def _callback(request: HttpRequest, provider: str, identify: Identify) -> HttpResponse:
    """State first (a missing, foreign or replayed one exchanges nothing), then the identity."""
    try:
        pending = oauth_state.pending_pop(
            request, _pending_key(provider), state=request.GET.get("state", "")
        )
    except oauth_state.OAuthError:
        return _error(request, provider, str(STATE_INVALID), status=400)
    next_url = str(pending.pop("next", ""))
    try:
        if request.GET.get("error"):
            return _error(request, provider, DENIED.format(name=NAMES[provider]), status=200)
        identity = identify(pending, request.GET.dict())
    except oauth_state.OAuthError as error:
        return _error(request, provider, error.message, status=error.status)
    return _finish(request, provider, identity, next_url)


# Finishing signing up -----------------------------------------------------------------------------


def _held_identity(request: HttpRequest) -> dict[str, Any] | None:
    """The identity waiting for its owner's consent, if well-formed and fresh; else dropped."""
    held = request.session.get(SIGN_UP_SESSION_KEY)
    if (
        isinstance(held, dict)
        and held.get("provider") in NAMES
        and isinstance(held.get("email"), str)
        and "@" in held["email"]
        and isinstance(held.get("next"), str)
        and isinstance(held.get("held_at"), int | float)
        and 0 <= time.time() - held["held_at"] <= SIGN_UP_SECONDS
    ):
        return held
    request.session.pop(SIGN_UP_SESSION_KEY, None)
    return None


@require_http_methods(["GET", "POST"])
def sign_up(request: HttpRequest) -> HttpResponse:
    """Create the account for the address a provider just verified, once the Terms are accepted."""
    held = _held_identity(request)
    if held is None:
        return _error(request, "", str(SIGN_UP_INVALID), status=400)
    form = forms.LegalConsentForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        del request.session[SIGN_UP_SESSION_KEY]  # one use, whatever happens next
        user = services.user_register_with_provider(
            email=held["email"],
            time_zone=form.cleaned_data["time_zone"],
            marketing_email=form.cleaned_data["marketing_email"],
        )
        if user is None:
            message = DISABLED.format(email=held["email"])
            return _error(request, held["provider"], message, status=403)
        return _sign_in(request, user, held["provider"], held["next"])
    context = {"form": form, "email": held["email"], "provider_name": NAMES[held["provider"]]}
    return render(request, "accounts/oauth_sign_up.html", context)


@require_POST
def sign_up_cancel(request: HttpRequest) -> HttpResponse:
    """Forget the held identity: leaving the step creates nothing."""
    request.session.pop(SIGN_UP_SESSION_KEY, None)
    messages.info(request, SIGN_UP_CANCELLED)
    return redirect("accounts:login")


# Google -------------------------------------------------------------------------------------------


def _google_flow(*, code_verifier: str | None = None) -> Flow:
    return google_oauth.build_flow(
        redirect_uri=_redirect_uri(GOOGLE), scopes=GOOGLE_SCOPES, code_verifier=code_verifier
    )


def _google_identity(pending: Mapping[str, Any], query: Mapping[str, str]) -> Identity:
    name = NAMES[GOOGLE]
    if not query.get("code"):
        raise oauth_state.OAuthError(REFUSED.format(name=name))
    flow = _google_flow(code_verifier=pending["code_verifier"])
    try:
        token = google_oauth.exchange_code(flow, query["code"])
    except oauth_state.OAuthError as error:
        message = REFUSED if error.status == 400 else UNREACHABLE
        raise oauth_state.OAuthError(message.format(name=name), status=error.status) from error
    try:
        claims = jwt.decode(token.get("id_token", ""), verify=False)
    except ValueError as error:
        raise oauth_state.OAuthError(NO_ACCOUNT.format(name=name), status=502) from error
    if (
        claims.get("aud") != settings.GOOGLE_CLIENT_ID
        or claims.get("iss") not in google_oauth.ISSUERS
        or not claims.get("email")
    ):
        raise oauth_state.OAuthError(NO_ACCOUNT.format(name=name), status=502)
    return Identity(
        email=str(claims["email"]).lower(),
        verified=claims.get("email_verified") is True,
        subject=str(claims.get("sub", "")),
    )


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


def _claim_true(value: object) -> bool:
    """A boolean claim's truth: JSON true, or the string forms "1" and "true" some tokens carry."""
    return value is True or (isinstance(value, str) and value.strip().lower() in ("1", "true"))


def microsoft_verified_email(claims: Mapping[str, Any]) -> str:
    """The address Microsoft vouches for in an id token's claims; else ``OAuthError`` (403).

    Microsoft issues no ``email_verified``. ``preferred_username`` is only a display hint, and the
    ``email`` claim is the directory's mail attribute, which any tenant's administrator (and, in
    some tenants, the user) can set to someone else's address: trusting either alone lets a
    stranger's tenant take over an account (Microsoft's "migrate off email claim authorization"
    advisory). So the ``email`` claim is used only when the optional ``xms_edov`` ("email domain
    owner verified") claim is true, which Microsoft sets when the address's domain is verified by
    the user's own tenant, or the address is that of a personal Microsoft account, a Google
    account, or was proven with a one-time passcode. Without the claim (the app registration does
    not request it) or with it false, the sign-in is refused with words saying who can fix it.

    The earlier rule (any work or school tenant is trusted, personal accounts never) is gone: a
    tenant alone proves nothing about an address, and ``xms_edov`` already covers personal accounts.
    """
    email = str(claims.get("email") or "").strip().lower()
    if "@" not in email:
        raise oauth_state.OAuthError(str(MICROSOFT_NO_EMAIL), status=403)
    if "xms_edov" not in claims:
        logger.warning(
            "Microsoft sign-in refused: the id token has no xms_edov claim; add it to the app "
            "registration's optional claims (ID token)."
        )
        raise oauth_state.OAuthError(MICROSOFT_NO_DOMAIN_CLAIM.format(email=email), status=403)
    if not _claim_true(claims["xms_edov"]):
        raise oauth_state.OAuthError(MICROSOFT_DOMAIN_UNVERIFIED.format(email=email), status=403)
    return email


def _microsoft_identity(pending: Mapping[str, Any], query: Mapping[str, str]) -> Identity:
    name = NAMES[MICROSOFT]
    flow = {key: value for key, value in pending.items() if key not in ("user_id", "started_at")}
    try:
        result = confidential_client().acquire_token_by_auth_code_flow(
            flow, dict(query), scopes=MICROSOFT_SCOPES
        )
    except ValueError as error:  # msal: the answer does not belong to this flow
        raise oauth_state.OAuthError(REFUSED.format(name=name)) from error
    except Exception as error:  # requests' and msal's transport errors
        raise oauth_state.OAuthError(UNREACHABLE.format(name=name), status=502) from error
    claims = result.get("id_token_claims") or {}
    if "access_token" not in result or not claims:
        raise oauth_state.OAuthError(REFUSED.format(name=name))
    return Identity(
        email=microsoft_verified_email(claims), verified=True, subject=str(claims.get("sub", ""))
    )


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
