"""Deleting an account cancels its Stripe subscription first, so nobody is billed for an account
that is gone; a Stripe outage holds the deletion back until its last try."""

from __future__ import annotations

import logging

import pytest
from django.utils import timezone

from accounts.models import Subscription, User
from lifecycle import deletion
from tests.accounts.test_billing_webhooks import checkout_session_for, deliver_all, subscribe

pytestmark = pytest.mark.django_db


def closed(user: User) -> User:
    """The account as the deletion request leaves it, waiting for the task."""
    user.deletion_requested_at = timezone.now()
    user.is_active = False
    user.save(update_fields=["deletion_requested_at", "is_active"])
    return user


def test_an_active_subscription_is_cancelled_before_the_account_is_deleted(
    stripe_fake, owner, monkeypatch
):
    subscription_id = subscribe(stripe_fake, owner)
    seen_at_deletion = []
    real_delete = User.delete

    def delete(user, *args, **kwargs):
        seen_at_deletion.append(stripe_fake.subscriptions[subscription_id]["status"])
        return real_delete(user, *args, **kwargs)

    monkeypatch.setattr(User, "delete", delete)

    deletion.account_delete(user_id=str(closed(owner).pk))

    assert seen_at_deletion == ["canceled"]
    assert [r.path for r in stripe_fake.api_requests("DELETE", "/subscriptions")] == [
        f"/subscriptions/{subscription_id}"
    ]
    assert not User.objects.filter(pk=owner.pk).exists()
    assert not Subscription.objects.exists()


def test_a_past_due_subscription_is_cancelled_too(stripe_fake, owner):
    subscription_id = subscribe(stripe_fake, owner)
    deliver_all(stripe_fake, stripe_fake.payment_fails(subscription_id))

    deletion.account_delete(user_id=str(closed(owner).pk))

    assert stripe_fake.subscriptions[subscription_id]["status"] == "canceled"


def test_stripe_being_down_holds_the_deletion_back_for_a_retry(stripe_fake, owner):
    subscription_id = subscribe(stripe_fake, owner)
    stripe_fake.break_down(10)

    with pytest.raises(deletion.DeletionIncomplete):
        deletion.account_delete(user_id=str(closed(owner).pk))

    assert User.objects.filter(pk=owner.pk).exists()
    assert stripe_fake.subscriptions[subscription_id]["status"] == "active"

    stripe_fake.break_down(0)
    deletion.account_delete(user_id=str(owner.pk))
    assert stripe_fake.subscriptions[subscription_id]["status"] == "canceled"
    assert not User.objects.filter(pk=owner.pk).exists()


def test_on_the_last_try_the_account_goes_and_the_customer_is_named_for_the_operator(
    stripe_fake, owner, caplog
):
    subscribe(stripe_fake, owner)
    customer = Subscription.objects.get(user=owner).stripe_customer_id
    stripe_fake.break_down(10)

    with caplog.at_level(logging.ERROR, logger="lifecycle.deletion"):
        deletion.account_delete(user_id=str(closed(owner).pk), last_try=True)

    assert not User.objects.filter(pk=owner.pk).exists()
    assert customer in caplog.text


def test_an_account_without_a_live_subscription_costs_no_cancellation(stripe_fake, owner):
    subscription_id = subscribe(stripe_fake, owner)
    deliver_all(stripe_fake, [stripe_fake.cancel(subscription_id)])
    never_paid = closed(User.objects.create_user("never@example.com", "x" * 12))
    checkout_session_for(never_paid)
    no_customer = closed(User.objects.create_user("nothing@example.com", "x" * 12))
    requests_before = len(stripe_fake.requests)

    for user in [closed(owner), never_paid, no_customer]:
        deletion.account_delete(user_id=str(user.pk))

    assert stripe_fake.api_requests("DELETE", "/subscriptions") == []
    # One look at each customer's subscriptions; nothing at all for the account without one.
    assert len(stripe_fake.requests) == requests_before + 2
    assert not User.objects.filter(pk__in=[owner.pk, never_paid.pk, no_customer.pk]).exists()
