"""Fuzzing the iCalendar reading path with mutated feeds.

    nice -n 10 .venv/bin/python bench/fuzz_ics.py                  # 100,000 inputs, 2 processes
    .venv/bin/python bench/fuzz_ics.py --inputs 5000 --seed 7
    .venv/bin/python bench/fuzz_ics.py --replay var/fuzz_ics/crash-000123.ics

Every input goes through what the iCal-link and CalDAV providers do with a body they fetched:
``parse_calendar`` then ``read_events`` over the widest window a sync can ask for (30 days back,
365 ahead). Even inputs are read as an iCal link reads them (UTC fallback, no addresses), odd ones
as CalDAV does (a resource prefix, the calendar's zone, the owner's address for responses).

Inputs are seeds (realistic VCALENDARs: Google, Outlook and iCloud exports, recurring series with
RRULE/EXDATE/RDATE and moved instances, VTIMEZONE, all-day and floating events, X-WR-TIMEZONE,
attendees, long folded unicode lines, the three feeds of the test suite) with one to four stacked
mutations: byte flips, inserted and deleted bytes, dropped, duplicated and shuffled lines,
property values and parameters replaced by hostile ones, hostile RRULEs (SECONDLY, huge COUNT and
INTERVAL, odd BY* parts), deep and unclosed nesting, random truncation, byte-order marks, CRLF/LF/
CR mixes, broken folding, huge and impossible dates and durations, splices of two seeds, invalid
UTF-8 and NUL bytes. Input ``i`` depends only on ``--seed`` and ``i``, so a run is reproducible.
Workers run chunks of 5,000 inputs, each in a fresh process that first reads every seed; within
a chunk, icalendar keeps the custom time zones it has seen, as it does in production.

Acceptable outcomes: events, events with a count of skipped ones, or ``ICalendarError`` (our
clean "not readable" error). Anything else is a crash, and so is an input over the time or memory
limit. The first crashes of each kind are saved to ``--out`` with the traceback alongside, for
``--replay``.

Limits, and how they are measured:

- Time: the CPU time of each input (``process_time`` of its worker), limit 1 s: the work an input
  costs, which is what a hostile feed could use to tie up a worker. Wall time is measured too and
  printed, but on a machine shared with other work it also counts waiting for a core. An alarm in
  the worker stops an input after 10 s of wall time (a hang); a watchdog in the parent kills a
  worker stuck for 20 s where the alarm cannot reach (inside C code), records the input, and goes
  on after it.
- Memory: each worker process runs under ``RLIMIT_AS`` = its address space after warm-up + 256 MB,
  so any input that needs more than 256 MB fails with ``MemoryError`` and is recorded; the limit
  is enforced by the kernel and costs nothing per input. The figure printed is the largest growth
  of the worker's peak resident set (``ru_maxrss``) over its warmed-up baseline: an upper bound of
  what any single input added, since the peak only rises. (``tracemalloc`` per input would give
  exact Python allocations but doubles the run time and misses C allocations.)
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import random
import resource
import signal
import sys
import time
import traceback
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection, wait
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from integrations.base import Window
from integrations.ical import ICalendarError, parse_calendar, read_events

ROOT = Path(__file__).resolve().parent.parent
FEEDS = ROOT / "tests" / "integrations" / "ics" / "feeds"
DEFAULT_INPUTS = 100_000
PROCESSES = 2
TIME_LIMIT_S = 1.0
MEMORY_LIMIT_MB = 256
HANG_S = 10.0
SAVED_PER_KIND = 5
BATCH = 200
# Inputs per worker process; a fresh process per chunk keeps one input's leftovers from the next.
CHUNK = 5_000
# The widest window a sync reads: SyncRule allows 30 days back and 365 days ahead.
NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
WINDOW = Window(NOW - timedelta(days=30), NOW + timedelta(days=365))
CALDAV_ZONE = ZoneInfo("Europe/Berlin")
OWNER = "owner@example.com"


# Seeds ---------------------------------------------------------------------------------------------

BERLIN = """BEGIN:VTIMEZONE
TZID:Europe/Berlin
X-LIC-LOCATION:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE"""

NEW_YORK = """BEGIN:VTIMEZONE
TZID:America/New_York
BEGIN:DAYLIGHT
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
TZNAME:EDT
DTSTART:20070311T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
TZNAME:EST
DTSTART:20071104T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
END:STANDARD
END:VTIMEZONE"""

LONG_TEXT = (
    "Agenda: Quartalsplanung für Q2 — 予算の配分について話し合います. Ünïcödé, emoji 🗓️📅👩🏽‍💻, "
    "combining marks (e\u0301), right-to-left שלום עולם, and escaped text\\, with\\; separators\\n"
) * 12


def _fold(text: str) -> str:
    """RFC 5545 folding at 75 octets (splitting UTF-8 sequences on purpose now and then is the
    mutators' job, not the seeds')."""
    lines = []
    for line in text.split("\n"):
        data = line.encode()
        parts, limit = [], 75
        while len(data) > limit:
            cut = limit
            while (data[cut] & 0xC0) == 0x80:
                cut -= 1
            parts.append(data[:cut])
            data, limit = data[cut:], 74
        parts.append(data)
        lines.append(b"\r\n ".join(parts).decode())
    return "\r\n".join(lines) + "\r\n"


def _calendar(*parts: str, header: str = "") -> bytes:
    body = "\n".join(
        ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Fuzz//Seeds//EN", *header.split("\n")]
    )
    body = "\n".join([line for line in body.split("\n") if line] + list(parts) + ["END:VCALENDAR"])
    return _fold(body).encode()


SEEDS: list[bytes] = [
    # A Google export: X-WR-TIMEZONE, a weekly series with an exception and a moved instance,
    # attendees with responses, a conference link, an all-day event.
    _calendar(
        BERLIN,
        """BEGIN:VEVENT
