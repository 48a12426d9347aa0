"""WebDAV over HTTP for the CalDAV provider: a guarded session, request bodies, multistatus parsing.

Every connection goes through ``multical.lib.safe_http.PinnedBackend``: it resolves the host,
checks every address, and connects to exactly those, so the check and the connection cannot
disagree (no DNS rebinding), for the first host, discovered hosts (iCloud's per-account host) and
redirects alike. httpcore underneath reads no proxy or ``.netrc`` from the environment; redirects
are followed by hand (keeping the method, never from https to http; credentials follow, as they
follow discovered hosts), bodies are asked for uncompressed and capped in size and time while
they stream, and nothing here logs a body, a header value or a credential.
"""

from __future__ import annotations

import base64
import logging
import random
import ssl
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urljoin, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import httpcore
import httpx

from integrations.base import ProviderError
from integrations.choices import gettext_noop
from multical.lib.http_headers import retry_after_seconds
from multical.lib.safe_http import FetchError, PinnedBackend, UnsafeURLError

logger = logging.getLogger(__name__)

TIMEOUT = 10  # seconds, for connecting and for each wait on the server
# A whole answer must arrive within this, however slowly the server trickles it.
DEADLINE = 60
# The largest answer: a multiget batch or a busy-time listing (5,000 events are about 3 MB).
MAX_BYTES = 64 * 1024 * 1024
MAX_REDIRECTS = 3

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
CALSERVER = "http://calendarserver.org/ns/"
APPLE = "http://apple.com/ns/ical/"
_PREFIXES = {DAV: "d", CALDAV: "c", CALSERVER: "cs", APPLE: "a"}

_REDIRECTS = {301, 302, 307, 308}
_SAFE_PATH = "/:@!$&'()*+,;=-._~"

NOT_CALDAV = gettext_noop("This address does not look like a CalDAV server.")
WRONG_CREDENTIALS = gettext_noop("The server refused the user name or password.")
CALENDAR_GONE = gettext_noop("This calendar no longer exists on the server.")
READ_REFUSED = gettext_noop("The server does not let this account read the calendar.")
XML_BODY = {"Content-Type": 'application/xml; charset="utf-8"'}
UNREACHABLE = gettext_noop("The CalDAV server could not be reached.")
TOO_SLOW = gettext_noop("The CalDAV server did not answer in time.")
# Seconds to wait, at random in this range, before sending again a request the server dropped.
_RESEND_PAUSE = (0.05, 0.25)


def qname(namespace: str, name: str) -> str:
    """An element name in ElementTree's ``{namespace}name`` form."""
    return f"{{{namespace}}}{name}"


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str  # the URL that answered, after redirects


@dataclass(slots=True)
class PropStat:
    """One ``<response>`` of a multistatus: its href, and the properties found with a 2xx status."""

    href: str
    status: int | None = None  # a response-level status (sync-collection marks removals with 404)
    props: dict[str, ElementTree.Element] = field(default_factory=dict)

    def text(self, namespace: str, name: str) -> str:
        element = self.props.get(qname(namespace, name))
        return (element.text or "").strip() if element is not None else ""

    def hrefs(self, namespace: str, name: str) -> list[str]:
        element = self.props.get(qname(namespace, name))
        if element is None:
            return []
        return [(href.text or "").strip() for href in element.iter(qname(DAV, "href")) if href.text]


@dataclass(slots=True)
class Multistatus:
    responses: list[PropStat]
    sync_token: str = ""


class NotMultistatusError(ValueError):
    """The body is not a WebDAV multistatus."""


class TooSlowError(ProviderError):
    """The server took longer than the timeout to answer (transient): a smaller request may not."""

    def __init__(self) -> None:
        super().__init__(TOO_SLOW, permanent=False)


