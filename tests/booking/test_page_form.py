"""The booking page form as its script posts it: periods of hours by weekday (checked on the
server: a start and an end, the end after the start, no overlaps), date overrides and questions
added and removed in place, the calendars to check ignored while all calendars count, and the
live preview of the unsaved page (owner-only, CSRF-protected, rate-limited, never a 500, nothing
stored)."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from booking.availability import PageSlots
from booking.models import BookingPage, DateOverride, Profile, Question
from booking.selectors import owner as selectors
from calendars.models import Connection
from tests.booking.pages import days_ahead, make_host
from tests.booking.test_owner_pages import page_form_data
from tests.factories import CalendarFactory, ConnectionFactory

# Between the start and the end of a period in the form's messages.
DASH = "\N{EN DASH}"

pytestmark = pytest.mark.django_db

NEW_PAGE = reverse("booking:page_create")
NEW_PREVIEW = reverse("booking:page_create_preview")
# Monday 6 May 2030, 08:00 UTC: 10:00 in Berlin.
MONDAY = datetime(2030, 5, 6, 8, 0, tzinfo=UTC)


@pytest.fixture
def work(owner):
    connection = ConnectionFactory(user=owner, label="owner @ dav.example.com")
    return CalendarFactory(connection=connection, name="Work")


@pytest.fixture
def saved(owner, profile, work):
    page = BookingPage.objects.create(
        owner=owner,
        title="Intro call",
        slug="intro-call",
        durations=[30],
        time_zone="Europe/Berlin",
        weekly_hours={"1": [[540, 720]]},
        write_calendar=work,
    )
    Question.objects.create(page=page, label="Company", position=0)
    Question.objects.create(page=page, label="Phone", position=1)
    DateOverride.objects.create(page=page, date=date(2030, 12, 24), hours=[])
    return page


def post_new(client, work, **changes):
    changes.setdefault("write_calendar", str(work.id))
    return client.post(NEW_PAGE, page_form_data(**changes))


def day_errors(response, day: int) -> list[str]:
    return list(response.context["editor"].form.errors.get(f"day_{day}", []))


def rows_of(response, day: int):
    [weekday] = [d for d in response.context["editor"].form.weekday_fields() if d.iso == day]
    return weekday.periods.rows


# Weekly hours: periods checked on the server ------------------------------------------------------


@pytest.mark.parametrize(
    ("weekly", "day", "message", "row"),
    [
        ({3: [("17:00", "09:00")]}, 3, f"Wednesday: 17:00{DASH}09:00 ends before it starts.", 0),
        ({5: [("10:00", "10:00")]}, 5, f"Friday: 10:00{DASH}10:00 ends before it starts.", 0),
        (
            {1: [("09:00", "12:00"), ("11:00", "13:00")]},
            1,
            f"Monday: 11:00{DASH}13:00 overlaps 09:00{DASH}12:00.",
            1,
        ),
        # Whatever the order they are given in, the later period is the one said to overlap.
        (
            {1: [("11:00", "13:00"), ("09:00", "12:00")]},
            1,
            f"Monday: 11:00{DASH}13:00 overlaps 09:00{DASH}12:00.",
            0,
        ),
        ({2: [("09:00", "")]}, 2, "Tuesday: Give a start and an end time", 0),
        ({6: [("25:00", "26:00")]}, 6, "Saturday: Give a start and an end time", 0),
        ({4: [("morning", "17:00")]}, 4, "Thursday: Give a start and an end time", 0),
    ],
)
def test_a_wrong_period_gets_a_message_on_its_row_and_nothing_typed_is_lost(
    owner_client, profile, work, weekly, day, message, row
):
    response = post_new(owner_client, work, title="Kept title", weekly=weekly)

    assert response.status_code == 200
    [error] = day_errors(response, day)
    assert error.startswith(message), error
    # The row says it too, without the day: the day is its heading.
    rows = rows_of(response, day)
    assert [bool(r.error) for r in rows] == [i == row for i in range(len(rows))]
    assert error == f"{message.split(':')[0]}: {rows[row].error}"
    assert [(r.start, r.end) for r in rows] == weekly[day]
    html = response.content.decode()
    for start, end in weekly[day]:
        assert f'value="{start}"' in html and f'value="{end}"' in html
    assert 'value="Kept title"' in html
    assert "Some settings need a change" in html
    assert not BookingPage.objects.exists()


def test_a_day_switched_on_needs_a_period(owner_client, profile, work):
    data = page_form_data(weekly={1: [("09:00", "17:00")]}, write_calendar=str(work.id))
    data["day_4"] = "on"

    response = owner_client.post(NEW_PAGE, data)

    assert day_errors(response, 4) == ["Thursday: Add a period, or switch the day off."]
    assert "Add a period, or switch the day off." in response.content.decode()
    assert not BookingPage.objects.exists()


def test_a_day_takes_at_most_twelve_periods(owner_client, profile, work):
    periods = [(f"{hour:02d}:00", f"{hour:02d}:30") for hour in range(6, 19)]

    response = post_new(owner_client, work, weekly={1: periods})

    assert day_errors(response, 1) == ["Monday: Give at most 12 periods a day."]


def test_a_day_switched_off_offers_nothing_whatever_its_rows_say(
    owner, owner_client, profile, work
):
    data = page_form_data(weekly={1: [("09:00", "17:00")]}, write_calendar=str(work.id))
    # Saturday's rows are posted (hidden while it is off), even a wrong one; it stays off.
    data["hours-6-start"], data["hours-6-end"] = ["17:00"], ["09:00"]

    response = owner_client.post(NEW_PAGE, data)

    assert response.status_code == 302
    assert BookingPage.objects.get(owner=owner).weekly_hours == {"1": [[540, 1020]]}


def test_periods_are_sorted_joined_when_they_touch_and_end_at_midnight_with_00_00(
    owner, owner_client, profile, work
):
    response = post_new(
        owner_client,
        work,
        weekly={
            1: [("13:00", "17:00"), ("09:00:00", "12:00"), ("", "")],
            6: [("10:00", "12:00"), ("12:00", "14:00")],
            7: [("20:00", "00:00")],
            3: [("00:00", "00:00")],
        },
    )

    assert response.status_code == 302
    assert BookingPage.objects.get(owner=owner).weekly_hours == {
        "1": [[540, 720], [780, 1020]],
        "3": [[0, 1440]],
        "6": [[600, 840]],
        "7": [[1200, 1440]],
    }


def test_the_edit_form_shows_each_day_with_its_switch_and_periods(owner_client, saved):
    saved.weekly_hours = {"1": [[540, 720], [780, 1440]]}
    saved.save()

    response = owner_client.get(reverse("booking:page_edit", args=[saved.id]))

    html = response.content.decode()
    monday = re.search(r'aria-labelledby="id_day_1-label".*?</ul>', html, re.DOTALL).group()
    assert 'id="id_day_1" checked' in monday
    starts = re.findall(r'name="hours-1-start" value="([^"]*)"', monday)
    ends = re.findall(r'name="hours-1-end" value="([^"]*)"', monday)
    # The periods, then blank rows for a browser without scripts.
    assert (starts, ends) == (["09:00", "13:00", "", ""], ["12:00", "00:00", "", ""])
    assert 'name="day_2"' in html and 'id="id_day_2" checked' not in html


def test_the_days_follow_the_users_week_start(owner_client, owner, profile):
    owner.week_start = 0
    owner.save()

    html = owner_client.get(NEW_PAGE).content.decode()

    days = re.findall(r'<label id="id_day_\d-label" for="id_day_\d">(\w+)</label>', html)
    assert days[0] == "Sunday" and days[-1] == "Saturday" and len(days) == 7


# Dates with other hours, added and removed in place -----------------------------------------------


def override_row(data: dict, index: int, day: str, periods=(), *, available: str = "") -> None:
    data[f"overrides-{index}-date"] = day
    data[f"overrides-{index}-available"] = available or ("hours" if periods else "off")
    data[f"overrides-{index}-hours-start"] = [start for start, _ in periods]
    data[f"overrides-{index}-hours-end"] = [end for _, end in periods]


def test_dates_added_in_place_are_saved_and_one_taken_away_leaves_a_gap(
    owner, owner_client, profile, work
):
    data = page_form_data(write_calendar=str(work.id))
    # Three rows added by the script; the middle one was taken away again.
    data["overrides-TOTAL_FORMS"] = "3"
    override_row(data, 0, "2030-12-24")
    override_row(data, 2, "2030-12-23", [("13:00", "15:00"), ("10:00", "12:00")])
    # Hidden periods of a day off are posted too, and do not count.
    data["overrides-0-hours-start"], data["overrides-0-hours-end"] = ["09:00"], ["17:00"]

    response = owner_client.post(NEW_PAGE, data)

    assert response.status_code == 302, response.context["editor"].overrides.errors
    page = BookingPage.objects.get(owner=owner)
    assert [(o.date, o.hours) for o in page.date_overrides.all()] == [
        (date(2030, 12, 23), [[600, 720], [780, 900]]),
        (date(2030, 12, 24), []),
    ]


@pytest.mark.parametrize(
    ("periods", "message"),
    [
        ([], "Tue 24 Dec 2030: Add a period, or make the day unavailable."),
        ([("12:00", "10:00")], f"Tue 24 Dec 2030: 12:00{DASH}10:00 ends before it starts."),
        (
            [("09:00", "12:00"), ("11:00", "13:00")],
            f"Tue 24 Dec 2030: 11:00{DASH}13:00 overlaps 09:00{DASH}12:00.",
        ),
    ],
)
def test_a_dates_hours_are_checked_like_a_weekdays(owner_client, profile, work, periods, message):
    data = page_form_data(write_calendar=str(work.id))
    data["overrides-TOTAL_FORMS"] = "1"
    override_row(data, 0, "2030-12-24", periods, available="hours")

    response = owner_client.post(NEW_PAGE, data)

    [row] = response.context["editor"].overrides.forms
    assert row.non_field_errors() == [message]
    html = response.content.decode()
    assert all(f'value="{start}"' in html and f'value="{end}"' in html for start, end in periods)
    assert not BookingPage.objects.exists()


def test_a_saved_date_is_removed_by_its_remove_box(owner_client, saved, work):
    data = page_form_data(slug="intro-call", write_calendar=str(work.id), initial_questions=0)
    data["overrides-TOTAL_FORMS"] = data["overrides-INITIAL_FORMS"] = "1"
    override_row(data, 0, "2030-12-24")
    data["overrides-0-DELETE"] = "on"

    response = owner_client.post(reverse("booking:page_edit", args=[saved.id]), data)

    assert response.status_code == 302
    assert not saved.date_overrides.exists()


def test_only_saved_rows_have_a_remove_box(owner_client, saved):
    new = owner_client.get(NEW_PAGE).content.decode()
    edit = owner_client.get(reverse("booking:page_edit", args=[saved.id])).content.decode()

    assert "DELETE" not in new.split("<template")[0]
    assert 'name="overrides-0-DELETE"' in edit and 'name="overrides-1-DELETE"' not in edit
    assert 'name="questions-1-DELETE"' in edit and 'name="questions-2-DELETE"' not in edit
    # The template rows the script adds from have none either.
    assert "__prefix__-DELETE" not in edit


# Questions, added, removed and moved in place -----------------------------------------------------


def test_questions_added_in_place_keep_the_order_the_script_numbered(
    owner, owner_client, profile, work
):
    data = page_form_data(
        write_calendar=str(work.id),
        questions=[
            {"label": "Company", "kind": "short", "ORDER": "2"},
            {"label": "Removed again", "kind": "short", "ORDER": "3"},
            {"label": "What about?", "kind": "long", "required": "on", "ORDER": "1"},
            # Added and left blank: it carries a position and nothing else.
            {"label": "", "kind": "short", "ORDER": "4"},
        ],
    )
    for name in ("label", "kind", "ORDER"):
        del data[f"questions-1-{name}"]

    response = owner_client.post(NEW_PAGE, data)

    assert response.status_code == 302, response.context["editor"].questions.errors
    page = BookingPage.objects.get(owner=owner)
    assert [(q.label, q.kind, q.required, q.position) for q in page.questions.all()] == [
        ("What about?", "long", True, 0),
        ("Company", "short", False, 1),
    ]


def test_a_saved_question_is_removed_moved_or_kept(owner_client, saved, work):
    company, phone = saved.questions.all()

    response = owner_client.post(
        reverse("booking:page_edit", args=[saved.id]),
        page_form_data(
            slug="intro-call",
            write_calendar=str(work.id),
            initial_questions=2,
            questions=[
                {"id": company.id, "label": "Company", "kind": "short", "ORDER": "2"},
                {"id": phone.id, "label": "Phone", "kind": "short", "ORDER": "1"},
                {"label": "Budget", "kind": "short", "ORDER": "3"},
            ],
        ),
    )
    assert response.status_code == 302
    assert [q.label for q in saved.questions.all()] == ["Phone", "Company", "Budget"]

    response = owner_client.post(
        reverse("booking:page_edit", args=[saved.id]),
        page_form_data(
            slug="intro-call",
            write_calendar=str(work.id),
            initial_questions=3,
            questions=[
                {"id": phone.id, "label": "Phone", "kind": "short", "ORDER": "1"},
                {"id": company.id, "label": "Company", "kind": "short", "DELETE": "on"},
                {
                    "label": "Budget",
                    "kind": "short",
                    "ORDER": "2",
                    "id": saved.questions.get(label="Budget").id,
                },
            ],
        ),
    )
    assert response.status_code == 302
    assert [q.label for q in saved.questions.all()] == ["Phone", "Budget"]


# The calendars to check ---------------------------------------------------------------------------


def test_counting_all_calendars_ignores_whatever_calendars_were_posted(
    owner, owner_client, profile, work, outsider
):
    theirs = CalendarFactory(connection=ConnectionFactory(user=outsider), name="Theirs")

    response = post_new(
        owner_client,
        work,
        busy_in_all_calendars="all",
        busy_calendars=[str(work.id), str(theirs.id), "not-an-id"],
    )

    assert response.status_code == 302
    page = BookingPage.objects.get(owner=owner)
    assert page.busy_in_all_calendars and not page.busy_calendars.exists()


def test_the_calendars_to_check_say_why_they_are_not_used_with_all_calendars(
    owner_client, profile, work
):
    html = owner_client.get(NEW_PAGE).content.decode()

    choices = html.split('class="busy-calendars__choices"')[1].split('class="hint busy-calendars')[
        0
    ]
    assert f'value="{work.id}"' in choices and "disabled" not in choices
    assert "Not used while events in all your calendars count" in html


# The live preview ----------------------------------------------------------------------------------


def preview_data(**changes) -> dict:
    changes.setdefault("minimum_notice", "0")
    return page_form_data(**changes)


def days_in(html: str) -> dict[str, list[str]]:
    """The preview's days: "Mon 6 May" -> the times shown."""
    rows = re.findall(
        r'<li class="draft-day">\s*<span class="draft-day__name">([^<]+)</span>(.*?)</li>',
        html,
        re.DOTALL,
    )
    return {name: re.findall(r'class="slot">([^<]+)<', times) for name, times in rows}


