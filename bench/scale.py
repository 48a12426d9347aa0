"""Operators at scale: 5,000 users with 20,000 calendars on the real stack, measured from outside.

    .venv/bin/python bench/scale.py                       # 5,000 users, 20,000 calendars, 2 workers
    .venv/bin/python bench/scale.py --users 500 --calendars 2000 --interval 30 --intervals 2
    .venv/bin/python bench/scale.py --compare             # --workers 1, then 2, and the ratio
    .venv/bin/python bench/scale.py --beats 2             # two beats at once: any duplicate work?
    .venv/bin/python bench/scale.py --urgent-workers 1    # + a worker for the default queue alone

What runs (all stopped, and the database dropped, at the end, on Ctrl-C or on an error):
- a throwaway PostgreSQL database ``multical_scale_<pid>``, seeded with bulk inserts: the users,
  their calendars (45 % CalDAV, 35 % iCal links, 10 % Google, 10 % Microsoft), their connections
  with credentials sealed as the project seals them, 1 to 4 rules per user among their own calendars
  (blocks go into CalDAV and Google calendars), a SyncState and cursor per calendar as after one
  sync (a ctag and sync token for CalDAV, an ETag and Last-Modified for iCal links), and live push
  channels on the Google and Microsoft calendars (so they are not polled);
- one asyncio process serving every CalDAV collection and iCal link (``bench/scale_server.py``),
  where ``--changing`` of them change each interval, spread evenly; it logs every request;
- the fakes of Google's API and of Microsoft's identity platform and Graph (``tests/fakes/``),
  and an SMTP sink, in this process (the workers' msal reaches the identity fake through
  ``tests.fakes.microsoft.IdentityRelay``);
- a Redis server of its own (so that its command counts are the stack's alone), gunicorn serving
  the project (3 workers, as the Dockerfile), ``--beats`` Celery beats, and ``--workers`` Celery
  worker processes (``-c 1`` each, prefork, consuming ``multical,multical.poll,multical.bulk``)
  running ``bench/scale_worker.py``: the project's app, counting queries and CPU per task
  (``--urgent-workers`` more consume the default queue alone, as an operator separating urgent
  work from polling would run them).
  ``SYNC_POLL_INTERVAL_SECONDS`` is ``--interval``.

From the first poll on it measures ``--intervals`` intervals while two probes run: a change at the
Google fake or the Microsoft fake, in turn, plus its push notification every few seconds (time
until the block is in the target, a Google calendar), and a booking on a public page through HTTP
every few seconds (time until the attendee's confirmation reaches the SMTP sink). Then it prints:
- polls per interval and per second, per worker process; the share of polled calendars polled
  in each interval; polls of a calendar within half an interval of its last (duplicate work);
- our CPU per poll: the worker processes' CPU time (``/proc``, Celery included) over the polls
  served, and the CPU of an idle calendar's tasks alone (target <= 5 ms per idle poll); when
  the workers cannot keep up, the hand-out ticks' share is of far more calendars than were served;
- queries per idle poll (target <= 3), and Redis round trips per poll (``INFO commandstats``);
- worker CPU and queries of a poll that finds changes, beyond an idle poll's;
- the spread of polls over the interval: busiest second against the average (target <= 2x);
- push change -> block p95 during the storm, per provider (target <= 2 s), booking e-mail p95
  (target <= 5 s);
- with ``--compare``: the poll rate of 2 worker processes over 1 (target >= 1.8x).
A poll is what the server sees of one: a PROPFIND of a collection's ctag, a GET of a link, or
another read of a polled calendar's state after none for a few seconds (``scale_server``). An
idle poll is one of a calendar the simulation did not change and no block was written into.
Every figure comes from outside the code it measures (server log, ``/proc``, Redis, the task
records), so it stays valid as polling and queues change. The machine's load average is printed:
on a shared machine the rates say as much about the neighbours as about the stack.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import free_port, throwaway_database, wait_for  # noqa: E402
from bench.scale_server import feed_validators, smtp_sink, sync_token  # noqa: E402

KINDS = {"caldav": 0.45, "ics": 0.35, "google": 0.10, "microsoft": 0.10}
WRITABLE = ("caldav", "google")  # where blocks go (see the module docstring on Microsoft)
PUSH_PROBES = 8  # source/target pairs of the push probe, of each provider with push
PUSH_EVERY = 3.0  # seconds between push probes
PUSHED = ("google", "microsoft")  # the providers whose push the probe measures, in turn
BOOK_EVERY = 5.0  # seconds between bookings
PROBE_PATIENCE = 120.0  # seconds a probe waits before it counts as lost
BATCH = 2000
TARGETS = {
    "cpu_ms": 5.0,
    "queries": 3.0,
    "ratio": 1.8,
    "spread": 2.0,
    "push_p95": 2.0,
    "email_p95": 5.0,
}


@dataclass
class Population:
    """What the seeding made that the run needs: the polled resources, and where the probes go."""

    polled_paths: dict[str, str] = field(default_factory=dict)  # calendar id → server path
    counts: Counter[str] = field(default_factory=Counter)
    rules: int = 0
    # provider, channel, source, target (a Google calendar, where the probe counts the blocks)
    probe_pairs: list[tuple[str, str, str, str]] = field(default_factory=list)
    booking_path: str = ""
    dav_base: str = ""  # the simulated servers' address


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--calendars", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes, -c 1 each")
    parser.add_argument(
        "--urgent-workers",
        type=int,
        default=0,
        help="more worker processes consuming the default queue alone (push, bookings)",
    )
    parser.add_argument("--beats", type=int, default=1, choices=(1, 2))
    parser.add_argument("--interval", type=int, default=60, help="SYNC_POLL_INTERVAL_SECONDS")
    parser.add_argument("--intervals", type=int, default=3, help="intervals measured")
    parser.add_argument("--changing", type=float, default=0.01, help="share changed per interval")
    parser.add_argument("--compare", action="store_true", help="run --workers 1 and 2: the ratio")
    parser.add_argument("--logs", help="keep the processes' logs and records in this folder")
    parser.add_argument("--figures-out", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    # Stopped from outside, it stops its stack and drops its database as on Ctrl-C.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    if arguments.compare:
        return _compare(arguments)
    figures = _run(arguments)
    if arguments.figures_out:
        Path(arguments.figures_out).write_text(json.dumps(figures))
    return 0


def _exit_on_signal(number: int, frame: object) -> None:
    raise SystemExit(128 + number)


def _compare(arguments: argparse.Namespace) -> int:
    """Each run in a process of its own (Django is set up once per process)."""
    runs = {}
    with tempfile.TemporaryDirectory(prefix="scale-compare-") as folder:
        for workers in (1, 2):
            out = Path(folder) / f"figures-{workers}.json"
            command = [sys.executable, __file__, *_passed_on(arguments), "--workers", str(workers)]
            print(f"=== --workers {workers} ===", flush=True)
            subprocess.run([*command, "--figures-out", str(out)], check=True)
            runs[workers] = json.loads(out.read_text())
    rates = {workers: figures["polls_per_second"] for workers, figures in runs.items()}
    ratio = rates[2] / rates[1] if rates[1] else 0.0
    verdict = _verdict(ratio >= TARGETS["ratio"])
    print(f"=== poll rate, 2 worker processes over 1: {rates[2]:.1f} / {rates[1]:.1f} polls/s")
    print(f"    = {ratio:.2f}x (target >= {TARGETS['ratio']}x: {verdict})")
    # What the CPU allows: each run's polls per second of its workers' CPU. Flat means a second
    # worker adds a first one's worth wherever a core is free for it; the load average says
    # whether one was.
    served = {
        workers: figures["polls"] / max(figures["cpu_seconds"]["workers"], 1e-9)
        for workers, figures in runs.items()
    }
    print(
        f"    polls per second of worker CPU: {served[1]:.0f} with one, {served[2]:.0f} with two "
        f"({served[2] / served[1]:.2f}); load average {runs[1]['load']:.1f} and "
        f"{runs[2]['load']:.1f} on {os.cpu_count()} cores"
    )
    return 0


def _passed_on(arguments: argparse.Namespace) -> list[str]:
    names = ("users", "calendars", "beats", "interval", "intervals", "changing")
    return [item for name in names for item in (f"--{name}", str(getattr(arguments, name)))]


# The run ------------------------------------------------------------------------------------------


def _run(arguments: argparse.Namespace) -> dict[str, Any]:
    from tests.fakes.google import running_google_fake
    from tests.fakes.microsoft import IdentityRelay, MicrosoftFake

    with ExitStack() as stack:
        if arguments.logs:
            folder = Path(arguments.logs)
            folder.mkdir(parents=True, exist_ok=True)
        else:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="scale-")))
        redis_url = stack.enter_context(_private_redis(folder))
        sink = stack.enter_context(smtp_sink())
        fake = stack.enter_context(running_google_fake())
        microsoft = MicrosoftFake()
        microsoft.start()
        stack.callback(microsoft.stop)
        relay = IdentityRelay(microsoft.identity)
        stack.callback(relay.stop)
        dav_port, web_port = free_port(), free_port()
        site = f"http://127.0.0.1:{web_port}"
        env = _environment(arguments, redis_url, site, sink.server_address[1], fake, folder)
        env |= _microsoft_settings(microsoft, relay)
        os.environ.update(env)
        name = f"multical_scale_{os.getpid()}"
        stack.enter_context(throwaway_database(settings_module="bench.scale_settings", name=name))
        from django.db import connection

        database = connection.settings_dict
        env["DATABASE_URL"] = (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
        )
        started = time.monotonic()
        population = _seed(arguments, fake, f"http://127.0.0.1:{dav_port}")
        print(_seed_line(arguments, population, time.monotonic() - started), flush=True)
        resources = folder / "resources.json"
        resources.write_text(json.dumps(sorted(set(population.polled_paths.values()))))
        report = folder / "server-report.json"
        processes = stack.enter_context(_Processes(folder, {**os.environ, **env}))
        server = processes.start(
            "server",
            [sys.executable, "-m", "bench.scale_server", "--port", str(dav_port),
             "--resources", str(resources), "--report", str(report),
             "--interval", str(arguments.interval), "--changing", str(arguments.changing)],
        )  # fmt: skip
        wait_for(f"http://127.0.0.1:{dav_port}/_bench/state")
        processes.start(
            "web",
            [sys.executable, "-m", "gunicorn", "multical.wsgi", "--bind", f"127.0.0.1:{web_port}",
             "--workers", "3", "--log-level", "warning"],
        )  # fmt: skip
        wait_for(f"{site}/health/")
        _probe_setup(population, fake, microsoft, site)
        queues, celery = _start_celery(processes, arguments, folder)
        sampler = _Sampler(redis_url, queues, celery, processes.pid("web"), server)
        stack.enter_context(sampler.running())
        first_poll = _wait_for_first_poll(dav_port, arguments.interval + 180)
        end = first_poll + arguments.intervals * arguments.interval
        print(f"first poll {first_poll - sampler.began:.1f} s after Celery started", flush=True)
        probes = _Probes(fake, microsoft, population, site, sink)
        with probes.running(until=end):
            _wait_until(end, arguments.interval, first_poll, dav_port)
        probes.await_emails(PROBE_PATIENCE)
        processes.stop_all(but=("server",))
        log = processes.stop_server(report)
        records = _task_records(folder)
        figures = _figures(
            arguments, population, log, records, sampler, probes, first_poll, end, sink
        )
        _print(arguments, figures)
        return figures


def _environment(
    arguments: argparse.Namespace,
    redis_url: str,
    site: str,
    smtp_port: int,
    fake: Any,
    folder: Path,
) -> dict[str, str]:
    """What this process and the stack's read their settings from (``bench.scale_settings``)."""
    from tests.fakes.google import google_settings

    return {
        "DJANGO_SETTINGS_MODULE": "bench.scale_settings",
        "MULTICAL_ENV": "development",
        "DEBUG": "0",
        "DATABASE_URL": os.environ.get(
            "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/multical_scale"
        ),
        "REDIS_URL": redis_url,
        "SITE_URL": site,
        "SCALE_SMTP_PORT": str(smtp_port),
        "SCALE_STATS_DIR": str(folder),
        "SYNC_POLL_INTERVAL_SECONDS": str(arguments.interval),
        "LOG_LEVEL": "WARNING",
        # Every request comes from 127.0.0.1: no limit may be what the figures measure.
        "RATE_LIMIT_DEFAULT": "1000000/m",
        "BOOKING_BROWSE_RATE": "1000000/m",
        "BOOKING_PAGE_RATE": "1000000/m",
        "BOOKING_SUBMIT_RATE": "1000000/m",
        **google_settings(fake),
    }


