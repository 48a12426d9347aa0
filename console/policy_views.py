"""The organization's policies: every member reads them, owners and admins change them. The
organization is reached through the visitor's membership first (a 404 for anyone else; a member
who is not an admin gets the same 404 for a change), then ``orgs.policies`` does the work."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.http import AuthenticatedHttpRequest
from console.policy_forms import PolicyForm
from integrations.kinds import AccountKind
from multical.lib.requests import client_ip
from orgs import policies, selectors
from orgs.services import OrgRefused


@login_required
@require_http_methods(["GET", "POST"])
def policy_settings(request: AuthenticatedHttpRequest, organization_id: str) -> HttpResponse:
    if request.method == "POST":
        membership = selectors.get_admin_membership_for_user(request.user, organization_id)
    else:
        membership = selectors.get_membership_for_user(request.user, organization_id)
    policy = policies.policy_read(membership.organization)
    form = PolicyForm.for_policy(policy, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            policies.policy_update(
                membership=membership, settings=form.settings(), ip_address=client_ip(request)
            )
        except OrgRefused as refusal:
            form.add_error(None, refusal.message)
        else:
            messages.success(
                request,
                _("The policies are saved and apply now, to existing sync rules and pages too."),
            )
            return redirect("console:policies", organization_id=organization_id)
    kinds = [
        _(kind.label)
        for kind in AccountKind
        if not policy.allowed_kinds or kind.value in policy.allowed_kinds
    ]
    return render(
        request,
        "console/policies.html",
        {
            "membership": membership,
            "organization": membership.organization,
            "policy": policy,
            "domains": sorted(policy.domains),
            "allowed_kind_names": kinds,
            "form": form if membership.is_admin else None,
        },
    )
