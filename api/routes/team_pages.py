"""Team pages of the organizations the key's person belongs to, set up as the console sets them up.

Who sees what follows the console (``console.team_views``): owners and admins see every team page
of their organizations, a member the pages they are on; any other page answers 404, whoever asks.
Changing pages is for owners and admins: a member who may see a page (they are on it) is refused
with a 403 ``admin_required``, as the API refuses a key without the scope, and a page they may
not see stays a 404. A request is read as the console's form would be posted (what it leaves out
as the form shows it), so the form and ``booking.services.teams`` decide, as for the console; its
date overrides and questions are the personal page editor's rows, posted as ``api.routes.pages``
posts them.
"""

from __future__ import annotations

from datetime import date
from typing import Any, cast
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.forms import ChoiceField
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.datastructures import MultiValueDict
from ninja import Field, Query, Router, Status

from accounts.models import User
from api.auth import KeyAuth, key_of
from api.pagination import PageQuery, page
from api.problems import (
    ApiProblem,
    FieldProblem,
    Problem,
    conflict,
    form_errors,
    invalid,
    not_found,
)
from api.routes.pages import (
    DAYS,
    DateOverrideIO,
    QuestionIO,
    _clock,
    _periods,
    _post_overrides,
    _post_questions,
    _post_week,
    as_shown,
    row_problems,
)
from api.schemas_booking import SlotsOut, SlotsQuery
from api.schemas_team import (
    TeamMemberOut,
    TeamMemberSettingsOut,
    TeamMemberSettingsPatch,
    TeamMembersIn,
    TeamPageIn,
    TeamPageList,
    TeamPageOut,
    TeamPagePatch,
    TeamPeriodOut,
    TeamWeekOut,
    open_team_slots,
)
from api.scopes import Scope
from booking.models import BookingPage, Question, TeamPage, TeamPageMember
from booking.services import teams as services
from console.team_forms import MemberCalendarsForm, TeamPageForm, TeamPageForms
from orgs.models import Membership, Role
from orgs.services import OrgRefused

router = Router(tags=["Team pages"])
_read = KeyAuth(Scope.PAGES_READ)
_write = KeyAuth(Scope.PAGES_WRITE)

_RUNS = (Role.OWNER, Role.ADMIN)
# The one check of the whole form (``TeamPageForm.clean``) is about the members.
_FORM_WIDE = "members"
# Fields of a request that are not the form's fields of the same name.
_APART = {"weekly_hours", "members", "organization_id", "date_overrides", "questions"}
# A member's own form's fields (``MemberCalendarsForm``) by the names the API gives them.
_MINE = {
    "own_hours": "weekly_hours",
    "own_time_zone": "time_zone",
    **{f"day_{iso}": f"weekly_hours.{name}" for iso, name in enumerate(DAYS, 1)},
}


class TeamPageQuery(PageQuery):
    organization_id: UUID | None = Field(None, description="Only this organization's pages.")


# Who sees which page ---------------------------------------------------------------------------


def visible_team_pages(user: User) -> QuerySet[TeamPage]:
    """The team pages ``user`` may read: every page of an organization they own or administer,
    and the pages they are on of an organization they still belong to."""
    runs = Membership.objects.filter(user=user, role__in=_RUNS).values("organization_id")
    still_in = Membership.objects.filter(user=user, organization_id=OuterRef("organization_id"))
    on_it = TeamPageMember.objects.filter(user=user, page=OuterRef("pk"))
    return (
        TeamPage.objects.filter(Q(organization_id__in=runs) | (Exists(on_it) & Exists(still_in)))
        .select_related("organization__booking_handle")
        .prefetch_related("date_overrides", "questions")
    )


def get_team_page_for_user(user: User, page_id: object) -> TeamPage:
    """A team page ``user`` may read; Http404 for any other."""
    return get_object_or_404(visible_team_pages(user), id=page_id)


def _running(user: User, organization_id: UUID) -> Membership:
    """The membership of an owner or admin of the organization: 404 for someone not in it, 403
    for a member (who may see some of its pages, and change none)."""
    membership = (
        Membership.objects.select_related("organization", "user")
        .filter(user=user, organization_id=organization_id)
        .first()
    )
    if membership is None:
        raise ApiProblem(
            404, "not_found", "Not found", "No such organization, or you are not in it."
        )
    if not membership.is_admin:
        raise ApiProblem(
            403,
            "admin_required",
            "Forbidden",
            "Only the organization's owners and admins change its team pages.",
        )
    return membership


# Output -----------------------------------------------------------------------------------------


