"""Team pages in the API: their shape, and their open times in the shape of a personal page's
(``api.schemas_booking``), computed as the public team page computes them (``booking.team_slots``
through ``booking.team_availability``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from django.http import HttpResponse
from ninja import Field, Schema

from api.routes.pages import DateOverrideIO, Origin, QuestionIO, WeeklyHours
from api.schemas import Out
from api.schemas_booking import SlotsQuery, slots_answer, unreadable
from booking.availability import bookings_version
from booking.models import BookingPage, TeamPage
from booking.public_views import OFFER_LEAD
from booking.team_availability import (
    team_busy_calendar_ids,
    team_members,
    team_pages_version,
    team_slots,
)
from calendars.busy import busy_versions
from integrations.base import Window

# A meeting length, as the console's form allows it.
Minutes = Annotated[int, Field(ge=5, le=24 * 60)]


class TeamPeriodOut(Out):
    start: str
    end: str


class TeamWeekOut(Out):
    """Open periods per weekday, in the page's zone; a day without periods is closed."""

    monday: list[TeamPeriodOut]
    tuesday: list[TeamPeriodOut]
    wednesday: list[TeamPeriodOut]
    thursday: list[TeamPeriodOut]
    friday: list[TeamPeriodOut]
    saturday: list[TeamPeriodOut]
    sunday: list[TeamPeriodOut]


class TeamMemberIn(Schema):
    user_id: UUID = Field(description="A member of the organization with a public booking page.")
    weight: int = Field(
        1, ge=1, le=100, description="Round-robin: a member of weight 2 gets twice the meetings."
    )
    priority: int = Field(0, ge=0, le=100, description="Round-robin ties go to the lowest.")


