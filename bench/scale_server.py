"""The simulated outside world of ``bench/scale.py``: thousands of CalDAV collections and iCal
links behind one fast asyncio server process, and an SMTP sink for the e-mails.

    .venv/bin/python -m bench.scale_server --port P --resources FILE --report FILE \
        --interval 60 --changing 0.01

The server speaks as much CalDAV as the project's reader and writer use (``integrations/caldav``):
PROPFIND of a collection's ctag and sync token (cheap: a counter), RFC 6578 sync-collection from a
token, calendar-multiget, calendar-query (every object; a text-match filters by substring), and
objects' ETags, GET, PUT (If-None-Match / If-Match) and DELETE. iCal links answer a conditional GET
with 304 while unchanged. A collection or link is created, empty, at revision 1 the first time it
is named; ``--resources`` lists the polled ones, of which a share (``--changing``) changes each
interval from the first poll on, spread evenly: a new event tomorrow, a new ctag and sync token.

Every request is logged in memory (time, method, path, status, whether it started a poll: a read
of a polled calendar's state, its ctag, changes or listing, after none for ``POLL_GAP``); at SIGTERM
the log, the resources changed by the simulation and those written by the project go to
``--report`` as JSON. ``GET /_bench/state`` tells the bench when the first poll came.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import signal
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

# Reads of one calendar closer together than this are one sync's (one poll).
POLL_GAP = 5.0
# What a request reads of a calendar's state: its change check (a poll's start), or more.
CHECK, READ = "check", "read"
_HREF = re.compile(rb"<d:href>([^<]*)</d:href>")
_TOKEN = re.compile(rb"<d:sync-token>([^<]*)</d:sync-token>")
_TEXT_MATCH = re.compile(rb"<c:text-match[^>]*>([^<]*)</c:text-match>")
_NAMESPACES = 'xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/"'
_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    207: "Multi-Status",
    304: "Not Modified",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    412: "Precondition Failed",
}
SYNC_PREFIX = "urn:scale:sync:"
FEED_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def sync_token(revision: int) -> str:
    return f"{SYNC_PREFIX}{revision}"


def feed_validators(version: int) -> tuple[str, str]:
    """A link's ETag and Last-Modified at ``version`` (the seeded cursors hold version 1's)."""
    return f'"v{version}"', format_datetime(FEED_EPOCH + timedelta(minutes=version), usegmt=True)


def _vevent(uid: str, number: int) -> str:
    """A one-hour event tomorrow (UTC, so no zone lookups), a different hour for each number."""
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
        days=1, hours=6 + number % 12
    )
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}\r\n"
        f"SUMMARY:Simulated {number}\r\nEND:VEVENT\r\n"
    )


def calendar_text(events: str) -> bytes:
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//scale bench//EN\r\n{events}END:VCALENDAR\r\n"
    ).encode()


@dataclass(slots=True)
class Collection:
    revision: int = 1
    objects: dict[str, tuple[int, bytes]] = field(default_factory=dict)  # name → (revision, data)
    removed: dict[str, int] = field(default_factory=dict)  # name → revision of its removal

    def bump(self) -> int:
        self.revision += 1
        return self.revision


@dataclass(slots=True)
class Feed:
    version: int = 1

    def body(self, path: str) -> bytes:
        return calendar_text("".join(_vevent(f"{path}-{n}", n) for n in range(self.version)))


@dataclass(slots=True)
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class World:
    """The collections and links, what the simulation changed, and the request log."""

    def __init__(self, resources: list[str], interval: float, changing: float) -> None:
        self.resources = resources
        self.polled = set(resources)
        self.last_read: dict[str, float] = {}
        self.interval = interval
        self.changing = changing
        self.collections: dict[str, Collection] = {}
        self.feeds: dict[str, Feed] = {}
        self.log: list[tuple[float, str, str, int, bool]] = []
        self.changed: list[tuple[float, str]] = []
        self.written: set[str] = set()
        self.first_poll: float | None = None

    # Requests -------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        if path == "/_bench/state":
            state = {"first_poll": self.first_poll, "requests": len(self.log)}
            return Answer(200, json.dumps(state).encode(), {"Content-Type": "application/json"})
        read: str | None = None
        if path.startswith("/ics/"):
            answer, read = self._feed(method, path, headers)
        elif path.startswith("/dav/"):
            answer, read = self._dav(method, path, headers, body)
        else:
            answer = Answer(404)
        now = time.time()
        poll = read is not None and self._is_poll(path, read, now)
        if poll and self.first_poll is None:
            self.first_poll = now
        self.log.append((now, method, path, answer.status, poll))
        return answer

    def _is_poll(self, path: str, read: str, now: float) -> bool:
        """Whether a read of a calendar's state starts a poll: a change check (a ctag, a link's
        conditional GET) of a polled calendar always does; another read (changes, a listing) when
        it follows no read of the calendar within ``POLL_GAP`` seconds, so that the requests of
        one sync count once whatever request it starts with."""
        resource = path if path.startswith("/ics/") else "/".join(path.split("/")[:4]) + "/"
        if resource not in self.polled:
            return False
        previous = self.last_read.get(resource, 0.0)
        self.last_read[resource] = now
        return read == CHECK or now - previous > POLL_GAP

    def _feed(self, method: str, path: str, headers: dict[str, str]) -> tuple[Answer, str | None]:
        if method != "GET":
            return Answer(405), None
        feed = self.feeds.setdefault(path, Feed())
        etag, modified = feed_validators(feed.version)
        validators = {"ETag": etag, "Last-Modified": modified}
        if headers.get("if-none-match") == etag or (
            "if-none-match" not in headers and headers.get("if-modified-since") == modified
        ):
            return Answer(304, headers=validators), CHECK
        return Answer(200, feed.body(path), {**validators, "Content-Type": "text/calendar"}), CHECK

    def _dav(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[Answer, str | None]:
        parts = path.split("/")  # "", "dav", user, calendar, [object]
        if len(parts) < 5:
            return Answer(404), None
        collection_path = "/".join(parts[:4]) + "/"
        collection = self.collections.setdefault(collection_path, Collection())
        name = parts[4]
        if not name:
            return self._on_collection(method, collection_path, collection, headers, body)
        return self._on_object(method, collection_path, collection, name, headers, body), None

    def _on_collection(
        self, method: str, path: str, collection: Collection, headers: dict[str, str], body: bytes
    ) -> tuple[Answer, str | None]:
        if method == "PROPFIND":
            if headers.get("depth", "0") != "0":
                return _multistatus(
                    [
                        _entry(f"{path}{name}", _etag(rev))
                        for name, (rev, _) in collection.objects.items()
                    ]
                ), None
            props = f"<cs:getctag>{collection.revision}</cs:getctag>"
            props += f"<d:current-user-principal><d:href>{path.rsplit('/', 2)[0]}/</d:href></d:current-user-principal>"
            if b"sync-token" in body:
                props += f"<d:sync-token>{sync_token(collection.revision)}</d:sync-token>"
            # The cheap change check starts a poll; a state read with the sync token is part of a
            # full listing's, unless nothing came before it.
            read = READ if b"sync-token" in body else CHECK
            return _multistatus(
                [f"<d:response><d:href>{path}</d:href>{_found(props)}</d:response>"]
            ), read
        if method != "REPORT":
            return Answer(405), None
        if b"sync-collection" in body:
            return self._sync(path, collection, body), READ
        if b"calendar-multiget" in body:
            wanted = {href.decode().rsplit("/", 1)[-1] for href in _HREF.findall(body)}
            return _multistatus(
                [
                    _entry(f"{path}{name}", _etag(rev), data)
                    for name, (rev, data) in collection.objects.items()
                    if name in wanted
                ]
            ), None
        if b"calendar-query" in body:
            match = _TEXT_MATCH.search(body)
            needle = match[1] if match else b""
            return _multistatus(
                [
                    _entry(f"{path}{name}", _etag(rev), data)
                    for name, (rev, data) in collection.objects.items()
                    if needle in data
                ]
            ), None if needle else READ
        return Answer(400), None

    def _sync(self, path: str, collection: Collection, body: bytes) -> Answer:
        found = _TOKEN.search(body)
        token = found[1].decode() if found else ""
        if not token.startswith(SYNC_PREFIX) or not token[len(SYNC_PREFIX) :].isdigit():
            return Answer(403)
        since = int(token[len(SYNC_PREFIX) :])
        entries = [
            _entry(f"{path}{name}", _etag(rev))
            for name, (rev, _) in collection.objects.items()
            if rev > since
        ]
        entries += [
            f"<d:response><d:href>{path}{name}</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>"
            for name, rev in collection.removed.items()
            if rev > since
        ]
        return _multistatus(entries, token=sync_token(collection.revision))

    def _on_object(
        self,
        method: str,
        path: str,
        collection: Collection,
        name: str,
        headers: dict[str, str],
        body: bytes,
    ) -> Answer:
        stored = collection.objects.get(name)
        if method == "PROPFIND":
            if stored is None:
                return Answer(404)
            return _multistatus([_entry(f"{path}{name}", _etag(stored[0]))])
        if method == "GET":
            if stored is None:
                return Answer(404)
            return Answer(
                200, stored[1], {"ETag": _etag(stored[0]), "Content-Type": "text/calendar"}
            )
        if method == "PUT":
            if headers.get("if-none-match") == "*" and stored is not None:
                return Answer(412)
            if "if-match" in headers and (
                stored is None or headers["if-match"] != _etag(stored[0])
            ):
                return Answer(412)
            revision = collection.bump()
            collection.objects[name] = (revision, body)
            collection.removed.pop(name, None)
            self.written.add(path)
            return Answer(204 if stored else 201, headers={"ETag": _etag(revision)})
        if method == "DELETE":
            if stored is None:
                return Answer(404)
            del collection.objects[name]
            collection.removed[name] = collection.bump()
            self.written.add(path)
            return Answer(204)
        return Answer(405)

    # The simulated changes --------------------------------------------------------------------

    async def change_steadily(self) -> None:
        """From the first poll on, change ``changing`` of the resources each interval, a few
        every second so that the changes are spread like people's."""
        while self.first_poll is None:
            await asyncio.sleep(0.2)
        per_second = len(self.resources) * self.changing / self.interval
        owed = 0.0
        number = 0
        while True:
            owed += per_second
            while owed >= 1:
                owed -= 1
                number += 1
                self._change(random.choice(self.resources), number)
            await asyncio.sleep(1)

    def _change(self, path: str, number: int) -> None:
        self.changed.append((time.time(), path))
        if path.startswith("/ics/"):
            self.feeds.setdefault(path, Feed()).version += 1
            return
        collection = self.collections.setdefault(path, Collection())
        name = f"simulated-{number}.ics"
        collection.objects[name] = (
            collection.bump(),
            calendar_text(_vevent(f"simulated-{number}", number)),
        )

    def report(self) -> dict[str, object]:
        return {"requests": self.log, "changed": self.changed, "written": sorted(self.written)}