class DAVSession:
    """One account's HTTP session: Basic auth sent up front (Digest when the server asks for it)."""

    def __init__(self, *, username: str, password: str, timeout: float | None = None) -> None:
        """``timeout``: seconds for connecting and for each wait on the server (``TIMEOUT``)."""
        self.timeout = TIMEOUT if timeout is None else timeout
        # httpcore's default TLS context trusts the system's certificates and certifi's.
        self._pool = httpcore.ConnectionPool(network_backend=PinnedBackend(), retries=0)
        self._username = username
        self._password = password
        self._basic = b"Basic " + base64.b64encode(f"{username}:{password}".encode())
        self._digest: httpx.DigestAuth | None = None
        self._timeouts = dict.fromkeys(("connect", "read", "write", "pool"), self.timeout)
        self.request_count = 0
        self.received_bytes = 0

    def close(self) -> None:
        self._pool.close()

    def wait_up_to(self, seconds: float) -> None:
        """From now on wait up to ``seconds`` for connecting and for each wait on the server (a
        server known to be slow for one collection is given longer; see ``sync.patience``)."""
        self.timeout = seconds
        self._timeouts = dict.fromkeys(("connect", "read", "write", "pool"), seconds)

    def request(
        self,
        method: str,
        url: str,
        *,
        body: str | bytes = b"",
        headers: Mapping[str, str] | None = None,
        accept: Collection[int] = (),
    ) -> Response:
        """Send one request, following redirects; any status but the ones below is a result.

        Raises ProviderError for 401 (permanent), 429/5xx (transient, with Retry-After; the
        statuses in ``accept`` are returned instead), network failures and timeouts
        (transient), refused addresses and oversized bodies (permanent).
        """
        data = body.encode() if isinstance(body, str) else body
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(method, url, data, headers or {})
            if response.status == 401 and self._should_switch_to_digest(response):
                self._switch_to_digest(method, url, response)
                response = self._send(method, url, data, headers or {})
            location = response.headers.get("Location", "")
            if response.status not in _REDIRECTS or not location:
                if response.status not in accept:
                    _raise_for_status(response)
                return response
            next_url = urljoin(url, location)
            if urlsplit(next_url).scheme not in ("http", "https") or (
                urlsplit(url).scheme == "https" and urlsplit(next_url).scheme != "https"
            ):
                raise ProviderError(NOT_CALDAV, permanent=True)
            url = next_url
        raise ProviderError(gettext_noop("The server redirects too many times."), permanent=True)

    def propfind(
        self, url: str, names: Sequence[tuple[str, str]], *, depth: int = 0
    ) -> Multistatus:
        """PROPFIND ``names``; a missing resource, a refusal or a non-DAV answer is a ProviderError."""
        response = self.request(
            "PROPFIND", url, body=propfind(names), headers={**XML_BODY, "Depth": str(depth)}
        )
        return expect_multistatus(response)

    def report(self, url: str, body: str, *, depth: int | None) -> Multistatus:
        """A REPORT (no Depth header for ``depth=None``), checked like ``propfind``."""
        headers = dict(XML_BODY) if depth is None else {**XML_BODY, "Depth": str(depth)}
        return expect_multistatus(self.request("REPORT", url, body=body, headers=headers))

    def _send(self, method: str, url: str, data: bytes, headers: Mapping[str, str]) -> Response:
        # A collection given more patience than TIMEOUT (sync.patience) gets a longer deadline too.
        deadline = time.monotonic() + DEADLINE * max(1.0, self.timeout / TIMEOUT)
        try:
            target = httpx.URL(url)
            try:
                status, response_headers, content = self._exchange(
                    method, target, data, headers, deadline
                )
            except _Unanswered:
                # The server dropped the connection before answering: a keep-alive connection it
                # closed just then, or a full accept queue. Every request we make can be sent
                # again (reads, and writes that are idempotent or conditional).
                time.sleep(random.uniform(*_RESEND_PAUSE))  # noqa: S311 - jitter, not crypto
                status, response_headers, content = self._exchange(
                    method, target, data, headers, deadline
                )
        except _Unanswered as error:
            raise ProviderError(UNREACHABLE, permanent=False) from error.__cause__
        except UnsafeURLError as error:
            raise ProviderError(str(error), permanent=True) from error
        except httpcore.TimeoutException as error:
            raise TooSlowError from error
        except httpcore.ConnectError as error:
            # httpcore keeps the TLS failure as the context of the error it raises.
            if isinstance(error.__cause__ or error.__context__, ssl.SSLError):
                raise ProviderError(
                    gettext_noop("The CalDAV server's certificate could not be verified."),
                    permanent=True,
                ) from error
            raise ProviderError(UNREACHABLE, permanent=False) from error
        except (httpx.InvalidURL, httpcore.UnsupportedProtocol) as error:
            raise ProviderError(
                gettext_noop("This is not a valid web address."), permanent=True
            ) from error
        except (FetchError, httpcore.NetworkError, httpcore.ProtocolError) as error:
            raise ProviderError(UNREACHABLE, permanent=False) from error
        self.received_bytes += len(content)
        logger.debug("CalDAV %s answered %s", method, status)
        return Response(status, response_headers, content, url)

    def _exchange(
        self,
        method: str,
        target: httpx.URL,
        data: bytes,
        headers: Mapping[str, str],
        deadline: float,
    ) -> tuple[int, httpx.Headers, bytes]:
        """One request and its whole answer; _Unanswered when the connection drops before it."""
        self.request_count += 1
        request_headers = [
            # httpcore would write an IPv6 host without its brackets; the URL's netloc has them.
            (b"Host", target.netloc),
            (b"User-Agent", b"Multical calendar sync"),
            # Uncompressed: the size cap then bounds memory too (no decompression bombs).
            (b"Accept-Encoding", b"identity"),
            (b"Authorization", self._authorization(method, target)),
            *((name.encode(), value.encode()) for name, value in headers.items()),
        ]
        answered = False
        try:
            with self._pool.stream(
                method,
                httpcore.URL(
                    scheme=target.raw_scheme,
                    host=target.raw_host,
                    port=target.port,
                    target=target.raw_path,
                ),
                headers=request_headers,
                content=data or None,
                extensions={"timeout": self._timeouts},
            ) as raw:
                answered = True
                response_headers = httpx.Headers(raw.headers)
                return (
                    raw.status,
                    response_headers,
                    _read_capped(raw.iter_stream(), response_headers, deadline),
                )
        except (httpcore.ReadError, httpcore.WriteError, httpcore.RemoteProtocolError) as error:
            if answered:
                raise
            raise _Unanswered from error

    def _authorization(self, method: str, target: httpx.URL) -> bytes:
        if self._digest is None:
            return self._basic
        # httpx's Digest flow, once it has seen the challenge, signs each request up front.
        signed = next(self._digest.sync_auth_flow(httpx.Request(method, target)))
        return signed.headers["Authorization"].encode()

    def _should_switch_to_digest(self, response: Response) -> bool:
        challenge = response.headers.get("WWW-Authenticate", "").lower()
        return self._digest is None and "digest" in challenge and "basic" not in challenge

    def _switch_to_digest(self, method: str, url: str, challenge: Response) -> None:
        digest = httpx.DigestAuth(self._username, self._password)
        flow = digest.sync_auth_flow(httpx.Request(method, url))
        first = next(flow)
        flow.send(httpx.Response(401, headers=challenge.headers, request=first))
        self._digest = digest


