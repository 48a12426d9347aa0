"""A tiny HTTP server on 127.0.0.1 that answers from a script, for what real servers will not do:
iCloud's quirks, rate limits, errors, web pages, redirects, Digest authentication."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Answer]


class ScriptedServer:
    """Answers ``(method, path)`` from ``routes`` (a handler, or a list of answers given in turn);
    anything else gets 404. Every request is kept in ``requests``. With ``tls`` (a server
    context) it speaks https."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[tuple[str, str], Handler | list[Answer]] = {}
        self.requests: list[Request] = []
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
                )
                server.requests.append(request)
                answer = server._answer(request)
                body = answer.body.encode() if isinstance(answer.body, str) else answer.body
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_DELETE = do_OPTIONS = do_PROPFIND = do_REPORT = _serve

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, request: Request) -> Answer:
        route = self.routes.get((request.method, request.path))
        if route is None:
            return Answer(404, "Not found")
        if isinstance(route, list):
            return route.pop(0) if len(route) > 1 else route[0]
        return route(request)


def multistatus(*responses: str, sync_token: str = "") -> Answer:
    token = f"<d:sync-token>{sync_token}</d:sync-token>" if sync_token else ""
    body = f'<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/">{"".join(responses)}{token}</d:multistatus>'
    return Answer(207, body, {"Content-Type": "application/xml; charset=utf-8"})


def found(href: str, props: str) -> str:
    return (
        f"<d:response><d:href>{href}</d:href><d:propstat><d:prop>{props}</d:prop>"
        "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
    )


def status(href: str, code: str) -> str:
    return f"<d:response><d:href>{href}</d:href><d:status>HTTP/1.1 {code}</d:status></d:response>"
