"""The sync guarantees under production conditions, short mode (the long mode: bench/torture.py).

A seeded random mesh of a CalDAV calendar (Radicale behind a fault-injecting proxy), a Google
calendar and a Microsoft 365 calendar (the fakes of their APIs), every ordered pair a rule, synced
by worker processes that are killed mid-write, while notifications arrive mid-sync, faults hit
the writes, and the organization whose account the Outlook calendar is changes its policy, now
and then mid-write (see tests/syncrules/torture/driver.py). After each round an oracle written
apart from the planner, knowing the policy as the admin set it, reads every calendar and finds 0
copies of copies, 0 duplicates, 0 orphans, 0 missing blocks, 0 wrong times, 0 content beyond the
rules' privacy and the policy, and rows that match the calendars.
"""

from __future__ import annotations

import pytest

from tests.syncrules.torture.driver import Torture
from tests.syncrules.torture.environment import prepare
from tests.syncrules.torture.sides import CalDAVSide, GoogleSide, MicrosoftSide
from tests.syncrules.world import make_world

pytestmark = [pytest.mark.worker, pytest.mark.forks, pytest.mark.django_db(transaction=True)]

ROUNDS = 8


@pytest.fixture
def torture_sides(
    radicale_server, fault_proxy, google_fake, microsoft_fake, owner, monkeypatch, settings
):
    prepare(monkeypatch.setattr, settings)
    world = make_world(radicale_server, owner, ["CalDAV"], server_url=fault_proxy.url)
    return [
        CalDAVSide("CalDAV", world),
        GoogleSide("Google", google_fake, owner, google_fake.email),
        MicrosoftSide("Outlook", microsoft_fake, owner, "ada@contoso.example"),
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_mesh_keeps_every_guarantee_under_faults_and_killed_workers(
    seed, torture_sides, owner, fault_proxy, google_fake, microsoft_fake
):
    torture = Torture(
        torture_sides,
        owner=owner,
        seed=seed,
        proxies=(fault_proxy,),
        google=google_fake,
        microsoft=microsoft_fake,
        # The Outlook account is the organization's: its policy caps the blocks out of it.
        org_domain="contoso.example",
    )
    torture.start()
    for number in range(ROUNDS):
        # Twice a run, the admin changes the policy while a worker's write is in flight.
        verdict = torture.round(fault="policy_change" if number in (2, 5) else None)
        assert verdict.clean, f"round {number + 1} of seed {seed}:\n" + "\n".join(verdict.details)
    assert torture.report.faults["policy_change"] >= 1, "no policy change came mid-write"
