"""What the benchmarks share: a throwaway database, free ports, waiting for a server to answer."""

from __future__ import annotations

import os
import socket
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def throwaway_database(
    *, settings_module: str = "tests.settings", name: str | None = None
) -> Iterator[None]:
    """Django set up with ``settings_module`` on a fresh, migrated PostgreSQL database (named
    ``name``, else the settings' test database name), dropped on the way out whatever happens."""
    # Not setdefault: importing the multical package sets it to the production settings.
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django
    from django.db import connection
    from django.test.utils import setup_test_environment

    django.setup()
    setup_test_environment()
    if name is not None:
        connection.settings_dict["TEST"] = {
            **connection.settings_dict.get("TEST", {}),
            "NAME": name,
        }
    original = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(url: str, seconds: float = 60) -> None:
    """Return once ``url`` answers (any status below 400); RuntimeError after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")
