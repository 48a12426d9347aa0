"""Rule services (what they save and what they queue) and the preview, read from real iCal feeds."""

from __future__ import annotations

import dataclasses
import logging
import re
import socket
from datetime import UTC, datetime, time

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from calendars.models import Calendar, Connection
from calendars.services import connection_connect_ics
from syncrules import services
from syncrules.forms import RuleForm
from syncrules.models import Block, SyncRule, SyncRun
from syncrules.preview import DISCONNECTED, rule_preview
from tests.factories import CalendarFactory, ConnectionFactory, UserFactory
from tests.syncrules.rule_page_helpers import (
    BlockFactory,
    SyncRuleFactory,
    rule_form_data,
)

pytestmark = pytest.mark.django_db

# Monday 10 March 2025, midnight in Berlin: google.ics has these events in the 14 days from here.
MONDAY = datetime(2025, 3, 9, 23, 0, tzinfo=UTC)
GOOGLE_FEED_TITLES = ["Team stand-up (moved)", "Quarterly review", "Lunch (maybe)", "Team offsite"]


@pytest.fixture
def calendars(owner):
    connection = ConnectionFactory(user=owner, label="owner @ dav.example.com")
    return {
        name: CalendarFactory(connection=connection, name=name)
        for name in ["Work", "Personal", "Family"]
    }


@pytest.fixture
def holidays(owner):
    connection = ConnectionFactory(user=owner, kind=Connection.Kind.ICS, label="Holidays")
    return CalendarFactory(connection=connection, name="Holidays", read_only=True)


def cleaned(user, *, sources, targets, **changes) -> dict:
    """What a valid rule form gives the services, as the views hand it over."""
    form = RuleForm(rule_form_data(sources=sources, targets=targets, **changes), user=user)
    assert form.is_valid(), form.errors
    data = form.cleaned_data
    return {"settings": form.settings(), "sources": data["sources"], "targets": data["targets"]}


# Saving rules ------------------------------------------------------------------------------------


def test_creating_a_rule_saves_its_settings_and_its_calendars(owner, calendars, enqueued):
    data = cleaned(
        owner,
        sources=[calendars["Work"]],
        targets=[calendars["Personal"], calendars["Family"]],
        visibility="title",
        exclude_keywords="Lunch, gym",
        weekdays=["1", "5"],
        working_hours_start="08:30",
        working_hours_end="18:00",
    )

    rule = services.rule_create(user=owner, **data)

    rule.refresh_from_db()
    assert rule.user == owner
    assert rule.name == "Work into personal"
    assert rule.visibility == SyncRule.Visibility.TITLE
    assert rule.exclude_keywords == ["Lunch", "gym"]
    assert rule.weekdays == [1, 5]
    assert (rule.working_hours_start, rule.working_hours_end) == (time(8, 30), time(18))
    assert list(rule.sources.all()) == [calendars["Work"]]
    assert set(rule.targets.all()) == {calendars["Personal"], calendars["Family"]}


def test_creating_a_rule_queues_a_full_sync_of_each_source_once_committed(
    owner, calendars, holidays, enqueued, django_capture_on_commit_callbacks
):
    work = calendars["Work"]
    data = cleaned(owner, sources=[work, holidays], targets=[calendars["Personal"]])

    with django_capture_on_commit_callbacks(execute=True):
        services.rule_create(user=owner, **data)
        assert enqueued.syncs == []  # nothing leaves before the rule is committed

    assert sorted(enqueued.syncs) == sorted([str(work.id), str(holidays.id)])
    assert enqueued.queued(work.id) and enqueued.queued(holidays.id)
    assert enqueued.full(work.id) and enqueued.full(holidays.id)
    assert not enqueued.queued(calendars["Personal"].id)
    assert enqueued.stale_removals == 0


def test_a_rule_created_off_queues_nothing(
    owner, calendars, enqueued, django_capture_on_commit_callbacks
):
    data = cleaned(
        owner, sources=[calendars["Work"]], targets=[calendars["Personal"]], enabled=None
    )

    with django_capture_on_commit_callbacks(execute=True):
        rule = services.rule_create(user=owner, **data)

    assert rule.enabled is False
    assert enqueued.syncs == []
    assert not enqueued.queued(calendars["Work"].id)


