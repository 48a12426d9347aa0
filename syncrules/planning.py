"""The values the planner takes and returns: plain data, no ORM, so planning is a pure function.

``syncrules.planner.plan`` maps (source events, rule options, existing blocks) to operations;
the applier (``syncrules.applier``) carries them out through the provider contract.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, time, tzinfo

from integrations.base import RemoteEvent, Transparency, Window
from syncrules.choices import Handling, ShowAs, Visibility

__all__ = ["Handling", "ShowAs", "Visibility"]  # the planner's callers take them from here too


class SkipReason(enum.StrEnum):
    OURS = "ours"  # a block we wrote: never a source (loop prevention)
    CANCELLED = "cancelled"
    DECLINED = "declined"
    FREE = "free"
    TENTATIVE = "tentative"
    ALL_DAY = "all_day"
    EXCLUDED_KEYWORD = "excluded_keyword"
    MISSING_KEYWORD = "missing_keyword"
    WEEKDAY = "weekday"
    WORKING_HOURS = "working_hours"
    OUTSIDE_WINDOW = "outside_window"


@dataclass(frozen=True, slots=True)
class RuleOptions:
    """A sync rule's settings, as the planner needs them (see ``SyncRule`` for their meaning)."""

    visibility: Visibility = Visibility.BUSY
    busy_title: str = "Busy"
    show_location: bool = False
    show_video_link: bool = False
    include_keywords: tuple[str, ...] = ()  # lowercased
    exclude_keywords: tuple[str, ...] = ()  # lowercased
    skip_declined: bool = True
    skip_free: bool = True
    tentative: Handling = Handling.BUSY
    all_day: Handling = Handling.SKIP
    show_as: ShowAs = ShowAs.BUSY
    weekdays: frozenset[int] = frozenset()  # ISO weekdays; empty = every day
    working_hours: tuple[time, time] | None = None
    time_zone: tzinfo | None = None  # the user's zone, for weekdays and working hours


@dataclass(frozen=True, slots=True)
class Rendered:
    """A block as it will read in the target: already stripped to what the rule lets through."""

    start: datetime  # aware UTC; for all-day blocks midnight UTC standing for the date
    end: datetime
    all_day: bool
    # Out of the repr, so a logged or reported plan cannot leak event content.
    title: str = field(repr=False)
    description: str = field(repr=False)
    location: str = field(repr=False)
    transparency: Transparency = Transparency.BUSY


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One rule reading the source being planned: its settings, target calendars and window."""

    id: str
    options: RuleOptions
    targets: frozenset[str]
    window: Window


@dataclass(frozen=True, slots=True)
class ExistingBlock:
    id: str
    source_event_id: str
    source_series_id: str
    target_calendar_id: str
    fingerprint: str
    pending: bool = False
    rule_id: str = ""  # the rule whose rendering it shows ("" once that rule is gone)


@dataclass(frozen=True, slots=True)
class Create:
    target_calendar_id: str
    event: RemoteEvent
    rendered: Rendered
    fingerprint: str
    rule_id: str = ""


@dataclass(frozen=True, slots=True)
class Update:
    block_id: str
    event: RemoteEvent
    rendered: Rendered
    fingerprint: str
    rule_id: str = ""
    # False when the calendar already shows exactly this: only the rule the block is credited to
    # changes (another rule now asks for the same rendering), so nothing is written remotely.
    rewrite: bool = True


@dataclass(frozen=True, slots=True)
class Delete:
    block_id: str
    # True when the source event itself is gone (removed, or missing from a full read), as
    # opposed to filtered out, no longer asked for by a rule, or a second block of one instance.
    # The mass-deletion guard weighs only these.
    vanished: bool = False


@dataclass(frozen=True, slots=True)
class Skip:
    event: RemoteEvent
    reason: SkipReason
    rule_id: str = ""


@dataclass(slots=True)
class Plan:
    creates: list[Create] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    deletes: list[Delete] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    unchanged: int = 0
