"""What a rule would do over the next 14 days, computed on demand from the sources as they are now.

The events are read through the providers (one thread per source calendar, so a slow server does
not hold up the others) and run through the planner as if no block existed yet. The result lives
in memory for one request: nothing is written to the database, a cache or a log. A calendar that
cannot be read shows its error; the others are still shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from calendars.models import Calendar
from calendars.selectors import provider_for_connection
from integrations.base import Provider, ProviderError, RemoteEvent, Transparency, Window
from integrations.wording import error_text
from syncrules import planner
from syncrules.engine import held_to, rule_window, source_policies
from syncrules.models import Block
from syncrules.planning import Rendered, RuleSpec, SkipReason
from syncrules.services import RuleSettings, rule_build

PREVIEW_DAYS = 14
MAX_THREADS = 4
# Fingerprints are computed by the planner but never kept from a preview: any key will do.
_THROWAWAY_KEY = b"preview"

SKIP_WORDS = {
    SkipReason.OURS: _("A block Multical wrote"),
    SkipReason.CANCELLED: _("Cancelled"),
    SkipReason.DECLINED: _("Declined invitation"),
    SkipReason.FREE: _("Marked free"),
    SkipReason.TENTATIVE: _("Tentative"),
    SkipReason.ALL_DAY: _("All-day event"),
    SkipReason.EXCLUDED_KEYWORD: _("Excluded by keyword"),
    SkipReason.MISSING_KEYWORD: _("None of the keywords to copy"),
    SkipReason.WEEKDAY: _("On a day the rule leaves out"),
    SkipReason.WORKING_HOURS: _("Outside working hours"),
    SkipReason.OUTSIDE_WINDOW: _("Beyond the days ahead the rule copies"),
}
DISCONNECTED = _("This account is disconnected: enter its credentials again to read it.")


@dataclass(frozen=True, slots=True)
class PreviewRow:
    """One source event: the block it becomes (and where), or why it is skipped."""

    source: str
    title: str
    all_day: bool
    day: date  # the (first) day, in the user's zone for timed events
    start: datetime | None  # in the user's zone; None for all-day events
    end: datetime | None
    last_day: date | None  # for all-day events
    block: Rendered | None = None
    targets: tuple[str, ...] = ()
    skipped: str = ""

    @property
    def shows_busy(self) -> bool:
        return self.block is not None and self.block.transparency == Transparency.BUSY


@dataclass(frozen=True, slots=True)
class SourceError:
    calendar: str
    message: str


@dataclass(slots=True)
class Preview:
    start: datetime
    end: datetime
    rows: list[PreviewRow] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)

    @property
    def copied(self) -> int:
        return sum(1 for row in self.rows if row.block is not None)

    @property
    def skipped(self) -> int:
        return sum(1 for row in self.rows if row.skipped)


def rule_preview(
    *,
    user: User,
    settings: RuleSettings,
    sources: Sequence[Calendar],
    targets: Sequence[Calendar],
    now: datetime | None = None,
) -> Preview:
    """The blocks a rule with ``settings`` from ``sources`` into ``targets`` would write, and its
    skips."""
    now = now or timezone.now()
    zone = ZoneInfo(user.time_zone)
    rule = rule_build(user=user, settings=settings)
    sources = list(sources)
    target_names = {str(calendar.id): calendar.name for calendar in targets}
    read_window = Window(now, now + timedelta(days=PREVIEW_DAYS))
    preview = Preview(start=now.astimezone(zone), end=read_window.end.astimezone(zone))

    providers: dict[Calendar, Provider] = {}
    for calendar in sources:
        if calendar.connection.secrets:
            providers[calendar] = provider_for_connection(calendar.connection)
        else:
            preview.errors.append(SourceError(calendar.name, str(DISCONNECTED)))
    events = _read_all(providers, read_window)

    spec = RuleSpec(
        id="preview",
        options=planner.options_from_rule(rule, time_zone=zone),
        targets=frozenset(target_names),
        window=rule_window(rule, now),
    )
    # Shown as it will be written: held to the policy of each source's organization, if any.
    policies = source_policies({calendar.connection for calendar in sources})
    known_block_event_ids = set(
        Block.objects.filter(target_calendar__in=sources)
        .exclude(target_event_id="")
        .values_list("target_event_id", flat=True)
    )
    for calendar in sources:
        if calendar not in providers:
            continue
        result = events[calendar]
        if isinstance(result, ProviderError):
            preview.errors.append(SourceError(calendar.name, error_text(result)))
            continue
        policy = policies.get(calendar.connection_id)
        held = RuleSpec(spec.id, held_to(spec.options, policy), spec.targets, spec.window)
        plan = planner.plan(
            rules=[held],
            events=result,
            existing=(),
            key=_THROWAWAY_KEY,
            full=True,
            known_block_event_ids=known_block_event_ids,
        )
        blocks: dict[str, tuple[RemoteEvent, Rendered, list[str]]] = {}
        for create in plan.creates:
            entry = blocks.setdefault(create.event.id, (create.event, create.rendered, []))
            entry[2].append(target_names[create.target_calendar_id])
        for event, rendered, names in blocks.values():
            preview.rows.append(
                _row(calendar, event, zone, block=rendered, targets=tuple(sorted(names)))
            )
        for skip in plan.skips:
            preview.rows.append(
                _row(calendar, skip.event, zone, skipped=str(SKIP_WORDS[skip.reason]))
            )
    preview.rows.sort(key=lambda row: (_sort_instant(row, zone), row.title, row.source))
    preview.errors.sort(key=lambda error: error.calendar)
    return preview


def _read_all(
    providers: Mapping[Calendar, Provider], window: Window
) -> dict[Calendar, list[RemoteEvent] | ProviderError]:
    """Every source's events in ``window``, read concurrently; a failure stands in for its events."""

    def read(calendar: Calendar) -> list[RemoteEvent] | ProviderError:
        try:
            return providers[calendar].changes(calendar.remote_id, "", window).events
        except ProviderError as error:
            return error

    if not providers:
        return {}
    with ThreadPoolExecutor(max_workers=min(MAX_THREADS, len(providers))) as pool:
        return dict(zip(providers, pool.map(read, providers), strict=True))


def _row(
    calendar: Calendar,
    event: RemoteEvent,
    zone: ZoneInfo,
    *,
    block: Rendered | None = None,
    targets: tuple[str, ...] = (),
    skipped: str = "",
) -> PreviewRow:
    start: datetime | None = None
    end: datetime | None = None
    last_day: date | None = None
    if event.all_day:
        # All-day events stand for their dates wherever the user is: never shifted into a zone.
        day = event.start.date()
        last_day = max(day, (event.end - timedelta(days=1)).date())
    else:
        start, end = event.start.astimezone(zone), event.end.astimezone(zone)
        day = start.date()
    return PreviewRow(
        source=calendar.name,
        title=event.title.strip() or gettext("(no title)"),
        all_day=event.all_day,
        day=day,
        start=start,
        end=end,
        last_day=last_day,
        block=block,
        targets=targets,
        skipped=skipped,
    )


def _sort_instant(row: PreviewRow, zone: ZoneInfo) -> datetime:
    if row.start is not None:
        return row.start
    return datetime.combine(row.day, datetime.min.time(), tzinfo=zone)
