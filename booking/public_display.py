"""The attendee's side, shown: what an attendee's browser asked for (zone, clock, length, day,
month, language), and times written the way the attendee reads them, in their language. The pages
and bookings themselves are read by ``booking.selectors.public``."""

from __future__ import annotations

import calendar
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, get_day_names
from django.conf import settings
from django.http import HttpRequest, QueryDict
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import (
    get_language_from_request,
    get_supported_language_variant,
    ngettext,
    override,
)
from django.utils.translation import gettext as _

from booking.embed import EMBED_PARAM
from booking.models import BookingPage
from multical.lib.clock import TWENTY_FOUR, locale_clock, time_label

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


# The query parameter the language switcher's links carry; the choice is then kept in a cookie.
LANGUAGE_PARAM = "lang"
# CLDR's locale for each language where it is not the code itself. English is the house style's
# ("Tuesday 6 May", set below), Portuguese is Portugal's, as Django's "pt" catalogue is.
_CLDR_LOCALE = {"en": "en_GB", "pt": "pt_PT"}
_HOUSE_PATTERNS = {"en": ("EEEE d MMMM", "EEEE d MMMM y", "MMMM y")}


def supported_language(code: str | None) -> str | None:
    """``code`` when it names one of the languages attendees can have (settings.LANGUAGES)."""
    return code if code and code in dict(settings.LANGUAGES) else None


@dataclass(frozen=True, slots=True)
class LanguageChoice:
    """The language an attendee's page is in, and whether they chose it on the switcher (kept in
    a cookie), rather than their browser's Accept-Language picking it."""

    code: str
    chosen: bool


def language_asked(request: HttpRequest) -> LanguageChoice:
    """The switcher's ``lang`` parameter, else its cookie, else Accept-Language, else English.
    A page's fixed language and a booking's stored one are weighed by the views."""
    for asked in (
        request.GET.get(LANGUAGE_PARAM),
        request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME),
    ):
        if supported_language(asked):
            return LanguageChoice(str(asked), chosen=True)
    return LanguageChoice(get_language_from_request(request), chosen=False)


def default_clock(request: HttpRequest, language: str) -> int:
    """The clock the attendee's locale writes times on, for when they have not picked one: their
    browser's first Accept-Language tag when it is in ``language`` ("en-US" reads am/pm, "en-GB"
    and "de" 24-hour), else ``language``'s own; English without a region keeps the 24-hour
    clock the pages always had."""
    first = request.META.get("HTTP_ACCEPT_LANGUAGE", "").split(",")[0].split(";")[0].strip()
    try:
        same = get_supported_language_variant(first) == language
    except LookupError:
        same = False
    tag = first if same else language
    if "-" not in tag and tag == "en":
        return TWENTY_FOUR
    return locale_clock(tag)


@cache
def _patterns(language: str) -> tuple[str, str, str, Locale]:
    """How ``language`` writes a day ("Tuesday 6 May"), a date ("Tuesday 6 May 2030") and a month
    ("May 2030"): CLDR's patterns, the weekday always written out; English in the house style."""
    locale = Locale.parse(_CLDR_LOCALE.get(language, language))
    if language in _HOUSE_PATTERNS:
        return (*_HOUSE_PATTERNS[language], locale)
    day = locale.datetime_skeletons["MMMMEd"].pattern.replace("E", "EEEE", 1)
    return (
        day,
        locale.date_formats["full"].pattern,
        locale.datetime_skeletons["yMMMM"].pattern,
        locale,
    )


def day_words(day: date, language: str = "en") -> str:
    """``day`` without its year, its weekday written out: "Tuesday 6 May", "Dienstag, 6. Mai"."""
    pattern, _full, _month, locale = _patterns(language)
    return format_date(day, pattern, locale=locale)


def date_words(day: date, language: str = "en") -> str:
    """``day`` in full: "Tuesday 6 May 2030", "2030年5月6日火曜日"."""
    _day, pattern, _month, locale = _patterns(language)
    return format_date(day, pattern, locale=locale)


def month_words(month: date, language: str = "en") -> str:
    """``month``'s name and year, as a heading: "May 2030", "Mai 2030", "2030年5月"."""
    _day, _full, pattern, locale = _patterns(language)
    return _heading(format_date(month, pattern, locale=locale))


def heading_day(day: date, language: str = "en") -> str:
    """``day_words`` as a heading starts: "Mardi 6 mai" where French writes "mardi 6 mai"."""
    return _heading(day_words(day, language))


def _heading(words: str) -> str:
    return words[:1].upper() + words[1:]


@cache
def weekday_names(language: str = "en") -> tuple[tuple[str, str], ...]:
    """Monday to Sunday, each as (its narrow form for a column head, its full name)."""
    locale = Locale.parse(_CLDR_LOCALE.get(language, language))
    narrow = get_day_names("narrow", context="stand-alone", locale=locale)
    wide = get_day_names("wide", context="stand-alone", locale=locale)
    return tuple((narrow[day], wide[day]) for day in range(7))