def _start_celery(
    processes: _Processes, arguments: argparse.Namespace, folder: Path
) -> tuple[list[str], dict[str, list[int]]]:
    """The workers and beats; the queues they serve, and their process ids by group."""
    from django.conf import settings

    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    queues = [queue, f"{queue}.poll", f"{queue}.bulk"]

    def worker(name: str, consumed: list[str]) -> int:
        return processes.start(
            name,
            [sys.executable, "-m", "celery", "--app", "bench.scale_worker", "worker",
             "--concurrency", "1", "--queues", ",".join(consumed), "--loglevel", "INFO",
             "--hostname", f"{name}@%h"],
        )  # fmt: skip

    def beat(name: str) -> int:
        return processes.start(
            name,
            [sys.executable, "-m", "celery", "--app", "multical", "beat", "--loglevel", "INFO",
             "--schedule", str(folder / f"{name}-schedule")],
        )  # fmt: skip

    return queues, {
        "workers": [worker(f"worker-{n}", queues) for n in range(arguments.workers)],
        "urgent": [worker(f"urgent-{n}", [queue]) for n in range(arguments.urgent_workers)],
        "beats": [beat(f"beat-{n}") for n in range(arguments.beats)],
    }


def _seed_line(arguments: argparse.Namespace, population: Population, seconds: float) -> str:
    kinds = ", ".join(f"{population.counts[kind]:,} {kind}" for kind in KINDS)
    return (
        f"seeded {arguments.users:,} users, {sum(population.counts.values()):,} calendars ({kinds}), "
        f"{population.rules:,} rules; {len(population.polled_paths):,} calendars polled; "
        f"{seconds:.1f} s"
    )


