"""The fake Stripe's seats, through the Stripe library as billing calls it: a Checkout quantity
becomes the subscription item's, and an item's quantity changes as Stripe changes it (prorated
unless told not to, an update event, refused once the subscription has ended)."""

from __future__ import annotations

import pytest
import stripe
from django.conf import settings

from accounts.billing import stripe_api

pytestmark = pytest.mark.django_db


def subscribed(fake, quantity: int | None) -> dict:
    api = stripe_api.client()
    customer = api.v1.customers.create(params={"email": "payer@example.com"})
    item = {"price": settings.STRIPE_PRO_PRICE_ID}
    if quantity is not None:
        item["quantity"] = quantity
    session = api.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer": customer.id,
            "line_items": [item],
            "success_url": "http://testserver/done/",
            "cancel_url": "http://testserver/cancelled/",
        }
    )
    fake.complete_checkout(session.id)
    (subscription,) = fake.customer_subscriptions(customer.id)
    return subscription


def item_of(subscription) -> dict:
    (item,) = subscription["items"]["data"]
    return item


def test_a_checkout_quantity_is_the_subscription_items(stripe_fake):
    assert item_of(subscribed(stripe_fake, 7))["quantity"] == 7
    assert item_of(subscribed(stripe_fake, None))["quantity"] == 1


@pytest.mark.parametrize("quantity", [0, -2])
def test_a_checkout_needs_at_least_one(stripe_fake, quantity):
    with pytest.raises(stripe.InvalidRequestError):
        subscribed(stripe_fake, quantity)


def test_setting_an_items_quantity_prorates_and_sends_an_update(stripe_fake):
    subscription = subscribed(stripe_fake, 3)
    item = item_of(subscription)
    sent = len(stripe_fake.events)

    answer = stripe_api.client().v1.subscription_items.update(item["id"], params={"quantity": 5})

    assert answer.quantity == 5
    assert answer.subscription == subscription["id"]
    assert stripe_fake.prorations == [(subscription["id"], item["id"], 3, 5, "create_prorations")]
    (event,) = stripe_fake.events[sent:]
    assert event["type"] == "customer.subscription.updated"
    assert item_of(event["data"]["object"])["quantity"] == 5


def test_the_same_quantity_again_changes_nothing(stripe_fake):
    item = item_of(subscribed(stripe_fake, 3))
    sent = len(stripe_fake.events)

    stripe_api.client().v1.subscription_items.update(item["id"], params={"quantity": 3})

    assert stripe_fake.prorations == []
    assert stripe_fake.events[sent:] == []


def test_no_proration_when_asked_for_none(stripe_fake):
    item = item_of(subscribed(stripe_fake, 3))

    stripe_api.client().v1.subscription_items.update(
        item["id"], params={"quantity": 2, "proration_behavior": "none"}
    )

    assert stripe_fake.prorations == []
    assert stripe_api.client().v1.subscription_items.retrieve(item["id"]).quantity == 2


def test_an_ended_subscriptions_quantity_cannot_change(stripe_fake):
    subscription = subscribed(stripe_fake, 3)
    stripe_fake.cancel(subscription["id"])

    with pytest.raises(stripe.InvalidRequestError):
        stripe_api.client().v1.subscription_items.update(
            item_of(subscription)["id"], params={"quantity": 4}
        )


def test_an_unknown_item_is_a_404(stripe_fake):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_api.client().v1.subscription_items.update("si_missing", params={"quantity": 4})

    assert raised.value.http_status == 404
