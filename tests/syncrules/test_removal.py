"""One policy for taking blocks out of calendars (``syncrules.removal``), whoever asks: the clean-up
of stale blocks, a disconnected or removed account, a deleted account. Against a real Radicale
behind the fault proxy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.utils import timezone

from calendars.models import Connection
from calendars.services import connection_disconnect, connection_remove
from multical.lib.retry import RETRY_LIMIT
from syncrules import engine, tasks
from syncrules.models import Block, SyncRule
from syncrules.removal import remove_blocks
from tests.syncrules.world import World, make_world, soon

pytestmark = pytest.mark.django_db

EVENTS = 3


@pytest.fixture
def world(radicale_server, owner, fault_proxy) -> World:
    """Blocks copied from Personal into Work, both reached through the fault proxy."""
    world = make_world(radicale_server, owner, ["Work", "Personal"], server_url=fault_proxy.url)
    world.rule(["Personal"], ["Work"], name="Personal into Work")
    for number in range(EVENTS):
        world.put("Personal", f"event-{number}", soon(1 + number, 9 + number))
    world.sync("Personal")
    assert len(world.blocks("Work")) == EVENTS
    return world


def down(status: int):
    return lambda method, path, count: status if method == "DELETE" else None


def fetch(connection: Connection) -> Connection | None:
    return Connection.objects.filter(id=connection.id).first()


def ordered_blocks():
    return Block.objects.select_related("target_calendar__connection__user").order_by(
        "target_calendar_id"
    )


def test_a_disconnect_waits_out_a_server_that_is_down_then_finishes(
    world, fault_proxy, django_capture_on_commit_callbacks
):
    fault_proxy.fault = down(503)
    with django_capture_on_commit_callbacks():  # the task is run by hand below
        connection_disconnect(connection=world.connection, ip_address=None)

    left = engine.release_connection(str(world.connection.id))

    assert left is not None and left.left == EVENTS
    assert fault_proxy.seen["DELETE"] == 1  # one failure leaves the connection's other blocks
    assert fetch(world.connection).secrets != ""  # kept, to try again
    assert Block.objects.count() == EVENTS and len(world.blocks("Work")) == EVENTS

    fault_proxy.reset()
    assert engine.release_connection(str(world.connection.id)) is None

    assert world.blocks("Work") == []
    assert not Block.objects.exists()
    assert fetch(world.connection).secrets == ""


def test_the_task_retries_a_release_with_backoff_and_its_last_try_lets_go(
    world, fault_proxy, run_tasks_inline
):
    fault_proxy.fault = down(503)
    with pytest.raises(Retry), run_tasks_inline():
        connection_remove(connection=world.connection, ip_address=None)
    assert fetch(world.connection) is not None

    tasks.release_connection.apply(args=[str(world.connection.id)], retries=RETRY_LIMIT)

    assert fetch(world.connection) is None  # removed, though the server never took the blocks
    assert not Block.objects.exists()
    assert len(world.blocks("Work")) == EVENTS  # what honestly could not be done
    assert fault_proxy.seen["DELETE"] == 2  # the first try and the last


def test_only_releases_that_outlived_their_task_are_resumed_and_those_give_up_at_once(
    world, fault_proxy, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        connection_disconnect(connection=world.connection, ip_address=None)
    assert engine.unfinished_release_ids() == []  # its task is on it

    long_ago = timezone.now() - engine.STALLED_RELEASE - timedelta(minutes=1)
    Connection.objects.filter(id=world.connection.id).update(released_at=long_ago)
    assert engine.unfinished_release_ids() == [str(world.connection.id)]

    fault_proxy.fault = down(503)
    assert engine.release_connection(str(world.connection.id)) is None
    assert fetch(world.connection).secrets == ""
    assert engine.unfinished_release_ids() == []


def test_a_stale_block_on_a_connection_that_refuses_is_kept_and_the_user_asked_to_reconnect(
    world, fault_proxy
):
    SyncRule.objects.filter(name="Personal into Work").update(enabled=False)
    fault_proxy.fault = down(401)

    assert engine.remove_stale_blocks() == 0

    connection = fetch(world.connection)
    assert connection.status == Connection.Status.NEEDS_RECONNECT
    assert fault_proxy.seen["DELETE"] == 1
    assert Block.objects.count() == EVENTS  # removed once the user reconnects

    fault_proxy.reset()
    assert engine.remove_stale_blocks() == 0  # not while it needs reconnecting
    Connection.objects.filter(id=world.connection.id).update(status=Connection.Status.OK)
    assert engine.remove_stale_blocks() == EVENTS
    assert world.blocks("Work") == []


def test_blocks_of_an_account_being_deleted_that_the_server_refuses_are_forgotten(
    world, fault_proxy, owner
):
    owner.deletion_requested_at = timezone.now()
    owner.save(update_fields=["deletion_requested_at"])
    fault_proxy.fault = down(403)

    removal = remove_blocks(ordered_blocks())

    assert (removal.removed, removal.forgotten, removal.left) == (0, EVENTS, 0)
    assert not Block.objects.exists()


def test_a_throttled_clean_up_leaves_the_blocks_and_asks_nobody_to_reconnect(world, fault_proxy):
    SyncRule.objects.filter(name="Personal into Work").update(enabled=False)
    fault_proxy.fault = down(429)

    removal = remove_blocks(ordered_blocks())

    assert (removal.removed, removal.forgotten, removal.left) == (0, 0, EVENTS)
    assert fetch(world.connection).status != Connection.Status.NEEDS_RECONNECT
