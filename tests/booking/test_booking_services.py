"""Booking, moving and cancelling through the services: a live check, a lock, and a constraint."""

from __future__ import annotations

import threading
from datetime import date, time, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.db import IntegrityError, close_old_connections, connection, transaction

from booking.availability import page_slots
from booking.models import Booking
from booking.services.bookings import (
    BookingClosed,
    BusyUnknown,
    LengthNotOffered,
    SlotUnavailable,
    booking_cancel,
    booking_create,
    booking_delete,
    booking_reschedule,
)
from booking.slots import Refusal
from calendars.models import Calendar, Connection
from integrations.base import Window
from syncrules.models import Block
from tests.booking import pages
from tests.booking.pages import at, days_ahead, make_host

# Every service is seen to ask for the follow-up, which is only counted here.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("follow_ups")]


def book(host, start, *, key: str = "k1", duration: int = 30) -> Booking:
    return booking_create(
        page=host.page,
        start=start,
        duration=duration,
        attendee_name="Grace Guest",
        attendee_email="grace@example.com",
        attendee_time_zone="Europe/Berlin",
        answers=[{"question": "Topic", "answer": "Roadmap"}],
        submission_key=key,
    )


def test_a_free_time_is_booked_and_the_follow_up_is_asked_for(radicale_server, owner, follow_ups):
    host = make_host(radicale_server, owner)
    start = at(days_ahead(3), 10)

    booking = book(host, start)

    assert (booking.start, booking.end) == (start, start + timedelta(minutes=30))
    assert booking.status == Booking.Status.CONFIRMED
    assert booking.calendar == host.world.calendars["work"]
    assert booking.answers == [{"question": "Topic", "answer": "Roadmap"}]
    assert follow_ups == [str(booking.id)]


def test_an_event_added_since_the_page_was_shown_is_seen_by_the_live_check(radicale_server, owner):
    host = make_host(radicale_server, owner)
    start = at(days_ahead(3), 10)
    window = Window(start, start + timedelta(hours=1))
    shown = page_slots(host.page, now=start - timedelta(days=3), window=window, duration=30)
    assert start in shown.slots  # and now it is in the cache
    # Added straight on the server: no notification, the cache still says free.
    host.world.put("work", "dentist", start + timedelta(minutes=15), minutes=30)

    with pytest.raises(SlotUnavailable):
        book(host, start)
    assert not Booking.objects.exists()


def test_a_calendar_that_cannot_be_read_books_nothing(radicale_server, owner):
    host = make_host(radicale_server, owner)
    # Nothing listens on the discard port: the server is down.
    Calendar.objects.filter(id=host.world.calendars["work"].id).update(
        remote_id="http://127.0.0.1:9/user/calendar/"
    )

    with pytest.raises(BusyUnknown):
        book(host, at(days_ahead(3), 10))
    assert not Booking.objects.exists()


def test_a_calendar_that_needs_reconnecting_books_nothing(radicale_server, owner):
    host = make_host(radicale_server, owner)
    Connection.objects.filter(id=host.world.connection.id).update(
        status=Connection.Status.NEEDS_RECONNECT
    )

    with pytest.raises(BusyUnknown):
        book(host, at(days_ahead(3), 10))
    assert not Booking.objects.exists()


def test_the_same_submission_twice_books_once(radicale_server, owner, follow_ups):
    host = make_host(radicale_server, owner)
    start = at(days_ahead(3), 10)

    first = book(host, start, key="same")
    second = book(host, start, key="same")

    assert first.id == second.id
    assert Booking.objects.count() == 1
    assert follow_ups == [str(first.id)]


def test_a_time_already_booked_is_refused(radicale_server, owner):
    host = make_host(radicale_server, owner)
    start = at(days_ahead(3), 10)
    book(host, start, key="a")

    with pytest.raises(SlotUnavailable):
        book(host, start + timedelta(minutes=15), key="b")


def test_buffers_keep_bookings_apart(radicale_server, owner):
    host = make_host(radicale_server, owner, buffer_after=15, increment=15)
    start = at(days_ahead(3), 10)
    book(host, start, key="a")

    with pytest.raises(SlotUnavailable):
        book(host, start + timedelta(minutes=30), key="b")
    assert book(host, start + timedelta(minutes=45), key="c").start == start + timedelta(minutes=45)


def test_the_daily_cap_is_kept(radicale_server, owner):
    host = make_host(radicale_server, owner, max_per_day=1)
    day = days_ahead(3)
    book(host, at(day, 10), key="a")

    with pytest.raises(SlotUnavailable):
        book(host, at(day, 14), key="b")
    assert book(host, at(day + timedelta(days=1), 10), key="c")


