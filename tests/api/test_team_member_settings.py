"""A member's own side of a team page through the API (``/team-pages/{id}/me``): the calendars
that make them busy, the one meetings are added to and their own hours, read and set by them
alone, checked as the console's form for it checks them."""

from __future__ import annotations

import random
import uuid
from datetime import datetime

import pytest
from django.test import Client

from api.routes.pages import DAYS
from booking.models import TeamPage, TeamPageMember
from tests.booking.pages import at, days_ahead
from tests.booking.team_world import make_team
from tests.factories import CalendarFactory

pytestmark = pytest.mark.django_db

NINE_TO_FIVE = {"start": "09:00", "end": "17:00"}
CLOSED: dict[str, list[dict[str, str]]] = {name: [] for name in DAYS}


@pytest.fixture(autouse=True)
def generous_limits(settings):
    settings.BOOKING_BROWSE_RATE = "10000/m"
    settings.RATE_LIMIT_DEFAULT = "10000/m"
    settings.API_KEY_RATE = "10000/m"


def _problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    return body


def _errors(response) -> dict[str, str]:
    return {e["field"]: e["message"] for e in _problem(response, 422, "invalid")["errors"]}


def _row(page: TeamPage, user) -> TeamPageMember:
    return TeamPageMember.objects.get(page=page, user=user)


def test_a_member_reads_and_changes_their_own_settings_for_a_page(radicale_server, make_api):
    team = make_team(radicale_server, size=2)
    page = team.page()
    member = team.users[1]
    work = team.worlds[member.id].calendars["work"]
    home = CalendarFactory(connection=team.worlds[member.id].connection, name="Home")
    api = make_api(member, ["pages:read", "pages:write"])
    url = f"/team-pages/{page.id}/me"

    assert api.get(url).json() == {
        "busy_in_all_calendars": True,
        "busy_calendars": [],
        "write_calendar": str(work.id),
        "time_zone": None,
        "weekly_hours": CLOSED,
    }

    changed = api.patch(
        url,
        {
            "busy_calendars": [str(home.id)],
            "write_calendar": str(home.id),
            "time_zone": "Asia/Tokyo",
            "weekly_hours": {
                "monday": [NINE_TO_FIVE],
                "friday": [{"start": "20:00", "end": "24:00"}],
            },
        },
    )

    assert changed.status_code == 200, changed.content
    assert changed.json() == {
        "busy_in_all_calendars": False,
        "busy_calendars": [str(home.id)],
        "write_calendar": str(home.id),
        "time_zone": "Asia/Tokyo",
        "weekly_hours": {
            **CLOSED,
            "monday": [NINE_TO_FIVE],
            "friday": [{"start": "20:00", "end": "24:00"}],
        },
    }
    assert api.get(url).json() == changed.json()
    row = _row(page, member)
    assert (row.time_zone, row.weekly_hours) == (
        "Asia/Tokyo",
        {"1": [[540, 1020]], "5": [[1200, 1440]]},
    )
    assert list(row.busy_calendars.all()) == [home]

    back = api.patch(url, {"weekly_hours": {}, "busy_in_all_calendars": True}).json()
    assert (back["time_zone"], back["weekly_hours"]) == (None, CLOSED)
    assert (back["busy_in_all_calendars"], back["busy_calendars"]) == (True, [])
    assert back["write_calendar"] == str(home.id)
    row.refresh_from_db()
    assert (row.time_zone, row.weekly_hours, row.busy_in_all_calendars) == ("", {}, True)
    assert api.patch(url, {"write_calendar": None}).json()["write_calendar"] is None
    assert (
        _row(page, team.users[0]).write_calendar == team.worlds[team.users[0].id].calendars["work"]
    )


