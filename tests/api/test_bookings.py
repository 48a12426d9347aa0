"""Bookings through the API: the public page's checks, the live re-reading of the calendars and
the exclusion constraint, the owner's cancel and move, lists by filter and cursor."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import close_old_connections, connection

from api.scopes import Scope
from booking.models import Booking, BookingPage, Question
from calendars.models import Calendar
from tests.api.conftest import ApiClient
from tests.booking.pages import at, days_ahead, make_host, read_in_step

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def follow_ups(monkeypatch) -> list[str]:
    """The follow-up (meeting, event, e-mails) has its own tests; here it is only counted."""
    asked: list[str] = []
    monkeypatch.setattr(
        "booking.services.bookings.enqueue_follow_up",
        lambda booking_id: asked.append(str(booking_id)),
    )
    return asked


@pytest.fixture
def host(radicale_server, owner):
    host = make_host(radicale_server, owner, durations=[30, 60])
    Question.objects.create(page=host.page, label="Topic", required=True, position=0)
    Question.objects.create(page=host.page, label="Notes", kind="long", position=1)
    return host


def _booking(host, start: datetime, **fields: object) -> dict[str, object]:
    return {
        "page_id": str(host.page.id),
        "start": start.isoformat(),
        "attendee_name": "Grace Guest",
        "attendee_email": "grace@example.com",
        "attendee_time_zone": "Europe/Berlin",
        "answers": [{"question": "Topic", "answer": "Roadmap"}],
        **fields,
    }


def _problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    return body


def test_a_booking_made_through_the_api_is_the_one_the_page_makes(host, owner_api, follow_ups):
    start = at(days_ahead(3), 10)

    response = owner_api.post("/bookings", _booking(host, start, duration=60))

    assert response.status_code == 201, response.content
    body = response.json()
    booking = Booking.objects.get(id=body["id"])
    assert (booking.start, booking.end) == (start, start + timedelta(minutes=60))
    assert booking.answers == [{"question": "Topic", "answer": "Roadmap"}]
    assert booking.calendar == host.world.calendars["work"]
    assert booking.attendee_time_zone == "Europe/Berlin"
    assert follow_ups == [str(booking.id)]
    assert body["page_id"] == str(host.page.id)
    assert datetime.fromisoformat(body["start"]) == start
    assert (body["duration"], body["status"], body["location"]) == (60, "confirmed", "none")
    assert body["cancelled_at"] is None and body["cancelled_by"] is None
    assert "token" not in str(body) and "manage" not in str(body)
    assert owner_api.get(f"/bookings/{booking.id}").json() == body


def test_the_attendees_form_refuses_with_field_problems(host, owner_api):
    start = at(days_ahead(3), 10)

    response = owner_api.post(
        "/bookings",
        _booking(
            host,
            start,
            attendee_email="not an address",
            answers=[
                {"question": "Shoe size", "answer": "44"},
                {"question": "Notes", "answer": ""},
            ],
        ),
    )

    fields = {error["field"] for error in _problem(response, 422, "invalid")["errors"]}
    assert fields == {"attendee_email", "answers.0.question", "answers"}
    naive = owner_api.post("/bookings", {**_booking(host, start), "start": "2030-05-06T10:00"})
    # Refused by its type, before the form: named as the body's field.
    assert [e["field"] for e in _problem(naive, 422, "invalid")["errors"]] == ["start"]
    zone = owner_api.post("/bookings", _booking(host, start, attendee_time_zone="Mars/Base"))
    assert [e["field"] for e in _problem(zone, 422, "invalid")["errors"]] == ["attendee_time_zone"]
    assert not Booking.objects.exists()


def test_times_the_page_does_not_offer_are_refused_with_the_reason(host, owner_api):
    day = days_ahead(3)
    host.world.put("work", "dentist", at(day, 10, 15), minutes=30)
    refusals = {
        "slot_taken": at(day, 10),
        "slot_grid": at(day, 11, 10),
        "slot_notice": datetime.now(UTC) - timedelta(hours=1),
        "slot_horizon": at(days_ahead(90), 10),
    }

    for code, start in refusals.items():
        response = owner_api.post("/bookings", _booking(host, start, idempotency_key=code))
        assert _problem(response, 409, code)["detail"]
    length = owner_api.post("/bookings", _booking(host, at(day, 12), duration=45))
    assert [e["field"] for e in _problem(length, 422, "invalid")["errors"]] == ["duration"]
    assert not Booking.objects.exists()


def test_a_calendar_that_cannot_be_read_books_nothing_and_says_when_to_retry(host, owner_api):
    Calendar.objects.filter(id=host.world.calendars["work"].id).update(
        remote_id="http://127.0.0.1:9/user/calendar/"
    )

    response = owner_api.post("/bookings", _booking(host, at(days_ahead(3), 10)))

    _problem(response, 503, "calendar_unreadable")
    assert int(response["Retry-After"]) > 0
    assert not Booking.objects.exists()


def test_a_switched_off_page_takes_no_booking(host, owner_api):
    BookingPage.objects.filter(id=host.page.id).update(active=False)

    response = owner_api.post("/bookings", _booking(host, at(days_ahead(3), 10)))

    _problem(response, 409, "booking_closed")


def test_the_same_idempotency_key_returns_the_same_booking(host, owner_api, follow_ups):
    start = at(days_ahead(3), 10)
    request = _booking(host, start, idempotency_key="order-1234")

    first = owner_api.post("/bookings", request)
    again = owner_api.post("/bookings", request)
    other = owner_api.post("/bookings", {**request, "start": at(days_ahead(4), 10).isoformat()})

    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    _problem(other, 409, "idempotency_key_reused")
    assert Booking.objects.count() == 1
    assert len(follow_ups) == 1


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_bookings_of_one_time_make_one(
    radicale_server, owner, make_api, monkeypatch
):
    host = make_host(radicale_server, owner)
    start = at(days_ahead(3), 10)
    read_in_step(monkeypatch)
    clients = [make_api(owner), make_api(owner)]
    answers: list[Any] = [None, None]

    def book(number: int) -> None:
        try:
            key = f"attendee-{number}"
            answers[number] = clients[number].post(
                "/bookings", _booking(host, start, answers=[], idempotency_key=key)
            )
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=book, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201, 409]
    (refused,) = [answer for answer in answers if answer.status_code == 409]
    assert refused.json()["code"] == "slot_taken"
    assert Booking.objects.filter(status=Booking.Status.CONFIRMED).count() == 1


def test_cancelling_twice_is_harmless(host, owner_api, follow_ups):
    made = owner_api.post("/bookings", _booking(host, at(days_ahead(3), 10))).json()

    first = owner_api.post(f"/bookings/{made['id']}/cancel", {"reason": "Ill"})
    second = owner_api.post(f"/bookings/{made['id']}/cancel", {"reason": "Other"})

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    body = first.json()
    assert (body["status"], body["cancelled_by"], body["cancel_reason"]) == (
        "cancelled",
        "owner",
        "Ill",
    )
    assert len(follow_ups) == 2  # made, cancelled: once


def test_a_booking_moves_to_a_free_time_and_not_into_a_taken_one(host, owner_api):
    day = days_ahead(3)
    moving = owner_api.post("/bookings", _booking(host, at(day, 10), duration=60)).json()
    owner_api.post("/bookings", _booking(host, at(day, 14), idempotency_key="other"))

    taken = owner_api.post(f"/bookings/{moving['id']}/reschedule", {"start": at(day, 13, 30)})
    moved = owner_api.post(
        f"/bookings/{moving['id']}/reschedule", {"start": at(day, 10, 30).isoformat()}
    )

    _problem(taken, 409, "slot_taken")
    assert moved.status_code == 200, moved.content
    body = moved.json()
    assert datetime.fromisoformat(body["start"]) == at(day, 10, 30)
    assert body["duration"] == 60
    cancelled = owner_api.post(f"/bookings/{moving['id']}/cancel", {})
    assert cancelled.status_code == 200
    again = owner_api.post(f"/bookings/{moving['id']}/reschedule", {"start": at(day, 16)})
    _problem(again, 409, "booking_closed")


def _stored(page: BookingPage, start: datetime, **fields: object) -> Booking:
    return Booking.objects.create(
        owner=page.owner,
        page=page,
        title=page.title,
        start=start,
        end=start + timedelta(minutes=30),
        attendee_name="Grace Guest",
        attendee_email="grace@example.com",
        location=page.location,
        submission_key=f"k-{start.isoformat()}",
        **fields,
    )


def test_bookings_are_listed_by_filter_and_cursor(owner, owner_api):
    intro = BookingPage.objects.create(owner=owner, title="Intro", slug="intro", durations=[30])
    other = BookingPage.objects.create(owner=owner, title="Other", slug="other", durations=[30])
    now = datetime.now(UTC).replace(microsecond=0)
    past = _stored(intro, now - timedelta(days=2))
    soon = [_stored(intro, now + timedelta(days=n)) for n in (1, 2, 3)]
    cancelled = _stored(
        intro, now + timedelta(days=4), status="cancelled", cancelled_at=now, cancelled_by="owner"
    )
    elsewhere = _stored(other, now + timedelta(days=5))

    def ids(**params) -> list[str]:
        seen, cursor = [], None
        while True:
            body = owner_api.get(
                "/bookings", limit=2, **params, **({"cursor": cursor} if cursor else {})
            )
            assert body.status_code == 200, body.content
            seen += [item["id"] for item in body.json()["items"]]
            cursor = body.json()["next_cursor"]
            if cursor is None:
                return seen

    everything = [past, *soon, cancelled, elsewhere]
    assert ids() == [str(b.id) for b in everything]
    assert ids(order="-start") == [str(b.id) for b in reversed(everything)]
    assert ids(status="cancelled") == [str(cancelled.id)]
    assert ids(page_id=str(other.id)) == [str(elsewhere.id)]
    assert ids(when="past") == [str(past.id)]
    assert ids(when="upcoming", status="confirmed") == [str(b.id) for b in [*soon, elsewhere]]
    window = {
        "start_from": (now + timedelta(days=2)).isoformat(),
        "start_to": (now + timedelta(days=4)).isoformat(),
    }
    assert ids(**window) == [str(soon[1].id), str(soon[2].id)]
    naive = owner_api.get("/bookings", start_from="2030-01-01T00:00:00")
    assert naive.status_code == 422
    first = owner_api.get("/bookings", limit=1).json()["next_cursor"]
    assert owner_api.get("/bookings", status="cancelled", cursor=first).status_code == 422


def test_another_users_key_finds_no_booking_and_changes_nothing(
    host, owner_api, second_user, make_api
):
    start = at(days_ahead(3), 10)
    made = owner_api.post("/bookings", _booking(host, start)).json()
    theirs = make_api(second_user)

    for response in [
        theirs.get(f"/bookings/{made['id']}"),
        theirs.post(f"/bookings/{made['id']}/cancel", {}),
        theirs.post(f"/bookings/{made['id']}/reschedule", {"start": at(days_ahead(4), 10)}),
        theirs.post("/bookings", _booking(host, at(days_ahead(5), 10))),
    ]:
        _problem(response, 404, "not_found")
    assert theirs.get("/bookings").json()["items"] == []
    booking = Booking.objects.get()
    assert (booking.status, booking.start) == ("confirmed", start)


def test_a_key_that_may_only_read_bookings_cannot_change_them(host, owner, owner_api, make_api):
    made = owner_api.post("/bookings", _booking(host, at(days_ahead(3), 10))).json()
    reader: ApiClient = make_api(owner, scopes=[Scope.BOOKINGS_READ])

    assert reader.get(f"/bookings/{made['id']}").status_code == 200
    for response in [
        reader.post("/bookings", _booking(host, at(days_ahead(4), 10))),
        reader.post(f"/bookings/{made['id']}/cancel", {}),
        reader.post(f"/bookings/{made['id']}/reschedule", {"start": at(days_ahead(4), 10)}),
    ]:
        _problem(response, 403, "insufficient_scope")
    assert make_api(owner, scopes=[Scope.PAGES_READ]).get("/bookings").status_code == 403
    assert Booking.objects.get().status == "confirmed"
