"""Reading a CalDAV calendar: the cheap change check, RFC 6578 sync, full listings, expansion.

The cursor is JSON holding the collection's ``ctag`` and ``sync_token``, whichever the server
offers, and the hrefs of the objects holding events that could not be read (counted in
``skipped``, never named). An idle poll is one PROPFIND of the ctag alone (servers such as Radicale
work out a sync token from every member, so asking for both more than doubles the check's cost),
or one empty sync-collection when the server has no ctag. After a change: sync-collection from the token, then
one calendar-multiget per 100 changed objects, so the cost follows the changes, not the calendar.
A refused token (403 on Radicale, 412 on Xandikos, ...), a server error answering the
sync-collection (Google's and Yandex's answer 500 or 507) or a server without sync support gives
a full read, flagged ``full_resync``, with a fresh token. So does a change to an object with
unreadable events, or new ones beside them: a full read is what counts how many the calendar
holds now, and lets the count fall once they are mended.

A full read must finish on a slow server whatever the calendar's size, so no request of it
grows with the calendar. The ctag and principal come first (cheap), then the sync token in a
request of its own: servers work it out from every member (Radicale, cold, takes seconds per
thousand), so it may time out or fail without failing the read; the cursor then says a token is
still wanted and the next poll asks again (token first, then the ctag: an unchanged ctag after
it proves the token describes what was read). The window is listed in time-range chunks asking
for hrefs and ETags only (``Pace``: 14 days to start, halved on a timeout, doubled after a fast
answer), and the objects not fetched yet come by calendar-multiget in batches paced the same
way, so an object whose series spans many chunks is fetched once. After each chunk the caller's
``ReadProgress`` hears how far the read has got. Nothing of a read is kept between attempts (it
would be event content): a read that dies starts again from the window's start. A calendar whose
last full read found few objects (``SMALL_CALENDAR``, noted in the cursor) is read again with one
calendar-query, falling back to chunks if that times out.

Hrefs are sent back exactly as the server gave them (Radicale answers 404 to a name it wrote
``semi%3Bcolon.ics`` asked for as ``semi;colon.ics``); they are compared and used as ids in one
normalised form. Some servers (Bedework) store a moved instance as an object of its own: it is
read with its series, found by UID, so that it takes the place of its slot instead of doubling it.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from functools import partial
from typing import TypeVar
from urllib.parse import urljoin

import icalendar
from django.core.cache import cache

from integrations.base import ChangeSet, ProviderError, ReadProgress, RemoteEvent, Window
from integrations.caldav import client
from integrations.caldav.client import (
    CALDAV,
    CALENDAR_GONE,
    CALSERVER,
    DAV,
    XML_BODY,
    DAVSession,
    Multistatus,
    NotMultistatusError,
    TooSlowError,
    calendar_listing,
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
from integrations.ical_fast import SimpleRead, read_simple

_T = TypeVar("_T")

MULTIGET_BATCH = 100  # objects per calendar-multiget to start with
MAX_MULTIGET_BATCH = 800
MIN_MULTIGET_BATCH = 5
FIRST_CHUNK = timedelta(days=14)  # the time range of a full read's first listing
MIN_CHUNK = timedelta(hours=6)
MAX_CHUNK = timedelta(days=366)
# The longest a collection's requests are waited for, and how long that is remembered (``patience``).
PATIENCE_CEILING = 120.0
PATIENCE_KEPT = 24 * 60 * 60
# A calendar whose last full read fetched at most this many objects is read again with a single
# calendar-query (its answer is small whatever the server), not chunk by chunk.
SMALL_CALENDAR = 300
# An answer in less than this share of the timeout lets the next request of a read be twice as big.
FAST_SHARE = 0.25
MAX_SYNC_PAGES = 50
# Changed recurring events whose other objects (moved instances stored apart) are looked for by
# UID, one query each; a larger batch is left whole to the nightly full read.
MAX_SERIES_LOOKUPS = 20
# What some servers answer a sync-collection they cannot serve (a stale token, or none at all):
# like a refused token, it calls for a full listing, never a retry of the same request.
_SYNC_FAILURES = frozenset({500, 507})

_CHECK_PROPS = [(CALSERVER, "getctag"), (DAV, "current-user-principal")]
# A DTSTART or DTEND with neither a zone nor "Z": a floating time, read in the calendar's zone.
_FLOATING = re.compile(rb"^DT(?:START|END)(?:;VALUE=DATE-TIME)?:\d{8}T\d{6}\r?$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Cursor:
    ctag: str = ""
    sync_token: str = ""
    # Objects with events that could not be read, by href: when one of them changes, or others
    # join them, only a full read tells how many unreadable events the calendar holds now.
    unreadable: frozenset[str] = frozenset()
    # The server offers sync tokens but the last request for one failed: ask again next poll.
    token_wanted: bool = False
    # How many objects the last full read fetched: a small calendar is read again in one request.
    objects: int = 0

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
            token_wanted=data.get("token_wanted") is True,
            objects=data["objects"] if isinstance(data.get("objects"), int) else 0,
        )

    def dump(self) -> str:
        data = {
            "ctag": self.ctag,
            "sync_token": self.sync_token,
            "unreadable": sorted(self.unreadable),
            "token_wanted": self.token_wanted,
            "objects": self.objects,
        }
        return json.dumps(
            {key: value for key, value in data.items() if value}, separators=(",", ":")
        )


@dataclass(frozen=True, slots=True)
class _State:
    ctag: str = ""
    principal: str = ""  # an href


@dataclass(slots=True)
class Pace:
    """The size of the next request of a long read (a time range in seconds, or a number of
    objects): halved when a request times out, down to ``floor``; doubled after an answer that
    came in under ``FAST_SHARE`` of the timeout, up to ``ceiling``. So a slow server gets requests
    it can answer in time, and a fast one few requests."""

    size: float
    floor: float
    ceiling: float

    def slowed(self) -> bool:
        """Halve after a timeout; False when the size is at the floor already (give up)."""
        if self.size <= self.floor:
            return False
        self.size = max(self.floor, self.size / 2)
        return True

    def answered(self, seconds: float, timeout: float) -> None:
        """Note an answer that took ``seconds``; a fast one doubles the next request."""
        if seconds < timeout * FAST_SHARE:
            self.size = min(self.ceiling, self.size * 2)


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
        self._progress: ReadProgress | None = None

    def report_progress(self, progress: ReadProgress | None) -> None:
        """``changes`` tells ``progress`` how far a full read has got, after each chunk but the
        last (``integrations.base.ReadProgress``)."""
        self._progress = progress

    def changes(self, url: str, cursor: str, window: Window) -> ChangeSet:
        with patience(self._session, url):
            return self._changes(url, cursor, window)

    def _changes(self, url: str, cursor: str, window: Window) -> ChangeSet:
        previous = Cursor.load(cursor)
        # Asked before the ctag check: an unchanged ctag after it shows the token is of the state
        # that was read.
        token = self._token(url) if previous.token_wanted else None
        state = None
        if previous.ctag:
            state = self._state(url)
            if state.ctag == previous.ctag:
                if token is None:
                    return ChangeSet(events=[], next_cursor=cursor)
                found = replace(previous, sync_token=token, token_wanted=False)
                return ChangeSet(events=[], next_cursor=found.dump())
        if previous.sync_token:
            delta = self._sync(url, previous.sync_token)
            changed, removed, new_token = delta or ({}, set(), "")
            if delta is not None and not previous.unreadable & {*changed, *removed}:
                principal = state.principal if state else ""
                objects = self._multiget(url, list(changed.values()))
                read = self._read(url, objects, window, principal=principal, partial=True)
                gone = removed | (set(changed) - read.hrefs - read.malformed)
                if not (previous.unreadable and read.unreadable):
                    new_cursor = Cursor(
                        ctag=state.ctag if state else "",
                        sync_token=new_token,
                        unreadable=previous.unreadable | read.unreadable,
                    )
                    return ChangeSet(
                        events=read.events,
                        next_cursor=new_cursor.dump(),
                        replaced_series=read.hrefs | gone,
                        skipped=read.skipped,
                    )
        return self._full_read(url, previous, state, token, window)

    def _full_read(
        self, url: str, previous: Cursor, state: _State | None, token: str | None, window: Window
    ) -> ChangeSet:
        """Every event in the window, with a fresh ctag and (where the server offers one) a
        fresh token, both read before the listing so that a change made during it comes with
        the next sync. ``state`` and ``token``: what this poll has read already."""
        state = state or self._state(url)
        # A server that gave no token before (ctag only) is not asked again, and one whose token
        # was wanted has been asked already in this poll.
        asks = not previous.ctag or bool(previous.sync_token) or previous.token_wanted
        if asks and not previous.token_wanted:
            token = self._token(url)
        objects = None
        read_before = bool(previous.ctag or previous.sync_token)
        if read_before and previous.objects <= SMALL_CALENDAR:
            try:
                objects = self._query(url, window)
            except TooSlowError:
                objects = None  # grown, or the server is slow today: in chunks after all
        if objects is None:
            objects = self._listing(url, window)
        read = self._read(url, objects, window, principal=state.principal)
        new_cursor = Cursor(
            ctag=state.ctag,
            sync_token=token or "",
            unreadable=frozenset(read.unreadable),
            token_wanted=asks and token is None,
            objects=len(objects),
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

    def _state(self, url: str) -> _State:
        entry = first(self._session.propfind(url, _CHECK_PROPS))
        return _State(
            ctag=entry.text(CALSERVER, "getctag"),
            principal=next(iter(entry.hrefs(DAV, "current-user-principal")), ""),
        )

    def _token(self, url: str) -> str | None:
        """The collection's sync token ("" when the server has none), or None when asking failed
        for a passing reason (a timeout, a server error): the read goes on without one."""
        try:
            entry = first(self._session.propfind(url, [(DAV, "sync-token")]))
        except ProviderError as error:
            if error.permanent:
                raise
            return None
        return entry.text(DAV, "sync-token")

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

    def _multiget(
        self, url: str, hrefs: Sequence[str], batch: Pace | None = None
    ) -> dict[str, bytes]:
        """The objects ``hrefs`` (as the server wrote them), in batches paced by ``batch``."""
        batch = batch or _multiget_pace()
        objects: dict[str, bytes] = {}
        done = 0
        while done < len(hrefs):
            sent, answer = self._paced(batch, partial(self._multiget_from, url, hrefs[done:]))
            objects.update(self.calendar_data(answer, url))
            done += sent
        return objects

    def _multiget_from(
        self, url: str, hrefs: Sequence[str], size: float
    ) -> tuple[int, Multistatus]:
        part = hrefs[: int(size)]
        return len(part), self._session.report(url, calendar_multiget(part), depth=None)

    def _listing(self, url: str, window: Window) -> dict[str, bytes]:
        """href → data of every object with an event in ``window``: listed by time-range chunks
        (hrefs and ETags only), each object fetched once by multiget."""
        objects: dict[str, bytes] = {}
        listed: set[str] = set()
        chunk = Pace(
            FIRST_CHUNK.total_seconds(), MIN_CHUNK.total_seconds(), MAX_CHUNK.total_seconds()
        )
        batch = _multiget_pace()
        start = window.start
        while start < window.end:
            end, hrefs = self._paced(chunk, partial(self._list_from, url, start, window.end))
            if hrefs is None:
                # Xandikos fails a whole time-range query on one object it cannot expand: list
                # the members and fetch the others instead (the window is applied when reading).
                end, hrefs = window.end, self._members(url)
            fresh = [href for key, href in hrefs.items() if key not in listed]
            listed.update(hrefs)
            objects.update(self._multiget(url, fresh, batch))
            if end < window.end and self._progress is not None:
                self._progress(end)
            start = end
        return objects

    def _list_from(
        self, url: str, start: datetime, limit: datetime, size: float
    ) -> tuple[datetime, dict[str, str] | None]:
        """The end of a chunk of ``size`` seconds from ``start`` (not past ``limit``) and the
        objects with events in it (normalised href → href as written); None for the objects
        when the server fails the query (500)."""
        end = min(start + timedelta(seconds=size), limit)
        response = self._session.request(
            "REPORT",
            url,
            body=calendar_listing(start, end),
            headers={**XML_BODY, "Depth": "1"},
            accept={500},
        )
        if response.status == 500:
            return end, None
        return end, _object_hrefs(expect_multistatus(response), url)

    def _members(self, url: str) -> dict[str, str]:
        """Every object of the collection (normalised href → href as written)."""
        return _object_hrefs(self._session.propfind(url, [(DAV, "getetag")], depth=1), url)

    def _paced(self, pace: Pace, send: Callable[[float], _T]) -> _T:
        """``send(size)`` at the pace's size, sent again smaller after each timeout (until the
        floor: then the timeout is the read's)."""
        while True:
            began = time.monotonic()
            try:
                result = send(pace.size)
            except TooSlowError:
                if not pace.slowed():
                    raise
                continue
            pace.answered(time.monotonic() - began, self._session.timeout)
            return result

    def _query(self, url: str, window: Window) -> dict[str, bytes]:
        """One calendar-query for the window's objects with their data (busy time)."""
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
            return self._multiget(url, list(self._members(url).values()))
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
        fetched too (a moved instance stored apart belongs with its series). A full read takes
        the objects the fast path reads (``ical_fast``: most of them) from their text, and
        parses the others."""
        read = _Read()
        simple: dict[str, SimpleRead | None] = {}
        if partial:
            calendars = _parsed(objects, read)
            siblings = self._siblings(url, calendars)
            objects = {**objects, **siblings}
            calendars.update(_parsed(siblings, read))
        zone, addresses = self._reading_context(url, objects.values(), principal)
        if not partial:
            simple = {
                href: read_simple(
                    data,
                    window,
                    series_prefix=f"{href}|",
                    series_id=href,
                    default_zone=zone,
                    own_addresses=addresses,
                )
                for href, data in objects.items()
            }
            calendars = _parsed(objects, read, simple)
        paired = _paired_by_uid(calendars)
        for href in objects:
            simple_read = simple.get(href)
            if simple_read is not None:
                # Named after the object already; the fast path skips nothing (it declines).
                read.hrefs.add(href)
                read.events.extend(simple_read.parsed.events)
                continue
            if href not in paired:
                continue  # it did not parse
            try:
                parsed = read_events(
                    paired[href],
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


@contextmanager
def patience(session: DAVSession, url: str) -> Iterator[None]:
    """Wait as long as the collection at ``url`` has been found to need.

    Chunks bound what we ask for, not what a server spends on each request: Radicale scans every
    member of a collection for any request about it, so one of 20,000 events takes seconds even
    for its ctag. A request that times out doubles the wait for the collection's next attempt
    (up to ``PATIENCE_CEILING``); the wait is a hint kept in the cache for a day, per collection
    (a hash of its address: the address may hold a user name), not a promise.
    """
    key = "caldav:patience:" + hashlib.sha256(url.encode()).hexdigest()[:32]
    known = cache.get(key)
    session.wait_up_to(float(known) if known else client.TIMEOUT)
    try:
        yield
    except TooSlowError:
        if session.timeout < PATIENCE_CEILING:
            cache.set(key, min(session.timeout * 2, PATIENCE_CEILING), timeout=PATIENCE_KEPT)
        raise


def _multiget_pace() -> Pace:
    return Pace(MULTIGET_BATCH, MIN_MULTIGET_BATCH, MAX_MULTIGET_BATCH)


def _object_hrefs(answer: Multistatus, url: str) -> dict[str, str]:
    """The objects of the collection ``url`` in a listing: normalised href → href as written
    (the collection itself, and anything outside it, left out)."""
    collection = normalise_href(url, url)
    return {
        href: entry.href
        for entry in answer.responses
        if entry.status != 404
        and (href := normalise_href(entry.href, url)).startswith(collection)
        and not href.endswith("/")
    }


def _parsed(
    objects: Mapping[str, bytes],
    read: _Read,
    simple: dict[str, SimpleRead | None] | None = None,
) -> dict[str, icalendar.Calendar]:
    """href → calendar of the objects that parse; the others are counted in ``read``.

    ``simple`` holds what the fast path read of each object (None where it declined): only the
    objects it declined are parsed, and the ones holding the series of a moved instance stored
    apart in a declined object, which ``_paired_by_uid`` joins to it (they leave ``simple``).
    """
    simple = {} if simple is None else simple
    calendars = {}
    to_parse = [href for href in objects if simple.get(href) is None]
    while to_parse:
        for href in to_parse:
            try:
                calendars[href] = parse_calendar(objects[href])
            except ICalendarError:
                read.skipped += 1
                read.malformed.add(href)
                read.unreadable.add(href)
        moved_apart = {
            str(event.get("UID", ""))
            for calendar in calendars.values()
            if (events := calendar.walk("VEVENT"))
            and all("RECURRENCE-ID" in event for event in events)
            for event in events
        }
        to_parse = [
            href
            for href, simple_read in simple.items()
            if simple_read is not None and simple_read.uids & moved_apart
        ]
        simple.update(dict.fromkeys(to_parse))
    # In the objects' order, which decides the home of a UID that more than one holds.
    return {href: calendars[href] for href in objects if href in calendars}


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
