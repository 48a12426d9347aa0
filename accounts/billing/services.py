"""Writes for billing: Checkout and the Customer Portal, Stripe's webhook events, the end of Pro
and its return, and cancelling when an account is deleted.

Stripe is the truth about a subscription. Every event we act on only tells us *whose* subscription
changed; we then read that customer's subscriptions from Stripe and store what they say now, so
events arriving late, twice or out of order all end in the same state. Each event id is stored
(unique) in the transaction that acts on it: a replay changes nothing, and an event whose handling
failed is not stored, so Stripe's retry handles it again.

Decisions:

- A failed renewal payment (``past_due``) keeps Pro while Stripe retries the card; the user is told
  once per failed streak (a notice, and an e-mail with a link to the portal). Pro ends when Stripe
  gives up and cancels the subscription or marks it unpaid, per the account's retry settings.
- When Pro ends, nothing is deleted. Sync rules beyond the Free limit (the newest ones that are on)
  are switched off, which takes their blocks out of the calendars as switching a rule off always
  does; booking pages beyond the limit stop taking bookings (their bookings stay). Each is marked as
  paused by the plan, the pages say so, and the user gets an e-mail. Connected calendar accounts
  stay connected; only new ones are refused.
- Upgrading again switches nothing back on by itself (a rule writes into calendars, which should
  not happen unasked months later): Settings lists what was paused with one button to switch it
  all back on, and each can also be switched on by hand.
- Nobody pays twice. Checkout is refused while a subscription is live at Stripe; a customer has
  one open Checkout session at a time, its id and expiry kept on the customer's row under the
  row's lock, so two starts at once (two tabs, a double click) get the same page
  (``checkout_open``). A second live subscription that still arrives (made at Stripe by hand,
  say) is cancelled at once and its payment refunded in full (``subscriptions_read``); the oldest
  one stays.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from stripe.params import RefundCreateParams
from stripe.params.checkout import SessionCreateParams

from accounts.billing import plans, stripe_api
from accounts.billing.plans import FREE_LIMITS, Limit
from accounts.languages import owner_language
from accounts.models import AuditLog, StripeEvent, Subscription, User
from accounts.services import audit_log_record
from multical.lib.email import send_templated_email

logger = logging.getLogger(__name__)
T = TypeVar("T")

HANDLED_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.payment_failed",
    }
)
# Subscriptions that will never bill again: nothing to cancel.
_FINISHED = frozenset({Subscription.Status.CANCELED, Subscription.Status.INCOMPLETE_EXPIRED})
# How long a Checkout session stays open (Stripe takes 30 minutes to 24 hours), and how long it
# must still be open to be offered again: less, and a new one replaces it (the old one closed).
CHECKOUT_OPEN_FOR = timedelta(hours=2)
CHECKOUT_REUSE_MARGIN = timedelta(minutes=15)


class BillingError(Exception):
    """Something the user asked of billing cannot be done; ``message`` says why in plain words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# Checkout and the portal ------------------------------------------------------------------------


def checkout_start(*, user: User) -> str:
    """The address of a Stripe Checkout page that subscribes the user to Pro: the one already
    open for them if any (``checkout_open``). Refused while they have a live subscription."""
    if not plans.billing_configured():
        raise BillingError(
            _("Billing is not set up on this server: every feature is already yours.")
        )
    with transaction.atomic():
        _subscription_with_customer(user)
        subscription = Subscription.objects.select_for_update().get(user=user)
        url = None
        if not subscription.is_live:
            url = checkout_open(
                row=subscription,
                params={
                    "mode": "subscription",
                    "customer": subscription.stripe_customer_id,
                    "client_reference_id": str(user.pk),
                    "line_items": [{"price": settings.STRIPE_PRO_PRICE_ID, "quantity": 1}],
                    "success_url": absolute_url(reverse("billing:done"))
                    + "?session_id={CHECKOUT_SESSION_ID}",
                    "cancel_url": absolute_url(reverse("billing:cancelled")),
                    "subscription_data": {"metadata": {"user_id": str(user.pk)}},
                },
                refresh=lambda: subscription_refresh(subscription=subscription),
            )
    if url is None:
        raise BillingError(_("You are on Pro already."))
    return url


class CheckoutHolder(Protocol):
    """A customer's row that keeps its open Checkout session (a user's or an organization's)."""

    stripe_customer_id: str
    checkout_session_id: str
    checkout_expires_at: datetime | None

    @property
    def is_live(self) -> bool: ...

    def save(self, *, update_fields: list[str]) -> None: ...


