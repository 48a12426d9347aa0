"""The demo world of ``manage.py demo``: a demo user connected to a local CalDAV server, with two
calendars of sample events, one sync rule between them, and a booking page.

It goes through the product's own services (connect, create the rule and the page, sync); only
the calendar server is local. Seeding again reuses the user, the connection, the rule and the
page (as the newcomer may have changed them), and writes the same
objects under the same names and UIDs, so nothing is duplicated. When the connection or the
server's calendars are missing (a new database, a wiped server folder, another port), the demo's
calendars and connection are made again together, so no block is ever left behind twice.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import httpx
import icalendar
from django.utils import timezone

from accounts.models import User
from accounts.services import user_verify_email
from booking.models import BookingPage
from calendars.models import Calendar, Connection
from calendars.selectors import connection_secrets
from calendars.services import (
    connection_connect_caldav,
    connection_refresh_calendars,
    connection_update_credentials,
)
from syncrules.models import SyncRule

DEMO_EMAIL = "demo@multical.local"
RULE_NAME = "Personal → Work"
PAGE_SLUG = "intro-call"
# Slug in the server's URL → (display name, colour).
CALENDARS = {"work": ("Work", "#2563eb"), "personal": ("Personal", "#16a34a")}
_XML = {"Content-Type": 'application/xml; charset="utf-8"'}
_ICS = {"Content-Type": 'text/calendar; charset="utf-8"'}


@dataclass(frozen=True)
class DemoWorld:
    user: User
    connection: Connection
    work: Calendar
    personal: Calendar
    rule: SyncRule
    page: BookingPage


def demo_seed(*, server_url: str, username: str, password: str, time_zone: str) -> DemoWorld:
    """Make (or reuse) the demo user, the calendars and events on the server, the connection and
    the rule. The user logs in with ``password`` too; ``time_zone`` applies to a new user only."""
    user = _demo_user(password=password, time_zone=time_zone)
    urls = {slug: urljoin(server_url, f"{username}/{slug}/") for slug in CALENDARS}
    connection = (
        Connection.objects.filter(
            user=user, kind=Connection.Kind.CALDAV, server_url=server_url, username=username
        )
        .exclude(status__in=Connection.RELEASED)
        .first()
    )
    today = datetime.now(ZoneInfo(user.time_zone)).date()
    with httpx.Client(auth=(username, password), timeout=30) as dav:
        if connection is None or not all(_exists(dav, url) for url in urls.values()):
            _start_over(dav, user=user, username=username, urls=urls)
            connection = None
        for slug, objects in demo_objects(today=today, zone=ZoneInfo(user.time_zone)).items():
            for name, data in objects.items():
                response = dav.put(urljoin(urls[slug], name), content=data, headers=_ICS)
                response.raise_for_status()
    if connection is None:
        connection = connection_connect_caldav(
            user=user,
            kind=Connection.Kind.CALDAV,
            server_url=server_url,
            username=username,
            password=password,
            ip_address=None,
        )
    elif (
        connection.status != Connection.Status.OK
        or connection_secrets(connection).get("password") != password
    ):
        connection_update_credentials(
            connection=connection, secrets={"password": password}, ip_address=None
        )
    else:
        connection_refresh_calendars(connection=connection)
    by_path = {
        urlsplit(calendar.remote_id).path: calendar for calendar in connection.calendars.all()
    }
    work, personal = (by_path[urlsplit(urls[slug]).path] for slug in ("work", "personal"))
    return DemoWorld(
        user,
        connection,
        work,
        personal,
        _demo_rule(user, personal, work),
        _demo_page(user, work),
    )


def demo_sync(world: DemoWorld) -> None:
    """The rule's first sync, here and now, so the Work calendar holds its blocks at first login."""
    from syncrules import engine  # imported late, as the rest of the syncrules app

    engine.sync_source_calendar(world.personal, full=True)


def _demo_user(*, password: str, time_zone: str) -> User:
    user = User.objects.filter(email=DEMO_EMAIL).first()
    if user is None:
        # A demo account skips sign-up's e-mail round trip: it is verified from the start.
        return User.objects.create_user(
            DEMO_EMAIL, password, time_zone=time_zone, email_verified_at=timezone.now()
        )
    if not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    user_verify_email(user=user)
    return user


