"""One calendar per provider, as its owner (another client) edits it, and as the provider holds it.

A side writes real events the way a calendar app would (a CalDAV PUT to Radicale or Xandikos, the
Google and Microsoft fakes' own helpers), and reads back what the provider holds straight from it,
never through the product's code: the oracle's eyes.
"""

from __future__ import annotations

import abc
import uuid
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urljoin, urlsplit

import icalendar

from calendars.models import Calendar, Connection
from integrations.base import MARKER_PROPERTY
from integrations.microsoft.mapping import BLOCK_PROPERTY_ID
from multical.lib import vault
from tests.fakes.google import GoogleFake, instance_id
from tests.fakes.microsoft import MicrosoftFake
from tests.syncrules.torture.model import EventSpec, Seen, Shown
from tests.syncrules.world import World


class Side(abc.ABC):
    name: str
    calendar: Calendar
    declines = True  # can show the owner's own "declined" answer

    @abc.abstractmethod
    def put(self, key: str, event: EventSpec) -> None:
        """Create the event, or make it what ``event`` says."""

    @abc.abstractmethod
    def delete(self, key: str) -> None: ...

    @abc.abstractmethod
    def blocks(self) -> list[Seen]:
        """Every event carrying our block marker, as the provider holds it."""

    @abc.abstractmethod
    def hand_delete(self, ref: str) -> None:
        """The owner deletes a block in their calendar app."""

    @abc.abstractmethod
    def hand_move(self, ref: str, delta: timedelta) -> None:
        """The owner drags a block elsewhere in their calendar app."""

    def owns(self, path: str) -> bool:
        """Whether a write to ``path`` at the provider lands in this calendar."""
        return False


class CalDAVSide(Side):
    """A calendar on Radicale or Xandikos, written with plain CalDAV PUTs."""

    declines = False  # the owner's address on these servers is not one the events name

    def __init__(self, name: str, world: World) -> None:
        self.name, self.world = name, world
        self.calendar = world.calendars[name]
        self.path = urlsplit(world.url(name)).path
        self.sequence = 0

    def owns(self, path: str) -> bool:
        return urlsplit(path).path.startswith(self.path)

    def put(self, key: str, event: EventSpec) -> None:
        self.sequence += 1
        self.world.put_raw(self.name, key, _ics(key, event, self.sequence))

    def delete(self, key: str) -> None:
        self.world.delete(self.name, key)

    def blocks(self) -> list[Seen]:
        found = []
        for path in self.world.server.list_objects(self.world.account, self.world.url(self.name)):
            url = urljoin(self.world.server.url, path)
            data = self.world.server.read_object(self.world.account, url)
            if data is None:
                continue
            for component in icalendar.Calendar.from_ical(data).walk("VEVENT"):
                if MARKER_PROPERTY not in component:
                    continue
                start, end = component.decoded("DTSTART"), component.decoded("DTEND")
                all_day = not isinstance(start, datetime)
                found.append(
                    Seen(
                        ref=url,
                        shown=Shown(
                            _moment(start),
                            _moment(end),
                            all_day,
                            str(component.get("SUMMARY", "")),
                            str(component.get("DESCRIPTION", "")),
                            str(component.get("LOCATION", "")),
                            str(component.get("TRANSP", "OPAQUE")).upper() != "TRANSPARENT",
                        ),
                        block_id=str(component[MARKER_PROPERTY]),
                    )
                )
        return found

    def hand_delete(self, ref: str) -> None:
        self.world.server.delete_object(self.world.account, ref)

    def hand_move(self, ref: str, delta: timedelta) -> None:
        data = self.world.server.read_object(self.world.account, ref)
        calendar = icalendar.Calendar.from_ical(data)
        for component in calendar.walk("VEVENT"):
            for name in ("DTSTART", "DTEND"):
                component[name].dt = component[name].dt + delta
        self.world.server.put_object(
            self.world.account, self.world.url(self.name), ref.rsplit("/", 1)[1], calendar.to_ical()
        )


