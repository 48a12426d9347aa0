"""A stateful fake of Google Calendar v3 and Google's OAuth endpoints, on loopback.

The production client (google-api-python-client over httplib2, google-auth for refreshes,
google-auth-oauthlib for connecting) talks to it unmodified: the ``google_fake`` fixture points
``GOOGLE_API_ENDPOINT``, ``GOOGLE_AUTH_URI`` and ``GOOGLE_TOKEN_URI`` at it. It keeps the semantics
the provider relies on, with Google's JSON shapes:

- calendarList.list and events.list with ``pageToken`` paging (``page_size`` caps ``maxResults``,
  so tests can force several pages), ``timeMin``/``timeMax``, ``showDeleted``,
  ``privateExtendedProperty`` and ``singleEvents`` (DAILY/WEEKLY RRULEs with COUNT, instance ids
  ``<id>_<YYYYMMDDTHHMMSSZ>``, moved and cancelled instances as exceptions);
- sync tokens: issued on the last page only; a later list with one returns every instance changed
  since (cancelled instances as ``id``/``recurringEventId``/``originalStartTime`` only, deleted
  events as ``id``/``status`` only); an unknown or invalidated token answers 410; combining one
  with ``timeMin``/``timeMax``/``q``/… answers 400, as Google does;
- events.insert with a client-chosen id (base32hex, 409 when it exists, deleted or not),
  get/update/patch/delete (410 when deleted already), 403 ``requiredAccessLevel`` on writes to
  read-only calendars;
- recurring events (developers.google.com/workspace/calendar/api/guides/recurringevents):
  instances are written and deleted through their instance ids (the change becomes an exception
  carrying ``recurringEventId`` and ``originalStartTime``), a series through its master; RRULE
  ``UNTIL`` (inclusive, a UTC date-time or a date, RFC 5545 3.3.10) ends a series, which is how
  "this and following" is done: trim the original with UNTIL, insert a new series. events.instances
  (…/api/v3/reference/events/instances) lists a series' instances with ``originalStart``,
  ``timeMin``/``timeMax``, ``showDeleted``, ``maxResults`` and paging; a timed recurring event
  without ``timeZone`` is refused with 400 (the event resource: "For recurring events this field
  is required"), as is a ``dateTime`` without offset or zone, and an end before its start
  (400 ``timeRangeEmpty``, …/api/guides/errors);
- writes through the API: patch semantics as Google documents them (…/api/v3/reference/events/patch
  and …/api/guides/performance: objects merge field by field, arrays replace the whole array, a
  null deletes the field), update replaces the resource; ``If-Match`` with a stale etag answers
  412 ``conditionNotMet`` and changes nothing (…/api/guides/version-resources), for update, patch
  and delete alike; attendees' ``self`` and ``organizer`` are read-only and worked out again from
  the calendar and the organizer (the event resource), and an invitee's copy cannot change the
  shared properties (403 ``forbiddenForNonOrganizer``, …/api/guides/errors); ``sendUpdates`` is
  recorded with the request's query;
- partial responses: ``fields`` (``items(id,start),nextPageToken``, ``a/b``) trims any answer to
  the fields asked for, so a mask that leaves out something the provider reads shows in tests;
- events.watch and channels.stop (channels recorded): every channel on a calendar gets the
  calendar's one ``resourceId``, as Google gives it, so only the channel id tells two channels
  apart; channels.stop needs both and answers 404 otherwise;
- the consent screen at ``/o/oauth2/v2/auth`` (a plain HTML page listing the requested scopes,
  with Allow and Deny): Allow redirects to the ``redirect_uri`` with a one-time ``code``, the
  ``state`` and the granted ``scope``; Deny with ``error=access_denied``. ``authorize`` is the same
  consent without a browser;
- the token endpoint, with the client's secret in the form or as HTTP Basic: the
  authorization_code grant (a code works once, for its own ``redirect_uri`` and PKCE S256
  ``code_verifier``; the answer has access and refresh tokens and an unsigned but well-formed id
  token for the account) and the refresh_token grant (a revoked refresh token gets 400
  ``invalid_grant``); 401 for an unknown access token, and a switch answering the next requests
  403 ``rateLimitExceeded`` or 429 with ``Retry-After``.

Every API request is recorded (``requests``, with the If-Match header of a conditional write),
token requests are counted apart. ``fail_next`` can aim at some methods only (a failing PATCH after
a successful read). Helpers change the state as another client would (``add_event``,
``add_invitation`` for an invitee's copy organised by someone else, ``edit_event``,
``move_instance``, ``cancel_instance``, ``delete_event``; they write without the API's checks, as
a shallow patch) and send push notifications (``push``).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import html
import json
import re
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, unquote_plus, urlencode, urlsplit
from zoneinfo import ZoneInfo

import pytest

from tests.fakes.faults import WriteFaults, serve_write

API_PREFIX = "/calendar/v3/"
AUTH_PATH = "/o/oauth2/v2/auth"
TOKEN_PATH = "/token"
ISSUER = "https://accounts.google.com"
BASE32HEX = frozenset("abcdefghijklmnopqrstuv0123456789")
# Parameters Google refuses next to a syncToken.
NOT_WITH_SYNC_TOKEN = (
    "timeMin",
    "timeMax",
    "q",
    "orderBy",
    "updatedMin",
    "iCalUID",
    "privateExtendedProperty",
    "sharedExtendedProperty",
)
CHANNEL_LIFETIME = timedelta(days=7)
# Event writes: insert, update, patch, delete (not watch, nor channels.stop).
_EVENT_WRITE = re.compile(rf"{API_PREFIX}calendars/[^/]+/events(/[^/]+)?")


class FakeError(Exception):
    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        *,
        domain: str = "global",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.domain = status, reason, message, domain
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "errors": [{"domain": self.domain, "reason": self.reason, "message": self.message}],
                "code": self.status,
                "message": self.message,
            }
        }


@dataclass
class Entry:
    """One instance (or single event) as events.list with singleEvents=true shows it."""

    seq: int
    resource: dict[str, Any]
    start: datetime
    end: datetime


@dataclass
class FakeCalendar:
    id: str
    summary: str
    time_zone: str = "UTC"
    background_color: str = "#9fe1e7"
    access_role: str = "owner"
    summary_override: str = ""
    # Stored resources: single events, recurring masters and exceptions (moved/cancelled instances).
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Instance id → latest state, with the change counter that produced it (the change log).
    view: dict[str, Entry] = field(default_factory=dict)
    seq: int = 0
    # What Google names the watched resource: the calendar's events, the same for every channel.
    resource_id: str = field(default_factory=lambda: "res-" + secrets.token_hex(12))

    @property
    def writable(self) -> bool:
        return self.access_role in ("owner", "writer")

    def list_entry(self) -> dict[str, Any]:
        entry = {
            "kind": "calendar#calendarListEntry",
            "etag": f'"{abs(hash(self.id)) % 10**12}"',
            "id": self.id,
            "summary": self.summary,
            "timeZone": self.time_zone,
            "colorId": "14",
            "backgroundColor": self.background_color,
            "foregroundColor": "#000000",
            "accessRole": self.access_role,
            "defaultReminders": [],
        }
        if self.summary_override:
            entry["summaryOverride"] = self.summary_override
        return entry


@dataclass
class Channel:
    id: str
    resource_id: str
    calendar_id: str
    address: str
    token: str
    expiration: datetime


@dataclass
class IssuedCode:
    """An authorization code not yet redeemed, and what it was issued for."""

    challenge: str
    redirect_uri: str
    scope: str
    email: str


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any = None
    # The If-Match header of a conditional write, when there was one.
    if_match: str | None = None


@dataclass
class _Listing:
    """The rest of a paged listing: a snapshot taken at the first page, as Google pages."""

    calendar_id: str
    items: list[dict[str, Any]]
    page_size: int
    sync_seq: int | None


def _now() -> datetime:
    return datetime.now(UTC)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _refused(error: str, description: str) -> tuple[int, dict, Any]:
    """A token endpoint's 400 answer."""
    return 400, {}, {"error": error, "error_description": description}


