"""A small Zoom API client: who the account is, and the meetings booking pages create.

Meetings carry what the caller passes as ``topic`` and nothing else from the booking: the booking
code passes the attendee's name, never their e-mail address, so no address ends up stored at Zoom
or shown to whoever sees the meeting. Cloud recording stays off (``auto_recording: "none"``) and
nobody joins before the host (``MEETING_SETTINGS``, which the permissions page reads).

Every failure is a ``ProviderError``: 429 and 5xx (and an unreachable Zoom) are transient, honouring
``Retry-After``; a 401 is answered by one refresh of the access token, and a second 401 is permanent
(the authorization is gone: the user must reconnect Zoom).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

import httpx
from django.conf import settings

from integrations.base import ProviderError
from integrations.choices import gettext_noop

TIMEOUT = httpx.Timeout(15.0)
REFUSED = gettext_noop("Zoom refused the stored authorization; reconnect Zoom.")
UNREACHABLE = gettext_noop("Zoom could not be reached; we will try again.")
BUSY = gettext_noop("Zoom asked us to slow down; we will try again.")
MEETING_GONE = gettext_noop("This Zoom meeting no longer exists.")
# Every meeting's settings (the permissions page says so): no cloud recording, and nobody in the
# meeting before its host.
MEETING_SETTINGS: dict[str, Any] = {"auto_recording": "none", "join_before_host": False}


class TokenSource(Protocol):
    """Where the client gets its bearer token, and a newer one after a 401."""

    def access_token(self) -> str: ...

    def refreshed(self, stale: str) -> str:
        """An access token other than ``stale`` (refreshing if no one has yet)."""
        ...


class Meeting(NamedTuple):
    id: str
    join_url: str


@dataclass(frozen=True)
class _StaticToken:
    token: str

    def access_token(self) -> str:
        return self.token

    def refreshed(self, stale: str) -> str:
        raise ProviderError(REFUSED, permanent=True)


def static_token(token: str) -> TokenSource:
    """A token that cannot be refreshed: for the moment right after the code exchange."""
    return _StaticToken(token)


class ZoomClient:
    def __init__(self, tokens: TokenSource) -> None:
        self.tokens = tokens

    def me(self) -> dict[str, Any]:
        user: dict[str, Any] = self._request("GET", "/users/me").json()
        return user

    def create_meeting(
        self, *, topic: str, start: datetime, duration_minutes: int, time_zone: str
    ) -> Meeting:
        """Schedule a meeting (type 2) for the account; its id and the link attendees join by."""
        response = self._request(
            "POST",
            "/users/me/meetings",
            json={
                "topic": topic,
                "type": 2,
                **_when(start, duration_minutes, time_zone),
                "settings": dict(MEETING_SETTINGS),
            },
        )
        body = response.json()
        return Meeting(id=str(body["id"]), join_url=str(body["join_url"]))

    def update_meeting(
        self,
        meeting_id: str,
        *,
        topic: str,
        start: datetime,
        duration_minutes: int,
        time_zone: str,
    ) -> None:
        """Move or retitle a meeting; a meeting that is gone raises a permanent error."""
        self._request(
            "PATCH",
            f"/meetings/{meeting_id}",
            json={"topic": topic, **_when(start, duration_minutes, time_zone)},
        )

    def delete_meeting(self, meeting_id: str) -> None:
        """Delete a meeting; one that is already gone is not an error."""
        self._request("DELETE", f"/meetings/{meeting_id}", missing_ok=True)

    def _request(
        self, method: str, path: str, *, json: Any = None, missing_ok: bool = False
    ) -> httpx.Response:
        token = self.tokens.access_token()
        response = self._send(method, path, token, json)
        if response.status_code == 401:
            response = self._send(method, path, self.tokens.refreshed(token), json)
            if response.status_code == 401:
                raise ProviderError(REFUSED, permanent=True)
        if response.status_code == 404 and missing_ok:
            return response
        _raise_for_status(response)
        return response

    def _send(self, method: str, path: str, token: str, json: Any) -> httpx.Response:
        try:
            return httpx.request(
                method,
                settings.ZOOM_API_URL.rstrip("/") + path,
                json=json,
                headers={"Authorization": f"Bearer {token}"},
                timeout=TIMEOUT,
            )
        except httpx.HTTPError as error:
            raise ProviderError(UNREACHABLE, permanent=False) from error


def _when(start: datetime, duration_minutes: int, time_zone: str) -> dict[str, Any]:
    if start.tzinfo is None:
        raise ValueError("Meeting times must be aware datetimes.")
    return {
        "start_time": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration": duration_minutes,
        "timezone": time_zone,
    }


def _raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    if status == 429 or status >= 500:
        raise ProviderError(
            BUSY if status == 429 else UNREACHABLE,
            permanent=False,
            retry_after=_retry_after(response),
        )
    if status == 404:
        raise ProviderError(MEETING_GONE, permanent=True)
    raise ProviderError(
        gettext_noop("Zoom refused the request (HTTP %(status)s)."),
        permanent=True,
        params={"status": status},
    )


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(float(response.headers.get("Retry-After", "")), 0.0)
    except ValueError:
        return None
