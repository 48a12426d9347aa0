"""The torture test's own picture of the world, and the oracle that judges the calendars by it.

Written from the product's rules as a user reads them (README, the rule form), independently of
the planner: nothing here imports ``syncrules.planner``, the engine or ``orgs.policies``. The
model holds the real events the test made, the rules and the organization's policy over the
calendars of its accounts (applied from its meaning, as the console states it);
``expected_blocks`` says which blocks each calendar must hold and exactly what they show;
``judge`` compares that with what the providers really hold (read straight from Radicale, the
Google fake and the Microsoft fake) and with our block rows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

VISIBILITY_RANK = {"busy": 0, "title": 1, "full": 2}


@dataclass(frozen=True)
class EventSpec:
    """A real event as its author made it: a single event, or a daily series of ``count``
    instances, some moved (index → new start, same length) or cancelled."""

    start: datetime
    end: datetime
    title: str
    description: str = ""
    location: str = ""
    all_day: bool = False
    free: bool = False
    tentative: bool = False
    declined: bool = False
    count: int = 1
    moved: tuple[tuple[int, datetime], ...] = ()
    cancelled: frozenset[int] = frozenset()

    def instances(self) -> list[tuple[datetime, datetime]]:
        length = self.end - self.start
        moved = dict(self.moved)
        found = []
        for index in range(self.count):
            if index in self.cancelled:
                continue
            start = moved.get(index, self.start + timedelta(days=index))
            found.append((start, start + length))
        return found

    def original_start(self, index: int) -> datetime:
        return self.start + timedelta(days=index)


@dataclass(frozen=True)
class RuleSpec:
    """A rule's settings, limited to those the oracle renders."""

    name: str
    source: str
    target: str
    visibility: str = "busy"
    busy_title: str = "Busy"
    show_location: bool = False
    exclude: str = ""  # one keyword, or none
    skip_free: bool = True
    skip_declined: bool = True
    tentative: str = "busy"  # busy, free, skip
    all_day: str = "skip"  # skip, busy, free
    show_as: str = "busy"  # busy, free, source
    enabled: bool = True
    created: int = 0  # order of creation: ties of privacy go to the older rule

    def copies(self, event: EventSpec) -> bool:
        if self.skip_declined and event.declined:
            return False
        if self.skip_free and event.free and not event.all_day:
            return False
        if self.tentative == "skip" and event.tentative:
            return False
        if event.all_day and self.all_day == "skip":
            return False
        if self.exclude:
            text = f"{event.title} {event.description}".lower()
            if self.exclude.lower() in text:
                return False
        return True

    def shows(self, event: EventSpec) -> tuple[str, str, str, bool]:
        """(title, description, location, busy) of its block of ``event``."""
        if self.visibility == "busy":
            title, description, location = self.busy_title, "", ""
        else:
            title = event.title.strip() or self.busy_title
            description = event.description.strip() if self.visibility == "full" else ""
            location = event.location.strip() if self.show_location else ""
        if self.show_as in ("busy", "free"):
            busy = self.show_as == "busy"
        elif self.tentative == "free" and event.tentative:
            busy = False
        elif event.all_day:
            busy = self.all_day != "free"
        else:
            busy = not event.free
        return title, description, location, busy

    @property
    def privacy(self) -> tuple[int, bool, int]:
        return (VISIBILITY_RANK[self.visibility], self.show_location, self.created)

    def held_to(self, cap: Cap | None) -> RuleSpec:
        """The rule as an organization's policy over its source lets it render: no more than
        the policy's visibility, and no location unless links may leave."""
        if cap is None:
            return self
        visibility = self.visibility
        if cap.max_visibility and VISIBILITY_RANK[visibility] > VISIBILITY_RANK[cap.max_visibility]:
            visibility = cap.max_visibility
        return replace(
            self, visibility=visibility, show_location=self.show_location and cap.links_may_leave
        )


@dataclass(frozen=True)
class Cap:
    """An organization's policy over the calendars of its accounts, as its admin set it."""

    max_visibility: str = ""  # "" for no limit
    links_may_leave: bool = True


@dataclass(frozen=True)
class Shown:
    """An event as a calendar holds it: what the judge compares."""

    start: datetime
    end: datetime
    all_day: bool
    title: str
    description: str
    location: str
    busy: bool


@dataclass(frozen=True)
class Seen:
    """An event read straight from a provider, with our block marker ("" for a real event)."""

    ref: str
    shown: Shown
    block_id: str


@dataclass
class Model:
    events: dict[str, dict[str, EventSpec]] = field(default_factory=dict)  # side → key → event
    rules: list[RuleSpec] = field(default_factory=list)
    # Sides whose account is an organization's, with the organization's policy over them.
    caps: dict[str, Cap] = field(default_factory=dict)

    def expected_blocks(self, target: str) -> Counter[Shown]:
        """The blocks ``target`` must hold: one per instance of every event a rule into it
        copies, shown as the most private of those rules says."""
        expected: Counter[Shown] = Counter()
        sources = {rule.source for rule in self.rules if rule.target == target and rule.enabled}
        for source in sorted(sources):
            cap = self.caps.get(source)
            rules = sorted(
                (
                    r.held_to(cap)
                    for r in self.rules
                    if r.source == source and r.target == target and r.enabled
                ),
                key=lambda r: r.privacy,
            )
            for event in self.events.get(source, {}).values():
                winner = next((rule for rule in rules if rule.copies(event)), None)
                if winner is None:
                    continue
                title, description, location, busy = winner.shows(event)
                for start, end in event.instances():
                    expected[
                        Shown(start, end, event.all_day, title, description, location, busy)
                    ] += 1
        return expected

    def real_times(self, side: str) -> set[tuple[datetime, datetime]]:
        return {
            instance
            for event in self.events.get(side, {}).values()
            for instance in event.instances()
        }


