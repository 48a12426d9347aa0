"""The one backoff policy for work retried after a transient failure."""

from __future__ import annotations

import random

# A task retried through the broker gives up after this many attempts (syncs never do: their
# requests are rows, retried until served).
RETRY_LIMIT = 8
# The longest wait between two attempts. Kept well under the broker's visibility timeout (see
# CELERY_BROKER_TRANSPORT_OPTIONS), so a task waiting out its countdown is never handed out twice.
BACKOFF_CEILING_SECONDS = 20 * 60


def backoff_seconds(
    attempt: int,
    retry_after: float | None,
    *,
    first: float = 30.0,
    ceiling: float = BACKOFF_CEILING_SECONDS,
) -> float:
    """Exponential backoff with jitter: a wait from half to all of ``first`` doubled ``attempt``
    times (at most ``ceiling``), never sooner than the provider asked. Work kept as rows rather
    than broker countdowns (outgoing webhooks) may pass a longer ``ceiling``."""
    longest = min(first * 2**attempt, ceiling)
    return max(retry_after or 0, random.uniform(longest / 2, longest))  # noqa: S311 - jitter, not crypto
