"""The booking page form in a real browser, at a phone's width and a laptop's: a day switched on,
a second period, a date off picked with the date picker, two questions added and one taken away,
the preview following the form, then saved: the page in the database and at its public address.
Then editing: a saved question moved, removed (with an undo), a saved date removed and one with
hours of its own added, and the calendars to check disabled while all calendars count."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from booking.models import BookingPage, DateOverride, Profile, Question
from tests.e2e.conftest import log_in
from tests.e2e.test_page_walk import problems_on
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.syncrules.world import make_world

# Between the start and the end of a period in the form's messages.
DASH = "\N{EN DASH}"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BERLIN = ZoneInfo("Europe/Berlin")
PHONE: ViewportSize = {"width": 390, "height": 844}
LAPTOP: ViewportSize = {"width": 1280, "height": 800}
VIEWPORTS = [pytest.param(PHONE, id="390x844"), pytest.param(LAPTOP, id="1280x800")]
WEEKDAYS_9_TO_5 = {str(day): [[540, 1020]] for day in range(1, 6)}


@pytest.fixture
def host(db):
    user = UserFactory(email="ada.host@example.com", time_zone="Europe/Berlin")
    Profile.objects.create(user=user, handle="ada", display_name="Ada Lovelace")
    return user


def signed_in(page: Page, user, viewport: ViewportSize) -> None:
    page.set_viewport_size(viewport)
    log_in(page, user.email, DEFAULT_PASSWORD)
    expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible()


def open_preview(page: Page) -> None:
    """Beside the form on a laptop; behind its summary on a phone."""
    preview = page.locator("#draft-preview")
    if page.viewport_size == PHONE:
        expect(preview).to_be_hidden()
        page.locator("summary", has_text="Preview").click()
    expect(preview).to_be_visible()


def a_day_with_times(today: date) -> date:
    """A day of the coming week, not today, that Monday to Saturday hours give times to."""
    return next(
        day for day in (today + timedelta(days=n) for n in range(2, 7)) if day.isoweekday() <= 6
    )


def day_label(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_make_a_page_in_place_and_watch_the_preview(page, host, viewport):
    signed_in(page, host, viewport)
    page.goto("/booking/new/")
    open_preview(page)
    preview = page.locator("#draft-preview")
    expect(preview.get_by_role("heading", name="Untitled page")).to_be_visible()

    page.get_by_label("Title").fill("Consultation")
    expect(preview.get_by_role("heading", name="Consultation")).to_be_visible()

    # Saturday switched on with the keyboard: its usual hours appear, ready.
    saturday = page.get_by_role("group", name="Saturday")
    expect(saturday.get_by_label("Starts at")).to_be_hidden()
    page.get_by_role("checkbox", name="Saturday").focus()
    page.keyboard.press("Space")
    expect(page.get_by_role("checkbox", name="Saturday")).to_be_checked()
    expect(saturday.get_by_label("Starts at")).to_have_value("09:00")
    expect(saturday.get_by_label("Ends at")).to_have_value("17:00")

    # Monday: a morning and, added in place, an afternoon.
    monday = page.get_by_role("group", name="Monday")
    monday.get_by_label("Ends at").fill("12:00")
    monday.get_by_role("button", name="Add a period").click()
    expect(monday.get_by_label("Starts at").nth(1)).to_be_focused()
    monday.get_by_label("Starts at").nth(1).fill("13:00")
    monday.get_by_label("Ends at").nth(1).fill("17:00")

    # A day off, picked with the date picker: the preview stops offering that day.
    today = datetime.now(BERLIN).date()
    day_off = a_day_with_times(today)
    offered = preview.locator(".draft-day", has_text=day_label(day_off))
    expect(offered.locator(".slot").first).to_be_visible()
    page.get_by_role("button", name="Add a date").click()
    dates = page.locator('[data-formset="overrides"] [data-formset-row]')
    expect(dates).to_have_count(1)
    dates.first.get_by_label("Date").fill(day_off.isoformat())
    expect(dates.first.get_by_label("Unavailable all day")).to_be_checked()
    expect(offered).to_contain_text("No times")

    # Two questions, the first written with the keyboard; the second taken away again.
    add_question = page.get_by_role("button", name="Add a question")
    add_question.focus()
    page.keyboard.press("Enter")
    page.keyboard.type("What would you like to discuss?")
    add_question.click()
    questions = page.locator('[data-formset="questions"] [data-formset-row]')
    expect(questions).to_have_count(2)
    questions.nth(1).get_by_label("Question").fill("Your company")
    questions.nth(1).get_by_role("button", name="Remove").click()
    expect(questions).to_have_count(1)
    expect(add_question).to_be_focused()
    questions.first.get_by_label("Answer").select_option("long")
    questions.first.get_by_label("Required").check()

    page.get_by_role("button", name="Save page").click()

    expect(page).to_have_url(re.compile(r"/booking/[0-9a-f-]{36}/preview/$"))
    saved = BookingPage.objects.get(owner=host)
    assert saved.title == "Consultation"
    assert saved.weekly_hours == {
        "1": [[540, 720], [780, 1020]],
        "2": [[540, 1020]],
        "3": [[540, 1020]],
        "4": [[540, 1020]],
        "5": [[540, 1020]],
        "6": [[540, 1020]],
    }
    assert [(o.date, o.hours) for o in saved.date_overrides.all()] == [(day_off, [])]
    assert [(q.label, q.kind, q.required) for q in saved.questions.all()] == [
        ("What would you like to discuss?", "long", True)
    ]

    page.goto(f"/book/ada/{saved.public_slug}/")
    expect(page.get_by_role("heading", name="Consultation")).to_be_visible()
    expect(page.get_by_role("banner")).to_contain_text("Ada Lovelace")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_mistake_keeps_everything_typed_and_says_which_period(page, host, viewport):
    signed_in(page, host, viewport)
    page.goto("/booking/new/")
    page.get_by_label("Title").fill("Office hours")
    tuesday = page.get_by_role("group", name="Tuesday")
    tuesday.get_by_role("button", name="Add a period").click()
    tuesday.get_by_label("Starts at").nth(1).fill("16:00")
    tuesday.get_by_label("Ends at").nth(1).fill("18:00")
    page.get_by_role("button", name="Add a question").click()
    page.get_by_role("textbox", name="Question").fill("Anything we should know?")

    page.get_by_role("button", name="Save page").click()

    expect(page.get_by_text("Some settings need a change")).to_be_visible()
    tuesday = page.get_by_role("group", name="Tuesday")
    expect(tuesday.get_by_text(f"16:00{DASH}18:00 overlaps 09:00{DASH}17:00.")).to_be_visible()
    expect(tuesday.get_by_label("Starts at").nth(1)).to_have_value("16:00")
    expect(page.get_by_label("Title")).to_have_value("Office hours")
    expect(page.get_by_role("textbox", name="Question")).to_have_value("Anything we should know?")
    assert not BookingPage.objects.exists()
    # Errors, the preview and the advanced settings, opened: they fit, and pass axe.
    page.get_by_text("Show the advanced settings").click()
    open_preview(page)
    expect(page.locator("#draft-preview")).to_contain_text("The times show once these are fixed")
    assert problems_on(page, "page form with errors") == []


def test_editing_removes_and_adds_questions_and_dates_in_place(page, host, radicale_server):
    world = make_world(radicale_server, host, ["Work", "Personal"])
    booking_page = BookingPage.objects.create(
        owner=host,
        title="Intro call",
        slug="intro",
        durations=[30],
        time_zone="Europe/Berlin",
        weekly_hours=WEEKDAYS_9_TO_5,
        write_calendar=world.calendars["Work"],
    )
    Question.objects.create(page=booking_page, label="Company", position=0)
    Question.objects.create(page=booking_page, label="Phone", position=1)
    DateOverride.objects.create(page=booking_page, date=date(2030, 12, 24), hours=[])
    signed_in(page, host, LAPTOP)
    page.goto(f"/booking/{booking_page.id}/edit/")

    questions = page.locator('[data-formset="questions"] [data-formset-row]')
    company = questions.first
    company.get_by_role("button", name="Remove").click()
    expect(company.get_by_label("Question")).to_be_hidden()
    expect(company).to_contain_text("This question is removed when you save.")
    company.get_by_role("button", name="Undo").click()
    expect(company.get_by_label("Question")).to_have_value("Company")
    # Phone moves up, above Company; then Company goes.
    questions.nth(1).get_by_role("button", name="Move up").click()
    expect(questions.first.get_by_label("Question")).to_have_value("Phone")
    questions.nth(1).get_by_role("button", name="Remove").click()
    dates = page.locator('[data-formset="overrides"] [data-formset-row]')
    dates.first.get_by_role("button", name="Remove this date").click()
    # A new date with hours of its own: two periods, the second added in place.
    page.get_by_role("button", name="Add a date").click()
    christmas_eve = dates.nth(1)
    christmas_eve.get_by_label("Date").fill("2031-12-24")
    expect(christmas_eve.get_by_label("Starts at")).to_be_hidden()
    christmas_eve.get_by_label("Available at these hours").check()
    christmas_eve.get_by_label("Ends at").fill("12:00")
    christmas_eve.get_by_role("button", name="Add a period").click()
    christmas_eve.get_by_label("Starts at").nth(1).fill("14:00")
    christmas_eve.get_by_label("Ends at").nth(1).fill("15:00")

    # The calendars to check: disabled, and said why, while all calendars count.
    page.get_by_text("Show the advanced settings").click()
    work = page.get_by_role("checkbox", name="Work")
    expect(
        page.get_by_label("Events in all my calendars, also ones I connect later")
    ).to_be_checked()
    expect(work).to_be_disabled()
    expect(page.get_by_text("Not used while events in all your calendars count")).to_be_visible()
    page.get_by_label("Events in the calendars I choose below").check()
    expect(work).to_be_enabled()
    expect(page.get_by_text("Not used while events in all your calendars count")).to_be_hidden()
    work.check()

    page.get_by_role("button", name="Save page").click()

    expect(page).to_have_url(re.compile(r"/preview/$"))
    booking_page.refresh_from_db()
    assert [q.label for q in booking_page.questions.all()] == ["Phone"]
    assert [(o.date, o.hours) for o in booking_page.date_overrides.all()] == [
        (date(2031, 12, 24), [[540, 720], [840, 900]])
    ]
    assert not booking_page.busy_in_all_calendars
    assert list(booking_page.busy_calendars.all()) == [world.calendars["Work"]]
