"""Bookings: listed, read, made, moved and cancelled through the same services as the pages.

A booking made here goes through the public page's checks: the attendee's form (name, e-mail, the
page's questions), the live re-reading of the calendars and the database's exclusion constraint.
The attendee's manage link is not part of the output: it lets whoever holds it cancel or move the
meeting as the attendee, which a key that may only read bookings must not be able to do.

A team page's booking is one row per member who meets the attendee, each the member's own
(``booking.services.teams``): a member lists, cancels and moves theirs as any booking of theirs,
and a member on a team page books on it through the same service as its public page, so the
round-robin's choice and the collective's seats are the page's own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from api.auth import KeyAuth, key_of
from api.pagination import PageQuery, page
from api.problems import ApiProblem, FieldProblem, Problem, conflict, form_errors, invalid
from api.routes.team_pages import get_team_page_for_user
from api.schemas import Out
from api.schemas_booking import Instant
from api.scopes import Scope
from booking.forms import CancelForm
from booking.models import (
    Booking,
    BookingPage,
    Question,
    TeamPage,
    TeamPageMember,
    TeamQuestion,
)
from booking.public_display import zone_names
from booking.public_forms import BookingForm, new_submission_key
from booking.selectors import owner as selectors
from booking.services import bookings as services
from booking.services.bookings import BookingClosed, BusyUnknown, LengthNotOffered, SlotUnavailable
from booking.services.teams import team_booking_create, team_booking_reschedule

router = Router(tags=["Bookings"])
_read = KeyAuth(Scope.BOOKINGS_READ)
_write = KeyAuth(Scope.BOOKINGS_WRITE)

# Times this far from now are refused as values, before any arithmetic on them can overflow.
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)
# How soon to try again when a calendar could not be read for the live check.
_RETRY_SECONDS = 30
# Keys sent by API clients are kept apart from those of the public page's forms.
_KEY_PREFIX = "api:"


class Answer(Out):
    question: str = Field(max_length=200, description="The question's label, as the page asks it.")
    answer: str = Field(max_length=2000)


class BookingOut(Out):
    id: UUID
    page_id: UUID | None = Field(
        description="The booking page it was made on; null for a team page's booking, and once "
        "the page is deleted."
    )
    team_page_id: UUID | None = Field(
        description="The team page it was made on; null for a personal page's booking, and once "
        "the team page is deleted."
    )
    team_lead_id: UUID | None = Field(
        description="On a collective team page each member meeting the attendee holds a booking "
        "of their own: on the others', the id of the attendee's one (the lead); null on the lead "
        "and on every other booking."
    )
    owner_id: UUID = Field(
        description="The person who holds it and meets the attendee (their `/me` id): you, "
        "except in the answer to a booking you made on a team page that went to another member."
    )
    title: str
    start: datetime
    end: datetime
    duration: int = Field(description="Minutes.")
    status: Booking.Status
    attendee_name: str
    attendee_email: str
    attendee_time_zone: str
    attendee_language: str
    answers: list[Answer]
    location: BookingPage.Location
    location_detail: str
    meeting_url: str | None
    cancelled_at: datetime | None
    cancelled_by: Booking.Actor | None
    cancel_reason: str | None
    created_at: datetime
    updated_at: datetime


class BookingList(Out):
    items: list[BookingOut]
    next_cursor: str | None


class BookingFilters(PageQuery):
    status: Booking.Status | None = None
    page_id: UUID | None = None
    team_page_id: UUID | None = None
    start_from: Instant | None = Field(None, description="Starting at or after.")
    start_to: Instant | None = Field(None, description="Starting before.")
    when: Literal["upcoming", "past"] | None = Field(
        None, description="`upcoming`: not over yet; `past`: over."
    )
    order: Literal["start", "-start"] = Field("start", description="`-start`: latest first.")


class BookingIn(Schema):
    page_id: UUID | None = Field(None, description="A booking page of yours; or `team_page_id`.")
    team_page_id: UUID | None = Field(
        None,
        description="A team page you are on, booked as its public page books it: on a "
        "round-robin page the meeting may go to another member.",
    )
    start: Instant = Field(description="One of the page's open times (see its slots).")
    duration: int | None = Field(
        None, description="Minutes, a length the page offers; its first when left out."
    )
    attendee_name: str = Field(min_length=1, max_length=120)
    attendee_email: str = Field(min_length=3, max_length=254)
    attendee_time_zone: str | None = Field(
        None, description="The attendee's IANA zone for their e-mails; the page's when left out."
    )
    attendee_language: str | None = Field(
        None,
        description="The attendee's e-mails' language; the page's when it fixes one, else English.",
    )
    answers: list[Answer] = Field(default_factory=list)
    idempotency_key: str | None = Field(
        None,
        min_length=1,
        max_length=60,
        description="Sent again with a retried request, it returns the booking already made "
        "instead of making another.",
    )


class CancelIn(Schema):
    reason: str = Field(
        "", max_length=1000, description="Sent to the attendee with the cancellation."
    )


class RescheduleIn(Schema):
    start: Instant = Field(description="The new start; the length stays.")


# The columns ``_out`` reads: a page of 100 bookings loads nothing more.
_LISTED = (
    "id", "page_id", "team_page_id", "team_lead_id", "owner_id", "title", "start", "end", "status",
    "attendee_name", "attendee_email",
    "attendee_time_zone", "language", "answers", "location", "location_detail", "meeting_url",
    "cancelled_at", "cancelled_by", "cancel_reason", "created_at", "updated_at",
)  # fmt: skip


def _out(booking: Booking) -> BookingOut:
    return BookingOut(
        id=booking.id,
        page_id=booking.page_id,
        team_page_id=booking.team_page_id,
        team_lead_id=booking.team_lead_id,
        owner_id=booking.owner_id,
        title=booking.title,
        start=booking.start,
        end=booking.end,
        duration=int((booking.end - booking.start) / timedelta(minutes=1)),
        status=Booking.Status(booking.status),
        attendee_name=booking.attendee_name,
        attendee_email=booking.attendee_email,
        attendee_time_zone=booking.attendee_time_zone,
        attendee_language=booking.language,
        answers=[Answer(question=a["question"], answer=a["answer"]) for a in booking.answers],
        location=BookingPage.Location(booking.location),
        location_detail=booking.location_detail,
        meeting_url=booking.meeting_url or None,
        cancelled_at=booking.cancelled_at,
        cancelled_by=Booking.Actor(booking.cancelled_by) if booking.cancelled_by else None,
        cancel_reason=booking.cancel_reason or None,
        created_at=booking.created_at,
        updated_at=booking.updated_at,
    )


def _instant(value: datetime, field: str) -> datetime:
    """``value`` in UTC, refused when it lies so far off that it cannot be a meeting's."""
    try:
        moment = value.astimezone(UTC)
    except OverflowError:
        moment = _LATEST + timedelta(days=1)
    if not _EARLIEST <= moment <= _LATEST:
        raise invalid([FieldProblem(field=field, message="Give a time between 1970 and 9000.")])
    return moment


