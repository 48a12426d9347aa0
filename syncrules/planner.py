"""The sync planner: a pure function from (source events, rule options, existing blocks) to operations.

Nothing here touches the database, the network or the clock, so a plan can be tested and
benchmarked on its own. ``render`` applies the rule's privacy to one event, ``fingerprint`` keys
what a block shows so unchanged blocks are not rewritten, ``skip_reason`` says why an event is not
copied, and ``plan`` puts them together for one source calendar and every rule that reads it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Container, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING

from integrations.base import EventStatus, RemoteEvent, Response, Transparency, Window
from integrations.video_links import VIDEO_LINK
from syncrules.planning import (
    Create,
    Delete,
    ExistingBlock,
    Handling,
    Plan,
    Rendered,
    RuleOptions,
    RuleSpec,
    ShowAs,
    Skip,
    SkipReason,
    Update,
    Visibility,
)

if TYPE_CHECKING:
    # The planner must import without Django apps loaded (benchmarks, pure unit tests).
    from syncrules.models import SyncRule

DEFAULT_BUSY_TITLE = "Busy"
# Bumped whenever the encoding below changes, so old and new fingerprints can never collide.
FINGERPRINT_VERSION = "multical-block-v1"
_ONE_DAY = timedelta(days=1)
_VISIBILITY_RANK = {Visibility.BUSY: 0, Visibility.TITLE: 1, Visibility.FULL: 2}
# An event covering a whole week touches every weekday: looking further cannot change the answer.
_MAX_DAYS_EXAMINED = 8


def options_from_rule(rule: SyncRule, *, time_zone: tzinfo) -> RuleOptions:
    """The planner's view of ``rule``, with weekdays and working hours read in ``time_zone``.

    Keywords are lowercased and stripped, blank ones dropped (duplicates too, keeping the first).
    Working hours are a (start, end) pair only when the rule sets both; weekdays outside 1-7 are
    ignored.
    """
    working_hours = None
    if rule.working_hours_start is not None and rule.working_hours_end is not None:
        working_hours = (rule.working_hours_start, rule.working_hours_end)
    return RuleOptions(
        visibility=Visibility(rule.visibility),
        busy_title=rule.busy_title.strip() or DEFAULT_BUSY_TITLE,
        show_location=rule.show_location,
        show_video_link=rule.show_video_link,
        include_keywords=_keywords(rule.include_keywords),
        exclude_keywords=_keywords(rule.exclude_keywords),
        skip_declined=rule.skip_declined,
        skip_free=rule.skip_free,
        tentative=Handling(rule.tentative),
        all_day=Handling(rule.all_day),
        show_as=ShowAs(rule.show_as),
        weekdays=frozenset(day for day in map(int, rule.weekdays or ()) if 1 <= day <= 7),
        working_hours=working_hours,
        time_zone=time_zone,
    )


def capped(
    options: RuleOptions, *, max_visibility: Visibility | None, links_may_leave: bool
) -> RuleOptions:
    """``options`` held to what an organization lets out of its accounts' calendars: no more
    than ``max_visibility`` (None: no cap; Full details become Title only or Busy only), and
    without ``links_may_leave`` neither the location nor the video link (removed from every
    field shown, as ``render`` does when the rule turns them off). The rule asks; this decides.
    """
    visibility = options.visibility
    if (
        max_visibility is not None
        and _VISIBILITY_RANK[visibility] > _VISIBILITY_RANK[max_visibility]
    ):
        visibility = max_visibility
    show_location = options.show_location and links_may_leave
    show_video_link = options.show_video_link and links_may_leave
    if (visibility, show_location, show_video_link) == (
        options.visibility,
        options.show_location,
        options.show_video_link,
    ):
        return options
    return replace(
        options,
        visibility=visibility,
        show_location=show_location,
        show_video_link=show_video_link,
    )


def _keywords(words: Iterable[str] | None) -> tuple[str, ...]:
    cleaned = (str(word).strip().lower() for word in words or ())
    return tuple(dict.fromkeys(word for word in cleaned if word))


def render(event: RemoteEvent, options: RuleOptions) -> Rendered:
    """``event`` as a block in the target shows it, holding only what ``options`` let through.

    - BUSY: the busy title and nothing else from the source, whatever the toggles say.
    - TITLE: the title (the busy title when it is blank); the location only with
      ``show_location``; the video link only with ``show_video_link``, as the description.
    - FULL: title and description, plus location as in TITLE; with ``show_video_link`` the link
      is appended to the description when it is not already there.
    Without ``show_video_link``, video links are removed from every field that is shown (the
    title included), so turning the toggle off cannot be worked around by a link in another field.
    Times and the all-day flag are copied; see ``_transparency`` for busy/free.
    """
    busy_title = options.busy_title or DEFAULT_BUSY_TITLE
    title, description, location = busy_title, "", ""
    if options.visibility != Visibility.BUSY:
        link, show_link = event.video_link, options.show_video_link
        shown_title = event.title.strip() if show_link else _without_links(event.title, link)
        title = shown_title or busy_title
        if options.show_location:
            location = event.location.strip() if show_link else _without_links(event.location, link)
        if options.visibility == Visibility.FULL:
            if not show_link:
                description = _without_links(event.description, link)
            else:
                description = event.description.strip()
                if link and link not in description:
                    joined = f"Join: {link}"
                    description = f"{description}\n\n{joined}" if description else joined
        elif show_link and link:
            description = f"Join: {link}"
    return Rendered(
        start=event.start,
        end=event.end,
        all_day=event.all_day,
        title=title,
        description=description,
        location=location,
        transparency=_transparency(event, options),
    )


def _without_links(text: str, link: str) -> str:
    if not text:
        return ""
    # The event's own link is removed literally too: a provider may report a link (a dial-in
    # page, a new meeting service) that the pattern does not know.
    if link:
        text = text.replace(link, "")
    return VIDEO_LINK.sub("", text).strip()


def _is_tentative(event: RemoteEvent) -> bool:
    # An organiser's tentative event and the owner's own "maybe" answer are the same thing to
    # the person whose time is blocked.
    return event.status == EventStatus.TENTATIVE or event.response == Response.TENTATIVE


def _transparency(event: RemoteEvent, options: RuleOptions) -> Transparency:
    """Busy or free in the target.

    ``show_as`` BUSY/FREE decides outright. With SOURCE the natural value is kept: FREE for a
    tentative event when tentative events are blocked as free; for an all-day event, what the
    rule's all-day handling says (providers mark most all-day events free, and the user chose how
    to block them); otherwise the event's own transparency.
    """
    if options.show_as == ShowAs.BUSY:
        return Transparency.BUSY
    if options.show_as == ShowAs.FREE:
        return Transparency.FREE
    if options.tentative == Handling.FREE and _is_tentative(event):
        return Transparency.FREE
    if event.all_day:
        return Transparency.FREE if options.all_day == Handling.FREE else Transparency.BUSY
    return event.transparency


def fingerprint(rendered: Rendered, *, key: bytes) -> str:
    """HMAC-SHA256 (hex) of every field of ``rendered`` under ``key``.

    Each field is length-prefixed, so no two different blocks share an encoding; keyed, so a
    stored fingerprint cannot confirm a guessed title without the server's key.
    """
    if not key:
        raise ValueError("A block fingerprint needs a non-empty key.")
    fields = (
        FINGERPRINT_VERSION,
        rendered.start.isoformat(),
        rendered.end.isoformat(),
        "all-day" if rendered.all_day else "timed",
        rendered.title,
        rendered.description,
        rendered.location,
        str(rendered.transparency),
    )
    message = "".join(f"{len(field)}:{field}" for field in fields)
    return hmac.digest(key, message.encode(), hashlib.sha256).hex()


def skip_reason(
    event: RemoteEvent,
    options: RuleOptions,
    *,
    window: Window,
    known_block_event_ids: Container[str],
) -> SkipReason | None:
    """Why ``event`` is not copied, or None when it is; the first reason that applies, in order:

    OURS (our marker on it, or its id is one of the events we wrote: blocks are never sources),
    CANCELLED, OUTSIDE_WINDOW, DECLINED, FREE, TENTATIVE, ALL_DAY, EXCLUDED_KEYWORD,
    MISSING_KEYWORD, WEEKDAY, WORKING_HOURS.

    - FREE applies to timed events only: an all-day event is governed by ``options.all_day``
      alone, since providers mark most all-day events free and a rule that blocks them as busy
      must still copy them.
    - Tentative means the event's status or the owner's own answer.
    - Keywords match case-insensitively anywhere in the title or the description.
    - Days and hours are read in ``options.time_zone`` (UTC when unset). An all-day event stands
      for its dates wherever the user is: its dates are never shifted into the zone, and the window
      is compared with those dates' local midnights.
    - WEEKDAY: copied when any day the event covers is one of ``options.weekdays`` (a holiday
      from Saturday to Friday blocks the weekdays it covers).
    - WORKING_HOURS: copied when the event overlaps the working hours of a day it covers, counting
      only the selected weekdays when some are; working hours that end before (or when) they
      start run past midnight. All-day events pass.
    """
    if event.block_id or event.id in known_block_event_ids:
        return SkipReason.OURS
    if event.status == EventStatus.CANCELLED:
        return SkipReason.CANCELLED
    zone = options.time_zone or UTC
    start, end = _all_day_span(event, zone) if event.all_day else (event.start, event.end)
    if not _overlaps(start, end, window.start, window.end):
        return SkipReason.OUTSIDE_WINDOW
    if options.skip_declined and event.response == Response.DECLINED:
        return SkipReason.DECLINED
    if options.skip_free and not event.all_day and event.transparency == Transparency.FREE:
        return SkipReason.FREE
    if options.tentative == Handling.SKIP and _is_tentative(event):
        return SkipReason.TENTATIVE
    if event.all_day and options.all_day == Handling.SKIP:
        return SkipReason.ALL_DAY
    if options.exclude_keywords or options.include_keywords:
        title, description = event.title.lower(), event.description.lower()
        if any(word in title or word in description for word in options.exclude_keywords):
            return SkipReason.EXCLUDED_KEYWORD
        if options.include_keywords and not any(
            word in title or word in description for word in options.include_keywords
        ):
            return SkipReason.MISSING_KEYWORD
    if options.weekdays and not any(
        day.isoweekday() in options.weekdays for day in _local_days(event, zone)
    ):
        return SkipReason.WEEKDAY
    if options.working_hours and not event.all_day:
        opens, closes = options.working_hours
        if not _overlaps_working_hours(event, opens, closes, options.weekdays, zone):
            return SkipReason.WORKING_HOURS
    return None


def _overlaps(start: datetime, end: datetime, window_start: datetime, window_end: datetime) -> bool:
    # A zero-length event is an instant: it is inside when window_start <= start < window_end.
    return start < window_end and (end > window_start or start == window_start)


def _all_day_span(event: RemoteEvent, zone: tzinfo) -> tuple[datetime, datetime]:
    """The instants an all-day event covers for someone in ``zone``: local midnight to midnight."""
    return (
        datetime.combine(event.start.date(), time(), tzinfo=zone),
        datetime.combine(event.end.date(), time(), tzinfo=zone),
    )


def _local_days(event: RemoteEvent, zone: tzinfo) -> Iterator[date]:
    """The dates ``event`` covers in ``zone`` (an all-day event's own dates), at most a week's worth."""
    if event.all_day:
        first, after_last = event.start.date(), event.end.date()
    else:
        first = event.start.astimezone(zone).date()
        local_end = event.end.astimezone(zone)
        # An event ending at midnight does not cover the day that starts then.
        after_last = local_end.date() if local_end.time() == time() else local_end.date() + _ONE_DAY
    after_last = max(after_last, first + _ONE_DAY)
    day = first
    for _ in range(_MAX_DAYS_EXAMINED):
        if day >= after_last:
            return
        yield day
        day += _ONE_DAY


def _overlaps_working_hours(
    event: RemoteEvent, opens: time, closes: time, weekdays: frozenset[int], zone: tzinfo
) -> bool:
    overnight = closes <= opens
    days = list(_local_days(event, zone))
    if overnight:
        # Last night's shift may still be running when the event starts.
        days.insert(0, days[0] - _ONE_DAY)
    for day in days:
        if weekdays and day.isoweekday() not in weekdays:
            continue
        # Local wall times, compared with the event's UTC instants (differing tzinfos compare as
        # instants, so DST is accounted for).
        shift_start = datetime.combine(day, opens, tzinfo=zone)
        shift_end = datetime.combine(day + _ONE_DAY if overnight else day, closes, tzinfo=zone)
        if _overlaps(event.start, event.end, shift_start, shift_end):
            return True
    return False


def privacy_rank(options: RuleOptions) -> tuple[int, bool, bool]:
    """How much of an event a rule's blocks reveal, as a sortable key: lower is more private.

    Busy only < Title only < Full details, then without the location before with it, then without
    the video link before with it.
    """
    return (_VISIBILITY_RANK[options.visibility], options.show_location, options.show_video_link)


def plan(
    *,
    rules: Sequence[RuleSpec],
    events: Iterable[RemoteEvent],
    existing: Iterable[ExistingBlock],
    key: bytes,
    full: bool,
    removed_ids: Collection[str] = (),
    replaced_series: Collection[str] = (),
    known_block_event_ids: Container[str] = frozenset(),
) -> Plan:
    """The operations that bring the blocks of one source calendar in line with its events.

    ``rules`` are the enabled rules reading this source (their order breaks ties, see below),
    ``events`` the source's events (all of them in the window when ``full``, else the new and
    changed ones; for a repeated id the last one wins), ``existing`` the blocks made from this
    source, whichever rule they are credited to.

    - An (event, target) pair is wanted when some rule that has the target does not skip the
      event; it gets one block however many rules want it, rendered by the most private of those
      rules (``privacy_rank``; on a tie, the first in ``rules``), which the block is credited to.
    - Each wanted pair gets a Create when it has no block, an Update when its block shows
      something else (a different fingerprint), is still pending, or is credited to another rule
      (then ``rewrite`` is False if it shows the same), and otherwise counts as unchanged.
    - Each rule that skips an event lists it once in ``skips`` with its reason.
    - A block whose pair is not wanted is deleted: with ``full``, every such block; otherwise one
      whose event was read (and every rule skips it or none targets it), is in ``removed_ids``,
      belongs to a series in ``replaced_series`` without being among ``events``, or whose target
      no rule has any more. ``Delete.vanished`` tells deletions of events that are gone apart.
    - A second block of the same pair is deleted (invariant: at most one).
    Creates and updates follow the order of ``events``, then targets sorted; deletes are sorted by
    block id and never repeated. ``plan.unchanged`` counts (event, target) pairs.
    """
    all_targets = frozenset(target for rule in rules for target in rule.targets)
    removed = frozenset(removed_ids)
    replaced = frozenset(replaced_series)
    # Most private first, ties in the given order: the first rule found for a target wins it.
    ranked = [
        rule
        for _, rule in sorted(enumerate(rules), key=lambda p: (privacy_rank(p[1].options), p[0]))
    ]
    sorted_targets = {rule.id: sorted(rule.targets) for rule in ranked}

    latest: dict[str, RemoteEvent] = {}
    for event in events:
        latest[event.id] = event

    blocks: dict[tuple[str, str], ExistingBlock] = {}
    doomed: dict[str, bool] = {}  # block id → vanished
    for block in existing:
        slot = (block.source_event_id, block.target_calendar_id)
        if slot in blocks:
            doomed[block.id] = False
        else:
            blocks[slot] = block

    result = Plan()
    creates, updates, skips = result.creates, result.updates, result.skips
    wanted: dict[str, Collection[str]] = {}  # event id → the targets some rule copies it into
    unchanged = 0
    for event_id, event in latest.items():
        copying = []
        for rule in ranked:
            reason = skip_reason(
                event, rule.options, window=rule.window, known_block_event_ids=known_block_event_ids
            )
            if reason is None:
                copying.append(rule)
            else:
                skips.append(Skip(event=event, reason=reason, rule_id=rule.id))
        if not copying:
            continue
        if len(copying) == 1:  # the common case: no target to share out
            rule = copying[0]
            wanted[event_id] = rule.targets
            pairs: Iterable[tuple[str, RuleSpec]] = ((t, rule) for t in sorted_targets[rule.id])
        else:
            winners: dict[str, RuleSpec] = {}
            for rule in copying:
                for target in rule.targets:
                    winners.setdefault(target, rule)
            wanted[event_id] = winners.keys()
            pairs = sorted(winners.items())
        rendered_by: dict[str, tuple[Rendered, str]] = {}
        for target, rule in pairs:
            if rule.id not in rendered_by:
                rendered = render(event, rule.options)
                rendered_by[rule.id] = (rendered, fingerprint(rendered, key=key))
            rendered, stamp = rendered_by[rule.id]
            current = blocks.get((event_id, target))
            if current is None:
                creates.append(
                    Create(
                        target_calendar_id=target,
                        event=event,
                        rendered=rendered,
                        fingerprint=stamp,
                        rule_id=rule.id,
                    )
                )
            elif current.pending or current.fingerprint != stamp or current.rule_id != rule.id:
                updates.append(
                    Update(
                        block_id=current.id,
                        event=event,
                        rendered=rendered,
                        fingerprint=stamp,
                        rule_id=rule.id,
                        rewrite=current.pending or current.fingerprint != stamp,
                    )
                )
            else:
                unchanged += 1
    result.unchanged = unchanged

    for (event_id, target), block in blocks.items():
        if target in wanted.get(event_id, ()):
            continue
        read = event_id in latest
        if read or full or target not in all_targets:
            doomed[block.id] = not read and target in all_targets
        elif event_id in removed or block.source_series_id in replaced:
            # What is left of a replaced series after its listed events is gone.
            doomed[block.id] = True
    result.deletes = [
        Delete(block_id=block_id, vanished=doomed[block_id]) for block_id in sorted(doomed)
    ]
    return result
