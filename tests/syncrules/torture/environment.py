"""What the torture test changes in the process before it forks its workers."""

from __future__ import annotations

from typing import Any

from integrations.caldav import client as dav
from integrations.google import client as google_client
from integrations.microsoft import client as graph
from syncrules import state, tasks
from tests.syncrules.torture.driver import CLIENT_TIMEOUT


def prepare(patch: Any, settings: Any) -> None:
    """``patch(target, name, value)`` sets an attribute for the run (pytest's monkeypatch.setattr,
    or a recorder that undoes it).

    The pool is the broker: tasks are not sent. Retries and the sweeper wait for nothing, so a
    round settles in seconds; every client gives up after ``CLIENT_TIMEOUT`` seconds, so a
    stalled write outlasts it quickly. A mass deletion is confirmed by the next full read.
    """
    patch(tasks.sync_calendar, "apply_async", lambda *args, **kwargs: None)
    patch(tasks.sync_calendars, "apply_async", lambda *args, **kwargs: None)
    patch(tasks.remove_stale_blocks, "delay", lambda *args, **kwargs: None)
    patch(state, "RESUME_AFTER", state.RESUME_AFTER * 0)
    patch(state, "backoff_seconds", lambda attempt, retry_after: 0.05)
    patch(google_client, "TIMEOUT_SECONDS", CLIENT_TIMEOUT)
    patch(graph, "TIMEOUT", CLIENT_TIMEOUT)
    defaults = dict(dav.DAVSession.__init__.__kwdefaults__ or {})
    patch(dav.DAVSession.__init__, "__kwdefaults__", {**defaults, "timeout": CLIENT_TIMEOUT})
    settings.MASS_DELETION_CONFIRM_SECONDS = 0
