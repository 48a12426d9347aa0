"""A proxy in front of a real CalDAV server that answers as a slow one would: after a pause that
grows with the number of objects in the answer (``per_object`` seconds each), so that one listing
of a whole calendar times out where smaller requests do not.

``seen`` keeps each request's method and body; ``on_request(method, body)``, when set, runs in
the proxy's thread as each request arrives (to look at what the product stored meanwhile).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

_RESPONSE = re.compile(rb"<(?:[\w-]+:)?response>")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class SlowProxy:
    def __init__(self, upstream: str, per_object: float) -> None:
        self.upstream = upstream.rstrip("/")
        self.per_object = per_object
        self.seen: list[tuple[str, bytes]] = []
        self.on_request: Callable[[str, bytes], None] | None = None
        self.url = ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _forward(self) -> None:
        proxy: SlowProxy = self.server.proxy  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        proxy.seen.append((self.command, body))
        if proxy.on_request is not None:
            proxy.on_request(self.command, body)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream = httpx.request(
            self.command, proxy.upstream + self.path, content=body, headers=headers, timeout=60
        )
        time.sleep(proxy.per_object * len(_RESPONSE.findall(upstream.content)))
        try:
            self.send_response(upstream.status_code)
            for name, value in upstream.headers.items():
                if name.lower() not in {*_HOP_BY_HOP, "content-encoding"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(upstream.content)))
            self.end_headers()
            self.wfile.write(upstream.content)
        except OSError:
            pass  # the client gave up waiting: that is the point of this proxy

    do_GET = do_PUT = do_DELETE = do_PROPFIND = do_REPORT = do_OPTIONS = do_MKCALENDAR = _forward

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def running_slow_proxy(upstream: str, *, per_object: float) -> Iterator[SlowProxy]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.proxy = SlowProxy(upstream, per_object)  # type: ignore[attr-defined]
    server.proxy.url = f"http://127.0.0.1:{server.server_address[1]}/"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server.proxy  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
