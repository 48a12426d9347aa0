"""HTTP to Microsoft Graph for one mailbox, with Graph's answers turned into ``ProviderError``.

Graph allows four concurrent requests per mailbox (more are throttled), so
requests to one mailbox share four slots in this process; a limit across worker processes would
need a shared semaphore and is not here yet. A 401 gets one retry with a refreshed token.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from integrations.base import ProviderError
from integrations.choices import gettext_noop
from integrations.microsoft.credentials import REFUSED
from multical.lib.http_headers import retry_after_seconds
from multical.lib.shared_slots import NoSlotFree, shared_slot

MAX_IN_FLIGHT = 4
# Immutable ids (an event keeps its id when moved), UTC times, text bodies, and bigger pages than
# Graph's default of ten (Graph may still send fewer).
PREFER = (
    'IdType="ImmutableId"',
    'outlook.timezone="UTC"',
    'outlook.body-content-type="text"',
    "odata.maxpagesize=100",
)
TIMEOUT = httpx.Timeout(30.0, connect=10.0)

NOT_FOUND = gettext_noop("This calendar no longer exists at Microsoft.")
READ_ONLY = gettext_noop("This calendar is read-only: Microsoft refused the change.")
DENIED = gettext_noop("Microsoft denied access to this calendar; reconnect the account.")


def mailbox_slot_name(mailbox: str) -> str:
    """The name of the mailbox's in-flight slots, shared by every process (no address in it)."""
    return "graph:" + hashlib.sha256(mailbox.lower().encode()).hexdigest()[:32]


class GraphClient:
    """Requests to ``base_url`` (and only there: paging links are checked before a token is sent)."""

    def __init__(
        self,
        *,
        base_url: str,
        mailbox: str,
        access_token: Callable[..., str],
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._access_token = access_token
        self._slots = mailbox_slot_name(mailbox)
        headers = [("Accept", "application/json"), *(("Prefer", value) for value in PREFER)]
        self._http = httpx.Client(headers=headers, timeout=TIMEOUT, transport=transport)
        self._count_lock = threading.Lock()
        self.request_count = 0

    def close(self) -> None:
        self._http.close()

    def owns(self, url: str) -> bool:
        return url.startswith(self._base + "/")

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        write: bool = False,
        accept: tuple[int, ...] = (),
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request (with ``headers``, e.g. ``If-Match``); a status in ``accept`` is
        returned, any other failure raised."""
        url = path_or_url if "://" in path_or_url else self._base + path_or_url
        if not self.owns(url):
            raise ProviderError(
                gettext_noop("Microsoft sent a link to somewhere else."), permanent=False
            )
        token = self._access_token()
        response = self._send(method, url, params, json, token, headers)
        if response.status_code == 401:
            rejected = self._access_token(rejected=token)
            response = self._send(method, url, params, json, rejected, headers)
        if response.status_code < 400 or response.status_code in accept:
            return response
        raise error_for(response, write=write)

    def json(self, method: str, path_or_url: str, **kwargs: Any) -> dict[str, Any]:
        return decode(self.request(method, path_or_url, **kwargs))

    def pages(
        self, path: str, *, params: Mapping[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Each page of a collection, following ``@odata.nextLink``."""
        page = self.json("GET", path, params=params)
        yield page
        while next_link := page.get("@odata.nextLink"):
            page = self.json("GET", next_link)
            yield page

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        json: Any,
        token: str,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        with self._count_lock:
            self.request_count += 1
        try:
            # Graph throttles a mailbox past four concurrent requests, whoever sends them.
            with shared_slot(self._slots, limit=MAX_IN_FLIGHT, hold_seconds=60):
                return self._http.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers={**(headers or {}), "Authorization": f"Bearer {token}"},
                )
        except NoSlotFree as error:
            raise ProviderError(
                gettext_noop(
                    "Too many requests to this Microsoft account at once; trying again later."
                ),
                permanent=False,
            ) from error
        except httpx.TimeoutException as error:
            raise ProviderError(
                gettext_noop("Microsoft did not answer in time; trying again later."),
                permanent=False,
            ) from error
        except httpx.HTTPError as error:
            raise ProviderError(
                gettext_noop("Could not reach Microsoft; trying again later."), permanent=False
            ) from error


def decode(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ProviderError(
            gettext_noop("Microsoft sent an answer we could not read."), permanent=False
        )
    return body


def error_code(response: httpx.Response) -> str:
    """Graph's ``error.code`` ("" when the body has none)."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    return str(error.get("code", "")) if isinstance(error, dict) else ""


def error_for(response: httpx.Response, *, write: bool) -> ProviderError:
    status = response.status_code
    retry_after = retry_after_seconds(response.headers.get("Retry-After", ""))
    if status == 401:
        return ProviderError(REFUSED, permanent=True)
    if status in (429, 503, 504) or (status >= 500 and retry_after is not None):
        return ProviderError(
            gettext_noop("Microsoft asked us to slow down; trying again later."),
            permanent=False,
            retry_after=retry_after,
            throttled=status in (429, 503),
        )
    if status == 403:
        return ProviderError(READ_ONLY if write else DENIED, permanent=True)
    if status == 404:
        return ProviderError(NOT_FOUND, permanent=True)
    if status >= 500:
        return ProviderError(
            gettext_noop("Microsoft had a problem (HTTP %(status)s); trying again later."),
            permanent=False,
            params={"status": status},
        )
    return ProviderError(
        gettext_noop("Microsoft rejected the request (HTTP %(status)s)."),
        permanent=False,
        params={"status": status},
    )
