"""Worker processes for the torture test: each a fork of the test process running one sync task,
as a Celery worker's pool child does: the real task code, a database session and locks of its
own, and a process that can be killed at any instant.

The pool stands in for the broker and the sweeper together: it starts syncs of every calendar
the sweeper's own query (``syncrules.state.calendars_to_resume``) finds asked for and due, that
no process holds, shared out among the free workers: a worker given one calendar runs the task
a notification sends, one given several the poller's batch task. Forks happen on the main
thread, after closing this process's database connections (a child opens its own), and while no
fake serves a request (``FORK_GUARD``).
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field

from celery.exceptions import Retry
from django.db import connections

from multical.lib import locks
from syncrules import state, tasks
from tests.fakes.faults import FORK_GUARD


@dataclass
class Pool:
    size: int = 3
    running: dict[int, list[str]] = field(default_factory=dict)  # pid → calendar ids
    # pid → (calendar ids, when)
    killed: dict[int, tuple[list[str], float]] = field(default_factory=dict)
    recoveries: list[float] = field(default_factory=list)  # seconds from a kill to synced again
    failures: int = 0  # syncs that ended in an error (a fault's doing, then retried)

    def start(self, calendar_ids: list[str]) -> int:
        connections.close_all()
        with FORK_GUARD.alone():
            pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                if len(calendar_ids) == 1:
                    tasks.sync_calendar.run(calendar_ids[0])
                else:
                    tasks.sync_calendars.run(calendar_ids)
            except Retry:
                code = 1  # a fault's doing: the row says when to try again
            except BaseException:  # a worker reports and exits, as a Celery worker would
                traceback.print_exc(limit=3, file=sys.stderr)
                code = 1
            finally:
                os._exit(code)
        self.running[pid] = calendar_ids
        return pid

    def kill(self, pid: int) -> None:
        """SIGKILL a worker: no handler, no finally, no last words."""
        if pid in self.running:
            self.killed[pid] = (self.running[pid], time.monotonic())
            os.kill(pid, signal.SIGKILL)

    def reap(self) -> None:
        while self.running:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            self.running.pop(pid, None)
            if status and pid not in self.killed:
                self.failures += 1

    def settle(self, *, timeout: float = 120.0) -> None:
        """Run syncs until nothing is asked of any calendar and no worker runs."""
        deadline = time.monotonic() + timeout
        while True:
            self.reap()
            self._note_recoveries()
            busy = {c for calendar_ids in self.running.values() for c in calendar_ids}
            due = [c for c in state.calendars_to_resume() if c not in busy]
            held = locks.held(state.sync_lock_name(c) for c in due)
            due = [c for c in due if state.sync_lock_name(c) not in held]
            free = max(self.size - len(self.running), 0)
            for number in range(min(free, len(due))):
                self.start(due[number::free])
            if not self.running and not due and not _anything_pending():
                connections.close_all()
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"not settled within {timeout:.0f} s: {self.running}")
            time.sleep(0.02)

    def _note_recoveries(self) -> None:
        from syncrules.models import SyncState

        for pid, (calendar_ids, when) in list(self.killed.items()):
            if pid in self.running:
                continue
            states = SyncState.objects.filter(calendar_id__in=calendar_ids)
            if not any(sync_state.pending for sync_state in states):
                self.recoveries.append(time.monotonic() - when)
                del self.killed[pid]


def _anything_pending() -> bool:
    from syncrules.models import SyncState

    return any(sync_state.pending for sync_state in SyncState.objects.all())
