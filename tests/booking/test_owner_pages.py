"""The owner's booking pages: the public profile, the list, the page form and its validation, the
preview of the coming times, deleting, and access."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from booking.availability import PageSlots
from booking.models import Booking, BookingPage, DateOverride, Profile, Question
from booking.selectors import owner as selectors
from booking.services import pages
from booking.services.pages import PageSettings
from calendars.models import Connection
from tests.factories import DEFAULT_PASSWORD, CalendarFactory, ConnectionFactory, UserFactory

# Between the start and the end of a period in the form's messages.
DASH = "\N{EN DASH}"

pytestmark = pytest.mark.django_db

PAGE_URLS = ["page_edit", "page_preview", "page_delete"]
PLAIN_URLS = ["page_list", "profile_edit", "page_create"]
# Monday 6 May 2030, 08:00 UTC (10:00 in Berlin).
MONDAY = datetime(2030, 5, 6, 8, 0, tzinfo=UTC)


def client_for(user):
    from django.test import Client

    client = Client()
    client.login(email=user.email, password=DEFAULT_PASSWORD)
    return client


@pytest.fixture
def calendars(owner):
    dav = ConnectionFactory(user=owner, label="owner @ dav.example.com")
    ics = ConnectionFactory(user=owner, kind=Connection.Kind.ICS, label="School holidays link")
    return {
        "Work": CalendarFactory(connection=dav, name="Work"),
        "Personal": CalendarFactory(connection=dav, name="Personal"),
        "Shared": CalendarFactory(connection=dav, name="Shared", read_only=True),
        "Holidays": CalendarFactory(connection=ics, name="Holidays", read_only=True),
    }


@pytest.fixture
def page(owner, profile, calendars):
    page = BookingPage.objects.create(
        owner=owner,
        title="Intro call",
        slug="intro-call",
        durations=[30, 60],
        time_zone="Europe/Berlin",
        weekly_hours={"1": [[540, 720]]},
        write_calendar=calendars["Work"],
    )
    Question.objects.create(page=page, label="What about?", position=0)
    return page


@pytest.fixture
def strangers_calendar(outsider):
    connection = ConnectionFactory(user=outsider, label="outsider @ dav.example.com")
    return CalendarFactory(connection=connection, name="Outsider's secret calendar")


WORKDAYS = {day: [("09:00", "17:00")] for day in range(1, 6)}


def page_form_data(
    *,
    weekly: dict[int, list[tuple[str, str]]] | None = None,
    overrides: Sequence[tuple[str, list[tuple[str, str]]]] = (),
    questions: Sequence[dict] = (),
    initial_questions: int = 0,
    **changes: object,
) -> dict[str, object]:
    """What the page form posts with its defaults: ``weekly`` periods by ISO weekday (the days
    left out switched off), ``overrides`` as (date, periods) rows (no periods: a day off), and
    ``questions`` as rows."""
    data: dict[str, object] = {
        "title": "Intro call",
        "description": "",
        "slug": "",
        "listed": "unlisted",
        "active": "on",
        "durations": "30",
        "time_zone": "Europe/Berlin",
        "buffer_before": "0",
        "buffer_after": "0",
        "minimum_notice": "240",
        "horizon_days": "60",
        "increment": "30",
        "max_per_day": "",
        "busy_in_all_calendars": "all",
        "tentative_is_busy": "on",
        "all_day_events": "busy",
        "write_calendar": "",
        "location": "none",
        "location_detail": "",
        "embed_on": "any",
        "embed_origins": "",
        "overrides-TOTAL_FORMS": str(len(overrides)),
        "overrides-INITIAL_FORMS": "0",
        "questions-TOTAL_FORMS": str(len(questions)),
        "questions-INITIAL_FORMS": str(initial_questions),
    }
    for day, periods in (WORKDAYS if weekly is None else weekly).items():
        data[f"day_{day}"] = "on"
        data[f"hours-{day}-start"] = [start for start, _ in periods]
        data[f"hours-{day}-end"] = [end for _, end in periods]
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


def errors_of(response, field: str) -> list[str]:
    return list(response.context["editor"].form.errors.get(field, []))


def post_new(client, calendars, **changes):
    changes.setdefault("write_calendar", str(calendars["Work"].id))
    return client.post(reverse("booking:page_create"), page_form_data(**changes))


# Access ------------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in_from_every_owner_page(client, page):
    urls = [reverse(f"booking:{name}") for name in PLAIN_URLS]
    urls += [reverse(f"booking:{name}", args=[page.id]) for name in PAGE_URLS]
    for url in urls:
        for response in [client.get(url), client.post(url)]:
            assert response.status_code == 302, url
            assert response.url.startswith(reverse("accounts:login")), url


def test_an_outsider_gets_404_on_every_page_url_and_changes_nothing(page, outsider, calendars):
    client = client_for(outsider)
    data = page_form_data(title="Hijacked", write_calendar=str(calendars["Work"].id))
    for name in PAGE_URLS:
        url = reverse(f"booking:{name}", args=[page.id])
        assert client.get(url).status_code == 404, name
        assert client.post(url, data).status_code == 404, name

    page.refresh_from_db()
    assert page.title == "Intro call"
    assert BookingPage.objects.filter(id=page.id).exists()


def test_an_outsider_sees_none_of_the_owners_pages_or_calendars(page, outsider):
    Profile.objects.create(user=outsider, handle="stranger", display_name="Stranger")
    client = client_for(outsider)
    for url in [reverse("booking:page_list"), reverse("booking:page_create")]:
        html = client.get(url).content.decode()
        assert str(page.id) not in html and page.secret not in html
        assert "owner @ dav.example.com" not in html
        assert "/book/ada/" not in html


# The public profile ------------------------------------------------------------------------------


def test_on_first_use_the_list_asks_for_a_handle_suggested_from_the_email(owner_client):
    response = owner_client.get(reverse("booking:page_list"))

    html = response.content.decode()
    assert "First, choose your public address" in html
    assert response.context["profile_form"]["handle"].value() == "owner"
    assert response.context["profile_form"]["display_name"].value() == "Owner"
    assert reverse("booking:page_create") not in html


@pytest.mark.parametrize(
    ("email", "taken", "suggested"),
    [
        ("owner@example.com", ["owner"], "owner-2"),
        ("owner@example.com", ["owner", "owner-2"], "owner-3"),
        ("Jane.Doe_99@example.com", [], "jane-doe-99"),
        ("me@example.com", [], "me-meets"),
        ("admin@example.com", [], "admin-meets"),
        ("__@example.com", [], "my-meetings"),
    ],
)
def test_the_suggested_handle_follows_the_rules_and_is_free(email, taken, suggested):
    for handle in taken:
        Profile.objects.create(user=UserFactory(), handle=handle, display_name=handle)

    handle = selectors.suggested_handle(UserFactory(email=email.lower()))

    assert handle == suggested
    assert selectors.handle_problem(handle) is None


def test_saving_the_handle_creates_the_profile_and_opens_the_list(owner_client, owner):
    response = owner_client.post(
        reverse("booking:profile_edit"),
        {"handle": " Ada-Lovelace ", "display_name": "Ada Lovelace"},
        follow=True,
    )

    profile = Profile.objects.get(user=owner)
    assert (profile.handle, profile.display_name) == ("ada-lovelace", "Ada Lovelace")
    assert response.redirect_chain[-1][0] == reverse("booking:page_list")
    html = response.content.decode()
    assert "http://testserver/book/ada-lovelace/" in html
    assert "New booking page" in html


@pytest.mark.parametrize(
    ("handle", "message"),
    [
        ("ab", "Use 3 to 40 characters."),
        ("a" * 41, "Use 3 to 40 characters."),
        ("ada_lovelace", "Use lowercase letters, digits and single hyphens"),
        ("ada lovelace", "Use lowercase letters, digits and single hyphens"),
        ("-ada", "Use lowercase letters, digits and single hyphens"),
        ("ada-", "Use lowercase letters, digits and single hyphens"),
        ("ada--lovelace", "Use lowercase letters, digits and single hyphens"),
        ("adé", "Use lowercase letters, digits and single hyphens"),
        ("admin", "“admin” is reserved. Choose another handle."),
        ("book", "“book” is reserved. Choose another handle."),
        ("taken", "“taken” is taken. Choose another handle."),
        ("", "This field is required."),
    ],
)
def test_a_handle_breaking_the_rules_gets_a_field_error(owner_client, owner, handle, message):
    Profile.objects.create(user=UserFactory(), handle="taken", display_name="Someone")

    response = owner_client.post(
        reverse("booking:profile_edit"), {"handle": handle, "display_name": "Ada"}
    )

    assert response.status_code == 200
    errors = response.context["form"].errors["handle"]
    assert any(error.startswith(message) for error in errors), errors
    assert not Profile.objects.filter(user=owner).exists()
    if handle:
        assert f'value="{handle}"' in response.content.decode()  # what was typed stays


def test_the_profile_can_be_changed_later_and_keeps_its_own_handle(owner_client, profile):
    form = owner_client.get(reverse("booking:profile_edit")).context["form"]
    assert form["handle"].value() == "ada"

    response = owner_client.post(
        reverse("booking:profile_edit"), {"handle": "ada", "display_name": "Ada L."}
    )

    assert response.status_code == 302
    profile.refresh_from_db()
    assert (profile.handle, profile.display_name) == ("ada", "Ada L.")


def test_a_new_page_needs_a_handle_first(owner_client):
    response = owner_client.get(reverse("booking:page_create"))
    assert response.status_code == 302
    assert response.url == reverse("booking:profile_edit")


# The list ----------------------------------------------------------------------------------------


def test_the_empty_list_offers_a_new_page(owner_client, profile):
    html = owner_client.get(reverse("booking:page_list")).content.decode()

    assert "No booking pages yet" in html
    assert reverse("booking:page_create") in html
    assert "Connect your calendars too" in html


def test_the_list_shows_each_page_with_its_link_lengths_visibility_and_upcoming_bookings(
    owner_client, owner, page
):
    listed = BookingPage.objects.create(
        owner=owner, title="Office hours", slug="office", listed=True, active=False, durations=[15]
    )
    now = datetime.now(UTC)
    make_booking(owner, page, now + timedelta(days=1))
    make_booking(owner, page, now + timedelta(days=2))
    make_booking(owner, page, now - timedelta(days=2))  # past
    make_booking(owner, page, now + timedelta(days=3), status=Booking.Status.CANCELLED)
    make_booking(owner, listed, now + timedelta(days=4))

    html = owner_client.get(reverse("booking:page_list")).content.decode()

    first, second = html.split('id="page-')[1:3]
    assert "Intro call" in first and "30, 60 minutes" in first
    secret_link = f"http://testserver/book/ada/intro-call--{page.secret}/"
    assert f'data-copy="{secret_link}"' in first and f'href="{secret_link}"' in first
    assert "Unlisted" in first and "Only people with the secret link" in first and "Open" in first
    assert re.search(r"<dt>Upcoming bookings</dt><dd><a [^>]*>2</a>", first)
    assert "Office hours" in second and "15 minutes" in second
    assert "http://testserver/book/ada/office/" in second
    assert "Listed" in second and "Paused" in second
    assert re.search(r"<dt>Upcoming bookings</dt><dd><a [^>]*>1</a>", second)
    assert "booking/owner.js" in html


# The form and its validation ---------------------------------------------------------------------


def test_a_new_page_starts_from_sensible_defaults(owner_client, owner, profile, calendars):
    form = owner_client.get(reverse("booking:page_create")).context["form"]

    days = sorted(form.weekday_fields(), key=lambda day: day.iso)
    assert [day.switch.value() for day in days] == [True] * 5 + [False] * 2
    # A day off shows the usual hours, ready for when it is switched on.
    assert [[(p.start, p.end) for p in day.periods.rows] for day in days] == [
        [("09:00", "17:00")]
    ] * 7
    assert form["durations"].value() == "30"
    assert form["minimum_notice"].value() == 240 and form["horizon_days"].value() == 60
    assert form["increment"].value() == 30 and form["buffer_before"].value() == 0
    assert form["time_zone"].value() == "Europe/Berlin" == owner.time_zone
    assert form["busy_in_all_calendars"].value() == "all"
    assert form["listed"].value() == "unlisted" and form["active"].value()
    assert form["tentative_is_busy"].value() and not form["free_is_busy"].value()
    assert form["write_calendar"].value() == calendars["Personal"].id  # the first writable one
    assert form["location"].value() == "none"


def test_the_form_offers_only_the_users_calendars_and_only_writable_ones_for_bookings(
    owner_client, profile, calendars, strangers_calendar
):
    html = owner_client.get(reverse("booking:page_create")).content.decode()

    write_select = re.search(r'<select name="write_calendar".*?</select>', html, re.DOTALL).group()
    assert "Work (owner @ dav.example.com)" in write_select
    assert "Holidays" not in write_select and "Shared" not in write_select
    busy_boxes = re.findall(r'name="busy_calendars" value="([^"]+)"', html)
    assert set(busy_boxes) == {str(calendar.id) for calendar in calendars.values()}
    assert str(strangers_calendar.id) not in html


def test_a_valid_page_is_saved_with_its_hours_dates_and_questions(
    owner_client, owner, profile, calendars
):
    response = post_new(
        owner_client,
        calendars,
        title="Intro call",
        description="A first talk.",
        listed="listed",
        durations="45, 15, 45",
        time_zone="America/New_York",
        weekly={
            1: [("13:00", "17:00"), ("09:00", "12:00")],
            2: [("09:00", "17:00")],
            4: [("09:00", "17:00")],
            5: [("09:00", "17:00")],
            6: [("10:00", "12:00"), ("12:00", "14:00")],
            7: [("20:00", "00:00")],
        },
        buffer_before="10",
        buffer_after="5",
        minimum_notice="60",
        horizon_days="30",
        increment="15",
        max_per_day="4",
        busy_in_all_calendars="chosen",
        busy_calendars=[str(calendars["Work"].id), str(calendars["Holidays"].id)],
        tentative_is_busy=None,
        free_is_busy="on",
        all_day_events="ignore",
        location="in_person",
        location_detail="  Main Street 1, Berlin ",
        overrides=[("2030-12-24", []), ("2030-12-23", [("10:00", "12:00")])],
        questions=[
            {"label": "Company", "kind": "short", "ORDER": "2"},
            {"label": "What would you like to talk about?", "kind": "long", "required": "on"},
            {"label": "", "kind": "short"},  # an untouched spare row
        ],
    )

    page = BookingPage.objects.get(owner=owner)
    assert response.status_code == 302
    assert response.url == reverse("booking:page_preview", args=[page.id])
    assert (page.title, page.description, page.slug) == (
        "Intro call",
        "A first talk.",
        "intro-call",
    )
    assert page.listed and page.active
    assert page.durations == [45, 15]
    assert page.time_zone == "America/New_York"
    assert page.weekly_hours == {
        "1": [[540, 720], [780, 1020]],
        "2": [[540, 1020]],
        "4": [[540, 1020]],
        "5": [[540, 1020]],
        "6": [[600, 840]],
        "7": [[1200, 1440]],
    }
    assert (page.buffer_before, page.buffer_after, page.minimum_notice) == (10, 5, 60)
    assert (page.horizon_days, page.increment, page.max_per_day) == (30, 15, 4)
    assert not page.busy_in_all_calendars
    assert set(page.busy_calendars.all()) == {calendars["Work"], calendars["Holidays"]}
    assert not page.tentative_is_busy and page.free_is_busy and page.all_day_events == "ignore"
    assert page.write_calendar == calendars["Work"]
    assert (page.location, page.location_detail) == ("in_person", "Main Street 1, Berlin")
    assert [(o.date, o.hours) for o in DateOverride.objects.filter(page=page)] == [
        (date(2030, 12, 23), [[600, 720]]),
        (date(2030, 12, 24), []),
    ]
    # Rows without a position come after the numbered ones.
    assert [(q.label, q.kind, q.required, q.position) for q in page.questions.all()] == [
        ("Company", "short", False, 0),
        ("What would you like to talk about?", "long", True, 1),
    ]


def test_the_address_comes_from_the_title_and_is_made_unique(owner_client, owner, page, calendars):
    post_new(owner_client, calendars, title="Intro Call!", slug="")
    post_new(owner_client, calendars, title="Intro Call!", slug="")

    slugs = sorted(BookingPage.objects.filter(owner=owner).values_list("slug", flat=True))
    assert slugs == ["intro-call", "intro-call-2", "intro-call-3"]


def test_another_users_address_does_not_clash(owner_client, owner, profile, calendars, outsider):
    BookingPage.objects.create(owner=outsider, title="Theirs", slug="intro", durations=[30])

    response = post_new(owner_client, calendars, slug="intro")

    assert response.status_code == 302
    assert BookingPage.objects.get(owner=owner).slug == "intro"


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("intro-call", "You already have a page at “intro-call”. Choose another address."),
        ("Intro-Call", "You already have a page at “intro-call”. Choose another address."),
        ("intro_call", "Use lowercase letters, digits and single hyphens"),
        ("intro--call", "Use lowercase letters, digits and single hyphens"),
        ("intro call", "Use lowercase letters, digits and single hyphens"),
        ("x" * 61, "Ensure this value has at most 60 characters"),
    ],
)
def test_a_bad_or_taken_address_gets_a_field_error(owner_client, page, calendars, slug, message):
    response = post_new(owner_client, calendars, title="Second page", slug=slug)

    assert response.status_code == 200
    assert any(error.startswith(message) for error in errors_of(response, "slug"))
    assert BookingPage.objects.count() == 1


def test_a_title_without_letters_or_digits_needs_an_address(owner_client, profile, calendars):
    response = post_new(owner_client, calendars, title="!!!", slug="")
    assert errors_of(response, "slug") == ["Give the page an address: letters or digits."]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("durations", "", "This field is required."),
        ("durations", "0", "0 minutes is not allowed: each length must be between 5 and 480"),
        ("durations", "30, 481", "481 minutes is not allowed"),
        ("durations", "30, half an hour", "“half” is not a number of minutes."),
        ("durations", ", ,", "Give at least one meeting length, in minutes."),
        ("durations", "5,10,15,20,25,30,35,40,45,50,55", "Offer at most 10 meeting lengths."),
        ("title", "", "This field is required."),
        ("time_zone", "Mars/Olympus", "Select a valid choice."),
        ("buffer_before", "241", "Choose between 0 and 240."),
        ("minimum_notice", "-1", "Choose between 0 and 43200."),
        ("horizon_days", "0", "Choose between 1 and 365."),
        ("horizon_days", "366", "Choose between 1 and 365."),
        ("increment", "4", "Choose between 5 and 240."),
        ("max_per_day", "0", "Choose between 1 and 100, or leave empty."),
    ],
)
def test_bad_settings_get_a_field_error_and_nothing_typed_is_lost(
    owner_client, profile, calendars, field, value, message
):
    response = post_new(owner_client, calendars, **{"title": "Kept title", field: value})

    assert response.status_code == 200
    assert any(error.startswith(message) for error in errors_of(response, field)), errors_of(
        response, field
    )
    assert not BookingPage.objects.exists()
    html = response.content.decode()
    assert "Some settings need a change" in html
    if field != "title":
        assert 'value="Kept title"' in html


@pytest.mark.parametrize(
    ("calendar", "message"),
    [
        ("Holidays", "Choose one of your calendars Multical can write to"),
        ("Shared", "Choose one of your calendars Multical can write to"),
        ("stranger", "Choose one of your calendars Multical can write to"),
        ("", "Choose the calendar bookings are added to."),
    ],
)
def test_bookings_go_only_to_a_writable_calendar_of_ones_own(
    owner_client, profile, calendars, strangers_calendar, calendar, message
):
    choice = {"stranger": strangers_calendar.id, "": ""}.get(calendar)
    if choice is None:
        choice = calendars[calendar].id

    response = post_new(owner_client, calendars, write_calendar=str(choice))

    assert errors_of(response, "write_calendar") and errors_of(response, "write_calendar")[
        0
    ].startswith(message)
    assert not BookingPage.objects.exists()


def test_without_a_writable_calendar_a_page_can_still_be_made(owner_client, owner, profile):
    ics = ConnectionFactory(user=owner, kind=Connection.Kind.ICS)
    CalendarFactory(connection=ics, name="Feed", read_only=True)

    html = owner_client.get(reverse("booking:page_create")).content.decode()
    response = owner_client.post(reverse("booking:page_create"), page_form_data())

    assert "You have no calendar Multical can write to yet" in html
    assert response.status_code == 302
    assert BookingPage.objects.get(owner=owner).write_calendar is None


def test_chosen_busy_calendars_must_be_some_of_ones_own(
    owner_client, profile, calendars, strangers_calendar
):
    none_chosen = post_new(owner_client, calendars, busy_in_all_calendars="chosen")
    strangers = post_new(
        owner_client,
        calendars,
        busy_in_all_calendars="chosen",
        busy_calendars=[str(strangers_calendar.id)],
    )

    assert errors_of(none_chosen, "busy_calendars") == [
        "Choose at least one calendar, or count events in all your calendars."
    ]
    assert errors_of(strangers, "busy_calendars") == ["Choose among your own calendars."]
    assert not BookingPage.objects.exists()


def test_counting_all_calendars_forgets_the_chosen_ones(owner_client, owner, page, calendars):
    page.busy_in_all_calendars = False
    page.save()
    page.busy_calendars.set([calendars["Work"]])

    owner_client.post(
        reverse("booking:page_edit", args=[page.id]),
        page_form_data(
            slug="intro-call",
            write_calendar=str(calendars["Work"].id),
            busy_calendars=[str(calendars["Personal"].id)],
        ),
    )

    page.refresh_from_db()
    assert page.busy_in_all_calendars and not page.busy_calendars.exists()


def test_zoom_needs_a_working_zoom_connection(owner_client, owner, profile, calendars):
    response = post_new(owner_client, calendars, location="zoom")

    [error] = errors_of(response, "location")
    assert error.startswith("Zoom meetings need a working Zoom connection.")
    html = response.content.decode()
    # The error carries a working link to where Zoom is connected.
    assert f'<a href="{reverse("calendars:calendar_list")}">Connect Zoom</a>' in html
    assert not BookingPage.objects.exists()

    zoom = ConnectionFactory(user=owner, kind=Connection.Kind.ZOOM, status="needs_reconnect")
    assert errors_of(post_new(owner_client, calendars, location="zoom"), "location")

    zoom.status = Connection.Status.OK
    zoom.save()
    response = post_new(owner_client, calendars, location="zoom", location_detail="ignored")
    assert response.status_code == 302
    page = BookingPage.objects.get(owner=owner)
    assert (page.location, page.location_detail) == ("zoom", "")


def test_another_users_zoom_connection_does_not_count(owner_client, profile, calendars, outsider):
    ConnectionFactory(user=outsider, kind=Connection.Kind.ZOOM)
    assert errors_of(post_new(owner_client, calendars, location="zoom"), "location")


@pytest.mark.parametrize(
    ("location", "detail", "message"),
    [
        ("phone", "", "Give the phone number for the call"),
        ("phone", "call me", "Give the phone number for the call"),
        ("phone", "123", "Give the phone number for the call"),
        ("in_person", "   ", "Give the address where you meet."),
        ("link", "", "Give the meeting link, starting with https://."),
        ("link", "http://meet.example.com/ada", "Give the meeting link, starting with https://."),
        ("link", "javascript:alert(1)", "Give the meeting link, starting with https://."),
    ],
)
def test_each_location_needs_its_detail(
    owner_client, profile, calendars, location, detail, message
):
    response = post_new(owner_client, calendars, location=location, location_detail=detail)

    errors = errors_of(response, "location_detail")
    assert errors and errors[0].startswith(message)


@pytest.mark.parametrize(
    ("location", "detail"),
    [
        ("phone", "+49 (30) 123-4567"),
        ("link", "https://meet.example.com/ada"),
        ("none", ""),
    ],
)
def test_a_location_with_its_detail_is_saved(
    owner_client, owner, profile, calendars, location, detail
):
    assert (
        post_new(owner_client, calendars, location=location, location_detail=detail).status_code
        == 302
    )
    page = BookingPage.objects.get(owner=owner)
    assert (page.location, page.location_detail) == (location, detail)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            [("2030-12-24", []), ("2030-12-24", [("10:00", "12:00")])],
            "date",
            "This date is already listed",
        ),
        ([("", [("10:00", "12:00")])], "date", "Give the date these hours are for."),
        (
            [("2030-12-24", [("12:00", "10:00")])],
            "__all__",
            f"Tue 24 Dec 2030: 12:00{DASH}10:00 ends before it starts.",
        ),
        ([("24.12.2030", [])], "date", "Enter a valid date."),
    ],
)
def test_bad_date_overrides_get_an_error_on_their_row(
    owner_client, profile, calendars, overrides, field, message
):
    response = post_new(owner_client, calendars, overrides=overrides)

    assert response.status_code == 200
    errors = [
        error for row in response.context["editor"].overrides for error in row.errors.get(field, [])
    ]
    assert errors and errors[0].startswith(message), errors
    assert not BookingPage.objects.exists()


def test_editing_keeps_reorders_changes_and_removes_questions(owner_client, page, calendars):
    kept = page.questions.get()
    second = Question.objects.create(page=page, label="Company", position=1)
    gone = Question.objects.create(page=page, label="Old question", position=2)

    response = owner_client.post(
        reverse("booking:page_edit", args=[page.id]),
        page_form_data(
            slug="intro-call",
            write_calendar=str(calendars["Work"].id),
            initial_questions=3,
            questions=[
                {"id": kept.id, "label": "What about, briefly?", "kind": "long", "ORDER": "2"},
                {"id": second.id, "label": "Company", "kind": "short", "ORDER": "1"},
                {"id": gone.id, "label": "Old question", "kind": "short", "DELETE": "on"},
                {"label": "Phone", "kind": "short", "required": "on", "ORDER": "3"},
            ],
        ),
    )

    assert response.status_code == 302
    questions = list(page.questions.all())
    assert [(q.label, q.kind, q.required) for q in questions] == [
        ("Company", "short", False),
        ("What about, briefly?", "long", False),
        ("Phone", "short", True),
    ]
    assert questions[0].id == second.id and questions[1].id == kept.id
    assert not Question.objects.filter(id=gone.id).exists()


def test_a_question_left_empty_must_be_written_or_removed(owner_client, page, calendars):
    question = page.questions.get()

    response = owner_client.post(
        reverse("booking:page_edit", args=[page.id]),
        page_form_data(
            slug="intro-call",
            write_calendar=str(calendars["Work"].id),
            initial_questions=1,
            questions=[{"id": question.id, "label": "", "kind": "short"}],
        ),
    )

    assert response.context["editor"].questions[0].errors["label"] == ["Write the question."]
    assert page.questions.get().label == "What about?"


def test_question_ids_of_another_page_are_not_taken_over(owner_client, page, calendars, outsider):
    theirs = BookingPage.objects.create(owner=outsider, title="Theirs", slug="x", durations=[30])
    foreign = Question.objects.create(page=theirs, label="Their question")

    owner_client.post(
        reverse("booking:page_edit", args=[page.id]),
        page_form_data(
            slug="intro-call",
            write_calendar=str(calendars["Work"].id),
            questions=[{"id": foreign.id, "label": "Mine", "kind": "short"}],
        ),
    )

    foreign.refresh_from_db()
    assert (foreign.page, foreign.label) == (theirs, "Their question")
    assert [q.label for q in page.questions.all()] == ["Mine"]


def test_the_edit_form_shows_the_saved_page(owner_client, page, calendars):
    DateOverride.objects.create(page=page, date=date(2030, 12, 24), hours=[])
    response = owner_client.get(reverse("booking:page_edit", args=[page.id]))

    editor = response.context["editor"]
    monday, tuesday = editor.form.weekday_fields()[:2]
    assert monday.switch.value() and [(p.start, p.end) for p in monday.periods.rows] == [
        ("09:00", "12:00")
    ]
    assert not tuesday.switch.value()
    assert editor.form["slug"].value() == "intro-call"
    assert editor.form["write_calendar"].value() == calendars["Work"].id
    assert editor.overrides.forms[0]["date"].value() == date(2030, 12, 24)
    assert editor.overrides.forms[0]["available"].value() == "off"
    assert editor.questions.forms[0]["label"].value() == "What about?"
    assert len(editor.questions.forms) == 3  # the question and two spare rows


# The preview -------------------------------------------------------------------------------------


def fake_slots(monkeypatch, result: PageSlots) -> list[dict]:
    calls: list[dict] = []

    def page_slots(page, **options):
        calls.append({"page": page, **options})
        return result

    monkeypatch.setattr(selectors, "page_slots", page_slots)
    return calls


def test_the_preview_shows_the_next_weeks_slots_by_day_in_the_pages_zone(
    owner_client, page, monkeypatch
):
    calls = fake_slots(
        monkeypatch,
        PageSlots(
            slots=[
                datetime(2030, 5, 6, 7, 0, tzinfo=UTC),  # Mon 09:00 in Berlin
                datetime(2030, 5, 6, 7, 30, tzinfo=UTC),
                datetime(2030, 5, 6, 22, 30, tzinfo=UTC),  # Tue 00:30 in Berlin
            ]
        ),
    )

    with time_machine.travel(MONDAY, tick=False):
        response = owner_client.get(reverse("booking:page_preview", args=[page.id]))

    html = response.content.decode()
    assert [call["duration"] for call in calls] == [30]
    assert calls[0]["now"] == MONDAY
    # From now to the end of the seventh day, Sunday, in the page's zone.
    window = calls[0]["window"]
    assert (window.start, window.end) == (MONDAY, datetime(2030, 5, 12, 22, 0, tzinfo=UTC))
    days = html.split('class="slot-day"')[1:]
    assert "Monday 6 May" in days[0] and re.findall(r">(\d\d:\d\d)<", days[0]) == ["09:00", "09:30"]
    assert "Tuesday 7 May" in days[1] and re.findall(r">(\d\d:\d\d)<", days[1]) == ["00:30"]
    assert "Europe/Berlin" in html
    assert f"http://testserver/book/ada/intro-call--{page.secret}/" in html


def test_the_preview_can_show_another_meeting_length(owner_client, page, monkeypatch):
    calls = fake_slots(monkeypatch, PageSlots())

    html = owner_client.get(
        reverse("booking:page_preview", args=[page.id]), {"duration": "60"}
    ).content.decode()
    owner_client.get(reverse("booking:page_preview", args=[page.id]), {"duration": "45"})

    assert [call["duration"] for call in calls] == [60, 30]  # 45 is not offered
    assert "No open times" in html


def test_the_preview_names_the_calendars_it_could_not_read_and_offers_nothing(
    owner_client, page, calendars, monkeypatch
):
    fake_slots(monkeypatch, PageSlots(unreadable=[calendars["Work"], calendars["Holidays"]]))

    html = owner_client.get(reverse("booking:page_preview", args=[page.id])).content.decode()

    assert (
        "No times are offered while <strong>Work</strong>, <strong>Holidays</strong> cannot be read"
        in html
    )
    assert 'class="slot"' not in html


def test_the_preview_reads_the_real_availability_of_the_saved_page(owner_client, owner, profile):
    # No calendars: only the hours, the notice and the bookings decide.
    page = BookingPage.objects.create(
        owner=owner,
        title="Quick chat",
        slug="chat",
        durations=[60],
        time_zone="Europe/Berlin",
        weekly_hours={"1": [[540, 780]], "2": [[540, 660]]},
        minimum_notice=60,
        increment=60,
    )
    make_booking(owner, page, datetime(2030, 5, 7, 7, 0, tzinfo=UTC), minutes=60)  # Tue 09:00

    with time_machine.travel(MONDAY, tick=False):
        html = owner_client.get(reverse("booking:page_preview", args=[page.id])).content.decode()

    days = html.split('class="slot-day"')[1:]
    assert "Monday 6 May" in days[0]
    assert re.findall(r">(\d\d:\d\d)<", days[0]) == [
        "11:00",
        "12:00",
    ]  # an hour's notice from 10:00
    assert "Tuesday 7 May" in days[1]
    assert re.findall(r">(\d\d:\d\d)<", days[1]) == ["10:00"]
    assert "Monday 13 May" not in html  # a week: Monday 6 to Sunday 12


# Deleting ----------------------------------------------------------------------------------------


def test_deleting_a_page_asks_first_and_keeps_its_bookings(owner_client, owner, page):
    booking = make_booking(owner, page, datetime.now(UTC) + timedelta(days=1))
    url = reverse("booking:page_delete", args=[page.id])

    confirm = owner_client.get(url).content.decode()
    response = owner_client.post(url)

    assert (
        "Delete “Intro call”?" in confirm and "The 1 upcoming booking made on it stays" in confirm
    )
    assert response.status_code == 302 and response.url == reverse("booking:page_list")
    assert not BookingPage.objects.filter(id=page.id).exists()
    booking.refresh_from_db()
    assert booking.page is None


# The services refuse what the forms rule out ----------------------------------------------------


def saved_settings(page: BookingPage, **changes: object) -> PageSettings:
    return dataclasses.replace(PageSettings.of(page), **changes)


def test_a_page_cannot_use_another_users_calendars(page, calendars, strangers_calendar):
    with pytest.raises(ValueError, match="writable calendar of the owner's"):
        pages.page_update(
            page=page, settings=saved_settings(page, write_calendar=strangers_calendar)
        )
    with pytest.raises(ValueError, match="writable calendar of the owner's"):
        pages.page_update(
            page=page, settings=saved_settings(page, write_calendar=calendars["Holidays"])
        )
    with pytest.raises(ValueError, match="its owner's calendars"):
        pages.page_create(
            owner=page.owner,
            settings=saved_settings(page, slug="other"),
            busy_calendars=[strangers_calendar],
        )

    page.refresh_from_db()
    assert page.write_calendar == calendars["Work"]
    assert BookingPage.objects.count() == 1


def test_a_profile_handle_that_breaks_the_rules_is_refused(owner):
    with pytest.raises(ValueError):
        pages.profile_update(user=owner, handle="Admin", display_name="Ada")
    assert not Profile.objects.exists()


# The admin ---------------------------------------------------------------------------------------


def test_operators_see_pages_and_bookings_but_not_what_attendees_wrote(owner, page):
    booking = make_booking(owner, page, datetime.now(UTC) + timedelta(days=1))
    booking.answers = [{"question": "What about?", "answer": "A secret plan"}]
    booking.save()
    operator = client_for(UserFactory(is_staff=True, is_superuser=True))

    for url in [
        reverse("admin:booking_profile_changelist"),
        reverse("admin:booking_profile_change", args=[owner.pk]),
        reverse("admin:booking_bookingpage_changelist"),
        reverse("admin:booking_bookingpage_change", args=[page.pk]),
        reverse("admin:booking_booking_changelist"),
    ]:
        assert operator.get(url).status_code == 200, url
    html = operator.get(reverse("admin:booking_booking_change", args=[booking.pk])).content
    assert b"grace@example.com" not in html and b"A secret plan" not in html
    assert (
        page.secret.encode()
        not in operator.get(reverse("admin:booking_bookingpage_change", args=[page.pk])).content
    )


# Helpers -----------------------------------------------------------------------------------------


def make_booking(owner, page, start, *, minutes=30, status=Booking.Status.CONFIRMED) -> Booking:
    return Booking.objects.create(
        owner=owner,
        page=page,
        title=page.title,
        start=start,
        end=start + timedelta(minutes=minutes),
        status=status,
        attendee_name="Grace Hopper",
        attendee_email="grace@example.com",
        location=page.location,
        submission_key=f"key-{Booking.objects.count()}-{start.isoformat()}",
    )


def test_the_typed_settings_carry_every_setting_of_the_page_model():
    kept_apart = {"id", "owner", "secret", "busy_calendars", "plan_paused_at"}
    kept_apart |= {"created_at", "updated_at"}
    model_settings = {
        field.name
        for field in BookingPage._meta.get_fields()
        if field.concrete and field.name not in kept_apart
    }

    assert {field.name for field in dataclasses.fields(PageSettings)} == model_settings
    page = BookingPage()
    changed = dataclasses.replace(PageSettings.of(page), durations=(30, 45), title="Intro")
    changed.apply_to(page)
    assert PageSettings.of(page) == changed and page.durations == [30, 45]