class GoogleSide(Side):
    """A calendar at the Google fake, edited through the fake as the Google Calendar app would."""

    def __init__(self, name: str, fake: GoogleFake, owner, email: str) -> None:  # type: ignore[no-untyped-def]
        self.name, self.fake = name, fake
        self.remote_id = f"{name.lower()}@group.calendar.example"
        fake.add_calendar(self.remote_id, name)
        secrets = fake.grant()
        connection = Connection(
            user=owner, kind=Connection.Kind.GOOGLE, label=email, username=email
        )
        connection.secrets = vault.seal_json(
            secrets, context=vault.context_for(connection, "secrets")
        )
        connection.save()
        self.calendar = Calendar.objects.create(
            connection=connection, remote_id=self.remote_id, name=name
        )
        self.ids: dict[str, tuple[str, int]] = {}  # key → (event id, instances)
        self.email = email

    def owns(self, path: str) -> bool:
        return f"/calendars/{self.remote_id}/" in path.replace("%40", "@")

    def put(self, key: str, event: EventSpec) -> None:
        body = {
            "description": event.description,
            "location": event.location,
            "transparency": "transparent" if event.free else "opaque",
            "status": "tentative" if event.tentative else "confirmed",
        }
        if event.declined:
            body["attendees"] = [
                {"email": "organizer@example.com", "organizer": True, "responseStatus": "accepted"},
                {"email": self.email, "self": True, "responseStatus": "declined"},
            ]
        else:
            body["attendees"] = []
        start, end = (
            (event.start.date(), event.end.date()) if event.all_day else (event.start, event.end)
        )
        if key in self.ids and self.ids[key][1] == 1 and event.count == 1:
            # A single event edited in place (moved, retitled, marked free...).
            self.fake.edit_event(
                self.remote_id, self.ids[key][0], summary=event.title, start=start, end=end, **body
            )
            return
        if key in self.ids:
            self.delete(key)  # a series made anew
        recurrence = [f"RRULE:FREQ=DAILY;COUNT={event.count}"] if event.count > 1 else None
        event_id = self.fake.add_event(
            self.remote_id, event.title, start, end, recurrence=recurrence, **body
        )
        self.ids[key] = (event_id, event.count)
        for index, new_start in event.moved:
            self.fake.move_instance(
                self.remote_id,
                instance_id(event_id, event.original_start(index)),
                new_start,
                new_start + (event.end - event.start),
            )
        for index in event.cancelled:
            self.fake.cancel_instance(
                self.remote_id, instance_id(event_id, event.original_start(index))
            )

    def delete(self, key: str) -> None:
        self.fake.delete_event(self.remote_id, self.ids.pop(key)[0])

    def blocks(self) -> list[Seen]:
        found = []
        for item in self.fake.live_events(self.remote_id):
            marker = item.get("extendedProperties", {}).get("private", {}).get("multical_block")
            if not marker:
                continue
            all_day = "date" in item["start"]
            found.append(
                Seen(
                    ref=item["id"],
                    shown=Shown(
                        _google_moment(item["start"]),
                        _google_moment(item["end"]),
                        all_day,
                        item.get("summary", ""),
                        item.get("description", ""),
                        item.get("location", ""),
                        item.get("transparency", "opaque") != "transparent",
                    ),
                    block_id=marker,
                )
            )
        return found

    def hand_delete(self, ref: str) -> None:
        self.fake.delete_event(self.remote_id, ref)

    def hand_move(self, ref: str, delta: timedelta) -> None:
        item = self.fake.event(self.remote_id, ref)
        if "date" in item["start"]:
            days = timedelta(days=max(1, delta.days or 1))
            self.fake.edit_event(
                self.remote_id,
                ref,
                start=date.fromisoformat(item["start"]["date"]) + days,
                end=date.fromisoformat(item["end"]["date"]) + days,
            )
            return
        self.fake.edit_event(
            self.remote_id,
            ref,
            start=datetime.fromisoformat(item["start"]["dateTime"]) + delta,
            end=datetime.fromisoformat(item["end"]["dateTime"]) + delta,
        )