def checkout_open(
    *, row: CheckoutHolder, params: SessionCreateParams, refresh: Callable[[], None]
) -> str | None:
    """The address of the customer's one open Checkout session, or None when a subscription is
    live at Stripe (nothing to pay for).

    ``row`` is locked (select_for_update) by the caller's transaction, so starts of one customer
    take turns: the session stored on it is offered again while Stripe has it open with
    ``CHECKOUT_REUSE_MARGIN`` left. Otherwise, one nearly over is expired first (so that no two
    can be paid) and the customer's subscriptions are read (``refresh`` stores what Stripe says
    on ``row``): the stored session may have been paid while its events are still on their way.
    Only then is a new session made, open for ``CHECKOUT_OPEN_FOR``, with ``params``."""
    if row.checkout_session_id:
        session = _checkout_session(row.checkout_session_id)
        if session is not None and session.status == "open":
            left = datetime.fromtimestamp(session.expires_at, tz=UTC) - timezone.now()
            if left > CHECKOUT_REUSE_MARGIN and session.url:
                return session.url
            _checkout_expire(session.id)
        # Paid (its events may still be on their way), expired or just closed: what the customer
        # has now decides.
        refresh()
        if row.is_live:
            return None
    create: SessionCreateParams = {
        **params,
        "expires_at": int((timezone.now() + CHECKOUT_OPEN_FOR).timestamp()),
    }
    session = stripe_call(lambda api: api.v1.checkout.sessions.create(params=create))
    row.checkout_session_id = session.id
    row.checkout_expires_at = datetime.fromtimestamp(session.expires_at, tz=UTC)
    row.save(update_fields=["checkout_session_id", "checkout_expires_at", "updated_at"])
    assert session.url is not None  # a hosted session has its address while it is open
    return session.url


def _checkout_session(session_id: str) -> stripe.checkout.Session | None:
    """The Checkout session as Stripe has it now, or None when Stripe has none of that id (made
    under other keys, say): a new one replaces it."""
    try:
        return stripe_api.client().v1.checkout.sessions.retrieve(session_id)
    except stripe.StripeError as error:
        if stripe_api.is_missing(error):
            return None
        raise _translated(error) from error


def _checkout_expire(session_id: str) -> None:
    """Close an open session. Stripe refuses one no longer open (paid a moment ago, or expired):
    the subscriptions read next say which."""
    try:
        stripe_api.client().v1.checkout.sessions.expire(session_id)
    except stripe.StripeError as error:
        if stripe_api.is_transient(error):
            raise stripe_api.StripeUnavailable(str(error)) from error


def portal_start(*, user: User) -> str:
    """The address of the user's Stripe Customer Portal (card, invoices, cancellation)."""
    subscription = Subscription.objects.filter(user=user).first()
    if not plans.billing_configured() or subscription is None:
        raise BillingError(_("There is no billing account to manage yet."))
    session = stripe_call(
        lambda api: api.v1.billing_portal.sessions.create(
            params={
                "customer": subscription.stripe_customer_id,
                "return_url": absolute_url(reverse("accounts:settings")),
            }
        )
    )
    return session.url


def checkout_return(*, user: User, session_id: str) -> Subscription | None:
    """The user is back from Checkout: read their subscription now rather than wait for the
    webhook. Only a session of the user's own is accepted; None if it is not theirs."""
    subscription = Subscription.objects.filter(user=user).first()
    if subscription is None or not session_id.isascii():
        return None
    session = stripe_call(lambda api: api.v1.checkout.sessions.retrieve(session_id))
    if session.client_reference_id != str(user.pk) or (
        session.customer != subscription.stripe_customer_id
    ):
        return None
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
        subscription_refresh(subscription=subscription)
    return subscription


def _subscription_with_customer(user: User) -> Subscription:
    """The user's row, creating their Stripe customer on first use (one per user, even when two
    requests race: the user's row is locked, and Stripe's idempotency key backs it up)."""
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).exists()
        subscription = Subscription.objects.filter(user=user).first()
        if subscription is not None:
            return subscription
        customer = stripe_call(
            lambda api: api.v1.customers.create(
                params={"email": user.email, "metadata": {"user_id": str(user.pk)}},
                options={"idempotency_key": f"multical-customer-{user.pk}"},
            )
        )
        return Subscription.objects.create(user=user, stripe_customer_id=customer.id)


