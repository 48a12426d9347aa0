"""The reading path passes over most content lines without parsing them, by their name alone
(``ical._line_name``), and splits plain ones itself (``ical._name_and_value``). A name must be
recognised however a writer spells it, as icalendar's own parser reads it: in any case, with
spaces or tabs in it; and a line split without the parser must come out as the parser splits it."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from icalendar.parser import Contentline

from integrations.base import Window
from integrations.ical import _name_and_value, parse_calendar, read_events

WINDOW = Window(datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC))


def _feed(begin: str, offset: str, uid: str) -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n"
        f"{begin}\r\nTZID:Zone Of The Line Names\r\n"
        f"BEGIN:STANDARD\r\nDTSTART:16010101T000000\r\nTZOFFSETFROM:{offset}\r\n"
        f"TZOFFSETTO:{offset}\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\n"
        "DTSTART;TZID=Zone Of The Line Names:20250310T090000\r\n"
        "DTEND;TZID=Zone Of The Line Names:20250310T100000\r\nSUMMARY:x\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


@pytest.mark.parametrize(
    "begin",
    [
        "begin:vtimezone",
        "Begin:VTimeZone",
        "BEGIN :VTIMEZONE",
        "BE GIN\t:VTIMEZONE",
        "BEGIN\x0c:VTIMEZONE",
    ],
)
def test_a_custom_zone_however_its_begin_is_spelled_keeps_its_own_definition(begin):
    # Two files define one zone name differently: each must be read in its own definition,
    # which takes the definition being found (see ical._custom_zone_ids).
    first = read_events(parse_calendar(_feed(begin, "+0900", "a")), WINDOW).events
    second = read_events(parse_calendar(_feed(begin, "-0500", "b")), WINDOW).events

    assert first[0].start == datetime(2025, 3, 10, 0, tzinfo=UTC)
    assert second[0].start == datetime(2025, 3, 10, 14, tzinfo=UTC)


def test_a_line_split_without_the_parser_gives_what_the_parser_gives():
    # Generated lines of the characters that steer icalendar's parser (quotes, backslashes,
    # separators, spaces), after names the reading path looks for.
    generator = random.Random(20261207)
    characters = 'BEGIN:;"\\ \t\r\x0c=aV-.@é,'
    for _ in range(20_000):
        line = generator.choice(
            ["BEGIN", "END", "TZID", "RRULE", " begin ", "x-y.z", ""]
        ) + "".join(generator.choice(characters) for _ in range(generator.randint(0, 12)))
        content_line = Contentline(line)
        try:
            name, _, value = content_line.parts()
            expected: tuple[str, str] | str = (name.upper(), value)
        except ValueError:
            expected = "refused"
        try:
            found: tuple[str, str] | str = _name_and_value(content_line)
        except ValueError:
            found = "refused"
        assert found == expected, line
