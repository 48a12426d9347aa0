"""The sync engine: read a source calendar's changes, plan the blocks of every rule reading it in
one plan, apply it, advance the cursor.

Event content lives only in memory here, for the length of one sync; what is stored is ids,
times, states and keyed fingerprints. The cursor moves only after the plan is applied, so a crash
or a provider failure means the same changes are read again, and the fingerprints and block
markers make that second pass write nothing twice. What a sync is asked to do, and when it has
done it, is the business of ``syncrules.state``; reconciling the targets, of ``syncrules.reconcile``.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet, prefetch_related_objects
from django.utils import timezone

from calendars.busy import forget_busy
from calendars.models import FULL_READ_FIELDS, LAST_ERROR_FIELDS, Calendar, Connection
from calendars.push import calendar_unwatch
from calendars.selectors import provider_for_connection
from calendars.services import calendar_record_error, connection_keep_refreshed_secrets
from integrations.base import ChangeSet, Provider, ProviderError, ReadProgress, Window
from orgs.policies import OrgPolicy, policies_for_addresses, verified_domains
from syncrules import planner
from syncrules.applier import Counts, ProviderPool, apply_plan
from syncrules.models import Block, SyncRule, SyncRun, SyncState
from syncrules.planning import ExistingBlock, Plan, RuleOptions, RuleSpec, Visibility
from syncrules.removal import Removal, remove_blocks

logger = logging.getLogger(__name__)

POLLED_KINDS = (Connection.Kind.CALDAV, Connection.Kind.ICLOUD, Connection.Kind.ICS)


def fingerprint_key() -> bytes:
    """The key of block fingerprints: derived from the server secret, never stored."""
    return hashlib.sha256(b"multical-block-fingerprint:" + settings.SECRET_KEY.encode()).digest()


def source_policies(connections: Iterable[Connection]) -> dict[object, OrgPolicy]:
    """The organization policy over the calendars of each of ``connections`` that is one of an
    organization's accounts (``orgs.policies``: its address in a verified domain), by connection
    id; one query for all. An iCal link has no address, so no organization."""
    addresses = {
        connection.id: connection.username
        for connection in connections
        if connection.kind != Connection.Kind.ICS and connection.username
    }
    found = policies_for_addresses(addresses.values())
    return {
        connection_id: found[address]
        for connection_id, address in addresses.items()
        if address in found
    }


def held_to(options: RuleOptions, policy: OrgPolicy | None) -> RuleOptions:
    """A rule's options as blocks out of a calendar under ``policy`` may render them."""
    if policy is None or not policy.caps_blocks:
        return options
    return planner.capped(
        options,
        max_visibility=Visibility(policy.max_visibility) if policy.max_visibility else None,
        links_may_leave=policy.links_may_leave,
    )


def rule_window(rule: SyncRule, now: datetime) -> Window:
    """From the start of today (less the lookback) to the lookahead, in the owner's zone."""
    zone = ZoneInfo(rule.user.time_zone)
    today = datetime.combine(now.astimezone(zone).date(), time.min, tzinfo=zone)
    return Window(
        start=today - timedelta(days=rule.lookback_days),
        end=now + timedelta(days=rule.lookahead_days),
    )


@dataclass(frozen=True, slots=True)
class Synced:
    """Where a sync that read its source leaves the calendar's row: the cursor to read on from,
    and how many events could not be read (the time is now, and the last error is cleared)."""

    cursor: str
    unreadable: int

    def changes(self, calendar: Calendar) -> dict[str, object]:
        """Set them on ``calendar``; the fields changed with their values, to be saved."""
        calendar.sync_cursor = self.cursor
        calendar.last_synced_at = timezone.now()
        calendar.clear_error()
        calendar.unreadable_events = self.unreadable
        return {
            name: getattr(calendar, name)
            for name in ("sync_cursor", "last_synced_at", *LAST_ERROR_FIELDS, "unreadable_events")
        }


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one sync of a source did that its caller acts on (counts only)."""

    # Deletions held back by the mass-deletion guard, waiting for a confirming full read.
    deletions_held: int = 0
    # Deletions carried out because a confirming full read found the events still gone.
    deletions_confirmed: int = 0
    # What to write on the calendar's row (``sync_source`` leaves that to its caller); None
    # when nothing was read.
    synced: Synced | None = None


def sync_source_calendar(
    calendar: Calendar, *, full: bool = False, confirm_deletions: bool = False
) -> SyncReport:
    """``sync_source``, with the calendar's row written at its end."""
    report = sync_source(calendar, full=full, confirm_deletions=confirm_deletions)
    if report.synced is not None:
        calendar.save(update_fields=list(report.synced.changes(calendar)))
    return report


