"""The follow-up of a booking: its Zoom meeting, its event in a real Radicale calendar, its e-mails.

Bookings are made with the ORM here (status and sequence set as the services would set them), and
the follow-up runs as the task would, through ``enqueue_follow_up`` on commit.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from celery.exceptions import Retry
from django.core import mail
from django.core.cache import cache
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from booking import tasks
from booking.models import Booking, Profile
from booking.services import follow_up
from booking.tokens import cancel_url, manage_url, reschedule_url
from calendars.models import Connection
from integrations.base import BOOKING_MARKER_PROPERTY, MARKER_PROPERTY
from multical.lib import locks
from tests.syncrules.test_tasks import other_session_holding
from tests.syncrules.world import World, make_world, soon

pytestmark = pytest.mark.django_db

ATTENDEE = "grace@attendee.example"
ATTENDEE_NAME = "Grace Hopper"
ANSWER = "Compilers for everyone"


@pytest.fixture
def world(radicale_server, owner) -> World:
    Profile.objects.create(user=owner, handle="ada", display_name="Ada Host")
    return make_world(radicale_server, owner, ["work"])


@pytest.fixture
def follow(run_tasks_inline):
    """Queue the booking's follow-up and let the transaction commit, as a service would."""

    def run(booking: Booking) -> Booking:
        with run_tasks_inline():
            tasks.enqueue_follow_up(booking.id)
        booking.refresh_from_db()
        return booking

    return run


def make_booking(world: World, **fields: object) -> Booking:
    start = soon(3, 14)
    values: dict[str, object] = {
        "owner": world.connection.user,
        "title": "Intro call",
        "start": start,
        "end": start + timedelta(minutes=30),
        "attendee_name": ATTENDEE_NAME,
        "attendee_email": ATTENDEE,
        "attendee_time_zone": "America/New_York",
        "answers": [{"question": "What shall we talk about?", "answer": ANSWER}],
        "location": "zoom",
        "calendar": world.calendars["work"],
        "submission_key": uuid.uuid4().hex,
        **fields,
    }
    return Booking.objects.create(**values)


def reschedule(booking: Booking, *, hours: int = 2) -> Booking:
    booking.start += timedelta(hours=hours)
    booking.end += timedelta(hours=hours)
    booking.sequence += 1
    booking.save()
    return booking


def cancel(booking: Booking, *, by: str = Booking.Actor.OWNER, reason: str = "") -> Booking:
    booking.status = Booking.Status.CANCELLED
    booking.cancelled_by, booking.cancel_reason = by, reason
    booking.sequence += 1
    booking.save()
    return booking


def booking_events(world: World) -> list[icalendar.Event]:
    return [event for event in world.events("work") if BOOKING_MARKER_PROPERTY in event]


def sent_to(address: str) -> list[mail.EmailMessage]:
    return [message for message in mail.outbox if message.to == [address]]


def invitation(message: mail.EmailMessage) -> tuple[str, icalendar.Event]:
    """The method of the .ics attached to ``message``, and its one event."""
    ((filename, content, mimetype),) = message.attachments
    assert filename.endswith(".ics")
    calendar = icalendar.Calendar.from_ical(content)
    assert mimetype == f"text/calendar; method={calendar['METHOD']}"
    (event,) = calendar.walk("VEVENT")
    return str(calendar["METHOD"]), event


