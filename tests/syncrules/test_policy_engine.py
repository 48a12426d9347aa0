"""Organization policies against the engine: a rule that asks for Full details out of an
organization's calendar renders what the policy allows, before and after the policy changes."""

from __future__ import annotations

import itertools
import secrets

import pytest
from django.utils import timezone

from calendars.models import Connection
from calendars.services import connection_connect_caldav
from integrations.base import MARKER_PROPERTY
from orgs.domains import domain_remove
from orgs.models import Domain, Membership
from orgs.policies import PolicySettings, policy_update
from orgs.services import organization_create
from syncrules import engine, tasks
from syncrules.models import SyncRule, SyncState
from tests.caldav_servers import Account
from tests.syncrules.world import World, make_world, soon

pytestmark = pytest.mark.django_db

_NUMBERS = itertools.count()
LINK = "https://meet.google.com/abc-defg-hij"


def org_world(radicale_server, user, names: list[str], *, domain: str) -> World:
    """A CalDAV account whose user name is an address in ``domain``, with these calendars."""
    account = Account(radicale_server.url, f"person{next(_NUMBERS)}@{domain}", secrets.token_hex(8))
    radicale_server.add_user(account.username, account.password)
    for name in names:
        radicale_server.create_calendar(account, name)
    connection = connection_connect_caldav(
        user=user,
        kind=Connection.Kind.CALDAV,
        server_url=radicale_server.url,
        username=account.username,
        password=account.password,
        ip_address=None,
    )
    calendars = {calendar.name: calendar for calendar in connection.calendars.all()}
    return World(radicale_server, account, connection, calendars)


def organization_with_domain(owner, domain: str):
    organization = organization_create(user=owner, name="Acme", ip_address=None)
    Domain.objects.create(
        organization=organization, name=domain, token="t", verified_at=timezone.now()
    )
    return organization


def set_policy(organization, owner, **changes) -> None:
    values = {
        "max_visibility": "",
        "links_may_leave": True,
        "allowed_kinds": (),
        "personal_accounts_allowed": True,
        "public_pages_allowed": True,
        **changes,
    }
    membership = Membership.objects.select_related("organization", "user").get(
        organization=organization, user=owner
    )
    policy_update(membership=membership, settings=PolicySettings(**values), ip_address=None)


def only_block(world: World, name: str):
    [block] = world.blocks(name)
    return block


def test_a_full_details_rule_renders_busy_only_under_a_busy_only_policy(radicale_server, owner):
    organization = organization_with_domain(owner, "acme.test")
    work = org_world(radicale_server, owner, ["Work"], domain="acme.test")
    personal = make_world(radicale_server, owner, ["Personal"])
    work.put("Work", "board", soon(1, 10), title="Board meeting", description=LINK, location="HQ")
    rule = SyncRule.objects.create(
        user=owner,
        name="out",
        visibility=SyncRule.Visibility.FULL,
        show_location=True,
        show_video_link=True,
    )
    rule.sources.set([work.calendars["Work"]])
    rule.targets.set([personal.calendars["Personal"]])

    set_policy(organization, owner, max_visibility="busy")
    work.sync("Work")

    block = only_block(personal, "Personal")
    assert str(block["SUMMARY"]) == "Busy"
    assert "DESCRIPTION" not in block or str(block["DESCRIPTION"]) == ""
    assert "LOCATION" not in block or str(block["LOCATION"]) == ""


def test_without_links_a_title_policy_shows_the_title_and_nothing_that_leads_away(
    radicale_server, owner
):
    organization = organization_with_domain(owner, "acme.test")
    set_policy(organization, owner, max_visibility="title", links_may_leave=False)
    work = org_world(radicale_server, owner, ["Work"], domain="acme.test")
    personal = make_world(radicale_server, owner, ["Personal"])
    work.put("Work", "call", soon(1, 10), title=f"Call {LINK}", description="Notes", location="HQ")
    personal_rule = SyncRule.objects.create(
        user=owner, name="out", visibility="full", show_location=True, show_video_link=True
    )
    personal_rule.sources.set([work.calendars["Work"]])
    personal_rule.targets.set([personal.calendars["Personal"]])

    work.sync("Work")

    block = only_block(personal, "Personal")
    assert str(block["SUMMARY"]) == "Call"
    assert str(block.get("DESCRIPTION", "")) == ""
    assert str(block.get("LOCATION", "")) == ""


def test_calendars_outside_the_organization_keep_what_their_rule_asks(radicale_server, owner):
    organization = organization_with_domain(owner, "acme.test")
    set_policy(organization, owner, max_visibility="busy")
    # An address in another domain, and one whose domain only ends like the organization's.
    elsewhere = org_world(radicale_server, owner, ["Side"], domain="notacme.test")
    work = make_world(radicale_server, owner, ["Work"])
    elsewhere.put("Side", "gig", soon(1, 10), title="Gig")
    elsewhere.rule(["Side"], [], visibility="full")
    SyncRule.objects.get(name="rule").targets.set([work.calendars["Work"]])

    elsewhere.sync("Side")

    assert str(only_block(work, "Work")["SUMMARY"]) == "Gig"


def test_an_unverified_domain_has_no_policy(radicale_server, owner):
    organization = organization_with_domain(owner, "acme.test")
    Domain.objects.filter(organization=organization).update(verified_at=None)
    set_policy(organization, owner, max_visibility="busy")
    work = org_world(radicale_server, owner, ["Work"], domain="acme.test")
    personal = make_world(radicale_server, owner, ["Personal"])
    work.put("Work", "board", soon(1, 10), title="Board meeting")
    rule = SyncRule.objects.create(user=owner, name="out", visibility="full")
    rule.sources.set([work.calendars["Work"]])
    rule.targets.set([personal.calendars["Personal"]])

    work.sync("Work")

    assert str(only_block(personal, "Personal")["SUMMARY"]) == "Board meeting"


