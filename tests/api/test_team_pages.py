"""Team pages through the API: read by whoever the console shows them to, changed by the
organization's owners and admins through the console's form, their open times as their public page
offers them, and nothing of them for anyone outside the organization."""

from __future__ import annotations

import random
import re
import warnings
from datetime import datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from booking.models import Profile, TeamPage, TeamPageMember
from booking.team_availability import team_members, team_slots
from calendars.models import Calendar
from integrations.base import Window
from orgs.models import Membership, Role
from orgs.services import membership_remove
from tests.booking.pages import at, days_ahead, make_host
from tests.booking.team_world import make_team

pytestmark = pytest.mark.django_db

NINE_TO_FIVE = {"start": "09:00", "end": "17:00"}


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


def _fields(response) -> list[str]:
    return [error["field"] for error in _problem(response, 422, "invalid")["errors"]]


def _new_page(team, **fields: object) -> dict:
    return {
        "organization_id": str(team.organization.id),
        "title": "Sales demo",
        "slug": "sales",
        "members": [{"user_id": str(user.id)} for user in team.users],
        **fields,
    }


def test_an_admin_reads_every_team_page_and_a_member_the_pages_they_are_on(
    radicale_server, make_api
):
    team = make_team(radicale_server)
    admin, member, _third = team.users
    shared = team.page(title="Everyone")
    apart = team.page(TeamPage.Kind.COLLECTIVE, title="Without the member")
    TeamPageMember.objects.filter(page=apart, user=member).delete()

    by_admin = make_api(admin, ["pages:read"]).get("/team-pages")
    by_member = make_api(member, ["pages:read"]).get("/team-pages")

    assert [item["id"] for item in by_admin.json()["items"]] == [str(shared.id), str(apart.id)]
    assert [item["id"] for item in by_member.json()["items"]] == [str(shared.id)]
    assert make_api(member).get(f"/team-pages/{apart.id}").status_code == 404
    assert make_api(member).get(f"/team-pages/{apart.id}/slots").status_code == 404


def test_a_team_page_shows_its_members_but_none_of_their_calendars(radicale_server, make_api):
    team = make_team(radicale_server)
    page = team.page(weekly_hours={"1": [[540, 1020]], "2": [[540, 1020]]})
    Calendar.objects.filter(connection__user__in=team.users).update(name="Secret board calendar")
    TeamPageMember.objects.filter(page=page, user=team.users[2]).update(weight=3, priority=7)

    response = make_api(team.users[1]).get(f"/team-pages/{page.id}")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["kind"] == "round_robin"
    assert body["organization_id"] == str(team.organization.id)
    assert body["public_url"].endswith(f"/book/acme/{page.slug}/")
    assert body["durations"] == [30]
    assert body["weekly_hours"]["monday"] == [NINE_TO_FIVE]
    assert body["weekly_hours"]["sunday"] == []
    assert body["members"] == [
        {"user_id": str(user.id), "display_name": f"Person {n}", "weight": 1, "priority": n}
        for n, user in enumerate(team.users[:2])
    ] + [{"user_id": str(team.users[2].id), "display_name": "Person 2", "weight": 3, "priority": 7}]
    assert "Secret board" not in response.content.decode()
    assert "calendar" not in str(body["members"])


def test_the_list_is_filtered_by_organization_and_paged(radicale_server, make_api):
    team = make_team(radicale_server, size=1)
    other = make_team(radicale_server, size=1, handle="globex", name="Globex")
    Membership.objects.create(organization=other.organization, user=team.users[0], role=Role.ADMIN)
    pages = [team.page(slug=f"p{n}") for n in range(3)]
    other.page()
    api = make_api(team.users[0])

    first = api.get("/team-pages", organization_id=str(team.organization.id), limit=2).json()
    rest = api.get(
        "/team-pages",
        organization_id=str(team.organization.id),
        limit=2,
        cursor=first["next_cursor"],
    ).json()

    assert [item["id"] for item in first["items"] + rest["items"]] == [str(p.id) for p in pages]
    assert rest["next_cursor"] is None
    assert len(api.get("/team-pages").json()["items"]) == 4
    wrong = api.get("/team-pages", cursor=first["next_cursor"])
    assert _fields(wrong) == ["cursor"]