def _members_of(pages: list[TeamPage]) -> dict[UUID, list[TeamPageMember]]:
    """Each page's members who count (as ``team_members`` has them), in one query for any
    number of pages."""
    still_in = Membership.objects.filter(
        organization_id=OuterRef("page__organization_id"), user=OuterRef("user")
    )
    rows = (
        TeamPageMember.objects.filter(
            page__in=[found.id for found in pages], user__booking_profile__isnull=False
        )
        .filter(Exists(still_in))
        .select_related("user__booking_profile")
        .order_by("priority", "id")
    )
    found: dict[UUID, list[TeamPageMember]] = {}
    for row in rows:
        found.setdefault(row.page_id, []).append(row)
    return found


def _week(weekly_hours: dict[str, list[list[int]]]) -> TeamWeekOut:
    return TeamWeekOut(
        **{
            name: [
                TeamPeriodOut(start=_clock(start, end=False), end=_clock(end, end=True))
                for start, end in weekly_hours.get(str(iso), [])
            ]
            for iso, name in enumerate(DAYS, 1)
        }
    )


def _public_url(team_page: TeamPage) -> str | None:
    handle = getattr(team_page.organization, "booking_handle", None)
    if handle is None:
        return None
    return settings.SITE_URL + reverse("booking_public:page", args=[handle.handle, team_page.slug])


def _out(team_page: TeamPage, members: list[TeamPageMember]) -> TeamPageOut:
    return TeamPageOut(
        id=team_page.id,
        organization_id=team_page.organization_id,
        kind=TeamPage.Kind(team_page.kind),
        title=team_page.title,
        description=team_page.description,
        slug=team_page.slug,
        public_url=_public_url(team_page),
        active=team_page.active,
        durations=[int(minutes) for minutes in team_page.durations],
        time_zone=team_page.time_zone,
        weekly_hours=_week(team_page.weekly_hours),
        minimum_notice=team_page.minimum_notice,
        horizon_days=team_page.horizon_days,
        increment=team_page.increment,
        buffer_before=team_page.buffer_before,
        buffer_after=team_page.buffer_after,
        max_per_day=team_page.max_per_day,
        location=BookingPage.Location(team_page.location),
        location_detail=team_page.location_detail,
        date_overrides=[
            DateOverrideIO(date=override.date, hours=_periods(override.hours))
            for override in team_page.date_overrides.all()
        ],
        questions=[
            QuestionIO(
                label=question.label, kind=Question.Kind(question.kind), required=question.required
            )
            for question in team_page.questions.all()
        ],
        tentative_is_busy=team_page.tentative_is_busy,
        free_is_busy=team_page.free_is_busy,
        all_day_events=BookingPage.AllDayEvents(team_page.all_day_events),
        embed_on=BookingPage.EmbedOn(team_page.embed_on),
        embed_origins=list(team_page.embed_origins),
        members=[
            TeamMemberOut(
                user_id=member.user_id,
                display_name=member.user.booking_profile.display_name,
                weight=member.weight,
                priority=member.priority,
            )
            for member in members
        ],
        created_at=team_page.created_at,
        updated_at=team_page.updated_at,
    )


def _one(user: User, page_id: object) -> TeamPageOut:
    found = get_team_page_for_user(user, page_id)
    return _out(found, _members_of([found]).get(found.id, []))


# Reading a request as the console form's post ---------------------------------------------------


def _post_defaults(data: MultiValueDict[str, str], form: TeamPageForm) -> None:
    """A new page's choices the form leaves to the admin (who meets the attendee, where) as a
    new team page has them, rather than the first of each list."""
    blank = TeamPage()
    for name, field in form.fields.items():
        default = getattr(blank, name, None)
        if name not in data and isinstance(field, ChoiceField) and isinstance(default, str):
            data[name] = default


def _post_members(
    data: MultiValueDict[str, str], form: TeamPageForm, wanted: list[dict[str, Any]]
) -> tuple[dict[str, int], list[FieldProblem]]:
    """Everyone ``wanted`` switched on with their weight and priority, everyone else off; the
    place of each in ``wanted`` by their fields' prefix, and the people the form has no row for
    (not in the organization, or without a public page)."""
    rows = {f"member_{person.id.hex}": person.id for person in form.people}
    for prefix in rows:
        data.pop(f"{prefix}_on", None)
    places: dict[str, int] = {}
    problems: list[FieldProblem] = []
    for position, member in enumerate(wanted):
        prefix = f"member_{UUID(str(member['user_id'])).hex}"
        if prefix not in rows:
            message = "Not a member of this organization with a public booking page."
        elif prefix in places:
            message = "This member is listed twice."
        else:
            places[prefix] = position
            data[f"{prefix}_on"] = "on"
            data[f"{prefix}_weight"] = str(member["weight"])
            data[f"{prefix}_priority"] = str(member["priority"])
            continue
        problems.append(FieldProblem(field=f"members.{position}.user_id", message=message))
    return places, problems


