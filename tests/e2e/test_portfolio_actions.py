"""Acting on events in the portfolio, in a real browser, on each writable provider (Radicale, the
Google fake, the Microsoft fake): create, drag to move (and undo) in a week and between the days
of a month, resize, edit, delete, a month's day clicked for a new all-day event; answer
invitations; a repeating event moved for one day only, or changed for all its events (and Outlook
saying it has no "this and the following"); an iCal link read-only; a change made elsewhere
meanwhile, on each provider; the keyboard alone; a Zoom meeting made with a new event; the
provider's own page in a new tab; and the blocks sync makes from a moved event follow it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import quote
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
    # In the middle of the grid's scroller: scrolled in just enough, an event meets the edge when
    # the grid starts scrolled away from it (its scrollTime follows the clock), and a drag
    # towards that edge would leave the grid.
    target.evaluate("(element) => element.scrollIntoView({block: 'center'})")
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


def put_event(mixed: Mixed, name: str, title: str, start: datetime) -> str:
    """An hour-long event written at the calendar's provider as another app would; its id."""
    if name == "Family":
        return mixed.google_event(title, start)
    if name == "Outlook":
        return mixed.outlook_event(title, start)
    mixed.caldav_event(name, "elsewhere", start, title=title)
    return "elsewhere"


def change_elsewhere(mixed: Mixed, name: str, event_id: str, title: str, start: datetime) -> None:
    """Another app changes the event's title and times at its provider."""
    end = start + timedelta(hours=1)
    if name == "Family":
        mixed.google.edit_event(GOOGLE_CALENDAR, event_id, summary=title, start=start, end=end)
    elif name == "Outlook":
        mixed.microsoft.graph.update_event(event_id, subject=title, start=start, end=end)
    else:
        mixed.caldav_event(name, event_id, start, title=title)


@pytest.mark.parametrize("name", ["Work", "Family", "Outlook"])
def test_a_change_made_elsewhere_meanwhile_is_shown_and_the_users_typing_kept(
    portfolio, mixed, name
):
    page = portfolio
    day = next_week(1)
    event_id = put_event(mixed, name, "Budget review", at(day, 14))
    open_week(page, day)
    event(page, "Budget review").click()
    panel = page.locator("#event-details")
    panel.get_by_role("button", name="Edit").click()
    form = page.locator(".event-form")
    form.get_by_label("Title").fill("Budget review (mine)")
    form.get_by_label("Where").fill("My office")
    # Someone changes it in another app before the user saves.
    change_elsewhere(mixed, name, event_id, "Budget review moved", at(day, 15))

    form.get_by_role("button", name="Save").click()

    error = form.locator(".event-form__error")
    expect(error).to_contain_text("changed")
    # What the event is now, in words, beside the user's typing, which stays.
    expect(error).to_contain_text("Budget review moved")
    expect(error).to_contain_text("15:00")
    expect(form.get_by_label("Title")).to_have_value("Budget review (mine)")
    expect(form.get_by_label("Where")).to_have_value("My office")
    assert stored(mixed, name) == [("Budget review moved", at(day, 15), at(day, 16))]
    # The panel behind the form and the week show the event as it is now.
    expect(page.locator("#event-details-title")).to_have_text("Budget review moved")
    expect(event(page, "Budget review moved")).to_have_count(1)
    form.get_by_role("button", name="Save").click()  # over the new version, on purpose
    expect(page.locator("#portfolio-toast")).to_contain_text("Event saved.")
    assert stored(mixed, name) == [("Budget review (mine)", at(day, 14), at(day, 15))]


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
    assert [title for title, _, _ in stored(mixed, "Family")] == ["Retro, new format"] * 3


def add_daily_series(mixed: Mixed, name: str, title: str, first: datetime, count: int) -> None:
    """A series of ``count`` hour-long events a day apart, written at the calendar's provider."""
    if name == "Outlook":
        mixed.microsoft.graph.add_series(
            mixed.outlook.default_calendar,
            title,
            first,
            duration=timedelta(hours=1),
            count=count,
            every=timedelta(days=1),
        )
    else:
        mixed.caldav_event(
            name, "series", first, title=title, extra=f"RRULE:FREQ=DAILY;COUNT={count}"
        )


