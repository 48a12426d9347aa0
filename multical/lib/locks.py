"""Named locks that die with their holder.

A lock held in a cache with a timeout outlives a worker that is killed: whatever it guarded waits
for the timeout. These locks are tied to the holder's own connection instead, so the operating
system frees them the instant the process dies:

- PostgreSQL: a session-level advisory lock on the process's database connection. The server
  releases it when the connection closes (a killed process's socket closes at once; a machine that
  vanishes is noticed by TCP keepalives, see ``DATABASES`` in the settings). Advisory locks are
  per database, so parallel test databases never meet.
- Any other database (the embedded SQLite of development, one machine): an ``flock`` on a file in
  ``var/locks/``, which the kernel releases with the process.

A lock is tried, never waited for: the caller learns at once whether it holds it. The same process
cannot take a lock it already holds (PostgreSQL would count it twice; callers never nest them).
``try_lock`` takes one; ``try_locks`` takes many in one round trip and gives them back in groups.

Locks use the ``locks`` database connection when the settings define one (LOCKS_DATABASE_URL: a
real session beside a pooler in transaction mode, which would hand the session that holds a lock
to someone else between transactions), else the default one.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper


def lock_key(name: str) -> int:
    """The signed 64-bit advisory lock key for ``name`` (stable across processes and releases)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _connection() -> BaseDatabaseWrapper:
    return connections["locks" if "locks" in settings.DATABASES else "default"]


@contextmanager
def try_lock(name: str) -> Iterator[bool]:
    """Hold the lock ``name`` for the length of the block if nobody holds it; yield whether it
    is held by this block."""
    if _connection().vendor == "postgresql":
        with _advisory_lock(lock_key(name)) as acquired:
            yield acquired
    else:
        with _file_lock(name) as acquired:
            yield acquired


class Locks:
    """Locks held by one ``try_locks`` block: ``names`` are those taken; ``release`` gives some
    back before the block ends (the rest go when it ends)."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self._files: dict[str, IO[str]] = {}

    def release(self, names: Iterable[str]) -> None:
        names = [name for name in names if name in self.names]
        if not names:
            return
        self.names.difference_update(names)
        connection = _connection()
        if connection.vendor != "postgresql":
            for name in names:
                handle = self._files.pop(name)
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_unlock(key) FROM unnest(%s::bigint[]) AS key",
                    [[lock_key(name) for name in names]],
                )
        except DatabaseError:
            _forget_session(connection)

    def _take(self, names: list[str]) -> None:
        connection = _connection()
        if connection.vendor != "postgresql":
            for name in names:
                handle = _open_lock_file(name)
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.close()
                    continue
                self._files[name] = handle
                self.names.add(name)
            return
        keys = {lock_key(name): name for name in names}
        with connection.cursor() as cursor:
            # Each key tried once (unnest yields each row once), none waited for.
            cursor.execute(
                "SELECT key FROM unnest(%s::bigint[]) AS key WHERE pg_try_advisory_lock(key)",
                [list(keys)],
            )
            self.names.update(keys[row[0]] for row in cursor.fetchall())


@contextmanager
def try_locks(names: Iterable[str]) -> Iterator[Locks]:
    """Take those of the locks ``names`` nobody holds, in one round trip, for the length of the
    block; yield what is held, which ``Locks.release`` can give back early in one round trip."""
    taken = Locks()
    taken._take(list(dict.fromkeys(names)))
    try:
        yield taken
    finally:
        taken.release(list(taken.names))


def held(names: Iterable[str]) -> set[str]:
    """Which of ``names`` some process holds right now (a snapshot: it may change at once)."""
    names = list(names)
    if not names:
        return set()
    connection = _connection()
    if connection.vendor == "postgresql":
        keys = {lock_key(name): name for name in names}
        with connection.cursor() as cursor:
            # A bigint advisory key shows in pg_locks as its high half (classid) and low half
            # (objid), with objsubid 1.
            cursor.execute(
                "SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks "
                "WHERE locktype = 'advisory' AND objsubid = 1 AND granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            taken = {_signed(row[0]) for row in cursor.fetchall()}
        return {name for key, name in keys.items() if key in taken}
    busy = set()
    for name in names:
        with _file_lock(name) as acquired:
            if not acquired:
                busy.add(name)
    return busy


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


@contextmanager
def _advisory_lock(key: int) -> Iterator[bool]:
    connection = _connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            except DatabaseError:
                _forget_session(connection)


def _forget_session(connection: BaseDatabaseWrapper) -> None:
    """Giving a lock back failed because the connection broke, and a lost session holds no lock.
    Closed to be sure, unless an outer transaction (a test's) owns the connection: its rollback
    comes first."""
    if not connection.in_atomic_block:
        connection.close()


def _open_lock_file(name: str) -> IO[str]:
    folder = Path(settings.VAR_DIR) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    return (folder / f"{hashlib.sha256(name.encode()).hexdigest()[:32]}.lock").open("a")


@contextmanager
def _file_lock(name: str) -> Iterator[bool]:
    with _open_lock_file(name) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
