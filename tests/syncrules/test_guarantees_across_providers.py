"""The mass-deletion guard and target reconciliation on Google and Microsoft 365 (the fakes of
their APIs, driven by the real client libraries); Radicale has its own tests
(test_mass_deletion.py, test_reconcile.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from syncrules import reconcile, tasks
from syncrules.models import Block, SyncRun, SyncState
from tests.syncrules.torture.model import EventSpec
from tests.syncrules.torture.sides import GoogleSide, MicrosoftSide, Side
from tests.syncrules.world import make_world, soon

pytestmark = pytest.mark.django_db
EVENTS = 20


@pytest.fixture(params=["google", "microsoft"])
def provider_side(request, owner) -> Side:
    if request.param == "google":
        fake = request.getfixturevalue("google_fake")
        return GoogleSide("Cloud", fake, owner, fake.email)
    fake = request.getfixturevalue("microsoft_fake")
    return MicrosoftSide("Cloud", fake, owner, "ada@contoso.example")


def event(number: int) -> EventSpec:
    start = soon(1 + number % 10, 8 + number % 9)
    return EventSpec(start=start, end=start + timedelta(hours=1), title=f"Meeting {number}")


def sync(calendar_id) -> None:  # type: ignore[no-untyped-def]
    tasks.enqueue_calendar_sync(calendar_id)
    tasks.sync_calendar.run(str(calendar_id))


def test_most_events_vanishing_at_the_provider_hold_their_deletions_until_confirmed(
    provider_side, radicale_server, owner, enqueued, settings
):
    settings.MASS_DELETION_CONFIRM_SECONDS = 120
    world = make_world(radicale_server, owner, ["Work"])
    world.calendars["Cloud"] = provider_side.calendar
    world.rule(["Cloud"], ["Work"])
    for number in range(EVENTS):
        provider_side.put(f"event-{number}", event(number))
    sync(provider_side.calendar.id)
    assert len(world.blocks("Work")) == EVENTS

    for number in range(16):
        provider_side.delete(f"event-{number}")
    sync(provider_side.calendar.id)

    assert len(world.blocks("Work")) == EVENTS
    assert SyncRun.objects.order_by("-started_at").first().deletions_held == 16
    held = SyncState.objects.get(calendar_id=provider_side.calendar.id)
    SyncState.objects.filter(calendar_id=held.calendar_id).update(
        deletions_held_at=held.deletions_held_at - timedelta(seconds=121), retry_at=timezone.now()
    )
    tasks.sync_calendar.run(str(provider_side.calendar.id))

    assert len(world.blocks("Work")) == 4
    assert SyncRun.objects.order_by("-started_at").first().deletions_confirmed
    assert len(mail.outbox) == 1


def test_blocks_deleted_or_moved_by_hand_at_the_provider_are_put_back(
    provider_side, radicale_server, owner
):
    world = make_world(radicale_server, owner, ["Work"])
    world.calendars["Cloud"] = provider_side.calendar
    world.rule(["Work"], ["Cloud"])
    for number in range(3):
        world.put("Work", f"work-{number}", soon(1 + number, 9 + number))
    world.sync("Work")
    before = sorted((seen.shown.start, seen.shown.end) for seen in provider_side.blocks())
    assert len(before) == 3

    first, second = provider_side.blocks()[:2]
    provider_side.hand_delete(first.ref)
    provider_side.hand_move(second.ref, timedelta(hours=3))
    world.sync("Work", full=True)  # reading the source alone does not see it
    assert sorted((s.shown.start, s.shown.end) for s in provider_side.blocks()) != before

    for source_id in reconcile.reconcile_target(provider_side.calendar):
        assert source_id == str(world.calendars["Work"].id)
        world.sync("Work", full=True)

    assert sorted((s.shown.start, s.shown.end) for s in provider_side.blocks()) == before
    rows = set(map(str, Block.objects.values_list("id", flat=True)))
    assert {seen.block_id for seen in provider_side.blocks()} == rows
