"""The guarded fetcher (invariant 5): only public addresses, pinned, re-checked, bounded in time and size."""

from __future__ import annotations

import contextlib
import gzip
import ipaddress
import socket
import ssl
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from multical.lib.safe_http import (
    PRIVATE_NETWORK_MESSAGE,
    FetchError,
    PinnedBackend,
    UnsafeURLError,
    fetch,
    post,
    resolve_public_addresses,
    validate_url,
)
from tests.multical.test_project_checks import run_manage
from tests.tls import make_certificate

Route = Callable[[BaseHTTPRequestHandler], None]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle(self) -> None:
        # The fetcher hanging up early is what several tests want to see.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().handle()

    def do_GET(self) -> None:
        self.server.requests.append((self.path, dict(self.headers)))
        route = self.server.routes.get(urlsplit(self.path).path)
        if route is None:
            reply(self, 404)
            return
        route(self)

    def do_POST(self) -> None:
        self.server.bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


def reply(handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", **headers: str) -> None:
    handler.send_response(status)
    for name, value in {"Content-Length": str(len(body)), **headers}.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(body)


@contextmanager
def serving(tls: ssl.SSLContext | None = None) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.routes, server.requests, server.bodies = {}, [], []
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    with serving() as server:
        yield server


def url_of(server: ThreadingHTTPServer, path: str, host: str = "127.0.0.1") -> str:
    return f"http://{host}:{server.server_address[1]}{path}"


@pytest.fixture
def loopback_off(settings):
    settings.OUTBOUND_ALLOW_LOOPBACK = False


class FakeDNS:
    """Answers for made-up names (each lookup takes the next answer, the last one repeats); other
    names go to the real resolver. ``lookups`` counts the lookups of each made-up name."""

    def __init__(self, real: Callable[..., list]) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: Counter[str] = Counter()
        self._real = real

    def getaddrinfo(self, host: str, port: int, *args: object, **kwargs: object) -> list:
        if host not in self.answers:
            return self._real(host, port, *args, **kwargs)
        self.lookups[host] += 1
        queue = self.answers[host]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
            if ":" in address
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
            for address in addresses
        ]


