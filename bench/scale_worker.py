"""The project's Celery app, counting for ``bench/scale.py``: each task's database queries and CPU.

    celery --app bench.scale_worker worker ...

Bench only: a worker started with this app runs exactly the project's tasks, and besides records
per task its name, first argument (a calendar's or booking's id, never content), when it started,
its wall and CPU time and the queries it made (the connection wrapped with an
``execute_wrapper`` hook). Records go, as JSON lines, to a file of each process
in ``SCALE_STATS_DIR``: every ``FLUSH_EVERY`` tasks and when the process ends.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from celery import signals
from django.db import connection

from multical.celery import app

__all__ = ["app"]

FLUSH_EVERY = 200


class _Tally:
    """This process's counts: queries so far, the running task's starting point, the records."""

    queries = 0
    running: dict[str, tuple[float, float, int]] = {}
    records: list[list[Any]] = []


def _count_query(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    _Tally.queries += 1
    return execute(sql, params, many, context)


@signals.worker_process_init.connect
def _reach_the_identity_fake(**kwargs: object) -> None:
    """msal reaches the bench's Microsoft fake through its relay, as in ``tests.celery_worker``."""
    relay = os.environ.get("MULTICAL_TEST_IDENTITY_RELAY", "")
    if relay:
        from integrations.microsoft import credentials
        from tests.fakes.microsoft import RelayHttpClient

        credentials.identity_http_client = lambda: RelayHttpClient(relay)


@signals.task_prerun.connect
def _task_starts(task_id: str, **kwargs: object) -> None:
    # The thread's connection object outlives its reconnections: wrapped once, it counts for good.
    if _count_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count_query)
    _Tally.running[task_id] = (time.time(), time.thread_time(), _Tally.queries)


@signals.task_postrun.connect
def _task_ends(task_id: str, task: Any, args: tuple[Any, ...] = (), **kwargs: object) -> None:
    started = _Tally.running.pop(task_id, None)
    if started is None:
        return
    wall, cpu, queries = started
    _Tally.records.append(
        [
            task.name,
            # The calendar (or the batch of calendars) a sync task served.
            [str(each) for each in args[0]]
            if args and isinstance(args[0], list)
            else str(args[0])
            if args
            else "",
            wall,
            time.time() - wall,
            (time.thread_time() - cpu) * 1000,
            _Tally.queries - queries,
        ]
    )
    if len(_Tally.records) >= FLUSH_EVERY:
        _flush()


@signals.worker_process_shutdown.connect
def _process_ends(**kwargs: object) -> None:
    _flush()


def _flush() -> None:
    folder = os.environ.get("SCALE_STATS_DIR")
    if not folder or not _Tally.records:
        return
    lines = "".join(json.dumps(record) + "\n" for record in _Tally.records)
    with (Path(folder) / f"tasks-{os.getpid()}.jsonl").open("a") as out:
        out.write(lines)
    _Tally.records.clear()