def html(message: mail.EmailMessage) -> str:
    ((body, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    return body


def zoom_calls(zoom_fake, method: str) -> list:
    return [r for r in zoom_fake.requests if r.method == method and "meetings" in r.path]


# A new booking ------------------------------------------------------------------------------------


def test_a_new_booking_gets_one_meeting_one_event_and_two_emails(world, zoom, zoom_fake, follow):
    booking = follow(make_booking(world))

    # The Zoom meeting: no recording, named after the attendee and the page, never their address.
    (meeting,) = zoom_fake.meetings.values()
    assert meeting["settings"]["auto_recording"] == "none"
    assert meeting["topic"] == f"Intro call with {ATTENDEE_NAME}"
    assert ATTENDEE not in str(zoom_fake.requests)
    assert meeting["start_time"] == f"{booking.start:%Y-%m-%dT%H:%M:%SZ}"
    assert meeting["duration"] == 30
    assert booking.zoom_meeting_id == str(meeting["id"])
    assert booking.meeting_url == meeting["join_url"]

    # The event in the page's calendar, with the booking marker (not a block's).
    (event,) = booking_events(world)
    assert str(event[BOOKING_MARKER_PROPERTY]) == str(booking.id)
    assert MARKER_PROPERTY not in event
    assert event.decoded("DTSTART") == booking.start
    assert event.decoded("DTEND") == booking.end
    assert event["SUMMARY"] == f"Intro call with {ATTENDEE_NAME}"
    for detail in (ATTENDEE_NAME, ATTENDEE, ANSWER, booking.meeting_url):
        assert detail in event["DESCRIPTION"]
    assert event["LOCATION"] == booking.meeting_url
    assert booking.remote_event_id

    # The attendee: a confirmation with the invitation, the links, the time in their zone.
    (to_attendee,) = sent_to(ATTENDEE)
    assert to_attendee.subject.startswith("Booked: Intro call with Ada Host")
    method, invite = invitation(to_attendee)
    assert method == "REQUEST"
    assert invite["SEQUENCE"] == 0
    assert invite.decoded("DTSTART") == booking.start
    assert invite["LOCATION"] == booking.meeting_url
    for link in (manage_url(booking), cancel_url(booking), reschedule_url(booking)):
        assert link in to_attendee.body
        assert link in html(to_attendee)
    local = booking.start.astimezone(ZoneInfo("America/New_York"))
    assert f"{local:%H:%M}" in to_attendee.body
    assert "(America/New York)" in to_attendee.body
    assert booking.meeting_url in to_attendee.body

    # The owner: the new booking, in their zone, with a link to it in the dashboard.
    (to_owner,) = sent_to("owner@example.com")
    assert to_owner.subject.startswith(f"New booking: {ATTENDEE_NAME}, Intro call")
    assert "(Europe/Berlin)" in to_owner.body
    assert f"http://testserver/booking/bookings/{booking.id}/" in to_owner.body
    assert ANSWER in to_owner.body and ANSWER in html(to_owner)
    assert not to_owner.attachments

    assert len(mail.outbox) == 2
    assert (booking.meeting_sequence, booking.event_sequence, booking.notified_sequence) == (
        0,
        0,
        0,
    )
    assert booking.follow_up_problems == []


def test_the_attendees_emails_keep_the_clock_they_booked_with(world, follow):
    start = soon(3, 19)  # the afternoon in New York
    booking = follow(
        make_booking(
            world,
            start=start,
            end=start + timedelta(minutes=30),
            location="phone",
            calendar=None,
            attendee_clock=Booking.Clock.TWELVE,
        )
    )
    local = booking.start.astimezone(ZoneInfo("America/New_York"))
    twelve = f"{local.hour - 12}:{local:%M} pm"

    (to_attendee,) = sent_to(ATTENDEE)
    assert twelve in to_attendee.subject
    assert twelve in to_attendee.body and twelve in html(to_attendee)
    assert f"{local:%H:%M}" not in to_attendee.body
    # The owner reads their own zone, on the 24-hour clock.
    (to_owner,) = sent_to("owner@example.com")
    owners = booking.start.astimezone(ZoneInfo("Europe/Berlin"))
    assert f"{owners:%H:%M}" in to_owner.body


def test_the_owners_emails_are_on_the_owners_clock(world, owner, follow):
    owner.clock = 12
    owner.save(update_fields=["clock"])
    start = soon(3, 14)  # the afternoon in Berlin
    booking = follow(
        make_booking(
            world, start=start, end=start + timedelta(minutes=30), location="phone", calendar=None
        )
    )

    owners = booking.start.astimezone(ZoneInfo("Europe/Berlin"))
    (to_owner,) = sent_to("owner@example.com")
    twelve = f"{owners.hour % 12 or 12}:{owners:%M} {'am' if owners.hour < 12 else 'pm'}"
    assert twelve in to_owner.subject and twelve in to_owner.body
    assert f"{owners:%H:%M}" not in to_owner.body


def test_following_up_again_changes_nothing(world, zoom, zoom_fake, follow):
    booking = follow(make_booking(world))
    requests_before, event_before = len(zoom_fake.requests), booking_events(world)

    follow(booking)
    follow(booking)

    assert len(zoom_fake.requests) == requests_before  # not even a read
    assert len(zoom_fake.meetings) == 1
    assert [e["UID"] for e in booking_events(world)] == [e["UID"] for e in event_before]
    assert len(mail.outbox) == 2


def test_a_booking_without_zoom_or_calendar_only_sends_the_emails(world, zoom_fake, follow):
    booking = follow(
        make_booking(world, location="phone", location_detail="+33 1 23 45 67 89", calendar=None)
    )

    assert zoom_fake.requests == []
    assert world.events("work") == []
    (to_attendee,) = sent_to(ATTENDEE)
    assert "+33 1 23 45 67 89" in to_attendee.body
    _, invite = invitation(to_attendee)
    assert invite["LOCATION"] == "+33 1 23 45 67 89"
    assert len(mail.outbox) == 2
    assert booking.notified_sequence == 0


# Rescheduling and cancelling -------------------------------------------------------------------


def test_a_reschedule_moves_the_meeting_and_the_event_and_tells_both(
    world, zoom, zoom_fake, follow
):
    booking = follow(make_booking(world))
    meeting_id, remote_id = booking.zoom_meeting_id, booking.remote_event_id
    (first_invite,) = [invitation(m)[1] for m in sent_to(ATTENDEE)]
    mail.outbox.clear()

    booking = follow(reschedule(booking))

    # The meeting is moved, not made again.
    (patch,) = zoom_calls(zoom_fake, "PATCH")
    assert patch.path == f"/meetings/{meeting_id}"
    assert patch.body["start_time"] == f"{booking.start:%Y-%m-%dT%H:%M:%SZ}"
    assert len(zoom_calls(zoom_fake, "POST")) == 1
    assert zoom_fake.meetings[meeting_id]["start_time"] == patch.body["start_time"]
    assert booking.zoom_meeting_id == meeting_id
    # The event is moved in place.
    (event,) = booking_events(world)
    assert booking.remote_event_id == remote_id
    assert event.decoded("DTSTART") == booking.start
    # Both are told; the invitation replaces the first one.
    (to_attendee,) = sent_to(ATTENDEE)
    assert to_attendee.subject.startswith("Moved: Intro call with Ada Host")
    method, invite = invitation(to_attendee)
    assert method == "REQUEST"
    assert invite["UID"] == first_invite["UID"]
    assert invite["SEQUENCE"] == 1
    assert invite.decoded("DTSTART") == booking.start
    assert reschedule_url(booking) in to_attendee.body
    (to_owner,) = sent_to("owner@example.com")
    assert to_owner.subject.startswith(f"Moved: {ATTENDEE_NAME}")
    assert (booking.meeting_sequence, booking.event_sequence, booking.notified_sequence) == (
        1,
        1,
        1,
    )


def test_a_cancellation_deletes_the_meeting_and_the_event_and_sends_the_cancel(
    world, zoom, zoom_fake, follow
):
    booking = follow(make_booking(world))
    booking = follow(reschedule(booking))
    meeting_id = booking.zoom_meeting_id
    (request,) = [invitation(m)[1] for m in sent_to(ATTENDEE) if m.subject.startswith("Moved")]
    mail.outbox.clear()

    booking = follow(cancel(booking, reason="I am ill, sorry."))

    (delete,) = zoom_calls(zoom_fake, "DELETE")
    assert delete.path == f"/meetings/{meeting_id}"
    assert zoom_fake.meetings == {}
    assert booking.zoom_meeting_id == booking.meeting_url == ""
    assert world.events("work") == []
    assert booking.remote_event_id == ""
    (to_attendee,) = sent_to(ATTENDEE)
    assert to_attendee.subject.startswith("Cancelled: Intro call with Ada Host")
    assert "Ada Host cancelled your meeting." in to_attendee.body
    assert "I am ill, sorry." in to_attendee.body and "I am ill, sorry." in html(to_attendee)
    assert manage_url(booking) not in to_attendee.body
    assert manage_url(booking) not in html(to_attendee)
    method, cancellation = invitation(to_attendee)
    assert method == "CANCEL"
    assert cancellation["UID"] == request["UID"]
    assert cancellation["SEQUENCE"] == 2 > request["SEQUENCE"]
    assert cancellation["STATUS"] == "CANCELLED"
    (to_owner,) = sent_to("owner@example.com")
    assert to_owner.subject.startswith(f"Cancelled: {ATTENDEE_NAME}")
    assert "You cancelled this booking" in to_owner.body
    assert (booking.meeting_sequence, booking.event_sequence, booking.notified_sequence) == (
        2,
        2,
        2,
    )

    follow(booking)
    assert len(mail.outbox) == 2
    assert len(zoom_calls(zoom_fake, "DELETE")) == 1


def test_an_attendee_cancelling_is_named_to_the_owner_with_their_reason(world, zoom, follow):
    booking = follow(make_booking(world))
    mail.outbox.clear()

    follow(cancel(booking, by=Booking.Actor.ATTENDEE, reason="Found the answer myself."))

    (to_owner,) = sent_to("owner@example.com")
    assert f"{ATTENDEE_NAME} cancelled their booking." in to_owner.body
    assert "Found the answer myself." in to_owner.body
    (to_attendee,) = sent_to(ATTENDEE)
    assert "Your meeting is cancelled, as you asked." in to_attendee.body


def test_a_booking_moved_before_its_first_follow_up_is_confirmed_once(world, zoom, follow):
    booking = follow(reschedule(make_booking(world)))

    assert booking.notified_sequence == 1
    (to_attendee,) = sent_to(ATTENDEE)
    assert to_attendee.subject.startswith("Booked:")
    assert invitation(to_attendee)[1]["SEQUENCE"] == 1
    assert len(booking_events(world)) == 1


# Failures ---------------------------------------------------------------------------------------


def test_a_crash_between_the_remote_writes_and_their_saves_duplicates_nothing(
    world, zoom, zoom_fake, follow, monkeypatch
):
    """The worker dies right after Zoom made the meeting and the calendar stored the event,
    before either step could record it; the next run finds both instead of making them again."""
    booking = make_booking(world)
    real_save = Booking.save
    crashed: list[str] = []

    def save_or_die(self, *args, **kwargs):
        fields = set(kwargs.get("update_fields") or ())
        for step in ("meeting_sequence", "event_sequence"):
            if step in fields and step not in crashed:
                crashed.append(step)
                raise RuntimeError("worker lost")
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(Booking, "save", save_or_die)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            follow_up.booking_follow_up(booking_id=booking.id)
    assert crashed == ["meeting_sequence", "event_sequence"]
    assert len(booking_events(world)) == 1 and len(zoom_fake.meetings) == 1
    assert mail.outbox == []

    booking = follow(booking)

    assert len(zoom_fake.meetings) == 1
    assert len(zoom_calls(zoom_fake, "POST")) == 1
    (event,) = booking_events(world)
    assert booking.remote_event_id.endswith(f"{event['UID']}.ics")
    assert len(mail.outbox) == 2
    assert (booking.meeting_sequence, booking.event_sequence, booking.notified_sequence) == (
        0,
        0,
        0,
    )


def test_zoom_needing_reconnect_still_books_the_event_and_tells_the_owner_once(
    world, zoom, zoom_fake, follow
):
    zoom.status = Connection.Status.NEEDS_RECONNECT
    zoom.save(update_fields=["status"])

    booking = follow(make_booking(world))

    assert zoom_fake.requests == []
    assert booking.zoom_meeting_id == booking.meeting_url == ""
    assert "Zoom" in " ".join(booking.follow_up_problem_texts)
    assert booking.meeting_sequence == -1  # still to do, once Zoom works again
    assert len(booking_events(world)) == 1
    (to_attendee,) = sent_to(ATTENDEE)
    assert "Ada Host will send you the link" in to_attendee.body
    (to_owner,) = sent_to("owner@example.com")
    assert "The Zoom meeting was not created" in to_owner.body
    assert "The Zoom meeting was not created" in html(to_owner)
    assert f"http://testserver{reverse('calendars:calendar_list')}" in to_owner.body

    follow(booking)
    assert len(mail.outbox) == 2


def test_zoom_revoked_at_zoom_is_recorded_and_the_owner_told_once(world, zoom, zoom_fake, follow):
    zoom_fake.revoke()

    booking = follow(make_booking(world))
    follow(booking)

    zoom.refresh_from_db()
    assert zoom.status == Connection.Status.NEEDS_RECONNECT
    assert zoom_fake.meetings == {}
    assert booking.follow_up_problem_texts[0].startswith("The Zoom meeting was not created")
    assert len(booking_events(world)) == 1
    assert len(sent_to(ATTENDEE)) == 1
    to_owner = sent_to("owner@example.com")
    assert sorted(m.subject.split(":")[0] for m in to_owner) == [
        "Multical can no longer reach host@zoom.example",  # once, from the connection
        "New booking",  # which says this booking has no meeting
    ]
    assert "The Zoom meeting was not created" in next(
        m.body for m in to_owner if m.subject.startswith("New booking")
    )


def test_a_zoom_outage_holds_the_emails_back_until_the_last_try(world, zoom, zoom_fake):
    zoom_fake.break_down(100)
    booking = make_booking(world)

    with pytest.raises(follow_up.ProviderError):
        follow_up.booking_follow_up(booking_id=booking.id)
    assert mail.outbox == []

    follow_up.booking_follow_up(booking_id=booking.id, last_try=True)
    booking.refresh_from_db()
    assert len(mail.outbox) == 2
    assert len(booking_events(world)) == 1
    assert booking.meeting_sequence == -1
    assert booking.follow_up_problem_texts == [
        "The Zoom meeting was not created: Zoom kept failing, and we stopped trying."
    ]


def test_a_transient_calendar_error_is_retried_later_and_duplicates_nothing(
    radicale_server, fault_proxy, owner, zoom, zoom_fake, run_tasks_inline
):
    Profile.objects.create(user=owner, handle="ada", display_name="Ada Host")
    world = make_world(radicale_server, owner, ["work"], server_url=fault_proxy.url)
    booking = make_booking(world)
    fault_proxy.fault = lambda method, path, count: 503 if method == "PUT" and count == 1 else None

    with pytest.raises(Retry) as retry, run_tasks_inline():
        tasks.enqueue_follow_up(booking.id)
    booking.refresh_from_db()

    assert retry.value.when >= 15  # backed off (with jitter), not hammering the server
    assert booking_events(world) == []
    assert booking.event_sequence == -1
    assert booking.follow_up_problem_texts[0].startswith(
        "The event in work will be written on the next try"
    )
    assert len(mail.outbox) == 2  # the e-mails did not wait for the calendar
    assert len(zoom_fake.meetings) == 1

    tasks.follow_booking.apply(args=[str(booking.id)], retries=1)  # the retry, later
    booking.refresh_from_db()

    assert fault_proxy.seen["PUT"] == 2
    assert len(booking_events(world)) == 1
    assert booking.event_sequence == 0
    assert booking.follow_up_problems == []
    assert len(zoom_fake.meetings) == 1
    assert len(zoom_calls(zoom_fake, "POST")) == 1
    assert len(mail.outbox) == 2


def test_a_calendar_that_refuses_for_good_is_recorded_and_the_rest_goes_on(
    radicale_server, fault_proxy, owner, zoom, follow
):
    Profile.objects.create(user=owner, handle="ada", display_name="Ada Host")
    world = make_world(radicale_server, owner, ["work"], server_url=fault_proxy.url)
    fault_proxy.fault = lambda method, path, count: 403 if method == "PUT" else None

    booking = follow(make_booking(world))

    world.connection.refresh_from_db()
    assert world.connection.status == Connection.Status.NEEDS_RECONNECT
    assert booking.event_sequence == -1
    assert booking.follow_up_problem_texts[0].startswith("The event in work was not written")
    assert len(sent_to(ATTENDEE)) == 1
    (to_owner,) = [m for m in sent_to("owner@example.com") if m.subject.startswith("New")]
    assert "The event in work was not written" in to_owner.body


def test_a_mail_server_failing_after_the_attendees_email_does_not_send_it_twice(
    world, zoom, monkeypatch
):
    booking = make_booking(world)
    real_send = follow_up.send_templated_email
    failures = [OSError("mail server went away")]

    def send_or_fail(*, to, **kwargs):
        if to == "owner@example.com" and failures:
            raise failures.pop()
        real_send(to=to, **kwargs)

    monkeypatch.setattr(follow_up, "send_templated_email", send_or_fail)
    with pytest.raises(OSError):
        follow_up.booking_follow_up(booking_id=booking.id)
    follow_up.booking_follow_up(booking_id=booking.id)
    booking.refresh_from_db()

    assert len(sent_to(ATTENDEE)) == 1
    assert len(sent_to("owner@example.com")) == 1
    assert booking.notified_sequence == 0


# One at a time, ids only --------------------------------------------------------------------------


def test_a_follow_up_finding_another_running_leaves_it_to_go_once_more(world, zoom, zoom_fake):
    booking = make_booking(world)
    other = other_session_holding(follow_up.follow_up_lock_name(booking.id))  # another worker
    try:
        follow_up.booking_follow_up(booking_id=booking.id)

        assert zoom_fake.requests == [] and mail.outbox == []
        assert cache.get(f"booking:follow-up:again:{booking.id}")
    finally:
        other.execute("SELECT pg_advisory_unlock_all()")
        other.close()
    cache.delete(f"booking:follow-up:again:{booking.id}")


def in_another_worker(function, **kwargs: object) -> None:
    """Run ``function`` in a thread of its own, with a database session of its own (its locks
    are not this session's), and wait for it."""

    def run() -> None:
        try:
            function(**kwargs)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def test_a_change_during_a_follow_up_is_followed_at_its_end(world, zoom, zoom_fake, monkeypatch):
    booking = make_booking(world)
    real_follow = follow_up._follow
    runs: list[int] = []

    def follow_and_meanwhile_a_reschedule(booking_id: str, *, last_try: bool) -> None:
        real_follow(booking_id, last_try=last_try)
        runs.append(Booking.objects.get(id=booking_id).notified_sequence)
        if len(runs) == 1:  # committed by a request while this worker was busy
            reschedule(Booking.objects.get(id=booking_id))
            in_another_worker(follow_up.booking_follow_up, booking_id=booking_id)

    monkeypatch.setattr(follow_up, "_follow", follow_and_meanwhile_a_reschedule)
    follow_up.booking_follow_up(booking_id=booking.id)
    booking.refresh_from_db()

    assert runs == [0, 1]
    assert [m.subject.split(":")[0] for m in sent_to(ATTENDEE)] == ["Booked", "Moved"]
    (event,) = booking_events(world)
    assert event.decoded("DTSTART") == booking.start
    assert len(zoom_calls(zoom_fake, "PATCH")) == 1
    assert locks.held([follow_up.follow_up_lock_name(booking.id)]) == set()


def test_a_follow_up_left_unfinished_is_queued_again_unless_running_or_waiting(world, monkeypatch):
    now = timezone.now()
    hours = iter(range(9, 18))

    def booking(**fields: object) -> Booking:  # each at its own time
        start = soon(3, next(hours))
        return make_booking(world, start=start, end=start + timedelta(minutes=30), **fields)

    left = booking()
    booking(notified_sequence=0)  # finished
    just_made = booking()
    # A meeting over for more than a day.
    make_booking(world, start=now - timedelta(days=3), end=now - timedelta(days=2))
    waiting = booking()
    running = booking()
    Booking.objects.exclude(id=just_made.id).update(updated_at=now - timedelta(minutes=5))
    follow_up.follow_up_waits(waiting.id, seconds=600)  # a retry's countdown
    queued: list[str] = []
    monkeypatch.setattr(tasks.follow_booking, "delay", queued.append)

    other = other_session_holding(follow_up.follow_up_lock_name(running.id))
    try:
        tasks.resume_follow_ups.run()
    finally:
        other.execute("SELECT pg_advisory_unlock_all()")
        other.close()
    assert queued == [str(left.id)]

    tasks.resume_follow_ups.run()  # the other worker is gone, its lock with it
    assert sorted(queued[1:]) == sorted([str(left.id), str(running.id)])
    cache.delete(f"booking:follow-up:waiting:{waiting.id}")


def test_no_event_content_in_task_arguments_or_logs(
    world, zoom, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    booking = make_booking(world)
    sent: list[tuple] = []
    monkeypatch.setattr(tasks.follow_booking, "delay", lambda *args, **kw: sent.append((args, kw)))
    with django_capture_on_commit_callbacks(execute=True):
        tasks.enqueue_follow_up(booking.id)
    assert sent == [((str(booking.id),), {})]

    caplog.set_level(logging.DEBUG, logger="booking")
    caplog.set_level(logging.DEBUG, logger="calendars")
    caplog.set_level(logging.DEBUG, logger="integrations")
    caplog.set_level(logging.INFO)
    for change in (lambda b: b, reschedule, cancel):
        booking = change(booking)
        tasks.follow_booking.apply(args=[str(booking.id)])
        booking.refresh_from_db()

    assert f"booking {booking.id} followed up to sequence 2" in caplog.text
    for content in (ATTENDEE_NAME, ATTENDEE, ANSWER, "Intro call", "zoom.example/j/"):
        assert content not in caplog.text