def _with_query(uri: str, params: dict[str, str]) -> str:
    return f"{uri}{'&' if '?' in uri else '?'}{urlencode(params)}"


def _consent_page(consent_id: str, request: dict[str, str], email: str) -> str:
    scopes = "".join(f"<li>{html.escape(scope)}</li>" for scope in request["scope"].split())
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in - Google Accounts</title></head>
<body>
<h1>Multical wants access to your Google Account</h1>
<p>Signed in as {html.escape(email)}</p>
<p>This will allow Multical ({html.escape(request["client_id"])}) to:</p>
<ul>{scopes}</ul>
<form method="post" action="{AUTH_PATH}">
<input type="hidden" name="consent" value="{html.escape(consent_id)}">
<button type="submit" name="decision" value="deny">Deny</button>
<button type="submit" name="decision" value="allow">Allow</button>
</form>
</body>
</html>
"""


def _error_page(error: FakeError) -> str:
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Error {error.status}: {html.escape(error.reason)}</title></head>
<body><h1>Error {error.status}: {html.escape(error.reason)}</h1><p>{html.escape(error.message)}</p></body>
</html>
"""


def _stamp(moment: datetime | None = None) -> str:
    return (moment or _now()).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parse_when(when: dict[str, Any]) -> tuple[datetime, bool]:
    """A start/end object as an aware UTC datetime (dates at midnight UTC) and an all-day flag."""
    if "date" in when:
        return datetime.combine(date.fromisoformat(when["date"]), time.min, UTC), True
    moment = datetime.fromisoformat(when["dateTime"])
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(when.get("timeZone") or "UTC"))
    return moment.astimezone(UTC), False


def _when(value: datetime | date, time_zone: str | None = None) -> dict[str, str]:
    if not isinstance(value, datetime):
        return {"date": value.isoformat()}
    when = {"dateTime": value.isoformat()}
    if time_zone:
        when["timeZone"] = time_zone
    return when


def _zone_of(when: dict[str, Any]) -> tzinfo:
    if when.get("timeZone"):
        return ZoneInfo(when["timeZone"])
    return datetime.fromisoformat(when["dateTime"]).tzinfo or UTC


def _rrule(event: dict[str, Any]) -> tuple[timedelta, int, datetime | date | None]:
    """(step, count, until) of the event's RRULE: DAILY or WEEKLY with INTERVAL, COUNT and UNTIL.

    UNTIL is inclusive (RFC 5545 3.3.10): a UTC date-time (``20300128T075959Z``) or a date
    (``20300127``); without COUNT or UNTIL the fake stops at 100 instances."""
    for line in event.get("recurrence", []):
        if line.startswith("RRULE:"):
            parts = dict(part.split("=", 1) for part in line[6:].split(";"))
            unit = {"DAILY": timedelta(days=1), "WEEKLY": timedelta(weeks=1)}[parts["FREQ"]]
            until: datetime | date | None = None
            if "UNTIL" in parts:
                value = parts["UNTIL"]
                if len(value) == 8:
                    until = datetime.strptime(value, "%Y%m%d").date()
                elif value.endswith("Z"):
                    until = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
                else:
                    raise FakeError(400, "invalid", "Invalid recurrence rule.")
            count = int(parts.get("COUNT", "100"))
            return unit * int(parts.get("INTERVAL", "1")), count, until
    raise FakeError(400, "invalid", "Only DAILY/WEEKLY RRULEs are supported by the fake.")


def _within(moment: datetime | date, until: datetime | date | None) -> bool:
    if until is None:
        return True
    if isinstance(until, datetime):
        if isinstance(moment, datetime):
            return moment <= until
        return moment <= until.date()
    return (moment.date() if isinstance(moment, datetime) else moment) <= until


def instance_id(master_id: str, original_start: datetime | date) -> str:
    """Google's id of one instance of a recurring event."""
    if isinstance(original_start, datetime):
        return f"{master_id}_{original_start.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return f"{master_id}_{original_start:%Y%m%d}"


def _occurrences(master: dict[str, Any]) -> Iterator[tuple[str, dict, dict, dict]]:
    """(instance id, originalStartTime, start, end) of every instance of a recurring master."""
    step, count, until = _rrule(master)
    start, end = master["start"], master["end"]
    if "date" in start:
        first, last = date.fromisoformat(start["date"]), date.fromisoformat(end["date"])
        for k in range(count):
            day = first + step * k
            if not _within(day, until):
                return
            when = {"date": day.isoformat()}
            yield (
                instance_id(master["id"], day),
                when,
                when,
                {"date": (last + step * k).isoformat()},
            )
        return
    zone = _zone_of(start)
    local_start = datetime.fromisoformat(start["dateTime"]).astimezone(zone).replace(tzinfo=None)
    duration = datetime.fromisoformat(end["dateTime"]) - datetime.fromisoformat(start["dateTime"])
    for k in range(count):
        # Wall-clock steps in the event's zone, as Google expands across DST changes.
        moment = (local_start + step * k).replace(tzinfo=zone)
        if not _within(moment, until):
            return
        when = _when(moment, start.get("timeZone"))
        yield (
            instance_id(master["id"], moment),
            when,
            when,
            _when((moment + duration).astimezone(zone), end.get("timeZone")),
        )


def _field_tree(mask: str) -> dict[str, Any]:
    """A ``fields`` mask as a tree: name → subtree, or None for the whole value."""
    tree, end = _field_list(mask, 0)
    if end != len(mask):
        raise FakeError(400, "invalidParameter", "Invalid field selection " + mask)
    return tree


