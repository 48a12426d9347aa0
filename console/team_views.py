"""The organization's team booking pages. Owners and admins set the organization's handle and
create, change and delete its team pages (a member gets the same 404 as an outsider there); each
member on a page chooses their own calendars for it, which nobody else sees. Every view reaches
the organization through the visitor's own membership first (``orgs.selectors``)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.http import AuthenticatedHttpRequest
from booking.handles import HandleTaken
from booking.models import OrgHandle, TeamPage, TeamPageMember
from booking.services import teams
from console.team_forms import MemberCalendarsForm, OrgHandleForm, TeamPageForms
from orgs import selectors
from orgs.models import Membership
from orgs.services import OrgRefused


def _get_page(membership: Membership, page_id: str) -> TeamPage:
    return get_object_or_404(TeamPage, id=page_id, organization_id=membership.organization_id)


@login_required
@require_http_methods(["GET", "POST"])
def team_pages(request: AuthenticatedHttpRequest, organization_id: str) -> HttpResponse:
    """The team pages and the handle they live under; members see the pages they are on."""
    membership = selectors.get_membership_for_user(request.user, organization_id)
    current = OrgHandle.objects.filter(organization_id=membership.organization_id).first()
    form = None
    if membership.is_admin:
        form = OrgHandleForm(
            request.POST if request.method == "POST" else None,
            membership=membership,
            initial={"handle": current.handle if current else ""},
        )
        if request.method == "POST" and form.is_valid():
            try:
                teams.org_handle_set(membership=membership, handle=form.cleaned_data["handle"])
            except HandleTaken:
                form.add_error("handle", _("This handle is taken. Choose another one."))
            else:
                messages.success(request, _("The handle is saved; team pages' links follow it."))
                return redirect("console:team_pages", organization_id=organization_id)
    elif request.method == "POST":
        selectors.get_admin_membership_for_user(request.user, organization_id)  # a 404
    pages = TeamPage.objects.filter(organization_id=membership.organization_id)
    if not membership.is_admin:
        pages = pages.filter(members__user=request.user)
    return render(
        request,
        "console/team_pages.html",
        {
            "membership": membership,
            "organization": membership.organization,
            "handle": current.handle if current else "",
            "form": form,
            "pages": pages.prefetch_related("members").order_by("title", "id"),
            "mine": set(
                TeamPageMember.objects.filter(
                    user=request.user, page__organization_id=membership.organization_id
                ).values_list("page_id", flat=True)
            ),
        },
        status=422 if form is not None and form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def team_page_create(request: AuthenticatedHttpRequest, organization_id: str) -> HttpResponse:
    membership = selectors.get_admin_membership_for_user(request.user, organization_id)
    return _page_form(request, membership, None)


@login_required
@require_http_methods(["GET", "POST"])
def team_page_edit(
    request: AuthenticatedHttpRequest, organization_id: str, page_id: str
) -> HttpResponse:
    membership = selectors.get_admin_membership_for_user(request.user, organization_id)
    return _page_form(request, membership, _get_page(membership, page_id))


def _page_form(
    request: AuthenticatedHttpRequest, membership: Membership, page: TeamPage | None
) -> HttpResponse:
    editor = TeamPageForms(
        request.POST if request.method == "POST" else None, membership=membership, page=page
    )
    form = editor.form
    if request.method == "POST" and editor.is_valid():
        try:
            teams.team_page_save(
                membership=membership,
                page=page,
                settings=form.settings(),
                members=form.members(),
                overrides=editor.overrides.overrides(),
                questions=editor.questions.questions(),
            )
        except OrgRefused as refusal:
            form.add_error(None, refusal.message)
        else:
            messages.success(request, _("The team page is saved."))
            return redirect("console:team_pages", organization_id=membership.organization_id)
    return render(
        request,
        "console/team_page_form.html",
        {
            "membership": membership,
            "organization": membership.organization,
            "page": page,
            "form": form,
            "editor": editor,
            "handle": OrgHandle.objects.filter(organization_id=membership.organization_id)
            .values_list("handle", flat=True)
            .first(),
        },
        status=422 if form.errors or editor.has_errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def team_page_delete(
    request: AuthenticatedHttpRequest, organization_id: str, page_id: str
) -> HttpResponse:
    membership = selectors.get_admin_membership_for_user(request.user, organization_id)
    page = _get_page(membership, page_id)
    if request.method == "POST":
        teams.team_page_delete(membership=membership, page=page)
        messages.success(
            request, _("The team page is deleted; its bookings stay with the members.")
        )
        return redirect("console:team_pages", organization_id=organization_id)
    return render(
        request,
        "console/team_page_delete.html",
        {"membership": membership, "organization": membership.organization, "page": page},
    )


@login_required
@require_http_methods(["GET", "POST"])
def team_page_mine(
    request: AuthenticatedHttpRequest, organization_id: str, page_id: str
) -> HttpResponse:
    """A member's own side of a team page they are on: their calendars and hours for it."""
    membership = selectors.get_membership_for_user(request.user, organization_id)
    page = _get_page(membership, page_id)
    member = get_object_or_404(TeamPageMember, page=page, user=request.user)
    form = MemberCalendarsForm(request.POST if request.method == "POST" else None, member=member)
    if request.method == "POST" and form.is_valid():
        try:
            teams.team_member_calendars_set(
                member=member,
                user=request.user,
                busy_calendars=list(form.cleaned_data["busy_calendars"]),
                write_calendar=form.cleaned_data["write_calendar"],
            )
            time_zone, weekly_hours = form.hours()
            teams.team_member_hours_set(
                member=member, user=request.user, time_zone=time_zone, weekly_hours=weekly_hours
            )
        except OrgRefused as refusal:
            form.add_error(None, refusal.message)
        else:
            messages.success(request, _("Your calendars for this page are saved."))
            return redirect("console:team_pages", organization_id=organization_id)
    return render(
        request,
        "console/team_page_mine.html",
        {
            "membership": membership,
            "organization": membership.organization,
            "page": page,
            "form": form,
        },
        status=422 if form.errors else 200,
    )