@pytest.fixture
def dns(monkeypatch) -> FakeDNS:
    # Patched on the socket module itself, so a second lookup anywhere (httpcore included) is seen.
    fake = FakeDNS(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    return fake


REFUSED_ADDRESSES = [
    "http://127.0.0.1/",
    "http://localhost/",
    "http://127.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0x7f.1/",
    "http://0177.0.0.1/",
    "http://127.255.255.254:8080/",
    "http://0.0.0.0/",
    "http://0/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://172.31.255.255/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/",
    "http://[::]/",
    "http://[fc00::1]/",
    "http://[fd12::1]/",
    "http://[fe80::1]/",
    "http://[fec0::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:10.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::127.0.0.1]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[64:ff9b::a00:1]/",
    "http://[64:ff9b:1::a00:1]/",
    "http://[2002:7f00:1::]/",
    "http://[2002:a00:1::]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://255.255.255.255/",
    "http://240.0.0.1/",
    "http://198.18.0.1/",
    "http://192.0.0.8/",
    "http://192.0.2.1/",
    "http://198.51.100.7/",
    "http://203.0.113.9/",
    "http://[2001:db8::1]/",
    "http://[3fff::1]/",
    "http://[100::1]/",
]

REFUSED_SCHEMES = [
    "ftp://example.com/calendar.ics",
    "file:///etc/passwd",
    "gopher://example.com/",
    "data:text/calendar,BEGIN:VCALENDAR",
    "javascript:alert(1)",
    "example.com/calendar.ics",
    "//example.com/calendar.ics",
    "dict://example.com:11211/",
]


@pytest.mark.usefixtures("loopback_off")
@pytest.mark.parametrize("url", REFUSED_ADDRESSES)
def test_a_private_or_special_address_is_refused(url):
    with pytest.raises(UnsafeURLError):
        validate_url(url)


@pytest.mark.usefixtures("loopback_off")
@pytest.mark.parametrize("url", REFUSED_ADDRESSES)
def test_fetch_refuses_a_private_or_special_address_before_connecting(url):
    with pytest.raises(UnsafeURLError):
        fetch(url)


@pytest.mark.parametrize("url", REFUSED_SCHEMES)
def test_only_web_schemes_are_accepted(url):
    with pytest.raises(UnsafeURLError, match="Only http, https and webcal links"):
        validate_url(url)


def test_a_user_name_and_password_in_the_link_are_refused():
    with pytest.raises(UnsafeURLError, match="user name or password"):
        validate_url("https://alice:secret@93.184.216.34/calendar.ics")


def test_the_message_is_plain_words_for_a_form():
    with pytest.raises(UnsafeURLError) as caught:
        validate_url("http://10.1.2.3/calendar.ics")
    assert str(caught.value) == PRIVATE_NETWORK_MESSAGE


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://169.254.169.254/",
        "http://0.0.0.0/",
        "http://[::]/",
        "http://[fd00::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[64:ff9b::7f00:1]/",
        "http://[2002:7f00:1::]/",
    ],
)
def test_allowing_loopback_for_tests_keeps_every_other_range_refused(url, settings):
    settings.OUTBOUND_ALLOW_LOOPBACK = True
    with pytest.raises(UnsafeURLError):
        validate_url(url)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/a.ics", "http://[::1]/a.ics", "http://127.0.0.2/"]
)
def test_loopback_is_allowed_when_the_setting_says_so(url, settings):
    settings.OUTBOUND_ALLOW_LOOPBACK = True
    assert validate_url(url) == url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("webcal://93.184.216.34/cal.ics", "https://93.184.216.34/cal.ics"),
        ("WEBCALS://93.184.216.34/cal.ics#frag", "https://93.184.216.34/cal.ics"),
        ("  http://93.184.216.34:8080/a b.ics?k=1  ", "http://93.184.216.34:8080/a%20b.ics?k=1"),
        ("https://[2606:2800:220:1::]/cal.ics", "https://[2606:2800:220:1::]/cal.ics"),
        ("https://[64:ff9b::5db8:d822]/cal.ics", "https://[64:ff9b::5db8:d822]/cal.ics"),
    ],
)
def test_a_public_address_is_normalised(url, expected):
    assert validate_url(url) == expected


def test_a_name_resolving_to_a_private_address_is_refused(dns):
    dns.answers["intranet.example"] = [["10.20.30.40"]]
    with pytest.raises(UnsafeURLError):
        validate_url("https://intranet.example/calendar.ics")


def test_every_resolved_address_is_checked_not_only_the_first(dns):
    dns.answers["mixed.example"] = [["93.184.216.34", "2606:2800:220:1::", "169.254.169.254"]]
    with pytest.raises(UnsafeURLError):
        resolve_public_addresses("mixed.example", 443)


def test_resolving_returns_every_checked_address(dns):
    dns.answers["public.example"] = [["93.184.216.34", "2606:2800:220:1::"]]
    assert resolve_public_addresses("public.example", 443) == ["93.184.216.34", "2606:2800:220:1::"]


def test_a_name_that_does_not_resolve_is_a_transient_fetch_error_and_a_form_error(monkeypatch):
    def no_answer(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_answer)
    with pytest.raises(FetchError) as caught:
        fetch("https://nowhere.example/calendar.ics")
    assert caught.value.transient
    with pytest.raises(UnsafeURLError, match="could not be found"):
        validate_url("https://nowhere.example/calendar.ics")


def test_a_dns_answer_that_changes_after_the_check_is_never_used(server, dns):
    dns.answers["feeds.example"] = [["127.0.0.1"], ["10.0.0.1"]]
    server.routes["/cal.ics"] = lambda handler: reply(handler, 200, b"BEGIN:VCALENDAR")
    port = server.server_address[1]

    result = fetch(url_of(server, "/cal.ics", host="feeds.example"))

    assert result.body == b"BEGIN:VCALENDAR"
    assert dns.lookups["feeds.example"] == 1
    [(path, headers)] = server.requests
    assert (path, headers["Host"]) == ("/cal.ics", f"feeds.example:{port}")