@pytest.mark.parametrize(
    ("zone", "day", "length", "last_start"),
    [
        # 7 November 2027 runs 25 hours: 00:00 EDT (04:00 UTC) to 24:00 EST (05:00 UTC the 8th).
        ("America/New_York", date(2027, 11, 7), 30, time(23, 30)),
        # 2 April 2028 runs 24.5 hours: 00:00 +11 (13:00 UTC the 1st) to 24:00 +10:30.
        ("Australia/Lord_Howe", date(2028, 4, 2), 15, time(23, 45)),
    ],
)
def test_the_daily_cap_counts_the_owners_whole_local_day_however_long(
    radicale_server, owner, zone, day, length, last_start
):
    host = make_host(
        radicale_server, owner, time_zone=zone, max_per_day=1, durations=[length], increment=15
    )
    first = at(day, 0, zone=zone)
    last = at(day, last_start.hour, last_start.minute, zone=zone)
    assert last - first > timedelta(hours=24)

    with time_machine.travel(first - timedelta(days=5)):
        book(host, first, key="a", duration=length)
        with pytest.raises(SlotUnavailable) as refused:
            book(host, last, key="b", duration=length)
        # The next day is another day.
        book(host, at(day + timedelta(days=1), 0, zone=zone), key="c", duration=length)

    assert refused.value.reason == Refusal.FULL
    assert Booking.objects.filter(start=last).count() == 0


def test_a_length_the_page_does_not_offer_is_refused(radicale_server, owner):
    host = make_host(radicale_server, owner)
    for length in (45, 0, -30):
        with pytest.raises(LengthNotOffered):
            book(host, at(days_ahead(3), 10), duration=length)
    assert not Booking.objects.exists()


def test_each_refusal_says_its_own_reason(radicale_server, owner):
    host = make_host(
        radicale_server,
        owner,
        minimum_notice=24 * 60,
        weekly_hours={str(day): [[9 * 60, 17 * 60]] for day in range(1, 8)},
    )
    day = days_ahead(3)
    book(host, at(day, 10), key="a")
    cases = {
        at(days_ahead(1), 0): Refusal.NOTICE,
        at(days_ahead(-1), 10): Refusal.NOTICE,
        at(days_ahead(200), 10): Refusal.HORIZON,
        at(day, 20): Refusal.HOURS,
        at(day, 11, 10): Refusal.GRID,
        at(day, 10): Refusal.TAKEN,
    }

    reasons = {}
    for number, start in enumerate(cases):
        with pytest.raises(SlotUnavailable) as refused:
            book(host, start, key=f"refused-{number}")
        reasons[start] = refused.value.reason
        assert str(refused.value)

    assert reasons == cases


def test_a_switched_off_page_takes_no_bookings(radicale_server, owner):
    host = make_host(radicale_server, owner, active=False)
    with pytest.raises(BookingClosed):
        book(host, at(days_ahead(3), 10))


def test_the_database_refuses_overlapping_confirmed_bookings_whatever_the_code_does(
    radicale_server, owner
):
    host = make_host(radicale_server, owner)
    booking = book(host, at(days_ahead(3), 10))
    clash = Booking(
        owner=owner,
        page=host.page,
        title="x",
        start=booking.start + timedelta(minutes=29),
        end=booking.end + timedelta(minutes=29),
        attendee_name="Mallory",
        attendee_email="m@example.com",
        location=booking.location,
        submission_key="other",
    )
    with pytest.raises(IntegrityError, match="booking_no_overlap"), transaction.atomic():
        clash.save()

    # Cancelled bookings leave their time free, and touching ranges do not overlap.
    booking_cancel(booking=booking)
    clash.save()
    Booking.objects.create(
        owner=owner,
        title="y",
        start=clash.end,
        end=clash.end + timedelta(minutes=30),
        attendee_name="Next",
        attendee_email="n@example.com",
        location=booking.location,
        submission_key="next",
    )


def put_event(host, uid: str, start, *, minutes: int = 30) -> str:
    """An event in the host's calendar; returns its id there (the path of its object)."""
    host.world.put("work", uid, start, minutes=minutes)
    return urlsplit(host.world.url("work")).path + f"{uid}.ics"


def with_own_event(host, booking: Booking) -> Booking:
    """What the follow-up does: the booking's event in the calendar, its id kept on the booking."""
    event_id = put_event(host, "own-event", booking.start)
    Booking.objects.filter(id=booking.id).update(
        calendar=host.world.calendars["work"], remote_event_id=event_id
    )
    booking.refresh_from_db()
    return booking


def test_rescheduling_moves_the_booking_and_counts_a_new_sequence(
    radicale_server, owner, follow_ups
):
    host = make_host(radicale_server, owner, increment=15)
    # Its own event sits in the calendar: it must not block its new time.
    booking = with_own_event(host, book(host, at(days_ahead(3), 10)))
    new_start = booking.start + timedelta(minutes=15)

    moved = booking_reschedule(booking=booking, start=new_start, actor=Booking.Actor.ATTENDEE)

    assert (moved.start, moved.end) == (new_start, new_start + timedelta(minutes=30))
    assert moved.sequence == 1
    assert follow_ups == [str(booking.id)] * 2