@dataclass
class Verdict:
    """What is wrong, counted by kind; every count must be 0."""

    copies_of_copies: int = 0
    duplicates: int = 0
    orphans: int = 0
    missing: int = 0
    wrong_times: int = 0
    content_beyond_privacy: int = 0
    wrong_content: int = 0
    rows_inconsistent: int = 0
    details: list[str] = field(default_factory=list)

    KINDS = (
        "copies_of_copies",
        "duplicates",
        "orphans",
        "missing",
        "wrong_times",
        "content_beyond_privacy",
        "wrong_content",
        "rows_inconsistent",
    )

    @property
    def clean(self) -> bool:
        return not any(getattr(self, kind) for kind in self.KINDS)

    def add(self, other: Verdict) -> None:
        for kind in self.KINDS:
            setattr(self, kind, getattr(self, kind) + getattr(other, kind))
        self.details += other.details


def judge(
    model: Model,
    target: str,
    seen: dict[str, list[Seen]],
    rows: list[tuple[str, str, datetime, datetime, bool, str]],
) -> Verdict:
    """Judge calendar ``target``: ``seen`` is what every calendar holds (by side), ``rows`` our
    block rows into it as (block id, target event id, start, end, all day, state)."""
    verdict = Verdict()
    blocks = [item for item in seen[target] if item.block_id]
    expected = model.expected_blocks(target)
    observed = Counter(item.shown for item in blocks)

    # Duplicates: an expected block more times than expected.
    for shown, count in observed.items():
        if shown in expected and count > expected[shown]:
            verdict.duplicates += count - expected[shown]
            verdict.details.append(f"{target}: {count - expected[shown]} extra of {_say(shown)}")
    extra = [shown for shown in observed if shown not in expected for _ in range(observed[shown])]
    missing = Counter({shown: count - observed.get(shown, 0) for shown, count in expected.items()})
    missing = +missing

    sources = {rule.source for rule in model.rules if rule.target == target}
    real = {time for source in sources for time in model.real_times(source)}
    other_blocks = {
        (item.shown.start, item.shown.end)
        for side in sources
        for item in seen.get(side, [])
        if item.block_id
    }
    for shown in extra:
        when = (shown.start, shown.end)
        twin = next((m for m in missing if (m.start, m.end) == when), None)
        if twin is not None:
            missing[twin] -= 1
            missing = +missing
            if _reveals_more(shown, twin):
                verdict.content_beyond_privacy += 1
                verdict.details.append(f"{target}: {_say(shown)} reveals more than {_say(twin)}")
            else:
                verdict.wrong_content += 1
                verdict.details.append(f"{target}: {_say(shown)} instead of {_say(twin)}")
        elif when not in real and when in other_blocks:
            verdict.copies_of_copies += 1
            verdict.details.append(f"{target}: a copy of a block: {_say(shown)}")
        elif when not in real:
            verdict.orphans += 1
            verdict.details.append(f"{target}: a block of nothing: {_say(shown)}")
        else:
            verdict.wrong_times += 1
            verdict.details.append(f"{target}: a block at a time no longer wanted: {_say(shown)}")
    for shown, count in missing.items():
        verdict.missing += count
        verdict.details.append(f"{target}: missing {count} of {_say(shown)}")

    # Rows: each one is in the calendar at its times, each block in the calendar has its row.
    by_marker = Counter(item.block_id for item in blocks)
    times = {
        item.block_id: (item.shown.start, item.shown.end, item.shown.all_day) for item in blocks
    }
    row_ids = set()
    for block_id, _remote_id, start, end, all_day, state in rows:
        row_ids.add(block_id)
        if (
            state != "synced"
            or by_marker.get(block_id) != 1
            or times[block_id]
            != (
                start,
                end,
                all_day,
            )
        ):
            verdict.rows_inconsistent += 1
            verdict.details.append(f"{target}: row {block_id} ({state}) not matched once")
    for block_id in set(by_marker) - row_ids:
        verdict.rows_inconsistent += 1
        verdict.details.append(f"{target}: block {block_id} has no row")
    return verdict


def _reveals_more(shown: Shown, wanted: Shown) -> bool:
    return any(
        text and text not in f"{wanted.title} {wanted.description} {wanted.location}"
        for text in (shown.title, shown.description, shown.location)
    )


def _say(shown: Shown) -> str:
    busy = "busy" if shown.busy else "free"
    day = "all day " if shown.all_day else ""
    return (
        f"[{day}{shown.start:%m-%d %H:%M} to {shown.end:%H:%M} {busy} {shown.title!r}"
        f" {shown.description!r} {shown.location!r}]"
    )


def moved(event: EventSpec, delta: timedelta) -> EventSpec:
    return replace(event, start=event.start + delta, end=event.end + delta, moved=())
