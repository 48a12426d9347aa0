from __future__ import annotations

import pytest
from django.conf import settings

from api.scopes import Scope
from booking.forms import DEFAULT_DURATIONS, DEFAULT_WEEKLY_HOURS
from booking.models import BookingPage, DateOverride, Profile, Question
from calendars.models import Connection
from tests.factories import CalendarFactory, ConnectionFactory

pytestmark = pytest.mark.django_db

NINE_TO_FIVE = [{"start": "09:00", "end": "17:00"}]


@pytest.fixture
def profile(owner) -> Profile:
    return Profile.objects.create(user=owner, handle="ada", display_name="Ada Lovelace")


@pytest.fixture
def calendars(owner):
    dav = ConnectionFactory(user=owner)
    ics = ConnectionFactory(user=owner, kind=Connection.Kind.ICS, label="Holidays link")
    return {
        "Work": CalendarFactory(connection=dav, name="Work"),
        "Shared": CalendarFactory(connection=dav, name="Shared", read_only=True),
        "Holidays": CalendarFactory(connection=ics, name="Holidays", read_only=True),
    }


def _page(calendars, **fields):
    return {"title": "Intro call", "write_calendar": str(calendars["Work"].id), **fields}


def _fields(response) -> set[str]:
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    return {error["field"] for error in response.json()["errors"]}


def test_a_new_page_starts_with_what_the_page_form_offers(owner, owner_api, profile, calendars):
    response = owner_api.post("/pages", {"title": "Intro call"})

    assert response.status_code == 201, response.content
    body = response.json()
    page = BookingPage.objects.get(id=body["id"], owner=owner)
    assert page.slug == body["slug"] == "intro-call"
    assert page.durations == DEFAULT_DURATIONS
    assert page.weekly_hours == DEFAULT_WEEKLY_HOURS
    assert page.time_zone == owner.time_zone
    assert page.write_calendar == calendars["Work"]
    assert (page.listed, page.active, page.busy_in_all_calendars) == (False, True, True)
    assert body["weekly_hours"]["monday"] == NINE_TO_FIVE
    assert body["weekly_hours"]["saturday"] == []
    assert body["public_url"] == f"{settings.SITE_URL}/book/ada/intro-call--{page.secret}/"


def test_settings_are_saved_as_the_page_form_cleans_them(owner_api, profile, calendars):
    response = owner_api.post(
        "/pages",
        _page(
            calendars,
            slug="Chat",
            listed=True,
            durations=[45, 15, 45],
            time_zone="America/New_York",
            weekly_hours={
                "tuesday": [
                    {"start": "13:00", "end": "24:00"},
                    {"start": "09:00", "end": "12:00"},
                    {"start": "12:00", "end": "12:30"},
                ]
            },
            date_overrides=[
                {"date": "2030-05-07", "hours": []},
                {"date": "2030-05-06", "hours": [{"start": "10:00", "end": "11:00"}]},
            ],
            busy_in_all_calendars=False,
            busy_calendars=[str(calendars["Holidays"].id)],
            max_per_day=3,
            location="phone",
            location_detail=" +49 30 1234567 ",
            questions=[{"label": "Topic", "required": True}, {"label": "Notes", "kind": "long"}],
        ),
    )

    assert response.status_code == 201, response.content
    body = response.json()
    page = BookingPage.objects.get(id=body["id"])
    assert page.slug == "chat" and page.listed
    assert page.durations == [45, 15]
    assert page.weekly_hours == {"2": [[540, 750], [780, 1440]]}
    assert body["weekly_hours"]["tuesday"] == [
        {"start": "09:00", "end": "12:30"},
        {"start": "13:00", "end": "24:00"},
    ]
    assert [(o.date.isoformat(), o.hours) for o in DateOverride.objects.filter(page=page)] == [
        ("2030-05-06", [[600, 660]]),
        ("2030-05-07", []),
    ]
    assert [calendar.id for calendar in page.busy_calendars.all()] == [calendars["Holidays"].id]
    assert page.location_detail == "+49 30 1234567"
    assert [(q.label, q.kind, q.required) for q in page.questions.all()] == [
        ("Topic", "short", True),
        ("Notes", "long", False),
    ]
    assert body["public_url"].endswith("/book/ada/chat/")
    assert owner_api.get(f"/pages/{page.id}").json() == body


def test_the_page_forms_refusals_arrive_as_field_problems(
    owner_api, profile, calendars, second_user
):
    theirs = CalendarFactory(connection=ConnectionFactory(user=second_user))
    owner_api.post("/pages", _page(calendars, slug="taken"))

    response = owner_api.post(
        "/pages",
        _page(
            calendars,
            slug="taken",
            durations=[],
            weekly_hours={"monday": [{"start": "17:00", "end": "09:00"}]},
            date_overrides=[
                {"date": "2030-05-06", "hours": []},
                {"date": "2030-05-06", "hours": []},
            ],
            busy_in_all_calendars=False,
            busy_calendars=[str(theirs.id)],
            location="phone",
            write_calendar=str(calendars["Holidays"].id),
        ),
    )

    assert _fields(response) == {
        "slug",
        "durations",
        "weekly_hours.monday",
        "date_overrides.1.date",
        "busy_calendars",
        "location_detail",
        "write_calendar",
    }
    assert BookingPage.objects.count() == 1