def test_a_fetch_returns_status_headers_body_and_the_final_url(server):
    server.routes["/cal.ics"] = lambda handler: reply(
        handler, 200, b"BEGIN:VCALENDAR", Content_Type="text/calendar", ETag='"v1"'
    )
    result = fetch(url_of(server, "/cal.ics"))
    assert (result.status, result.body, result.url) == (
        200,
        b"BEGIN:VCALENDAR",
        url_of(server, "/cal.ics"),
    )
    assert result.headers["etag"] == '"v1"'
    assert result.headers["content-type"] == "text/calendar"


def test_the_callers_headers_are_sent_and_a_304_is_a_result(server):
    server.routes["/cal.ics"] = lambda handler: reply(handler, 304)
    result = fetch(url_of(server, "/cal.ics"), headers={"If-None-Match": '"v1"'})
    assert result.status == 304
    assert result.body == b""
    assert server.requests[0][1]["If-None-Match"] == '"v1"'


def test_an_error_status_is_a_result_not_an_exception(server):
    server.routes["/cal.ics"] = lambda handler: reply(handler, 503, b"busy", Retry_After="120")
    result = fetch(url_of(server, "/cal.ics"))
    assert (result.status, result.headers["retry-after"]) == (503, "120")


def test_proxies_from_the_environment_are_ignored(server, monkeypatch):
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.setenv(name, "http://10.9.9.9:3128")
    server.routes["/cal.ics"] = lambda handler: reply(handler, 200, b"direct")
    assert fetch(url_of(server, "/cal.ics")).body == b"direct"


def test_a_refused_connection_is_a_transient_error():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(FetchError) as caught:
        fetch(f"http://127.0.0.1:{port}/cal.ics")
    assert caught.value.transient


def redirect_to(location: str, status: int = 302) -> Route:
    return lambda handler: reply(handler, status, Location=location)


def test_redirects_are_followed_relative_and_absolute(server):
    server.routes["/old"] = redirect_to("/moved", 301)
    server.routes["/moved"] = redirect_to(url_of(server, "/cal.ics", host="localhost"), 308)
    server.routes["/cal.ics"] = lambda handler: reply(handler, 200, b"here")
    result = fetch(url_of(server, "/old"))
    assert (result.body, result.url) == (b"here", url_of(server, "/cal.ics", host="localhost"))


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd00::1]/",
        "http://0.0.0.0/",
        "file:///etc/passwd",
        "ftp://127.0.0.1/",
        "http://user:pw@127.0.0.1/",
    ],
)
def test_each_redirect_target_is_checked_like_the_first_url(server, target):
    server.routes["/cal.ics"] = redirect_to(target)
    with pytest.raises(UnsafeURLError):
        fetch(url_of(server, "/cal.ics"))


def test_a_redirect_to_a_name_resolving_privately_is_refused(server, dns):
    dns.answers["internal.example"] = [["10.0.0.7"]]
    server.routes["/cal.ics"] = redirect_to("http://internal.example/cal.ics")
    with pytest.raises(UnsafeURLError):
        fetch(url_of(server, "/cal.ics"))
    assert dns.lookups["internal.example"] == 1


def test_a_redirect_to_loopback_is_refused_while_loopback_is_off(server, settings):
    def turn_loopback_off_then_redirect(handler):
        # The first hop had to be let in; the policy the redirect meets is production's.
        settings.OUTBOUND_ALLOW_LOOPBACK = False
        reply(handler, 302, Location=url_of(server, "/secret"))

    settings.OUTBOUND_ALLOW_LOOPBACK = True
    server.routes["/cal.ics"] = turn_loopback_off_then_redirect
    server.routes["/secret"] = lambda handler: reply(handler, 200, b"internal")
    with pytest.raises(UnsafeURLError):
        fetch(url_of(server, "/cal.ics"))
    assert [path for path, _ in server.requests] == ["/cal.ics"]


