"""The sync guarantees' torture test, long mode: many seeds, hundreds of rounds, four providers.

    .venv/bin/python bench/torture.py [--seeds 1-5] [--rounds 100] [--workers 3]

The short mode runs in ``make test`` (tests/syncrules/test_torture.py, three providers); this one
adds Xandikos as a fourth calendar (a second CalDAV server, behind its own fault proxy) and runs as
long as asked, on a throwaway PostgreSQL database, stopping at the first unclean round of a seed
(its details printed). It prints the rounds and seeds run, the operations made, the faults fired by
kind, each count the oracle keeps (all must be 0), the syncs that failed and were retried, and the
time from a killed worker to its calendar synced again (this driver resumes at once; in production
the sweeper runs every 30 s: see bench/recovery.py).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import throwaway_database  # noqa: E402


def _seeds(text: str) -> list[int]:
    if "-" in text:
        first, last = text.split("-")
        return list(range(int(first), int(last) + 1))
    return [int(seed) for seed in text.split(",")]


class _Patches:
    """monkeypatch.setattr for a script: every attribute set is put back at the end."""

    def __init__(self) -> None:
        self._undo: list[tuple[object, str, object]] = []

    def __call__(self, target: object, name: str, value: object) -> None:
        self._undo.append((target, name, getattr(target, name)))
        setattr(target, name, value)

    def undo(self) -> None:
        for target, name, value in reversed(self._undo):
            setattr(target, name, value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1-5", help="seeds, as 1-5 or 1,4,9")
    parser.add_argument("--rounds", type=int, default=100, help="rounds per seed")
    parser.add_argument("--workers", type=int, default=3, help="worker processes at once")
    options = parser.parse_args()
    with throwaway_database(), tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        from django.conf import settings

        from integrations.microsoft import credentials
        from tests.caldav_servers import RadicaleServer, XandikosServer
        from tests.fakes.google import google_settings, running_google_fake
        from tests.fakes.microsoft import MicrosoftFake
        from tests.fault_proxy import running_fault_proxy
        from tests.syncrules.torture.environment import prepare

        for name in ("radicale", "xandikos"):
            (Path(folder) / name).mkdir()
        radicale = RadicaleServer(Path(folder) / "radicale")
        xandikos = XandikosServer(Path(folder) / "xandikos")
        for server in (radicale, xandikos):
            server.start()
            stack.callback(server.stop)
        radicale_proxy = stack.enter_context(running_fault_proxy(radicale.url))
        xandikos_proxy = stack.enter_context(running_fault_proxy(xandikos.url))
        google = stack.enter_context(running_google_fake())
        microsoft = MicrosoftFake()
        microsoft.start()
        stack.callback(microsoft.stop)
        patches = _Patches()
        stack.callback(patches.undo)
        for name, value in google_settings(google).items():
            patches(settings, name, value)
        patches(settings, "MICROSOFT_AUTHORITY", microsoft.authority)
        patches(settings, "MICROSOFT_GRAPH_URL", microsoft.graph_url)
        patches(settings, "MICROSOFT_CLIENT_ID", microsoft.identity.client_id)
        patches(settings, "MICROSOFT_CLIENT_SECRET", microsoft.identity.client_secret)
        patches(credentials, "identity_http_client", lambda: microsoft.identity)
        prepare(patches, settings)
        _run(
            options,
            servers=((radicale, radicale_proxy), (xandikos, xandikos_proxy)),
            google=google,
            microsoft=microsoft,
        )


def _run(options, *, servers, google, microsoft) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import UserFactory
    from tests.syncrules.torture.driver import FAULTS, Torture
    from tests.syncrules.torture.model import Verdict
    from tests.syncrules.torture.sides import CalDAVSide, GoogleSide, MicrosoftSide
    from tests.syncrules.world import make_world

    seeds = _seeds(options.seeds)
    operations: Counter[str] = Counter()
    faults: Counter[str] = Counter()
    verdict = Verdict()
    recoveries: list[float] = []
    failed_syncs = rounds = 0
    started = time.monotonic()
    print(
        f"torture: {len(seeds)} seeds x {options.rounds} rounds, 4 calendars "
        f"(Radicale, Xandikos, Google fake, Microsoft fake), {options.workers} worker processes",
        flush=True,
    )
    for seed in seeds:
        owner = UserFactory(email=f"torture-{seed}@example.com")
        (radicale, radicale_proxy), (xandikos, xandikos_proxy) = servers
        first = make_world(radicale, owner, [f"Radicale {seed}"], server_url=radicale_proxy.url)
        second = make_world(xandikos, owner, [f"Xandikos {seed}"], server_url=xandikos_proxy.url)
        sides = [
            CalDAVSide(f"Radicale {seed}", first),
            CalDAVSide(f"Xandikos {seed}", second),
            GoogleSide(f"Google {seed}", google, owner, google.email),
            MicrosoftSide(f"Outlook {seed}", microsoft, owner, f"torture-{seed}@contoso.example"),
        ]
        torture = Torture(
            sides,
            owner=owner,
            seed=seed,
            proxies=(radicale_proxy, xandikos_proxy),
            google=google,
            microsoft=microsoft,
            workers=options.workers,
        )
        torture.start()
        seed_started = time.monotonic()
        for number in range(options.rounds):
            result = torture.round()
            if not result.clean:
                print(f"  seed {seed}, round {number + 1}: NOT CLEAN", flush=True)
                for line in result.details:
                    print(f"    {line}", flush=True)
                break
        report = torture.report
        report.recoveries, report.failed_syncs = torture.pool.recoveries, torture.pool.failures
        rounds += report.rounds
        operations += report.operations
        faults += report.faults
        verdict.add(report.verdict)
        recoveries += report.recoveries
        failed_syncs += report.failed_syncs
        print(
            f"  seed {seed}: {report.rounds} rounds in {time.monotonic() - seed_started:.0f} s, "
            f"{sum(report.faults.values())} faults, clean: {report.verdict.clean}",
            flush=True,
        )
    print(f"rounds run: {rounds} over seeds {options.seeds} in {time.monotonic() - started:.0f} s")
    print("operations: " + ", ".join(f"{name} {count}" for name, count in operations.most_common()))
    print("faults fired: " + ", ".join(f"{kind} {faults[kind]}" for kind in FAULTS))
    print(
        "oracle (all must be 0): " + ", ".join(f"{k} {getattr(verdict, k)}" for k in Verdict.KINDS)
    )
    print(f"syncs that failed under a fault and were retried: {failed_syncs}")
    if recoveries:
        print(
            f"killed worker to its calendar synced again (driver resumes at once): "
            f"{len(recoveries)} kills, median {statistics.median(recoveries) * 1000:.0f} ms, "
            f"max {max(recoveries) * 1000:.0f} ms"
        )
    sys.exit(0 if verdict.clean else 1)


if __name__ == "__main__":
    main()