def test_the_preview_shows_the_unsaved_page_and_the_times_it_would_offer(
    owner_client, owner, profile, work, monkeypatch
):
    data = preview_data(
        title="Consultation",
        description="A first talk.",
        durations="45, 15",
        location="in_person",
        location_detail="Main Street 1",
        increment="60",
        weekly={1: [("09:00", "12:00")], 2: [("14:00", "16:00")]},
        write_calendar=str(work.id),
        busy_in_all_calendars="chosen",
        busy_calendars=[str(work.id)],
    )
    data["overrides-TOTAL_FORMS"] = "1"
    override_row(data, 0, "2030-05-07", [("13:00", "15:00")])
    calls = []
    real = selectors.page_slots

    def page_slots(page, **options):
        # Work is no real server: what the page is given is checked, and busy time is none.
        calls.append({"page": page, **options})
        return real(page, **{**options, "draft": replace(options["draft"], busy_calendars=[])})

    monkeypatch.setattr(selectors, "page_slots", page_slots)
    with time_machine.travel(MONDAY, tick=False):
        response = owner_client.post(NEW_PREVIEW, data)

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    assert "Consultation" in html and "A first talk." in html and "Ada Lovelace" in html
    assert "45, 15 minutes" in html and "In person: Main Street 1" in html
    days = days_in(html)
    # From 10:00 in Berlin on Monday: 45-minute meetings on the hour.
    assert days["Mon 6 May"] == ["10:00", "11:00"]
    # Tuesday's date override replaces its weekly hours.
    assert days["Tue 7 May"] == ["13:00", "14:00"]
    assert days["Wed 8 May"] == [] and len(days) == 7
    assert "No times" in html
    [call] = calls
    assert call["duration"] == 45 and not call["page"].busy_in_all_calendars
    assert list(call["draft"].busy_calendars) == [work]
    assert not BookingPage.objects.exists() and not DateOverride.objects.exists()