def _refused(error: Exception) -> ApiProblem:
    """The booking services' refusals, as problems."""
    if isinstance(error, SlotUnavailable):
        return conflict(f"slot_{error.reason}", str(error))
    if isinstance(error, LengthNotOffered):
        return invalid([FieldProblem(field="duration", message=str(error))])
    if isinstance(error, BusyUnknown):
        return ApiProblem(
            503,
            "calendar_unreadable",
            "Service unavailable",
            str(error),
            headers={"Retry-After": str(_RETRY_SECONDS)},
        )
    return conflict("booking_closed", str(error))


def _filtered(user: Any, filters: BookingFilters) -> QuerySet[Booking]:
    bookings = Booking.objects.filter(owner=user)
    if filters.status is not None:
        bookings = bookings.filter(status=filters.status)
    if filters.page_id is not None:
        bookings = bookings.filter(page_id=filters.page_id)
    if filters.team_page_id is not None:
        bookings = bookings.filter(team_page_id=filters.team_page_id)
    if filters.start_from is not None:
        bookings = bookings.filter(start__gte=_instant(filters.start_from, "start_from"))
    if filters.start_to is not None:
        bookings = bookings.filter(start__lt=_instant(filters.start_to, "start_to"))
    if filters.when == "upcoming":
        bookings = bookings.filter(end__gt=timezone.now())
    elif filters.when == "past":
        bookings = bookings.filter(end__lte=timezone.now())
    return bookings