def _start_over(dav: httpx.Client, *, user: User, username: str, urls: dict[str, str]) -> None:
    """Forget the demo's connection, rule and page, and make its calendars again, empty."""
    Connection.objects.filter(user=user, kind=Connection.Kind.CALDAV, username=username).delete()
    SyncRule.objects.filter(user=user, name=RULE_NAME).delete()
    # Bookings made through the page stay in the user's list, as when anyone deletes a page.
    BookingPage.objects.filter(owner=user, slug=PAGE_SLUG).delete()
    for slug, url in urls.items():
        dav.delete(url)
        name, color = CALENDARS[slug]
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" '
            'xmlns:a="http://apple.com/ns/ical/"><d:set><d:prop>'
            f"<d:displayname>{name}</d:displayname><a:calendar-color>{color}</a:calendar-color>"
            "</d:prop></d:set></c:mkcalendar>"
        )
        dav.request("MKCALENDAR", url, content=body, headers=_XML).raise_for_status()


def _exists(dav: httpx.Client, url: str) -> bool:
    return dav.request("PROPFIND", url, headers={"Depth": "0"}).status_code == 207


def _demo_rule(user: User, personal: Calendar, work: Calendar) -> SyncRule:
    rule = SyncRule.objects.filter(user=user, name=RULE_NAME).first()
    if rule is not None:
        return rule  # as the newcomer may have changed it
    from syncrules.services import RuleSettings, rule_create

    settings = replace(
        RuleSettings.of(SyncRule()), name=RULE_NAME, visibility=SyncRule.Visibility.BUSY
    )
    return rule_create(user=user, settings=settings, sources=[personal], targets=[work])


def _demo_page(user: User, work: Calendar) -> BookingPage:
    """A listed 30-minute page, weekdays 9 to 5 less busy time in every calendar, booked into Work."""
    from booking.selectors import owner as selectors
    from booking.services.pages import PageSettings, page_create, profile_update

    if selectors.profile_for_user(user) is None:
        profile_update(user=user, handle=selectors.suggested_handle(user), display_name="Demo")
    page = BookingPage.objects.filter(owner=user, slug=PAGE_SLUG).first()
    if page is not None:
        return page
    settings = replace(
        PageSettings.of(BookingPage()),
        title="Intro call",
        description="Thirty minutes to get to know each other.",
        slug=PAGE_SLUG,
        listed=True,
        durations=(30,),
        time_zone=user.time_zone,
        weekly_hours={str(weekday): [[9 * 60, 17 * 60]] for weekday in range(1, 6)},
        write_calendar=work,
    )
    return page_create(owner=user, settings=settings)