def instances(mixed: Mixed, name: str, week: date) -> list[tuple[str, datetime, datetime]]:
    """Every instance of the week as the provider keeps it: Graph's occurrences and exceptions
    (not the series master), or Radicale's stored series expanded with its exceptions."""
    if name == "Outlook":
        return sorted(
            (item.subject, item.start.astimezone(UTC), item.end.astimezone(UTC))
            for item in mixed.microsoft.graph.live_events(mixed.outlook.default_calendar)
            if item.type != "seriesMaster"
        )
    return mixed.caldav_instances(name, at(week, 0), at(week + timedelta(days=7), 0))


@pytest.mark.parametrize("name", ["Outlook", "Work"])
def test_a_series_is_changed_for_all_its_events_at_microsoft_and_caldav(portfolio, mixed, name):
    page = portfolio
    monday = next_week(0)
    weekdays = [monday + timedelta(days=n) for n in range(5)]
    add_daily_series(mixed, name, "Weekly sync", at(monday, 9), 5)
    open_week(page, monday)
    expect(event(page, "Weekly sync")).to_have_count(5)

    # Retitled from the panel, for all the events of the series (Wednesday's opened).
    event(page, "Weekly sync").nth(2).click()
    panel = page.locator("#event-details")
    panel.get_by_role("button", name="Edit").click()
    form = page.locator(".event-form")
    form.get_by_label("Title").fill("Weekly sync, new room")
    form.get_by_label("all events of the series").check()
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#portfolio-toast")).to_contain_text("Event saved.")
    expect(event(page, "Weekly sync, new room")).to_have_count(5)
    assert instances(mixed, name, monday) == [
        ("Weekly sync, new room", at(day, 9), at(day, 10)) for day in weekdays
    ]

    # Thursday's dragged an hour later, and all of them asked for in the scope dialog.
    expect(page.locator("#portfolio.is-loading")).to_have_count(0)
    drag(page, event(page, "Weekly sync, new room").nth(3), 0, 2 * slot_height(page))
    scope = page.locator("#event-scope")
    expect(scope).to_be_visible()
    scope.get_by_role("button", name="All of them").click()
    expect(page.locator("#portfolio-toast")).to_contain_text("Moved.")
    assert instances(mixed, name, monday) == [
        ("Weekly sync, new room", at(day, 10), at(day, 11)) for day in weekdays
    ]


def test_outlook_says_in_words_that_it_cannot_change_this_and_the_following(portfolio, mixed):
    page = portfolio
    monday = next_week(0)
    add_daily_series(mixed, "Outlook", "Weekly sync", at(monday, 9), 5)
    before = instances(mixed, "Outlook", monday)
    open_week(page, monday)

    event(page, "Weekly sync").nth(2).click()
    panel = page.locator("#event-details")
    panel.get_by_role("button", name="Edit").click()
    scope = page.locator(".event-form__scope")
    expect(scope.get_by_label("all events of the series")).to_be_visible()
    expect(scope.get_by_label("this and the following events")).to_be_hidden()
    expect(scope.locator(".event-form__scope-note")).to_have_text(
        "This calendar's provider cannot change only this and the following events."
    )
    page.locator(".event-form").get_by_role("button", name="Cancel").click()
    panel.get_by_role("button", name="Close").click()

    # Dragged: the question leaves out what Outlook cannot do and says so; cancelled, nothing moved.
    drag(page, event(page, "Weekly sync").nth(3), 0, 2 * slot_height(page))
    dialog = page.locator("#event-scope")
    expect(dialog.get_by_role("button", name="All of them")).to_be_visible()
    expect(dialog.get_by_role("button", name="This and the following")).to_be_hidden()
    expect(dialog.locator(".event-form__scope-note")).to_have_text(
        "This calendar's provider cannot change only this and the following events."
    )
    dialog.get_by_role("button", name="Cancel").click()
    assert instances(mixed, "Outlook", monday) == before


