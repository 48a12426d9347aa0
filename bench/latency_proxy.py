"""An HTTP proxy that answers every request a fixed time after it arrived, whatever the server took.

    python bench/latency_proxy.py UPSTREAM_URL HOLD_MS

Prints the port it listens on (127.0.0.1), then serves until killed. Put two calendars behind it
and they differ only in size: the wait, which costs the waiting process CPU time on its own
(caches and the CPU go cold), is the same for both. It runs as a process of its own, so its work
is never counted as the client's. An answer that takes the server longer than HOLD_MS is passed
on at once and counted; ``GET /_late`` returns that count.
"""

from __future__ import annotations

import http.client
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Proxy

    def _forward(self) -> None:
        arrived = time.monotonic()
        if self.path == "/_late":
            self._answer(200, [], str(self.server.late).encode())
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream = http.client.HTTPConnection(
            self.server.upstream.hostname, self.server.upstream.port
        )
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            content = response.read()
            answer = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
        finally:
            upstream.close()
        left = self.server.hold - (time.monotonic() - arrived)
        if left > 0:
            time.sleep(left)
        else:
            with self.server.lock:
                self.server.late += 1
        self._answer(response.status, answer, content)

    def _answer(self, status: int, headers: list[tuple[str, str]], content: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_PUT = do_DELETE = do_OPTIONS = do_PROPFIND = do_REPORT = _forward

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Proxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, hold_ms: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = urlsplit(upstream)
        self.hold = hold_ms / 1000
        self.late = 0
        self.lock = threading.Lock()


def main() -> None:
    proxy = _Proxy(sys.argv[1], float(sys.argv[2]))
    print(proxy.server_address[1], flush=True)
    proxy.serve_forever()


if __name__ == "__main__":
    main()
