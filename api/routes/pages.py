"""Booking pages: the settings, date overrides and questions of the page form, checked by it.

A request is read as the page form would be posted: what it leaves out is posted as the form shows
it (a page's current values, or what a new page starts with), so the form's checks and the page
services decide, exactly as for the pages.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from django import forms as django_forms
from django.conf import settings
from django.db.models import QuerySet
from django.forms.formsets import DELETION_FIELD_NAME, ORDERING_FIELD_NAME
from django.http import HttpRequest, HttpResponse
from django.utils.datastructures import MultiValueDict
from ninja import Field, Query, Router, Schema, Status

from accounts.billing.plans import PlanLimitReached
from accounts.models import User
from api.auth import KeyAuth, key_of
from api.pagination import PageQuery, page
from api.problems import ApiProblem, FieldProblem, Problem, form_errors, invalid
from api.schemas import Out
from api.schemas_booking import Day, SlotsOut, SlotsQuery, open_slots
from api.scopes import Scope
from booking.forms import (
    DURATION_MAX,
    DURATION_MIN,
    PERIODS_MAX,
    OverrideForm,
    PageForm,
    PageForms,
)
from booking.models import BookingPage, Profile, Question
from booking.selectors import owner as selectors
from booking.services import pages as services
from console.team_forms import TeamPageForm, TeamPageForms
from orgs.policies import PolicyRefused

router = Router(tags=["Booking pages"])
_read = KeyAuth(Scope.PAGES_READ)
_write = KeyAuth(Scope.PAGES_WRITE)

# ISO weekdays 1 to 7, by name.
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_START = r"^([01]\d|2[0-3]):[0-5]\d$"
_END = r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$"
_DAY_END = 24 * 60
# A meeting length, as the page form allows it.
Minutes = Annotated[int, Field(ge=DURATION_MIN, le=DURATION_MAX)]
# A website's origin; the page form takes them a line each.
Origin = Annotated[str, Field(pattern=r"^[^\r\n]*$")]


class Period(Schema):
    start: str = Field(pattern=_START, description="`HH:MM` in the page's zone.")
    end: str = Field(pattern=_END, description="`HH:MM`; `24:00` is the end of the day.")


class WeeklyHours(Schema):
    """Open periods per weekday, in the page's zone; a day without periods is closed."""

    monday: list[Period] = Field(default_factory=list, max_length=PERIODS_MAX)
    tuesday: list[Period] = Field(default_factory=list, max_length=PERIODS_MAX)
    wednesday: list[Period] = Field(default_factory=list, max_length=PERIODS_MAX)
    thursday: list[Period] = Field(default_factory=list, max_length=PERIODS_MAX)
    friday: list[Period] = Field(default_factory=list, max_length=PERIODS_MAX)
    saturday: list[Period] = Field(default_factory=list, max_length=PERIODS_MAX)
    sunday: list[Period] = Field(default_factory=list, max_length=PERIODS_MAX)


class DateOverrideIO(Schema):
    date: Day
    hours: list[Period] = Field(
        default_factory=list,
        max_length=PERIODS_MAX,
        description="Other hours that day; none: closed all day.",
    )


class QuestionIO(Schema):
    label: str = Field(min_length=1, max_length=200)
    kind: Question.Kind = Question.Kind.SHORT
    required: bool = False


