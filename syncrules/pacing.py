"""Pacing the syncs of polled calendars per server: a cap on how many talk to one server at once,
and a pause for the whole server when it asks us to slow down.

iCloud and small CalDAV servers throttle: a poller that sends every calendar of a server at once
gets 429s and 503s for all of them. So a sync of a CalDAV or iCal calendar first takes one of
``SYNC_POLLS_PER_SERVER`` slots of its server, and when the server says "slow down" (a throttled
``ProviderError``) every calendar of that server waits, growing the pause while it keeps saying so.

- The slots are locks that die with their holder (``multical.lib.locks``): a worker killed mid-sync
  frees its slot at once, and no expiry has to be guessed.
- The pause is a cache entry: losing it only means asking the server once more too soon.
- The "server" of a small CalDAV server or a feed is its host. Big services that throttle per
  account rather than per machine (iCloud, Google's and Microsoft's feeds) are paced per
  connection instead, so that one account's polls never hold up another's.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache

from calendars.models import Connection
from calendars.selectors import connection_secrets
from multical.lib import locks
from multical.lib.retry import backoff_seconds

# Hosts (and their subdomains) of services that throttle per account: paced per connection.
PER_ACCOUNT_HOSTS = (
    "icloud.com",
    "me.com",
    "google.com",
    "office365.com",
    "outlook.com",
    "live.com",
)
# How long after a pause its strikes are remembered: a server that has not asked us to slow down
# for this long starts again from the shortest pause.
STRIKES_KEPT_SECONDS = 10 * 60


def server_of(connection: Connection) -> str:
    """The server a connection's syncs are paced by, or "" when they are not paced (providers
    with push and their own per-account limits)."""
    if connection.kind == Connection.Kind.ICLOUD:
        return f"account:{connection.id}"
    if connection.kind == Connection.Kind.CALDAV:
        url = connection.server_url
    elif connection.kind == Connection.Kind.ICS:
        url = _feed_url(connection)
    else:
        return ""
    host = (urlsplit(url).hostname or "").lower()
    if not host:
        return ""
    if any(host == big or host.endswith(f".{big}") for big in PER_ACCOUNT_HOSTS):
        return f"account:{connection.id}"
    return f"host:{host}"


def _feed_url(connection: Connection) -> str:
    """The feed's address (kept sealed: links embed their tokens); only its host is used."""
    return connection_secrets(connection).get("url", "")


@contextmanager
def server_slot(server: str) -> Iterator[bool]:
    """Hold one of the server's slots for the length of the block if one is free; yield whether
    one is held. Slots are tried from a random one, so waiting syncs spread over them."""
    cap = max(settings.SYNC_POLLS_PER_SERVER, 1)
    first = random.randrange(cap)  # noqa: S311 - spreading, not secrecy
    for number in range(cap):
        with locks.try_lock(f"poll-slot:{server}:{(first + number) % cap}") as held:
            if held:
                yield True
                return
    yield False


def paused(servers: Iterable[str]) -> dict[str, float]:
    """Seconds each paused server's pause still lasts, read in one round trip (servers not
    paused are left out)."""
    keys = {_pause_key(server): server for server in servers}
    now = time.time()
    ends = {keys[key]: _read(kept)[0] for key, kept in cache.get_many(list(keys)).items()}
    return {server: until - now for server, until in ends.items() if until > now}


def pause(server: str, retry_after: float | None) -> float:
    """The server said "slow down": pause every sync of it, longer with each strike that comes
    within ``STRIKES_KEPT_SECONDS`` of the last pause's end, never shorter than it asked.
    Returns the pause in seconds."""
    _, strikes = _pause(server)
    seconds = backoff_seconds(strikes, retry_after)
    cache.set(
        _pause_key(server),
        [time.time() + seconds, strikes + 1],
        timeout=int(seconds) + STRIKES_KEPT_SECONDS,
    )
    return seconds


def _pause(server: str) -> tuple[float, int]:
    """When the server's pause ends (epoch seconds) and how many strikes it has had."""
    return _read(cache.get(_pause_key(server)))


def _read(kept: list[float] | None) -> tuple[float, int]:
    """A kept pause as (its end in epoch seconds, its strikes); none as (0, 0)."""
    if not kept:
        return 0.0, 0
    until, strikes = kept
    return float(until), int(strikes)


def retry_soon() -> float:
    """Seconds to wait before trying a server whose slots were all taken."""
    return random.uniform(2.0, 5.0)  # noqa: S311 - spreading, not secrecy


def _pause_key(server: str) -> str:
    return f"poll-pause:{server}"
