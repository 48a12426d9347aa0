"""Try the product in a minute: a local CalDAV server with sample calendars, a demo user already
connected to them and one sync rule, then the web server, the workers and beat (``make demo``)."""

from __future__ import annotations

import argparse
import logging
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import zoneinfo
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from honcho.printer import Message, Printer

from booking.selectors.owner import public_page_path
from integrations.base import ProviderError
from multical.demo import DEMO_EMAIL, demo_seed, demo_sync, demo_try_me_event
from multical.management.commands.runstack import site_url, stack_manager

RADICALE_USER = "demo"
START_TIMEOUT = 30  # seconds
# Radicale takes the first free port from the one asked for, trying this many.
PORT_TRIES = 20


class StartupPrinter(Printer):
    """Honcho's printer for the demo: the banner comes last, and the workers speak up only when
    something is wrong.

    ``banner`` is printed once the web server, the workers and beat have each said they are up, so
    no start-up output follows it. The workers' and beat's routine log records (DEBUG and INFO in
    Celery's format: task received, task succeeded, due task sent) stay off the terminal; their
    warnings, errors and anything else they print still show. Blank lines, which say nothing
    behind a process's prefix (runserver ends its start-up with one), are left out.
    """

    # What each process prints once it is up: runserver once it listens, the worker once it
    # consumes, beat once its scheduler runs.
    READY = {
        "web": "Quit the server with",
        "worker": " ready.",
        "poller": " ready.",
        "beat": "beat: Starting...",
    }
    ROUTINE = re.compile(r"^\[[^\]]*: (?:DEBUG|INFO)/")

    def __init__(self, banner: str, output: Any = sys.stdout) -> None:
        super().__init__(output=output)
        self._banner = banner
        self._waiting = set(self.READY)

    def write(self, message: Message) -> None:
        data = message.data
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        if message.name in self._waiting and self.READY[message.name] in text:
            self._waiting.discard(message.name)
        routine = message.name in ("worker", "poller", "beat") and self.ROUTINE.match(text)
        if text.strip() and not routine:
            super().write(message)
        if self._banner and not self._waiting:
            print(self._banner, file=self.output, flush=True)
            self._banner = ""


class Command(BaseCommand):
    help = (
        "Start a local Radicale with two sample calendars, connect a demo user to them with one "
        "sync rule, then run the web server, the Celery workers and beat; Ctrl-C stops everything."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "addrport", nargs="?", default="127.0.0.1:8000", help="Where the web server listens."
        )
        parser.add_argument(
            "--radicale-port",
            type=_port,
            default=5232,
            help="Radicale's port on 127.0.0.1 (or the next free one).",
        )
        parser.add_argument(
            "--time-zone",
            default=_local_time_zone(),
            type=_zone_name,
            help="The demo user's time zone when it is first made (default: this machine's).",
        )

    def handle(
        self, *args: Any, addrport: str, radicale_port: int, time_zone: str, **options: Any
    ) -> None:
        if settings.PRODUCTION:
            raise CommandError("The demo is for development only: it opens loopback to sync.")
        if not settings.OUTBOUND_ALLOW_LOOPBACK:
            raise CommandError(
                "The demo's CalDAV server runs on loopback: start it with `make demo`, or set "
                "OUTBOUND_ALLOW_LOOPBACK=true (and SYNC_POLL_INTERVAL_SECONDS=30 for quick polls)."
            )
        address = site_url(addrport)
        # One line per request to the demo's own server would bury what the demo prints.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        folder = Path(settings.VAR_DIR) / "demo-radicale"
        folder.mkdir(parents=True, exist_ok=True)
        password = _demo_password(folder / "users")
        radicale, radicale_url = _start_radicale(folder, radicale_port)
        try:
            world = demo_seed(
                server_url=radicale_url,
                username=RADICALE_USER,
                password=password,
                time_zone=time_zone,
            )
            try:
                demo_sync(world)
            except ProviderError as error:
                self.stderr.write(f"The first sync failed ({error.message}); the worker retries.")
            zone = ZoneInfo(world.user.time_zone)
            try_me = folder / "try-me.ics"
            try_me.write_bytes(demo_try_me_event(today=datetime.now(zone).date(), zone=zone))
            page_url = f"{address}{public_page_path(world.page)}"
            banner = _banner(address, password, radicale_url, try_me, page_url)
            manager = stack_manager(addrport, quiet=True, printer=StartupPrinter(banner))
            manager.loop()
        finally:
            _stop(radicale)
        sys.exit(manager.returncode)


