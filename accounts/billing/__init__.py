"""Billing with Stripe: the Free and Pro plans, their limits, Checkout, the Customer Portal and
Stripe's webhooks.

- ``plans``: what each plan allows, what counts against the Free limits, and the check the
  services of other apps call before they add something (``PlanLimitReached``).
- ``stripe_api``: the Stripe client, built per call from the settings.
- ``services``: starting Checkout and the portal, bringing a subscription in step with Stripe
  (webhooks), ending and resuming Pro, cancelling on account deletion.
- ``views`` and ``webhooks``: the thin HTTP side.

Without ``STRIPE_SECRET_KEY`` and ``STRIPE_PRO_PRICE_ID`` (a self-hosted server) billing is off and
every account has Pro's features.
"""
