"""Which connections work is done through, and which are being let go: one definition."""

from __future__ import annotations

import pytest

from calendars.models import Connection
from tests.factories import ConnectionFactory

Status = Connection.Status


@pytest.fixture
def one_of_each(owner):
    return {status: ConnectionFactory(user=owner, status=status) for status in Status}


def test_working_and_passing_failures_are_usable_refused_and_released_ones_are_not(one_of_each):
    usable = {connection.status for connection in Connection.objects.usable()}

    assert usable == {Status.OK, Status.ERROR}
    assert {status for status, connection in one_of_each.items() if connection.is_usable} == usable


def test_disconnected_and_removing_ones_are_released_and_the_rest_held(one_of_each):
    released = {connection.status for connection in Connection.objects.released()}
    held = {connection.status for connection in Connection.objects.held()}

    assert released == {Status.DISCONNECTED, Status.REMOVING}
    assert held == set(Status) - released
