from __future__ import annotations

import pytest
from django.test import Client

from api.scopes import Scope
from syncrules.models import SyncRule
from tests.factories import CalendarFactory, ConnectionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def calendars(owner):
    connection = ConnectionFactory(user=owner)
    return {
        "work": CalendarFactory(connection=connection, name="Work"),
        "home": CalendarFactory(connection=connection, name="Home"),
        "feed": CalendarFactory(connection=connection, name="Feed", read_only=True),
    }


def _rule(calendars, **fields):
    return {
        "name": "Home into work",
        "sources": [str(calendars["home"].id)],
        "targets": [str(calendars["work"].id)],
        **fields,
    }


def test_a_rule_made_through_the_api_is_the_rule_the_page_makes(owner, owner_api, calendars):
    response = owner_api.post("/rules", _rule(calendars, exclude_keywords=["lunch", "gym"]))

    assert response.status_code == 201, response.content
    body = response.json()
    rule = SyncRule.objects.get(id=body["id"], user=owner)
    assert body["visibility"] == rule.visibility == "busy"
    assert rule.exclude_keywords == ["lunch", "gym"]
    assert [c.id for c in rule.targets.all()] == [calendars["work"].id]
    assert body["show_location"] is False and body["show_video_link"] is False


def test_the_pages_checks_refuse_with_field_problems(owner_api, calendars):
    response = owner_api.post(
        "/rules",
        _rule(calendars, targets=[str(calendars["home"].id), str(calendars["feed"].id)]),
    )

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    fields = {error["field"] for error in response.json()["errors"]}
    assert "targets" in fields
    assert SyncRule.objects.count() == 0


def test_bad_types_are_refused_before_the_form(owner_api, calendars):
    response = owner_api.post("/rules", _rule(calendars, lookahead_days="many"))

    assert response.status_code == 422
    assert any(error["field"].endswith("lookahead_days") for error in response.json()["errors"])


def test_someone_elses_calendars_cannot_be_named(owner_api, second_user, calendars):
    theirs = CalendarFactory(connection=ConnectionFactory(user=second_user))

    response = owner_api.post(
        "/rules",
        {"name": "x", "sources": [str(theirs.id)], "targets": [str(calendars["work"].id)]},
    )

    assert response.status_code == 422
    assert SyncRule.objects.count() == 0


def test_patch_changes_only_what_it_names(owner_api, calendars):
    made = owner_api.post("/rules", _rule(calendars, busy_title="Away")).json()

    response = owner_api.patch(f"/rules/{made['id']}", {"visibility": "title"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["visibility"] == "title"
    assert body["busy_title"] == "Away"
    assert body["sources"] == made["sources"]


def test_delete_removes_the_rule(owner_api, calendars):
    made = owner_api.post("/rules", _rule(calendars)).json()

    assert owner_api.delete(f"/rules/{made['id']}").status_code == 204
    assert owner_api.get(f"/rules/{made['id']}").status_code == 404


def test_another_users_rule_is_not_found(owner_api, second_user, make_api, calendars):
    made = owner_api.post("/rules", _rule(calendars)).json()
    theirs = make_api(second_user)

    for response in [
        theirs.get(f"/rules/{made['id']}"),
        theirs.patch(f"/rules/{made['id']}", {"name": "mine now"}),
        theirs.delete(f"/rules/{made['id']}"),
        theirs.get(f"/rules/{made['id']}/runs"),
    ]:
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert SyncRule.objects.get(id=made["id"]).name == "Home into work"


def test_lists_page_by_cursor_without_repeats_or_gaps(owner_api, calendars):
    made = [
        owner_api.post("/rules", _rule(calendars, name=f"rule {n}", overlap_ok=True)).json()["id"]
        for n in range(5)
    ]

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = owner_api.get("/rules", **params).json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert seen == made


def test_a_forged_or_foreign_cursor_is_refused(owner_api, calendars):
    for n in range(3):
        owner_api.post("/rules", _rule(calendars, name=f"rule {n}", overlap_ok=True))
    cursor = owner_api.get("/rules", limit=1).json()["next_cursor"]

    forged = owner_api.get("/rules", cursor=cursor[:-2] + "xx")
    foreign = owner_api.get("/calendars", cursor=cursor)

    for response in (forged, foreign):
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "cursor"


def test_runs_need_the_rules_scope(owner, make_api, calendars):
    api = make_api(owner, scopes=[Scope.CALENDARS_READ])

    assert api.get("/rules").status_code == 403


@pytest.mark.parametrize("body", ["[null, null]", '"AAA"', "false", "{"])
def test_a_body_that_is_not_a_json_object_is_refused(owner_api, calendars, body):
    made = owner_api.post("/rules", _rule(calendars)).json()

    response = owner_api.client.patch(
        f"/api/v1/rules/{made['id']}", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_body"


def test_type_errors_and_form_refusals_name_fields_alike(owner_api, calendars):
    typed = owner_api.post("/rules", _rule(calendars, lookahead_days="many"))
    formed = owner_api.post("/rules", _rule(calendars, lookahead_days=900))
    listed = owner_api.get("/rules", limit=0)

    assert [error["field"] for error in typed.json()["errors"]] == ["lookahead_days"]
    assert [error["field"] for error in formed.json()["errors"]] == ["lookahead_days"]
    assert [error["field"] for error in listed.json()["errors"]] == ["limit"]


def test_requests_without_a_key_are_refused_as_problems_past_the_limit(settings):
    settings.RATE_LIMIT_DEFAULT = "2/m"
    anonymous = Client(REMOTE_ADDR="203.0.113.41")

    answers = [anonymous.get("/api/v1/rules") for _ in range(3)]

    assert [answer.status_code for answer in answers] == [401, 401, 429]
    assert answers[-1]["Content-Type"] == "application/problem+json"