# Seeding ------------------------------------------------------------------------------------------


def _seed(arguments: argparse.Namespace, fake: Any, server: str) -> Population:
    """Bulk inserts of the whole population (see the module docstring)."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from accounts.models import User
    from calendars.models import Calendar, Connection
    from multical.lib import vault
    from syncrules.models import SyncRule, SyncState

    rng = random.Random(18)
    now = timezone.now()
    population = Population(dav_base=server)
    unusable = make_password(None)
    users = [
        User(email=f"user{number}@scale.example", password=unusable, date_joined=now)
        for number in range(arguments.users)
    ]
    User.objects.bulk_create(users, batch_size=BATCH)
    owners = list(range(arguments.users)) + [
        rng.randrange(arguments.users) for _ in range(arguments.calendars - arguments.users)
    ]
    kinds = rng.choices(list(KINDS), weights=list(KINDS.values()), k=len(owners))
    connections: list[Connection] = []
    shared: dict[tuple[int, str], Connection] = {}
    calendars: list[tuple[int, str, Calendar]] = []
    paths: dict[str, str] = {}  # calendar id → its path at the simulated server (polled kinds)
    for number, (owner, kind) in enumerate(zip(owners, kinds, strict=True)):
        user = users[owner]
        key = (owner, kind)
        if kind == "ics" or key not in shared:
            connection = Connection(user=user, kind=kind, label=f"{kind} {number}")
            secrets = _secrets(connection, kind, number, owner, fake, server)
            connection.secrets = vault.seal_json(
                secrets, context=vault.context_for(connection, "secrets")
            )
            connections.append(connection)
            shared[key] = connection
        calendar = _calendar(shared[key], kind, number, owner, server, now)
        if kind == "caldav":
            paths[str(calendar.id)] = f"/dav/u{owner}/c{number}/"
        elif kind == "ics":
            paths[str(calendar.id)] = f"/ics/{number}.ics"
        if kind == "google":
            fake.add_calendar(calendar.remote_id, calendar.name)
        calendars.append((owner, kind, calendar))
        population.counts[kind] += 1
    Connection.objects.bulk_create(connections, batch_size=BATCH)
    Calendar.objects.bulk_create([c for _, _, c in calendars], batch_size=BATCH)
    SyncState.objects.bulk_create(
        [
            SyncState(
                calendar=calendar,
                requested=1,
                served=1,
                full_requested=1,
                full_served=1,
                started_at=now,
                finished_at=now,
            )
            for _, _, calendar in calendars
        ],
        batch_size=BATCH,
    )
    by_owner: dict[int, list[tuple[str, Calendar]]] = defaultdict(list)
    for owner, kind, calendar in calendars:
        by_owner[owner].append((kind, calendar))
    rules, sources, targets = [], [], []
    for owner, owned in by_owner.items():
        for rule_sources, target in _rules_of(rng, owned):
            rule = SyncRule(user=users[owner], name="Scale rule", created_at=now)
            rules.append(rule)
            sources += [SyncRule.sources.through(syncrule=rule, calendar=c) for c in rule_sources]
            targets.append(SyncRule.targets.through(syncrule=rule, calendar=target))
            for calendar in rule_sources:
                if str(calendar.id) in paths:
                    population.polled_paths[str(calendar.id)] = paths[str(calendar.id)]
    SyncRule.objects.bulk_create(rules, batch_size=BATCH)
    SyncRule.sources.through.objects.bulk_create(sources, batch_size=BATCH)
    SyncRule.targets.through.objects.bulk_create(targets, batch_size=BATCH)
    population.rules = len(rules)
    return population


def _secrets(connection: Any, kind: str, number: int, owner: int, fake: Any, server: str) -> dict:
    if kind == "caldav":
        connection.server_url = f"{server}/dav/u{owner}/"
        connection.username = f"user{owner}"
        return {"password": f"app-password-{owner}"}
    if kind == "ics":
        return {"url": f"{server}/ics/{number}.ics"}
    if kind == "google":
        return fake.grant()
    # Never read in the run: a plausible shape only.
    return {"token_cache": "{}", "home_account_id": f"{owner}.scale", "email": f"u{owner}@scale"}


def _calendar(
    connection: Any, kind: str, number: int, owner: int, server: str, now: datetime
) -> Any:
    from calendars.models import Calendar

    calendar = Calendar(connection=connection, name=f"{kind} {number}", last_synced_at=now)
    if kind == "caldav":
        calendar.remote_id = f"{server}/dav/u{owner}/c{number}/"
        calendar.sync_cursor = json.dumps({"ctag": "1", "sync_token": sync_token(1)})
    elif kind == "ics":
        calendar.remote_id = "feed"
        etag, modified = feed_validators(1)
        calendar.sync_cursor = json.dumps(
            {"body_sha256": "", "etag": etag, "last_modified": modified}, sort_keys=True
        )
    else:
        calendar.remote_id = f"{kind}-{number}@scale.example"
        calendar.push_channel_id = str(uuid.uuid4())
        calendar.push_resource_id = f"resource-{number}"
        calendar.push_expires_at = now + timedelta(days=2 if kind == "microsoft" else 6)
    return calendar


def _rules_of(rng: random.Random, owned: list[tuple[str, Any]]) -> Iterator[tuple[list[Any], Any]]:
    """1 to 4 rules among one user's calendars, each copying a share of them into one of the
    writable ones (a user without one has no rule: blocks could go nowhere)."""
    writable = [calendar for kind, calendar in owned if kind in WRITABLE]
    if not writable:
        return
    count = min(rng.randint(1, 4), len(owned))
    shuffled = owned[:]
    rng.shuffle(shuffled)
    for number in range(count):
        target = rng.choice(writable)
        rule_sources = [
            calendar for _, calendar in shuffled[number::count] if calendar is not target
        ]
        if rule_sources:
            yield rule_sources, target


def _outlook_calendar(user: Any, microsoft: Any, email: str) -> Any:
    """A Microsoft account's default calendar at the fake, connected as the project connects it."""
    from calendars.models import Calendar, Connection
    from multical.lib import vault

    account = microsoft.connect(email)
    connection = Connection(user=user, kind=Connection.Kind.MICROSOFT, label=email)
    connection.secrets = vault.seal_json(
        account.secrets, context=vault.context_for(connection, "secrets")
    )
    connection.save()
    return Calendar.objects.create(
        connection=connection, remote_id=account.default_calendar, name="source"
    )


