"""The organization's domains, for its owners and admins: add one, publish its TXT record, check
it, turn capture on or off, remove it. Each view reaches the organization through the visitor's
admin membership first (a 404 for anyone else), then calls one service of ``orgs.domains``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import AuthenticatedHttpRequest
from console.domain_forms import CaptureForm, DomainForm
from multical.lib import rate_limits
from multical.lib.requests import client_ip
from orgs import domains, selectors, sso
from orgs.domains import CheckOutcome
from orgs.models import Domain, Membership
from orgs.services import OrgRefused

# Each check asks DNS: plenty for an admin waiting on a record to show, counted per account (a
# domain is also read at most once per ``orgs.domains.CHECK_INTERVAL``).
DOMAIN_CHECK_RATE = "60/h"


def _domain_context(membership: Membership, domain: Domain) -> dict[str, object]:
    return {
        "membership": membership,
        "organization": membership.organization,
        "domain": domain,
        "display_name": domains.display_name(domain),
        "record_value": domains.record_value(domain),
    }


@login_required
@require_http_methods(["GET", "POST"])
def domain_list(request: AuthenticatedHttpRequest, organization_id: str) -> HttpResponse:
    membership = selectors.get_admin_membership_for_user(request.user, organization_id)
    form = DomainForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            domain = domains.domain_add(
                membership=membership,
                name=form.cleaned_data["name"],
                ip_address=client_ip(request),
            )
        except OrgRefused as refusal:
            form.add_error("name", refusal.message)
        else:
            messages.success(
                request,
                _("%(name)s added. Publish its DNS record, then check it.")
                % {"name": domains.display_name(domain)},
            )
            return redirect("console:domain", organization_id=organization_id, domain_id=domain.id)
    rows = [(domain, domains.display_name(domain)) for domain in domains.domains_of(membership)]
    return render(
        request,
        "console/domains.html",
        {
            "membership": membership,
            "organization": membership.organization,
            "rows": rows,
            "form": form,
        },
    )


@login_required
def domain_detail(
    request: AuthenticatedHttpRequest, organization_id: str, domain_id: str
) -> HttpResponse:
    membership = selectors.get_admin_membership_for_user(request.user, organization_id)
    domain = domains.get_domain(membership, domain_id)
    context = _domain_context(membership, domain)
    context["capture_form"] = CaptureForm(initial={"capture": domain.capture})
    # Verifying it signs its people out then (orgs.sso.domain_verified): said before the check.
    context["signs_out"] = not domain.verified_at and sso.requires_sso(domain.organization_id)
    return render(request, "console/domains_detail.html", context)


@login_required
@require_POST
@rate_limits.ratelimit(group="org-domain-check", rate=DOMAIN_CHECK_RATE)
def domain_check(
    request: AuthenticatedHttpRequest, organization_id: str, domain_id: str
) -> HttpResponse:
    membership = selectors.get_admin_membership_for_user(request.user, organization_id)
    domain = domains.get_domain(membership, domain_id)
    name = domains.display_name(domain)
    try:
        outcome = domains.domain_check(
            membership=membership, domain=domain, ip_address=client_ip(request)
        )
    except OrgRefused as refusal:
        messages.error(request, refusal.message)
    else:
        if outcome is CheckOutcome.VERIFIED:
            messages.success(request, _("%(name)s is verified.") % {"name": name})
        elif outcome is CheckOutcome.MISMATCH:
            messages.error(
                request,
                _(
                    "%(name)s has a multical-verification record, but with another value. "
                    "Publish exactly the value shown here."
                )
                % {"name": name},
            )
        else:
            messages.info(
                request,
                _(
                    "No verification record at %(name)s yet. DNS changes can take from minutes "
                    "to a few hours to show: check again later."
                )
                % {"name": name},
            )
    return redirect("console:domain", organization_id=organization_id, domain_id=domain_id)


@login_required
@require_POST
def domain_capture(
    request: AuthenticatedHttpRequest, organization_id: str, domain_id: str
) -> HttpResponse:
    membership = selectors.get_admin_membership_for_user(request.user, organization_id)
    domain = domains.get_domain(membership, domain_id)
    form = CaptureForm(request.POST)
    if form.is_valid():
        capture = form.cleaned_data["capture"]
        domains.domain_set_capture(
            membership=membership, domain=domain, capture=capture, ip_address=client_ip(request)
        )
        said = (
            _("People who confirm an address at %(name)s now join the organization.")
            if capture
            else _("People with an address at %(name)s no longer join by themselves.")
        )
        messages.success(request, said % {"name": domains.display_name(domain)})
    return redirect("console:domain", organization_id=organization_id, domain_id=domain_id)


@login_required
@require_http_methods(["GET", "POST"])
def domain_remove(
    request: AuthenticatedHttpRequest, organization_id: str, domain_id: str
) -> HttpResponse:
    membership = selectors.get_admin_membership_for_user(request.user, organization_id)
    domain = domains.get_domain(membership, domain_id)
    if request.method == "POST":
        domains.domain_remove(membership=membership, domain=domain, ip_address=client_ip(request))
        messages.success(
            request,
            _("%(name)s is removed. Everyone who joined through it stays a member.")
            % {"name": domains.display_name(domain)},
        )
        return redirect("console:domain_list", organization_id=organization_id)
    return render(request, "console/domains_remove.html", _domain_context(membership, domain))
