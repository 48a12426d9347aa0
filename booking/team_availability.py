"""A team page's open times: each member's busy time and bookings, read as a personal page reads
its owner's (``booking.availability``), combined by ``booking.team_slots``.

Members are the page's ``TeamPageMember`` rows whose person still belongs to the organization and
has a public profile (attendees see the team by it). Everything a member is busy with counts: the
calendars the page watches for them (which of their events count follows the page's busy options,
as on a personal page: ``busy_policy_of``), and their confirmed bookings on every page, personal
and team alike. A calendar of any member that cannot be read offers no time at all, as on a
personal page: a round-robin page would otherwise hand meetings to the others behind the unread
member's back, a collective one could double-book them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from booking.availability import _in_zone, _own_event_ids, busy_policy_of
from booking.models import Booking, TeamPage, TeamPageMember
from booking.slots import Availability, local_day_window
from booking.team_slots import TeamMember, collective_slots, round_robin_slots
from calendars.busy import calendars_busy
from calendars.models import Calendar, Connection
from integrations.base import Interval, Window
from orgs.models import Membership

# Busy time is read a little wider than the times asked for, so buffers at the edges see it.
_MARGIN = timedelta(days=1)


@dataclass(slots=True)
class TeamSlots:
    """The starts offered, each with the members free then (on a collective page, all of them).
    ``unreadable``: some member's calendar could not be read, and nothing is offered."""

    free: dict[datetime, frozenset[UUID]] = field(default_factory=dict)
    unreadable: bool = False
    # What the starts were computed from, for the check made under the members' locks.
    busy: dict[UUID, list[Interval]] = field(default_factory=dict)

    @property
    def starts(self) -> list[datetime]:
        return sorted(self.free)


def team_pages_version(organization_id: object) -> str:
    """Changes whenever one of the organization's team pages, its members or their calendars
    change: part of the key under which public team pages are kept."""
    return cache.get(_version_key(organization_id)) or ""


def forget_team_pages(organization_id: object) -> None:
    """Once the current transaction commits, public team pages stop reusing what they kept."""
    key = _version_key(organization_id)
    transaction.on_commit(lambda: cache.set(key, uuid.uuid4().hex[:12], None))


def _version_key(organization_id: object) -> str:
    return f"booking:team-pages-version:{organization_id}"


def team_members(page: TeamPage) -> list[TeamPageMember]:
    """The page's members who count now, in priority order, with their profiles."""
    return list(_counting(page).select_related("user", "user__booking_profile", "write_calendar"))


def _counting(page: TeamPage) -> QuerySet[TeamPageMember]:
    still_in = Membership.objects.filter(
        organization_id=page.organization_id, user=OuterRef("user")
    )
    return (
        TeamPageMember.objects.filter(page=page, user__booking_profile__isnull=False)
        .filter(Exists(still_in))
        .order_by("priority", "id")
    )


def page_availability(page: TeamPage) -> Availability:
    """When the team meets: the page's hours with its date overrides (a day off, or other hours
    on a date, in the page's zone), its zone, notice, horizon and grid."""
    return Availability(
        time_zone=ZoneInfo(page.time_zone),
        weekly_hours={int(day): _spans(hours) for day, hours in page.weekly_hours.items()},
        date_overrides=_overrides(page),
        minimum_notice=timedelta(minutes=page.minimum_notice),
        horizon_days=page.horizon_days,
        increment=timedelta(minutes=page.increment),
    )


def member_availability(
    page: TeamPage, member: TeamPageMember, page_hours: Availability
) -> Availability:
    """Each member's side, with the page's buffers and daily cap for them: the page's hours
    (``page_hours``, its date overrides included), or the member's own hours for the page in
    their zone. Own hours take none of the page's overrides, and need none: every start offered
    is on the page's grid, inside the page's hours of its date, so a member with hours of their
    own meets only inside both (the page's day off is theirs too)."""
    own = bool(member.weekly_hours)
    return Availability(
        time_zone=_member_zone(page, member),
        weekly_hours=(
            {int(day): _spans(spans) for day, spans in member.weekly_hours.items()}
            if own
            else page_hours.weekly_hours
        ),
        date_overrides={} if own else page_hours.date_overrides,
        buffer_before=timedelta(minutes=page.buffer_before),
        buffer_after=timedelta(minutes=page.buffer_after),
        max_per_day=page.max_per_day,
    )


def member_calendars(member: TeamPageMember) -> QuerySet[Calendar]:
    """The calendars that make ``member`` busy for the page: only ever their own."""
    calendars: QuerySet[Calendar]
    if member.busy_in_all_calendars:
        calendars = Calendar.objects.filter(connection__user_id=member.user_id)
    else:
        calendars = member.busy_calendars.filter(connection__user_id=member.user_id)
    return calendars.exclude(connection__status__in=Connection.RELEASED)


def team_busy_calendar_ids(members: Sequence[TeamPageMember]) -> list[str]:
    """The ids of every member's busy calendars (as ``member_calendars`` has them), in one query,
    for keys that change with their busy time."""
    every = [member.user_id for member in members if member.busy_in_all_calendars]
    chosen = TeamPageMember.busy_calendars.through.objects.filter(
        teampagemember_id__in=[m.id for m in members if not m.busy_in_all_calendars],
        teampagemember__user_id=F("calendar__connection__user_id"),
    ).values("calendar_id")
    calendars = Calendar.objects.filter(Q(connection__user_id__in=every) | Q(id__in=chosen))
    ids = calendars.exclude(connection__status__in=Connection.RELEASED).values_list("id", flat=True)
    return sorted(str(id_) for id_ in ids)