class _Unanswered(Exception):
    """The connection dropped before the server answered (the cause is httpcore's error)."""


def _read_capped(chunks: Iterable[bytes], headers: httpx.Headers, deadline: float) -> bytes:
    too_large = ProviderError(
        gettext_noop("The CalDAV server sent more data than we accept."), permanent=True
    )
    declared = headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES:
        raise too_large
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > MAX_BYTES:
            raise too_large
        if time.monotonic() > deadline:
            raise TooSlowError
    return bytes(body)


def _raise_for_status(response: Response) -> None:
    status = response.status
    if status == 401:
        raise ProviderError(WRONG_CREDENTIALS, permanent=True)
    if status in (429, 503):
        raise ProviderError(
            gettext_noop("The CalDAV server asked us to slow down."),
            permanent=False,
            retry_after=retry_after_seconds(response.headers.get("Retry-After", "")),
            throttled=True,
        )
    # 501 Not Implemented is an answer (no PROPFIND/REPORT here), not a passing failure.
    if status >= 500 and status != 501:
        raise ProviderError(
            gettext_noop("The CalDAV server had a problem (HTTP %(status)s)."),
            permanent=False,
            params={"status": status},
        )


def _xml(root: str, inner: str) -> str:
    namespace, name = root[1:].split("}")
    declarations = " ".join(f'xmlns:{prefix}="{uri}"' for uri, prefix in _PREFIXES.items())
    element = f"{_PREFIXES[namespace]}:{name}"
    return f'<?xml version="1.0" encoding="utf-8"?><{element} {declarations}>{inner}</{element}>'


def _prop(names: Sequence[tuple[str, str]]) -> str:
    return "<d:prop>" + "".join(f"<{_PREFIXES[ns]}:{name}/>" for ns, name in names) + "</d:prop>"


def propfind(names: Sequence[tuple[str, str]]) -> str:
    return _xml(qname(DAV, "propfind"), _prop(names))


