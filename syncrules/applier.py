"""Carries out a plan through the provider contract, so that retries never duplicate.

A create first writes the block row (pending), then the remote event carrying the row's id as
its marker (from its first instant, every read of the target recognises it as ours), then the
remote id (``_Rows``: within a second). A crash in between leaves a pending row; the next plan
updates it, and the update looks for the event carrying the marker before writing, so nothing is
written twice. Errors: a target whose connection refuses us permanently is marked and skipped (the other
targets go on); a transient error stops the sync, which is retried with the cursor unmoved.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from calendars.models import Calendar, Connection
from calendars.selectors import provider_for_connection
from calendars.services import connection_keep_refreshed_secrets, connection_record_error
from integrations.base import BlockSpec, Provider, ProviderError
from multical.lib.bulk_save import save_fields
from syncrules.models import Block
from syncrules.planning import Create, Plan, Rendered, Update

logger = logging.getLogger(__name__)

SAVE_BATCH = 50
SAVE_SECONDS = 1.0
WRITTEN_FIELDS = [
    "rule",
    "target_event_id",
    "source_series_id",
    "start",
    "end",
    "all_day",
    "fingerprint",
    "state",
    "updated_at",
]


class ProviderPool:
    """One provider per connection for the length of a sync."""

    def __init__(self) -> None:
        self._providers: dict[str, tuple[Connection, Provider]] = {}

    def get(self, connection: Connection) -> Provider:
        key = str(connection.id)
        if key not in self._providers:
            self._providers[key] = (connection, provider_for_connection(connection))
        return self._providers[key][1]

    def keep_refreshed_secrets(self) -> None:
        for connection, provider in self._providers.values():
            connection_keep_refreshed_secrets(connection=connection, provider=provider)


@dataclass(slots=True)
class Counts:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    # A target's refusal for good; the run goes on with the other targets.
    error: ProviderError | None = None


def apply_plan(
    plan: Plan,
    *,
    source_calendar: Calendar,
    targets: dict[str, Calendar],
    pool: ProviderPool,
) -> dict[str, Counts]:
    """Carry out ``plan``; what was done, by the id of the rule each block is credited to."""
    counts: dict[str, Counts] = defaultdict(Counts)
    refused: set[str] = set()  # targets whose connection refused us for good during this run

    def writable(target: Calendar) -> bool:
        connection = target.connection
        return str(target.id) not in refused and connection.is_usable and bool(connection.secrets)

    def attempt(target: Calendar, rule_id: str, write: Callable[[Provider], None]) -> bool:
        try:
            write(pool.get(target.connection))
        except ProviderError as error:
            if not error.permanent:
                raise
            refused.add(str(target.id))
            connection_record_error(connection=target.connection, error=error)
            counts[rule_id].error = error
            return False
        return True

    blocks = {
        str(block.id): block
        for block in Block.objects.filter(
            id__in=[
                *(op.block_id for op in plan.updates),
                *(op.block_id for op in plan.deletes),
            ]
        ).select_related("target_calendar__connection__user")
    }

    for delete in plan.deletes:
        block = blocks.get(delete.block_id)
        if block is None:
            continue
        target, rule_id = block.target_calendar, str(block.rule_id or "")
        if writable(target) and attempt(target, rule_id, partial(delete_remote_block, block=block)):
            block.delete()
            counts[rule_id].deleted += 1

    with _Rows() as rows:
        creates = [op for op in plan.creates if writable(targets[op.target_calendar_id])]
        for create, (block, fresh) in zip(
            creates, _pending_rows(creates, source_calendar, targets), strict=True
        ):
            # A fresh row has nothing remote to find; a row left pending by a crash may have.
            write = partial(_write, block=block, op=create, look_first=not fresh)
            if attempt(block.target_calendar, create.rule_id, write):
                counts[create.rule_id].created += 1
                rows.written(block)

        for update in plan.updates:
            block = blocks.get(update.block_id)
            if block is None:
                continue
            if not update.rewrite:
                # The calendar already shows this rendering: only the rule credited moves.
                block.rule_id = update.rule_id or None
                save_fields([block], ["rule", "updated_at"])
                continue
            target = block.target_calendar
            write = partial(_write, block=block, op=update, look_first=True)
            if writable(target) and attempt(target, update.rule_id, write):
                counts[update.rule_id].updated += 1
                rows.written(block)
    return counts


class _Rows:
    """The rows of blocks just written, saved in batches: within ``SAVE_BATCH`` writes or
    ``SAVE_SECONDS``, and whatever happens, before the sync returns.

    A row saved on its own costs a commit's round trip, several times the CPU of its share of a
    batch. Nothing waits on the save: every block carries its marker from its first instant, so
    every read recognises it; a row that missed its save stays pending, and the next plan finds
    its event by the marker before writing again.
    """

    def __init__(self) -> None:
        self._rows: list[Block] = []
        self._since = time.monotonic()

    def __enter__(self) -> _Rows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()

    def written(self, block: Block) -> None:
        self._rows.append(block)
        if len(self._rows) >= SAVE_BATCH or time.monotonic() - self._since >= SAVE_SECONDS:
            self.flush()

    def flush(self) -> None:
        save_fields(self._rows, WRITTEN_FIELDS)
        self._rows.clear()
        self._since = time.monotonic()


def _pending_rows(
    creates: list[Create], source_calendar: Calendar, targets: dict[str, Calendar]
) -> list[tuple[Block, bool]]:
    """The block rows for ``creates``, written as pending in one statement before any remote
    write; (row, fresh), where a row that was already there (a crash's leftover) is not fresh."""
    rows = [
        Block(
            rule_id=op.rule_id or None,
            source_calendar=source_calendar,
            source_event_id=op.event.id,
            source_series_id=op.event.series_id,
            target_calendar=targets[op.target_calendar_id],
            start=op.rendered.start,
            end=op.rendered.end,
            all_day=op.rendered.all_day,
        )
        for op in creates
    ]
    if not rows:
        return []
    Block.objects.bulk_create(rows, ignore_conflicts=True)
    stored = {
        (block.source_event_id, str(block.target_calendar_id)): block
        for block in Block.objects.filter(
            source_calendar=source_calendar,
            source_event_id__in={op.event.id for op in creates},
        ).select_related("target_calendar__connection__user")
    }
    ours = {row.id for row in rows}
    result = []
    for op in creates:
        block = stored[(op.event.id, op.target_calendar_id)]
        result.append((block, block.id in ours))
    return result


def _write(provider: Provider, *, block: Block, op: Create | Update, look_first: bool) -> None:
    target = block.target_calendar
    remote_id: str | None = block.target_event_id
    if not remote_id and look_first:
        remote_id = provider.find_block(target.remote_id, str(block.id))
    block.target_event_id = provider.put_block(
        target.remote_id, _spec(str(block.id), op.rendered), remote_id=remote_id or None
    )
    block.rule_id = op.rule_id or None
    block.source_series_id = op.event.series_id
    block.start, block.end, block.all_day = op.rendered.start, op.rendered.end, op.rendered.all_day
    block.fingerprint = op.fingerprint
    block.state = Block.State.SYNCED


def delete_remote_block(provider: Provider, *, block: Block) -> None:
    target = block.target_calendar
    remote_id = block.target_event_id or provider.find_block(target.remote_id, str(block.id))
    if remote_id:
        provider.delete_event(target.remote_id, remote_id)


def _spec(block_id: str, rendered: Rendered) -> BlockSpec:
    return BlockSpec(
        block_id=block_id,
        start=rendered.start,
        end=rendered.end,
        all_day=rendered.all_day,
        title=rendered.title,
        description=rendered.description,
        location=rendered.location,
        transparency=rendered.transparency,
    )
