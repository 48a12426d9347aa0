"""Sync rules: the same settings, checks and services as the rule pages (``syncrules.forms``)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from accounts.billing.plans import PlanLimitReached
from api.auth import KeyAuth, key_of
from api.pagination import PageQuery, page
from api.problems import ApiProblem, Problem, form_errors, invalid
from api.schemas import Out
from api.scopes import Scope
from syncrules import choices, preview, services
from syncrules.forms import RuleForm
from syncrules.models import SyncRule, SyncRun
from syncrules.selectors import get_rule_for_user, rules_for_user

router = Router(tags=["Sync rules"])
_read = KeyAuth(Scope.RULES_READ)
_write = KeyAuth(Scope.RULES_WRITE)
_preview = KeyAuth(Scope.RULES_READ, Scope.EVENTS_READ)


class RuleSettingsIn(Schema):
    """A rule's settings; on PATCH every field is optional and missing ones keep their value."""

    name: str = Field(max_length=120)
    sources: list[UUID] = Field(description="Calendars whose events are copied.")
    targets: list[UUID] = Field(description="Writable calendars the blocks are written into.")
    enabled: bool = True
    visibility: choices.Visibility = choices.Visibility.BUSY
    busy_title: str = Field("Busy", max_length=120)
    show_location: bool = False
    show_video_link: bool = False
    include_keywords: list[str] = Field(default_factory=list)
    exclude_keywords: list[str] = Field(default_factory=list)
    skip_declined: bool = True
    skip_free: bool = True
    tentative: choices.Handling = choices.Handling.BUSY
    all_day: choices.Handling = choices.Handling.SKIP
    show_as: choices.ShowAs = choices.ShowAs.BUSY
    lookahead_days: int = 60
    lookback_days: int = 0
    weekdays: list[int] = Field(default_factory=list, description="ISO weekdays; empty: every day.")
    working_hours_start: time | None = None
    working_hours_end: time | None = None
    overlap_ok: bool = Field(
        False, description="Save even though another rule already copies between these calendars."
    )


class RulePatch(Schema):
    name: str | None = Field(None, max_length=120)
    sources: list[UUID] | None = None
    targets: list[UUID] | None = None
    enabled: bool | None = None
    visibility: choices.Visibility | None = None
    busy_title: str | None = Field(None, max_length=120)
    show_location: bool | None = None
    show_video_link: bool | None = None
    include_keywords: list[str] | None = None
    exclude_keywords: list[str] | None = None
    skip_declined: bool | None = None
    skip_free: bool | None = None
    tentative: choices.Handling | None = None
    all_day: choices.Handling | None = None
    show_as: choices.ShowAs | None = None
    lookahead_days: int | None = None
    lookback_days: int | None = None
    weekdays: list[int] | None = None
    working_hours_start: time | None = None
    working_hours_end: time | None = None
    overlap_ok: bool | None = None


class RuleOut(Out):
    id: UUID
    name: str
    sources: list[UUID]
    targets: list[UUID]
    enabled: bool
    paused_by_plan: bool
    visibility: str
    busy_title: str
    show_location: bool
    show_video_link: bool
    include_keywords: list[str]
    exclude_keywords: list[str]
    skip_declined: bool
    skip_free: bool
    tentative: str
    all_day: str
    show_as: str
    lookahead_days: int
    lookback_days: int
    weekdays: list[int]
    working_hours_start: time | None
    working_hours_end: time | None
    created_at: datetime
    updated_at: datetime


class RuleList(Out):
    items: list[RuleOut]
    next_cursor: str | None


class RunOut(Out):
    id: int
    source_calendar_id: UUID | None
    started_at: datetime
    finished_at: datetime | None
    full_read: bool
    created: int
    updated: int
    deleted: int
    skipped: int
    deletions_held: int
    error: str | None


class RunList(Out):
    items: list[RunOut]
    next_cursor: str | None


class PreviewRowOut(Out):
    source_calendar: str
    title: str
    all_day: bool
    start: datetime | None
    end: datetime | None
    day: str
    block_title: str | None
    targets: list[str]
    skipped: str | None


class PreviewOut(Out):
    start: datetime
    end: datetime
    copied: int
    skipped: int
    rows: list[PreviewRowOut]
    errors: list[str]


def _out(rule: SyncRule) -> RuleOut:
    return RuleOut(
        id=rule.id,
        name=rule.name,
        sources=[calendar.id for calendar in rule.sources.all()],
        targets=[calendar.id for calendar in rule.targets.all()],
        enabled=rule.enabled,
        paused_by_plan=rule.plan_paused_at is not None,
        visibility=rule.visibility,
        busy_title=rule.busy_title,
        show_location=rule.show_location,
        show_video_link=rule.show_video_link,
        include_keywords=list(rule.include_keywords),
        exclude_keywords=list(rule.exclude_keywords),
        skip_declined=rule.skip_declined,
        skip_free=rule.skip_free,
        tentative=rule.tentative,
        all_day=rule.all_day,
        show_as=rule.show_as,
        lookahead_days=rule.lookahead_days,
        lookback_days=rule.lookback_days,
        weekdays=list(rule.weekdays),
        working_hours_start=rule.working_hours_start,
        working_hours_end=rule.working_hours_end,
        created_at=rule.created_at,
        updated_at=rule.updated_at,
    )


def _form_data(values: dict[str, Any]) -> dict[str, Any]:
    """The API's values as the rule form reads a submitted page."""
    data: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif name in {"include_keywords", "exclude_keywords"}:
            data[name] = ", ".join(value)
        elif isinstance(value, list):
            data[name] = [str(item) for item in value]
        elif isinstance(value, time):
            data[name] = value.strftime("%H:%M:%S")
        else:
            data[name] = str(value)
    return data


