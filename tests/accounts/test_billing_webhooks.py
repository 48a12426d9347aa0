"""Stripe's webhook against the fake Stripe: only correctly signed bodies are read, each event is
acted on once, and whatever order events arrive in, the plan ends as Stripe says it is now."""

from __future__ import annotations

import json
import time

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.billing import services
from accounts.billing.plans import Plan, plan_for
from accounts.models import StripeEvent, Subscription, User
from tests.factories import UserFactory
from tests.fakes.stripe import FakeStripe

pytestmark = pytest.mark.django_db

WEBHOOK = "/hooks/stripe/"


# Helpers shared by the billing tests ------------------------------------------------------------


def post_event(
    fake: FakeStripe,
    event: dict,
    *,
    body: str | None = None,
    signature: str | None = None,
    client: Client | None = None,
):
    """Deliver ``event`` to our webhook as Stripe does: the raw JSON body, signed."""
    payload = json.dumps(event) if body is None else body
    header = fake.sign(payload) if signature is None else signature
    return (client or Client()).post(
        WEBHOOK, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )


def deliver_all(fake: FakeStripe, events: list[dict]) -> None:
    for event in events:
        assert post_event(fake, event).status_code == 200


def checkout_session_for(user: User) -> str:
    """Start Checkout for ``user`` the way the Upgrade button does; the session's id."""
    url = services.checkout_start(user=user)
    return url.rsplit("/", 1)[1]


def subscribe(fake: FakeStripe, user: User) -> str:
    """``user`` pays in Checkout and Stripe's events arrive: the subscription's id."""
    session_id = checkout_session_for(user)
    deliver_all(fake, fake.complete_checkout(session_id))
    return fake.checkout_sessions[session_id]["subscription"]


@pytest.fixture
def customer(stripe_fake, owner) -> Subscription:
    """The owner has been to Checkout once (a Stripe customer), and is still on Free."""
    checkout_session_for(owner)
    return Subscription.objects.get(user=owner)


def state(user: User) -> tuple:
    row = Subscription.objects.filter(user=user).first()
    return (
        plan_for(user),
        row and (row.status, row.stripe_subscription_id, row.payment_failed_at, row.ended_at),
        StripeEvent.objects.count(),
    )


# Signatures -------------------------------------------------------------------------------------


def test_checkout_completed_makes_the_user_pro(stripe_fake, owner):
    assert plan_for(owner) == Plan.FREE

    subscription_id = subscribe(stripe_fake, owner)

    row = Subscription.objects.get(user=owner)
    assert plan_for(owner) == Plan.PRO
    assert (row.status, row.stripe_subscription_id) == ("active", subscription_id)
    assert row.current_period_end is not None
    assert StripeEvent.objects.count() == 2


@pytest.mark.parametrize(
    "forgery",
    ["another secret", "tampered body", "no header", "garbage header", "five minutes old"],
)
def test_a_body_whose_signature_does_not_verify_is_refused_and_changes_nothing(
    stripe_fake, customer, forgery
):
    completed, _ = stripe_fake.complete_checkout(checkout_session_for(customer.user))
    payload = json.dumps(completed)
    kwargs = {
        "another secret": {"signature": stripe_fake.sign(payload, secret="whsec_someone_else")},
        "tampered body": {
            "signature": stripe_fake.sign(payload),
            "body": payload.replace('"complete"', '"completed"'),
        },
        "no header": {"signature": ""},
        "garbage header": {"signature": "t=1,v1=nonsense"},
        "five minutes old": {
            "signature": stripe_fake.sign(payload, timestamp=int(time.time()) - 301)
        },
    }[forgery]
    before, requests_before = state(customer.user), len(stripe_fake.requests)

    response = post_event(stripe_fake, completed, **kwargs)

    assert response.status_code == 400
    assert state(customer.user) == before
    assert plan_for(customer.user) == Plan.FREE
    assert len(stripe_fake.requests) == requests_before  # Stripe was not even asked


def test_a_body_that_is_not_json_is_refused(stripe_fake, customer):
    response = post_event(stripe_fake, {}, body="not json")

    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0


def test_the_webhook_takes_only_posts(stripe_fake):
    assert Client().get(WEBHOOK).status_code == 405


def test_without_billing_configured_the_webhook_is_not_there(client):
    response = client.post(WEBHOOK, data="{}", content_type="application/json")

    assert response.status_code == 404


# Idempotency ------------------------------------------------------------------------------------


def test_a_replayed_event_changes_nothing_and_costs_no_stripe_request(stripe_fake, owner):
    subscription_id = subscribe(stripe_fake, owner)
    ended = stripe_fake.cancel(subscription_id)
    assert post_event(stripe_fake, ended).status_code == 200
    assert plan_for(owner) == Plan.FREE
    before, requests_before = state(owner), len(stripe_fake.requests)

    for event in [ended, *stripe_fake.events[:2]]:  # the cancellation and the original checkout
        assert post_event(stripe_fake, event).status_code == 200

    assert state(owner) == before
    assert plan_for(owner) == Plan.FREE  # an old "created" replayed does not bring Pro back
    assert len(stripe_fake.requests) == requests_before


def test_an_event_stripe_could_not_be_read_back_for_is_kept_for_stripes_retry(
    stripe_fake, customer
):
    events = stripe_fake.complete_checkout(checkout_session_for(customer.user))
    stripe_fake.break_down(10)

    response = post_event(stripe_fake, events[0])

    assert response.status_code == 503
    assert StripeEvent.objects.count() == 0
    assert plan_for(customer.user) == Plan.FREE

    stripe_fake.break_down(0)
    assert post_event(stripe_fake, events[0]).status_code == 200
    assert plan_for(customer.user) == Plan.PRO


