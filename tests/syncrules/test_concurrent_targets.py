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
from tests.syncrules.torture.sides import GoogleSide, MicrosoftSide
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


def first_create_syncs_the_target_meanwhile(calendar: Calendar, done: list[Exception | None]):  # type: ignore[no-untyped-def]
    """A fault for the first block created (POST, or a CalDAV PUT): once it has landed, and before
    it is answered, ``calendar`` is synced by another worker."""
    fired = threading.Event()

    def decide(method: str, path: str, *count: int) -> Fault | None:
        if method in ("POST", "PUT") and not fired.is_set():
            fired.set()
            return Fault(after=sync_meanwhile(calendar, done))
        return None

    return decide


def mesh_with(world, name: str, calendar: Calendar) -> list[Exception | None]:  # type: ignore[no-untyped-def]
    """Work (Radicale) and ``calendar`` block each other, with one event in Work; returns the list
    the other worker's sync reports into (see ``sync_meanwhile``)."""
    world.calendars[name] = calendar
    world.rule(["Work"], [name])
    world.rule([name], ["Work"])
    world.put("Work", "standup", soon(1, 9))
    return []


def assert_not_copied_back(world, done: list[Exception | None]) -> None:  # type: ignore[no-untyped-def]
    world.sync("Work")
    assert done == [None]  # the other worker's sync ran, and ran cleanly
    assert world.blocks("Work") == []  # it knew the new block for ours
    assert Block.objects.count() == 1


def test_a_microsoft_target_synced_before_its_new_block_is_answered_does_not_copy_it_back(
    radicale_server, owner, microsoft_fake
):
    world = make_world(radicale_server, owner, ["Work"])
    outlook = MicrosoftSide("Outlook", microsoft_fake, owner, "ada@contoso.example").calendar
    done = mesh_with(world, "Outlook", outlook)
    microsoft_fake.graph.faults.decide = first_create_syncs_the_target_meanwhile(outlook, done)

    assert_not_copied_back(world, done)
    world.sync("Outlook", "Work")  # and no later read mistakes it either
    assert world.blocks("Work") == []
    assert Block.objects.count() == 1


def test_a_google_target_synced_before_its_new_block_is_answered_does_not_copy_it_back(
    radicale_server, owner, google_fake
):
    world = make_world(radicale_server, owner, ["Work"])
    family = GoogleSide("Family", google_fake, owner, google_fake.email).calendar
    done = mesh_with(world, "Family", family)
    google_fake.faults.decide = first_create_syncs_the_target_meanwhile(family, done)

    assert_not_copied_back(world, done)


def test_a_caldav_target_synced_before_its_new_block_is_answered_does_not_copy_it_back(
    radicale_server, owner, fault_proxy
):
    world = make_world(radicale_server, owner, ["Work"])
    home = make_world(radicale_server, owner, ["Home"], server_url=fault_proxy.url).calendars[
        "Home"
    ]
    done = mesh_with(world, "Home", home)
    fault_proxy.fault = first_create_syncs_the_target_meanwhile(home, done)

    assert_not_copied_back(world, done)
