"""Reading a CalDAV calendar: the cheap change check, RFC 6578 sync, full listings, expansion.

The cursor is JSON holding the collection's ``ctag`` and ``sync_token``, whichever the server
offers, and the hrefs of the objects holding events that could not be read (counted in
``skipped``, never named). An idle poll is one PROPFIND of the ctag alone (servers such as Radicale
work out a sync token from every member, so asking for both more than doubles the check's cost),
or one empty sync-collection when the server has no ctag. After a change: sync-collection from the token, then
one calendar-multiget per 100 changed objects, so the cost follows the changes, not the calendar.
A refused token (403 on Radicale, 412 on Xandikos, ...), a server error answering the
sync-collection (Google's and Yandex's answer 500 or 507) or a server without sync support gives
a full listing: calendar-query by time range, flagged ``full_resync``, with a fresh token. So
does a change to an object with unreadable events, or new ones beside them: a full read is what
counts how many the calendar holds now, and lets the count fall once they are mended.

Hrefs are sent back exactly as the server gave them (Radicale answers 404 to a name it wrote
``semi%3Bcolon.ics`` asked for as ``semi;colon.ics``); they are compared and used as ids in one
normalised form. Some servers (Bedework) store a moved instance as an object of its own: it is
read with its series, found by UID, so that it takes the place of its slot instead of doubling it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, tzinfo
from urllib.parse import urljoin

import icalendar

from integrations.base import ChangeSet, ProviderError, RemoteEvent, Window
from integrations.caldav.client import (
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
    property_query,
    sync_collection,
)
from integrations.caldav.discovery import calendar_zone, own_addresses
from integrations.choices import gettext_noop
from integrations.ical import ICalendarError, parse_calendar, read_events

MULTIGET_BATCH = 100
MAX_SYNC_PAGES = 50
# Changed recurring events whose other objects (moved instances stored apart) are looked for by
# UID, one query each; a larger batch is left whole to the nightly full read.
MAX_SERIES_LOOKUPS = 20
# What some servers answer a sync-collection they cannot serve (a stale token, or none at all):
# like a refused token, it calls for a full listing, never a retry of the same request.
_SYNC_FAILURES = frozenset({500, 507})

_CHECK_PROPS = [(CALSERVER, "getctag"), (DAV, "current-user-principal")]
_STATE_PROPS = [*_CHECK_PROPS, (DAV, "sync-token")]
# A DTSTART or DTEND with neither a zone nor "Z": a floating time, read in the calendar's zone.
_FLOATING = re.compile(rb"^DT(?:START|END)(?:;VALUE=DATE-TIME)?:\d{8}T\d{6}\r?$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Cursor:
    ctag: str = ""
    sync_token: str = ""
    # Objects with events that could not be read, by href: when one of them changes, or others
    # join them, only a full read tells how many unreadable events the calendar holds now.
    unreadable: frozenset[str] = frozenset()

    @classmethod
    def load(cls, text: str) -> Cursor:
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        unreadable = data.get("unreadable")
        return cls(
            ctag=str(data.get("ctag") or ""),
            sync_token=str(data.get("sync_token") or ""),
            unreadable=frozenset(
                str(href) for href in (unreadable if isinstance(unreadable, list) else [])
            ),
        )

    def dump(self) -> str:
        data = {
            "ctag": self.ctag,
            "sync_token": self.sync_token,
            "unreadable": sorted(self.unreadable),
        }
        return json.dumps(
            {key: value for key, value in data.items() if value}, separators=(",", ":")
        )


@dataclass(frozen=True, slots=True)
class _State:
    ctag: str = ""
    sync_token: str = ""
    principal: str = ""  # an href


@dataclass(frozen=True, slots=True)
class ObjectRead:
    """One object read on its own (content: in memory only)."""

    events: list[RemoteEvent]
    zone: tzinfo  # the zone its floating times are read in
    addresses: tuple[str, ...]  # the owner's e-mail addresses, lowercase; () when unknown


@dataclass(slots=True)
class _Read:
    events: list[RemoteEvent] = field(default_factory=list)
    hrefs: set[str] = field(default_factory=set)  # the objects read
    malformed: set[str] = field(default_factory=set)  # objects left out, counted in ``skipped``
    unreadable: set[str] = field(default_factory=set)  # objects with events counted in ``skipped``
    skipped: int = 0


class CalendarReader:
    """Reads calendars of one account; remembers the ETags it sees and the owner's addresses."""

    def __init__(
        self, session: DAVSession, etags: dict[str, str], *, owner_zone: tzinfo = UTC
    ) -> None:
        """``owner_zone`` reads floating times in calendars that name no zone of their own."""
        self._session = session
        self._etags = etags
        self._owner_zone = owner_zone
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
            changed, removed, token = delta or ({}, set(), "")
            if delta is not None and not previous.unreadable & {*changed, *removed}:
                principal = state.principal if state else ""
                objects = self._multiget(url, list(changed.values()))
                read = self._read(url, objects, window, principal=principal, partial=True)
                gone = removed | (set(changed) - read.hrefs - read.malformed)
                if not (previous.unreadable and read.unreadable):
                    new_cursor = Cursor(
                        ctag=state.ctag if state else "",
                        sync_token=token,
                        unreadable=previous.unreadable | read.unreadable,
                    )
                    return ChangeSet(
                        events=read.events,
                        next_cursor=new_cursor.dump(),
                        replaced_series=read.hrefs | gone,
                        skipped=read.skipped,
                    )
        if state is None or previous.sync_token:
            # A fresh token, read before the listing so that a change made during it comes with
            # the next sync. A server that gave no token before (ctag only) is not asked again.
            state = self._state(url, _STATE_PROPS)
        read = self._read(url, self._query(url, window), window, principal=state.principal)
        new_cursor = Cursor(
            ctag=state.ctag, sync_token=state.sync_token, unreadable=frozenset(read.unreadable)
        )
        return ChangeSet(
            events=read.events,
            next_cursor=new_cursor.dump(),
            full_resync=True,
            skipped=read.skipped,
        )

    def events(self, url: str, window: Window) -> list[RemoteEvent]:
        """Every event instance in the window (a full listing, no cursor involved)."""
        return self._read(url, self._query(url, window), window, principal="").events

    def read_object(self, url: str, href: str, data: bytes, window: Window) -> ObjectRead:
        """One object's events in ``window``, named exactly as ``changes`` names them, with the
        zone its floating times are read in and the owner's addresses (asked for when it names
        attendees or an organizer). Raises ICalendarError when it cannot be read."""
        calendar = parse_calendar(data)
        zone, addresses = self._reading_context(url, [data], "")
        if not addresses and b"ORGANIZER" in data:
            entry = first(self._session.propfind(url, [(DAV, "current-user-principal")]))
            principal = next(iter(entry.hrefs(DAV, "current-user-principal")), "")
            addresses = self._principal_addresses(url, principal) if principal else []
        parsed = read_events(
            calendar, window, series_prefix=f"{href}|", default_zone=zone, own_addresses=addresses
        )
        if parsed.skipped and not parsed.events:
            raise ICalendarError(gettext_noop("The events of this object could not be read."))
        return ObjectRead(
            events=[_with_href_ids(event, href) for event in parsed.events],
            zone=zone,
            addresses=tuple(addresses),
        )

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

    def _sync(self, url: str, token: str) -> tuple[dict[str, str], set[str], str] | None:
        """Hrefs changed (normalised → as the server wrote it) and removed (normalised) since
        ``token``, and the new token; None if the server will not say."""
        collection = normalise_href(url, url)
        changed: dict[str, str] = {}
        removed: set[str] = set()
        for _ in range(MAX_SYNC_PAGES):
            response = self._session.request(
                "REPORT",
                url,
                body=sync_collection(token),
                headers={**XML_BODY, "Depth": "0"},
                accept=_SYNC_FAILURES,
            )
            if response.status in (404, 410):
                raise ProviderError(CALENDAR_GONE, permanent=True)
            if response.status != 207:
                return None  # an invalid token (403, 412, ...), no sync support, a failing one
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
                    changed[href] = entry.href
                    removed.discard(href)
            new_token = answer.sync_token or token
            if not truncated or new_token == token:
                return changed, removed, new_token
            token = new_token
        return changed, removed, token

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
            accept={500},
        )
        if response.status == 500:
            # Xandikos fails a whole time-range query on one object it cannot expand: list the
            # members and fetch them all instead (the window is applied here when reading).
            members = self._session.propfind(url, [(DAV, "getetag")], depth=1)
            collection = normalise_href(url, url)
            hrefs = [
                entry.href
                for entry in members.responses
                if (href := normalise_href(entry.href, url)).startswith(collection)
                and not href.endswith("/")
            ]
            return self._multiget(url, hrefs)
        return self.calendar_data(expect_multistatus(response), url)

    def _read(
        self,
        url: str,
        objects: Mapping[str, bytes],
        window: Window,
        *,
        principal: str,
        partial: bool = False,
    ) -> _Read:
        """The events of ``objects`` (href → data), each object's read whole. ``partial``: the
        objects are the changed ones only, so the other objects of their recurring events are
        fetched too (a moved instance stored apart belongs with its series)."""
        read = _Read()
        calendars = _parsed(objects, read)
        if partial:
            siblings = self._siblings(url, calendars)
            objects = {**objects, **siblings}
            calendars.update(_parsed(siblings, read))
        zone, addresses = self._reading_context(url, objects.values(), principal)
        for href, calendar in _paired_by_uid(calendars).items():
            try:
                parsed = read_events(
                    calendar,
                    window,
                    series_prefix=f"{href}|",
                    default_zone=zone,
                    own_addresses=addresses,
                )
            except ICalendarError:
                read.skipped += 1
                read.malformed.add(href)
                read.unreadable.add(href)
                continue
            read.skipped += parsed.skipped
            if parsed.skipped:
                read.unreadable.add(href)
            if parsed.skipped and not parsed.events:
                read.malformed.add(href)
                continue
            read.hrefs.add(href)
            read.events.extend(_with_href_ids(event, href) for event in parsed.events)
        return read

    def _siblings(self, url: str, calendars: Mapping[str, icalendar.Calendar]) -> dict[str, bytes]:
        """The other objects holding a UID of the recurring events in ``calendars``, found with
        one UID query each (none for more than ``MAX_SERIES_LOOKUPS``, or on a server that
        cannot filter)."""
        uids = sorted({uid for calendar in calendars.values() for uid in _recurring_uids(calendar)})
        if len(uids) > MAX_SERIES_LOOKUPS:
            return {}
        found: dict[str, bytes] = {}
        for uid in uids:
            response = self._session.request(
                "REPORT",
                url,
                body=property_query("UID", uid),
                headers={**XML_BODY, "Depth": "1"},
            )
            if response.status != 207:
                return found
            try:
                answer = parse_multistatus(response.body)
            except NotMultistatusError:
                return found
            for href, data in self.calendar_data(answer, url).items():
                if href not in calendars:
                    found[href] = data
        return found

    def _reading_context(
        self, url: str, objects: Iterable[bytes], principal: str
    ) -> tuple[tzinfo, list[str]]:
        """The zone for floating times and the owner's addresses, each asked for only if needed."""
        floating = attendees = False
        for data in objects:
            floating = floating or _FLOATING.search(data) is not None
            attendees = attendees or b"ATTENDEE" in data
        zone: tzinfo = self._owner_zone
        names = [(CALDAV, "calendar-timezone")] if floating else []
        if attendees and not principal:
            names.append((DAV, "current-user-principal"))
        if names:
            entry = first(self._session.propfind(url, names))
            zone = calendar_zone(entry.text(CALDAV, "calendar-timezone"))[1] or self._owner_zone
            principal = principal or next(iter(entry.hrefs(DAV, "current-user-principal")), "")
        if not attendees or not principal:
            return zone, []
        return zone, self._principal_addresses(url, principal)

    def _principal_addresses(self, url: str, principal: str) -> list[str]:
        principal_url = urljoin(url, principal)
        if principal_url not in self._addresses:
            self._addresses[principal_url] = own_addresses(self._session, principal_url)
        return self._addresses[principal_url]


