"""Real CalDAV servers for the tests: Radicale 3.9 (users and passwords) and Xandikos 0.4 (no auth).

A pytest plugin (``pytest_plugins = ["tests.caldav_servers"]``). Each server runs once per test
session in its own process on a free 127.0.0.1 port with a temporary folder, and is stopped at the
end. Both offer the same helpers, so protocol tests can run against either:

- ``new_account()``: an account of its own (Radicale: a fresh user; Xandikos has one user);
- ``create_calendar(account, name, color=, time_zone=, read_only=)``: MKCALENDAR with a display
  name, an Apple colour and a calendar-timezone; returns the collection URL;
- ``put_object / delete_object / read_object``: raw iCalendar objects, as another client would
  write them.

``RadicaleServer.write_object_file`` puts a file straight into Radicale's storage, bypassing its
checks (for objects a real server would refuse).
"""

from __future__ import annotations

import itertools
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from xml.etree import ElementTree

import httpx
import pytest

START_TIMEOUT = 60  # seconds; a loaded 2-core machine starts Python slowly
XML = {"Content-Type": 'application/xml; charset="utf-8"'}
ICS = {"Content-Type": 'text/calendar; charset="utf-8"'}

# Rights for Radicale: each user owns their principal and calendars, an admin may write anywhere,
# and a user's "shared-*" calendars are read-only to them (made by the admin).
RADICALE_RIGHTS = """\
[admin]
user: admin
collection: .*
permissions: RrWw

[root]
user: .+
collection:
permissions: R

[principal]
user: .+
collection: {user}
permissions: RW

[shared]
user: .+
collection: {user}/shared-[^/]+
permissions: r

[calendars]
user: .+
collection: {user}/[^/]+
permissions: rw
"""

VTIMEZONE = {
    "Europe/Paris": (
        "BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\n"
        "BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n"
        "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZNAME:CEST\r\nEND:DAYLIGHT\r\n"
        "BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"
        "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZNAME:CET\r\nEND:STANDARD\r\n"
        "END:VTIMEZONE\r\n"
    ),
}


@dataclass(frozen=True)
class Account:
    server_url: str
    username: str
    password: str

    @property
    def secrets(self) -> dict[str, str]:
        """What the connection stores, as ``CalDAVProvider.from_secrets`` takes it."""
        return {"server_url": self.server_url, "username": self.username, "password": self.password}


class CalDAVServer:
    """A running server and helpers that act as another CalDAV client would."""

    name = ""
    supports_auth = True

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.url = ""
        self.log_path = folder / "server.log"
        self._process: subprocess.Popen | None = None
        self._numbers = itertools.count(1)

    # Overridden by each server.
    def _command(self, port: int) -> list[str]:
        raise NotImplementedError

    def calendar_home(self, account: Account) -> str:
        raise NotImplementedError

    def new_account(self) -> Account:
        raise NotImplementedError

    def start(self) -> None:
        for _ in range(3):  # a free port can be taken between our check and the server's bind
            port = _free_port()
            with self.log_path.open("a") as log:
                self._process = subprocess.Popen(
                    self._command(port), stdout=log, stderr=subprocess.STDOUT, cwd=self.folder
                )
            self.url = f"http://127.0.0.1:{port}/"
            if self._wait_until_ready():
                return
            self.stop()
        pytest.fail(f"{self.name} did not start:\n{self.log_tail()}")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _wait_until_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                httpx.request("OPTIONS", self.url, timeout=2)
            except httpx.HTTPError:
                time.sleep(0.1)
                continue
            return True
        return False

    # Helpers ------------------------------------------------------------------------------------

    def client(self, account: Account) -> httpx.Client:
        auth = (account.username, account.password) if self.supports_auth else None
        return httpx.Client(auth=auth, timeout=30)

    def create_calendar(
        self,
        account: Account,
        name: str = "Work",
        *,
        color: str = "",
        time_zone: str = "",
        read_only: bool = False,
    ) -> str:
        """MKCALENDAR a new event calendar for the account; its URL (unique per call)."""
        slug = f"{'shared-' if read_only else ''}cal{next(self._numbers)}"
        url = urljoin(self.calendar_home(account), f"{slug}/")
        props = f"<d:displayname>{name}</d:displayname>"
        if color:
            props += f"<a:calendar-color>{color}</a:calendar-color>"
        if time_zone:
            vcalendar = (
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\n"
                f"{VTIMEZONE[time_zone]}END:VCALENDAR\r\n"
            )
            props += f"<c:calendar-timezone>{vcalendar}</c:calendar-timezone>"
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" '
            'xmlns:a="http://apple.com/ns/ical/">'
            f"<d:set><d:prop>{props}</d:prop></d:set></c:mkcalendar>"
        )
        creator = self._admin() if read_only else account
        with self.client(creator) as client:
            response = client.request("MKCALENDAR", url, content=body, headers=XML)
        assert response.status_code == 201, (response.status_code, response.text)
        return url

    def put_object(self, account: Account, calendar_url: str, name: str, data: str | bytes) -> str:
        """Create or replace ``<calendar>/<name>`` as another client; its URL."""
        url = urljoin(calendar_url, name)
        with self.client(account) as client:
            response = client.put(url, content=data, headers=ICS)
        assert response.status_code in (201, 204), (response.status_code, response.text)
        return url

    def delete_object(self, account: Account, url: str) -> None:
        with self.client(account) as client:
            response = client.delete(url)
        assert response.status_code in (200, 204), (response.status_code, response.text)

    def read_object(self, account: Account, url: str) -> bytes | None:
        """The stored iCalendar text, or None when there is no such object."""
        with self.client(account) as client:
            response = client.get(url)
        if response.status_code == 404:
            return None
        assert response.status_code == 200, (response.status_code, response.text)
        return response.content

    def list_objects(self, account: Account, calendar_url: str) -> list[str]:
        """The paths of the calendar's objects."""
        body = '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>'
        with self.client(account) as client:
            response = client.request(
                "PROPFIND", calendar_url, content=body, headers={**XML, "Depth": "1"}
            )
        assert response.status_code == 207, response.status_code
        root = ElementTree.fromstring(response.content)  # noqa: S314 - our own test server
        own = urlsplit(calendar_url).path
        paths = [urlsplit(href.text or "").path for href in root.iter("{DAV:}href")]
        return [path for path in paths if path.startswith(own) and path != own]

    def _admin(self) -> Account:
        raise NotImplementedError