DTSTART;TZID=Europe/Berlin:20250303T093000
DTEND;TZID=Europe/Berlin:20250303T100000
RRULE:FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20250630T215959Z
EXDATE;TZID=Europe/Berlin:20250310T093000,20250312T093000
DTSTAMP:20250301T100000Z
UID:weekly-standup@google.com
ORGANIZER;CN=Ada Lovelace:mailto:ada@example.com
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=Owner:mailto:owner@example.com
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;CN=Bob;X-NUM-GUESTS=0:mailto:bob@example.com
X-GOOGLE-CONFERENCE:https://meet.google.com/abc-defg-hij
SUMMARY:Standup
DESCRIPTION:Join with Google Meet: https://meet.google.com/abc-defg-hij
LOCATION:
SEQUENCE:2
STATUS:CONFIRMED
TRANSP:OPAQUE
END:VEVENT
BEGIN:VEVENT
DTSTART;TZID=Europe/Berlin:20250318T140000
DTEND;TZID=Europe/Berlin:20250318T143000
RECURRENCE-ID;TZID=Europe/Berlin:20250317T093000
DTSTAMP:20250301T100000Z
UID:weekly-standup@google.com
SUMMARY:Standup (moved)
SEQUENCE:3
STATUS:CONFIRMED
END:VEVENT
BEGIN:VEVENT
DTSTART;VALUE=DATE:20250305
DTEND;VALUE=DATE:20250307
DTSTAMP:20250301T100000Z
UID:offsite@google.com
SUMMARY:Offsite
TRANSP:TRANSPARENT
END:VEVENT""",
        header="CALSCALE:GREGORIAN\nMETHOD:PUBLISH\nX-WR-CALNAME:Work\nX-WR-TIMEZONE:Europe/Berlin",
    ),
    # Outlook: Windows zone names, busy status, a series with COUNT and BYSETPOS.
    _calendar(
        """BEGIN:VTIMEZONE
TZID:Pacific Standard Time
BEGIN:STANDARD
DTSTART:16010101T020000
TZOFFSETFROM:-0700
TZOFFSETTO:-0800
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=1SU;BYMONTH=11
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:-0800
TZOFFSETTO:-0700
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=2SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
RRULE:FREQ=MONTHLY;COUNT=12;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1
UID:040000008200E00074C5B7101A82E0080000000090D1A2B3C4D5E6F
SUMMARY:Month-end close
DTSTART;TZID=Pacific Standard Time:20250331T160000
DTEND;TZID=Pacific Standard Time:20250331T170000
X-MICROSOFT-CDO-BUSYSTATUS:OOF
X-MICROSOFT-CDO-ALLDAYEVENT:FALSE
DTSTAMP:20250301T101500Z
END:VEVENT
BEGIN:VEVENT
UID:040000008200E00074C5B7101A82E00800000000AABBCCDDEEFF00
SUMMARY:Focus time
DTSTART;TZID=Pacific Standard Time:20250304T080000
DTEND;TZID=Pacific Standard Time:20250304T100000
X-MICROSOFT-CDO-BUSYSTATUS:FREE
STATUS:TENTATIVE
DTSTAMP:20250301T101500Z
END:VEVENT""",
        header="METHOD:PUBLISH\nX-WR-CALNAME:Calendar\nX-WR-TIMEZONE:Pacific Standard Time",
    ),
    # iCloud: floating times, RDATE, alarms, Apple properties, DURATION instead of DTEND.
    _calendar(
        """BEGIN:VEVENT
CREATED:20250201T120000Z
UID:5D3F1E2A-0B1C-4D5E-8F90-A1B2C3D4E5F6
DTSTART:20250306T183000
DURATION:PT1H30M
RDATE:20250313T183000,20250327T183000
RDATE;VALUE=PERIOD:20250410T170000Z/20250410T190000Z
SUMMARY:Choir
X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC
BEGIN:VALARM
ACTION:DISPLAY
TRIGGER:-PT15M
DESCRIPTION:Reminder
UID:ALARM-1
END:VALARM
END:VEVENT
BEGIN:VEVENT
UID:birthday-1@icloud.com
DTSTART;VALUE=DATE:19850312
RRULE:FREQ=YEARLY
SUMMARY:Birthday
X-APPLE-SPECIAL-DAY:BIRTHDAY
TRANSP:TRANSPARENT
END:VEVENT""",
        header="X-WR-CALNAME:Home\nX-APPLE-CALENDAR-COLOR:#FF2968",
    ),
    # Long folded unicode text, escaped characters, a URL and attendees.
    _calendar(
        NEW_YORK,
        f"""BEGIN:VEVENT
UID:long-lines@example.com
DTSTAMP:20250301T100000Z
DTSTART;TZID=America/New_York:20250320T110000
DTEND;TZID=America/New_York:20250320T120000
SUMMARY:Réunion trimestrielle 📊 — 四半期レビュー
DESCRIPTION:{LONG_TEXT}
LOCATION:Conference room «Ада» / 会議室 3
URL:https://zoom.us/j/1234567890?pwd=abcdef
ATTENDEE;CN="Owner, The";PARTSTAT=TENTATIVE:mailto:OWNER@example.com
ATTENDEE;CN=Ünal;PARTSTAT=DECLINED:mailto:unal@example.com
END:VEVENT""",
        header="X-WR-TIMEZONE:America/New_York\nX-WR-CALNAME:Long lines 📅",
    ),
    # Monthly and yearly rules with BY* parts, EXDATE of a date series, a cancelled instance.
    _calendar(
        BERLIN,
        """BEGIN:VEVENT