def _etag(revision: int) -> str:
    return f'"r{revision}"'


def _found(props: str) -> str:
    return f"<d:propstat><d:prop>{props}</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>"


def _entry(href: str, etag: str, data: bytes | None = None) -> str:
    props = f"<d:getetag>{escape(etag)}</d:getetag>"
    if data is not None:
        props += f"<c:calendar-data>{escape(data.decode())}</c:calendar-data>"
    return f"<d:response><d:href>{href}</d:href>{_found(props)}</d:response>"


def _multistatus(entries: list[str], *, token: str = "") -> Answer:
    tail = f"<d:sync-token>{token}</d:sync-token>" if token else ""
    body = f'<?xml version="1.0" encoding="utf-8"?><d:multistatus {_NAMESPACES}>{"".join(entries)}{tail}</d:multistatus>'
    return Answer(207, body.encode(), {"Content-Type": 'application/xml; charset="utf-8"'})


async def _serve_connection(
    world: World, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """HTTP/1.1 with keep-alive, Content-Length bodies only (what the project's clients send)."""
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    key, value = line.split(":", 1)
                    headers[key.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length") or 0))
            answer = world.handle(method, target.split("?", 1)[0], headers, body)
            out = [f"HTTP/1.1 {answer.status} {_REASONS.get(answer.status, 'Unknown')}"]
            out += [f"{key}: {value}" for key, value in answer.headers.items()]
            out.append(f"Content-Length: {len(answer.body)}")
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + answer.body)
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                return
    finally:
        writer.close()


async def _main(arguments: argparse.Namespace) -> None:
    resources = json.loads(Path(arguments.resources).read_text())
    world = World(resources, arguments.interval, arguments.changing)
    server = await asyncio.start_server(
        lambda reader, writer: _serve_connection(world, reader, writer),
        "127.0.0.1",
        arguments.port,
        backlog=1024,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    changer = asyncio.create_task(world.change_steadily())
    async with server:
        await stop.wait()
    changer.cancel()
    Path(arguments.report).write_text(json.dumps(world.report()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--resources", required=True, help="JSON list of the polled paths")
    parser.add_argument("--report", required=True, help="where the log goes at SIGTERM")
    parser.add_argument("--interval", type=float, default=60)
    parser.add_argument("--changing", type=float, default=0.01)
    asyncio.run(_main(parser.parse_args()))


# The SMTP sink ----------------------------------------------------------------------------------


class _SMTPHandler(socketserver.StreamRequestHandler):
    server: _SMTPServer

    def handle(self) -> None:
        self._say("220 scale-bench sink")
        recipients: list[str] = []
        while line := self.rfile.readline():
            command = line.decode("latin-1").strip()
            verb = command[:4].upper()
            if verb == "QUIT":
                self._say("221 bye")
                return
            if verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip().strip("<>").lower())
            if verb == "DATA":
                self._say("354 go on")
                while self.rfile.readline() not in (b".\r\n", b".\n", b""):
                    pass
                self.server.record(recipients)
                recipients = []
            self._say("250 ok")

    def _say(self, text: str) -> None:
        self.wfile.write(f"{text}\r\n".encode())


class _SMTPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SMTPHandler)
        self.received: dict[str, float] = {}  # recipient → when their first message arrived
        self.lock = threading.Lock()

    def record(self, recipients: list[str]) -> None:
        now = time.time()
        with self.lock:
            for recipient in recipients:
                self.received.setdefault(recipient, now)


@contextmanager
def smtp_sink() -> Iterator[_SMTPServer]:
    """An SMTP server on a free loopback port that keeps when each recipient's first message came
    (nothing of the messages themselves)."""
    server = _SMTPServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
