"""Acting on events in the portfolio, in a real browser, on each writable provider (Radicale, the
Google fake, the Microsoft fake): create, drag to move (and undo), resize, edit, delete; answer
invitations; a repeating event moved for one day only; an iCal link read-only; a change made
elsewhere meanwhile; and the blocks sync makes from a moved event follow it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from calendars.models import Calendar
from syncrules.models import SyncRule
from tests.e2e.conftest import log_in
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.portfolio.world import GOOGLE_CALENDAR, Mixed, make_mixed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BERLIN = ZoneInfo("Europe/Berlin")


def next_week(weekday: int) -> date:
    """A day of next week (Monday 0), so that every event is ahead of now."""
    today = datetime.now(BERLIN).date()
    return today - timedelta(days=today.weekday()) + timedelta(days=7 + weekday)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN).astimezone(UTC)


@pytest.fixture
def mixed(radicale_server, google_fake, microsoft_fake, settings) -> Mixed:
    settings.PORTFOLIO_FETCH_RATE = settings.PORTFOLIO_ACTION_RATE = "10000/m"
    user = UserFactory(email="grace.actions@example.com", time_zone="Europe/Berlin")
    return make_mixed(radicale_server, user, google_fake, microsoft_fake)


@pytest.fixture
def portfolio(page: Page, mixed: Mixed) -> Page:
    page.set_viewport_size({"width": 1440, "height": 1000})
    log_in(page, mixed.world.connection.user.email, DEFAULT_PASSWORD)
    return page


def open_week(page: Page, day: date) -> None:
    page.goto(f"/portfolio/?view=week&date={day.isoformat()}")
    expect(page.locator(".fc-timegrid")).to_be_visible()
    expect(page.locator("#portfolio.is-loading")).to_have_count(0)


def event(page: Page, title: str):
    return page.locator(".fc-timegrid-event", has_text=title)


def drag(page: Page, target, dx: float, dy: float, *, from_bottom: bool = False) -> None:
    """Press on an event (or its bottom edge), move in steps as a hand does, release."""
    target.scroll_into_view_if_needed()
    box = target.bounding_box()
    x = box["x"] + box["width"] / 2
    y = box["y"] + (box["height"] - 3 if from_bottom else min(8, box["height"] / 2))
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x + dx * step / 10, y + dy * step / 10)
    page.mouse.up()


def slot_height(page: Page) -> float:
    return page.locator(".fc-timegrid-slot-lane").first.bounding_box()["height"]


def day_width(page: Page) -> float:
    return page.locator(".fc-timegrid-col").nth(1).bounding_box()["width"]


# The three providers, each read back its own way: (title, start, end) of the own events.
def stored(mixed: Mixed, name: str) -> list[tuple[str, datetime, datetime]]:
    if name == "Family":
        found = []
        for item in mixed.google.live_events(GOOGLE_CALENDAR):
            start = datetime.fromisoformat(item["start"]["dateTime"]).astimezone(UTC)
            end = datetime.fromisoformat(item["end"]["dateTime"]).astimezone(UTC)
            found.append((item.get("summary", ""), start, end))
        return found
    if name == "Outlook":
        return [
            (item.subject, item.start.astimezone(UTC), item.end.astimezone(UTC))
            for item in mixed.microsoft.graph.live_events(mixed.outlook.default_calendar)
        ]
    return [
        (
            str(item["SUMMARY"]),
            item["DTSTART"].dt.astimezone(UTC),
            item["DTEND"].dt.astimezone(UTC),
        )
        for item in mixed.world.own_events(name)
    ]


@pytest.mark.parametrize("name", ["Work", "Family", "Outlook"])
def test_create_move_undo_resize_edit_and_delete(portfolio, mixed, name):
    page = portfolio
    day = next_week(1)
    open_week(page, day)

    # Create from the button, into the chosen calendar.
    page.get_by_role("button", name="New event").click()
    form = page.locator(".event-form")
    form.get_by_label("Title").fill("Strategy session")
    calendar = Calendar.objects.get(id=mixed.calendars[name].id)
    form.get_by_label("Calendar").select_option(str(calendar.id))
    form.get_by_label("Starts").fill(f"{day.isoformat()}T10:00")
    form.get_by_label("Ends").fill(f"{day.isoformat()}T11:00")
    form.get_by_label("Where").fill("Room 3")
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#portfolio-toast")).to_contain_text("Event added.")
    expect(event(page, "Strategy session")).to_have_count(1)
    assert stored(mixed, name) == [("Strategy session", at(day, 10), at(day, 11))]

    # Drag it an hour later and a day on; undo puts it back; drag again.
    slot = slot_height(page)  # half an hour
    drag(page, event(page, "Strategy session"), day_width(page), 2 * slot)
    expect(page.locator("#portfolio-toast")).to_contain_text("Moved.")
    assert stored(mixed, name) == [
        ("Strategy session", at(day + timedelta(days=1), 11), at(day + timedelta(days=1), 12))
    ]
    page.locator("#portfolio-toast").get_by_role("button", name="Undo").click()
    expect(page.locator("#portfolio-toast")).to_contain_text("Moved back.")
    assert stored(mixed, name) == [("Strategy session", at(day, 10), at(day, 11))]

    # Resize: its end half an hour later.
    expect(page.locator("#portfolio.is-loading")).to_have_count(0)
    drag(page, event(page, "Strategy session"), 0, slot, from_bottom=True)
    expect(page.locator("#portfolio-toast")).to_contain_text("Moved.")
    assert stored(mixed, name) == [("Strategy session", at(day, 10), at(day, 11, 30))]

    # Edit in the panel: the location and notes stay unless changed.
    event(page, "Strategy session").click()
    panel = page.locator("#event-details")
    expect(panel.get_by_role("button", name="Edit")).to_be_visible()
    panel.get_by_role("button", name="Edit").click()
    form.get_by_label("Title").fill("Strategy session, agreed")
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#portfolio-toast")).to_contain_text("Event saved.")
    assert stored(mixed, name) == [("Strategy session, agreed", at(day, 10), at(day, 11, 30))]

    # Delete, after saying yes.
    event(page, "Strategy session, agreed").click()
    panel.get_by_role("button", name="Delete").click()
    panel.locator(".event-remove").get_by_role("button", name="Delete").click()
    expect(page.locator("#portfolio-toast")).to_contain_text("Event deleted.")
    expect(event(page, "Strategy session")).to_have_count(0)
    assert stored(mixed, name) == []


def test_a_time_dragged_over_opens_a_new_event_there(portfolio, mixed):
    page = portfolio
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    day = next_week(2)
    open_week(page, day)
    column = page.locator(f".fc-timegrid-col[data-date='{day.isoformat()}']")
    lane = page.locator(".fc-timegrid-slot-lane[data-time='09:00:00']")
    lane.scroll_into_view_if_needed()
    nine = lane.bounding_box()
    x = column.bounding_box()["x"] + 20
    page.mouse.move(x, nine["y"] + 2)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x, nine["y"] + 2 + step * (3 * nine["height"] - 6) / 10)
    page.mouse.up()

    form = page.locator(".event-form")
    expect(form).to_be_visible()
    expect(form.get_by_label("Starts")).to_have_value(f"{day.isoformat()}T09:00")
    expect(form.get_by_label("Ends")).to_have_value(f"{day.isoformat()}T10:30")
    form.get_by_label("Title").fill("Focus time")
    form.get_by_role("button", name="Save").click()
    expect(event(page, "Focus time")).to_have_count(1)
    assert errors == []


def test_invitations_are_answered_where_the_provider_can_and_said_where_it_cannot(portfolio, mixed):
    page = portfolio
    day = next_week(3)
    google_invite = mixed.google.add_invitation(
        GOOGLE_CALENDAR, "Partner sync", at(day, 9), at(day, 10)
    )
    mixed.microsoft.graph.add_event(
        mixed.outlook.default_calendar,
        "Steering group",
        at(day, 13),
        at(day, 14),
        response="notResponded",
    )
    mixed.caldav_event(
        "Work",
        "invited",
        at(day, 16),
        title="Vendor demo",
        extra="ORGANIZER:mailto:vendor@example.com\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:someone@example.com",
    )
    open_week(page, day)
    panel = page.locator("#event-details")

    event(page, "Partner sync").click()
    panel.get_by_role("button", name="Yes").click()
    expect(panel.get_by_role("button", name="Yes")).to_have_attribute("aria-pressed", "true")
    mine = [
        a for a in mixed.google.event(GOOGLE_CALENDAR, google_invite)["attendees"] if a.get("self")
    ]
    assert mine[0]["responseStatus"] == "accepted"
    panel.get_by_role("button", name="Close").click()

    event(page, "Steering group").click()
    panel.get_by_role("button", name="Maybe").click()
    expect(panel.get_by_role("button", name="Maybe")).to_have_attribute("aria-pressed", "true")
    (steering,) = [
        item
        for item in mixed.microsoft.graph.live_events(mixed.outlook.default_calendar)
        if item.subject == "Steering group"
    ]
    assert steering.response == "tentativelyAccepted"
    panel.get_by_role("button", name="Close").click()

    event(page, "Vendor demo").click()
    expect(panel.get_by_role("button", name="Yes")).to_be_hidden()
    expect(panel.locator(".event-details__note")).to_contain_text("answer from your calendar app")


def test_one_day_of_a_repeating_event_is_moved_alone(portfolio, mixed):
    page = portfolio
    monday = next_week(0)
    mixed.google.add_event(
        GOOGLE_CALENDAR,
        "Stand-up",
        at(monday, 9),
        at(monday, 9, 15),
        timeZone="Europe/Berlin",
        recurrence=["RRULE:FREQ=DAILY;COUNT=5"],
    )
    open_week(page, monday)
    standups = event(page, "Stand-up")
    expect(standups).to_have_count(5)

    drag(page, standups.nth(2), 0, 2 * slot_height(page))  # Wednesday's
    scope = page.locator("#event-scope")
    expect(scope).to_be_visible()
    scope.get_by_role("button", name="Only this one").click()
    expect(page.locator("#portfolio-toast")).to_contain_text("Moved.")

    starts = sorted(start for title, start, _ in stored(mixed, "Family") if title == "Stand-up")
    wednesday = monday + timedelta(days=2)
    assert at(wednesday, 10) in starts and at(wednesday, 9) not in starts
    assert at(monday + timedelta(days=1), 9) in starts


def test_an_ical_link_and_a_block_say_why_they_cannot_be_changed(portfolio, mixed, feed):
    from calendars.services import connection_connect_ics
    from tests.syncrules.rule_page_helpers import ics_event, ics_feed

    page = portfolio
    day = next_week(4)
    feed.serve(ics_feed(ics_event("club", at(day, 18), title="Club night"), name="Club"))
    connection_connect_ics(
        user=mixed.world.connection.user, url=feed.url, label="Club", ip_address=None
    )
    open_week(page, day)
    event(page, "Club night").click()
    panel = page.locator("#event-details")
    expect(panel.locator(".event-details__note")).to_contain_text("read-only")
    expect(panel.get_by_role("button", name="Edit")).to_be_hidden()
    expect(panel.get_by_role("button", name="Delete")).to_be_hidden()


def test_a_change_made_elsewhere_meanwhile_is_shown_and_the_users_typing_kept(portfolio, mixed):
    page = portfolio
    day = next_week(1)
    mixed.caldav_event("Work", "review", at(day, 14), title="Budget review")
    open_week(page, day)
    event(page, "Budget review").click()
    panel = page.locator("#event-details")
    panel.get_by_role("button", name="Edit").click()
    form = page.locator(".event-form")
    form.get_by_label("Title").fill("Budget review (mine)")
    # Someone changes it in another app before the user saves.
    mixed.caldav_event("Work", "review", at(day, 15), title="Budget review moved")

    form.get_by_role("button", name="Save").click()

    expect(form.locator(".event-form__error")).to_contain_text("changed")
    expect(form.get_by_label("Title")).to_have_value("Budget review (mine)")
    assert stored(mixed, "Work") == [("Budget review moved", at(day, 15), at(day, 16))]
    form.get_by_role("button", name="Save").click()  # over the new version, on purpose
    expect(page.locator("#portfolio-toast")).to_contain_text("Event saved.")
    assert stored(mixed, "Work")[0][0] == "Budget review (mine)"


def test_the_blocks_of_a_moved_event_follow_it(portfolio, mixed):
    page = portfolio
    day = next_week(2)
    world = mixed.world
    rule = SyncRule.objects.create(user=world.connection.user, name="Work to Personal")
    rule.sources.set([world.calendars["Work"]])
    rule.targets.set([world.calendars["Personal"]])
    world.put("Work", "offsite", at(day, 9), title="Offsite")
    world.sync("Work")
    assert [b["DTSTART"].dt for b in world.blocks("Personal")] == [at(day, 9)]
    open_week(page, day)

    drag(page, event(page, "Offsite"), 0, 4 * slot_height(page))
    expect(page.locator("#portfolio-toast")).to_contain_text("Moved.")
    world.sync("Work")  # what the queued sync does in a worker

    assert [b["DTSTART"].dt for b in world.blocks("Personal")] == [at(day, 11)]


def test_the_keyboard_alone_creates_opens_and_deletes_an_event(portfolio, mixed):
    page = portfolio
    day = next_week(3)
    open_week(page, day)

    page.get_by_role("button", name="New event").focus()
    page.keyboard.press("Enter")
    form = page.locator(".event-form")
    expect(form.get_by_label("Title")).to_be_focused()
    page.keyboard.type("Quiet hour")
    form.get_by_label("Starts").fill(f"{day.isoformat()}T08:00")
    form.get_by_label("Ends").fill(f"{day.isoformat()}T09:00")
    form.get_by_label("Title").focus()
    page.keyboard.press("Enter")  # submits the form
    expect(event(page, "Quiet hour")).to_have_count(1)

    event(page, "Quiet hour").focus()
    page.keyboard.press("Enter")
    panel = page.locator("#event-details")
    expect(panel.get_by_role("heading", name="Quiet hour")).to_be_visible()
    delete = panel.get_by_role("button", name="Delete")
    expect(delete).to_be_visible()
    delete.focus()
    page.keyboard.press("Enter")
    expect(panel.locator(".event-remove").get_by_role("button", name="Delete")).to_be_focused()
    page.keyboard.press("Enter")
    expect(event(page, "Quiet hour")).to_have_count(0)
    assert stored(mixed, "Personal") == stored(mixed, "Work") == stored(mixed, "Family") == []


def test_a_series_is_retitled_for_all_its_events_and_opens_at_its_provider(portfolio, mixed):
    page = portfolio
    monday = next_week(0)
    mixed.google.add_event(
        GOOGLE_CALENDAR,
        "Retro",
        at(monday, 16),
        at(monday, 17),
        timeZone="Europe/Berlin",
        recurrence=["RRULE:FREQ=DAILY;COUNT=3"],
    )
    open_week(page, monday)
    expect(event(page, "Retro")).to_have_count(3)

    event(page, "Retro").first.click()
    panel = page.locator("#event-details")
    web = panel.get_by_role("link", name="Open in Google Calendar")
    expect(web).to_be_visible()
    assert web.get_attribute("href").startswith("https://")
    panel.get_by_role("button", name="Edit").click()
    form = page.locator(".event-form")
    form.get_by_label("Title").fill("Retro, new format")
    form.get_by_label("all events of the series").check()
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#portfolio-toast")).to_contain_text("Event saved.")

    expect(event(page, "Retro, new format")).to_have_count(3)
    titles = [title for title, _, _ in stored(mixed, "Family")]
    assert titles.count("Retro, new format") >= 1 and "Retro" not in titles
