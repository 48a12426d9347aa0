"""The Calendars page's notes of organizations' policies in a real browser, at a phone's width and
a laptop's: long organization names and refusals fit, nothing scrolls sideways, axe finds nothing."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from calendars.models import Connection
from orgs.models import Domain, Membership
from orgs.policies import PolicySettings, policy_update
from orgs.services import organization_create
from tests.e2e.conftest import log_in
from tests.e2e.test_page_walk import problems_on
from tests.factories import DEFAULT_PASSWORD, CalendarFactory, ConnectionFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width,height", [(390, 844), (1280, 800)], ids=["390", "1280"])
def test_the_policy_notes_fit_a_phone_and_a_laptop(page, enqueued, width, height):
    owner = UserFactory(email="owner@analytical-engine-consulting.example")
    organization = organization_create(
        user=owner, name="Analytical Engine Consulting International Partners", ip_address=None
    )
    Domain.objects.create(
        organization=organization,
        name="analytical-engine-consulting.example",
        token="t",
        verified_at=timezone.now(),
    )
    policy_update(
        membership=Membership.objects.select_related("organization", "user").get(user=owner),
        settings=PolicySettings(
            max_visibility="busy",
            links_may_leave=False,
            allowed_kinds=("google", "microsoft", "caldav"),
            personal_accounts_allowed=True,
            public_pages_allowed=True,
        ),
        ip_address=None,
    )
    work = ConnectionFactory(
        user=owner,
        username="ada.lovelace.countess.of.lovelace@analytical-engine-consulting.example",
        label="ada.lovelace.countess.of.lovelace@analytical-engine-consulting.example",
    )
    CalendarFactory(connection=work, name="Client work")
    feed = ConnectionFactory(
        user=owner, kind=Connection.Kind.ICS, server_url="", username="link:x", label="Holidays"
    )
    CalendarFactory(connection=feed, name="Holidays", read_only=True)
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, owner.email, DEFAULT_PASSWORD)
    expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible()

    page.goto("/calendars/")

    expect(page.get_by_text("blocks copied out of this account show Busy only")).to_be_visible()
    expect(page.get_by_text("does not allow iCal link accounts to be connected")).to_be_visible()
    expect(
        page.get_by_role(
            "link", name="The policies of Analytical Engine Consulting International Partners"
        )
    ).to_be_visible()
    assert problems_on(page, f"calendars with policy notes at {width}") == []
