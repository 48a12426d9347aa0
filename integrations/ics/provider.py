"""The iCal-link provider: one read-only calendar, read from a feed URL through the guarded fetcher.

A poll is one conditional GET (If-None-Match / If-Modified-Since). A feed served again without
validators is recognised by a hash of its body and not parsed again. Any change is a full resync:
a feed has no notion of what changed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar

from integrations.base import (
    DEFAULT_BUSY_POLICY,
    BlockSpec,
    BusyPolicy,
    ChangeSet,
    Interval,
    MarkerKind,
    Provider,
    ProviderError,
    RemoteCalendar,
    Window,
    busy_intervals,
)
from integrations.choices import gettext_noop
from integrations.ical import ICalendarError, ParsedEvents, owner_zone, parse_calendar, read_events
from integrations.ical_fast import read_simple
from multical.lib.http_headers import retry_after_seconds
from multical.lib.safe_http import FetchError, FetchResult, UnsafeURLError, fetch

FEED_ID = "feed"
DEFAULT_NAME = "iCal link"
READ_ONLY = gettext_noop("iCal links are read-only.")
NOT_ICALENDAR = gettext_noop("This link does not lead to an iCalendar file.")

_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
# Google regenerates DTSTAMP on every download; it says nothing about the events.
_DTSTAMP_LINE = re.compile(rb"^DTSTAMP[:;][^\r\n]*\r?\n", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True, slots=True)
class _Cursor:
    """What a poll remembers of the feed: its validators and a hash of its body, never content."""

    etag: str = ""
    last_modified: str = ""
    body_sha256: str = ""

    @classmethod
    def loads(cls, cursor: str) -> _Cursor:
        try:
            data = json.loads(cursor)
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        return cls(
            **{key: str(data.get(key, "")) for key in ("etag", "last_modified", "body_sha256")}
        )

    def dumps(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def conditional_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


class ICSProvider(Provider):
    slug = "ics"

    def __init__(self, url: str, *, time_zone: str = "") -> None:
        """``time_zone``: the owner's zone (an IANA name), for times the feed leaves floating
        without naming a zone of its own; UTC when it is empty or unknown."""
        self._url = url
        self._owner_zone = owner_zone(time_zone)

    @classmethod
    def from_secrets(cls, secrets: Mapping[str, str]) -> ICSProvider:
        return cls(secrets["url"], time_zone=secrets.get("time_zone", ""))

    def list_calendars(self) -> list[RemoteCalendar]:
        """The feed's one calendar; fetching it is how the connect form checks a link."""
        calendar = _parse(self._fetch().body)
        return [
            RemoteCalendar(
                remote_id=FEED_ID,
                name=str(calendar.get("X-WR-CALNAME", "")).strip() or DEFAULT_NAME,
                color=_color(calendar),
                time_zone=_zone_name(calendar),
                read_only=True,
            )
        ]

    def changes(self, calendar_id: str, cursor: str, window: Window) -> ChangeSet:
        """Nothing when the feed is unchanged (one request, no parsing), else every event in the window."""
        previous = _Cursor.loads(cursor)
        result = self._fetch(previous.conditional_headers())
        if result.status == 304:
            return ChangeSet(events=[], next_cursor=cursor)
        current = _Cursor(
            etag=result.headers.get("etag", ""),
            last_modified=result.headers.get("last-modified", ""),
            body_sha256=hashlib.sha256(_DTSTAMP_LINE.sub(b"", result.body)).hexdigest(),
        )
        if current.body_sha256 == previous.body_sha256:
            return ChangeSet(events=[], next_cursor=current.dumps())
        parsed = _read(result.body, window, self._owner_zone)
        return ChangeSet(
            events=parsed.events,
            next_cursor=current.dumps(),
            full_resync=True,
            skipped=parsed.skipped,
        )

    def put_block(self, calendar_id: str, spec: BlockSpec, remote_id: str | None = None) -> str:
        raise ProviderError(READ_ONLY, permanent=True)

    def find_block(
        self, calendar_id: str, block_id: str, *, kind: MarkerKind = MarkerKind.BLOCK
    ) -> str | None:
        raise ProviderError(READ_ONLY, permanent=True)

    def delete_event(self, calendar_id: str, remote_id: str) -> None:
        raise ProviderError(READ_ONLY, permanent=True)

    def busy(
        self, calendar_ids: Sequence[str], window: Window, policy: BusyPolicy = DEFAULT_BUSY_POLICY
    ) -> list[Interval]:
        """Busy time from a fresh read of the feed, weighed by ``policy``."""
        if FEED_ID not in calendar_ids:
            return []
        return busy_intervals(
            _read(self._fetch().body, window, self._owner_zone).events, window, policy
        )

    def _fetch(self, headers: Mapping[str, str] | None = None) -> FetchResult:
        try:
            result = fetch(self._url, headers=headers)
        except UnsafeURLError as error:
            raise ProviderError(str(error), permanent=True) from error
        except FetchError as error:
            raise ProviderError(
                error.msgid, permanent=not error.transient, params=error.params
            ) from error
        if result.status == 429 or result.status >= 500:
            raise ProviderError(
                gettext_noop("The calendar's server is not answering right now (HTTP %(status)s)."),
                permanent=False,
                params={"status": result.status},
                retry_after=retry_after_seconds(result.headers.get("retry-after", "")),
                throttled=result.status in (429, 503),
            )
        if result.status >= 300 and result.status != 304:
            raise ProviderError(
                gettext_noop(
                    "The link was refused (HTTP %(status)s). Check that it is still shared."
                ),
                permanent=True,
                params={"status": result.status},
            )
        return result


def _parse(body: bytes) -> icalendar.Calendar:
    try:
        return parse_calendar(body)
    except ICalendarError as error:
        raise ProviderError(NOT_ICALENDAR, permanent=True) from error


def _read(body: bytes, window: Window, zone: tzinfo) -> ParsedEvents:
    # Floating times are the feed's X-WR-TIMEZONE, else the owner's: a feed that names no zone
    # was written for the people reading it (TripIt writes local times without one).
    simple = read_simple(body, window, default_zone=zone)
    if simple is not None:
        return simple.parsed
    try:
        return read_events(_parse(body), window, default_zone=zone)
    except ICalendarError as error:
        # Transient: the cursor stays, nothing is removed, and the next poll tries again.
        raise ProviderError(error.msgid, permanent=False, params=error.params) from error


def _color(calendar: icalendar.Calendar) -> str:
    for name in ("X-APPLE-CALENDAR-COLOR", "COLOR"):
        match = _HEX_COLOR.match(str(calendar.get(name, "")).strip())
        if match:
            return match.group().lower()
    return ""


def _zone_name(calendar: icalendar.Calendar) -> str:
    name = str(calendar.get("X-WR-TIMEZONE", "")).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a path
        return ""
    return name