def _field_list(mask: str, at: int) -> tuple[dict[str, Any], int]:
    """The comma-separated selections from ``at`` up to a closing parenthesis or the end."""
    tree: dict[str, Any] = {}
    while True:
        end = at
        while end < len(mask) and mask[end] not in ",()":
            end += 1
        path = mask[at:end].strip().split("/")
        if not all(path):
            raise FakeError(400, "invalidParameter", "Invalid field selection " + mask)
        selection: dict[str, Any] | None = None
        if end < len(mask) and mask[end] == "(":
            selection, end = _field_list(mask, end + 1)
            if end >= len(mask) or mask[end] != ")":
                raise FakeError(400, "invalidParameter", "Invalid field selection " + mask)
            end += 1
        for name in reversed(path):
            selection = {name: selection}
        _merge_fields(tree, selection)
        if end < len(mask) and mask[end] == ",":
            at = end + 1
            continue
        return tree, end


def _merge_fields(tree: dict[str, Any], extra: dict[str, Any]) -> None:
    for name, selection in extra.items():
        if name not in tree:
            tree[name] = selection
        elif tree[name] is None or selection is None:
            tree[name] = None  # the whole value wins over a part of it
        else:
            _merge_fields(tree[name], selection)


def _partial(value: Any, tree: dict[str, Any] | None) -> Any:
    """``value`` with only the fields in ``tree`` (lists: each element trimmed)."""
    if tree is None:
        return value
    if isinstance(value, list):
        return [_partial(item, tree) for item in value]
    if isinstance(value, dict):
        return {name: _partial(value[name], sub) for name, sub in tree.items() if name in value}
    return value


def _tombstone(resource: dict[str, Any]) -> dict[str, Any]:
    """What a sync read shows of a deleted event or cancelled instance: ids only, no content."""
    dead = {"kind": "calendar#event", "etag": resource.get("etag", '"0"'), "id": resource["id"]}
    dead["status"] = "cancelled"
    if "recurringEventId" in resource:
        dead["recurringEventId"] = resource["recurringEventId"]
        dead["originalStartTime"] = resource["originalStartTime"]
    return dead


# Shared properties of an event: only the organizer's copy may change them.
SHARED_PROPERTIES = ("guestsCanInviteOthers", "guestsCanModify", "guestsCanSeeOtherGuests")


def _check_etag(resource: dict[str, Any], if_match: str | None) -> None:
    """A conditional write (``If-Match``) to a resource whose etag moved on: 412."""
    if if_match is not None and if_match not in ("*", resource.get("etag")):
        raise FakeError(412, "conditionNotMet", "Precondition Failed")


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return copy.deepcopy(value)


