"""A stateful fake of Zoom's OAuth endpoints and the meetings API, on loopback.

The ``zoom_fake`` fixture points ``ZOOM_API_URL``, ``ZOOM_OAUTH_URL`` and the client credentials at
it, so the production code talks to it unmodified. What it keeps, with Zoom's JSON shapes:

- ``consent(authorize_url)`` plays the consent screen: it reads the URL the view redirected to and
  issues a one-time code bound to its PKCE challenge and redirect URI;
- ``POST /oauth/token`` with HTTP Basic client auth: the ``authorization_code`` grant (verifier,
  redirect URI and single use checked) and the ``refresh_token`` grant, which ROTATES: each use
  issues a new refresh token and spends the old one (a spent or revoked one answers 400
  ``invalid_grant``); ``refresh_delay`` slows refreshes down to widen races;
- ``GET /v2/users/me``; meetings: ``POST /v2/users/me/meetings``, ``GET``/``PATCH``/``DELETE
  /v2/meetings/{id}`` (404 code 3001 when gone);
- 401 (code 124) for an unknown or expired access token; ``throttle(n)`` answers the next ``n`` API
  requests 429 with ``Retry-After``, ``break_down(n)`` answers them 503;
- event notifications as Zoom signs them (``signed``): ``x-zm-signature`` is ``v0=`` and the hex
  HMAC-SHA256 of ``v0:<x-zm-request-timestamp>:<body>`` under the app's secret token, for the
  ``endpoint.url_validation`` challenge (``url_validation``) and the notice Zoom sends when a user
  removes the app (``deauthorization``).

API requests are recorded (``requests``); token requests are recorded apart (``token_requests``).
Helpers act as Zoom or the user would: ``revoke`` (the user removes the app), ``expire_access``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

API_PREFIX = "/v2"
OAUTH_PREFIX = "/oauth"
GRANTED_SCOPE = "meeting:write:meeting meeting:update:meeting meeting:delete:meeting user:read:user"
ACCOUNT_ID = "D8cJuqWVQ623CI4Q8yQK0Q"
# A challenge token of the shape Zoom sends (not a secret: Zoom sends it in the clear).
PLAIN_TOKEN = "qgg8vlvZRS6UYooatFL8Aw"


@dataclass
class RecordedRequest:
    method: str
    path: str
    body: Any = None


@dataclass
class FakeZoom:
    base_url: str = ""
    client_id: str = "zoom-client-id"
    client_secret: str = "zoom-client-secret"
    email: str = "host@zoom.example"
    # Zoom's id of the user who consents (``GET /users/me``'s ``id``).
    user_id: str = "KDcuGIm1QgePTO8WbOqwIQ"
    webhook_secret_token: str = "zoom-webhook-secret-token"
    granted_scope: str = GRANTED_SCOPE
    access_lifetime: int = 3599
    refresh_delay: float = 0.0
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    # Access token → expiry (monotonic seconds); valid refresh tokens; spent ones, to tell apart.
    access_tokens: dict[str, float] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)
    spent_refresh_tokens: set[str] = field(default_factory=set)
    meetings: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    # The next ``failing`` API requests answer ``failure_status`` (429 with Retry-After, or a 5xx).
    failing: int = 0
    failure_status: int = 429
    retry_after: int = 7
    lock: threading.Lock = field(default_factory=threading.Lock)

    # --- what the user and Zoom do ---------------------------------------------------------------

    def consent(self, authorize_url: str) -> dict[str, str]:
        """The user consents: the query Zoom sends back to our redirect URI."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        assert query["response_type"] == "code"
        assert query["client_id"] == self.client_id
        assert query["code_challenge_method"] == "S256"
        code = secrets.token_urlsafe(24)
        self.codes[code] = {
            "challenge": query["code_challenge"],
            "redirect_uri": query["redirect_uri"],
        }
        return {"code": code, "state": query["state"]}

    def grant(self) -> dict[str, Any]:
        """A fresh pair of tokens, as a token answer."""
        access, refresh = "zat-" + secrets.token_urlsafe(24), "zrt-" + secrets.token_urlsafe(24)
        self.access_tokens[access] = time.monotonic() + self.access_lifetime
        self.refresh_tokens.add(refresh)
        return {
            "access_token": access,
            "token_type": "bearer",
            "refresh_token": refresh,
            "expires_in": self.access_lifetime,
            "scope": self.granted_scope,
        }

    def revoke(self) -> None:
        """The user removes the app at Zoom: every token stops working."""
        with self.lock:
            self.spent_refresh_tokens |= self.refresh_tokens
            self.refresh_tokens.clear()
            self.access_tokens.clear()

    def expire_access(self) -> None:
        with self.lock:
            self.access_tokens = dict.fromkeys(self.access_tokens, 0.0)

    def throttle(self, count: int = 1, *, retry_after: int = 7) -> None:
        self.failing, self.failure_status, self.retry_after = count, 429, retry_after

    def break_down(self, count: int = 1, *, status: int = 503) -> None:
        self.failing, self.failure_status = count, status

    def signed(
        self, event: dict[str, Any], *, timestamp: int | None = None, secret: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """``event`` as Zoom posts it: the body, and the headers (as Django's test client takes
        them) with Zoom's timestamp and signature, under the app's secret token unless ``secret``."""
        body = json.dumps(event).encode()
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        key = (self.webhook_secret_token if secret is None else secret).encode()
        digest = hmac.new(key, f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
        return body, {"HTTP_X_ZM_REQUEST_TIMESTAMP": stamp, "HTTP_X_ZM_SIGNATURE": f"v0={digest}"}

    def url_validation(self, plain_token: str = PLAIN_TOKEN) -> dict[str, Any]:
        """The challenge Zoom sends to check an endpoint (and every 72 hours after)."""
        return {
            "payload": {"plainToken": plain_token},
            "event_ts": int(time.time() * 1000),
            "event": "endpoint.url_validation",
        }

    def deauthorization(self, *, user_id: str | None = None) -> dict[str, Any]:
        """The notice Zoom sends when the user removes the app from their Zoom account."""
        return {
            "event": "app_deauthorized",
            "event_ts": int(time.time() * 1000),
            "payload": {
                "account_id": ACCOUNT_ID,
                "user_id": self.user_id if user_id is None else user_id,
                "signature": secrets.token_hex(32),
                "user_data_retention": None,
                "deauthorization_time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "client_id": self.client_id,
            },
        }

    def refresh_works(self, refresh_token: str) -> bool:
        return refresh_token in self.refresh_tokens

    @property
    def refresh_grants(self) -> list[dict[str, str]]:
        return [r for r in self.token_requests if r.get("grant_type") == "refresh_token"]

    # --- the endpoints ---------------------------------------------------------------------------

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        self.token_requests.append(form)
        if authorization != f"Basic {expected}":
            return 401, {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
        if form.get("grant_type") == "authorization_code":
            with self.lock:
                issued = self.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            if (
                issued is None
                or challenge.rstrip(b"=").decode() != issued["challenge"]
                or form.get("redirect_uri") != issued["redirect_uri"]
            ):
                return 400, {"reason": "Invalid authorization code", "error": "invalid_grant"}
            with self.lock:
                return 200, self.grant()
        if form.get("grant_type") == "refresh_token":
            time.sleep(self.refresh_delay)
            with self.lock:
                refresh = form.get("refresh_token", "")
                if refresh not in self.refresh_tokens:
                    return 400, {"reason": "Invalid Token!", "error": "invalid_grant"}
                self.refresh_tokens.discard(refresh)
                self.spent_refresh_tokens.add(refresh)
                return 200, self.grant()
        return 400, {"reason": "Unsupported grant type", "error": "unsupported_grant_type"}

    def api(
        self, method: str, path: str, body: Any, authorization: str
    ) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        self.requests.append(RecordedRequest(method, path, body))
        token = authorization.removeprefix("Bearer ")
        with self.lock:
            if self.access_tokens.get(token, 0.0) <= time.monotonic():
                return 401, {"code": 124, "message": "Invalid access token."}, {}
            if self.failing:
                self.failing -= 1
                if self.failure_status == 429:
                    headers = {"Retry-After": str(self.retry_after)}
                    return 429, {"code": 429, "message": "Too many requests."}, headers
                return self.failure_status, {"code": 0, "message": "Internal error."}, {}
        if method == "GET" and path == "/users/me":
            return 200, {"id": self.user_id, "email": self.email, "type": 2}, {}
        if method == "POST" and path == "/users/me/meetings":
            meeting_id = str(80000000000 + len(self.meetings) + secrets.randbelow(10**6))
            meeting = {
                "id": int(meeting_id),
                "join_url": f"https://zoom.example/j/{meeting_id}",
                "host_email": self.email,
                **body,
            }
            self.meetings[meeting_id] = meeting
            return 201, meeting, {}
        if path.startswith("/meetings/"):
            meeting_id = path.removeprefix("/meetings/")
            meeting = self.meetings.get(meeting_id)
            if meeting is None:
                return 404, {"code": 3001, "message": "Meeting does not exist."}, {}
            if method == "GET":
                return 200, meeting, {}
            if method == "PATCH":
                settings = {**meeting.get("settings", {}), **body.pop("settings", {})}
                meeting.update(body, settings=settings)
                return 204, None, {}
            if method == "DELETE":
                del self.meetings[meeting_id]
                return 204, None, {}
        return 404, {"code": 300, "message": "Not found."}, {}


def _handler(fake: FakeZoom) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            path = urlsplit(self.path).path
            authorization = self.headers.get("Authorization", "")
            if path == f"{OAUTH_PREFIX}/token" and self.command == "POST":
                form = {k: v[0] for k, v in parse_qs(raw).items()}
                self._answer(*fake.token(form, authorization))
            elif path.startswith(API_PREFIX + "/"):
                body = json.loads(raw) if raw else None
                self._answer(
                    *fake.api(self.command, path.removeprefix(API_PREFIX), body, authorization)
                )
            else:
                self._answer(404, {"code": 300, "message": "Not found."})

        do_GET = do_POST = do_PATCH = do_DELETE = _handle

    return Handler


@pytest.fixture
def zoom_fake(settings) -> Iterator[FakeZoom]:
    """A running fake Zoom, with the settings pointing at it for the test's duration."""
    fake = FakeZoom()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    settings.ZOOM_API_URL = fake.base_url + API_PREFIX
    settings.ZOOM_OAUTH_URL = fake.base_url + OAUTH_PREFIX
    settings.ZOOM_CLIENT_ID = fake.client_id
    settings.ZOOM_CLIENT_SECRET = fake.client_secret
    settings.ZOOM_WEBHOOK_SECRET_TOKEN = fake.webhook_secret_token
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def zoom(owner, zoom_fake):
    """The owner's Zoom connection to the fake, made as the product makes one after OAuth."""
    from calendars.services import connection_connect_zoom
    from integrations.zoom.oauth import secrets_from_token_answer

    return connection_connect_zoom(
        user=owner,
        email=zoom_fake.email,
        secrets=secrets_from_token_answer(zoom_fake.grant()),
        ip_address=None,
    )