def test_a_calendar_not_the_members_own_is_refused_on_its_field(radicale_server, make_api):
    team = make_team(radicale_server, size=2)
    page = team.page()
    admin, member = team.users
    foreign = team.worlds[admin.id].calendars["work"]
    foreign.name = "Secret board calendar"
    foreign.save(update_fields=["name"])
    read_only = CalendarFactory(connection=team.worlds[member.id].connection, read_only=True)
    api = make_api(member)
    url = f"/team-pages/{page.id}/me"
    before = list(TeamPageMember.objects.values())

    theirs = api.patch(url, {"busy_calendars": [str(foreign.id)]})
    nobodys_id = str(uuid.uuid4())
    nobodys = api.patch(url, {"busy_calendars": [nobodys_id]})

    assert list(_errors(theirs)) == ["busy_calendars"]
    assert _errors(theirs)["busy_calendars"].replace(str(foreign.id), "?") == _errors(nobodys)[
        "busy_calendars"
    ].replace(nobodys_id, "?")
    assert "Secret" not in theirs.content.decode()
    assert list(_errors(api.patch(url, {"write_calendar": str(foreign.id)}))) == ["write_calendar"]
    assert list(_errors(api.patch(url, {"write_calendar": str(read_only.id)}))) == [
        "write_calendar"
    ]
    assert list(_errors(api.patch(url, {"busy_in_all_calendars": False}))) == ["busy_calendars"]
    assert list(_errors(api.patch(url, {"time_zone": "Asia/Tokyo"}))) == ["time_zone"]
    backwards = {"monday": [{"start": "12:00", "end": "09:00"}]}
    assert list(_errors(api.patch(url, {"weekly_hours": backwards}))) == ["weekly_hours.monday"]
    wrong_zone = {"time_zone": "Mars/Base", "weekly_hours": {"monday": [NINE_TO_FIVE]}}
    assert list(_errors(api.patch(url, wrong_zone))) == ["time_zone"]
    assert list(TeamPageMember.objects.values()) == before


def test_only_people_on_the_page_have_settings_for_it(radicale_server, make_api, outsider):
    team = make_team(radicale_server, size=3)
    other = make_team(radicale_server, size=1, handle="globex", name="Globex")
    page = team.page()
    admin, member, apart = team.users
    TeamPageMember.objects.filter(page=page, user__in=[admin, apart]).delete()
    before = list(TeamPageMember.objects.values())
    url = f"/team-pages/{page.id}/me"
    body = {"busy_in_all_calendars": True, "write_calendar": None}

    # The admin sees the page and runs it, but has no side of it: /me is never someone else.
    for user in (admin, apart, other.users[0], outsider):
        api = make_api(user)
        assert [api.get(url).status_code, api.patch(url, body).status_code] == [404, 404], user
    assert list(TeamPageMember.objects.values()) == before
    foreign = other.page()
    answer = make_api(member).get(f"/team-pages/{foreign.id}/me")
    _problem(answer, 404, "not_found")
    assert make_api(member).get(url).status_code == 200


def test_a_key_without_the_write_scope_reads_but_changes_nothing(radicale_server, make_api):
    team = make_team(radicale_server, size=1)
    page = team.page()
    reader = make_api(team.users[0], ["pages:read"])

    assert reader.get(f"/team-pages/{page.id}/me").status_code == 200
    refused = reader.patch(f"/team-pages/{page.id}/me", {"write_calendar": None})
    _problem(refused, 403, "insufficient_scope")
    assert _row(page, team.users[0]).write_calendar is not None
    _problem(
        make_api(team.users[0], ["bookings:read"]).get(f"/team-pages/{page.id}/me"),
        403,
        "insufficient_scope",
    )


def test_own_hours_narrow_the_times_the_page_offers(
    radicale_server, make_api, django_capture_on_commit_callbacks
):
    team = make_team(radicale_server, size=1)
    day = days_ahead(5)
    page = team.page(weekly_hours={str(day.isoweekday()): [[9 * 60, 12 * 60]]})
    api = make_api(team.users[0], ["pages:read", "pages:write"])
    query = {"start": day.isoformat(), "end": day.isoformat()}
    visitor = Client(REMOTE_ADDR=f"10.{random.randrange(256)}.{random.randrange(256)}.9")

    def offered() -> list[datetime]:
        response = api.get(f"/team-pages/{page.id}/slots", **query)
        assert response.status_code == 200, response.content
        public = visitor.get(f"/api/v1/public/acme/{page.slug}/slots", query)
        assert public.json() == response.json()
        return [datetime.fromisoformat(slot["start"]) for slot in response.json()["slots"]]

    assert len(offered()) == 6
    # 19:00 to 20:00 in Tokyo (no summer time) is 10:00 to 11:00 in the page's UTC.
    hours = {DAYS[day.isoweekday() - 1]: [{"start": "19:00", "end": "20:00"}]}
    # The page's times are kept until the change commits.
    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(
            f"/team-pages/{page.id}/me", {"time_zone": "Asia/Tokyo", "weekly_hours": hours}
        )
    assert response.status_code == 200, response.content

    assert offered() == [at(day, 10), at(day, 10, 30)]
