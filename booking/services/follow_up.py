"""The outside world follows a booking row: its Zoom meeting, its calendar event, its e-mails.

The services change the row (status, times, and ``sequence`` on every change the attendee is told
about) and queue ``booking_follow_up``. It brings three things up to ``booking.sequence``, each
only when the sequence it last caught up with is lower, and records that sequence the moment the
step succeeds; so however often it runs, and wherever an earlier run stopped, nothing is done twice.

1. The Zoom meeting (Zoom bookings only): created once, then moved, deleted on cancellation.
2. The event in the calendar the page wrote into: written with our booking marker, moved, deleted.
   Without a stored remote id it is looked for by its marker first, so a create whose answer was
   lost (a crash, a timeout) is found instead of written twice.
3. The e-mails: the attendee's (with the invitation as an ``.ics`` file), in the language they
   booked in, and the owner's, in theirs (``accounts.languages.owner_language``).

A transient Zoom failure stops the run (the e-mails would otherwise go out without the link; on
the last try they go without it). A transient calendar failure does not hold the e-mails back: they
go, and then the run fails so the task retries the event. Permanent failures (Zoom or a calendar
that needs reconnecting) are recorded on the connection and in ``follow_up_problems``, and the
owner's e-mail says what is missing; the step is not recorded as done, so a later run tries it
again. A problem is kept as English messages with their values (``Booking.follow_up_problems``), so
the owner reads it in their own language on the booking's page and in the e-mail.

One follow-up of a booking runs at a time, under a lock that dies with its holder (a PostgreSQL
advisory lock, ``multical.lib.locks``): a worker killed midway frees it at once, and the task
handed out again carries on where the dead one stopped. A run that finds the lock taken leaves a
mark and tries the lock once more; the holder, after releasing it, goes once more if it finds the
mark. Whichever of the two comes second sees the other's step, so a change committed while a
follow-up runs is never left for the next change to carry. A follow-up whose task is lost with
its whole worker is queued again by the sweeper (``follow_ups_unfinished``, beat entry
``resume-follow-ups``): the intent is the row's ``sequence``, not the broker's message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import F
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_noop

from accounts.languages import owner_language
from accounts.selectors import wants_booking_emails
from booking.ics import booking_ics, host_name, ics_mimetype, where
from booking.models import Booking, BookingPage, problem_text
from booking.public_display import format_when
from booking.tokens import cancel_url, manage_url, reschedule_url
from calendars import zoom_tokens
from calendars.models import Connection
from calendars.selectors import provider_for_connection
from calendars.services import connection_keep_refreshed_secrets, connection_record_error
from calendars.zoom_tokens import client_for_connection
from integrations.base import BlockSpec, MarkerKind, ProviderError, Transparency
from integrations.zoom import client as zoom_client
from multical.lib.email import Attachment, send_templated_email
from multical.lib.locks import held, try_lock

logger = logging.getLogger(__name__)

# How long a follow-up finding another running leaves its "go once more" flag: longer than the
# slowest follow-up.
AGAIN_SECONDS = 10 * 60
# How old an unfinished change must be before the sweeper queues its follow-up again.
SWEEP_AFTER = timedelta(minutes=2)
# How long the mark that the attendee's e-mail went out is kept (longer than every retry).
SENT_MARK_SECONDS = 3 * 24 * 3600
# Connections we may use: not waiting for the user to reconnect, disconnected or being removed.
# Zoom's answers that mean the authorization is gone (the connection needs the user), as opposed
# to a refusal about one meeting.
ZOOM_AUTHORIZATION_GONE = (zoom_client.REFUSED, zoom_tokens.NOT_CONNECTED)
ZOOM_NOT_CONNECTED = gettext_noop("Zoom is not connected (or needs reconnecting).")
ZOOM_KEPT_FAILING = gettext_noop("Zoom kept failing, and we stopped trying.")
NEEDS_RECONNECTING = gettext_noop("%(account)s needs reconnecting.")
# What was not done, by step and action; the reason follows the colon.
MEETING_NOT_DONE = {
    "created": gettext_noop("The Zoom meeting was not created: %(reason)s."),
    "moved": gettext_noop("The Zoom meeting was not moved: %(reason)s."),
    "deleted": gettext_noop("The Zoom meeting was not deleted: %(reason)s."),
}
EVENT_NOT_DONE = {
    "written": gettext_noop("The event in %(calendar)s was not written: %(reason)s."),
    "deleted": gettext_noop("The event in %(calendar)s was not deleted: %(reason)s."),
}
EVENT_RETRIED = {
    "written": gettext_noop(
        "The event in %(calendar)s will be written on the next try: %(reason)s."
    ),
    "deleted": gettext_noop(
        "The event in %(calendar)s will be deleted on the next try: %(reason)s."
    ),
}

# One problem: a message, its values, and the reason it gives (see ``booking.models.problem_text``).
Problem = dict[str, Any]


def _problem(
    message: str,
    reason: str,
    *,
    reason_params: Mapping[str, str | int] | None = None,
    **params: str,
) -> Problem:
    return {
        "message": message,
        "params": params,
        "reason": {"message": reason, "params": dict(reason_params or {})},
    }


@dataclass
class _Run:
    booking: Booking
    last_try: bool
    # What this run could not do, for the owner.
    problems: list[Problem] = field(default_factory=list)
    # A calendar failure worth retrying, raised once the e-mails are out, and its note.
    retry: ProviderError | None = None
    retry_note: Problem | None = None


def booking_follow_up(*, booking_id: str, last_try: bool = False) -> None:
    """Bring the booking's meeting, event and e-mails up to its sequence, or raise a transient
    ``ProviderError`` for the caller to retry. ``last_try``: the e-mails go out even if Zoom
    is still failing.

    One follow-up of a booking runs at a time, under a lock that dies with its holder
    (``multical.lib.locks``): a worker killed midway holds nothing up, and the task handed out
    again (or queued again by ``follow_ups_unfinished``) carries on at once. A follow-up finding
    another running leaves a flag for it to go once more, as the change it was asked for may have
    committed after the running one read the row."""
    booking_id = str(booking_id)
    again_key = f"booking:follow-up:again:{booking_id}"
    while True:
        if not _follow_if_free(booking_id, again_key=again_key, last_try=last_try):
            cache.set(again_key, True, timeout=AGAIN_SECONDS)
            # The running one may have ended before it could see the flag: try once more.
            if not _follow_if_free(booking_id, again_key=again_key, last_try=last_try):
                return  # the running follow-up goes once more for us
        if not cache.get(again_key):
            return


def follow_up_lock_name(booking_id: object) -> str:
    return f"booking:follow-up:{booking_id}"


def _follow_if_free(booking_id: str, *, again_key: str, last_try: bool) -> bool:
    """Follow the booking up unless another follow-up of it is running; whether this one ran."""
    with try_lock(follow_up_lock_name(booking_id)) as held:
        if held:
            cache.delete(again_key)  # this run reads the row afresh: it covers earlier requests
            _follow(booking_id, last_try=last_try)
    return held


def follow_ups_unfinished(*, now: datetime, limit: int = 500) -> list[str]:
    """Bookings whose follow-up has not caught up with their latest change and is neither running
    nor waiting for its retry: a worker died with it (the whole worker, whose unacknowledged task
    the broker hands out again only after its visibility timeout), or its message was lost.

    A booking is finished once its e-mails went out for its sequence (the last step, taken on the
    last try even when Zoom or the calendar failed); only changes older than ``SWEEP_AFTER`` and
    meetings not long over are looked at, so a follow-up on its way is left alone."""
    candidates = [
        str(booking_id)
        for booking_id in Booking.objects.filter(
            notified_sequence__lt=F("sequence"),
            updated_at__lt=now - SWEEP_AFTER,
            end__gt=now - timedelta(days=1),
        )
        .order_by("updated_at")
        .values_list("id", flat=True)[:limit]
    ]
    waiting = cache.get_many([_waiting_key(booking_id) for booking_id in candidates])
    running = held(follow_up_lock_name(booking_id) for booking_id in candidates)
    return [
        booking_id
        for booking_id in candidates
        if _waiting_key(booking_id) not in waiting
        and follow_up_lock_name(booking_id) not in running
    ]


def follow_up_waits(booking_id: object, *, seconds: float) -> None:
    """Note that the booking's follow-up is to be tried again in ``seconds`` (a retry's
    countdown), so ``follow_ups_unfinished`` does not hurry it. A hint only: were it lost, the
    retry would merely come early."""
    cache.set(_waiting_key(booking_id), True, timeout=int(seconds) + 120)


def _waiting_key(booking_id: object) -> str:
    return f"booking:follow-up:waiting:{booking_id}"


def _follow(booking_id: str, *, last_try: bool) -> None:
    booking = (
        Booking.objects.select_related("owner", "owner__booking_profile", "calendar__connection")
        .filter(id=booking_id)
        .first()
    )
    if booking is None:
        return  # deleted meanwhile: nothing left to follow
    run = _Run(booking=booking, last_try=last_try)
    _follow_meeting(run)
    _follow_event(run)
    _follow_emails(run)
    problems = [*run.problems, *([run.retry_note] if run.retry_note else [])]
    if problems != booking.follow_up_problems:
        booking.follow_up_problems = problems
        booking.save(update_fields=["follow_up_problems"])
    if run.retry is not None:
        logger.info("booking %s: calendar event to be retried", booking.id)
        raise run.retry
    logger.info("booking %s followed up to sequence %s", booking.id, booking.sequence)


# 1. The Zoom meeting --------------------------------------------------------------------------


def _zoom_connection(booking: Booking) -> Connection | None:
    connection = (
        Connection.objects.filter(user_id=booking.owner_id, kind=Connection.Kind.ZOOM)
        .exclude(status=Connection.Status.REMOVING)
        .first()
    )
    if connection is None or not connection.is_usable or not connection.secrets:
        return None
    return connection


def _meeting_topic(booking: Booking) -> str:
    """The page's title and the attendee's name, never their address (Zoom shows the topic)."""
    return f"{booking.title} with {booking.attendee_name}"[:200]


def _follow_meeting(run: _Run) -> None:
    booking = run.booking
    if (
        booking.location != BookingPage.Location.ZOOM
        or booking.meeting_sequence >= booking.sequence
    ):
        return
    if booking.team_lead_id is not None:
        _follow_lead_meeting(run)
        return
    if booking.is_cancelled and not booking.zoom_meeting_id:
        _meeting_done(booking)
        return
    action = (
        "deleted" if booking.is_cancelled else ("moved" if booking.zoom_meeting_id else "created")
    )
    connection = _zoom_connection(booking)
    if connection is None:
        run.problems.append(_problem(MEETING_NOT_DONE[action], ZOOM_NOT_CONNECTED))
        logger.warning("booking %s: no usable Zoom connection", booking.id)
        return
    client = client_for_connection(connection)
    meeting: dict[str, Any] = {
        "topic": _meeting_topic(booking),
        "start": booking.start,
        "duration_minutes": int((booking.end - booking.start).total_seconds() // 60),
        "time_zone": booking.owner.time_zone,
    }
    try:
        if booking.is_cancelled:
            client.delete_meeting(booking.zoom_meeting_id)  # one already gone is fine
            booking.zoom_meeting_id = booking.meeting_url = ""
        elif booking.zoom_meeting_id:
            client.update_meeting(booking.zoom_meeting_id, **meeting)
        else:
            created = client.create_meeting(**meeting)
            booking.zoom_meeting_id, booking.meeting_url = created.id, created.join_url
            # Stored the moment Zoom answers: Zoom has no way to find a meeting made twice.
            booking.save(update_fields=["zoom_meeting_id", "meeting_url"])
    except ProviderError as error:
        if not error.permanent and not run.last_try:
            raise
        if error.msgid in ZOOM_AUTHORIZATION_GONE:
            connection_record_error(connection=connection, error=error)
        run.problems.append(
            _problem(MEETING_NOT_DONE[action], error.msgid, reason_params=error.params)
            if error.permanent
            else _problem(MEETING_NOT_DONE[action], ZOOM_KEPT_FAILING)
        )
        logger.warning("booking %s: Zoom meeting not %s", booking.id, action)
        return
    _meeting_done(booking)


def _follow_lead_meeting(run: _Run) -> None:
    """A seat of a collective team booking shares its lead's one Zoom meeting: it waits (a
    transient error, retried) until the lead's follow-up has made it, unless this is the last try."""
    booking = run.booking
    lead = booking.team_lead
    if booking.is_cancelled or lead is None:
        booking.meeting_url = ""
    elif lead.meeting_sequence < lead.sequence and not run.last_try:
        raise ProviderError("The team's Zoom meeting is not made yet.", permanent=False)
    else:
        booking.meeting_url = lead.meeting_url
    _meeting_done(booking)


