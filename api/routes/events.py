"""Events of the user's calendars, read live from the providers for a range; nothing is stored.

The same read as the portfolio's feed (``portfolio.fetch.events_for``): blocks sync wrote are
left out, an event found in several calendars is one item, and calendars that could not be read
are listed with why. It counts against the same per-account budget as the portfolio's feed,
since each request reads every calendar at its provider.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema

from api import limits
from api.auth import KeyAuth, key_of
from api.problems import FieldProblem, invalid
from api.schemas import Out
from api.scopes import Scope
from multical.lib import rate_limits
from portfolio.fetch import events_for
from portfolio.forms import RangeError, parse_range

router = Router(tags=["Events"])


class EventsQuery(Schema):
    start: str = Field(description="RFC 3339 instant with an offset, e.g. 2027-01-04T00:00:00Z.")
    end: str = Field(description="RFC 3339 instant after `start`; at most 42 days later.")
    calendar: list[UUID] | None = Field(
        None, description="Only these calendars (repeat the parameter); all shown ones if left out."
    )


class EventOut(Out):
    id: str
    title: str
    start: datetime
    end: datetime
    all_day: bool = Field(
        description="For all-day events `start` and `end` are midnight UTC of the first day and "
        "of the day after the last."
    )
    calendar_ids: list[UUID]
    location: str
    video_link: str
    booking: bool = Field(description="Made through one of your booking pages.")
    declined: bool
    tentative: bool
    free: bool
    recurring: bool


class FailureOut(Out):
    calendar_id: UUID
    reason: str
    needs_reconnect: bool


class EventsOut(Out):
    items: list[EventOut]
    failures: list[FailureOut]


_fetch_rate = rate_limits.setting_rate("PORTFOLIO_FETCH_RATE")


@router.get(
    "",
    response=EventsOut,
    auth=KeyAuth(Scope.EVENTS_READ),
    summary="Events of your calendars in a range, read live",
    description="Read from the providers at each request and never stored; sync's blocks are "
    "left out. Counts against the portfolio's per-account budget (`PORTFOLIO_FETCH_RATE`).",
)
def list_events(
    request: HttpRequest, response: HttpResponse, query: Query[EventsQuery]
) -> EventsOut:
    user = key_of(request).user
    try:
        window = parse_range(query.start, query.end)
    except RangeError as error:
        raise invalid([FieldProblem(field="start", message=str(error))]) from error
    limits.count(
        request,
        group="portfolio-fetch",
        rate=_fetch_rate,
        key=lambda group, request: f"account:{user.pk}",
        refusal=f"Reading calendars is limited to {settings.PORTFOLIO_FETCH_RATE} per account",
    )
    result = events_for(user, window, calendar_ids=query.calendar)
    response["Cache-Control"] = "no-store"
    return EventsOut(
        items=[
            EventOut(
                id=event.id,
                title=event.title,
                start=event.start,
                end=event.end,
                all_day=event.all_day,
                calendar_ids=[calendar.id for calendar in event.calendars],
                location=event.location,
                video_link=event.video_link,
                booking=event.booking,
                declined=event.declined,
                tentative=event.tentative,
                free=event.free,
                recurring=event.recurring,
            )
            for event in result.events
            if not event.block
        ],
        failures=[
            FailureOut(
                calendar_id=failure.calendar.id,
                reason=failure.reason,
                needs_reconnect=failure.needs_reconnect,
            )
            for failure in result.failures
        ],
    )
