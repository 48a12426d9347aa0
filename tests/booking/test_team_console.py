"""The console's team pages: admins set the handle and the pages, members their own calendars."""

from __future__ import annotations

import pytest
from django.test import Client

from booking.models import OrgHandle, Profile, TeamPage, TeamPageMember
from orgs.models import Membership, Organization, Role
from tests.factories import DEFAULT_PASSWORD, CalendarFactory, UserFactory

pytestmark = pytest.mark.django_db


def person(org: Organization, role: Role, name: str) -> Membership:
    user = UserFactory(email=f"{name.lower()}@example.com")
    Profile.objects.create(user=user, handle=f"{name.lower()}-h", display_name=name)
    return Membership.objects.create(organization=org, user=user, role=role)


def signed_in(membership: Membership) -> Client:
    client = Client()
    client.login(email=membership.user.email, password=DEFAULT_PASSWORD)
    return client


@pytest.fixture
def org():
    organization = Organization.objects.create(name="Acme")
    return {
        "org": organization,
        "admin": person(organization, Role.OWNER, "Ada"),
        "member": person(organization, Role.MEMBER, "Bob"),
    }


def week(days: dict[str, list[tuple[str, str]]]) -> dict[str, object]:
    """The week as the personal page editor's rows post it: the days given switched on, with
    their periods; the others off, with no rows."""
    data: dict[str, object] = {}
    for day in map(str, range(1, 8)):
        periods = days.get(day, [])
        if day in days:
            data[f"day_{day}"] = "on"
        data[f"hours-{day}-start"] = [start for start, _ in periods]
        data[f"hours-{day}-end"] = [end for _, end in periods]
    return data


def page_form(
    org, *, hours: dict[str, list[tuple[str, str]]] | None = None, **changes: object
) -> dict[str, object]:
    """The team page form as the editor posts it; ``hours``: the periods of the days open,
    Monday to Wednesday 09:00 to 17:00 unless given."""
    if hours is None:
        hours = {day: [("09:00", "17:00")] for day in ("1", "2", "3")}
    data: dict[str, object] = {
        "title": "Sales demo",
        "slug": "demo",
        "kind": TeamPage.Kind.ROUND_ROBIN,
        "active": "on",
        "durations": "30, 60",
        "time_zone": "Europe/Berlin",
        **week(hours),
        "minimum_notice": "60",
        "horizon_days": "30",
        "increment": "30",
        "buffer_before": "0",
        "buffer_after": "10",
        "max_per_day": "",
        "location": "none",
        "location_detail": "",
        "tentative_is_busy": "on",
        "all_day_events": "busy",
        "embed_on": "any",
        "embed_origins": "",
        "overrides-TOTAL_FORMS": "0",
        "overrides-INITIAL_FORMS": "0",
        "questions-TOTAL_FORMS": "0",
        "questions-INITIAL_FORMS": "0",
    }
    for membership in (org["admin"], org["member"]):
        prefix = f"member_{membership.user.id.hex}"
        data.update({f"{prefix}_on": "on", f"{prefix}_weight": "1", f"{prefix}_priority": "0"})
    data.update(changes)
    return data


def test_an_admin_sets_the_handle_and_a_taken_one_is_refused_on_the_field(org):
    client = signed_in(org["admin"])
    url = f"/orgs/{org['org'].id}/teams/"

    taken = client.post(url, {"handle": "bob-h"})
    assert taken.status_code == 422 and "This handle is taken" in taken.text
    assert client.post(url, {"handle": "acme"}).status_code == 302
    assert OrgHandle.objects.get(organization=org["org"]).handle == "acme"


def test_an_admin_creates_edits_and_deletes_a_team_page(org):
    client = signed_in(org["admin"])
    OrgHandle.objects.create(organization=org["org"], handle="acme")
    base = f"/orgs/{org['org'].id}/teams/"

    assert client.get(base + "new/").status_code == 200
    assert client.post(base + "new/", page_form(org)).status_code == 302
    page = TeamPage.objects.get()
    assert (page.durations, page.weekly_hours["1"]) == ([30, 60], [[540, 1020]])
    assert page.members.count() == 2
    assert "Sales demo" in client.get(base).text

    edited = page_form(org, title="Demo")
    edited.pop(f"member_{org['member'].user.id.hex}_on")
    assert client.post(base + f"{page.id}/", edited).status_code == 302
    page.refresh_from_db()
    assert page.title == "Demo" and page.members.get().user == org["admin"].user

    assert client.post(base + f"{page.id}/delete/").status_code == 302
    assert not TeamPage.objects.exists()