def test_an_admin_creates_changes_sets_members_of_and_deletes_a_team_page(
    radicale_server, make_api
):
    team = make_team(radicale_server)
    admin = make_api(team.users[0], ["pages:write"])
    first, second, third = team.users

    made = admin.post(
        "/team-pages",
        _new_page(
            team,
            kind="collective",
            durations=[45, 30],
            weekly_hours={"monday": [NINE_TO_FIVE], "friday": [NINE_TO_FIVE]},
            members=[{"user_id": str(second.id)}, {"user_id": str(first.id), "priority": 2}],
        ),
    )

    assert made.status_code == 201, made.content
    body = made.json()
    page = TeamPage.objects.get(id=body["id"])
    assert (page.kind, page.title, page.slug, page.durations) == (
        "collective",
        "Sales demo",
        "sales",
        [45, 30],
    )
    assert page.weekly_hours == {"1": [[540, 1020]], "5": [[540, 1020]]}
    assert [m["user_id"] for m in body["members"]] == [str(second.id), str(first.id)]
    assert (page.minimum_notice, page.horizon_days, page.active) == (240, 60, True)

    changed = admin.patch(f"/team-pages/{page.id}", {"title": "Demo", "active": False})
    assert changed.status_code == 200, changed.content
    page.refresh_from_db()
    assert (page.title, page.active, page.kind, page.durations) == (
        "Demo",
        False,
        "collective",
        [45, 30],
    )
    assert page.weekly_hours == {"1": [[540, 1020]], "5": [[540, 1020]]}
    assert changed.json()["members"] == body["members"]

    whole_day = admin.patch(
        f"/team-pages/{page.id}", {"weekly_hours": {"sunday": [{"start": "00:00", "end": "24:00"}]}}
    )
    assert whole_day.json()["weekly_hours"]["sunday"] == [{"start": "00:00", "end": "24:00"}]
    page.refresh_from_db()
    assert page.weekly_hours == {"7": [[0, 1440]]}

    members = admin.put(
        f"/team-pages/{page.id}/members",
        {"members": [{"user_id": str(third.id), "weight": 4}]},
    )
    assert members.status_code == 200, members.content
    assert [(m["user_id"], m["weight"]) for m in members.json()["members"]] == [(str(third.id), 4)]
    assert page.title == TeamPage.objects.get(id=page.id).title

    assert admin.delete(f"/team-pages/{page.id}").status_code == 204
    assert not TeamPage.objects.filter(id=page.id).exists()
    _problem(admin.delete(f"/team-pages/{page.id}"), 404, "not_found")


def test_a_members_calendar_choice_survives_a_change_of_the_members(radicale_server, make_api):
    team = make_team(radicale_server, size=2)
    page = team.page()
    first, second = team.users
    calendar = team.worlds[second.id].calendars["work"]
    row = TeamPageMember.objects.get(page=page, user=second)
    row.busy_in_all_calendars = False
    row.save(update_fields=["busy_in_all_calendars"])
    row.busy_calendars.set([calendar])

    response = make_api(first).put(
        f"/team-pages/{page.id}/members",
        {"members": [{"user_id": str(second.id), "priority": 1}, {"user_id": str(first.id)}]},
    )

    assert response.status_code == 200, response.content
    kept = TeamPageMember.objects.get(page=page, user=second)
    assert list(kept.busy_calendars.all()) == [calendar]
    assert kept.write_calendar == calendar and not kept.busy_in_all_calendars


