"""How the CalDAV provider talks HTTP: the outbound guard, redirects, authentication, errors."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from integrations.base import ProviderError, Window
from integrations.caldav import client as dav
from integrations.caldav.provider import CalDAVProvider
from multical.lib import safe_http
from multical.lib.http_headers import retry_after_seconds
from tests.integrations.caldav.scripted_server import Answer, ScriptedServer, found, multistatus
from tests.tls import make_certificate

WINDOW = Window(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 3, 1, tzinfo=UTC))
PRIVATE = safe_http.PRIVATE_NETWORK_MESSAGE


def provider_for(url: str, **secrets: str) -> CalDAVProvider:
    return CalDAVProvider.from_secrets(
        {"server_url": url, "username": "me", "password": "pw-secret-9", **secrets}
    )


def calendar_state(ctag: str = "1") -> Answer:
    return multistatus(
        found("/cal/", f"<cs:getctag>{ctag}</cs:getctag><d:sync-token>t-{ctag}</d:sync-token>")
    )


def test_a_loopback_server_is_refused_and_nothing_is_sent_when_loopback_is_not_allowed(settings):
    settings.OUTBOUND_ALLOW_LOOPBACK = False
    with ScriptedServer() as server:
        server.routes[("PROPFIND", "/cal/")] = [calendar_state()]
        provider = provider_for(server.url)

        with pytest.raises(ProviderError) as listing:
            provider.list_calendars()
        with pytest.raises(ProviderError) as reading:
            provider.changes(f"{server.url}cal/", "", WINDOW)

    assert (listing.value.permanent, listing.value.message) == (True, PRIVATE)
    # A stored calendar URL is checked at connection time too, not only the typed-in address.
    assert (reading.value.permanent, reading.value.message) == (True, PRIVATE)
    assert server.requests == []


def test_every_connection_goes_to_the_address_that_was_checked(monkeypatch):
    checked = []

    def resolve(host: str, port: int) -> list[str]:
        checked.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(safe_http, "resolve_public_addresses", resolve)
    with ScriptedServer() as server:
        server.routes[("PROPFIND", "/cal/")] = [calendar_state()]
        server.routes[("REPORT", "/cal/")] = [multistatus()]
        # ".invalid" never resolves: reaching the server proves the checked address was used.
        provider_for("").changes(f"http://calendar.invalid:{server.port}/cal/", "", WINDOW)

    assert checked == ["calendar.invalid"]
    assert [request.headers["Host"] for request in server.requests] == [
        f"calendar.invalid:{server.port}"
    ] * len(server.requests)
    assert len(server.requests) >= 2


def test_https_is_verified_for_the_calendar_host_while_pinned_to_its_checked_address(
    tmp_path, monkeypatch
):
    context, ca_file = make_certificate(tmp_path, "dav.example")
    names_asked: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names_asked.append(name)
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    monkeypatch.setattr(safe_http, "resolve_public_addresses", lambda host, port: ["127.0.0.1"])
    with ScriptedServer(tls=context) as server:
        server.routes[("PROPFIND", "/cal/")] = [calendar_state()]
        server.routes[("REPORT", "/cal/")] = [multistatus()]

        provider_for("").changes(f"https://dav.example:{server.port}/cal/", "", WINDOW)
        with pytest.raises(ProviderError) as raised:
            provider_for("").changes(f"https://other.example:{server.port}/cal/", "", WINDOW)

    assert names_asked == ["dav.example", "other.example"]
    # The state, the token, then the window listed in chunks; no request reached the other host.
    assert [request.method for request in server.requests] == [
        "PROPFIND",
        "PROPFIND",
        "REPORT",
        "REPORT",
        "REPORT",
    ]
    assert raised.value.permanent
    assert raised.value.message == "The CalDAV server's certificate could not be verified."


def test_a_small_calendar_with_a_ctag_but_no_sync_is_listed_again_with_one_check_and_one_query():
    def ctag(value: str) -> Answer:
        return multistatus(found("/cal/", f"<cs:getctag>{value}</cs:getctag>"))

    with ScriptedServer() as server:
        server.routes[("PROPFIND", "/cal/")] = [ctag("1"), ctag("2")]
        server.routes[("REPORT", "/cal/")] = [multistatus()]
        provider = provider_for(server.url)
        first = provider.changes(f"{server.url}cal/", "", WINDOW)
        before = len(server.requests)

        changed = provider.changes(f"{server.url}cal/", first.next_cursor, WINDOW)

    assert changed.full_resync
    assert [r.method for r in server.requests[before:]] == ["PROPFIND", "REPORT"]


def test_a_redirect_to_a_private_address_is_refused():
    with ScriptedServer() as server:
        server.routes[("PROPFIND", "/cal/")] = [
            Answer(301, headers={"Location": "http://10.1.2.3/cal/"})
        ]

        with pytest.raises(ProviderError) as raised:
            provider_for(server.url).changes(f"{server.url}cal/", "", WINDOW)

    assert (raised.value.permanent, raised.value.message) == (True, PRIVATE)


def test_discovery_follows_well_known_redirects_keeping_the_method():
    with ScriptedServer() as server:
        server.routes[("PROPFIND", "/")] = [Answer(405)]
        server.routes[("PROPFIND", "/.well-known/caldav")] = [
            Answer(301, headers={"Location": "/dav/"})
        ]
        server.routes[("PROPFIND", "/dav/")] = [
            multistatus(
                found(
                    "/dav/",
                    "<d:current-user-principal><d:href>/dav/me/</d:href></d:current-user-principal>",
                )
            )
        ]
        server.routes[("PROPFIND", "/dav/me/")] = [
            multistatus(
                found(
                    "/dav/me/",
                    "<c:calendar-home-set><d:href>/dav/me/cals/</d:href></c:calendar-home-set>",
                )
            )
        ]
        server.routes[("PROPFIND", "/dav/me/cals/")] = [
            multistatus(
                found("/dav/me/cals/", "<d:resourcetype><d:collection/></d:resourcetype>"),
                found(
                    "/dav/me/cals/work/",
                    "<d:resourcetype><d:collection/><c:calendar/></d:resourcetype><d:displayname>Work</d:displayname>",
                ),
            )
        ]

        calendars = provider_for(server.url).list_calendars()

    assert [(c.remote_id, c.name) for c in calendars] == [
        (f"{server.url}dav/me/cals/work/", "Work")
    ]
    assert [(r.method, r.path) for r in server.requests][:3] == [
        ("PROPFIND", "/"),
        ("PROPFIND", "/.well-known/caldav"),
        ("PROPFIND", "/dav/"),
    ]


@pytest.mark.parametrize("status", [200, 405, 501])
def test_a_plain_web_page_is_not_a_caldav_server(status):
    # A web server answers PROPFIND with its page, "method not allowed" or "not implemented".
    page = Answer(status, "<html><body>Welcome</body></html>", {"Content-Type": "text/html"})
    with ScriptedServer() as server:
        server.routes[("PROPFIND", "/")] = [page]
        server.routes[("PROPFIND", "/.well-known/caldav")] = [page]

        with pytest.raises(ProviderError) as raised:
            provider_for(server.url).list_calendars()

    assert raised.value.permanent
    assert raised.value.message == "This address does not look like a CalDAV server."


def test_an_answer_with_a_document_type_is_refused():
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE d:multistatus [<!ENTITY a "aaaaaaaaaa">]>'
        '<d:multistatus xmlns:d="DAV:"><d:response><d:href>&a;</d:href></d:response></d:multistatus>'
    )
    with ScriptedServer() as server:
        server.routes[("PROPFIND", "/cal/")] = [Answer(207, bomb)]

        with pytest.raises(ProviderError) as raised:
            provider_for(server.url).changes(f"{server.url}cal/", "", WINDOW)

    assert raised.value.message == "This address does not look like a CalDAV server."


def in_five_minutes() -> str:
    return format_datetime(datetime.now(UTC) + timedelta(minutes=5), usegmt=True)


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (429, lambda: {"Retry-After": "120"}, 120),
        (503, lambda: {"Retry-After": in_five_minutes()}, 300),
        (503, dict, None),
        (502, dict, None),
        (500, dict, None),
    ],
)
def test_rate_limits_and_server_errors_are_transient_with_their_retry_after(
    status, headers, retry_after
):
    with ScriptedServer() as server:
        server.routes[("PROPFIND", "/cal/")] = [Answer(status, headers=headers())]

        with pytest.raises(ProviderError) as raised:
            provider_for(server.url).changes(f"{server.url}cal/", '{"ctag":"1"}', WINDOW)

    assert not raised.value.permanent
    if retry_after is None:
        assert raised.value.retry_after is None
    else:
        assert raised.value.retry_after == pytest.approx(retry_after, abs=5)


def test_a_server_that_never_answers_is_a_transient_timeout():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        session = dav.DAVSession(username="me", password="pw", timeout=0.5)

        with pytest.raises(ProviderError) as raised:
            session.request("PROPFIND", f"http://127.0.0.1:{listener.getsockname()[1]}/")

    assert not raised.value.permanent
    assert raised.value.message == "The CalDAV server did not answer in time."


def test_an_answer_trickled_slower_than_the_deadline_is_a_transient_timeout(monkeypatch):
    monkeypatch.setattr(dav, "DEADLINE", 1)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def trickle() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 207 Multi-Status\r\nContent-Length: 1000\r\n\r\n")
                with contextlib.suppress(OSError):
                    for _ in range(100):
                        connection.sendall(b" ")
                        time.sleep(0.1)

        thread = threading.Thread(target=trickle, daemon=True)
        thread.start()
        started = time.monotonic()

        with pytest.raises(ProviderError) as raised:
            dav.DAVSession(username="me", password="pw").request(
                "PROPFIND", f"http://127.0.0.1:{listener.getsockname()[1]}/"
            )

    assert not raised.value.permanent
    assert time.monotonic() - started < 5


@contextlib.contextmanager
def dropping_server(answers: list[bytes | None]):
    """A listener that takes one connection per entry of ``answers``: None closes it unanswered
    (with a reset), bytes are sent as the answer before closing. Yields (url, connections seen)."""
    seen: list[int] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def serve() -> None:
            for answer in answers:
                connection, _ = listener.accept()
                with connection:
                    connection.recv(65536)
                    seen.append(1)
                    if answer is None:
                        # SO_LINGER 0: close with a reset, as a server with a full queue does.
                        connection.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                        )
                    else:
                        connection.sendall(answer)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/cal/", seen


STATE_ANSWER = (
    b"HTTP/1.1 207 Multi-Status\r\nContent-Type: application/xml\r\nConnection: close\r\n"
    b"Content-Length: %d\r\n\r\n%s"
)


def _state_answer() -> bytes:
    body = calendar_state().body.encode()
    return STATE_ANSWER % (len(body), body)


def test_a_request_the_server_dropped_unanswered_is_sent_once_more():
    with dropping_server([None, _state_answer()]) as (url, seen):
        session = dav.DAVSession(username="me", password="pw")
        answer = session.propfind(url, [(dav.CALSERVER, "getctag")])

    assert dav.first(answer).text(dav.CALSERVER, "getctag") == "1"
    assert (len(seen), session.request_count) == (2, 2)


def test_a_server_that_drops_every_request_is_transient_after_the_second_try():
    with dropping_server([None, None, None]) as (url, seen):
        session = dav.DAVSession(username="me", password="pw")
        with pytest.raises(ProviderError) as raised:
            session.propfind(url, [(dav.CALSERVER, "getctag")])

    assert not raised.value.permanent
    assert raised.value.message == dav.UNREACHABLE
    assert (len(seen), session.request_count) == (2, 2)


def test_an_answer_cut_off_midway_is_not_asked_for_again():
    cut = b"HTTP/1.1 207 Multi-Status\r\nContent-Length: 5000\r\n\r\n<d:multistatus"
    with dropping_server([cut, _state_answer()]) as (url, seen):
        session = dav.DAVSession(username="me", password="pw")
        with pytest.raises(ProviderError) as raised:
            session.propfind(url, [(dav.CALSERVER, "getctag")])

    assert not raised.value.permanent
    assert (len(seen), session.request_count) == (1, 1)


def test_a_server_that_cannot_be_reached_is_transient():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(ProviderError) as raised:
        provider_for("").changes(f"http://127.0.0.1:{port}/cal/", "", WINDOW)

    assert not raised.value.permanent


def test_an_answer_larger_than_the_cap_is_refused(monkeypatch):
    monkeypatch.setattr(dav, "MAX_BYTES", 1000)
    with ScriptedServer() as server:
        server.routes[("PROPFIND", "/cal/")] = [
            multistatus(found("/cal/", "<d:displayname>" + "x" * 5000 + "</d:displayname>"))
        ]

        with pytest.raises(ProviderError) as raised:
            provider_for(server.url).changes(f"{server.url}cal/", "", WINDOW)

    assert raised.value.permanent


def test_digest_authentication_is_used_when_the_server_offers_only_digest():
    challenge = {
        "WWW-Authenticate": 'Digest realm="cal", nonce="abc123", qop="auth", algorithm=MD5'
    }

    def propfind(request):
        if request.headers.get("Authorization", "").startswith("Digest "):
            return calendar_state()
        return Answer(401, headers=challenge)

    with ScriptedServer() as server:
        server.routes[("PROPFIND", "/cal/")] = propfind
        server.routes[("REPORT", "/cal/")] = [multistatus()]

        provider_for(server.url).changes(f"{server.url}cal/", "", WINDOW)

    authorizations = [r.headers.get("Authorization", "").split(" ")[0] for r in server.requests]
    assert authorizations[0] == "Basic"
    assert authorizations[-2:] == ["Digest", "Digest"]
    assert 'username="me"' in server.requests[-1].headers["Authorization"]
    assert all("pw-secret-9" not in r.headers.get("Authorization", "") for r in server.requests[1:])


def test_retry_after_reads_seconds_and_dates():
    in_a_minute = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)

    assert retry_after_seconds("30") == 30
    assert retry_after_seconds(in_a_minute) == pytest.approx(60, abs=5)
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("") is None
