"""A collective team booking followed up by several workers at once, one of them killed at a
calendar write (before it lands, or once it has landed and before its answer arrives): once the
follow-ups are handed out again, every member has the meeting once in their calendar, the team one
Zoom meeting that every seat links to, and after a cancellation, killed the same way, nothing is
left behind.

The oracle reads the members' calendars straight from Radicale and the meetings from the Zoom
fake, never through the code under test.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from datetime import timedelta

import pytest
from django.db import connections
from django.db.models import F
from django.utils import timezone

from booking.models import Booking, TeamPage
from booking.services.bookings import booking_cancel
from booking.services.follow_up import booking_follow_up, follow_ups_unfinished
from booking.services.teams import team_booking_create
from calendars.services import connection_connect_zoom
from integrations.base import BOOKING_MARKER_PROPERTY, ProviderError
from integrations.zoom.oauth import secrets_from_token_answer
from tests.booking.pages import at, days_ahead
from tests.booking.team_world import Team, make_team
from tests.fakes.faults import FORK_GUARD, Fault, process_of_peer

pytestmark = [pytest.mark.forks, pytest.mark.django_db(transaction=True)]

KILLS = [(count, when) for count in (1, 2, 3) for when in ("before", "after")]


@pytest.fixture
def team(radicale_server, fault_proxy, zoom_fake, monkeypatch) -> Team:
    """Three members whose calendars are reached through the fault proxy; the lead has Zoom."""
    monkeypatch.setattr("booking.services.teams.enqueue_follow_up", lambda booking_id: None)
    monkeypatch.setattr("booking.services.bookings.enqueue_follow_up", lambda booking_id: None)
    team = make_team(radicale_server, server_url=fault_proxy.url)
    connection_connect_zoom(
        user=team.users[0],
        email=zoom_fake.email,
        secrets=secrets_from_token_answer(zoom_fake.grant()),
        ip_address=None,
    )
    return team


def follow_up_in_workers(page: TeamPage, fault_proxy, *, method: str, count: int, when: str):
    """Follow the page's bookings up as workers do: a forked worker per unfinished booking, all
    at once, round after round (a seat waiting for the lead's meeting is retried, a killed
    worker's task handed out again) until none is left. The ``count``-th ``method`` request to a
    calendar kills the worker that sent it. Returns the pids killed."""
    pids: list[int] = []
    killed: list[int] = []

    def kill_the_sender(port: int) -> None:
        pid = process_of_peer(port, pids)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    fault = (
        Fault(before=kill_the_sender, apply=False)
        if when == "before"
        else Fault(after=kill_the_sender, drop=True)
    )
    fault_proxy.fault = lambda m, path, seen: fault if m == method and seen == count else None
    for _ in range(6):
        unfinished = [
            str(booking_id)
            for booking_id in Booking.objects.filter(
                team_page=page, notified_sequence__lt=F("sequence")
            ).values_list("id", flat=True)
        ]
        # What the sweeper would queue again, once the change is old enough for it: exactly
        # what is left, as no worker runs now.
        later = timezone.now() + timedelta(minutes=3)
        assert sorted(follow_ups_unfinished(now=later)) == sorted(unfinished)
        if not unfinished:
            fault_proxy.reset()
            return killed
        pids[:] = [_fork_worker(booking_id) for booking_id in unfinished]
        for pid in pids:
            _, status = os.waitpid(pid, 0)
            # Done, waiting for the lead's meeting (1) or killed; nothing else.
            assert (os.WIFEXITED(status) and os.WEXITSTATUS(status) in (0, 1)) or (
                pid in killed and os.WTERMSIG(status) == signal.SIGKILL
            ), status
    raise AssertionError("the follow-ups did not catch up")


def _fork_worker(booking_id: str) -> int:
    connections.close_all()
    with FORK_GUARD.alone():
        pid = os.fork()
    if pid == 0:  # the worker
        code = 0
        try:
            booking_follow_up(booking_id=booking_id)
        except ProviderError:
            code = 1  # a seat waiting for the lead's meeting: retried
        except BaseException:
            traceback.print_exc(limit=5, file=sys.stderr)
            code = 2
        finally:
            os._exit(code)
    return pid


def meetings_in_calendars(team: Team) -> dict[object, list]:
    return {
        user_id: [event for event in world.events("work") if BOOKING_MARKER_PROPERTY in event]
        for user_id, world in team.worlds.items()
    }


@pytest.mark.parametrize(("count", "when"), KILLS)
def test_a_worker_killed_at_a_write_leaves_one_meeting_per_member_and_nothing_after_cancelling(
    team, fault_proxy, zoom_fake, count, when
):
    page = team.page(TeamPage.Kind.COLLECTIVE, location="zoom")
    start = at(days_ahead(3), 10)
    lead = team_booking_create(
        page=page,
        start=start,
        duration=30,
        attendee_name="Grace Guest",
        attendee_email="grace@example.com",
        attendee_time_zone="Europe/Berlin",
        submission_key="crash",
    )
    assert Booking.objects.filter(team_page=page).count() == 3

    assert len(follow_up_in_workers(page, fault_proxy, method="PUT", count=count, when=when)) == 1

    for user_id, events in meetings_in_calendars(team).items():
        assert len(events) == 1, user_id
        assert events[0].decoded("DTSTART") == start
    assert len(zoom_fake.meetings) == 1
    (meeting_id,) = zoom_fake.meetings
    rows = list(Booking.objects.filter(team_page=page))
    assert {row.meeting_url for row in rows} == {Booking.objects.get(id=lead.id).meeting_url}
    assert all(row.meeting_url for row in rows)
    assert Booking.objects.get(id=lead.id).zoom_meeting_id == str(meeting_id)

    booking_cancel(booking=lead, actor=Booking.Actor.ATTENDEE, reason="Ill")
    killed = follow_up_in_workers(page, fault_proxy, method="DELETE", count=count, when=when)
    assert len(killed) == 1

    assert meetings_in_calendars(team) == {user_id: [] for user_id in team.worlds}
    assert zoom_fake.meetings == {}
    assert follow_ups_unfinished(now=timezone.now() + timedelta(minutes=3)) == []