def test_a_block_copied_from_the_booking_leaves_its_time_free_another_event_there_does_not(
    radicale_server, owner
):
    host = make_host(radicale_server, owner, increment=15)
    booking = with_own_event(host, book(host, at(days_ahead(3), 10)))
    work = host.world.calendars["work"]
    Block.objects.create(
        source_calendar=work,
        source_event_id=booking.remote_event_id,
        source_series_id=booking.remote_event_id,
        target_calendar=work,
        target_event_id=put_event(host, "copy-of-the-booking", booking.start),
        start=booking.start,
        end=booking.end,
    )
    later = booking.start + timedelta(minutes=15)

    moved = booking_reschedule(booking=booking, start=later)
    assert moved.start == later

    # Someone else's meeting at exactly the booking's own time is busy time all the same.
    put_event(host, "dentist", later)
    with pytest.raises(SlotUnavailable):
        booking_reschedule(booking=moved, start=later + timedelta(minutes=15))


def test_rescheduling_into_another_booking_is_refused(radicale_server, owner):
    host = make_host(radicale_server, owner)
    first = book(host, at(days_ahead(3), 10), key="a")
    book(host, at(days_ahead(3), 11), key="b")

    with pytest.raises(SlotUnavailable):
        booking_reschedule(booking=first, start=at(days_ahead(3), 11))
    first.refresh_from_db()
    assert first.start == at(days_ahead(3), 10)


def test_a_cancelled_booking_cannot_be_rescheduled(radicale_server, owner):
    host = make_host(radicale_server, owner)
    booking = book(host, at(days_ahead(3), 10))
    booking_cancel(booking=booking, actor=Booking.Actor.ATTENDEE, reason="Ill")

    with pytest.raises(BookingClosed):
        booking_reschedule(booking=booking, start=at(days_ahead(4), 10))


def test_cancelling_twice_changes_nothing_the_second_time(radicale_server, owner, follow_ups):
    host = make_host(radicale_server, owner)
    booking = book(host, at(days_ahead(3), 10))

    booking_cancel(booking=booking, actor=Booking.Actor.ATTENDEE, reason=" Ill ")
    booking_cancel(booking=booking, actor=Booking.Actor.OWNER, reason="Other")

    booking.refresh_from_db()
    assert (booking.status, booking.sequence) == (Booking.Status.CANCELLED, 1)
    assert (booking.cancelled_by, booking.cancel_reason) == (Booking.Actor.ATTENDEE, "Ill")
    assert len(follow_ups) == 2  # created, cancelled


def test_a_coming_booking_must_be_cancelled_before_it_is_deleted(radicale_server, owner):
    host = make_host(radicale_server, owner)
    booking = book(host, at(days_ahead(3), 10))
    with pytest.raises(BookingClosed):
        booking_delete(booking=booking)

    booking_cancel(booking=booking)
    with pytest.raises(BookingClosed):  # the cancellation has not gone out yet
        booking_delete(booking=booking)

    Booking.objects.filter(id=booking.id).update(notified_sequence=1, event_sequence=1)
    booking.refresh_from_db()
    booking_delete(booking=booking)
    assert not Booking.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_fifty_simultaneous_submissions_for_one_time_make_one_booking(radicale_server, owner):
    host = make_host(radicale_server, owner)
    start = at(days_ahead(3), 10)
    barrier = threading.Barrier(50)
    outcomes: list[str] = []

    def submit(number: int) -> None:
        try:
            barrier.wait()
            book(host, start, key=f"attendee-{number}")
            outcomes.append("booked")
        except SlotUnavailable:
            outcomes.append("taken")
        except BusyUnknown:
            # Fifty connections at once can overflow the server's queue: refused all the same.
            outcomes.append("calendar unreadable")
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(outcomes) == 50
    assert outcomes.count("booked") == 1
    assert Booking.objects.filter(status=Booking.Status.CONFIRMED).count() == 1


def at_once(*calls):
    """Run ``calls`` in threads of their own; what each returned or raised, in order."""
    outcomes: list[object] = [None] * len(calls)

    def run(number: int) -> None:
        try:
            outcomes[number] = calls[number]()
        except Exception as error:  # the outcome under test
            outcomes[number] = error
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.fixture
def read_in_step(monkeypatch):
    pages.read_in_step(monkeypatch)


@pytest.mark.django_db(transaction=True)
def test_two_identical_submissions_at_once_land_on_the_same_booking(
    radicale_server, owner, read_in_step
):
    host = make_host(radicale_server, owner)
    start = at(days_ahead(3), 10)

    first, second = at_once(
        lambda: book(host, start, key="same"), lambda: book(host, start, key="same")
    )

    assert isinstance(first, Booking), first
    assert isinstance(second, Booking), second
    assert first.id == second.id
    assert Booking.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_another_attendee_at_the_same_moment_is_told_the_time_was_just_taken(
    radicale_server, owner, read_in_step
):
    host = make_host(radicale_server, owner)
    start = at(days_ahead(3), 10)

    outcomes = at_once(lambda: book(host, start, key="one"), lambda: book(host, start, key="two"))

    (booked,) = [outcome for outcome in outcomes if isinstance(outcome, Booking)]
    (refused,) = [outcome for outcome in outcomes if not isinstance(outcome, Booking)]
    assert isinstance(refused, SlotUnavailable)
    assert refused.reason == Refusal.TAKEN
    assert Booking.objects.get().id == booked.id
