"""The reader's clock: times of day written the way they read them, "14:30" or "2:30 pm".

The signed-in user's clock is active for the length of their request (``override``, as Django's
``timezone.override`` does for their zone: ``accounts.middleware.ReaderMiddleware``), so pages
and their template filters (``{% load clock %}``) need not pass it along; code that writes for
someone else (an attendee's page, an e-mail) passes the reader's clock to ``time_label``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, tzinfo
from functools import cache, lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime

TWENTY_FOUR = 24
TWELVE = 12

_active: ContextVar[int] = ContextVar("multical_clock", default=TWENTY_FOUR)


def current() -> int:
    """The clock of whoever is being written for now (24 unless one is active)."""
    return _active.get()


@contextmanager
def override(clock: int) -> Iterator[None]:
    token = _active.set(TWELVE if clock == TWELVE else TWENTY_FOUR)
    try:
        yield
    finally:
        _active.reset(token)


def time_label(
    moment: datetime, zone: tzinfo, clock: int | None = None, *, language: str = "en"
) -> str:
    """``moment`` on the reader's clock: "9:30 am" (``clock`` 12) or "09:30" (24; the active
    clock when none is given). Where the zone's clock shows that time twice (the repeated hour
    when it falls back), its offset tells the two apart: "01:30 (UTC-4)", then "01:30 (UTC-5)".
    In another ``language`` (a code of settings.LANGUAGES) the time is written as its locale
    writes it on that clock: "14:30" or "午後2:30"."""
    local = moment.astimezone(zone)
    twelve = (clock or current()) == TWELVE
    if language != "en":
        pattern, locale = _locale_time_pattern(language, twelve)
        label = format_datetime(local.replace(tzinfo=None), pattern, locale=locale)
    elif twelve:
        label = f"{local.hour % 12 or 12}:{local:%M} {'am' if local.hour < 12 else 'pm'}"
    else:
        label = f"{local:%H:%M}"
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        label += f" ({offset_label(local)})"
    return label


@lru_cache(maxsize=256)  # browsers send few distinct tags; bounded all the same
def locale_clock(locale: str) -> int:
    """The clock ``locale`` (a CLDR or browser tag: "en-US", "de", "ja") writes times on: 12 or
    24; 24 for a tag Babel does not know."""
    try:
        pattern = Locale.parse(locale.replace("-", "_")).time_formats["short"].pattern
    except (UnknownLocaleError, ValueError, LookupError, TypeError):
        return TWENTY_FOUR
    return TWELVE if "h" in pattern or "K" in pattern else TWENTY_FOUR


@cache
def _locale_time_pattern(language: str, twelve: bool) -> tuple[str, Locale]:
    """The CLDR pattern ``language`` writes a time of day with on the 12- or 24-hour clock."""
    locale = Locale.parse(language.replace("-", "_"))
    skeleton = "hm" if twelve else "Hm"
    return locale.datetime_skeletons[skeleton].pattern, locale


def offset_label(local: datetime) -> str:
    """``local``'s offset from UTC: "UTC+2", "UTC-3:30"."""
    offset = local.utcoffset()
    assert offset is not None  # an aware datetime
    minutes = int(offset.total_seconds()) // 60
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{'-' if minutes < 0 else '+'}{hours}" + (f":{rest:02d}" if rest else "")