class PagePatch(Schema):
    """A page's settings. Left out on PATCH: kept as they are; left out on create: what a new page
    starts with in the page form (Monday to Friday 09:00 to 17:00, 30 minutes, your time zone,
    unlisted, open, bookings written to your first writable calendar)."""

    title: str | None = Field(None, min_length=1, max_length=120)
    description: str | None = Field(None, max_length=2000)
    slug: str | None = Field(None, max_length=60, description="Left empty: made from the title.")
    listed: bool | None = Field(None, description="Shown on your public profile.")
    active: bool | None = Field(None, description="Taking bookings.")
    durations: list[Minutes] | None = Field(None, description="Minutes; the first is the default.")
    time_zone: str | None = None
    weekly_hours: WeeklyHours | None = Field(
        None, description="When given, the whole week: a day left out is closed."
    )
    date_overrides: list[DateOverrideIO] | None = Field(
        None, max_length=200, description="When given, every date with other hours."
    )
    buffer_before: int | None = Field(
        None, ge=0, le=240, description="Minutes kept free before a meeting."
    )
    buffer_after: int | None = Field(
        None, ge=0, le=240, description="Minutes kept free after a meeting."
    )
    minimum_notice: int | None = Field(
        None, ge=0, le=60 * 24 * 30, description="Minutes between booking and meeting."
    )
    horizon_days: int | None = Field(
        None, ge=1, le=365, description="How many days ahead people can book."
    )
    increment: int | None = Field(
        None, ge=5, le=240, description="Minutes between the start times offered."
    )
    max_per_day: int | None = Field(
        None, ge=1, le=100, description="At most this many bookings a day; null: no cap."
    )
    busy_in_all_calendars: bool | None = Field(
        None, description="Events in all your calendars make you busy; false: `busy_calendars`."
    )
    busy_calendars: list[UUID] | None = None
    tentative_is_busy: bool | None = None
    free_is_busy: bool | None = None
    all_day_events: BookingPage.AllDayEvents | None = None
    write_calendar: UUID | None = Field(None, description="The calendar bookings are added to.")
    location: BookingPage.Location | None = None
    location_detail: str | None = Field(
        None, max_length=500, description="The phone number, address or link."
    )
    language: str | None = Field(None, description="Empty: each attendee's own language.")
    questions: list[QuestionIO] | None = Field(
        None, max_length=20, description="Asked of attendees, in order."
    )
    embed_on: BookingPage.EmbedOn | None = Field(
        None, description="Which websites may show the page in a frame of theirs."
    )
    embed_origins: list[Origin] | None = Field(
        None,
        description="With `listed`: the websites, as https://example.com or "
        "https://*.example.com for its subdomains. Kept whatever `embed_on` says.",
    )


class PageIn(PagePatch):
    title: str = Field(min_length=1, max_length=120)


class PageOut(Out):
    id: UUID
    title: str
    description: str
    slug: str
    public_url: str | None = Field(description="Null until you choose your public address.")
    listed: bool
    active: bool
    paused_by_plan: bool
    durations: list[int]
    time_zone: str
    weekly_hours: WeeklyHours
    date_overrides: list[DateOverrideIO]
    buffer_before: int
    buffer_after: int
    minimum_notice: int
    horizon_days: int
    increment: int
    max_per_day: int | None
    busy_in_all_calendars: bool
    busy_calendars: list[UUID]
    tentative_is_busy: bool
    free_is_busy: bool
    all_day_events: str
    write_calendar: UUID | None
    location: str
    location_detail: str
    language: str
    questions: list[QuestionIO]
    embed_on: BookingPage.EmbedOn
    embed_origins: list[str]
    created_at: datetime
    updated_at: datetime


class PageList(Out):
    items: list[PageOut]
    next_cursor: str | None


def _clock(minutes: int, *, end: bool) -> str:
    if end and minutes >= _DAY_END:
        return "24:00"
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _periods(hours: list[list[int]]) -> list[Period]:
    return [
        Period(start=_clock(start, end=False), end=_clock(end, end=True)) for start, end in hours
    ]


def _out(booking_page: BookingPage, profile: Profile | None) -> PageOut:
    public_url = (
        settings.SITE_URL + selectors.public_page_path(booking_page, handle=profile.handle)
        if profile is not None
        else None
    )
    weekly = booking_page.weekly_hours
    return PageOut(
        id=booking_page.id,
        title=booking_page.title,
        description=booking_page.description,
        slug=booking_page.slug,
        public_url=public_url,
        listed=booking_page.listed,
        active=booking_page.active,
        paused_by_plan=booking_page.plan_paused_at is not None,
        durations=list(booking_page.durations),
        time_zone=booking_page.time_zone,
        weekly_hours=WeeklyHours(
            **{name: _periods(weekly.get(str(iso), [])) for iso, name in enumerate(DAYS, 1)}
        ),
        date_overrides=[
            DateOverrideIO(date=override.date, hours=_periods(override.hours))
            for override in booking_page.date_overrides.all()
        ],
        buffer_before=booking_page.buffer_before,
        buffer_after=booking_page.buffer_after,
        minimum_notice=booking_page.minimum_notice,
        horizon_days=booking_page.horizon_days,
        increment=booking_page.increment,
        max_per_day=booking_page.max_per_day,
        busy_in_all_calendars=booking_page.busy_in_all_calendars,
        busy_calendars=[calendar.id for calendar in booking_page.busy_calendars.all()],
        tentative_is_busy=booking_page.tentative_is_busy,
        free_is_busy=booking_page.free_is_busy,
        all_day_events=booking_page.all_day_events,
        write_calendar=booking_page.write_calendar_id,
        location=booking_page.location,
        location_detail=booking_page.location_detail,
        language=booking_page.language,
        questions=[
            QuestionIO(
                label=question.label, kind=Question.Kind(question.kind), required=question.required
            )
            for question in booking_page.questions.all()
        ],
        embed_on=BookingPage.EmbedOn(booking_page.embed_on),
        embed_origins=list(booking_page.embed_origins),
        created_at=booking_page.created_at,
        updated_at=booking_page.updated_at,
    )


