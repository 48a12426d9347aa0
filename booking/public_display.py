"""The attendee's side, shown: what an attendee's browser asked for (zone, clock, length, day,
month), and times written the way the attendee reads them. The pages and bookings themselves are
read by ``booking.selectors.public``."""

from __future__ import annotations

import calendar
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from django.http import QueryDict
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from booking.models import BookingPage
from multical.lib.clock import time_label

START_FORMAT = "%Y%m%dT%H%M%SZ"
# Starts are read only this far inside what a datetime holds, so that converting one to any zone
# or adding a few days to it cannot overflow; no page offers anything near either end.
_START_RANGE = (
    datetime.min.replace(tzinfo=UTC) + timedelta(days=366),
    datetime.max.replace(tzinfo=UTC) - timedelta(days=366),
)


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
        return time_label(moment, self.zone, self.clock)

    def when(self, start: datetime, end: datetime | None = None) -> str:
        return format_when(start, end, self.zone.key, self.clock)

    def day_label(self, moment: datetime) -> str:
        """``moment``'s day where the viewer is: "Wednesday 3 June"."""
        local = moment.astimezone(self.zone)
        return f"{local:%A} {local.day} {local:%B}"


def viewer_from(
    params: QueryDict, page: BookingPage, *, zone: str | None = None, clock: int | None = None
) -> Viewer:
    """What ``params`` ask for; what they do not say comes from ``zone`` and ``clock`` when given
    (what an attendee booked with), else from the page. Unknown zones and lengths fall back the
    same way: a bad link still shows the page (the form refuses a length on its own, see
    ``length_refusal``). A page that offers no length at all (see ``offers_a_length``) reads as
    length 0."""
    first = page.durations[0] if offers_a_length(page) else 0
    zone_name = params.get("tz", "")
    if zone_name not in zone_names():
        zone_name = zone if zone in zone_names() else page.time_zone
    asked_clock = params.get("clock")
    if asked_clock not in ("12", "24"):
        asked_clock = str(clock or 24)
    try:
        duration = int(params.get("duration", ""))
    except ValueError:
        duration = first
    if duration not in page.durations:
        duration = first
    return Viewer(zone=ZoneInfo(zone_name), clock=int(asked_clock), duration=duration)


def offers_a_length(page: BookingPage) -> bool:
    """Whether the page offers any meeting length: the page form always saves one, but a page
    stored otherwise (the admin, an import) may have none, and then nothing can be booked."""
    return bool(page.durations)


def length_refusal(params: QueryDict, page: BookingPage, *, required: bool) -> str | None:
    """Why the meeting length in ``params`` cannot be booked, in words; None when the page offers
    it, or when none is given and ``required`` is false (the page's first length then)."""
    asked = params.get("duration")
    if asked is None:
        return "Choose a meeting length." if required else None
    try:
        minutes = int(asked)
    except ValueError:
        minutes = 0
    if minutes in page.durations:
        return None
    what = f"{minutes}-minute meetings are" if 0 < minutes <= 24 * 60 else "That length is"
    return f"{what} not offered (any more). Choose a meeting length."


def parse_start(value: str) -> datetime | None:
    """The instant in a ``start`` parameter, or None when it is not one (or lies so far out that
    arithmetic on it could overflow)."""
    try:
        start = datetime.strptime(value, START_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None
    earliest, latest = _START_RANGE
    return start if earliest <= start <= latest else None


def format_start(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(START_FORMAT)


def format_when(start: datetime, end: datetime | None, zone_name: str, clock: int = 24) -> str:
    """A meeting's time for a reader in ``zone_name`` on their ``clock``, named: "Tuesday 6 May
    2030, 09:30-10:00 (Europe/Paris)"; with no ``end``, its start alone. An unknown zone reads as
    UTC."""
    try:
        zone = ZoneInfo(zone_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone, zone_name = ZoneInfo("UTC"), "UTC"
    local = start.astimezone(zone)
    span = time_label(start, zone, clock)
    if end is not None:
        last = end.astimezone(zone)
        if last.date() == local.date():
            span += f"\u2013{time_label(end, zone, clock)}"
        else:
            span += f" \u2013 {last:%A} {last.day} {last:%B} {time_label(end, zone, clock)}"
    return f"{local:%A} {local.day} {local:%B %Y}, {span} ({zone_name.replace('_', ' ')})"


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
