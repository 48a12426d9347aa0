"""The receivers of providers' notifications about the calendars and accounts connected here.

Each verifies what it receives before touching anything, then acts on our calendars: a change is
published as ``calendars.signals.calendar_changed`` for the layers above to act on (the sync
engine reads the calendar). The provider adapters in ``integrations`` know nothing of them.

Each answer's latency is measured (``answer_timed``): Graph throttles endpoints slower than 3 s,
and a slow answer is the first sign of a receiver waiting on the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec

from django.http import HttpResponse

from multical import metrics

P = ParamSpec("P")


def answer_timed(
    provider: str,
) -> Callable[[Callable[P, HttpResponse]], Callable[P, HttpResponse]]:
    """Count the time the decorated receiver takes to answer, refusals included."""

    def decorate(view: Callable[P, HttpResponse]) -> Callable[P, HttpResponse]:
        @wraps(view)
        def timed(*args: P.args, **kwargs: P.kwargs) -> HttpResponse:
            started = time.perf_counter()
            try:
                return view(*args, **kwargs)
            finally:
                metrics.webhook_answered(provider=provider, seconds=time.perf_counter() - started)

        return timed

    return decorate