# Webhook events ---------------------------------------------------------------------------------


def stripe_event_process(*, event: Mapping[str, Any]) -> bool:
    """Act on a verified webhook event once. False if its id was processed before.

    Raises ``stripe_api.StripeUnavailable`` when Stripe cannot be read back; nothing is stored
    then, and Stripe delivers the event again later.
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                StripeEvent.objects.create(event_id=event["id"], type=event["type"])
        except IntegrityError:
            return False
        if event["type"] not in HANDLED_EVENTS:
            return True
        payload = event["data"]["object"]
        subscription = _subscription_for_event(event["type"], payload)
        if subscription is None:
            if not _handled_elsewhere(event["type"], payload):
                logger.info("Stripe event %s names no customer of ours", event["id"])
            return True
        subscription_refresh(
            subscription=subscription,
            payment_failed=event["type"] == "invoice.payment_failed",
        )
    return True


# Handlers for events about Stripe customers that are not a user's own (an organization's), each
# registered by the app that owns them (``register_event_handler``): billing imports none of them.
_EVENT_HANDLERS: list[Callable[[str, Mapping[str, Any]], bool]] = []


def register_event_handler(handler: Callable[[str, Mapping[str, Any]], bool]) -> None:
    """``handler(kind, payload)`` acts on a handled event whose customer no user's row names, inside
    the event's transaction, and says whether the customer was its own. It may raise
    ``stripe_api.StripeUnavailable``: nothing is stored then, and Stripe delivers the event again."""
    if handler not in _EVENT_HANDLERS:
        _EVENT_HANDLERS.append(handler)


def event_customer_id(payload: Mapping[str, Any]) -> str:
    """The id of the Stripe customer an event's object belongs to ("" if none)."""
    customer_id = payload.get("customer")
    if isinstance(customer_id, Mapping):
        customer_id = customer_id.get("id")
    return customer_id if isinstance(customer_id, str) else ""


def _handled_elsewhere(kind: str, payload: Mapping[str, Any]) -> bool:
    return any(handler(kind, payload) for handler in _EVENT_HANDLERS)


def _subscription_for_event(kind: str, payload: Mapping[str, Any]) -> Subscription | None:
    """Our row for the customer the event is about, locked until the transaction ends."""
    rows = Subscription.objects.select_for_update()
    customer_id = event_customer_id(payload)
    subscription = rows.filter(stripe_customer_id=customer_id).first()
    if subscription is not None or kind != "checkout.session.completed":
        return subscription
    # A checkout for a customer we have no row for (created at Stripe by hand): trust the session's
    # user id, which only Stripe could have signed into this event.
    user_id = _uuid_or_none(payload.get("client_reference_id"))
    user = User.objects.filter(pk=user_id).first() if user_id is not None else None
    if user is None or not customer_id or Subscription.objects.filter(user=user).exists():
        return None
    created = Subscription.objects.create(user=user, stripe_customer_id=customer_id)
    return rows.get(pk=created.pk)


def subscription_refresh(*, subscription: Subscription, payment_failed: bool = False) -> None:
    """Store what Stripe says about the customer's subscriptions now, and act on a change of plan.

    ``subscription`` must be locked (select_for_update) by the caller's transaction.
    """
    read = subscriptions_read(subscription.stripe_customer_id)
    for duplicate_id in read.duplicates:
        audit_log_record(
            user=subscription.user,
            action=AuditLog.Action.DUPLICATE_SUBSCRIPTION_CANCELLED,
            ip_address=None,
            subscription=duplicate_id,
        )
    current = read.current
    was_live = subscription.is_live
    if current is None:
        subscription.status = ""
        subscription.stripe_subscription_id = ""
        subscription.current_period_end = None
        subscription.cancel_at_period_end = False
    else:
        subscription.stripe_subscription_id = current["id"]
        subscription.status = current["status"]
        subscription.current_period_end = period_end(current)
        subscription.cancel_at_period_end = bool(current.get("cancel_at_period_end"))
    newly_failed = False
    if not subscription.is_live:
        subscription.payment_failed_at = None
    elif payment_failed:
        newly_failed = subscription.payment_failed_at is None
        subscription.payment_failed_at = subscription.payment_failed_at or timezone.now()
    elif subscription.status != Subscription.Status.PAST_DUE:
        subscription.payment_failed_at = None
    if was_live and not subscription.is_live:
        subscription.ended_at = timezone.now()
    elif subscription.is_live:
        subscription.ended_at = None
    subscription.save()
    # Pro kept another way (an organization's seat) pauses nothing.
    if (
        was_live
        and not subscription.is_live
        and plans.plan_for(subscription.user) != plans.Plan.PRO
    ):
        _pro_ended(subscription.user)
    if newly_failed and subscription.user.deletion_requested_at is None:
        user = subscription.user
        transaction.on_commit(lambda: _send_payment_failed_email(user))


