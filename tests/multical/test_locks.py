"""Many locks at once (``multical.lib.locks.try_locks``): those free are taken in one round trip,
those another session holds are not, some can be given back early, and the rest go at the end."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from multical.lib import locks
from tests.syncrules.test_tasks import other_session_holding

pytestmark = pytest.mark.django_db

NAMES = ["batch:a", "batch:b", "batch:c"]


def test_the_free_locks_are_taken_in_one_round_trip_and_given_back_in_groups():
    other = other_session_holding("batch:b")
    try:
        with CaptureQueriesContext(connection) as queries, locks.try_locks(NAMES) as held:
            assert held.names == {"batch:a", "batch:c"}
            assert len(queries) == 1
            assert locks.held(NAMES) == set(NAMES)  # ours, and the other session's
            held.release(["batch:a", "batch:b"])  # one not ours is left alone
            assert locks.held(NAMES) == {"batch:b", "batch:c"}
            with locks.try_lock("batch:a") as again:
                assert again
        assert locks.held(NAMES) == {"batch:b"}
    finally:
        # Given back by the other session itself: a closed session's locks go only once its
        # server process has ended, which is not at once.
        other.execute("SELECT pg_advisory_unlock_all()")
        other.close()
    assert locks.held(NAMES) == set()
