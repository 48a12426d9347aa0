"""CalDAV: Apple iCloud and any CalDAV server, one class.

iCloud is this class with ``https://caldav.icloud.com/``; discovery leads to the account's own host.

Ids. A calendar's remote id is its collection URL. An event's ``series_id`` is its object's href
path (an object holds one UID, so one series); a single event's ``id`` is that href too, and the
instances of a recurring event are ``<href>|<UID>/<original start>``. A block we write lives at
``<calendar>/<uid>.ics`` with a UID derived from the block id, and its remote id is that href, the
same string as its event id when it is read back. A booking's event is written the same way, with
its own marker property and a UID of its own. Reading is in ``sync``, discovery in
``discovery``, HTTP and the outbound guard in ``client``.

The user's own events (the portfolio) are read with GET and their ETag, changed in ``editing``
and written back with If-Match (If-None-Match: * for a new object), so a change made meanwhile
elsewhere is an ``EventConflict``, never overwritten. Blocks and booking events are refused.
Answers to invitations are not sent: that takes server-side scheduling (RFC 6638), which we
cannot check works (Xandikos advertises calendar-auto-schedule, but neither test server names
the account's addresses, so the owner's ATTENDEE cannot even be found), and we send no iTIP
mail ourselves.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin

import icalendar

from integrations.base import (
    BLOCK_REFUSED,
    BOOKING_REFUSED,
    DEFAULT_BUSY_POLICY,
    ActionRefused,
    BlockSpec,
    BusyPolicy,
    ChangeSet,
    EditScope,
    EventActions,
    EventConflict,
    EventDetail,
    EventDraft,
    Interval,
    MarkerKind,
    Provider,
    ProviderError,
    ReadProgress,
    RemoteCalendar,
    RemoteEvent,
    Response,
    Window,
    busy_intervals,
    moved_draft,
)
from integrations.caldav import discovery, editing
from integrations.caldav.client import (
    CALENDAR_GONE,
    DAV,
    XML_BODY,
    DAVSession,
    NotMultistatusError,
    expect_multistatus,
    first,
    normalise_href,
    parse_multistatus,
    property_query,
    propfind,
)
from integrations.caldav.sync import CalendarReader, ObjectRead
from integrations.choices import gettext_noop
from integrations.ical import (
    MARKER_PROPERTIES,
    ICalendarError,
    owner_zone,
    parse_calendar,
    render_block,
)
from multical.lib.safe_http import UnsafeURLError, validate_url

READ_ONLY = gettext_noop("This calendar is read-only: the server refused the change.")
EVENT_READ_ONLY = gettext_noop("This calendar is read-only on its CalDAV server.")
EVENT_GONE = gettext_noop("This event is no longer in the calendar.")
EVENT_UNREADABLE = gettext_noop(
    "This event's calendar data could not be read, so Multical leaves it as it is."
)
NO_REPLIES = gettext_noop(
    "This CalDAV server does not send answers to invitations; answer from your calendar app."
)
_ICS_BODY = {"Content-Type": 'text/calendar; charset="utf-8"'}
_BLOCK_NAMESPACE = uuid.UUID("0b6f5d8e-3a51-4c8e-9f55-3d0c2f6e9a17")


def block_uid(block_id: str, kind: MarkerKind = MarkerKind.BLOCK) -> str:
    """The iCalendar UID (and file name) of a block or booking event: the same for every try of
    one, and never a block's for a booking's (a block's UID is a bare UUID after the prefix)."""
    suffix = uuid.uuid5(_BLOCK_NAMESPACE, block_id)
    return f"multical-{suffix}" if kind == MarkerKind.BLOCK else f"multical-{kind}-{suffix}"


class CalDAVProvider(Provider):
    slug = "caldav"

    def __init__(
        self, *, server_url: str, username: str, password: str, time_zone: str = ""
    ) -> None:
        """``time_zone``: the owner's zone (an IANA name), for floating times in calendars that
        name no zone of their own; UTC when it is empty or unknown."""
        self.server_url = server_url
        self._session = DAVSession(username=username, password=password)
        self._etags: dict[str, str] = {}  # href → ETag of the objects this instance has seen
        self._reader = CalendarReader(self._session, self._etags, owner_zone=owner_zone(time_zone))

    @classmethod
    def from_secrets(cls, secrets: Mapping[str, str]) -> CalDAVProvider:
        return cls(
            server_url=secrets.get("server_url", ""),
            username=secrets.get("username", ""),
            password=secrets.get("password", ""),
            time_zone=secrets.get("time_zone", ""),
        )

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, auth challenges and redirects included."""
        return self._session.request_count

    @property
    def received_bytes(self) -> int:
        """Response body bytes received so far."""
        return self._session.received_bytes

    def close(self) -> None:
        self._session.close()

    def list_calendars(self) -> list[RemoteCalendar]:
        try:
            start = validate_url(self.server_url)
        except UnsafeURLError as error:
            raise ProviderError(str(error), permanent=True) from error
        principal_url = discovery.find_principal(self._session, start)
        return discovery.list_calendars(self._session, principal_url)

    def changes(self, calendar_id: str, cursor: str, window: Window) -> ChangeSet:
        return self._reader.changes(_collection(calendar_id), cursor, window)

    def report_progress(self, progress: ReadProgress | None) -> None:
        """A full read lists the window in time-range chunks: ``progress`` hears after each."""
        self._reader.report_progress(progress)

    def busy(
        self, calendar_ids: Sequence[str], window: Window, policy: BusyPolicy = DEFAULT_BUSY_POLICY
    ) -> list[Interval]:
        """Busy time from the events themselves (iCloud has no free-busy query), weighed by
        ``policy``."""
        return busy_intervals(
            (
                event
                for calendar_id in calendar_ids
                for event in self._reader.events(_collection(calendar_id), window)
            ),
            window,
            policy,
        )

    # The user's own events ------------------------------------------------------------------

    @classmethod
    def event_actions(cls) -> EventActions:
        return EventActions(scopes=frozenset(EditScope), replies=False, reply_note=NO_REPLIES)

    def get_event(self, calendar_id: str, event_id: str) -> EventDetail:
        url = _collection(calendar_id)
        loaded = self._load(url, self._ref(url, event_id))
        if loaded is None:
            raise ActionRefused(EVENT_GONE)
        return loaded.detail()

    def create_event(self, calendar_id: str, draft: EventDraft) -> EventDetail:
        """A new object ``<calendar>/<new UID>.ics``, written with If-None-Match: *."""
        url = _collection(calendar_id)
        uid, body = editing.new_object(draft)
        href = normalise_href(f"{uid}.ics", url)
        if not self._write("PUT", url, href, body, {"If-None-Match": "*"}):
            # A fresh random UID taken already: nothing was written, so trying again is safe.
            raise ProviderError(
                gettext_noop("The CalDAV server did not take the new event."), permanent=False
            )
        return self.get_event(calendar_id, href)

    def update_event(
        self,
        calendar_id: str,
        event_id: str,
        draft: EventDraft,
        *,
        scope: EditScope = EditScope.THIS,
        etag: str = "",
    ) -> EventDetail:
        return self._update(calendar_id, event_id, lambda _: draft, scope, etag)

    def move_event(
        self,
        calendar_id: str,
        event_id: str,
        start: datetime,
        end: datetime,
        *,
        scope: EditScope = EditScope.THIS,
        etag: str = "",
    ) -> EventDetail:
        """As ``update_event`` with the event's own content, read once (the default reads it
        for a draft first, a request more)."""
        return self._update(
            calendar_id,
            event_id,
            lambda loaded: moved_draft(loaded.event, start, end),
            scope,
            etag,
        )

    def _update(
        self,
        calendar_id: str,
        event_id: str,
        draft_for: Callable[[_Loaded], EventDraft],
        scope: EditScope,
        etag: str,
    ) -> EventDetail:
        url = _collection(calendar_id)
        ref = self._ref(url, event_id)
        for _ in range(2):
            loaded = self._load(url, ref)
            if loaded is None:
                raise ActionRefused(EVENT_GONE)
            self._check_editable(loaded, etag)
            with _edit_errors():
                change = editing.update(
                    loaded.calendar,
                    ref,
                    draft_for(loaded),
                    scope,
                    zone=loaded.read.zone,
                    collection=normalise_href(url, url),
                )
            if self._store(url, ref.href, change, etag or loaded.etag):
                return self.get_event(calendar_id, change.event_id)
            if etag:
                raise EventConflict()
        raise EventConflict()

    def remove_event(
        self, calendar_id: str, event_id: str, *, scope: EditScope = EditScope.THIS, etag: str = ""
    ) -> None:
        url = _collection(calendar_id)
        ref = self._ref(url, event_id)
        for _ in range(2):
            loaded = self._load(url, ref)
            if loaded is None:
                return  # gone already
            self._check_editable(loaded, etag)
            with _edit_errors():
                change = editing.remove(loaded.calendar, ref, scope, zone=loaded.read.zone)
            if self._store(url, ref.href, change, etag or loaded.etag):
                return
            if etag:
                raise EventConflict()
        raise EventConflict()

    def reply(self, calendar_id: str, event_id: str, response: Response) -> EventDetail:
        raise ActionRefused(NO_REPLIES)

    def _ref(self, url: str, event_id: str) -> editing.InstanceRef:
        try:
            ref = editing.InstanceRef.parse(event_id)
            return editing.InstanceRef(self._own_href(url, ref.href), ref.uid, ref.key)
        except ValueError:
            raise ActionRefused(EVENT_GONE) from None

    def _load(self, url: str, ref: editing.InstanceRef) -> _Loaded | None:
        """The object holding ``ref``, read now with its ETag; None when it or the instance is
        gone."""
        response = self._session.request("GET", urljoin(url, ref.href))
        if response.status in (404, 410):
            return None
        if response.status == 403:
            raise ActionRefused(
                gettext_noop("The server does not let this account read this event.")
            )
        if response.status != 200:
            raise ProviderError(
                gettext_noop("The CalDAV server did not give the event (HTTP %(status)s)."),
                permanent=False,
                params={"status": response.status},
            )
        etag = response.headers.get("ETag", "")
        if not etag or etag.startswith("W/"):
            # If-Match compares strong ETags only; the listing's may be one.
            etag = self._current_etag(url, ref.href) or ""
        try:
            calendar = editing.parse_object(response.body)
            window = editing.instance_window(calendar, ref)
            read = self._reader.read_object(url, ref.href, response.body, window)
        except editing.InstanceGone:
            return None
        except (editing.EditError, ICalendarError):
            raise ActionRefused(EVENT_UNREADABLE) from None
        event = next((event for event in read.events if event.id == ref.event_id), None)
        if event is None:
            return None
        return _Loaded(ref, etag, calendar, read, event)

    @staticmethod
    def _check_editable(loaded: _Loaded, etag: str) -> None:
        kind = editing.marker_kind(loaded.calendar)
        if kind == MarkerKind.BLOCK:
            raise ActionRefused(BLOCK_REFUSED)
        if kind == MarkerKind.BOOKING:
            raise ActionRefused(BOOKING_REFUSED)
        if etag and loaded.etag and etag != loaded.etag:
            raise EventConflict()

    def _store(self, url: str, href: str, change: editing.Change, etag: str) -> bool:
        """Write a change: a split-off series first (a new object), then the object itself with
        If-Match. False when the object changed meanwhile (then nothing is left changed)."""
        condition = {"If-Match": etag} if etag else {}
        new_href = ""
        if change.new_object is not None:
            uid, body = change.new_object
            new_href = normalise_href(f"{uid}.ics", url)
            if not self._write("PUT", url, new_href, body, {"If-None-Match": "*"}):
                return False
        try:
            if change.body is None:
                stored = self._write("DELETE", url, href, b"", condition)
            else:
                stored = self._write("PUT", url, href, change.body, condition)
        except ProviderError:
            self._undo(url, new_href)
            raise
        if not stored:
            self._undo(url, new_href)
        return stored

    def _undo(self, url: str, href: str) -> None:
        """Take back a split-off series whose original could not be ended (best effort: a
        failure here leaves the instances shown twice, never lost)."""
        if href:
            with contextlib.suppress(ProviderError):
                self._session.request("DELETE", urljoin(url, href))

    def _write(
        self, method: str, url: str, href: str, body: bytes, condition: Mapping[str, str]
    ) -> bool:
        """PUT or DELETE one of the user's events; False when ``condition`` failed (412)."""
        headers = {**_ICS_BODY, **condition} if method == "PUT" else dict(condition)
        response = self._session.request(method, urljoin(url, href), body=body, headers=headers)
        status = response.status
        self._etags.pop(href, None)
        if 200 <= status < 300:
            return True
        if status == 412:
            return False
        if status == 403:
            raise ActionRefused(EVENT_READ_ONLY)
        if status in (404, 410):
            if method == "DELETE":
                return True  # gone already
            if "If-None-Match" in condition:
                raise ProviderError(CALENDAR_GONE, permanent=True)
            raise ActionRefused(EVENT_GONE)
        if status == 409 and "If-None-Match" in condition:
            raise ProviderError(CALENDAR_GONE, permanent=True)
        raise ActionRefused(
            gettext_noop("The CalDAV server refused the change (HTTP %(status)s)."),
            params={"status": status},
        )

    # Blocks ---------------------------------------------------------------------------------

    def put_block(self, calendar_id: str, spec: BlockSpec, remote_id: str | None = None) -> str:
        """Create with If-None-Match: * (a retried create finds it and updates it), update with
        If-Match; a stale ETag is read again and tried once more."""
        url = _collection(calendar_id)
        uid = block_uid(spec.block_id, spec.kind)
        body = render_block(spec, uid=uid)
        etag: str | None
        if remote_id is None:
            href = normalise_href(f"{uid}.ics", url)
            if self._put(url, href, body, {"If-None-Match": "*"}):
                return href
            etag = None  # it exists: an earlier try got through
        else:
            href = self._own_href(url, remote_id)
            etag = self._etags.get(href)
        for _ in range(2):
            if etag is None:
                etag = self._current_etag(url, href)
            if etag is None:
                condition = {"If-None-Match": "*"}  # deleted meanwhile: put it back
            else:
                condition = {"If-Match": etag} if etag else {}
            if self._put(url, href, body, condition):
                return href
            etag = None
        raise ProviderError(
            gettext_noop(
                "The event kept changing on the server while we updated it; trying again later."
            ),
            permanent=False,
        )

    def find_block(
        self, calendar_id: str, block_id: str, *, kind: MarkerKind = MarkerKind.BLOCK
    ) -> str | None:
        url = _collection(calendar_id)
        href = normalise_href(f"{block_uid(block_id, kind)}.ics", url)
        if self._current_etag(url, href) is not None:
            return href
        # Not where we put it (another client moved it?): ask for our marker.
        response = self._session.request(
            "REPORT",
            url,
            body=property_query(MARKER_PROPERTIES[kind], block_id),
            headers={**XML_BODY, "Depth": "1"},
        )
        if response.status != 207:
            return None  # a server that cannot filter on our property
        try:
            answer = parse_multistatus(response.body)
        except NotMultistatusError:
            return None
        for found, data in self._reader.calendar_data(answer, url).items():
            if _carries_marker(data, MARKER_PROPERTIES[kind], block_id):
                return found
        return None

    def delete_event(self, calendar_id: str, remote_id: str) -> None:
        url = _collection(calendar_id)
        href = self._own_href(url, remote_id)
        etag = self._etags.pop(href, "")
        response = self._session.request(
            "DELETE", urljoin(url, href), headers={"If-Match": etag} if etag else {}
        )
        if response.status == 412:
            # Changed since we saw it (someone edited our block): it is still ours to delete.
            response = self._session.request("DELETE", urljoin(url, href))
        if response.status in (404, 410) or 200 <= response.status < 300:
            return
        if response.status == 403:
            raise ProviderError(READ_ONLY, permanent=True)
        raise ProviderError(
            gettext_noop("The server refused to delete the event (HTTP %(status)s)."),
            permanent=False,
            params={"status": response.status},
        )

    def _put(self, url: str, href: str, body: bytes, condition: Mapping[str, str]) -> bool:
        """True once stored; False when the condition failed (412)."""
        response = self._session.request(
            "PUT", urljoin(url, href), body=body, headers={**_ICS_BODY, **condition}
        )
        if response.status == 412:
            self._etags.pop(href, None)
            return False
        if response.status == 403:
            raise ProviderError(READ_ONLY, permanent=True)
        if response.status in (404, 409):
            raise ProviderError(CALENDAR_GONE, permanent=True)
        if not 200 <= response.status < 300:
            raise ProviderError(
                gettext_noop("The server refused the event (HTTP %(status)s)."),
                permanent=False,
                params={"status": response.status},
            )
        # A server that changed what we sent gives no strong ETag; then we read it when needed.
        etag = response.headers.get("ETag", "")
        if etag and not etag.startswith("W/"):
            self._etags[href] = etag
        else:
            self._etags.pop(href, None)
        return True

    def _current_etag(self, url: str, href: str) -> str | None:
        """The object's ETag; "" when it exists without one; None when it does not exist."""
        response = self._session.request(
            "PROPFIND",
            urljoin(url, href),
            body=propfind([(DAV, "getetag")]),
            headers={**XML_BODY, "Depth": "0"},
        )
        entry = first(expect_multistatus(response)) if response.status not in (404, 410) else None
        # Xandikos answers 207 with a 404 inside for a missing object.
        if entry is None or entry.status in (404, 410):
            self._etags.pop(href, None)
            return None
        etag = entry.text(DAV, "getetag")
        if etag:
            self._etags[href] = etag
        return etag

    @staticmethod
    def _own_href(url: str, remote_id: str) -> str:
        href = normalise_href(remote_id, url)
        if href.endswith("/") or not href.startswith(normalise_href(url, url)):
            raise ValueError("The remote id is not an object of this calendar.")
        return href