def _meeting_done(booking: Booking) -> None:
    booking.meeting_sequence = booking.sequence
    booking.save(update_fields=["zoom_meeting_id", "meeting_url", "meeting_sequence"])


# 2. The calendar event ------------------------------------------------------------------------


def _event_spec(booking: Booking) -> BlockSpec:
    lines = [
        f"Booked through {booking.title}",
        f"Attendee: {booking.attendee_name} <{booking.attendee_email}>",
    ]
    location = where(booking)
    if location:
        lines.append(f"{booking.get_location_display()}: {location}")
    for answer in booking.answers:
        lines.append(f"{answer.get('question', '')}: {answer.get('answer', '')}")
    lines.append(f"Details: {_booking_detail_url(booking)}")
    return BlockSpec(
        block_id=str(booking.id),
        kind=MarkerKind.BOOKING,
        start=booking.start,
        end=booking.end,
        all_day=False,
        title=f"{booking.title} with {booking.attendee_name}",
        description="\n".join(lines),
        location=location,
        transparency=Transparency.BUSY,
    )


def _follow_event(run: _Run) -> None:
    booking = run.booking
    calendar = booking.calendar
    if calendar is None or booking.event_sequence >= booking.sequence:
        return
    connection = calendar.connection
    action = "deleted" if booking.is_cancelled else "written"
    if not connection.is_usable or not connection.secrets:
        run.problems.append(
            _problem(
                EVENT_NOT_DONE[action],
                NEEDS_RECONNECTING,
                reason_params={"account": connection.label},
                calendar=calendar.name,
            )
        )
        logger.warning("booking %s: calendar connection not usable", booking.id)
        return
    provider = provider_for_connection(connection)
    try:
        # Nothing stored: a create may have landed before its answer was lost; look first.
        remote_id = booking.remote_event_id or provider.find_block(
            calendar.remote_id, str(booking.id), kind=MarkerKind.BOOKING
        )
        if booking.is_cancelled:
            if remote_id:
                provider.delete_event(calendar.remote_id, remote_id)
            booking.remote_event_id = ""
        else:
            booking.remote_event_id = provider.put_block(
                calendar.remote_id, _event_spec(booking), remote_id=remote_id or None
            )
    except ProviderError as error:
        if not error.permanent:
            run.retry = error
            run.retry_note = _problem(
                EVENT_RETRIED[action],
                error.msgid,
                reason_params=error.params,
                calendar=calendar.name,
            )
            return
        connection_record_error(connection=connection, error=error)
        run.problems.append(
            _problem(
                EVENT_NOT_DONE[action],
                error.msgid,
                reason_params=error.params,
                calendar=calendar.name,
            )
        )
        logger.warning("booking %s: calendar event not %s", booking.id, action)
        return
    finally:
        connection_keep_refreshed_secrets(connection=connection, provider=provider)
    booking.event_sequence = booking.sequence
    booking.save(update_fields=["remote_event_id", "event_sequence"])