@dataclass(frozen=True, slots=True)
class CustomerSubscriptions:
    """What Stripe says of a customer's subscriptions, once live duplicates are cancelled."""

    # The one that decides the plan: the live one, else the newest (None: never subscribed).
    current: Mapping[str, Any] | None
    # The ids of the live duplicates cancelled and refunded by this read.
    duplicates: tuple[str, ...]


def subscriptions_read(customer_id: str) -> CustomerSubscriptions:
    """Read the customer's subscriptions; cancel every live one but the oldest, and refund it
    (``duplicate_cancel``): one customer pays for one subscription, however a second one came."""
    listed = stripe_call(
        lambda api: api.v1.subscriptions.list(
            params={"customer": customer_id, "status": "all", "limit": 100}
        )
    )
    found = [item.to_dict() for item in listed.data]
    live = sorted(
        (item for item in found if item["status"] in Subscription.LIVE_STATUSES),
        key=lambda item: (item.get("created", 0), item["id"]),
    )
    for duplicate in live[1:]:
        found[found.index(duplicate)] = duplicate_cancel(duplicate)
    current = max(
        found,
        key=lambda item: (item["status"] in Subscription.LIVE_STATUSES, item.get("created", 0)),
        default=None,
    )
    return CustomerSubscriptions(current, tuple(item["id"] for item in live[1:]))


def duplicate_cancel(subscription: Mapping[str, Any]) -> dict[str, Any]:
    """Cancel a second live subscription now and refund what it was paid, in full; the
    subscription as cancelled.

    Stripe's cancel stops all billing; ``prorate`` would only turn the unused time into a credit
    on the customer's balance (and ``invoice_now`` invoice it), which a refund of the whole
    payment makes a second return of the same money: both stay off. The payment is found through
    the subscription's latest invoice, and each refund carries an idempotency key of the payment,
    so handling the event again refunds nothing twice."""
    subscription_id = subscription["id"]
    try:
        cancelled = stripe_api.client().v1.subscriptions.cancel(
            subscription_id, params={"prorate": False, "invoice_now": False}
        )
    except stripe.StripeError as error:
        if stripe_api.is_transient(error):
            raise stripe_api.StripeUnavailable(str(error)) from error
        # Cancelled meanwhile (Stripe refuses to cancel twice): what it is now decides.
        cancelled = stripe_call(lambda api: api.v1.subscriptions.retrieve(subscription_id))
        if cancelled.status not in _FINISHED:
            raise _translated(error) from error
    invoice_id = subscription.get("latest_invoice")
    if isinstance(invoice_id, Mapping):
        invoice_id = invoice_id.get("id")
    if isinstance(invoice_id, str) and invoice_id:
        payments = stripe_call(
            lambda api: api.v1.invoice_payments.list(
                params={"invoice": invoice_id, "status": "paid", "limit": 100}
            )
        )
        for payment in payments.data:
            paid_by = payment.to_dict().get("payment") or {}
            _refund(payment.id, paid_by.get("payment_intent"), paid_by.get("charge"))
    logger.info("Cancelled and refunded duplicate subscription %s", subscription_id)
    return cancelled.to_dict()


def _refund(payment_id: str, payment_intent: object, charge: object) -> None:
    params: RefundCreateParams = {"reason": "duplicate"}
    if isinstance(payment_intent, str) and payment_intent:
        params["payment_intent"] = payment_intent
    elif isinstance(charge, str) and charge:
        params["charge"] = charge
    else:
        return
    try:
        stripe_api.client().v1.refunds.create(
            params=params, options={"idempotency_key": f"multical-duplicate-refund-{payment_id}"}
        )
    except stripe.StripeError as error:
        if stripe_api.is_transient(error):
            raise stripe_api.StripeUnavailable(str(error)) from error
        # Refunded by hand already, say: the subscription is cancelled all the same, and asking
        # again would only fail again; the operator reads why here.
        logger.error(
            "Stripe refused to refund payment %s: %s (%s)",
            payment_id,
            type(error).__name__,
            error.code,
        )


