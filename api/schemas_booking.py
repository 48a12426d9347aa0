"""The open times of a booking page, for the owner (``/pages/{id}/slots``) and for anyone
(``/public/{handle}/{slug}/slots``): the same computation as the public page's picker. Team pages
answer in the same shape (``api.schemas_team``)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.http import HttpResponse
from django.utils import timezone
from ninja import Field, Schema
from pydantic import AwareDatetime, BeforeValidator

from api.problems import ApiProblem, FieldProblem, invalid
from api.schemas import Out
from booking.availability import bookings_version, busy_calendar_ids, page_slots
from booking.models import BookingPage
from booking.public_display import zone_names
from booking.public_views import OFFER_LEAD
from booking.slots import local_day_window
from calendars.busy import busy_versions
from integrations.base import Window

# The longest range one request may ask for: two months, whatever their lengths.
MAX_SLOT_DAYS = 62
# The days asked for when none are named: a week from today.
DEFAULT_SLOT_DAYS = 7
# How long computed open times are kept, as the public page keeps its rendered ones.
SLOTS_SECONDS = 60
# How soon to ask again when a calendar that decides the open times could not be read.
UNREADABLE_RETRY_SECONDS = 30


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER = re.compile(r"\s*[+-]?\d+(\.\d*)?\s*")


def _day_text(value: object) -> object:
    """Only "YYYY-MM-DD" is a day here (pydantic would also read a number as one)."""
    if isinstance(value, date) or (isinstance(value, str) and _DAY.fullmatch(value)):
        return value
    raise ValueError("Give a date as YYYY-MM-DD.")


def _instant_text(value: object) -> object:
    """Only RFC 3339 text is a time here (pydantic would also read a number as seconds)."""
    if isinstance(value, datetime) or (isinstance(value, str) and not _NUMBER.fullmatch(value)):
        return value
    raise ValueError("Give a time in RFC 3339, with its offset: 2030-05-06T09:30:00+02:00.")


# A calendar day, and an instant with its offset, as text in the formats the document names.
Day = Annotated[date, BeforeValidator(_day_text)]
Instant = Annotated[AwareDatetime, BeforeValidator(_instant_text)]


class SlotsQuery(Schema):
    start: Day | None = Field(None, description="The first day, in `time_zone`; today if left out.")
    end: Day | None = Field(
        None,
        description=f"The last day, included; at most {MAX_SLOT_DAYS} days in all. Left out: "
        f"{DEFAULT_SLOT_DAYS} days from the first.",
    )
    time_zone: str | None = Field(
        None, description="An IANA zone such as `Europe/Berlin`; the page's own when left out."
    )
    duration: int | None = Field(
        None, description="A meeting length the page offers, in minutes; its first when left out."
    )


class SlotOut(Out):
    start: datetime
    end: datetime


class SlotsOut(Out):
    start: date
    end: date
    time_zone: str
    duration: int = Field(description="Minutes.")
    durations: list[int] = Field(description="Every meeting length the page offers, in minutes.")
    slots: list[SlotOut] = Field(
        description="Start and end of each open time, RFC 3339 in `time_zone`, soonest first."
    )


def open_slots(page: BookingPage, query: SlotsQuery) -> HttpResponse:
    """The times ``page`` offers on the days asked for, as its public page offers them (a
    ``SlotsOut``): busy time from its calendars and stored bookings taken out, and only times
    still bookable a few minutes from now (``OFFER_LEAD``). A calendar that cannot be read offers
    nothing: a 503.

    The answer is kept for a minute in the shared cache, written, under a key that changes with
    the page, its calendars' busy time and the owner's bookings, as the public page keeps its
    rendered times (``booking.public_views``): a client asking again and again costs one cache
    read. A booking re-checks everything live anyway."""

    def version() -> list[str]:
        calendar_ids = busy_calendar_ids(page)
        versions = busy_versions(calendar_ids)
        return [
            str(page.id),
            page.updated_at.isoformat(),
            bookings_version(page.owner_id),
            *(f"{i}={versions[i]}" for i in sorted(calendar_ids)),
        ]

    def starts(now: datetime, window: Window, duration: int) -> list[datetime]:
        found = page_slots(page, now=now, lead=OFFER_LEAD, window=window, duration=duration)
        if found.unreadable:
            raise unreadable()
        return list(found.slots)

    return slots_answer(
        query,
        time_zone=page.time_zone,
        durations=list(page.durations),
        horizon_days=page.horizon_days,
        version=version,
        starts=starts,
    )


def slots_answer(
    query: SlotsQuery,
    *,
    time_zone: str,
    durations: list[int],
    horizon_days: int,
    version: Callable[[], list[str]],
    starts: Callable[[datetime, Window, int], list[datetime]],
) -> HttpResponse:
    """The open times of a page of any kind (a ``SlotsOut``) for the days ``query`` asks for:
    its fields checked, then the answer read from the shared cache or computed by ``starts`` (the
    starts in the window, for a meeting of so many minutes) and kept a minute under a key made of
    ``version`` (what the page's times depend on) and the question."""
    zone_name = query.time_zone or time_zone
    if zone_name not in zone_names():
        raise invalid([FieldProblem(field="time_zone", message="Not a known IANA time zone.")])
    duration = query.duration if query.duration is not None else _first_length(durations)
    if duration not in durations:
        offered = ", ".join(str(minutes) for minutes in durations) or "none"
        raise invalid(
            [FieldProblem(field="duration", message=f"Lengths this page offers: {offered}.")]
        )
    zone = ZoneInfo(zone_name)
    now = timezone.now()
    today = now.astimezone(zone).date()
    start = query.start or today
    try:
        end = query.end or start + timedelta(days=DEFAULT_SLOT_DAYS - 1)
    except OverflowError:
        end = date.max
    if end < start:
        raise invalid([FieldProblem(field="end", message="The last day is before the first.")])
    if (end - start).days + 1 > MAX_SLOT_DAYS:
        raise invalid(
            [FieldProblem(field="end", message=f"Ask for at most {MAX_SLOT_DAYS} days at a time.")]
        )
    parts = [
        *version(),
        str(int(now.timestamp() // SLOTS_SECONDS)),
        zone_name,
        start.isoformat(),
        end.isoformat(),
        str(duration),
    ]
    key = "api:slots:" + hashlib.sha256("|".join(parts).encode()).hexdigest()
    answer = cache.get(key)
    if answer is None:
        # Days before yesterday or past the horizon offer nothing; they are not computed (and
        # dates far from now are never turned into instants).
        first = max(start, today - timedelta(days=1))
        last = min(end, today + timedelta(days=horizon_days + 1))
        found: list[datetime] = []
        if first <= last:
            window = Window(local_day_window(first, zone).start, local_day_window(last, zone).end)
            found = starts(now, window, duration)
        length = timedelta(minutes=duration)
        answer = SlotsOut(
            start=start,
            end=end,
            time_zone=zone_name,
            duration=duration,
            durations=durations,
            slots=[
                SlotOut(start=moment.astimezone(zone), end=(moment + length).astimezone(zone))
                for moment in found
            ],
        ).model_dump_json()
        cache.set(key, answer, SLOTS_SECONDS)
    return HttpResponse(answer, content_type="application/json; charset=utf-8")


def unreadable() -> ApiProblem:
    """A calendar that decides the open times could not be read: a 503, to be asked again."""
    return ApiProblem(
        503,
        "calendar_unreadable",
        "Service unavailable",
        "A calendar that decides the open times could not be read just now.",
        headers={"Retry-After": str(UNREADABLE_RETRY_SECONDS)},
    )


def _first_length(durations: list[int]) -> int:
    return int(durations[0]) if durations else 0