def _pages(user: User) -> QuerySet[BookingPage]:
    """The user's pages with what ``_out`` reads of each, in three queries for any number."""
    return selectors.pages_for_user(user).prefetch_related(
        "busy_calendars", "date_overrides", "questions"
    )


# Reading a request as the page form's post ---------------------------------------------------


def as_shown(form: PageForm | TeamPageForm) -> MultiValueDict[str, str]:
    """What the unbound ``form`` (a personal or a team page's) would post unchanged: every field
    as it shows it (also fields this API does not name), and each weekday's switch and periods."""
    data: MultiValueDict[str, str] = MultiValueDict()
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field.widget, django_forms.CheckboxInput):
            if value:
                data[name] = "on"
        elif isinstance(value, list | tuple):
            data.setlist(name, [str(item) for item in value])
        elif value is not None:
            data[name] = str(value)
    for day in form.week:
        data.setlist(f"hours-{day.iso}-start", [row.start for row in day.periods.rows])
        data.setlist(f"hours-{day.iso}-end", [row.end for row in day.periods.rows])
    return data


def _post_week(data: MultiValueDict[str, str], week: dict[str, list[dict[str, str]]]) -> None:
    """The week in place of the shown one: a day with periods switched on, any other off."""
    for iso, name in enumerate(DAYS, 1):
        periods = week.get(name) or []
        data.pop(f"day_{iso}", None)
        if periods:
            data[f"day_{iso}"] = "on"
        data.setlist(f"hours-{iso}-start", [period["start"] for period in periods])
        data.setlist(f"hours-{iso}-end", [_form_end(period["end"]) for period in periods])


def _form_end(end: str) -> str:
    """The form's time fields end a day at "00:00" (midnight); the API says "24:00"."""
    return "00:00" if end == "24:00" else end


def _post_overrides(
    data: MultiValueDict[str, str],
    saved: list[tuple[date, list[list[int]]]],
    wanted: list[dict[str, Any]],
) -> int:
    """The saved overrides posted as removed rows, then every wanted one as a new row (the service
    replaces them all anyway); the index of the first new row."""
    prefix = "overrides"
    rows: list[tuple[str, list[tuple[str, str]], bool]] = [
        (day.isoformat(), [(_clock(s, end=False), _clock(e, end=True)) for s, e in hours], True)
        for day, hours in saved
    ]
    rows += [
        (
            override["date"].isoformat(),
            [(period["start"], period["end"]) for period in override.get("hours") or []],
            False,
        )
        for override in wanted
    ]
    data[f"{prefix}-TOTAL_FORMS"] = str(len(rows))
    data[f"{prefix}-INITIAL_FORMS"] = str(len(saved))
    for index, (day, periods, removed) in enumerate(rows):
        row = f"{prefix}-{index}"
        data[f"{row}-date"] = day
        data[f"{row}-available"] = OverrideForm.HOURS if periods else OverrideForm.OFF
        data.setlist(f"{row}-hours-start", [start for start, _ in periods])
        data.setlist(f"{row}-hours-end", [_form_end(end) for _, end in periods])
        if removed:
            data[f"{row}-{DELETION_FIELD_NAME}"] = "on"
    return len(saved)


