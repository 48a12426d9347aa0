"""What the benchmarks share: a throwaway database, free ports, waiting for a server to answer, a
Radicale server filled with calendars."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.caldav_servers import Account, RadicaleServer


@contextmanager
def throwaway_database(
    *, settings_module: str = "tests.settings", name: str | None = None
) -> Iterator[None]:
    """Django set up with ``settings_module`` on a fresh, migrated PostgreSQL database (named
    ``name``, else the settings' test database name), dropped on the way out whatever happens."""
    # Not setdefault: importing the multical package sets it to the production settings.
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django
    from django.db import connection
    from django.test.utils import setup_test_environment

    django.setup()
    setup_test_environment()
    if name is not None:
        connection.settings_dict["TEST"] = {
            **connection.settings_dict.get("TEST", {}),
            "NAME": name,
        }
    original = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(url: str, seconds: float = 60) -> None:
    """Return once ``url`` answers (any status below 400); RuntimeError after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


@contextmanager
def gunicorn_site() -> Iterator[str]:
    """The project on gunicorn with three sync workers (as the Dockerfile runs it), on the Django
    database and cache set up in this process, with no rate limit (every request comes from
    127.0.0.1, and a limit must not be what the figures measure): its address."""
    from django.conf import settings
    from django.db import connection

    port = free_port()
    site = f"http://127.0.0.1:{port}"
    database = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "SITE_URL": site,
        "RATE_LIMIT_DEFAULT": "1000000/m",
        "BOOKING_BROWSE_RATE": "1000000/m",
        "BOOKING_SUBMIT_RATE": "1000000/m",
        "BOOKING_PAGE_RATE": "1000000/m",
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
    }
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "multical.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "3", "--log-level", "warning"],
        cwd=Path(__file__).resolve().parent.parent, env=env,
    )  # fmt: skip
    try:
        wait_for(f"{site}/health/")
        yield site
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)


@contextmanager
def radicale_with_calendars(
    *,
    prefix: str,
    user: str,
    password: str,
    sizes: Iterable[int],
    write: Callable[[Path, str, int], None],
) -> Iterator[tuple[RadicaleServer, float]]:
    """A Radicale server with ``user``'s calendar ``events-<size>`` for each size, written into
    its storage by ``write(storage, name, size)`` before it starts; yields the server and the
    seconds the writing took, and stops it on the way out."""
    from tests.caldav_servers import RadicaleServer

    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        server = RadicaleServer(Path(folder))
        server.add_user(user, password)
        began = time.monotonic()
        for size in sizes:
            write(server.storage, f"events-{size}", size)
        server.start()
        try:
            yield server, time.monotonic() - began
        finally:
            server.stop()


def warm_up(server: RadicaleServer, account: Account, url: str) -> None:
    """Radicale parses and caches every item at its first listing: let it, untimed and unlimited."""
    import httpx

    body = (
        '<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
        '<d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR"/></c:filter></c:calendar-query>'
    )
    with server.client(account) as client:
        client.timeout = httpx.Timeout(900)
        client.request(
            "REPORT", url, content=body, headers={"Depth": "1", "Content-Type": "application/xml"}
        )
