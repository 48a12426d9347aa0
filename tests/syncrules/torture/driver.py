"""The seeded random mesh under faults: rounds of user operations, syncs in worker processes
with faults injected at the provider boundary, then the oracle's verdict on every calendar.

Every ordered pair of calendars has a rule (varied privacy, filters, busy/free overrides), and
now and then a second one over the same pair. A round makes one to four changes as the owners
would (create, move, retitle, free/tentative/declined, all-day, daily series with moved and
cancelled instances, deletes, most of a calendar deleted at once, hand edits of blocks, a rule's
privacy lowered, the organization's policy changed), tells the product as push and polls would,
and picks at most one fault for the k-th write the workers send: a 5xx, a write that lands but
whose answer is lost, a stall past the timeout, the worker killed before or after it (SIGKILL),
another worker syncing the written calendar before the write is answered, or the organization's
admin changing its policy while the write is in flight (with ``org_domain``, the calendars of
accounts in that domain are an organization's, capped by its policy). Stale cursors (Google's 410, Graph's lost delta link, a
token the CalDAV server refuses) come as a fault of their own. Every write also notifies the
calendar it lands in, at once, as Google and Microsoft push would: notifications arrive
mid-sync. When the round has settled, every calendar is judged (``model.judge``).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from django.db import connections
from django.utils import timezone

from calendars.models import Calendar
from orgs.models import Domain, Membership
from orgs.policies import PolicySettings, policy_update
from orgs.services import organization_create
from syncrules import engine, reconcile, services, state, tasks
from syncrules.models import Block, SyncRule, SyncState
from tests.fakes.faults import FORK_GUARD, Fault, process_of_peer
from tests.syncrules.torture.model import Cap, EventSpec, Model, RuleSpec, Verdict, judge
from tests.syncrules.torture.sides import CalDAVSide, Side, random_key
from tests.syncrules.torture.workers import Pool

WORDS = ["Standup", "Client", "Dentist", "Review", "Lunch", "Planning", "Gym", "Interview"]
FAULTS = (
    "server_error",
    "lost_answer",
    "stall",
    "kill_before_write",
    "kill_after_write",
    "concurrent_target_sync",
    "stale_cursor",
    "policy_change",
)
# The policies an organization's admin may set: (most a block shows, links may leave).
POLICIES = [("", True), ("", False), ("title", True), ("title", False), ("busy", True)]
# Every client's timeout in the workers, so a stall outlasts it quickly.
CLIENT_TIMEOUT = 1.5


@dataclass
class Report:
    seed: int
    rounds: int = 0
    operations: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    verdict: Verdict = field(default_factory=Verdict)
    recoveries: list[float] = field(default_factory=list)
    failed_syncs: int = 0


class Torture:
    def __init__(
        self,
        sides: list[Side],
        *,
        owner,  # type: ignore[no-untyped-def]
        seed: int,
        proxies=(),  # type: ignore[no-untyped-def]
        google=None,  # type: ignore[no-untyped-def]
        microsoft=None,  # type: ignore[no-untyped-def]
        workers: int = 3,
        org_domain: str | None = None,
    ) -> None:
        self.sides = {side.name: side for side in sides}
        self.owner, self.proxies, self.google, self.microsoft = owner, proxies, google, microsoft
        self.rng = random.Random(seed)
        self.model = Model(events={name: {} for name in self.sides})
        self.pool = Pool(size=workers)
        self.report = Report(seed=seed)
        self.rules: dict[str, SyncRule] = {}
        self.now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self._armed: tuple[str, str | None] | None = None
        self._armed_rounds = 0
        self._writes = 0
        self._fire_at = 0
        self._lock = threading.Lock()
        self.org_domain = org_domain
        self.membership: Membership | None = None

    # Set-up ---------------------------------------------------------------------------------------

    def start(self) -> None:
        for boundary in (self.google, self.microsoft and self.microsoft.graph, *self.proxies):
            if boundary is not None:
                self._route_writes(boundary)
        for source in self.sides:
            for target in self.sides:
                if source != target:
                    self._add_rule(source, target)
                    if self.rng.random() < 0.15:
                        self._add_rule(source, target)  # an overlapping second rule
        if self.org_domain is not None:
            self._found_organization(self.org_domain)
        self._settle()

    def _found_organization(self, domain: str) -> None:
        """The owner's organization, with ``domain`` verified: the sides whose account's address
        is in it are the organization's accounts, under a policy chosen at random."""
        organization = organization_create(user=self.owner, name="Torture", ip_address=None)
        Domain.objects.create(
            organization=organization, name=domain, token="t", verified_at=timezone.now()
        )
        self.membership = Membership.objects.select_related("organization", "user").get(
            organization=organization, user=self.owner
        )
        for name, side in self.sides.items():
            if side.calendar.connection.username.lower().endswith(f"@{domain}"):
                self.model.caps[name] = Cap()
        self._change_policy()

    def _change_policy(self) -> None:
        """The admin sets another policy, through the service the console calls; the model
        follows once it has committed."""
        if self.membership is None or not self.model.caps:
            return
        current = next(iter(self.model.caps.values()))
        choices = [p for p in POLICIES if p != (current.max_visibility, current.links_may_leave)]
        max_visibility, links_may_leave = self.rng.choice(choices)
        policy_update(
            membership=self.membership,
            settings=PolicySettings(
                max_visibility=max_visibility,
                links_may_leave=links_may_leave,
                allowed_kinds=(),
                personal_accounts_allowed=True,
                public_pages_allowed=True,
            ),
            ip_address=None,
        )
        cap = Cap(max_visibility=max_visibility, links_may_leave=links_may_leave)
        self.model.caps = {name: cap for name in self.model.caps}

    def _add_rule(self, source: str, target: str) -> None:
        rng = self.rng
        spec = RuleSpec(
            name=f"{source} to {target} #{len(self.model.rules)}",
            source=source,
            target=target,
            visibility=rng.choice(["busy", "busy", "title", "full"]),
            busy_title=rng.choice(["Busy", "Busy", f"Held by {source}"]),
            show_location=rng.random() < 0.4,
            exclude=rng.choice(["", "", "private"]),
            skip_free=rng.random() < 0.7,
            skip_declined=rng.random() < 0.8,
            tentative=rng.choice(["busy", "free", "skip"]),
            all_day=rng.choice(["skip", "busy", "free"]),
            show_as=rng.choice(["busy", "busy", "free", "source"]),
            created=len(self.model.rules),
        )
        rule = SyncRule.objects.create(
            user=self.owner,
            name=spec.name,
            visibility=spec.visibility,
            busy_title=spec.busy_title,
            show_location=spec.show_location,
            exclude_keywords=[spec.exclude] if spec.exclude else [],
            skip_free=spec.skip_free,
            skip_declined=spec.skip_declined,
            tentative=spec.tentative,
            all_day=spec.all_day,
            show_as=spec.show_as,
        )
        rule.sources.set([self.sides[source].calendar])
        rule.targets.set([self.sides[target].calendar])
        self.model.rules.append(spec)
        self.rules[spec.name] = rule
        tasks.enqueue_calendar_sync(self.sides[source].calendar.id, full=True)

    # Rounds ----------------------------------------------------------------------------------------

    def run(self, rounds: int) -> Report:
        for _ in range(rounds):
            self.round()
        self.report.recoveries = list(self.pool.recoveries)
        self.report.failed_syncs = self.pool.failures
        return self.report

    def round(self, *, fault: str | None = None) -> Verdict:
        """One round; ``fault``: the fault to arm for any calendar's writes this round, instead
        of one picked at random (the short mode makes sure each kind it names happens)."""
        self.report.rounds += 1
        changed: set[str] = set()
        hand_edited = False
        for _ in range(self.rng.randint(1, 4)):
            name, side = self._operation()
            self.report.operations[name] += 1
            changed.add(side)
            hand_edited |= name.startswith("hand_")
        picked = self.rng.choice((None, *FAULTS, "concurrent_target_sync"))
        if fault is not None:
            self._arm(fault, anywhere=True)
        fault = None if fault is not None else picked
        if fault == "stale_cursor":
            self._stale_cursors()
            self.report.faults[fault] += 1
        elif fault is not None and (self._armed is None or self._armed_rounds >= 3):
            self._arm(fault)  # it stays armed until the write it waits for comes, or 3 rounds
        self._armed_rounds += 1
        for name in changed:
            tasks.enqueue_calendar_sync(self.sides[name].calendar.id)
        self._settle()
        if hand_edited or self.rng.random() < 0.2:
            self._reconcile()
        verdict = self.judge()
        self.report.verdict.add(verdict)
        return verdict

    def judge(self) -> Verdict:
        seen = {name: side.blocks() for name, side in self.sides.items()}
        verdict = Verdict()
        for name, side in self.sides.items():
            rows = [
                (str(block_id), remote, start, end, all_day, row_state)
                for block_id, remote, start, end, all_day, row_state in Block.objects.filter(
                    target_calendar=side.calendar
                ).values_list("id", "target_event_id", "start", "end", "all_day", "state")
            ]
            verdict.add(judge(self.model, name, seen, rows))
        return verdict

    # Operations ----------------------------------------------------------------------------------

    def _operation(self) -> tuple[str, str]:
        rng = self.rng
        side = rng.choice(list(self.sides))
        events = self.model.events[side]
        blocks = self.sides[side].blocks()
        choices = ["create", "create_series"]
        if events:
            choices += ["move", "retitle", "restate", "delete", "move_instance", "cancel_instance"]
            if len(events) >= 6:
                choices.append("delete_most")
        if blocks:
            choices += ["hand_delete_block", "hand_move_block"]
        choices.append("lower_privacy")
        if self.model.caps:
            choices.append("change_policy")
        name = rng.choice(choices)
        getattr(self, f"_op_{name}")(side)
        return name, side

    def _new_event(self, side: str, *, series: bool = False) -> EventSpec:
        rng = self.rng
        day = self.now + timedelta(days=rng.randint(1, 14))
        word = rng.choice(WORDS)
        number = rng.randint(100, 999)
        all_day = not series and rng.random() < 0.15
        flags = rng.choice(["", "", "", "free", "tentative", "declined"])
        if flags == "declined" and not self.sides[side].declines:
            flags = ""
        if all_day:
            start, end = day, day + timedelta(days=rng.randint(1, 2))
        else:
            start = day + timedelta(hours=rng.randint(7, 19), minutes=rng.choice([0, 30]))
            end = start + timedelta(minutes=rng.choice([30, 60, 90]))
        return EventSpec(
            start=start,
            end=end,
            title=f"{word} {number}" + (" private" if rng.random() < 0.15 else ""),
            description=rng.choice(["", f"Agenda {number}", f"Notes {number} private"]),
            location=rng.choice(["", f"Room {number}"]),
            all_day=all_day,
            free=flags == "free",
            tentative=flags == "tentative",
            declined=flags == "declined",
            count=rng.randint(2, 4) if series else 1,
        )

    def _put(self, side: str, key: str, event: EventSpec) -> None:
        self.sides[side].put(key, event)
        self.model.events[side][key] = event

    def _pick(self, side: str, *, series: bool | None = None) -> str | None:
        keys = [
            key
            for key, event in self.model.events[side].items()
            if series is None or (event.count > 1) == series
        ]
        return self.rng.choice(sorted(keys)) if keys else None

    def _op_create(self, side: str) -> None:
        self._put(side, random_key(), self._new_event(side))

    def _op_create_series(self, side: str) -> None:
        self._put(side, random_key(), self._new_event(side, series=True))

    def _op_move(self, side: str) -> None:
        key = self._pick(side)
        if key is None:
            return
        event = self.model.events[side][key]
        delta = timedelta(days=self.rng.randint(-1, 2))
        if not event.all_day:
            delta += timedelta(hours=self.rng.randint(-3, 3))
        if event.start + delta <= self.now + timedelta(hours=12):
            delta = timedelta(days=1)
        self._put(
            side, key, replace(event, start=event.start + delta, end=event.end + delta, moved=())
        )

    def _op_retitle(self, side: str) -> None:
        key = self._pick(side)
        if key is None:
            return
        event = self.model.events[side][key]
        word = self.rng.choice(WORDS)
        private = " private" if self.rng.random() < 0.2 else ""
        self._put(side, key, replace(event, title=f"{word} {self.rng.randint(100, 999)}{private}"))

    def _op_restate(self, side: str) -> None:
        key = self._pick(side)
        if key is None:
            return
        event = self.model.events[side][key]
        flags = self.rng.choice(["", "free", "tentative", "declined"])
        if flags == "declined" and not self.sides[side].declines:
            flags = ""
        self._put(
            side,
            key,
            replace(
                event,
                free=flags == "free",
                tentative=flags == "tentative",
                declined=flags == "declined",
            ),
        )

    def _op_delete(self, side: str) -> None:
        key = self._pick(side)
        if key is None:
            return
        self.sides[side].delete(key)
        del self.model.events[side][key]

    def _op_delete_most(self, side: str) -> None:
        keys = sorted(self.model.events[side])
        for key in keys[: max(len(keys) * 4 // 5, 1)]:
            self.sides[side].delete(key)
            del self.model.events[side][key]

    def _op_move_instance(self, side: str) -> None:
        key = self._pick(side, series=True)
        if key is None:
            return
        event = self.model.events[side][key]
        index = self.rng.randrange(event.count)
        if index in event.cancelled or index in dict(event.moved):
            return
        new_start = event.original_start(index) + timedelta(hours=self.rng.choice([-2, 1, 3]))
        self._put(side, key, replace(event, moved=(*event.moved, (index, new_start))))

    def _op_cancel_instance(self, side: str) -> None:
        key = self._pick(side, series=True)
        if key is None:
            return
        event = self.model.events[side][key]
        index = self.rng.randrange(event.count)
        if index in dict(event.moved) or len(event.cancelled) + 1 >= event.count:
            return
        self._put(side, key, replace(event, cancelled=event.cancelled | {index}))

    def _op_hand_delete_block(self, side: str) -> None:
        blocks = self.sides[side].blocks()
        if blocks:
            self.sides[side].hand_delete(self.rng.choice(blocks).ref)

    def _op_hand_move_block(self, side: str) -> None:
        blocks = self.sides[side].blocks()
        if blocks:
            delta = timedelta(hours=self.rng.choice([-2, 2, 5]))
            self.sides[side].hand_move(self.rng.choice(blocks).ref, delta)

    def _op_lower_privacy(self, side: str) -> None:
        """A rule reading ``side`` switched to Busy only, through the rule service as the form
        would: every block it renders must follow, whatever crashes meanwhile."""
        specs = [s for s in self.model.rules if s.source == side and s.visibility != "busy"]
        if not specs:
            return
        spec = self.rng.choice(specs)
        rule = self.rules[spec.name]
        services.rule_update(
            rule=rule,
            settings=replace(services.RuleSettings.of(rule), visibility=SyncRule.Visibility.BUSY),
            sources=list(rule.sources.all()),
            targets=list(rule.targets.all()),
        )
        rule.refresh_from_db()
        self.model.rules[self.model.rules.index(spec)] = replace(spec, visibility="busy")

    def _op_change_policy(self, side: str) -> None:
        self._change_policy()

    # Faults ------------------------------------------------------------------------------------

    def _route_writes(self, target) -> None:  # type: ignore[no-untyped-def]
        faults = getattr(target, "faults", None)
        if faults is not None:
            faults.decide = self._decide
        else:  # the CalDAV fault proxy
            target.fault = lambda method, path, count: (
                self._decide(method, path) if method in ("PUT", "DELETE") else None
            )

    def _decide(self, method: str, path: str) -> Fault:
        """Every write notifies the calendar it lands in once it has landed, as push would; the
        armed fault upsets the k-th write into the calendar it was armed for."""
        written = next((name for name, side in self.sides.items() if side.owns(path)), None)
        with self._lock:
            kind = None
            wanted = self._armed is not None and self._armed[1] in (written, None)
            # Another worker's sync matters most while a new block is being written.
            if (
                wanted
                and self._armed[0] == "concurrent_target_sync"
                and method not in ("POST", "PUT")
            ):
                wanted = False
            if wanted:
                self._writes += 1
                if self._writes == self._fire_at:
                    kind, self._armed = self._armed[0], None

        def notify(port: int) -> None:
            if written is not None:
                self._notify(written)

        def kill(port: int) -> None:
            pid = process_of_peer(port, list(self.pool.running))
            if pid is not None:
                self.pool.kill(pid)

        def kill_then_notify(port: int) -> None:
            kill(port)
            notify(port)

        def sync_meanwhile(port: int) -> None:
            if written is not None:
                self._sync_meanwhile(written)

        def change_policy_then_notify(port: int) -> None:
            with FORK_GUARD.shared():
                try:
                    self._change_policy()
                finally:
                    connections.close_all()
            notify(port)

        if kind is None:
            return Fault(after=notify)
        self.report.faults[kind] += 1
        return {
            "server_error": Fault(status=503),
            "lost_answer": Fault(after=notify, drop=True),
            "stall": Fault(stall=CLIENT_TIMEOUT + 1.0, after=notify),
            "kill_before_write": Fault(before=kill, apply=False),
            "kill_after_write": Fault(after=kill_then_notify, drop=True),
            "concurrent_target_sync": Fault(after=sync_meanwhile),
            "policy_change": Fault(after=change_policy_then_notify),
        }[kind]

    def _arm(self, kind: str, *, anywhere: bool = False) -> None:
        """Upset the k-th write (k of 1 to 3) from now on: into one calendar chosen at random, or
        (half the time, or when ``anywhere``, but never for another worker's sync of the calendar
        written) into any."""
        with self._lock:
            anywhere = kind != "concurrent_target_sync" and (self.rng.random() < 0.5 or anywhere)
            self._armed = (kind, None if anywhere else self.rng.choice(sorted(self.sides)))
            self._armed_rounds = 0
            self._writes = 0
            self._fire_at = self.rng.randint(1, 3)

    def _sync_meanwhile(self, name: str) -> None:
        """Another worker syncs the calendar just written into, before the write is answered."""
        calendar_id = str(self.sides[name].calendar.id)
        try:
            with FORK_GUARD.shared():
                state.sync_request(calendar_id=calendar_id)
                asked = SyncState.objects.get(calendar_id=calendar_id).requested
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                with FORK_GUARD.shared():
                    if SyncState.objects.get(calendar_id=calendar_id).served >= asked:
                        return
                time.sleep(0.02)
        finally:
            with FORK_GUARD.shared():
                connections.close_all()

    def _notify(self, name: str) -> None:
        with FORK_GUARD.shared():
            try:
                state.sync_request(calendar_id=str(self.sides[name].calendar.id))
            finally:
                connections.close_all()

    def _stale_cursors(self) -> None:
        if self.google is not None:
            self.google.invalidate_sync_tokens()
        if self.microsoft is not None:
            self.microsoft.graph.invalidate_delta_links()
        for side in self.sides.values():
            if isinstance(side, CalDAVSide):
                calendar = Calendar.objects.get(id=side.calendar.id)
                if calendar.sync_cursor:
                    cursor = json.loads(calendar.sync_cursor)
                    if cursor.get("sync_token"):
                        cursor["sync_token"] = cursor["sync_token"].rstrip("/") + "-refused"
                    cursor["ctag"] = "stale"
                    calendar.sync_cursor = json.dumps(cursor)
                    calendar.save(update_fields=["sync_cursor"])

    # Settling ----------------------------------------------------------------------------------

    def _settle(self) -> None:
        self.pool.settle()
        if engine.stale_blocks().exists():
            engine.remove_stale_blocks()
            self.pool.settle()

    def _reconcile(self) -> None:
        for side in self.sides.values():
            calendar = Calendar.objects.select_related("connection").get(id=side.calendar.id)
            for source_id in reconcile.reconcile_target(calendar):
                tasks.enqueue_calendar_sync(source_id, full=True)
        self._settle()