def _attendee_form(
    booking_page: BookingPage | TeamPage, body: BookingIn, submission_key: str
) -> BookingForm:
    """The public page's form, filled in with the request (answers by question label): valid,
    or a 422 with its errors under the API's names."""
    questions: list[Question | TeamQuestion] = list(booking_page.questions.all())
    data = {
        "name": body.attendee_name,
        "email": body.attendee_email,
        "submission": submission_key,
    }
    problems: list[FieldProblem] = []
    answered: dict[int, int] = {}  # question id -> position in body.answers
    for position, answer in enumerate(body.answers):
        question = next((q for q in questions if q.label == answer.question), None)
        if question is None:
            message = "This page asks no such question."
            problems.append(FieldProblem(field=f"answers.{position}.question", message=message))
        elif question.id in answered:
            message = "This question is answered twice."
            problems.append(FieldProblem(field=f"answers.{position}.question", message=message))
        else:
            answered[question.id] = position
            data[f"question_{question.id}"] = answer.answer
    form = BookingForm(data, page=booking_page)
    if not form.is_valid() or problems:
        renamed = {
            "name": "attendee_name",
            "email": "attendee_email",
            "submission": "idempotency_key",
        }
        for question in questions:
            given = answered.get(question.id)
            renamed[f"question_{question.id}"] = (
                f"answers.{given}.answer" if given is not None else "answers"
            )
        raise invalid(problems + form_errors(form.errors, fields=renamed))
    return form


def _attendee_zone(booking_page: BookingPage | TeamPage, body: BookingIn) -> str:
    zone = body.attendee_time_zone or booking_page.time_zone
    if zone not in zone_names():
        raise invalid(
            [FieldProblem(field="attendee_time_zone", message="Not a known IANA time zone.")]
        )
    return zone


def _attendee_language(booking_page: BookingPage | TeamPage, body: BookingIn) -> str:
    """The page's language when it fixes one (a team page does not), else the one asked for."""
    fixed = getattr(booking_page, "language", "")
    if fixed:
        return str(fixed)
    language = body.attendee_language or "en"
    if language not in dict(settings.LANGUAGES):
        codes = ", ".join(code for code, _name in settings.LANGUAGES)
        raise invalid([FieldProblem(field="attendee_language", message=f"One of: {codes}.")])
    return language


@router.get("", response=BookingList, auth=_read, summary="List bookings")
def list_bookings(request: HttpRequest, filters: Query[BookingFilters]) -> BookingList:
    bookings = _filtered(key_of(request).user, filters)
    named = filters.model_dump(exclude={"limit", "cursor"}, mode="json")
    scope = "bookings:" + ",".join(f"{name}={named[name]}" for name in sorted(named))
    rows, cursor = page(
        bookings.only(*_LISTED),
        filters,
        order="start",
        descending=filters.order == "-start",
        scope=scope,
    )
    return BookingList(items=[_out(row) for row in rows], next_cursor=cursor)


@router.post(
    "",
    response={201: BookingOut, 404: Problem, 409: Problem, 503: Problem},
    auth=_write,
    summary="Book a time",
    description="Checked as the public page checks a booking: the attendee's details and the "
    "page's questions, then the time against the calendars read afresh and the bookings stored. "
    "With `team_page_id`, on a team page you are on (403 `not_on_team_page` on one you may only "
    "read): the members free then are read afresh, and the meeting goes to them as the page "
    "decides (the answer is the attendee's booking: on a collective page the lead). "
    "409 when the time is not open (`code`: `slot_notice`, `slot_horizon`, `slot_hours`, "
    "`slot_grid`, `slot_full`, `slot_taken`), the page is switched off (`booking_closed`) or the "
    "`idempotency_key` was used for another booking (`idempotency_key_reused`); 503 when a "
    "calendar could not be read (try again after `Retry-After`).",
)
def create_booking(request: HttpRequest, body: BookingIn) -> Status[BookingOut]:
    user = key_of(request).user
    if (body.page_id is None) == (body.team_page_id is None):
        message = "Give either `page_id` or `team_page_id`."
        raise invalid([FieldProblem(field="page_id", message=message)])
    if body.team_page_id is not None:
        team_page = get_team_page_for_user(user, body.team_page_id)
        if not TeamPageMember.objects.filter(page=team_page, user=user).exists():
            raise ApiProblem(
                403,
                "not_on_team_page",
                "Forbidden",
                "Only the page's members book on it here; its public page takes anyone's bookings.",
            )
        # Made as its public page makes it: the answer is the attendee's booking.
        return Status(201, _out(_book(team_page, body, create=team_booking_create)))
    booking_page = selectors.get_page_for_user(user, body.page_id)
    return Status(201, _out(_book(booking_page, body, create=services.booking_create)))


