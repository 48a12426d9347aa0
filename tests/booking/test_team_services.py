"""Team pages' bookings through the services: who gets the meeting, the live check, the locks."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.db import close_old_connections, connection, transaction
from django.urls import reverse

from booking.handles import HandleTaken, handle_claim
from booking.ics import host_name
from booking.models import Booking, OrgHandle, Profile, TeamPage, TeamPageMember
from booking.services.bookings import (
    BookingClosed,
    BusyUnknown,
    SlotUnavailable,
    booking_cancel,
    booking_create,
)
from booking.services.pages import profile_update
from booking.services.teams import (
    org_handle_set,
    team_booking_create,
    team_booking_reschedule,
    team_member_hours_set,
)
from booking.team_availability import team_members, team_slots
from calendars.models import Connection
from integrations.base import Window
from orgs.services import OrgRefused, membership_remove
from tests.booking.pages import at, days_ahead, make_host
from tests.booking.team_world import make_team
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("team_follow_ups")]


@pytest.fixture
def team_follow_ups(monkeypatch) -> list[str]:
    asked: list[str] = []
    monkeypatch.setattr(
        "booking.services.teams.enqueue_follow_up", lambda booking_id: asked.append(str(booking_id))
    )
    monkeypatch.setattr(
        "booking.services.bookings.enqueue_follow_up",
        lambda booking_id: asked.append(str(booking_id)),
    )
    return asked


def book(page, start, *, key: str = "k1") -> Booking:
    return team_booking_create(
        page=page,
        start=start,
        duration=30,
        attendee_name="Grace Guest",
        attendee_email="grace@example.com",
        attendee_time_zone="Europe/Berlin",
        submission_key=key,
    )


def test_a_collective_booking_is_one_row_per_member_in_their_calendar(
    radicale_server, team_follow_ups
):
    team = make_team(radicale_server)
    page = team.page(TeamPage.Kind.COLLECTIVE)
    start = at(days_ahead(3), 10)

    lead = book(page, start)

    rows = Booking.objects.filter(team_page=page).order_by("team_lead_id")
    assert {row.owner_id for row in rows} == {user.id for user in team.users}
    assert {row.calendar_id for row in rows} == {
        world.calendars["work"].id for world in team.worlds.values()
    }
    assert lead.team_lead_id is None and lead.owner_id == team.users[0].id
    assert all(row.team_lead_id == lead.id for row in rows if row.id != lead.id)
    assert len(team_follow_ups) == 3


def test_a_collective_time_is_refused_when_one_member_is_busy(radicale_server):
    team = make_team(radicale_server)
    page = team.page(TeamPage.Kind.COLLECTIVE)
    start = at(days_ahead(3), 10)
    team.worlds[team.users[2].id].put("work", "dentist", start, minutes=60)

    with pytest.raises(SlotUnavailable):
        book(page, start)
    assert not Booking.objects.exists()


def test_round_robin_goes_to_a_free_member_with_fewest_bookings(radicale_server):
    team = make_team(radicale_server)
    page = team.page()
    first, second, third = team.users
    start = at(days_ahead(3), 10)
    team.worlds[first.id].put("work", "busy", start, minutes=60)

    owners = [book(page, start + timedelta(hours=hour), key=f"k{hour}").owner_id for hour in (0, 2)]

    # At 10:00 the first is busy; second goes to the one with no booking yet.
    assert owners[0] == second.id
    assert owners[1] == first.id  # free again, fewest bookings, earliest priority
    assert third.id not in owners[:1]


def test_round_robin_weights_share_the_meetings(radicale_server):
    team = make_team(radicale_server, size=2)
    page = team.page()
    heavy, light = team.users
    TeamPageMember.objects.filter(page=page, user=heavy).update(weight=2)
    day = days_ahead(3)

    owners = Counter(book(page, at(day, hour), key=f"k{hour}").owner_id for hour in range(6))

    assert owners == {heavy.id: 4, light.id: 2}


def test_the_same_submission_twice_books_once(radicale_server):
    team = make_team(radicale_server)
    page = team.page(TeamPage.Kind.COLLECTIVE)
    start = at(days_ahead(3), 10)

    assert book(page, start, key="same").id == book(page, start, key="same").id
    assert Booking.objects.count() == 3


def test_a_personal_booking_blocks_the_member_on_team_pages(radicale_server):
    team = make_team(radicale_server, size=1)
    member = team.users[0]
    host = make_host(radicale_server, member)
    start = at(days_ahead(3), 10)
    booking_create(
        page=host.page,
        start=start,
        duration=30,
        attendee_name="A",
        attendee_email="a@example.com",
        attendee_time_zone="UTC",
        answers=[],
        submission_key="p",
    )

    with pytest.raises(SlotUnavailable):
        book(team.page(), start)


def test_an_unreadable_member_calendar_books_nothing(radicale_server):
    team = make_team(radicale_server)
    page = team.page()
    Connection.objects.filter(id=team.worlds[team.users[1].id].connection.id).update(
        status=Connection.Status.NEEDS_RECONNECT
    )

    with pytest.raises(BusyUnknown):
        book(page, at(days_ahead(3), 10))


def test_a_member_who_leaves_the_organization_leaves_its_pages(
    radicale_server, django_capture_on_commit_callbacks
):
    team = make_team(radicale_server)
    page = team.page(TeamPage.Kind.COLLECTIVE)
    leaving = team.members[2]

    with django_capture_on_commit_callbacks(execute=True):
        membership_remove(membership=team.admin, target=leaving, ip_address=None)

    assert [member.user_id for member in team_members(page)] == [u.id for u in team.users[:2]]
    assert not TeamPageMember.objects.filter(user=leaving.user).exists()
    lead = book(page, at(days_ahead(3), 10))
    assert Booking.objects.filter(team_page=page).count() == 2
    assert lead.owner_id == team.users[0].id


def test_cancelling_the_lead_cancels_every_seat(radicale_server):
    team = make_team(radicale_server)
    lead = book(team.page(TeamPage.Kind.COLLECTIVE), at(days_ahead(3), 10))

    booking_cancel(booking=lead, actor=Booking.Actor.ATTENDEE, reason="Ill")

    assert set(Booking.objects.values_list("status", flat=True)) == {Booking.Status.CANCELLED}


def test_a_member_cancelling_their_seat_cancels_the_meeting_for_everyone(
    radicale_server, client, team_follow_ups
):
    team = make_team(radicale_server)
    lead = book(team.page(TeamPage.Kind.COLLECTIVE), at(days_ahead(3), 10))
    seat = Booking.objects.get(team_lead=lead, owner=team.users[1])
    team_follow_ups.clear()
    client.force_login(team.users[1])

    url = reverse("booking:booking_cancel", args=[seat.id])
    assert "cancels it for every member" in client.get(url).content.decode()
    client.post(url, {"reason": "Away that day"})

    rows = Booking.objects.filter(team_page=lead.team_page)
    assert {(row.status, row.sequence, row.cancel_reason) for row in rows} == {
        (Booking.Status.CANCELLED, 1, "Away that day")
    }
    # The lead's follow-up tells the attendee; each member's removes their event.
    assert sorted(team_follow_ups) == sorted(str(row.id) for row in rows)


@pytest.mark.django_db(transaction=True)
def test_the_attendee_and_a_member_cancelling_at_once_cancel_each_row_once(radicale_server):
    team = make_team(radicale_server)
    lead = book(team.page(TeamPage.Kind.COLLECTIVE), at(days_ahead(3), 10))
    seat = Booking.objects.get(team_lead=lead, owner=team.users[2])
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def cancel(booking, actor) -> None:
        try:
            with transaction.atomic():
                barrier.wait(timeout=30)
                booking_cancel(booking=booking, actor=actor)
        except BaseException as error:  # a deadlock would land here
            failures.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=cancel, args=(lead, Booking.Actor.ATTENDEE)),
        threading.Thread(target=cancel, args=(seat, Booking.Actor.OWNER)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    rows = Booking.objects.filter(team_page=lead.team_page)
    assert {(row.status, row.sequence) for row in rows} == {(Booking.Status.CANCELLED, 1)}


def test_rescheduling_moves_every_seat_and_checks_each_member(radicale_server):
    team = make_team(radicale_server)
    page = team.page(TeamPage.Kind.COLLECTIVE)
    day = days_ahead(3)
    lead = book(page, at(day, 10))
    team.worlds[team.users[1].id].put("work", "busy", at(day, 14), minutes=60)

    with pytest.raises(SlotUnavailable):
        team_booking_reschedule(booking=lead, start=at(day, 14))
    team_booking_reschedule(booking=lead, start=at(day, 10, 30))

    assert set(Booking.objects.values_list("start", flat=True)) == {at(day, 10, 30)}
    assert set(Booking.objects.values_list("sequence", flat=True)) == {1}


def test_a_switched_off_page_takes_no_booking(radicale_server):
    team = make_team(radicale_server)
    page = team.page(active=False)
    with pytest.raises(BookingClosed):
        book(page, at(days_ahead(3), 10))


def test_team_slots_offer_round_robin_times_when_anyone_is_free(radicale_server):
    team = make_team(radicale_server, size=2)
    page = team.page()
    start = at(days_ahead(3), 10)
    team.worlds[team.users[0].id].put("work", "busy", start, minutes=30)
    members = team_members(page)
    window = Window(start, start + timedelta(hours=1))

    found = team_slots(page, members, now=start - timedelta(days=3), window=window, duration=30)

    assert found.free[start] == {team.users[1].id}
    assert found.free[start + timedelta(minutes=30)] == {u.id for u in team.users}


# One namespace of handles ------------------------------------------------------------------


def test_an_organization_cannot_take_a_persons_handle_or_the_reverse(radicale_server, owner):
    team = make_team(radicale_server, size=1)
    Profile.objects.create(user=owner, handle="grace", display_name="Grace")

    with pytest.raises(HandleTaken):
        org_handle_set(membership=team.admin, handle="grace")
    with pytest.raises(HandleTaken):
        profile_update(user=UserFactory(), handle="acme", display_name="Not Acme")
    assert org_handle_set(membership=team.admin, handle="acme-team").handle == "acme-team"


@pytest.mark.django_db(transaction=True)
def test_a_person_and_an_organization_claiming_one_handle_at_once_get_it_once(radicale_server):
    team = make_team(radicale_server, size=1)
    person = UserFactory()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def claim(write) -> None:
        try:
            with transaction.atomic():
                barrier.wait(timeout=30)
                write()
            outcomes.append("claimed")
        except HandleTaken:
            outcomes.append("taken")
        finally:
            close_old_connections()
            connection.close()

    def as_person() -> None:
        handle_claim("shared", user_id=person.id)
        Profile.objects.create(user=person, handle="shared", display_name="P")

    def as_organization() -> None:
        handle_claim("shared", organization_id=team.organization.id)
        OrgHandle.objects.filter(organization=team.organization).update(handle="shared")

    threads = [threading.Thread(target=claim, args=(w,)) for w in (as_person, as_organization)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["claimed", "taken"]
    holders = Profile.objects.filter(handle="shared").count()
    holders += OrgHandle.objects.filter(handle="shared").count()
    assert holders == 1


# Each member's own hours -----------------------------------------------------------------------


def _own_hours(page, user, zone: str, first: int, last: int) -> None:
    member = TeamPageMember.objects.get(page=page, user=user)
    team_member_hours_set(
        member=member,
        user=user,
        time_zone=zone,
        weekly_hours={str(day): [[first * 60, last * 60]] for day in range(1, 8)},
    )


def _free_at(page, start):
    members = team_members(page)
    window = Window(start, start + timedelta(minutes=30))
    found = team_slots(page, members, now=start - timedelta(days=3), window=window, duration=30)
    return found.free.get(start, set())


def test_a_members_own_hours_narrow_the_round_robin(radicale_server):
    team = make_team(radicale_server, size=2)
    page = team.page()
    morning, afternoon = at(days_ahead(3), 10), at(days_ahead(3), 14)
    _own_hours(page, team.users[0], "UTC", 13, 17)

    assert _free_at(page, morning) == {team.users[1].id}
    assert _free_at(page, afternoon) == {u.id for u in team.users}


def test_a_collective_time_needs_it_inside_every_members_hours(radicale_server):
    team = make_team(radicale_server, size=2)
    page = team.page(TeamPage.Kind.COLLECTIVE)
    morning, afternoon = at(days_ahead(3), 10), at(days_ahead(3), 14)
    _own_hours(page, team.users[1], "UTC", 13, 17)

    assert _free_at(page, morning) == set()
    assert _free_at(page, afternoon) == {u.id for u in team.users}


def test_own_hours_are_in_the_members_own_zone(radicale_server):
    team = make_team(radicale_server, size=2)
    page = team.page()
    # 9:00 to 12:00 in Tokyo is midnight to 3:00 UTC.
    _own_hours(page, team.users[0], "Asia/Tokyo", 9, 12)

    assert team.users[0].id in _free_at(page, at(days_ahead(3), 1))
    assert team.users[0].id not in _free_at(page, at(days_ahead(3), 10))


def test_only_the_member_sets_their_own_hours(radicale_server):
    team = make_team(radicale_server, size=2)
    page = team.page()
    member = TeamPageMember.objects.get(page=page, user=team.users[0])

    with pytest.raises(OrgRefused):
        team_member_hours_set(
            member=member, user=team.users[1], time_zone="UTC", weekly_hours={"1": [[0, 60]]}
        )

    member.refresh_from_db()
    assert member.weekly_hours == {}


def test_the_attendee_is_told_everyone_a_collective_booking_meets(radicale_server):
    team = make_team(radicale_server, size=3)
    page = team.page(TeamPage.Kind.COLLECTIVE)

    lead = book(page, at(days_ahead(3), 10))

    names = host_name(lead).split(", ")
    assert sorted(names) == ["Person 0", "Person 1", "Person 2"]
    assert names[0] == lead.owner.booking_profile.display_name


def test_moving_a_team_booking_is_offered_times_overlapping_its_own(radicale_server):
    team = make_team(radicale_server, size=2)
    page = team.page(TeamPage.Kind.COLLECTIVE)
    day = days_ahead(3)
    lead = book(page, at(day, 10))
    rows = [lead, *lead.team_seats.all()]
    for row in rows:  # what the follow-up does: the meeting in each member's calendar
        world = team.worlds[row.owner_id]
        world.put("work", f"meeting-{row.id}", row.start, minutes=30)
        Booking.objects.filter(id=row.id).update(
            calendar=world.calendars["work"],
            remote_event_id=urlsplit(world.url("work")).path + f"meeting-{row.id}.ics",
        )
    members = team_members(page)
    window = Window(at(day, 9), at(day, 12))
    now = at(day, 9) - timedelta(days=3)

    as_is = team_slots(page, members, now=now, window=window, duration=30, fresh=True)
    moving = team_slots(
        page,
        members,
        now=now,
        window=window,
        duration=30,
        fresh=True,
        leaving_out=[row.id for row in rows],
    )

    assert at(day, 10) not in as_is.free
    assert at(day, 10) in moving.free  # its own slot: its events do not make it busy
