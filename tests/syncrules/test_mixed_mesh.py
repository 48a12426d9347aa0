"""The engine across providers: a Google calendar (the fake of Google's API, driven by the real
client library) and a CalDAV calendar (a real Radicale) block each other."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from calendars.models import Calendar, Connection
from calendars.selectors import connection_secrets
from multical.lib import vault
from syncrules.models import Block
from tests.syncrules.world import make_world, soon

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(radicale_server, owner, google_fake):
    world = make_world(radicale_server, owner, ["Work"])
    google_fake.add_calendar("family@example.com", "Family")
    secrets = google_fake.grant(expired=True)
    connection = Connection(user=owner, kind=Connection.Kind.GOOGLE, label=secrets["email"])
    connection.secrets = vault.seal_json(secrets, context=vault.context_for(connection, "secrets"))
    connection.save()
    world.calendars["Family"] = Calendar.objects.create(
        connection=connection, remote_id="family@example.com", name="Family"
    )
    world.rule(["Family"], ["Work"])
    world.rule(["Work"], ["Family"])
    return world


def google_blocks(google_fake) -> Counter:
    return Counter(
        (event["start"]["dateTime"], event["end"]["dateTime"])
        for event in google_fake.live_events("family@example.com")
        if event.get("extendedProperties", {}).get("private", {}).get("multical_block")
    )


def test_google_and_caldav_block_each_other_without_loops(world, google_fake):
    google_fake.add_event("family@example.com", "School play", soon(2, 15), soon(2, 16))
    world.put("Work", "standup", soon(1, 9), minutes=15)
    first_access_token = connection_secrets(Connection.objects.get(kind="google"))["access_token"]

    for _ in range(3):
        world.sync("Family", "Work")

    assert [event.DTSTART for event in world.blocks("Work")] == [soon(2, 15)]
    assert sum(google_blocks(google_fake).values()) == 1
    assert Block.objects.count() == 2  # one each way; never a copy of a copy
    # The expired access token was refreshed during the sync and sealed again.
    assert (
        connection_secrets(Connection.objects.get(kind="google"))["access_token"]
        != first_access_token
    )

    world.put("Work", "standup", soon(1, 10), minutes=15)  # moved on the CalDAV side
    play = next(
        e for e in google_fake.live_events("family@example.com") if e["summary"] == "School play"
    )
    google_fake.delete_event("family@example.com", play["id"])  # deleted on the Google side
    world.sync("Work", "Family")

    assert google_blocks(google_fake) == Counter(
        {(soon(1, 10).isoformat(), (soon(1, 10) + timedelta(minutes=15)).isoformat()): 1}
    )
    assert world.blocks("Work") == []
    assert Block.objects.count() == 1


def test_microsoft_and_caldav_block_each_other_without_loops(
    radicale_server, owner, microsoft_fake
):
    world = make_world(radicale_server, owner, ["Work"])
    account = microsoft_fake.connect("ada@contoso.example")
    connection = Connection(user=owner, kind=Connection.Kind.MICROSOFT, label="ada@contoso.example")
    connection.secrets = vault.seal_json(
        account.secrets, context=vault.context_for(connection, "secrets")
    )
    connection.save()
    world.calendars["Outlook"] = Calendar.objects.create(
        connection=connection, remote_id=account.default_calendar, name="Outlook"
    )
    world.rule(["Outlook"], ["Work"])
    world.rule(["Work"], ["Outlook"])
    microsoft_fake.graph.add_event(account.default_calendar, "Board call", soon(2, 14), soon(2, 15))
    world.put("Work", "standup", soon(1, 9), minutes=15)

    for _ in range(3):
        world.sync("Outlook", "Work")

    outlook = microsoft_fake.graph.live_events(account.default_calendar)
    assert sorted(event.subject for event in outlook) == ["Board call", "Busy"]
    assert [event.DTSTART for event in world.blocks("Work")] == [soon(2, 14)]
    assert Block.objects.count() == 2  # one each way: the block in Outlook was never copied back

    microsoft_fake.graph.delete_event(next(e.id for e in outlook if e.subject == "Board call"))
    world.sync("Outlook", "Work")
    assert world.blocks("Work") == []
    assert Block.objects.count() == 1
