"""End to end with two real Celery worker processes, for each provider: a calendar there and a
Radicale calendar block each other while push notifications (and polls, for CalDAV) arrive as the
blocks are being written. The provider notifies the live server for every write that lands in
the calendar it watches, before the write is even answered, as Google and Graph may; the
webhook queues a sync through Redis, and whichever worker is free takes it. Once everything has
settled, the oracle of the torture test judges both calendars."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import connection, connections

from calendars import push
from calendars.models import Calendar
from multical.lib import locks
from syncrules import state, tasks
from syncrules.models import SyncState
from tests.conftest import start_celery_worker, stop_celery_worker
from tests.fakes.faults import Fault
from tests.fakes.google import google_settings
from tests.fakes.microsoft import IdentityRelay
from tests.syncrules.torture.model import EventSpec, Model, RuleSpec, Verdict, judge
from tests.syncrules.torture.sides import CalDAVSide, GoogleSide, MicrosoftSide, Side
from tests.syncrules.world import make_world, soon

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
EVENTS = 6


class Mesh:
    """Two calendars that block each other, as the owner sees them and as the oracle judges."""

    def __init__(self, one: Side, other: Side) -> None:
        self.sides = {one.name: one, other.name: other}
        self.model = Model(
            events={one.name: {}, other.name: {}},
            rules=[
                RuleSpec(f"{one.name} to {other.name}", one.name, other.name),
                RuleSpec(f"{other.name} to {one.name}", other.name, one.name, created=1),
            ],
        )

    def put(self, side: str, key: str, event: EventSpec) -> None:
        self.sides[side].put(key, event)
        self.model.events[side][key] = event

    def delete(self, side: str, key: str) -> None:
        self.sides[side].delete(key)
        del self.model.events[side][key]

    def verdict(self) -> Verdict:
        from syncrules.models import Block

        seen = {name: side.blocks() for name, side in self.sides.items()}
        verdict = Verdict()
        for name, side in self.sides.items():
            rows = [
                (str(block_id), *rest)
                for block_id, *rest in Block.objects.filter(
                    target_calendar=side.calendar
                ).values_list("id", "target_event_id", "start", "end", "all_day", "state")
            ]
            verdict.add(judge(self.model, name, seen, rows))
        return verdict


def rules_between(world, one: Calendar, other: Calendar) -> None:  # type: ignore[no-untyped-def]
    world.calendars.update({"one": one, "other": other})
    world.rule(["one"], ["other"], name="one to other")
    world.rule(["other"], ["one"], name="other to one")


def event(number: int, title: str) -> EventSpec:
    start = soon(1 + number % 5, 8 + number)
    return EventSpec(start=start, end=start + timedelta(minutes=45), title=f"{title} {number}")


def settled(calendars: list[Calendar], *, timeout: float = 90) -> None:
    """Wait until no sync is asked for or running, and it stays so for a moment."""
    names = [state.sync_lock_name(str(calendar.id)) for calendar in calendars]
    deadline, quiet_since = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        pending = any(
            sync_state.pending for sync_state in SyncState.objects.filter(calendar__in=calendars)
        )
        if pending or locks.held(names):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 2:
            return
        time.sleep(0.1)
    raise AssertionError("the workers did not settle")


def run_mesh(mesh: Mesh, tmp_path, env: dict[str, str], poll) -> None:  # type: ignore[no-untyped-def]
    """Two workers; a first wave of events on both sides, then moves and deletes."""
    workers = [
        start_celery_worker(tmp_path / f"worker-{n}.log", connection.settings_dict["NAME"], env=env)
        for n in range(2)
    ]
    one, other = mesh.sides
    calendars = [side.calendar for side in mesh.sides.values()]
    try:
        for number in range(EVENTS):
            mesh.put(one, f"{one.lower()}-{number}", event(number, "Standup"))
            mesh.put(other, f"{other.lower()}-{number}", event(number, "School run"))
        poll()
        settled(calendars)
        first = mesh.verdict()
        assert first.clean, "\n".join(first.details)
        assert sum(len(side.blocks()) for side in mesh.sides.values()) == 2 * EVENTS

        for number in range(0, EVENTS, 2):
            moved = event(number, "Standup")
            moved = EventSpec(
                start=moved.start + timedelta(hours=1),
                end=moved.end + timedelta(hours=1),
                title=moved.title,
            )
            mesh.put(one, f"{one.lower()}-{number}", moved)
            mesh.delete(other, f"{other.lower()}-{number + 1}")
        poll()
        settled(calendars)
        second = mesh.verdict()
        assert second.clean, "\n".join(second.details)
    finally:
        for worker in workers:
            stop_celery_worker(worker)
    logs = [(tmp_path / f"worker-{n}.log").read_text() for n in range(2)]
    assert sum(log.count("syncrules.tasks.sync_calendar") for log in logs) > 2


def test_google_and_caldav_with_two_workers_and_push_while_blocks_are_written(
    radicale_server, owner, google_fake, live_server, settings, tmp_path
):
    settings.SITE_URL = live_server.url
    world = make_world(radicale_server, owner, ["Work"])
    work, family = (
        CalDAVSide("Work", world),
        GoogleSide("Family", google_fake, owner, "o@x.example"),
    )
    rules_between(world, work.calendar, family.calendar)
    push.calendar_watch(Calendar.objects.select_related("connection").get(id=family.calendar.id))
    channel = Calendar.objects.get(id=family.calendar.id).push_channel_id

    def every_write_into_family_notifies(method: str, path: str) -> Fault | None:
        if family.owns(path):
            return Fault(after=lambda port: google_fake.push(channel))
        return None

    google_fake.faults.decide = every_write_into_family_notifies

    def poll() -> None:
        google_fake.push(channel)  # the owner's own changes notify too
        tasks.enqueue_calendar_sync(work.calendar.id)  # Work is polled

    run_mesh(Mesh(work, family), tmp_path, google_settings(google_fake), poll)


def test_microsoft_and_caldav_with_two_workers_and_push_while_blocks_are_written(
    radicale_server, owner, microsoft_fake, live_server, settings, tmp_path
):
    settings.SITE_URL = live_server.url
    world = make_world(radicale_server, owner, ["Work"])
    work = CalDAVSide("Work", world)
    outlook = MicrosoftSide("Outlook", microsoft_fake, owner, "ada@contoso.example")
    rules_between(world, work.calendar, outlook.calendar)
    push.calendar_watch(Calendar.objects.select_related("connection").get(id=outlook.calendar.id))
    subscription = Calendar.objects.get(id=outlook.calendar.id).push_resource_id

    def every_write_into_outlook_notifies(method: str, path: str) -> Fault | None:
        if outlook.owns(path):
            return Fault(after=lambda port: microsoft_fake.graph.notify(subscription))
        return None

    microsoft_fake.graph.faults.decide = every_write_into_outlook_notifies

    def poll() -> None:
        microsoft_fake.graph.notify(subscription)
        tasks.enqueue_calendar_sync(work.calendar.id)

    relay = IdentityRelay(microsoft_fake.identity)
    env = {
        "MICROSOFT_AUTHORITY": microsoft_fake.authority,
        "MICROSOFT_GRAPH_URL": microsoft_fake.graph_url,
        "MICROSOFT_CLIENT_ID": microsoft_fake.identity.client_id,
        "MICROSOFT_CLIENT_SECRET": microsoft_fake.identity.client_secret,
        "MULTICAL_TEST_IDENTITY_RELAY": relay.url,
    }
    try:
        run_mesh(Mesh(work, outlook), tmp_path, env, poll)
    finally:
        relay.stop()


def test_two_caldav_calendars_with_two_workers_and_polls_while_blocks_are_written(
    radicale_server, owner, fault_proxy, tmp_path
):
    world = make_world(radicale_server, owner, ["Work"])
    proxied = make_world(radicale_server, owner, ["Home"], server_url=fault_proxy.url)
    work, home = CalDAVSide("Work", world), CalDAVSide("Home", proxied)
    rules_between(world, work.calendar, home.calendar)

    def poll_home(port: int) -> None:
        try:
            tasks.enqueue_calendar_sync(home.calendar.id)
        finally:
            connections.close_all()  # the proxy's thread leaves no session behind

    def every_write_into_home_polls(method: str, path: str, count: int) -> Fault | None:
        if method in ("PUT", "DELETE") and home.owns(path):
            return Fault(after=poll_home)
        return None

    fault_proxy.fault = every_write_into_home_polls

    def poll() -> None:
        tasks.enqueue_calendar_sync(work.calendar.id)
        tasks.enqueue_calendar_sync(home.calendar.id)

    run_mesh(Mesh(work, home), tmp_path, {}, poll)