def test_events_we_do_not_act_on_are_acknowledged(stripe_fake, customer):
    event = stripe_fake.event(
        "customer.updated", stripe_fake.customers[customer.stripe_customer_id]
    )

    assert post_event(stripe_fake, event).status_code == 200
    assert plan_for(customer.user) == Plan.FREE
    assert stripe_fake.api_requests("GET", "/subscriptions") == []


def test_events_about_a_customer_we_do_not_know_change_nothing(stripe_fake, customer):
    stranger = stripe_fake.event(
        "customer.subscription.updated",
        {"id": "sub_unknown", "object": "subscription", "customer": "cus_unknown"},
    )

    assert post_event(stripe_fake, stranger).status_code == 200
    assert Subscription.objects.count() == 1
    assert plan_for(customer.user) == Plan.FREE


# Order ------------------------------------------------------------------------------------------


def test_a_deletion_arriving_before_an_older_update_ends_free(stripe_fake, owner):
    session_id = checkout_session_for(owner)
    completed, created = stripe_fake.complete_checkout(session_id)
    subscription_id = stripe_fake.checkout_sessions[session_id]["subscription"]
    updated = stripe_fake.set_status(subscription_id, "active")
    deleted = stripe_fake.cancel(subscription_id)

    for event in [deleted, completed, updated, created]:  # Stripe does not promise any order
        assert post_event(stripe_fake, event).status_code == 200

    row = Subscription.objects.get(user=owner)
    assert plan_for(owner) == Plan.FREE
    assert (row.status, row.stripe_subscription_id) == ("canceled", subscription_id)


def test_an_older_cancelled_subscription_does_not_hide_a_newer_live_one(stripe_fake, owner):
    first = subscribe(stripe_fake, owner)
    stale = stripe_fake.set_status(first, "active")
    deliver_all(stripe_fake, [stripe_fake.cancel(first)])
    second = subscribe(stripe_fake, owner)

    assert post_event(stripe_fake, stale).status_code == 200  # about the first one, late

    row = Subscription.objects.get(user=owner)
    assert plan_for(owner) == Plan.PRO
    assert row.stripe_subscription_id == second


def test_a_checkout_for_a_customer_made_outside_multical_is_matched_by_the_user_id(
    stripe_fake, owner
):
    stripe_fake.customers["cus_by_hand"] = {"id": "cus_by_hand", "object": "customer"}
    session = {
        "id": "cs_by_hand",
        "object": "checkout.session",
        "status": "open",
        "customer": "cus_by_hand",
        "client_reference_id": str(owner.pk),
    }
    stripe_fake.checkout_sessions[session["id"]] = session

    deliver_all(stripe_fake, stripe_fake.complete_checkout(session["id"]))

    assert Subscription.objects.get(user=owner).stripe_customer_id == "cus_by_hand"
    assert plan_for(owner) == Plan.PRO


# Failed payments --------------------------------------------------------------------------------


def test_a_failed_renewal_keeps_pro_and_tells_the_user_once(
    stripe_fake, owner, django_capture_on_commit_callbacks
):
    subscription_id = subscribe(stripe_fake, owner)

    with django_capture_on_commit_callbacks(execute=True):
        deliver_all(stripe_fake, stripe_fake.payment_fails(subscription_id))
        deliver_all(stripe_fake, stripe_fake.payment_fails(subscription_id))  # Stripe's retry

    row = Subscription.objects.get(user=owner)
    assert plan_for(owner) == Plan.PRO
    assert row.status == "past_due" and row.payment_failed_at is not None
    assert len(mail.outbox) == 1
    (message,) = mail.outbox
    assert message.to == [owner.email]
    assert "did not go through" in message.subject
    assert "update your card" in message.body
    html = Client(raise_request_exception=True)
    html.force_login(owner)
    assert "Your last payment did not go through" in html.get(reverse("dashboard")).content.decode()


def test_a_recovered_payment_clears_the_warning(stripe_fake, owner):
    subscription_id = subscribe(stripe_fake, owner)
    deliver_all(stripe_fake, stripe_fake.payment_fails(subscription_id))

    deliver_all(stripe_fake, [stripe_fake.set_status(subscription_id, "active")])

    row = Subscription.objects.get(user=owner)
    assert (row.status, row.payment_failed_at) == ("active", None)


def test_when_stripe_gives_up_on_the_card_pro_ends(stripe_fake, owner, enqueued):
    subscription_id = subscribe(stripe_fake, owner)
    deliver_all(stripe_fake, stripe_fake.payment_fails(subscription_id))

    deliver_all(stripe_fake, [stripe_fake.set_status(subscription_id, "unpaid")])

    row = Subscription.objects.get(user=owner)
    assert plan_for(owner) == Plan.FREE
    assert row.payment_failed_at is None and row.ended_at is not None


def test_every_customer_gets_their_own_stripe_customer_once(stripe_fake, owner):
    checkout_session_for(owner)
    checkout_session_for(owner)
    other = UserFactory()
    checkout_session_for(other)

    assert len(stripe_fake.customers) == 2
    assert len(stripe_fake.api_requests("POST", "/customers")) == 2
    assert Subscription.objects.get(user=owner).stripe_customer_id in stripe_fake.customers
