"""Reconciling a target calendar: its blocks put back where their rows say, whatever hands did.

A source's sync reads the source, never the targets, so a block someone deleted or moved in a
target calendar, or a copy of one left behind, is seen only here. The target is read in full (the
cursor of its own sync is left alone), then its rows: remote first, so any block found remotely
already has its row (rows are written before blocks). What differs is mended:

- an event carrying our block marker with no row (an orphan, or a second copy of a block) is
  deleted;
- a block missing, or not at the times its row holds, has its fingerprint cleared, so the next
  full read of its source writes it again (the row keeps its remote id: every provider puts back
  an event that is gone when asked to update it). Those sources are returned, to be read.

Rows changed after the read started are left alone: a sync is writing them. Ids and times only.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from django.db.models import Max, Min
from django.utils import timezone

from calendars.models import Calendar, Connection
from calendars.selectors import provider_for_connection
from calendars.services import connection_keep_refreshed_secrets
from integrations.base import ProviderError, RemoteEvent, Window
from syncrules.models import Block

logger = logging.getLogger(__name__)

# Beyond the widest window a rule can have (a 30-day lookback, a 365-day lookahead).
_BEFORE, _AFTER = timedelta(days=31), timedelta(days=366)


def reconcile_target(calendar: Calendar) -> set[str]:
    """Mend the blocks in ``calendar`` (see the module); the ids of the source calendars to read in
    full so that the blocks cleared are written again."""
    connection = calendar.connection
    if not connection.is_usable or not connection.secrets:
        return set()
    span = Block.objects.filter(target_calendar=calendar).aggregate(
        first=Min("start"), last=Max("end")
    )
    if span["first"] is None:
        return set()
    now = timezone.now()
    window = Window(min(span["first"], now - _BEFORE), max(span["last"], now + _AFTER))
    provider = provider_for_connection(connection)
    started = timezone.now()
    try:
        events = provider.changes(calendar.remote_id, "", window).events
    finally:
        connection_keep_refreshed_secrets(connection=connection, provider=provider)

    by_id = {event.id: event for event in events}
    by_marker: dict[str, list[RemoteEvent]] = defaultdict(list)
    for event in events:
        if event.block_id:
            by_marker[event.block_id].append(event)
    rows = list(
        Block.objects.filter(target_calendar=calendar).only(
            "id",
            "source_calendar_id",
            "target_event_id",
            "state",
            "start",
            "end",
            "all_day",
            "updated_at",
        )
    )
    known = {str(row.id) for row in rows}

    unwanted = [
        event.id
        for block_id, found in by_marker.items()
        if block_id not in known
        for event in found
    ]
    cleared: list[Block] = []
    for row in rows:
        if row.updated_at >= started:
            continue
        copies = by_marker.get(str(row.id), [])
        found = by_id.get(row.target_event_id) if row.target_event_id else None
        if found is None and copies:
            found = copies[0]
        unwanted += [copy.id for copy in copies if found is not None and copy.id != found.id]
        if row.state != Block.State.SYNCED:
            continue  # a crash's leftover: its source's next sync finds or writes it
        if found is None or (found.start, found.end, found.all_day) != (
            row.start,
            row.end,
            row.all_day,
        ):
            cleared.append(row)
        elif found.id != row.target_event_id:
            Block.objects.filter(id=row.id).update(target_event_id=found.id)

    for event_id in unwanted:
        try:
            provider.delete_event(calendar.remote_id, event_id)
        except ProviderError:
            logger.warning("Could not remove a stray block from calendar %s", calendar.id)
    connection_keep_refreshed_secrets(connection=connection, provider=provider)
    if cleared:
        Block.objects.filter(id__in=[row.id for row in cleared]).update(fingerprint="")
        logger.info(
            "Calendar %s: %s blocks missing or moved by hand, to be written again",
            calendar.id,
            len(cleared),
        )
    return {str(row.source_calendar_id) for row in cleared if row.source_calendar_id}


def reconciled_target_ids() -> list[str]:
    """Calendars holding blocks whose account can be read."""
    return [
        str(calendar_id)
        for calendar_id in Calendar.objects.filter(
            target_blocks__isnull=False, connection__status__in=Connection.USABLE
        )
        .values_list("id", flat=True)
        .distinct()
    ]
