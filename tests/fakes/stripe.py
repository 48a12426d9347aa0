"""A stateful fake of the parts of Stripe that billing uses, on loopback.

The ``stripe_fake`` fixture turns billing on and points the stripe library at it
(``STRIPE_API_BASE``), together with the Checkout and Customer Portal origins. What it keeps, with
Stripe's JSON shapes (API 2025-03-31 and later: the billing period is on the subscription items):

- ``POST /v1/customers`` (honouring ``Idempotency-Key``), ``GET /v1/customers/{id}``;
- ``POST /v1/checkout/sessions`` (subscription mode, our one price, an existing customer;
  ``expires_at`` between 30 minutes and 24 hours ahead, 24 hours when left out) and
  ``GET /v1/checkout/sessions/{id}`` (``expired`` once its time is up: ``expire_later`` moves
  Stripe's clock for one session); ``POST /v1/checkout/sessions/{id}/expire`` (an open session
  only; ``url`` is null once a session is no longer open); ``POST /v1/billing_portal/sessions``;
- ``GET /v1/subscriptions`` (``customer``, ``status=all``; without it canceled ones are left out, as
  Stripe does), ``GET /v1/subscriptions/{id}``, ``DELETE /v1/subscriptions/{id}`` (cancel at once;
  ``prorate`` credits the unused time to the customer's balance, ``invoice_now`` invoices it, both
  off by default; a canceled one cannot be cancelled again);
- each paid Checkout makes the subscription's first invoice (``latest_invoice``), paid by a
  payment intent: ``GET /v1/invoice_payments`` (``invoice``, ``status``) lists its payment, and
  ``POST /v1/refunds`` (``payment_intent`` or ``charge``, ``reason``) refunds it, in full unless
  ``amount`` says less, never beyond what was paid (``charge_already_refunded``);
- Checkout's ``line_items[0][quantity]`` (seats: a positive whole number, 1 when left out) becomes
  the subscription item's quantity; ``GET``/``POST /v1/subscription_items/{id}`` reads the item or
  sets its ``quantity`` with ``proration_behavior`` (``create_prorations``, Stripe's default,
  ``always_invoice`` or ``none``). A change is prorated unless ``none`` (``prorations`` records
  each), sends ``customer.subscription.updated``, and is refused (400) on a subscription that has
  ended, as Stripe refuses updating a canceled one;
- 401 for a wrong secret key; ``break_down(n)`` answers the next ``n`` API requests 503;
  ``latency`` holds every API answer back that many seconds, so requests overlap.

The customer's side, for the browser: ``/pay/{session}`` is the Checkout page, whose "Pay" button
completes the session (a subscription starts) and ``/portal/{session}`` the portal, whose "Cancel
plan" button ends it; each sends its events, signed as Stripe signs them, to our webhook at
``SITE_URL`` and returns the browser to our success or return URL.

Helpers act as Stripe does on its own: ``complete_checkout``, ``set_status`` (a renewal failing or
recovering), ``cancel``, ``payment_fails``. Each returns the events Stripe would send, as snapshots
of the objects at that moment, for the test to deliver (``deliver``), replay or reorder.
API requests are recorded (``requests``), so tests can assert on what billing costs.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import stripe
from django.conf import settings as django_settings

API_PREFIX = "/v1"
WEBHOOK_PATH = "/hooks/stripe/"
PERIOD_SECONDS = 30 * 24 * 3600
# What one seat (or one personal Pro) costs a month, in cents.
UNIT_AMOUNT = 1200
# The range Stripe allows for a Checkout session's ``expires_at``, from now.
CHECKOUT_MIN_SECONDS, CHECKOUT_MAX_SECONDS = 30 * 60, 24 * 3600


@dataclass
class RecordedRequest:
    method: str
    path: str
    params: dict[str, Any]


@dataclass
class FakeStripe:
    base_url: str = ""
    secret_key: str = "sk_test_multical_fake"
    webhook_secret: str = "whsec_multical_fake"
    price_id: str = "price_multical_pro"
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    checkout_sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    portal_sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    checkout_quantities: dict[str, int] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Every event Stripe would have sent, oldest first; and the answers our webhook gave.
    events: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[tuple[str, int]] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    idempotent: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Each prorated quantity change: (subscription id, item id, old quantity, new, behavior).
    prorations: list[tuple[str, str, int, int, str]] = field(default_factory=list)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoice_payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    payment_intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    # Each cancellation through the API: (subscription id, prorate, invoice_now).
    cancellations: list[tuple[str, bool, bool]] = field(default_factory=list)
    failing: int = 0
    failure_status: int = 503
    # Seconds each API request takes before it is answered (requests overlap meanwhile).
    latency: float = 0.0
    lock: threading.RLock = field(default_factory=threading.RLock)
    _clock: Iterator[int] = field(default_factory=lambda: itertools.count(int(time.time())))

    # --- what Stripe and the customer do ---------------------------------------------------------

    def complete_checkout(self, session_id: str) -> list[dict[str, Any]]:
        """The customer paid: the subscription starts. The events Stripe sends, in its order."""
        with self.lock:
            session = self._session_now(session_id)
            assert session["status"] == "open", "only an open Checkout session can be paid"
            now = next(self._clock)
            quantity = self.checkout_quantities.get(session_id, 1)
            subscription = {
                "id": _id("sub"),
                "object": "subscription",
                "customer": session["customer"],
                "status": "active",
                "created": now,
                "cancel_at_period_end": False,
                "canceled_at": None,
                "metadata": session.get("subscription_data", {}).get("metadata", {}),
                "items": {
                    "object": "list",
                    "data": [
                        {
                            "id": _id("si"),
                            "object": "subscription_item",
                            "price": {"id": self.price_id, "object": "price"},
                            "quantity": quantity,
                            "current_period_start": now,
                            "current_period_end": now + PERIOD_SECONDS,
                        }
                    ],
                },
            }
            subscription["latest_invoice"] = self._paid_invoice(subscription, quantity)
            self.subscriptions[subscription["id"]] = subscription
            session.update(status="complete", payment_status="paid", url=None)
            session["subscription"] = subscription["id"]
            return [
                self.event("checkout.session.completed", session),
                self.event("customer.subscription.created", subscription),
            ]

    def _paid_invoice(self, subscription: dict[str, Any], quantity: int) -> str:
        """The subscription's first invoice, paid in full by a payment intent; its id."""
        amount = quantity * UNIT_AMOUNT
        intent = {
            "id": _id("pi"),
            "object": "payment_intent",
            "customer": subscription["customer"],
            "amount": amount,
            "amount_received": amount,
            "status": "succeeded",
        }
        invoice = {
            "id": _id("in"),
            "object": "invoice",
            "customer": subscription["customer"],
            "status": "paid",
            "amount_due": amount,
            "amount_paid": amount,
            "parent": {
                "type": "subscription_details",
                "subscription_details": {"subscription": subscription["id"]},
            },
        }
        payment = {
            "id": _id("inpay"),
            "object": "invoice_payment",
            "invoice": invoice["id"],
            "amount_paid": amount,
            "amount_requested": amount,
            "currency": "eur",
            "is_default": True,
            "status": "paid",
            "payment": {"type": "payment_intent", "payment_intent": intent["id"]},
        }
        self.payment_intents[intent["id"]] = intent
        self.invoices[invoice["id"]] = invoice
        self.invoice_payments[payment["id"]] = payment
        return invoice["id"]

    def expire_later(self, session_id: str, seconds: int) -> None:
        """Stripe's clock for one session: it now expires ``seconds`` from now (0: at once)."""
        with self.lock:
            self.checkout_sessions[session_id]["expires_at"] = int(time.time()) + seconds

    def _session_now(self, session_id: str) -> dict[str, Any]:
        """The session as Stripe has it now: an open one whose time is up has expired."""
        session = self.checkout_sessions[session_id]
        # A session a test made by hand has Stripe's default lifetime.
        session.setdefault("expires_at", int(time.time()) + CHECKOUT_MAX_SECONDS)
        if session["status"] == "open" and session["expires_at"] <= time.time():
            self._expire(session)
        return session

    def _expire(self, session: dict[str, Any]) -> None:
        session.update(status="expired", url=None)
        self.event("checkout.session.expired", session)

    def refunded(self, payment_intent: str) -> int:
        """How much of the payment intent has been refunded, in cents."""
        return sum(r["amount"] for r in self.refunds if r["payment_intent"] == payment_intent)

    def set_status(self, subscription_id: str, status: str) -> dict[str, Any]:
        """Stripe changes the subscription's status (a renewal failing, recovering, unpaid)."""
        with self.lock:
            subscription = self.subscriptions[subscription_id]
            subscription["status"] = status
            return self.event("customer.subscription.updated", subscription)

    def cancel(self, subscription_id: str) -> dict[str, Any]:
        """The subscription ends now (the customer cancelled, or Stripe gave up on the card)."""
        with self.lock:
            subscription = self.subscriptions[subscription_id]
            subscription.update(status="canceled", canceled_at=next(self._clock))
            return self.event("customer.subscription.deleted", subscription)

    def payment_fails(self, subscription_id: str) -> list[dict[str, Any]]:
        """A renewal's payment failed: the invoice event, and the subscription going past due."""
        with self.lock:
            subscription = self.subscriptions[subscription_id]
            invoice = {
                "id": _id("in"),
                "object": "invoice",
                "customer": subscription["customer"],
                "status": "open",
                "attempt_count": 1,
                "parent": {
                    "type": "subscription_details",
                    "subscription_details": {"subscription": subscription_id},
                },
            }
            return [
                self.event("invoice.payment_failed", invoice),
                self.set_status(subscription_id, "past_due"),
            ]

    def event(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        """An event carrying a snapshot of ``obj`` as it is now."""
        event = {
            "id": _id("evt"),
            "object": "event",
            "api_version": stripe.api_version or "2026-10-28.endive",
            "created": next(self._clock),
            "type": kind,
            "livemode": False,
            "data": {"object": json.loads(json.dumps(obj))},
        }
        self.events.append(event)
        return event

    def break_down(self, count: int = 1, *, status: int = 503) -> None:
        self.failing, self.failure_status = count, status

    def customer_subscriptions(self, customer_id: str) -> list[dict[str, Any]]:
        return [s for s in self.subscriptions.values() if s["customer"] == customer_id]

    def api_requests(self, method: str, prefix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    # --- signing and delivering, as Stripe does --------------------------------------------------

    def sign(self, payload: str, *, secret: str | None = None, timestamp: int | None = None) -> str:
        """The ``Stripe-Signature`` header: ``t=<time>,v1=<HMAC-SHA256(secret, "<time>.<body>")>``."""
        return stripe.WebhookSignature.generate_signature_header(
            payload, secret or self.webhook_secret, timestamp=timestamp
        )

    def deliver(self, event: dict[str, Any], url: str | None = None) -> int:
        """POST the signed event to our webhook over HTTP (the live server); its status."""
        url = url or django_settings.SITE_URL + WEBHOOK_PATH
        payload = json.dumps(event)
        request = urllib.request.Request(  # noqa: S310 - our own loopback server
            url,
            data=payload.encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Stripe-Signature": self.sign(payload)},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        self.deliveries.append((event["id"], status))
        return status

    # --- the API ---------------------------------------------------------------------------------

    def api(
        self, method: str, path: str, params: dict[str, Any], headers: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]]:
        self.requests.append(RecordedRequest(method, path, params))
        if headers.get("Authorization") != f"Bearer {self.secret_key}":
            return 401, _error("invalid_request_error", "Invalid API Key provided.")
        if self.latency:
            time.sleep(self.latency)
        with self.lock:
            if self.failing:
                self.failing -= 1
                return self.failure_status, _error("api_error", "Something went wrong.")
            key = headers.get("Idempotency-Key", "")
            if method == "POST" and key in self.idempotent:
                return 200, self.idempotent[key]
            status, body = self._route(method, path, params)
            if method == "POST" and key and status == 200:
                self.idempotent[key] = body
            return status, body

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if parts == ["customers"] and method == "POST":
            customer = {
                "id": _id("cus"),
                "object": "customer",
                "email": params.get("email"),
                "metadata": params.get("metadata", {}),
            }
            self.customers[customer["id"]] = customer
            return 200, customer
        if parts[0] == "customers" and len(parts) == 2 and method == "GET":
            return _found(self.customers.get(parts[1]), "customer", parts[1])
        if parts == ["checkout", "sessions"] and method == "POST":
            return self._checkout_create(params)
        if parts[:2] == ["checkout", "sessions"] and len(parts) == 3 and method == "GET":
            if parts[2] in self.checkout_sessions:
                return 200, self._session_now(parts[2])
            return _found(None, "checkout session", parts[2])
        if parts[:2] == ["checkout", "sessions"] and parts[3:] == ["expire"] and method == "POST":
            if parts[2] not in self.checkout_sessions:
                return _found(None, "checkout session", parts[2])
            session = self._session_now(parts[2])
            if session["status"] != "open":
                return 400, _error(
                    "invalid_request_error",
                    'Only Checkout Sessions with a status in ["open"] can be expired.',
                )
            self._expire(session)
            return 200, session
        if parts == ["invoice_payments"] and method == "GET":
            found = [
                payment
                for payment in self.invoice_payments.values()
                if payment["invoice"] == params.get("invoice", payment["invoice"])
                and payment["status"] == params.get("status", payment["status"])
            ]
            return 200, {
                "object": "list",
                "url": "/v1/invoice_payments",
                "has_more": False,
                "data": found,
            }
        if parts == ["refunds"] and method == "POST":
            return self._refund(params)
        if parts == ["billing_portal", "sessions"] and method == "POST":
            if params.get("customer") not in self.customers:
                return 400, _error("invalid_request_error", "No such customer.", "customer")
            session = {
                "id": _id("bps"),
                "object": "billing_portal.session",
                "customer": params["customer"],
                "return_url": params.get("return_url"),
            }
            session["url"] = f"{self.base_url}/portal/{session['id']}"
            self.portal_sessions[session["id"]] = session
            return 200, session
        if parts == ["subscriptions"] and method == "GET":
            found = [
                s
                for s in self.subscriptions.values()
                if s["customer"] == params.get("customer", s["customer"])
                and (params.get("status") == "all" or s["status"] != "canceled")
            ]
            found.sort(key=lambda s: s["created"], reverse=True)
            return 200, {
                "object": "list",
                "url": "/v1/subscriptions",
                "has_more": False,
                "data": found,
            }
        if parts[0] == "subscription_items" and len(parts) == 2:
            return self._subscription_item(method, parts[1], params)
        if parts[0] == "subscriptions" and len(parts) == 2:
            subscription = self.subscriptions.get(parts[1])
            if method == "DELETE" and subscription is not None:
                if subscription["status"] == "canceled":
                    return 400, _error("invalid_request_error", "Already canceled.")
                flags = {}
                for name in ("prorate", "invoice_now"):
                    value = params.get(name, "false")
                    if value not in ("true", "false"):
                        return 400, _error("invalid_request_error", "Invalid boolean.", name)
                    flags[name] = value == "true"
                self.cancellations.append((parts[1], flags["prorate"], flags["invoice_now"]))
                if flags["prorate"]:
                    self._credit_unused_time(subscription)
                self.cancel(parts[1])
            return _found(subscription, "subscription", parts[1])
        return 404, _error("invalid_request_error", f"Unrecognized request URL ({path}).")

    def _subscription_item(
        self, method: str, item_id: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        found = [
            (subscription, item)
            for subscription in self.subscriptions.values()
            for item in subscription["items"]["data"]
            if item["id"] == item_id
        ]
        if not found:
            return _found(None, "subscription_item", item_id)
        subscription, item = found[0]
        if method == "GET":
            return 200, {**item, "subscription": subscription["id"]}
        if method != "POST":
            return 404, _error("invalid_request_error", "Unrecognized request URL.")
        behavior = params.get("proration_behavior", "create_prorations")
        if behavior not in {"create_prorations", "always_invoice", "none"}:
            return 400, _error(
                "invalid_request_error", "Invalid proration_behavior.", "proration_behavior"
            )
        if subscription["status"] in {"canceled", "incomplete_expired"}:
            return 400, _error(
                "invalid_request_error",
                "A canceled subscription can only update its cancellation_details and metadata.",
            )
        if "quantity" in params:
            quantity = _whole_number(params["quantity"], minimum=0)
            if quantity is None:
                return 400, _error("invalid_request_error", "Invalid integer.", "quantity")
            if quantity != item["quantity"]:
                if behavior != "none":
                    self.prorations.append(
                        (subscription["id"], item_id, item["quantity"], quantity, behavior)
                    )
                item["quantity"] = quantity
                self.event("customer.subscription.updated", subscription)
        return 200, {**item, "subscription": subscription["id"]}

    def _credit_unused_time(self, subscription: dict[str, Any]) -> None:
        """``prorate``: the unused part of the period becomes a credit on the customer's balance
        (money back only by a refund)."""
        (item,) = subscription["items"]["data"]
        period = item["current_period_end"] - item["current_period_start"]
        unused = max(0, item["current_period_end"] - int(time.time()))
        credit = item["quantity"] * UNIT_AMOUNT * unused // period
        customer = self.customers[subscription["customer"]]
        customer["balance"] = customer.get("balance", 0) - credit

    def _refund(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        intent = self.payment_intents.get(params.get("payment_intent", ""))
        if intent is None:
            if "charge" in params or "payment_intent" in params:
                return _found(None, "payment_intent", params.get("payment_intent", ""))
            return 400, _error(
                "invalid_request_error", "One of charge or payment_intent is required."
            )
        reason = params.get("reason")
        if reason not in (None, "duplicate", "fraudulent", "requested_by_customer"):
            return 400, _error("invalid_request_error", "Invalid reason.", "reason")
        left = intent["amount_received"] - self.refunded(intent["id"])
        amount = _whole_number(params.get("amount", left), minimum=1)
        if left <= 0:
            error = _error(
                "invalid_request_error",
                f"Charge for {intent['id']} has already been refunded.",
            )
            error["error"]["code"] = "charge_already_refunded"
            return 400, error
        if amount is None or amount > left:
            return 400, _error("invalid_request_error", "Refund amount is too large.", "amount")
        refund = {
            "id": _id("re"),
            "object": "refund",
            "amount": amount,
            "payment_intent": intent["id"],
            "reason": reason,
            "status": "succeeded",
        }
        self.refunds.append(refund)
        return 200, refund

    def _checkout_create(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if params.get("mode") != "subscription":
            return 400, _error("invalid_request_error", "Only subscription mode here.", "mode")
        line_items = params.get("line_items") or []
        if [item.get("price") for item in line_items] != [self.price_id]:
            return 400, _error("invalid_request_error", "No such price.", "line_items")
        quantity = _whole_number(line_items[0].get("quantity", "1"), minimum=1)
        if quantity is None:
            return 400, _error("invalid_request_error", "Invalid quantity.", "line_items")
        if params.get("customer") not in self.customers:
            return 400, _error("invalid_request_error", "No such customer.", "customer")
        for name in ("success_url", "cancel_url"):
            if not params.get(name):
                return 400, _error("invalid_request_error", f"Missing {name}.", name)
        now = int(time.time())
        expires_at = _whole_number(params.get("expires_at", now + CHECKOUT_MAX_SECONDS), minimum=0)
        if expires_at is None or not (
            now + CHECKOUT_MIN_SECONDS <= expires_at <= now + CHECKOUT_MAX_SECONDS
        ):
            return 400, _error(
                "invalid_request_error",
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from "
                "Checkout Session creation.",
                "expires_at",
            )
        session = {
            "id": _id("cs_test"),
            "object": "checkout.session",
            "mode": "subscription",
            "status": "open",
            "payment_status": "unpaid",
            "customer": params["customer"],
            "client_reference_id": params.get("client_reference_id"),
            "success_url": params["success_url"],
            "cancel_url": params["cancel_url"],
            "subscription": None,
            "subscription_data": params.get("subscription_data", {}),
            "expires_at": expires_at,
        }
        # Kept aside: a session shows its line items only when asked to expand them.
        self.checkout_quantities[session["id"]] = quantity
        session["url"] = f"{self.base_url}/pay/{session['id']}"
        self.checkout_sessions[session["id"]] = session
        return 200, session

    # --- the customer's pages --------------------------------------------------------------------

    def page(self, method: str, path: str) -> tuple[int, str, dict[str, str]]:
        """Checkout and the portal as the browser sees them: (status, HTML, headers)."""
        parts = path.strip("/").split("/")
        if parts[0] == "pay" and len(parts) == 2 and parts[1] in self.checkout_sessions:
            with self.lock:
                session = self._session_now(parts[1])
            if session["status"] != "open":
                return 200, _closed_html(), {}
            if method == "POST":
                for event in self.complete_checkout(session["id"]):
                    self.deliver(event)
                back = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
                return 303, "", {"Location": back}
            return 200, _checkout_html(session), {}
        if parts[0] == "portal" and len(parts) == 2 and parts[1] in self.portal_sessions:
            session = self.portal_sessions[parts[1]]
            if method == "POST":
                for subscription in self.customer_subscriptions(session["customer"]):
                    if subscription["status"] != "canceled":
                        self.deliver(self.cancel(subscription["id"]))
                return 303, "", {"Location": session["return_url"]}
            return 200, _portal_html(session), {}
        return 404, "<h1>Not found</h1>", {}


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _whole_number(value: object, *, minimum: int) -> int | None:
    """A form-encoded whole number of at least ``minimum``, or None."""
    text = str(value)
    return int(text) if text.isdigit() and int(text) >= minimum else None


def _error(kind: str, message: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, "param": param}}


def _found(obj: dict[str, Any] | None, what: str, obj_id: str) -> tuple[int, dict[str, Any]]:
    if obj is None:
        error = _error("invalid_request_error", f"No such {what}: '{obj_id}'", "id")
        error["error"]["code"] = "resource_missing"
        return 404, error
    return 200, obj


def _checkout_html(session: dict[str, Any]) -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Checkout</title></head>
<body><h1>Subscribe to Multical Pro</h1><p>Test card 4242 4242 4242 4242</p>
<form method="post" action="/pay/{session["id"]}"><button type="submit">Pay</button></form>
<a href="{html.escape(session["cancel_url"])}">Back</a></body></html>"""


def _closed_html() -> str:
    return """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Checkout</title></head>
<body><h1>This Checkout Session is no longer available</h1></body></html>"""


def _portal_html(session: dict[str, Any]) -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Billing</title></head>
<body><h1>Manage your plan</h1>
<form method="post" action="/portal/{session["id"]}"><button type="submit">Cancel plan</button></form>
<a href="{html.escape(session["return_url"])}">Return to Multical</a></body></html>"""


def decode_params(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (``line_items[0][price]=…``) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        names = re.findall(r"[^\[\]]+", key)
        node = root
        for name in names[:-1]:
            node = node.setdefault(name, {})
        node[names[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(key.isdigit() for key in node):
        return [_lists(node[key]) for key in sorted(node, key=int)]
    return {key: _lists(value) for key, value in node.items()}


def _handler(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            url = urlsplit(self.path)
            if url.path.startswith(API_PREFIX + "/"):
                params = decode_params(parse_qsl(raw or url.query, keep_blank_values=True))
                status, body = fake.api(
                    self.command, url.path.removeprefix(API_PREFIX), params, self.headers
                )
                self._send(status, json.dumps(body).encode(), {"Content-Type": "application/json"})
            else:
                status, page, headers = fake.page(self.command, url.path)
                self._send(
                    status, page.encode(), {"Content-Type": "text/html; charset=utf-8", **headers}
                )

        do_GET = do_POST = do_DELETE = _handle

    return Handler


@pytest.fixture
def stripe_fake(settings) -> Iterator[FakeStripe]:
    """A running fake Stripe, with billing turned on and pointed at it for the test's duration."""
    fake = FakeStripe()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    settings.STRIPE_SECRET_KEY = fake.secret_key
    settings.STRIPE_WEBHOOK_SECRET = fake.webhook_secret
    settings.STRIPE_PRO_PRICE_ID = fake.price_id
    settings.STRIPE_API_BASE = fake.base_url
    settings.STRIPE_CHECKOUT_URL = fake.base_url
    settings.STRIPE_PORTAL_URL = fake.base_url
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