def hops(handler: BaseHTTPRequestHandler) -> None:
    left = int(parse_qs(urlsplit(handler.path).query)["left"][0])
    if left:
        reply(handler, 302, Location=f"/hop?left={left - 1}")
    else:
        reply(handler, 200, b"arrived")


def test_three_redirects_are_followed(server):
    server.routes["/hop"] = hops
    assert fetch(url_of(server, "/hop?left=3")).body == b"arrived"


def test_a_fourth_redirect_is_refused(server):
    server.routes["/hop"] = hops
    with pytest.raises(FetchError, match="redirects too many times") as caught:
        fetch(url_of(server, "/hop?left=4"))
    assert not caught.value.transient
    assert len(server.requests) == 4


def test_a_declared_length_over_the_cap_is_refused_before_reading(server):
    def huge_then_stall(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(50 * 1024 * 1024))
        handler.end_headers()
        handler.wfile.write(b"BEGIN:VCALENDAR")
        time.sleep(3)

    server.routes["/cal.ics"] = huge_then_stall
    started = time.monotonic()
    with pytest.raises(FetchError, match="larger than") as caught:
        fetch(url_of(server, "/cal.ics"), timeout=5)
    assert time.monotonic() - started < 1
    assert not caught.value.transient


def test_a_body_over_the_cap_is_cut_while_streaming(server):
    def endless(handler):
        handler.send_response(200)
        handler.send_header(
            "Connection", "close"
        )  # no length: the body runs until the server stops
        handler.end_headers()
        chunk = b"X" * 65536
        for _ in range(1600):  # 100 MB, unless the fetcher hangs up first
            handler.wfile.write(chunk)

    server.routes["/cal.ics"] = endless
    started = time.monotonic()
    with pytest.raises(FetchError, match="larger than 1 MB"):
        fetch(url_of(server, "/cal.ics"), max_bytes=1024 * 1024)
    assert time.monotonic() - started < 2


def test_the_default_cap_is_ten_megabytes(server):
    body = b"X" * (10 * 1024 * 1024 + 1)
    server.routes["/cal.ics"] = lambda handler: reply(handler, 200, body)
    with pytest.raises(FetchError, match="larger than 10 MB"):
        fetch(url_of(server, "/cal.ics"))


def test_gzip_and_deflate_bodies_are_decoded(server):
    text = b"BEGIN:VCALENDAR\r\n" * 1000
    server.routes["/gzip"] = lambda handler: reply(
        handler, 200, gzip.compress(text), Content_Encoding="gzip"
    )
    server.routes["/deflate"] = lambda handler: reply(
        handler, 200, zlib.compress(text), Content_Encoding="deflate"
    )
    assert fetch(url_of(server, "/gzip")).body == text
    assert fetch(url_of(server, "/deflate")).body == text
    assert server.requests[0][1]["Accept-Encoding"] == "gzip, deflate"


def test_a_gzip_bomb_is_stopped_at_the_cap_on_decoded_bytes(server):
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    megabyte = bytes(1024 * 1024)
    bomb = b"".join(compressor.compress(megabyte) for _ in range(200)) + compressor.flush()
    assert len(bomb) < 1024 * 1024  # 200 MB of zeros in well under a megabyte on the wire
    server.routes["/cal.ics"] = lambda handler: reply(handler, 200, bomb, Content_Encoding="gzip")
    with pytest.raises(FetchError, match="larger than 10 MB"):
        fetch(url_of(server, "/cal.ics"))


def test_an_unknown_compression_is_an_error(server):
    server.routes["/cal.ics"] = lambda handler: reply(
        handler, 200, b"\x1b\x00", Content_Encoding="br"
    )
    with pytest.raises(FetchError, match="compression"):
        fetch(url_of(server, "/cal.ics"))


