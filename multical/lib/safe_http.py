"""The one guarded fetcher for user-supplied URLs (iCal links), and its pinned connections.

A URL is accepted only with an http, https or webcal scheme, no user name or password in it, and
a port (if any) from 1 to 65535. Its host is resolved once and every address it resolves to must
be public; the connection then goes to a checked address and nowhere else, so a DNS answer that
changes after the check (DNS rebinding) cannot redirect it. Redirects are followed by hand, each
hop checked the same way. One deadline bounds the whole fetch, and the body is capped while it
streams, after decompression.

Two settings widen "public": ``OUTBOUND_ALLOW_LOOPBACK`` (the test suite, local development) and
``OUTBOUND_ALLOWED_NETWORKS``, the private networks an operator lets users reach (their own CalDAV
server), both checked and pinned the same way. Neither ever opens cloud metadata, link-local,
multicast, broadcast or "this host" addresses, nor an address spelled through a translation prefix.
``PinnedBackend`` is the connecting part alone, for the CalDAV session's own connection pool.

``post`` sends one POST the same guarded way (outgoing webhooks) and never follows a redirect: a
3xx is its answer, so a receiver cannot send the request on to another address.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import httpcore
import httpx
from django.conf import settings
from django.utils.translation import gettext_noop

MAX_BYTES = 10 * 1024 * 1024
# A POST's answer is read only to finish the exchange; nobody needs much of it.
POST_MAX_BYTES = 256 * 1024
TIMEOUT = 10.0
MAX_REDIRECTS = 3

_SCHEMES = {"http": "http", "https": "https", "webcal": "https", "webcals": "https"}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_REDIRECT_STATUSES = {301, 302, 303, 307, 308}
_DEFAULT_HEADERS = {
    "User-Agent": "Multical calendar sync",
    "Accept": "text/calendar, */*;q=0.5",
    "Accept-Encoding": "gzip, deflate",
}
# Ranges that ``ipaddress`` reports as global in some Python versions but that are not reachable
# public hosts.
_ALSO_REFUSED = tuple(
    ipaddress.ip_network(network)
    for network in (
        "192.0.0.0/24",  # IETF protocol assignments
        "198.18.0.0/15",  # benchmarking
        "3fff::/20",  # documentation (RFC 9637)
    )
)
# Refused whatever the operator allows: nobody runs a calendar server there, and some of them are
# the keys to the machine we run on.
_NEVER_ALLOWED = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",  # "this host": connecting to 0.0.0.0 reaches the local machine
        "169.254.0.0/16",  # link-local: the cloud metadata services (169.254.169.254 and others)
        "100.100.100.200/32",  # Alibaba Cloud's metadata service
        "192.0.0.192/32",  # Oracle Cloud's metadata service
        "224.0.0.0/4",  # multicast
        "255.255.255.255/32",  # broadcast
        "::/128",  # unspecified
        "fe80::/10",  # link-local
        "fd00:ec2::254/128",  # AWS's metadata service over IPv6
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_PORTS = range(1, 65536)
# Plain words for the person who typed the address: whoever runs the installation can allow a
# private network, so that is who they can ask; the addresses nobody can allow say only no.
# Raised in English (they may be kept as a connection's last error); a form that shows one to
# its user translates it (``gettext_noop`` marks them for the catalogues).
PRIVATE_NETWORK_MESSAGE = gettext_noop(
    "This address is on a private network, which this installation does not reach. If your "
    "calendar server is on your own network, ask whoever runs this installation to allow it."
)
RESERVED_ADDRESS_MESSAGE = gettext_noop(
    "This address is reserved for special uses and cannot be used."
)
PORT_MESSAGE = gettext_noop(
    "This is not a valid web address: the port must be a number from 1 to 65535."
)
INVALID_ADDRESS_MESSAGE = gettext_noop("This is not a valid web address.")
SCHEME_MESSAGE = gettext_noop("Only http, https and webcal links can be used.")
USERINFO_MESSAGE = gettext_noop("Links with a user name or password in them cannot be used.")
UNKNOWN_HOST_MESSAGE = gettext_noop("The server's name could not be found.")
TIMEOUT_MESSAGE = gettext_noop("The server did not answer in time.")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnsafeURLError(ValueError):
    """The URL must not be fetched; the message is plain words, fit for a form."""


class FetchError(Exception):
    """The fetch failed: the network, a timeout, a body too large, too many redirects.

    ``transient`` says whether trying again later may help. The message is English, marked for the
    catalogues, with what varies apart in ``params`` (``msgid`` and ``params`` can be kept as a
    connection's last error and shown in the reader's language); ``str()`` has the values in.
    """

    def __init__(
        self, message: str, *, transient: bool, params: Mapping[str, str | int] | None = None
    ) -> None:
        self.msgid = message
        self.params: dict[str, str | int] = dict(params or {})
        super().__init__(message % self.params if self.params else message)
        self.transient = transient


@dataclass(frozen=True, slots=True)
class FetchResult:
    status: int
    headers: httpx.Headers
    body: bytes
    url: str  # the URL that answered, after redirects


def validate_url(url: str) -> str:
    """The URL normalised (webcal → https, no fragment), once its host resolves to public addresses.

    Raises UnsafeURLError for anything else, including a host name that cannot be resolved.
    """
    parsed = _parse(url)
    try:
        resolve_public_addresses(
            parsed.raw_host.decode("ascii"), parsed.port or _DEFAULT_PORTS[parsed.scheme]
        )
    except FetchError as error:
        raise UnsafeURLError(str(error)) from error
    return str(parsed)


def resolve_public_addresses(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, when every one of them is public (or allowed by the
    settings above) and ``port`` is one from 1 to 65535.

    Connect only to these (never resolve the name again). Raises UnsafeURLError when the port or
    any address is refused, and FetchError (transient) when the name cannot be resolved.
    """
    _check_port(port)
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise FetchError(UNKNOWN_HOST_MESSAGE, transient=True) from error
    addresses = list(dict.fromkeys(str(answer[4][0]) for answer in answers))
    if not addresses:
        raise UnsafeURLError(RESERVED_ADDRESS_MESSAGE)
    allow_loopback = settings.OUTBOUND_ALLOW_LOOPBACK
    networks = settings.OUTBOUND_ALLOWED_NETWORKS
    refused = [
        parsed
        for parsed in map(ipaddress.ip_address, addresses)
        if not _is_allowed(parsed, allow_loopback=allow_loopback, networks=networks)
    ]
    if refused:
        raise UnsafeURLError(
            PRIVATE_NETWORK_MESSAGE
            if all(_can_be_allowed(address) for address in refused)
            else RESERVED_ADDRESS_MESSAGE
        )
    return addresses


