"""A new event with a Zoom meeting, through the portfolio's create endpoint: the meeting made at the
Zoom fake and its link in the event written to a real Radicale; Zoom's refusals and an all-day
event said in words, with nothing written to the calendar."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from django.urls import reverse

from calendars.models import Calendar, Connection
from portfolio.actions import NO_ZOOM
from tests.portfolio.world import GOOGLE_CALENDAR
from tests.syncrules.world import World, make_world, soon

pytestmark = pytest.mark.django_db


def create_url(calendar: Calendar) -> str:
    return reverse("portfolio:event_create", args=[calendar.id])


def new_event(**fields: object) -> dict[str, object]:
    start = soon(2, 10)
    return {
        "title": "Client kick-off",
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=45)).isoformat(),
        "time_zone": "Europe/Berlin",
        "description": "Agenda to follow.",
        "zoom": "on",
        **fields,
    }


@pytest.fixture
def world(radicale_server, owner) -> World:
    return make_world(radicale_server, owner, ["Work"])


def test_an_event_created_with_zoom_gets_a_meeting_and_carries_its_link(
    owner_client, world, zoom, zoom_fake
):
    response = owner_client.post(create_url(world.calendars["Work"]), new_event())

    assert response.status_code == 201, response.content
    (meeting,) = zoom_fake.meetings.values()
    start = soon(2, 10)
    assert meeting["topic"] == "Client kick-off"
    assert meeting["start_time"] == start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (meeting["duration"], meeting["timezone"]) == (45, "Europe/Berlin")
    (stored,) = world.own_events("Work")
    assert str(stored["LOCATION"]) == meeting["join_url"]
    assert str(stored["DESCRIPTION"]) == f"Agenda to follow.\n\nJoin Zoom: {meeting['join_url']}"
    assert response.json()["event"]["location"] == meeting["join_url"]


def test_without_the_box_ticked_no_meeting_is_made(owner_client, world, zoom, zoom_fake):
    response = owner_client.post(create_url(world.calendars["Work"]), new_event(zoom=""))

    assert response.status_code == 201, response.content
    assert zoom_fake.meetings == {}
    (stored,) = world.own_events("Work")
    assert "LOCATION" not in stored


def test_zoom_refusing_the_authorization_is_an_error_in_words_and_nothing_is_written(
    owner_client, world, zoom, zoom_fake
):
    zoom_fake.revoke()  # the user removed the app at Zoom

    response = owner_client.post(create_url(world.calendars["Work"]), new_event())

    assert response.status_code == 502
    assert "reconnect Zoom" in response.json()["error"]
    assert zoom_fake.meetings == {}
    assert world.own_events("Work") == []
    zoom.refresh_from_db()
    assert zoom.status == Connection.Status.NEEDS_RECONNECT


def test_zoom_busy_is_a_retry_later_and_nothing_is_written(owner_client, world, zoom, zoom_fake):
    zoom_fake.throttle(1, retry_after=12)

    response = owner_client.post(create_url(world.calendars["Work"]), new_event())

    assert response.status_code == 503
    assert response["Retry-After"] == "12"
    assert response.json()["error"]
    assert world.own_events("Work") == []
    zoom.refresh_from_db()
    assert zoom.status == Connection.Status.OK


def test_an_all_day_event_with_zoom_is_refused_in_words(owner_client, world, zoom, zoom_fake):
    day = soon(3).date().isoformat()

    response = owner_client.post(
        create_url(world.calendars["Work"]),
        new_event(all_day="on", start=day, end=day),
    )

    assert response.status_code == 403
    assert "needs a start time" in response.json()["error"]
    assert zoom_fake.requests == []
    assert world.own_events("Work") == []


def test_without_a_zoom_connection_the_meeting_is_refused_in_words(owner_client, world):
    response = owner_client.post(create_url(world.calendars["Work"]), new_event())

    assert response.status_code == 403
    assert response.json()["error"] == NO_ZOOM
    assert world.own_events("Work") == []


def test_a_meeting_whose_event_could_not_be_written_is_deleted_again(
    owner_client, mixed, zoom, zoom_fake
):
    mixed.google.fail_next(5, status=503, methods=("POST",))

    response = owner_client.post(create_url(mixed.calendars["Family"]), new_event())

    assert response.status_code == 503, response.content
    assert mixed.google.live_events(GOOGLE_CALENDAR) == []
    assert [r.method for r in zoom_fake.requests if "meetings" in r.path] == ["POST", "DELETE"]
    assert zoom_fake.meetings == {}