def _post_questions(
    data: MultiValueDict[str, str], saved: list[Question], wanted: list[dict[str, Any]]
) -> dict[int, int]:
    """The saved questions as the form's first rows: one asked again (same label) keeps its row
    and id, the others are removed; new ones follow. Returns each row's place in ``wanted``."""
    prefix = "questions"
    kept: dict[int, int] = {}  # saved index -> wanted position
    new: list[int] = []
    for position, question in enumerate(wanted):
        match = next(
            (
                index
                for index, old in enumerate(saved)
                if old.label == question["label"] and index not in kept
            ),
            None,
        )
        if match is None:
            new.append(position)
        else:
            kept[match] = position
    places: dict[int, int] = {}
    data[f"{prefix}-TOTAL_FORMS"] = str(len(saved) + len(new))
    data[f"{prefix}-INITIAL_FORMS"] = str(len(saved))

    def post(index: int, label: str, kind: str, required: bool, position: int | None) -> None:
        row = f"{prefix}-{index}"
        data[f"{row}-label"] = label
        data[f"{row}-kind"] = kind
        if required:
            data[f"{row}-required"] = "on"
        if position is None:
            data[f"{row}-{DELETION_FIELD_NAME}"] = "on"
        else:
            data[f"{row}-{ORDERING_FIELD_NAME}"] = str(position + 1)
            places[index] = position

    for index, old in enumerate(saved):
        data[f"{prefix}-{index}-id"] = str(old.id)
        place = kept.get(index)
        source = wanted[place] if place is not None else None
        post(
            index,
            source["label"] if source else old.label,
            str(source["kind"]) if source else old.kind,
            bool(source["required"]) if source else old.required,
            place,
        )
    for offset, position in enumerate(new):
        question = wanted[position]
        post(
            len(saved) + offset,
            question["label"],
            str(question["kind"]),
            bool(question["required"]),
            position,
        )
    return places


def _saved_questions(booking_page: BookingPage | None) -> list[Question]:
    return list(booking_page.questions.all()) if booking_page else []


def _saved_overrides(booking_page: BookingPage | None) -> list[tuple[date, list[list[int]]]]:
    if booking_page is None:
        return []
    return [(override.date, override.hours) for override in booking_page.date_overrides.all()]


def _editor(user: User, booking_page: BookingPage | None, values: dict[str, Any]) -> PageForms:
    """The page forms bound to ``values`` over what the page (or a new one) holds, valid."""
    data = as_shown(PageForm(user=user, page=booking_page))
    for name, value in values.items():
        if name in {"weekly_hours", "date_overrides", "questions"}:
            continue
        data.pop(name, None)
        if value is None:
            continue
        if isinstance(value, bool):
            if name == "listed":
                data[name] = "listed" if value else "unlisted"
            elif name == "busy_in_all_calendars":
                data[name] = "all" if value else "chosen"
            elif value:
                data[name] = "on"
        elif name == "durations":
            data[name] = ", ".join(str(minutes) for minutes in value)
        elif name == "embed_origins":
            data[name] = "\n".join(value)
        elif isinstance(value, list):
            data.setlist(name, [str(item) for item in value])
        else:
            data[name] = str(value)
    if "weekly_hours" in values and values["weekly_hours"] is not None:
        _post_week(data, values["weekly_hours"])
    saved_overrides = _saved_overrides(booking_page)
    wanted_overrides = values.get("date_overrides")
    if wanted_overrides is None:
        wanted_overrides = [
            {"date": day, "hours": [p.model_dump() for p in _periods(hours)]}
            for day, hours in saved_overrides
        ]
    first_new = _post_overrides(data, saved_overrides, wanted_overrides)
    saved_questions = _saved_questions(booking_page)
    wanted_questions = values.get("questions")
    if wanted_questions is None:
        wanted_questions = [
            {"label": q.label, "kind": q.kind, "required": q.required} for q in saved_questions
        ]
    places = _post_questions(data, saved_questions, wanted_questions)
    editor = PageForms(data, user=user, page=booking_page)
    if not editor.is_valid():
        raise invalid(_problems(editor, first_new=first_new, places=places))
    return editor


def _problems(editor: PageForms, *, first_new: int, places: dict[int, int]) -> list[FieldProblem]:
    renamed = {f"day_{iso}": f"weekly_hours.{name}" for iso, name in enumerate(DAYS, 1)}
    found = form_errors(editor.form.errors, fields=renamed)
    return found + row_problems(editor, first_new=first_new, places=places)


def row_problems(
    editor: PageForms | TeamPageForms, *, first_new: int, places: dict[int, int]
) -> list[FieldProblem]:
    """The errors of the editor's rows of dates and questions (a personal or a team page's), named
    by where the request had them: a new date by its place among the dates sent, a question by
    its place in the list sent (``places``: the formset's index to it)."""
    found: list[FieldProblem] = []
    for index, row in enumerate(editor.overrides.forms):
        for name, messages in row.errors.items():
            where = f"date_overrides.{index - first_new}"
            field = f"{where}.date" if name == "date" else f"{where}.hours"
            found += [FieldProblem(field=field, message=str(message)) for message in messages]
    found += [
        FieldProblem(field="date_overrides", message=str(message))
        for message in editor.overrides.non_form_errors()
    ]
    for index, row in enumerate(editor.questions.forms):
        for name, messages in row.errors.items():
            where = f"questions.{places.get(index, index)}"
            field = f"{where}.{name}" if name in {"label", "kind", "required"} else where
            found += [FieldProblem(field=field, message=str(message)) for message in messages]
    found += [
        FieldProblem(field="questions", message=str(message))
        for message in editor.questions.non_form_errors()
    ]
    return found