def demo_objects(*, today: date, zone: ZoneInfo) -> dict[str, dict[str, bytes]]:
    """The sample events around ``today`` in ``zone``: calendar slug → object name → iCalendar."""

    def at(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(today + timedelta(days=day), time(hour, minute), tzinfo=zone)

    def next_weekday(iso_weekday: int) -> int:
        return (iso_weekday - today.isoweekday()) % 7

    first_workday = next_weekday(1) if today.isoweekday() > 5 else 0
    weekdays = {"freq": "weekly", "byday": ["MO", "TU", "WE", "TH", "FR"], "count": 20}
    me, sam = f"mailto:{DEMO_EMAIL}", "mailto:sam@vendor.example"
    tuesday, thursday = next_weekday(2), next_weekday(4)
    event = functools.partial(_event, today=today)

    def attendee(address: str, name: str, response: str) -> icalendar.vCalAddress:
        value = icalendar.vCalAddress(address)
        value.params.update(CN=name, PARTSTAT=response)
        return value

    team_meeting = [
        event(
            "team-meeting",
            "Weekly team meeting",
            at(tuesday, 10),
            at(tuesday, 11),
            rrule={"freq": "weekly", "count": 6},
            exdate=at(tuesday + 14, 10),  # cancelled: half the team is at a conference
        ),
        event(
            "team-meeting",
            "Weekly team meeting (moved to Wednesday)",
            at(tuesday + 8, 14),
            at(tuesday + 8, 15),
            recurrence_id=at(tuesday + 7, 10),
        ),
    ]
    vendor_pitch = event(
        "vendor-pitch",
        "Vendor pitch: analytics platform",
        at(3, 16),
        at(3, 17),
        organizer=sam,
        # Declined by the demo account. Radicale names its users by path, not by e-mail
        # (calendar-user-address-set), so this reads as "no response" there: it sits in Work,
        # which no rule reads, rather than passing for busy time in Personal.
        attendee=[attendee(me, "Demo", "DECLINED"), attendee(sam, "Sam", "ACCEPTED")],
    )
    yoga = [
        event(
            "yoga",
            "Yoga class",
            at(thursday, 18, 30),
            at(thursday, 19, 30),
            rrule={"freq": "weekly", "count": 6},
            exdate=at(thursday + 21, 18, 30),
        ),
        event(
            "yoga",
            "Yoga class (Friday this week)",
            at(thursday + 8, 18),
            at(thursday + 8, 19),
            recurrence_id=at(thursday + 7, 18, 30),
        ),
    ]
    work = {
        "team-meeting": team_meeting,
        "standup": [
            event(
                "standup",
                "Daily stand-up",
                at(first_workday, 9, 30),
                at(first_workday, 9, 45),
                rrule=weekdays,
            )
        ],
        "client-call-acme": [
            event(
                "client-call-acme",
                "Client call: Acme onboarding",
                at(1, 15),
                at(1, 15, 45),
                location="Video call",
                description="Join: https://meet.example.com/acme-onboarding",
            )
        ],
        "client-call-initech": [
            event("client-call-initech", "Client call: Initech", at(10, 11), at(10, 11, 30))
        ],
        "globex-review": [
            event(
                "globex-review",
                "Quarterly review with Globex",
                at(8, 13),
                at(8, 14, 30),
                location="Globex HQ, room 4",
            )
        ],
        "vendor-pitch": [vendor_pitch],
    }
    personal = {
        "school-run": [
            event(
                "school-run",
                "School run",
                at(first_workday, 8),
                at(first_workday, 8, 30),
                rrule=weekdays,
            )
        ],
        "dentist": [
            event(
                "dentist",
                "Dentist",
                at(2, 11),
                at(2, 11, 45),
                location="Smile Dental, 12 High Street",
            )
        ],
        "yoga": yoga,
        "lunch-with-sam": [event("lunch-with-sam", "Lunch with Sam", at(5, 12, 30), at(5, 13, 30))],
        "parents-evening": [
            event("parents-evening", "Parents' evening", at(9, 17, 30), at(9, 18, 30))
        ],
        "parcel": [
            event(
                "parcel",
                "Parcel delivery window",
                at(4, 12),
                at(4, 14),
                transp="TRANSPARENT",  # free: the rule copies only busy time
            )
        ],
        "day-off": [
            event(
                "day-off",
                "Day off",
                today + timedelta(days=11),
                today + timedelta(days=12),
            )
        ],
    }
    return {
        "work": {f"demo-{name}.ics": _calendar(events) for name, events in work.items()},
        "personal": {f"demo-{name}.ics": _calendar(events) for name, events in personal.items()},
    }


def demo_try_me_event(*, today: date, zone: ZoneInfo) -> bytes:
    """An event for the newcomer to add to Personal by hand: tomorrow, 14:00 to 15:00."""
    start = datetime.combine(today + timedelta(days=1), time(14), tzinfo=zone)
    return _calendar(
        [_event("try-me", "My first synced event", start, start + timedelta(hours=1), today=today)]
    )


def _event(
    uid: str, summary: str, start: date, end: date, *, today: date, **props: object
) -> icalendar.Event:
    component = icalendar.Event()
    component.add("uid", f"demo-{uid}@multical.local")
    # The same bytes all day long, so writing the objects again changes nothing.
    component.add("dtstamp", datetime.combine(today, time.min, tzinfo=UTC))
    component.add("summary", summary)
    component.add("dtstart", start)
    component.add("dtend", end)
    for name, value in props.items():
        component.add(name.replace("_", "-"), value)
    return component


def _calendar(events: list[icalendar.Event]) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Multical//demo//EN")
    calendar.add("version", "2.0")
    for component in events:
        calendar.add_component(component)
    calendar.add_missing_timezones()
    return calendar.to_ical()
