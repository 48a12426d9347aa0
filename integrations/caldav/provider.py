"""CalDAV: Apple iCloud and any CalDAV server, one class.

iCloud is this class with ``https://caldav.icloud.com/``; discovery leads to the account's own host.

Ids. A calendar's remote id is its collection URL. An event's ``series_id`` is its object's href
path (an object holds one UID, so one series); a single event's ``id`` is that href too, and the
instances of a recurring event are ``<href>|<UID>/<original start>``. A block we write lives at
``<calendar>/<uid>.ics`` with a UID derived from the block id, and its remote id is that href, the
same string as its event id when it is read back. A booking's event is written the same way, with
its own marker property and a UID of its own. Reading is in ``sync``, discovery in
``discovery``, HTTP and the outbound guard in ``dav``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from urllib.parse import urljoin

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
from integrations.caldav import discovery
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
from integrations.caldav.sync import CalendarReader
from integrations.ical import (
    MARKER_PROPERTIES,
    ICalendarError,
    owner_zone,
    parse_calendar,
    render_block,
)
from multical.lib.safe_http import UnsafeURLError, validate_url

READ_ONLY = "This calendar is read-only: the server refused the change."
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
            "The event kept changing on the server while we updated it; trying again later.",
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
            f"The server refused to delete the event (HTTP {response.status}).", permanent=False
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
                f"The server refused the event (HTTP {response.status}).", permanent=False
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


def _collection(calendar_id: str) -> str:
    return calendar_id if calendar_id.endswith("/") else f"{calendar_id}/"


def _carries_marker(data: bytes, marker: str, block_id: str) -> bool:
    try:
        calendar = parse_calendar(data)
    except ICalendarError:
        return False
    return any(str(event.get(marker, "")).strip() == block_id for event in calendar.walk("VEVENT"))
