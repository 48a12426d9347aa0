"""An attendee on a phone with the keyboard alone (Tab, Enter, Space, and typing into fields):
picks a day and a time, loses the time to someone quicker and picks another on the same form,
books, opens the manage link and cancels; axe-core checks every step. And the zone and clock
switch the times at once with JavaScript, and with the button without it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from booking.models import Booking
from tests.booking.pages import days_ahead, make_host, someone_else_books
from tests.e2e.test_page_walk import problems_on

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
FOCUSED = "(selector) => !!document.activeElement && document.activeElement.matches(selector)"


@pytest.fixture(autouse=True)
def generous_rate_limits(settings):
    settings.BOOKING_BROWSE_RATE = "10000/m"
    settings.BOOKING_SUBMIT_RATE = "10000/m"
    settings.BOOKING_PAGE_RATE = "10000/m"


@pytest.fixture
def phone(browser, live_server, settings):
    settings.SITE_URL = live_server.url
    context = browser.new_context(
        base_url=live_server.url, viewport=PHONE, timezone_id="Europe/Berlin", locale="en-GB"
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def tab_to(page: Page, selector: str, *, limit: int = 60) -> None:
    """Press Tab until ``selector`` has the focus (each stop is a real keyboard stop)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(FOCUSED, selector):
            return
    raise AssertionError(f"{limit} presses of Tab never reached {selector}")


def focused(page: Page, selector: str) -> bool:
    return bool(page.evaluate(FOCUSED, selector))


def test_an_attendee_books_and_cancels_with_the_keyboard_alone_on_a_phone(
    phone, radicale_server, owner
):
    host = make_host(radicale_server, owner, minimum_notice=24 * 60)
    question = host.page.questions.create(label="What would you like to talk about?", kind="long")
    problems: list[str] = []

    phone.goto(host.path)
    expect(phone).to_have_url(re.compile(r"tz=Europe%2FBerlin"))
    problems += problems_on(phone, "page")

    # A day other than the one shown first, by its accessible name.
    tab_to(phone, "a.booking-picker__day:not(.is-chosen)")
    day_name = phone.evaluate("() => document.activeElement.getAttribute('aria-label')")
    assert re.fullmatch(r"\w+ \d{1,2} \w+, \d+ times? available", day_name), day_name
    phone.keyboard.press("Enter")
    expect(phone).to_have_url(re.compile(r"day="))
    chosen = phone.locator('a.booking-picker__day[aria-current="date"]')
    expect(chosen).to_have_attribute("aria-label", day_name)
    expect(phone.get_by_role("list", name=re.compile(day_name.split(",")[0]))).to_be_visible()
    problems += problems_on(phone, "day chosen")

    # Its first time, then the form.
    tab_to(phone, "a.booking-picker__time")
    phone.keyboard.press("Enter")
    expect(phone).to_have_url(re.compile(r"/new/"))
    problems += problems_on(phone, "form")
    tab_to(phone, 'input[name="name"]')
    phone.keyboard.type("Grace Guest")
    phone.keyboard.press("Tab")
    assert focused(phone, 'input[name="email"]')
    phone.keyboard.type("grace@example.com")
    phone.keyboard.press("Tab")
    assert focused(phone, f'textarea[name="question_{question.id}"]')
    phone.keyboard.type("Compilers, and what comes next.")

    # Someone else books that very time meanwhile.
    taken = someone_else_books(host, phone.url)
    tab_to(phone, 'button[type="submit"]')
    phone.keyboard.press("Enter")

    # Told politely, focus on the reason, everything typed still there.
    expect(phone.locator("#announcer")).to_have_text("That time was just taken, pick another.")
    expect(phone.get_by_role("alert")).to_contain_text("This time was just taken.")
    assert focused(phone, "#form-errors")
    expect(phone.get_by_label("Your name")).to_have_value("Grace Guest")
    expect(phone.get_by_label("E-mail address")).to_have_value("grace@example.com")
    expect(phone.get_by_label("What would you like to talk about?")).to_have_value(
        "Compilers, and what comes next."
    )
    problems += problems_on(phone, "refused form")
    tab_to(phone, 'input[name="other_start"]')
    phone.keyboard.press("Space")
    assert phone.evaluate("() => document.activeElement.checked")
    tab_to(phone, 'button[type="submit"]')
    phone.keyboard.press("Space")

    expect(phone.get_by_role("heading", name="You are booked")).to_be_visible()
    expect(phone.get_by_role("heading", name="Add it to your calendar")).to_be_visible()
    problems += problems_on(phone, "booked")
    booking = Booking.objects.get(attendee_name="Grace Guest")
    assert booking.start > taken
    assert booking.answers == [
        {
            "question": "What would you like to talk about?",
            "answer": "Compilers, and what comes next.",
        }
    ]

    # The manage link, then cancelling.
    tab_to(phone, 'a[href*="/bookings/"]')
    phone.keyboard.press("Enter")
    expect(phone.get_by_role("heading", name="Your booking")).to_be_visible()
    problems += problems_on(phone, "manage")
    tab_to(phone, 'a[href$="/cancel/"]')
    phone.keyboard.press("Enter")
    expect(phone.get_by_role("heading", name="Cancel this booking?")).to_be_visible()
    problems += problems_on(phone, "cancel")
    tab_to(phone, 'textarea[name="reason"]')
    phone.keyboard.type("Something came up")
    tab_to(phone, 'button[type="submit"]')
    phone.keyboard.press("Enter")

    expect(phone.get_by_role("heading", name="This booking was cancelled")).to_be_visible()
    problems += problems_on(phone, "cancelled")
    booking.refresh_from_db()
    assert (booking.is_cancelled, booking.cancel_reason) == (True, "Something came up")
    assert problems == [], "\n".join(problems)


