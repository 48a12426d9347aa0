"""The fast path reads exactly what the general path reads, and declines what it cannot.

The differential test writes seeded random calendars of the shapes the fast path takes (zones
across their DST changes, all-day events, series with EXDATEs and moved instances, escapes,
folded lines, odd but valid writing) and some it must decline, and compares
``ical_fast.read_simple`` with ``parse_calendar`` + ``read_events`` field by field.
"""

from __future__ import annotations

import random
import re
from dataclasses import astuple
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr

from integrations.base import RemoteEvent, Window
from integrations.caldav.sync import _with_href_ids
from integrations.ical import MAX_INSTANCES, ICalendarError, parse_calendar, read_events
from integrations.ical_fast import read_simple

OWNER = "owner@example.com"
# How the providers name events: an iCal link by UID, CalDAV by the object's href.
NAMINGS: list[dict[str, str]] = [
    {},
    {"series_prefix": "/cal/event.ics|"},
    {"series_prefix": "/cal/event.ics|", "series_id": "/cal/event.ics"},
]
# Zones with a DST change in both directions, a half-hour one, southern ones, and none.
ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "America/Santiago",
    "Pacific/Chatham",
    "Asia/Kolkata",
    "Europe/London",
    "UTC",
    "Etc/GMT+5",
]
# Around the spring and autumn changes of the northern and southern zones above.
PIVOTS = [
    datetime(2030, 3, 31, 1, 0),
    datetime(2030, 3, 10, 7, 0),
    datetime(2030, 10, 27, 1, 0),
    datetime(2030, 11, 3, 6, 0),
    datetime(2030, 4, 7, 0, 0),
    datetime(2030, 9, 29, 0, 0),
    datetime(2031, 1, 1, 0, 0),
]
TEXTS = [
    "Plain",
    "Comma\\, semicolon\\; backslash\\\\ newline\\n capital\\N end",
    "Colon: in the value; and a raw, comma",
    "Unicode: Grüße, 東京, emoji 🎉",
    "Join https://meet.google.com/abc-defg-hij now",
    "https://zoom.us/j/123456789?pwd=x.",
    "Trailing backslash before n\\\\n stays",
    "  spaces around  ",
    "Escaped colon\\: and a lone backslash \\x and a last one \\",
    "",
]
STATUSES = ["", "CONFIRMED", "TENTATIVE", "CANCELLED", "tentative"]


def fields(event: RemoteEvent) -> tuple[object, ...]:
    return astuple(event)


def general(data: bytes, window: Window, **kwargs: object) -> list[tuple[object, ...]] | str:
    """The general path's events, sorted, or what went wrong with them; with ``series_id``, named
    after their object as CalDAV names them."""
    series_id = str(kwargs.pop("series_id", ""))
    try:
        parsed = read_events(parse_calendar(data), window, **kwargs)  # type: ignore[arg-type]
    except ICalendarError as error:
        return f"error: {error}"
    if parsed.skipped:
        return f"skipped {parsed.skipped}"
    events = [_with_href_ids(e, series_id) for e in parsed.events] if series_id else parsed.events
    return sorted(fields(event) for event in events)


def fast(data: bytes, window: Window, **kwargs: object) -> list[tuple[object, ...]] | None:
    simple = read_simple(data, window, **kwargs)  # type: ignore[arg-type]
    if simple is None:
        return None
    assert simple.parsed.skipped == 0
    return sorted(fields(event) for event in simple.parsed.events)