def test_bad_types_are_refused_before_the_form(owner_api, profile, calendars):
    for fields in (
        {"durations": "thirty"},
        {"weekly_hours": {"monday": [{"start": "9", "end": "17:00"}]}},
        {"location": "moon"},
        {"durations": [3]},
        {"questions": [{"label": "x" * 201}]},
    ):
        assert owner_api.post("/pages", _page(calendars, **fields)).status_code == 422
    assert not BookingPage.objects.exists()


def test_a_page_needs_the_public_address_first(owner_api, calendars):
    response = owner_api.post("/pages", _page(calendars))

    assert response.status_code == 409
    assert response.json()["code"] == "profile_required"


def test_patch_changes_only_what_it_names(owner_api, profile, calendars):
    made = owner_api.post(
        "/pages",
        _page(
            calendars,
            date_overrides=[{"date": "2030-05-06", "hours": []}],
            questions=[{"label": "Topic"}],
            buffer_after=10,
        ),
    ).json()
    question = Question.objects.get()

    response = owner_api.patch(f"/pages/{made['id']}", {"buffer_before": 15, "max_per_day": 2})

    assert response.status_code == 200, response.content
    body = response.json()
    changed = {"buffer_before": 15, "max_per_day": 2}
    assert {k: v for k, v in body.items() if k != "updated_at"} == {
        **{k: v for k, v in made.items() if k != "updated_at"},
        **changed,
    }
    assert Question.objects.get().id == question.id


def test_patch_replaces_the_questions_keeping_those_asked_again(owner_api, profile, calendars):
    made = owner_api.post(
        "/pages", _page(calendars, questions=[{"label": "Topic"}, {"label": "Phone"}])
    ).json()
    phone = Question.objects.get(label="Phone")

    response = owner_api.patch(
        f"/pages/{made['id']}",
        {"questions": [{"label": "Phone", "required": True}, {"label": "Company"}]},
    )

    assert response.status_code == 200, response.content
    assert [(q.label, q.required) for q in Question.objects.all()] == [
        ("Phone", True),
        ("Company", False),
    ]
    assert Question.objects.get(label="Phone").id == phone.id


def test_patch_refusals_change_nothing(owner_api, profile, calendars):
    made = owner_api.post("/pages", _page(calendars)).json()

    response = owner_api.patch(f"/pages/{made['id']}", {"title": "New", "location": "in_person"})

    assert _fields(response) == {"location_detail"}
    assert BookingPage.objects.get(id=made["id"]).title == "Intro call"


def test_delete_removes_the_page(owner_api, profile, calendars):
    made = owner_api.post("/pages", _page(calendars)).json()

    assert owner_api.delete(f"/pages/{made['id']}").status_code == 204
    assert owner_api.get(f"/pages/{made['id']}").status_code == 404
    assert not BookingPage.objects.exists()


def test_pages_are_listed_by_cursor(owner_api, profile, calendars):
    made = [
        owner_api.post("/pages", _page(calendars, title=f"Page {n}")).json()["id"] for n in range(5)
    ]

    seen, cursor = [], None
    while True:
        body = owner_api.get("/pages", limit=2, **({"cursor": cursor} if cursor else {})).json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert seen == made


def test_another_users_key_finds_no_page_and_changes_nothing(
    owner_api, profile, calendars, second_user, make_api
):
    made = owner_api.post("/pages", _page(calendars)).json()
    theirs = make_api(second_user)

    for response in [
        theirs.get(f"/pages/{made['id']}"),
        theirs.patch(f"/pages/{made['id']}", {"title": "Mine now"}),
        theirs.delete(f"/pages/{made['id']}"),
        theirs.get(f"/pages/{made['id']}/slots"),
    ]:
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert theirs.get("/pages").json()["items"] == []
    assert BookingPage.objects.get(id=made["id"]).title == "Intro call"


def test_a_key_that_may_only_read_pages_cannot_change_them(owner, make_api, profile, calendars):
    page = BookingPage.objects.create(owner=owner, title="Intro", slug="intro", durations=[30])
    reader = make_api(owner, scopes=[Scope.PAGES_READ])

    assert reader.get(f"/pages/{page.id}").status_code == 200
    for response in [
        reader.post("/pages", _page(calendars)),
        reader.patch(f"/pages/{page.id}", {"title": "Changed"}),
        reader.delete(f"/pages/{page.id}"),
    ]:
        assert response.status_code == 403
        assert response.json()["code"] == "insufficient_scope"
    assert make_api(owner, scopes=[Scope.BOOKINGS_READ]).get("/pages").status_code == 403
    assert BookingPage.objects.get().title == "Intro"


def test_embedding_is_set_and_checked_as_on_the_page_form(owner_api, profile, calendars):
    made = owner_api.post("/pages", _page(calendars)).json()
    assert (made["embed_on"], made["embed_origins"]) == ("any", [])

    listed = owner_api.patch(
        f"/pages/{made['id']}",
        {"embed_on": "listed", "embed_origins": ["https://Example.com/", "https://*.shop.example"]},
    )
    empty = owner_api.patch(f"/pages/{made['id']}", {"embed_origins": []})
    wrong = owner_api.patch(f"/pages/{made['id']}", {"embed_origins": ["ftp://example.com"]})

    assert listed.status_code == 200, listed.content
    assert listed.json()["embed_origins"] == ["https://example.com", "https://*.shop.example"]
    assert _fields(empty) == {"embed_origins"}
    assert _fields(wrong) == {"embed_origins"}
    page = BookingPage.objects.get(id=made["id"])
    assert (page.embed_on, page.embed_origins) == (
        "listed",
        ["https://example.com", "https://*.shop.example"],
    )
