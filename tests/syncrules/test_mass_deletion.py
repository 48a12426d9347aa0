"""The mass-deletion guard on a real Radicale, through the sync task: most of a source's events
vanishing at once holds their blocks' removal until a later full read confirms it, and says so.
(The same on Google and Microsoft: tests/syncrules/test_guarantees_across_providers.py.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from syncrules import tasks
from syncrules.models import Block, SyncRun, SyncState
from tests.syncrules.rule_page_helpers import client_for
from tests.syncrules.world import World, make_world, soon

pytestmark = pytest.mark.django_db
EVENTS = 40


@pytest.fixture
def world(radicale_server, owner, enqueued, settings) -> World:
    settings.MASS_DELETION_CONFIRM_SECONDS = 120
    world = make_world(radicale_server, owner, ["Work", "Personal"])
    world.rule(["Personal"], ["Work"])
    for number in range(EVENTS):
        world.put("Personal", f"event-{number}", soon(1 + number % 20, 8 + number % 9))
    sync(world)
    assert len(world.blocks("Work")) == EVENTS
    return world


def sync(world: World) -> None:
    """A trigger and the task it sends, as a notification or a poll would have them."""
    calendar_id = str(world.calendars["Personal"].id)
    tasks.enqueue_calendar_sync(calendar_id)
    tasks.sync_calendar.run(calendar_id)


def state(world: World) -> SyncState:
    return SyncState.objects.get(calendar_id=world.calendars["Personal"].id)


def time_passes(world: World, seconds: float) -> None:
    """Move the hold back in time, as if ``seconds`` had passed since it began."""
    held = state(world)
    SyncState.objects.filter(calendar_id=held.calendar_id).update(
        deletions_held_at=held.deletions_held_at - timedelta(seconds=seconds),
        retry_at=timezone.now(),
    )


def delete_most(world: World, count: int = 36) -> None:
    for number in range(count):
        world.delete("Personal", f"event-{number}")


def test_most_events_vanishing_holds_their_deletions_and_a_later_full_read_confirms_them(
    world, owner
):
    delete_most(world)

    sync(world)

    assert len(world.blocks("Work")) == EVENTS  # nothing removed on one read's word
    run = SyncRun.objects.order_by("-started_at").first()
    assert (run.deleted, run.deletions_held) == (0, 36)
    assert state(world).deletions_held == 36 and state(world).full_requested > 0
    html = client_for(owner).get(reverse("dashboard")).content.decode()
    assert "Multical is holding back the removal of their 36 blocks" in html

    sync(world)  # a notification soon after: changes only, the hold stays
    assert len(world.blocks("Work")) == EVENTS
    assert state(world).deletions_held == 36

    time_passes(world, 121)
    tasks.sync_calendar.run(str(world.calendars["Personal"].id))  # the confirming full read

    assert len(world.blocks("Work")) == 4
    assert Block.objects.count() == 4
    confirming = SyncRun.objects.order_by("-started_at").first()
    assert confirming.full_read and confirming.deletions_confirmed and confirming.deleted == 36
    assert state(world).deletions_held == 0 and not state(world).pending
    assert [message.subject for message in mail.outbox] == [
        "36 blocks removed: most events of Personal are gone"
    ]
    html = client_for(owner).get(reverse("dashboard")).content.decode()
    assert "their 36 blocks were removed" in html
    history = client_for(owner).get(reverse("syncrules:rule_detail", args=[confirming.rule_id]))
    assert "A second read confirmed the events are gone" in history.content.decode()


def test_events_back_by_the_confirming_read_keep_their_blocks(world):
    delete_most(world)
    sync(world)
    for number in range(36):  # the server's bad answer is over: the events are there again
        world.put("Personal", f"event-{number}", soon(1 + number % 20, 8 + number % 9))

    time_passes(world, 121)
    tasks.sync_calendar.run(str(world.calendars["Personal"].id))

    assert len(world.blocks("Work")) == EVENTS
    assert state(world).deletions_held == 0
    assert not mail.outbox


def test_the_confirming_read_waits_for_its_time(world):
    delete_most(world)
    sync(world)

    time_passes(world, 60)
    tasks.sync_calendar.run(str(world.calendars["Personal"].id))

    assert len(world.blocks("Work")) == EVENTS
    assert state(world).full_requested > state(world).full_served


def test_a_few_events_deleted_go_at_once(world):
    delete_most(world, count=4)

    sync(world)

    assert len(world.blocks("Work")) == EVENTS - 4
    run = SyncRun.objects.order_by("-started_at").first()
    assert (run.deleted, run.deletions_held) == (4, 0)


def test_the_e_mail_is_left_out_when_the_owner_turned_it_off(world, owner):
    owner.notify_sync_alerts = False
    owner.save(update_fields=["notify_sync_alerts"])
    delete_most(world)
    sync(world)
    time_passes(world, 121)

    tasks.sync_calendar.run(str(world.calendars["Personal"].id))

    assert len(world.blocks("Work")) == 4
    assert not mail.outbox


def test_the_threshold_is_configurable(world, settings):
    settings.MASS_DELETION_PERCENT = 95
    delete_most(world)

    sync(world)

    assert len(world.blocks("Work")) == 4
