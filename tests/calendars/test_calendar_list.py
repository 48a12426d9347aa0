"""The Calendars page as a newcomer reads it: each calendar's state in words with its last sync,
the ways to connect in words an end user knows, Zoom apart as "Video meetings", and the next step
once, right after connecting."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from booking.models import BookingPage
from calendars.models import Calendar, Connection
from multical.lib import locks
from syncrules import state
from syncrules.models import SyncRule
from tests.factories import CalendarFactory, ConnectionFactory

pytestmark = pytest.mark.django_db

LIST = reverse("calendars:calendar_list")
STATUS = reverse("calendars:calendar_list_status")
CONNECT_ICS = reverse("calendars:connect_ics")
NEXT_STEPS = "Next: put your calendars to work"


@pytest.fixture
def account(owner) -> Connection:
    return ConnectionFactory(user=owner, label="ada @ dav.example.com")


@pytest.fixture
def work(account) -> Calendar:
    return CalendarFactory(connection=account, name="Work")


@pytest.fixture
def home(account) -> Calendar:
    return CalendarFactory(connection=account, name="Home")


def rule(owner, *, sources, targets, enabled: bool = True) -> SyncRule:
    made = SyncRule.objects.create(user=owner, name="Work blocks home", enabled=enabled)
    made.sources.set(sources)
    made.targets.set(targets)
    return made


def words(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def line_of(html: str, calendar: Calendar) -> str:
    """The calendar's state on the list, as text."""
    found = re.search(rf'id="calendar-state-{calendar.id}"[^>]*>(.*?)</div>', html, re.S)
    assert found, f"no state for {calendar.name}"
    return words(found.group(1))


def page(client) -> str:
    return client.get(LIST).content.decode()


# Each calendar's state --------------------------------------------------------------------------


def test_a_calendar_a_rule_reads_is_working_since_its_last_sync_in_the_users_zone_and_clock(
    owner, owner_client, work, home
):
    owner.time_zone, owner.clock = "America/New_York", 12
    owner.save(update_fields=["time_zone", "clock"])
    Calendar.objects.filter(id=work.id).update(
        last_synced_at=datetime(2030, 1, 7, 19, 30, tzinfo=UTC)
    )
    rule(owner, sources=[work], targets=[home])

    html = page(owner_client)

    assert line_of(html, work) == "Working Last sync Mon 7 Jan, 2:30 pm"
    assert line_of(html, home) == "Working Your rules write blocks into it"


def test_a_calendar_of_an_account_that_needs_reconnecting_says_so_and_how(
    owner, owner_client, account, work, home
):
    rule(owner, sources=[work], targets=[home])
    Connection.objects.filter(id=account.id).update(
        status=Connection.Status.NEEDS_RECONNECT,
        last_error="The server refused the user name or password.",
    )

    html = page(owner_client)

    assert line_of(html, work).startswith("Needs reconnect")
    assert "The server refused the user name or password." in html
    assert "Enter the password again" in html


def test_a_failed_sync_says_error_with_its_message(owner, owner_client, work, home):
    rule(owner, sources=[work], targets=[home])
    Calendar.objects.filter(id=work.id).update(
        last_error="The server did not answer in time.", last_error_at=timezone.now()
    )

    html = page(owner_client)

    assert line_of(html, work) == "Error Not synced yet The server did not answer in time."
    assert line_of(html, home) == "Working Your rules write blocks into it"


def test_a_calendar_no_rule_uses_says_so(owner, owner_client, work, home):
    html = page(owner_client)
    assert line_of(html, work) == "Not used by any rule"

    rule(owner, sources=[work], targets=[home], enabled=False)
    assert line_of(page(owner_client), work) == "Its rules are off"


def test_a_calendar_asked_to_sync_says_so_and_the_page_keeps_looking(
    owner, owner_client, work, home
):
    rule(owner, sources=[work], targets=[home])
    state.sync_request(calendar_id=str(work.id))

    html = page(owner_client)

    assert line_of(html, work).startswith("Sync queued")
    assert line_of(html, home).startswith("Working")
    assert f'data-live-status="{STATUS}" data-active="true"' in html


def test_a_calendar_being_synced_says_syncing(owner, owner_client, work, home):
    rule(owner, sources=[work], targets=[home])

    with locks.try_lock(state.sync_lock_name(str(work.id))) as held:
        assert held
        html = page(owner_client)

    assert line_of(html, work).startswith("Syncing…")
    assert line_of(page(owner_client), work).startswith("Working")


def test_an_idle_page_does_not_keep_looking(owner, owner_client, work, home):
    rule(owner, sources=[work], targets=[home])
    assert f'data-live-status="{STATUS}" data-active="false"' in page(owner_client)


def test_the_status_answer_renews_each_calendar_line_while_it_syncs(
    owner, owner_client, work, home
):
    rule(owner, sources=[work], targets=[home])

    with locks.try_lock(state.sync_lock_name(str(work.id))):
        syncing = owner_client.get(STATUS).json()
    idle = owner_client.get(STATUS)

    assert syncing["active"] is True
    assert words(syncing["parts"][f"calendar-state-{work.id}"]).startswith("Syncing…")
    assert idle["Cache-Control"] == "no-store"
    assert idle.json()["active"] is False
    assert words(idle.json()["parts"][f"calendar-state-{work.id}"]) == "Working Not synced yet"
    assert set(idle.json()["parts"]) == {f"calendar-state-{work.id}", f"calendar-state-{home.id}"}


