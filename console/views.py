"""The organization pages. Each view reaches the organization through the visitor's own
membership first (``orgs.selectors``: a 404 for anyone else, and for members on the pages only
owners and admins see), then calls one service."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import AuthenticatedHttpRequest
from console import selectors as console_selectors
from console.forms import InvitationForm, OrganizationForm, RoleForm
from multical.lib import rate_limits
from multical.lib.requests import client_ip
from orgs import activity, selectors, services
from orgs.models import OrgEvent, Role
from orgs.services import OrgRefused

EVENTS_PER_PAGE = 100
# Invitations e-mail any address typed in: enough for a company's whole team in a day, too few
# for anyone's mailing list (counted per inviting account).
INVITATION_RATE = "100/d"


@login_required
def organization_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    memberships = selectors.memberships_for_user(request.user)
    return render(request, "console/organization_list.html", {"memberships": memberships})


@login_required
@require_http_methods(["GET", "POST"])
def organization_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        organization = services.organization_create(
            user=request.user, name=form.cleaned_data["name"], ip_address=client_ip(request)
        )
        messages.success(request, _("Organization created. Invite the people you work with."))
        return redirect("console:organization", organization_id=organization.id)
    return render(request, "console/organization_form.html", {"form": form})


@login_required
def organization_detail(request: AuthenticatedHttpRequest, organization_id: str) -> HttpResponse:
    membership = selectors.get_membership_for_user(request.user, organization_id)
    members = selectors.members_of(membership)
    context: dict[str, object] = {"membership": membership, "organization": membership.organization}
    if membership.is_admin:
        context["states"] = console_selectors.member_states(members)
        context["invitations"] = selectors.pending_invitations(membership)
    else:
        context["members"] = members
    return render(request, "console/organization_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@rate_limits.ratelimit(group="org-invitation", rate=INVITATION_RATE, method="POST")
def invitation_create(request: AuthenticatedHttpRequest, organization_id: str) -> HttpResponse:
    membership = selectors.get_admin_membership_for_user(request.user, organization_id)
    form = InvitationForm(request.POST or None, membership=membership)
    if request.method == "POST" and form.is_valid():
        try:
            invitation, _token = services.invitation_create(
                membership=membership,
                email=form.cleaned_data["email"],
                role=Role(form.cleaned_data["role"]),
                ip_address=client_ip(request),
            )
        except OrgRefused as refusal:
            form.add_error("email", refusal.message)
        else:
            messages.success(
                request,
                _("Invitation sent to %(email)s. The link works for 7 days.")
                % {"email": invitation.email},
            )
            return redirect("console:organization", organization_id=organization_id)
    return render(request, "console/invitation_form.html", {"form": form, "membership": membership})


@login_required
@require_POST
def invitation_revoke(
    request: AuthenticatedHttpRequest, organization_id: str, invitation_id: str
) -> HttpResponse:
    membership = selectors.get_admin_membership_for_user(request.user, organization_id)
    invitation = selectors.get_invitation(membership, invitation_id)
    services.invitation_revoke(
        membership=membership, invitation=invitation, ip_address=client_ip(request)
    )
    messages.success(
        request, _("The invitation to %(email)s no longer works.") % {"email": invitation.email}
    )
    return redirect("console:organization", organization_id=organization_id)


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The link in an invitation. Anyone holding it sees whom it invites to what; joining takes
    an account signed in with that very address, confirmed."""
    invitation = services.invitation_for_token(token)
    if invitation is None:
        raise Http404
    if not request.user.is_authenticated:
        if request.method == "POST":
            return redirect_to_login(request.get_full_path())
        return render(request, "console/invitation_accept.html", {"invitation": invitation})
    user = request.user
    refusal = services.invitation_refusal(invitation, user)
    if request.method == "POST" and refusal is None:
        try:
            services.invitation_accept(
                invitation=invitation,
                user=user,
                ip_address=client_ip(request),
            )
        except OrgRefused as refused:
            refusal = refused.message
        else:
            messages.success(
                request,
                _("You joined %(organization)s.") % {"organization": invitation.organization},
            )
            return redirect("console:organization", organization_id=invitation.organization_id)
    return render(
        request,
        "console/invitation_accept.html",
        {"invitation": invitation, "refusal": refusal},
        status=200 if refusal is None or request.method == "GET" else 409,
    )