def _current(rule: SyncRule) -> dict[str, Any]:
    return _out(rule).model_dump(exclude={"id", "paused_by_plan", "created_at", "updated_at"})


def _valid_form(
    request: HttpRequest,
    values: dict[str, Any],
    *,
    rule: SyncRule | None,
    for_preview: bool = False,
) -> RuleForm:
    form = RuleForm(
        _form_data(values), user=key_of(request).user, rule=rule, for_preview=for_preview
    )
    if not form.is_valid():
        raise invalid(form_errors(form.errors))
    return form


def _plan_limit(error: PlanLimitReached) -> ApiProblem:
    return ApiProblem(402, "plan_limit_reached", "Plan limit reached", str(error))


@router.get("", response=RuleList, auth=_read, summary="List sync rules")
def list_rules(request: HttpRequest, query: Query[PageQuery]) -> RuleList:
    rows, cursor = page(
        rules_for_user(key_of(request).user),
        query,
        order="created_at",
        descending=False,
        scope="rules",
    )
    return RuleList(items=[_out(rule) for rule in rows], next_cursor=cursor)


@router.post(
    "",
    response={201: RuleOut, 402: Problem},
    auth=_write,
    summary="Create a sync rule",
)
def create_rule(request: HttpRequest, body: RuleSettingsIn) -> Status[RuleOut]:
    form = _valid_form(request, body.model_dump(), rule=None)
    try:
        rule = services.rule_create(
            user=key_of(request).user,
            settings=form.settings(),
            sources=form.cleaned_data["sources"],
            targets=form.cleaned_data["targets"],
        )
    except PlanLimitReached as error:
        raise _plan_limit(error) from error
    return Status(201, _out(rule))


@router.post(
    "/preview",
    response=PreviewOut,
    auth=_preview,
    summary="Preview what a rule would copy in the next days",
    description="Reads the source calendars live (needs `events:read` too); nothing is stored.",
)
def preview_rule(request: HttpRequest, body: RuleSettingsIn) -> PreviewOut:
    form = _valid_form(request, body.model_dump(), rule=None, for_preview=True)
    result = preview.rule_preview(
        user=key_of(request).user,
        settings=form.settings(),
        sources=form.cleaned_data["sources"],
        targets=form.cleaned_data["targets"],
    )
    return PreviewOut(
        start=result.start,
        end=result.end,
        copied=result.copied,
        skipped=result.skipped,
        rows=[
            PreviewRowOut(
                source_calendar=row.source,
                title=row.title,
                all_day=row.all_day,
                start=row.start,
                end=row.end,
                day=row.day.isoformat(),
                block_title=row.block.title if row.block is not None else None,
                targets=list(row.targets),
                skipped=row.skipped or None,
            )
            for row in result.rows
        ],
        errors=[f"{error.calendar}: {error.message}" for error in result.errors],
    )


@router.get(
    "/{rule_id}", response={200: RuleOut, 404: Problem}, auth=_read, summary="One sync rule"
)
def get_rule(request: HttpRequest, rule_id: UUID) -> RuleOut:
    return _out(get_rule_for_user(key_of(request).user, str(rule_id)))


@router.patch(
    "/{rule_id}",
    response={200: RuleOut, 402: Problem, 404: Problem},
    auth=_write,
    summary="Change a sync rule",
    description="Fields left out keep their value. Every block is rendered again.",
)
def update_rule(request: HttpRequest, rule_id: UUID, body: RulePatch) -> RuleOut:
    rule = get_rule_for_user(key_of(request).user, str(rule_id))
    values = {**_current(rule), **body.model_dump(exclude_unset=True)}
    form = _valid_form(request, values, rule=rule)
    try:
        rule = services.rule_update(
            rule=rule,
            settings=form.settings(),
            sources=form.cleaned_data["sources"],
            targets=form.cleaned_data["targets"],
        )
    except PlanLimitReached as error:
        raise _plan_limit(error) from error
    return _out(get_rule_for_user(key_of(request).user, str(rule.id)))


@router.delete(
    "/{rule_id}",
    response={204: None, 404: Problem},
    auth=_write,
    summary="Delete a sync rule",
    description="Its blocks are removed from the target calendars.",
)
def delete_rule(request: HttpRequest, rule_id: UUID) -> HttpResponse:
    services.rule_delete(rule=get_rule_for_user(key_of(request).user, str(rule_id)))
    return HttpResponse(status=204)


@router.get(
    "/{rule_id}/runs",
    response={200: RunList, 404: Problem},
    auth=_read,
    summary="A rule's sync runs, newest first (counts only)",
)
def list_runs(request: HttpRequest, rule_id: UUID, query: Query[PageQuery]) -> RunList:
    rule = get_rule_for_user(key_of(request).user, str(rule_id))
    rows, cursor = page(
        SyncRun.objects.filter(rule=rule),
        query,
        order="started_at",
        descending=True,
        scope=f"runs.{rule.id}",
    )
    return RunList(
        items=[
            RunOut(
                id=run.id,
                source_calendar_id=run.source_calendar_id,
                started_at=run.started_at,
                finished_at=run.finished_at,
                full_read=run.full_read,
                created=run.created,
                updated=run.updated,
                deleted=run.deleted,
                skipped=run.skipped,
                deletions_held=run.deletions_held,
                error=run.error_text or None,
            )
            for run in rows
        ],
        next_cursor=cursor,
    )