def _saved(membership: Membership, team_page: TeamPage | None, values: dict[str, Any]) -> TeamPage:
    """The page saved with ``values`` over what it (or a new one) holds, as the console's form
    checks them; a 422 with the form's refusals under the API's names otherwise."""
    shown = TeamPageForm(membership=membership, page=team_page)
    data = as_shown(shown)
    if team_page is None:
        _post_defaults(data, shown)
    for name, value in values.items():
        if name in _APART:
            continue
        data.pop(name, None)
        if value is None:
            continue
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif name == "durations":
            data[name] = ", ".join(str(minutes) for minutes in value)
        elif name == "embed_origins":
            data[name] = "\n".join(value)
        else:
            data[name] = str(value)
    if values.get("weekly_hours") is not None:
        _post_week(data, values["weekly_hours"])
    places: dict[str, int] = {}
    problems: list[FieldProblem] = []
    if values.get("members") is not None:
        places, problems = _post_members(data, shown, values["members"])
    first_new, asked = _post_rows(data, team_page, values)
    editor = TeamPageForms(data, membership=membership, page=team_page)
    form = editor.form
    if not editor.is_valid() or problems:
        raise invalid(
            problems
            + _form_problems(form, places)
            + row_problems(editor, first_new=first_new, places=asked)
        )
    try:
        return services.team_page_save(
            membership=membership,
            page=team_page,
            settings=form.settings(),
            members=form.members(),
            overrides=editor.overrides.overrides(),
            questions=editor.questions.questions(),
        )
    except ValueError as error:  # a site to embed on that the form let through
        raise invalid([FieldProblem(field="embed_origins", message=str(error))]) from error
    except OrgRefused as refusal:
        raise conflict("org_refused", refusal.message) from refusal
    except IntegrityError as error:
        if "booking_team_page_slug" in str(error):
            raise conflict("slug_taken", "Another team page has this address.") from error
        raise


def _post_rows(
    data: MultiValueDict[str, str], team_page: TeamPage | None, values: dict[str, Any]
) -> tuple[int, dict[int, int]]:
    """The date overrides and questions as the personal page editor's rows, which the team
    page's editor shares (``booking.forms``): the saved ones unless the request gives others.
    Returns the first new override's row and each question row's place in the request."""
    saved_overrides = (
        [(override.date, override.hours) for override in team_page.date_overrides.all()]
        if team_page is not None
        else []
    )
    wanted_overrides = values.get("date_overrides")
    if wanted_overrides is None:
        wanted_overrides = [
            {"date": day, "hours": [period.model_dump() for period in _periods(hours)]}
            for day, hours in saved_overrides
        ]
    else:
        wanted_overrides = [
            {**override, "date": date.fromisoformat(override["date"])}
            for override in wanted_overrides
        ]
    first_new = _post_overrides(data, saved_overrides, wanted_overrides)
    saved_questions = list(team_page.questions.all()) if team_page is not None else []
    wanted_questions = values.get("questions")
    if wanted_questions is None:
        wanted_questions = [
            {"label": q.label, "kind": q.kind, "required": q.required} for q in saved_questions
        ]
    # The rows read a team page's questions as a personal page's: the same fields.
    places = _post_questions(data, cast(list[Question], saved_questions), wanted_questions)
    return first_new, places


def _form_problems(form: TeamPageForm, places: dict[str, int]) -> list[FieldProblem]:
    renamed = {f"day_{iso}": f"weekly_hours.{name}" for iso, name in enumerate(DAYS, 1)}
    for prefix, position in places.items():
        for part in ("on", "weight", "priority"):
            renamed[f"{prefix}_{part}"] = f"members.{position}.{part}"
    found = form_errors(form.errors, fields=renamed)
    return [
        FieldProblem(field=_FORM_WIDE, message=problem.message) if not problem.field else problem
        for problem in found
    ]


def _given(body: TeamPagePatch | TeamMembersIn | TeamMemberSettingsPatch) -> dict[str, Any]:
    """The fields the request names, nested ones with their defaults filled in."""
    return body.model_dump(include=body.model_fields_set, mode="json")


# A member's own side of a page -------------------------------------------------------------------


