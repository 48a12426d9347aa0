"""Loop prevention against the race of issue 13, item 1: a block written into a calendar is ours
from the instant it exists, for a sync of that calendar that runs before the writer has even
heard back from the provider (another worker, woken by the provider's notification)."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from calendars.models import Calendar
from syncrules import engine
from syncrules.models import Block
from tests.fakes.faults import Fault
from tests.syncrules.world import make_world, soon

pytestmark = pytest.mark.django_db(transaction=True)


def sync_meanwhile(calendar: Calendar, done: list[Exception | None]):  # type: ignore[no-untyped-def]
    """A hook for the k-th write: the calendar written into is synced by another worker (another
    thread, its own database session) before the write is answered."""

    def sync(port: int) -> None:
        try:
            engine.sync_source_calendar(
                Calendar.objects.select_related("connection").get(id=calendar.id)
            )
            done.append(None)
        except Exception as error:  # the test reads it
            done.append(error)
        finally:
            connections.close_all()

    return sync


def test_a_microsoft_target_synced_before_its_new_block_is_answered_does_not_copy_it_back(
    radicale_server, owner, microsoft_fake
):
    from calendars.models import Connection
    from multical.lib import vault
    from tests.syncrules.torture.sides import MicrosoftSide

    world = make_world(radicale_server, owner, ["Work"])
    outlook = MicrosoftSide("Outlook", microsoft_fake, owner, "ada@contoso.example").calendar
    world.calendars["Outlook"] = outlook
    world.rule(["Work"], ["Outlook"])
    world.rule(["Outlook"], ["Work"])
    world.put("Work", "standup", soon(1, 9))
    done: list[Exception | None] = []
    fired = threading.Event()

    def decide(method: str, path: str) -> Fault | None:
        if method == "POST" and not fired.is_set():
            fired.set()
            return Fault(after=sync_meanwhile(outlook, done))
        return None

    microsoft_fake.graph.faults.decide = decide
    world.sync("Work")

    assert fired.is_set() and done == [None]
    assert world.blocks("Work") == []  # Outlook's sync saw the block and knew it for ours
    assert Block.objects.count() == 1
    world.sync("Outlook", "Work")
    assert world.blocks("Work") == []
    assert Block.objects.count() == 1
    assert Connection.objects.filter(kind="microsoft").exists() and vault


def test_a_google_target_synced_before_its_new_block_is_answered_does_not_copy_it_back(
    radicale_server, owner, google_fake
):
    from tests.syncrules.torture.sides import GoogleSide

    world = make_world(radicale_server, owner, ["Work"])
    family = GoogleSide("Family", google_fake, owner, google_fake.email).calendar
    world.calendars["Family"] = family
    world.rule(["Work"], ["Family"])
    world.rule(["Family"], ["Work"])
    world.put("Work", "standup", soon(1, 9))
    done: list[Exception | None] = []
    fired = threading.Event()

    def decide(method: str, path: str) -> Fault | None:
        if method == "POST" and not fired.is_set():
            fired.set()
            return Fault(after=sync_meanwhile(family, done))
        return None

    google_fake.faults.decide = decide
    world.sync("Work")

    assert fired.is_set() and done == [None]
    assert world.blocks("Work") == []
    assert Block.objects.count() == 1


def test_a_caldav_target_synced_before_its_new_block_is_answered_does_not_copy_it_back(
    radicale_server, owner, fault_proxy
):
    world = make_world(radicale_server, owner, ["Work"])
    other = make_world(radicale_server, owner, ["Home"], server_url=fault_proxy.url)
    home = other.calendars["Home"]
    world.calendars["Home"] = home
    world.rule(["Work"], ["Home"])
    world.rule(["Home"], ["Work"])
    world.put("Work", "standup", soon(1, 9))
    done: list[Exception | None] = []
    fired = threading.Event()

    def fault(method: str, path: str, count: int) -> Fault | None:
        if method == "PUT" and not fired.is_set():
            fired.set()
            return Fault(after=sync_meanwhile(home, done))
        return None

    fault_proxy.fault = fault
    world.sync("Work")

    assert fired.is_set() and done == [None]
    assert world.blocks("Work") == []
    assert Block.objects.count() == 1