def sync_source(
    calendar: Calendar,
    *,
    full: bool = False,
    confirm_deletions: bool = False,
    rules: list[SyncRule] | None = None,
) -> SyncReport:
    """Bring the blocks made from ``calendar`` by every enabled rule in step with it, and report
    where that leaves the calendar's row (``SyncReport.synced``) for the caller to write with
    its own bookkeeping. ``rules``: the enabled rules reading the calendar, with their owners, in
    creation order, when the caller has read them already (under the calendar's sync lock).

    One plan covers every rule that reads the calendar, so an event instance gets at most one
    block per target calendar, whichever rules ask for it. The mass-deletion guard: when the
    events this read finds gone would remove more than ``MASS_DELETION_PERCENT`` % of the calendar's
    blocks (and at least ``MASS_DELETION_MIN_BLOCKS``), those deletions are held back (reported,
    nothing else held up) unless ``confirm_deletions`` is set and this is a full read: a full read
    that comes after a hold confirms it.
    """
    connection = calendar.connection
    if not connection.is_usable or not connection.secrets:
        return SyncReport()
    if rules is None:
        rules = list(
            SyncRule.objects.filter(enabled=True, sources=calendar)
            .select_related("user")
            .order_by("created_at", "id")
        )
    if not rules:
        return SyncReport()
    now = timezone.now()
    windows = {str(rule.id): rule_window(rule, now) for rule in rules}
    window = Window(
        min(each.start for each in windows.values()), max(each.end for each in windows.values())
    )
    provider = provider_for_connection(connection)
    try:
        changes = _read_changes(provider, calendar, "" if full else calendar.sync_cursor, window)
    except ProviderError as error:
        calendar_record_error(calendar=calendar, error=error)
        raise
    finally:
        connection_keep_refreshed_secrets(connection=connection, provider=provider)
    # A full read counts every event that could not be read. A read of changes counts only the
    # changed ones, so it can raise the count but not lower it (providers read in full when a
    # change touches unreadable events: CalDAV's cursor knows which objects hold them).
    unreadable = (
        changes.skipped if changes.full_resync else max(calendar.unreadable_events, changes.skipped)
    )
    if changes.is_empty:
        # An idle poll (or only events that could not be read): nothing to plan, no history row;
        # only the cursor, the time and the count move.
        return SyncReport(synced=Synced(cursor=changes.next_cursor, unreadable=unreadable))
    # Only now the targets (an idle poll, the most common sync by far, needs none of them).
    prefetch_related_objects(rules, "targets__connection__user")
    # The organization's policy, read once per sync: whatever the rules ask, blocks out of an
    # organization's calendar show no more than it allows (a policy change reads it again).
    policy = source_policies([connection]).get(connection.id)
    specs = [
        RuleSpec(
            id=str(rule.id),
            options=held_to(
                planner.options_from_rule(rule, time_zone=ZoneInfo(rule.user.time_zone)), policy
            ),
            targets=frozenset(str(target.id) for target in rule.targets.all()),
            window=windows[str(rule.id)],
        )
        for rule in rules
    ]
    known_ids = set(
        Block.objects.filter(target_calendar=calendar)
        .exclude(target_event_id="")
        .values_list("target_event_id", flat=True)
    )
    the_plan = planner.plan(
        rules=specs,
        events=changes.events,
        existing=_existing_blocks(calendar, changes),
        key=fingerprint_key(),
        full=changes.full_resync,
        removed_ids=changes.removed_ids,
        replaced_series=changes.replaced_series,
        known_block_event_ids=known_ids,
    )
    report = _guard_mass_deletion(
        the_plan, calendar, confirm=confirm_deletions and changes.full_resync
    )
    runs = {
        str(rule.id): SyncRun.objects.create(
            rule=rule,
            source_calendar=calendar,
            full_read=changes.full_resync,
            deletions_held=report.deletions_held,
            deletions_confirmed=bool(report.deletions_confirmed),
        )
        for rule in rules
    }
    targets = {str(target.id): target for rule in rules for target in rule.targets.all()}
    pool = ProviderPool()
    try:
        counts = apply_plan(the_plan, source_calendar=calendar, targets=targets, pool=pool)
    except ProviderError as error:
        for run in runs.values():
            run.note_error(error)
            run.finished_at = timezone.now()
        SyncRun.objects.bulk_update(runs.values(), ["error", "error_params", "finished_at"])
        raise
    finally:
        pool.keep_refreshed_secrets()
        # Blocks were written into the targets: their busy time changed.
        forget_busy(targets)
    skipped = Counter(skip.rule_id for skip in the_plan.skips)
    for rule_id, run in runs.items():
        done = counts.get(rule_id, Counts())
        run.created, run.updated, run.deleted = done.created, done.updated, done.deleted
        run.skipped = skipped[rule_id] + changes.skipped
        if done.error is not None:
            run.note_error(done.error)
        run.finished_at = timezone.now()
    SyncRun.objects.bulk_update(
        runs.values(),
        ["created", "updated", "deleted", "skipped", "error", "error_params", "finished_at"],
    )
    return SyncReport(
        deletions_held=report.deletions_held,
        deletions_confirmed=report.deletions_confirmed,
        synced=Synced(cursor=changes.next_cursor, unreadable=unreadable),
    )