def test_the_preview_of_a_page_being_edited_keeps_its_id_and_saves_nothing(
    owner_client, saved, work, monkeypatch
):
    calls = []
    monkeypatch.setattr(
        selectors, "page_slots", lambda page, **options: calls.append(page) or PageSlots()
    )
    before = BookingPage.objects.values().get(id=saved.id)

    response = owner_client.post(
        reverse("booking:page_edit_preview", args=[saved.id]),
        preview_data(title="Renamed", slug="intro-call", write_calendar=str(work.id)),
    )

    assert response.status_code == 200 and "Renamed" in response.content.decode()
    assert [page.id for page in calls] == [saved.id]
    assert BookingPage.objects.values().get(id=saved.id) == before
    assert BookingPage.objects.count() == 1 and saved.questions.count() == 2


def test_a_page_without_a_title_yet_is_previewed_as_untitled(owner_client, profile, work):
    response = owner_client.post(NEW_PREVIEW, preview_data(title="", write_calendar=str(work.id)))

    html = response.content.decode()
    assert "Untitled page" in html and "The times show once" not in html


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"durations": "abc"}, "Meeting lengths: “abc” is not a number of minutes."),
        ({"weekly": {1: [("17:00", "09:00")]}}, f"Monday: 17:00{DASH}09:00 ends before it starts."),
        ({"time_zone": "Mars/Olympus"}, "Time zone of these hours: Select a valid choice."),
        ({"overrides-TOTAL_FORMS": "nonsense"}, "ManagementForm data is missing"),
        ({"location": "zoom"}, "Where you meet: Zoom meetings need a working Zoom connection."),
    ],
)
def test_the_preview_of_a_form_with_errors_names_them_instead_of_failing(
    owner_client, profile, work, changes, problem
):
    response = owner_client.post(
        NEW_PREVIEW, preview_data(title="Draft", write_calendar=str(work.id), **changes)
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "The times show once these are fixed" in html and "Draft" in html
    assert problem in html, re.findall(r"<li>(.*?)</li>", html)
    assert 'class="draft-days"' not in html


def test_the_preview_reads_busy_time_but_keeps_no_event_content(
    radicale_server, owner, owner_client, caplog
):
    host = make_host(radicale_server, owner, time_zone="UTC")
    day = days_ahead(2)
    host.world.put(
        "work",
        "secret",
        datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC),
        title="Secret merger talks",
        description="Do not tell anyone",
    )
    caplog.set_level(logging.DEBUG)
    data = preview_data(
        title="Intro call",
        slug="intro",
        time_zone="UTC",
        weekly={day.isoweekday(): [("09:00", "12:00")]},
        write_calendar=str(host.world.calendars["work"].id),
    )

    response = owner_client.post(reverse("booking:page_edit_preview", args=[host.page.id]), data)

    html = response.content.decode()
    times = days_in(html)[f"{day:%a} {day.day} {day:%b}"]
    assert times == ["09:00", "09:30", "11:00", "11:30"]
    assert "Secret" not in html and "Secret" not in caplog.text and "tell anyone" not in caplog.text


