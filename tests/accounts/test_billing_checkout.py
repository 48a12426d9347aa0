"""Upgrading through Stripe Checkout, managing through the Customer Portal, and the plan card on
the Settings page; against the fake Stripe. Card details never pass through us."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from accounts.billing.plans import Plan, plan_for
from accounts.models import Subscription
from tests.accounts.test_billing_webhooks import deliver_all, subscribe
from tests.factories import UserFactory
from tests.multical.test_project_checks import run_manage

pytestmark = pytest.mark.django_db

CHECKOUT = reverse("billing:checkout")
PORTAL = reverse("billing:portal")
DONE = reverse("billing:done")
CANCELLED = reverse("billing:cancelled")
SETTINGS = reverse("accounts:settings")


def session_of(response, fake) -> dict:
    assert response.status_code == 302
    assert response["Location"].startswith(f"{fake.base_url}/pay/")
    return fake.checkout_sessions[response["Location"].rsplit("/", 1)[1]]


def test_upgrading_sends_the_user_to_a_subscription_checkout_of_the_pro_price(
    stripe_fake, owner, owner_client, settings
):
    session = session_of(owner_client.post(CHECKOUT), stripe_fake)

    customer = Subscription.objects.get(user=owner).stripe_customer_id
    assert session["mode"] == "subscription"
    assert session["customer"] == customer
    assert session["client_reference_id"] == str(owner.pk)
    (created,) = stripe_fake.api_requests("POST", "/checkout/sessions")
    assert created.params["line_items"] == [{"price": stripe_fake.price_id, "quantity": "1"}]
    assert session["success_url"] == f"{settings.SITE_URL}{DONE}?session_id={{CHECKOUT_SESSION_ID}}"
    assert session["cancel_url"] == f"{settings.SITE_URL}{CANCELLED}"
    assert stripe_fake.customers[customer]["email"] == owner.email
    assert not any("card" in str(request.params) for request in stripe_fake.requests)


def test_a_second_checkout_reuses_the_customer(stripe_fake, owner, owner_client):
    first = session_of(owner_client.post(CHECKOUT), stripe_fake)
    second = session_of(owner_client.post(CHECKOUT), stripe_fake)

    assert first["customer"] == second["customer"]
    assert len(stripe_fake.customers) == 1


def test_upgrading_needs_a_post_and_a_signed_in_user(stripe_fake, owner_client):
    assert owner_client.get(CHECKOUT).status_code == 405
    anonymous = Client().post(CHECKOUT)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("accounts:login"))
    assert stripe_fake.requests == []


def test_a_pro_user_is_not_sent_to_checkout_again(stripe_fake, owner, owner_client):
    subscribe(stripe_fake, owner)
    sessions = len(stripe_fake.checkout_sessions)

    response = owner_client.post(CHECKOUT, follow=True)

    assert response.redirect_chain == [(SETTINGS, 302)]
    assert "You are on Pro already." in response.content.decode()
    assert len(stripe_fake.checkout_sessions) == sessions


def test_coming_back_from_checkout_reads_the_subscription_without_waiting_for_the_webhook(
    stripe_fake, owner, owner_client
):
    session = session_of(owner_client.post(CHECKOUT, {"next": "/rules/new/"}), stripe_fake)
    stripe_fake.complete_checkout(session["id"])  # the webhook has not arrived yet

    response = owner_client.get(DONE, {"session_id": session["id"]})

    assert response.status_code == 302
    assert response["Location"] == "/rules/new/"
    assert plan_for(owner) == Plan.PRO
    assert "Welcome to Pro" in owner_client.get(SETTINGS).content.decode()


def test_another_users_checkout_session_does_not_upgrade_anyone(stripe_fake, owner, owner_client):
    other = UserFactory()
    other_client = Client()
    other_client.force_login(other)
    theirs = session_of(other_client.post(CHECKOUT), stripe_fake)
    session_of(owner_client.post(CHECKOUT), stripe_fake)
    stripe_fake.complete_checkout(theirs["id"])

    owner_client.get(DONE, {"session_id": theirs["id"]})

    assert plan_for(owner) == Plan.FREE
    assert Subscription.objects.get(user=owner).status == ""


def test_the_next_address_after_checkout_stays_on_this_site(stripe_fake, owner_client):
    session = session_of(
        owner_client.post(CHECKOUT, {"next": "https://evil.example/phish"}), stripe_fake
    )
    stripe_fake.complete_checkout(session["id"])

    response = owner_client.get(DONE, {"session_id": session["id"]})

    assert response["Location"] == SETTINGS


def test_cancelling_checkout_changes_nothing(stripe_fake, owner, owner_client):
    session_of(owner_client.post(CHECKOUT), stripe_fake)

    response = owner_client.get(CANCELLED, follow=True)

    assert "Nothing was charged: you are still on the Free plan." in response.content.decode()
    assert plan_for(owner) == Plan.FREE


def test_stripe_being_down_is_said_plainly(stripe_fake, owner_client):
    stripe_fake.break_down(10)

    response = owner_client.post(CHECKOUT, follow=True)

    assert response.redirect_chain == [(SETTINGS, 302)]
    assert "Stripe cannot be reached just now" in response.content.decode()


def test_the_portal_opens_for_the_users_customer_and_returns_to_settings(
    stripe_fake, owner, owner_client, settings
):
    subscribe(stripe_fake, owner)

    response = owner_client.post(PORTAL)

    assert response.status_code == 302
    portal_id = urlsplit(response["Location"]).path.rsplit("/", 1)[1]
    portal = stripe_fake.portal_sessions[portal_id]
    assert portal["customer"] == Subscription.objects.get(user=owner).stripe_customer_id
    assert portal["return_url"] == f"{settings.SITE_URL}{SETTINGS}"


def test_cancelling_in_the_portal_ends_pro(stripe_fake, owner, owner_client):
    subscription_id = subscribe(stripe_fake, owner)

    deliver_all(stripe_fake, [stripe_fake.cancel(subscription_id)])

    assert plan_for(owner) == Plan.FREE


def test_without_a_customer_there_is_no_portal(stripe_fake, owner_client):
    response = owner_client.post(PORTAL, follow=True)

    assert "There is no billing account to manage yet." in response.content.decode()
    assert stripe_fake.portal_sessions == {}


# The plan card ----------------------------------------------------------------------------------


def test_a_free_user_sees_their_usage_against_the_limits_and_the_upgrade_button(
    stripe_fake, owner_client
):
    html = owner_client.get(SETTINGS).content.decode()

    assert "You are on <strong>Free</strong>" in html
    assert "Sync rules on</dt><dd>0 of 1" in html
    assert "Calendar accounts connected</dt><dd>0 of 2" in html
    assert "Booking pages open</dt><dd>0 of 1" in html
    assert f'action="{CHECKOUT}"' in html
    assert f'action="{PORTAL}"' not in html
    assert "Multical never sees your card number" in html


def test_a_pro_user_sees_the_renewal_and_the_portal_button(stripe_fake, owner, owner_client):
    subscribe(stripe_fake, owner)

    html = owner_client.get(SETTINGS).content.decode()

    assert "You are on <strong>Pro</strong>" in html
    assert "Renews on" in html
    assert f'action="{PORTAL}"' in html
    assert f'action="{CHECKOUT}"' not in html


def test_without_billing_configured_the_card_says_everything_is_included(owner_client):
    html = owner_client.get(SETTINGS).content.decode()

    assert "Billing is not set up on this server, so nothing is limited" in html
    assert f'action="{CHECKOUT}"' not in html


def test_without_billing_configured_checkout_explains_instead_of_failing(owner_client):
    response = owner_client.post(CHECKOUT, follow=True)

    assert "Billing is not set up on this server" in response.content.decode()


def test_checkout_and_the_portal_are_allowed_as_form_destinations(stripe_fake, owner_client):
    policy = owner_client.get(SETTINGS)["Content-Security-Policy"]

    (form_action,) = [part for part in policy.split(";") if "form-action" in part]
    assert stripe_fake.base_url in form_action


def test_a_stripe_key_without_the_pro_price_stops_start_up_naming_it():
    keys = {"STRIPE_SECRET_KEY": "sk_live_x", "STRIPE_WEBHOOK_SECRET": "whsec_x"}

    result = run_manage("check", env=keys)

    assert result.returncode != 0
    assert "Set STRIPE_PRO_PRICE_ID" in result.stderr