def fetch(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    max_bytes: int = MAX_BYTES,
    timeout: float = TIMEOUT,
) -> FetchResult:
    """GET ``url`` through the guard, following up to three redirects; any status is a result.

    ``timeout`` bounds the whole fetch (redirects and body included), not each read. Raises
    UnsafeURLError for a refused URL or redirect target, FetchError for everything else.
    """
    deadline = time.monotonic() + timeout
    target = _parse(url)
    request_headers = {**_DEFAULT_HEADERS, **(headers or {})}
    for _ in range(MAX_REDIRECTS + 1):
        status, response_headers, body = _get(target, request_headers, max_bytes, deadline)
        location = response_headers.get("location")
        if status not in _REDIRECT_STATUSES or not location:
            return FetchResult(status=status, headers=response_headers, body=body, url=str(target))
        target = _parse(str(target.join(location)))
    raise FetchError(gettext_noop("The link redirects too many times."), transient=False)


def post(
    url: str,
    *,
    body: bytes,
    headers: Mapping[str, str],
    max_bytes: int = POST_MAX_BYTES,
    timeout: float = TIMEOUT,
) -> FetchResult:
    """POST ``body`` to ``url`` through the guard; any status is a result, redirects included
    (never followed). ``headers`` are the request's own (no defaults but the Host and length).

    ``timeout`` bounds the whole request, the answer's body included (kept up to ``max_bytes``).
    Raises UnsafeURLError for a refused URL, FetchError for everything else.
    """
    deadline = time.monotonic() + timeout
    target = _parse(url)
    request_headers = {**headers, "Content-Length": str(len(body))}
    status, response_headers, answer = _send(
        "POST", target, request_headers, max_bytes, deadline, body
    )
    return FetchResult(status=status, headers=response_headers, body=answer, url=str(target))


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL as error:
        # httpx refuses a port that is not a number, in those words; any other port it accepts.
        if str(error).startswith("Invalid port"):
            raise UnsafeURLError(PORT_MESSAGE) from error
        raise UnsafeURLError(INVALID_ADDRESS_MESSAGE) from error
    scheme = _SCHEMES.get(parsed.scheme)
    if scheme is None:
        raise UnsafeURLError(SCHEME_MESSAGE)
    if parsed.userinfo:
        raise UnsafeURLError(USERINFO_MESSAGE)
    if not parsed.host:
        raise UnsafeURLError(INVALID_ADDRESS_MESSAGE)
    _check_port(parsed.port)
    return parsed.copy_with(scheme=scheme, fragment=None)