def test_the_preview_is_the_owners_alone(client, owner, saved, outsider, work):
    url = reverse("booking:page_edit_preview", args=[saved.id])
    data = preview_data(slug="intro-call", write_calendar=str(work.id))

    anonymous = client.post(url, data)
    client.force_login(outsider)
    Profile.objects.create(user=outsider, handle="stranger", display_name="Stranger")
    strangers = [client.post(url, data), client.get(url)]

    assert anonymous.status_code == 302 and anonymous.url.startswith(reverse("accounts:login"))
    assert client.post(NEW_PREVIEW, data).status_code == 200  # their own new page: fine
    assert [response.status_code for response in strangers] == [404, 405]


def test_the_preview_needs_the_forms_csrf_token(owner, saved, work):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)

    response = client.post(NEW_PREVIEW, preview_data(write_calendar=str(work.id)))

    assert response.status_code == 403


def test_the_preview_is_rate_limited_per_account(owner, profile, work, settings):
    settings.BOOKING_PREVIEW_RATE = "2/m"
    client = Client(REMOTE_ADDR="198.18.200.1")
    client.force_login(owner)
    data = preview_data(write_calendar=str(work.id))

    statuses = [client.post(NEW_PREVIEW, data).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    refused = client.post(NEW_PREVIEW, data)
    assert 0 < int(refused["Retry-After"]) <= 60


def test_an_unreadable_calendar_is_named_in_the_preview(owner_client, profile, work, monkeypatch):
    work.connection.status = Connection.Status.NEEDS_RECONNECT
    work.connection.save()
    monkeypatch.setattr(
        selectors, "page_slots", lambda page, **options: PageSlots(unreadable=[work])
    )

    html = owner_client.post(
        NEW_PREVIEW, preview_data(write_calendar=str(work.id))
    ).content.decode()

    assert "No times are offered while these calendars cannot be read" in html
    assert "<strong>Work</strong>" in html