def _banner(address: str, password: str, radicale_url: str, try_me: Path, page_url: str) -> str:
    personal_url = f"{radicale_url}{RADICALE_USER}/personal/"
    return f"""
==============================================================================================
 The Multical demo is up
   Open        {address}/
   Log in as   {DEMO_EMAIL}   password  {password}
   Look at     Calendars: two calendars, Work and Personal, on a local CalDAV server
               Sync rules: one rule, "Personal → Work", Busy only
               The Work calendar now holds Busy blocks for your personal events.
               Booking pages: "Intro call", open to anyone at
               {page_url}
               with weekday times that skip what either calendar holds.

 The calendar server: Radicale at {radicale_url} (user {RADICALE_USER}, password {password}).
 Add an event to Personal with any CalDAV client ({personal_url}), or with
   curl -u {RADICALE_USER}:{password} -T {os.path.relpath(try_me)} {personal_url}try-me.ics
 and a Busy block for it appears in Work within about 30 seconds.

 Ctrl-C stops the web server, the workers, beat and Radicale; `make demo` again reuses it all.
==============================================================================================
"""


def _demo_password(users_file: Path) -> str:
    """The demo's one password (web login and Radicale), kept in Radicale's plain users file."""
    if users_file.exists():
        name, _, password = users_file.read_text().strip().partition(":")
        if name == RADICALE_USER and password:
            return password
    password = secrets.token_urlsafe(9)
    users_file.write_text(f"{RADICALE_USER}:{password}\n")
    users_file.chmod(0o600)
    return password


def _start_radicale(folder: Path, port: int) -> tuple[subprocess.Popen, str]:
    port = _free_port(port)
    url = f"http://127.0.0.1:{port}/"
    command = [
        sys.executable, "-m", "radicale", "--config", "",
        "--server-hosts", f"127.0.0.1:{port}",
        "--auth-type", "htpasswd",
        "--auth-htpasswd-filename", str(folder / "users"),
        "--auth-htpasswd-encryption", "plain",
        "--rights-type", "owner_only",
        "--storage-filesystem-folder", str(folder / "storage"),
        "--logging-level", "warning",
    ]  # fmt: skip
    log_path = folder / "radicale.log"
    with log_path.open("a") as log:
        # Its own session: Ctrl-C reaches honcho, and Radicale is stopped last, after the worker.
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + START_TIMEOUT
    while process.poll() is None and time.monotonic() < deadline:
        try:
            httpx.request("OPTIONS", url, timeout=2)
        except httpx.HTTPError:
            time.sleep(0.2)
            continue
        return process, url
    _stop(process)
    raise CommandError(f"Radicale did not start on {url}; see {log_path}.")


def _free_port(preferred: int) -> int:
    last = min(preferred + PORT_TRIES - 1, 65535)
    for port in range(preferred, last + 1):
        with socket.socket() as probe:
            # As servers do, so a port the last run left in TIME_WAIT counts as free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise CommandError(f"No free port for Radicale in {preferred} to {last}.")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port (1 to 65535)")
    return int(value)


def _zone_name(value: str) -> str:
    if value not in zoneinfo.available_timezones():
        raise argparse.ArgumentTypeError(f"unknown time zone {value!r} (e.g. Europe/Berlin)")
    return value


def _local_time_zone() -> str:
    """This machine's zone (TZ, /etc/timezone, or where /etc/localtime points), else UTC."""
    candidates = [os.environ.get("TZ", "").removeprefix(":")]
    timezone_file, localtime = Path("/etc/timezone"), Path("/etc/localtime")
    if timezone_file.exists():
        candidates.append(timezone_file.read_text().strip())
    if localtime.is_symlink():
        candidates.append(str(localtime.resolve()).partition("zoneinfo/")[2])
    known = zoneinfo.available_timezones()
    return next((name for name in candidates if name in known), "UTC")
