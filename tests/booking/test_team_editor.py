"""The console's team page editor: date overrides, questions, busy options and embedding, with the
personal page editor's rows and checks, saved at once with the page."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

import pytest

from booking.models import BookingPage, TeamDateOverride, TeamPage, TeamQuestion
from booking.public_display import format_start
from booking.services.teams import team_page_save
from booking.team_availability import team_pages_version
from console.team_forms import TeamPageForm
from orgs.models import Organization, Role
from tests.booking.pages import at, days_ahead
from tests.booking.team_world import make_team
from tests.booking.test_team_console import page_form, person, signed_in
from tests.booking.test_team_public_pages import times_on

pytestmark = pytest.mark.django_db

HOLIDAY = date(2030, 1, 7)
SHORT_DAY = date(2030, 1, 9)


@pytest.fixture
def org():
    organization = Organization.objects.create(name="Acme")
    return {
        "org": organization,
        "admin": person(organization, Role.OWNER, "Ada"),
        "member": person(organization, Role.MEMBER, "Bob"),
    }


def editor_form(
    org,
    *,
    overrides: Sequence[tuple[str, Sequence[tuple[str, str]]]] = (),
    questions: Sequence[dict[str, str]] = (),
    initial_questions: int = 0,
    **changes: str | None,
) -> dict[str, object]:
    """The page form as the editor posts it, with date rows (no periods: a day off) and
    question rows."""
    data: dict[str, object] = {
        **page_form(org),
        "overrides-TOTAL_FORMS": str(len(overrides)),
        "questions-TOTAL_FORMS": str(len(questions)),
        "questions-INITIAL_FORMS": str(initial_questions),
    }
    for index, (when, periods) in enumerate(overrides):
        data[f"overrides-{index}-date"] = when
        data[f"overrides-{index}-available"] = "hours" if periods else "off"
        data[f"overrides-{index}-hours-start"] = [start for start, _ in periods]
        data[f"overrides-{index}-hours-end"] = [end for _, end in periods]
    for index, question in enumerate(questions):
        for name, value in question.items():
            data[f"questions-{index}-{name}"] = value
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def base(org) -> str:
    return f"/orgs/{org['org'].id}/teams/"


def test_an_admin_saves_dates_questions_busy_options_and_embedding(org):
    client = signed_in(org["admin"])

    response = client.post(
        base(org) + "new/",
        editor_form(
            org,
            overrides=[
                (SHORT_DAY.isoformat(), [("13:00", "15:00"), ("09:00", "11:00")]),
                (HOLIDAY.isoformat(), []),
            ],
            questions=[
                {"label": "What should we prepare?", "kind": "long", "ORDER": "1"},
                {"label": "Company", "kind": "short", "required": "on", "ORDER": "2"},
            ],
            tentative_is_busy=None,
            free_is_busy="on",
            all_day_events="ignore",
            embed_on="listed",
            embed_origins="https://Example.com/\nhttps://*.example.org\nhttps://example.com",
        ),
    )

    assert response.status_code == 302
    page = TeamPage.objects.get()
    assert [(o.date, o.hours) for o in page.date_overrides.all()] == [
        (HOLIDAY, []),
        (SHORT_DAY, [[540, 660], [780, 900]]),
    ]
    assert [(q.label, q.kind, q.required) for q in page.questions.all()] == [
        ("What should we prepare?", "long", False),
        ("Company", "short", True),
    ]
    assert (page.tentative_is_busy, page.free_is_busy, page.all_day_events) == (
        False,
        True,
        BookingPage.AllDayEvents.IGNORE,
    )
    assert page.embed_on == BookingPage.EmbedOn.LISTED_SITES
    assert page.embed_origins == ["https://example.com", "https://*.example.org"]

    shown = client.get(base(org) + f"{page.id}/").text
    assert 'value="2030-01-09"' in shown and 'value="13:00"' in shown
    assert 'value="What should we prepare?"' in shown
    assert "https://example.com\nhttps://*.example.org</textarea>" in shown
    assert re.search(r'name="free_is_busy"[^>]*checked', shown)
    assert not re.search(r'name="tentative_is_busy"[^>]*checked', shown)
    assert '<option value="ignore" selected>' in shown


def test_editing_changes_questions_in_place_and_replaces_the_dates(org):
    client = signed_in(org["admin"])
    client.post(
        base(org) + "new/",
        editor_form(
            org,
            overrides=[(HOLIDAY.isoformat(), [])],
            questions=[
                {"label": "Company", "kind": "short", "ORDER": "1"},
                {"label": "Agenda", "kind": "long", "ORDER": "2"},
            ],
        ),
    )
    page = TeamPage.objects.get()
    company, agenda = page.questions.all()

    edited = client.post(
        base(org) + f"{page.id}/",
        editor_form(
            org,
            overrides=[(SHORT_DAY.isoformat(), [("10:00", "12:00")])],
            questions=[
                {"id": str(company.id), "label": "Company", "kind": "short", "ORDER": "2"},
                {"id": str(agenda.id), "label": "Topics", "kind": "long", "ORDER": "1"},
                {"label": "Phone", "kind": "short", "ORDER": "3", "required": "on"},
            ],
            initial_questions=2,
            **{"overrides-INITIAL_FORMS": "1"},
        ),
    )

    assert edited.status_code == 302
    assert [(o.date, o.hours) for o in page.date_overrides.all()] == [(SHORT_DAY, [[600, 720]])]
    assert [(q.id, q.label) for q in page.questions.all()][:2] == [
        (agenda.id, "Topics"),
        (company.id, "Company"),
    ]
    assert page.questions.last().label == "Phone"

    removed = editor_form(
        org,
        questions=[
            {"id": str(agenda.id), "label": "Topics", "kind": "long", "ORDER": "1"},
            {"id": str(company.id), "label": "Company", "kind": "short", "ORDER": "2"},
            {"id": str(page.questions.last().id), "label": "Phone", "kind": "short", "ORDER": "3"},
        ],
        initial_questions=3,
        **{"questions-1-DELETE": "on"},
    )
    assert client.post(base(org) + f"{page.id}/", removed).status_code == 302
    assert [q.label for q in page.questions.all()] == ["Topics", "Phone"]
    assert not page.date_overrides.exists()  # no date rows posted: none kept


def test_each_day_keeps_its_own_periods_and_shows_them_again(org):
    client = signed_in(org["admin"])
    hours = {"1": [("13:00", "17:00"), ("09:00", "12:00")], "2": [("10:00", "11:30")]}

    assert client.post(base(org) + "new/", page_form(org, hours=hours)).status_code == 302

    page = TeamPage.objects.get()
    assert page.weekly_hours == {"1": [[540, 720], [780, 1020]], "2": [[600, 690]]}
    shown = client.get(base(org) + f"{page.id}/").text
    for name, clock in [("1-start", "09:00"), ("1-end", "12:00"), ("1-start", "13:00")]:
        assert f'name="hours-{name}" value="{clock}"' in shown
    assert 'name="hours-2-end" value="11:30"' in shown
    assert re.search(r'name="day_1"[^>]*checked', shown)
    assert not re.search(r'name="day_3"[^>]*checked', shown)


def test_a_page_whose_days_differ_is_shown_and_saved_as_stored(org):
    stored = {"1": [[0, 60], [1380, 1440]], "5": [[540, 1020]], "7": [[600, 660]]}
    page = TeamPage.objects.create(
        organization=org["org"], title="T", slug="t", durations=[30], weekly_hours=stored
    )

    form = TeamPageForm(membership=org["admin"], page=page)

    shown = {
        day.iso: [(row.start, row.end) for row in day.periods.rows]
        for day in form.week
        if day.switch.value()
    }
    assert shown == {
        1: [("00:00", "01:00"), ("23:00", "00:00")],
        5: [("09:00", "17:00")],
        7: [("10:00", "11:00")],
    }
    hours = {str(iso): periods for iso, periods in shown.items()}
    client = signed_in(org["admin"])
    assert (
        client.post(base(org) + f"{page.id}/", page_form(org, slug="t", hours=hours)).status_code
        == 302
    )
    page.refresh_from_db()
    assert page.weekly_hours == stored


def test_a_bad_period_is_an_error_on_its_day_and_the_typed_rows_come_back(org):
    client = signed_in(org["admin"])
    hours = {"1": [("09:00", "12:00"), ("11:00", "13:00")], "2": [("10:00", "")]}

    response = client.post(base(org) + "new/", page_form(org, title="Not yet", hours=hours))

    assert response.status_code == 422
    text = response.text
    assert "Some settings need a change" in text
    assert "11:00\N{EN DASH}13:00 overlaps 09:00\N{EN DASH}12:00." in text
    assert "Give a start and an end time, for example 09:00 and 17:00." in text
    assert 'name="hours-1-start" value="11:00"' in text
    assert 'name="hours-1-end" value="13:00"' in text
    assert 'name="hours-2-start" value="10:00"' in text
    assert not TeamPage.objects.exists()


def test_the_public_page_offers_times_only_inside_each_days_periods(radicale_server, client):
    team = make_team(radicale_server, size=2)
    day = days_ahead(10)
    page = team.page()
    admin, other = team.members
    hours = {str(day.isoweekday()): [("09:00", "10:00"), ("14:00", "14:30")]}
    data = page_form(
        {"admin": admin, "member": other},
        slug=page.slug,
        time_zone="UTC",
        minimum_notice="0",
        durations="30",
        hours=hours,
    )

    assert (
        signed_in(admin).post(base({"org": team.organization}) + f"{page.id}/", data).status_code
        == 302
    )

    shown = client.get(f"/book/acme/{page.slug}/?tz=UTC&clock=24&month={day:%Y-%m}&day={day}")
    assert times_on(shown.text) == [
        format_start(at(day, 9)),
        format_start(at(day, 9, 30)),
        format_start(at(day, 14)),
    ]


def test_bad_rows_are_field_errors_and_every_typed_value_comes_back(org):
    client = signed_in(org["admin"])
    data = editor_form(
        org,
        title="A title not saved yet",
        overrides=[
            (SHORT_DAY.isoformat(), [("15:00", "11:00"), ("09:00", "10:00")]),
            (SHORT_DAY.isoformat(), []),
            ("", [("08:00", "09:00")]),
        ],
        questions=[
            {"label": "", "kind": "long", "required": "on", "ORDER": "1"},
            {"label": "Company", "kind": "short", "ORDER": "2"},
        ],
        embed_on="listed",
        embed_origins="https://example.com\nnot a site",
    )

    response = client.post(base(org) + "new/", data)

    assert response.status_code == 422
    text = response.text
    assert "Some settings need a change" in text
    assert "15:00\N{EN DASH}11:00 ends before it starts." in text
    assert "This date is already listed above." in text
    assert "Give the date these hours are for." in text
    assert "Write the question." in text
    assert "“not a site”" in text
    # What was typed, right or wrong, is shown again.
    assert 'value="A title not saved yet"' in text
    assert 'value="15:00"' in text and 'value="11:00"' in text and 'value="08:00"' in text
    assert 'value="Company"' in text
    assert "https://example.com\nnot a site</textarea>" in text
    assert not TeamPage.objects.exists()

    nothing_listed = client.post(
        base(org) + "new/", editor_form(org, embed_on="listed", embed_origins="")
    )
    assert nothing_listed.status_code == 422
    assert "List at least one website, or choose another option for embedding." in (
        nothing_listed.text
    )
    assert not TeamPage.objects.exists()


def test_a_plain_member_cannot_change_the_pages_dates_questions_or_options(org):
    page = TeamPage.objects.create(organization=org["org"], title="T", slug="t", durations=[30])
    client = signed_in(org["member"])
    data = editor_form(
        org,
        overrides=[(HOLIDAY.isoformat(), [])],
        questions=[{"label": "Company", "kind": "short", "ORDER": "1"}],
        free_is_busy="on",
        embed_on="nowhere",
    )

    assert client.get(base(org) + f"{page.id}/").status_code == 404
    assert client.post(base(org) + f"{page.id}/", data).status_code == 404
    assert client.post(base(org) + "new/", data).status_code == 404

    page.refresh_from_db()
    assert (page.free_is_busy, page.embed_on) == (False, BookingPage.EmbedOn.ANY_SITE)
    assert not TeamDateOverride.objects.exists() and not TeamQuestion.objects.exists()
    assert TeamPage.objects.count() == 1


def test_saving_tells_the_public_team_pages_once_it_commits(
    org, django_capture_on_commit_callbacks
):
    client = signed_in(org["admin"])
    client.post(base(org) + "new/", editor_form(org))
    page = TeamPage.objects.get()
    before = team_pages_version(org["org"].id)

    with django_capture_on_commit_callbacks(execute=True):
        saved = client.post(
            base(org) + f"{page.id}/", editor_form(org, overrides=[(HOLIDAY.isoformat(), [])])
        )

    assert saved.status_code == 302
    assert team_pages_version(org["org"].id) != before


def test_a_save_without_dates_or_questions_keeps_them_and_a_bad_origin_is_refused(org):
    client = signed_in(org["admin"])
    client.post(
        base(org) + "new/",
        editor_form(
            org,
            overrides=[(HOLIDAY.isoformat(), [])],
            questions=[{"label": "Company", "kind": "short", "ORDER": "1"}],
        ),
    )
    page = TeamPage.objects.get()
    form = TeamPageForm(page_form(org, title="Renamed"), membership=org["admin"], page=page)
    assert form.is_valid(), form.errors

    # As the API saves a page: its settings and members only.
    team_page_save(
        membership=org["admin"], page=page, settings=form.settings(), members=form.members()
    )

    page.refresh_from_db()
    assert page.title == "Renamed"
    assert [o.date for o in page.date_overrides.all()] == [HOLIDAY]
    assert [q.label for q in page.questions.all()] == ["Company"]
    bad = replace(form.settings(), embed_origins=("https://example.com/path",))
    with pytest.raises(ValueError, match="origin"):
        team_page_save(membership=org["admin"], page=page, settings=bad, members=form.members())
    page.refresh_from_db()
    assert page.embed_origins == [] and page.title == "Renamed"


def test_a_question_of_another_organizations_page_is_never_changed_from_here(org):
    other = Organization.objects.create(name="Other")
    elsewhere = TeamPage.objects.create(organization=other, title="O", slug="o", durations=[30])
    theirs = TeamQuestion.objects.create(page=elsewhere, label="Their question")
    client = signed_in(org["admin"])

    response = client.post(
        base(org) + "new/",
        editor_form(
            org,
            questions=[
                {"id": str(theirs.id), "label": "Taken over?", "kind": "short", "ORDER": "1"}
            ],
        ),
    )

    assert response.status_code == 302
    theirs.refresh_from_db()
    assert (theirs.page_id, theirs.label) == (elsewhere.id, "Their question")
    mine = TeamPage.objects.get(organization=org["org"])
    assert [q.label for q in mine.questions.all()] == ["Taken over?"]
    assert mine.questions.get().id != theirs.id