@login_required
@require_http_methods(["GET", "POST"])
def member_detail(
    request: AuthenticatedHttpRequest, organization_id: str, user_id: str
) -> HttpResponse:
    membership = selectors.get_admin_membership_for_user(request.user, organization_id)
    target = selectors.get_member_by_user(membership, user_id)
    form = RoleForm(request.POST or None, membership=membership, initial={"role": target.role})
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_change_role(
                membership=membership,
                target=target,
                role=Role(form.cleaned_data["role"]),
                ip_address=client_ip(request),
            )
        except OrgRefused as refusal:
            form.add_error("role", refusal.message)
        else:
            messages.success(request, _("Role saved."))
            return redirect("console:organization", organization_id=organization_id)
    (state,) = console_selectors.member_states([target])
    return render(
        request,
        "console/member_detail.html",
        {"membership": membership, "target": target, "state": state, "form": form},
    )


@login_required
@require_POST
def member_remove(
    request: AuthenticatedHttpRequest, organization_id: str, user_id: str
) -> HttpResponse:
    membership = selectors.get_admin_membership_for_user(request.user, organization_id)
    target = selectors.get_member_by_user(membership, user_id)
    try:
        services.membership_remove(
            membership=membership, target=target, ip_address=client_ip(request)
        )
    except OrgRefused as refusal:
        messages.error(request, refusal.message)
        return redirect("console:member", organization_id=organization_id, user_id=user_id)
    messages.success(
        request,
        _("%(email)s is no longer a member. Their own calendars, rules and pages stay theirs.")
        % {"email": target.user.email},
    )
    if target.user_id == request.user.id:
        return redirect("console:organization_list")
    return redirect("console:organization", organization_id=organization_id)


@login_required
@require_http_methods(["GET", "POST"])
def organization_leave(request: AuthenticatedHttpRequest, organization_id: str) -> HttpResponse:
    membership = selectors.get_membership_for_user(request.user, organization_id)
    refusal = None
    if request.method == "POST":
        try:
            services.membership_leave(membership=membership, ip_address=client_ip(request))
        except OrgRefused as refused:
            refusal = refused.message
        else:
            messages.success(
                request,
                _("You left %(organization)s.") % {"organization": membership.organization},
            )
            return redirect("console:organization_list")
    return render(
        request,
        "console/organization_leave.html",
        {"membership": membership, "refusal": refusal},
        status=409 if refusal else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def organization_settings(request: AuthenticatedHttpRequest, organization_id: str) -> HttpResponse:
    membership = selectors.get_admin_membership_for_user(request.user, organization_id)
    form = OrganizationForm(request.POST or None, initial={"name": membership.organization.name})
    if request.method == "POST" and form.is_valid():
        services.organization_rename(
            membership=membership, name=form.cleaned_data["name"], ip_address=client_ip(request)
        )
        messages.success(request, _("Organization saved."))
        return redirect("console:organization_settings", organization_id=organization_id)
    return render(
        request, "console/organization_settings.html", {"membership": membership, "form": form}
    )


@login_required
@require_http_methods(["GET", "POST"])
def organization_delete(request: AuthenticatedHttpRequest, organization_id: str) -> HttpResponse:
    membership = selectors.get_admin_membership_for_user(request.user, organization_id)
    if not membership.is_owner:
        raise Http404
    if request.method == "POST":
        name = membership.organization.name
        services.organization_delete(membership=membership)
        messages.success(
            request,
            _(
                "%(organization)s is deleted. Every member keeps their own calendars, rules and pages."
            )
            % {"organization": name},
        )
        return redirect("console:organization_list")
    return render(request, "console/organization_delete.html", {"membership": membership})


@login_required
def event_log(request: AuthenticatedHttpRequest, organization_id: str) -> HttpResponse:
    membership = selectors.get_admin_membership_for_user(request.user, organization_id)
    events = selectors.events_of(membership)
    if request.GET.get("format") == "csv":
        # Taken before the export's own line is written: the file holds what the admin saw.
        response = _events_csv(events)
        services.record_event(
            membership.organization,
            OrgEvent.Action.EXPORTED,
            actor=request.user,
            subject=activity.EXPORTED_LOG,
            ip_address=client_ip(request),
        )
        return response
    return render(
        request,
        "console/event_log.html",
        {"membership": membership, "events": events[:EVENTS_PER_PAGE]},
    )


def _events_csv(events: QuerySet[OrgEvent]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="organization-log.csv"'
    writer = csv.writer(response)
    writer.writerow(["time", "action", "by", "subject", "role", "ip_address"])
    for event in events:
        writer.writerow(
            [
                event.created_at.isoformat(),
                event.action,
                event.actor.email if event.actor else "",
                _csv_safe(event.subject),
                event.role,
                event.ip_address or "",
            ]
        )
    return response


def _csv_safe(value: str) -> str:
    """A cell a spreadsheet will not run as a formula (names and addresses are typed by people)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