def period_end(item: Mapping[str, Any]) -> datetime | None:
    # Since Stripe's 2025-03-31 API the billing period is kept on each subscription item.
    ends = [entry.get("current_period_end") for entry in item.get("items", {}).get("data", [])]
    ends = [end for end in ends if end]
    return datetime.fromtimestamp(max(ends), tz=UTC) if ends else None


# The end of Pro, and its return -----------------------------------------------------------------


def _pro_ended(user: User) -> None:
    """Pause what goes beyond the Free plan, newest first; keep everything; tell the user."""
    paused = {
        limit: limited.pause_beyond(user, FREE_LIMITS[limit])
        for limit in (Limit.RULES, Limit.BOOKING_PAGES)
        if (limited := plans.limited(limit)).pause_beyond is not None
    }
    paused_rules, paused_pages = paused[Limit.RULES], paused[Limit.BOOKING_PAGES]
    logger.info(
        "Pro ended for %s: %d rules and %d pages paused",
        user.pk,
        len(paused_rules),
        len(paused_pages),
    )
    if user.deletion_requested_at is None:
        transaction.on_commit(lambda: _send_pro_ended_email(user, paused_rules, paused_pages))


def pro_lost(*, user: User) -> None:
    """The user no longer has Pro another way (an organization's seat ended, or they left the
    organization): the same as the end of their own Pro, unless they still have Pro."""
    if plans.plan_for(user) != plans.Plan.PRO:
        _pro_ended(user)


@transaction.atomic
def plan_pauses_resume(*, user: User) -> int:
    """Switch back on every rule and page the end of Pro paused; how many. Pro only."""
    if plans.plan_for(user) != plans.Plan.PRO:
        raise BillingError(_("Upgrade to Pro to switch everything back on."))
    resumed = (plans.limited(limit).resume for limit in Limit)
    return sum(resume(user) for resume in resumed if resume is not None)


def _send_pro_ended_email(user: User, rules: list[Any], pages: list[Any]) -> None:
    send_templated_email(
        to=user.email,
        template="accounts/email/billing-pro-ended",
        context={
            "rules": rules,
            "pages": pages,
            "limits": FREE_LIMITS,
            "settings_url": absolute_url(reverse("accounts:settings")),
        },
        language=owner_language(user),
    )


def _send_payment_failed_email(user: User) -> None:
    send_templated_email(
        to=user.email,
        template="accounts/email/billing-payment-failed",
        context={"settings_url": absolute_url(reverse("accounts:settings"))},
        language=owner_language(user),
    )


# Account deletion -------------------------------------------------------------------------------


def subscriptions_cancel_for_deletion(*, user: User) -> None:
    """Cancel, at once and without a refund, every subscription of the user's that would bill again.

    Raises ``stripe_api.StripeUnavailable`` if Stripe cannot be reached (the deletion is tried again
    later). The customer and its invoices stay at Stripe, as accounting records.
    """
    subscription = Subscription.objects.filter(user=user).first()
    if subscription is None or not settings.STRIPE_SECRET_KEY:
        return
    listed = stripe_call(
        lambda api: api.v1.subscriptions.list(
            params={"customer": subscription.stripe_customer_id, "status": "all", "limit": 100}
        )
    )
    for item in listed.data:
        if item.status in _FINISHED:
            continue
        try:
            stripe_api.client().v1.subscriptions.cancel(item.id)
        except stripe.StripeError as error:
            if not stripe_api.is_missing(error):
                raise _translated(error) from error
        logger.info("Cancelled Stripe subscription %s of account %s", item.id, user.pk)


# Helpers ----------------------------------------------------------------------------------------


def stripe_call(request: Callable[[stripe.StripeClient], T]) -> T:
    """Run ``request`` with a client; Stripe's errors become ours (see ``_translated``)."""
    try:
        return request(stripe_api.client())
    except stripe.StripeError as error:
        raise _translated(error) from error


def _translated(error: stripe.StripeError) -> Exception:
    """Transient failures become ``StripeUnavailable``; the others ``BillingError``, logged, since
    they mean our configuration or our request is wrong."""
    if stripe_api.is_transient(error):
        return stripe_api.StripeUnavailable(str(error))
    logger.error("Stripe refused a request: %s (%s)", type(error).__name__, error.http_status)
    return BillingError(_("Stripe could not do that just now. Please try again later."))


def absolute_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _uuid_or_none(value: object) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None
