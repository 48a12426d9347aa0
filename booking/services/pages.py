"""Writes for the owner's side of booking: their public profile and their booking pages.

A page is saved with its date overrides and questions in one transaction. The services refuse
what the forms already rule out for the owner's own data: another user's calendars, a calendar
bookings cannot be written to. A page created open, or opened, counts against the Free plan's open
pages (``accounts.billing.plans``): over the limit ``PlanLimitReached`` is raised and nothing saved.
An organization the owner is a member of may forbid open pages (``orgs.policies``): opening one
then raises ``PolicyRefused``; a page can still be saved closed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, ClassVar, TypedDict

from django.db import transaction

from accounts.billing.plans import Limit, limit_check
from accounts.models import User
from booking.handles import handle_claim
from booking.models import BookingPage, Profile, TeamPage
from booking.selectors import owner as selectors
from calendars.models import Calendar
from multical.lib.framing import NotAnOrigin, frame_origin
from multical.lib.model_settings import ModelSettings
from orgs.policies import PolicyRefused, public_pages_guard


@transaction.atomic
def profile_update(*, user: User, handle: str, display_name: str) -> Profile:
    """Create the user's profile, or change its handle and name (all their links follow)."""
    if selectors.handle_problem(handle):
        raise ValueError(f"Not a usable handle: {handle!r}")
    handle_claim(handle, user_id=user.id)  # shared with organizations (booking.handles)
    profile = selectors.profile_for_user(user)
    if profile is None:
        return Profile.objects.create(user=user, handle=handle, display_name=display_name)
    profile.handle, profile.display_name = handle, display_name
    profile.save(update_fields=["handle", "display_name"])
    return profile


@dataclass(frozen=True, kw_only=True)
class PageSettings(ModelSettings):
    """A booking page's own settings, its busy calendars, date overrides and questions aside:
    what the page form, the demo (and any other caller) hands the services, typed. A new setting
    is a field of the model (its limits and choices with it) and a field here; the page form
    takes it from both, and its template places it."""

    title: str
    description: str
    slug: str
    listed: bool
    active: bool
    durations: tuple[int, ...]  # minutes; the first is the default
    time_zone: str
    weekly_hours: Mapping[str, list[list[int]]]  # ISO weekday -> [start, end) minutes
    buffer_before: int
    buffer_after: int
    minimum_notice: int
    horizon_days: int
    increment: int
    max_per_day: int | None
    busy_in_all_calendars: bool
    tentative_is_busy: bool
    free_is_busy: bool
    all_day_events: str
    write_calendar: Calendar | None
    location: str
    location_detail: str
    language: str  # "" for each attendee's own
    embed_on: str  # BookingPage.EmbedOn
    embed_origins: tuple[str, ...]  # origins, as multical.lib.framing.frame_origin makes them

    SEQUENCES: ClassVar = ("durations", "embed_origins")


class QuestionSpec(TypedDict):
    """A question as the form gives it; ``id`` is the Question's own, None for a new one."""

    id: int | None
    label: str
    kind: str
    required: bool


@transaction.atomic
def page_create(
    *,
    owner: User,
    settings: PageSettings,
    busy_calendars: Sequence[Calendar] = (),
    overrides: Iterable[tuple[date, list]] = (),
    questions: Sequence[QuestionSpec] = (),
) -> BookingPage:
    """A new page: settings, the calendars that make the owner busy, overrides and questions."""
    _check_calendars(owner, settings, busy_calendars)
    _check_embedding(settings)
    if settings.active:
        _require_may_publish(owner)
        limit_check(user=owner, limit=Limit.BOOKING_PAGES)
    page = BookingPage(owner=owner)
    settings.apply_to(page)
    page.save()
    _save_related(page, busy_calendars, overrides, questions)
    return page


