"""The user's side of billing: go to Checkout or the Customer Portal, come back, resume what the
end of Pro paused. Each is a POST (or Stripe's redirect back) that ends in a redirect."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from accounts.billing import services
from accounts.billing.stripe_api import StripeUnavailable
from accounts.http import AuthenticatedHttpRequest

# Where to go back to after Checkout: the page whose limit sent the user to upgrade.
NEXT_SESSION_KEY = "billing:next"
UNAVAILABLE = gettext_lazy("Stripe cannot be reached just now. Please try again in a few minutes.")


@login_required
@require_POST
def checkout(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Send the user to Stripe Checkout to subscribe to Pro."""
    next_path = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(next_path, allowed_hosts={request.get_host()}):
        request.session[NEXT_SESSION_KEY] = next_path
    else:
        request.session.pop(NEXT_SESSION_KEY, None)
    return _to_stripe(request, services.checkout_start)


@login_required
@require_POST
def portal(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Send the user to Stripe's Customer Portal: card, invoices, cancellation."""
    return _to_stripe(request, services.portal_start)


def _to_stripe(request: AuthenticatedHttpRequest, start: Callable[..., str]) -> HttpResponse:
    """Redirect to the Stripe page ``start`` opens for the user, or back to Settings saying why not."""
    try:
        return redirect(start(user=request.user))
    except services.BillingError as error:
        messages.info(request, error.message)
    except StripeUnavailable:
        messages.error(request, UNAVAILABLE)
    return redirect("accounts:settings")


@login_required
@require_GET
def checkout_done(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Stripe sends the user here after paying: read the subscription now, then go back to where
    the upgrade started."""
    next_path = request.session.pop(NEXT_SESSION_KEY, None) or "accounts:settings"
    try:
        subscription = services.checkout_return(
            user=request.user, session_id=request.GET.get("session_id", "")
        )
    except (services.BillingError, StripeUnavailable):
        subscription = None
    if subscription is not None and subscription.is_live:
        messages.success(request, _("Welcome to Pro: every limit is lifted."))
    else:
        messages.info(
            request, _("Thank you! Stripe is confirming your payment; Pro starts in a moment.")
        )
    return redirect(next_path)


@login_required
@require_GET
def checkout_cancelled(request: AuthenticatedHttpRequest) -> HttpResponse:
    request.session.pop(NEXT_SESSION_KEY, None)
    messages.info(request, _("Nothing was charged: you are still on the Free plan."))
    return redirect("accounts:settings")


@login_required
@require_POST
def resume(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Switch back on everything the end of Pro paused."""
    try:
        count = services.plan_pauses_resume(user=request.user)
    except services.BillingError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            ngettext(
                "%(count)s paused item is on again.", "%(count)s paused items are on again.", count
            )
            % {"count": count},
        )
    return redirect("accounts:settings")