def enabled_rules_by_source(calendar_ids: Iterable[str]) -> dict[str, list[SyncRule]]:
    """The enabled rules reading each of the calendars, with their owners, in creation order
    (as ``sync_source`` takes them), read in one query."""
    reading = (
        SyncRule.sources.through.objects.filter(
            calendar_id__in=list(calendar_ids), syncrule__enabled=True
        )
        .select_related("syncrule__user")
        .order_by("syncrule__created_at", "syncrule__id")
    )
    rules: dict[str, list[SyncRule]] = {}
    for row in reading:
        rules.setdefault(str(row.calendar_id), []).append(row.syncrule)
    return rules


def _existing_blocks(calendar: Calendar, changes: ChangeSet) -> list[ExistingBlock]:
    """The blocks made from this calendar that the changes can touch: all of them after a full
    read, otherwise only those of the changed events and series, so that an incremental sync
    costs the same whatever the calendar's size. (Blocks of targets no rule has any more are the
    stale-block clean-up's job.)"""
    blocks = Block.objects.filter(source_calendar=calendar)
    if not changes.full_resync:
        event_ids = {event.id for event in changes.events} | set(changes.removed_ids)
        series_ids = {event.series_id for event in changes.events} | set(changes.replaced_series)
        blocks = blocks.filter(
            Q(source_event_id__in=event_ids) | Q(source_series_id__in=series_ids)
        )
    return [
        ExistingBlock(
            id=str(block_id),
            source_event_id=event_id,
            source_series_id=series_id,
            target_calendar_id=str(target_id),
            fingerprint=stamp,
            pending=state == Block.State.PENDING,
            rule_id=str(rule_id or ""),
        )
        for block_id, event_id, series_id, target_id, stamp, state, rule_id in blocks.values_list(
            "id",
            "source_event_id",
            "source_series_id",
            "target_calendar_id",
            "fingerprint",
            "state",
            "rule_id",
        )
    ]


