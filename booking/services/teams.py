"""Team pages and their bookings: the organization's handle, its pages set up by its admins, and
meetings booked, moved and cancelled on them.

A team booking is one ``Booking`` row per member who meets the attendee, owned by that member:
their exclusion constraint (``booking_no_overlap``, on the owner's confirmed ranges) then keeps
each member's bookings apart, team and personal alike, whatever races the web processes run, and
the member's follow-up writes the event into their calendar and e-mails them as for any booking.
On a collective page the first member's row is the lead (the attendee's links name it, its
follow-up makes the one Zoom meeting and e-mails the attendee); the others are its seats.

Every booking is checked twice, as a personal one is: live, with every member's busy time read
afresh, and again under the locks of the members it may go to, with the bookings stored by then.
The locks are the same row locks a personal booking takes (``bookings._lock_owner``), taken in
the order of the members' ids, so two bookings sharing members never wait for each other in a
circle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from booking.availability import _own_event_ids, forget_bookings
from booking.handles import handle_changed, handle_claim
from booking.models import (
    Booking,
    BookingPage,
    OrgHandle,
    TeamPage,
    TeamPageMember,
)
from booking.selectors.owner import handle_problem
from booking.services.bookings import (
    _CANCELLED_CANNOT_MOVE,
    _NOT_TAKING_BOOKINGS,
    BookingClosed,
    BusyUnknown,
    LengthNotOffered,
    SlotUnavailable,
    _refusal_message,
)
from booking.services.pages import QuestionSpec, overrides_replace, questions_replace
from booking.slots import Refusal, start_refusal
from booking.tasks import enqueue_follow_up
from booking.team_availability import (
    forget_team_pages,
    page_availability,
    team_members,
    team_slots,
)
from booking.team_slots import round_robin_pick
from booking.webhook_events import booking_event_emit
from calendars.models import Calendar
from integrations.base import Window
from multical.lib.framing import NotAnOrigin, frame_origin
from orgs.models import Membership
from orgs.services import OrgRefused, require_admin
from webhooks.models import EventType

# Round-robin counts each member's bookings on the page made this long before now.
RECENT = timedelta(days=30)
_OVERLAP = "booking_no_overlap"
_SAME_SUBMISSION = "booking_owner_submission_key"


# The organization's handle ------------------------------------------------------------------


def org_handle_set(*, membership: Membership, handle: str) -> OrgHandle:
    """Give the organization the public handle ``handle`` (its team pages' links follow).
    ``ValueError`` for a handle nobody may have, ``booking.handles.HandleTaken`` for one that is
    a person's or another organization's."""
    require_admin(membership)
    if handle_problem(handle):
        raise ValueError(f"Not a usable handle: {handle!r}")
    with transaction.atomic():
        handle_claim(handle, organization_id=membership.organization_id)
        previous = (
            OrgHandle.objects.filter(organization_id=membership.organization_id)
            .values_list("handle", flat=True)
            .first()
        )
        found, _created = OrgHandle.objects.update_or_create(
            organization_id=membership.organization_id, defaults={"handle": handle}
        )
        handle_changed(handle, previous or "")
        forget_team_pages(membership.organization_id)
    return found


# Team pages -----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TeamPageSettings:
    """A team page's own settings, as the console's form gives them."""

    kind: str  # TeamPage.Kind
    title: str
    description: str
    slug: str
    active: bool
    durations: tuple[int, ...]
    time_zone: str
    weekly_hours: dict[str, list[list[int]]]
    minimum_notice: int
    horizon_days: int
    increment: int
    buffer_before: int
    buffer_after: int
    max_per_day: int | None
    location: str
    location_detail: str
    # Which of the members' events make them busy, and who may embed the page: as on personal
    # pages (``BookingPage``'s fields of the same names).
    tentative_is_busy: bool
    free_is_busy: bool
    all_day_events: str  # BookingPage.AllDayEvents
    embed_on: str  # BookingPage.EmbedOn
    embed_origins: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class MemberSettings:
    """One member's side of the page: ``busy_calendars`` empty means all of theirs."""

    user: User
    busy_calendars: tuple[Calendar, ...] = ()
    write_calendar: Calendar | None = None
    weight: int = 1
    priority: int = 0


def team_page_save(
    *,
    membership: Membership,
    page: TeamPage | None,
    settings: TeamPageSettings,
    members: Sequence[MemberSettings],
    overrides: Iterable[tuple[date, list[list[int]]]] | None = None,
    questions: Sequence[QuestionSpec] | None = None,
) -> TeamPage:
    """Create (``page`` None) or change a team page of the admin's organization, with its members
    as a whole, in one transaction. Members must belong to the organization and have a public
    profile; a member's calendars must be their own. ``overrides`` (date, hours; no hours: a day
    off) replace the page's; ``questions`` are kept, changed, added or removed as on a personal
    page (answers already given keep their question). Either left None stays as it is.
    ``ValueError`` for a site to embed on that is no origin."""
    require_admin(membership)
    if page is not None and page.organization_id != membership.organization_id:
        raise OrgRefused(_("This page belongs to another organization."))
    _check_embedding(settings)
    in_org = set(
        Membership.objects.filter(organization_id=membership.organization_id).values_list(
            "user_id", flat=True
        )
    )
    for member in members:
        if member.user.id not in in_org:
            raise OrgRefused(_("Only the organization's members can be on its team pages."))
        own = [*member.busy_calendars, *([member.write_calendar] if member.write_calendar else [])]
        if any(calendar.connection.user_id != member.user.id for calendar in own):
            raise OrgRefused(_("Each member's calendars must be their own."))
    with transaction.atomic():
        if page is None:
            page = TeamPage(organization_id=membership.organization_id)
        for name, value in vars(settings).items():
            setattr(page, name, list(value) if isinstance(value, tuple) else value)
        page.save()
        if overrides is not None:
            overrides_replace(page, overrides)
        if questions is not None:
            questions_replace(page, questions)
        page.members.all().delete()
        for member in members:
            row = TeamPageMember.objects.create(
                page=page,
                user=member.user,
                busy_in_all_calendars=not member.busy_calendars,
                write_calendar=member.write_calendar,
                weight=member.weight,
                priority=member.priority,
            )
            row.busy_calendars.set(member.busy_calendars)
        forget_team_pages(page.organization_id)
    return page


def _check_embedding(settings: TeamPageSettings) -> None:
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


def team_page_delete(*, membership: Membership, page: TeamPage) -> None:
    """Delete the page; its bookings stay with the members who have them."""
    require_admin(membership)
    if page.organization_id != membership.organization_id:
        raise OrgRefused(_("This page belongs to another organization."))
    with transaction.atomic():
        page.delete()
        forget_team_pages(membership.organization_id)


def team_member_calendars_set(
    *,
    member: TeamPageMember,
    user: User,
    busy_calendars: Sequence[Calendar],
    write_calendar: Calendar | None,
) -> None:
    """The member ``user`` chooses, for one team page, the calendars that make them busy (none:
    all of theirs) and the one its meetings are added to. Only they choose, and only their own:
    their calendars' names are not the organization's to see."""
    if member.user_id != user.id:
        raise OrgRefused(_("Only the member chooses their calendars."))
    own = [*busy_calendars, *([write_calendar] if write_calendar else [])]
    if any(calendar.connection.user_id != user.id for calendar in own):
        raise OrgRefused(_("Each member's calendars must be their own."))
    if write_calendar is not None and write_calendar.read_only:
        raise OrgRefused(_("Meetings cannot be added to a read-only calendar."))
    with transaction.atomic():
        member.busy_in_all_calendars = not busy_calendars
        member.write_calendar = write_calendar
        member.save(update_fields=["busy_in_all_calendars", "write_calendar"])
        member.busy_calendars.set(busy_calendars)
        forget_team_pages(member.page.organization_id)


def team_member_hours_set(
    *,
    member: TeamPageMember,
    user: User,
    time_zone: str,
    weekly_hours: dict[str, list[list[int]]],
) -> None:
    """The member ``user`` sets their own hours for one team page (empty: the page's hours), in
    their own zone. Times are offered to them only inside both their hours and the page's."""
    if member.user_id != user.id:
        raise OrgRefused(_("Only the member sets their own hours."))
    with transaction.atomic():
        member.time_zone = time_zone if weekly_hours else ""
        member.weekly_hours = weekly_hours
        member.save(update_fields=["time_zone", "weekly_hours"])
        forget_team_pages(member.page.organization_id)


def team_member_left(*, organization_id: UUID, user_id: UUID) -> None:
    """Someone left the organization (or was removed): they leave its team pages with them. The
    pages go on with the other members; their bookings made so far stay theirs."""
    with transaction.atomic():
        TeamPageMember.objects.filter(
            page__organization_id=organization_id, user_id=user_id
        ).delete()
        forget_team_pages(organization_id)


# Team bookings --------------------------------------------------------------------------------


def team_booking_create(
    *,
    page: TeamPage,
    start: datetime,
    duration: int,
    attendee_name: str,
    attendee_email: str,
    attendee_time_zone: str,
    submission_key: str,
    attendee_clock: int = Booking.Clock.TWENTY_FOUR,
    attendee_language: str = "en",
    answers: Sequence[dict[str, str]] = (),
) -> Booking:
    """Book ``start`` for ``duration`` minutes with the team, or raise as ``booking_create``
    does. Returns the attendee's booking (on a collective page, the lead). The same
    ``submission_key`` returns the booking already made. The ``answers`` are kept on every
    member's row: each one who meets the attendee reads them with their own booking."""
    earlier = _by_submission(page, submission_key)
    if earlier is not None:
        return earlier
    if not page.active:
        raise BookingClosed(_NOT_TAKING_BOOKINGS)
    if duration not in page.durations:
        raise LengthNotOffered(_("Meetings of this length are not offered."))
    members = team_members(page)
    if not members:
        raise BookingClosed(_NOT_TAKING_BOOKINGS)
    offered = _check_live(page, members, start=start, duration=duration)
    # Only those free when read live may get it; the lock decides among them.
    candidates = [member for member in members if member.user_id in offered.free[start]]
    try:
        with transaction.atomic():
            _lock_members([member.user_id for member in candidates])
            earlier = _by_submission(page, submission_key)
            if earlier is not None:
                return earlier
            free = _free_under_lock(page, candidates, start=start, duration=duration, busy=offered)
            chosen = _chosen(page, candidates, free)
            rows = [
                Booking(
                    owner_id=member.user_id,
                    team_page=page,
                    title=page.title,
                    start=start,
                    end=start + timedelta(minutes=duration),
                    attendee_name=attendee_name,
                    attendee_email=attendee_email,
                    attendee_time_zone=attendee_time_zone,
                    attendee_clock=attendee_clock,
                    language=attendee_language,
                    answers=list(answers),
                    location=page.location,
                    location_detail=page.location_detail,
                    calendar=member.write_calendar,
                    submission_key=submission_key,
                )
                for member in chosen
            ]
            lead = rows[0]
            for row in rows:
                if row is not lead:
                    row.team_lead = lead
                row.save(force_insert=True)
                forget_bookings(row.owner_id)
                enqueue_follow_up(row.id)
                # Each member's webhooks hear of their own booking, as for a personal one.
                booking_event_emit(row, EventType.BOOKING_CREATED)
    except IntegrityError as error:
        if _SAME_SUBMISSION in str(error):
            earlier = _by_submission(page, submission_key)
            if earlier is not None:
                return earlier
        if _OVERLAP in str(error):
            raise _refused(Refusal.TAKEN, page) from error
        raise
    return lead


def team_booking_reschedule(*, booking: Booking, start: datetime) -> Booking:
    """Move a team booking (the lead, with its seats) to ``start``, keeping its length and its
    members: each must be free then."""
    if booking.is_cancelled:
        raise BookingClosed(_CANCELLED_CANNOT_MOVE)
    page = booking.team_page
    if page is None or not page.active:
        raise BookingClosed(_NOT_TAKING_BOOKINGS)
    rows = [booking, *booking.team_seats.filter(status=Booking.Status.CONFIRMED)]
    owners = {row.owner_id for row in rows}
    members = [member for member in team_members(page) if member.user_id in owners]
    if len(members) != len(owners):
        raise BookingClosed(_("Someone on this meeting has left the team."))
    duration = int((booking.end - booking.start).total_seconds() // 60)
    moving = [row.id for row in rows]
    offered = _check_live(page, members, start=start, duration=duration, rows=rows)
    if offered.free[start] != owners:
        raise _refused(Refusal.TAKEN, page)
    try:
        with transaction.atomic():
            _lock_members(sorted(owners))
            current = Booking.objects.select_for_update().get(id=booking.id)
            if current.is_cancelled:
                raise BookingClosed(_CANCELLED_CANNOT_MOVE)
            free = _free_under_lock(
                page, members, start=start, duration=duration, busy=offered, leaving_out=moving
            )
            if free != owners:
                raise _refused(Refusal.TAKEN, page)
            for row in Booking.objects.select_for_update().filter(
                id__in=moving, status=Booking.Status.CONFIRMED
            ):
                previous = (row.start, row.end)
                row.start, row.end = start, start + timedelta(minutes=duration)
                row.sequence += 1
                row.save(update_fields=["start", "end", "sequence", "updated_at"])
                forget_bookings(row.owner_id)
                enqueue_follow_up(row.id)
                booking_event_emit(row, EventType.BOOKING_RESCHEDULED, previous=previous)
    except IntegrityError as error:
        if _OVERLAP in str(error):
            raise _refused(Refusal.TAKEN, page) from error
        raise
    booking.refresh_from_db()
    return booking


def _by_submission(page: TeamPage, submission_key: str) -> Booking | None:
    return Booking.objects.filter(
        team_page=page, submission_key=submission_key, team_lead__isnull=True
    ).first()


def _check_live(
    page: TeamPage,
    members: Sequence[TeamPageMember],
    *,
    start: datetime,
    duration: int,
    rows: Sequence[Booking] = (),
) -> Any:
    """The time must still be offered with every member's busy time read afresh (``rows``, a
    booking being moved, do not count against it); what was read is returned."""
    now = timezone.now()
    reason = start_refusal(
        page_availability(page), start=start, duration=timedelta(minutes=duration), now=now
    )
    if reason is not None:
        raise _refused(reason, page)
    window = Window(start, start + timedelta(seconds=1))
    read = team_slots(page, members, now=now, window=window, duration=duration, fresh=True)
    if read.unreadable:
        raise BusyUnknown(_("We could not check the calendars just now. Please try again shortly."))
    if rows:
        own: set[str] = set()
        for row in rows:
            own |= _own_event_ids(row)
        busy = {
            key: [s for s in spans if s.event_id not in own] for key, spans in read.busy.items()
        }
        read = team_slots(
            page,
            members,
            now=now,
            window=window,
            duration=duration,
            busy=busy,
            leaving_out=[row.id for row in rows],
        )
    if start not in read.free:
        raise _refused(Refusal.TAKEN, page)
    return read


def _free_under_lock(
    page: TeamPage,
    members: Sequence[TeamPageMember],
    *,
    start: datetime,
    duration: int,
    busy: Any,
    leaving_out: Sequence[UUID] = (),
) -> frozenset[UUID]:
    """Who of ``members`` is free at ``start`` with the busy time read live and the bookings
    stored by now (buffers and daily caps included, which the constraint alone would not see)."""
    found = team_slots(
        page,
        members,
        now=timezone.now(),
        window=Window(start, start + timedelta(seconds=1)),
        duration=duration,
        busy=busy.busy,
        leaving_out=leaving_out,
    )
    return found.free.get(start, frozenset())


def _chosen(
    page: TeamPage, members: Sequence[TeamPageMember], free: frozenset[UUID]
) -> list[TeamPageMember]:
    """Who meets the attendee: everyone on a collective page (refused unless all are free), the
    one ``round_robin_pick`` names on a round-robin page."""
    if page.is_collective:
        if free != {member.user_id for member in members} or not members:
            raise _refused(Refusal.TAKEN, page)
        return list(members)
    if not free:
        raise _refused(Refusal.TAKEN, page)
    counts = dict(
        Booking.objects.filter(
            team_page=page,
            owner_id__in=free,
            status=Booking.Status.CONFIRMED,
            created_at__gte=timezone.now() - RECENT,
        )
        .values_list("owner_id")
        .annotate(count=Count("id"))
        .values_list("owner_id", "count")
    )
    picked = round_robin_pick(
        free,
        recent_counts=counts,
        weights={member.user_id: member.weight for member in members},
        priority=[member.user_id for member in members],  # already in priority order
    )
    return [member for member in members if member.user_id == picked]


def _lock_members(user_ids: Sequence[UUID]) -> None:
    """The members' bookings are decided one at a time, as ``bookings._lock_owner`` does for one
    person: the same row locks, taken in the order of their ids."""
    list(User.objects.select_for_update().filter(id__in=user_ids).order_by("id").values("id"))


def _refused(reason: Refusal, page: TeamPage) -> SlotUnavailable:
    # The wording reads only the notice and the horizon, which a team page has as a page does.
    return SlotUnavailable(reason, _refusal_message(reason, cast(Any, page)))