def tab_to(page: Page, target, most: int = 6) -> None:
    """Press Tab until ``target`` has the focus (a date's parts take a Tab each)."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"{most} presses of Tab did not reach {target}")


def test_the_keyboard_alone_opens_and_edits_an_event(portfolio, mixed):
    page = portfolio
    day = next_week(3)
    mixed.google_event("Reading group", at(day, 8))
    open_week(page, day)

    event(page, "Reading group").focus()
    page.keyboard.press("Enter")
    panel = page.locator("#event-details")
    expect(panel.get_by_role("heading", name="Reading group")).to_be_visible()
    edit = panel.get_by_role("button", name="Edit")
    expect(edit).to_be_visible()
    expect(panel.get_by_role("button", name="Close")).to_be_focused()
    page.keyboard.press("Tab")
    expect(edit).to_be_focused()
    page.keyboard.press("Enter")

    form = page.locator(".event-form")
    title = form.get_by_label("Title")
    expect(title).to_be_focused()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("Reading group, chapter 2")
    # To the start's hour (day, month, year, hour): an hour later. Then the end's the same.
    for times in ("Starts", "Ends"):
        tab_to(page, form.get_by_label(times))
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowUp")
    expect(form.get_by_label("Starts")).to_have_value(f"{day.isoformat()}T09:00")
    expect(form.get_by_label("Ends")).to_have_value(f"{day.isoformat()}T10:00")
    page.keyboard.press("Enter")  # submits the form

    expect(page.locator("#portfolio-toast")).to_contain_text("Event saved.")
    expect(event(page, "Reading group, chapter 2")).to_have_count(1)
    assert stored(mixed, "Family") == [("Reading group, chapter 2", at(day, 9), at(day, 10))]


def test_a_new_event_gets_a_zoom_meeting_when_asked(portfolio, mixed, zoom_fake):
    from calendars.services import connection_connect_zoom
    from integrations.zoom.oauth import secrets_from_token_answer

    page = portfolio
    connection_connect_zoom(
        user=mixed.world.connection.user,
        email=zoom_fake.email,
        secrets=secrets_from_token_answer(zoom_fake.grant()),
        ip_address=None,
    )
    day = next_week(2)
    open_week(page, day)

    page.get_by_role("button", name="New event").click()
    form = page.locator(".event-form")
    zoom = form.get_by_label("Add a Zoom meeting")
    expect(zoom).to_be_visible()
    form.get_by_label("All day").check()
    expect(zoom).to_be_hidden()  # a meeting needs a start time
    form.get_by_label("All day").uncheck()
    form.get_by_label("Title").fill("Client kick-off")
    form.get_by_label("Calendar").select_option(str(mixed.calendars["Outlook"].id))
    form.get_by_label("Starts").fill(f"{day.isoformat()}T15:00")
    form.get_by_label("Ends").fill(f"{day.isoformat()}T15:45")
    zoom.check()
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#portfolio-toast")).to_contain_text("Event added.")

    (meeting,) = zoom_fake.meetings.values()
    assert meeting["topic"] == "Client kick-off"
    assert meeting["start_time"] == at(day, 15).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert meeting["duration"] == 45
    (created,) = mixed.microsoft.graph.live_events(mixed.outlook.default_calendar)
    assert created.subject == "Client kick-off"
    assert created.location == meeting["join_url"]
    assert (created.start, created.end) == (at(day, 15), at(day, 15, 45))


def test_an_outlook_event_opens_in_outlook_in_a_new_tab(portfolio, mixed):
    page = portfolio
    day = next_week(4)
    event_id = mixed.outlook_event("Board prep", at(day, 11))
    open_week(page, day)
    event(page, "Board prep").click()

    web = page.locator("#event-details").get_by_role("link", name="Open in Outlook")
    expect(web).to_be_visible()
    # Graph's webLink, as Graph gives it for the event.
    expect(web).to_have_attribute(
        "href", f"https://outlook.office365.com/owa/?itemid={quote(event_id)}"
    )
    expect(web).to_have_attribute("target", "_blank")
    expect(web).to_have_attribute("rel", re.compile(r"\bnoopener\b"))

    # Outlook itself is out of reach here: the tab gets a page of ours in its place.
    page.context.route(
        "https://outlook.office365.com/**",
        lambda route: route.fulfill(content_type="text/html", body="<title>Outlook</title>"),
    )
    with page.context.expect_page() as opened:
        web.click()
    tab = opened.value
    expect(tab).to_have_title("Outlook")
    assert tab.url == web.get_attribute("href")
    assert tab.evaluate("window.opener") is None
    assert page.url.split("?")[0].endswith("/portfolio/")


# The month: a table of the page's own, each day a cell named by its date.


def open_month(page: Page, day: date) -> None:
    page.goto(f"/portfolio/?view=month&date={day.isoformat()}")
    expect(page.get_by_role("grid")).to_be_visible()
    expect(page.locator("#portfolio.is-loading")).to_have_count(0)


def day_cell(page: Page, day: date):
    return page.locator(f'.pf-month td[data-date="{day.isoformat()}"]')


def drag_to_day(page: Page, target, day: date) -> None:
    """Press on an event of the month, move as a hand does to the lower part of ``day`` (below
    its events), release."""
    box = target.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    goal = day_cell(page, day).bounding_box()
    to_x, to_y = goal["x"] + goal["width"] / 2, goal["y"] + goal["height"] - 8
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x + (to_x - x) * step / 10, y + (to_y - y) * step / 10)
    page.mouse.up()


def put_long_event(mixed: Mixed, name: str, title: str, start: datetime) -> None:
    """An event of an hour and a half at the calendar's provider, as another app writes it."""
    if name == "Family":
        mixed.google_event(title, start, minutes=90)
    elif name == "Outlook":
        mixed.outlook_event(title, start, minutes=90)
    else:
        mixed.caldav_event(name, "planning", start, minutes=90, title=title)


