"""Nobody pays for Pro twice, against the fake Stripe: Checkout is refused while Pro is live, starts
at the same moment share one open session, and a second subscription that still arrives is
cancelled and refunded as its events come in."""

from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from accounts.billing import services
from accounts.billing.plans import Plan, plan_for
from accounts.models import AuditLog, Subscription
from tests.accounts.test_billing_webhooks import deliver_all, post_event, subscribe
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHECKOUT = reverse("billing:checkout")


def session_id_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_upgrading_again_returns_the_session_still_open(stripe_fake, owner, owner_client):
    first = owner_client.post(CHECKOUT)["Location"]
    second = owner_client.post(CHECKOUT)["Location"]

    assert first == second
    (created,) = stripe_fake.api_requests("POST", "/checkout/sessions")
    expires_at = int(created.params["expires_at"])
    assert 30 * 60 < expires_at - timezone.now().timestamp() <= 24 * 3600
    row = Subscription.objects.get(user=owner)
    assert row.checkout_session_id == session_id_of(first)
    assert int(row.checkout_expires_at.timestamp()) == expires_at


def test_a_session_that_expired_is_replaced(stripe_fake, owner):
    first = session_id_of(services.checkout_start(user=owner))
    stripe_fake.expire_later(first, 0)

    second = session_id_of(services.checkout_start(user=owner))

    assert second != first
    assert stripe_fake.checkout_sessions[first]["status"] == "expired"
    assert stripe_fake.checkout_sessions[second]["status"] == "open"


def test_a_session_stripe_does_not_know_is_replaced(stripe_fake, owner):
    services.checkout_start(user=owner)
    Subscription.objects.filter(user=owner).update(checkout_session_id="cs_test_other_keys")

    url = services.checkout_start(user=owner)

    assert Subscription.objects.get(user=owner).checkout_session_id == session_id_of(url)
    assert stripe_fake.checkout_sessions[session_id_of(url)]["status"] == "open"


def test_a_session_paid_in_another_tab_refuses_checkout_before_its_events_arrive(
    stripe_fake, owner, owner_client
):
    stripe_fake.complete_checkout(session_id_of(services.checkout_start(user=owner)))

    response = owner_client.post(CHECKOUT, follow=True)

    assert "You are on Pro already." in response.content.decode()
    assert len(stripe_fake.checkout_sessions) == 1
    assert plan_for(owner) == Plan.PRO


@pytest.mark.django_db(transaction=True)
def test_two_upgrades_at_the_same_moment_open_one_session(stripe_fake):
    user = UserFactory(email="twice@example.com")
    stripe_fake.latency = 0.3  # each Stripe call is slow enough for the two starts to overlap
    barrier = threading.Barrier(2)
    urls: list[str] = []
    errors: list[Exception] = []

    def start() -> None:
        try:
            barrier.wait(10)
            urls.append(services.checkout_start(user=user))
        except Exception as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert len(urls) == 2 and urls[0] == urls[1]
    assert len(stripe_fake.api_requests("POST", "/checkout/sessions")) == 1
    assert len(stripe_fake.customers) == 1


def test_a_second_pro_subscription_is_cancelled_and_refunded_and_logged(stripe_fake, owner):
    first = session_id_of(services.checkout_start(user=owner))
    # A second tab's session, opened before the first was stored (as two Checkouts once could).
    second = stripe_fake.checkout_sessions[first] | {"id": "cs_test_second_tab", "status": "open"}
    stripe_fake.checkout_sessions[second["id"]] = second
    deliver_all(stripe_fake, stripe_fake.complete_checkout(first))
    kept = Subscription.objects.get(user=owner).stripe_subscription_id

    deliver_all(stripe_fake, stripe_fake.complete_checkout(second["id"]))

    duplicate = stripe_fake.checkout_sessions[second["id"]]["subscription"]
    assert stripe_fake.subscriptions[duplicate]["status"] == "canceled"
    assert stripe_fake.cancellations == [(duplicate, False, False)]
    invoice = stripe_fake.invoices[stripe_fake.subscriptions[duplicate]["latest_invoice"]]
    (payment,) = [p for p in stripe_fake.invoice_payments.values() if p["invoice"] == invoice["id"]]
    assert stripe_fake.refunded(payment["payment"]["payment_intent"]) == invoice["amount_paid"]
    assert [refund["reason"] for refund in stripe_fake.refunds] == ["duplicate"]
    row = Subscription.objects.get(user=owner)
    assert (row.stripe_subscription_id, row.status) == (kept, "active")
    assert plan_for(owner) == Plan.PRO
    (logged,) = AuditLog.objects.filter(
        user=owner, action=AuditLog.Action.DUPLICATE_SUBSCRIPTION_CANCELLED
    )
    assert logged.metadata == {"subscription": duplicate}
    assert mail.outbox == []


def test_a_single_subscription_is_never_cancelled(stripe_fake, owner):
    subscription_id = subscribe(stripe_fake, owner)

    for event in list(stripe_fake.events):
        assert post_event(stripe_fake, event | {"id": event["id"] + "_again"}).status_code == 200

    assert stripe_fake.subscriptions[subscription_id]["status"] == "active"
    assert stripe_fake.api_requests("DELETE", "/subscriptions") == []
    assert stripe_fake.refunds == []


def test_a_duplicate_refunded_by_hand_is_still_cancelled(stripe_fake, owner):
    first = session_id_of(services.checkout_start(user=owner))
    second = stripe_fake.checkout_sessions[first] | {"id": "cs_test_second_tab", "status": "open"}
    stripe_fake.checkout_sessions[second["id"]] = second
    deliver_all(stripe_fake, stripe_fake.complete_checkout(first))
    events = stripe_fake.complete_checkout(second["id"])
    duplicate = stripe_fake.checkout_sessions[second["id"]]["subscription"]
    invoice = stripe_fake.subscriptions[duplicate]["latest_invoice"]
    (payment,) = [p for p in stripe_fake.invoice_payments.values() if p["invoice"] == invoice]
    intent = payment["payment"]["payment_intent"]
    # Someone at the company refunded it in Stripe's dashboard before the events arrived.
    stripe_fake.refunds.append({"id": "re_by_hand", "amount": 1200, "payment_intent": intent})

    deliver_all(stripe_fake, events)

    assert stripe_fake.subscriptions[duplicate]["status"] == "canceled"
    assert stripe_fake.refunded(intent) == 1200
    assert plan_for(owner) == Plan.PRO
