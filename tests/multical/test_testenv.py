"""`make test` on any machine: what it uses, what it starts and installs, and what it says."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import pytest

from tests import testenv
from tests.testenv import (
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    CannotBringUp,
    main,
    plan,
    suite_environment,
)

THROWAWAY_DATABASE = "postgres://postgres@127.0.0.1:40001/multical"
THROWAWAY_REDIS = "redis://127.0.0.1:40002/0"
EVERYTHING = ("postgresql", "redis-server", "chromium")


class FakeServer:
    def __init__(self, url: str, machine: FakeMachine) -> None:
        self.url = url
        self.machine = machine

    def stop(self) -> None:
        self.machine.stopped.append(self.url)


class FakeMachine:
    """A machine where the servers at ``answering`` answer and ``installed`` packages are."""

    def __init__(self, *, answering=(), installed=EVERYTHING, root_with_apt=False) -> None:
        self.answering = set(answering)
        self.packages = set(installed)
        self.root_with_apt = root_with_apt
        self.probed: list[str] = []
        self.installs: list[tuple[str, ...]] = []
        self.started: list[str] = []
        self.stopped: list[str] = []

    def reachable(self, url: str) -> bool:
        self.probed.append(url)
        return url in self.answering

    def installed(self, package: str) -> bool:
        return package in self.packages

    def can_install(self) -> bool:
        return self.root_with_apt

    def install(self, packages: Sequence[str]) -> None:
        self.installs.append(tuple(packages))
        self.packages |= set(packages)

    def start_postgres(self) -> FakeServer:
        self.started.append(THROWAWAY_DATABASE)
        return FakeServer(THROWAWAY_DATABASE, self)

    def start_redis(self) -> FakeServer:
        self.started.append(THROWAWAY_REDIS)
        return FakeServer(THROWAWAY_REDIS, self)


def test_the_servers_the_environment_names_are_used_without_probing_the_defaults():
    machine = FakeMachine(answering=[DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL])
    environ = {"DATABASE_URL": "postgres://me@db.test/x", "REDIS_URL": "redis://cache.test/1"}

    with suite_environment(environ, machine) as env:
        assert (env["DATABASE_URL"], env["REDIS_URL"]) == (
            "postgres://me@db.test/x",
            "redis://cache.test/1",
        )
    assert machine.probed == []
    assert machine.started == []


def test_servers_answering_at_the_default_addresses_are_used():
    machine = FakeMachine(answering=[DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL])

    with suite_environment({}, machine) as env:
        assert (env["DATABASE_URL"], env["REDIS_URL"]) == (DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL)
    assert machine.started == []


def test_with_nothing_configured_or_answering_throwaway_servers_run_the_suite_and_are_stopped():
    machine = FakeMachine()

    with suite_environment({"PATH": "/usr/bin"}, machine) as env:
        assert env == {
            "PATH": "/usr/bin",
            "DATABASE_URL": THROWAWAY_DATABASE,
            "REDIS_URL": THROWAWAY_REDIS,
        }
        assert machine.stopped == []
    assert sorted(machine.stopped) == sorted([THROWAWAY_DATABASE, THROWAWAY_REDIS])


def test_the_throwaway_servers_are_stopped_when_the_suite_breaks_off():
    machine = FakeMachine()

    with pytest.raises(KeyboardInterrupt), suite_environment({}, machine):
        raise KeyboardInterrupt

    assert len(machine.stopped) == 2


def test_blank_urls_as_a_copied_env_example_leaves_them_count_as_unset():
    machine = FakeMachine(answering=[DEFAULT_REDIS_URL])

    chosen = plan({"DATABASE_URL": "", "REDIS_URL": "  "}, machine)

    assert (chosen.database_url, chosen.redis_url) == ("", DEFAULT_REDIS_URL)


def test_the_addresses_probed_can_be_moved_off_the_defaults():
    machine = FakeMachine(answering=[DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL])
    environ = {
        "MULTICAL_TEST_PROBE_DATABASE_URL": "postgres://postgres@127.0.0.1:1/multical",
        "MULTICAL_TEST_PROBE_REDIS_URL": "redis://127.0.0.1:1/0",
    }

    chosen = plan(environ, machine)

    assert machine.probed == ["postgres://postgres@127.0.0.1:1/multical", "redis://127.0.0.1:1/0"]
    assert (chosen.database_url, chosen.redis_url) == ("", "")


def test_only_the_programs_for_servers_to_start_are_needed():
    machine = FakeMachine(answering=[DEFAULT_DATABASE_URL], installed=["chromium"])

    assert plan({}, machine).packages == ("redis-server",)
    assert plan({"REDIS_URL": "redis://cache.test/0"}, machine).packages == ()


def test_as_root_with_apt_what_is_missing_is_installed_before_servers_start():
    machine = FakeMachine(installed=[], root_with_apt=True)

    with suite_environment({}, machine) as env:
        assert env["DATABASE_URL"] == THROWAWAY_DATABASE

    assert machine.installs == [EVERYTHING]


def test_without_root_the_run_stops_with_one_line_saying_exactly_what_to_install():
    machine = FakeMachine(answering=[DEFAULT_DATABASE_URL], installed=["postgresql"])

    with pytest.raises(CannotBringUp) as refusal, suite_environment({}, machine):
        pytest.fail("the suite ran")

    assert str(refusal.value) == (
        "make test needs Redis and Chromium: as root, run `apt-get install redis-server chromium` "
        "(or point REDIS_URL and CHROMIUM_PATH at your own)."
    )
    assert machine.installs == [] and machine.started == []


def test_a_chromium_path_that_is_no_program_is_said_so(tmp_path):
    with pytest.raises(CannotBringUp, match=r"CHROMIUM_PATH is .*not a program"):
        plan({"CHROMIUM_PATH": str(tmp_path / "nothing")}, FakeMachine())


def test_the_command_runs_with_the_servers_and_its_exit_status_is_returned():
    machine = FakeMachine()
    check = (
        "import os, sys; "
        f"sys.exit(7 if os.environ['DATABASE_URL'] == {THROWAWAY_DATABASE!r} "
        f"and os.environ['REDIS_URL'] == {THROWAWAY_REDIS!r} else 1)"
    )

    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}

    status = main([sys.executable, "-c", check], environ=environ, machine=machine)

    assert status == 7
    assert len(machine.stopped) == 2


def test_when_nothing_can_be_brought_up_the_command_does_not_run(capsys, tmp_path):
    marker = tmp_path / "ran"
    machine = FakeMachine(installed=[])

    status = main(
        [sys.executable, "-c", f"open({str(marker)!r}, 'w')"], environ={}, machine=machine
    )

    assert status == testenv.EXIT_CANNOT_BRING_UP
    assert not marker.exists()
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_a_root_run_starts_the_servers_as_an_unprivileged_user(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)

    options = testenv.run_as()

    assert options["user"] != 0 and options["group"] != 0 and options["extra_groups"] == []


def test_the_throwaway_postgres_listens_on_loopback_only_and_keeps_nothing(tmp_path):
    initdb, server = testenv.postgres_commands(tmp_path / "bin", tmp_path, 40001)

    assert "--auth" in initdb and initdb[initdb.index("--auth") + 1] == "trust"
    assert "listen_addresses=127.0.0.1" in server and "unix_socket_directories=" in server
    assert "fsync=off" in server
    assert server[server.index("-p") + 1] == "40001"