def test_a_server_that_trickles_bytes_is_cut_at_the_deadline(server):
    def trickle(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        for _ in range(100):  # one byte every 50 ms: every read succeeds, the whole never ends
            handler.wfile.write(b"X")
            handler.wfile.flush()
            time.sleep(0.05)

    server.routes["/cal.ics"] = trickle
    started = time.monotonic()
    with pytest.raises(FetchError, match="did not answer in time") as caught:
        fetch(url_of(server, "/cal.ics"), timeout=1)
    assert 0.9 < time.monotonic() - started < 1.5
    assert caught.value.transient


def test_a_server_that_stalls_is_cut_at_the_deadline_across_redirects(server):
    def slow_redirect(handler):
        time.sleep(0.6)
        reply(handler, 302, Location="/stall")

    server.routes["/cal.ics"] = slow_redirect
    server.routes["/stall"] = lambda handler: time.sleep(3)
    started = time.monotonic()
    with pytest.raises(FetchError, match="did not answer"):
        fetch(url_of(server, "/cal.ics"), timeout=1)
    assert 0.9 < time.monotonic() - started < 1.5


def test_https_is_pinned_to_the_checked_address_and_verified_for_the_real_name(
    tmp_path, dns, monkeypatch
):
    context, ca_file = make_certificate(tmp_path, "feeds.example")
    names_asked: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names_asked.append(name)
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    dns.answers["feeds.example"] = [["127.0.0.1"], ["10.0.0.1"]]
    with serving(tls=context) as server:
        server.routes["/cal.ics"] = lambda handler: reply(handler, 200, b"over TLS")
        result = fetch(f"webcal://feeds.example:{server.server_address[1]}/cal.ics")
    assert (result.body, result.url) == (
        b"over TLS",
        f"https://feeds.example:{server.server_address[1]}/cal.ics",
    )
    assert names_asked == ["feeds.example"]
    assert dns.lookups["feeds.example"] == 1


def test_https_refuses_a_certificate_for_another_name(tmp_path, dns, monkeypatch):
    context, ca_file = make_certificate(tmp_path, "other.example")
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    dns.answers["feeds.example"] = [["127.0.0.1"]]
    with serving(tls=context) as server:
        server.routes["/cal.ics"] = lambda handler: reply(handler, 200, b"over TLS")
        with pytest.raises(FetchError, match="could not be reached"):
            fetch(f"https://feeds.example:{server.server_address[1]}/cal.ics")
        assert server.requests == []


# Ports: a number from 1 to 65535, or none at all. -------------------------------------------------

OUT_OF_RANGE_PORTS = ["65536", "65616", "99999", "0", "-1", "99999999999999999999", "8o80", "x"]


@pytest.mark.parametrize("port", OUT_OF_RANGE_PORTS)
def test_a_port_outside_1_to_65535_is_refused_with_words_for_a_form(port):
    with pytest.raises(UnsafeURLError, match="port must be a number from 1 to 65535"):
        validate_url(f"http://93.184.216.34:{port}/calendar.ics")


def test_a_port_past_the_last_one_never_wraps_around_to_another(server):
    # Port P + 65536 wraps to P in the resolver: the server on P must never hear from us.
    server.routes["/cal.ics"] = lambda handler: reply(handler, 200, b"reached")
    with pytest.raises(UnsafeURLError, match="port must be a number from 1 to 65535"):
        fetch(f"http://127.0.0.1:{server.server_address[1] + 65536}/cal.ics")
    assert server.requests == []


def test_a_redirect_to_a_port_past_the_last_one_is_refused(server):
    server.routes["/cal.ics"] = redirect_to(f"http://127.0.0.1:{server.server_address[1] + 65536}/")
    with pytest.raises(UnsafeURLError, match="port must be a number from 1 to 65535"):
        fetch(url_of(server, "/cal.ics"))
    assert [path for path, _ in server.requests] == ["/cal.ics"]


def test_the_pinned_connection_itself_refuses_a_port_out_of_range(server):
    # Callers that build their own URLs (the CalDAV session) meet the same check when connecting.
    with pytest.raises(UnsafeURLError, match="port must be a number from 1 to 65535"):
        PinnedBackend().connect_tcp("127.0.0.1", server.server_address[1] + 65536)
    with pytest.raises(UnsafeURLError, match="port must be a number from 1 to 65535"):
        resolve_public_addresses("127.0.0.1", 0)


@pytest.mark.parametrize("port", ["1", "65535", "8443"])
def test_every_port_from_1_to_65535_is_accepted(port):
    assert validate_url(f"https://93.184.216.34:{port}/cal.ics") == (
        f"https://93.184.216.34:{port}/cal.ics"
    )


# Private networks the operator allows (a self-hoster's own CalDAV server). ------------------------


@pytest.fixture
def home_network(settings):
    """The operator allows 192.168.1.0/24 and, standing in for a private network in these tests,
    127.0.0.2/32 (an address on loopback other than 127.0.0.1); loopback itself stays off."""
    settings.OUTBOUND_ALLOW_LOOPBACK = False
    settings.OUTBOUND_ALLOWED_NETWORKS = [
        ipaddress.ip_network("192.168.1.0/24"),
        ipaddress.ip_network("127.0.0.2/32"),
    ]
    return settings


@pytest.fixture
def server_at_127_0_0_2() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
    server.routes, server.requests = {}, []
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_no_private_network_is_allowed_by_default():
    from django.conf import settings

    assert settings.OUTBOUND_ALLOWED_NETWORKS == []


@pytest.mark.usefixtures("home_network")
def test_an_address_in_an_allowed_network_is_accepted():
    assert validate_url("https://192.168.1.20/remote.php/dav/") == (
        "https://192.168.1.20/remote.php/dav/"
    )


@pytest.mark.usefixtures("home_network")
@pytest.mark.parametrize(
    "url", ["https://192.168.2.20/", "http://10.0.0.1/", "http://127.0.0.1/", "http://127.0.0.3/"]
)
def test_an_address_outside_every_allowed_network_is_still_refused(url):
    with pytest.raises(UnsafeURLError):
        validate_url(url)


def test_the_refusal_tells_the_user_to_ask_whoever_runs_the_installation_not_a_setting():
    with pytest.raises(UnsafeURLError) as caught:
        validate_url("http://192.168.1.20/calendar.ics")
    message = str(caught.value)
    assert "private network" in message
    assert "ask whoever runs" in message
    assert "OUTBOUND" not in message and "_" not in message


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.170.2/v2/credentials",
        "http://[fe80::1]/",
        "http://[fd00:ec2::254]/",
        "http://100.100.100.200/latest/meta-data/",
        "http://224.0.0.1/",
        "http://239.255.255.250/",
        "http://[ff02::1]/",
        "http://255.255.255.255/",
        "http://0.0.0.0/",
        "http://0.1.2.3/",
        "http://[::]/",
        "http://[::ffff:192.168.1.20]/",
        "http://[64:ff9b::c0a8:114]/",
    ],
)
def test_metadata_multicast_and_translated_addresses_stay_refused_whatever_is_allowed(
    url, settings
):
    settings.OUTBOUND_ALLOW_LOOPBACK = False
    settings.OUTBOUND_ALLOWED_NETWORKS = [
        ipaddress.ip_network("0.0.0.0/0"),
        ipaddress.ip_network("::/0"),
    ]
    with pytest.raises(UnsafeURLError) as caught:
        validate_url(url)
    # Nobody can allow these: the message does not send the user to ask.
    assert "ask whoever runs" not in str(caught.value)