class RadicaleServer(CalDAVServer):
    name = "Radicale"

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.storage = folder / "storage"
        self.users_file = folder / "users"
        self.rights_file = folder / "rights"
        self.users_file.write_text("")
        self.rights_file.write_text(RADICALE_RIGHTS)
        self._admin_password = secrets.token_hex(8)
        self.add_user("admin", self._admin_password)

    def _command(self, port: int) -> list[str]:
        return [
            sys.executable, "-m", "radicale", "--config", "",
            "--server-hosts", f"127.0.0.1:{port}",
            "--auth-type", "htpasswd",
            "--auth-htpasswd-filename", str(self.users_file),
            "--auth-htpasswd-encryption", "plain",
            "--auth-delay", "0",
            "--rights-type", "from_file",
            "--rights-file", str(self.rights_file),
            "--storage-filesystem-folder", str(self.storage),
            "--logging-level", "info",
        ]  # fmt: skip

    def add_user(self, username: str, password: str) -> None:
        with self.users_file.open("a") as users:
            users.write(f"{username}:{password}\n")

    def new_account(self) -> Account:
        account = Account(self.url, f"user{next(self._numbers)}", secrets.token_hex(8))
        self.add_user(account.username, account.password)
        # Radicale makes a user's principal collection at their first request.
        with self.client(account) as client:
            response = client.request(
                "PROPFIND", urljoin(self.url, f"{account.username}/"), headers={"Depth": "0"}
            )
        assert response.status_code == 207, (response.status_code, response.text)
        return account

    def calendar_home(self, account: Account) -> str:
        return urljoin(self.url, f"{account.username}/")

    def write_object_file(self, calendar_url: str, name: str, data: str | bytes) -> None:
        """Put a file straight into the collection's folder: no checks, as if another tool wrote it."""
        folder = self.storage / "collection-root" / urlsplit(calendar_url).path.strip("/")
        content = data.encode() if isinstance(data, str) else data
        (folder / name).write_bytes(content)

    def _admin(self) -> Account:
        return Account(self.url, "admin", self._admin_password)


class XandikosServer(CalDAVServer):
    """Xandikos serves one principal, /user/, without authentication: accounts share it, and
    every calendar gets a fresh name instead."""

    name = "Xandikos"
    supports_auth = False

    def _command(self, port: int) -> list[str]:
        return [
            sys.executable, "-m", "xandikos", "serve",
            "-d", str(self.folder / "data"), "--defaults",
            "-l", "127.0.0.1", "-p", str(port),
        ]  # fmt: skip

    def new_account(self) -> Account:
        return Account(self.url, "user", "no-password-needed")

    def calendar_home(self, account: Account) -> str:
        return urljoin(self.url, "user/calendars/")

    def _admin(self) -> Account:
        raise NotImplementedError("Xandikos has no access control, so no read-only calendars.")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def radicale_server(tmp_path_factory) -> Iterator[RadicaleServer]:
    server = RadicaleServer(tmp_path_factory.mktemp("radicale"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def xandikos_server(tmp_path_factory) -> Iterator[XandikosServer]:
    server = XandikosServer(tmp_path_factory.mktemp("xandikos"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["radicale", "xandikos"])
def caldav_server(request) -> CalDAVServer:
    """Each CalDAV server in turn: protocol tests run against both."""
    return request.getfixturevalue(f"{request.param}_server")
