"""The organization's billing page: owners and admins see the seats and the subscription and go to
Stripe from it; a member, an outsider and a removed admin get the 404 anyone else gets."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from orgs.models import Membership, OrgSubscription, Role
from orgs.services import organization_create
from tests.accounts.test_billing_webhooks import deliver_all
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def org(owner):
    return organization_create(user=owner, name="Acme", ip_address=None)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def joined(org, role: Role) -> Membership:
    return Membership.objects.create(organization=org, user=UserFactory(), role=role)


def page(org) -> str:
    return reverse("console:billing", args=[org.id])


def checkout(org) -> str:
    return reverse("console:billing_checkout", args=[org.id])


def portal(org) -> str:
    return reverse("console:billing_portal", args=[org.id])


def test_without_billing_configured_the_page_says_nothing_is_limited(org, owner):
    response = signed_in(owner).get(page(org))

    assert response.status_code == 200
    assert b"Billing is not set up on this server" in response.content
    assert checkout(org).encode() not in response.content


def test_an_admin_sees_the_seats_and_a_way_to_subscribe(stripe_fake, org):
    admin = joined(org, Role.ADMIN)
    joined(org, Role.MEMBER)

    response = signed_in(admin.user).get(page(org))

    assert response.status_code == 200
    assert response.context["seats"] == 3
    assert checkout(org).encode() in response.content
    assert b"Subscribing bills 3 seats now" in response.content
    assert portal(org).encode() not in response.content


def test_start_subscription_goes_to_checkout_for_one_seat_per_member(stripe_fake, org, owner):
    joined(org, Role.MEMBER)

    response = signed_in(owner).post(checkout(org))

    assert response.status_code == 302
    session_id = response["Location"].rsplit("/", 1)[1]
    assert stripe_fake.checkout_quantities[session_id] == 2
    assert OrgSubscription.objects.get(organization=org).seats_wanted == 2


def test_once_subscribed_the_page_shows_the_subscription_and_the_portal(stripe_fake, org, owner):
    client = signed_in(owner)
    session_id = client.post(checkout(org))["Location"].rsplit("/", 1)[1]
    deliver_all(stripe_fake, stripe_fake.complete_checkout(session_id))

    response = client.get(page(org))

    assert response.context["subscription"].status == "active"
    assert b"Every member has Pro" in response.content
    assert portal(org).encode() in response.content
    assert checkout(org).encode() not in response.content
    to_portal = client.post(portal(org))
    assert to_portal.status_code == 302
    assert "/portal/" in to_portal["Location"]


def test_subscribing_again_while_subscribed_is_refused_with_a_reason(stripe_fake, org, owner):
    client = signed_in(owner)
    session_id = client.post(checkout(org))["Location"].rsplit("/", 1)[1]
    deliver_all(stripe_fake, stripe_fake.complete_checkout(session_id))

    response = client.post(checkout(org), follow=True)

    assert response.redirect_chain == [(page(org), 302)]
    assert b"The organization is subscribed already." in response.content


def test_stripe_being_down_sends_the_admin_back_with_a_reason(stripe_fake, org, owner):
    stripe_fake.break_down(10)

    response = signed_in(owner).post(checkout(org), follow=True)

    assert response.redirect_chain == [(page(org), 302)]
    assert b"Stripe cannot be reached just now" in response.content


@pytest.mark.parametrize("who", ["member", "outsider"])
def test_anyone_but_owners_and_admins_gets_404_and_nothing_reaches_stripe(
    stripe_fake, org, outsider, who
):
    visitor = joined(org, Role.MEMBER).user if who == "member" else outsider
    client = signed_in(visitor)

    assert client.get(page(org)).status_code == 404
    assert client.post(checkout(org)).status_code == 404
    assert client.post(portal(org)).status_code == 404
    assert stripe_fake.requests == []


def test_the_tab_is_shown_to_admins_only(org, owner):
    member = joined(org, Role.MEMBER)
    detail = reverse("console:organization", args=[org.id])

    assert page(org).encode() in signed_in(owner).get(detail).content
    assert page(org).encode() not in signed_in(member.user).get(detail).content


def test_back_from_checkout_the_subscription_is_read_at_once(stripe_fake, org, owner):
    client = signed_in(owner)
    session_id = client.post(checkout(org))["Location"].rsplit("/", 1)[1]
    stripe_fake.complete_checkout(session_id)  # the webhook has not arrived yet

    response = client.get(page(org), {"session_id": session_id}, follow=True)

    assert response.redirect_chain == [(page(org), 302)]
    assert b"Subscribed: every member has Pro now." in response.content
    assert OrgSubscription.objects.get(organization=org).status == "active"


def test_a_session_of_another_customer_is_not_taken(stripe_fake, org, owner, outsider):
    other = organization_create(user=outsider, name="Other", ip_address=None)
    theirs = signed_in(outsider).post(checkout(other))["Location"].rsplit("/", 1)[1]
    stripe_fake.complete_checkout(theirs)
    client = signed_in(owner)
    client.post(checkout(org))

    response = client.get(page(org), {"session_id": theirs}, follow=True)

    assert b"Stripe is confirming the payment" in response.content
    assert OrgSubscription.objects.get(organization=org).status == ""
