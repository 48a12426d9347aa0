"""Rules that copy the same calendar into the same calendar: one block per event instance there,
rendered by the most private of the rules, credited to it, and handed over when it goes."""

from __future__ import annotations

import pytest
from django.urls import reverse

from syncrules import services
from syncrules.models import Block, SyncRule
from tests.syncrules.rule_page_helpers import client_for, rule_form_data
from tests.syncrules.test_engine import assert_no_orphans_or_duplicates
from tests.syncrules.world import World, make_world, soon

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(radicale_server, owner) -> World:
    world = make_world(radicale_server, owner, ["Work", "Personal"])
    world.put("Personal", "dentist", soon(1, 10), title="Dentist", description="Root canal")
    world.put("Personal", "school-run", soon(2, 8), title="School run")
    return world


def titles(world: World, name: str) -> list[str]:
    return sorted(str(event["SUMMARY"]) for event in world.blocks(name))


def test_a_rule_and_block_each_other_over_the_same_calendars_give_one_block_per_event(world):
    world.rule(["Personal"], ["Work"], name="Personal into work")
    services.rules_block_each_other(
        user=world.connection.user, calendars=[world.calendars["Work"], world.calendars["Personal"]]
    )

    world.sync("Personal", "Work")

    assert titles(world, "Work") == ["Busy", "Busy"]  # not four: one per personal event
    assert Block.objects.filter(target_calendar=world.calendars["Work"]).count() == 2
    assert_no_orphans_or_duplicates(world)


def test_the_most_private_rule_renders_the_shared_block_and_is_credited_with_it(world):
    full = world.rule(["Personal"], ["Work"], name="Everything", visibility="full")
    busy = world.rule(["Personal"], ["Work"], name="Busy only", visibility="busy")

    world.sync("Personal")

    assert titles(world, "Work") == ["Busy", "Busy"]
    assert set(Block.objects.values_list("rule_id", flat=True)) == {busy.id}
    assert not any("Root canal" in event.to_ical().decode() for event in world.blocks("Work"))

    services.rule_delete(rule=busy)  # the other rule takes the blocks over
    world.sync("Personal", full=True)

    assert titles(world, "Work") == ["Dentist", "School run"]
    assert set(Block.objects.values_list("rule_id", flat=True)) == {full.id}
    assert Block.objects.count() == 2
    assert_no_orphans_or_duplicates(world)


def test_a_filter_of_the_private_rule_lets_the_other_rule_copy_that_event(world):
    world.rule(["Personal"], ["Work"], name="Titles", visibility="title")
    world.rule(["Personal"], ["Work"], name="Busy", exclude_keywords=["dentist"])

    world.sync("Personal")

    assert titles(world, "Work") == ["Busy", "Dentist"]


def test_turning_the_winning_rule_off_hands_its_blocks_over_without_removing_them(
    world, run_tasks_inline
):
    titles_rule = world.rule(["Personal"], ["Work"], name="Titles", visibility="title")
    busy = world.rule(["Personal"], ["Work"], name="Busy")
    world.sync("Personal")
    block_ids = set(Block.objects.values_list("id", flat=True))

    with run_tasks_inline():
        services.rule_set_enabled(rule=busy, enabled=False)

    assert titles(world, "Work") == ["Dentist", "School run"]
    assert set(Block.objects.values_list("id", flat=True)) == block_ids  # rewritten, not replaced
    assert set(Block.objects.values_list("rule_id", flat=True)) == {titles_rule.id}


def test_the_rule_form_warns_about_an_overlap_before_saving(world, owner):
    world.rule(["Personal"], ["Work"], name="Personal into work")
    client = client_for(owner)
    data = rule_form_data(
        sources=[world.calendars["Personal"]], targets=[world.calendars["Work"]], name="Again"
    )

    response = client.post(reverse("syncrules:rule_create"), data)

    html = response.content.decode()
    assert response.status_code == 200
    assert "“Personal into work” already copies Personal into Work" in html
    assert "gets one block there" in html
    assert not SyncRule.objects.filter(name="Again").exists()

    response = client.post(reverse("syncrules:rule_create"), {**data, "overlap_ok": "on"})

    assert response.status_code == 302
    assert SyncRule.objects.filter(name="Again").exists()


def test_block_each_other_warns_about_rules_already_between_those_calendars(world, owner):
    world.rule(["Personal"], ["Work"], name="Personal into work")
    client = client_for(owner)
    data = {"calendars": [str(world.calendars["Work"].id), str(world.calendars["Personal"].id)]}

    response = client.post(reverse("syncrules:block_each_other"), data)

    assert "“Personal into work” already copies Personal into Work" in response.content.decode()
    assert SyncRule.objects.count() == 1

    response = client.post(reverse("syncrules:block_each_other"), {**data, "overlap_ok": "on"})
    assert response.status_code == 302
    assert SyncRule.objects.count() == 3


def test_a_rule_that_is_off_or_over_other_calendars_raises_no_warning(world, owner):
    world.rule(["Personal"], ["Work"], name="Personal into work", enabled=False)
    client = client_for(owner)
    data = rule_form_data(
        sources=[world.calendars["Personal"]], targets=[world.calendars["Work"]], name="Again"
    )

    response = client.post(reverse("syncrules:rule_create"), data)

    assert response.status_code == 302


def test_the_rule_page_says_which_rule_renders_the_shared_blocks(world, owner):
    world.rule(["Personal"], ["Work"], name="Everything", visibility="full")
    busy = world.rule(["Personal"], ["Work"], name="Busy only")
    world.sync("Personal")
    everything = SyncRule.objects.get(name="Everything")

    html = client_for(owner).get(reverse("syncrules:rule_detail", args=[everything.id]))
    html = html.content.decode()

    assert "2 blocks come from" in html
    assert reverse("syncrules:rule_detail", args=[busy.id]) in html
