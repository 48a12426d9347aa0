"""Writing a sync rule in a real browser: choose calendars, preview the next days, save."""

import re

import pytest
from playwright.sync_api import expect

from calendars.models import Connection
from calendars.services import connection_connect_caldav, connection_connect_ics
from syncrules.models import SyncRule
from tests.e2e.conftest import log_in
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.syncrules.rule_page_helpers import days_from_now, ics_event, ics_feed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/rules-preview.png"  # noqa: S108 - a fixed path the lead looks at


@pytest.fixture
def user_with_calendars(feed, radicale_server):
    """An iCal link with events in the next days, and a writable calendar on Radicale."""
    user = UserFactory(email="rules@example.com")
    feed.serve(
        ics_feed(
            ics_event("review", days_from_now(2, 10), title="Design review", location="Room 7"),
            ics_event("gym", days_from_now(3, 6), title="Gym", extra=("TRANSP:TRANSPARENT",)),
            ics_event("standup", days_from_now(4, 8), minutes=15, title="Client stand-up"),
            ics_event("lunch", days_from_now(5, 11), title="Team lunch"),
            name="Client feed",
        )
    )
    connection_connect_ics(user=user, url=feed.url, label="", ip_address=None)
    account = radicale_server.new_account()
    radicale_server.create_calendar(account, "Work")
    connection_connect_caldav(
        user=user,
        kind=Connection.Kind.CALDAV,
        server_url=account.server_url,
        username=account.username,
        password=account.password,
        ip_address=None,
    )
    return user


@pytest.fixture
def signed_in_page(page, user_with_calendars):
    log_in(page, user_with_calendars.email, DEFAULT_PASSWORD)
    expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible()
    return page


def test_write_a_rule_preview_its_blocks_and_save_it(signed_in_page, user_with_calendars, enqueued):
    page = signed_in_page
    page.goto("/rules/")
    expect(page.get_by_role("heading", name="No sync rules yet")).to_be_visible()
    page.get_by_role("link", name="New rule").first.click()

    page.get_by_label("Name").fill("Client into work")
    page.get_by_role("group", name="Copy events from").get_by_label("Client feed").check()
    targets = page.get_by_role("group", name="Block time in")
    expect(targets.get_by_label("Client feed")).to_be_disabled()  # an iCal link is read-only
    targets.get_by_label("Work").check()
    page.get_by_label("Title only").check()
    page.get_by_label("Show the location").check()
    page.get_by_label("Never copy events whose title contains").fill("lunch")
    page.get_by_role("button", name="Preview").click()

    preview = page.locator("#rule-preview")
    expect(preview.locator(".preview-block__title")).to_have_text(
        ["Design review", "Client stand-up"]
    )
    expect(preview).to_contain_text("Location: Room 7")
    expect(preview).to_contain_text("Skipped: Marked free")
    expect(preview).to_contain_text("Skipped: Excluded by keyword")
    expect(preview.get_by_text("In Work")).to_have_count(2)
    # The script swapped the preview in: still on the form, with what was typed.
    expect(page).to_have_url(re.compile(r"/rules/new/$"))
    expect(page.get_by_label("Name")).to_have_value("Client into work")
    preview.scroll_into_view_if_needed()
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.get_by_role("button", name="Save rule").click()

    expect(page).to_have_url(re.compile(r"/rules/$"))
    card = page.locator(".rule", has_text="Client into work")
    expect(card).to_contain_text("Client feed")
    expect(card).to_contain_text("Work")
    expect(card).to_contain_text("Title only")
    expect(card).to_contain_text("Sync queued")  # the broker is faked here: it stays queued
    rule = SyncRule.objects.get(user=user_with_calendars)
    assert rule.exclude_keywords == ["lunch"]
    assert enqueued.syncs == [str(rule.sources.get().id)]


def test_without_script_the_preview_comes_back_under_the_form(
    browser, live_server, user_with_calendars, enqueued
):
    context = browser.new_context(
        base_url=live_server.url, java_script_enabled=False, timezone_id="Europe/Berlin"
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        log_in(page, user_with_calendars.email, DEFAULT_PASSWORD)
        page.goto("/rules/new/")
        page.get_by_role("group", name="Copy events from").get_by_label("Client feed").check()
        page.get_by_role("group", name="Block time in").get_by_label("Work").check()
        page.get_by_role("button", name="Preview").click()

        expect(page).to_have_url(re.compile(r"/rules/preview/$"))
        expect(page.locator("#rule-preview .preview-block__title")).to_have_text(["Busy"] * 3)
        expect(page.get_by_role("group", name="Block time in").get_by_label("Work")).to_be_checked()
        assert not SyncRule.objects.exists()
    finally:
        context.close()


@pytest.mark.worker
def test_a_saved_rule_shows_its_first_sync_and_its_result_without_a_reload(
    signed_in_page, user_with_calendars, celery_worker_process
):
    page = signed_in_page
    page.goto("/rules/new/")
    page.get_by_label("Name").fill("Client into work")
    page.get_by_role("group", name="Copy events from").get_by_label("Client feed").check()
    page.get_by_role("group", name="Block time in").get_by_label("Work").check()
    page.get_by_role("button", name="Save rule").click()
    expect(page).to_have_url(re.compile(r"/rules/$"))
    card = page.locator(".rule", has_text="Client into work")
    loaded_at = page.evaluate("performance.timeOrigin")

    # The real worker runs the first sync: the card follows it, with no reload.
    expect(card).to_contain_text("3 created", timeout=20_000)
    expect(card.locator("dd").nth(1)).to_have_text("3")
    assert page.evaluate("performance.timeOrigin") == loaded_at

    page.get_by_role("link", name="History").click()
    expect(page.locator("#rule-history")).to_contain_text("Full read")
    rule = SyncRule.objects.get(user=user_with_calendars)
    work = rule.targets.get()
    page.goto(f"/rules/calendars/{work.id}/")
    expect(page.locator("#calendar-status")).to_contain_text("Blocks written into it3")