# 3. The e-mails -------------------------------------------------------------------------------

BOOKED, RESCHEDULED, CANCELLED = "booked", "rescheduled", "cancelled"


def _follow_emails(run: _Run) -> None:
    booking = run.booking
    if booking.notified_sequence >= booking.sequence:
        return
    if booking.is_cancelled:
        kind = CANCELLED
    else:
        # Moved before the first e-mail went out: the attendee still needs the confirmation.
        kind = BOOKED if booking.notified_sequence < 0 else RESCHEDULED
    # The owner's e-mail can fail after the attendee's went out: the retry must not resend it.
    sent_key = f"booking:notified:{booking.id}:{booking.sequence}"
    # A collective team booking's seats: the attendee hears once, from the lead's follow-up.
    if booking.team_lead_id is None and not cache.get(sent_key):
        _send_to_attendee(booking, kind)
        cache.set(sent_key, True, timeout=SENT_MARK_SECONDS)
    _send_to_owner(booking, kind, run.problems)
    booking.notified_sequence = booking.sequence
    booking.save(update_fields=["notified_sequence"])
    cache.delete(sent_key)


def _send_to_attendee(booking: Booking, kind: str) -> None:
    with translation.override(booking.language):
        _send_attendee_email(booking, kind)


def _send_attendee_email(booking: Booking, kind: str) -> None:
    context = {
        **_common_context(
            booking, booking.attendee_time_zone, booking.attendee_clock, booking.language
        ),
        "host_name": host_name(booking),
        # The host cancelled with a reason: the attendee is told it. (The attendee knows theirs.)
        "host_cancelled": booking.cancelled_by == Booking.Actor.OWNER,
        "zoom_link_missing": (
            booking.location == BookingPage.Location.ZOOM and not booking.meeting_url
        ),
    }
    if kind != CANCELLED:
        context.update(
            manage_url=manage_url(booking),
            cancel_url=cancel_url(booking),
            reschedule_url=reschedule_url(booking),
        )
    send_templated_email(
        to=booking.attendee_email,
        template=f"booking/email/attendee-{kind}",
        context=context,
        attachments=[Attachment("invite.ics", booking_ics(booking), ics_mimetype(booking))],
    )


