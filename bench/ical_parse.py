"""Parsing and expanding iCalendar alone, without a server: our CPU per instance, fast and general.

    .venv/bin/python bench/ical_parse.py [--events 5000] [--repeat 3]

Generates a calendar of ``--events`` events, a mix as people's calendars hold it (most single and
timed, a third in a named zone with its VTIMEZONE, some all-day, weekly and daily series with an
excluded and a moved instance, a few large meetings with a long description), and reads it over
a 90-day window two ways, as CalDAV objects (one VCALENDAR per event, as a first read gets them)
and as one iCal feed:

- the fast path, ``ical_fast.read_simple``, which the providers try first;
- the general path, ``parse_calendar`` + ``read_events``, which reads whatever the fast path
  declines.

Printed per way and path: instances in the window, CPU (``time.process_time``, best of
``--repeat``) and CPU per instance, and how many objects the fast path declined.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.caldav_first_read import BERLIN, WINDOW
from integrations.ical import parse_calendar, read_events
from integrations.ical_fast import read_simple

HEAD = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//ical parse//EN\r\n"
LONG_TEXT = "Agenda: " + "review the figures\\, agree the next steps and who owns them\\; " * 30


def _fold(line: str) -> str:
    return "\r\n ".join(line[i : i + 74] for i in range(0, len(line), 74))


def event_lines(number: int) -> list[str]:
    """The VEVENTs of event ``number``: its kind follows from the number (see the docstring)."""
    day = WINDOW.start + timedelta(days=(number * 7) % 88)
    start = day + timedelta(hours=7 + number % 10, minutes=15 * (number % 4))
    uid = f"UID:ical-parse-{number}@bench.example"
    local = "%Y%m%dT%H%M%S"
    kind = number % 50
    if kind in (0, 1, 2):  # all-day
        return [
            "BEGIN:VEVENT",
            uid,
            f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
            f"DTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}",
            f"SUMMARY:Away {number}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    if kind in (3, 4, 5, 6):  # weekly series with an excluded and a moved instance
        moved = start + timedelta(weeks=3)
        return [
            "BEGIN:VEVENT",
            uid,
            f"DTSTART;TZID=Europe/Berlin:{start:{local}}",
            f"DTEND;TZID=Europe/Berlin:{start + timedelta(hours=1):{local}}",
            "RRULE:FREQ=WEEKLY;COUNT=20" if kind % 2 else "RRULE:FREQ=WEEKLY",
            f"EXDATE;TZID=Europe/Berlin:{start + timedelta(weeks=2):{local}}",
            f"SUMMARY:Weekly {number}",
            "END:VEVENT",
            "BEGIN:VEVENT",
            uid,
            f"RECURRENCE-ID;TZID=Europe/Berlin:{moved:{local}}",
            f"DTSTART;TZID=Europe/Berlin:{moved + timedelta(hours=2):{local}}",
            f"DTEND;TZID=Europe/Berlin:{moved + timedelta(hours=3):{local}}",
            f"SUMMARY:Weekly {number} (moved)",
            "SEQUENCE:1",
            "END:VEVENT",
        ]
    if kind == 7:  # daily stand-up on weekdays, one excluded
        return [
            "BEGIN:VEVENT",
            uid,
            f"DTSTART:{start:{local}}Z",
            f"DTEND:{start + timedelta(minutes=15):{local}}Z",
            "RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=30",
            f"EXDATE:{start + timedelta(days=1):{local}}Z",
            f"SUMMARY:Stand-up {number}",
            "END:VEVENT",
        ]
    zone = ";TZID=Europe/Berlin" if kind % 3 == 0 else ""
    end = start + timedelta(minutes=45)
    lines = [
        "BEGIN:VEVENT",
        uid,
        f"DTSTART{zone}:{start:{local}}{'' if zone else 'Z'}",
        f"DTEND{zone}:{end:{local}}{'' if zone else 'Z'}",
        f"SUMMARY:Meeting {number}",
        f"LOCATION:Room {number % 40}",
    ]
    if kind in (10, 35):  # a large meeting
        lines += [
            "ORGANIZER;CN=Organiser:mailto:organiser@bench.example",
            *(
                f'ATTENDEE;CN="Person {n}";PARTSTAT=ACCEPTED:mailto:person-{n}@bench.example'
                for n in range(40)
            ),
            _fold("DESCRIPTION:" + LONG_TEXT),
        ]
    return [*lines, "END:VEVENT"]


def objects(count: int) -> list[bytes]:
    """One VCALENDAR per event, with the zone it names."""
    texts = []
    for number in range(count):
        lines = event_lines(number)
        zone = BERLIN if any("TZID=Europe/Berlin" in line for line in lines) else ""
        body = "".join(line + "\r\n" for line in lines)
        texts.append(f"{HEAD}{zone}{body}END:VCALENDAR\r\n")
    return [text.encode() for text in texts]


def feed(count: int) -> bytes:
    """One VCALENDAR holding every event."""
    body = "".join(line + "\r\n" for number in range(count) for line in event_lines(number))
    return f"{HEAD}{BERLIN}{body}END:VCALENDAR\r\n".encode()


def general(data: bytes) -> int:
    return len(read_events(parse_calendar(data), WINDOW).events)


def fast(data: bytes) -> int:
    simple = read_simple(data, WINDOW)
    return -1 if simple is None else len(simple.parsed.events)


def timed(read: Callable[[bytes], int], texts: list[bytes], repeat: int) -> tuple[int, float, int]:
    """Instances read, the best CPU of ``repeat`` runs, and how many texts were declined."""
    best, instances, declined = float("inf"), 0, 0
    for _ in range(repeat):
        gc.collect()
        started = time.process_time()
        counts = [read(text) for text in texts]
        best = min(best, time.process_time() - started)
        instances = sum(count for count in counts if count > 0)
        declined = counts.count(-1)
    return instances, best, declined


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=5000, help="events in the calendar")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, the best counts")
    arguments = parser.parse_args()
    shapes = {
        "CalDAV objects": objects(arguments.events),
        "one iCal feed": [feed(arguments.events)],
    }
    print(
        f"{arguments.events:,} events, window {WINDOW.start:%Y-%m-%d} to {WINDOW.end:%Y-%m-%d}, "
        f"best of {arguments.repeat}"
    )
    for shape, texts in shapes.items():
        for path, read in (("fast", fast), ("general", general)):
            instances, cpu, declined = timed(read, texts, arguments.repeat)
            per_instance = cpu * 1000 / instances if instances else 0.0
            print(
                f"  {shape:<15} {path:<8} {instances:>6,} instances, {cpu:6.2f} s CPU = "
                f"{per_instance:.3f} ms per instance"
                + (f" ({declined} of {len(texts)} declined)" if path == "fast" else "")
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
