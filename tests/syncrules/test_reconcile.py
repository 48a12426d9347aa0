"""Reconciliation reads the targets: blocks deleted, moved or copied by hand in a target calendar
(a real Radicale) are put back where their source says, and the rows match the calendar."""

from __future__ import annotations

from urllib.parse import urljoin

import icalendar
import pytest

from integrations.base import MARKER_PROPERTY
from syncrules import reconcile, tasks
from syncrules.models import Block
from tests.syncrules.test_engine import assert_no_orphans_or_duplicates, block_times, own_times
from tests.syncrules.world import World, make_world, soon

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(radicale_server, owner) -> World:
    world = make_world(radicale_server, owner, ["Work", "Personal"])
    world.rule(["Personal"], ["Work"])
    world.put("Personal", "dentist", soon(1, 10))
    world.put("Personal", "school-run", soon(2, 8))
    world.put("Personal", "gym", soon(3, 18))
    world.sync("Personal")
    assert len(world.blocks("Work")) == 3
    return world


def block_objects(world: World) -> dict[str, str]:
    """Block id → the object's URL, for the blocks in Work."""
    found = {}
    for path in world.server.list_objects(world.account, world.url("Work")):
        url = urljoin(world.server.url, path)
        data = world.server.read_object(world.account, url)
        for event in icalendar.Calendar.from_ical(data).walk("VEVENT"):
            if MARKER_PROPERTY in event:
                found[str(event[MARKER_PROPERTY])] = url
    return found


def reconcile_and_resync(world: World) -> None:
    """What the nightly pass does: reconcile the target, then read the sources it names."""
    sources = reconcile.reconcile_target(world.calendars["Work"])
    for source_id in sources:
        assert source_id == str(world.calendars["Personal"].id)
        world.sync("Personal", full=True)


def test_a_block_deleted_by_hand_is_written_again(world):
    block_id, url = next(iter(block_objects(world).items()))
    world.server.delete_object(world.account, url)
    world.sync("Personal", full=True)  # the nightly full read of the source alone does not see it
    assert len(world.blocks("Work")) == 2

    reconcile_and_resync(world)

    assert block_times(world, "Work") == own_times(world, "Personal")
    assert str(Block.objects.get(id=block_id).id) in block_objects(world)
    assert_no_orphans_or_duplicates(world)


def test_a_block_moved_by_hand_is_moved_back(world):
    block_id, url = next(iter(block_objects(world).items()))
    data = world.server.read_object(world.account, url).decode()
    block = Block.objects.get(id=block_id)
    moved = data.replace(f"DTSTART:{block.start:%Y%m%dT%H%M%SZ}", "DTSTART:20990101T090000Z")
    moved = moved.replace(f"DTEND:{block.end:%Y%m%dT%H%M%SZ}", "DTEND:20990101T100000Z")
    assert moved != data
    world.server.put_object(world.account, world.url("Work"), url.rsplit("/", 1)[1], moved)

    reconcile_and_resync(world)

    assert block_times(world, "Work") == own_times(world, "Personal")
    assert_no_orphans_or_duplicates(world)


def test_a_copy_of_a_block_and_a_block_without_a_row_are_removed(world):
    block_id, url = next(iter(block_objects(world).items()))
    data = world.server.read_object(world.account, url).decode()
    uid = next(line for line in data.splitlines() if line.startswith("UID:"))
    # A client's copy gets a UID of its own and keeps the other properties, our marker included.
    copy = data.replace(uid, "UID:copy-made-in-a-client")
    world.server.put_object(world.account, world.url("Work"), "copy.ics", copy)
    orphan = data.replace(uid, "UID:orphan").replace(
        block_id, "7b4a1f3e-0000-4000-8000-000000000001"
    )
    world.server.put_object(world.account, world.url("Work"), "orphan.ics", orphan)
    assert len(world.blocks("Work")) == 5

    reconcile_and_resync(world)

    assert block_times(world, "Work") == own_times(world, "Personal")
    assert_no_orphans_or_duplicates(world)


def test_an_untouched_target_costs_no_write(world, radicale_server):
    before = {
        url: world.server.read_object(world.account, url) for url in block_objects(world).values()
    }

    assert reconcile.reconcile_target(world.calendars["Work"]) == set()

    assert {
        url: world.server.read_object(world.account, url) for url in block_objects(world).values()
    } == before


def test_the_nightly_pass_reconciles_every_target(world, enqueued, monkeypatch):
    reconciled = []
    monkeypatch.setattr(tasks.reconcile_target, "delay", reconciled.append)

    tasks.reconcile_all()

    assert reconciled == [str(world.calendars["Work"].id)]


def test_the_nightly_pass_puts_back_a_block_deleted_by_hand(
    world, run_tasks_inline, django_capture_on_commit_callbacks
):
    url = next(iter(block_objects(world).values()))
    world.server.delete_object(world.account, url)

    with run_tasks_inline():
        tasks.reconcile_all()

    assert block_times(world, "Work") == own_times(world, "Personal")
    assert_no_orphans_or_duplicates(world)
