"""Single sign-on pages: the admin's settings, and the sign-in through an organization's issuer.

A sign-in keeps its state, nonce and PKCE verifier in the session under ``PENDING_KEY`` and
takes them out before the callback does anything else, so a callback URL serves once. The one
callback URL (``orgs.sso.callback_url``) is what every organization registers with its issuer.
"""

from __future__ import annotations

import time
from typing import Any, TypeGuard

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import services as account_services
from accounts import sign_in
from accounts.forms import LegalConsentForm
from accounts.http import AuthenticatedHttpRequest
from accounts.oauth_views import safe_next
from console.sso_forms import SsoAddressForm, SsoProviderForm
from multical.lib import oidc, rate_limits
from multical.lib.requests import client_ip
from orgs import selectors, sso
from orgs.models import Organization, SsoProvider
from orgs.services import OrgRefused

PENDING_KEY = "orgs:sso:pending"
SIGN_UP_KEY = "orgs:sso:sign-up"
# A sign-in started and not back from the issuer within this long starts again.
PENDING_SECONDS = 10 * 60
# Each start fetches nothing new (discovery is cached) but sends the browser to a third party.
START_RATE = "60/15m"
# Linked identities listed on one page of the settings.
IDENTITIES_PER_PAGE = 50


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def sso_settings(request: AuthenticatedHttpRequest, organization_id: str) -> HttpResponse:
    membership = selectors.get_admin_membership_for_user(request.user, organization_id)
    organization = membership.organization
    provider = sso.provider_for(organization)
    initial: dict[str, Any] = {}
    if provider is not None:
        initial = {
            "issuer": provider.issuer,
            "tenants": "\n".join(provider.tenants),
            "client_id": provider.client_id,
            "enabled": provider.enabled,
            "required": provider.required,
        }
    form = SsoProviderForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        has_secret=bool(provider and provider.client_secret),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        stamp = request.user.session_stamp
        try:
            sso.provider_save(
                membership=membership,
                issuer=data["issuer"],
                client_id=data["client_id"],
                client_secret=data["client_secret"] or None,
                enabled=data["enabled"],
                required=data["required"],
                ip_address=client_ip(request),
                tenants=data["tenants"],
                through_sso=sign_in.opened_with(request) == (sso.METHOD, str(organization.id)),
            )
        except OrgRefused as refused:
            form.add_error(None, refused.message)
        else:
            # Requiring it may have signed everyone covered out, this admin too: not this session,
            # opened through the issuer (``provider_save`` refuses otherwise).
            request.user.refresh_from_db(fields=["session_stamp"])
            if request.user.session_stamp != stamp:
                update_session_auth_hash(request, request.user)
            messages.success(request, _("Single sign-on saved."))
            return redirect("console:sso_settings", organization_id=organization.id)
    identities = Paginator(sso.identities_of(organization), IDENTITIES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "membership": membership,
        "organization": organization,
        "form": form,
        "provider": provider,
        "callback_url": sso.callback_url(),
        "verified_domains": organization.domains.filter(verified_at__isnull=False).count(),
        "identities": identities,
    }
    return render(request, "console/sso_settings.html", context)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def sso_identity_unlink(
    request: AuthenticatedHttpRequest, organization_id: str, identity_id: str
) -> HttpResponse:
    """An admin unlinks a person's identity at the organization's issuer, after a confirmation."""
    membership = selectors.get_admin_membership_for_user(request.user, organization_id)
    identity = sso.get_identity(membership, identity_id)
    if request.method == "POST":
        sso.identity_unlink(membership=membership, identity=identity, ip_address=client_ip(request))
        messages.success(
            request,
            _("%(email)s is no longer linked to single sign-on.") % {"email": identity.user.email},
        )
        return redirect("console:sso_settings", organization_id=membership.organization_id)
    context = {
        "membership": membership,
        "organization": membership.organization,
        "identity": identity,
    }
    return render(request, "console/sso_identity_unlink.html", context)