def test_the_form_shows_what_is_wrong(org):
    client = signed_in(org["admin"])
    data = page_form(org, durations="soon", hours={"1": [("09:00", "08:00")]})
    for membership in (org["admin"], org["member"]):
        data.pop(f"member_{membership.user.id.hex}_on")

    response = client.post(f"/orgs/{org['org'].id}/teams/new/", data)

    assert response.status_code == 422
    assert "Write whole minutes" in response.text
    assert "09:00\N{EN DASH}08:00 ends before it starts." in response.text
    assert "Choose at least one member" in response.text


def test_a_member_cannot_reach_the_admin_pages_and_chooses_only_their_own_calendars(org):
    admin, member = org["admin"], org["member"]
    page = TeamPage.objects.create(organization=org["org"], title="T", slug="t", durations=[30])
    TeamPageMember.objects.create(page=page, user=member.user)
    base = f"/orgs/{org['org'].id}/teams/"
    client = signed_in(member)

    for url in (base + "new/", base + f"{page.id}/", base + f"{page.id}/delete/"):
        assert client.get(url).status_code == 404
    assert client.post(base, {"handle": "mine"}).status_code == 404
    assert signed_in(admin).get(base + f"{page.id}/mine/").status_code == 404  # not on it

    own = CalendarFactory(connection__user=member.user, name="Work")
    foreign = CalendarFactory(connection__user=admin.user, name="Secret")
    form = client.get(base + f"{page.id}/mine/")
    assert "Work" in form.text and "Secret" not in form.text
    assert (
        client.post(
            base + f"{page.id}/mine/", {"busy_calendars": [foreign.id], "write_calendar": own.id}
        ).status_code
        == 422
    )
    assert (
        client.post(
            base + f"{page.id}/mine/", {"busy_calendars": [own.id], "write_calendar": own.id}
        ).status_code
        == 302
    )
    row = TeamPageMember.objects.get()
    assert (row.busy_in_all_calendars, row.write_calendar) == (False, own)
    assert row.weekly_hours == {}

    hours = {"write_calendar": own.id, "own_hours": "on", "own_time_zone": "Asia/Tokyo"}
    backwards = client.post(
        base + f"{page.id}/mine/",
        {**hours, **week({"1": [("12:00", "09:00")], "3": [("09:00", "12:30")]})},
    )
    assert backwards.status_code == 422
    assert "12:00\N{EN DASH}09:00 ends before it starts." in backwards.text
    assert 'value="12:00"' in backwards.text
    none = client.post(base + f"{page.id}/mine/", {**hours, **week({})})
    assert none.status_code == 422 and "Choose at least one day." in none.text
    saved = client.post(
        base + f"{page.id}/mine/",
        {
            **hours,
            **week({"1": [("08:00", "10:00"), ("13:00", "15:00")], "3": [("09:00", "12:30")]}),
        },
    )
    assert saved.status_code == 302
    row.refresh_from_db()
    assert row.time_zone == "Asia/Tokyo"
    assert row.weekly_hours == {"1": [[480, 600], [780, 900]], "3": [[540, 750]]}
    shown = client.get(base + f"{page.id}/mine/").text
    assert all(f'value="{clock}"' in shown for clock in ("08:00", "10:00", "13:00", "12:30"))
    client.post(base + f"{page.id}/mine/", {"write_calendar": own.id})  # back to the page's
    row.refresh_from_db()
    assert (row.time_zone, row.weekly_hours) == ("", {})


def test_an_outsider_gets_404_on_every_team_url(org, outsider):
    page = TeamPage.objects.create(organization=org["org"], title="T", slug="t", durations=[30])
    client = Client()
    client.login(email=outsider.email, password=DEFAULT_PASSWORD)
    base = f"/orgs/{org['org'].id}/teams/"
    for url in (base, base + "new/", base + f"{page.id}/", f"{base}{page.id}/delete/"):
        assert client.get(url).status_code == 404
        assert client.post(url).status_code == 404