def test_the_zone_and_the_clock_change_the_times_at_once_and_keep_the_day(
    phone, radicale_server, owner
):
    host = make_host(radicale_server, owner, minimum_notice=24 * 60)
    day = days_ahead(5)
    phone.goto(f"{host.path}?tz=Europe/Berlin&clock=24&month={day:%Y-%m}&day={day:%Y-%m-%d}")
    first_time = phone.locator(".booking-picker__time").first
    expect(first_time).to_have_text("00:00")
    berlin_first = first_time.get_attribute("href")
    expect(phone.get_by_role("button", name="Show times")).to_be_hidden()
    phone.evaluate("() => { window.notReloaded = true; }")

    tab_to(phone, "#picker-tz")
    phone.keyboard.type("Asia/Tokyo")

    expect(phone).to_have_url(re.compile(r"tz=Asia%2FTokyo"))
    expect(phone).to_have_url(re.compile(rf"day={day:%Y-%m-%d}"))
    expect(first_time).to_have_text("00:00")  # midnight in Tokyo now, the page open all day
    expect(phone.locator("#announcer")).to_contain_text("shown in Asia/Tokyo")
    expect(phone.locator('a.booking-picker__day[aria-current="date"]')).to_have_text(str(day.day))
    assert focused(phone, "#picker-tz")
    assert phone.locator("#picker-tz").input_value() == "Asia/Tokyo"
    tokyo_first = phone.locator(".booking-picker__time").first.get_attribute("href")
    assert "tz=Asia%2FTokyo" in tokyo_first
    assert re.search(r"start=\w+", tokyo_first)[0] != re.search(r"start=\w+", berlin_first)[0]

    tab_to(phone, 'input[name="clock"]:checked')
    phone.keyboard.press("ArrowRight")  # the radio group's own keys: am/pm

    expect(phone).to_have_url(re.compile(r"clock=12"))
    expect(phone.locator(".booking-picker__time").first).to_have_text(re.compile(r"12:00\s?am"))
    assert focused(phone, 'input[name="clock"][value="12"]')
    assert phone.evaluate("() => window.notReloaded === true")  # swapped in place, no reload
    # The language switcher and the times' links follow the new zone and clock.
    for href in phone.locator('nav[aria-label="Language"] a').evaluate_all(
        "(links) => links.map((link) => link.href)"
    ):
        assert "tz=Asia%2FTokyo" in href and "clock=12" in href
    assert problems_on(phone, "switched") == []


def test_without_javascript_the_button_shows_the_times_and_keeps_the_day(
    browser, live_server, radicale_server, owner
):
    host = make_host(radicale_server, owner, minimum_notice=24 * 60)
    day = days_ahead(5)
    context = browser.new_context(
        base_url=live_server.url, viewport=PHONE, java_script_enabled=False, locale="en-GB"
    )
    page = context.new_page()
    try:
        page.goto(f"{host.path}?tz=UTC&clock=24&month={day:%Y-%m}&day={day:%Y-%m-%d}")
        page.select_option("#picker-tz", "America/New_York")
        page.get_by_label("am/pm").check()
        page.get_by_role("button", name="Show times").click()

        expect(page).to_have_url(re.compile(r"tz=America%2FNew_York"))
        expect(page).to_have_url(re.compile(r"clock=12"))
        expect(page).to_have_url(re.compile(rf"day={day:%Y-%m-%d}"))
        expect(page.locator(".booking-picker__time").first).to_have_text(re.compile(r"am$"))
    finally:
        context.close()


def test_what_was_typed_comes_back_after_going_back_for_another_time(phone, radicale_server, owner):
    host = make_host(radicale_server, owner, minimum_notice=24 * 60)
    phone.goto(host.path)
    expect(phone).to_have_url(re.compile(r"tz="))
    phone.locator(".booking-picker__time").first.click()
    phone.get_by_label("Your name").fill("Grace Guest")
    phone.get_by_label("E-mail address").fill("grace@example.com")

    phone.get_by_role("link", name=re.compile("Pick another time")).click()
    phone.locator("a.booking-picker__day:not(.is-chosen)").first.click()
    expect(phone).to_have_url(re.compile(r"day="))
    phone.locator(".booking-picker__time").nth(1).click()

    expect(phone.get_by_label("Your name")).to_have_value("Grace Guest")
    expect(phone.get_by_label("E-mail address")).to_have_value("grace@example.com")
    phone.get_by_role("button", name="Book this time").click()
    expect(phone.get_by_role("heading", name="You are booked")).to_be_visible()
    # Once booked, the tab forgets it: the next form starts empty.
    phone.goto(host.path)
    phone.locator(".booking-picker__time").first.click()
    expect(phone.get_by_label("Your name")).to_have_value("")
    expect(phone.get_by_label("E-mail address")).to_have_value("")
