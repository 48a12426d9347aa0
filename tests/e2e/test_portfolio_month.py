"""The portfolio's month in a real browser, as people read and reach it: a table of weeks from the
user's first day, each day named with its full date and each event with its time, title and
calendar; the keyboard alone goes from day to day and month to month, adds an event on a day, opens
an event and a busy day's "+N more"; a finger moves an event by holding it; the user's language,
first day, clock and zone; and at a phone's width and a laptop's, light and dark, nothing scrolls
sideways, no text is cut and axe-core finds nothing serious. (A mouse dragging events between
days and clicking a day: tests/e2e/test_portfolio_actions.py.)"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from playwright.sync_api import Page, expect

from tests.e2e.conftest import log_in
from tests.e2e.test_page_walk import FOCUS, REMEMBER_UNFOCUSED, problems_on
from tests.e2e.test_portfolio_actions import at, day_cell, next_week, open_month
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.syncrules.world import World, make_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BERLIN = ZoneInfo("Europe/Berlin")


def all_day_ics(uid: str, first: date, days: int, title: str) -> str:
    return "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//tests//EN",
            "BEGIN:VEVENT",
            f"UID:{uid}",
            "DTSTAMP:20260101T000000Z",
            f"DTSTART;VALUE=DATE:{first:%Y%m%d}",
            f"DTEND;VALUE=DATE:{first + timedelta(days=days):%Y%m%d}",
            f"SUMMARY:{title}",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )


@pytest.fixture
def world(radicale_server, settings) -> World:
    """Next week: a three-day conference from Monday; on Wednesday a review at 9:00 (Work) and a
    dentist at 9:30 (Personal) in conflict, and free focus time; on Thursday six errands."""
    settings.PORTFOLIO_FETCH_RATE = settings.PORTFOLIO_ACTION_RATE = "10000/m"
    user = UserFactory(email="lin.month@example.com", time_zone="Europe/Berlin")
    world = make_world(radicale_server, user, ["Work", "Personal"])
    monday, wednesday, thursday = next_week(0), next_week(2), next_week(3)
    world.put_raw("Work", "conference", all_day_ics("conference", monday, 3, "Conference"))
    world.put("Work", "review", at(wednesday, 9), title="Design review")
    world.put("Personal", "dentist", at(wednesday, 9, 30), minutes=45, title="Dentist")
    world.put(
        "Personal", "focus", at(wednesday, 14), title="Focus time", extra="TRANSP:TRANSPARENT"
    )
    for hour in range(8, 14):
        world.put("Personal", f"errand-{hour}", at(thursday, hour), title=f"Errand {hour}")
    return world


def sign_in(page: Page, world: World) -> None:
    log_in(page, world.connection.user.email, DEFAULT_PASSWORD)


def long_date(day: date) -> str:
    """A date as the page says it in English (Intl's long date)."""
    return f"{day:%A}, {day:%B} {day.day}, {day.year}"


def plus_months(day: date, months: int) -> date:
    """The same day ``months`` on, or the last of that month (as the page's Page Down goes)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def focused_date(page: Page) -> str:
    return page.evaluate("() => document.activeElement.dataset.date || ''")


def focus_is_visible(page: Page) -> bool:
    page.evaluate(REMEMBER_UNFOCUSED)
    return page.evaluate(FOCUS)["visible"]


def test_the_month_is_a_grid_of_named_days_and_events(page, world):
    page.set_viewport_size({"width": 1440, "height": 1000})
    sign_in(page, world)
    wednesday = next_week(2)
    open_month(page, wednesday)

    grid = page.get_by_role("grid", name=f"{wednesday:%B %Y}")
    expect(grid).to_be_visible()
    headers = grid.get_by_role("columnheader")
    expect(headers).to_have_count(7)
    expect(headers.first).to_have_accessible_name("Monday")
    # Six weeks from a Monday, each day named with its date, the days of other months greyed.
    cells = grid.get_by_role("gridcell")
    expect(cells).to_have_count(42)
    first = date.fromisoformat(cells.first.get_attribute("data-date"))
    assert first.weekday() == 0 and first <= wednesday.replace(day=1)
    expect(grid.get_by_role("gridcell", name=re.compile("^" + long_date(wednesday)))).to_have_count(
        1
    )
    outside = wednesday.replace(day=1) - timedelta(days=1)
    if outside >= first:
        expect(day_cell(page, outside)).to_have_class(re.compile(r"\bis-other\b"))
    expect(day_cell(page, wednesday)).not_to_have_class(re.compile(r"\bis-other\b"))

    # Each event named with its time, title and calendar, and what else marks it.
    cell = day_cell(page, wednesday)
    expect(cell.get_by_role("button", name="09:00 Design review, Work, conflict")).to_have_count(1)
    expect(cell.get_by_role("button", name="09:30 Dentist, Personal, conflict")).to_have_count(1)
    expect(cell.get_by_role("button", name="14:00 Focus time, Personal, Free")).to_have_class(
        re.compile(r"\bis-free\b")
    )
    expect(cell.locator(".pf-month__event", has_text="Dentist")).to_have_class(
        re.compile(r"\bis-conflict\b")
    )
    # An event over three days is on each of them, first in its day.
    for offset in range(3):
        conference = day_cell(page, next_week(offset)).locator(".pf-month__event").first
        expect(conference).to_have_accessible_name("Conference, all day, Work")
    expect(
        day_cell(page, next_week(3)).get_by_role("button", name=re.compile("Conference"))
    ).to_have_count(0)
    # The busy day: three errands, and the other three behind "+3 more".
    thursday = day_cell(page, next_week(3))
    expect(thursday.locator(".pf-month__event")).to_have_count(3)
    expect(
        thursday.get_by_role(
            "button", name=f"3 more events on {long_date(next_week(3))}: open the day"
        )
    ).to_have_text("+3 more")

    # This month marks today.
    page.goto("/portfolio/?view=month")
    today = datetime.now(BERLIN).date()
    expect(page.locator('.pf-month td[aria-current="date"]')).to_have_attribute(
        "data-date", today.isoformat()
    )
    expect(day_cell(page, today)).to_have_class(re.compile(r"\bis-today\b"))


def test_a_calendars_colour_search_and_visibility_apply_to_the_month(page, world):
    page.set_viewport_size({"width": 1440, "height": 1000})
    sign_in(page, world)
    wednesday, thursday = next_week(2), next_week(3)
    open_month(page, wednesday)
    review = day_cell(page, wednesday).locator(".pf-month__event", has_text="Design review")
    personal = page.locator("form.calendar-preference").filter(has_text="Personal").first

    page.locator("form.calendar-preference").filter(has_text="Work").first.locator(
        "input[name=color]"
    ).fill("#1864ab")
    expect(review).to_have_css("background-color", "rgb(24, 100, 171)")
    expect(review).to_have_css("color", "rgb(255, 255, 255)")

    # The search looks at the folded errands too; a day that is no longer busy folds nothing.
    page.get_by_label("Search").fill("Errand 12")
    expect(day_cell(page, thursday).locator(".pf-month__event")).to_have_text(["12:00 Errand 12"])
    expect(page.locator(".pf-month__more")).to_have_count(0)
    page.get_by_label("Search").fill("")
    expect(page.locator(".pf-month__more")).to_have_text(["+3 more"])

    personal.get_by_role("checkbox").uncheck()
    expect(day_cell(page, thursday).locator(".pf-month__event")).to_have_count(0)
    expect(page.locator(".pf-month__more")).to_have_count(0)
    expect(day_cell(page, wednesday).locator(".pf-month__event", has_text="Dentist")).to_have_count(
        0
    )
    expect(review).to_have_count(1)


def test_the_keyboard_alone_goes_through_the_month_and_opens_days_and_events(page, world):
    page.set_viewport_size({"width": 1440, "height": 1000})
    sign_in(page, world)
    wednesday, thursday = next_week(2), next_week(3)
    open_month(page, wednesday)

    # Tab reaches a day of the month (today, or the month's first), its focus drawn.
    page.get_by_role("button", name="Agenda").focus()
    for _ in range(30):
        page.keyboard.press("Tab")
        if focused_date(page):
            break
    start = date.fromisoformat(focused_date(page))
    assert focus_is_visible(page)

    # Page Down goes a month on, to the same day of it (or its last); Page Up back.
    page.keyboard.press("PageDown")
    month_on = plus_months(start, 1)
    expect(page.get_by_role("grid", name=f"{month_on:%B %Y}")).to_be_visible()
    expect(day_cell(page, month_on)).to_be_focused()
    page.keyboard.press("PageUp")
    back = plus_months(month_on, -1)
    expect(page.get_by_role("grid", name=f"{wednesday:%B %Y}")).to_be_visible()
    expect(day_cell(page, back)).to_be_focused()
    expect(page.locator("#portfolio.is-loading")).to_have_count(0)

    # Arrows go from day to day; Enter adds an all-day event on the day.
    distance = (wednesday - back).days
    for _ in range(distance // 7):
        page.keyboard.press("ArrowDown")
    for _ in range(distance % 7):
        page.keyboard.press("ArrowRight")
    expect(day_cell(page, wednesday)).to_be_focused()
    page.keyboard.press("Enter")
    form = page.locator(".event-form")
    expect(form.get_by_label("Title")).to_be_focused()
    expect(form.get_by_label("All day")).to_be_checked()
    expect(form.get_by_label("Starts")).to_have_value(wednesday.isoformat())
    page.keyboard.press("Escape")
    expect(form).to_be_hidden()
    expect(day_cell(page, wednesday)).to_be_focused()

    # Tab goes on into the day's events; Enter opens one.
    page.keyboard.press("Tab")
    expect(
        day_cell(page, wednesday).get_by_role("button", name=re.compile("^Conference"))
    ).to_be_focused()
    page.keyboard.press("Tab")
    review = day_cell(page, wednesday).get_by_role("button", name=re.compile("Design review"))
    expect(review).to_be_focused()
    assert focus_is_visible(page)
    page.keyboard.press("Enter")
    panel = page.locator("#event-details")
    expect(panel.get_by_role("heading", name="Design review")).to_be_visible()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(review).to_be_focused()

    # Back to the day, and on to the next one.
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    expect(day_cell(page, wednesday)).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(day_cell(page, thursday)).to_be_focused()

    # "+3 more", reached by Tab after the day's events, opens the day with all of them.
    for _ in range(4):
        page.keyboard.press("Tab")
    more = day_cell(page, thursday).get_by_role("button", name=re.compile("3 more events"))
    expect(more).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".fc-timegrid")).to_be_visible()
    for hour in range(8, 14):
        expect(page.locator(".fc-event", has_text=f"Errand {hour}")).to_have_count(1)


def test_a_finger_held_on_an_event_moves_it_to_the_day_it_is_let_go_on(browser, live_server, world):
    context = browser.new_context(
        base_url=live_server.url,
        timezone_id="Europe/Berlin",
        locale="en-GB",
        viewport={"width": 390, "height": 844},
        has_touch=True,
        is_mobile=True,
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_in(page, world)
        wednesday, friday = next_week(2), next_week(4)
        open_month(page, wednesday)
        touch = context.new_cdp_session(page)

        def slide(target, to, hold_ms: int) -> None:
            """A finger down on ``target``, held ``hold_ms``, slid to ``to``'s lower part, up."""
            day_cell(page, wednesday).scroll_into_view_if_needed()
            box, goal = target.bounding_box(), to.bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            to_x, to_y = goal["x"] + goal["width"] / 2, goal["y"] + goal["height"] - 6
            points = [{"x": x, "y": y}]
            touch.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": points})
            page.wait_for_timeout(hold_ms)
            for step in range(1, 11):
                point = {"x": x + (to_x - x) * step / 10, "y": y + (to_y - y) * step / 10}
                touch.send(
                    "Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]}
                )
                page.wait_for_timeout(20)
            touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})

        review = day_cell(page, wednesday).locator(".pf-month__event", has_text="Design review")
        # A quick slide is a scroll or a swipe, not a drag: nothing moves.
        slide(review, day_cell(page, friday), 50)
        page.wait_for_timeout(300)
        expect(page.locator("#portfolio-toast")).to_be_hidden()
        expect(review).to_have_count(1)

        slide(review, day_cell(page, friday), 700)
        expect(page.locator("#portfolio-toast")).to_contain_text("Moved.")
        (stored,) = [event for event in world.own_events("Work") if event["UID"] == "review"]
        assert stored["DTSTART"].dt.astimezone(UTC) == at(friday, 9)
        assert stored["DTEND"].dt.astimezone(UTC) == at(friday, 10)
        expect(
            day_cell(page, friday).locator(".pf-month__event", has_text="Design review")
        ).to_have_count(1)
    finally:
        context.close()