@dataclass(frozen=True, slots=True)
class _Loaded:
    """One of the user's events as read now, in memory only."""

    ref: editing.InstanceRef
    etag: str
    calendar: icalendar.Calendar  # the object, for editing
    read: ObjectRead
    event: RemoteEvent

    def detail(self) -> EventDetail:
        return EventDetail(
            event=self.event,
            etag=self.etag,
            recurring=self.ref.recurring,
            organizer=editing.organised_by(self.calendar, self.ref, self.read.addresses),
            can_reply=False,
        )


@contextlib.contextmanager
def _edit_errors() -> Iterator[None]:
    """What ``editing`` cannot do, said to the user; its errors carry no event content."""
    try:
        yield
    except editing.Unsupported as error:
        raise ActionRefused(str(error)) from None
    except editing.InstanceGone:
        raise ActionRefused(EVENT_GONE) from None
    except editing.EditError:
        raise ActionRefused(EVENT_UNREADABLE) from None


def _collection(calendar_id: str) -> str:
    return calendar_id if calendar_id.endswith("/") else f"{calendar_id}/"


def _carries_marker(data: bytes, marker: str, block_id: str) -> bool:
    try:
        calendar = parse_calendar(data)
    except ICalendarError:
        return False
    return any(str(event.get(marker, "")).strip() == block_id for event in calendar.walk("VEVENT"))
