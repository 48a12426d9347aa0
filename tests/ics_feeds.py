"""A local iCal feed server for tests: ETag/Last-Modified/304, gzip, swappable bodies, request log."""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

FEEDS = Path(__file__).parent / "integrations" / "ics" / "feeds"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


class Feed:
    """What the feed server serves, how, and what it was asked."""

    def __init__(self) -> None:
        self.body = b""
        self.status = 200
        self.headers: dict[str, str] = {}
        self.send_etag = True
        self.send_last_modified = True
        self.gzip = False
        self.requests: list[dict[str, str]] = []
        self.url = ""
        self._version = 0

    def serve(self, body: bytes) -> None:
        self.body = body
        self._version += 1

    def serve_file(self, name: str) -> None:
        self.serve((FEEDS / name).read_bytes())

    @property
    def etag(self) -> str:
        return f'"{hashlib.sha256(self.body).hexdigest()[:16]}"'

    @property
    def last_modified(self) -> str:
        return email.utils.format_datetime(
            utc(2025, 2, 1) + timedelta(hours=self._version), usegmt=True
        )


class FeedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        feed: Feed = self.server.feed
        feed.requests.append(dict(self.headers))
        headers = dict(feed.headers)
        if feed.send_etag:
            headers["ETag"] = feed.etag
        if feed.send_last_modified:
            headers["Last-Modified"] = feed.last_modified
        unchanged = (feed.send_etag and self.headers.get("If-None-Match") == feed.etag) or (
            feed.send_last_modified and self.headers.get("If-Modified-Since") == feed.last_modified
        )
        body = b"" if unchanged else feed.body
        if body and feed.gzip and "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        self.send_response(304 if unchanged and feed.status == 200 else feed.status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def feed() -> Iterator[Feed]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FeedHandler)
    server.feed = Feed()
    server.feed.url = f"http://127.0.0.1:{server.server_address[1]}/calendar.ics"
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield server.feed
    server.shutdown()
    server.server_close()
