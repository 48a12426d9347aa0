"""Faults the provider fakes (and the CalDAV fault proxy) inject into the writes they receive,
and the guard that lets a test fork worker processes while the fakes serve requests.

A test sets ``faults.decide`` to a function of (method, path) returning a ``Fault`` for the write
it wants to upset, or None. A fault may answer an error instead of carrying the write out, stall
first, run something before or after it lands (kill the process that sent it, have another worker
sync the calendar meanwhile), and drop the connection instead of answering: a write that lands
but whose answer is lost, or (``apply=False``) a sender killed before its write arrived.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler


@dataclass(frozen=True)
class Fault:
    status: int | None = None  # answer this instead of carrying the write out
    stall: float = 0.0  # seconds to wait before carrying it out
    before: Callable[[int], None] | None = None  # given the sender's port, before the write
    after: Callable[[int], None] | None = None  # given the sender's port, once it has landed
    apply: bool = True  # carry the write out at all
    drop: bool = False  # close the connection instead of answering


class ForkGuard:
    """Keeps ``os.fork`` apart from the fakes' request handling.

    A process forked while another of its threads holds a lock (OpenSSL's, taken by hashing or by
    building a TLS context) hands the child that lock held for ever. Threads serving a request
    hold the guard shared; a test that forks holds it alone, so no handler is mid-request then.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._sharing = 0
        self._forking = False

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._forking)
            self._sharing += 1
        try:
            yield
        finally:
            with self._condition:
                self._sharing -= 1
                self._condition.notify_all()

    @contextlib.contextmanager
    def alone(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._forking)
            self._forking = True
            self._condition.wait_for(lambda: self._sharing == 0)
        try:
            yield
        finally:
            with self._condition:
                self._forking = False
                self._condition.notify_all()


# One for the whole process: every fake's handlers share it.
FORK_GUARD = ForkGuard()


class WriteFaults:
    def __init__(self) -> None:
        self.decide: Callable[[str, str], Fault | None] = lambda method, path: None

    def reset(self) -> None:
        self.decide = lambda method, path: None


def serve_write(
    handler: BaseHTTPRequestHandler,
    fault: Fault | None,
    carry_out: Callable[[], Callable[[], None]],
) -> None:
    """Serve one write through ``fault``: ``carry_out`` performs it and returns the function that
    sends its answer."""
    port = handler.client_address[1]
    if fault is not None:
        if fault.before:
            fault.before(port)
        if fault.status is not None:
            with FORK_GUARD.shared():
                handler.send_response(fault.status)
                handler.send_header("Content-Length", "0")
                handler.end_headers()
            return
        if fault.stall:
            time.sleep(fault.stall)
        if not fault.apply:
            _drop(handler)
            return
    with FORK_GUARD.shared():
        answer = carry_out()
    if fault is not None:
        if fault.after:
            fault.after(port)
        if fault.drop:
            _drop(handler)
            return
    with FORK_GUARD.shared(), contextlib.suppress(BrokenPipeError, ConnectionResetError):
        answer()  # a sender killed meanwhile hears nothing


def _drop(handler: BaseHTTPRequestHandler) -> None:
    handler.close_connection = True
    with contextlib.suppress(OSError):
        handler.connection.shutdown(socket.SHUT_RDWR)


def process_of_peer(port: int, pids: Iterable[int]) -> int | None:
    """Which of ``pids`` owns the loopback TCP socket whose local port is ``port`` (the sender of
    a request a fake received from that port), read from /proc."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as lines:
                next(lines)
                for line in lines:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(fields[9])
        except FileNotFoundError:
            continue
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for pid in pids:
        try:
            descriptors = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                if os.readlink(f"/proc/{pid}/fd/{descriptor}") in wanted:
                    return pid
            except OSError:
                continue
    return None