def _mine(user: User, page_id: object) -> TeamPageMember:
    """``user``'s own row on a team page they may read: 404 for a page they are not on, also to
    an admin who sees it (their key sets nobody's side of a page but its person's)."""
    found = get_team_page_for_user(user, page_id)
    member = TeamPageMember.objects.filter(page=found, user=user).select_related("user").first()
    if member is None:
        raise not_found("You are not on this team page.")
    member.page = found
    return member


def _mine_out(member: TeamPageMember) -> TeamMemberSettingsOut:
    chosen = (
        []
        if member.busy_in_all_calendars
        else list(member.busy_calendars.order_by("name", "id").values_list("id", flat=True))
    )
    own_zone = member.time_zone or member.page.time_zone
    return TeamMemberSettingsOut(
        busy_in_all_calendars=member.busy_in_all_calendars,
        busy_calendars=chosen,
        write_calendar=member.write_calendar_id,
        time_zone=own_zone if member.weekly_hours else None,
        weekly_hours=_week(member.weekly_hours),
    )


def _mine_form(member: TeamPageMember, values: dict[str, Any]) -> MemberCalendarsForm:
    """The member's form of the console posted with ``values`` over what the member has, valid;
    a 422 with its refusals under the API's names otherwise. The form's choices are the member's
    own calendars (writable ones to write into), so an id of anyone else's is refused as one that
    does not exist is."""
    problems: list[FieldProblem] = []
    chosen = values.get("busy_calendars")
    if chosen is None:
        saved = [] if member.busy_in_all_calendars else member.busy_calendars.all()
        chosen = [str(calendar.id) for calendar in saved]
    everything = values.get("busy_in_all_calendars")
    if everything is None:
        everything = not chosen
    elif not everything and not chosen:
        problems.append(
            FieldProblem(
                field="busy_calendars",
                message="Choose at least one calendar, or count events in all your calendars.",
            )
        )
    data: MultiValueDict[str, str] = MultiValueDict()
    # Counting all calendars, the ones chosen are not kept: the member's row holds either.
    data.setlist("busy_calendars", [] if everything else chosen)
    write = values.get("write_calendar", member.write_calendar_id)
    if write is not None:
        data["write_calendar"] = str(write)
    week = values.get("weekly_hours")
    if week is None:
        week = _week(member.weekly_hours).model_dump()
    time_zone = values.get("time_zone")
    if any(week.values()):
        data["own_hours"] = "on"
        data["own_time_zone"] = time_zone or member.time_zone or member.page.time_zone
    elif time_zone is not None:
        # Without hours of their own the member meets in the page's zone, which is not theirs.
        problems.append(
            FieldProblem(
                field="time_zone",
                message="A time zone goes with hours of your own: give weekly_hours too.",
            )
        )
    _post_week(data, week)
    form = MemberCalendarsForm(data, member=member)
    if not form.is_valid() or problems:
        raise invalid(problems + form_errors(form.errors, fields=_MINE))
    return form


# Operations ------------------------------------------------------------------------------------


@router.get(
    "",
    response=TeamPageList,
    auth=_read,
    summary="List team pages",
    description="Every team page of the organizations you own or administer, and the pages you "
    "are on of the others you belong to.",
)
def list_team_pages(request: HttpRequest, query: Query[TeamPageQuery]) -> TeamPageList:
    pages = visible_team_pages(key_of(request).user)
    if query.organization_id is not None:
        pages = pages.filter(organization_id=query.organization_id)
    scope = f"team-pages:{query.organization_id or ''}"
    rows, cursor = page(pages, query, order="created_at", descending=False, scope=scope)
    members = _members_of(rows)
    return TeamPageList(
        items=[_out(row, members.get(row.id, [])) for row in rows], next_cursor=cursor
    )


@router.post(
    "",
    response={201: TeamPageOut, 403: Problem, 404: Problem, 409: Problem},
    auth=_write,
    summary="Create a team page",
    description="For an organization you own or administer (a member is refused with 403 "
    "`admin_required`, someone outside it with 404), checked as the console's form checks it. "
    "Members must belong to the organization and have a public booking page.",
)
def create_team_page(request: HttpRequest, body: TeamPageIn) -> Status[TeamPageOut]:
    user = key_of(request).user
    membership = _running(user, body.organization_id)
    made = _saved(membership, None, _given(body))
    return Status(201, _one(user, made.id))


@router.get(
    "/{team_page_id}",
    response={200: TeamPageOut, 404: Problem},
    auth=_read,
    summary="One team page",
)
def get_team_page(request: HttpRequest, team_page_id: UUID) -> TeamPageOut:
    return _one(key_of(request).user, team_page_id)


