"""Two-factor sign-in in a real browser at phone width: turned on by reading the secret off the
page, then a sign-in with the password and a code from the authenticator."""

import re
import time

import pyotp
import pytest
from playwright.sync_api import expect

from accounts.models import AuditLog
from tests.e2e.conftest import log_in
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_turn_on_two_factor_then_sign_in_with_a_code_at_phone_width(page):
    UserFactory(email="grace@example.com")
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, "grace@example.com", DEFAULT_PASSWORD)
    expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible()

    page.goto("/accounts/settings/")
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("heading", name="Turn on two-factor sign-in")).to_be_visible()
    expect(page.get_by_role("img", name="QR code of your two-factor secret")).to_be_visible()
    assert no_sideways_scroll(page)
    totp = pyotp.TOTP(page.locator("#two-factor-secret").inner_text().replace(" ", ""))
    # The previous step's code, so that the current one is still unused for the sign-in below.
    page.get_by_label("Code from your authenticator app").fill(totp.at(time.time() - 30))
    page.get_by_role("button", name="Turn on").click()

    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.get_by_role("list", name="Recovery codes").get_by_role("listitem")).to_have_count(
        10
    )
    assert no_sideways_scroll(page)
    page.get_by_role("link", name="I saved them").click()
    expect(page.get_by_text("Off.")).to_have_count(0)
    expect(page.get_by_text("10 unused recovery codes left")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    log_in(page, "grace@example.com", DEFAULT_PASSWORD)
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    assert no_sideways_scroll(page)
    page.goto("/dashboard/")  # no way round the second step
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/dashboard/$"))

    log_in(page, "grace@example.com", DEFAULT_PASSWORD)
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(totp.now())
    page.get_by_role("button", name="Verify code").click()

    expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible()
    login = AuditLog.objects.filter(action=AuditLog.Action.LOGIN).order_by("-created_at").first()
    assert login.metadata == {"method": "password", "second_factor": "totp"}