UID:monthly-review@example.com
DTSTAMP:20250301T100000Z
DTSTART;TZID=Europe/Berlin:20250328T150000
DTEND;TZID=Europe/Berlin:20250328T160000
RRULE:FREQ=MONTHLY;BYDAY=-1FR;INTERVAL=1
EXDATE;TZID=Europe/Berlin:20250725T150000
SUMMARY:Monthly review
END:VEVENT
BEGIN:VEVENT
UID:monthly-review@example.com
DTSTAMP:20250301T100000Z
RECURRENCE-ID;TZID=Europe/Berlin:20250425T150000
DTSTART;TZID=Europe/Berlin:20250425T150000
DTEND;TZID=Europe/Berlin:20250425T160000
STATUS:CANCELLED
SUMMARY:Monthly review
END:VEVENT
BEGIN:VEVENT
UID:every-other-day@example.com
DTSTAMP:20250301T100000Z
DTSTART;VALUE=DATE:20250301
RRULE:FREQ=DAILY;INTERVAL=2;COUNT=200
EXDATE;VALUE=DATE:20250303,20250305
SUMMARY:Gym
END:VEVENT
BEGIN:VEVENT
UID:quarterly@example.com
DTSTAMP:20250301T100000Z
DTSTART:20250115T090000Z
DTEND:20250115T093000Z
RRULE:FREQ=YEARLY;BYMONTH=1,4,7,10;BYMONTHDAY=15;WKST=SU
SUMMARY:Quarterly taxes
END:VEVENT""",
    ),
    # Floating times with a feed zone, duplicated UIDs at different starts, tentative, free.
    _calendar(
        """BEGIN:VEVENT
UID:dup@example.com
DTSTAMP:20250301T100000Z
DTSTART:20250302T090000
DTEND:20250302T100000
SUMMARY:Class A
STATUS:TENTATIVE
END:VEVENT
BEGIN:VEVENT
UID:dup@example.com
DTSTAMP:20250301T100000Z
DTSTART:20250309T090000
DTEND:20250309T100000
SUMMARY:Class B
TRANSP:TRANSPARENT
END:VEVENT
BEGIN:VEVENT
UID:no-end@example.com
DTSTAMP:20250301T100000Z
DTSTART:20250311T120000
SUMMARY:A moment
END:VEVENT
BEGIN:VEVENT
UID:undated@example.com
SUMMARY:No start at all
END:VEVENT""",
        header="X-WR-TIMEZONE:Asia/Kolkata",
    ),
    # A CalDAV resource: one series, its zone, a moved and a cancelled instance, our marker.
    _calendar(
        """BEGIN:VTIMEZONE
TZID:America/Los_Angeles
BEGIN:DAYLIGHT
TZOFFSETFROM:-0800
TZOFFSETTO:-0700
TZNAME:PDT
DTSTART:20070311T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:-0700
TZOFFSETTO:-0800
TZNAME:PST
DTSTART:20071104T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
UID:caldav-series-1
DTSTAMP:20250301T100000Z
DTSTART;TZID=America/Los_Angeles:20250303T080000
DTEND;TZID=America/Los_Angeles:20250303T083000
RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;COUNT=120
SUMMARY:Early sync
ATTENDEE;PARTSTAT=ACCEPTED:mailto:owner@example.com
END:VEVENT
BEGIN:VEVENT
UID:caldav-series-1
DTSTAMP:20250301T100000Z
RECURRENCE-ID;TZID=America/Los_Angeles:20250305T080000
DTSTART;TZID=America/Los_Angeles:20250305T090000
DTEND;TZID=America/Los_Angeles:20250305T093000
SUMMARY:Early sync (later)
ATTENDEE;PARTSTAT=DECLINED:mailto:owner@example.com
END:VEVENT
BEGIN:VEVENT
UID:multical-block-7
DTSTAMP:20250301T100000Z
DTSTART:20250304T130000Z
DTEND:20250304T140000Z
SUMMARY:Busy
CLASS:PRIVATE
X-MULTICAL-BLOCK-ID:7f3c2a
END:VEVENT
BEGIN:VEVENT
UID:multical-booking-9
DTSTAMP:20250301T100000Z
DTSTART:20250306T130000Z
DTEND:20250306T140000Z
SUMMARY:Intro call
X-MULTICAL-BOOKING-ID:0b9e1d
END:VEVENT""",
    ),
    # A VTODO, a VJOURNAL and a VFREEBUSY next to events: components we ignore.
    _calendar(
        """BEGIN:VTODO
