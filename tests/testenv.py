"""Bring up what the test suite needs, run it, and take down what was brought up.

``python -m tests.testenv <command…>`` (what ``make test`` runs) finds PostgreSQL, Redis and
Chromium, then runs the command with DATABASE_URL and REDIS_URL set:

- PostgreSQL and Redis: the servers DATABASE_URL and REDIS_URL name; else those answering at the
  default addresses (``postgres://postgres@127.0.0.1:5432/multical``, ``redis://127.0.0.1:6379/0``;
  MULTICAL_TEST_PROBE_DATABASE_URL and MULTICAL_TEST_PROBE_REDIS_URL look elsewhere); else
  throwaway servers started here on free loopback ports, stopped and deleted when the command ends.
- Chromium: CHROMIUM_PATH, else /usr/bin/chromium (where the browser tests look).

Programs that are missing (the PostgreSQL server, redis-server, Chromium) are installed with
apt-get when this runs as root; otherwise it stops with one line saying what to install.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psycopg
import redis

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/multical"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Debian package → what it provides, and the variable that points the suite at one of your own.
PACKAGES = {
    "postgresql": ("PostgreSQL", "DATABASE_URL"),
    "redis-server": ("Redis", "REDIS_URL"),
    "chromium": ("Chromium", "CHROMIUM_PATH"),
}
# initdb and postgres refuse to run as root: a root run starts them as this user.
UNPRIVILEGED_USER = "nobody"
START_TIMEOUT = 30  # seconds
EXIT_CANNOT_BRING_UP = 3


class CannotBringUp(Exception):
    """The suite cannot run here; the message says what to do."""


class Server(Protocol):
    url: str

    def stop(self) -> None: ...


class Machine(Protocol):
    """What the bring-up asks of the machine (the tests give it a stand-in)."""

    def reachable(self, url: str) -> bool: ...
    def installed(self, package: str) -> bool: ...
    def can_install(self) -> bool: ...
    def install(self, packages: Sequence[str]) -> None: ...
    def start_postgres(self) -> Server: ...
    def start_redis(self) -> Server: ...


@dataclass(frozen=True)
class Plan:
    """The servers the suite will use ("" where a throwaway one is to be started) and the Debian
    packages to install first."""

    database_url: str
    redis_url: str
    packages: tuple[str, ...]


def plan(environ: Mapping[str, str], machine: Machine) -> Plan:
    """Decide what to use and what is missing; servers are probed only when not configured.

    A blank variable (as a copied .env.example leaves it) counts as unset. Raises CannotBringUp
    when CHROMIUM_PATH names no program, since installing Chromium would not change that.
    """
    chromium = environ.get("CHROMIUM_PATH", "").strip()
    if chromium and not shutil.which(chromium):
        raise CannotBringUp(
            f"CHROMIUM_PATH is {chromium}, which is not a program: point it at Chromium, or unset "
            f"it to use {DEFAULT_CHROMIUM}."
        )
    urls = {}
    for variable, probe, default in [
        ("DATABASE_URL", "MULTICAL_TEST_PROBE_DATABASE_URL", DEFAULT_DATABASE_URL),
        ("REDIS_URL", "MULTICAL_TEST_PROBE_REDIS_URL", DEFAULT_REDIS_URL),
    ]:
        configured = environ.get(variable, "").strip()
        candidate = environ.get(probe, "").strip() or default
        urls[variable] = configured or (candidate if machine.reachable(candidate) else "")
    needed = [
        ("postgresql", not urls["DATABASE_URL"]),
        ("redis-server", not urls["REDIS_URL"]),
        ("chromium", True),
    ]
    packages = tuple(package for package, need in needed if need and not machine.installed(package))
    return Plan(urls["DATABASE_URL"], urls["REDIS_URL"], packages)


def what_to_install(packages: Sequence[str]) -> str:
    """One line: what is missing, the command that installs it, and the way around it."""
    names = _and([PACKAGES[package][0] for package in packages])
    variables = _and([PACKAGES[package][1] for package in packages])
    return (
        f"make test needs {names}: as root, run `apt-get install {' '.join(packages)}` "
        f"(or point {variables} at your own)."
    )


@contextmanager
def suite_environment(environ: Mapping[str, str], machine: Machine) -> Iterator[dict[str, str]]:
    """``environ`` with DATABASE_URL and REDIS_URL of servers that answer, for the suite's run.

    Installs what is missing when the machine can (raises CannotBringUp with what_to_install's
    line when it cannot); throwaway servers live until the block ends, however it ends.
    """
    chosen = plan(environ, machine)
    if chosen.packages:
        if not machine.can_install():
            raise CannotBringUp(what_to_install(chosen.packages))
        _say(f"Installing {' '.join(chosen.packages)} (apt-get).")
        machine.install(chosen.packages)
        still_missing = [package for package in chosen.packages if not machine.installed(package)]
        if still_missing:
            raise CannotBringUp(what_to_install(still_missing))
    with ExitStack() as started:
        urls = {"DATABASE_URL": chosen.database_url, "REDIS_URL": chosen.redis_url}
        for variable, name, start in [
            ("DATABASE_URL", "PostgreSQL", machine.start_postgres),
            ("REDIS_URL", "Redis", machine.start_redis),
        ]:
            if not urls[variable]:
                server = start()
                started.callback(server.stop)
                urls[variable] = server.url
                _say(f"No {name} configured or answering: using a throwaway one at {server.url}.")
        yield {**environ, **urls}


def run_suite(command: Sequence[str], env: Mapping[str, str]) -> int:
    """Run ``command`` in ``env`` and return its exit status.

    Ctrl-C reaches the command from the terminal (it is in the same process group), so this
    process waits for it to finish instead of leaving first; a SIGTERM is passed on to it.
    """
    child = subprocess.Popen(command, env=dict(env))
    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, lambda *_: None),
        signal.SIGTERM: signal.signal(signal.SIGTERM, lambda number, _: child.send_signal(number)),
    }
    try:
        return child.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def main(
    argv: Sequence[str], *, environ: Mapping[str, str] = os.environ, machine: Machine | None = None
) -> int:
    """Run the command in ``argv`` with the suite's services up; its exit status, or 3."""
    if not argv:
        _say("usage: python -m tests.testenv <command…> (e.g. python -m pytest -n 2)")
        return 2
    try:
        with suite_environment(environ, machine or LocalMachine(environ)) as env:
            return run_suite(argv, env)
    except CannotBringUp as error:
        _say(str(error))
        return EXIT_CANNOT_BRING_UP


