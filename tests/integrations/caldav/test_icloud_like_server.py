"""iCloud's ways, replayed by a scripted server: a per-account host found in discovery, the
collection listed among its own sync changes, truncated sync answers, mailto: addresses."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from integrations.base import BusyPolicy, Interval, Response, Window
from integrations.caldav.provider import CalDAVProvider
from multical.lib import safe_http
from tests.integrations.caldav.scripted_server import ScriptedServer, found, multistatus, status
from tests.integrations.spans import each_names_its_event, times_of

WINDOW = Window(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 3, 1, tzinfo=UTC))
ACCOUNT_HOST = "p42-caldav.icloud.test"
NEW_YORK = (
    "BEGIN:VCALENDAR&#13;\nVERSION:2.0&#13;\nPRODID:-//Apple Inc.//EN&#13;\n"
    "BEGIN:VTIMEZONE&#13;\nTZID:America/New_York&#13;\nBEGIN:STANDARD&#13;\n"
    "DTSTART:20071104T020000&#13;\nTZOFFSETFROM:-0400&#13;\nTZOFFSETTO:-0500&#13;\n"
    "END:STANDARD&#13;\nEND:VTIMEZONE&#13;\nEND:VCALENDAR&#13;\n"
)
RESOURCE_TYPE_CALENDAR = "<d:resourcetype><d:collection/><c:calendar/></d:resourcetype>"
READ_WRITE = "<d:current-user-privilege-set><d:privilege><d:read/></d:privilege><d:privilege><d:write/></d:privilege></d:current-user-privilege-set>"
READ = "<d:current-user-privilege-set><d:privilege><d:read/></d:privilege><d:privilege><c:read-free-busy/></d:privilege></d:current-user-privilege-set>"


def components(*names: str) -> str:
    comps = "".join(f'<c:comp name="{name}"/>' for name in names)
    return f"<c:supported-calendar-component-set>{comps}</c:supported-calendar-component-set>"


def apple_event(uid: str, day: int, *, extra: str = "") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Apple Inc.//iOS 18//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20300101T000000Z\r\nDTSTART:203001{day:02}T150000Z\r\n"
        f"DTEND:203001{day:02}T160000Z\r\nSUMMARY:Call\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


@pytest.fixture
def account_host(monkeypatch):
    """The account's own host resolves (to loopback) only through the outbound check."""
    original = safe_http.resolve_public_addresses

    def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host == ACCOUNT_HOST else original(host, port)

    monkeypatch.setattr(safe_http, "resolve_public_addresses", resolve)
    return ACCOUNT_HOST


@pytest.fixture
def icloud(account_host):
    with ScriptedServer() as server:
        home = f"http://{account_host}:{server.port}/1234/calendars/"
        principal = multistatus(
            found(
                "/1234/principal/",
                f"<c:calendar-home-set><d:href>{home}</d:href></c:calendar-home-set>"
                "<c:calendar-user-address-set><d:href>urn:uuid:5678</d:href>"
                "<d:href>mailto:Me@Example.com</d:href></c:calendar-user-address-set>",
            )
        )
        server.routes[("PROPFIND", "/")] = [
            multistatus(
                found(
                    "/",
                    "<d:current-user-principal><d:href>/1234/principal/</d:href></d:current-user-principal>",
                )
            )
        ]
        server.routes[("PROPFIND", "/1234/principal/")] = [principal]
        server.routes[("PROPFIND", "/1234/calendars/")] = [
            multistatus(
                found("/1234/calendars/", "<d:resourcetype><d:collection/></d:resourcetype>"),
                found(
                    "/1234/calendars/work/",
                    RESOURCE_TYPE_CALENDAR
                    + "<d:displayname>Work</d:displayname>"
                    + '<x:calendar-color xmlns:x="http://apple.com/ns/ical/" symbolic-color="blue">#1BADF8FF</x:calendar-color>'
                    + f"<c:calendar-timezone>{NEW_YORK}</c:calendar-timezone>"
                    + READ_WRITE
                    + components("VEVENT"),
                ),
                found(
                    "/1234/calendars/family/",
                    RESOURCE_TYPE_CALENDAR
                    + "<d:displayname>Family</d:displayname>"
                    + READ
                    + components("VEVENT"),
                ),
                found(
                    "/1234/calendars/tasks/",
                    RESOURCE_TYPE_CALENDAR
                    + "<d:displayname>Reminders</d:displayname>"
                    + READ_WRITE
                    + components("VTODO"),
                ),
                found(
                    "/1234/calendars/inbox/",
                    "<d:resourcetype><d:collection/><c:schedule-inbox/></d:resourcetype>",
                ),
            )
        ]
        yield server


def test_discovery_moves_to_the_account_host_and_lists_only_event_calendars(icloud):
    calendars = CalDAVProvider.from_secrets(
        {"server_url": icloud.url, "username": "me@example.com", "password": "app-specific"}
    ).list_calendars()

    base = f"http://{ACCOUNT_HOST}:{icloud.port}/1234/calendars/"
    assert [(c.remote_id, c.name, c.color, c.time_zone, c.read_only) for c in calendars] == [
        (f"{base}work/", "Work", "#1badf8", "America/New_York", False),
        (f"{base}family/", "Family", "", "", True),
    ]
    assert icloud.requests[-1].headers["Host"] == f"{ACCOUNT_HOST}:{icloud.port}"


