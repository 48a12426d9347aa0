"""The Stripe API client, built for each use from the settings (the tests point it at a fake)."""

from __future__ import annotations

import stripe
from django.conf import settings

# Seconds before a request to Stripe gives up; the library retries network errors, 409s, 429s and
# 5xx answers this many times with backoff (and an idempotency key on POSTs).
TIMEOUT = 10
NETWORK_RETRIES = 2


class StripeUnavailable(Exception):
    """Stripe could not be reached or answered with an error we can only wait out."""


def client() -> stripe.StripeClient:
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=NETWORK_RETRIES,
        http_client=stripe.RequestsClient(timeout=TIMEOUT),
    )


def is_transient(error: stripe.StripeError) -> bool:
    """Worth trying again later: the network, rate limits and Stripe's own failures."""
    return isinstance(error, stripe.APIConnectionError | stripe.RateLimitError | stripe.APIError)


def is_missing(error: stripe.StripeError) -> bool:
    """The object asked for does not exist (any more) at Stripe."""
    return isinstance(error, stripe.InvalidRequestError) and error.http_status == 404
