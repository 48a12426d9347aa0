"""Behind a pooler in transaction mode the sync locks keep a session of their own
(LOCKS_DATABASE_URL), so a pooler can never hand the session that holds a lock to another
transaction."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection

from multical.lib import locks

pytestmark = pytest.mark.django_db(transaction=True)

HOLDER = textwrap.dedent(
    """
    import sys
    import django
    django.setup()
    from django.conf import settings
    from django.db import connections
    from multical.lib import locks

    assert settings.DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] is True
    with locks.try_lock(sys.argv[1]) as held:
        assert held
        with connections["locks"].cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            locks_pid = cursor.fetchone()[0]
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            default_pid = cursor.fetchone()[0]
        print(locks_pid, default_pid, flush=True)
        sys.stdin.readline()  # hold the lock until the test says
    """
)


def test_locks_are_held_by_the_locks_session_not_the_pooled_one():
    url = urlsplit(settings.DATABASE_URL)._replace(path=f"/{connection.settings_dict['NAME']}")
    name = "pooler-test-lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, name],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": url.geturl(),
            "LOCKS_DATABASE_URL": url.geturl(),
            "DATABASE_TRANSACTION_POOLER": "true",
        },
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        locks_pid, default_pid = map(int, holder.stdout.readline().split())
        assert locks_pid != default_pid
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND (classid::bigint << 32) | objid::bigint = %s",
                [locks.lock_key(name)],
            )
            holders = {row[0] for row in cursor.fetchall()}
        assert holders == {locks_pid}
        assert locks.held([name]) == {name}
        with locks.try_lock(name) as taken:
            assert not taken
    finally:
        holder.communicate("\n", timeout=30)
    assert holder.returncode == 0
    assert locks.held([name]) == set()
