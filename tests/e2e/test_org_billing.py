"""An organization's billing in a real browser, at a phone's width and a laptop's: an admin starts
the subscription, pays on the (fake) Stripe Checkout, whose signed webhooks reach the live server,
comes back to the billing page with every member on Pro, and ends it in the portal."""

import pytest
from playwright.sync_api import expect

from accounts.billing.plans import Plan, plan_for
from orgs.models import Membership, OrgSubscription
from orgs.services import organization_create
from tests.e2e.conftest import log_in
from tests.e2e.test_page_walk import problems_on
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width,height", [(390, 844), (1280, 800)], ids=["390", "1280"])
def test_an_admin_subscribes_the_organization_and_ends_it_in_the_portal(
    page, stripe_fake, enqueued, width, height
):
    admin = UserFactory(email="admin@example.com")
    organization = organization_create(
        user=admin, name="Acme Consulting International Partners", ip_address=None
    )
    member = UserFactory(email="member@example.com")
    Membership.objects.create(organization=organization, user=member)
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, admin.email, DEFAULT_PASSWORD)
    expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible()

    page.goto(f"/orgs/{organization.id}/")
    page.get_by_role("link", name="Billing").click()
    expect(page.get_by_text("Subscribing bills 2 seats now")).to_be_visible()
    assert problems_on(page, "billing, not subscribed") == []

    page.get_by_role("button", name="Start subscription").click()
    assert page.url.startswith(f"{stripe_fake.base_url}/pay/cs_test_")
    page.get_by_role("button", name="Pay").click()

    expect(page.get_by_text("Subscribed: every member has Pro now.")).to_be_visible()
    expect(page.get_by_text("Every member has Pro: no limits")).to_be_visible()
    assert problems_on(page, "billing, subscribed") == []
    assert plan_for(member) == Plan.PRO
    row = OrgSubscription.objects.get(organization=organization)
    assert (row.status, row.seats_billed) == ("active", 2)

    page.get_by_role("button", name="Manage billing").click()
    page.get_by_role("button", name="Cancel plan").click()

    expect(page.get_by_role("button", name="Start subscription")).to_be_visible()
    assert plan_for(member) == Plan.FREE
    assert problems_on(page, "billing, ended") == []
