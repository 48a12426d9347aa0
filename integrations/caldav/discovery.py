"""Finding an account's calendars: principal, calendar home, and each calendar's properties."""

from __future__ import annotations

import re
from datetime import tzinfo
from urllib.parse import unquote, urljoin, urlsplit
from zoneinfo import ZoneInfo

import icalendar

from integrations.base import ProviderError, RemoteCalendar
from integrations.caldav.client import (
    APPLE,
    CALDAV,
    DAV,
    NOT_CALDAV,
    XML_BODY,
    DAVSession,
    NotMultistatusError,
    PropStat,
    first,
    normalise_href,
    parse_multistatus,
    propfind,
    qname,
)

_CALENDAR_PROPS = [
    (DAV, "resourcetype"),
    (DAV, "displayname"),
    (APPLE, "calendar-color"),
    (CALDAV, "calendar-timezone"),
    (CALDAV, "calendar-timezone-id"),
    (DAV, "current-user-privilege-set"),
    (CALDAV, "supported-calendar-component-set"),
]
_WRITE_PRIVILEGES = {qname(DAV, name) for name in ("all", "write", "write-content", "bind")}
_COLOR = re.compile(r"#([0-9a-fA-F]{6})(?:[0-9a-fA-F]{2})?")


def find_principal(session: DAVSession, start: str) -> str:
    """The signed-in user's principal URL, asked of the address given, then its /.well-known/caldav."""
    candidates = [start]
    if urlsplit(start).path in ("", "/"):
        candidates.append(urljoin(start, "/.well-known/caldav"))
    dav_url = ""
    for url in candidates:
        response = session.request(
            "PROPFIND",
            url,
            body=propfind([(DAV, "current-user-principal")]),
            headers={**XML_BODY, "Depth": "0"},
        )
        if response.status != 207:
            continue
        try:
            answer = parse_multistatus(response.body)
        except NotMultistatusError:
            continue
        for entry in answer.responses:
            hrefs = entry.hrefs(DAV, "current-user-principal")
            if hrefs:
                return urljoin(response.url, hrefs[0])
        dav_url = dav_url or response.url
    if dav_url:
        # A DAV server that does not name the principal: take the address as the principal.
        return dav_url
    raise ProviderError(NOT_CALDAV, permanent=True)


def list_calendars(session: DAVSession, principal_url: str) -> list[RemoteCalendar]:
    """The principal's event calendars (task lists, inboxes and plain folders left out)."""
    principal = first(session.propfind(principal_url, [(CALDAV, "calendar-home-set")]))
    homes = principal.hrefs(CALDAV, "calendar-home-set") or [principal_url]
    # iCloud's home is on the account's own host: every later request goes there.
    home_url = urljoin(principal_url, homes[0])
    calendars = []
    for entry in session.propfind(home_url, _CALENDAR_PROPS, depth=1).responses:
        calendar = _remote_calendar(entry, home_url)
        if calendar is not None:
            calendars.append(calendar)
    return calendars


def own_addresses(session: DAVSession, principal_url: str) -> list[str]:
    """The owner's e-mail addresses (calendar-user-address-set); none when the server will not say."""
    response = session.request(
        "PROPFIND",
        principal_url,
        body=propfind([(CALDAV, "calendar-user-address-set")]),
        headers={**XML_BODY, "Depth": "0"},
    )
    if response.status != 207:
        return []
    try:
        return mail_addresses(first(parse_multistatus(response.body)))
    except NotMultistatusError:
        return []


def mail_addresses(entry: PropStat) -> list[str]:
    return [
        unquote(href[len("mailto:") :]).lower()
        for href in entry.hrefs(CALDAV, "calendar-user-address-set")
        if href.lower().startswith("mailto:")
    ]


def calendar_zone(vtimezone: str) -> tuple[str, tzinfo | None]:
    """From a calendar-timezone VCALENDAR: its IANA name ("" if none) and a zone (None if none)."""
    if not vtimezone:
        return "", None
    try:
        definitions = icalendar.Calendar.from_ical(vtimezone).walk("VTIMEZONE")
        first = definitions[0] if definitions else None
        zone = first.to_tz() if isinstance(first, icalendar.Timezone) else None
    except (ValueError, KeyError, IndexError, TypeError):
        return "", None
    if isinstance(zone, ZoneInfo):
        return zone.key, zone
    return "", zone


def _remote_calendar(entry: PropStat, home_url: str) -> RemoteCalendar | None:
    resource_types = entry.props.get(qname(DAV, "resourcetype"))
    if resource_types is None or resource_types.find(qname(CALDAV, "calendar")) is None:
        return None
    components = entry.props.get(qname(CALDAV, "supported-calendar-component-set"))
    if components is not None and not any(
        component.get("name", "").upper() == "VEVENT" for component in components
    ):
        return None  # a task list
    url = urljoin(home_url, normalise_href(entry.href, home_url))
    color = _COLOR.fullmatch(entry.text(APPLE, "calendar-color"))
    zone_name = entry.text(CALDAV, "calendar-timezone-id")
    if not _is_zone_name(zone_name):
        zone_name = calendar_zone(entry.text(CALDAV, "calendar-timezone"))[0]
    return RemoteCalendar(
        remote_id=url,
        name=entry.text(DAV, "displayname") or unquote(url.rstrip("/").rsplit("/", 1)[-1]),
        color=f"#{color.group(1).lower()}" if color else "",
        time_zone=zone_name,
        read_only=is_read_only(entry),
    )


def is_read_only(entry: PropStat) -> bool:
    """Read-only when the server lists the account's privileges and none of them allows writing."""
    privileges = entry.props.get(qname(DAV, "current-user-privilege-set"))
    if privileges is None:
        return False
    return not any(
        granted.tag in _WRITE_PRIVILEGES
        for privilege in privileges.iter(qname(DAV, "privilege"))
        for granted in privilege
    )


def _is_zone_name(name: str) -> bool:
    if not name:
        return False
    try:
        ZoneInfo(name)
    except (ValueError, KeyError):
        return False
    return True
