"""Reading a CalDAV calendar: the cheap change check, RFC 6578 sync, full listings, expansion.

The cursor is JSON holding the collection's ``ctag`` and ``sync_token``, whichever the server
offers, and nothing else. An idle poll is one PROPFIND of the ctag alone (servers such as Radicale
work out a sync token from every member, so asking for both more than doubles the check's cost),
or one empty sync-collection when the server has no ctag. After a change: sync-collection from the token, then
one calendar-multiget per 100 changed objects, so the cost follows the changes, not the calendar.
A refused token (403 on Radicale, 412 on Xandikos, ...) or a server without sync support gives a
full listing: calendar-query by time range, flagged ``full_resync``, with a fresh token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, tzinfo
from urllib.parse import urljoin

from integrations.base import ChangeSet, ProviderError, RemoteEvent, Window
from integrations.caldav.dav import (
    CALDAV,
    CALENDAR_GONE,
    CALSERVER,
    DAV,
    XML_BODY,
    DAVSession,
    Multistatus,
    NotMultistatusError,
    calendar_multiget,
    calendar_query,
    expect_multistatus,
    first,
    normalise_href,
    parse_multistatus,
    sync_collection,
)
from integrations.caldav.discovery import calendar_zone, own_addresses
from integrations.ical import ICalendarError, parse_calendar, read_events

MULTIGET_BATCH = 100
MAX_SYNC_PAGES = 50

_CHECK_PROPS = [(CALSERVER, "getctag"), (DAV, "current-user-principal")]
_STATE_PROPS = [*_CHECK_PROPS, (DAV, "sync-token")]
# A DTSTART or DTEND with neither a zone nor "Z": a floating time, read in the calendar's zone.
_FLOATING = re.compile(rb"^DT(?:START|END)(?:;VALUE=DATE-TIME)?:\d{8}T\d{6}\r?$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Cursor:
    ctag: str = ""
    sync_token: str = ""

    @classmethod
    def load(cls, text: str) -> Cursor:
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        return cls(ctag=str(data.get("ctag") or ""), sync_token=str(data.get("sync_token") or ""))

    def dump(self) -> str:
        data = {"ctag": self.ctag, "sync_token": self.sync_token}
        return json.dumps(
            {key: value for key, value in data.items() if value}, separators=(",", ":")
        )


@dataclass(frozen=True, slots=True)
class _State:
    ctag: str = ""
    sync_token: str = ""
    principal: str = ""  # an href


@dataclass(slots=True)
class _Read:
    events: list[RemoteEvent] = field(default_factory=list)
    hrefs: set[str] = field(default_factory=set)  # the objects read
    malformed: set[str] = field(default_factory=set)  # objects left out, counted in ``skipped``
    skipped: int = 0


class CalendarReader:
    """Reads calendars of one account; remembers the ETags it sees and the owner's addresses."""

    def __init__(self, session: DAVSession, etags: dict[str, str]) -> None:
        self._session = session
        self._etags = etags
        self._addresses: dict[str, list[str]] = {}

    def changes(self, url: str, cursor: str, window: Window) -> ChangeSet:
        previous = Cursor.load(cursor)
        state = None
        if previous.ctag:
            state = self._state(url, _CHECK_PROPS)
            if state.ctag == previous.ctag:
                return ChangeSet(events=[], next_cursor=cursor)
        if previous.sync_token:
            delta = self._sync(url, previous.sync_token)
            if delta is not None:
                changed, removed, token = delta
                principal = state.principal if state else ""
                read = self._read(url, self._multiget(url, changed), window, principal=principal)
                gone = removed | (set(changed) - read.hrefs - read.malformed)
                return ChangeSet(
                    events=read.events,
                    next_cursor=Cursor(ctag=state.ctag if state else "", sync_token=token).dump(),
                    replaced_series=read.hrefs | gone,
                    skipped=read.skipped,
                )
        if state is None or previous.sync_token:
            # A fresh token, read before the listing so that a change made during it comes with
            # the next sync. A server that gave no token before (ctag only) is not asked again.
            state = self._state(url, _STATE_PROPS)
        read = self._read(url, self._query(url, window), window, principal=state.principal)
        return ChangeSet(
            events=read.events,
            next_cursor=Cursor(ctag=state.ctag, sync_token=state.sync_token).dump(),
            full_resync=True,
            skipped=read.skipped,
        )

    def events(self, url: str, window: Window) -> list[RemoteEvent]:
        """Every event instance in the window (a full listing, no cursor involved)."""
        return self._read(url, self._query(url, window), window, principal="").events

    def calendar_data(self, answer: Multistatus, url: str) -> dict[str, bytes]:
        """href → iCalendar data of the calendar's objects in a REPORT answer; notes their ETags."""
        collection = normalise_href(url, url)
        objects = {}
        for entry in answer.responses:
            href = normalise_href(entry.href, url)
            if entry.status == 404 or href.endswith("/") or not href.startswith(collection):
                continue
            etag = entry.text(DAV, "getetag")
            if etag:
                self._etags[href] = etag
            objects[href] = entry.text(CALDAV, "calendar-data").encode()
        return objects

    def _state(self, url: str, names: Sequence[tuple[str, str]]) -> _State:
        entry = first(self._session.propfind(url, names))
        return _State(
            ctag=entry.text(CALSERVER, "getctag"),
            sync_token=entry.text(DAV, "sync-token"),
            principal=next(iter(entry.hrefs(DAV, "current-user-principal")), ""),
        )

    def _sync(self, url: str, token: str) -> tuple[list[str], set[str], str] | None:
        """Hrefs changed and removed since ``token`` and the new token; None if it is refused."""
        collection = normalise_href(url, url)
        changed: dict[str, None] = {}
        removed: set[str] = set()
        for _ in range(MAX_SYNC_PAGES):
            response = self._session.request(
                "REPORT", url, body=sync_collection(token), headers={**XML_BODY, "Depth": "0"}
            )
            if response.status in (404, 410):
                raise ProviderError(CALENDAR_GONE, permanent=True)
            if response.status != 207:
                return None  # an invalid token (403, 412, ...) or no sync support
            try:
                answer = parse_multistatus(response.body)
            except NotMultistatusError:
                return None
            truncated = False
            for entry in answer.responses:
                href = normalise_href(entry.href, url)
                if href.endswith("/") or not href.startswith(collection):
                    # iCloud lists the collection itself; a 507 on it marks a truncated answer.
                    truncated = truncated or entry.status == 507
                    continue
                if entry.status == 404:
                    removed.add(href)
                    changed.pop(href, None)
                else:
                    changed[href] = None
                    removed.discard(href)
            new_token = answer.sync_token or token
            if not truncated or new_token == token:
                return list(changed), removed, new_token
            token = new_token
        return list(changed), removed, token

    def _multiget(self, url: str, hrefs: Sequence[str]) -> dict[str, bytes]:
        objects: dict[str, bytes] = {}
        for start in range(0, len(hrefs), MULTIGET_BATCH):
            body = calendar_multiget(hrefs[start : start + MULTIGET_BATCH])
            objects.update(self.calendar_data(self._session.report(url, body, depth=None), url))
        return objects

    def _query(self, url: str, window: Window) -> dict[str, bytes]:
        response = self._session.request(
            "REPORT",
            url,
            body=calendar_query(window.start, window.end),
            headers={**XML_BODY, "Depth": "1"},
            accept_500=True,
        )
        if response.status == 500:
            # Xandikos fails a whole time-range query on one object it cannot expand: list the
            # members and fetch them all instead (the window is applied here when reading).
            members = self._session.propfind(url, [(DAV, "getetag")], depth=1)
            collection = normalise_href(url, url)
            hrefs = [
                href
                for href in (normalise_href(entry.href, url) for entry in members.responses)
                if href.startswith(collection) and not href.endswith("/")
            ]
            return self._multiget(url, hrefs)
        return self.calendar_data(expect_multistatus(response), url)

    def _read(
        self, url: str, objects: Mapping[str, bytes], window: Window, *, principal: str
    ) -> _Read:
        zone, addresses = self._reading_context(url, objects.values(), principal)
        read = _Read()
        for href, data in objects.items():
            try:
                parsed = read_events(
                    parse_calendar(data),
                    window,
                    series_prefix=f"{href}|",
                    default_zone=zone,
                    own_addresses=addresses,
                )
            except ICalendarError:
                read.skipped += 1
                read.malformed.add(href)
                continue
            read.skipped += parsed.skipped
            if parsed.skipped and not parsed.events:
                read.malformed.add(href)
                continue
            read.hrefs.add(href)
            read.events.extend(_with_href_ids(event, href) for event in parsed.events)
        return read

    def _reading_context(
        self, url: str, objects: Iterable[bytes], principal: str
    ) -> tuple[tzinfo, list[str]]:
        """The zone for floating times and the owner's addresses, each asked for only if needed."""
        floating = attendees = False
        for data in objects:
            floating = floating or _FLOATING.search(data) is not None
            attendees = attendees or b"ATTENDEE" in data
        zone: tzinfo = UTC
        names = [(CALDAV, "calendar-timezone")] if floating else []
        if attendees and not principal:
            names.append((DAV, "current-user-principal"))
        if names:
            entry = first(self._session.propfind(url, names))
            zone = calendar_zone(entry.text(CALDAV, "calendar-timezone"))[1] or UTC
            principal = principal or next(iter(entry.hrefs(DAV, "current-user-principal")), "")
        if not attendees or not principal:
            return zone, []
        principal_url = urljoin(url, principal)
        if principal_url not in self._addresses:
            self._addresses[principal_url] = own_addresses(self._session, principal_url)
        return zone, self._addresses[principal_url]


def _with_href_ids(event: RemoteEvent, href: str) -> RemoteEvent:
    """Series id = the object's href; a single event's id too (so it equals a block's remote id)."""
    single = event.id == event.series_id
    return replace(event, series_id=href, id=href if single else event.id)