@login_required
@never_cache
@require_GET
def sso_identities_mine(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The identities at organizations' issuers linked to the reader's own account."""
    identities = sso.identities_of_user(request.user)
    return render(request, "console/sso_identities_mine.html", {"identities": identities})


@login_required
@require_POST
def sso_identity_remove(request: AuthenticatedHttpRequest, identity_id: str) -> HttpResponse:
    identity = sso.get_own_identity(request.user, identity_id)
    sso.identity_remove_own(user=request.user, identity=identity, ip_address=client_ip(request))
    messages.success(
        request,
        _("Your account is no longer linked to the single sign-on of %(organization)s.")
        % {"organization": identity.organization.name},
    )
    return redirect("console:sso_identities_mine")


@never_cache
@require_http_methods(["GET", "POST"])
@rate_limits.ratelimit(group="org-sso-start", rate=START_RATE, method="POST")
def sso_sign_in(request: HttpRequest) -> HttpResponse:
    """Anyone: the work address finds the organization whose issuer signs it in (filled in
    when a closed door sends its people here)."""
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    form = SsoAddressForm(
        request.POST if request.method == "POST" else None,
        initial={"email": request.GET.get("email", "")[:254]},
    )
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        provider = sso.provider_for_address(email)
        if provider is not None:
            return _start(request, provider, next_url, login_hint=email)
        form.add_error(
            "email",
            _(
                "No organization signs in this address with single sign-on. Log in with your "
                "password, Google or Microsoft instead."
            ),
        )
    return render(request, "console/sso_sign_in.html", {"form": form, "next": next_url})


def _start(
    request: HttpRequest, provider: SsoProvider, next_url: str, *, login_hint: str | None = None
) -> HttpResponse:
    try:
        authorization = oidc.start_authorization(sso.client_for(provider), login_hint=login_hint)
    except oidc.OIDCError as error:
        return _refused(request, provider.organization, error)
    request.session[PENDING_KEY] = {
        **authorization.pending.as_dict(),
        "organization": str(provider.organization_id),
        "next": next_url,
        "started_at": time.time(),
    }
    return redirect(authorization.url)


@never_cache
@require_GET
def sso_callback(request: HttpRequest) -> HttpResponse:
    held = request.session.pop(PENDING_KEY, None)  # one use, whatever happens next
    if not _fresh(held):
        return _error(request, None, _("This sign-in has expired. Please start again."), 400)
    provider = sso.enabled_provider(held["organization"])
    if provider is None:
        return _error(request, None, _("Single sign-on is not on for this organization."), 400)
    organization = provider.organization
    try:
        pending = oidc.PendingAuthorization.from_dict(held)
        claims = oidc.complete_authorization(sso.client_for(provider), pending, request.GET.dict())
    except oidc.OIDCError as error:
        return _refused(request, organization, error)
    try:
        result = sso.resolve(provider, claims)
    except OrgRefused as refused:
        return _error(request, organization, refused.message, 403)
    if isinstance(result, sso.NewPerson):
        request.session[SIGN_UP_KEY] = {
            "organization": str(organization.id),
            "issuer": result.issuer,
            "sub": result.sub,
            "email": result.email,
            "next": held.get("next", ""),
            "started_at": time.time(),
        }
        return redirect("console:sso_sign_up")
    return _signed_in(request, provider, result, str(held.get("next", "")))


@never_cache
@require_http_methods(["GET", "POST"])
def sso_sign_up(request: HttpRequest) -> HttpResponse:
    """A person the issuer vouched for, with no account yet, accepts the legal documents."""
    held = request.session.get(SIGN_UP_KEY)
    if not _fresh(held) or (provider := sso.enabled_provider(held["organization"])) is None:
        request.session.pop(SIGN_UP_KEY, None)
        return _error(request, None, _("This sign-in has expired. Please start again."), 400)
    form = LegalConsentForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        del request.session[SIGN_UP_KEY]
        user = account_services.user_register_with_provider(
            email=held["email"],
            time_zone=form.cleaned_data["time_zone"],
            marketing_email=form.cleaned_data["marketing_email"],
        )
        if user is None:
            return _error(request, provider.organization, _("This account is switched off."), 403)
        person = sso.NewPerson(issuer=held["issuer"], sub=held["sub"], email=held["email"])
        try:
            sso.complete_sign_up(provider, person, user)
        except OrgRefused as refused:
            return _error(request, provider.organization, refused.message, 403)
        return _signed_in(request, provider, user, str(held.get("next", "")))
    context = {"form": form, "email": held["email"], "organization": provider.organization}
    return render(request, "console/sso_sign_up.html", context)


def _signed_in(
    request: HttpRequest, provider: SsoProvider, user: Any, next_url: str
) -> HttpResponse:
    sso.record_sign_in(provider, user, ip_address=client_ip(request))
    return sign_in.sign_in(
        request,
        user,
        next_url=next_url,
        method=sso.METHOD,
        organization=str(provider.organization_id),
    )


def _fresh(held: object) -> TypeGuard[dict[str, Any]]:
    return (
        isinstance(held, dict)
        and isinstance(held.get("organization"), str)
        and isinstance(held.get("started_at"), int | float)
        and 0 <= time.time() - held["started_at"] <= PENDING_SECONDS
    )


def _refused(
    request: HttpRequest, organization: Organization, error: oidc.OIDCError
) -> HttpResponse:
    if error.reason == "provider_error" and error.provider_error == "access_denied":
        message, status = _("You did not allow the sign-in."), 200
    else:
        # The issuer down is a passing outage (502); anything else is a refusal.
        message, status = _(oidc.REASONS[error.reason]), 502 if error.transient else 400
    return _error(request, organization, message, status)


def _error(
    request: HttpRequest, organization: Organization | None, message: str, status: int
) -> HttpResponse:
    context = {"organization": organization, "message": message}
    return render(request, "console/sso_error.html", context, status=status)