def test_a_german_month_from_sunday_on_a_12_hour_clock_in_the_zone_chosen(page, world):
    user = world.connection.user
    user.language, user.week_start, user.clock = "de", 0, 12
    user.save(update_fields=["language", "week_start", "clock"])
    world.put("Work", "late", at(next_week(2), 1), title="Night train")
    page.set_viewport_size({"width": 1440, "height": 1000})
    sign_in(page, world)
    wednesday = next_week(2)
    open_month(page, wednesday)

    grid = page.get_by_role("grid", name=format_date(wednesday, "LLLL y", locale="de"))
    expect(grid).to_be_visible()
    expect(grid.get_by_role("columnheader").first).to_have_accessible_name("Sonntag")
    assert (
        date.fromisoformat(grid.get_by_role("gridcell").first.get_attribute("data-date")).weekday()
        == 6
    )
    cell = day_cell(page, wednesday)
    expect(cell).to_have_accessible_name(re.compile("^Mittwoch"))
    expect(cell.locator(".pf-month__event", has_text="Design review")).to_contain_text(
        re.compile(r"9:00\sAM")
    )

    # In New York the night train leaves the evening before.
    page.locator("#portfolio-zone").select_option("America/New_York")
    night = day_cell(page, wednesday - timedelta(days=1)).locator(
        ".pf-month__event", has_text="Night train"
    )
    expect(night).to_contain_text(re.compile(r"7:00\sPM"))
    expect(cell.locator(".pf-month__event", has_text="Night train")).to_have_count(0)
    expect(cell.locator(".pf-month__event", has_text="Design review")).to_contain_text(
        re.compile(r"3:00\sAM")
    )


@pytest.mark.parametrize(
    "viewport",
    [
        pytest.param((390, 844, "light"), id="390x844"),
        pytest.param((1280, 800, "light"), id="1280x800"),
        pytest.param((390, 844, "dark"), id="390x844-dark"),
    ],
)
def test_the_month_fits_the_screen_cuts_no_text_and_passes_axe(
    browser, live_server, world, viewport
):
    width, height, scheme = viewport
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": width, "height": height},
        color_scheme=scheme,
        timezone_id="Europe/Berlin",
        locale="en-GB",
    )
    page = context.new_page()
    try:
        sign_in(page, world)
        open_month(page, next_week(2))
        expect(page.locator(".pf-month__more")).to_have_count(1)
        assert problems_on(page, f"month at {width} px ({scheme})") == []
    finally:
        context.close()
