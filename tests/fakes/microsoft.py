"""Local fakes of Microsoft's identity platform and of Microsoft Graph, and the ``microsoft_fake``
fixture that points the app at them.

- ``FakeIdentityPlatform`` is an msal ``http_client``: instance and tenant discovery, the token
  endpoint (authorization code with PKCE, refresh token; a revoked refresh token gets
  ``invalid_grant``), unsigned but well-formed id tokens carrying the flow's nonce, the ``email``
  claim and, per user, the optional ``xms_edov`` claim (true unless a test says otherwise). No
  network and no TLS: msal insists on an https authority, and this object answers for it.
- ``FakeGraph`` is a stateful HTTP server on 127.0.0.1 speaking Graph's JSON: ``/me``, calendars
  (paged), ``calendarView`` and its delta (nextLink/deltaLink, ``@removed``, 410 for a stale
  link), events with single-value extended properties and the one ``$filter`` we send, recurring
  series (occurrences carry ``seriesMasterId``), ``isCancelled``, subscriptions with the
  validation handshake (an expiry past 4,230 minutes is refused with Graph's 400), notifications and lifecycle events sent on request, 429 with
  ``Retry-After`` on request, 401 for a bad token. It records every request and the most
  requests each mailbox had in flight at once.
- ``transactionId`` as Graph keeps it: set only on create (a PATCH carrying it is refused with
  400 ``ErrorInvalidRequest``), returned by every read only when it was set, and unique in the
  mailbox: a create reusing one gets 400 ``ErrorDuplicateTransactionId`` unless it repeats the
  first create exactly (then it answers with the first event and creates nothing).
- In a delta round, a deleted event comes as ``@removed``; an event that still exists but was
  moved out of the round's window comes as its ``id`` with every other field ``null``, as Graph
  was seen to send it (its documentation says ``@removed`` for both).
- The user's own events (the portfolio), checked against the v1.0 reference:
  - ``GET/PATCH/DELETE /me/events/{id}`` and ``/me/calendars/{id}/events/{id}`` (the second only
    for an event of that calendar; learn.microsoft.com/graph/api/event-get, event-update,
    event-delete), an occurrence's or exception's id as well as a master's. PATCH answers 200 with
    the event, DELETE 204; a write to a calendar whose ``canEdit`` is false is 403
    ``ErrorAccessDenied``. Deleting an occurrence removes that instance; deleting the
    ``seriesMaster`` removes the series.
  - ``If-Match`` on PATCH and DELETE must be the event's ``@odata.etag`` (``W/"<changeKey>"``);
    otherwise 412 ``ErrorIrresolvableConflict`` ("the change key passed in the request does not
    match the current change key for the item", Graph's words as reported on Microsoft Q&A
    271870).
  - A PATCH of a ``seriesMaster``: its subject, body and location reach its occurrences
    (exceptions keep their own); a change of its start or end moves every instance to the new
    time of day and length on its own date, and exceptions become occurrences again (Outlook:
    "any exceptions associated with this recurring appointment will be lost"). Changing an
    occurrence's time or subject makes it an ``exception``.
  - ``dateTimeTimeZone.timeZone`` on writes: Windows names and "UTC" only (the
    ``datetimetimezone`` resource lists Windows names plus some IANA names, and warns that
    creates and updates may support fewer; Graph has been seen to refuse listed IANA names, so
    the fake refuses every IANA name with 400 ``TimeZoneNotSupportedException``, its answer to
    an unsupported zone). The zone written is kept as ``originalStartTimeZone``.
  - ``POST …/events/{id}/accept|tentativelyAccept|decline`` (event-accept, event-decline, event-
    tentativelyaccept): body ``comment``, ``sendResponse`` (default true), 202 with no body. The
    organizer is refused (400 ``ErrorCalendarIsOrganizerForAccept`` and its siblings, Exchange's
    codes); ``sendResponse`` true when the organizer asked for no responses is refused with a
    400 (seen by users, microsoft/botframework-components#1374; the code is not documented); a
    read-only calendar is 403. A declined meeting leaves the calendar, as Outlook deletes it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from tests.fakes.faults import WriteFaults, serve_write

# Event writes: creates, updates and deletes of events (not subscriptions).
_EVENT_WRITE = re.compile(r"/events(/[^/]+)?$")

AUTHORITY_HOST = "login.fake-microsoftonline.test"
TENANT_ID = "6f1e8b2c-4a1d-4c3e-9b7a-2d5f8e0c1a93"
CLIENT_ID = "3b1c7a52-8c1f-4f0e-9a55-0d6e6c2a1b7e"
CLIENT_SECRET = "fake-client-secret~7Qx"
REDIRECT_URI = "http://testserver/calendars/connect/microsoft/callback/"
_RESERVED_SCOPES = {"openid", "profile", "offline_access", "email"}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _graph_id(prefix: str = "AAMkA") -> str:
    # Graph ids are long base64 strings that often end in "=", which must be escaped in paths.
    return f"{prefix}{secrets.token_urlsafe(30)}="


def _now() -> datetime:
    return datetime.now(UTC)


def _graph_datetime(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}0Z"


# Identity platform ---------------------------------------------------------------------------


@dataclass
class FakeUser:
    oid: str
    email: str
    name: str
    tenant_id: str = TENANT_ID
    # The optional ``xms_edov`` claim ("email domain owner verified") of the id token: True, False,
    # or a string form ("1", "0", "true"); None leaves the claim out, as when the app registration
    # does not ask for it.
    xms_edov: bool | str | None = True
    # A work account signs in with its user principal name, which need not be its mailbox
    # address (``email``); some accounts have no mailbox at all, and Graph's ``mail`` is null.
    upn: str = ""
    has_mailbox: bool = True

    @property
    def user_principal_name(self) -> str:
        return self.upn or self.email

    @property
    def home_account_id(self) -> str:
        return f"{self.oid}.{self.tenant_id}"


@dataclass
class FakeHttpResponse:
    """What msal reads of a response: ``status_code``, ``text``, ``headers``."""

    status_code: int
    text: str
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}")


def _json_response(status: int, body: dict[str, Any]) -> FakeHttpResponse:
    return FakeHttpResponse(status, json.dumps(body))


def _oauth_error(error: str, description: str, status: int = 400) -> FakeHttpResponse:
    return _json_response(
        status,
        {
            "error": error,
            "error_description": description,
            "error_codes": [70000],
            "timestamp": f"{_now():%Y-%m-%d %H:%M:%SZ}",
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        },
    )


class FakeIdentityPlatform:
    """Microsoft's login authority, as msal's injectable ``http_client``."""

    def __init__(self, *, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.host = AUTHORITY_HOST
        self.authority = f"https://{self.host}/common"
        self.users: dict[str, FakeUser] = {}
        self.access_token_seconds = 3600
        # When set, (status, body): every token request gets this answer (an outage).
        self.token_failure: tuple[int, dict[str, Any]] | None = None
        self.requests: list[tuple[str, str, str]] = []  # (method, url, grant_type)
        self._lock = threading.Lock()
        self._codes: dict[str, dict[str, str]] = {}
        self._refresh_tokens: dict[str, str] = {}  # token → oid
        self._access_tokens: dict[str, tuple[str, float]] = {}  # token → (oid, expires epoch)

    # Helpers for tests --------------------------------------------------------------------

    def add_user(self, email: str, name: str = "") -> FakeUser:
        user = FakeUser(oid=str(uuid.uuid4()), email=email, name=name or email.split("@")[0])
        with self._lock:
            self.users[user.oid] = user
        return user

    def authorize(self, auth_uri: str, user: FakeUser) -> dict[str, str]:
        """The user signs in and consents in the browser: the query our redirect URI receives."""
        query = {key: values[0] for key, values in parse_qs(urlsplit(auth_uri).query).items()}
        assert urlsplit(auth_uri).netloc == self.host, auth_uri
        assert query["client_id"] == self.client_id
        assert query["response_type"] == "code"
        assert query.get("code_challenge_method") == "S256", "msal always sends PKCE"
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[code] = {
                "oid": user.oid,
                "redirect_uri": query["redirect_uri"],
                "code_challenge": query["code_challenge"],
                "nonce": query.get("nonce", ""),
                "scope": query.get("scope", ""),
            }
        return {"code": code, "state": query["state"], "session_state": str(uuid.uuid4())}

    def revoke(self, user: FakeUser) -> None:
        """The user (or an admin) revoked our access: their refresh tokens stop working."""
        with self._lock:
            for token, oid in list(self._refresh_tokens.items()):
                if oid == user.oid:
                    del self._refresh_tokens[token]

    def expire_access_tokens(self, user: FakeUser | None = None) -> None:
        """Graph stops accepting the access tokens issued so far (msal's cache still has them)."""
        with self._lock:
            for token, (oid, _) in list(self._access_tokens.items()):
                if user is None or oid == user.oid:
                    self._access_tokens[token] = (oid, 0.0)

    def user_for_access_token(self, token: str) -> FakeUser | None:
        with self._lock:
            oid, expires = self._access_tokens.get(token, ("", 0.0))
        return self.users.get(oid) if expires > time.time() else None

    def grant_count(self, grant_type: str) -> int:
        return sum(1 for _, _, grant in self.requests if grant == grant_type)

    # msal's http_client interface -----------------------------------------------------------

    def get(
        self, url: str, params: Any = None, headers: Any = None, **kwargs: Any
    ) -> FakeHttpResponse:
        self.requests.append(("GET", url, ""))
        parts = urlsplit(url)
        if (
            parts.path == "/common/discovery/instance"
        ):  # msal asks about an authority it does not know
            endpoint = dict(params or {}).get("authorization_endpoint", "")
            tenant = urlsplit(endpoint).path.strip("/").split("/")[0] or "common"
            return _json_response(
                200,
                {
                    "tenant_discovery_endpoint": f"https://{self.host}/{tenant}/v2.0/.well-known/openid-configuration",
                    "api-version": "1.1",
                    "metadata": [
                        {
                            "preferred_network": self.host,
                            "preferred_cache": self.host,
                            "aliases": [self.host],
                        }
                    ],
                },
            )
        match = re.fullmatch(r"/([^/]+)/v2\.0/\.well-known/openid-configuration", parts.path)
        if parts.netloc == self.host and match:
            base = f"https://{self.host}/{match.group(1)}"
            return _json_response(
                200,
                {
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                    "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                    "jwks_uri": f"{base}/discovery/v2.0/keys",
                    "issuer": f"https://{self.host}/{{tenantid}}/v2.0",
                    "response_modes_supported": ["query", "fragment", "form_post"],
                    "response_types_supported": ["code", "id_token", "code id_token"],
                    "scopes_supported": ["openid", "profile", "email", "offline_access"],
                    "subject_types_supported": ["pairwise"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "token_endpoint_auth_methods_supported": [
                        "client_secret_post",
                        "private_key_jwt",
                        "client_secret_basic",
                    ],
                    "tenant_region_scope": None,
                    "cloud_instance_name": "fake-microsoftonline.test",
                },
            )
        return _json_response(404, {"error": "not_found"})

    def post(
        self, url: str, params: Any = None, data: Any = None, headers: Any = None, **kwargs: Any
    ) -> FakeHttpResponse:
        data = dict(data or {})
        self.requests.append(("POST", url, data.get("grant_type", "")))
        parts = urlsplit(url)
        if parts.netloc != self.host or not parts.path.endswith("/oauth2/v2.0/token"):
            return _json_response(404, {"error": "not_found"})
        if self.token_failure is not None:
            status, body = self.token_failure
            return _json_response(status, body)
        if (
            data.get("client_id") != self.client_id
            or data.get("client_secret") != self.client_secret
        ):
            return _oauth_error(
                "invalid_client", "AADSTS7000215: Invalid client secret provided.", 401
            )
        grant = data.get("grant_type")
        if grant == "authorization_code":
            return self._redeem_code(data)
        if grant == "refresh_token":
            return self._redeem_refresh_token(data)
        return _oauth_error(
            "unsupported_grant_type", "AADSTS70003: The grant type is not supported."
        )

    def close(self) -> None:
        pass

    def _redeem_code(self, data: dict[str, Any]) -> FakeHttpResponse:
        with self._lock:
            issued = self._codes.pop(data.get("code", ""), None)
        if issued is None:
            return _oauth_error(
                "invalid_grant", "AADSTS54005: OAuth2 Authorization code was already redeemed."
            )
        if data.get("redirect_uri") != issued["redirect_uri"]:
            return _oauth_error("invalid_grant", "AADSTS50148: The redirect_uri does not match.")
        verifier = data.get("code_verifier", "")
        if _b64url(hashlib.sha256(verifier.encode()).digest()) != issued["code_challenge"]:
            return _oauth_error("invalid_grant", "AADSTS501481: The Code_Verifier does not match.")
        return self._tokens(
            self.users[issued["oid"]], data.get("scope", issued["scope"]), issued["nonce"]
        )

    def _redeem_refresh_token(self, data: dict[str, Any]) -> FakeHttpResponse:
        with self._lock:
            oid = self._refresh_tokens.get(data.get("refresh_token", ""))
        if oid is None:
            return _oauth_error(
                "invalid_grant",
                "AADSTS70008: The provided authorization code or refresh token has expired due to "
                "inactivity or was revoked.",
            )
        return self._tokens(self.users[oid], data.get("scope", ""), nonce="")

    def _tokens(self, user: FakeUser, scope: str, nonce: str) -> FakeHttpResponse:
        access_token = f"fake-at-{secrets.token_urlsafe(24)}"
        refresh_token = f"fake-rt-{secrets.token_urlsafe(24)}"
        now = int(time.time())
        with self._lock:
            self._access_tokens[access_token] = (user.oid, now + self.access_token_seconds)
            self._refresh_tokens[refresh_token] = user.oid  # rotated; the old one stays valid
        claims = {
            "aud": self.client_id,
            "iss": f"https://{self.host}/{user.tenant_id}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": user.name,
            "oid": user.oid,
            "preferred_username": user.user_principal_name,
            "email": user.email,
            "sub": _b64url(hashlib.sha256(f"{user.oid}:{self.client_id}".encode()).digest()),
            "tid": user.tenant_id,
            "ver": "2.0",
        }
        if user.xms_edov is not None:
            claims["xms_edov"] = user.xms_edov
        if nonce:
            claims["nonce"] = nonce
        header = _b64url(json.dumps({"typ": "JWT", "alg": "none"}).encode())
        id_token = f"{header}.{_b64url(json.dumps(claims).encode())}."
        granted = [s for s in scope.split() if s not in _RESERVED_SCOPES] + ["openid", "profile"]
        return _json_response(
            200,
            {
                "token_type": "Bearer",
                "scope": " ".join(granted),
                "expires_in": self.access_token_seconds,
                "ext_expires_in": self.access_token_seconds,
                "access_token": access_token,
                "refresh_token": refresh_token,
                "id_token": id_token,
                "client_info": _b64url(
                    json.dumps({"uid": user.oid, "utid": user.tenant_id}).encode()
                ),
            },
        )


# Graph ---------------------------------------------------------------------------------------


@dataclass
class FakeEvent:
    id: str
    user: str
    calendar_id: str
    subject: str
    start: datetime
    end: datetime
    is_all_day: bool = False
    show_as: str = "busy"
    sensitivity: str = "normal"
    is_cancelled: bool = False
    response: str = "organizer"
    body: dict[str, str] = field(default_factory=lambda: {"contentType": "html", "content": ""})
    location: str = ""
    join_url: str = ""
    ical_uid: str = field(
        default_factory=lambda: f"040000008200E00074C5B7101A82E008{uuid.uuid4().hex}"
    )
    type: str = "singleInstance"  # occurrence, exception, seriesMaster
    series_master_id: str | None = None
    is_reminder_on: bool = True
    response_requested: bool = True
    attendees: list[dict[str, Any]] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)  # single-value extended properties
    transaction_id: str | None = None  # set by the creating client only, never changed
    start_zone: str = "UTC"  # the zone its start was written in (originalStartTimeZone)
    original_start: datetime | None = None  # an instance's place in its series
    created_version: int = 0
    version: int = 0
    deleted: bool = False

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and self.end > start


@dataclass
class Delivery:
    """What one POST to a subscriber's address came back with."""

    url: str
    status: int
    content_type: str = ""
    text: str = ""
    seconds: float = 0.0


def http_deliver(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Delivery:
    started = time.monotonic()
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.HTTPError:
        return Delivery(url, 0, seconds=time.monotonic() - started)
    return Delivery(
        url,
        response.status_code,
        response.headers.get("Content-Type", ""),
        response.text,
        time.monotonic() - started,
    )


def django_client_deliverer(client: Any) -> Callable[[str, bytes, dict[str, str], float], Delivery]:
    """Deliver notifications through Django's test client, in the calling thread (so a test in a
    transaction sees them land)."""

    def deliver(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Delivery:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        started = time.monotonic()
        response = client.generic(
            "POST", path, data=body, content_type=headers.get("Content-Type", "")
        )
        return Delivery(
            url,
            response.status_code,
            response.get("Content-Type", ""),
            response.content.decode(),
            time.monotonic() - started,
        )

    return deliver


@dataclass
class RecordedRequest:
    method: str
    path: str  # after /v1.0, unescaped
    query: dict[str, str]
    prefer: list[str]
    user: str  # the mailbox (user oid); "" when the token was refused
    status: int = 0
    if_match: str = ""


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


_NOT_FOUND = ("ErrorItemNotFound", "The specified object was not found in the store.")
_DUPLICATE_TRANSACTION = (
    "ErrorDuplicateTransactionId",
    "Your request can't be completed. The TransactionId specified in the request has already been "
    "used to create a different event.",
)
# Graph's answer to an update carrying transactionId (reported by users; the reference only says
# it cannot be changed). Refused whatever the value, which is the strict reading.
_IMMUTABLE_TRANSACTION = (
    "ErrorInvalidRequest",
    "Your request can't be completed. ClientId/TransactionId is immutable and cannot be updated.",
)
_CHANGE_KEY_CONFLICT = (
    "ErrorIrresolvableConflict",
    "The send or update operation could not be performed because the change key passed in the "
    "request does not match the current change key for the item.",
)
# The answers Graph's reply actions set, and Exchange's refusals of them to the organizer.
_REPLIES = {
    "accept": "accepted",
    "tentativelyAccept": "tentativelyAccepted",
    "decline": "declined",
}
_ORGANIZER_REPLIES = {
    "accept": (
        "ErrorCalendarIsOrganizerForAccept",
        "You can't accept this meeting because you're the meeting organizer.",
    ),
    "tentativelyAccept": (
        "ErrorCalendarIsOrganizerForTentative",
        "You can't tentatively accept this meeting because you're the meeting organizer.",
    ),
    "decline": (
        "ErrorCalendarIsOrganizerForDecline",
        "You can't decline this meeting because you're the meeting organizer.",
    ),
}
_EVENT_FIELDS = {
    "subject",
    "body",
    "start",
    "end",
    "isAllDay",
    "showAs",
    "sensitivity",
    "isReminderOn",
    "attendees",
    "location",
    "singleValueExtendedProperties",
    "responseRequested",
    "importance",
    "categories",
    "reminderMinutesBeforeStart",
    "allowNewTimeProposals",
    "isOnlineMeeting",
    "transactionId",
}
_SHOW_AS = {"free", "tentative", "busy", "oof", "workingElsewhere", "unknown"}
_SENSITIVITY = {"normal", "personal", "private", "confidential"}
_BLOCK_FILTER = re.compile(
    r"singleValueExtendedProperties/Any\(ep: ep/id eq '((?:[^']|'')*)' and ep/value eq '((?:[^']|'')*)'\)"
)
_EXPAND = re.compile(r"singleValueExtendedProperties\(\$filter=id eq '((?:[^']|'')*)'\)")


@dataclass
class _DeltaState:
    user: str
    calendar_id: str
    start: datetime
    end: datetime
    version: int


class FakeGraph:
    """Microsoft Graph v1.0 for the calendars of the identity platform's users."""

    def __init__(self, identity: FakeIdentityPlatform) -> None:
        self.identity = identity
        self.lock = threading.RLock()
        self.calendars: dict[str, dict[str, Any]] = {}
        self.events: dict[str, FakeEvent] = {}  # deleted ones stay as tombstones for delta
        # (mailbox, transactionId) → (the event it created, the create's body). Kept after the
        # event is deleted: whether Graph ever forgets one is not documented, so it stays used.
        self.transactions: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.requests: list[RecordedRequest] = []
        # Faults injected into event writes (tests/fakes/faults.py).
        self.faults = WriteFaults()
        self.deliveries: list[Delivery] = []
        self.page_size = 10  # the most items a page holds, whatever the client prefers
        # Graph refuses an expiry further ahead than its maximum for the resource (4,230 minutes
        # for Outlook events) with a 400; within it, the fake grants at most
        # ``subscription_max_minutes``, which tests lower to see that the granted expiry is kept.
        self.subscription_limit_minutes = 4230
        self.subscription_max_minutes = 4230
        self.latency = 0.0  # seconds each request takes (to drive concurrency)
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}
        self.deliver: Callable[[str, bytes, dict[str, str], float], Delivery] = http_deliver
        self._version = 0
        self._delta: dict[str, _DeltaState] = {}
        # skiptoken → (the items still to page through, the delta token ending the round)
        self._pages: dict[str, tuple[list[dict[str, Any]], str]] = {}
        self._stale: dict[str, tuple[int, str]] = {}
        self._throttle: dict[str, Any] | None = None
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # Lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        graph = self

        class Handler(_GraphHandler):
            fake = graph

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1.0"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # Test helpers: state --------------------------------------------------------------------

    def add_calendar(
        self,
        user: FakeUser,
        name: str,
        *,
        can_edit: bool = True,
        hex_color: str = "",
        default: bool = False,
    ) -> str:
        calendar_id = _graph_id("AAMkAGI2")
        with self.lock:
            self.calendars[calendar_id] = {
                "id": calendar_id,
                "name": name,
                "color": "auto" if not hex_color else "lightBlue",
                "hexColor": hex_color,
                "isDefaultCalendar": default,
                "changeKey": secrets.token_urlsafe(12),
                "canShare": can_edit,
                "canViewPrivateItems": True,
                "canEdit": can_edit,
                "allowedOnlineMeetingProviders": ["teamsForBusiness"],
                "defaultOnlineMeetingProvider": "teamsForBusiness",
                "isTallyingResponses": True,
                "isRemovable": not default,
                "owner": {"name": user.name, "address": user.email},
                "_user": user.oid,
            }
        return calendar_id

    def add_event(
        self, calendar_id: str, subject: str, start: datetime, end: datetime, **fields: Any
    ) -> str:
        with self.lock:
            user = self.calendars[calendar_id]["_user"]
            event = FakeEvent(
                id=_graph_id(),
                user=user,
                calendar_id=calendar_id,
                subject=subject,
                start=start,
                end=end,
                **fields,
            )
            event.created_version = event.version = self._bump()
            self.events[event.id] = event
        return event.id

    def add_series(
        self,
        calendar_id: str,
        subject: str,
        first_start: datetime,
        *,
        duration: timedelta,
        count: int,
        every: timedelta = timedelta(days=7),
        **fields: Any,
    ) -> tuple[str, list[str]]:
        """A recurring series: its master and its occurrences (what calendarView shows)."""
        master_id = self.add_event(
            calendar_id, subject, first_start, first_start + duration, type="seriesMaster", **fields
        )
        occurrences = [
            self.add_event(
                calendar_id,
                subject,
                first_start + every * n,
                first_start + every * n + duration,
                type="occurrence",
                series_master_id=master_id,
                original_start=first_start + every * n,
                **fields,
            )
            for n in range(count)
        ]
        return master_id, occurrences

    def update_event(self, event_id: str, **fields: Any) -> None:
        """Another client edits the event (FakeEvent field names)."""
        with self.lock:
            event = self.events[event_id]
            for name, value in fields.items():
                setattr(event, name, value)
            if event.type == "occurrence" and {"start", "end", "subject"} & set(fields):
                event.type = "exception"
            event.version = self._bump()

    def delete_event(self, event_id: str) -> None:
        """Another client deletes the event (a master takes its instances with it)."""
        with self.lock:
            for event in self.events.values():
                if event.id == event_id or event.series_master_id == event_id:
                    event.deleted = True
                    event.version = self._bump()

    def cancel_event(self, event_id: str) -> None:
        """The organizer cancelled the meeting: it stays, with isCancelled."""
        self.update_event(event_id, is_cancelled=True)

    def event(self, event_id: str) -> FakeEvent:
        return self.events[event_id]

    def live_events(self, calendar_id: str) -> list[FakeEvent]:
        with self.lock:
            return [
                e for e in self.events.values() if e.calendar_id == calendar_id and not e.deleted
            ]

    def invalidate_delta_links(self, *, status: int = 410, code: str = "syncStateNotFound") -> None:
        """Every deltaLink and nextLink issued so far stops working (Graph's cache dropped them)."""
        with self.lock:
            for token in [*self._delta, *self._pages]:
                self._stale[token] = (status, code)
            self._delta.clear()
            self._pages.clear()

    def throttle(
        self, *, status: int = 429, retry_after: int | None = 7, times: int | None = None
    ) -> None:
        """Answer the next ``times`` requests (all, when None) with ``status`` and Retry-After."""
        with self.lock:
            self._throttle = {"status": status, "retry_after": retry_after, "times": times}

    def stop_throttling(self) -> None:
        with self.lock:
            self._throttle = None

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """Requests seen, optionally only one method and paths containing ``path``."""
        return sum(
            1
            for request in self.requests
            if (method is None or request.method == method)
            and (path is None or path in request.path)
        )

    def reset_counts(self) -> None:
        with self.lock:
            self.requests.clear()
            self.max_in_flight.clear()

    # Test helpers: notifications ------------------------------------------------------------

    def notify(
        self,
        subscription_id: str,
        *,
        change_type: str = "updated",
        event_id: str | None = None,
        client_state: str | None = None,
        copies: int = 1,
    ) -> Delivery:
        """Send a change notification (``copies`` identical items in one batch, as Graph may)."""
        subscription = self.subscriptions[subscription_id]
        event_id = event_id or _graph_id()
        resource = f"Users/{subscription['_user']}/Events/{event_id}"
        item = {
            "id": str(uuid.uuid4()),
            "subscriptionId": subscription_id,
            "subscriptionExpirationDateTime": subscription["expirationDateTime"],
            "changeType": change_type,
            "resource": resource,
            "resourceData": {
                "@odata.type": "#Microsoft.Graph.Event",
                "@odata.id": resource,
                "@odata.etag": f'W/"{secrets.token_urlsafe(12)}"',
                "id": event_id,
            },
            "clientState": subscription["clientState"] if client_state is None else client_state,
            "tenantId": TENANT_ID,
        }
        return self._send(subscription["notificationUrl"], {"value": [item] * copies})

    def send_lifecycle(
        self, subscription_id: str, lifecycle_event: str, *, client_state: str | None = None
    ) -> Delivery:
        """Send a lifecycle notification; subscriptionRemoved also removes the subscription."""
        with self.lock:
            subscription = (
                self.subscriptions.pop(subscription_id)
                if lifecycle_event == "subscriptionRemoved"
                else self.subscriptions[subscription_id]
            )
        item = {
            "subscriptionId": subscription_id,
            "subscriptionExpirationDateTime": subscription["expirationDateTime"],
            "tenantId": TENANT_ID,
            "clientState": subscription["clientState"] if client_state is None else client_state,
            "lifecycleEvent": lifecycle_event,
        }
        return self._send(subscription["lifecycleNotificationUrl"], {"value": [item]})

    def _send(self, url: str, payload: dict[str, Any]) -> Delivery:
        body = json.dumps(payload).encode()
        delivery = self.deliver(
            url, body, {"Content-Type": "application/json; charset=utf-8"}, 10.0
        )
        self.deliveries.append(delivery)
        return delivery

    # Serving --------------------------------------------------------------------------------

    def _bump(self) -> int:
        self._version += 1
        return self._version

    def handle(
        self, method: str, raw_path: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(raw_path)
        path = parts.path.removeprefix("/v1.0")
        query = {
            key: values[0] for key, values in parse_qs(parts.query, keep_blank_values=True).items()
        }
        prefer = [
            value.strip()
            for header in headers.get_all("Prefer") or []
            for value in header.split(",")
            if value.strip()
        ]
        token = (headers.get("Authorization") or "").removeprefix("Bearer ")
        user = self.identity.user_for_access_token(token)
        record = RecordedRequest(method, unquote(path), query, prefer, user.oid if user else "")
        record.if_match = headers.get("If-Match") or ""
        with self.lock:
            self.requests.append(record)
        try:
            if user is None:
                raise GraphError(
                    401,
                    "InvalidAuthenticationToken",
                    "Lifetime validation failed, the token is expired.",
                    {"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'},
                )
            self._check_throttle()
            with self.lock:
                self.in_flight[user.oid] = self.in_flight.get(user.oid, 0) + 1
                self.max_in_flight[user.oid] = max(
                    self.max_in_flight.get(user.oid, 0), self.in_flight[user.oid]
                )
            try:
                if self.latency:
                    time.sleep(self.latency)
                payload = json.loads(body) if body else None
                request = _Request(self, user, method, path, query, prefer, payload)
                request.if_match = record.if_match
                status, answer = request.route()
            finally:
                with self.lock:
                    self.in_flight[user.oid] -= 1
        except GraphError as error:
            record.status = error.status
            body_out = {
                "error": {
                    "code": error.code,
                    "message": error.message,
                    "innerError": {
                        "date": f"{_now():%Y-%m-%dT%H:%M:%S}",
                        "request-id": str(uuid.uuid4()),
                    },
                }
            }
            return (
                error.status,
                {"Content-Type": "application/json", **error.headers},
                json.dumps(body_out).encode(),
            )
        except (ValueError, KeyError, TypeError) as error:
            record.status = 400
            body_out = {"error": {"code": "BadRequest", "message": f"Invalid request: {error}"}}
            return 400, {"Content-Type": "application/json"}, json.dumps(body_out).encode()
        record.status = status
        if answer is None:
            return status, {}, b""
        return (
            status,
            {"Content-Type": "application/json; odata.metadata=minimal"},
            json.dumps(answer).encode(),
        )

    def _check_throttle(self) -> None:
        with self.lock:
            throttle = self._throttle
            if throttle is None:
                return
            if throttle["times"] is not None:
                throttle["times"] -= 1
                if throttle["times"] <= 0:
                    self._throttle = None
        headers = (
            {} if throttle["retry_after"] is None else {"Retry-After": str(throttle["retry_after"])}
        )
        code = "TooManyRequests" if throttle["status"] == 429 else "ServiceUnavailable"
        raise GraphError(throttle["status"], code, "Please retry again later.", headers)


class _Request:
    """One authenticated request, routed."""

    def __init__(
        self,
        graph: FakeGraph,
        user: FakeUser,
        method: str,
        path: str,
        query: dict[str, str],
        prefer: list[str],
        payload: Any,
    ) -> None:
        self.graph, self.user, self.method, self.query, self.payload = (
            graph,
            user,
            method,
            query,
            payload,
        )
        self.segments = [unquote(segment) for segment in path.strip("/").split("/")]
        self.immutable_ids = 'IdType="ImmutableId"' in prefer
        self.zone = UTC
        self.text_body = 'outlook.body-content-type="text"' in prefer
        self.page_size = graph.page_size
        self.if_match = ""
        for value in prefer:
            if value.startswith("outlook.timezone="):
                name = value.partition("=")[2].strip('"')
                self.zone = UTC if name == "UTC" else ZoneInfo(name)
            elif value.startswith("odata.maxpagesize="):
                self.page_size = min(self.page_size, int(value.partition("=")[2]))
        if "$top" in query:
            self.page_size = min(self.page_size, int(query["$top"]))

    def route(self) -> tuple[int, Any]:
        s, m = self.segments, self.method
        if s == ["me"] and m == "GET":
            u = self.user
            return 200, {
                "id": u.oid,
                "displayName": u.name,
                "mail": u.email if u.has_mailbox else None,
                "userPrincipalName": u.user_principal_name,
            }
        if s == ["me", "calendars"] and m == "GET":
            return 200, self._list_calendars()
        if len(s) >= 3 and s[:2] == ["me", "calendars"]:
            calendar = self._calendar(s[2])
            rest = s[3:]
            if rest == ["calendarView", "delta"] and m == "GET":
                return 200, self._delta(calendar)
            if rest == ["calendarView"] and m == "GET":
                return 200, self._calendar_view(calendar)
            if rest == ["events"] and m == "GET":
                return 200, self._list_events(calendar)
            if rest == ["events"] and m == "POST":
                return 201, self._create_event(calendar)
            if rest == [] and m == "GET":
                return 200, _public(calendar)
            if len(rest) in (2, 3) and rest[0] == "events":
                event = self._event(rest[1])
                if event.calendar_id != calendar["id"]:
                    raise GraphError(404, *_NOT_FOUND)
                return self._event_request(event, rest[2:])
        if len(s) in (3, 4) and s[:2] == ["me", "events"]:
            return self._event_request(self._event(s[2]), s[3:])
        if s == ["subscriptions"] and m == "POST":
            return 201, self._create_subscription()
        if len(s) == 2 and s[0] == "subscriptions":
            return self._subscription(s[1])
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{s[-1]}'.")

    def _event_request(self, event: FakeEvent, action: list[str]) -> tuple[int, Any]:
        m = self.method
        if not action and m == "GET":
            return 200, self._render(event, select=self._select())
        if not action and m == "PATCH":
            self._check_if_match(event)
            return 200, self._update_event(event)
        if not action and m == "DELETE":
            self._writable(self.graph.calendars[event.calendar_id])
            self._check_if_match(event)
            self.graph.delete_event(event.id)
            return 204, None
        if action and action[0] in _REPLIES and m == "POST":
            self._reply(event, action[0])
            return 202, None
        segment = action[-1] if action else event.id
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")

    def _select(self) -> set[str]:
        return {name for name in self.query.get("$select", "").split(",") if name}

    def _check_if_match(self, event: FakeEvent) -> None:
        if self.if_match and self.if_match != _etag(event):
            raise GraphError(412, *_CHANGE_KEY_CONFLICT)

    def _reply(self, event: FakeEvent, action: str) -> None:
        self._writable(self.graph.calendars[event.calendar_id])
        body = self.payload if self.payload is not None else {}
        if not isinstance(body, dict) or set(body) - {"comment", "sendResponse", "proposedNewTime"}:
            raise GraphError(400, "RequestBodyRead", "Invalid parameters for the action.")
        if event.response == "organizer":
            raise GraphError(400, *_ORGANIZER_REPLIES[action])
        if body.get("sendResponse", True) and not event.response_requested:
            raise GraphError(
                400,
                "ErrorInvalidRequest",
                "Your request can't be completed. The organizer did not request a response.",
            )
        if action == "decline":
            self.graph.delete_event(event.id)
        else:
            self.graph.update_event(event.id, response=_REPLIES[action])

    # Calendars and reads --------------------------------------------------------------------

    def _calendar(self, calendar_id: str) -> dict[str, Any]:
        calendar = self.graph.calendars.get(calendar_id)
        if calendar is None or calendar["_user"] != self.user.oid:
            raise GraphError(404, *_NOT_FOUND)
        return calendar

    def _writable(self, calendar: dict[str, Any]) -> None:
        if not calendar["canEdit"]:
            raise GraphError(
                403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )

    def _list_calendars(self) -> dict[str, Any]:
        with self.graph.lock:
            mine = [
                _public(c) for c in self.graph.calendars.values() if c["_user"] == self.user.oid
            ]
        skip = int(self.query.get("$skip", "0"))
        page = mine[skip : skip + self.page_size]
        answer: dict[str, Any] = {
            "@odata.context": f"{self.graph.url}/$metadata#users('{self.user.oid}')/calendars",
            "value": page,
        }
        if skip + self.page_size < len(mine):
            answer["@odata.nextLink"] = self._link(
                "me/calendars", {**self.query, "$skip": str(skip + self.page_size)}
            )
        return answer

    def _calendar_view(self, calendar: dict[str, Any]) -> dict[str, Any]:
        start, end = self._window()
        events = self._instances(calendar["id"], start, end)
        skip = int(self.query.get("$skip", "0"))
        select = {name for name in self.query.get("$select", "").split(",") if name}
        items = [
            self._render(event, select=select) for event in events[skip : skip + self.page_size]
        ]
        answer: dict[str, Any] = {"value": items}
        if skip + self.page_size < len(events):
            answer["@odata.nextLink"] = self._link(
                f"me/calendars/{calendar['id']}/calendarView",
                {**self.query, "$skip": str(skip + self.page_size)},
            )
        return answer

    def _list_events(self, calendar: dict[str, Any]) -> dict[str, Any]:
        with self.graph.lock:
            events = [
                e
                for e in self.graph.events.values()
                if e.calendar_id == calendar["id"]
                and not e.deleted
                and e.type in ("singleInstance", "seriesMaster")
            ]
        if "$filter" in self.query:
            match = _BLOCK_FILTER.fullmatch(self.query["$filter"])
            if match is None:
                raise GraphError(
                    400,
                    "ErrorInvalidUrlQueryFilter",
                    "The query filter contains one or more invalid nodes.",
                )
            prop_id, value = (group.replace("''", "'") for group in match.groups())
            events = [
                e
                for e in events
                if any(k.lower() == prop_id.lower() and v == value for k, v in e.properties.items())
            ]
        select = {name for name in self.query.get("$select", "").split(",") if name}
        return {"value": [self._render(event, select=select) for event in events[: self.page_size]]}

    def _delta(self, calendar: dict[str, Any]) -> dict[str, Any]:
        unsupported = {"$expand", "$filter", "$select", "$orderby", "$search", "$top"} & set(
            self.query
        )
        if unsupported:
            raise GraphError(
                400,
                "ErrorInvalidUrlQuery",
                f"The query parameter '{unsupported.pop()}' is not supported with change tracking.",
            )
        graph = self.graph
        with graph.lock:
            for name in ("$skiptoken", "$deltatoken"):
                token = self.query.get(name)
                if token is not None and token in graph._stale:
                    status, code = graph._stale[token]
                    raise GraphError(
                        status,
                        code,
                        "The sync state generation is not found. The delta token is expired and data must be synchronized again.",
                    )
            if "$skiptoken" in self.query:
                if self.query["$skiptoken"] not in graph._pages:
                    raise GraphError(410, "syncStateNotFound", "The sync state is not found.")
                items, delta_token = graph._pages.pop(self.query["$skiptoken"])
                return self._delta_page(calendar, items, delta_token)
            if "$deltatoken" in self.query:
                state = graph._delta.get(self.query["$deltatoken"])
                if (
                    state is None
                    or state.calendar_id != calendar["id"]
                    or state.user != self.user.oid
                ):
                    raise GraphError(410, "syncStateNotFound", "The sync state is not found.")
                items = self._changes_since(state)
                start, end = state.start, state.end
            else:
                start, end = self._window()
                items = [
                    self._render(event) for event in self._instances(calendar["id"], start, end)
                ]
            delta_token = secrets.token_urlsafe(24)
            graph._delta[delta_token] = _DeltaState(
                self.user.oid, calendar["id"], start, end, graph._version
            )
            return self._delta_page(calendar, items, delta_token)

    def _delta_page(
        self, calendar: dict[str, Any], items: list[dict[str, Any]], delta_token: str
    ) -> dict[str, Any]:
        page, rest = items[: self.page_size], items[self.page_size :]
        answer: dict[str, Any] = {
            "@odata.context": f"{self.graph.url}/$metadata#Collection(event)",
            "value": page,
        }
        base = f"me/calendars/{calendar['id']}/calendarView/delta"
        if rest:
            skip_token = secrets.token_urlsafe(24)
            self.graph._pages[skip_token] = (rest, delta_token)
            answer["@odata.nextLink"] = self._link(base, {"$skiptoken": skip_token})
        else:
            answer["@odata.deltaLink"] = self._link(base, {"$deltatoken": delta_token})
        return answer

    def _changes_since(self, state: _DeltaState) -> list[dict[str, Any]]:
        changed = sorted(
            (
                e
                for e in self.graph.events.values()
                if e.calendar_id == state.calendar_id and e.version > state.version
            ),
            key=lambda e: e.version,
        )
        items = []
        for event in changed:
            if event.type == "seriesMaster":
                continue
            if not event.deleted and event.overlaps(state.start, state.end):
                items.append(self._render(event))
            elif event.created_version > state.version:
                continue  # the client never had it: nothing to say
            elif event.deleted:
                items.append(
                    {
                        "@odata.type": "#microsoft.graph.event",
                        "id": self._id(event.id),
                        "@removed": {"reason": "deleted"},
                    }
                )
            else:
                # Still there, out of the window: its id, every other field null.
                rendered = self._render(event)
                items.append(
                    {
                        **{name: None for name in rendered if not name.startswith("@")},
                        "@odata.type": "#microsoft.graph.event",
                        "id": rendered["id"],
                    }
                )
        return items

    def _instances(self, calendar_id: str, start: datetime, end: datetime) -> list[FakeEvent]:
        with self.graph.lock:
            return sorted(
                (
                    e
                    for e in self.graph.events.values()
                    if e.calendar_id == calendar_id
                    and not e.deleted
                    and e.type != "seriesMaster"
                    and e.overlaps(start, end)
                ),
                key=lambda e: (e.start, e.id),
            )

    def _window(self) -> tuple[datetime, datetime]:
        try:
            start = _parse_time(self.query["startDateTime"])
            end = _parse_time(self.query["endDateTime"])
        except KeyError as error:
            raise GraphError(
                400,
                "ErrorInvalidParameter",
                "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
            ) from error
        return start, end

    # Events ---------------------------------------------------------------------------------

    def _event(self, external_id: str) -> FakeEvent:
        event = self.graph.events.get(external_id.removeprefix("rest-"))
        if event is None or event.deleted or event.user != self.user.oid:
            raise GraphError(404, *_NOT_FOUND)
        return event

    def _create_event(self, calendar: dict[str, Any]) -> dict[str, Any]:
        self._writable(calendar)
        fields = self._event_fields(self.payload, creating=True)
        transaction_id = fields.get("transaction_id")
        with self.graph.lock:
            if transaction_id is not None:
                used = self.graph.transactions.get((self.user.oid, transaction_id))
                if used is not None:
                    return self._repeated_create(calendar, *used)
            event_id = self.graph.add_event(
                calendar["id"],
                fields.pop("subject", ""),
                fields.pop("start"),
                fields.pop("end"),
                **fields,
            )
            if transaction_id is not None:
                self.graph.transactions[(self.user.oid, transaction_id)] = (event_id, self.payload)
        return self._render(self.graph.events[event_id])

    def _repeated_create(
        self, calendar: dict[str, Any], event_id: str, first_body: dict[str, Any]
    ) -> dict[str, Any]:
        """A create whose transactionId was used before in the mailbox.

        The reference says transactionId lets the server "avoid redundant POST operations in case
        of client retries to create the same event", and its error names "a different event"; a
        Microsoft support engineer's walk-through (blog.rykoma.net, 2020-10-05) shows an identical
        repeat answered 201 with nothing created. So: the same body while the first event lives
        gets that event back; anything else is refused.
        """
        event = self.graph.events[event_id]
        same = self.payload == first_body and event.calendar_id == calendar["id"]
        if same and not event.deleted:
            return self._render(event)
        raise GraphError(400, *_DUPLICATE_TRANSACTION)

    def _update_event(self, event: FakeEvent) -> dict[str, Any]:
        self._writable(self.graph.calendars[event.calendar_id])
        fields = self._event_fields(self.payload, creating=False)
        if "properties" in fields:
            fields["properties"] = {**event.properties, **fields["properties"]}
        with self.graph.lock:
            self.graph.update_event(event.id, **fields)
            if event.type == "seriesMaster":
                self._update_instances(event, fields)
        return self._render(event)

    def _update_instances(self, master: FakeEvent, fields: dict[str, Any]) -> None:
        """A master's change reaching its instances (see the module's docstring)."""
        content = {
            name: getattr(master, name)
            for name in ("subject", "body", "location")
            if name in fields
        }
        moved = bool({"start", "end", "is_all_day"} & set(fields))
        zone = _zone(master.start_zone)
        length = master.end - master.start
        for instance in list(self.graph.events.values()):
            if instance.series_master_id != master.id or instance.deleted:
                continue
            if moved:
                day = (instance.original_start or instance.start).astimezone(zone).date()
                local = master.start.astimezone(zone).replace(tzinfo=None)
                start = datetime.combine(day, local.time(), tzinfo=zone)
                changes = {
                    "start": start.astimezone(UTC),
                    "end": (start + length).astimezone(UTC),
                    "is_all_day": master.is_all_day,
                    "subject": master.subject,
                    "body": dict(master.body),
                    "location": master.location,
                }
            elif instance.type == "occurrence" and content:
                changes = dict(content)
            else:
                continue
            for name, value in changes.items():
                setattr(instance, name, value)
            instance.type = "occurrence"
            instance.version = self.graph._bump()

    def _event_fields(self, payload: Any, *, creating: bool) -> dict[str, Any]:
        if not isinstance(payload, dict):
            raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
        unknown = set(payload) - _EVENT_FIELDS
        if unknown:
            raise GraphError(
                400,
                "RequestBodyRead",
                f"The property '{unknown.pop()}' does not exist on type 'microsoft.graph.event'.",
            )
        fields: dict[str, Any] = {}
        if "transactionId" in payload:
            if not creating:
                raise GraphError(400, *_IMMUTABLE_TRANSACTION)
            if not isinstance(payload["transactionId"], str) or not payload["transactionId"]:
                raise GraphError(400, "RequestBodyRead", "Invalid transactionId.")
            fields["transaction_id"] = payload["transactionId"]
        all_day = bool(payload.get("isAllDay", False))
        for name in ("start", "end"):
            if name in payload:
                fields[name] = _parse_timestamp(payload[name])
                if name == "start":
                    fields["start_zone"] = _zone_name(payload[name])
            elif creating:
                raise GraphError(
                    400, "ErrorPropertyValidationFailure", f"The {name} time is required."
                )
        if all_day and any(
            fields[name].astimezone(_zone(_zone_name(payload[name]))).time() != datetime.min.time()
            for name in ("start", "end")
            if name in fields
        ):
            raise GraphError(
                400,
                "ErrorPropertyValidationFailure",
                "All-day events must start and end at midnight.",
            )
        if "start" in fields and "end" in fields and fields["end"] < fields["start"]:
            raise GraphError(
                400, "ErrorInvalidRequest", "The end time must be after the start time."
            )
        if "isAllDay" in payload:
            fields["is_all_day"] = all_day
        if "showAs" in payload:
            if payload["showAs"] not in _SHOW_AS:
                raise GraphError(400, "RequestBodyRead", "Invalid showAs.")
            fields["show_as"] = payload["showAs"]
        if "sensitivity" in payload:
            if payload["sensitivity"] not in _SENSITIVITY:
                raise GraphError(400, "RequestBodyRead", "Invalid sensitivity.")
            fields["sensitivity"] = payload["sensitivity"]
        for name, attribute in (
            ("subject", "subject"),
            ("isReminderOn", "is_reminder_on"),
            ("responseRequested", "response_requested"),
            ("attendees", "attendees"),
        ):
            if name in payload:
                fields[attribute] = payload[name]
        if "body" in payload:
            fields["body"] = {
                "contentType": payload["body"].get("contentType", "text"),
                "content": payload["body"].get("content", ""),
            }
        if "location" in payload:
            fields["location"] = payload["location"].get("displayName", "")
        if "singleValueExtendedProperties" in payload:
            properties = {}
            for prop in payload["singleValueExtendedProperties"]:
                if not isinstance(prop.get("value"), str) or not str(prop.get("id", "")).startswith(
                    "String {"
                ):
                    raise GraphError(400, "ErrorInvalidProperty", "Invalid extended property.")
                properties[prop["id"]] = prop["value"]
            fields["properties"] = properties
        return fields

    def _render(self, event: FakeEvent, *, select: set[str] | None = None) -> dict[str, Any]:
        body = dict(event.body)
        if self.text_body and body["contentType"] == "html":
            body = {
                "contentType": "text",
                "content": re.sub(r"<[^>]+>", "", body["content"]).strip(),
            }
        item: dict[str, Any] = {
            "@odata.etag": _etag(event),
            "id": self._id(event.id),
            "createdDateTime": "2026-01-01T00:00:00.0000000Z",
            "lastModifiedDateTime": _graph_datetime(_now()),
            "changeKey": str(event.version),
            "categories": [],
            "originalStartTimeZone": event.start_zone,
            "originalEndTimeZone": event.start_zone,
            "iCalUId": event.ical_uid,
            "reminderMinutesBeforeStart": 15,
            "isReminderOn": event.is_reminder_on,
            "hasAttachments": False,
            "subject": event.subject,
            "bodyPreview": body["content"][:255],
            "importance": "normal",
            "sensitivity": event.sensitivity,
            "isAllDay": event.is_all_day,
            "isCancelled": event.is_cancelled,
            "isOrganizer": event.response == "organizer",
            "responseRequested": event.response_requested,
            "seriesMasterId": self._id(event.series_master_id) if event.series_master_id else None,
            "showAs": event.show_as,
            "type": event.type,
            "webLink": f"https://outlook.office365.com/owa/?itemid={quote(event.id)}",
            "onlineMeetingUrl": None,
            "isOnlineMeeting": bool(event.join_url),
            "onlineMeetingProvider": "teamsForBusiness" if event.join_url else "unknown",
            "responseStatus": {"response": event.response, "time": "0001-01-01T00:00:00Z"},
            "body": body,
            "start": self._time(event.start, all_day=event.is_all_day),
            "end": self._time(event.end, all_day=event.is_all_day),
            "location": {
                "displayName": event.location,
                "locationType": "default",
                "uniqueIdType": "unknown",
                "address": {},
                "coordinates": {},
            },
            "locations": [{"displayName": event.location}] if event.location else [],
            "recurrence": None,
            "attendees": event.attendees,
            "organizer": {"emailAddress": {"name": self.user.name, "address": self.user.email}},
            "onlineMeeting": {"joinUrl": event.join_url} if event.join_url else None,
        }
        if event.transaction_id is not None:  # "only returned … if an app has set it"
            item["transactionId"] = event.transaction_id
        if expand := self.query.get("$expand"):
            match = _EXPAND.fullmatch(expand)
            if match is None:
                raise GraphError(400, "BadRequest", "Unsupported $expand.")
            wanted = match.group(1).replace("''", "'").lower()
            item["singleValueExtendedProperties"] = [
                {"id": k, "value": v} for k, v in event.properties.items() if k.lower() == wanted
            ]
        if select:
            item = {
                k: v
                for k, v in item.items()
                if k in select or k in ("id", "@odata.etag", "singleValueExtendedProperties")
            }
        return item

    def _time(self, moment: datetime, *, all_day: bool) -> dict[str, str]:
        if all_day:  # all-day events are dates: midnight, whichever zone was asked for
            return {
                "dateTime": f"{moment.date().isoformat()}T00:00:00.0000000",
                "timeZone": str(self.zone),
            }
        local = moment.astimezone(self.zone)
        return {"dateTime": f"{local:%Y-%m-%dT%H:%M:%S}.0000000", "timeZone": str(self.zone)}

    def _id(self, event_id: str) -> str:
        # Without IdType="ImmutableId" Graph hands out ids that change when an item moves.
        return event_id if self.immutable_ids else f"rest-{event_id}"

    def _link(self, path: str, query: dict[str, str]) -> str:
        return f"{self.graph.url}/{quote(path)}?{urlencode(query, safe='$', quote_via=quote)}"

    # Subscriptions --------------------------------------------------------------------------

    def _create_subscription(self) -> dict[str, Any]:
        body = self.payload
        if not isinstance(body, dict):
            raise GraphError(400, "InvalidRequest", "Empty payload.")
        for name in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
            if not body.get(name):
                raise GraphError(400, "InvalidRequest", f"Property {name} is required.")
        if not set(body["changeType"].split(",")) <= {"created", "updated", "deleted"}:
            raise GraphError(400, "InvalidRequest", "Invalid changeType.")
        match = re.fullmatch(r"/?me/(?:calendars/([^/]+)/)?events", body["resource"])
        if match is None:
            raise GraphError(400, "InvalidRequest", "Resource is not supported.")
        if match.group(1):
            self._calendar(match.group(1))
        if len(body.get("clientState") or "") > 255:
            raise GraphError(400, "InvalidRequest", "clientState is longer than 255 characters.")
        expires = self._granted_expiry(body["expirationDateTime"])
        for url in filter(None, (body["notificationUrl"], body.get("lifecycleNotificationUrl"))):
            if not url.startswith(
                ("https://", "http://")
            ):  # Graph wants https; loopback tests use http
                raise GraphError(400, "InvalidRequest", "The notification URL must be https.")
            self._validate(url)
        subscription = {
            "id": str(uuid.uuid4()),
            "resource": body["resource"],
            "applicationId": self.graph.identity.client_id,
            "changeType": body["changeType"],
            "clientState": body.get("clientState"),
            "notificationUrl": body["notificationUrl"],
            "lifecycleNotificationUrl": body.get("lifecycleNotificationUrl"),
            "expirationDateTime": _graph_datetime(expires),
            "creatorId": self.user.oid,
            "includeResourceData": False,
            "latestSupportedTlsVersion": "v1_2",
            "notificationUrlAppId": None,
            "_user": self.user.oid,
        }
        with self.graph.lock:
            self.graph.subscriptions[subscription["id"]] = subscription
        return _public(subscription)

    def _validate(self, url: str) -> None:
        """Graph's handshake: POST ?validationToken=…, expect 200 text/plain echoing it within 10 s."""
        token = f"Validation: Testing client application reachability for subscription Request-Id: {uuid.uuid4()}"
        separator = "&" if "?" in url else "?"
        delivery = self.graph.deliver(
            f"{url}{separator}{urlencode({'validationToken': token})}",
            b"",
            {"Content-Type": "text/plain; charset=utf-8"},
            10.0,
        )
        self.graph.deliveries.append(delivery)
        if not (
            delivery.status == 200
            and delivery.content_type.startswith("text/plain")
            and delivery.text == token
            and delivery.seconds <= 10
        ):
            raise GraphError(
                400,
                "ValidationError",
                "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.",
            )

    def _subscription(self, subscription_id: str) -> tuple[int, Any]:
        with self.graph.lock:
            subscription = self.graph.subscriptions.get(subscription_id)
            expired = (
                subscription is not None
                and _parse_time(subscription["expirationDateTime"]) < _now()
            )
            if expired:  # Graph deletes subscriptions that lapse
                del self.graph.subscriptions[subscription_id]
            if subscription is None or subscription["_user"] != self.user.oid or expired:
                raise GraphError(
                    404, "ResourceNotFound", f"The object was not found: {subscription_id}"
                )
            if self.method == "DELETE":
                del self.graph.subscriptions[subscription_id]
                return 204, None
            if self.method == "GET":
                return 200, _public(subscription)
            if self.method == "PATCH":
                if not isinstance(self.payload, dict) or set(self.payload) - {
                    "expirationDateTime",
                    "notificationUrl",
                }:
                    raise GraphError(
                        400, "InvalidRequest", "Only expirationDateTime can be changed."
                    )
                subscription["expirationDateTime"] = _graph_datetime(
                    self._granted_expiry(self.payload["expirationDateTime"])
                )
                return 200, _public(subscription)
        raise GraphError(405, "MethodNotAllowed", "Method not allowed.")

    def _granted_expiry(self, requested: str) -> datetime:
        wanted = _parse_time(requested)
        if wanted <= _now():
            raise GraphError(
                400, "InvalidRequest", "Subscription expiration must be in the future."
            )
        limit = self.graph.subscription_limit_minutes
        if wanted > _now() + timedelta(minutes=limit):
            raise GraphError(
                400,
                "ExtensionError",
                f"Subscription expiration can only be {limit} minutes in the future.",
            )
        longest = (
            _now() + timedelta(minutes=self.graph.subscription_max_minutes) - timedelta(seconds=7)
        )
        return min(wanted, longest)


def _public(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if not k.startswith("_")}


def _parse_time(value: str) -> datetime:
    head, _, fraction = value.rstrip("Z").partition(".")
    parsed = datetime.fromisoformat(head + (f".{fraction[:6]}" if fraction else ""))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _zone_name(value: dict[str, str]) -> str:
    return value.get("timeZone") or "UTC"


def _zone(name: str) -> Any:
    """The zone a written ``timeZone`` names: "UTC" or a Windows name (see the module docstring)."""
    if name == "UTC":
        return UTC
    if name in WINDOWS_TO_OLSON:
        return ZoneInfo(WINDOWS_TO_OLSON[name])
    raise GraphError(
        400,
        "TimeZoneNotSupportedException",
        "A valid TimeZone value must be specified. The following TimeZone value is not "
        f"supported: '{name}'.",
    )


def _parse_timestamp(value: Any) -> datetime:
    if not isinstance(value, dict) or "dateTime" not in value:
        raise GraphError(400, "RequestBodyRead", "A dateTimeTimeZone is expected.")
    local = _parse_time(value["dateTime"]).replace(tzinfo=None)
    return local.replace(tzinfo=_zone(_zone_name(value)))


def _etag(event: FakeEvent) -> str:
    return f'W/"{event.version}"'


class _GraphHandler(BaseHTTPRequestHandler):
    fake: FakeGraph
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fault = None
        if self.command != "GET" and _EVENT_WRITE.search(urlsplit(self.path).path):
            fault = self.fake.faults.decide(self.command, self.path)

        def carry_out() -> Any:
            answer = self.fake.handle(self.command, self.path, self.headers, body)
            return lambda: self._answer(*answer)

        serve_write(self, fault, carry_out)

    def _answer(self, status: int, headers: dict[str, str], answer: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        if answer:
            self.wfile.write(answer)

    do_GET = do_POST = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


# The identity platform for other processes ----------------------------------------------------


class IdentityRelay:
    """The fake identity platform served over loopback HTTP, for a worker process started by a
    test: msal there reaches it through ``RelayHttpClient`` (``tests.celery_worker`` installs it),
    as msal here reaches the fake object directly."""

    def __init__(self, identity: FakeIdentityPlatform) -> None:
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                asked = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                call = relay.identity.get if asked["method"] == "GET" else relay.identity.post
                kwargs = {k: asked[k] for k in ("params", "data", "headers") if asked.get(k)}
                answer = call(asked["url"], **kwargs)
                body = json.dumps(
                    {
                        "status_code": answer.status_code,
                        "text": answer.text,
                        "headers": dict(answer.headers),
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.identity = identity
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class RelayHttpClient:
    """msal's ``http_client`` (``get``/``post``/``close``) over an ``IdentityRelay``."""

    def __init__(self, relay_url: str) -> None:
        self._relay_url = relay_url
        self._client = httpx.Client(timeout=10)

    def get(self, url: str, params: Any = None, headers: Any = None, **kwargs: Any) -> Any:
        return self._send("GET", url, params=params, headers=headers)

    def post(
        self, url: str, params: Any = None, data: Any = None, headers: Any = None, **kwargs: Any
    ) -> Any:
        return self._send("POST", url, params=params, data=data, headers=headers)

    def close(self) -> None:
        self._client.close()

    def _send(self, method: str, url: str, **parts: Any) -> FakeHttpResponse:
        asked = {"method": method, "url": url, **{k: v for k, v in parts.items() if v}}
        answer = self._client.post(self._relay_url, json=asked).json()
        return FakeHttpResponse(answer["status_code"], answer["text"], answer["headers"])


# The two together, and the fixture -----------------------------------------------------------


@dataclass
class FakeAccount:
    """A user who connected their Microsoft account: the secrets we would have sealed."""

    user: FakeUser
    secrets: dict[str, str]
    default_calendar: str


class MicrosoftFake:
    def __init__(self) -> None:
        self.identity = FakeIdentityPlatform()
        self.graph = FakeGraph(self.identity)

    @property
    def authority(self) -> str:
        return self.identity.authority

    @property
    def graph_url(self) -> str:
        return self.graph.url

    def start(self) -> None:
        self.graph.start()

    def stop(self) -> None:
        self.graph.stop()

    def connect(
        self, email: str = "ada@contoso.example", name: str = "Ada Lovelace"
    ) -> FakeAccount:
        """A user with a default calendar signs in through msal's auth-code flow (PKCE, nonce)
        against the fake; returns the secrets a connection would store."""
        import msal

        from integrations.microsoft import credentials

        user = self.identity.add_user(email, name)
        calendar_id = self.graph.add_calendar(user, "Calendar", default=True)
        cache = msal.SerializableTokenCache()
        app = credentials.confidential_client(token_cache=cache, http_client=self.identity)
        flow = app.initiate_auth_code_flow(
            credentials.SCOPES, redirect_uri=REDIRECT_URI, response_mode="form_post"
        )
        result = app.acquire_token_by_auth_code_flow(
            flow, self.identity.authorize(flow["auth_uri"], user)
        )
        assert "access_token" in result, result
        account = result["id_token_claims"]
        assert account["oid"] == user.oid
        secrets_ = {
            "token_cache": cache.serialize(),
            "home_account_id": user.home_account_id,
            "email": email,
        }
        return FakeAccount(user=user, secrets=secrets_, default_calendar=calendar_id)


@pytest.fixture(name="microsoft_fake")
def microsoft_fake_fixture(settings, monkeypatch) -> Iterator[MicrosoftFake]:
    """Microsoft's identity platform and Graph, with the app's settings pointed at them.

    Test modules import ``microsoft_fake_fixture`` (or list this module in ``pytest_plugins``).
    """
    from integrations.microsoft import credentials

    fake = MicrosoftFake()
    fake.start()
    settings.MICROSOFT_AUTHORITY = fake.authority
    settings.MICROSOFT_GRAPH_URL = fake.graph_url
    settings.MICROSOFT_CLIENT_ID = fake.identity.client_id
    settings.MICROSOFT_CLIENT_SECRET = fake.identity.client_secret
    monkeypatch.setattr(credentials, "identity_http_client", lambda: fake.identity)
    yield fake
    fake.stop()