def _microsoft_settings(microsoft: Any, relay: Any) -> dict[str, str]:
    """Where the stack finds the Microsoft fake; a worker's msal reaches its identity platform
    through ``relay`` (``bench/scale_worker.py``), this process's through the fake object."""
    from integrations.microsoft import credentials

    credentials.identity_http_client = lambda: microsoft.identity
    return {
        "MICROSOFT_AUTHORITY": microsoft.authority,
        "MICROSOFT_GRAPH_URL": microsoft.graph_url,
        "MICROSOFT_CLIENT_ID": microsoft.identity.client_id,
        "MICROSOFT_CLIENT_SECRET": microsoft.identity.client_secret,
        "MULTICAL_TEST_IDENTITY_RELAY": relay.url,
    }


def _probe_setup(population: Population, fake: Any, microsoft: Any, site: str) -> None:
    """The push probe's calendars, a Google and a Microsoft source for each Google target
    (watched through the running web, synced once), and the booking page's host."""
    from accounts.models import User
    from booking.models import BookingPage, Profile
    from calendars.models import Calendar, Connection
    from calendars.push import calendar_watch
    from multical.lib import vault
    from syncrules import engine
    from syncrules.models import SyncRule

    user = User.objects.create_user(email="push-probe@scale.example", password=None)
    google = Connection(user=user, kind=Connection.Kind.GOOGLE, label="probe")
    google.secrets = vault.seal_json(fake.grant(), context=vault.context_for(google, "secrets"))
    google.save()
    for provider in ("google", "microsoft"):
        for number in range(PUSH_PROBES):
            remote_id = f"probe-{provider}-{number}@scale.example"
            fake.add_calendar(remote_id, remote_id)
            target = Calendar.objects.create(connection=google, remote_id=remote_id, name="target")
            if provider == "google":
                remote_id = f"probe-source-{number}@scale.example"
                fake.add_calendar(remote_id, remote_id)
                source = Calendar.objects.create(
                    connection=google, remote_id=remote_id, name="source"
                )
            else:
                source = _outlook_calendar(user, microsoft, f"probe-{number}@contoso.example")
            rule = SyncRule.objects.create(user=user, name=f"Probe {provider} {number}")
            rule.sources.add(source)
            rule.targets.add(target)
            calendar_watch(source)
            source.refresh_from_db()
            engine.sync_source_calendar(
                Calendar.objects.select_related("connection__user").get(id=source.id)
            )
            # Google's notifications name the channel; Graph's, the subscription.
            channel = source.push_channel_id if provider == "google" else source.push_resource_id
            population.probe_pairs.append((provider, channel, source.remote_id, target.remote_id))

    host = User.objects.create_user(email="booking-host@scale.example", password=None)
    dav = Connection(
        user=host,
        kind=Connection.Kind.CALDAV,
        label="host",
        server_url=f"{population.dav_base}/dav/host/",
        username="host",
    )
    dav.secrets = vault.seal_json({"password": "host"}, context=vault.context_for(dav, "secrets"))
    dav.save()
    work = Calendar.objects.create(
        connection=dav, remote_id=f"{population.dav_base}/dav/host/work/", name="work"
    )
    Profile.objects.create(user=host, handle="scale-host", display_name="Scale Host")
    page = BookingPage.objects.create(
        owner=host, title="Intro call", slug="intro", listed=True, durations=[30],
        time_zone="UTC", weekly_hours={str(day): [[0, 1440]] for day in range(1, 8)},
        minimum_notice=0, write_calendar=work,
    )  # fmt: skip
    page.busy_calendars.add(work)
    population.booking_path = f"{site}/book/scale-host/{page.public_slug}/"