def test_sync_skips_the_collection_follows_a_truncated_answer_and_reads_the_owner_response(icloud):
    icloud.routes[("PROPFIND", "/1234/calendars/work/")] = [
        multistatus(
            found(
                "/1234/calendars/work/",
                "<cs:getctag>ctag-2</cs:getctag><d:sync-token>token-2</d:sync-token>"
                "<d:current-user-principal><d:href>/1234/principal/</d:href></d:current-user-principal>",
            )
        )
    ]
    icloud.routes[("REPORT", "/1234/calendars/work/")] = [
        # The collection itself, with an etag, and a 507 on it: more to come from "token-1b".
        multistatus(
            found("/1234/calendars/work/", '<d:getetag>"c"</d:getetag>'),
            found("/1234/calendars/work/a.ics", '<d:getetag>"a2"</d:getetag>'),
            status("/1234/calendars/work/b.ics", "404 Not Found"),
            status("/1234/calendars/work/", "507 Insufficient Storage"),
            sync_token="token-1b",
        ),
        multistatus(
            found("/1234/calendars/work/c.ics", '<d:getetag>"c1"</d:getetag>'), sync_token="token-2"
        ),
        multistatus(
            found(
                "/1234/calendars/work/a.ics",
                '<d:getetag>"a2"</d:getetag><c:calendar-data>'
                + apple_event("a", 15, extra="ATTENDEE;PARTSTAT=DECLINED:mailto:me@example.com\r\n")
                + "</c:calendar-data>",
            ),
            found(
                "/1234/calendars/work/c.ics",
                '<d:getetag>"c1"</d:getetag><c:calendar-data>'
                + apple_event("c", 16)
                + "</c:calendar-data>",
            ),
        ),
    ]
    provider = CalDAVProvider.from_secrets(
        {"server_url": icloud.url, "username": "me", "password": "pw"}
    )
    calendar = f"http://{ACCOUNT_HOST}:{icloud.port}/1234/calendars/work/"

    changes = provider.changes(
        calendar, json.dumps({"ctag": "ctag-1", "sync_token": "token-1"}), WINDOW
    )

    reports = [r.body.decode() for r in icloud.requests if r.method == "REPORT"]
    assert "<d:sync-token>token-1</d:sync-token>" in reports[0]
    assert "<d:sync-token>token-1b</d:sync-token>" in reports[1]
    assert (
        "calendar-multiget" in reports[2]
        and "/work/a.ics" in reports[2]
        and "/work/c.ics" in reports[2]
    )
    assert changes.replaced_series == {
        "/1234/calendars/work/a.ics",
        "/1234/calendars/work/b.ics",
        "/1234/calendars/work/c.ics",
    }
    responses = {event.id: event.response for event in changes.events}
    assert responses == {
        "/1234/calendars/work/a.ics": Response.DECLINED,
        "/1234/calendars/work/c.ics": Response.NONE,
    }
    assert json.loads(changes.next_cursor) == {"ctag": "ctag-2", "sync_token": "token-2"}


@pytest.mark.parametrize(
    ("policy", "days"),
    [(BusyPolicy(), [16, 17, 18]), (BusyPolicy(tentative=False), [17, 18])],
)
def test_busy_time_weighs_the_owner_answer_declined_never_tentative_as_the_policy_says(
    icloud, policy, days
):
    def answered(uid: str, day: int, partstat: str) -> str:
        attendee = f"ATTENDEE;PARTSTAT={partstat}:mailto:me@example.com\r\n"
        return found(
            f"/1234/calendars/work/{uid}.ics",
            f'<d:getetag>"{uid}"</d:getetag><c:calendar-data>'
            + apple_event(uid, day, extra=attendee)
            + "</c:calendar-data>",
        )

    icloud.routes[("REPORT", "/1234/calendars/work/")] = [
        multistatus(
            answered("declined", 15, "DECLINED"),
            answered("tentative", 16, "TENTATIVE"),
            answered("accepted", 17, "ACCEPTED"),
            answered("unanswered", 18, "NEEDS-ACTION"),
        )
    ]
    icloud.routes[("PROPFIND", "/1234/calendars/work/")] = [
        multistatus(
            found(
                "/1234/calendars/work/",
                "<d:current-user-principal><d:href>/1234/principal/</d:href></d:current-user-principal>",
            )
        )
    ]
    provider = CalDAVProvider.from_secrets(
        {"server_url": icloud.url, "username": "me", "password": "pw"}
    )
    calendar = f"http://{ACCOUNT_HOST}:{icloud.port}/1234/calendars/work/"

    busy = provider.busy([calendar], WINDOW, policy)

    assert each_names_its_event(busy)
    assert times_of(busy) == [
        Interval(datetime(2030, 1, day, 15, tzinfo=UTC), datetime(2030, 1, day, 16, tzinfo=UTC))
        for day in days
    ]
