"""The console's team page editor in a real browser, at a phone's width and a laptop's: a second
period added to a day and a day switched off, a date with hours of its own and a date off added in place, two questions added and reordered, the busy
options and the websites that may embed the page set, then saved; then a saved date removed with
the personal editor's undo, and saved again."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from booking.models import BookingPage, Profile, TeamPage
from orgs.models import Membership, Organization, Role
from tests.e2e.conftest import log_in
from tests.e2e.test_page_walk import problems_on
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE: ViewportSize = {"width": 390, "height": 844}
LAPTOP: ViewportSize = {"width": 1280, "height": 800}
VIEWPORTS = [pytest.param(PHONE, id="390x844"), pytest.param(LAPTOP, id="1280x800")]
SHORT_DAY, HOLIDAY = date(2030, 1, 9), date(2030, 1, 7)


@pytest.fixture
def admin(db) -> Membership:
    user = UserFactory(email="ada.admin@example.com")
    Profile.objects.create(user=user, handle="ada", display_name="Ada Lovelace")
    return Membership.objects.create(
        organization=Organization.objects.create(name="Acme"), user=user, role=Role.OWNER
    )


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_an_admin_sets_dates_questions_busy_options_and_embedding_in_place(
    page: Page, admin, viewport
):
    page.set_viewport_size(viewport)
    log_in(page, admin.user.email, DEFAULT_PASSWORD)
    expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible()
    page.goto(f"/orgs/{admin.organization_id}/teams/new/")

    page.get_by_label("Title").fill("Sales demo")
    page.get_by_label("Address", exact=True).fill("demo")
    page.get_by_role("checkbox", name="Ada Lovelace").check()

    monday = page.get_by_role("group", name="Monday", exact=True)
    monday.get_by_label("Ends at").fill("12:00")
    monday.get_by_role("button", name="Add a period").click()
    monday.get_by_label("Starts at").nth(1).fill("13:00")
    monday.get_by_label("Ends at").nth(1).fill("17:00")
    page.get_by_role("group", name="Tuesday", exact=True).get_by_label("Starts at").fill("10:00")
    page.get_by_role("checkbox", name="Friday", exact=True).uncheck()

    add_date = page.get_by_role("button", name="Add a date")
    dates = page.locator('[data-formset="overrides"] [data-formset-row]')
    expect(dates).to_have_count(0)  # the blank rows for browsers without scripts are gone
    add_date.click()
    dates.first.get_by_label("Date").fill(SHORT_DAY.isoformat())
    dates.first.get_by_label("Available at these hours").check()
    dates.first.get_by_label("Starts at").fill("10:00")
    dates.first.get_by_label("Ends at").fill("12:00")
    add_date.click()
    dates.nth(1).get_by_label("Date").fill(HOLIDAY.isoformat())
    expect(dates.nth(1).get_by_label("Unavailable all day")).to_be_checked()

    add_question = page.get_by_role("button", name="Add a question")
    add_question.click()
    page.keyboard.type("Company")
    add_question.click()
    questions = page.locator('[data-formset="questions"] [data-formset-row]')
    questions.nth(1).get_by_label("Question").fill("What should we prepare?")
    questions.nth(1).get_by_label("Answer").select_option("long")
    questions.nth(1).get_by_role("button", name="Move up").click()

    page.get_by_label("Tentative events make members busy").uncheck()
    page.get_by_label("Events marked free make members busy too").check()
    page.get_by_label("All-day events").select_option("ignore")
    page.get_by_label("Only the websites listed below").check()
    page.get_by_label("Websites that may embed it").fill("https://example.com")
    assert problems_on(page, "team page editor, filled in") == []

    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("The team page is saved.")).to_be_visible()

    saved = TeamPage.objects.get()
    assert saved.weekly_hours == {
        "1": [[540, 720], [780, 1020]],
        "2": [[600, 1020]],
        "3": [[540, 1020]],
        "4": [[540, 1020]],
    }
    assert [(o.date, o.hours) for o in saved.date_overrides.all()] == [
        (HOLIDAY, []),
        (SHORT_DAY, [[600, 720]]),
    ]
    assert [(q.label, q.kind) for q in saved.questions.all()] == [
        ("What should we prepare?", "long"),
        ("Company", "short"),
    ]
    assert (saved.tentative_is_busy, saved.free_is_busy, saved.all_day_events) == (
        False,
        True,
        BookingPage.AllDayEvents.IGNORE,
    )
    assert (saved.embed_on, saved.embed_origins) == ("listed", ["https://example.com"])

    # A saved date is removed behind an undo, and stays removed once saved.
    page.goto(f"/orgs/{admin.organization_id}/teams/{saved.id}/")
    expect(dates).to_have_count(2)
    dates.first.get_by_role("button", name="Remove this date").click()
    expect(dates.first.get_by_text("This date is removed when you save.")).to_be_visible()
    dates.first.get_by_role("button", name="Undo").click()
    expect(dates.first.get_by_label("Date")).to_have_value(HOLIDAY.isoformat())
    dates.first.get_by_role("button", name="Remove this date").click()
    assert problems_on(page, "team page editor, a date removed") == []
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("The team page is saved.")).to_be_visible()
    assert [o.date for o in saved.date_overrides.all()] == [SHORT_DAY]
    assert [q.label for q in saved.questions.all()] == ["What should we prepare?", "Company"]
