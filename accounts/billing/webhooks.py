"""Stripe's webhook: verified by its signature on the raw body, never by a session or CSRF token.

A body whose ``Stripe-Signature`` does not verify with ``STRIPE_WEBHOOK_SECRET`` (or is older than
the library's five-minute tolerance) is answered 400 before anything is read or written. A verified
event is handled once (``services.stripe_event_process``); when Stripe cannot be read back the
answer is 503, nothing is stored, and Stripe delivers the event again later.
"""

from __future__ import annotations

import logging

import stripe
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.billing import plans, services
from accounts.billing.stripe_api import StripeUnavailable

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    if not plans.billing_configured():
        return HttpResponse(status=404)
    try:
        event = stripe.Webhook.construct_event(
            request.body,
            request.headers.get("Stripe-Signature", ""),
            settings.STRIPE_WEBHOOK_SECRET,
        )
    except (stripe.SignatureVerificationError, ValueError):
        return HttpResponse(status=400)
    try:
        services.stripe_event_process(event=event.to_dict())
    except (StripeUnavailable, services.BillingError):
        logger.warning("Stripe event %s left for Stripe's retry", event.id)
        return HttpResponse(status=503)
    return HttpResponse(status=200)