UID:todo-1
DTSTAMP:20250301T100000Z
DUE:20250310T170000Z
SUMMARY:File report
END:VTODO
BEGIN:VJOURNAL
UID:journal-1
DTSTAMP:20250301T100000Z
DTSTART;VALUE=DATE:20250301
SUMMARY:Notes
END:VJOURNAL
BEGIN:VFREEBUSY
UID:fb-1
DTSTAMP:20250301T100000Z
FREEBUSY:20250302T090000Z/PT1H,20250302T140000Z/PT2H
END:VFREEBUSY
BEGIN:VEVENT
UID:hourly@example.com
DTSTAMP:20250301T100000Z
DTSTART:20250302T090000Z
DTEND:20250302T091500Z
RRULE:FREQ=DAILY;BYMONTH=3,4;UNTIL=20250420T000000Z
SUMMARY:Pump check
END:VEVENT""",
    ),
]
SEEDS += [path.read_bytes() for path in sorted(FEEDS.glob("*.ics"))]


# Mutations ---------------------------------------------------------------------------------------

HOSTILE_VALUES = [
    b"",
    b" ",
    b"\x00",
    b"\\",
    b";;;;",
    b":::",
    b"=,=,=",
    b'"',
    b"0",
    b"-1",
    b"99999999999999999999999999",
    b"-99999999999999999999",
    b"1e309",
    b"NaN",
    b"00000000",
    b"00000000T000000",
    b"00000000T000000Z",
    b"99991231T235959Z",
    b"99999999T999999Z",
    b"20251301T256161Z",
    b"20250230T120000",
    b"20250229",
    b"19000101T000000Z",
    b"00010101",
    b"10000101T000000Z",
    b"20250301T120000+0100",
    b"20250301T1200",
    b"2025-03-01T12:00:00Z",
    b"20250301T120000Z/20250301T110000Z",
    b"20250301T120000Z/P99999999D",
    b"20250301T120000Z/PT-1H",
    b"P99999999W",
    b"P999999999999D",
    b"-P1D",
    b"PT0S",
    b"P",
    b"PT",
    b"P1Y",
    b"+0000",
    b"+9999",
    b"-2400",
    b"Europe/Nowhere",
    b"../../../../etc/passwd",
    b"/etc/localtime",
    b"W. Europe Standard Time",
    b"(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna",
    b"UTC",
    b"Etc/GMT+14",
    b"a" * 300,
    b"x" * 100_000,
    "é日本語🗓️".encode() * 50,
    b"\xff\xfe\xfd",
    b"\xc3",
    b"mailto:",
    b"mailto:owner@example.com",
    b"CANCELLED",
    b"TENTATIVE",
    b"TRANSPARENT",
    b"FREE",
    b"DATE",
    b"PERIOD",
    b"DATE-TIME",
]

HOSTILE_PARAMETERS = [
    b";TZID=Europe/Nowhere",
    b";TZID=",
    b';TZID="Europe/Berlin"',
    b";TZID=" + b"z" * 500,
    b";TZID=../../etc/passwd",
    b";TZID=W. Europe Standard Time",
    b";VALUE=DATE",
    b";VALUE=DATE-TIME",
    b";VALUE=PERIOD",
    b";VALUE=DURATION",
    b";VALUE=TEXT",
    b";VALUE=BINARY;ENCODING=BASE64",
    b";RANGE=THISANDFUTURE",
    b";PARTSTAT=DECLINED",
    b";PARTSTAT=",
    b';X-A="unterminated',
    b";;",
    b";=",
    b";A=B,C,D,E,F,G",
]

HOSTILE_RRULES = [
    b"FREQ=SECONDLY",
    b"FREQ=SECONDLY;COUNT=100000000",
    b"FREQ=MINUTELY",
    b"FREQ=MINUTELY;INTERVAL=1;BYSECOND=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
    b"FREQ=HOURLY;INTERVAL=1",
    b"FREQ=DAILY;COUNT=999999999999999999999",
    b"FREQ=DAILY;COUNT=-1",
    b"FREQ=DAILY;COUNT=0",
    b"FREQ=DAILY;INTERVAL=0",
    b"FREQ=DAILY;INTERVAL=-5",
    b"FREQ=DAILY;INTERVAL=99999999999999",
    b"FREQ=WEEKLY;BYDAY=+53MO",
    b"FREQ=WEEKLY;BYDAY=XX",
    b"FREQ=MONTHLY;BYMONTHDAY=32",
    b"FREQ=MONTHLY;BYMONTHDAY=-32",
    b"FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=2",
    b"FREQ=MONTHLY;BYSETPOS=400;BYDAY=MO",
    b"FREQ=YEARLY;BYWEEKNO=54",
    b"FREQ=YEARLY;BYYEARDAY=367",
    b"FREQ=YEARLY;BYMONTH=13",
    b"FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
    b"FREQ=YEARLY;BYEASTER=0",
    b"FREQ=DAILY;UNTIL=19000101T000000Z",
    b"FREQ=DAILY;UNTIL=99991231",
    b"FREQ=DAILY;UNTIL=garbage",
    b"FREQ=DAILY;UNTIL=20250401;COUNT=5",
    b"FREQ=NEVER",
    b"FREQ=",
    b"COUNT=5",
    b"FREQ=DAILY;FREQ=WEEKLY",
    b"FREQ=DAILY;BYHOUR=25;BYMINUTE=61",
    b"FREQ=DAILY;BYHOUR=" + b",".join(str(h).encode() for h in range(24)),
    b"FREQ=WEEKLY;WKST=XX;BYDAY=MO",
    b"FREQ=DAILY;" + b"BYDAY=MO;" * 200,
    b"FREQ=DAILY;RSCALE=HEBREW;SKIP=FORWARD",
]

PROPERTY_LINES = [
    b"RRULE:FREQ=DAILY",
    b"RRULE:FREQ=SECONDLY",
    b"RDATE:20250302T090000Z,20250303T090000Z",
    b"RDATE;VALUE=PERIOD:20250302T090000Z/PT1H",
    b"RDATE;VALUE=DATE:20250304",
    b"EXDATE:20250302T090000Z",
    b"EXDATE;VALUE=DATE:20250302",
    b"EXRULE:FREQ=WEEKLY",
    b"RECURRENCE-ID:20250303T093000Z",
    b"RECURRENCE-ID;VALUE=DATE:20250303",
    b"RECURRENCE-ID;RANGE=THISANDFUTURE:20250303T093000Z",
    b"DTSTART:20250302T090000Z",
    b"DTSTART;VALUE=DATE:20250302",
    b"DTEND:20250301T090000Z",
    b"DTEND;VALUE=DATE:20250301",
    b"DURATION:-PT1H",
    b"DURATION:P1W",
    b"STATUS:CANCELLED",
    b"TRANSP:TRANSPARENT",
    b"X-WR-TIMEZONE:Europe/Nowhere",
    b"X-WR-TIMEZONE:W. Europe Standard Time",
    b"X-WR-TIMEZONE:America/New_York",
    b"X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE",
    b"ATTENDEE;PARTSTAT=ACCEPTED:mailto:owner@example.com",
    b"ATTENDEE:",
    b"UID:",
    b"UID:weekly-standup@google.com",
    b"SEQUENCE:99999999999999999999",
    b"SEQUENCE:-1",
    b"TZID:Europe/Berlin",
    b"TZOFFSETFROM:+2500",
    b"TZOFFSETTO:-9999",
    b"X-MULTICAL-BLOCK-ID:",
    b"BEGIN:VEVENT",
    b"END:VEVENT",
    b"BEGIN:VTIMEZONE",
    b"END:VTIMEZONE",
    b"BEGIN:VCALENDAR",
    b"END:VCALENDAR",
    b"BEGIN:STANDARD",
    b"BEGIN:DAYLIGHT",
    b"BEGIN:",
    b"END:",
    b":",
    b";",
    b"NOCOLON",
]

COMPONENTS = [
    b"VCALENDAR",
    b"VEVENT",
    b"VTIMEZONE",
    b"STANDARD",
    b"DAYLIGHT",
    b"VALARM",
    b"VTODO",
    b"X-NESTED",
    b"",
]


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True) or [b""]


def _line_ending(rng: random.Random) -> bytes:
    return rng.choice([b"\r\n", b"\n", b"\r", b"\r\n"])


def flip_bits(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if buffer:
            buffer[rng.randrange(len(buffer))] ^= 1 << rng.randrange(8)
    return bytes(buffer)


def random_bytes(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(len(buffer) + 1)
        if rng.random() < 0.5 and at < len(buffer):
            del buffer[at : at + rng.randint(1, 16)]
        else:
            noise = rng.choice([b":", b";", b"\r\n", b" ", b"\x00", b"\\", b"=", b",", b'"'])
            buffer[at:at] = noise if rng.random() < 0.7 else rng.randbytes(rng.randint(1, 8))
    return bytes(buffer)


def drop_lines(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    lines = _lines(data)
    for _ in range(rng.randint(1, 5)):
        if len(lines) > 1:
            del lines[rng.randrange(len(lines))]
    return b"".join(lines)


def duplicate_lines(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    lines = _lines(data)
    at = rng.randrange(len(lines))
    span = lines[at : at + rng.randint(1, 20)]
    times = rng.choice([1, 2, 10, 100, 300])
    lines[at:at] = span * times
    return b"".join(lines)


def shuffle_lines(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    lines = _lines(data)
    for _ in range(rng.randint(1, 4)):
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    return b"".join(lines)


def mangle_value(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    lines = _lines(data)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(lines))
        line = lines[at]
        if b":" not in line:
            continue
        name, _, rest = line.partition(b":")
        ending = rest[len(rest.rstrip(b"\r\n")) :]
        value = rng.choice(HOSTILE_VALUES)
        if rng.random() < 0.2:
            value = rest.rstrip(b"\r\n") + b"," + value  # one more value in a list
        lines[at] = name + b":" + value + ending
    return b"".join(lines)


def mangle_parameters(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    lines = _lines(data)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(lines))
        line = lines[at]
        if b":" not in line or line.startswith((b"BEGIN", b"END", b" ")):
            continue
        name, _, rest = line.partition(b":")
        if rng.random() < 0.3 and b";" in name:
            name = name.split(b";", 1)[0]  # parameters dropped (a TZID or VALUE=DATE lost)
        else:
            name += rng.choice(HOSTILE_PARAMETERS)
        lines[at] = name + b":" + rest
    return b"".join(lines)


def hostile_rrule(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    lines = _lines(data)
    rules = [i for i, line in enumerate(lines) if line.upper().startswith((b"RRULE", b"EXRULE"))]
    rule = rng.choice(HOSTILE_RRULES)
    if rng.random() < 0.3:
        rule = rule.replace(b"FREQ=DAILY", rng.choice([b"FREQ=SECONDLY", b"FREQ=MINUTELY"]))
    if rules:
        at = rng.choice(rules)
        lines[at] = b"RRULE:" + rule + _line_ending(rng)
    else:
        starts = [i for i, line in enumerate(lines) if line.upper().startswith(b"DTSTART")]
        at = rng.choice(starts) + 1 if starts else rng.randrange(len(lines))
        lines.insert(at, b"RRULE:" + rule + b"\r\n")
    return b"".join(lines)


def insert_property(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    lines = _lines(data)
    for _ in range(rng.randint(1, 3)):
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(PROPERTY_LINES) + b"\r\n")
    return b"".join(lines)


def deep_nesting(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    lines = _lines(data)
    depth = rng.choice([2, 10, 100, 1000, 5000, 20000])
    name = rng.choice(COMPONENTS)
    opening = b"BEGIN:" + name + b"\r\n"
    closing = b"END:" + name + b"\r\n"
    at = rng.randrange(len(lines) + 1)
    shape = rng.random()
    if shape < 0.4:  # balanced
        lines[at:at] = [opening * depth + closing * depth]
    elif shape < 0.7:  # never closed
        lines[at:at] = [opening * depth]
    elif shape < 0.85:  # closed too often
        lines[at:at] = [closing * depth]
    else:  # events inside events
        event = b"BEGIN:VEVENT\r\nUID:nested\r\nDTSTART:20250302T090000Z\r\n"
        lines[at:at] = [event * depth + b"END:VEVENT\r\n" * depth]
    return b"".join(lines)


def truncate(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def byte_order_marks(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    choice = rng.random()
    if choice < 0.4:
        return b"\xef\xbb\xbf" + data
    if choice < 0.55:
        return b"\xef\xbb\xbf" * rng.randint(2, 5) + data
    if choice < 0.7:  # one in the middle of a line
        at = rng.randrange(len(data) + 1)
        return data[:at] + b"\xef\xbb\xbf" + data[at:]
    if choice < 0.85:
        return data.decode("utf-8", "replace").encode("utf-16")
    return b"\xff\xfe" + data


def mix_line_endings(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    lines = data.splitlines()
    return b"".join(line + _line_ending(rng) for line in lines)


def refold(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    """Folds in odd places (inside a name, inside a UTF-8 sequence), or bad continuation lines."""
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(len(buffer) + 1)
        buffer[at:at] = rng.choice([b"\r\n ", b"\r\n\t", b"\n ", b"\r\n  ", b"\r\n", b" \r\n "])
    if rng.random() < 0.2:
        buffer = bytearray(bytes(buffer).replace(b"\r\n ", b""))  # unfolded: very long lines
    return bytes(buffer)


def hostile_dates(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    lines = _lines(data)
    dated = [
        i
        for i, line in enumerate(lines)
        if line.upper().startswith(
            (b"DTSTART", b"DTEND", b"EXDATE", b"RDATE", b"RECURRENCE-ID", b"DURATION", b"UNTIL")
        )
    ]
    for _ in range(rng.randint(1, 3)):
        if not dated:
            break
        at = rng.choice(dated)
        name = lines[at].partition(b":")[0]
        value = rng.choice(
            [
                b"9" * rng.randint(8, 40),
                b"99999999T999999Z",
                b"%08dT%06dZ" % (rng.randint(0, 99999999), rng.randint(0, 999999)),
                b"%dT120000Z" % rng.randint(10**8, 10**30),
                b"00000000T000000",
                b"99991231T235959",
                b"00010101T000000Z",
                b"P%dD" % rng.randint(10**6, 10**20),
                b"PT%dS" % rng.randint(10**9, 10**20),
                b"-P%dW" % rng.randint(1, 10**12),
                b"20250301T120000Z/" + b"P%dD" % rng.randint(10**6, 10**20),
            ]
        )
        lines[at] = name + b":" + value + b"\r\n"
    return b"".join(lines)


def splice(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    other = _lines(rng.choice(seeds))
    lines = _lines(data)
    a = rng.randrange(len(other))
    b = rng.randrange(a, len(other) + 1)
    at = rng.randrange(len(lines) + 1)
    lines[at:at] = other[a:b]
    return b"".join(lines)


def bad_encoding(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    choice = rng.random()
    if choice < 0.3:
        return data.decode("utf-8", "replace").encode("latin-1", "replace")
    if choice < 0.6:
        at = rng.randrange(len(data) + 1)
        return (
            data[:at]
            + rng.choice([b"\x80", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"])
            + data[at:]
        )
    if choice < 0.8:
        return data.replace(b":", b":\x00", rng.randint(1, 5))
    return data.replace(b"\r\n", b"\r\n\x00", rng.randint(1, 5))


def change_case(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    lines = _lines(data)
    for _ in range(rng.randint(1, 10)):
        at = rng.randrange(len(lines))
        name, colon, rest = lines[at].partition(b":")
        lines[at] = (name.lower() if rng.random() < 0.5 else name.swapcase()) + colon + rest
    return b"".join(lines)


def rename_components(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    lines = _lines(data)
    marks = [i for i, line in enumerate(lines) if line.upper().startswith((b"BEGIN:", b"END:"))]
    for _ in range(rng.randint(1, 3)):
        if not marks:
            break
        at = rng.choice(marks)
        kind = lines[at].partition(b":")[0]
        lines[at] = kind + b":" + rng.choice(COMPONENTS) + b"\r\n"
    return b"".join(lines)


def many_events(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    """Hundreds of small events, some sharing a UID (how a feed's size costs time is a matter of
    throughput, not of robustness: see the figure printed at the end)."""
    count = rng.choice([20, 100, 300])
    events = b"".join(
        b"BEGIN:VEVENT\r\nUID:bulk-%d\r\nDTSTART:2025%02d%02dT%02d0000Z\r\n"
        b"DURATION:PT30M\r\nEND:VEVENT\r\n"
        % (i % rng.choice([count, 7]), 3 + i % 9, 1 + i % 28, i % 24)
        for i in range(count)
    )
    at = data.rfind(b"END:VCALENDAR")
    at = at if at >= 0 else len(data)
    return data[:at] + events + data[at:]


MUTATORS = [
    flip_bits,
    random_bytes,
    drop_lines,
    duplicate_lines,
    shuffle_lines,
    mangle_value,
    mangle_value,
    mangle_parameters,
    hostile_rrule,
    hostile_rrule,
    insert_property,
    deep_nesting,
    truncate,
    byte_order_marks,
    mix_line_endings,
    refold,
    hostile_dates,
    splice,
    bad_encoding,
    change_case,
    rename_components,
    many_events,
]


def make_input(run_seed: int, index: int) -> tuple[bytes, list[str]]:
    """Input ``index`` of the run: a seed with one to four mutations, and their names."""
    rng = random.Random(f"{run_seed}:{index}")
    data = rng.choice(SEEDS)
    applied = []
    for _ in range(rng.choice([1, 1, 2, 2, 3, 4])):
        mutator = rng.choice(MUTATORS)
        data = mutator(data, rng, SEEDS)
        applied.append(mutator.__name__)
    return data, applied


# Running inputs ------------------------------------------------------------------------------------


def read(data: bytes, index: int) -> tuple[int, int]:
    """The providers' reading path; (events, skipped). Even inputs as an iCal link, odd as CalDAV."""
    calendar = parse_calendar(data)
    if index % 2 == 0:
        parsed = read_events(calendar, WINDOW)
    else:
        parsed = read_events(
            calendar,
            WINDOW,
            series_prefix="/calendars/owner/work/event.ics|",
            default_zone=CALDAV_ZONE,
            own_addresses=[OWNER],
        )
    return len(parsed.events), parsed.skipped