class Writer:
    """Random iCalendar text: a VCALENDAR of a few events, as different writers write them."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.zones_used: set[str] = set()

    def calendar(self, pivot: datetime) -> str:
        rng = self.rng
        events: list[str] = []
        for number in range(rng.choice([1, 1, 1, 2, 3, 6])):
            events.extend(self.event(f"uid-{number}@{rng.randrange(10**6)}", pivot))
        zones = [self.timezone(name) for name in sorted(self.zones_used)]
        head = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Multical//Differential//EN"]
        if rng.random() < 0.3:
            head += ["CALSCALE:GREGORIAN", "METHOD:PUBLISH", "X-WR-CALNAME:Gen\\, test"]
        lines = [*head, *(line for zone in zones for line in zone), *events, "END:VCALENDAR"]
        if rng.random() < 0.1:  # old Mozilla exports: one VCALENDAR per event
            split = lines.index("END:VCALENDAR")
            lines = [*lines[:split], "END:VCALENDAR", *head, *lines[split:]]
        return self.written(lines)

    def written(self, lines: list[str]) -> str:
        rng = self.rng
        if rng.random() < 0.3:
            lines = [self.cased(line) for line in lines]
        folded = [self.folded(line) for line in lines]
        ending = rng.choice(["\r\n", "\r\n", "\n"])
        text = ending.join(folded) + ending
        if rng.random() < 0.1:
            text = "\ufeff" + text
        if rng.random() < 0.1:
            text = text.replace(ending + "BEGIN:VEVENT", ending + ending + "BEGIN:VEVENT")
        return text

    def cased(self, line: str) -> str:
        """Names (of properties and parameters) in lower case, which icalendar reads as upper."""
        head, separator, rest = line.partition(":")
        if '"' in head or self.rng.random() < 0.5:
            return line
        name, *params = head.split(";")
        params = [key.lower() + "=" + value for key, _, value in (p.partition("=") for p in params)]
        return ";".join([name.lower(), *params]) + separator + rest

    def folded(self, line: str) -> str:
        rng = self.rng
        if len(line) < 20 or rng.random() < 0.6:
            return line
        parts, rest = [], line
        while len(rest) > 10:
            cut = rng.randrange(1, min(len(rest), 75))
            parts.append(rest[:cut])
            rest = rest[cut:]
        return rng.choice(["\r\n ", "\r\n\t", "\n "]).join([*parts, rest])

    def timezone(self, name: str) -> list[str]:
        return [
            "BEGIN:VTIMEZONE",
            f"TZID:{name}",
            "BEGIN:STANDARD",
            "DTSTART:19701025T030000",
            "TZOFFSETFROM:+0200",
            "TZOFFSETTO:+0100",
            "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
            "TZNAME:STD",
            "END:STANDARD",
            "END:VTIMEZONE",
        ]

    # --- times

    def kind(self) -> str:
        return self.rng.choice(["utc", "zone", "zone", "floating", "date"])

    def moment(self, pivot: datetime, kind: str) -> tuple[datetime | date, str]:
        """A start near ``pivot`` and its parameters and value as written."""
        rng = self.rng
        offset = timedelta(
            days=rng.randint(-40, 40),
            hours=rng.choice([0, 1, 2, 3, rng.randint(0, 23)]),
            minutes=rng.choice([0, 0, 30, 45]),
        )
        moment = pivot + offset
        if kind == "date":
            return moment.date(), f";VALUE=DATE:{moment:%Y%m%d}"
        if kind == "utc":
            return moment.replace(tzinfo=UTC), f":{moment:%Y%m%dT%H%M%S}Z"
        if kind == "floating":
            return moment, f":{moment:%Y%m%dT%H%M%S}"
        zone = rng.choice(ZONES)
        self.zones_used.add(zone)
        parameter = f'TZID="{zone}"' if rng.random() < 0.1 else f"TZID={zone}"
        return moment.replace(tzinfo=ZoneInfo(zone)), f";{parameter}:{moment:%Y%m%dT%H%M%S}"

    def written_like(self, moment: datetime | date, like: str) -> str:
        """``moment`` (naive, in the start's terms) written with the start's parameters."""
        params = like.rpartition(":")[0]
        if isinstance(moment, datetime):
            value = f"{moment:%Y%m%dT%H%M%S}" + ("Z" if like.endswith("Z") else "")
        else:
            value = f"{moment:%Y%m%d}"
        return f"{params}:{value}"

    def end(self, start: datetime | date, start_text: str) -> list[str]:
        rng = self.rng
        choice = rng.random()
        if isinstance(start, datetime):
            length = timedelta(minutes=rng.choice([0, 15, 30, 60, 90, 24 * 60, 3 * 24 * 60]))
            if choice < 0.6:
                return [
                    "DTEND" + self.written_like(start.replace(tzinfo=None) + length, start_text)
                ]
            if choice < 0.85:
                hours, minutes = divmod(int(length.total_seconds()) // 60, 60)
                return [f"DURATION:PT{hours}H{minutes}M" if minutes else f"DURATION:PT{hours}H"]
            return []
        days = rng.choice([0, 1, 1, 2, 7])
        if choice < 0.6:
            return ["DTEND" + self.written_like(start + timedelta(days=days), start_text)]
        if choice < 0.8 and days:
            return [f"DURATION:P{days}D" if days % 7 else f"DURATION:P{days // 7}W"]
        return []

    # --- events

    def content(self, uid: str) -> list[str]:
        rng = self.rng
        lines = [f"UID:{uid}", "DTSTAMP:20300101T000000Z"]
        for name in ("SUMMARY", "DESCRIPTION", "LOCATION"):
            if rng.random() < 0.7:
                params = rng.choice(["", "", "", ";LANGUAGE=en", ';ALTREP="cid:a;b:c",x'])
                lines.append(f"{name}{params}:{rng.choice(TEXTS)}")
        if status := rng.choice(STATUSES):
            lines.append(f"STATUS:{status}")
        if rng.random() < 0.3:
            lines.append(f"TRANSP:{rng.choice(['OPAQUE', 'TRANSPARENT', 'transparent'])}")
        if rng.random() < 0.15:
            lines.append(f"X-MICROSOFT-CDO-BUSYSTATUS:{rng.choice(['FREE', 'TENTATIVE', 'BUSY'])}")
        if rng.random() < 0.1:
            lines.append("URL:https://teams.microsoft.com/l/meetup-join/abc\\,def")
        if rng.random() < 0.1:
            lines.append("X-GOOGLE-CONFERENCE:https://meet.google.com/xyz-abcd-efg")
        if rng.random() < 0.1:
            lines.append(f"X-MULTICAL-BLOCK-ID: block-{rng.randrange(99)}\\, raw ")
        if rng.random() < 0.05:
            lines.append("X-MULTICAL-BOOKING-ID:booking-1")
        if rng.random() < 0.3:
            lines.append('ORGANIZER;CN="Org: Person; Inc":mailto:org@example.com')
            for address in rng.sample([OWNER.upper(), "other@example.com", OWNER], 2):
                partstat = rng.choice(["ACCEPTED", "DECLINED", "TENTATIVE", "needs-action", ""])
                params = f";PARTSTAT={partstat}" if partstat else ""
                lines.append(f'ATTENDEE;CN="Doe, Jane"{params};RSVP=TRUE:mailto:{address}')
        if rng.random() < 0.2:
            lines += ["CATEGORIES:Work,Plans", "CLASS:PUBLIC", "SEQUENCE:0", "PRIORITY:5"]
            lines += ["CREATED:20291201T100000Z", "LAST-MODIFIED:20291202T100000Z"]
            lines += ["X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC", "GEO:52.5;13.4"]
        if rng.random() < 0.1:
            lines.append(
                'X-APPLE-STRUCTURED-LOCATION;VALUE=URI;X-ADDRESS="Main St 1\\n10115 Berlin";'
                'X-TITLE="Office: 4th floor":geo:52.5,13.4'
            )
        if rng.random() < 0.15:
            lines += [
                "BEGIN:VALARM",
                "ACTION:DISPLAY",
                "DESCRIPTION:Reminder",
                f"TRIGGER{rng.choice(['', ';RELATED=START'])}:-PT15M",
                "END:VALARM",
            ]
        return lines

    def event(self, uid: str, pivot: datetime) -> list[str]:
        rng = self.rng
        kind = self.kind()
        start, start_text = self.moment(pivot, kind)
        lines = ["BEGIN:VEVENT", *self.content(uid), "DTSTART" + start_text]
        lines += self.end(start, start_text)
        if rng.random() < 0.5:
            lines.append("END:VEVENT")
            return lines
        rule, occurrences = self.rule(start, start_text)
        lines.append(f"RRULE:{rule}")
        excluded = rng.sample(occurrences, min(len(occurrences), rng.choice([0, 0, 1, 2, 3])))
        if len(excluded) > 1 and rng.random() < 0.5:  # several in one line
            params = self.written_like(excluded[0], start_text).rpartition(":")[0]
            values = [self.written_like(m, start_text).rpartition(":")[2] for m in excluded]
            lines.append(f"EXDATE{params}:{','.join(values)}")
        else:
            for moment in excluded:
                lines.append("EXDATE" + self.other_form(moment, start, start_text))
        if excluded and isinstance(start, datetime) and rng.random() < 0.2:
            # A whole day excluded from a timed series, and a time no occurrence has.
            lines.append(f"EXDATE;VALUE=DATE:{excluded[0]:%Y%m%d}")
            lines.append("EXDATE" + self.written_like(excluded[0] + timedelta(hours=1), start_text))
        lines.append("END:VEVENT")
        candidates = [o for o in occurrences if o not in excluded]
        if candidates and rng.random() < 0.2:
            # A moved instance of a time the rule does not give (one hour or one offset away).
            candidates[0] += timedelta(hours=rng.choice([1, -1, 5, -5, 11]))
        if excluded and rng.random() < 0.1:
            candidates.insert(0, excluded[0])  # a moved instance of an excluded one
        for moment in rng.sample(candidates, min(len(candidates), rng.choice([0, 0, 1, 2]))):
            lines += self.moved(uid, moment, start, start_text)
        return lines

    def other_form(self, moment: datetime | date, start: datetime | date, start_text: str) -> str:
        """An occurrence written in the start's form, or (for zoned starts) in UTC."""
        if isinstance(start, datetime) and start.tzinfo is not None and self.rng.random() < 0.3:
            aware = moment.replace(tzinfo=start.tzinfo)  # type: ignore[call-arg]
            return f":{aware.astimezone(UTC):%Y%m%dT%H%M%S}Z"
        return self.written_like(moment, start_text)

    def rule(self, start: datetime | date, start_text: str) -> tuple[str, list[datetime | date]]:
        """A rule the fast path expands, and some of its occurrences (naive, in the start's
        terms) to exclude or move."""
        rng = self.rng
        frequency = rng.choice(["DAILY", "WEEKLY", "WEEKLY", "MONTHLY", "YEARLY"])
        parts = [f"FREQ={frequency}"]
        if rng.random() < 0.4:
            parts.append(f"INTERVAL={rng.randint(1, 3)}")
        if frequency in ("DAILY", "WEEKLY") and rng.random() < 0.4:
            days = rng.sample(["MO", "TU", "WE", "TH", "FR", "SA", "SU"], rng.randint(1, 3))
            parts.append(f"BYDAY={','.join(days)}")
        if frequency == "WEEKLY" and rng.random() < 0.2:
            parts.append(f"WKST={rng.choice(['MO', 'SU'])}")
        naive = start.replace(tzinfo=None) if isinstance(start, datetime) else start
        first = (
            naive if isinstance(naive, datetime) else datetime.combine(naive, datetime.min.time())
        )
        ending = rng.random()
        if ending < 0.3:
            parts.append(f"COUNT={rng.randint(1, 30)}")
        elif ending < 0.6:
            until = first + timedelta(days=rng.randint(-3, 120))
            if isinstance(start, datetime) and start.tzinfo is not None:
                aware = until.replace(tzinfo=start.tzinfo)
                parts.append(f"UNTIL={aware.astimezone(UTC):%Y%m%dT%H%M%S}Z")
            elif isinstance(start, datetime):
                parts.append(f"UNTIL={until:%Y%m%dT%H%M%S}")
            else:
                parts.append(f"UNTIL={until:%Y%m%d}")
        rng.shuffle(parts)
        rule = ";".join(parts)
        found = list(
            rrulestr(rule.replace("Z", ""), dtstart=first).between(
                first - timedelta(days=1), first + timedelta(days=200), inc=True
            )
        )[:40]
        occurrences = [o if isinstance(naive, datetime) else o.date() for o in found]
        return rule, occurrences  # type: ignore[return-value]

    def moved(
        self, uid: str, moment: datetime | date, start: datetime | date, start_text: str
    ) -> list[str]:
        rng = self.rng
        shift = rng.choice([timedelta(hours=2), timedelta(days=1), timedelta(days=-2)])
        if isinstance(moment, datetime):
            new_start: datetime | date = moment + shift
        else:
            new_start = moment + timedelta(days=shift.days)
        lines = ["BEGIN:VEVENT", *self.content(uid), "SEQUENCE:1"]
        lines = [line for line in lines if line != "SEQUENCE:0"]
        if lines.count("SEQUENCE:1") > 1:
            lines.remove("SEQUENCE:1")
        lines.append("RECURRENCE-ID" + self.other_form(moment, start, start_text))
        lines.append("DTSTART" + self.written_like(new_start, start_text))
        lines += self.end(new_start, start_text)
        lines.append("END:VEVENT")
        return lines


def window_near(rng: random.Random, pivot: datetime) -> Window:
    start = pivot.replace(tzinfo=UTC) + timedelta(
        days=rng.randint(-20, 10), hours=rng.choice([0, 0, rng.randint(0, 23)])
    )
    return Window(start, start + timedelta(days=rng.choice([1, 7, 30, 90])))


@pytest.mark.parametrize("seed", range(8))
def test_the_fast_path_reads_generated_calendars_as_the_general_path_does(seed: int) -> None:
    rng = random.Random(seed)
    read, declined = 0, 0
    for _ in range(120):
        pivot = rng.choice(PIVOTS)
        text = Writer(rng).calendar(pivot)
        data = text.encode()
        window = window_near(rng, pivot)
        kwargs = {
            **rng.choice(NAMINGS),
            "default_zone": ZoneInfo(rng.choice(ZONES)),
            "own_addresses": rng.choice([(), (OWNER,), ("OWNER@example.com", "x@example.com")]),
        }
        quick = fast(data, window, **kwargs)
        if quick is None:
            declined += 1
            continue
        read += 1
        assert quick == general(data, window, **kwargs), text
    # The generator writes mostly what the fast path reads: the comparison is not vacuous.
    assert read > 3 * declined


def ics(*lines: str) -> bytes:
    return (
        "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", *lines, "END:VCALENDAR"]) + "\r\n"
    ).encode()