def test_a_policy_change_asks_durably_for_a_full_read_and_rerenders_existing_blocks(
    radicale_server, owner, enqueued, django_capture_on_commit_callbacks
):
    organization = organization_with_domain(owner, "acme.test")
    work = org_world(radicale_server, owner, ["Work"], domain="acme.test")
    personal = make_world(radicale_server, owner, ["Personal"])
    work.put("Work", "board", soon(1, 10), title="Board meeting", location="HQ")
    rule = SyncRule.objects.create(user=owner, name="out", visibility="full", show_location=True)
    rule.sources.set([work.calendars["Work"]])
    rule.targets.set([personal.calendars["Personal"]])
    work.sync("Work")
    assert str(only_block(personal, "Personal")["SUMMARY"]) == "Board meeting"
    source_id = str(work.calendars["Work"].id)
    SyncState.objects.update_or_create(calendar_id=source_id)
    before = SyncState.objects.get(calendar_id=source_id)

    with django_capture_on_commit_callbacks(execute=True):
        set_policy(organization, owner, max_visibility="busy")

    after = SyncState.objects.get(calendar_id=source_id)
    # A row, not a message: the request outlives any crash until a full read serves it.
    assert after.full_requested > before.full_served and after.pending
    tasks.sync_calendar.run(source_id)
    block = only_block(personal, "Personal")
    assert str(block["SUMMARY"]) == "Busy"
    assert str(block.get("LOCATION", "")) == ""
    assert not SyncState.objects.get(calendar_id=source_id).pending

    with django_capture_on_commit_callbacks(execute=True):
        set_policy(organization, owner, max_visibility="")
    tasks.sync_calendar.run(source_id)
    assert str(only_block(personal, "Personal")["SUMMARY"]) == "Board meeting"


def test_only_the_organizations_sources_are_read_again(radicale_server, owner, enqueued):
    organization = organization_with_domain(owner, "acme.test")
    work = org_world(radicale_server, owner, ["Work"], domain="acme.test")
    other = make_world(radicale_server, owner, ["Other", "Target"])
    work.rule(["Work"], [])
    other.rule(["Other"], ["Target"])

    assert engine.organization_source_calendar_ids(organization.id) == [
        str(work.calendars["Work"].id)
    ]


def test_an_ics_link_is_never_an_organizations_account(owner):
    connection = Connection(user=owner, kind=Connection.Kind.ICS, username="x@acme.test")
    assert engine.source_policies([connection]) == {}


def test_the_preview_shows_blocks_as_the_policy_lets_them_out(radicale_server, owner):
    from syncrules.preview import rule_preview
    from syncrules.services import RuleSettings

    organization = organization_with_domain(owner, "acme.test")
    set_policy(organization, owner, max_visibility="busy")
    work = org_world(radicale_server, owner, ["Work"], domain="acme.test")
    personal = make_world(radicale_server, owner, ["Personal"])
    work.put("Work", "board", soon(1, 10), title="Board meeting")
    rule = SyncRule(user=owner, name="p", visibility="full")
    settings = RuleSettings.of(rule)

    preview = rule_preview(
        user=owner,
        settings=settings,
        sources=[work.calendars["Work"]],
        targets=[personal.calendars["Personal"]],
    )

    [row] = [row for row in preview.rows if row.block is not None]
    assert row.block.title == "Busy"


def test_a_capped_block_is_written_once_and_carries_our_marker(radicale_server, owner):
    organization = organization_with_domain(owner, "acme.test")
    set_policy(organization, owner, max_visibility="busy")
    work = org_world(radicale_server, owner, ["Work"], domain="acme.test")
    personal = make_world(radicale_server, owner, ["Personal"])
    work.put("Work", "board", soon(1, 10), title="Board meeting")
    rule = SyncRule.objects.create(user=owner, name="out", visibility="full")
    rule.sources.set([work.calendars["Work"]])
    rule.targets.set([personal.calendars["Personal"]])
    work.sync("Work")
    work.sync("Work")  # nothing changed: the capped block is not written twice

    assert MARKER_PROPERTY in only_block(personal, "Personal")


def test_a_removed_domains_accounts_are_rendered_again_without_its_policy(
    radicale_server, owner, enqueued, django_capture_on_commit_callbacks
):
    organization = organization_with_domain(owner, "acme.test")
    set_policy(organization, owner, max_visibility="busy")
    work = org_world(radicale_server, owner, ["Work"], domain="acme.test")
    personal = make_world(radicale_server, owner, ["Personal"])
    work.put("Work", "board", soon(1, 10), title="Board meeting")
    rule = SyncRule.objects.create(user=owner, name="out", visibility="full")
    rule.sources.set([work.calendars["Work"]])
    rule.targets.set([personal.calendars["Personal"]])
    source_id = str(work.calendars["Work"].id)
    work.sync("Work")
    assert str(only_block(personal, "Personal")["SUMMARY"]) == "Busy"

    membership = Membership.objects.select_related("organization", "user").get(
        organization=organization, user=owner
    )
    with django_capture_on_commit_callbacks(execute=True):
        domain_remove(
            membership=membership,
            domain=Domain.objects.get(organization=organization),
            ip_address=None,
        )

    assert SyncState.objects.get(calendar_id=source_id).pending
    tasks.sync_calendar.run(source_id)
    assert str(only_block(personal, "Personal")["SUMMARY"]) == "Board meeting"