def test_each_day_keeps_its_own_periods_through_the_api(radicale_server, make_api):
    team = make_team(radicale_server, size=2)
    admin = make_api(team.users[0], ["pages:read", "pages:write"])
    split = [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]
    week = {"monday": split, "tuesday": [{"start": "10:00", "end": "11:30"}]}

    made = admin.post("/team-pages", _new_page(team, weekly_hours=week))

    assert made.status_code == 201, made.content
    page = TeamPage.objects.get(id=made.json()["id"])
    assert page.weekly_hours == {"1": [[540, 720], [780, 1020]], "2": [[600, 690]]}
    shown = admin.get(f"/team-pages/{page.id}").json()["weekly_hours"]
    assert (shown["monday"], shown["tuesday"], shown["friday"]) == (split, week["tuesday"], [])

    renamed = admin.patch(f"/team-pages/{page.id}", {"title": "Kept hours"})
    assert renamed.status_code == 200, renamed.content
    page.refresh_from_db()
    assert page.weekly_hours == {"1": [[540, 720], [780, 1020]], "2": [[600, 690]]}

    later = {"sunday": [{"start": "00:00", "end": "08:00"}, {"start": "20:00", "end": "24:00"}]}
    changed = admin.patch(f"/team-pages/{page.id}", {"weekly_hours": later})
    assert changed.json()["weekly_hours"]["sunday"] == later["sunday"]
    page.refresh_from_db()
    assert page.weekly_hours == {"7": [[0, 480], [1200, 1440]]}


def test_the_forms_refusals_come_back_as_field_problems(radicale_server, make_api, outsider):
    team = make_team(radicale_server, size=2)
    team.page(slug="taken")
    Profile.objects.create(user=outsider, handle="outsider", display_name="Outsider")
    admin = make_api(team.users[0])

    assert _fields(admin.post("/team-pages", _new_page(team, slug="taken"))) == ["slug"]
    assert _fields(admin.post("/team-pages", _new_page(team, members=[]))) == ["members"]
    stranger = [{"user_id": str(team.users[1].id)}, {"user_id": str(outsider.id)}]
    assert _fields(admin.post("/team-pages", _new_page(team, members=stranger))) == [
        "members.1.user_id"
    ]
    twice = [{"user_id": str(team.users[1].id)}] * 2
    assert _fields(admin.post("/team-pages", _new_page(team, members=twice))) == [
        "members.1.user_id"
    ]
    backwards = {"friday": [NINE_TO_FIVE], "monday": [{"start": "12:00", "end": "10:00"}]}
    assert _fields(admin.post("/team-pages", _new_page(team, weekly_hours=backwards))) == [
        "weekly_hours.monday"
    ]
    overlapping = {"tuesday": [NINE_TO_FIVE, {"start": "16:00", "end": "18:00"}]}
    assert _fields(admin.post("/team-pages", _new_page(team, weekly_hours=overlapping))) == [
        "weekly_hours.tuesday"
    ]
    assert _fields(admin.post("/team-pages", _new_page(team, time_zone="Mars/Base"))) == [
        "time_zone"
    ]
    assert _fields(admin.post("/team-pages", _new_page(team, durations=[3]))) == ["durations.0"]
    assert _fields(admin.post("/team-pages", _new_page(team, slug="no spaces"))) == ["slug"]
    assert _fields(admin.post("/team-pages", {"title": "x"})) != []
    malformed = admin.client.post("/api/v1/team-pages", "not json", content_type="application/json")
    assert malformed.status_code == 400
    assert TeamPage.objects.count() == 1