def _merge_patch(stored: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Google's patch semantics: objects merge field by field, arrays and plain values replace,
    and a null deletes the field."""
    merged = copy.deepcopy(stored)
    for name, value in body.items():
        if value is None:
            merged.pop(name, None)
        elif isinstance(value, dict) and isinstance(merged.get(name), dict):
            merged[name] = _merge_patch(merged[name], value)
        else:
            merged[name] = _without_nulls(value)
    return merged


def _check_times(resource: dict[str, Any]) -> None:
    """Start and end as Google checks them on a write through the API."""
    bounds = []
    for name in ("start", "end"):
        when = resource.get(name)
        if not isinstance(when, dict):
            raise FakeError(400, "required", f"Missing {name} time.")
        if ("date" in when) == ("dateTime" in when):
            raise FakeError(400, "invalid", f"Invalid {name} time.")
        # A zone is needed for a time without an offset, and always for a recurring event
        # (the zone its series is expanded in).
        zoneless = "dateTime" in when and not when.get("timeZone")
        if zoneless and (
            "recurrence" in resource or datetime.fromisoformat(when["dateTime"]).tzinfo is None
        ):
            raise FakeError(400, "invalid", f"Missing time zone definition for {name} time.")
        bounds.append(_parse_when(when))
    (start, all_day), (end, end_all_day) = bounds
    if all_day != end_all_day or end < start or (all_day and end == start):
        raise FakeError(
            400, "timeRangeEmpty", "The specified time range is empty.", domain="calendar"
        )


def _mark_attendees(calendar: FakeCalendar, resource: dict[str, Any]) -> None:
    """``self`` and ``organizer`` on attendees are read-only: Google works them out from the
    calendar the copy is in and the event's organizer, whatever the client sent."""
    organizer = str(resource.get("organizer", {}).get("email", "")).lower()
    for attendee in resource.get("attendees", []):
        email = str(attendee.get("email", "")).lower()
        if not email:
            raise FakeError(400, "required", "Missing attendee email.")
        attendee.pop("self", None)
        attendee.pop("organizer", None)
        if email == calendar.id.lower():
            attendee["self"] = True
        if email == organizer:
            attendee["organizer"] = True
        attendee.setdefault("responseStatus", "needsAction")


def _refuse_shared_changes(stored: dict[str, Any], body: dict[str, Any]) -> None:
    """A write to an invitee's copy that changes a shared property: 403."""
    for name in SHARED_PROPERTIES:
        if name in body and body[name] != stored.get(name):
            raise FakeError(
                403,
                "forbiddenForNonOrganizer",
                "Shared properties can only be changed by the organizer of the event.",
                domain="calendar",
            )


def _rfc3339(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise FakeError(400, "badRequest", "Bad Request")
    return moment


def _same_original_start(original: dict[str, Any], wanted: str) -> bool:
    if "date" in original:
        return original["date"] == wanted[:10]
    return _parse_when(original)[0] == _rfc3339(wanted)


class GoogleFake:
    """The state of one fake Google account, its calendars and channels."""

    client_id = "fake-client-id.apps.googleusercontent.com"
    client_secret = "fake-client-secret"

    instance_id = staticmethod(instance_id)

    def __init__(self) -> None:
        self.url = ""
        self.lock = threading.RLock()
        # One address per fake, so per-account pacing counters never carry over between tests.
        self.email = f"owner.{secrets.token_hex(4)}@example.com"
        self.calendars: dict[str, FakeCalendar] = {}
        self.refresh_tokens: set[str] = set()
        self.access_tokens: set[str] = set()
        # Consent screens shown and not answered yet, and codes issued and not redeemed yet.
        self.consents: dict[str, dict[str, str]] = {}
        self.codes: dict[str, IssuedCode] = {}
        self.code_redemptions = 0
        self.sync_tokens: dict[str, tuple[str, int]] = {}
        self.listings: dict[str, _Listing] = {}
        self.channels: dict[str, Channel] = {}
        self.stopped_channels: list[str] = []
        self.requests: list[RecordedRequest] = []
        # Faults injected into event writes (tests/fakes/faults.py).
        self.faults = WriteFaults()
        self.token_requests = 0
        # Caps every page (Google's own cap is maxResults, at most 2500).
        self.page_size = 2500
        self._failures: list[tuple[int, str, float | None, tuple[str, ...]]] = []
        self._counter = 0

    # Accounts and tokens ----------------------------------------------------------------------

    def grant(self, *, expired: bool = False) -> dict[str, str]:
        """A fresh authorization, as the OAuth callback would seal it: the provider's secrets."""
        with self.lock:
            refresh, access = self._token("1//rt-"), self._token("ya29.at-")
            self.refresh_tokens.add(refresh)
            if not expired:
                self.access_tokens.add(access)
        expires_at = _now() + (timedelta(minutes=-5) if expired else timedelta(hours=1))
        return {
            "refresh_token": refresh,
            "access_token": access,
            "expires_at": expires_at.isoformat(),
            "email": self.email,
        }

    def authorize(
        self, auth_url: str, *, email: str = "", granted_scope: str | None = None
    ) -> dict[str, str]:
        """The user consents at ``auth_url`` (as the consent screen's Allow does): the query Google
        sends back to the redirect URI. ``email`` is the account they sign in with (this fake's by
        default), ``granted_scope`` what they left ticked (everything requested by default)."""
        split = urlsplit(auth_url)
        assert f"{split.scheme}://{split.netloc}{split.path}" == self.url + AUTH_PATH, auth_url
        with self.lock:
            request = self._authorization_request(parse_qs(split.query))
            return self._issue_code(request, email=email or self.email, scope=granted_scope)

    def revoke(self, refresh_token: str) -> None:
        """The user removed our access in their Google account."""
        with self.lock:
            self.refresh_tokens.discard(refresh_token)
            self.access_tokens.clear()

    def expire_access_tokens(self) -> None:
        """Every access token stops working (an early expiry, a password change)."""
        with self.lock:
            self.access_tokens.clear()

    def invalidate_sync_tokens(self) -> None:
        """Google forgets every sync token: the next incremental read gets 410."""
        with self.lock:
            self.sync_tokens.clear()

    def fail_next(
        self,
        count: int,
        *,
        status: int = 403,
        reason: str = "",
        retry_after: float | None = None,
        methods: tuple[str, ...] = (),
    ) -> None:
        """Answer the next ``count`` API requests (of ``methods`` only, when given: ``("PATCH",)``
        lets the reads before a write through) with an error: by default 403 rateLimitExceeded;
        429 is Too Many Requests; any other status (a 503) works too."""
        reason = reason or {403: "rateLimitExceeded", 429: "rateLimitExceeded"}.get(
            status, "backendError"
        )
        with self.lock:
            self._failures.extend([(status, reason, retry_after, methods)] * count)

    @property
    def request_count(self) -> int:
        return len(self.requests)

    # Calendars and events, as another client ---------------------------------------------------

    def add_calendar(
        self,
        calendar_id: str,
        summary: str,
        *,
        access_role: str = "owner",
        time_zone: str = "UTC",
        color: str = "#9fe1e7",
        summary_override: str = "",
    ) -> FakeCalendar:
        with self.lock:
            calendar = FakeCalendar(
                calendar_id, summary, time_zone, color, access_role, summary_override
            )
            self.calendars[calendar_id] = calendar
            return calendar

    def add_event(
        self,
        calendar_id: str,
        summary: str,
        start: datetime | date,
        end: datetime | date,
        *,
        event_id: str | None = None,
        time_zone: str | None = None,
        recurrence: list[str] | None = None,
        **extra: Any,
    ) -> str:
        """Create an event; ``extra`` holds further fields in Google's names (``attendees``…)."""
        body: dict[str, Any] = {
            "summary": summary,
            "start": _when(start, time_zone),
            "end": _when(end, time_zone),
            **extra,
        }
        if event_id:
            body["id"] = event_id
        if recurrence:
            body["recurrence"] = recurrence
        with self.lock:
            return self._insert(self._calendar(calendar_id), body)["id"]

    def add_invitation(
        self,
        calendar_id: str,
        summary: str,
        start: datetime | date,
        end: datetime | date,
        *,
        organizer: str = "boss@example.com",
        response: str = "needsAction",
        time_zone: str | None = None,
        recurrence: list[str] | None = None,
        **extra: Any,
    ) -> str:
        """An invitation from ``organizer`` as it lands in ``calendar_id``: the invitee's copy,
        organised by someone else, with the calendar among the attendees (``self``) answering
        ``response``. Google puts it there (as events.import would); its organizer cannot be set
        through insert."""
        attendees = [
            {"email": organizer, "organizer": True, "responseStatus": "accepted"},
            {"email": "colleague@example.com", "responseStatus": "tentative"},
            {"email": calendar_id, "self": True, "responseStatus": response},
        ]
        body: dict[str, Any] = {
            "summary": summary,
            "start": _when(start, time_zone),
            "end": _when(end, time_zone),
            "attendees": attendees,
            **extra,
        }
        if recurrence:
            body["recurrence"] = recurrence
        with self.lock:
            calendar = self._calendar(calendar_id)
            return self._insert(calendar, body, organizer={"email": organizer})["id"]

    def edit_event(self, calendar_id: str, event_id: str, **changes: Any) -> None:
        """Change fields of an event, a series (all instances) or one instance (an exception).

        ``start``/``end`` may be datetimes; other fields are in Google's names.
        """
        time_zone = changes.pop("time_zone", None)
        for name in ("start", "end"):
            if isinstance(changes.get(name), datetime | date):
                changes[name] = _when(changes[name], time_zone)
        with self.lock:
            self._write(self._calendar(calendar_id), event_id, changes, patch=True)

    def move_instance(
        self, calendar_id: str, instance: str, start: datetime, end: datetime
    ) -> None:
        self.edit_event(calendar_id, instance, start=start, end=end)

    def cancel_instance(self, calendar_id: str, instance: str) -> None:
        self.delete_event(calendar_id, instance)

    def delete_event(self, calendar_id: str, event_id: str) -> None:
        with self.lock:
            self._delete(self._calendar(calendar_id), event_id)

    def event(self, calendar_id: str, event_id: str) -> dict[str, Any]:
        """The stored resource (or generated instance) of an event, as events.get returns it."""
        with self.lock:
            return copy.deepcopy(self._get(self._calendar(calendar_id), event_id))

    def live_events(self, calendar_id: str) -> list[dict[str, Any]]:
        """Every instance that is not cancelled, in start order."""
        with self.lock:
            entries = self._calendar(calendar_id).view.values()
            live = [e for e in entries if e.resource.get("status") != "cancelled"]
            return [copy.deepcopy(e.resource) for e in sorted(live, key=lambda e: e.start)]

    # Push ----------------------------------------------------------------------------------------

    def notification_headers(
        self,
        channel_id: str,
        state: str = "exists",
        *,
        token: str | None = None,
        resource_id: str | None = None,
    ) -> dict[str, str]:
        """The headers of a notification on ``channel_id`` (its own token and resource by default)."""
        channel = self.channels.get(channel_id)
        headers = {
            "X-Goog-Channel-ID": channel_id,
            "X-Goog-Channel-Token": channel.token if channel else "",
            "X-Goog-Resource-ID": channel.resource_id if channel else "",
            "X-Goog-Resource-State": state,
            "X-Goog-Message-Number": str(self._tick()),
        }
        if channel:
            headers["X-Goog-Resource-URI"] = (
                f"{self.url}{API_PREFIX}calendars/{channel.calendar_id}/events?alt=json"
            )
            headers["X-Goog-Channel-Expiration"] = channel.expiration.strftime(
                "%a, %d %b %Y %H:%M:%S GMT"
            )
        if token is not None:
            headers["X-Goog-Channel-Token"] = token
        if resource_id is not None:
            headers["X-Goog-Resource-ID"] = resource_id
        return headers

    def push(self, channel_id: str, state: str = "exists", **overrides: str) -> int:
        """POST a notification (no body) to the channel's address; the HTTP status it got."""
        headers = self.notification_headers(channel_id, state, **overrides)
        request = urllib.request.Request(  # noqa: S310 - the address the test gave watch
            self.channels[channel_id].address, data=b"", headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    # Internals -----------------------------------------------------------------------------------

    def _tick(self) -> int:
        self._counter += 1
        return self._counter

    def _token(self, prefix: str) -> str:
        return prefix + secrets.token_hex(12)

    def _calendar(self, calendar_id: str) -> FakeCalendar:
        calendar = self.calendars.get(calendar_id)
        if calendar is None:
            raise FakeError(404, "notFound", "Not Found")
        return calendar

    def _writable(self, calendar_id: str) -> FakeCalendar:
        calendar = self._calendar(calendar_id)
        if not calendar.writable:
            raise FakeError(
                403, "requiredAccessLevel", "You need to have writer access to this calendar."
            )
        return calendar

    def _expand(self, calendar: FakeCalendar) -> dict[str, tuple[dict, datetime, datetime]]:
        out: dict[str, tuple[dict, datetime, datetime]] = {}
        for event in calendar.events.values():
            if "recurringEventId" in event:
                continue  # an exception: shown in place of its generated instance
            if "recurrence" not in event:
                shown = _tombstone(event) if event["status"] == "cancelled" else event
                out[event["id"]] = (
                    shown,
                    _parse_when(event["start"])[0],
                    _parse_when(event["end"])[0],
                )
                continue
            for key, original, start, end in _occurrences(event):
                instance = calendar.events.get(key)
                if instance is None:
                    instance = {k: v for k, v in event.items() if k not in ("recurrence", "id")}
                    instance.update(
                        id=key,
                        recurringEventId=event["id"],
                        originalStartTime=original,
                        start=start,
                        end=end,
                    )
                if event["status"] == "cancelled" or instance.get("status") == "cancelled":
                    instance = _tombstone(instance)
                shown_start, shown_end = start, end
                if "start" in instance:
                    shown_start, shown_end = instance["start"], instance["end"]
                out[key] = (
                    instance,
                    _parse_when(shown_start)[0],
                    _parse_when(shown_end)[0],
                )
        return out

    def _commit(self, calendar: FakeCalendar) -> None:
        """Log every instance whose shown state changed, in one change each."""
        current = self._expand(calendar)
        for key in sorted(set(calendar.view) | set(current)):
            before = calendar.view.get(key)
            if key in current:
                resource, start, end = current[key]
                if before is None or before.resource != resource:
                    calendar.seq += 1
                    calendar.view[key] = Entry(calendar.seq, copy.deepcopy(resource), start, end)
            elif before is not None and before.resource.get("status") != "cancelled":
                # No longer generated (the series moved or shrank): gone, as Google reports it.
                calendar.seq += 1
                calendar.view[key] = Entry(
                    calendar.seq, _tombstone(before.resource), before.start, before.end
                )

    def _stamp_write(self, resource: dict[str, Any]) -> None:
        resource["etag"] = f'"{3_000_000_000_000 + self._tick()}"'
        resource["updated"] = _stamp()

    def _insert(
        self,
        calendar: FakeCalendar,
        body: dict[str, Any],
        *,
        organizer: dict[str, Any] | None = None,
        via_api: bool = False,
    ) -> dict[str, Any]:
        if via_api:
            body = _without_nulls(body)
        event_id = body.get("id") or secrets.token_hex(13)
        if not (5 <= len(event_id) <= 1024 and set(event_id) <= BASE32HEX):
            raise FakeError(400, "invalid", "Invalid resource id value.")
        if event_id in calendar.events or event_id in calendar.view:
            raise FakeError(409, "duplicate", "The requested identifier already exists.")
        for name in ("start", "end"):
            if name not in body:
                raise FakeError(400, "required", "Missing end time." if name == "end" else "")
        resource = {
            "kind": "calendar#event",
            **copy.deepcopy(body),
            "id": event_id,
            "status": body.get("status", "confirmed"),
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
            "created": _stamp(),
            "creator": {"email": self.email, "self": True},
            "organizer": organizer or {"email": calendar.id, "self": True},
            "iCalUID": body.get("iCalUID") or f"{event_id}@google.com",
            "sequence": 0,
            "eventType": body.get("eventType", "default"),
        }
        if via_api:
            _check_times(resource)
            _mark_attendees(calendar, resource)
        self._stamp_write(resource)
        calendar.events[event_id] = resource
        self._commit(calendar)
        return resource

    def _get(self, calendar: FakeCalendar, event_id: str) -> dict[str, Any]:
        if event_id in calendar.events:
            return calendar.events[event_id]
        entry = calendar.view.get(event_id)
        if entry is None or "recurringEventId" not in entry.resource:
            raise FakeError(404, "notFound", "Not Found")
        return entry.resource

    def _write(
        self,
        calendar: FakeCalendar,
        event_id: str,
        body: dict[str, Any],
        *,
        patch: bool,
        via_api: bool = False,
        if_match: str | None = None,
    ) -> dict[str, Any]:
        current = self._get(calendar, event_id)
        _check_etag(current, if_match)
        # Writing one instance of a series makes it an exception.
        stored = copy.deepcopy(current)
        stored.setdefault("status", "confirmed")
        keep = {
            k: stored[k]
            for k in (
                "kind",
                "id",
                "htmlLink",
                "created",
                "creator",
                "organizer",
                "iCalUID",
                "recurringEventId",
                "originalStartTime",
            )
            if k in stored
        }
        if via_api:
            if not stored.get("organizer", {}).get("self"):
                _refuse_shared_changes(stored, body)
            merged = _merge_patch(stored, body) if patch else _without_nulls(body)
            merged.setdefault("status", "confirmed")
        elif patch:
            merged = {**stored, **copy.deepcopy(body)}
            if "extendedProperties" in body and "extendedProperties" in stored:
                merged["extendedProperties"] = {
                    scope: {**stored["extendedProperties"].get(scope, {}), **values}
                    for scope, values in {
                        **stored["extendedProperties"],
                        **body["extendedProperties"],
                    }.items()
                }
        else:
            merged = copy.deepcopy(body)
            merged.setdefault("status", "confirmed")
        merged.update(keep)
        if via_api:
            _check_times(merged)
            _mark_attendees(calendar, merged)
        merged["sequence"] = stored.get("sequence", 0) + 1
        self._stamp_write(merged)
        calendar.events[event_id] = merged
        self._commit(calendar)
        return merged

    def _delete(self, calendar: FakeCalendar, event_id: str, if_match: str | None = None) -> None:
        stored = calendar.events.get(event_id)
        if stored is not None and stored["status"] == "cancelled":
            raise FakeError(410, "deleted", "Resource has been deleted")
        if stored is None:
            resource = self._get(calendar, event_id)
            if resource.get("status") == "cancelled":
                raise FakeError(410, "deleted", "Resource has been deleted")
            _check_etag(resource, if_match)
            stored = copy.deepcopy(resource)
            calendar.events[event_id] = stored
        else:
            _check_etag(stored, if_match)
        stored["status"] = "cancelled"
        self._stamp_write(stored)
        self._commit(calendar)

    def _instances(
        self, calendar: FakeCalendar, event_id: str, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        """events.instances: the instances of one recurring event, in start order, paged."""
        first = {name: values[0] for name, values in query.items()}
        if "pageToken" in first:
            listing = self.listings.pop(first["pageToken"], None)
            if listing is None or listing.calendar_id != calendar.id:
                raise FakeError(400, "invalid", "Invalid page token value.")
            return self._page(calendar, listing)
        master = calendar.events.get(event_id)
        if master is None or "recurringEventId" in master:
            raise FakeError(404, "notFound", "Not Found")
        if master["status"] == "cancelled":
            raise FakeError(410, "deleted", "Resource has been deleted")
        if "recurrence" not in master:
            raise FakeError(400, "invalid", "The event is not a recurring event.")
        time_min = _rfc3339(first["timeMin"]) if "timeMin" in first else None
        time_max = _rfc3339(first["timeMax"]) if "timeMax" in first else None
        original = first.get("originalStart")
        items = []
        entries = sorted(calendar.view.values(), key=lambda e: (e.start, e.resource["id"]))
        for entry in entries:
            resource = entry.resource
            if resource.get("recurringEventId") != event_id:
                continue
            if resource.get("status") == "cancelled" and first.get("showDeleted") != "true":
                continue
            if (time_min and entry.end <= time_min) or (time_max and entry.start >= time_max):
                continue
            if original and not _same_original_start(resource["originalStartTime"], original):
                continue
            items.append(resource)
        return self._page(calendar, _Listing(calendar.id, items, self._page_size(query, 250), None))

    def _page(self, calendar: FakeCalendar, listing: _Listing) -> dict[str, Any]:
        """One page of ``listing``; the rest kept behind a page token."""
        page, rest = listing.items[: listing.page_size], listing.items[listing.page_size :]
        answer: dict[str, Any] = {
            "kind": "calendar#events",
            "etag": f'"p{self._tick()}"',
            "summary": calendar.summary,
            "updated": _stamp(),
            "timeZone": calendar.time_zone,
            "accessRole": calendar.access_role,
            "defaultReminders": [],
            "items": copy.deepcopy(page),
        }
        if rest:
            token = self._token("pt-")
            self.listings[token] = _Listing(calendar.id, rest, listing.page_size, listing.sync_seq)
            answer["nextPageToken"] = token
        elif listing.sync_seq is not None:
            token = self._token("CPsync-")
            self.sync_tokens[token] = (calendar.id, listing.sync_seq)
            answer["nextSyncToken"] = token
        return answer

    # Request handling ------------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Any, raw: bytes) -> tuple[int, dict, Any]:
        """(status, headers, JSON body or None) for one request; the body is a copy."""
        with self.lock:
            status, extra, answer = self._handle(method, target, headers, raw)
            return status, extra, copy.deepcopy(answer)

    def _handle(self, method: str, target: str, headers: Any, raw: bytes) -> tuple[int, dict, Any]:
        split = urlsplit(target)
        query = parse_qs(split.query, keep_blank_values=True)
        if split.path == AUTH_PATH:
            return self._consent_endpoint(method, query, raw)
        if split.path == TOKEN_PATH and method == "POST":
            return self._token_endpoint(headers, parse_qs(raw.decode()))
        body = json.loads(raw) if raw else None
        self.requests.append(
            RecordedRequest(method, split.path, query, body, headers.get("If-Match"))
        )
        try:
            self._authorize(headers.get("Authorization", ""))
            failure = next((f for f in self._failures if not f[3] or method in f[3]), None)
            if failure is not None:
                self._failures.remove(failure)
                status, reason, retry_after, _ = failure
                extra = {"Retry-After": str(int(retry_after))} if retry_after else {}
                domain = "usageLimits" if status in (403, 429) else "global"
                raise FakeError(status, reason, reason, domain=domain, headers=extra)
            if not split.path.startswith(API_PREFIX):
                raise FakeError(404, "notFound", "Not Found")
            parts = [unquote(p) for p in split.path[len(API_PREFIX) :].split("/")]
            status, answer = self._route(method, parts, query, body, headers.get("If-Match"))
            if "fields" in query and answer is not None:
                answer = _partial(answer, _field_tree(query["fields"][0]))
            return status, {}, answer
        except FakeError as error:
            return error.status, error.headers, error.body()

    def _consent_endpoint(
        self, method: str, query: dict[str, list[str]], raw: bytes
    ) -> tuple[int, dict, Any]:
        """The consent screen (an HTML page, so answers are strings) and its Allow/Deny form."""
        try:
            if method == "GET":
                request = self._authorization_request(query)
                consent_id = self._token("consent-")
                self.consents[consent_id] = request
                return 200, {}, _consent_page(consent_id, request, self.email)
            if method != "POST":
                raise FakeError(405, "method_not_allowed", "Method not allowed.")
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            request = self.consents.pop(form.get("consent", ""), None)
            if request is None:
                raise FakeError(400, "invalid_request", "This consent screen was already answered.")
            if form.get("decision") == "allow":
                answer = self._issue_code(request, email=self.email, scope=None)
            else:
                answer = {"error": "access_denied"}
                if "state" in request:
                    answer["state"] = request["state"]
            return 302, {"Location": _with_query(request["redirect_uri"], answer)}, None
        except FakeError as error:
            return error.status, {}, _error_page(error)

    def _authorization_request(self, query: dict[str, list[str]]) -> dict[str, str]:
        """The parameters of an authorization request, refused as Google refuses them (with an
        error page, never a redirect). Unlike Google, the fake insists on PKCE with S256."""
        value = {k: v[0] for k, v in query.items()}
        if value.get("client_id") != self.client_id:
            raise FakeError(401, "invalid_client", "The OAuth client was not found.")
        if value.get("response_type") != "code":
            raise FakeError(400, "unsupported_response_type", "Only response_type=code.")
        for name in ("redirect_uri", "scope", "code_challenge"):
            if not value.get(name):
                raise FakeError(400, "invalid_request", f"Missing required parameter: {name}")
        if value.get("code_challenge_method") != "S256":
            raise FakeError(400, "invalid_request", "code_challenge_method must be S256.")
        return value

    def _issue_code(
        self, request: dict[str, str], *, email: str, scope: str | None
    ) -> dict[str, str]:
        code = "4/0A" + secrets.token_urlsafe(24)
        granted = request["scope"] if scope is None else scope
        self.codes[code] = IssuedCode(
            request["code_challenge"], request["redirect_uri"], granted, email
        )
        answer = {"code": code, "scope": granted}
        if "state" in request:
            answer["state"] = request["state"]
        return answer

    def _client_credentials(self, headers: Any, value: dict[str, str]) -> tuple[str, str]:
        """The client's id and secret: HTTP Basic (what oauthlib sends) or in the form."""
        scheme, _, encoded = (headers.get("Authorization") or "").partition(" ")
        if scheme != "Basic":
            return value.get("client_id", ""), value.get("client_secret", "")
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return "", ""
        return unquote_plus(client_id), unquote_plus(secret)

    def _token_endpoint(self, headers: Any, form: dict[str, list[str]]) -> tuple[int, dict, Any]:
        self.token_requests += 1
        value = {k: v[0] for k, v in form.items()}
        if self._client_credentials(headers, value) != (self.client_id, self.client_secret):
            return 401, {}, {"error": "invalid_client", "error_description": "Unauthorized"}
        if value.get("grant_type") == "authorization_code":
            return self._redeem_code(value)
        if value.get("grant_type") != "refresh_token":
            return 400, {}, {"error": "unsupported_grant_type"}
        if value.get("refresh_token") not in self.refresh_tokens:
            return (
                400,
                {},
                {
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                },
            )
        access = self._token("ya29.at-")
        self.access_tokens.add(access)
        return (
            200,
            {},
            {
                "access_token": access,
                "expires_in": 3599,
                "scope": "https://www.googleapis.com/auth/calendar",
                "token_type": "Bearer",
            },
        )

    def _redeem_code(self, value: dict[str, str]) -> tuple[int, dict, Any]:
        self.code_redemptions += 1
        # Taken out first: a code is spent by any attempt, right or wrong.
        issued = self.codes.pop(value.get("code", ""), None)
        if issued is None:
            return _refused("invalid_grant", "Malformed auth code.")
        if value.get("redirect_uri") != issued.redirect_uri:
            return _refused("redirect_uri_mismatch", "Bad Request")
        verifier = value.get("code_verifier", "")
        if _b64url(hashlib.sha256(verifier.encode()).digest()) != issued.challenge:
            return _refused("invalid_grant", "Invalid code verifier.")
        refresh, access = self._token("1//rt-"), self._token("ya29.at-")
        self.refresh_tokens.add(refresh)
        self.access_tokens.add(access)
        return (
            200,
            {},
            {
                "access_token": access,
                "expires_in": 3599,
                "refresh_token": refresh,
                "scope": issued.scope,
                "token_type": "Bearer",
                "id_token": self._id_token(issued.email),
            },
        )

    def _id_token(self, email: str) -> str:
        """An id token as Google's token endpoint returns it, with a signature nobody checks."""
        now = int(_now().timestamp())
        claims = {
            "iss": ISSUER,
            "azp": self.client_id,
            "aud": self.client_id,
            "sub": str(int(hashlib.sha256(email.lower().encode()).hexdigest()[:15], 16)),
            "email": email,
            "email_verified": True,
            "iat": now,
            "exp": now + 3600,
        }
        header = {"alg": "RS256", "kid": "fake", "typ": "JWT"}
        return ".".join(
            _b64url(part)
            for part in (json.dumps(header).encode(), json.dumps(claims).encode(), b"unsigned")
        )

    def _authorize(self, header: str) -> None:
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or token not in self.access_tokens:
            raise FakeError(
                401,
                "authError",
                "Request had invalid authentication credentials.",
                headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
            )

    def _route(
        self,
        method: str,
        parts: list[str],
        query: dict[str, list[str]],
        body: Any,
        if_match: str | None = None,
    ) -> tuple[int, Any]:
        match (method, parts):
            case ("GET", ["users", "me", "calendarList"]):
                return 200, self._calendar_list(query)
            case ("GET", ["calendars", calendar_id, "events"]):
                return 200, self._list_events(self._calendar(calendar_id), query)
            case ("POST", ["calendars", calendar_id, "events"]):
                calendar = self._writable(calendar_id)
                return 200, self._insert(calendar, body or {}, via_api=True)
            case ("POST", ["calendars", calendar_id, "events", "watch"]):
                return 200, self._watch(self._calendar(calendar_id), body or {})
            case ("GET", ["calendars", calendar_id, "events", event_id]):
                return 200, self._get(self._calendar(calendar_id), event_id)
            case ("GET", ["calendars", calendar_id, "events", event_id, "instances"]):
                return 200, self._instances(self._calendar(calendar_id), event_id, query)
            case ("PUT" | "PATCH", ["calendars", calendar_id, "events", event_id]):
                calendar = self._writable(calendar_id)
                return 200, self._write(
                    calendar,
                    event_id,
                    body or {},
                    patch=method == "PATCH",
                    via_api=True,
                    if_match=if_match,
                )
            case ("DELETE", ["calendars", calendar_id, "events", event_id]):
                self._delete(self._writable(calendar_id), event_id, if_match)
                return 204, None
            case ("POST", ["channels", "stop"]):
                self._stop(body or {})
                return 204, None
        raise FakeError(404, "notFound", "Not Found")

    def _page_size(self, query: dict[str, list[str]], default: int) -> int:
        requested = int(query.get("maxResults", [default])[0])
        return max(1, min(requested, 2500, self.page_size))

    def _calendar_list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        items = [calendar.list_entry() for calendar in self.calendars.values()]
        offset = int(query.get("pageToken", ["0"])[0])
        size = self._page_size(query, 100)
        answer: dict[str, Any] = {
            "kind": "calendar#calendarList",
            "etag": f'"p{self._tick()}"',
            "items": items[offset : offset + size],
        }
        if offset + size < len(items):
            answer["nextPageToken"] = str(offset + size)
        else:
            answer["nextSyncToken"] = self._token("cl-")
        return answer

    def _list_events(self, calendar: FakeCalendar, query: dict[str, list[str]]) -> dict[str, Any]:
        first = {name: values[0] for name, values in query.items()}
        if "pageToken" in first:
            listing = self.listings.pop(first["pageToken"], None)
            if listing is None or listing.calendar_id != calendar.id:
                raise FakeError(400, "invalid", "Invalid page token value.")
        elif "syncToken" in first:
            listing = self._changes_since(calendar, first)
        else:
            listing = self._snapshot(calendar, query)
        return self._page(calendar, listing)

    def _changes_since(self, calendar: FakeCalendar, first: dict[str, str]) -> _Listing:
        refused = [name for name in NOT_WITH_SYNC_TOKEN if name in first]
        if refused or first.get("showDeleted") == "false":
            raise FakeError(400, "invalid", f"Parameters not allowed with a sync token: {refused}")
        known = self.sync_tokens.get(first["syncToken"])
        if known is None or known[0] != calendar.id:
            raise FakeError(
                410,
                "fullSyncRequired",
                "Sync token is no longer valid, a full sync is required.",
            )
        if first.get("singleEvents") != "true":
            raise FakeError(400, "invalid", "The fake lists changes with singleEvents=true only.")
        changed = sorted(
            (e for e in calendar.view.values() if e.seq > known[1]), key=lambda e: e.seq
        )
        return _Listing(
            calendar.id,
            [e.resource for e in changed],
            self._page_size({"maxResults": [first.get("maxResults", "250")]}, 250),
            calendar.seq,
        )

    def _snapshot(self, calendar: FakeCalendar, query: dict[str, list[str]]) -> _Listing:
        first = {name: values[0] for name, values in query.items()}
        time_min = datetime.fromisoformat(first["timeMin"]) if "timeMin" in first else None
        time_max = datetime.fromisoformat(first["timeMax"]) if "timeMax" in first else None
        show_deleted = first.get("showDeleted") == "true"
        wanted = [p.split("=", 1) for p in query.get("privateExtendedProperty", [])]
        if first.get("singleEvents") == "true":
            candidates = [(e.resource, e.start, e.end) for e in calendar.view.values()]
        else:
            candidates = [
                (ev, *self._span(ev))
                for ev in calendar.events.values()
                if "recurringEventId" not in ev
            ]
        items = []
        for resource, start, end in sorted(candidates, key=lambda c: (c[1], c[0]["id"])):
            if resource.get("status") == "cancelled" and not show_deleted:
                continue
            if (time_min and end <= time_min) or (time_max and start >= time_max):
                continue
            private = resource.get("extendedProperties", {}).get("private", {})
            if any(private.get(name) != value for name, value in wanted):
                continue
            items.append(resource)
        return _Listing(calendar.id, items, self._page_size(query, 250), calendar.seq)

    def _span(self, event: dict[str, Any]) -> tuple[datetime, datetime]:
        start, end = _parse_when(event["start"])[0], _parse_when(event["end"])[0]
        if "recurrence" in event:
            ends = [last_end for *_, last_end in _occurrences(event)]
            end = _parse_when(ends[-1])[0] if ends else start
        return start, end

    def _watch(self, calendar: FakeCalendar, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("type") != "web_hook" or not body.get("id") or not body.get("address"):
            raise FakeError(400, "invalid", "A web_hook channel needs an id and an address.")
        if body["id"] in self.channels:
            raise FakeError(400, "channelIdNotUnique", "Channel id not unique.")
        channel = Channel(
            id=body["id"],
            resource_id=calendar.resource_id,
            calendar_id=calendar.id,
            address=body["address"],
            token=body.get("token", ""),
            expiration=(_now() + CHANNEL_LIFETIME).replace(microsecond=0),
        )
        self.channels[channel.id] = channel
        answer = {
            "kind": "api#channel",
            "id": channel.id,
            "resourceId": channel.resource_id,
            "resourceUri": f"{self.url}{API_PREFIX}calendars/{calendar.id}/events?alt=json",
            "expiration": str(int(channel.expiration.timestamp() * 1000)),
        }
        if channel.token:
            answer["token"] = channel.token
        return answer

    def _stop(self, body: dict[str, Any]) -> None:
        channel = self.channels.get(body.get("id", ""))
        if channel is None or channel.resource_id != body.get("resourceId"):
            raise FakeError(404, "notFound", f"Channel '{body.get('id')}' not found for project")
        del self.channels[channel.id]
        self.stopped_channels.append(channel.id)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _serve(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fault = None
        if self.command != "GET" and _EVENT_WRITE.match(urlsplit(self.path).path):
            fault = self.server.fake.faults.decide(self.command, self.path)

        def carry_out() -> Any:
            answer = self.server.fake.handle(self.command, self.path, self.headers, raw)
            return lambda: self._answer(*answer)

        serve_write(self, fault, carry_out)

    def _answer(self, status: int, headers: dict[str, str], answer: Any) -> None:
        if isinstance(answer, str):
            payload, content_type = answer.encode(), "text/html; charset=utf-8"
        else:
            payload = b"" if answer is None else json.dumps(answer).encode()
            content_type = "application/json; charset=UTF-8"
        self.send_response(status)
        if answer is not None:
            self.send_header("Content-Type", content_type)
        for name, value in {**headers, "Content-Length": str(len(payload))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: GoogleFake


@contextmanager
def running_google_fake() -> Iterator[GoogleFake]:
    """A fresh fake Google account, served on a free loopback port."""
    fake = GoogleFake()
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = fake
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def google_settings(fake: GoogleFake) -> dict[str, str]:
    """The project's Google settings pointed at ``fake`` (also as a worker's environment)."""
    return {
        "GOOGLE_API_ENDPOINT": f"{fake.url}{API_PREFIX}",
        "GOOGLE_AUTH_URI": f"{fake.url}{AUTH_PATH}",
        "GOOGLE_TOKEN_URI": f"{fake.url}{TOKEN_PATH}",
        "GOOGLE_CLIENT_ID": fake.client_id,
        "GOOGLE_CLIENT_SECRET": fake.client_secret,
    }


@pytest.fixture
def google_fake(settings, monkeypatch) -> Iterator[GoogleFake]:
    """A fresh fake Google account, with the project's Google settings pointed at it."""
    with running_google_fake() as fake:
        for name, value in google_settings(fake).items():
            setattr(settings, name, value)
        # oauthlib refuses to exchange a code over plain http unless told this is a local test.
        monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
        yield fake