def vevent(*lines: str, uid: str = "a@example.com") -> list[str]:
    return ["BEGIN:VEVENT", f"UID:{uid}", *lines, "END:VEVENT"]


WINDOW = Window(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 3, 1, tzinfo=UTC))
START = "DTSTART;TZID=Europe/Berlin:20300107T090000"
BERLIN_ZONE = [
    "BEGIN:VTIMEZONE",
    "TZID:Europe/Berlin",
    "BEGIN:STANDARD",
    "DTSTART:19701025T030000",
    "TZOFFSETFROM:+0200",
    "TZOFFSETTO:+0100",
    "END:STANDARD",
    "END:VTIMEZONE",
]


def test_a_plain_event_is_read_by_the_fast_path() -> None:
    data = ics(*BERLIN_ZONE, *vevent(START, "DTEND;TZID=Europe/Berlin:20300107T100000"))
    assert fast(data, WINDOW) == general(data, WINDOW)
    assert fast(data, WINDOW)


SERIES = "RRULE:FREQ=DAILY;COUNT=5"


def moved(recurrence: str, start: str, *lines: str) -> list[str]:
    return vevent(f"RECURRENCE-ID{recurrence}", f"DTSTART{start}", *lines)


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param(vevent("DTSTART;VALUE=DATE-TIME:20300107T090000Z"), id="value-date-time"),
        pytest.param(vevent("DTSTART:20300107", "RRULE:FREQ=WEEKLY;UNTIL=20300201"), id="date"),
        pytest.param(vevent(START, "RRULE:FREQ=WEEKLY;INTERVAL=01;COUNT=3"), id="interval-01"),
        pytest.param(vevent(START, "STATUS:cancelled"), id="cancelled-lower-case"),
        pytest.param(
            vevent(START, SERIES, "EXDATE;TZID=America/New_York:20300108T030000"),
            id="exdate-in-another-zone",
        ),
        pytest.param(vevent(START, SERIES, "EXDATE:20300108T090000"), id="exdate-floating"),
        pytest.param(vevent(START, SERIES, "EXDATE;VALUE=DATE:20300108"), id="exdate-a-day"),
        pytest.param(vevent(START, "DURATION:P1DT2H"), id="duration-days-and-hours"),
        pytest.param(
            vevent("DTSTART:20291231T230000Z", "DTEND:20300101T000000Z"), id="ends-at-start"
        ),
        pytest.param(vevent("DTSTART:20300101T000000Z"), id="a-moment-at-the-start"),
        pytest.param(vevent("DTSTART:20300301T000000Z"), id="a-moment-at-the-end"),
        pytest.param(vevent("DTSTART:20291231T230000", "DTEND:20300101T010000"), id="floating"),
        pytest.param(
            vevent(
                START,
                "BEGIN:VALARM",
                "ACTION:EMAIL",
                "ATTENDEE:mailto:x@y",
                "SUMMARY:s",
                "DESCRIPTION:d",
                "TRIGGER;RELATED=END:PT0S",
                "END:VALARM",
            ),
            id="alarm",
        ),
        pytest.param(["BEGIN:vevent", "UID:a", START, "END:vevent"], id="lower-case-begin"),
        pytest.param(
            vevent(
                START,
                "X-FOO;X-PARAM=a,b:c",
                'ATTENDEE;DELEGATED-FROM="mailto:a@b","mailto:c@d"'
                ";PARTSTAT=DECLINED:mailto:owner@example.com",
            ),
            id="parameter-lists",
        ),
        pytest.param(
            [*vevent(START, SERIES), *moved(":20300108T080000Z", ":20300108T120000Z")],
            id="moved-instance-named-in-utc",
        ),
        pytest.param(
            [
                *vevent(START, SERIES),
                *moved(
                    ";TZID=Europe/Berlin:20300108T080000", ";TZID=Europe/Berlin:20300108T100000"
                ),
            ],
            id="moved-instance-of-no-occurrence",
        ),
        pytest.param(
            [
                *vevent(START, SERIES, "EXDATE;VALUE=DATE:20300108"),
                *moved(
                    ";TZID=Europe/Berlin:20300108T090000", ";TZID=Europe/Berlin:20300108T100000"
                ),
            ],
            id="moved-instance-of-an-excluded-day",
        ),
        pytest.param(
            [
                *vevent(START),
                *moved(
                    ";TZID=Europe/Berlin:20300107T090000", ";TZID=Europe/Berlin:20300107T100000"
                ),
            ],
            id="moved-instance-of-a-single-event",
        ),
        pytest.param(vevent(START, "RRULE:FREQ=DAILY;UNTIL=20300101T000000Z"), id="until-first"),
        pytest.param(vevent(START, "RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=3"), id="start-off-rule"),
        pytest.param(vevent("DTSTART:20300131T090000Z", "RRULE:FREQ=MONTHLY;COUNT=4"), id="31st"),
        pytest.param(vevent("DTSTART;VALUE=DATE:20280229", "RRULE:FREQ=YEARLY"), id="29-feb"),
        pytest.param(
            vevent("DTSTART;TZID=Europe/Berlin:20300330T023000", SERIES, "DURATION:PT1H"),
            id="into-the-dst-gap",
        ),
        pytest.param(
            vevent(
                "DTSTART;TZID=Europe/Berlin:20301026T023000",
                SERIES,
                "DTEND;TZID=Europe/Berlin:20301026T033000",
            ),
            id="across-the-dst-fold",
        ),
        pytest.param(vevent(START, "DTEND:20300107T100000Z", SERIES), id="end-in-another-zone"),
        pytest.param(vevent(START, uid="a\\,b\\;c"), id="escaped-uid"),
        pytest.param(["method:publish", *vevent("DTSTART;TZID=Etc/UTC:20300107T090000")], id="etc"),
        pytest.param(vevent("DTSTART;TZID=US/Eastern:20300107T090000"), id="linked-zone-name"),
        pytest.param(vevent(START, "CATEGORIES;LANGUAGE=en:a\\,b,c", "X_FOO:bar"), id="odd-names"),
        pytest.param(
            vevent(
                START,
                'X-APPLE-STRUCTURED-LOCATION;VALUE=URI;X-ADDRESS="Main St 1\\n10115 Berlin";'
                'X-TITLE="Office, 4th floor":geo:52.5,13.4',
                "CONFERENCE;VALUE=URI;FEATURE=AUDIO,VIDEO:https://meet.google.com/abc-defg-hij",
                "BEGIN:VALARM",
                "ACTION:AUDIO",
                "ATTACH;VALUE=URI:Chord",
                "TRIGGER;VALUE=DATE-TIME:19760401T005545Z",
                "X-APPLE-DEFAULT-ALARM:TRUE",
                "ACKNOWLEDGED:20300101T000000Z",
                "END:VALARM",
            ),
            id="apple-locations-and-alarms",
        ),
    ],
)
@pytest.mark.parametrize("own_addresses", [(), ("owner@example.com",)])
def test_the_fast_path_reads_odd_but_valid_writing_as_the_general_path_does(
    lines: list[str], own_addresses: tuple[str, ...]
) -> None:
    data = ics(*lines)
    window = Window(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 3, 1, tzinfo=UTC))
    quick = fast(data, window, own_addresses=own_addresses)
    assert quick is not None
    assert quick == general(data, window, own_addresses=own_addresses)


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param(["X-WR-TIMEZONE:Europe/Berlin", *vevent(START)], id="x-wr-timezone"),
        pytest.param(vevent(START, "RDATE;TZID=Europe/Berlin:20300110T090000"), id="rdate"),
        pytest.param(vevent(START, "RRULE:FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1"), id="bysetpos"),
        pytest.param(vevent(START, "RRULE:FREQ=MONTHLY;BYMONTHDAY=1,15"), id="bymonthday"),
        pytest.param(vevent(START, "RRULE:FREQ=HOURLY"), id="hourly"),
        pytest.param(vevent(START, "RRULE:"), id="empty-rule"),
        pytest.param(vevent(START, "EXRULE:FREQ=WEEKLY"), id="exrule"),
        pytest.param(vevent("DTSTART;TZID=Custom Zone:20300107T090000"), id="custom-zone"),
        pytest.param(
            vevent("DTSTART;TZID=W. Europe Standard Time:20300107T090000"), id="windows-zone"
        ),
        pytest.param(
            [
                "BEGIN:VTIMEZONE",
                "TZID:Office",
                "BEGIN:STANDARD",
                "DTSTART:19700101T000000",
                "TZOFFSETFROM:+0300",
                "TZOFFSETTO:+0300",
                "END:STANDARD",
                "END:VTIMEZONE",
                *vevent("DTSTART;TZID=Office:20300107T090000"),
            ],
            id="own-vtimezone",
        ),
        pytest.param(["BEGIN:VEVENT", START, "END:VEVENT"], id="no-uid"),
        pytest.param([*vevent(START), *vevent(START)], id="uid-twice"),
        pytest.param(vevent("DTEND:20300107T090000Z"), id="no-start"),
        pytest.param(
            vevent("RECURRENCE-ID;TZID=Europe/Berlin:20300114T090000", START), id="moved-alone"
        ),
        pytest.param(
            [
                *vevent(START, "RRULE:FREQ=WEEKLY"),
                *vevent(
                    "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20300114T090000",
                    "DTSTART;TZID=Europe/Berlin:20300114T110000",
                ),
            ],
            id="this-and-future",
        ),
        pytest.param(vevent(START, "DURATION:PT1W"), id="synology-duration"),
        pytest.param(vevent("DTSTART:20300107Z"), id="date-in-utc"),
        pytest.param(vevent("DTSTART;TZID=Europe/Berlin:20300107T090000Z"), id="zone-and-z"),
        pytest.param(vevent(START, "SUMMARY:one", "SUMMARY:two"), id="summary-twice"),
        pytest.param(vevent(START, "SUMMARY;VALUE=TEXT:x"), id="value-parameter"),
        pytest.param(vevent(START, "ATTENDEE;CN=a\\:b:mailto:x@y"), id="escaped-parameter"),
        pytest.param(vevent(START, "DTEND;TZID=Europe/Berlin:20300107T080000"), id="end-first"),
        pytest.param(vevent("DTSTART;VALUE=DATE:20300107", "DTEND:20300108T000000Z"), id="mixed"),
        pytest.param(["BEGIN:VTODO", "UID:t", "END:VTODO"], id="todo"),
        pytest.param(
            vevent("DTSTART:20300107T090000", "RRULE:FREQ=DAILY;UNTIL=20300110T000000Z"),
            id="floating-until-utc",
        ),
        pytest.param(["BEGIN:VEVENT", "UID:a", START, "END:VCALENDAR"], id="unbalanced"),
        pytest.param(vevent("DTSTART:17000107T090000Z", "RRULE:FREQ=DAILY"), id="unbounded"),
        pytest.param(vevent(START, "RRULE:freq=weekly;count=3"), id="lower-case-rule"),
        pytest.param(vevent(START, "SEQUENCE:+1"), id="signed-sequence"),
        pytest.param(vevent(START, "DTSTAMP:garbage"), id="broken-stamp"),
        pytest.param(vevent(START, "SUMMARY :x"), id="space-in-name"),
        pytest.param(vevent(START, "X-LENGTH;VALUE=DURATION:P99999999999D"), id="typed-x-name"),
        pytest.param(vevent(START, "RRULE:FREQ=DAILY;COUNT=2;"), id="trailing-semicolon"),
    ],
)
def test_the_fast_path_declines_what_the_general_path_treats_specially(lines: list[str]) -> None:
    assert read_simple(ics(*lines), WINDOW) is None


