"""How long a calendar waits after the worker syncing it is killed, as production runs.

    .venv/bin/python bench/recovery.py [--rounds 3]

On a throwaway PostgreSQL database, with Redis as the broker, a real Celery beat (the project's
own schedule: the sweeper every 30 s) and two real Celery workers, a rule copies 30 events from a
Radicale calendar into another. The 10th block's write stalls at a proxy; the worker sending it is
killed with SIGKILL, mid-sync. The figure is the time from the kill to the source's requests all
served and its 30 blocks in place, for:
- a worker process killed outright (``--pool solo``): its message stays unacknowledged in Redis
  until the visibility timeout, so the sweeper is what brings the sync back;
- a pool child killed (``--pool prefork``): Celery requeues its message at once
  (``task_reject_on_worker_lost``), and its lock died with it.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import throwaway_database  # noqa: E402

EVENTS = 30
STALLED_WRITE = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="kills per pool kind")
    options = parser.parse_args()
    with throwaway_database(), tempfile.TemporaryDirectory() as folder:
        from tests.caldav_servers import RadicaleServer
        from tests.fault_proxy import running_fault_proxy

        server = RadicaleServer(Path(folder))
        server.start()
        try:
            with running_fault_proxy(server.url) as proxy:
                for pool in ("solo", "prefork"):
                    times = [
                        _once(server, proxy, pool, Path(folder), n) for n in range(options.rounds)
                    ]
                    print(
                        f"{pool:>8} worker killed mid-sync -> calendar synced again: "
                        f"median {statistics.median(times):.1f} s, max {max(times):.1f} s "
                        f"({len(times)} kills)",
                        flush=True,
                    )
        finally:
            server.stop()


def _once(server, proxy, pool: str, folder: Path, number: int) -> float:  # type: ignore[no-untyped-def]
    from django.conf import settings
    from django.db import connection

    from syncrules import tasks
    from syncrules.models import Block, SyncState
    from tests.factories import UserFactory
    from tests.fakes.faults import Fault, process_of_peer
    from tests.syncrules.world import make_world, soon

    user = UserFactory(email=f"recovery-{pool}-{number}@example.com")
    world = make_world(server, user, ["Source"])
    target = make_world(server, user, ["Target"], server_url=proxy.url)
    world.calendars["Target"] = target.calendars["Target"]
    world.rule(["Source"], ["Target"])
    for event in range(EVENTS):
        world.put("Source", f"event-{event}", soon(1 + event % 9, 8 + event % 10))

    database_url = (
        urlsplit(settings.DATABASE_URL)
        ._replace(path=f"/{connection.settings_dict['NAME']}")
        .geturl()
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": database_url}
    logs = folder / f"{pool}-{number}"
    logs.mkdir()
    workers = [_worker(env, pool, logs / f"worker-{n}.log") for n in range(2)]
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "--app", "multical", "beat", "--loglevel", "WARNING",
         "--schedule", str(logs / "beat-schedule")],
        cwd=ROOT, env=env, stdout=(logs / "beat.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    killed = threading.Event()
    kill_time: list[float] = []
    writes = [0]

    def pids() -> list[int]:
        found = [worker.pid for worker in workers]
        for worker in workers:  # prefork children
            children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children")
            if children.exists():
                found += [int(pid) for pid in children.read_text().split()]
        return found

    def kill_sender(port: int) -> None:
        pid = process_of_peer(port, pids())
        if pid is not None:
            kill_time.append(time.monotonic())
            os.kill(pid, signal.SIGKILL)
            killed.set()

    def fault(method: str, path: str, count: int) -> Fault | None:
        if method != "PUT" or killed.is_set():
            return None
        writes[0] += 1
        if writes[0] == STALLED_WRITE:
            return Fault(before=kill_sender, apply=False)
        return None

    proxy.fault = fault
    try:
        tasks.enqueue_calendar_sync(world.calendars["Source"].id, full=True)
        assert killed.wait(120), "no worker reached the stalled write"
        source = world.calendars["Source"]
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            state = SyncState.objects.filter(calendar_id=source.id).first()
            done = Block.objects.filter(source_calendar=source, state=Block.State.SYNCED).count()
            if state is not None and not state.pending and done == EVENTS:
                return time.monotonic() - kill_time[0]
            time.sleep(0.2)
        raise AssertionError("the calendar was not synced again within 10 minutes")
    finally:
        proxy.reset()
        beat.terminate()
        for worker in workers:
            worker.terminate()
        for process in (beat, *workers):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _worker(env: dict[str, str], pool: str, log: Path) -> subprocess.Popen:
    from django.conf import settings

    command = [
        sys.executable, "-m", "celery", "--app", "multical", "worker", "--pool", pool,
        "--concurrency", "2", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
        "--queues", ",".join(settings.CELERY_QUEUES_ALL), "--hostname", f"bench-{time.time_ns()}@%h",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while "ready." not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not start:\n{log.read_text()}")
        time.sleep(0.2)
    return process


if __name__ == "__main__":
    main()