class TeamPagePatch(Schema):
    """A team page's settings. Left out on PATCH: kept as they are; left out on create: what a
    new page starts with in the console's form (round-robin, no location, 30 minutes, Monday to
    Friday 09:00 to 17:00 UTC, 4 hours' notice, 60 days ahead, a start every 30 minutes, taking
    bookings)."""

    kind: TeamPage.Kind | None = Field(
        None, description="`collective`: everyone meets the attendee; `round_robin`: one does."
    )
    title: str | None = Field(None, min_length=1, max_length=120)
    description: str | None = Field(None, max_length=2000)
    slug: str | None = Field(
        None, min_length=1, max_length=60, description="The last part of the page's address."
    )
    active: bool | None = Field(None, description="Taking bookings.")
    durations: list[Minutes] | None = Field(
        None, max_length=20, description="Minutes; the first is the default."
    )
    time_zone: str | None = None
    weekly_hours: WeeklyHours | None = Field(
        None, description="When given, the whole week: a day left out is closed."
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
    buffer_before: int | None = Field(
        None, ge=0, le=240, description="Minutes kept free before each member's meetings."
    )
    buffer_after: int | None = Field(
        None, ge=0, le=240, description="Minutes kept free after each member's meetings."
    )
    max_per_day: int | None = Field(
        None, ge=1, le=100, description="At most this many of these meetings per member and day."
    )
    location: BookingPage.Location | None = None
    location_detail: str | None = Field(
        None, max_length=500, description="The phone number, address or link."
    )
    date_overrides: list[DateOverrideIO] | None = Field(
        None, max_length=200, description="When given, every date with other hours."
    )
    questions: list[QuestionIO] | None = Field(
        None, max_length=20, description="Asked of attendees, in order."
    )
    tentative_is_busy: bool | None = Field(None, description="Tentative events make members busy.")
    free_is_busy: bool | None = Field(None, description="Events marked free make members busy too.")
    all_day_events: BookingPage.AllDayEvents | None = None
    embed_on: BookingPage.EmbedOn | None = Field(
        None, description="Which websites may show the page in a frame of theirs."
    )
    embed_origins: list[Origin] | None = Field(
        None,
        description="The websites, as https://example.com or https://*.example.com for its "
        "subdomains. Kept whatever `embed_on` says.",
    )
    members: list[TeamMemberIn] | None = Field(
        None,
        max_length=500,
        description="When given, everyone on the page; each keeps the calendars they chose for it.",
    )


class TeamPageIn(TeamPagePatch):
    title: str = Field(min_length=1, max_length=120)
    slug: str = Field(
        min_length=1, max_length=60, description="The last part of the page's address."
    )
    organization_id: UUID = Field(description="An organization you own or administer.")
    members: list[TeamMemberIn] = Field(max_length=500, description="Everyone on the page.")


class TeamMembersIn(Schema):
    members: list[TeamMemberIn] = Field(max_length=500, description="Everyone on the page.")


class TeamMemberOut(Out):
    user_id: UUID
    display_name: str = Field(description="The name on the member's public booking page.")
    weight: int
    priority: int


class TeamPageOut(Out):
    id: UUID
    organization_id: UUID
    kind: TeamPage.Kind
    title: str
    description: str
    slug: str
    public_url: str | None = Field(description="Null until the organization has a handle.")
    active: bool
    durations: list[int]
    time_zone: str
    weekly_hours: TeamWeekOut
    minimum_notice: int
    horizon_days: int
    increment: int
    buffer_before: int
    buffer_after: int
    max_per_day: int | None
    location: BookingPage.Location
    location_detail: str
    date_overrides: list[DateOverrideIO]
    questions: list[QuestionIO]
    tentative_is_busy: bool
    free_is_busy: bool
    all_day_events: BookingPage.AllDayEvents
    embed_on: BookingPage.EmbedOn
    embed_origins: list[str]
    members: list[TeamMemberOut] = Field(
        description="In priority order; only people still in the organization. Their "
        "calendars are theirs alone and not shown."
    )
    created_at: datetime
    updated_at: datetime


class TeamPageList(Out):
    items: list[TeamPageOut]
    next_cursor: str | None


class TeamMemberSettingsPatch(Schema):
    """Your own side of a team page you are on, which only you see and set. Left out: kept as it
    is."""

    busy_in_all_calendars: bool | None = Field(
        None, description="Events in all your calendars make you busy; false: `busy_calendars`."
    )
    busy_calendars: list[UUID] | None = Field(
        None,
        max_length=500,
        description="Your calendars that make you busy on this page; empty: all of them.",
    )
    write_calendar: UUID | None = Field(
        None, description="A writable calendar of yours that the page's meetings are added to."
    )
    time_zone: str | None = Field(
        None, description="The zone of `weekly_hours`; new hours start in the page's zone."
    )
    weekly_hours: WeeklyHours | None = Field(
        None,
        description="When given, your whole week for this page: times are offered to you only "
        "inside both these and the page's hours. Every day closed: the page's hours.",
    )


class TeamMemberSettingsOut(Out):
    busy_in_all_calendars: bool
    busy_calendars: list[UUID] = Field(description="Empty while all your calendars count.")
    write_calendar: UUID | None
    time_zone: str | None = Field(description="Null while you meet in the page's hours.")
    weekly_hours: TeamWeekOut = Field(
        description="Your own hours, in `time_zone`; every day closed: the page's hours."
    )


def open_team_slots(page: TeamPage, query: SlotsQuery) -> HttpResponse:
    """The times ``page`` offers on the days asked for, as its public page offers them: on a
    collective page when every member is free, on a round-robin page when one is; a member's
    calendar that cannot be read offers nothing (a 503), as on the public page.

    Kept a minute in the shared cache under a key that changes with the page, its members (and
    their calendars' choice), their calendars' busy time and their bookings."""
    members = team_members(page)

    def version() -> list[str]:
        calendar_ids = team_busy_calendar_ids(members)
        versions = busy_versions(calendar_ids)
        return [
            "team",
            str(page.id),
            page.updated_at.isoformat(),
            team_pages_version(page.organization_id),
            *(f"{m.user_id}={bookings_version(m.user_id)}" for m in members),
            *(f"{i}={versions[i]}" for i in calendar_ids),
        ]

    def starts(now: datetime, window: Window, duration: int) -> list[datetime]:
        found = team_slots(
            page, members, now=now, window=window, duration=duration, lead=OFFER_LEAD
        )
        if found.unreadable:
            raise unreadable()
        return found.starts

    return slots_answer(
        query,
        time_zone=page.time_zone,
        durations=[int(minutes) for minutes in page.durations],
        horizon_days=page.horizon_days,
        version=version,
        starts=starts,
    )
