"""Making a booking page in a real browser: choose a handle, set hours and a question, save, and
see the times it offers around an event in the owner's CalDAV calendar."""

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from booking.models import BookingPage, Profile
from tests.e2e.conftest import log_in
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.syncrules.world import make_world

# Between the start and the end of a period in the form's messages.
DASH = "\N{EN DASH}"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/booking-owner-preview.png"  # noqa: S108 - a fixed path the lead looks at
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def owner_with_calendars(radicale_server):
    """A user in Berlin with two Radicale calendars; "Work" has a meeting tomorrow 09:00-10:00."""
    user = UserFactory(email="ada.host@example.com", time_zone="Europe/Berlin")
    world = make_world(radicale_server, user, ["Personal", "Work"])
    tomorrow = datetime.now(BERLIN).date() + timedelta(days=1)
    meeting = datetime.combine(tomorrow, time(9, 0), tzinfo=BERLIN).astimezone(UTC)
    world.put("Work", "board-meeting", meeting, minutes=60, title="Board meeting")
    return user, tomorrow, world.connection.label


def test_make_a_page_with_hours_and_a_question_and_see_its_times(
    browser, page, owner_with_calendars
):
    user, tomorrow, account = owner_with_calendars
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page, user.email, DEFAULT_PASSWORD)
    expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible()

    page.get_by_role("navigation", name="Sections").get_by_role(
        "link", name="Booking pages"
    ).click()
    expect(page.get_by_role("heading", name="First, choose your public address")).to_be_visible()
    expect(page.get_by_label("Handle")).to_have_value("ada-host")
    page.get_by_role("button", name="Save my address").click()
    expect(page.get_by_role("heading", name="No booking pages yet")).to_be_visible()
    page.get_by_role("link", name="New booking page").first.click()

    page.get_by_label("Title").fill("Consultation")
    page.get_by_label("Meeting lengths").fill("60, 30")
    for day in ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]:
        page.get_by_role("checkbox", name=day).check()
        page.get_by_role("group", name=day).get_by_label("Ends at").fill("12:00")
    page.get_by_label("Add bookings to").select_option(label=f"Work ({account})")
    page.get_by_role("button", name="Add a question").click()
    page.locator("#id_questions-0-label").fill("What would you like to discuss?")
    page.locator("#id_questions-0-kind").select_option("long")
    page.locator("#id_questions-0-required").check()
    # A mistake first: Monday's periods overlap. The error is on the period; nothing is lost.
    monday = page.get_by_role("group", name="Monday")
    monday.get_by_role("button", name="Add a period").click()
    monday.get_by_label("Starts at").nth(1).fill("11:00")
    monday.get_by_label("Ends at").nth(1).fill("13:00")
    page.get_by_role("button", name="Save page").click()

    expect(monday.get_by_text(f"11:00{DASH}13:00 overlaps 09:00{DASH}12:00.")).to_be_visible()
    expect(page.get_by_label("Title")).to_have_value("Consultation")
    expect(page.locator("#id_questions-0-label")).to_have_value("What would you like to discuss?")
    monday.get_by_role("button", name="Remove this period").nth(1).click()
    page.get_by_role("button", name="Save page").click()

    expect(page).to_have_url(re.compile(r"/booking/[0-9a-f-]{36}/preview/$"))
    expect(page.get_by_role("heading", name="Times offered over the next 7 days")).to_be_visible()
    heading = f"{tomorrow:%A} {tomorrow.day} {tomorrow:%B}"
    day = page.locator(".slot-day", has=page.get_by_role("heading", name=heading))
    # One-hour meetings every 30 minutes from 09:00 to 12:00, around the 09:00-10:00 meeting.
    expect(day.locator(".slot")).to_have_text(["10:00", "10:30", "11:00"])
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.get_by_label("Meeting length").select_option("30")
    page.get_by_role("button", name="Show").click()
    expect(day.locator(".slot")).to_have_text(["10:00", "10:30", "11:00", "11:30"])

    booking_page = BookingPage.objects.get(owner=user)
    assert booking_page.durations == [60, 30]
    assert booking_page.weekly_hours == {str(day): [[540, 720]] for day in range(1, 8)}
    assert booking_page.write_calendar.name == "Work"
    assert [(q.label, q.kind, q.required) for q in booking_page.questions.all()] == [
        ("What would you like to discuss?", "long", True)
    ]

    page.get_by_role("link", name="All pages").click()
    card = page.locator(".booking-page", has_text="Consultation")
    link = f"/book/{Profile.objects.get(user=user).handle}/consultation--{booking_page.secret}/"
    expect(card.locator(f'a[href$="{link}"]')).to_be_visible()
    expect(card).to_contain_text("60, 30 minutes")
    expect(card).to_contain_text("Unlisted")
    card.get_by_role("button", name="Copy link").click()
    expect(card.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()").endswith(link)
