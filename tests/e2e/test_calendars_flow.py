"""Connecting a CalDAV account in a real browser, against a real Radicale server."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def signed_in_page(page):
    user = UserFactory(email="cal@example.com")
    log_in(page, user.email, DEFAULT_PASSWORD)
    expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible()
    return page


def fill_caldav_form(page, account, password):
    page.goto("/calendars/")
    page.get_by_role("link", name="Connect a CalDAV server").click()
    page.get_by_label("Server address").fill(account.server_url)
    page.get_by_label("User name").fill(account.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Connect").click()


def test_connect_a_caldav_account_and_see_its_calendars(signed_in_page, radicale_server):
    account = radicale_server.new_account()
    radicale_server.create_calendar(account, "Client work", color="#2b8a3e")
    radicale_server.create_calendar(account, "Family")

    fill_caldav_form(signed_in_page, account, account.password)

    page = signed_in_page
    expect(page.get_by_text("2 calendars")).to_be_visible()
    expect(page.get_by_text("Client work")).to_be_visible()
    expect(page.get_by_text("Family")).to_be_visible()
    expect(page.locator(".badge--ok")).to_have_text("OK")
    swatch = page.locator(".calendar-list li", has_text="Client work").locator(".swatch")
    expect(swatch).to_have_css("background-color", "rgb(43, 138, 62)")


def test_a_wrong_password_shows_the_error_on_the_form(signed_in_page, radicale_server):
    account = radicale_server.new_account()

    fill_caldav_form(signed_in_page, account, "wrong password")

    expect(signed_in_page.get_by_role("alert")).to_contain_text(
        "The server refused the user name or password."
    )
    expect(signed_in_page.get_by_label("Server address")).to_have_value(account.server_url)