def _check_port(port: int | None) -> None:
    # The resolver would take 65616 as 80 (it keeps the low 16 bits): refuse, never wrap.
    if port is not None and port not in _PORTS:
        raise UnsafeURLError(PORT_MESSAGE)


def _is_allowed(address: IPAddress, *, allow_loopback: bool, networks: Sequence[IPNetwork]) -> bool:
    embedded = _embedded(address)
    if embedded is not None:
        # Loopback and allowed networks count only spelled plainly, never through a translation
        # prefix: the operator allowed 192.168.1.0/24, not every way of writing it.
        return _is_allowed(embedded, allow_loopback=False, networks=())
    if _never_allowed(address):
        return False
    if address.is_loopback and allow_loopback:
        return True
    return any(address in network for network in networks) or _is_public(address)


def _is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return False
    return (
        address.is_global
        and not address.is_multicast
        and not address.is_reserved
        and not any(address in network for network in _ALSO_REFUSED)
    )


def _can_be_allowed(address: IPAddress) -> bool:
    """Whether listing a network in ``OUTBOUND_ALLOWED_NETWORKS`` could let ``address`` in."""
    return _embedded(address) is None and not _never_allowed(address)


def _never_allowed(address: IPAddress) -> bool:
    return any(address in network for network in _NEVER_ALLOWED)