def test_the_fast_path_declines_more_instances_than_the_general_path_reads() -> None:
    data = ics(*vevent("DTSTART:20300101T000000Z", "RRULE:FREQ=DAILY"))
    wide = Window(WINDOW.start, WINDOW.start + timedelta(days=MAX_INSTANCES + 1))
    assert read_simple(data, wide) is None
    assert fast(data, WINDOW) == general(data, WINDOW)


def test_the_fast_path_declines_an_id_the_general_path_would_rename() -> None:
    data = ics(
        *vevent("DTSTART:20300107T090000Z", "RRULE:FREQ=DAILY;COUNT=2", uid="s"),
        *vevent("DTSTART:20300109T090000Z", uid="s/20300107T090000Z"),
    )
    assert read_simple(data, WINDOW) is None


def test_the_fast_path_gives_the_uids_of_the_text() -> None:
    data = ics(*vevent(START, uid="one"), *vevent("DTSTART:20350101T000000Z", uid="two"))
    simple = read_simple(data, WINDOW)
    assert simple is not None
    assert simple.uids == {"one", "two"}
    assert [event.ical_uid for event in simple.parsed.events] == ["one"]


FEEDS = Path(__file__).parent / "ics" / "feeds"
CORPUS = Path(__file__).parent / "corpus"
YEAR = Window(datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize("name", ["google.ics", "icloud.ics"])
def test_the_fast_path_reads_real_exports_as_the_general_path_does(name: str) -> None:
    # Without their X-WR-TIMEZONE, which the fast path leaves to the general one.
    data = re.sub(rb"X-WR-TIMEZONE:[^\r\n]*\r?\n", b"", (FEEDS / name).read_bytes())
    quick = fast(data, YEAR, own_addresses=("ana@example.com",))
    assert quick
    assert quick == general(data, YEAR, own_addresses=("ana@example.com",))


@pytest.mark.parametrize("path", sorted([*FEEDS.glob("*.ics"), *CORPUS.glob("*.ics")]))
def test_the_fast_path_reads_the_corpus_alike_or_not_at_all(path: Path) -> None:
    data = path.read_bytes()
    quick = fast(data, YEAR)
    assert quick is None or quick == general(data, YEAR)
