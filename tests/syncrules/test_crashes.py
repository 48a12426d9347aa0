"""Crashes in the middle of a sync, through the sync task as a worker runs it: what was asked is
done once the calendar is synced again, and a dead worker's lock holds nothing up."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace

import pytest
from django.db import connections

from integrations.caldav.provider import CalDAVProvider
from syncrules import services, tasks
from syncrules.models import Block, SyncRule
from tests.fakes.faults import Fault
from tests.syncrules.world import World, make_world, soon

SECRET = "Acquisition-of-Zephyrcorp"


@pytest.fixture
def world(radicale_server, owner, fault_proxy) -> World:
    world = make_world(radicale_server, owner, ["Personal"])
    target = make_world(radicale_server, owner, ["Work"], server_url=fault_proxy.url)
    world.calendars["Work"] = target.calendars["Work"]
    world.target = target  # type: ignore[attr-defined]  # Work's own account, for reading it
    world.rule(["Personal"], ["Work"], visibility="full", name="Everything")
    for number in range(6):
        world.put(
            "Personal", f"event-{number}", soon(1 + number, 9), title=SECRET, description=SECRET
        )
    return world


def revealing(world: World) -> int:
    return sum(SECRET in event.to_ical().decode() for event in world.target.blocks("Work"))


@pytest.mark.django_db
def test_a_privacy_downgrade_is_finished_after_a_crash_midway(
    world, enqueued, monkeypatch, django_capture_on_commit_callbacks
):
    personal = str(world.calendars["Personal"].id)
    world.sync("Personal")
    assert revealing(world) == 6
    rule = world.connection.user.sync_rules.get()
    settings = replace(services.RuleSettings.of(rule), visibility=SyncRule.Visibility.BUSY)
    with django_capture_on_commit_callbacks(execute=True):
        services.rule_update(
            rule=rule,
            settings=settings,
            sources=[world.calendars["Personal"]],
            targets=[world.calendars["Work"]],
        )
    put_block, calls = CalDAVProvider.put_block, []

    def crash_at_the_third_write(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the worker fell over")
        return put_block(self, *args, **kwargs)

    monkeypatch.setattr(CalDAVProvider, "put_block", crash_at_the_third_write)
    with pytest.raises(RuntimeError):
        tasks.sync_calendar.run(personal)
    assert 0 < revealing(world) < 6  # half done

    monkeypatch.setattr(CalDAVProvider, "put_block", put_block)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.enqueue_calendar_sync(personal)  # the next trigger, a poll say
    tasks.sync_calendar.run(personal)

    assert revealing(world) == 0
    assert [str(event["SUMMARY"]) for event in world.target.blocks("Work")] == ["Busy"] * 6


@pytest.mark.forks
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_sync_leaves_no_lock_in_the_way(world, enqueued, fault_proxy):
    personal = str(world.calendars["Personal"].id)
    tasks.enqueue_calendar_sync(personal)
    worker = {}

    def kill_the_writer(port: int) -> None:
        os.kill(worker["pid"], signal.SIGKILL)

    fault_proxy.fault = lambda method, path, count: (
        Fault(before=kill_the_writer, apply=False) if method == "PUT" and count == 3 else None
    )
    connections.close_all()
    pid = os.fork()
    if pid == 0:  # the worker that dies
        try:
            tasks.sync_calendar.run(personal)
        finally:
            os._exit(0)
    worker["pid"] = pid
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status)
    fault_proxy.reset()

    started = time.monotonic()
    tasks.enqueue_calendar_sync(personal)  # the sweeper, or the next notification
    tasks.sync_calendar.run(personal)

    assert len(world.target.blocks("Work")) == 6
    assert Block.objects.filter(state=Block.State.SYNCED).count() == 6
    assert time.monotonic() - started < 30
