"""A new user's first minutes, in a real browser: sign up, verify, log in, log out, and the mistakes."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User
from tests.e2e.conftest import log_in
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long and unusual passphrase"


def fill_signup(page, email, *, accept=True):
    page.goto("/accounts/signup/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    if accept:
        page.get_by_label("I accept the Terms of Service and the Privacy Policy").check()
    page.get_by_role("button", name="Create account").click()


def test_sign_up_verify_log_in_and_log_out(page, mailoutbox):
    fill_signup(page, "Ada@Example.com")

    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    expect(page.get_by_text("ada@example.com")).to_be_visible()
    user = User.objects.get()
    assert user.time_zone == "Europe/Berlin"  # taken from the browser
    assert len(mailoutbox) == 1

    link = re.search(r"(http://\S+/accounts/verify/\S+/)", mailoutbox[0].body).group(1)
    page.goto(link)  # verifies the address and signs in
    expect(
        page.get_by_text("Your e-mail address is verified. Welcome to Multical!")
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    page.goto(link)  # once only
    expect(page.get_by_role("heading", name="This link was already used")).to_be_visible()

    log_in(page, "ada@example.com", PASSWORD)
    expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible()
    expect(
        page.get_by_role("navigation", name="Sections").get_by_role("link", name="Calendars")
    ).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="All your calendars, in step.")).to_be_visible()
    page.goto("/dashboard/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/dashboard/$"))


def test_logging_in_before_verifying_asks_for_verification(page):
    fill_signup(page, "early@example.com")
    log_in(page, "early@example.com", PASSWORD)
    expect(page.get_by_text("Please verify your e-mail address first")).to_be_visible()
    expect(page.get_by_role("link", name="Send me a new verification link")).to_be_visible()


def test_a_wrong_password_shows_an_error(page):
    UserFactory(email="grace@example.com")
    log_in(page, "grace@example.com", "not the password")

    expect(page.get_by_role("alert")).to_contain_text(
        "That e-mail address and password do not match an account."
    )
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))


def test_a_duplicate_email_is_refused_on_the_form(page):
    UserFactory(email="taken@example.com")
    fill_signup(page, "Taken@Example.com")

    expect(page.get_by_text("An account with this e-mail address already exists")).to_be_visible()
    assert User.objects.count() == 1


def test_missing_consent_is_refused_and_keeps_what_was_typed(page):
    fill_signup(page, "linus@example.com", accept=False)

    expect(
        page.get_by_text("You need to accept the Terms of Service and the Privacy Policy.")
    ).to_be_visible()
    expect(page.get_by_label("E-mail address")).to_have_value("linus@example.com")
    assert not User.objects.exists()


def test_the_logged_in_user_can_move_around_the_dashboard(page):
    UserFactory(email="nav@example.com")
    log_in(page, "nav@example.com", DEFAULT_PASSWORD)

    nav = page.get_by_role("navigation", name="Sections")
    for name, heading in [
        ("Sync rules", "Sync rules"),
        ("Booking pages", "Booking pages"),
        ("Portfolio", "Portfolio"),
        ("Settings", "Settings"),
    ]:
        nav.get_by_role("link", name=name).click()
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        expect(nav.get_by_role("link", name=name)).to_have_attribute("aria-current", "page")