class Hang(Exception):
    """Raised by the worker's alarm when one input runs longer than ``HANG_S``."""


def _alarm(signum: int, frame: object) -> None:
    raise Hang


@dataclass
class Finding:
    index: int
    kind: str  # crash, slow, memory, hang, died
    detail: str
    mutations: list[str]


@dataclass
class Report:
    inputs: int = 0
    parsed: int = 0
    rejected: int = 0  # ICalendarError
    events: int = 0
    skipped: int = 0
    max_seconds: float = 0.0  # CPU
    slowest: int = -1
    max_wall: float = 0.0
    slowest_wall: int = -1
    over_wall: int = 0  # inputs over the limit in wall time, waiting for a core included
    max_rss_growth_kb: int = 0
    busy_seconds: float = 0.0
    through: int = -1  # the last input this report covers
    findings: list[Finding] = field(default_factory=list)

    def add(self, other: Report) -> None:
        for name in (
            "inputs", "parsed", "rejected", "events", "skipped", "busy_seconds", "over_wall"
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.max_seconds > self.max_seconds:
            self.max_seconds, self.slowest = other.max_seconds, other.slowest
        if other.max_wall > self.max_wall:
            self.max_wall, self.slowest_wall = other.max_wall, other.slowest_wall
        self.max_rss_growth_kb = max(self.max_rss_growth_kb, other.max_rss_growth_kb)


def _address_space_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def _peak_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_one(data: bytes, index: int, mutations: list[str], report: Report) -> None:
    """Read one input into ``report``: its outcome, its time, and a finding if it broke a rule."""
    signal.setitimer(signal.ITIMER_REAL, HANG_S)
    began, began_cpu = time.perf_counter(), time.process_time()
    try:
        events, skipped = read(data, index)
    except ICalendarError:
        report.rejected += 1
    except MemoryError:
        report.findings.append(Finding(index, "memory", f"over {MEMORY_LIMIT_MB} MB", mutations))
    except Hang:
        report.findings.append(Finding(index, "hang", f"over {HANG_S:.0f} s", mutations))
    except Exception as error:  # anything else is what we are looking for
        detail = "".join(traceback.format_exception(error))
        report.findings.append(Finding(index, "crash", detail, mutations))
    else:
        report.parsed += 1
        report.events += events
        report.skipped += skipped
    finally:
        wall = time.perf_counter() - began
        cpu = time.process_time() - began_cpu
        signal.setitimer(signal.ITIMER_REAL, 0)
    report.inputs += 1
    report.busy_seconds += cpu
    report.through = index
    if cpu > report.max_seconds:
        report.max_seconds, report.slowest = cpu, index
    if wall > report.max_wall:
        report.max_wall, report.slowest_wall = wall, index
    report.over_wall += wall > TIME_LIMIT_S
    if cpu > TIME_LIMIT_S and wall < HANG_S:
        detail = f"{cpu:.2f} s of CPU ({wall:.2f} s wall)"
        report.findings.append(Finding(index, "slow", detail, mutations))


def worker(run_seed: int, start: int, stop: int, conn: Connection, current: Synchronized) -> None:
    """Run inputs ``start``..``stop - 1``, sending a Report per batch and None when done;
    ``current`` tells the parent's watchdog which input is running."""
    signal.signal(signal.SIGALRM, _alarm)
    for seed_index, seed in enumerate(SEEDS):  # warm up: imports, zone files, caches
        read(seed, seed_index)
    gc.collect()
    limit = _address_space_bytes() + MEMORY_LIMIT_MB * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    baseline_kb = _peak_rss_kb()
    report = Report()
    for index in range(start, stop):
        current.value = index
        data, mutations = make_input(run_seed, index)
        run_one(data, index, mutations, report)
        del data
        if report.inputs >= BATCH or index == stop - 1:
            report.max_rss_growth_kb = _peak_rss_kb() - baseline_kb
            conn.send(report)
            report = Report()
    conn.send(None)
    conn.close()


# The parent: a work list, workers, a watchdog, the figures ------------------------------------------


@dataclass
class Running:
    process: mp.Process
    conn: Connection
    current: Synchronized
    start: int
    stop: int
    through: int
    seen: int
    since: float


class Fuzz:
    def __init__(self, inputs: int, run_seed: int, out: Path) -> None:
        self.run_seed, self.out = run_seed, out
        self.context = mp.get_context("fork")
        self.pending: deque[tuple[int, int]] = deque(
            (a, min(a + CHUNK, inputs)) for a in range(0, inputs, CHUNK)
        )
        self.running: list[Running] = []
        self.total = Report()
        self.kinds: Counter = Counter()
        self.saved: Counter = Counter()
        self.lines: list[str] = []

    def start(self, start: int, stop: int) -> None:
        receiver, sender = self.context.Pipe(duplex=False)
        current = self.context.Value("q", start)
        process = self.context.Process(
            target=worker, args=(self.run_seed, start, stop, sender, current), daemon=True
        )
        process.start()
        sender.close()
        self.running.append(
            Running(process, receiver, current, start, stop, start - 1, start, time.monotonic())
        )

    def run(self) -> float:
        began = time.perf_counter()
        next_progress = time.monotonic() + 30
        while self.pending or self.running:
            while self.pending and len(self.running) < PROCESSES:
                self.start(*self.pending.popleft())
            for conn in wait([job.conn for job in self.running], timeout=1.0):
                job = next(job for job in self.running if job.conn is conn)
                try:
                    report = conn.recv()
                except EOFError:
                    self.lost(job, "died", f"exit code {job.process.exitcode}")
                    continue
                if report is None:
                    job.process.join()
                    self.running.remove(job)
                    continue
                self.total.add(report)
                job.through = report.through
                for finding in report.findings:
                    self.record(finding)
            now = time.monotonic()
            for job in list(self.running):
                if job.current.value != job.seen:
                    job.seen, job.since = job.current.value, now
                elif now - job.since > 2 * HANG_S:  # stuck where the alarm cannot reach
                    job.process.kill()
                    self.lost(job, "hang", f"over {2 * HANG_S:.0f} s, killed")
            if now > next_progress:
                next_progress = now + 30
                print(
                    f"  ... {self.total.inputs:,} inputs, {sum(self.kinds.values())} findings",
                    flush=True,
                )
        return time.perf_counter() - began

    def lost(self, job: Running, kind: str, detail: str) -> None:
        """A worker died or was killed on input ``current``: record it, then redo the inputs it
        ran but had not reported, and go on after it."""
        job.process.join()
        job.conn.close()
        self.running.remove(job)
        index = job.current.value
        _, mutations = make_input(self.run_seed, index)
        self.record(Finding(index, kind, detail, mutations))
        self.total.inputs += 1
        if index + 1 < job.stop:
            self.pending.appendleft((index + 1, job.stop))
        if job.through + 1 < index:
            self.pending.appendleft((job.through + 1, index))

    def record(self, finding: Finding) -> None:
        self.kinds[finding.kind] += 1
        if self.saved[finding.kind] >= SAVED_PER_KIND:
            return
        self.saved[finding.kind] += 1
        self.out.mkdir(parents=True, exist_ok=True)
        data, _ = make_input(self.run_seed, finding.index)
        path = self.out / f"{finding.kind}-{finding.index:06d}.ics"
        path.write_bytes(data)
        path.with_suffix(".txt").write_text(
            f"input {finding.index} of seed {self.run_seed}; "
            f"mutations: {', '.join(finding.mutations)}\n\n{finding.detail}\n"
        )
        last = (finding.detail.strip().splitlines() or [""])[-1][:160]
        where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        self.lines.append(
            f"  {finding.kind} at input {finding.index} ({', '.join(finding.mutations)}): "
            f"{last} -> {where}"
        )


def run(inputs: int, run_seed: int, out: Path) -> int:
    fuzz = Fuzz(inputs, run_seed, out)
    wall = fuzz.run()
    total, kinds = fuzz.total, fuzz.kinds
    crashes = kinds["crash"] + kinds["died"]
    over_time = kinds["slow"] + kinds["hang"]
    print(
        f"inputs:             {total.inputs:,} (seed {run_seed}, {len(SEEDS)} seed files, {PROCESSES} processes)"
    )
    print(
        f"read:               {total.parsed:,} ({total.events:,} events; {total.skipped:,} skipped as malformed)"
    )
    print(f"clean parse errors: {total.rejected:,} (ICalendarError)")
    print(f"crashes:            {crashes:,}")
    print(
        f"over {TIME_LIMIT_S:.0f} s:           {over_time:,} (of which hangs over {HANG_S:.0f} s: {kinds['hang']:,})"
    )
    print(f"over {MEMORY_LIMIT_MB} MB:        {kinds['memory']:,}")
    print(f"max time:           {total.max_seconds * 1000:.0f} ms of CPU (input {total.slowest})")
    print(
        f"max wall time:      {total.max_wall * 1000:.0f} ms (input {total.slowest_wall}); "
        f"{total.over_wall:,} over {TIME_LIMIT_S:.0f} s, waiting for a core included"
    )
    print(
        f"max memory:         {total.max_rss_growth_kb / 1024:.1f} MB (largest growth of a worker's peak RSS over its warmed-up baseline)"
    )
    print(
        f"mean time:          {total.busy_seconds / max(total.inputs, 1) * 1000:.2f} ms of CPU per input"
    )
    print(f"throughput:         {total.inputs / wall:,.0f} inputs/s ({wall:.0f} s wall)")
    print(scale())
    for line in fuzz.lines:
        print(line)
    return 1 if kinds else 0


def feed_of(count: int) -> bytes:
    """A legitimate feed of ``count`` one-hour events spread over the window."""
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:scale-{i}@example.com\r\nDTSTAMP:20250301T100000Z\r\n"
        f"DTSTART:{NOW + timedelta(hours=7 * i):%Y%m%dT%H%M%SZ}\r\nDURATION:PT1H\r\n"
        f"SUMMARY:Event {i}\r\nEND:VEVENT\r\n"
        for i in range(count)
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Fuzz//Scale//EN\r\n{events}END:VCALENDAR\r\n".encode()


def scale() -> str:
    """What a feed's size costs, apart from robustness: legitimate feeds of 1,000 and 5,000 events."""
    figures = []
    for count in (1_000, 5_000):
        data = feed_of(count)
        began = time.process_time()
        read(data, 0)
        seconds = time.process_time() - began
        figures.append(f"{count:,} events in {seconds * 1000:.0f} ms of CPU")
    return f"large feeds:        {'; '.join(figures)} (not mutated, outside the limits above)"


def replay(path: Path) -> int:
    """Run one saved input in this process, both ways; a crash shows its whole traceback."""
    data = path.read_bytes()
    for index, way in ((0, "as an iCal link"), (1, "as CalDAV")):
        began = time.process_time()
        try:
            events, skipped = read(data, index)
        except ICalendarError as error:
            outcome = f"ICalendarError: {error}"
        else:
            outcome = f"{events} events, {skipped} skipped"
        print(f"{way}: {outcome} in {(time.process_time() - began) * 1000:.0f} ms of CPU")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=DEFAULT_INPUTS)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "fuzz_ics")
    parser.add_argument("--replay", type=Path, help="run one saved input and show what happens")
    options = parser.parse_args()
    if options.replay:
        return replay(options.replay)
    return run(options.inputs, options.seed, options.out)


if __name__ == "__main__":
    sys.exit(main())