class MicrosoftSide(Side):
    """A calendar at the Microsoft fake, edited through the fake as Outlook would."""

    def __init__(self, name: str, fake: MicrosoftFake, owner, email: str) -> None:  # type: ignore[no-untyped-def]
        self.name, self.fake = name, fake
        account = fake.connect(email)
        self.remote_id = account.default_calendar
        connection = Connection(
            user=owner, kind=Connection.Kind.MICROSOFT, label=email, username=email
        )
        connection.secrets = vault.seal_json(
            account.secrets, context=vault.context_for(connection, "secrets")
        )
        connection.save()
        self.calendar = Calendar.objects.create(
            connection=connection, remote_id=self.remote_id, name=name
        )
        self.ids: dict[str, list[str]] = {}  # key → the event and, for a series, its master

    def owns(self, path: str) -> bool:
        if f"/calendars/{self.remote_id}/" in path:
            return True
        event_id = path.rstrip("/").rsplit("/", 1)[-1]
        event = self.fake.graph.events.get(event_id)
        return event is not None and event.calendar_id == self.remote_id

    def put(self, key: str, event: EventSpec) -> None:
        graph = self.fake.graph
        fields = {
            "show_as": "free" if event.free else "tentative" if event.tentative else "busy",
            "response": "declined" if event.declined else "organizer",
            "body": {"contentType": "text", "content": event.description},
            "location": event.location,
            "is_all_day": event.all_day,
        }
        if key in self.ids and event.count == 1 and len(self.ids[key]) == 1:
            graph.update_event(
                self.ids[key][0], subject=event.title, start=event.start, end=event.end, **fields
            )
            return
        if key in self.ids:
            self.delete(key)
        if event.count == 1:
            self.ids[key] = [
                graph.add_event(self.remote_id, event.title, event.start, event.end, **fields)
            ]
            return
        master, occurrences = graph.add_series(
            self.remote_id,
            event.title,
            event.start,
            duration=event.end - event.start,
            count=event.count,
            every=timedelta(days=1),
            **fields,
        )
        self.ids[key] = [master]
        for index, new_start in event.moved:
            graph.update_event(
                occurrences[index], start=new_start, end=new_start + (event.end - event.start)
            )
        for index in event.cancelled:
            graph.delete_event(occurrences[index])

    def delete(self, key: str) -> None:
        self.fake.graph.delete_event(self.ids.pop(key)[0])

    def blocks(self) -> list[Seen]:
        found = []
        for item in self.fake.graph.live_events(self.remote_id):
            marker = next(
                (v for k, v in item.properties.items() if k.lower() == BLOCK_PROPERTY_ID.lower()),
                "",
            )
            if not marker or item.type == "seriesMaster":
                continue
            found.append(
                Seen(
                    ref=item.id,
                    shown=Shown(
                        item.start.astimezone(UTC),
                        item.end.astimezone(UTC),
                        item.is_all_day,
                        item.subject,
                        item.body.get("content", ""),
                        item.location,
                        item.show_as != "free",
                    ),
                    block_id=marker,
                )
            )
        return found

    def hand_delete(self, ref: str) -> None:
        self.fake.graph.delete_event(ref)

    def hand_move(self, ref: str, delta: timedelta) -> None:
        item = self.fake.graph.events[ref]
        if item.is_all_day:
            delta = timedelta(days=max(1, delta.days or 1))
        self.fake.graph.update_event(ref, start=item.start + delta, end=item.end + delta)


def _ics(key: str, event: EventSpec, sequence: int) -> str:
    def when(name: str, moment: datetime) -> str:
        if event.all_day:
            return f"{name};VALUE=DATE:{moment:%Y%m%d}"
        return f"{name}:{moment:%Y%m%dT%H%M%SZ}"

    def body(start: datetime, end: datetime) -> list[str]:
        lines = [
            "DTSTAMP:20260101T000000Z",
            f"SEQUENCE:{sequence}",
            when("DTSTART", start),
            when("DTEND", end),
            f"SUMMARY:{event.title}",
        ]
        if event.description:
            lines.append(f"DESCRIPTION:{event.description}")
        if event.location:
            lines.append(f"LOCATION:{event.location}")
        if event.free:
            lines.append("TRANSP:TRANSPARENT")
        if event.tentative:
            lines.append("STATUS:TENTATIVE")
        return lines

    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//torture//EN", "BEGIN:VEVENT"]
    lines += [f"UID:{key}", *body(event.start, event.end)]
    if event.count > 1:
        lines.append(f"RRULE:FREQ=DAILY;COUNT={event.count}")
        for index in sorted(event.cancelled):
            lines.append(when("EXDATE", event.original_start(index)))
    lines.append("END:VEVENT")
    for index, new_start in event.moved:
        lines += ["BEGIN:VEVENT", f"UID:{key}", when("RECURRENCE-ID", event.original_start(index))]
        lines += body(new_start, new_start + (event.end - event.start))
        lines.append("END:VEVENT")
    lines += ["END:VCALENDAR", ""]
    return "\r\n".join(lines)


def _moment(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _google_moment(when: dict[str, str]) -> datetime:
    if "date" in when:
        return _moment(date.fromisoformat(when["date"]))
    return datetime.fromisoformat(when["dateTime"]).astimezone(UTC)


def random_key() -> str:
    return f"ev-{uuid.uuid4().hex[:12]}"
