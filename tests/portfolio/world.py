"""A user with calendars at three providers: Radicale (CalDAV), the Google fake and the Microsoft
fake, each connected the way the app connects it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin

import icalendar
import recurring_ical_events

from calendars.models import Calendar, Connection
from integrations.base import BOOKING_MARKER_PROPERTY, MARKER_PROPERTY, Window
from multical.lib import vault
from tests.fakes.google import GoogleFake
from tests.fakes.microsoft import FakeAccount, MicrosoftFake
from tests.syncrules.world import World, make_world

GOOGLE_CALENDAR = "family@example.com"


@dataclass
class Mixed:
    """The Radicale world (``Work``, ``Personal``) plus ``Family`` at Google and ``Outlook`` at
    Microsoft, all in ``world.calendars``."""

    world: World
    google: GoogleFake
    microsoft: MicrosoftFake
    outlook: FakeAccount

    @property
    def calendars(self) -> dict[str, Calendar]:
        return self.world.calendars

    def caldav_event(self, name: str, uid: str, start: datetime, **fields: object) -> None:
        self.world.put(name, uid, start, **fields)

    def caldav_instances(
        self, name: str, start: datetime, end: datetime
    ) -> list[tuple[str, datetime, datetime]]:
        """(title, start, end) of every instance Radicale's stored iCalendar gives between
        ``start`` and ``end``: each object's series expanded with its exceptions, in start order."""
        world, found = self.world, []
        for path in world.server.list_objects(world.account, world.url(name)):
            data = world.server.read_object(world.account, urljoin(world.server.url, path))
            calendar = icalendar.Calendar.from_ical(data)
            for item in recurring_ical_events.of(calendar).between(start, end):
                begins, ends = item["DTSTART"].dt, item["DTEND"].dt
                found.append((str(item["SUMMARY"]), begins.astimezone(UTC), ends.astimezone(UTC)))
        return sorted(found, key=lambda instance: instance[1])

    def google_event(self, title: str, start: datetime, minutes: int = 60, **extra: object) -> str:
        return self.google.add_event(
            GOOGLE_CALENDAR, title, start, start + timedelta(minutes=minutes), **extra
        )

    def outlook_event(
        self, title: str, start: datetime, minutes: int = 60, **fields: object
    ) -> str:
        return self.microsoft.graph.add_event(
            self.outlook.default_calendar,
            title,
            start,
            start + timedelta(minutes=minutes),
            **fields,
        )


def sealed_connection(user, kind: str, label: str, secrets: dict[str, str]) -> Connection:
    connection = Connection(user=user, kind=kind, label=label, username=label)
    connection.secrets = vault.seal_json(secrets, context=vault.context_for(connection, "secrets"))
    connection.save()
    return connection


def connect_google(user, google: GoogleFake, *, expired: bool = False) -> Calendar:
    google.add_calendar(GOOGLE_CALENDAR, "Family", color="#0b8043")
    secrets = google.grant(expired=expired)
    connection = sealed_connection(user, Connection.Kind.GOOGLE, secrets["email"], secrets)
    return Calendar.objects.create(
        connection=connection, remote_id=GOOGLE_CALENDAR, name="Family", color="#0b8043"
    )


def connect_microsoft(user, microsoft: MicrosoftFake, email: str) -> tuple[Calendar, FakeAccount]:
    account = microsoft.connect(email)
    connection = sealed_connection(user, Connection.Kind.MICROSOFT, email, account.secrets)
    calendar = Calendar.objects.create(
        connection=connection, remote_id=account.default_calendar, name="Outlook"
    )
    return calendar, account


def make_mixed(radicale_server, user, google: GoogleFake, microsoft: MicrosoftFake) -> Mixed:
    world = make_world(radicale_server, user, ["Work", "Personal"])
    world.calendars["Family"] = connect_google(user, google)
    outlook, account = connect_microsoft(
        user, microsoft, f"{user.email.split('@')[0]}@contoso.test"
    )
    world.calendars["Outlook"] = outlook
    return Mixed(world=world, google=google, microsoft=microsoft, outlook=account)


def block_marker(block_id: str) -> str:
    return f"{MARKER_PROPERTY}:{block_id}"


def booking_marker(booking_id: str) -> str:
    return f"{BOOKING_MARKER_PROPERTY}:{booking_id}"


def days(start: datetime, count: int) -> Window:
    return Window(start, start + timedelta(days=count))