def test_a_member_may_read_a_page_they_are_on_and_is_refused_changing_it(radicale_server, make_api):
    team = make_team(radicale_server)
    page = team.page()
    member = make_api(team.users[1])
    before = TeamPage.objects.filter(id=page.id).values().get()

    assert member.get(f"/team-pages/{page.id}").status_code == 200
    _problem(member.patch(f"/team-pages/{page.id}", {"title": "Mine"}), 403, "admin_required")
    _problem(member.put(f"/team-pages/{page.id}/members", {"members": []}), 403, "admin_required")
    _problem(member.delete(f"/team-pages/{page.id}"), 403, "admin_required")
    _problem(member.post("/team-pages", _new_page(team)), 403, "admin_required")
    assert TeamPage.objects.filter(id=page.id).values().get() == before
    assert TeamPage.objects.count() == 1


def test_a_key_without_the_write_scope_changes_nothing(radicale_server, make_api):
    team = make_team(radicale_server, size=1)
    page = team.page()
    reader = make_api(team.users[0], ["pages:read"])

    _problem(reader.patch(f"/team-pages/{page.id}", {"title": "x"}), 403, "insufficient_scope")
    _problem(reader.post("/team-pages", _new_page(team)), 403, "insufficient_scope")
    _problem(
        make_api(team.users[0], ["bookings:read"]).get("/team-pages"), 403, "insufficient_scope"
    )


def _every_operation(api, page_id, organization_id) -> list:
    body = {"organization_id": str(organization_id), "title": "x", "slug": "x", "members": []}
    return [
        api.get(f"/team-pages/{page_id}"),
        api.get(f"/team-pages/{page_id}/slots"),
        api.patch(f"/team-pages/{page_id}", {"title": "Taken over"}),
        api.put(f"/team-pages/{page_id}/members", {"members": []}),
        api.delete(f"/team-pages/{page_id}"),
        api.post("/team-pages", body),
    ]


def test_keys_outside_the_organization_find_no_team_page(radicale_server, make_api, outsider):
    team = make_team(radicale_server, size=2)
    other = make_team(radicale_server, size=1, handle="globex", name="Globex")
    page = team.page()
    foreign = make_api(other.users[0])  # an owner, of another organization
    stranger = make_api(outsider)
    before = list(TeamPage.objects.values())

    for api in (foreign, stranger):
        answers = _every_operation(api, page.id, team.organization.id)
        assert [a.status_code for a in answers] == [404] * 6
        assert all("Team intro" not in a.content.decode() for a in answers)
        listed = api.get("/team-pages").json()["items"]
        assert all(item["organization_id"] != str(team.organization.id) for item in listed)
        assert api.get("/team-pages", organization_id=str(team.organization.id)).json() == {
            "items": [],
            "next_cursor": None,
        }
    assert list(TeamPage.objects.values()) == before


def test_a_removed_members_key_finds_the_page_no_more(radicale_server, make_api):
    team = make_team(radicale_server)
    page = team.page()
    admin = team.users[1]
    Membership.objects.filter(organization=team.organization, user=admin).update(role=Role.ADMIN)
    removed = make_api(admin)
    assert removed.get(f"/team-pages/{page.id}").status_code == 200

    membership_remove(
        membership=team.admin, target=Membership.objects.get(user=admin), ip_address=None
    )

    answers = _every_operation(removed, page.id, team.organization.id)
    assert [a.status_code for a in answers] == [404] * 6
    assert removed.get("/team-pages").json()["items"] == []
    assert TeamPage.objects.filter(id=page.id, title="Team intro").exists()