def sync_collection(token: str) -> str:
    return _xml(
        qname(DAV, "sync-collection"),
        f"<d:sync-token>{escape(token)}</d:sync-token><d:sync-level>1</d:sync-level>"
        + _prop([(DAV, "getetag")]),
    )


def calendar_query(start: datetime, end: datetime) -> str:
    """The events overlapping [start, end), with their data (recurrences are expanded by us)."""
    return _events_query(_time_range(start, end))


def calendar_listing(start: datetime, end: datetime) -> str:
    """The hrefs and ETags (no data) of the events overlapping [start, end)."""
    return _xml(
        qname(CALDAV, "calendar-query"),
        _prop([(DAV, "getetag")]) + _event_filter(_time_range(start, end)),
    )


def property_query(name: str, text: str) -> str:
    """The events whose property ``name`` contains ``text``, with their data."""
    return _events_query(
        f'<c:prop-filter name="{escape(name)}">'
        f'<c:text-match collation="i;octet">{escape(text)}</c:text-match></c:prop-filter>'
    )


def _events_query(condition: str) -> str:
    return _xml(
        qname(CALDAV, "calendar-query"),
        _prop([(DAV, "getetag"), (CALDAV, "calendar-data")]) + _event_filter(condition),
    )


def _event_filter(condition: str) -> str:
    return (
        '<c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">'
        + condition
        + "</c:comp-filter></c:comp-filter></c:filter>"
    )


def _time_range(start: datetime, end: datetime) -> str:
    return f'<c:time-range start="{_utc(start)}" end="{_utc(end)}"/>'


def calendar_multiget(hrefs: Sequence[str]) -> str:
    return _xml(
        qname(CALDAV, "calendar-multiget"),
        _prop([(DAV, "getetag"), (CALDAV, "calendar-data")])
        + "".join(f"<d:href>{escape(href)}</d:href>" for href in hrefs),
    )


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


# Answers ------------------------------------------------------------------------------------


def parse_multistatus(body: bytes) -> Multistatus:
    """The responses of a multistatus body; raises NotMultistatusError for anything else."""
    # Python's expat never fetches external entities and (2.4.1+) bounds entity expansion; DAV
    # answers never carry a document type, so one is refused outright all the same.
    if b"<!DOCTYPE" in body:
        raise NotMultistatusError("a document type in a DAV answer")
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 - see above
    except ElementTree.ParseError as error:
        raise NotMultistatusError("not XML") from error
    if root.tag != qname(DAV, "multistatus"):
        raise NotMultistatusError("not a multistatus")
    result = Multistatus(
        responses=[], sync_token=(root.findtext(qname(DAV, "sync-token")) or "").strip()
    )
    for element in root.iterfind(qname(DAV, "response")):
        href = (element.findtext(qname(DAV, "href")) or "").strip()
        if not href:
            continue
        entry = PropStat(href=href, status=_status_code(element.findtext(qname(DAV, "status"))))
        for propstat in element.iterfind(qname(DAV, "propstat")):
            status = _status_code(propstat.findtext(qname(DAV, "status")))
            if status is None or not 200 <= status < 300:
                continue
            for prop in propstat.iterfind(qname(DAV, "prop")):
                for child in prop:
                    entry.props[child.tag] = child
        result.responses.append(entry)
    return result


def expect_multistatus(response: Response) -> Multistatus:
    if response.status in (404, 410):
        raise ProviderError(CALENDAR_GONE, permanent=True)
    if response.status == 403:
        raise ProviderError(READ_REFUSED, permanent=True)
    if response.status != 207:
        raise ProviderError(NOT_CALDAV, permanent=True)
    try:
        return parse_multistatus(response.body)
    except NotMultistatusError as error:
        raise ProviderError(NOT_CALDAV, permanent=True) from error


def first(answer: Multistatus) -> PropStat:
    """The first response of a Depth 0 answer (an empty one when the server sent none)."""
    return answer.responses[0] if answer.responses else PropStat(href="")


def _status_code(line: str | None) -> int | None:
    parts = (line or "").split()
    if len(parts) >= 2 and parts[1].isdigit():
        return int(parts[1])
    return None


def normalise_href(href: str, base_url: str) -> str:
    """The path of ``href`` (absolute or relative to ``base_url``), percent-encoded one way."""
    path = urlsplit(urljoin(base_url, href.strip())).path
    return quote(unquote(path), safe=_SAFE_PATH)