# The stack ----------------------------------------------------------------------------------------


@contextmanager
def _private_redis(folder: Path) -> Iterator[str]:
    """A Redis server of the run's own on a free port: its command counts are the stack's."""
    port = free_port()
    process = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        import redis

        client = redis.Redis(port=port)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=20)


class _Processes:
    """The stack's processes, each in a session of its own (Ctrl-C reaches only this one, which
    stops them in order), with their output in the run's folder."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self._folder, self._env = folder, env
        self._running: dict[str, subprocess.Popen[bytes]] = {}

    def __enter__(self) -> _Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def start(self, name: str, command: list[str]) -> int:
        with (self._folder / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                command, cwd=ROOT, env=self._env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self._running[name] = process
        return process.pid

    def pid(self, name: str) -> int:
        return self._running[name].pid

    def stop_all(self, but: tuple[str, ...] = ()) -> None:
        """Beats first (no new work), then workers (each ends its task), then the rest."""
        order = sorted(self._running, key=lambda name: ("beat" not in name, "worker" not in name))
        names = [name for name in order if name not in but]
        for name in names:
            if self._running[name].poll() is None:
                self._running[name].send_signal(signal.SIGTERM)
        for name in names:
            process = self._running.pop(name)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # its own session: its pool children too
                process.wait(timeout=10)

    def stop_server(self, report: Path) -> dict[str, Any]:
        self.stop_all(but=tuple(name for name in self._running if name != "server"))
        loaded: dict[str, Any] = json.loads(report.read_text())
        return loaded


def _wait_for_first_poll(port: int, seconds: float) -> float:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        first = _server_state(port)["first_poll"]
        if first is not None:
            return float(first)
        time.sleep(0.5)
    raise RuntimeError(f"no calendar was polled within {seconds:.0f} s")


def _server_state(port: int) -> dict[str, Any]:
    import httpx

    state: dict[str, Any] = httpx.get(f"http://127.0.0.1:{port}/_bench/state", timeout=10).json()
    return state


def _wait_until(end: float, interval: int, first_poll: float, port: int) -> None:
    number = 0
    while (now := time.time()) < end:
        time.sleep(min(interval, end - now, max(first_poll + (number + 1) * interval - now, 0.1)))
        if time.time() >= first_poll + (number + 1) * interval - 0.5:
            number += 1
            requests = _server_state(port)["requests"]
            print(
                f"  interval {number} over: {requests:,} requests at the server so far", flush=True
            )


class _Sampler:
    """Once a second: the CPU time of each group of processes (``/proc``, children included),
    Redis's command counts and the queues' lengths."""

    def __init__(
        self,
        redis_url: str,
        queues: list[str],
        celery: dict[str, list[int]],
        web: int,
        server: int,
    ) -> None:
        """``celery``: the process ids of each group of Celery processes."""
        import redis

        self._redis = redis.Redis.from_url(redis_url)
        self._queues = queues
        groups = {**celery, "web": [web], "server": [server]}
        self._groups = {name: pids for name, pids in groups.items() if pids}
        self.samples: list[dict[str, Any]] = []
        self.began = time.time()
        self._stop = threading.Event()

    @contextmanager
    def running(self) -> Iterator[None]:
        thread = threading.Thread(target=self._loop, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            stats = self._redis.info("commandstats")
            calls = {name[len("cmdstat_") :]: value["calls"] for name, value in stats.items()}
            self.samples.append(
                {
                    "time": time.time(),
                    "cpu": _cpu_seconds(self._groups),
                    "redis": calls,
                    "queued": {queue: self._redis.llen(queue) for queue in self._queues},
                    "load": os.getloadavg()[0],
                }
            )

    def at(self, moment: float) -> dict[str, Any]:
        """The sample nearest ``moment``."""
        return min(self.samples, key=lambda sample: abs(sample["time"] - moment))


def _cpu_seconds(groups: dict[str, list[int]]) -> dict[str, float]:
    """User plus system CPU seconds of each group's processes and their live descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    totals = {}
    for name, roots in groups.items():
        members = set(roots)
        grew = True
        while grew:
            found = {pid for pid, parent in parents.items() if parent in members} - members
            grew = bool(found)
            members |= found
        totals[name] = sum(used.get(pid, 0.0) for pid in members)
    return totals