def test_the_status_answer_holds_only_the_users_own_calendars(client, owner_client, outsider, work):
    client.force_login(outsider)
    assert client.get(STATUS).json() == {"active": False, "parts": {}}

    client.logout()
    response = client.get(STATUS)
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


# The ways to connect -----------------------------------------------------------------------------


def test_each_way_to_connect_says_what_it_is(owner_client, settings):
    settings.GOOGLE_CLIENT_ID = settings.MICROSOFT_CLIENT_ID = "client"

    text = words(page(owner_client))

    for said in [
        "Google Calendar Gmail or Google Workspace.",
        "Microsoft 365 / Outlook.com Work or school accounts, and personal Outlook.com",
        "iCloud The Calendar app on your iPhone, iPad or Mac.",
        "Other CalDAV server (Fastmail, Nextcloud…) Any calendar server that speaks CalDAV",
        "iCal link (read-only) A calendar published as a link",
    ]:
        assert said in text


def test_a_provider_this_server_lacks_is_explained_in_plain_words(owner_client, settings):
    settings.GOOGLE_CLIENT_ID = settings.MICROSOFT_CLIENT_ID = settings.ZOOM_CLIENT_ID = ""

    html = page(owner_client)

    for provider in ["Google", "Microsoft 365", "Zoom"]:
        assert (
            f"{provider} is not set up on this server: the person who runs this Multical server "
            "has not turned it on yet." in html
        )
    for jargon in ["CLIENT_ID", "OAuth", "operator"]:
        assert jargon not in html


def test_zoom_is_apart_from_the_calendars_under_video_meetings(owner, owner_client, account):
    ConnectionFactory(user=owner, kind=Connection.Kind.ZOOM, label="ada@zoom.example.com")

    html = page(owner_client)
    calendars_part, video_part = html.split('<h2 id="video-meetings">Video meetings</h2>')

    assert "ada @ dav.example.com" in calendars_part
    assert "ada@zoom.example.com" not in calendars_part
    assert "ada@zoom.example.com" in video_part
    assert reverse("calendars_oauth:zoom_connect") not in calendars_part
    assert reverse("calendars_oauth:zoom_connect") in video_part
    assert reverse("calendars_oauth:google_connect") not in video_part


def test_a_zoom_account_alone_is_no_calendar(owner, owner_client):
    ConnectionFactory(user=owner, kind=Connection.Kind.ZOOM, label="ada@zoom.example.com")
    assert "No calendars connected yet" in page(owner_client)


# The next step, once after connecting ------------------------------------------------------------


def test_after_connecting_the_next_step_is_offered_once(owner_client, feed):
    feed.serve_file("google.ics")
    assert NEXT_STEPS not in page(owner_client)

    response = owner_client.post(CONNECT_ICS, {"url": feed.url, "label": "Team"}, follow=True)

    html = response.content.decode()
    assert NEXT_STEPS in html
    assert reverse("booking:page_create") in html
    assert reverse("syncrules:rule_create") not in html  # a rule needs two calendars
    assert "Connect one more calendar" in html
    assert NEXT_STEPS not in page(owner_client)


def test_with_two_calendars_a_rule_is_offered_first(owner, owner_client):
    page(owner_client)
    account = ConnectionFactory(user=owner)
    CalendarFactory(connection=account, name="Work")
    CalendarFactory(connection=account, name="Home")

    html = page(owner_client)

    assert NEXT_STEPS in html
    steps = html[html.index(NEXT_STEPS) :]
    assert steps.index(reverse("syncrules:rule_create")) < steps.index(
        reverse("booking:page_create")
    )
    assert "Connect one more calendar" not in html


def test_with_a_rule_only_the_booking_page_is_offered(owner, owner_client, work, home):
    rule(owner, sources=[work], targets=[home])
    page(owner_client)
    CalendarFactory(connection=ConnectionFactory(user=owner), name="Clients")

    html = page(owner_client)

    assert NEXT_STEPS in html
    assert reverse("syncrules:rule_create") not in html
    assert reverse("booking:page_create") in html


def test_nothing_is_offered_once_there_are_rules_and_pages(owner, owner_client, work, home):
    rule(owner, sources=[work], targets=[home])
    BookingPage.objects.create(owner=owner, title="Intro call", slug="intro", durations=[30])
    page(owner_client)
    CalendarFactory(connection=ConnectionFactory(user=owner), name="Clients")

    assert NEXT_STEPS not in page(owner_client)


def test_an_account_connected_long_ago_offers_nothing_in_a_new_session(owner, owner_client):
    account = ConnectionFactory(user=owner)
    CalendarFactory(connection=account)
    Connection.objects.filter(id=account.id).update(created_at=timezone.now() - timedelta(days=2))

    assert NEXT_STEPS not in page(owner_client)
