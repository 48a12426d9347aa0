"""The code that puts a team page on the organization's own website (``booking.embed``), for its
owners and admins: the same three snippets a person copies for their own pages, with a member
getting the same 404 as an outsider. Who may frame the page is set in the page's editor; this page
only says what that allows."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedHttpRequest
from booking import embed
from booking.models import OrgHandle, TeamPage
from orgs import selectors


@login_required
@require_GET
def team_page_embed(
    request: AuthenticatedHttpRequest, organization_id: str, page_id: str
) -> HttpResponse:
    membership = selectors.get_admin_membership_for_user(request.user, organization_id)
    page = get_object_or_404(TeamPage, id=page_id, organization_id=membership.organization_id)
    handle = get_object_or_404(OrgHandle, organization_id=membership.organization_id).handle
    public_url = settings.SITE_URL + reverse("booking_public:page", args=[handle, page.slug])
    label = _("Book a time with %(name)s") % {"name": membership.organization.name}
    return render(
        request,
        "console/team_page_embed.html",
        {
            "organization": membership.organization,
            "page": page,
            "public_url": public_url,
            "embed_code": embed.snippets(public_url, label=label),
            # Where the page's editor sets who may frame it.
            "edit_url": reverse("console:team_page_edit", args=[organization_id, page.id])
            + "#section-websites",
        },
    )