@pytest.mark.usefixtures("home_network")
def test_a_server_in_an_allowed_network_is_fetched_pinned_to_the_checked_address(
    server_at_127_0_0_2, dns
):
    dns.answers["nextcloud.home.arpa"] = [["127.0.0.2"], ["127.0.0.1"]]
    server_at_127_0_0_2.routes["/cal.ics"] = lambda handler: reply(handler, 200, b"at home")
    port = server_at_127_0_0_2.server_address[1]

    result = fetch(f"http://nextcloud.home.arpa:{port}/cal.ics")

    assert result.body == b"at home"
    assert dns.lookups["nextcloud.home.arpa"] == 1


@pytest.mark.usefixtures("home_network")
def test_a_redirect_from_an_allowed_network_to_another_private_one_is_refused(
    server_at_127_0_0_2, server
):
    server_at_127_0_0_2.routes["/cal.ics"] = redirect_to(url_of(server, "/secret"))
    server.routes["/secret"] = lambda handler: reply(handler, 200, b"internal")

    with pytest.raises(UnsafeURLError):
        fetch(url_of(server_at_127_0_0_2, "/cal.ics", host="127.0.0.2"))
    assert server.requests == []


@pytest.mark.parametrize("value", ["192.168.1.0/33", "not-a-network", "10.0.0.0/8,300.1.2.3"])
def test_an_allowed_network_that_is_not_one_stops_start_up_naming_the_setting(value):
    result = run_manage("check", env={"OUTBOUND_ALLOWED_NETWORKS": value})

    assert result.returncode != 0
    assert "OUTBOUND_ALLOWED_NETWORKS" in result.stderr


