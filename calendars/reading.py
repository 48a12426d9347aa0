"""Several calendars read at once, for pages that need them now (booking pages, the portfolio).

Each calendar is read by its own provider object (a provider's HTTP client is not shared between
threads), at most ``PER_CONNECTION`` at a time per account and ``MAX_THREADS`` in all; accounts
take turns in the queue. Microsoft's limit of four requests in flight per mailbox is kept by its
Graph client. A failure belongs to its calendar: a ``ProviderError`` as the provider raised it,
anything unexpected as a passing one. Credentials a provider refreshed are sealed again once per
account, in the calling thread.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain, zip_longest
from typing import Generic, TypeVar

from django.db import connections as db_connections
from django.db.models import prefetch_related_objects
from django.utils.translation import gettext_noop

from calendars.models import Calendar, Connection
from calendars.selectors import provider_for_connection
from calendars.services import connection_keep_refreshed_secrets
from integrations.base import Provider, ProviderError

logger = logging.getLogger(__name__)

MAX_THREADS = 8
# Calendars of one account read at once (each with its own provider and HTTP connection).
PER_CONNECTION = 4
# A connection in error failed its last sync for a passing reason: its calendars are still read.
UNREADABLE = gettext_noop("This calendar could not be read just now; try again in a moment.")

T = TypeVar("T")


@dataclass(slots=True)
class CalendarRead(Generic[T]):
    """What one calendar gave: ``value``, or the ``error`` that kept it from being read."""

    calendar: Calendar
    value: T | None = None
    error: ProviderError | None = None
    provider: Provider | None = None


def read_calendars(
    calendars: Sequence[Calendar], read: Callable[[Provider, Calendar], T]
) -> list[CalendarRead[T]]:
    """``read(provider, calendar)`` for each calendar, concurrently; in the order of ``calendars``."""
    if not calendars:
        return []
    gates = {calendar.connection_id: threading.Semaphore(PER_CONNECTION) for calendar in calendars}
    # A provider reads its owner's zone (for floating times): loaded here, in one query.
    prefetch_related_objects(list(calendars), "connection__user")

    def read_one(calendar: Calendar) -> CalendarRead[T]:
        with gates[calendar.connection_id]:
            try:
                return _read(calendar, read)
            finally:
                # A thread that touched the database (a database cache) closes what it opened.
                db_connections.close_all()

    # Accounts take turns in the queue, so one account with many calendars cannot hold every
    # thread waiting at its gate while the others wait in line.
    by_connection: dict[object, list[int]] = defaultdict(list)
    for index, calendar in enumerate(calendars):
        by_connection[calendar.connection_id].append(index)
    order = [
        index
        for index in chain.from_iterable(zip_longest(*by_connection.values()))
        if index is not None
    ]
    with ThreadPoolExecutor(max_workers=min(MAX_THREADS, len(calendars))) as pool:
        done = dict(zip(order, pool.map(read_one, [calendars[i] for i in order]), strict=True))
    reads = [done[index] for index in range(len(calendars))]
    _keep_refreshed_secrets(reads)
    return reads


def _read(calendar: Calendar, read: Callable[[Provider, Calendar], T]) -> CalendarRead[T]:
    result: CalendarRead[T] = CalendarRead(calendar)
    try:
        result.provider = provider_for_connection(calendar.connection)
        result.value = read(result.provider, calendar)
    except ProviderError as error:
        result.error = error
    except Exception as error:  # one calendar's surprise must not hide the others
        # Only the kind of error: a library's message could quote what it was reading.
        logger.error(
            "Reading calendar %s failed unexpectedly: %s", calendar.id, type(error).__name__
        )
        result.error = ProviderError(UNREADABLE, permanent=False)
    return result


def _keep_refreshed_secrets(reads: Sequence[CalendarRead[T]]) -> None:
    """Seal again the credentials providers refreshed while reading, once per account."""
    refreshed: dict[object, tuple[Connection, Provider]] = {}
    for read in reads:
        if read.provider is not None and read.provider.secrets_changed:
            # Any refreshed copy will do: each holds working tokens for the account.
            refreshed[read.calendar.connection_id] = (read.calendar.connection, read.provider)
    for connection, provider in refreshed.values():
        connection_keep_refreshed_secrets(connection=connection, provider=provider)
    for read in reads:
        close = getattr(read.provider, "close", None)
        if close is not None:
            close()
