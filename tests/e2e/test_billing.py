"""Upgrading in a real browser: a Free user at the rule limit sees the prompt, pays on the (fake)
Stripe Checkout page, whose signed webhook reaches the live server, and comes back as Pro to the
rule they wanted to write."""

import pytest
from playwright.sync_api import expect

from accounts.billing.plans import Plan, plan_for
from syncrules.models import SyncRule
from tests.e2e.conftest import log_in
from tests.factories import DEFAULT_PASSWORD, CalendarFactory, ConnectionFactory, UserFactory
from tests.syncrules.rule_page_helpers import SyncRuleFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/billing-prompt.png"  # noqa: S108 - a fixed path the lead looks at


@pytest.fixture
def free_user_at_the_rule_limit():
    user = UserFactory(email="free@example.com")
    account = ConnectionFactory(user=user, label="free @ dav.example.com")
    work = CalendarFactory(connection=account, name="Work")
    personal = CalendarFactory(connection=account, name="Personal")
    SyncRuleFactory(user=user, name="Work into personal", sources=[work], targets=[personal])
    return user


def test_a_free_user_at_the_limit_upgrades_through_checkout_and_comes_back_as_pro(
    page, stripe_fake, free_user_at_the_rule_limit, enqueued
):
    user = free_user_at_the_rule_limit
    log_in(page, user.email, DEFAULT_PASSWORD)
    expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible()

    page.goto("/rules/")
    page.get_by_role("link", name="New rule").first.click()
    prompt = page.get_by_role("alert").filter(has_text="Upgrade to Pro for more")
    expect(prompt).to_contain_text("The Free plan runs 1 sync rule at a time, and you have 1 on.")
    page.screenshot(path=SCREENSHOT, full_page=True)

    prompt.get_by_role("button", name="Upgrade to Pro").click()

    expect(page.get_by_role("heading", name="Subscribe to Multical Pro")).to_be_visible()
    assert page.url.startswith(f"{stripe_fake.base_url}/pay/cs_test_")
    page.get_by_role("button", name="Pay").click()

    expect(page.get_by_text("Welcome to Pro: every limit is lifted.")).to_be_visible()
    expect(page.get_by_role("heading", name="New sync rule")).to_be_visible()
    expect(page.get_by_text("Upgrade to Pro for more")).to_have_count(0)
    assert [status for _, status in stripe_fake.deliveries] == [200, 200]
    assert plan_for(user) == Plan.PRO

    page.get_by_label("Name").fill("Personal into work")
    page.get_by_role("group", name="Copy events from").get_by_label("Personal").check()
    page.get_by_role("group", name="Block time in").get_by_label("Work").check()
    page.get_by_role("button", name="Save rule").click()

    expect(page.get_by_text("Rule “Personal into work” is saved.")).to_be_visible()
    assert SyncRule.objects.filter(user=user, enabled=True).count() == 2