def team_slots(
    page: TeamPage,
    members: Sequence[TeamPageMember],
    *,
    now: datetime,
    window: Window,
    duration: int,
    fresh: bool = False,
    lead: timedelta = timedelta(0),
    busy: Mapping[UUID, list[Interval]] | None = None,
    leaving_out: Sequence[UUID] = (),
) -> TeamSlots:
    """The starts inside ``window`` the page offers for a ``duration``-minute meeting.

    ``fresh`` reads the calendars afresh (the check before a booking is stored); ``busy``, when
    given, is used instead of reading them (the same check again, under the members' locks, with
    the bookings stored by then). ``leaving_out``: bookings (ids) that do not count, those being
    moved. ``lead`` means what it means to ``booking.availability.page_slots``.
    """
    if not members:
        return TeamSlots()
    page_hours = page_availability(page)
    if busy is None:
        read = _read_busy(page, members, now=now, window=window, fresh=fresh)
        if read is None:
            return TeamSlots(unreadable=True)
        busy = _without_own_events(read, leaving_out)
    zone = page_hours.time_zone
    booked = _bookings(
        [member.user_id for member in members],
        Window(
            local_day_window(window.start.astimezone(zone).date(), zone).start - _MARGIN,
            local_day_window(window.end.astimezone(zone).date(), zone).end + _MARGIN,
        ),
        leaving_out,
    )
    team = [
        TeamMember(
            key=member.user_id,
            availability=member_availability(page, member, page_hours),
            busy=busy.get(member.user_id, []),
            bookings=[Interval(start, end) for start, end, _page in booked.get(member.user_id, [])],
            booked_starts=[
                start
                for start, _end, page_id in booked.get(member.user_id, [])
                if page_id == page.id
            ],
        )
        for member in members
    ]
    span = timedelta(minutes=duration)
    if page.is_collective:
        everyone = frozenset(member.user_id for member in members)
        starts = collective_slots(
            page_hours, team, duration=span, now=now, window=window, lead=lead
        )
        free = dict.fromkeys(starts, everyone)
    else:
        free = dict(
            round_robin_slots(page_hours, team, duration=span, now=now, window=window, lead=lead)
        )
    return TeamSlots(free=free, busy=dict(busy))


def _without_own_events(
    busy: dict[UUID, list[Interval]], leaving_out: Sequence[UUID]
) -> dict[UUID, list[Interval]]:
    """The busy time without the events of the bookings being moved (and the blocks copied from
    them): a meeting moved by a quarter of an hour does not collide with itself."""
    if not leaving_out:
        return busy
    own: set[str] = set()
    for booking in Booking.objects.filter(id__in=list(leaving_out)):
        own |= _own_event_ids(booking)
    return {key: [s for s in spans if s.event_id not in own] for key, spans in busy.items()}


def _read_busy(
    page: TeamPage,
    members: Sequence[TeamPageMember],
    *,
    now: datetime,
    window: Window,
    fresh: bool,
) -> dict[UUID, list[Interval]] | None:
    """Each member's busy time, the events the page's busy options count, all-day ones placed in
    the zone of the member's hours; None when a calendar is unreadable."""
    if fresh:
        span = Window(
            window.start - timedelta(minutes=page.buffer_before) - _MARGIN,
            window.end + timedelta(hours=24, minutes=page.buffer_after),
        )
    else:
        # Whole UTC days over the whole horizon: one cache entry per calendar serves every month.
        first = datetime.combine(now.date(), time(0), tzinfo=now.tzinfo) - _MARGIN
        span = Window(first, first + timedelta(days=page.horizon_days + 3))
    policy = busy_policy_of(page)
    busy: dict[UUID, list[Interval]] = {}
    for member in members:
        read = calendars_busy(
            list(member_calendars(member).select_related("connection")),
            span,
            policy,
            fresh=fresh,
        )
        if read.unreadable:
            return None
        # An all-day event covers whole days where the member meets, as ``TeamMember`` has it.
        zone = _member_zone(page, member)
        busy[member.user_id] = [_in_zone(spans, zone) for spans in read.spans]
    return busy


def _bookings(
    user_ids: Sequence[UUID], window: Window, leaving_out: Sequence[UUID]
) -> dict[UUID, list[tuple[datetime, datetime, UUID | None]]]:
    """The members' confirmed bookings touching ``window``: (start, end, team page id)."""
    rows = Booking.objects.filter(
        owner_id__in=user_ids,
        status=Booking.Status.CONFIRMED,
        start__lt=window.end,
        end__gt=window.start,
    ).exclude(id__in=list(leaving_out))
    found: dict[UUID, list[tuple[datetime, datetime, UUID | None]]] = {}
    for owner_id, start, end, page_id in rows.values_list(
        "owner_id", "start", "end", "team_page_id"
    ):
        found.setdefault(owner_id, []).append((start, end, page_id))
    return found


def _member_zone(page: TeamPage, member: TeamPageMember) -> ZoneInfo:
    """The zone of the member's hours: their own with hours of their own, else the page's."""
    return ZoneInfo((member.time_zone or page.time_zone) if member.weekly_hours else page.time_zone)


def _overrides(page: TeamPage) -> dict[date, list[tuple[int, int]]]:
    return {override.date: _spans(override.hours) for override in page.date_overrides.all()}


def _spans(hours: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    return [(int(start), int(end)) for start, end in hours]