def _guard_mass_deletion(plan: Plan, calendar: Calendar, *, confirm: bool) -> SyncReport:
    """Hold back the deletions of vanished events when there are too many of them (see
    ``sync_source_calendar``), or report them as confirmed when ``confirm``."""
    vanished = sum(1 for delete in plan.deletes if delete.vanished)
    if vanished < settings.MASS_DELETION_MIN_BLOCKS:
        return SyncReport()
    total = Block.objects.filter(source_calendar=calendar).count()
    if vanished * 100 <= settings.MASS_DELETION_PERCENT * total:
        return SyncReport()
    if confirm:
        logger.warning(
            "Calendar %s: %s blocks removed after a confirming read", calendar.id, vanished
        )
        return SyncReport(deletions_confirmed=vanished)
    logger.warning("Calendar %s: %s deletions held for a confirming read", calendar.id, vanished)
    plan.deletes = [delete for delete in plan.deletes if not delete.vanished]
    return SyncReport(deletions_held=vanished)


def _read_changes(provider: Provider, calendar: Calendar, cursor: str, window: Window) -> ChangeSet:
    provider.report_progress(_progress_recorder(calendar))
    try:
        changes = provider.changes(calendar.remote_id, cursor, window)
        reads_empty = changes.full_resync and all(event.ours for event in changes.events)
        # A source that suddenly reads as empty is read once more at once, so one bad answer from
        # a server costs one request, not a held deletion (the mass-deletion guard still weighs it).
        if reads_empty and Block.objects.filter(source_calendar=calendar).exists():
            changes = provider.changes(calendar.remote_id, "", window)
    finally:
        provider.report_progress(None)
        _forget_progress(calendar)
    return changes


def _progress_recorder(calendar: Calendar) -> ReadProgress:
    """Keeps how far a long full read has got on the calendar's row, committed at each step (no
    transaction is open around a read), so that its page shows it while the read goes on."""
    started = timezone.now()

    def record(reached: datetime) -> None:
        calendar.full_read_started_at = started
        calendar.full_read_reached = reached
        calendar.save(update_fields=FULL_READ_FIELDS)

    return record


def _forget_progress(calendar: Calendar) -> None:
    """The read is over (done or failed); a row left by a read whose worker died goes too."""
    if calendar.full_read_started_at is not None:
        calendar.full_read_started_at = calendar.full_read_reached = None
        calendar.save(update_fields=FULL_READ_FIELDS)


def stale_blocks() -> QuerySet[Block]:
    """Blocks nothing copies any more: their source calendar is gone or released, or no enabled
    rule has their source as a source and their target as a target."""
    wanted = SyncRule.objects.filter(
        enabled=True,
        sources=OuterRef("source_calendar_id"),
        targets=OuterRef("target_calendar_id"),
    )
    return (
        Block.objects.filter(
            Q(source_calendar__isnull=True)
            | Q(source_calendar__connection__status__in=Connection.RELEASED)
            | ~Exists(wanted)
        )
        .select_related("target_calendar__connection__user")
        .order_by("target_calendar_id")
    )


def remove_stale_blocks() -> int:
    """Delete stale blocks from their target calendars, then forget them; returns how many went
    (``removal.remove_blocks``: what a provider will not take now waits for the next clean-up)."""
    removal = remove_blocks(stale_blocks())
    return removal.removed + removal.forgotten


def source_calendar_ids() -> list[str]:
    return [
        str(calendar_id)
        for calendar_id in Calendar.objects.filter(
            rules_as_source__enabled=True, connection__status__in=Connection.USABLE
        )
        .values_list("id", flat=True)
        .distinct()
    ]


def polled_source_calendar_ids(among: Iterable[str] | None = None) -> list[str]:
    """Sources without push, and pushing ones whose channel is missing or lapsed (push is
    best-effort: until a channel is open again, polling keeps them in step); only those of
    ``among`` when given."""
    without_live_channel = Q(push_expires_at__isnull=True) | Q(push_expires_at__lt=timezone.now())
    calendars = Calendar.objects.filter(
        Exists(SyncRule.objects.filter(enabled=True, sources=OuterRef("pk"))),
        connection__status__in=Connection.USABLE,
    ).filter(Q(connection__kind__in=POLLED_KINDS) | without_live_channel)
    if among is not None:
        calendars = calendars.filter(id__in=list(among))
    return [str(calendar_id) for calendar_id in calendars.values_list("id", flat=True)]