def _send_to_owner(booking: Booking, kind: str, problems: list[Problem]) -> None:
    if not wants_booking_emails(booking.owner):
        return
    # The owner's language, whatever language the attendee's request was in.
    with translation.override(owner_language(booking.owner)):
        _send_owner_email(booking, kind, problems)


def _send_owner_email(booking: Booking, kind: str, problems: list[Problem]) -> None:
    context = {
        **_common_context(
            booking, booking.owner.time_zone, booking.owner.clock, translation.get_language()
        ),
        "booking_url": _booking_detail_url(booking),
        "calendars_url": settings.SITE_URL + reverse("calendars:calendar_list"),
        "attendee_cancelled": booking.cancelled_by == Booking.Actor.ATTENDEE,
        "problems": [problem_text(problem) for problem in problems],
    }
    send_templated_email(
        to=booking.owner.email, template=f"booking/email/owner-{kind}", context=context
    )


def _common_context(
    booking: Booking, zone_name: str, clock: int = 24, language: str = "en"
) -> dict[str, Any]:
    place = where(booking)
    return {
        "booking": booking,
        "when": format_when(booking.start, booking.end, zone_name, clock, language),
        "where": place,
        "where_label": booking.get_location_display(),
        "where_is_link": (
            booking.location in (BookingPage.Location.ZOOM, BookingPage.Location.LINK)
            and place.startswith(("https://", "http://"))
        ),
    }


def _booking_detail_url(booking: Booking) -> str:
    return settings.SITE_URL + reverse("booking:booking_detail", args=[booking.id])
