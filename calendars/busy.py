"""When a user is busy across their calendars, for booking pages.

Calendars are read concurrently (``calendars.reading``). What was read may be kept briefly in the
shared cache, as times only (start, end, whether it is a whole day): no titles, no event ids. Each
calendar's entries sit under a version that changes whenever we learn the calendar changed (a push
notification, a sync that found changes, blocks written into it), so a cached answer never
outlives a change we were told about by more than the time it takes to learn of it; the rest
expires after ``BOOKING_BUSY_CACHE_SECONDS``.

A calendar that cannot be read is reported, never treated as free: the caller fails closed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache

from calendars.models import Calendar
from calendars.reading import read_calendars
from calendars.services import calendar_record_error
from integrations.base import Interval, ProviderError, Window

if TYPE_CHECKING:
    from integrations.base import BusyPolicy

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class BusyRead:
    spans: list[Interval] = field(default_factory=list)
    unreadable: list[Calendar] = field(default_factory=list)


def calendars_busy(
    calendars: Sequence[Calendar], window: Window, policy: BusyPolicy, *, fresh: bool = False
) -> BusyRead:
    """Every busy span in ``calendars`` over ``window`` (unmerged), and the calendars that could
    not be read. ``fresh`` reads the providers even when the cache has an answer (and leaves the
    cache alone): for the check made just before a booking is stored."""
    result = BusyRead()
    # Versions are read before the providers, so an answer read while a change was announced is
    # filed under the old version and never served.
    versions = _versions([str(calendar.id) for calendar in calendars])
    cached = {} if fresh else _cached(calendars, versions, window, policy)
    to_read: list[Calendar] = []
    for calendar in calendars:
        if not calendar.connection.is_usable:
            result.unreadable.append(calendar)
        elif calendar.id in cached:
            result.spans.extend(cached[calendar.id])
        else:
            to_read.append(calendar)

    read_spans: dict[object, list[Interval]] = {}
    for read in read_calendars(
        to_read, lambda provider, calendar: provider.busy([calendar.remote_id], window, policy)
    ):
        if read.error is not None:
            result.unreadable.append(read.calendar)
            _record_failure(read.calendar, read.error)
        else:
            read_spans[read.calendar.id] = read.value or []
            result.spans.extend(read.value or [])
    if not fresh:
        _remember(read_spans, versions, window, policy)
    return result


def forget_busy(calendar_ids: Iterable[object]) -> None:
    """What the cache holds for these calendars is out of date: a new version starts."""
    cache.set_many({_version_key(str(i)): uuid.uuid4().hex[:12] for i in calendar_ids}, None)


def _record_failure(calendar: Calendar, error: ProviderError) -> None:
    logger.warning("Busy time of calendar %s could not be read: %s", calendar.id, error.message)
    calendar_record_error(calendar=calendar, error=error)


def _version_key(calendar_id: str) -> str:
    return f"busy:version:{calendar_id}"


def _entry_key(calendar_id: str, version: str, window: Window, policy: BusyPolicy) -> str:
    flags = "".join(
        "1" if flag else "0" for flag in (policy.tentative, policy.free, policy.all_day)
    )
    # "busy2": entries that carry event ids; entries of the older shape are never read.
    return (
        f"busy2:{calendar_id}:{version}:{flags}:"
        f"{int(window.start.timestamp())}:{int(window.end.timestamp())}"
    )


def busy_versions(calendar_ids: Sequence[str]) -> dict[str, str]:
    """Each calendar's current version: what callers that keep results built from busy time key
    them by, so a change we learn of retires those results too."""
    return _versions(calendar_ids)


def _versions(calendar_ids: Sequence[str]) -> dict[str, str]:
    found = cache.get_many([_version_key(i) for i in calendar_ids])
    return {i: found.get(_version_key(i), "") for i in calendar_ids}


def _cached(
    calendars: Sequence[Calendar], versions: dict[str, str], window: Window, policy: BusyPolicy
) -> dict[object, list[Interval]]:
    keys = {
        _entry_key(str(calendar.id), versions[str(calendar.id)], window, policy): calendar.id
        for calendar in calendars
    }
    found = cache.get_many(list(keys))
    return {keys[key]: [_interval(entry) for entry in entries] for key, entries in found.items()}


def _remember(
    spans: dict[object, list[Interval]],
    versions: dict[str, str],
    window: Window,
    policy: BusyPolicy,
) -> None:
    if not spans:
        return
    cache.set_many(
        {
            _entry_key(str(calendar_id), versions[str(calendar_id)], window, policy): [
                (
                    int(span.start.timestamp()),
                    int(span.end.timestamp()),
                    span.all_day,
                    span.event_id,
                )
                for span in calendar_spans
            ]
            for calendar_id, calendar_spans in spans.items()
        },
        settings.BOOKING_BUSY_CACHE_SECONDS,
    )


def _interval(entry: tuple[int, int, bool, str]) -> Interval:
    start, end, all_day, event_id = entry
    return Interval(
        datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC), all_day, event_id
    )