@transaction.atomic
def page_update(
    *,
    page: BookingPage,
    settings: PageSettings,
    busy_calendars: Sequence[Calendar] = (),
    overrides: Iterable[tuple[date, list]] = (),
    questions: Sequence[QuestionSpec] = (),
) -> BookingPage:
    """Save new settings; overrides are replaced, questions kept, changed, added or removed."""
    _check_calendars(page.owner, settings, busy_calendars)
    _check_embedding(settings)
    if settings.active:
        _require_may_publish(page.owner)
    if settings.active and not page.active:
        limit_check(user=page.owner, limit=Limit.BOOKING_PAGES)
        page.plan_paused_at = None
    settings.apply_to(page)
    changed = [field.name for field in fields(PageSettings)]
    page.save(update_fields=[*changed, "plan_paused_at", "updated_at"])
    _save_related(page, busy_calendars, overrides, questions)
    return page


@transaction.atomic
def page_delete(*, page: BookingPage) -> None:
    """Delete the page; the bookings made through it stay in the owner's list."""
    page.delete()


def _save_related(
    page: BookingPage,
    busy_calendars: Sequence[Calendar],
    overrides: Iterable[tuple[date, list]],
    questions: Sequence[QuestionSpec],
) -> None:
    page.busy_calendars.set(busy_calendars)
    overrides_replace(page, overrides)
    questions_replace(page, questions)


def overrides_replace(
    page: BookingPage | TeamPage, overrides: Iterable[tuple[date, list[list[int]]]]
) -> None:
    """The page's dates with other hours become ``overrides``; a personal or a team page alike
    (each kind has its own table, reached as ``page.date_overrides``)."""
    rows: Any = page.date_overrides  # DateOverride or TeamDateOverride
    rows.all().delete()
    rows.bulk_create(rows.model(page=page, date=day, hours=hours) for day, hours in overrides)


def questions_replace(page: BookingPage | TeamPage, questions: Sequence[QuestionSpec]) -> None:
    """The page's questions become ``questions``, in their order: a question with the ``id`` of
    one of the page's keeps its row (answers name it by label, so nothing else refers to it)."""
    rows: Any = page.questions  # Question or TeamQuestion
    existing = {question.id: question for question in rows.all()}
    kept = []
    for position, spec in enumerate(questions):
        question = existing.get(spec.get("id")) or rows.model(page=page)
        question.label = spec["label"]
        question.kind = spec["kind"]
        question.required = spec["required"]
        question.position = position
        question.save()
        kept.append(question.id)
    rows.exclude(id__in=kept).delete()


def _check_calendars(
    owner: User, settings: PageSettings, busy_calendars: Sequence[Calendar]
) -> None:
    """Refuse another user's calendars, and a calendar bookings cannot be written to."""
    busy_ids = {calendar.id for calendar in busy_calendars}
    owned = selectors.calendars_for_user(owner).filter(id__in=busy_ids).count()
    if owned != len(busy_ids):
        raise ValueError("A booking page can only use its owner's calendars.")
    write_calendar = settings.write_calendar
    writable = selectors.writable_calendars_for_user(owner)
    if write_calendar is not None and not writable.filter(id=write_calendar.id).exists():
        raise ValueError("Bookings are written only to a writable calendar of the owner's.")


def _require_may_publish(owner: User) -> None:
    """An organization the owner is a member of may keep its members from opening pages."""
    refusal = public_pages_guard(owner)
    if refusal is not None:
        raise PolicyRefused(refusal)


def _check_embedding(settings: PageSettings) -> None:
    """Refuse a site to embed the page on that is not an origin as a CSP source names it."""
    if settings.embed_on not in BookingPage.EmbedOn.values:
        raise ValueError(f"Not a choice of where the page may be embedded: {settings.embed_on!r}")
    for origin in settings.embed_origins:
        try:
            usable = frame_origin(origin) == origin
        except NotAnOrigin:
            usable = False
        if not usable:
            raise ValueError(f"Not an origin a page can be embedded on: {origin!r}")