@dataclass(frozen=True, slots=True)
class Viewer:
    """What the attendee's browser asked for: their zone, clock, the meeting length, the
    language the page is in, and whether it is shown in another site's frame (``booking.embed``),
    which the flow's links and forms carry on."""

    zone: ZoneInfo
    clock: int  # 12 or 24
    duration: int
    language: str = "en"
    embed: bool = False

    def query(self, **extra: str) -> str:
        params = QueryDict(mutable=True)
        params.update(
            {"tz": self.zone.key, "clock": str(self.clock), "duration": str(self.duration)}
        )
        if self.embed:
            params[EMBED_PARAM] = "1"
        params.update(extra)
        return params.urlencode()

    def time_label(self, moment: datetime) -> str:
        return time_label(moment, self.zone, self.clock, language=self.language)

    def when(self, start: datetime, end: datetime | None = None) -> str:
        return format_when(start, end, self.zone.key, self.clock, self.language)

    def day_label(self, moment: datetime) -> str:
        """``moment``'s day where the viewer is: "Wednesday 3 June"."""
        return day_words(moment.astimezone(self.zone).date(), self.language)


def viewer_from(
    params: QueryDict,
    page: BookingPage,
    *,
    zone: str | None = None,
    clock: int | None = None,
    language: str = "en",
    embed: bool = False,
) -> Viewer:
    """What ``params`` ask for; what they do not say comes from ``zone`` and ``clock`` when given
    (what an attendee booked with, or their locale's clock), else from the page. Unknown zones
    and lengths fall back the same way: a bad link still shows the page (the form refuses a
    length on its own, see ``length_refusal``). A page that offers no length at all (see
    ``offers_a_length``) reads as length 0. ``language``: the page's, already settled; ``embed``:
    whether the page is shown in another site's frame."""
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
    return Viewer(
        zone=ZoneInfo(zone_name),
        clock=int(asked_clock),
        duration=duration,
        language=language,
        embed=embed,
    )


def offers_a_length(page: BookingPage) -> bool:
    """Whether the page offers any meeting length: the page form always saves one, but a page
    stored otherwise (the admin, an import) may have none, and then nothing can be booked."""
    return bool(page.durations)


def length_refusal(params: QueryDict, page: BookingPage, *, required: bool) -> str | None:
    """Why the meeting length in ``params`` cannot be booked, in words; None when the page offers
    it, or when none is given and ``required`` is false (the page's first length then)."""
    asked = params.get("duration")
    if asked is None:
        return _("Choose a meeting length.") if required else None
    try:
        minutes = int(asked)
    except ValueError:
        minutes = 0
    if minutes in page.durations:
        return None
    if 0 < minutes <= 24 * 60:
        return _(
            "%(minutes)s-minute meetings are not offered (any more). Choose a meeting length."
        ) % {"minutes": minutes}
    return _("That length is not offered (any more). Choose a meeting length.")


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


def format_when(
    start: datetime,
    end: datetime | None,
    zone_name: str,
    clock: int = 24,
    language: str = "en",
) -> str:
    """A meeting's time for a reader in ``zone_name`` on their ``clock``, in their ``language``,
    named: "Tuesday 6 May 2030, 09:30-10:00 (Europe/Paris)"; with no ``end``, its start alone.
    An unknown zone reads as UTC."""
    try:
        zone = ZoneInfo(zone_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone, zone_name = ZoneInfo("UTC"), "UTC"
    local = start.astimezone(zone)
    span = time_label(start, zone, clock, language=language)
    if end is not None:
        last = end.astimezone(zone)
        end_time = time_label(end, zone, clock, language=language)
        if last.date() == local.date():
            span += f"\u2013{end_time}"
        else:
            span += f" \u2013 {day_words(last.date(), language)} {end_time}"
    with override(language):
        # Translators: a meeting's date, its times and the time zone they are in.
        words = _("%(date)s, %(time)s (%(zone)s)")
    return words % {
        "date": date_words(local.date(), language),
        "time": span,
        "zone": zone_name.replace("_", " "),
    }


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
    # What a screen reader says for it: "Monday 14 December, 5 times available".
    label: str
    href: str  # "" when the day has no open time
    count: int = 0


def month_weeks(
    first: date, *, open_days: Mapping[date, int], query: str, language: str = "en"
) -> list[list[DayCell | None]]:
    """The month's weeks, Monday first, with a link on each day that has open times
    (``open_days``: how many); days of other months are None. Built here rather than in the
    template: it is most of the page."""
    return [
        [
            _day_cell(day, open_days.get(day, 0), query=query, language=language)
            if day.month == first.month
            else None
            for day in week
        ]
        for week in calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    ]


def _day_cell(day: date, count: int, *, query: str, language: str) -> DayCell:
    words = day_words(day, language)
    if not count:
        return DayCell(day=day, label=_("%(day)s, no times available") % {"day": words}, href="")
    label = ngettext(
        "%(day)s, %(count)s time available", "%(day)s, %(count)s times available", count
    ) % {"day": words, "count": count}
    href = f"?{query}&month={day:%Y-%m}&day={day.isoformat()}"
    return DayCell(day=day, label=label, href=href, count=count)