class LocalMachine:
    """This machine: probes with the suite's own clients, Debian's packages and programs."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def reachable(self, url: str) -> bool:
        if url.startswith("redis"):
            try:
                return bool(redis.Redis.from_url(url, socket_connect_timeout=3).ping())
            except redis.RedisError:
                return False
        try:
            psycopg.connect(url, dbname="postgres", connect_timeout=3).close()
        except psycopg.Error:
            return False
        return True

    def installed(self, package: str) -> bool:
        if package == "postgresql":
            return postgres_programs() is not None
        if package == "chromium":
            chromium = self.environ.get("CHROMIUM_PATH", "").strip() or DEFAULT_CHROMIUM
            return shutil.which(chromium) is not None
        return shutil.which(package) is not None

    def can_install(self) -> bool:
        return os.geteuid() == 0 and shutil.which("apt-get") is not None

    def install(self, packages: Sequence[str]) -> None:
        env = {**self.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in [
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        ]:
            if subprocess.run(command, env=env, stdout=subprocess.DEVNULL).returncode:
                raise CannotBringUp(f"`{' '.join(command)}` failed (see above).")

    def start_postgres(self) -> Server:
        programs = postgres_programs()
        if programs is None:
            raise CannotBringUp(what_to_install(["postgresql"]))
        return ThrowawayServer.start(
            "PostgreSQL",
            lambda folder, port: postgres_commands(programs, folder, port),
            url="postgres://postgres@127.0.0.1:{port}/multical",
            ready=self.reachable,
            stop_signal=signal.SIGINT,  # a fast shutdown: clients cut off, nothing kept
        )

    def start_redis(self) -> Server:
        return ThrowawayServer.start(
            "Redis",
            lambda folder, port: [redis_command(folder, port)],
            url="redis://127.0.0.1:{port}/0",
            ready=self.reachable,
            stop_signal=signal.SIGTERM,
        )


def postgres_programs() -> Path | None:
    """The folder holding initdb and postgres: on PATH, or (Debian, which keeps them off PATH)
    /usr/lib/postgresql/<newest version>/bin."""
    found = shutil.which("initdb")
    candidates = [Path(found).resolve().parent] if found else []
    candidates += sorted(
        (path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")),
        key=lambda folder: int(folder.parent.name) if folder.parent.name.isdigit() else 0,
        reverse=True,
    )
    return next((folder for folder in candidates if (folder / "postgres").exists()), None)


def postgres_commands(programs: Path, folder: Path, port: int) -> list[list[str]]:
    """initdb into ``folder``, then a server on 127.0.0.1:``port`` only, trusting local clients
    (nothing else can reach it), without durability: its data lives as long as the run."""
    data = str(folder / "data")
    return [
        [
            str(programs / "initdb"), "--pgdata", data, "--username", "postgres",
            "--auth", "trust", "--encoding", "UTF8", "--locale", "C.UTF-8", "--no-sync",
            "--no-instructions",
        ],
        [
            str(programs / "postgres"), "-D", data, "-p", str(port),
            "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
        ],
    ]  # fmt: skip


def redis_command(folder: Path, port: int) -> list[str]:
    """A Redis on 127.0.0.1:``port`` that writes nothing to disk."""
    return [
        "redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
        "--appendonly", "no", "--dir", str(folder),
    ]  # fmt: skip


def run_as() -> dict[str, Any]:
    """Popen's arguments that drop root for the throwaway servers (initdb refuses root)."""
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(UNPRIVILEGED_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


@dataclass
class ThrowawayServer:
    """A server started for one run, in its own folder and session; ``stop`` removes both."""

    url: str
    process: subprocess.Popen | None
    folder: Path
    stop_signal: signal.Signals

    @classmethod
    def start(
        cls,
        name: str,
        commands: Callable[[Path, int], list[list[str]]],
        *,
        url: str,
        ready: Callable[[str], bool],
        stop_signal: signal.Signals,
    ) -> ThrowawayServer:
        """Run ``commands(folder, port)``, the last one as the server, the others first and to
        the end; return once ``ready(url)`` (``url`` with its ``{port}`` filled in). Raises
        CannotBringUp, with the end of the server's log, when it does not get there."""
        folder = Path(tempfile.mkdtemp(prefix=f"multical-test-{name.lower()}-"))
        user = run_as()
        if user:
            os.chown(folder, user["user"], user["group"])
        port = _free_port()
        server = cls(url.format(port=port), None, folder, stop_signal)
        log_path = folder / "server.log"
        *setup, command = commands(folder, port)
        # Its own session, so Ctrl-C at the terminal reaches the suite and not the server.
        options = {"cwd": folder, "stderr": subprocess.STDOUT, "start_new_session": True, **user}
        try:
            with log_path.open("w") as log:
                for step in setup:
                    subprocess.run(step, stdout=log, check=True, **options)
                server.process = subprocess.Popen(command, stdout=log, **options)
            deadline = time.monotonic() + START_TIMEOUT
            while not ready(server.url):
                if server.process.poll() is not None or time.monotonic() > deadline:
                    raise TimeoutError
                time.sleep(0.2)
        except (subprocess.CalledProcessError, TimeoutError):
            tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
            server.stop()
            raise CannotBringUp(f"The throwaway {name} did not start: {' | '.join(tail)}") from None
        return server

    def stop(self) -> None:
        """Stop the server (forcibly if it will not go) and delete its folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