def test_a_team_pages_open_times_are_those_its_public_page_offers(radicale_server, make_api):
    team = make_team(radicale_server, size=2)
    day = days_ahead(5)
    hours = {str(day.isoweekday()): [[9 * 60, 12 * 60]]}
    round_robin = team.page(weekly_hours=hours)
    collective = team.page(TeamPage.Kind.COLLECTIVE, weekly_hours=hours)
    first, second = team.users
    team.worlds[first.id].put("work", "a", at(day, 9), minutes=60)
    team.worlds[second.id].put("work", "b", at(day, 10), minutes=30)
    api = make_api(second, ["pages:read"])

    def starts(page) -> list[str]:
        response = api.get(
            f"/team-pages/{page.id}/slots", start=day.isoformat(), end=day.isoformat()
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["time_zone"], body["duration"], body["durations"]) == ("UTC", 30, [30])
        return [datetime.fromisoformat(slot["start"]) for slot in body["slots"]]

    def offered(page) -> list[str]:
        window = Window(at(day, 0), at(day + timedelta(days=1), 0))
        found = team_slots(
            page,
            team_members(page),
            now=timezone.now(),
            window=window,
            duration=30,
        )
        return found.starts

    anyone = starts(round_robin)
    everyone = starts(collective)
    assert anyone == offered(round_robin)
    assert everyone == offered(collective)
    assert at(day, 9) in anyone and at(day, 9) not in everyone
    assert at(day, 10) in anyone and at(day, 10) not in everyone
    assert everyone == [at(day, 10, 30), at(day, 11), at(day, 11, 30)]


def test_unreadable_member_calendars_offer_nothing_but_a_503(radicale_server, make_api):
    team = make_team(radicale_server, size=2)
    page = team.page()
    Calendar.objects.filter(id=team.worlds[team.users[1].id].calendars["work"].id).update(
        remote_id="http://127.0.0.1:9/user/calendar/"
    )

    response = make_api(team.users[0]).get(f"/team-pages/{page.id}/slots")

    _problem(response, 503, "calendar_unreadable")
    assert int(response["Retry-After"]) > 0


def test_slot_questions_are_checked_as_for_personal_pages(radicale_server, make_api):
    team = make_team(radicale_server, size=1)
    page = team.page()
    api = make_api(team.users[0])

    assert _fields(api.get(f"/team-pages/{page.id}/slots", duration=45)) == ["duration"]
    assert _fields(api.get(f"/team-pages/{page.id}/slots", time_zone="Mars/Base")) == ["time_zone"]
    first = days_ahead(1)
    too_long = api.get(
        f"/team-pages/{page.id}/slots",
        start=first.isoformat(),
        end=(first + timedelta(days=90)).isoformat(),
    )
    assert _fields(too_long) == ["end"]
    assert _fields(api.get(f"/team-pages/{page.id}/slots", start="tomorrow")) == ["start"]


# The public open times -------------------------------------------------------------------------


def anyone() -> Client:
    """A visitor without a key, from an address of its own (limits count per address)."""
    return Client(REMOTE_ADDR=f"10.{random.randrange(256)}.{random.randrange(256)}.9")


def test_anyone_reads_an_active_team_pages_times_by_its_address(radicale_server, make_api):
    team = make_team(radicale_server, size=2)
    day = days_ahead(5)
    page = team.page(weekly_hours={str(day.isoweekday()): [[9 * 60, 12 * 60]]})
    query = {"start": day.isoformat(), "end": day.isoformat()}

    public = anyone().get(f"/api/v1/public/acme/{page.slug}/slots", query)
    owned = make_api(team.users[0]).get(f"/team-pages/{page.id}/slots", **query)

    assert public.status_code == 200, public.content
    assert public.json() == owned.json()
    assert len(public.json()["slots"]) == 6
    html = anyone().get(f"/book/acme/{page.slug}/", {"day": day.isoformat()}).content.decode()
    assert "booking-picker__time" in html and "Person 0" in html


def test_switched_off_and_unknown_team_pages_have_no_public_times(radicale_server, owner):
    team = make_team(radicale_server, size=1)
    off = team.page(active=False)
    no_length = team.page(slug="no-length", durations=[])
    host = make_host(radicale_server, owner)

    assert anyone().get(f"/api/v1/public/acme/{off.slug}/slots").status_code == 404
    assert anyone().get(f"/api/v1/public/acme/{no_length.slug}/slots").status_code == 404
    assert anyone().get("/api/v1/public/acme/nothing/slots").status_code == 404
    assert anyone().get(f"/api/v1/public/acme/{host.page.slug}/slots").status_code == 404
    personal = anyone().get(f"/api/v1/public/{host.handle}/{host.page.slug}/slots")
    assert personal.status_code == 200