def _parsed(objects: Mapping[str, bytes], read: _Read) -> dict[str, icalendar.Calendar]:
    """href → calendar of the objects that parse; the others are counted in ``read``."""
    calendars = {}
    for href, data in objects.items():
        try:
            calendars[href] = parse_calendar(data)
        except ICalendarError:
            read.skipped += 1
            read.malformed.add(href)
            read.unreadable.add(href)
    return calendars


def _recurring_uids(calendar: icalendar.Calendar) -> set[str]:
    return {
        str(event.get("UID", ""))
        for event in calendar.walk("VEVENT")
        if any(name in event for name in ("RRULE", "RDATE", "RECURRENCE-ID"))
    }


def _paired_by_uid(calendars: Mapping[str, icalendar.Calendar]) -> dict[str, icalendar.Calendar]:
    """The calendars with each object of moved instances alone (every event a RECURRENCE-ID)
    joined to the object of its series, left empty in its own place (so that what was read
    from it before is replaced by nothing). Without its series at hand it is read alone."""
    series_of: dict[str, str] = {}
    for href, calendar in calendars.items():
        for event in calendar.walk("VEVENT"):
            if "RECURRENCE-ID" not in event:
                series_of.setdefault(str(event.get("UID", "")), href)
    paired = dict(calendars)
    for href, calendar in calendars.items():
        events = calendar.walk("VEVENT")
        homes = {series_of.get(str(event.get("UID", ""))) for event in events}
        if not events or any("RECURRENCE-ID" not in event for event in events):
            continue
        if len(homes) != 1 or href in homes:
            continue
        (home,) = homes
        if home is None:
            continue
        paired[home].subcomponents.extend(events)
        paired[href] = icalendar.Calendar()
    return paired


def _with_href_ids(event: RemoteEvent, href: str) -> RemoteEvent:
    """Series id = the object's href; a single event's id too (so it equals a block's remote id)."""
    single = event.id == event.series_id
    return replace(event, series_id=href, id=href if single else event.id)