# The probes ---------------------------------------------------------------------------------------


class _Probes:
    """A push notification after a change at Google or at Microsoft, in turn, and a booking
    through the public page, at a steady pace; what each waited for."""

    def __init__(
        self, fake: Any, microsoft: Any, population: Population, site: str, sink: Any
    ) -> None:
        self._fake, self._microsoft = fake, microsoft
        self._population, self._site, self._sink = population, site, sink
        self.push_delays: dict[str, list[float | None]] = {provider: [] for provider in PUSHED}
        self.push_skipped = 0  # probe moments when every pair still waited for its block
        self.bookings: list[tuple[str, float, int]] = []  # address, sent at, status
        self._free = list(range(len(population.probe_pairs)))
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    @contextmanager
    def running(self, *, until: float) -> Iterator[None]:
        pacers = [
            threading.Thread(target=self._pace, args=(PUSH_EVERY, self._push, until), daemon=True),
            threading.Thread(target=self._pace, args=(BOOK_EVERY, self._book, until), daemon=True),
        ]
        for pacer in pacers:
            pacer.start()
        try:
            yield
        finally:
            for thread in [*pacers, *self._threads]:
                thread.join(timeout=PROBE_PATIENCE + 10)

    def await_emails(self, patience: float) -> None:
        """Give the e-mails of the last bookings up to ``patience`` seconds to arrive."""
        deadline = time.monotonic() + patience
        wanted = {address for address, _, status in self.bookings if status < 400}
        while wanted - set(self._sink.received) and time.monotonic() < deadline:
            time.sleep(0.2)

    def _pace(self, every: float, probe: Any, until: float) -> None:
        number = 0
        while time.time() < until:
            thread = threading.Thread(target=probe, args=(number,), daemon=True)
            thread.start()
            self._threads.append(thread)
            number += 1
            time.sleep(every)

    def _push(self, number: int) -> None:
        pairs = self._population.probe_pairs
        wanted = PUSHED[number % len(PUSHED)]
        with self._lock:
            free = [pair for pair in self._free if pairs[pair][0] == wanted]
            if not free:
                self.push_skipped += 1
                return
            self._free.remove(free[0])
        provider, channel, source, target = pairs[free[0]]
        before = _blocks(self._fake, target)
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(
            days=2, hours=number
        )
        end = start + timedelta(minutes=30)
        if provider == "google":
            self._fake.add_event(source, f"Probe {number}", start, end)
            began = time.perf_counter()
            _notify(self._fake, channel, self._site)
        else:
            self._microsoft.graph.add_event(source, f"Probe {number}", start, end)
            began = time.perf_counter()
            self._microsoft.graph.notify(channel)
        delay = None
        while time.perf_counter() - began < PROBE_PATIENCE:
            if _blocks(self._fake, target) > before:
                delay = time.perf_counter() - began
                break
            time.sleep(0.02)
        self.push_delays[provider].append(delay)
        with self._lock:
            self._free.append(free[0])

    def _book(self, number: int) -> None:
        import httpx

        from booking.public_display import format_start

        start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
            days=2, minutes=30 * number
        )
        url = f"{self._population.booking_path}new/?tz=UTC&duration=30&start={format_start(start)}"
        address = f"attendee-{number}-{uuid.uuid4().hex[:6]}@scale.example"
        with httpx.Client(timeout=60) as client:
            page = client.get(url)
            hidden = dict(
                re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text)
            )
            sent = time.time()
            answer = client.post(
                url, data={**hidden, "name": f"Attendee {number}", "email": address}
            )
        self.bookings.append((address, sent, answer.status_code))


def _blocks(fake: Any, calendar_id: str) -> int:
    return sum(
        1
        for event in fake.live_events(calendar_id)
        if event.get("extendedProperties", {}).get("private", {}).get("multical_block")
    )


def _notify(fake: Any, channel: str, site: str) -> None:
    import httpx

    headers = fake.notification_headers(channel, "exists")
    httpx.post(f"{site}/hooks/google/", headers=headers, timeout=30).raise_for_status()