def test_allowed_networks_are_read_from_the_environment():
    script = "from django.conf import settings as s; print(*s.OUTBOUND_ALLOWED_NETWORKS)"
    result = run_manage(
        "shell",
        "--verbosity",
        "0",
        "-c",
        script,
        env={"OUTBOUND_ALLOWED_NETWORKS": "192.168.1.0/24, 10.0.0.0/8,fd12:3456::/48"},
    )

    assert result.stdout.split() == ["192.168.1.0/24", "10.0.0.0/8", "fd12:3456::/48"], (
        result.stderr
    )


# POST (outgoing webhooks): the same guard, and never a redirect followed. ----------------------


def test_a_post_sends_its_body_and_headers_and_returns_the_answer(server):
    server.routes["/hook"] = lambda handler: reply(handler, 204, X_Seen="yes")
    result = post(url_of(server, "/hook"), body=b'{"a":1}', headers={"Content-Type": "json"})
    assert (result.status, result.headers["x-seen"]) == (204, "yes")
    assert server.bodies == [b'{"a":1}']
    assert server.requests[0][1]["Content-Type"] == "json"
    assert server.requests[0][1]["Content-Length"] == "7"


def test_a_post_never_follows_a_redirect(server):
    server.routes["/hook"] = redirect_to("http://169.254.169.254/latest/meta-data/", 307)
    result = post(url_of(server, "/hook"), body=b"{}", headers={})
    assert result.status == 307
    assert [path for path, _ in server.requests] == ["/hook"]


@pytest.mark.parametrize("url", REFUSED_ADDRESSES[:12])
def test_a_post_to_a_private_or_special_address_is_refused_before_connecting(url, loopback_off):
    with pytest.raises(UnsafeURLError):
        post(url, body=b"{}", headers={})


def test_a_post_is_pinned_to_the_checked_address(server, dns):
    dns.answers["hooks.example"] = [["127.0.0.1"], ["10.0.0.1"]]
    server.routes["/hook"] = lambda handler: reply(handler, 200)
    url = f"http://hooks.example:{server.server_address[1]}/hook"
    assert post(url, body=b"", headers={}).status == 200
    assert dns.lookups["hooks.example"] == 1


def test_a_post_to_a_server_that_stalls_is_cut_at_the_deadline(server):
    server.routes["/hook"] = lambda handler: time.sleep(3)
    started = time.monotonic()
    with pytest.raises(FetchError, match="did not answer") as caught:
        post(url_of(server, "/hook"), body=b"{}", headers={}, timeout=1)
    assert caught.value.transient
    assert time.monotonic() - started < 1.5
