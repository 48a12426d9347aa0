"""The portfolio's URLs: the page, the events of a range as JSON, and the calendars' preferences."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from portfolio.models import CalendarPreference
from tests.factories import DEFAULT_PASSWORD
from tests.syncrules.world import make_world, soon

pytestmark = pytest.mark.django_db

PAGE = reverse("portfolio:portfolio")
EVENTS = reverse("portfolio:events")


def week_query() -> dict[str, str]:
    return {"start": soon(0, 0).isoformat(), "end": soon(7, 0).isoformat()}


def preference_url(calendar) -> str:
    return reverse("portfolio:calendar_preference", args=[calendar.id])


def signed_in(user) -> Client:
    client = Client()
    client.login(email=user.email, password=DEFAULT_PASSWORD)
    return client


@pytest.fixture
def world(radicale_server, owner):
    world = make_world(radicale_server, owner, ["Work", "Personal"])
    world.put("Work", "standup", soon(1, 9), minutes=15, title="Stand-up", location="Room 4")
    world.put(
        "Personal",
        "dentist",
        soon(2, 8),
        title="Dentist",
        description="Bring the form: https://zoom.us/j/123456789",
    )
    return world


def test_the_page_lists_the_calendars_with_their_colours_and_loads_events_by_script(
    owner_client, world
):
    response = owner_client.get(PAGE)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert "Work" in page and "Personal" in page
    assert 'id="portfolio-config"' in page
    assert "portfolio/vendor/fullcalendar/index.global.min.js" in page
    assert "<script>" not in page  # every script is a file: ready for a CSP without inline code
    config = response.context["config"]
    assert (config["eventsUrl"], config["timeZone"]) == (EVENTS, "Europe/Berlin")
    # The user's own week start and clock (Settings), read by the page's script.
    assert (config["firstDay"], config["clock"]) == (1, 24)
    placeholder = config["calendarPlaceholder"]
    assert config["eventUrls"]["create"] == f"/portfolio/calendars/{placeholder}/event/create/"
    assert set(config["eventUrls"]) == {"open", "create", "update", "move", "remove", "reply"}


def test_without_calendars_the_page_says_how_to_start(owner_client):
    response = owner_client.get(PAGE)

    assert b"Nothing to show yet" in response.content
    assert b"fullcalendar" not in response.content


def test_the_events_of_a_range_come_as_json_without_caching(owner_client, world):
    response = owner_client.get(EVENTS, week_query())

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert body["failures"] == []
    standup, dentist = body["events"]
    work = world.calendars["Work"]
    assert standup == {
        "id": standup["id"],
        "title": "Stand-up",
        "start": soon(1, 9).isoformat().replace("+00:00", "Z"),
        "end": soon(1, 9, 15).isoformat().replace("+00:00", "Z"),
        "allDay": False,
        "calendars": [
            {"id": str(work.id), "name": "Work", "color": standup["calendars"][0]["color"]}
        ],
        # What an action on this copy names: the calendar and the event's id there.
        "refs": [{"calendar": str(work.id), "event": standup["refs"][0]["event"]}],
        "recurring": False,
        "block": False,
        "rule": "",
        "location": "Room 4",
        "videoLink": "",
        "booking": False,
        "declined": False,
        "tentative": False,
        "free": False,
    }
    assert dentist["videoLink"] == "https://zoom.us/j/123456789"
    assert "description" not in dentist  # the page shows no descriptions: they are not sent


def test_a_failing_calendar_comes_back_as_a_failure_with_its_reason(owner_client, world):
    calendar = world.calendars["Personal"]
    calendar.remote_id = calendar.remote_id.replace(world.server.url, "http://127.0.0.1:9/")
    calendar.save(update_fields=["remote_id"])

    body = owner_client.get(EVENTS, week_query()).json()

    assert [event["title"] for event in body["events"]] == ["Stand-up"]
    assert body["failures"] == [
        {
            "calendar": {"id": str(calendar.id), "name": "Personal"},
            "reason": "The CalDAV server could not be reached.",
            "needsReconnect": False,
        }
    ]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({}, "start is required"),
        ({"start": "2026-03-02T00:00:00Z"}, "end is required"),
        ({"start": "next monday", "end": "2026-03-09T00:00:00Z"}, "start is not an ISO 8601"),
        (
            {"start": "2026-03-02T00:00:00", "end": "2026-03-09T00:00:00Z"},
            "start needs a UTC offset",
        ),
        ({"start": "2026-03-02", "end": "2026-03-09T00:00:00Z"}, "start needs a UTC offset"),
        (
            {"start": "2026-03-09T00:00:00Z", "end": "2026-03-02T00:00:00Z"},
            "end must be after start",
        ),
        (
            {"start": "2026-03-02T00:00:00Z", "end": "2026-03-02T00:00:00Z"},
            "end must be after start",
        ),
        ({"start": "2026-03-01T00:00:00Z", "end": "2026-04-13T00:00:00Z"}, "at most 42 days"),
        ({"start": "0001-01-01T00:00:00+05:00", "end": "2026-03-09T00:00:00Z"}, "out of range"),
        ({"start": "2026-03-02T00:00:00Z", "end": "9999-03-09T00:00:00Z"}, "end is out of range"),
    ],
)
def test_a_bad_range_is_refused_with_a_message(owner_client, world, query, message):
    response = owner_client.get(EVENTS, query)

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert "no-store" in response["Cache-Control"]


def test_a_six_week_month_across_a_daylight_saving_change_is_accepted(owner_client, world):
    # Berlin's month view of October 2026 spans the return to winter time: an hour over 42 days.
    start = datetime(2026, 9, 27, 22, tzinfo=UTC)  # 28 Sep, midnight in Berlin (summer time)
    end = datetime(2026, 11, 8, 23, tzinfo=UTC)  # 9 Nov, midnight in Berlin (winter time)
    assert end - start == timedelta(days=42, hours=1)

    response = owner_client.get(EVENTS, {"start": start.isoformat(), "end": end.isoformat()})

    assert response.status_code == 200


def test_an_offset_whose_plus_arrived_as_a_space_is_still_read(owner_client, world):
    response = owner_client.get(
        f"{EVENTS}?start=2026-03-02T00:00:00+01:00&end=2026-03-09T00:00:00+01:00"
    )

    assert response.status_code == 200


def test_anonymous_visitors_get_nothing_from_any_portfolio_url(client, world):
    page = client.get(PAGE)
    events = client.get(EVENTS, week_query())
    preference = client.post(preference_url(world.calendars["Work"]), {"shown": "0"})

    assert page.status_code == 302 and page["Location"].startswith(reverse("accounts:login"))
    assert events.status_code == 401
    assert events.json() == {"error": "Log in to see your calendars."}
    assert preference.status_code == 302
    assert preference["Location"].startswith(reverse("accounts:login"))
    assert not CalendarPreference.objects.exists()


def test_another_user_gets_nothing_of_the_owners_calendars(world, outsider):
    client = signed_in(outsider)

    page = client.get(PAGE)
    events = client.get(EVENTS, week_query())
    preference = client.post(preference_url(world.calendars["Work"]), {"shown": "0"})

    assert b"Work" not in page.content and b"Nothing to show yet" in page.content
    assert events.json() == {"events": [], "failures": []}
    assert preference.status_code == 404
    assert not CalendarPreference.objects.exists()


def test_a_hidden_calendar_is_remembered_and_not_read(owner_client, world):
    work = world.calendars["Work"]

    response = owner_client.post(
        preference_url(work), {"shown": "0"}, headers={"accept": "application/json"}
    )

    assert response.json()["id"] == str(work.id)
    assert response.json()["shown"] is False
    body = owner_client.get(EVENTS, week_query()).json()
    assert [event["title"] for event in body["events"]] == ["Dentist"]
    page = owner_client.get(PAGE).content.decode()
    assert f'data-calendar="{work.id}"' in page  # still listed, to be shown again


def test_the_form_without_script_posts_the_checkbox_state_and_comes_back(owner_client, world):
    work = world.calendars["Work"]

    hidden = owner_client.post(preference_url(work), {"shown": "0", "color": "#AA3300"})
    shown = owner_client.post(preference_url(work), {"shown": ["0", "1"]})

    assert hidden.status_code == shown.status_code == 302
    assert hidden["Location"] == PAGE
    preference = CalendarPreference.objects.get(calendar=work)
    assert (preference.color, preference.shown) == ("#aa3300", True)


def test_a_chosen_colour_replaces_the_providers_and_can_be_reset(owner_client, world):
    work = world.calendars["Work"]
    accept = {"accept": "application/json"}

    chosen = owner_client.post(preference_url(work), {"color": "#12ab34"}, headers=accept).json()
    events = owner_client.get(EVENTS, week_query()).json()["events"]
    reset = owner_client.post(preference_url(work), {"color": ""}, headers=accept).json()

    assert chosen["color"] == "#12ab34" and chosen["shown"] is True
    assert events[0]["calendars"][0]["color"] == "#12ab34"
    assert reset["color"] != "#12ab34" and reset["color"].startswith("#")


def test_a_calendar_gets_a_name_of_the_users_own_and_shows_its_blocks_when_asked(
    owner_client, world
):
    work = world.calendars["Work"]
    accept = {"accept": "application/json"}
    world.rule(["Work"], ["Personal"], name="Work into Personal")
    world.sync("Work")  # the stand-up's block lands in Personal
    personal = world.calendars["Personal"]

    renamed = owner_client.post(
        preference_url(work), {"display_name": "Day job"}, headers=accept
    ).json()
    hidden = owner_client.get(EVENTS, week_query()).json()["events"]
    owner_client.post(preference_url(personal), {"show_blocks": "1"}, headers=accept)
    shown = owner_client.get(EVENTS, week_query()).json()["events"]

    assert renamed["name"] == "Day job"
    assert [c["name"] for e in hidden for c in e["calendars"] if c["id"] == str(work.id)] == [
        "Day job"
    ]
    assert [e for e in hidden if e["block"]] == []
    (block,) = [e for e in shown if e["block"]]
    assert block["rule"] == "Work into Personal"
    assert block["calendars"][0]["id"] == str(personal.id)
    page = owner_client.get(PAGE).content.decode()
    assert 'value="Day job"' in page and "Show the blocks sync writes here" in page


def test_a_bad_colour_is_refused(owner_client, world):
    response = owner_client.post(
        preference_url(world.calendars["Work"]),
        {"color": "red; background: url(x)"},
        headers={"accept": "application/json"},
    )

    assert response.status_code == 400
    assert "color" in response.json()["errors"]
    assert not CalendarPreference.objects.exists()


def test_preferences_need_the_csrf_token_and_a_post(world, owner):
    client = Client(enforce_csrf_checks=True)
    client.login(email=owner.email, password=DEFAULT_PASSWORD)
    url = preference_url(world.calendars["Work"])

    assert client.post(url, {"shown": "0"}).status_code == 403
    assert client.get(url).status_code == 405
    assert not CalendarPreference.objects.exists()


def test_event_reads_are_rate_limited_per_account(owner_client, world, settings, second_user):
    settings.PORTFOLIO_FETCH_RATE = "2/m"
    address = {"REMOTE_ADDR": "198.51.100.77"}

    answers = [owner_client.get(EVENTS, week_query(), **address).status_code for _ in range(3)]
    elsewhere = owner_client.get(EVENTS, week_query(), REMOTE_ADDR="198.51.100.78")
    colleague = Client(**address)
    colleague.force_login(second_user)
    same_address = colleague.get(EVENTS, week_query())

    assert answers == [200, 200, 429]
    assert elsewhere.status_code == 429  # the account's budget, from any address
    assert same_address.status_code == 200  # another account behind the same address has its own


def test_json_with_markup_in_titles_stays_data(owner_client, radicale_server, owner):
    world = make_world(radicale_server, owner, ["Work"])
    world.put("Work", "x", soon(1, 9), title="</script><img src=x onerror=alert(1)>")

    response = owner_client.get(EVENTS, week_query())

    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["events"][0]["title"].startswith("</script>")