def _book(
    booking_page: BookingPage | TeamPage, body: BookingIn, *, create: Callable[..., Booking]
) -> Booking:
    """The booking ``create`` makes on ``booking_page`` from the request's body, through the
    attendee's form as the public page fills it; the same ``idempotency_key`` again answers the
    booking it made, and is refused for another."""
    start = _instant(body.start, "start")
    key = body.idempotency_key
    submission_key = _KEY_PREFIX + key if key else new_submission_key()
    form = _attendee_form(booking_page, body, submission_key)
    duration = body.duration
    if duration is None:
        duration = int(booking_page.durations[0]) if booking_page.durations else 0
    try:
        booking = create(
            page=booking_page,
            start=start,
            duration=duration,
            attendee_name=form.cleaned_data["name"],
            attendee_email=form.cleaned_data["email"],
            attendee_time_zone=_attendee_zone(booking_page, body),
            attendee_language=_attendee_language(booking_page, body),
            answers=form.answers(),
            submission_key=submission_key,
        )
    except (SlotUnavailable, LengthNotOffered, BusyUnknown, BookingClosed) as error:
        raise _refused(error) from error
    made_on = booking.team_page_id if isinstance(booking_page, TeamPage) else booking.page_id
    same = (
        made_on == booking_page.id
        and booking.start == start
        and booking.end == start + timedelta(minutes=duration)
        and booking.attendee_email == form.cleaned_data["email"]
    )
    if not same:
        raise conflict(
            "idempotency_key_reused", "This idempotency key was used for another booking."
        )
    return booking


@router.get(
    "/{booking_id}", response={200: BookingOut, 404: Problem}, auth=_read, summary="One booking"
)
def get_booking(request: HttpRequest, booking_id: UUID) -> BookingOut:
    return _out(selectors.get_booking_for_user(key_of(request).user, booking_id))


@router.post(
    "/{booking_id}/cancel",
    response={200: BookingOut, 404: Problem},
    auth=_write,
    summary="Cancel a booking",
    description="The attendee is told, with the reason. Cancelling again changes nothing. "
    "A collective team page's meeting is cancelled for every member, whichever member's booking "
    "of it is cancelled (the page offered it because everyone could come).",
)
def cancel_booking(request: HttpRequest, booking_id: UUID, body: CancelIn) -> BookingOut:
    booking = selectors.get_booking_for_user(key_of(request).user, booking_id)
    form = CancelForm({"reason": body.reason})
    if not form.is_valid():
        raise invalid(form_errors(form.errors))
    booking = services.booking_cancel(
        booking=booking, actor=Booking.Actor.OWNER, reason=form.cleaned_data["reason"]
    )
    return _out(booking)


@router.post(
    "/{booking_id}/reschedule",
    response={200: BookingOut, 404: Problem, 409: Problem, 503: Problem},
    auth=_write,
    summary="Move a booking",
    description="To another open time of its page, keeping its length; checked as a new booking "
    "is (the same 409 and 503 answers). A cancelled booking, or one whose page is deleted, "
    "cannot be moved (`booking_closed`). A team booking moves with its seats, at a time each of "
    "its members is free; a seat moves only with its lead (409 `team_seat`).",
)
def reschedule_booking(request: HttpRequest, booking_id: UUID, body: RescheduleIn) -> BookingOut:
    booking = selectors.get_booking_for_user(key_of(request).user, booking_id)
    start = _instant(body.start, "start")
    if booking.team_lead_id is not None:
        raise conflict(
            "team_seat",
            "This is a seat of a collective meeting: it moves with the attendee's booking, "
            "which its holder or the attendee moves for everyone.",
        )
    try:
        if booking.team_page_id is not None:
            booking = team_booking_reschedule(booking=booking, start=start)
        else:
            booking = services.booking_reschedule(
                booking=booking, start=start, actor=Booking.Actor.OWNER
            )
    except (SlotUnavailable, BusyUnknown, BookingClosed) as error:
        raise _refused(error) from error
    return _out(booking)
