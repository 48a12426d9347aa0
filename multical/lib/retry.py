"""The one backoff policy for work retried after a transient failure."""

from __future__ import annotations

import random

# A task retried through the broker gives up after this many attempts (syncs never do: their
# requests are rows, retried until served).
RETRY_LIMIT = 8
# The longest wait between two attempts. Kept well under the broker's visibility timeout (see
# CELERY_BROKER_TRANSPORT_OPTIONS), so a task waiting out its countdown is never handed out twice.
BACKOFF_CEILING_SECONDS = 20 * 60


def backoff_seconds(attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, never sooner than the provider asked."""
    ceiling = min(30 * 2**attempt, BACKOFF_CEILING_SECONDS)
    return max(retry_after or 0, random.uniform(ceiling / 2, ceiling))  # noqa: S311 - jitter, not crypto
