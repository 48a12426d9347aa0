"""Reads for the public side: pages by their address, what an attendee's browser asked for.

Nothing here tells one page or booking from another that does not exist: whatever is not found,
not active, or not listed under the address given is a plain 404.
"""

from __future__ import annotations

import calendar
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.http import Http404, QueryDict
from django.shortcuts import get_object_or_404
from django.utils.crypto import constant_time_compare
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from booking.models import Booking, BookingPage, Profile
from booking.tokens import token_matches

# An unlisted page's address is "<slug>--<secret>".
UNLISTED_JOIN = "--"
START_FORMAT = "%Y%m%dT%H%M%SZ"


@cache
def zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@cache
def _sorted_zone_names() -> tuple[str, ...]:
    return tuple(sorted(zone_names()))


@lru_cache(maxsize=64)
def zone_options(selected: str) -> SafeString:
    """The time-zone picker's ~600 options, built in Python: as a template loop they were most of
    the page's rendering time. Zone names are plain ASCII, escaped all the same."""
    return mark_safe(  # noqa: S308 - every value is escaped right here
        "".join(
            f'<option value="{escape(name)}"{" selected" if name == selected else ""}>'
            f"{escape(name)}</option>"
            for name in _sorted_zone_names()
        )
    )


def get_profile(handle: str) -> Profile:
    return get_object_or_404(Profile.objects.select_related("user"), handle=handle)


def listed_pages(profile: Profile) -> list[BookingPage]:
    return list(BookingPage.objects.filter(owner_id=profile.user_id, listed=True, active=True))


def get_public_page(handle: str, slug: str) -> BookingPage:
    """The active page at ``/book/<handle>/<slug>/``: a listed page by its slug, an unlisted one
    only by its slug and secret together."""
    # Slugs cannot hold "--" (the page form refuses it), so the first one starts the secret.
    base, _, secret = slug.partition(UNLISTED_JOIN)
    candidates = (
        BookingPage.objects.filter(owner__booking_profile__handle=handle, active=True)
        .filter(Q(slug=slug, listed=True) | Q(slug=base, listed=False))
        .select_related("owner", "owner__booking_profile", "write_calendar")
    )
    # One query for both readings of the address; a listed page wins.
    found = sorted(candidates, key=lambda page: not page.listed)
    if found and found[0].listed:
        return found[0]
    unlisted = found[0] if found else None
    if unlisted is None or not secret or not constant_time_compare(unlisted.secret, secret):
        raise Http404
    return unlisted


def get_booking_by_token(booking_id: object, token: str) -> Booking:
    booking = Booking.objects.select_related("page", "owner", "owner__booking_profile").filter(
        id=booking_id
    )
    found = booking.first()
    if found is None or not token_matches(found, token):
        raise Http404
    return found


@dataclass(frozen=True, slots=True)
class Viewer:
    """What the attendee's browser asked for: their zone, clock, and the meeting length."""

    zone: ZoneInfo
    clock: int  # 12 or 24
    duration: int

    def query(self, **extra: str) -> str:
        params = QueryDict(mutable=True)
        params.update(
            {"tz": self.zone.key, "clock": str(self.clock), "duration": str(self.duration)}
        )
        params.update(extra)
        return params.urlencode()

    def time_label(self, moment: datetime) -> str:
        local = moment.astimezone(self.zone)
        if self.clock == 12:
            return f"{local.hour % 12 or 12}:{local:%M} {'am' if local.hour < 12 else 'pm'}"
        return f"{local:%H:%M}"


def viewer_from(params: QueryDict, page: BookingPage) -> Viewer:
    """Unknown zones and lengths fall back to the page's own: a bad link still shows the page."""
    zone_name = params.get("tz", "")
    zone = ZoneInfo(zone_name if zone_name in zone_names() else page.time_zone)
    clock = 12 if params.get("clock") == "12" else 24
    try:
        duration = int(params.get("duration", ""))
    except ValueError:
        duration = page.durations[0]
    if duration not in page.durations:
        duration = page.durations[0]
    return Viewer(zone=zone, clock=clock, duration=duration)


def parse_start(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, START_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def format_start(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(START_FORMAT)


def parse_month(value: str, default: date) -> date:
    try:
        year, month = (int(part) for part in value.split("-"))
        return date(year, month, 1)
    except ValueError:
        return default.replace(day=1)


def parse_day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class DayCell:
    day: date
    label: str  # "Tuesday 3 December"
    href: str  # "" when the day has no open time


def month_weeks(first: date, *, open_days: set[date], query: str) -> list[list[DayCell | None]]:
    """The month's weeks, Monday first, with a link on each open day; days of other months are
    None. Built here rather than in the template: it is most of the page."""
    return [
        [
            DayCell(
                day=day,
                label=f"{day:%A} {day.day} {day:%B}",
                href=f"?{query}&month={day:%Y-%m}&day={day.isoformat()}"
                if day in open_days
                else "",
            )
            if day.month == first.month
            else None
            for day in week
        ]
        for week in calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    ]
