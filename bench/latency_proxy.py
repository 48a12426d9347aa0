"""An HTTP proxy that answers every request a fixed time after it arrived, whatever the server took.

Put two calendars behind it and they differ only in size: the wait, which costs the waiting
process CPU time on its own (caches and the CPU go cold), is the same for both. ``LatencyProxy``
runs it as a process of its own, so its work is never counted as the benchmark's:

    with LatencyProxy(upstream_url, hold_ms=400) as proxy:
        ...  # talk to proxy.url
        proxy.hold(0)  # pass answers on at once from now on
        proxy.late()  # answers that took the server longer than the hold (passed on at once)

Run directly (``python bench/latency_proxy.py UPSTREAM_URL HOLD_MS``) it prints its port and
serves until killed; ``GET /_proxy/hold/MS`` changes the hold (and starts the count of late
answers again), ``GET /_proxy/late`` returns that count.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are written apart: without this, a kept-alive answer's body waits for the
    # client's delayed ACK (about 40 ms), which would be counted as the product's time.
    disable_nagle_algorithm = True
    server: _Proxy

    def _forward(self) -> None:
        arrived = time.monotonic()
        if self.path.startswith("/_proxy/"):
            self._control(self.path.split("/")[2:])
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
        elif self.server.hold:
            with self.server.lock:
                self.server.late += 1
        self._answer(response.status, answer, content)

    def _control(self, command: list[str]) -> None:
        if command[0] == "hold":
            with self.server.lock:
                self.server.hold = float(command[1]) / 1000
                self.server.late = 0
        self._answer(200, [], str(self.server.late).encode())

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


class LatencyProxy:
    """This module's proxy in a process of its own, in front of ``upstream``."""

    def __init__(self, upstream: str, hold_ms: float) -> None:
        self._command = [sys.executable, str(Path(__file__)), upstream, str(hold_ms)]
        self.url = ""

    def __enter__(self) -> LatencyProxy:
        self._process = subprocess.Popen(self._command, stdout=subprocess.PIPE, text=True)
        self.url = f"http://127.0.0.1:{self._process.stdout.readline().strip()}/"
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)

    def hold(self, hold_ms: float) -> None:
        self._ask(f"hold/{hold_ms}")

    def late(self) -> int:
        return int(self._ask("late"))

    def _ask(self, command: str) -> str:
        connection = http.client.HTTPConnection(
            urlsplit(self.url).hostname, urlsplit(self.url).port
        )
        try:
            connection.request("GET", f"/_proxy/{command}")
            return connection.getresponse().read().decode()
        finally:
            connection.close()


def main() -> None:
    proxy = _Proxy(sys.argv[1], float(sys.argv[2]))
    print(proxy.server_address[1], flush=True)
    proxy.serve_forever()


if __name__ == "__main__":
    main()
