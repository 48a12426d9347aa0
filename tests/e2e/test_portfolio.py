"""The portfolio in a real browser: this week's events from Radicale, the Google fake and the
Microsoft fake in week, month and agenda views, blocks hidden, a meeting found in two calendars
shown once, a Join button, and a banner for the calendar that failed."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from syncrules.models import Block
from tests.e2e.conftest import log_in
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.portfolio.world import block_marker, make_mixed
from tests.syncrules.world import make_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BERLIN = ZoneInfo("Europe/Berlin")
MEET = "https://meet.google.com/abc-mnop-xyz"
TEAMS = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_portfolio"


def this_week(weekday: int, hour: int, minute: int = 0) -> datetime:
    """A time of this week (Monday 0) in Berlin, as UTC."""
    today = datetime.now(BERLIN).date()
    day = today - timedelta(days=today.weekday()) + timedelta(days=weekday)
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN).astimezone(UTC)


@pytest.fixture
def settings_with_rate(settings):
    settings.PORTFOLIO_FETCH_RATE = "10000/m"
    return settings


@pytest.fixture
def ada(radicale_server, google_fake, microsoft_fake, fault_proxy, settings_with_rate):
    """A consultant in Berlin with calendars at three providers, and one that is failing."""
    user = UserFactory(email="ada.portfolio@example.com", time_zone="Europe/Berlin")
    mixed = make_mixed(radicale_server, user, google_fake, microsoft_fake)
    kickoff = f"kickoff-{uuid.uuid4().hex[:8]}@example.com"
    mixed.caldav_event("Work", "review", this_week(1, 10), title="Design review", location="Room 7")
    mixed.caldav_event("Work", kickoff, this_week(2, 14), title="Kick-off", location="Room 1")
    mixed.google_event("Kick-off", this_week(2, 14), iCalUID=kickoff)
    mixed.caldav_event("Personal", "dentist", this_week(3, 8), minutes=45, title="Dentist")
    mixed.google_event("School play", this_week(4, 16))
    mixed.outlook_event("Board call", this_week(1, 13), join_url=TEAMS)
    mixed.outlook_event("Overlapping sync", this_week(1, 13, 30))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    mixed.google_event(
        "Client call", now - timedelta(minutes=5), minutes=45, hangoutLink=MEET, location="Online"
    )
    # Blocks our sync wrote: one carries our marker, the other only our table knows (Graph).
    mixed.caldav_event(
        "Work", "a-block", this_week(3, 11), title="Busy", extra=block_marker(str(uuid.uuid4()))
    )
    unmarked = mixed.outlook_event("Busy", this_week(4, 9))
    Block.objects.create(
        source_event_id="source",
        source_series_id="source",
        target_calendar=mixed.calendars["Outlook"],
        target_event_id=unmarked,
        state=Block.State.SYNCED,
        start=this_week(4, 9),
        end=this_week(4, 10),
    )
    # A second CalDAV account behind a proxy that starts failing once it is connected.
    side = make_world(radicale_server, user, ["Side job"], server_url=fault_proxy.url)
    side.put("Side job", "retainer", this_week(0, 15), title="Retainer call")
    fault_proxy.fault = lambda method, path, count: 503
    return user, mixed, fault_proxy


@pytest.fixture
def portfolio_page(page, ada):
    user = ada[0]
    page.set_viewport_size({"width": 1440, "height": 1000})
    log_in(page, user.email, DEFAULT_PASSWORD)
    sections = page.get_by_role("navigation", name="Sections")
    expect(sections).to_be_visible()
    sections.get_by_role("link", name="Portfolio").click()
    expect(page.get_by_role("heading", name="Portfolio")).to_be_visible()
    # A first visit shows the next seven days; these tests look at this calendar week.
    page.get_by_role("button", name="Week", exact=True).click()
    expect(page.locator(".fc-event", has_text="Design review")).to_be_visible()
    return page


def event(page, title: str):
    """An event as a view shows it: FullCalendar's, or the month's own."""
    return page.locator(".fc-event, .pf-month__event", has_text=title)


def test_week_view_shows_every_real_event_once_and_the_failing_calendar(
    portfolio_page, ada, tmp_path
):
    page = portfolio_page
    proxy = ada[2]

    expect(page.locator(".fc-timegrid")).to_be_visible()
    for title in ["Design review", "Dentist", "School play", "Board call", "Overlapping sync"]:
        expect(event(page, title)).to_have_count(1)
    expect(event(page, "Design review")).to_contain_text("10:00")
    # Blocks are hidden, whichever way they are recognised.
    expect(event(page, "Busy")).to_have_count(0)
    # One meeting in two calendars: one event, listing both.
    expect(event(page, "Kick-off")).to_have_count(1)
    expect(event(page, "Kick-off")).to_have_attribute("data-calendars", "Work, Family")
    # Overlapping events sit side by side, not on top of each other.
    board = event(page, "Board call").bounding_box()
    overlapping = event(page, "Overlapping sync").bounding_box()
    assert board["x"] + board["width"] <= overlapping["x"] + 1
    # The current time is marked.
    expect(page.locator(".fc-timegrid-now-indicator-line")).to_have_count(1)

    # Up next: the meeting going on now, with its Join button.
    up_next = page.locator("#up-next-list")
    expect(up_next).to_contain_text("Client call")
    expect(up_next.get_by_role("link", name="Join Client call")).to_have_attribute("href", MEET)

    # The failing calendar has its banner; the others rendered anyway.
    banner = page.locator(".portfolio-failure")
    expect(banner).to_have_count(1)
    expect(banner).to_contain_text("Side job could not be loaded")
    expect(event(page, "Retainer call")).to_have_count(0)
    event(page, "Design review").scroll_into_view_if_needed()  # the day scrolls inside the grid
    page.screenshot(path=tmp_path / "week.png", full_page=True)

    # It recovers; Retry reads again.
    proxy.reset()
    banner.get_by_role("button", name="Retry").click()
    expect(event(page, "Retainer call")).to_have_count(1)
    expect(page.locator(".portfolio-failure")).to_have_count(0)


def test_month_and_agenda_views_and_event_details(portfolio_page, tmp_path):
    page = portfolio_page

    page.get_by_role("button", name="Month").click()
    month = page.get_by_role("grid")
    expect(month).to_be_visible()
    for title in ["Design review", "Dentist", "School play", "Board call", "Kick-off"]:
        expect(month.get_by_role("button", name=re.compile(re.escape(title)))).to_have_count(1)
    expect(event(page, "Busy")).to_have_count(0)
    expect(page.locator(".portfolio-failure")).to_contain_text("Side job")
    page.screenshot(path=tmp_path / "month.png", full_page=True)

    event(page, "Board call").click()
    details = page.locator("#event-details")
    expect(details).to_be_visible()
    expect(details.get_by_role("heading", name="Board call")).to_be_visible()
    expect(details).to_contain_text("Outlook")
    expect(details).to_contain_text("13:00")
    expect(details.get_by_role("link", name="Join Board call")).to_have_attribute("href", TEAMS)
    details.get_by_role("button", name="Close").click()
    expect(details).to_be_hidden()

    page.get_by_role("button", name="Agenda").click()
    expect(page.locator(".fc-list")).to_be_visible()
    # The agenda is the seven days from the date shown: this week's, from its Monday.
    page.get_by_label("Go to date").fill(this_week(0, 12).astimezone(BERLIN).date().isoformat())
    expect(page.locator(".fc-list-event", has_text="Design review")).to_have_count(1)
    expect(page.locator(".fc-list-event", has_text="Kick-off")).to_have_count(1)
    assert re.search(r"view=agenda", page.url)


def test_time_zone_switch_and_a_hidden_calendar(portfolio_page, ada):
    page = portfolio_page
    _, mixed, _ = ada

    page.get_by_label("Time zone").select_option("America/New_York")
    expect(event(page, "Design review")).to_contain_text("04:00")
    assert "tz=America%2FNew_York" in page.url

    # The new zone's week starts at another instant: wait until its reads are all done (a read
    # may start a moment after the zone changed, so "not loading" alone can be seen too early).
    page.wait_for_load_state("networkidle")
    expect(page.locator("#portfolio")).not_to_have_class(re.compile("is-loading"))
    requests_before = mixed.google.request_count
    page.get_by_role("checkbox", name="Family").uncheck()
    expect(event(page, "School play")).to_have_count(0)
    expect(page.locator("#portfolio")).not_to_have_class(re.compile("is-loading"))
    # The Kick-off is still in Work; only Family is hidden, and Google was not asked again.
    expect(event(page, "Kick-off")).to_have_attribute("data-calendars", "Work")
    assert mixed.google.request_count == requests_before

    page.reload()
    expect(event(page, "Design review")).to_contain_text("04:00")  # the zone is kept in the URL
    expect(page.get_by_role("checkbox", name="Family")).not_to_be_checked()
    expect(event(page, "School play")).to_have_count(0)


@pytest.mark.parametrize("width", [390, 1280])
def test_no_view_scrolls_sideways_on_a_phone_or_a_laptop(page, ada, width, tmp_path):
    user = ada[0]
    page.set_viewport_size({"width": width, "height": 844 if width == 390 else 800})
    log_in(page, user.email, DEFAULT_PASSWORD)
    for view in ["day", "days", "week", "month", "agenda"]:
        page.goto(f"/portfolio/?view={view}")
        expect(page.locator(".fc-view-harness")).to_be_visible()
        expect(page.locator("#portfolio.is-loading")).to_have_count(0)
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        page.screenshot(path=tmp_path / f"{view}-{width}.png", full_page=True)
        assert overflow <= 0, f"{view} at {width} px scrolls sideways by {overflow} px"
    # Every section of the menu is on the screen, not past its edge.
    for link in page.get_by_role("navigation", name="Sections").get_by_role("link").all():
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, link.inner_text()
    # A phone opens on the agenda of the coming days, with the views below it.
    if width == 390:
        page.goto("/portfolio/")
        expect(page.locator(".fc-list, .fc-list-empty")).to_have_count(1)
        expect(page.get_by_role("button", name="Day", exact=True)).to_be_visible()


def test_a_calendars_blocks_and_name_shown_as_the_user_asks(portfolio_page, ada):
    page = portfolio_page
    expect(event(page, "Busy")).to_have_count(0)
    work = page.locator("form.calendar-preference").filter(has_text="Work").first

    work.locator("summary").click()
    work.get_by_label("Show the blocks sync writes here").check()

    block = event(page, "Busy")
    expect(block).to_have_count(1)
    expect(block).to_contain_text("Block")
    expect(block).to_have_class(re.compile(r"\bis-block\b"))
    work.get_by_label("Name here").fill("Day job")
    work.get_by_label("Name here").press("Tab")  # a change event, as leaving the field sends
    expect(work.locator(".calendar-preference__name")).to_have_text("Day job")
    expect(event(page, "Design review")).to_have_attribute("data-calendars", "Day job")


def test_a_busy_day_of_a_month_shows_a_few_events_and_opens_for_the_rest(portfolio_page, ada):
    page = portfolio_page
    mixed = ada[1]
    for hour in range(8, 15):  # seven more events on Friday
        mixed.caldav_event("Personal", f"busy-{hour}", this_week(4, hour), title=f"Errand {hour}")
    page.get_by_role("button", name="Month", exact=True).click()
    expect(page.locator("#portfolio.is-loading")).to_have_count(0)

    friday = this_week(4, 12).astimezone(BERLIN).date().isoformat()
    cell = page.locator(f'.pf-month td[data-date="{friday}"]')
    more = cell.locator(".pf-month__more")
    # School play and Busy (a block, hidden) are there too: 8 real events, 3 shown, 5 folded.
    expect(cell.locator(".pf-month__event")).to_have_count(3)
    expect(more).to_have_text("+5 more")
    expect(event(page, "Errand 14")).to_have_count(0)

    # The search looks at the whole month, folded events included.
    page.get_by_label("Search").fill("Errand 14")
    expect(event(page, "Errand 14")).to_have_count(1)
    expect(more).to_have_count(0)
    page.get_by_label("Search").fill("")
    expect(more).to_have_text("+5 more")

    # "+5 more" opens the day, with every event of it; the keyboard reaches it too.
    more.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".fc-timegrid")).to_be_visible()
    for hour in range(8, 15):
        expect(event(page, f"Errand {hour}")).to_have_count(1)
    expect(event(page, "School play")).to_have_count(1)