@router.patch(
    "/{team_page_id}",
    response={200: TeamPageOut, 403: Problem, 404: Problem, 409: Problem},
    auth=_write,
    summary="Change a team page",
    description="Fields left out keep their value; `members`, when given, is everyone on the "
    "page. Owners and admins only: a member on the page is refused with 403 `admin_required`.",
)
def update_team_page(request: HttpRequest, team_page_id: UUID, body: TeamPagePatch) -> TeamPageOut:
    return _changed(request, team_page_id, body)


@router.put(
    "/{team_page_id}/members",
    response={200: TeamPageOut, 403: Problem, 404: Problem, 409: Problem},
    auth=_write,
    summary="Set a team page's members",
    description="Everyone on the page, with their weights and priorities; each member keeps "
    "the calendars they chose for it. Owners and admins only.",
)
def set_team_page_members(
    request: HttpRequest, team_page_id: UUID, body: TeamMembersIn
) -> TeamPageOut:
    return _changed(request, team_page_id, body)


def _changed(
    request: HttpRequest, team_page_id: UUID, body: TeamPagePatch | TeamMembersIn
) -> TeamPageOut:
    """The page after the fields ``body`` gives, saved by one of the organization's runners."""
    user = key_of(request).user
    found = get_team_page_for_user(user, team_page_id)
    _saved(_running(user, found.organization_id), found, _given(body))
    return _one(user, found.id)


@router.delete(
    "/{team_page_id}",
    response={204: None, 403: Problem, 404: Problem},
    auth=_write,
    summary="Delete a team page",
    description="Its links stop working; the bookings made through it stay with the members "
    "who have them. Owners and admins only.",
)
def delete_team_page(request: HttpRequest, team_page_id: UUID) -> HttpResponse:
    user = key_of(request).user
    found = get_team_page_for_user(user, team_page_id)
    services.team_page_delete(membership=_running(user, found.organization_id), page=found)
    return HttpResponse(status=204)


@router.get(
    "/{team_page_id}/slots",
    response={200: SlotsOut, 404: Problem, 503: Problem},
    auth=_read,
    summary="A team page's open times",
    description="The times the page offers on the days asked for, computed as its public page "
    "computes them (also for a page that is switched off): on a collective page when every "
    "member is free, on a round-robin page when one is. 503 when a member's calendar cannot be "
    "read just now.",
)
def team_page_open_slots(
    request: HttpRequest, team_page_id: UUID, query: Query[SlotsQuery]
) -> HttpResponse:
    found = get_team_page_for_user(key_of(request).user, team_page_id)
    return open_team_slots(found, query)


@router.get(
    "/{team_page_id}/me",
    response={200: TeamMemberSettingsOut, 404: Problem},
    auth=_read,
    summary="Your settings for a team page",
    description="The calendars that make you busy on a page you are on, the one its meetings "
    "are added to, and your own hours for it. Yours alone: nobody else sees them. 404 for a page "
    "you are not on.",
)
def get_my_team_page_settings(request: HttpRequest, team_page_id: UUID) -> TeamMemberSettingsOut:
    return _mine_out(_mine(key_of(request).user, team_page_id))


@router.patch(
    "/{team_page_id}/me",
    response={200: TeamMemberSettingsOut, 404: Problem, 409: Problem},
    auth=_write,
    summary="Change your settings for a team page",
    description="Fields left out keep their value; checked as the console's form for your side "
    "of the page checks them: only your own calendars, a writable one to add meetings to. Only "
    "you set yours, whoever runs the page.",
)
def update_my_team_page_settings(
    request: HttpRequest, team_page_id: UUID, body: TeamMemberSettingsPatch
) -> TeamMemberSettingsOut:
    user = key_of(request).user
    member = _mine(user, team_page_id)
    form = _mine_form(member, _given(body))
    time_zone, weekly_hours = form.hours()
    try:
        # Both or neither, as one change of the member's side of the page.
        with transaction.atomic():
            services.team_member_calendars_set(
                member=member,
                user=user,
                busy_calendars=list(form.cleaned_data["busy_calendars"]),
                write_calendar=form.cleaned_data["write_calendar"],
            )
            services.team_member_hours_set(
                member=member, user=user, time_zone=time_zone, weekly_hours=weekly_hours
            )
    except OrgRefused as refusal:
        raise conflict("org_refused", refusal.message) from refusal
    return _mine_out(_mine(user, team_page_id))