def source_calendars_without_state() -> QuerySet[Calendar]:
    """Calendars an enabled rule reads that have no sync state row yet."""
    return Calendar.objects.filter(
        Exists(SyncRule.objects.filter(enabled=True, sources=OuterRef("pk"))),
        ~Exists(SyncState.objects.filter(calendar=OuterRef("pk"))),
    )


# A release that has waited this long for a provider (longer than its task's run of retries, about
# two hours) gives up: the account is going, and its credentials are not kept to retry for ever.
STALLED_RELEASE = timedelta(hours=3)


def release_connection(connection_id: str, *, last_try: bool = False) -> Removal | None:
    """Finish a disconnect or removal: blocks out of its calendars and out of the others (made
    from its calendars), then the credentials (disconnect) or the whole account (removal) go.

    Returns what a provider would not take now (try again later), or None once finished. The last
    try (``last_try``, or a release older than ``STALLED_RELEASE``) forgets what is left.
    """
    connection = (
        Connection.objects.released().select_related("user").filter(id=connection_id).first()
    )
    if connection is None:
        return None
    stalled = connection.released_at is None or (
        connection.released_at < timezone.now() - STALLED_RELEASE
    )
    if connection.secrets:
        for calendar in connection.calendars.exclude(push_resource_id=""):
            calendar_unwatch(calendar)
    blocks = Block.objects.filter(target_calendar__connection=connection)
    removal = remove_blocks(
        blocks.select_related("target_calendar__connection__user").order_by("target_calendar_id"),
        giving_up=last_try or stalled,
    )
    if removal.left:
        return removal
    remove_stale_blocks()
    # Only if it was not connected again meanwhile (which clears ``released_at``).
    still_released = Connection.objects.filter(
        id=connection.id, status=connection.status, released_at=connection.released_at
    )
    if connection.status == Connection.Status.REMOVING:
        still_released.delete()
    else:
        still_released.update(secrets="")
    return None


def unfinished_release_ids() -> list[str]:
    """Connections disconnected or being removed whose clean-up has not finished in longer than
    its task would take (a lost task): ``release_connection`` is safe to run again."""
    stalled = Q(released_at__isnull=True) | Q(released_at__lt=timezone.now() - STALLED_RELEASE)
    unfinished = Q(status=Connection.Status.REMOVING) | (
        Q(status=Connection.Status.DISCONNECTED) & ~Q(secrets="")
    )
    released = Connection.objects.filter(unfinished & stalled)
    return [str(pk) for pk in released.values_list("id", flat=True)]


def calendar_ids_touching_connection(connection_id: str) -> list[str]:
    """Source calendars in the connection, and sources of rules that write into it."""
    return [
        str(calendar_id)
        for calendar_id in Calendar.objects.filter(
            Q(connection_id=connection_id, rules_as_source__enabled=True)
            | Q(
                rules_as_source__enabled=True, rules_as_source__targets__connection_id=connection_id
            )
        )
        .values_list("id", flat=True)
        .distinct()
    ]


def organization_source_calendar_ids(
    organization_id: uuid.UUID | str, *, also: Iterable[str] = ()
) -> list[str]:
    """Calendars an enabled rule reads that are in one of the organization's accounts (its
    address in one of the organization's verified domains, or in ``also``): those its policy
    caps."""
    domains = {*verified_domains(organization_id), *also}
    if not domains:
        return []
    in_domains = Q()
    for domain in domains:
        in_domains |= Q(connection__username__iendswith=f"@{domain}")
    return [
        str(calendar_id)
        for calendar_id in Calendar.objects.filter(in_domains, rules_as_source__enabled=True)
        .exclude(connection__kind=Connection.Kind.ICS)
        .values_list("id", flat=True)
        .distinct()
    ]