def test_public_team_times_count_against_the_booking_pages_limit(radicale_server, settings):
    team = make_team(radicale_server, size=1)
    page = team.page()
    settings.BOOKING_BROWSE_RATE = "2/m"
    visitor = anyone()

    answers = [visitor.get(f"/api/v1/public/acme/{page.slug}/slots") for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[-1]["Content-Type"] == "application/problem+json"
    assert re.fullmatch(r"\d+", answers[-1]["Retry-After"])


def test_dates_questions_busy_and_embedding_options_are_the_console_editors(
    radicale_server, make_api
):
    team = make_team(radicale_server, size=1)
    admin = make_api(team.users[0])
    day_off, short_day = days_ahead(10), days_ahead(11)

    made = admin.post(
        "/team-pages",
        _new_page(
            team,
            date_overrides=[
                {"date": day_off.isoformat(), "hours": []},
                {"date": short_day.isoformat(), "hours": [{"start": "10:00", "end": "12:00"}]},
            ],
            questions=[
                {"label": "Topic", "required": True},
                {"label": "Notes", "kind": "long"},
            ],
            tentative_is_busy=False,
            free_is_busy=True,
            all_day_events="ignore",
            embed_on="listed",
            embed_origins=["https://example.com"],
        ),
    )

    assert made.status_code == 201, made.content
    body = made.json()
    assert body["date_overrides"] == [
        {"date": day_off.isoformat(), "hours": []},
        {"date": short_day.isoformat(), "hours": [{"start": "10:00", "end": "12:00"}]},
    ]
    assert body["questions"] == [
        {"label": "Topic", "kind": "short", "required": True},
        {"label": "Notes", "kind": "long", "required": False},
    ]
    assert (body["tentative_is_busy"], body["free_is_busy"], body["all_day_events"]) == (
        False,
        True,
        "ignore",
    )
    assert (body["embed_on"], body["embed_origins"]) == ("listed", ["https://example.com"])
    page = TeamPage.objects.get(id=body["id"])
    topic = page.questions.get(label="Topic")

    kept = admin.patch(f"/team-pages/{page.id}", {"description": "Book us"})
    assert {k: kept.json()[k] for k in ("date_overrides", "questions", "embed_origins")} == {
        k: body[k] for k in ("date_overrides", "questions", "embed_origins")
    }
    reordered = admin.patch(
        f"/team-pages/{page.id}",
        {"questions": [{"label": "Notes", "kind": "long"}, {"label": "Topic", "required": True}]},
    )
    assert [q["label"] for q in reordered.json()["questions"]] == ["Notes", "Topic"]
    assert page.questions.get(label="Topic").id == topic.id  # asked again: the same question

    late = admin.patch(f"/team-pages/{page.id}", {"embed_on": "listed", "embed_origins": []})
    assert _fields(late) == ["embed_origins"]
    bad_day = admin.patch(
        f"/team-pages/{page.id}",
        {
            "date_overrides": [
                {"date": day_off.isoformat(), "hours": [{"start": "12:00", "end": "10:00"}]}
            ]
        },
    )
    assert _fields(bad_day) == ["date_overrides.0.hours"]
    assert len(admin.get(f"/team-pages/{page.id}").json()["date_overrides"]) == 2


def test_an_address_no_handle_could_have_is_not_looked_up(radicale_server):
    team = make_team(radicale_server, size=1)
    page = team.page()

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a cache key of such text warns
        answers = [
            anyone().get(f"/api/v1/public/{handle}/{page.slug}/slots")
            for handle in ("Ünï cöde", "acme.", "%F0%9F%8E%89")
        ]

    assert [a.status_code for a in answers] == [404] * 3
