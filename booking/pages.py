"""Writes for the owner's side of booking: their public profile and their booking pages.

A page is saved with its date overrides and questions in one transaction. The services refuse
what the forms already rule out for the owner's own data: another user's calendars, a calendar
bookings cannot be written to. A page created open, or opened, counts against the Free plan's open
pages (``accounts.billing.plans``): over the limit ``PlanLimitReached`` is raised and nothing saved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from django.db import transaction

from accounts.billing.plans import Limit, limit_check, plan_pause_forget
from accounts.models import User
from booking import selectors
from booking.forms import PAGE_SETTINGS
from booking.models import BookingPage, DateOverride, Profile, Question


@transaction.atomic
def profile_update(*, user: User, handle: str, display_name: str) -> Profile:
    """Create the user's profile, or change its handle and name (all their links follow)."""
    if selectors.handle_problem(handle):
        raise ValueError(f"Not a usable handle: {handle!r}")
    profile = selectors.profile_for_user(user)
    if profile is None:
        return Profile.objects.create(user=user, handle=handle, display_name=display_name)
    profile.handle, profile.display_name = handle, display_name
    profile.save(update_fields=["handle", "display_name"])
    return profile


@transaction.atomic
def page_create(*, owner: User, data: Mapping[str, object]) -> BookingPage:
    """A new page from ``data`` (PageForms.cleaned_data): settings, overrides and questions."""
    _check_calendars(owner, data)
    if data["active"]:
        limit_check(user=owner, limit=Limit.BOOKING_PAGES)
    page = BookingPage(owner=owner)
    _set_settings(page, data)
    page.save()
    _save_related(page, data)
    return page


@transaction.atomic
def page_update(*, page: BookingPage, data: Mapping[str, object]) -> BookingPage:
    """Save new settings; overrides are replaced, questions kept, changed, added or removed."""
    _check_calendars(page.owner, data)
    if data["active"] and not page.active:
        limit_check(user=page.owner, limit=Limit.BOOKING_PAGES)
        plan_pause_forget(page=page)
    _set_settings(page, data)
    page.save(update_fields=[*PAGE_SETTINGS, "updated_at"])
    _save_related(page, data)
    return page


@transaction.atomic
def page_delete(*, page: BookingPage) -> None:
    """Delete the page; the bookings made through it stay in the owner's list."""
    page.delete()


def _set_settings(page: BookingPage, data: Mapping[str, object]) -> None:
    for name in PAGE_SETTINGS:
        setattr(page, name, data[name])


def _save_related(page: BookingPage, data: Mapping[str, object]) -> None:
    page.busy_calendars.set(data["busy_calendars"])
    _save_overrides(page, data["overrides"])
    _save_questions(page, data["questions"])


def _save_overrides(page: BookingPage, overrides: Iterable[tuple[date, list]]) -> None:
    page.date_overrides.all().delete()
    DateOverride.objects.bulk_create(
        DateOverride(page=page, date=day, hours=hours) for day, hours in overrides
    )


def _save_questions(page: BookingPage, questions: Sequence[Mapping[str, object]]) -> None:
    existing = {question.id: question for question in page.questions.all()}
    kept = []
    for position, spec in enumerate(questions):
        question = existing.get(spec.get("id")) or Question(page=page)
        question.label = spec["label"]
        question.kind = spec["kind"]
        question.required = spec["required"]
        question.position = position
        question.save()
        kept.append(question.id)
    page.questions.exclude(id__in=kept).delete()


def _check_calendars(owner: User, data: Mapping[str, object]) -> None:
    """Refuse another user's calendars, and a calendar bookings cannot be written to."""
    busy_ids = {calendar.id for calendar in data["busy_calendars"]}
    owned = selectors.calendars_for_user(owner).filter(id__in=busy_ids).count()
    if owned != len(busy_ids):
        raise ValueError("A booking page can only use its owner's calendars.")
    write_calendar = data["write_calendar"]
    writable = selectors.writable_calendars_for_user(owner)
    if write_calendar is not None and not writable.filter(id=write_calendar.id).exists():
        raise ValueError("Bookings are written only to a writable calendar of the owner's.")
