"""Team bookings through the API: a member books on a team page they are on as its public page
books (the round-robin's choice, the collective's seats), each member lists and reads the booking
they hold, and cancels or moves it as the web does."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from booking.models import Booking, TeamPage, TeamPageMember, TeamQuestion
from booking.services.teams import team_booking_create
from orgs.models import Membership, Role
from orgs.services import membership_remove
from tests.booking.pages import at, days_ahead
from tests.booking.team_world import make_team

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def follow_ups(monkeypatch) -> list[str]:
    """The follow-up (events, meeting, e-mails) has its own tests; here it is only counted."""
    asked: list[str] = []
    for where in ("booking.services.teams", "booking.services.bookings"):
        monkeypatch.setattr(
            f"{where}.enqueue_follow_up", lambda booking_id: asked.append(str(booking_id))
        )
    return asked


@pytest.fixture(autouse=True)
def generous_limits(settings):
    settings.API_KEY_RATE = "10000/m"


def _problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    return body


def _booking(page: TeamPage, start: datetime, **fields: object) -> dict[str, object]:
    return {
        "team_page_id": str(page.id),
        "start": start.isoformat(),
        "attendee_name": "Grace Guest",
        "attendee_email": "grace@example.com",
        "attendee_time_zone": "Europe/Berlin",
        **fields,
    }


def test_a_member_books_a_round_robin_page_and_the_free_member_gets_it(
    radicale_server, make_api, follow_ups
):
    team = make_team(radicale_server)
    page = team.page()
    first, second, third = team.users
    day = days_ahead(5)
    for user in (first, third):  # only the second member is free at ten
        team.worlds[user.id].put("work", "busy", at(day, 10), minutes=30)
    booker = make_api(first, ["bookings:write"])

    response = booker.post("/bookings", _booking(page, at(day, 10), idempotency_key="order-1"))

    assert response.status_code == 201, response.content
    body = response.json()
    booking = Booking.objects.get(id=body["id"])
    assert booking.owner == second and booking.team_page == page
    assert booking.calendar == team.worlds[second.id].calendars["work"]
    assert (body["owner_id"], body["team_page_id"], body["page_id"]) == (
        str(second.id),
        str(page.id),
        None,
    )
    assert body["team_lead_id"] is None and body["attendee_time_zone"] == "Europe/Berlin"
    assert follow_ups == [str(booking.id)]
    again = booker.post("/bookings", _booking(page, at(day, 10), idempotency_key="order-1"))
    assert again.json() == body
    other = booker.post("/bookings", _booking(page, at(day, 11), idempotency_key="order-1"))
    _problem(other, 409, "idempotency_key_reused")
    # The booking is the second member's: theirs to read, not the booker's.
    assert make_api(second).get(f"/bookings/{booking.id}").json() == body
    _problem(make_api(first).get(f"/bookings/{booking.id}"), 404, "not_found")


def test_a_collective_booking_gives_each_member_their_seat_in_their_list(radicale_server, make_api):
    team = make_team(radicale_server)
    page = team.page(TeamPage.Kind.COLLECTIVE)
    first, second, third = team.users
    start = at(days_ahead(5), 10)

    response = make_api(third).post("/bookings", _booking(page, start))

    assert response.status_code == 201, response.content
    lead = Booking.objects.get(id=response.json()["id"])
    assert lead.owner == first  # the first member by priority holds the attendee's booking
    rows = {row.owner_id: row for row in Booking.objects.filter(team_page=page)}
    assert set(rows) == {first.id, second.id, third.id}
    for user in team.users:
        listed = make_api(user, ["bookings:read"]).get("/bookings").json()["items"]
        assert [item["id"] for item in listed] == [str(rows[user.id].id)]
        assert listed[0]["team_page_id"] == str(page.id)
        assert listed[0]["team_lead_id"] == (None if user == first else str(lead.id))
        assert listed[0]["owner_id"] == str(user.id)
    filtered = make_api(second).get("/bookings", team_page_id=str(page.id)).json()["items"]
    assert [item["id"] for item in filtered] == [str(rows[second.id].id)]
    assert make_api(second).get("/bookings", page_id=str(page.id)).json()["items"] == []


def test_the_team_pages_questions_are_asked_as_on_its_public_page(radicale_server, make_api):
    team = make_team(radicale_server, size=2)
    page = team.page(TeamPage.Kind.COLLECTIVE)
    TeamQuestion.objects.create(page=page, label="Topic", required=True, position=0)
    api = make_api(team.users[1])
    start = at(days_ahead(5), 10)

    unanswered = api.post("/bookings", _booking(page, start))
    unknown = api.post(
        "/bookings",
        _booking(page, start, answers=[{"question": "Shoe size", "answer": "44"}]),
    )
    answered = api.post(
        "/bookings", _booking(page, start, answers=[{"question": "Topic", "answer": "Roadmap"}])
    )

    assert [e["field"] for e in _problem(unanswered, 422, "invalid")["errors"]] == ["answers"]
    fields = {e["field"] for e in _problem(unknown, 422, "invalid")["errors"]}
    assert fields == {"answers.0.question", "answers"}
    assert answered.status_code == 201, answered.content
    assert answered.json()["answers"] == [{"question": "Topic", "answer": "Roadmap"}]
    rows = Booking.objects.filter(team_page=page)
    assert [row.answers for row in rows] == [[{"question": "Topic", "answer": "Roadmap"}]] * 2


def test_times_the_team_does_not_offer_are_refused_with_the_reason(radicale_server, make_api):
    team = make_team(radicale_server, size=2)
    page = team.page(TeamPage.Kind.COLLECTIVE, minimum_notice=60)
    first, second = team.users
    day = days_ahead(5)
    team.worlds[second.id].put("work", "dentist", at(day, 10), minutes=30)
    api = make_api(first)

    _problem(api.post("/bookings", _booking(page, at(day, 10))), 409, "slot_taken")
    _problem(api.post("/bookings", _booking(page, at(day, 11, 10))), 409, "slot_grid")
    _problem(api.post("/bookings", _booking(page, at(days_ahead(90), 10))), 409, "slot_horizon")
    soon = datetime.now().astimezone() + timedelta(minutes=5)
    _problem(api.post("/bookings", _booking(page, soon)), 409, "slot_notice")
    length = api.post("/bookings", _booking(page, at(day, 12), duration=45))
    assert [e["field"] for e in _problem(length, 422, "invalid")["errors"]] == ["duration"]
    TeamPage.objects.filter(id=page.id).update(active=False)
    _problem(api.post("/bookings", _booking(page, at(day, 12))), 409, "booking_closed")
    assert not Booking.objects.exists()


def test_one_page_id_and_only_one_is_asked_for(radicale_server, make_api):
    team = make_team(radicale_server, size=1)
    page = team.page()
    api = make_api(team.users[0])
    start = at(days_ahead(5), 10)

    neither = api.post("/bookings", {**_booking(page, start), "team_page_id": None})
    both = api.post("/bookings", {**_booking(page, start), "page_id": str(page.id)})

    assert [e["field"] for e in _problem(neither, 422, "invalid")["errors"]] == ["page_id"]
    assert [e["field"] for e in _problem(both, 422, "invalid")["errors"]] == ["page_id"]
    assert not Booking.objects.exists()


def test_only_members_on_the_page_book_on_it(radicale_server, make_api, outsider):
    team = make_team(radicale_server)
    other = make_team(radicale_server, size=1, handle="globex", name="Globex")
    page = team.page()
    admin, member, _third = team.users
    TeamPageMember.objects.filter(page=page, user=admin).delete()
    start = at(days_ahead(5), 10)

    _problem(make_api(admin).post("/bookings", _booking(page, start)), 403, "not_on_team_page")
    for stranger in (outsider, other.users[0]):
        _problem(make_api(stranger).post("/bookings", _booking(page, start)), 404, "not_found")
    removed = make_api(member)
    membership_remove(
        membership=team.admin, target=Membership.objects.get(user=member), ip_address=None
    )
    _problem(removed.post("/bookings", _booking(page, start)), 404, "not_found")
    reader = make_api(_third, ["bookings:read"])
    _problem(reader.post("/bookings", _booking(page, start)), 403, "insufficient_scope")
    assert not Booking.objects.exists()


def _book(page: TeamPage, start: datetime, key: str = "k1") -> Booking:
    return team_booking_create(
        page=page,
        start=start,
        duration=30,
        attendee_name="Grace Guest",
        attendee_email="grace@example.com",
        attendee_time_zone="UTC",
        submission_key=key,
    )


def test_cancelling_the_lead_or_a_seat_cancels_the_meeting_for_everyone(radicale_server, make_api):
    team = make_team(radicale_server)
    page = team.page(TeamPage.Kind.COLLECTIVE)
    first, second, third = team.users
    day = days_ahead(5)
    lead = _book(page, at(day, 10))
    other = _book(page, at(day, 12), key="k2")
    seat = other.team_seats.get(owner=third)
    kept = _book(page, at(day, 14), key="k3")

    by_seat = make_api(third).post(f"/bookings/{seat.id}/cancel", {"reason": "Cannot make it"})
    by_lead = make_api(first).post(f"/bookings/{lead.id}/cancel", {"reason": "Plans changed"})

    assert by_seat.json()["status"] == "cancelled" and by_seat.json()["id"] == str(seat.id)
    assert by_lead.json()["status"] == "cancelled"
    for start in (at(day, 10), at(day, 12)):
        statuses = Booking.objects.filter(start=start).values_list("status", flat=True)
        assert sorted(statuses) == ["cancelled"] * 3
    assert set(kept.team_seats.values_list("status", flat=True)) == {"confirmed"}
    _problem(make_api(second).post(f"/bookings/{kept.id}/cancel", {}), 404, "not_found")
    assert Booking.objects.get(id=kept.id).status == "confirmed"


def test_moving_the_lead_moves_the_seats_and_a_seat_does_not_move_alone(radicale_server, make_api):
    team = make_team(radicale_server)
    page = team.page(TeamPage.Kind.COLLECTIVE)
    first, second, third = team.users
    day = days_ahead(5)
    lead = _book(page, at(day, 10))
    seat = lead.team_seats.get(owner=second)
    team.worlds[third.id].put("work", "gym", at(day, 14), minutes=60)

    alone = make_api(second).post(
        f"/bookings/{seat.id}/reschedule", {"start": at(day, 11).isoformat()}
    )
    busy = make_api(first).post(
        f"/bookings/{lead.id}/reschedule", {"start": at(day, 14).isoformat()}
    )
    moved = make_api(first).post(
        f"/bookings/{lead.id}/reschedule", {"start": at(day, 11).isoformat()}
    )

    _problem(alone, 409, "team_seat")
    _problem(busy, 409, "slot_taken")
    assert moved.status_code == 200, moved.content
    assert datetime.fromisoformat(moved.json()["start"]) == at(day, 11)
    starts = set(Booking.objects.filter(team_page=page).values_list("start", flat=True))
    assert starts == {at(day, 11)}


def test_a_round_robin_booking_moves_with_its_member(radicale_server, make_api):
    team = make_team(radicale_server, size=2)
    page = team.page()
    day = days_ahead(5)
    booking = _book(page, at(day, 10))
    holder = make_api(booking.owner)
    team.worlds[booking.owner_id].put("work", "gym", at(day, 15), minutes=60)

    busy = holder.post(f"/bookings/{booking.id}/reschedule", {"start": at(day, 15).isoformat()})
    moved = holder.post(f"/bookings/{booking.id}/reschedule", {"start": at(day, 16).isoformat()})

    _problem(busy, 409, "slot_taken")  # the other member is free then, but it is not theirs
    assert moved.status_code == 200, moved.content
    booking.refresh_from_db()
    assert booking.start == at(day, 16)


def test_an_admin_who_is_not_on_the_page_sees_no_bookings_of_it(radicale_server, make_api):
    team = make_team(radicale_server, size=2)
    page = team.page()
    admin, member = team.users
    Membership.objects.filter(user=admin).update(role=Role.OWNER)
    TeamPageMember.objects.filter(page=page, user=admin).delete()
    booking = _book(page, at(days_ahead(5), 10))

    assert booking.owner == member
    assert make_api(admin).get("/bookings").json()["items"] == []
    _problem(make_api(admin).get(f"/bookings/{booking.id}"), 404, "not_found")


def test_other_keys_find_no_team_booking_by_page_or_id(radicale_server, make_api, outsider):
    team = make_team(radicale_server, size=2)
    other = make_team(radicale_server, size=1, handle="globex", name="Globex")
    page = team.page(TeamPage.Kind.COLLECTIVE)
    lead = _book(page, at(days_ahead(5), 10))
    seat = lead.team_seats.get()

    for stranger in (make_api(outsider), make_api(other.users[0])):
        listed = stranger.get("/bookings", team_page_id=str(page.id)).json()
        assert listed == {"items": [], "next_cursor": None}
        for booking in (lead, seat):
            _problem(stranger.get(f"/bookings/{booking.id}"), 404, "not_found")
            _problem(stranger.post(f"/bookings/{booking.id}/cancel", {}), 404, "not_found")
            moved = stranger.post(
                f"/bookings/{booking.id}/reschedule", {"start": at(days_ahead(6), 10).isoformat()}
            )
            _problem(moved, 404, "not_found")
    assert set(Booking.objects.values_list("status", flat=True)) == {"confirmed"}
    assert set(Booking.objects.values_list("start", flat=True)) == {at(days_ahead(5), 10)}


def test_a_removed_member_keeps_the_bookings_they_hold(radicale_server, make_api):
    team = make_team(radicale_server, size=2)
    page = team.page(TeamPage.Kind.COLLECTIVE)
    lead = _book(page, at(days_ahead(5), 10))
    seat = lead.team_seats.get()
    removed = make_api(seat.owner)

    membership_remove(
        membership=team.admin, target=Membership.objects.get(user=seat.owner), ip_address=None
    )

    assert [item["id"] for item in removed.get("/bookings").json()["items"]] == [str(seat.id)]
    _problem(removed.get(f"/team-pages/{page.id}"), 404, "not_found")