def _given(body: PagePatch) -> dict[str, Any]:
    """The fields the request names, nested ones with their defaults filled in."""
    return body.model_dump(include=body.model_fields_set)


def _plan_limit(error: PlanLimitReached) -> ApiProblem:
    return ApiProblem(402, "plan_limit_reached", "Plan limit reached", str(error))


def _policy(error: PolicyRefused) -> ApiProblem:
    return ApiProblem(403, "policy_refused", "Refused by an organization's policy", error.message)


# Operations ------------------------------------------------------------------------------------


@router.get("", response=PageList, auth=_read, summary="List booking pages")
def list_pages(request: HttpRequest, query: Query[PageQuery]) -> PageList:
    user = key_of(request).user
    rows, cursor = page(_pages(user), query, order="created_at", descending=False, scope="pages")
    profile = selectors.profile_for_user(user)
    return PageList(items=[_out(row, profile) for row in rows], next_cursor=cursor)


@router.post(
    "",
    response={201: PageOut, 402: Problem, 409: Problem},
    auth=_write,
    summary="Create a booking page",
    description="Checked as the page form checks it. Needs your public address (Settings → "
    "Booking pages) first: 409 `profile_required` until then.",
)
def create_page(request: HttpRequest, body: PageIn) -> Status[PageOut]:
    user = key_of(request).user
    profile = selectors.profile_for_user(user)
    if profile is None:
        raise ApiProblem(
            409,
            "profile_required",
            "Conflict",
            "Choose your public address on the booking pages first: every page's link starts "
            "with it.",
        )
    editor = _editor(user, None, _given(body))
    try:
        made = services.page_create(owner=user, **editor.saved())
    except PlanLimitReached as error:
        raise _plan_limit(error) from error
    except PolicyRefused as error:
        raise _policy(error) from error
    return Status(201, _out(_pages(user).get(id=made.id), profile))


@router.get(
    "/{page_id}", response={200: PageOut, 404: Problem}, auth=_read, summary="One booking page"
)
def get_page(request: HttpRequest, page_id: UUID) -> PageOut:
    user = key_of(request).user
    found = selectors.get_page_for_user(user, page_id)
    return _out(found, selectors.profile_for_user(user))


@router.patch(
    "/{page_id}",
    response={200: PageOut, 402: Problem, 404: Problem},
    auth=_write,
    summary="Change a booking page",
    description="Fields left out keep their value; `date_overrides` and `questions`, when given, "
    "replace the lists (a question asked with the same label keeps its place in open forms).",
)
def update_page(request: HttpRequest, page_id: UUID, body: PagePatch) -> PageOut:
    user = key_of(request).user
    found = selectors.get_page_for_user(user, page_id)
    editor = _editor(user, found, _given(body))
    try:
        services.page_update(page=found, **editor.saved())
    except PlanLimitReached as error:
        raise _plan_limit(error) from error
    except PolicyRefused as error:
        raise _policy(error) from error
    return _out(_pages(user).get(id=found.id), selectors.profile_for_user(user))


@router.delete(
    "/{page_id}",
    response={204: None, 404: Problem},
    auth=_write,
    summary="Delete a booking page",
    description="Its links stop working; the bookings made through it stay.",
)
def delete_page(request: HttpRequest, page_id: UUID) -> HttpResponse:
    services.page_delete(page=selectors.get_page_for_user(key_of(request).user, page_id))
    return HttpResponse(status=204)


@router.get(
    "/{page_id}/slots",
    response={200: SlotsOut, 404: Problem, 503: Problem},
    auth=_read,
    summary="A page's open times",
    description="The times the page offers on the days asked for, computed as its public page "
    "computes them (also for a page that is switched off or unlisted). 503 when a calendar that "
    "decides them cannot be read just now.",
)
def page_open_slots(request: HttpRequest, page_id: UUID, query: Query[SlotsQuery]) -> HttpResponse:
    found = selectors.get_page_for_user(key_of(request).user, page_id)
    return open_slots(found, query)
