"""A Sentry ingestion endpoint on loopback: it accepts the SDK's envelopes and keeps them.

``FakeSentry.dsn`` points the real SDK at it; ``payloads`` holds each envelope as the bytes that
arrived (decompressed), and ``events`` the items of type ``event`` parsed. Nothing is answered but
200, as Sentry answers an accepted envelope.
"""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeSentry:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        host, port = server.server_address[:2]
        self.dsn = f"http://public@{host}:{port}/1"
        self.payloads: list[bytes] = []

    @property
    def events(self) -> list[dict[str, Any]]:
        found = []
        for payload in self.payloads:
            lines = payload.split(b"\n")
            # The envelope's header, then a header and a payload line per item.
            for header, body in zip(lines[1::2], lines[2::2], strict=False):
                if header.strip() and json.loads(header).get("type") == "event":
                    found.append(json.loads(body))
        return found


def serve() -> tuple[FakeSentry, ThreadingHTTPServer]:
    """A fake listening on a free loopback port, in a thread; ``shutdown()`` the server after."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.fake = FakeSentry(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.fake, server


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.fake.payloads.append(body)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass
