"""The admin pages of the console: Microsoft's admin consent for the organization.

Each view reaches the organization through the visitor's own membership as an owner or admin
(``orgs.selectors.get_admin_membership_for_user``): anyone else, members included, gets a 404.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedHttpRequest
from console.admin_forms import ANY_TENANT, ConsentTenantForm
from integrations.kinds import AccountKind
from multical import permissions
from orgs import selectors
from orgs.models import Policy

# The permissions page's Microsoft consent screen for connecting a calendar (``permissions.flows``).
CALENDAR_FLOW = "microsoft-calendar"


def consent_flows(organization_id: uuid.UUID) -> tuple[list[permissions.Flow], bool]:
    """The Microsoft consent screens the organization's members can meet, as the permissions page
    lists them, and whether the organization's policy left one out: without Microsoft among the
    kinds of account it allows, members never connect a Microsoft calendar, and only signing in
    with Microsoft asks for anything."""
    flows = permissions.flows()["microsoft"]
    allowed = (
        Policy.objects.filter(organization_id=organization_id)
        .values_list("allowed_kinds", flat=True)
        .first()
    )
    if allowed and AccountKind.MICROSOFT not in allowed:
        return [flow for flow in flows if flow.key != CALENDAR_FLOW], True
    return flows, False


def consent_link(*, tenant: str, flows: Sequence[permissions.Flow]) -> str:
    """Microsoft's admin-consent link for ``tenant`` (a checked GUID, domain or
    ``organizations``) and exactly the scopes of ``flows``; "" without a Microsoft client id.

    As the permissions page's own link (``permissions.admin_consent_url``), Graph permissions are
    named with their resource and OpenID ones bare, and Microsoft answers on the permissions page,
    the redirect address operators already register for it.
    """
    if not settings.MICROSOFT_CLIENT_ID:
        return ""
    names: list[str] = []
    for flow in flows:
        for scope in flow.scopes:
            name = scope.name
            if name not in permissions.OPENID_SCOPES:
                name = permissions.GRAPH_RESOURCE + name
            if name not in names:
                names.append(name)
    endpoint = urlsplit(permissions.ADMIN_CONSENT_URL)
    # ".../organizations/v2.0/adminconsent": the first segment of the path names the tenant.
    _root, _any, rest = endpoint.path.split("/", 2)
    path = f"/{quote(tenant, safe='')}/{rest}"
    query = urlencode(
        {
            "client_id": settings.MICROSOFT_CLIENT_ID,
            "scope": " ".join(names),
            "redirect_uri": settings.SITE_URL + reverse("permissions"),
        }
    )
    return urlunsplit((endpoint.scheme, endpoint.netloc, path, query, ""))


@login_required
@require_GET
def microsoft_consent(request: AuthenticatedHttpRequest, organization_id: str) -> HttpResponse:
    """The link an administrator of the organization's Microsoft tenant follows to approve
    Multical for everyone in it, and exactly what it approves."""
    membership = selectors.get_admin_membership_for_user(request.user, organization_id)
    flows, narrowed = consent_flows(membership.organization_id)
    form = ConsentTenantForm(request.GET if "tenant" in request.GET else None)
    tenant = ANY_TENANT
    if form.is_bound:
        tenant = form.cleaned_data["tenant"] if form.is_valid() else ""
    return render(
        request,
        "console/admin_microsoft_consent.html",
        {
            "membership": membership,
            "form": form,
            "tenant": tenant,
            "link": consent_link(tenant=tenant, flows=flows) if tenant else "",
            "client_id": settings.MICROSOFT_CLIENT_ID,
            "flows": flows,
            "narrowed": narrowed,
        },
    )
