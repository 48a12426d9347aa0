"""Acting on events from the portfolio (``portfolio.actions`` and its JSON endpoints), against a
real Radicale: create, open, change, delete; refusals in plain words; the sync queued at once;
nothing of the event kept."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse

from calendars.models import Calendar, Connection
from calendars.services import connection_connect_ics
from syncrules.models import SyncState
from tests.syncrules.rule_page_helpers import ics_feed
from tests.syncrules.world import World, make_world, soon

pytestmark = pytest.mark.django_db


def url(name: str, calendar: Calendar) -> str:
    return reverse(f"portfolio:{name}", args=[calendar.id])


def new_event(**fields: object) -> dict[str, object]:
    start = soon(2, 10)
    return {
        "title": "Quarterly planning",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "time_zone": "Europe/Berlin",
        "location": "Room 7",
        "description": "Bring the figures.",
        **fields,
    }


@pytest.fixture
def world(radicale_server, owner) -> World:
    return make_world(radicale_server, owner, ["Work", "Personal"])


def test_an_event_is_created_read_back_and_its_calendar_synced_at_once(
    owner_client, world, django_capture_on_commit_callbacks
):
    work = world.calendars["Work"]

    with django_capture_on_commit_callbacks():
        response = owner_client.post(url("event_create", work), new_event())

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["event"]["title"] == "Quarterly planning"
    assert body["event"]["location"] == "Room 7"
    assert body["editable"] is True and body["keeper"] is None
    assert body["etag"]
    (stored,) = world.own_events("Work")
    assert str(stored["SUMMARY"]) == "Quarterly planning"
    # The blocks copied from this calendar follow at once: its sync is asked for.
    assert SyncState.objects.filter(calendar=work).exists()


def test_an_event_is_opened_changed_and_removed_by_its_id(owner_client, world):
    work = world.calendars["Work"]
    created = owner_client.post(url("event_create", work), new_event()).json()
    event_id, etag = created["event"]["id"], created["etag"]

    opened = owner_client.get(url("event", work), {"event": event_id})
    assert opened.status_code == 200
    assert opened.json()["event"]["description"] == "Bring the figures."

    later = soon(3, 15)
    changed = owner_client.post(
        url("event_update", work),
        new_event(
            event=event_id,
            etag=etag,
            title="Planning, moved",
            start=later.isoformat(),
            end=(later + timedelta(minutes=30)).isoformat(),
        ),
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["event"]["title"] == "Planning, moved"
    (stored,) = world.own_events("Work")
    assert stored["DTSTART"].dt == later

    removed = owner_client.post(
        url("event_remove", work), {"event": event_id, "etag": changed.json()["etag"]}
    )
    assert removed.status_code == 200
    assert world.own_events("Work") == []


def test_a_change_made_elsewhere_meanwhile_is_not_overwritten(owner_client, world):
    work = world.calendars["Work"]
    created = owner_client.post(url("event_create", work), new_event()).json()
    stale_etag = created["etag"]
    owner_client.post(
        url("event_update", work),
        new_event(event=created["event"]["id"], etag=stale_etag, title="Changed in another tab"),
    )

    response = owner_client.post(
        url("event_update", work),
        new_event(event=created["event"]["id"], etag=stale_etag, title="Mine"),
    )

    assert response.status_code == 409
    body = response.json()
    assert "changed" in body["error"]
    assert body["current"]["event"]["title"] == "Changed in another tab"
    (stored,) = world.own_events("Work")
    assert str(stored["SUMMARY"]) == "Changed in another tab"


def test_an_ical_link_is_read_only_and_says_so(owner, owner_client, feed):
    feed.serve(ics_feed(name="Club"))
    connection = connection_connect_ics(user=owner, url=feed.url, label="Club", ip_address=None)
    calendar = connection.calendars.get()

    response = owner_client.post(url("event_create", calendar), new_event())

    assert response.status_code == 403
    assert "iCal link" in response.json()["error"]


def test_a_read_only_calendar_and_an_account_to_reconnect_are_refused_in_plain_words(
    owner_client, world
):
    work, personal = world.calendars["Work"], world.calendars["Personal"]
    Calendar.objects.filter(id=work.id).update(read_only=True)
    Connection.objects.filter(id=world.connection.id).update(
        status=Connection.Status.NEEDS_RECONNECT
    )

    read_only = owner_client.post(url("event_create", work), new_event())
    reconnect = owner_client.post(url("event_create", personal), new_event())

    assert read_only.status_code == reconnect.status_code == 403
    assert "reconnected" in reconnect.json()["error"]
    Connection.objects.filter(id=world.connection.id).update(status=Connection.Status.OK)
    read_only = owner_client.post(url("event_create", work), new_event())
    assert read_only.status_code == 403
    assert "read-only" in read_only.json()["error"]
    assert world.own_events("Work") == world.own_events("Personal") == []


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"end": soon(2, 9).isoformat()}, "end", "The end must be after the start."),
        ({"start": "tomorrow"}, "start", "start is not an ISO 8601 date and time."),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "Choose a time zone from the list."),
        (
            {"all_day": "on", "start": "2031-05-04", "end": "2031-05-02"},
            "end",
            "The last day cannot be before the first.",
        ),
        ({"title": "x" * 501}, "title", "Ensure this value has at most 500 characters"),
    ],
)
def test_bad_input_gets_a_field_error_and_nothing_is_written(
    owner_client, world, fields, field, message
):
    response = owner_client.post(url("event_create", world.calendars["Work"]), new_event(**fields))

    assert response.status_code == 400
    errors = [error["message"] for error in response.json()["fields"][field]]
    assert any(error.startswith(message) for error in errors), errors
    assert world.own_events("Work") == []


def test_an_all_day_event_spans_the_days_people_name(owner_client, world):
    work = world.calendars["Work"]

    response = owner_client.post(
        url("event_create", work),
        new_event(all_day="on", start="2031-05-04", end="2031-05-05", time_zone=""),
    )

    assert response.status_code == 201, response.content
    event = response.json()["event"]
    assert (event["allDay"], event["start"], event["end"]) == (True, "2031-05-04", "2031-05-06")


def test_a_visitor_is_answered_401_and_nothing_is_written(client, world):
    response = client.post(url("event_create", world.calendars["Work"]), new_event())

    assert response.status_code == 401
    assert json.loads(response.content)["error"] == "Log in to change your calendars."
    assert world.own_events("Work") == []


def test_a_drag_reads_the_calendar_once_and_queues_its_sync(
    owner_client, world, django_assert_num_queries
):
    work = world.calendars["Work"]
    created = owner_client.post(url("event_create", work), new_event()).json()
    later = soon(4, 7)
    moved = {
        "event": created["event"]["id"],
        "etag": created["etag"],
        "start": later.isoformat(),
        "end": (later + timedelta(minutes=30)).isoformat(),
    }

    # The signed-in user, the calendar with its connection and preference, the sync's request.
    with django_assert_num_queries(3):
        response = owner_client.post(url("event_move", work), moved)

    assert response.status_code == 200, response.content


def test_a_dragged_event_keeps_everything_but_its_times(owner_client, world):
    work = world.calendars["Work"]
    created = owner_client.post(url("event_create", work), new_event()).json()
    later = soon(4, 7)

    moved = owner_client.post(
        url("event_move", work),
        {
            "event": created["event"]["id"],
            "etag": created["etag"],
            "start": later.isoformat(),
            "end": (later + timedelta(minutes=90)).isoformat(),
        },
    )

    assert moved.status_code == 200, moved.content
    (stored,) = world.own_events("Work")
    assert (stored["DTSTART"].dt, stored["DTEND"].dt) == (later, later + timedelta(minutes=90))
    assert str(stored["SUMMARY"]) == "Quarterly planning"
    assert str(stored["DESCRIPTION"]) == "Bring the figures."
    assert str(stored["LOCATION"]) == "Room 7"
