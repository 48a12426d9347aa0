"""The Calendars page in a real browser: connecting a CalDAV account against a real Radicale
server, each calendar's state kept current while it syncs, and the page at a phone's width and a
laptop's with nothing off the screen."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from calendars.models import Calendar, Connection
from multical.lib import locks
from syncrules import state
from syncrules.models import SyncRule
from tests.e2e.conftest import log_in
from tests.factories import DEFAULT_PASSWORD, CalendarFactory, ConnectionFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def user():
    return UserFactory(email="cal@example.com")


@pytest.fixture
def signed_in_page(page, user):
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


def calendar_row(page: Page, name: str):
    """The calendar's line on the list, found by its name (its link)."""
    return page.locator(".calendar-list li").filter(has=page.get_by_role("link", name=name))


def test_connect_a_caldav_account_and_see_its_calendars(signed_in_page, radicale_server):
    account = radicale_server.new_account()
    radicale_server.create_calendar(account, "Client work", color="#2b8a3e")
    radicale_server.create_calendar(account, "Family")

    fill_caldav_form(signed_in_page, account, account.password)

    page = signed_in_page
    expect(page.get_by_text("2 calendars")).to_be_visible()
    expect(page.get_by_text("Client work")).to_be_visible()
    expect(page.get_by_text("Family")).to_be_visible()
    expect(page.locator(".badge--ok")).to_have_text("Connected")
    swatch = calendar_row(page, "Client work").locator(".swatch")
    expect(swatch).to_have_css("background-color", "rgb(43, 138, 62)")
    expect(calendar_row(page, "Family")).to_contain_text("Not used by any rule")
    # The next step, once: two calendars make a rule possible.
    steps = page.get_by_role("region", name="Next: put your calendars to work")
    expect(steps.get_by_role("link", name="Create a rule")).to_be_visible()
    expect(steps.get_by_role("link", name="Create a booking page")).to_be_visible()
    page.reload()
    expect(page.get_by_text("Client work")).to_be_visible()
    expect(steps).to_have_count(0)


def test_a_wrong_password_shows_the_error_on_the_form(signed_in_page, radicale_server):
    account = radicale_server.new_account()

    fill_caldav_form(signed_in_page, account, "wrong password")

    expect(signed_in_page.get_by_role("alert")).to_contain_text(
        "The server refused the user name or password."
    )
    expect(signed_in_page.get_by_label("Server address")).to_have_value(account.server_url)


def test_a_calendar_being_synced_says_so_until_the_sync_ends_without_a_reload(signed_in_page, user):
    account = ConnectionFactory(user=user, label="ada @ dav.example.com")
    work = CalendarFactory(connection=account, name="Work")
    home = CalendarFactory(connection=account, name="Home")
    rule = SyncRule.objects.create(user=user, name="Work blocks home")
    rule.sources.set([work])
    rule.targets.set([home])
    page = signed_in_page

    with locks.try_lock(state.sync_lock_name(str(work.id))):
        page.goto("/calendars/")
        expect(calendar_row(page, "Work")).to_contain_text("Syncing…")
        Calendar.objects.filter(id=work.id).update(
            last_synced_at=datetime(2030, 1, 7, 13, 30, tzinfo=UTC)
        )

    # The sync is over: the line says so, with the time of the sync in Berlin, on its own.
    expect(calendar_row(page, "Work")).to_contain_text("Working Last sync Mon 7 Jan, 14:30")
    expect(calendar_row(page, "Work")).not_to_contain_text("Syncing")


@pytest.fixture
def busy_user(user, settings):
    """Every kind of line the page shows, with long names, and a provider the server lacks."""
    settings.GOOGLE_CLIENT_ID = ""
    account = ConnectionFactory(
        user=user,
        label="ada.lovelace-and-babbage@analytical-engines-consulting.example.com",
        server_url="https://caldav.analytical-engines-consulting.example.com/dav/calendars/",
    )
    clients = CalendarFactory(
        connection=account, name="Clients of the analytical engine consultancy, all of them"
    )
    home = CalendarFactory(connection=account, name="Home")
    CalendarFactory(connection=account, name="Holidays", read_only=True)
    rule = SyncRule.objects.create(user=user, name="Clients block home")
    rule.sources.set([clients])
    rule.targets.set([home])
    Calendar.objects.filter(id=clients.id).update(
        last_synced_at=datetime(2030, 1, 7, 13, 30, tzinfo=UTC),
        last_error="The server answered with an error (503): it may be down for maintenance.",
    )
    broken = ConnectionFactory(user=user, kind=Connection.Kind.GOOGLE, label="ada@gmail.com")
    Connection.objects.filter(id=broken.id).update(
        status=Connection.Status.NEEDS_RECONNECT,
        last_error="Google refused Multical's access: sign in again to reconnect.",
    )
    CalendarFactory(connection=broken, name="ada@gmail.com")
    ConnectionFactory(user=user, kind=Connection.Kind.ZOOM, label="ada@zoom.example.com")
    return user


@pytest.mark.parametrize("width", [390, 1280])
def test_the_page_fits_a_phone_and_a_laptop_with_nothing_off_screen(
    page, busy_user, width, tmp_path
):
    page.set_viewport_size({"width": width, "height": 844 if width == 390 else 800})
    log_in(page, busy_user.email, DEFAULT_PASSWORD)

    page.goto("/calendars/")

    expect(page.get_by_role("heading", name="Video meetings")).to_be_visible()
    expect(calendar_row(page, "Clients of the analytical")).to_contain_text(
        "Error Last sync Mon 7 Jan, 14:30"
    )
    expect(calendar_row(page, "Holidays")).to_contain_text("Not used by any rule")
    expect(page.locator(".calendar-list li", has_text="ada@gmail.com")).to_contain_text(
        "Needs reconnect"
    )
    expect(page.get_by_text("Google is not set up on this server")).to_be_visible()
    page.screenshot(path=tmp_path / f"calendars-{width}.png", full_page=True)
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px at {width} px"
    controls = page.locator("main").locator("a, button, h2, h3, .badge").all()
    assert len(controls) > 20
    for control in controls:
        box = control.bounding_box()
        assert box is not None and box["width"] > 0, control.inner_text()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, control.inner_text()
