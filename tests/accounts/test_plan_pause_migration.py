"""The marks of what the end of Pro paused move from ``accounts.PlanPause`` onto the rules and pages,
and back again when the migrations are reversed: a server upgraded in the middle of a downgrade
still offers the same things back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.migration_steps import at_schema, migrate

BEFORE = [
    ("accounts", "0006_user_notify_sync_alerts"),
    ("syncrules", "0002_sync_state_and_one_block_per_target"),
    ("booking", "0003_booking_attendee_clock"),
]
AFTER = [("accounts", "0007_plan_pause_on_the_paused")]
PAUSED_AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def at_the_old_schema():
    yield from at_schema(BEFORE)


@pytest.mark.django_db(transaction=True)
def test_pauses_become_marks_on_the_paused_and_back(at_the_old_schema):
    old = at_the_old_schema
    user = old.get_model("accounts", "User").objects.create(email="ada@example.com")
    rules = {
        name: old.get_model("syncrules", "SyncRule").objects.create(
            user=user, name=name, enabled=False
        )
        for name in ("Paused by the plan", "Off by hand")
    }
    pages = {
        title: old.get_model("booking", "BookingPage").objects.create(
            owner=user, title=title, slug=slug, active=False, durations=[30]
        )
        for title, slug in (("Closed by the plan", "closed"), ("Closed by hand", "by-hand"))
    }
    PlanPause = old.get_model("accounts", "PlanPause")
    PlanPause.objects.create(user=user, rule=rules["Paused by the plan"], paused_at=PAUSED_AT)
    PlanPause.objects.create(user=user, page=pages["Closed by the plan"], paused_at=PAUSED_AT)

    new = migrate(AFTER)

    marked_rules = new.get_model("syncrules", "SyncRule").objects.filter(plan_paused_at=PAUSED_AT)
    marked_pages = new.get_model("booking", "BookingPage").objects.filter(plan_paused_at=PAUSED_AT)
    assert [rule.name for rule in marked_rules] == ["Paused by the plan"]
    assert [page.title for page in marked_pages] == ["Closed by the plan"]
    assert new.get_model("syncrules", "SyncRule").objects.filter(plan_paused_at=None).count() == 1

    old = migrate(BEFORE)

    pauses = old.get_model("accounts", "PlanPause").objects.all()
    assert {(pause.rule_id, pause.page_id, pause.paused_at) for pause in pauses} == {
        (rules["Paused by the plan"].pk, None, PAUSED_AT),
        (None, pages["Closed by the plan"].pk, PAUSED_AT),
    }