# The figures --------------------------------------------------------------------------------------


def _task_records(folder: Path) -> list[list[Any]]:
    """Every task the workers ran: name, first argument, start, wall s, CPU ms, queries."""
    return [
        json.loads(line)
        for path in folder.glob("tasks-*.jsonl")
        for line in path.read_text().splitlines()
        if line
    ]


def _figures(
    arguments: argparse.Namespace,
    population: Population,
    log: dict[str, Any],
    records: list[list[Any]],
    sampler: _Sampler,
    probes: _Probes,
    first_poll: float,
    end: float,
    sink: Any,
) -> dict[str, Any]:
    interval, count = arguments.interval, arguments.intervals
    every_poll = [(t, path) for t, _, path, _, poll in log["requests"] if poll]
    polls = [(t, path) for t, path in every_poll if first_poll <= t < end]
    again = _polled_again(every_poll, interval / 2)
    expected = set(population.polled_paths.values())
    touched = {path for _, path in log["changed"]} | set(log["written"])
    intervals = []
    for number in range(count):
        start = first_poll + number * interval
        these = [(t, path) for t, path in polls if start <= t < start + interval]
        per_path = Counter(path for _, path in these)
        per_second = Counter(int(t - start) for t, _ in these)
        average = len(these) / interval
        queued = [
            sum(sample["queued"].values())
            for sample in sampler.samples
            if start <= sample["time"] < start + interval
        ]
        intervals.append(
            {
                "polls": len(these),
                "covered": len(expected & set(per_path)) / max(len(expected), 1),
                "duplicates": sum(1 for t, path in these if (t, path) in again),
                "busiest_second": max(per_second.values(), default=0),
                "average_second": average,
                "max_queued": max(queued, default=0),
            }
        )
    seconds = count * interval
    before, after = sampler.at(first_poll), sampler.at(end)
    cpu = {name: after["cpu"][name] - before["cpu"][name] for name in after["cpu"]}
    idle_polls = sum(1 for _, path in polls if path not in touched)
    in_window = [record for record in records if first_poll <= record[2] < end]
    # Sync tasks of idle polled calendars only (a batch counts when none of its calendars
    # changed), and the calendars they served.
    idle_tasks = [
        record
        for record in in_window
        if _calendars_of(record)
        and all(
            calendar_id in population.polled_paths
            and population.polled_paths[calendar_id] not in touched
            for calendar_id in _calendars_of(record)
        )
    ]
    idle_served = sum(len(_calendars_of(record)) for record in idle_tasks)
    idle_cpu = sum(r[4] for r in idle_tasks) / max(idle_served, 1)
    idle_queries = sum(r[5] for r in idle_tasks) / max(idle_served, 1)
    # A poll that finds changes: what the sync tasks holding one spent beyond their idle polls'
    # share, over the changed calendars they served.
    changed_tasks = [
        (record, sum(1 for c in _calendars_of(record) if population.polled_paths.get(c) in touched))
        for record in in_window
        if _calendars_of(record)
    ]
    changed_served = sum(changed for _, changed in changed_tasks)
    changed_cpu = sum(
        r[4] - idle_cpu * (len(_calendars_of(r)) - changed)
        for r, changed in changed_tasks
        if changed
    )
    changed_queries = sum(
        r[5] - idle_queries * (len(_calendars_of(r)) - changed)
        for r, changed in changed_tasks
        if changed
    )
    fan_out = [record for record in in_window if not _calendars_of(record)]
    sampled = sum(
        1 for sample in sampler.samples if before["time"] < sample["time"] <= after["time"]
    )
    redis_calls = Counter(
        {
            name: calls - before["redis"].get(name, 0)
            for name, calls in after["redis"].items()
            if name != "info"
        }
    )
    redis_calls["llen"] -= sampled * len(sampler._queues)
    sent = [(address, at) for address, at, status in probes.bookings if status < 400]
    emails = [sink.received[address] - at for address, at in sent if address in sink.received]
    loads = [sample["load"] for sample in sampler.samples if first_poll <= sample["time"] < end]
    return {
        "load": statistics.mean(loads) if loads else 0.0,
        "workers": arguments.workers,
        "beats": arguments.beats,
        "polled_calendars": len(expected),
        "intervals": intervals,
        "polls": len(polls),
        "polls_per_second": len(polls) / seconds,
        "idle_polls": idle_polls,
        "changed": sum(1 for t, _ in log["changed"] if first_poll <= t < end),
        "cpu_seconds": cpu,
        "idle_task_cpu_ms": idle_cpu,
        "idle_task_queries": idle_queries,
        "changed_served": changed_served,
        "changed_cpu_ms": changed_cpu / max(changed_served, 1),
        "changed_queries": changed_queries / max(changed_served, 1),
        "fan_out_queries": sum(r[5] for r in fan_out) / max(len(polls), 1),
        "fan_out_cpu_ms": sum(r[4] for r in fan_out) / max(len(polls), 1),
        "all_queries": sum(r[5] for r in in_window) / max(len(polls), 1),
        "tasks": dict(Counter(r[0] for r in in_window)),
        "redis_per_poll": sum(redis_calls.values()) / max(len(polls), 1),
        "redis_top": redis_calls.most_common(6),
        **{
            f"push_{provider}": _spread_of([delay for delay in delays if delay is not None])
            | {"lost": delays.count(None)}
            for provider, delays in probes.push_delays.items()
        },
        "push_skipped": probes.push_skipped,
        "email": _spread_of(emails)
        | {
            "refused": len(probes.bookings) - len(sent),
            "missing": len(sent) - len(emails),
        },
    }


