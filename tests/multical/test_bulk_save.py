from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from calendars.models import Calendar
from multical.lib.bulk_save import save_fields, update_statement, write_together
from syncrules.models import Block, SyncState
from tests.factories import CalendarFactory

pytestmark = pytest.mark.django_db

START = datetime(2030, 3, 1, 9, tzinfo=UTC)


def _blocks(count: int) -> list[Block]:
    source, target = CalendarFactory(), CalendarFactory()
    return [
        Block.objects.create(
            source_calendar=source,
            source_event_id=f"event-{number}",
            source_series_id=f"event-{number}",
            target_calendar=target,
            start=START,
            end=START + timedelta(hours=1),
        )
        for number in range(count)
    ]


def test_each_row_gets_its_own_values_of_the_named_fields_only():
    blocks = _blocks(3)
    for number, block in enumerate(blocks):
        block.target_event_id = f"/calendars/target/block-{number}.ics"
        block.start = START + timedelta(days=number)
        block.all_day = number == 1
        block.state = Block.State.SYNCED
        block.source_series_id = "changed but not saved"

    save_fields(blocks, ["target_event_id", "start", "all_day", "state"])

    for number, block in enumerate(blocks):
        stored = Block.objects.get(id=block.id)
        assert stored.target_event_id == f"/calendars/target/block-{number}.ics"
        assert stored.start == START + timedelta(days=number)
        assert stored.all_day is (number == 1)
        assert stored.state == Block.State.SYNCED
        assert stored.source_series_id == f"event-{number}"


def test_auto_now_fields_are_renewed_as_save_renews_them():
    (block,) = _blocks(1)
    created = Block.objects.get(id=block.id).updated_at

    save_fields([block], ["state", "updated_at"])

    assert Block.objects.get(id=block.id).updated_at > created


def test_many_rows_take_one_statement_and_no_rows_none():
    blocks = _blocks(40)
    for block in blocks:
        block.fingerprint = "f" * 64

    with CaptureQueriesContext(connection) as queries:
        save_fields(blocks, ["fingerprint"])
        save_fields([], ["fingerprint"])

    # Django logs an executemany once, as "40 times: UPDATE ...".
    assert [query["sql"].split(": ")[0] for query in queries] == ["40 times"]
    assert " UPDATE " in f" {queries[0]['sql']}"
    assert set(Block.objects.values_list("fingerprint", flat=True)) == {"f" * 64}


def test_updates_of_two_tables_are_written_together_each_text_sent_once():
    calendars = [CalendarFactory(sync_cursor="old", unreadable_events=3) for _ in range(3)]
    other = CalendarFactory(sync_cursor="untouched")
    for calendar in calendars:
        SyncState.objects.create(calendar=calendar, requested=5, served=2)
        calendar.sync_cursor, calendar.unreadable_events = f"new {calendar.pk}", 0
    served = "UPDATE syncrules_syncstate SET served = served + %s WHERE calendar_id = %s"

    with CaptureQueriesContext(connection) as queries:
        write_together(
            [
                statement
                for calendar in calendars
                for statement in (
                    update_statement(calendar, ["sync_cursor", "unreadable_events"]),
                    (served, [2, calendar.pk]),
                )
            ]
        )

    assert len(queries) == 2  # one pipelined round trip for each of the two texts
    for calendar in calendars:
        saved = Calendar.objects.get(id=calendar.id)
        assert (saved.sync_cursor, saved.unreadable_events) == (f"new {calendar.pk}", 0)
        assert SyncState.objects.get(calendar_id=calendar.id).served == 4
    assert Calendar.objects.get(id=other.id).sync_cursor == "untouched"


def test_statements_written_together_commit_together_or_not_at_all():
    calendar = CalendarFactory(sync_cursor="old")
    SyncState.objects.create(calendar=calendar)
    calendar.sync_cursor = "new"

    with pytest.raises(IntegrityError), transaction.atomic():  # the test's own, to carry on after
        write_together(
            [
                update_statement(calendar, ["sync_cursor"]),
                (  # failures is unsigned
                    "UPDATE syncrules_syncstate SET failures = -1 WHERE calendar_id = %s",
                    [calendar.pk],
                ),
            ]
        )

    assert Calendar.objects.get(id=calendar.id).sync_cursor == "old"
