"""The shared test world: named users, and checks that the real services are reachable."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from urllib.parse import urlsplit

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection

from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.syncrules.rule_page_helpers import record_enqueues

# Shared fixtures for real protocol peers: CalDAV servers and iCal feeds on loopback.
pytest_plugins = [
    "tests.caldav_servers",
    "tests.ics_feeds",
    "tests.fault_proxy",
    "tests.fakes.google",
    "tests.fakes.microsoft",
    "tests.fakes.zoom",
    "tests.fakes.stripe",
    "tests.fakes.oidc",
]


def pytest_configure(config: pytest.Config) -> None:
    """Stop at once, saying what to start, when PostgreSQL or Redis is not reachable.

    `make test` (tests/testenv.py) starts throwaway servers when none is configured or answering;
    a bare pytest uses what DATABASE_URL and REDIS_URL (or their defaults) name.
    """
    database_url, redis_url = settings.DATABASE_URL, settings.REDIS_URL
    try:
        psycopg.connect(database_url, dbname="postgres", connect_timeout=3).close()
    except psycopg.Error as error:
        pytest.exit(
            f"PostgreSQL is not reachable at {database_url} ({error}).\n"
            "Start it, point DATABASE_URL at one, or run `make test`, which starts a throwaway one "
            "when DATABASE_URL is unset.",
            returncode=3,
        )
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        pytest.exit(
            f"Redis is not reachable at {redis_url} ({error}).\n"
            "Start it, point REDIS_URL at one, or run `make test`, which starts a throwaway one "
            "when REDIS_URL is unset.",
            returncode=3,
        )


@pytest.fixture(autouse=True)
def generous_public_page_budget(settings):
    """Tests reuse the same booking page addresses from 127.0.0.1, and each page's budget per
    address counts across tests for its whole window; the rate-limit tests set their own."""
    settings.BOOKING_PAGE_RATE = "1000000/15m"


@pytest.fixture
def owner(db):
    """The user whose data a test is about."""
    return UserFactory(email="owner@example.com")


@pytest.fixture
def second_user(db):
    """Another customer, with data of their own."""
    return UserFactory(email="second@example.com")


@pytest.fixture
def outsider(db):
    """A signed-in stranger who must never see the owner's data (every tenant view gets a 404 test)."""
    return UserFactory(email="outsider@example.com")


@pytest.fixture
def enqueued(monkeypatch, db):
    """The syncs and clean-ups the code under test sends to the broker (recorded, not sent)."""
    recorder = record_enqueues(monkeypatch)
    yield recorder
    recorder.clean_up()


@pytest.fixture
def owner_client(client, owner):
    client.login(email=owner.email, password=DEFAULT_PASSWORD)
    return client


def start_celery_worker(
    log_path, database_name: str, *, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """A real worker process on ``database_name``, this run's queue and the real Redis broker;
    ``env`` adds to its environment (a provider fake's settings). With an identity relay in
    ``env`` it starts through ``tests.celery_worker``, which lets msal reach the Microsoft fake."""
    database_url = urlsplit(settings.DATABASE_URL)._replace(path=f"/{database_name}").geturl()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url,
        **(env or {}),
    }
    entry = (
        [sys.executable, "-m", "tests.celery_worker"]
        if env.get("MULTICAL_TEST_IDENTITY_RELAY")
        else [sys.executable, "-m", "celery", "--app", "multical", "worker"]
    )
    command = [
        *entry,
        "--pool", "solo", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
        "--queues", ",".join(settings.CELERY_QUEUES_ALL), "--hostname", f"test-{os.getpid()}-{time.time_ns()}@%h",
    ]  # fmt: skip
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while "ready." not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"The Celery worker did not start:\n{log_path.read_text()}")
        time.sleep(0.2)
    return process


def stop_celery_worker(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real worker shared by the tests of this process; tests using it need committed data."""
    with django_db_blocker.unblock():
        database_name = connection.settings_dict["NAME"]
    process = start_celery_worker(tmp_path_factory.mktemp("celery") / "worker.log", database_name)
    yield process
    stop_celery_worker(process)


@pytest.fixture
def run_tasks_inline(monkeypatch, django_capture_on_commit_callbacks):
    """Run the Celery tasks a block of code enqueues, in this process, when it commits.

    For service-level tests; the end-to-end tests run a real worker instead.
    """
    from multical.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    monkeypatch.setitem(app.conf, "task_eager_propagates", True)
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def published():
    """Every Celery message published while the test runs, as text (to search for content)."""
    from celery.signals import before_task_publish

    messages = []

    def record(sender=None, body=None, headers=None, **kwargs):
        messages.append(repr((sender, body, headers)))

    before_task_publish.connect(record, weak=False)
    yield messages
    before_task_publish.disconnect(record)


def pytest_collection_modifyitems(config, items):
    """Tests that fork the test process run first.

    A fork copies only the thread that calls it. Tests that leave threads behind in the process
    (the live server and Playwright's loop of the browser tests, the providers' fakes) can hold a
    lock or a socket at that instant, and the child then waits for ever or loses what it read (a
    sync that wrote 2 blocks of 6; a child stuck on a query whose answer the server had sent).
    Run before them, the forking tests meet a process with no such threads. With pytest-xdist the
    first items are the first each worker is given.
    """
    items.sort(key=lambda item: item.get_closest_marker("forks") is None)
