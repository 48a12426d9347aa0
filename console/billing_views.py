"""The organization's billing: seats, the subscription's state, and the way to Stripe's Checkout or
Customer Portal. Owners and admins only: anyone else gets the 404 an outsider gets."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts.billing import plans
from accounts.billing.services import BillingError
from accounts.billing.stripe_api import StripeUnavailable
from accounts.http import AuthenticatedHttpRequest
from orgs import billing, selectors
from orgs.models import Membership, OrgSubscription
from orgs.services import OrgRefused

UNAVAILABLE = gettext_lazy("Stripe cannot be reached just now. Please try again in a few minutes.")


@login_required
@require_GET
def billing_overview(request: AuthenticatedHttpRequest, organization_id: str) -> HttpResponse:
    membership = selectors.get_admin_membership_for_user(request.user, organization_id)
    organization = membership.organization
    if "session_id" in request.GET:
        return _checkout_returned(request, membership)
    return render(
        request,
        "console/billing.html",
        {
            "membership": membership,
            "organization": organization,
            "configured": plans.billing_configured(),
            "subscription": OrgSubscription.objects.filter(organization=organization).first(),
            "seats": billing.seats_in_use(organization),
        },
    )


@login_required
@require_POST
def billing_checkout(request: AuthenticatedHttpRequest, organization_id: str) -> HttpResponse:
    membership = selectors.get_admin_membership_for_user(request.user, organization_id)
    return _to_stripe(request, membership, billing.org_checkout_start)


@login_required
@require_POST
def billing_portal(request: AuthenticatedHttpRequest, organization_id: str) -> HttpResponse:
    membership = selectors.get_admin_membership_for_user(request.user, organization_id)
    return _to_stripe(request, membership, billing.org_portal_start)


def _checkout_returned(request: AuthenticatedHttpRequest, membership: Membership) -> HttpResponse:
    """Stripe sends the admin back here after paying: read the subscription now, then show the
    page without the session's id."""
    try:
        row = billing.org_checkout_return(
            membership=membership, session_id=request.GET.get("session_id", "")
        )
    except (BillingError, StripeUnavailable):
        row = None
    if row is not None and row.is_live:
        messages.success(request, _("Subscribed: every member has Pro now."))
    else:
        messages.info(
            request, _("Thank you! Stripe is confirming the payment; Pro starts in a moment.")
        )
    return redirect("console:billing", organization_id=membership.organization_id)


def _to_stripe(
    request: AuthenticatedHttpRequest, membership: Membership, start: Callable[..., str]
) -> HttpResponse:
    """Redirect to the Stripe page ``start`` opens, or back to the billing page saying why not."""
    try:
        return redirect(start(membership=membership))
    except (BillingError, OrgRefused) as error:
        messages.info(request, error.message)
    except StripeUnavailable:
        messages.error(request, UNAVAILABLE)
    return redirect("console:billing", organization_id=membership.organization_id)
