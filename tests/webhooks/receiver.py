"""A webhook receiver on loopback: it keeps every request it gets and answers as told.

``answers`` is a list of (status, headers, seconds to wait first) taken one per request; once
it is empty every request gets 204. Used by the tests and by bench/webhooks.py.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when the body was read


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str], float]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def answer(
        self, status: int, *, headers: dict[str, str] | None = None, wait: float = 0
    ) -> None:
        self.answers.append((status, headers or {}, wait))

    def wait_for(self, count: int, timeout: float = 20) -> list[Received]:
        """The first ``count`` requests, once they have come (or fail after ``timeout``)."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"{len(self.received)} of {count} requests came")
        return self.received[:count]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def handle(self) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().handle()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        at = time.time()
        receiver = self.server.receiver
        status, headers, wait = receiver.answers.pop(0) if receiver.answers else (204, {}, 0.0)
        if wait:
            time.sleep(wait)
        self.send_response(status)
        for name, value in {"Content-Length": "0", **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        with receiver.arrived:
            receiver.received.append(
                Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, at)
            )
            receiver.arrived.notify_all()

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver


@contextmanager
def receiving(path: str = "/hooks/multical") -> Iterator[Receiver]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}{path}")
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server.receiver
    finally:
        server.shutdown()
        server.server_close()
