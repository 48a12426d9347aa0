from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from api.scopes import Scope
from tests.portfolio.world import block_marker
from tests.syncrules.world import make_world, soon

pytestmark = pytest.mark.django_db


def _range(**params):
    start = soon(0, 0)
    return {"start": start.isoformat(), "end": (start + timedelta(days=7)).isoformat(), **params}


@pytest.fixture
def world(radicale_server, owner):
    world = make_world(radicale_server, owner, ["Work", "Home"])
    world.put("Work", "standup", soon(1, 9), title="Stand-up", location="Room 4")
    world.put("Home", "dentist", soon(2, 15), title="Dentist")
    return world


def test_events_are_read_live_in_time_order(owner, make_api, world):
    api = make_api(owner, scopes=[Scope.EVENTS_READ])

    response = api.get("/events", **_range())

    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    items = response.json()["items"]
    assert [item["title"] for item in items] == ["Stand-up", "Dentist"]
    assert items[0]["location"] == "Room 4"
    assert items[0]["calendar_ids"] == [str(world.calendars["Work"].id)]


def test_blocks_sync_wrote_are_left_out(owner, make_api, world):
    world.put("Work", "a-block", soon(3, 10), title="Busy", extra=block_marker(str(uuid.uuid4())))

    titles = [item["title"] for item in make_api(owner).get("/events", **_range()).json()["items"]]

    assert titles == ["Stand-up", "Dentist"]


def test_the_range_is_checked(owner_api, world):
    start = soon(0, 0)
    for params in [
        {"start": "yesterday", "end": start.isoformat()},
        {"start": start.isoformat(), "end": (start + timedelta(days=60)).isoformat()},
        {"start": start.replace(tzinfo=None).isoformat(), "end": start.isoformat()},
    ]:
        response = owner_api.get("/events", **params)
        assert response.status_code == 422
        assert response["Content-Type"] == "application/problem+json"


def test_events_need_their_own_scope(owner, make_api, world):
    api = make_api(owner, scopes=[Scope.CALENDARS_READ, Scope.BOOKINGS_WRITE])

    assert api.get("/events", **_range()).status_code == 403


def test_reads_share_the_portfolios_budget(owner, make_api, world, settings):
    settings.PORTFOLIO_FETCH_RATE = "2/15m"
    api = make_api(owner)

    assert [api.get("/events", **_range()).status_code for _ in range(2)] == [200, 200]
    refused = api.get("/events", **_range())

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0


def test_another_users_calendars_are_not_read(owner, second_user, make_api, world):
    theirs = make_api(second_user)

    body = theirs.get("/events", **_range(calendar=[str(world.calendars["Work"].id)])).json()

    assert body == {"items": [], "failures": []}
