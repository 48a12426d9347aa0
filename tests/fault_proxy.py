"""An HTTP proxy in front of a real server that injects faults: the provider boundary, misbehaving.

Tests point a connection at ``proxy.url`` and set ``proxy.fault`` to a function of
(method, path, number of this method seen so far) returning None (pass through), an HTTP status
to answer with instead, a number of seconds to stall before passing through, or a
``tests.fakes.faults.Fault`` (kill the sender, drop the answer, run something meanwhile).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.fakes.faults import Fault as WriteFault
from tests.fakes.faults import serve_write

Fault = Callable[[str, str, int], int | float | WriteFault | None]

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-encoding",
}


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.fault: Fault = lambda method, path, count: None
        self.seen: Counter[str] = Counter()
        self.url = ""

    def reset(self) -> None:
        self.fault = lambda method, path, count: None
        self.seen.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _forward(self) -> None:
        proxy: FaultProxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        proxy.seen[self.command] += 1
        outcome = proxy.fault(self.command, self.path, proxy.seen[self.command])
        if isinstance(outcome, int) and not isinstance(outcome, bool) and outcome >= 100:
            self.send_response(outcome)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if isinstance(outcome, float):
            time.sleep(outcome)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host", *_HOP_BY_HOP}}

        def carry_out():  # type: ignore[no-untyped-def]
            upstream = httpx.request(
                self.command, proxy.upstream + self.path, content=body, headers=headers, timeout=30
            )
            return lambda: self._answer(upstream)

        serve_write(self, outcome if isinstance(outcome, WriteFault) else None, carry_out)

    def _answer(self, upstream: httpx.Response) -> None:
        self.send_response(upstream.status_code)
        for name, value in upstream.headers.items():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(upstream.content)))
        self.end_headers()
        self.wfile.write(upstream.content)

    do_GET = do_PUT = do_DELETE = do_PROPFIND = do_REPORT = do_OPTIONS = do_MKCALENDAR = _forward
    do_POST = do_PROPPATCH = _forward

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def running_fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of ``upstream``, on a free loopback port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.proxy = FaultProxy(upstream)
    server.proxy.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server.proxy
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fault_proxy(radicale_server) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the suite's Radicale."""
    with running_fault_proxy(radicale_server.url) as proxy:
        yield proxy
