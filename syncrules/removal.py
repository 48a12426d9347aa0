"""Taking blocks out of their calendars: the one way every caller does it, with one failure policy.

The callers: the clean-up of blocks no rule copies any more (``engine.remove_stale_blocks``), a
disconnected or removed account (``engine.release_connection``) and a deleted account
(``lifecycle.deletion``). Each block is deleted from its target calendar, then forgotten:

- deleted, or already gone from the calendar: forgotten;
- the provider fails for a while (down, throttling, a timeout): the block and the rest of its
  connection's blocks are left for a later try, and ``retry_after`` says when if the provider did;
- the provider refuses for good (credentials revoked, the calendar gone or read-only): on a
  connection that stays, the refusal is shown on it (the user is asked to reconnect) and the block
  is kept until they do; on a connection being let go (disconnected, being removed, or its account
  being deleted) nobody can ever remove it, so it is forgotten;
- a connection that stays but cannot be written now (it needs reconnecting): left; one being let
  go without credentials left: forgotten;
- ``giving_up`` (the last try of a release or a deletion): what the provider could not take now is
  forgotten too, and counted as such.

Nothing here holds event content: blocks are ids and times.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from calendars.models import Connection
from calendars.services import connection_record_error
from integrations.base import ProviderError
from syncrules.applier import ProviderPool, delete_remote_block
from syncrules.models import Block

logger = logging.getLogger(__name__)


@dataclass
class Removal:
    """What became of the blocks: removed from their calendar, forgotten without being removed
    (nobody could), or left for a later try (``retry_after``: the provider's wish, in seconds)."""

    removed: int = 0
    forgotten: int = 0
    left: int = 0
    retry_after: float | None = None

    def wait(self, error: ProviderError) -> None:
        if error.retry_after:
            self.retry_after = max(self.retry_after or 0, error.retry_after)


def is_let_go(connection: Connection) -> bool:
    """Whether the connection is going (its blocks go whatever happens) rather than staying."""
    return (
        connection.status in Connection.RELEASED
        or connection.user.deletion_requested_at is not None
    )


def remove_blocks(blocks: Iterable[Block], *, giving_up: bool = False) -> Removal:
    """Delete each of ``blocks`` from its target calendar and forget it, as the module says.

    ``blocks`` come with ``target_calendar__connection__user`` (``select_related``), grouped by
    target calendar or connection, so that one failing connection is left after one request.
    """
    removal = Removal()
    pool = ProviderPool()
    waiting: set[str] = set()  # connections that failed for a while in this run
    try:
        for block in blocks:
            connection = block.target_calendar.connection
            going = is_let_go(connection)
            if str(connection.id) in waiting or not _writable(connection, going):
                forget = giving_up or (going and not connection.secrets)
                _leave_or_forget(block, removal, forget=forget)
                continue
            try:
                delete_remote_block(pool.get(connection), block=block)
            except ProviderError as error:
                lasting = going and error.permanent  # nobody will ever remove this one
                if not lasting:
                    waiting.add(str(connection.id))  # its other blocks would fail alike
                    removal.wait(error)
                    if error.permanent:
                        connection_record_error(connection=connection, error=error)
                if lasting or giving_up:
                    logger.warning(
                        "Could not remove block %s from calendar %s; forgotten",
                        block.id,
                        block.target_calendar_id,
                    )
                    _leave_or_forget(block, removal, forget=True)
                else:
                    removal.left += 1
                continue
            block.delete()
            removal.removed += 1
    finally:
        pool.keep_refreshed_secrets()
    return removal


def _writable(connection: Connection, going: bool) -> bool:
    return bool(connection.secrets) and (going or connection.is_usable)


def _leave_or_forget(block: Block, removal: Removal, *, forget: bool) -> None:
    if forget:
        block.delete()
        removal.forgotten += 1
    else:
        removal.left += 1
