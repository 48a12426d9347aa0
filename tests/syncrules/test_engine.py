"""The sync engine against a real Radicale: blocks follow their sources, no loops, no duplicates,
no orphans, and each rule's privacy holds in the target's raw iCalendar."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest

from calendars.models import Calendar, Connection
from integrations.base import MARKER_PROPERTY
from syncrules.models import Block, SyncRun
from tests.syncrules.world import World, make_world, soon

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(radicale_server, owner) -> World:
    return make_world(radicale_server, owner, ["Work", "Personal", "Clients"])


def block_times(world: World, name: str) -> Counter:
    return Counter((event.DTSTART, event.DTEND) for event in world.blocks(name))


def own_times(world: World, name: str) -> Counter:
    return Counter((event.DTSTART, event.DTEND) for event in world.own_events(name))


def assert_no_orphans_or_duplicates(world: World) -> None:
    """Every block in a calendar is a row of ours, once; every synced row is in its calendar once."""
    for name, calendar in world.calendars.items():
        markers = Counter(str(event[MARKER_PROPERTY]) for event in world.blocks(name))
        assert all(count == 1 for count in markers.values()), f"duplicate blocks in {name}"
        rows = {
            str(block_id)
            for block_id in Block.objects.filter(target_calendar=calendar).values_list(
                "id", flat=True
            )
        }
        assert set(markers) == rows, f"orphans in {name}"


def test_one_way_sync_copies_moves_edits_and_deletes(world):
    world.rule(["Personal"], ["Work"])
    world.put("Personal", "dentist", soon(1, 10))
    world.put("Personal", "school-run", soon(2, 8))

    world.sync("Personal")
    assert block_times(world, "Work") == own_times(world, "Personal")

    world.put("Personal", "dentist", soon(1, 14), minutes=90)  # moved and longer
    world.delete("Personal", "school-run")
    world.put("Personal", "gym", soon(3, 18))
    world.sync("Personal")

    assert block_times(world, "Work") == own_times(world, "Personal")
    assert Block.objects.count() == 2
    assert_no_orphans_or_duplicates(world)


def test_an_unchanged_source_writes_nothing(world, radicale_server):
    world.rule(["Personal"], ["Work"])
    world.put("Personal", "dentist", soon(1, 10))
    world.sync("Personal")
    before = {str(event[MARKER_PROPERTY]): event.to_ical() for event in world.blocks("Work")}

    world.sync("Personal", full=True)  # a full re-read renders the same blocks: no write

    run = SyncRun.objects.order_by("-started_at").first()
    assert (run.created, run.updated, run.deleted) == (0, 0, 0)
    assert {
        str(event[MARKER_PROPERTY]): event.to_ical() for event in world.blocks("Work")
    } == before


def test_busy_only_blocks_leak_nothing(world):
    world.rule(["Personal"], ["Work"], busy_title="Unavailable")
    world.put(
        "Personal",
        "secret",
        soon(1, 11),
        title="Therapy SECRET-TITLE-7f1",
        description="SECRET-DESC-2c9 https://zoom.us/j/123456789",
        location="SECRET-PLACE-9a0",
        extra="ATTENDEE;CN=Someone:mailto:secret-attendee@example.com",
    )
    world.sync("Personal")

    (block,) = world.blocks("Work")
    raw = block.to_ical().decode()
    assert str(block["SUMMARY"]) == "Unavailable"
    for secret in [
        "SECRET-TITLE",
        "SECRET-DESC",
        "SECRET-PLACE",
        "zoom.us",
        "secret-attendee",
        "ATTENDEE",
    ]:
        assert secret not in raw
    assert str(block["CLASS"]) == "PRIVATE"


def test_title_only_and_full_details_show_what_they_promise(world):
    world.rule(["Personal"], ["Work"], visibility="title")
    world.rule(["Personal"], ["Clients"], visibility="full", show_location=True)
    world.put(
        "Personal",
        "lunch",
        soon(1, 12),
        title="Lunch with Ana",
        description="Bring the contract https://meet.google.com/abc-defg-hij",
        location="Café Central https://zoom.us/j/99",
    )
    world.sync("Personal")

    (title_only,) = world.blocks("Work")
    assert str(title_only["SUMMARY"]) == "Lunch with Ana"
    assert "DESCRIPTION" not in title_only and "LOCATION" not in title_only
    (full,) = world.blocks("Clients")
    assert str(full["SUMMARY"]) == "Lunch with Ana"
    assert "Bring the contract" in str(full["DESCRIPTION"])
    assert "meet.google.com" not in str(full["DESCRIPTION"])  # video links stay out by default
    assert str(full["LOCATION"]).strip() == "Café Central"


def test_two_calendars_blocking_each_other_never_copy_a_copy(world):
    world.rule(["Work"], ["Personal"])
    world.rule(["Personal"], ["Work"])
    world.put("Work", "standup", soon(1, 9))
    world.put("Personal", "dentist", soon(1, 15))

    for _ in range(3):
        world.sync("Work", "Personal")

    assert block_times(world, "Personal") == own_times(world, "Work")
    assert block_times(world, "Work") == own_times(world, "Personal")
    assert Block.objects.count() == 2
    assert_no_orphans_or_duplicates(world)


def test_a_mesh_of_three_calendars_stays_exact_through_random_rounds(world):
    names = list(world.calendars)
    for name in names:
        world.rule([name], [other for other in names if other != name])
    rng = random.Random(20261120)
    live: dict[str, set[str]] = {name: set() for name in names}
    counter = 0

    for _ in range(20):
        for _ in range(rng.randint(1, 4)):
            name = rng.choice(names)
            action = rng.choice(["add", "add", "move", "edit", "delete"]) if live[name] else "add"
            if action == "add":
                counter += 1
                uid = f"{name.lower()}-{counter}"
                live[name].add(uid)
                world.put(
                    name, uid, soon(rng.randint(0, 20), rng.randint(6, 20)), title=f"Event {uid}"
                )
            elif action == "delete":
                uid = rng.choice(sorted(live[name]))
                live[name].discard(uid)
                world.delete(name, uid)
            else:
                uid = rng.choice(sorted(live[name]))
                world.put(
                    name, uid, soon(rng.randint(0, 20), rng.randint(6, 20)), title=f"{action} {uid}"
                )
        for name in rng.sample(names, len(names)):
            world.sync(name)

    for name in names:
        expected = sum((own_times(world, other) for other in names if other != name), Counter())
        assert block_times(world, name) == expected, name
        assert len(world.own_events(name)) == len(live[name])
    assert_no_orphans_or_duplicates(world)
    sources = {block.source_event_id for block in Block.objects.all()}
    block_hrefs = {block.target_event_id for block in Block.objects.all()}
    assert not sources & block_hrefs, "a block was copied as a source"


def test_a_recurring_series_with_a_moved_and_a_cancelled_instance(world):
    world.rule(["Personal"], ["Work"])
    first = soon(1, 7)
    world.put_raw(
        "Personal",
        "swim",
        "\r\n".join(
            [
                "BEGIN:VCALENDAR",
                "VERSION:2.0",
                "PRODID:-//tests//EN",
                "BEGIN:VEVENT",
                "UID:swim",
                "DTSTAMP:20260101T000000Z",
                f"DTSTART:{first:%Y%m%dT%H%M%SZ}",
                f"DTEND:{first + timedelta(hours=1):%Y%m%dT%H%M%SZ}",
                "RRULE:FREQ=DAILY;COUNT=5",
                "SUMMARY:Swimming",
                "END:VEVENT",
                "END:VCALENDAR",
                "",
            ]
        ),
    )
    world.sync("Personal")
    assert len(world.blocks("Work")) == 5

    moved_from, moved_to = first + timedelta(days=1), first + timedelta(days=1, hours=5)
    cancelled = first + timedelta(days=3)
    world.put_raw(
        "Personal",
        "swim",
        "\r\n".join(
            [
                "BEGIN:VCALENDAR",
                "VERSION:2.0",
                "PRODID:-//tests//EN",
                "BEGIN:VEVENT",
                "UID:swim",
                "DTSTAMP:20260101T000000Z",
                f"DTSTART:{first:%Y%m%dT%H%M%SZ}",
                f"DTEND:{first + timedelta(hours=1):%Y%m%dT%H%M%SZ}",
                "RRULE:FREQ=DAILY;COUNT=5",
                f"EXDATE:{cancelled:%Y%m%dT%H%M%SZ}",
                "SUMMARY:Swimming",
                "END:VEVENT",
                "BEGIN:VEVENT",
                "UID:swim",
                "DTSTAMP:20260101T000000Z",
                f"RECURRENCE-ID:{moved_from:%Y%m%dT%H%M%SZ}",
                f"DTSTART:{moved_to:%Y%m%dT%H%M%SZ}",
                f"DTEND:{moved_to + timedelta(hours=1):%Y%m%dT%H%M%SZ}",
                "SUMMARY:Swimming (late)",
                "END:VEVENT",
                "END:VCALENDAR",
                "",
            ]
        ),
    )
    world.sync("Personal")

    starts = sorted(event.DTSTART for event in world.blocks("Work"))
    assert len(starts) == 4
    assert moved_to in starts and moved_from not in starts and cancelled not in starts
    assert SyncRun.objects.order_by("-started_at").first().updated == 1  # moved, not recreated
    assert_no_orphans_or_duplicates(world)


def test_disabling_a_rule_removes_its_blocks(world):
    rule = world.rule(["Personal"], ["Work"])
    world.put("Personal", "dentist", soon(1, 10))
    world.sync("Personal")
    assert world.blocks("Work")

    rule.enabled = False
    rule.save()
    from syncrules.engine import remove_stale_blocks

    assert remove_stale_blocks() == 1
    assert world.blocks("Work") == []
    assert not Block.objects.exists()


def test_deleting_a_rule_or_dropping_a_target_removes_its_blocks(world):
    from syncrules.engine import remove_stale_blocks

    first = world.rule(["Personal"], ["Work", "Clients"])
    world.put("Personal", "dentist", soon(1, 10))
    world.sync("Personal")
    assert len(world.blocks("Work")) == len(world.blocks("Clients")) == 1

    first.targets.remove(world.calendars["Clients"])
    remove_stale_blocks()
    assert world.blocks("Clients") == [] and len(world.blocks("Work")) == 1

    first.delete()
    remove_stale_blocks()
    assert world.blocks("Work") == []
    assert not Block.objects.exists()


def test_disconnecting_the_source_removes_the_blocks_made_from_it(
    world, radicale_server, owner, run_tasks_inline
):
    other = make_world(radicale_server, owner, ["Elsewhere"])
    world.calendars["Elsewhere"] = other.calendars["Elsewhere"]
    rule = world.rule(["Elsewhere"], ["Work"])
    other.put("Elsewhere", "conference", soon(2, 9))
    world.sync("Elsewhere")
    assert len(world.blocks("Work")) == 1

    from calendars.services import connection_disconnect

    with run_tasks_inline():
        connection_disconnect(connection=other.connection, ip_address=None)

    assert world.blocks("Work") == []
    assert not Block.objects.filter(rule=rule).exists()
    other.connection.refresh_from_db()
    assert other.connection.secrets == ""


def test_a_source_that_suddenly_reads_empty_is_read_twice_before_blocks_go(world, monkeypatch):
    world.rule(["Personal"], ["Work"])
    world.put("Personal", "dentist", soon(1, 10))
    world.sync("Personal")

    from integrations.caldav.provider import CalDAVProvider

    real_changes = CalDAVProvider.changes
    calls = []

    def flaky_empty_then_real(self, calendar_id, cursor, window):
        calls.append(cursor)
        changes = real_changes(self, calendar_id, cursor, window)
        if len(calls) == 1:
            changes.events, changes.full_resync = [], True  # one bad answer: "nothing here"
        return changes

    monkeypatch.setattr(CalDAVProvider, "changes", flaky_empty_then_real)
    world.sync("Personal")

    assert len(calls) == 2
    assert len(world.blocks("Work")) == 1


def test_a_read_only_source_feeds_blocks_but_is_never_written(world, feed, owner):
    from calendars.services import connection_connect_ics
    from tests.syncrules.world import event_ics

    feed.serve(event_ics("feed-event", soon(2, 13), title="Board meeting").encode())
    link = connection_connect_ics(user=owner, url=feed.url, label="Board", ip_address=None)
    world.calendars["Board"] = link.calendars.get()
    world.rule(["Board"], ["Work"])

    world.sync("Board")

    assert [event.DTSTART for event in world.blocks("Work")] == [soon(2, 13)]
    assert all(request.get("Content-Length") in (None, "0") for request in feed.requests)


def test_a_permanent_error_marks_the_connection_and_mails_the_user_once(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    from calendars.services import connection_record_error
    from integrations.base import ProviderError
    from multical.lib import vault

    world.rule(["Personal"], ["Work"])
    connection = world.connection
    connection.secrets = vault.seal_json(
        {"password": "revoked"}, context=vault.context_for(connection, "secrets")
    )
    connection.save(update_fields=["secrets"])

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ProviderError) as raised:
        world.sync("Personal")
    assert raised.value.permanent

    with django_capture_on_commit_callbacks(execute=True):
        world.sync("Personal")  # needs reconnect: not tried again, no second e-mail
        connection_record_error(
            connection=Connection.objects.get(id=connection.id), error=raised.value
        )

    connection.refresh_from_db()
    assert connection.status == Connection.Status.NEEDS_RECONNECT
    assert "refused" in connection.last_error
    assert len(mailoutbox) == 1
    assert "can no longer reach" in mailoutbox[0].subject
    assert "refused" in Calendar.objects.get(id=world.calendars["Personal"].id).last_error


def test_an_idle_poll_plans_nothing_and_adds_no_history(world):
    world.rule(["Personal"], ["Work"])
    world.put("Personal", "dentist", soon(1, 10))
    world.sync("Personal")
    runs = SyncRun.objects.count()
    synced_at = Calendar.objects.get(id=world.calendars["Personal"].id).last_synced_at

    world.sync("Personal")

    assert SyncRun.objects.count() == runs
    assert Calendar.objects.get(id=world.calendars["Personal"].id).last_synced_at > synced_at