def _embedded(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries through a translation prefix, if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    return address.ipv4_mapped or address.sixtofour or _nat64_embedded(address)


def _nat64_embedded(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address not in _NAT64:
        return None
    return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)


def _get(
    url: httpx.URL, headers: Mapping[str, str], max_bytes: int, deadline: float
) -> tuple[int, httpx.Headers, bytes]:
    """One GET on a connection of its own, so each redirect hop is resolved and checked anew."""
    return _send("GET", url, headers, max_bytes, deadline)


def _send(
    method: str,
    url: httpx.URL,
    headers: Mapping[str, str],
    max_bytes: int,
    deadline: float,
    body: bytes | None = None,
) -> tuple[int, httpx.Headers, bytes]:
    """One request on a connection of its own, pinned to the addresses checked as it connects."""
    core_url = httpcore.URL(
        scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
    )
    # httpcore would write an IPv6 host without its brackets; the URL's netloc has them.
    request_headers = [
        (b"Host", url.netloc),
        *((name.encode(), value.encode()) for name, value in headers.items()),
    ]
    # httpcore's default TLS context trusts the system's certificates and certifi's.
    pool = httpcore.ConnectionPool(network_backend=PinnedBackend(deadline))
    try:
        with (
            pool,
            pool.stream(method, core_url, headers=request_headers, content=body) as response,
        ):
            response_headers = httpx.Headers(response.headers)
            answer = _read_capped(response.iter_stream(), response_headers, max_bytes)
    except httpcore.TimeoutException as error:
        raise FetchError(TIMEOUT_MESSAGE, transient=True) from error
    except (httpcore.NetworkError, httpcore.ProtocolError) as error:
        raise FetchError(
            gettext_noop("The server could not be reached."), transient=True
        ) from error
    return response.status, response_headers, answer


def _read_capped(chunks: Iterable[bytes], headers: httpx.Headers, max_bytes: int) -> bytes:
    too_large = FetchError(
        gettext_noop("The file is larger than %(megabytes)s MB."),
        transient=False,
        params={"megabytes": f"{max_bytes / 1024 / 1024:g}"},
    )
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    decompressor = _decompressor(headers.get("content-encoding", ""))
    body = bytearray()
    received = 0
    for chunk in chunks:
        received += len(chunk)
        if received > max_bytes:
            raise too_large
        if decompressor is None:
            body += chunk
        else:
            try:
                # Never inflate more than one byte past the cap, so a compression bomb stays small.
                body += decompressor.decompress(chunk, max_bytes - len(body) + 1)
            except zlib.error as error:
                raise FetchError(
                    gettext_noop("The server sent a damaged compressed file."), transient=True
                ) from error
        if len(body) > max_bytes:
            raise too_large
    return bytes(body)


def _decompressor(encoding: str) -> zlib._Decompress | None:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip", "deflate"):
        # 32 + MAX_WBITS reads either a gzip or a zlib header.
        return zlib.decompressobj(32 + zlib.MAX_WBITS)
    raise FetchError(
        gettext_noop("The server sent the file in a compression we cannot read."), transient=False
    )


class PinnedBackend(httpcore.NetworkBackend):
    """httpcore's connections, made only to addresses ``resolve_public_addresses`` has checked.

    The name is resolved and checked in the same step that connects, so the address connected to
    is the one checked. A refused host raises UnsafeURLError out of the request, a name that does
    not resolve FetchError. With a ``deadline`` (a ``time.monotonic`` value) every network wait,
    the TLS handshake included, ends by then; without one each wait has its own timeout.
    """

    def __init__(self, deadline: float | None = None) -> None:
        self._deadline = deadline
        self._tcp = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        self._connect_timeout(timeout)  # past the deadline already: no lookup
        addresses = resolve_public_addresses(host, port)
        for address in addresses[:-1]:
            try:
                return self._connect(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError:
                continue
        return self._connect(addresses[-1], port, timeout, local_address, socket_options)

    def _connect(
        self,
        address: str,
        port: int,
        timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None,
    ) -> httpcore.NetworkStream:
        stream = self._tcp.connect_tcp(
            address,
            port,
            timeout=self._connect_timeout(timeout),
            local_address=local_address,
            socket_options=socket_options,
        )
        return stream if self._deadline is None else _DeadlineStream(stream, self._deadline)

    def _connect_timeout(self, timeout: float | None) -> float | None:
        if self._deadline is None:
            return timeout
        return _time_left(self._deadline, httpcore.ConnectTimeout)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake waits no longer than the deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _time_left(self._deadline, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _time_left(self._deadline, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        # server_hostname is the URL's host name, so SNI and certificate checks use it, not the IP.
        stream = self._stream.start_tls(
            ssl_context, server_hostname, _time_left(self._deadline, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(stream, self._deadline)

    def get_extra_info(self, info: str) -> object:
        return self._stream.get_extra_info(info)


def _time_left(deadline: float, error: type[httpcore.TimeoutException]) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("The deadline passed.")
    return left