def _polled_again(polls: list[tuple[float, str]], within: float) -> set[tuple[float, str]]:
    """The polls that came less than ``within`` seconds after the calendar's previous one: work
    done twice (a calendar's polls drift by a little from one interval to the next, so counting
    a calendar's polls in a fixed window would call that drift duplicate work)."""
    last: dict[str, float] = {}
    found = set()
    for moment, path in sorted(polls):
        if path in last and moment - last[path] < within:
            found.add((moment, path))
        last[path] = moment
    return found


def _calendars_of(record: list[Any]) -> list[str]:
    """The calendars a task's record names: a sync's one, a batch's several, none for the rest."""
    argument = record[1]
    if isinstance(argument, list):
        return argument
    return [argument] if _is_uuid(argument) else []


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _spread_of(delays: list[float]) -> dict[str, float | int]:
    if not delays:
        return {"count": 0, "median": 0.0, "p95": 0.0}
    ordered = sorted(delays)
    return {
        "count": len(ordered),
        "median": statistics.median(ordered),
        "p95": ordered[max(int(len(ordered) * 0.95 + 0.5) - 1, 0)],
    }


def _verdict(met: bool) -> str:
    return "ok" if met else "MISSED"


def _print(arguments: argparse.Namespace, figures: dict[str, Any]) -> None:
    workers, seconds = figures["workers"], arguments.intervals * arguments.interval
    polls = max(figures["polls"], 1)
    print()
    print(
        f"{figures['polled_calendars']:,} polled calendars, interval {arguments.interval} s, "
        f"{workers} worker process(es) (+{arguments.urgent_workers} on the default queue alone), "
        f"{figures['beats']} beat(s); "
        f"{figures['changed']:,} simulated changes while measured; the machine's load average "
        f"{figures['load']:.1f} on {os.cpu_count()} cores (everything else running included)"
    )
    for number, row in enumerate(figures["intervals"], 1):
        spread = row["busiest_second"] / row["average_second"] if row["average_second"] else 0.0
        print(
            f"  interval {number}: {row['polls']:,} polls ({row['polls'] / arguments.interval:.1f}/s), "
            f"{row['covered']:.0%} of the calendars polled, {row['duplicates']:,} polls within half "
            f"an interval of the calendar's last; busiest second {row['busiest_second']} = {spread:.1f}x the average "
            f"(target <= {TARGETS['spread']}x: {_verdict(spread <= TARGETS['spread'])}); "
            f"queued at most {row['max_queued']:,}"
        )
    rate = figures["polls_per_second"]
    cpu = figures["cpu_seconds"]
    # What the polls cost bounds what a process can serve, whether or not this run saturated it.
    capacity = figures["polls"] / cpu["workers"] if cpu["workers"] else 0.0
    print(
        f"polls per second: {rate:.1f}, per worker process {rate / workers:.1f} "
        f"(at their CPU cost, one process with a core of its own would serve {capacity:.0f}/s)"
    )
    per_poll = cpu["workers"] * 1000 / polls
    print(
        f"worker CPU per poll (Celery included, every poll): {per_poll:.2f} ms "
        f"(target <= {TARGETS['cpu_ms']} ms per idle poll: {_verdict(per_poll <= TARGETS['cpu_ms'])}); "
        f"the sync tasks of idle calendars alone {figures['idle_task_cpu_ms']:.2f} ms per idle poll, "
        f"the hand-out tasks {figures['fan_out_cpu_ms']:.2f} ms per poll"
    )
    print(
        "  CPU used in the window, % of one core: "
        + ", ".join(f"{name} {used * 100 / seconds:.0f}" for name, used in cpu.items())
    )
    queries = figures["idle_task_queries"] + figures["fan_out_queries"]
    print(
        f"queries per idle poll: {queries:.2f} (target <= {TARGETS['queries']}: "
        f"{_verdict(queries <= TARGETS['queries'])}) = {figures['idle_task_queries']:.2f} in the "
        f"calendar's tasks + {figures['fan_out_queries']:.2f} handing out; every task's over every "
        f"poll: {figures['all_queries']:.2f}"
    )
    print(
        f"a poll that finds changes (an event changed at the server and its blocks written, or "
        f"our own blocks read back): "
        f"{figures['changed_cpu_ms']:.1f} ms of worker CPU and {figures['changed_queries']:.1f} "
        f"queries ({figures['changed_served']} served while measured)"
    )
    top = ", ".join(f"{name} {calls / polls:.2f}" for name, calls in figures["redis_top"])
    print(f"Redis round trips per poll (whole stack): {figures['redis_per_poll']:.2f} ({top})")
    print(f"  tasks run: {figures['tasks']}")
    for name, label, target in (
        *(
            (f"push_{provider}", f"push change at {provider} -> block", TARGETS["push_p95"])
            for provider in PUSHED
        ),
        ("email", "booking -> confirmation e-mail", TARGETS["email_p95"]),
    ):
        spread = figures[name]
        extra = ", ".join(
            f"{key} {value}"
            for key, value in spread.items()
            if key not in ("count", "median", "p95")
        )
        print(
            f"{label} during the storm: {spread['count']} measured, median {spread['median']:.2f} s, "
            f"p95 {spread['p95']:.2f} s (target <= {target} s: "
            f"{_verdict(bool(spread['count']) and spread['p95'] <= target)}); {extra}"
        )


if __name__ == "__main__":
    sys.exit(main())