def test_updating_a_rule_resyncs_its_sources_in_full_and_queues_the_stale_block_clean_up(
    owner, calendars, enqueued, django_capture_on_commit_callbacks
):
    rule = SyncRuleFactory(user=owner, sources=[calendars["Work"]], targets=[calendars["Personal"]])
    data = cleaned(
        owner,
        sources=[calendars["Family"]],
        targets=[calendars["Personal"]],
        name="Family into personal",
        visibility="full",
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.rule_update(rule=rule, **data)

    rule.refresh_from_db()
    assert rule.name == "Family into personal"
    assert rule.visibility == SyncRule.Visibility.FULL
    assert list(rule.sources.all()) == [calendars["Family"]]
    assert enqueued.syncs == [str(calendars["Family"].id)]
    assert enqueued.full(calendars["Family"].id)
    # Work's blocks are no longer wanted: the clean-up removes them from Personal.
    assert enqueued.stale_removals == 1


def test_triggers_for_one_calendar_coalesce_into_one_queued_sync(
    owner, calendars, enqueued, django_capture_on_commit_callbacks
):
    work = calendars["Work"]
    with django_capture_on_commit_callbacks(execute=True):
        for target in ["Personal", "Family"]:
            services.rule_create(
                user=owner, **cleaned(owner, sources=[work], targets=[calendars[target]])
            )

    assert enqueued.syncs == [str(work.id)]


def test_turning_a_rule_off_queues_only_the_stale_block_clean_up(
    owner, calendars, enqueued, django_capture_on_commit_callbacks
):
    rule = SyncRuleFactory(user=owner, sources=[calendars["Work"]], targets=[calendars["Personal"]])

    with django_capture_on_commit_callbacks(execute=True):
        services.rule_set_enabled(rule=rule, enabled=False)

    assert SyncRule.objects.get(id=rule.id).enabled is False
    assert enqueued.stale_removals == 1
    assert enqueued.syncs == []


def test_turning_a_rule_on_queues_a_full_sync_of_its_sources(
    owner, calendars, enqueued, django_capture_on_commit_callbacks
):
    rule = SyncRuleFactory(
        user=owner,
        enabled=False,
        sources=[calendars["Work"], calendars["Family"]],
        targets=[calendars["Personal"]],
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.rule_set_enabled(rule=rule, enabled=True)

    assert SyncRule.objects.get(id=rule.id).enabled is True
    assert sorted(enqueued.syncs) == sorted(
        [str(calendars["Work"].id), str(calendars["Family"].id)]
    )
    assert enqueued.full(calendars["Work"].id)
    assert enqueued.stale_removals == 0


def test_turning_a_rule_to_the_state_it_is_in_queues_nothing(
    owner, calendars, enqueued, django_capture_on_commit_callbacks
):
    rule = SyncRuleFactory(user=owner, sources=[calendars["Work"]], targets=[calendars["Personal"]])

    with django_capture_on_commit_callbacks(execute=True):
        services.rule_set_enabled(rule=rule, enabled=True)

    assert enqueued.syncs == [] and enqueued.stale_removals == 0


def test_deleting_a_rule_leaves_its_blocks_to_the_clean_up_and_queues_it(
    owner, calendars, enqueued, django_capture_on_commit_callbacks
):
    rule = SyncRuleFactory(user=owner, sources=[calendars["Work"]], targets=[calendars["Personal"]])
    block = BlockFactory(
        rule=rule, source_calendar=calendars["Work"], target_calendar=calendars["Personal"]
    )
    runs_before = SyncRun.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        services.rule_delete(rule=rule)

    assert not SyncRule.objects.filter(id=rule.id).exists()
    block.refresh_from_db()
    assert block.rule is None  # stale: the clean-up deletes it from Personal, then forgets it
    assert enqueued.stale_removals == 1
    assert SyncRun.objects.count() == runs_before


def test_a_rule_cannot_use_another_users_calendar(owner, calendars, enqueued):
    strangers = CalendarFactory(name="Stranger's")
    data = cleaned(owner, sources=[calendars["Work"]], targets=[calendars["Personal"]])

    with pytest.raises(ValueError, match="owner's calendars"):
        services.rule_create(user=owner, **{**data, "targets": [strangers]})

    assert not SyncRule.objects.exists()


# Block each other --------------------------------------------------------------------------------


def test_block_each_other_makes_one_rule_per_calendar_into_all_the_others(
    owner, calendars, enqueued, django_capture_on_commit_callbacks
):
    chosen = [calendars["Work"], calendars["Personal"], calendars["Family"]]

    with django_capture_on_commit_callbacks(execute=True):
        rules = services.rules_block_each_other(user=owner, calendars=chosen)

    assert len(rules) == 3
    by_name = {rule.name: rule for rule in SyncRule.objects.filter(user=owner)}
    assert set(by_name) == {"Work → others", "Personal → others", "Family → others"}
    for calendar in chosen:
        rule = by_name[f"{calendar.name} → others"]
        assert list(rule.sources.all()) == [calendar]
        assert set(rule.targets.all()) == set(chosen) - {calendar}
        assert rule.enabled and rule.visibility == SyncRule.Visibility.BUSY
    assert sorted(enqueued.syncs) == sorted(str(calendar.id) for calendar in chosen)
    assert all(enqueued.full(calendar.id) for calendar in chosen)


@pytest.mark.parametrize("case", ["one calendar", "read-only", "another user's"])
def test_block_each_other_needs_two_writable_calendars_of_the_user(
    owner, calendars, holidays, case, enqueued
):
    chosen = {
        "one calendar": [calendars["Work"]],
        "read-only": [calendars["Work"], holidays],
        "another user's": [calendars["Work"], CalendarFactory(name="Stranger's")],
    }[case]

    with pytest.raises(ValueError):
        services.rules_block_each_other(user=owner, calendars=chosen)

    assert not SyncRule.objects.exists()


# The preview -------------------------------------------------------------------------------------


@pytest.fixture
def google_feed(owner, feed):
    feed.serve_file("google.ics")
    connection = connection_connect_ics(user=owner, url=feed.url, label="", ip_address=None)
    return connection.calendars.get()


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def preview_of(owner, source, targets, **changes):
    data = cleaned(owner, sources=[source], targets=targets, **changes)
    return rule_preview(user=owner, **data, now=MONDAY)


def test_a_busy_only_preview_shows_every_block_as_busy_and_says_why_events_are_skipped(
    owner, calendars, google_feed
):
    preview = preview_of(owner, google_feed, [calendars["Personal"], calendars["Work"]])

    copied = {row.title: row for row in preview.rows if row.block}
    skipped = {row.title: row.skipped for row in preview.rows if row.skipped}
    assert set(copied) == {"Team stand-up (moved)", "Quarterly review"}
    for row in copied.values():
        assert row.block.title == "Busy"
        assert row.block.location == "" and row.block.description == ""
        assert row.shows_busy
        assert row.targets == ("Personal", "Work")
    assert skipped["Lunch (maybe)"] == "Marked free"
    assert skipped["Team offsite"] == "All-day event"
    assert preview.errors == []
    assert (preview.copied, preview.skipped) == (2, len(skipped))


def test_the_preview_shows_titles_and_locations_only_as_far_as_the_rule_lets_them_through(
    owner, calendars, google_feed
):
    personal = [calendars["Personal"]]
    title_only = preview_of(owner, google_feed, personal, visibility="title")
    with_location = preview_of(owner, google_feed, personal, visibility="title", show_location="on")
    full = preview_of(owner, google_feed, personal, visibility="full", show_location="on")

    def block(preview, title):
        return next(row.block for row in preview.rows if row.title == title)

    assert block(title_only, "Quarterly review").title == "Quarterly review"
    assert block(title_only, "Quarterly review").location == ""
    assert block(with_location, "Quarterly review").location == "Room 4.12"
    assert block(with_location, "Quarterly review").description == ""
    assert block(full, "Quarterly review").description == "Numbers for Q1."


def test_the_preview_follows_the_rules_filters_in_plain_words(owner, calendars, google_feed):
    preview = preview_of(
        owner,
        google_feed,
        [calendars["Personal"]],
        exclude_keywords="review",
        all_day="busy",
        skip_free=None,
        lookahead_days="3",
    )

    reasons = {row.title: row.skipped for row in preview.rows}
    assert reasons["Quarterly review"] == "Excluded by keyword"
    assert reasons["Team stand-up (moved)"] == ""  # copied
    assert reasons["Lunch (maybe)"] == "Beyond the days ahead the rule copies"
    assert reasons["Team offsite"] == "Beyond the days ahead the rule copies"


def test_the_preview_is_in_time_order_in_the_users_time_zone(owner, calendars, google_feed):
    preview = preview_of(owner, google_feed, [calendars["Personal"]], all_day="busy")

    assert [row.title for row in preview.rows] == GOOGLE_FEED_TITLES
    stand_up = preview.rows[0]
    assert stand_up.start.utcoffset().total_seconds() == 3600  # Berlin in March (CET)
    assert (stand_up.start.hour, stand_up.start.minute) == (11, 0)
    offsite = preview.rows[-1]
    assert offsite.all_day and offsite.start is None
    assert (offsite.day.isoformat(), offsite.last_day.isoformat()) == ("2025-03-20", "2025-03-21")


def test_the_preview_writes_nothing_anywhere_and_logs_no_event_content(
    owner, calendars, google_feed, caplog
):
    caplog.set_level(logging.DEBUG)
    counts = (SyncRule.objects.count(), Block.objects.count(), SyncRun.objects.count())
    # Only this process's keys (other test processes share the Redis server), and no sessions or
    # keys naming another user's calendars (a live test server of an earlier browser test, or a
    # task it queued, may still be at work).
    own_keys = f"{settings.CACHES['default']['KEY_PREFIX']}:*"
    owners = {
        str(i) for i in Calendar.objects.filter(connection__user=owner).values_list("id", flat=True)
    }

    def cache_keys_now() -> set[bytes]:
        keys = cache._cache.get_client().keys(own_keys)
        return {
            key
            for key in keys
            if b"django.contrib.sessions" not in key and set(UUID.findall(key.decode())) <= owners
        }

    cache_keys = cache_keys_now()
    google_feed.refresh_from_db()
    calendar_state = (google_feed.sync_cursor, google_feed.last_synced_at)

    with CaptureQueriesContext(db_connection) as queries:
        preview = preview_of(
            owner, google_feed, [calendars["Personal"]], visibility="full", show_location="on"
        )

    assert preview.copied == 2
    writes = [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")]
    assert writes == []
    assert (SyncRule.objects.count(), Block.objects.count(), SyncRun.objects.count()) == counts
    assert cache_keys_now() == cache_keys
    google_feed.refresh_from_db()
    assert (google_feed.sync_cursor, google_feed.last_synced_at) == calendar_state
    for title in [*GOOGLE_FEED_TITLES, "Room 4.12", "Numbers for Q1"]:
        assert title not in caplog.text


def test_a_source_that_cannot_be_read_shows_its_error_and_the_others_still_show(
    owner, calendars, google_feed
):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    broken = ConnectionFactory(
        user=owner,
        kind=Connection.Kind.ICS,
        label="Broken feed",
        secrets={"url": f"http://127.0.0.1:{closed_port}/calendar.ics"},
    )
    unreachable = CalendarFactory(connection=broken, name="Old club", read_only=True)
    disconnected = ConnectionFactory(user=owner, kind=Connection.Kind.ICS, label="Gone")
    Connection.objects.filter(id=disconnected.id).update(
        secrets="", status=Connection.Status.DISCONNECTED
    )
    gone = CalendarFactory(connection=disconnected, name="Gone feed", read_only=True)
    data = cleaned(owner, sources=[google_feed, unreachable, gone], targets=[calendars["Personal"]])

    preview = rule_preview(user=owner, **data, now=MONDAY)

    errors = {error.calendar: error.message for error in preview.errors}
    assert set(errors) == {"Old club", "Gone feed"}
    assert errors["Old club"]  # the provider's own words
    assert errors["Gone feed"] == DISCONNECTED
    assert {row.title for row in preview.rows if row.block} == {
        "Team stand-up (moved)",
        "Quarterly review",
    }
    assert all(row.source == google_feed.name for row in preview.rows)


def test_a_preview_of_another_users_calendar_is_impossible_through_the_form(owner, google_feed):
    outsider_calendar = CalendarFactory(connection=ConnectionFactory(user=UserFactory()))
    form = RuleForm(
        rule_form_data(sources=[google_feed], targets=[outsider_calendar]),
        user=owner,
        for_preview=True,
    )

    assert not form.is_valid()
    assert "targets" in form.errors


def test_the_typed_settings_carry_every_setting_of_the_model_and_round_trip():
    bookkeeping = {"id", "user", "sources", "targets", "created_at", "updated_at", "blocks"}
    bookkeeping.add("plan_paused_at")  # set by billing, not a setting
    model_settings = {
        field.name
        for field in SyncRule._meta.get_fields()
        if field.concrete and field.name not in bookkeeping
    }

    assert {field.name for field in dataclasses.fields(services.RuleSettings)} == model_settings
    defaults = services.RuleSettings.of(SyncRule())
    rule = SyncRule()
    changed = dataclasses.replace(defaults, visibility="full", weekdays=(1, 5), name="Renamed")
    changed = services.RuleSettings.from_values(dataclasses.asdict(changed))
    changed.apply_to(rule)
    assert services.RuleSettings.of(rule) == changed
    assert changed.visibility is SyncRule.Visibility.FULL and rule.weekdays == [1, 5]
