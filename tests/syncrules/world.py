"""A user with calendars on the suite's real Radicale, connected through the real services."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin

import icalendar

from calendars.models import Calendar, Connection
from calendars.services import connection_connect_caldav
from integrations.base import MARKER_PROPERTY
from syncrules import engine
from syncrules.models import SyncRule
from tests.caldav_servers import Account, RadicaleServer


def soon(days: int = 1, hour: int = 9, minute: int = 0) -> datetime:
    """A whole hour a few days from now, in UTC, well inside every rule's window."""
    base = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return base + timedelta(days=days, hours=hour, minutes=minute)


def event_ics(
    uid: str,
    start: datetime,
    *,
    minutes: int = 60,
    title: str = "Meeting",
    description: str = "",
    location: str = "",
    extra: str = "",
) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//tests//EN",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20260101T000000Z",
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
        f"DTEND:{start + timedelta(minutes=minutes):%Y%m%dT%H%M%SZ}",
        f"SUMMARY:{title}",
    ]
    if description:
        lines.append(f"DESCRIPTION:{description}")
    if location:
        lines.append(f"LOCATION:{location}")
    lines += [line for line in extra.split("\n") if line]
    lines += ["END:VEVENT", "END:VCALENDAR", ""]
    return "\r\n".join(lines)


@dataclass
class World:
    server: RadicaleServer
    account: Account
    connection: Connection
    calendars: dict[str, Calendar] = field(default_factory=dict)

    def url(self, name: str) -> str:
        # The server's own address, also when the connection goes through a proxy.
        path = self.calendars[name].remote_id.split("/", 3)[3]
        return urljoin(self.server.url, path)

    def put(self, name: str, uid: str, start: datetime, **fields: object) -> None:
        self.server.put_object(
            self.account, self.url(name), f"{uid}.ics", event_ics(uid, start, **fields)
        )

    def plant(self, name: str, markers: Sequence[str], start: datetime) -> None:
        """An event whose title, description, location and (given a fourth marker) attendee's
        address carry ``markers``: content no log, row, message or report may ever show."""
        title, description, location, *guest = markers
        self.put(
            name,
            "planted",
            start,
            title=title,
            description=description,
            location=location,
            extra=f"ATTENDEE;CN=Guest:mailto:{guest[0]}@example.com" if guest else "",
        )

    def put_raw(self, name: str, uid: str, text: str) -> None:
        self.server.put_object(self.account, self.url(name), f"{uid}.ics", text)

    def delete(self, name: str, uid: str) -> None:
        self.server.delete_object(self.account, urljoin(self.url(name), f"{uid}.ics"))

    def events(self, name: str) -> list[icalendar.Event]:
        events = []
        for path in self.server.list_objects(self.account, self.url(name)):
            data = self.server.read_object(self.account, urljoin(self.server.url, path))
            if data is None:  # deleted since the listing (a worker may be running)
                continue
            events += icalendar.Calendar.from_ical(data).walk("VEVENT")
        return events

    def blocks(self, name: str) -> list[icalendar.Event]:
        return [event for event in self.events(name) if MARKER_PROPERTY in event]

    def own_events(self, name: str) -> list[icalendar.Event]:
        return [event for event in self.events(name) if MARKER_PROPERTY not in event]

    def sync(self, *names: str, full: bool = False) -> None:
        for name in names or tuple(self.calendars):
            calendar = Calendar.objects.select_related("connection").get(id=self.calendars[name].id)
            engine.sync_source_calendar(calendar, full=full)

    def rule(self, sources: list[str], targets: list[str], **options: object) -> SyncRule:
        options.setdefault("name", "rule")
        rule = SyncRule.objects.create(user=self.connection.user, **options)
        rule.sources.set([self.calendars[name] for name in sources])
        rule.targets.set([self.calendars[name] for name in targets])
        return rule


def make_world(
    server: RadicaleServer, user, names: list[str], *, server_url: str | None = None
) -> World:
    account = server.new_account()
    for name in names:
        server.create_calendar(account, name)
    connection = connection_connect_caldav(
        user=user,
        kind=Connection.Kind.CALDAV,
        server_url=server_url or server.url,
        username=account.username,
        password=account.password,
        ip_address=None,
    )
    calendars = {calendar.name: calendar for calendar in connection.calendars.all()}
    return World(server=server, account=account, connection=connection, calendars=calendars)