@pytest.mark.parametrize("name", ["Work", "Family", "Outlook"])
def test_an_event_dragged_to_another_day_of_the_month_keeps_its_time_and_length(
    portfolio, mixed, name
):
    page = portfolio
    day = next_week(1)
    later = day + timedelta(days=2)
    put_long_event(mixed, name, "Quarterly planning", at(day, 10))
    open_month(page, day)
    planning = day_cell(page, day).locator(".pf-month__event", has_text="Quarterly planning")
    expect(planning).to_have_count(1)

    drag_to_day(page, planning, later)

    expect(page.locator("#portfolio-toast")).to_contain_text("Moved.")
    assert stored(mixed, name) == [("Quarterly planning", at(later, 10), at(later, 11, 30))]
    moved = day_cell(page, later).locator(".pf-month__event", has_text="Quarterly planning")
    expect(moved).to_have_count(1)
    expect(moved).to_contain_text("10:00")
    expect(day_cell(page, day).locator(".pf-month__event")).to_have_count(0)
    # The drop was no click: neither the event's panel nor a new event's form opened.
    expect(page.locator("#event-details")).to_be_hidden()

    page.locator("#portfolio-toast").get_by_role("button", name="Undo").click()
    expect(page.locator("#portfolio-toast")).to_contain_text("Moved back.")
    assert stored(mixed, name) == [("Quarterly planning", at(day, 10), at(day, 11, 30))]
    expect(day_cell(page, day).locator(".pf-month__event")).to_have_count(1)


def test_an_event_that_cannot_be_changed_stays_where_it_is_in_the_month(portfolio, mixed, feed):
    from calendars.services import connection_connect_ics
    from tests.syncrules.rule_page_helpers import ics_event, ics_feed

    page = portfolio
    day = next_week(2)
    feed.serve(ics_feed(ics_event("club", at(day, 18), title="Club night"), name="Club"))
    connection_connect_ics(
        user=mixed.world.connection.user, url=feed.url, label="Club", ip_address=None
    )
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url) if "/move" in request.url else None)
    open_month(page, day)
    club = day_cell(page, day).locator(".pf-month__event", has_text="Club night")
    expect(club).to_have_count(1)

    drag_to_day(page, club, day + timedelta(days=1))

    expect(club).to_have_count(1)
    expect(day_cell(page, day + timedelta(days=1)).locator(".pf-month__event")).to_have_count(0)
    expect(page.locator(".pf-month__ghost")).to_have_count(0)
    assert sent == []


def test_a_click_on_a_days_free_space_in_the_month_adds_an_all_day_event_there(portfolio, mixed):
    page = portfolio
    day = next_week(3)
    mixed.caldav_event("Work", "review", at(day, 9), title="Design review")
    open_month(page, day)
    cell = day_cell(page, day)
    expect(cell.locator(".pf-month__event")).to_have_count(1)

    box = cell.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] - 6)

    form = page.locator(".event-form")
    expect(form.get_by_label("All day")).to_be_checked()
    expect(form.get_by_label("Starts")).to_have_value(day.isoformat())
    expect(form.get_by_label("Ends")).to_have_value(day.isoformat())
    form.get_by_label("Title").fill("Offsite")
    form.get_by_label("Calendar").select_option(str(mixed.calendars["Personal"].id))
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#portfolio-toast")).to_contain_text("Event added.")
    expect(cell.locator(".pf-month__event", has_text="Offsite")).to_have_count(1)
    (offsite,) = mixed.world.own_events("Personal")
    assert (str(offsite["SUMMARY"]), offsite["DTSTART"].dt, offsite["DTEND"].dt) == (
        "Offsite",
        day,
        day + timedelta(days=1),
    )
