"""The user's own Google events from the portfolio: read, create, change, delete, answer.

Against the local fake of Calendar v3 through the real client library, as the provider's other
tests. The ids are those ``changes`` gives (instance ids for recurring events).
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest

from integrations.base import (
    ActionRefused,
    BlockSpec,
    EditScope,
    EventConflict,
    EventDraft,
    MarkerKind,
    ProviderError,
    Response,
    Window,
)
from integrations.google.provider import (
    BLOCK_REFUSED,
    BOOKING_REFUSED,
    GONE,
    NOT_INVITED,
    READ_ONLY,
    GoogleProvider,
)

if TYPE_CHECKING:
    from tests.fakes.google import GoogleFake

CALENDAR = "owner@example.com"
BERLIN = ZoneInfo("Europe/Berlin")
WINDOW = Window(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 3, 1, tzinfo=UTC))
WEEKLY_4 = ["RRULE:FREQ=WEEKLY;COUNT=4"]


def berlin(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
    return datetime(2030, month, day, hour, minute, tzinfo=BERLIN)


def draft(start: datetime, end: datetime, title: str = "Planning", **changes) -> EventDraft:
    return EventDraft(title=title, start=start, end=end, time_zone="Europe/Berlin", **changes)


@pytest.fixture
def fake(google_fake: GoogleFake) -> GoogleFake:
    google_fake.add_calendar(CALENDAR, "Work", time_zone="Europe/Berlin")
    return google_fake


@pytest.fixture
def provider(fake: GoogleFake) -> GoogleProvider:
    return GoogleProvider.from_secrets(fake.grant())


@pytest.fixture
def standup(fake: GoogleFake) -> str:
    """Four weekly standups, Mondays 9:00-9:15 in Berlin from 7 January 2030."""
    return fake.add_event(
        CALENDAR,
        "Standup",
        berlin(7, 9),
        berlin(7, 9, 15),
        time_zone="Europe/Berlin",
        recurrence=WEEKLY_4,
    )


def instance(fake: GoogleFake, series: str, day: int, hour: int = 9, minute: int = 0) -> str:
    return fake.instance_id(series, berlin(day, hour, minute))


def shown(fake: GoogleFake) -> list[tuple[str, datetime, datetime]]:
    """What the calendar shows now: (title, start, end) of every live instance, in time order."""
    events = []
    for item in fake.live_events(CALENDAR):
        start = datetime.fromisoformat(item["start"]["dateTime"]).astimezone(BERLIN)
        end = datetime.fromisoformat(item["end"]["dateTime"]).astimezone(BERLIN)
        events.append((item["summary"], start, end))
    return events


def writes(fake: GoogleFake) -> list:
    return [r for r in fake.requests if r.method != "GET"]


# What can be done, and reading one event ----------------------------------------------------------


def test_every_scope_and_answers_to_invitations_are_offered(provider):
    actions = provider.event_actions()

    assert actions.scopes == frozenset(EditScope)
    assert actions.replies


def test_an_instance_is_read_by_the_id_changes_gave_with_its_version_link_and_roles(
    fake, provider, standup
):
    second = instance(fake, standup, 14)
    assert second in {e.id for e in provider.changes(CALENDAR, "", WINDOW).events}

    detail = provider.get_event(CALENDAR, second)

    assert detail.event.id == second
    assert detail.event.series_id == standup
    assert detail.event.title == "Standup"
    assert detail.event.start == berlin(14, 9)
    assert detail.recurring
    assert detail.etag and detail.etag == fake.event(CALENDAR, second)["etag"]
    assert detail.web_link.startswith("https://www.google.com/calendar/event?eid=")
    assert detail.event.time_zone == "Europe/Berlin"
    assert detail.organizer
    assert not detail.can_reply


def test_an_invitation_is_read_as_someone_elses_event_the_owner_can_answer(fake, provider):
    invitation = fake.add_invitation(CALENDAR, "Board meeting", berlin(9, 14), berlin(9, 15))

    detail = provider.get_event(CALENDAR, invitation)

    assert not detail.recurring
    assert not detail.organizer
    assert detail.can_reply
    assert detail.event.response == Response.NEEDS_ACTION


def test_an_event_that_is_gone_is_refused_in_plain_words(fake, provider):
    single = fake.add_event(CALENDAR, "Dentist", berlin(9, 14), berlin(9, 15))
    fake.delete_event(CALENDAR, single)

    for event_id in (single, "neverexisted1"):
        with pytest.raises(ActionRefused) as refused:
            provider.get_event(CALENDAR, event_id)
        assert refused.value.message == GONE


# Creating --------------------------------------------------------------------------------------------


def test_a_created_event_is_an_ordinary_event_timed_in_the_drafts_zone(fake, provider):
    created = provider.create_event(
        CALENDAR,
        draft(berlin(9, 14), berlin(9, 15, 30), location="Room 4", description="Agenda"),
    )

    stored = fake.event(CALENDAR, created.event.id)
    assert stored["start"] == {"dateTime": "2030-01-09T14:00:00+01:00", "timeZone": "Europe/Berlin"}
    assert stored["end"] == {"dateTime": "2030-01-09T15:30:00+01:00", "timeZone": "Europe/Berlin"}
    assert "extendedProperties" not in stored
    assert (stored["summary"], stored["location"], stored["description"]) == (
        "Planning",
        "Room 4",
        "Agenda",
    )
    assert created.event.start == berlin(9, 14)
    assert created.event.end == berlin(9, 15, 30)
    assert not created.event.ours and not created.event.booking_id
    assert created.etag == stored["etag"]
    assert created.web_link == stored["htmlLink"]
    assert created.organizer and not created.recurring
    insert = writes(fake)[-1]
    assert insert.method == "POST"
    assert insert.query["sendUpdates"] == ["none"]
    # A new event in the next read, as any other.
    assert created.event.id in {e.id for e in provider.changes(CALENDAR, "", WINDOW).events}


def test_an_all_day_event_is_created_with_dates(fake, provider):
    start = datetime(2030, 1, 9, tzinfo=UTC)

    created = provider.create_event(
        CALENDAR, draft(start, start + timedelta(days=2), title="Offsite", all_day=True)
    )

    stored = fake.event(CALENDAR, created.event.id)
    assert stored["start"] == {"date": "2030-01-09"}
    assert stored["end"] == {"date": "2030-01-11"}
    assert created.event.all_day
    assert created.event.start.date() == date(2030, 1, 9)


def test_creating_in_a_read_only_calendar_is_refused_in_plain_words(fake, provider):
    fake.add_calendar("holidays@example.com", "Holidays", access_role="reader")

    with pytest.raises(ActionRefused) as refused:
        provider.create_event("holidays@example.com", draft(berlin(9, 14), berlin(9, 15)))

    assert refused.value.message == READ_ONLY
    assert not refused.value.permanent  # the connection is fine


# Changing -------------------------------------------------------------------------------------------


def test_a_single_event_is_moved_and_rewritten_as_a_whole(fake, provider):
    single = fake.add_event(
        CALENDAR, "Dentist", berlin(9, 14), berlin(9, 15), location="Old street"
    )

    changed = provider.update_event(
        CALENDAR,
        single,
        draft(berlin(10, 8), berlin(10, 9), title="Dentist (moved)"),
        scope=EditScope.ALL,
    )

    assert changed.event.id == single
    assert shown(fake) == [("Dentist (moved)", berlin(10, 8), berlin(10, 9))]
    assert not fake.event(CALENDAR, single).get("location")  # cleared, as the draft says
    patch = writes(fake)[-1]
    assert (patch.method, patch.query["sendUpdates"]) == ("PATCH", ["all"])


def test_a_timed_event_can_become_an_all_day_one(fake, provider):
    single = fake.add_event(
        CALENDAR, "Dentist", berlin(9, 14), berlin(9, 15), time_zone="Europe/Berlin"
    )
    day = datetime(2030, 1, 9, tzinfo=UTC)

    changed = provider.update_event(
        CALENDAR, single, draft(day, day + timedelta(days=1), all_day=True)
    )

    assert changed.event.all_day
    assert fake.event(CALENDAR, single)["start"] == {"date": "2030-01-09"}


def test_changing_this_instance_changes_only_it(fake, provider, standup):
    second = instance(fake, standup, 14)

    changed = provider.update_event(
        CALENDAR, second, draft(berlin(15, 10), berlin(15, 11)), scope=EditScope.THIS
    )

    assert changed.event.id == second
    assert changed.recurring
    assert shown(fake) == [
        ("Standup", berlin(7, 9), berlin(7, 9, 15)),
        ("Planning", berlin(15, 10), berlin(15, 11)),
        ("Standup", berlin(21, 9), berlin(21, 9, 15)),
        ("Standup", berlin(28, 9), berlin(28, 9, 15)),
    ]
    assert writes(fake)[-1].path.endswith(f"/events/{second}")


def test_changing_all_instances_moves_their_time_of_day_and_each_keeps_its_date(
    fake, provider, standup
):
    second = instance(fake, standup, 14)

    # Dragged to Tuesday 10:30-11:00: for the series, only the time of day and length count.
    changed = provider.update_event(
        CALENDAR, second, draft(berlin(15, 10, 30), berlin(15, 11)), scope=EditScope.ALL
    )

    assert shown(fake) == [
        ("Planning", berlin(day, 10, 30), berlin(day, 11)) for day in (7, 14, 21, 28)
    ]
    master = fake.event(CALENDAR, standup)
    assert master["start"] == {"dateTime": "2030-01-07T10:30:00+01:00", "timeZone": "Europe/Berlin"}
    assert master["recurrence"] == WEEKLY_4
    # The instance on the same date, as it is now (its id follows its new start).
    assert changed.event.start == berlin(14, 10, 30)
    assert changed.event.series_id == standup
    assert changed.event.id == instance(fake, standup, 14, 10, 30)


def test_changing_this_and_following_splits_the_series_at_this_instance(fake, provider, standup):
    third = instance(fake, standup, 21)

    changed = provider.update_event(
        CALENDAR, third, draft(berlin(21, 10, 30), berlin(21, 11)), scope=EditScope.FOLLOWING
    )

    assert shown(fake) == [
        ("Standup", berlin(7, 9), berlin(7, 9, 15)),
        ("Standup", berlin(14, 9), berlin(14, 9, 15)),
        ("Planning", berlin(21, 10, 30), berlin(21, 11)),
        ("Planning", berlin(28, 10, 30), berlin(28, 11)),
    ]
    # The original ends the second before the split instance (UNTIL is inclusive, in UTC).
    assert fake.event(CALENDAR, standup)["recurrence"] == [
        "RRULE:FREQ=WEEKLY;UNTIL=20300121T075959Z"
    ]
    new_series = changed.event.series_id
    assert new_series != standup
    assert fake.event(CALENDAR, new_series)["recurrence"] == ["RRULE:FREQ=WEEKLY;COUNT=2"]
    assert changed.event.start == berlin(21, 10, 30)
    assert changed.recurring
    # The new series is written first, so a failure in between never loses instances.
    assert [r.method for r in writes(fake)] == ["POST", "PATCH"]


def test_a_failed_split_takes_the_new_series_back(fake, provider, standup):
    third = instance(fake, standup, 21)
    fake.fail_next(1, status=503, methods=("PATCH",))

    with pytest.raises(ProviderError):
        provider.update_event(
            CALENDAR, third, draft(berlin(21, 10), berlin(21, 11)), scope=EditScope.FOLLOWING
        )

    assert shown(fake) == [
        ("Standup", berlin(day, 9), berlin(day, 9, 15)) for day in (7, 14, 21, 28)
    ]


def test_this_and_following_from_the_first_instance_changes_the_whole_series(
    fake, provider, standup
):
    first = instance(fake, standup, 7)

    provider.update_event(
        CALENDAR, first, draft(berlin(7, 10), berlin(7, 10, 30)), scope=EditScope.FOLLOWING
    )

    assert shown(fake) == [
        ("Planning", berlin(day, 10), berlin(day, 10, 30)) for day in (7, 14, 21, 28)
    ]
    assert not [r for r in writes(fake) if r.method == "POST"]


def test_an_all_day_series_is_split_with_a_date_until(fake, provider):
    series = fake.add_event(
        CALENDAR, "Gym", date(2030, 1, 7), date(2030, 1, 8), recurrence=["RRULE:FREQ=DAILY"]
    )
    day = datetime(2030, 1, 10, tzinfo=UTC)

    changed = provider.update_event(
        CALENDAR,
        fake.instance_id(series, date(2030, 1, 10)),
        draft(day, day + timedelta(days=1), title="Swim", all_day=True),
        scope=EditScope.FOLLOWING,
    )

    assert fake.event(CALENDAR, series)["recurrence"] == ["RRULE:FREQ=DAILY;UNTIL=20300109"]
    assert fake.event(CALENDAR, changed.event.series_id)["recurrence"] == ["RRULE:FREQ=DAILY"]
    titles = {item["start"]["date"]: item["summary"] for item in fake.live_events(CALENDAR)}
    assert titles["2030-01-09"] == "Gym"
    assert titles["2030-01-10"] == titles["2030-01-11"] == "Swim"


def test_the_following_instances_of_an_invitation_cannot_be_split_off(fake, provider):
    series = fake.add_invitation(
        CALENDAR,
        "Board",
        berlin(7, 9),
        berlin(7, 10),
        time_zone="Europe/Berlin",
        recurrence=WEEKLY_4,
    )

    with pytest.raises(ActionRefused):
        provider.update_event(
            CALENDAR,
            instance(fake, series, 21),
            draft(berlin(21, 10), berlin(21, 11)),
            scope=EditScope.FOLLOWING,
        )

    assert not writes(fake)


def test_a_dragged_instance_keeps_its_content_and_its_zone(fake, provider, standup):
    fake.edit_event(CALENDAR, standup, description="<b>Agenda</b>", location="Room 4")
    second = instance(fake, standup, 14)
    read = provider.get_event(CALENDAR, second)

    provider.move_event(CALENDAR, second, berlin(14, 11), berlin(14, 11, 30), etag=read.etag)

    moved = fake.event(CALENDAR, second)
    assert moved["start"] == {"dateTime": "2030-01-14T11:00:00+01:00", "timeZone": "Europe/Berlin"}
    assert (moved["summary"], moved["description"], moved["location"]) == (
        "Standup",
        "<b>Agenda</b>",
        "Room 4",
    )


def test_a_drag_costs_one_read_and_one_patch(fake, provider):
    single = fake.add_event(CALENDAR, "Review", berlin(15, 9), berlin(15, 10))
    read = provider.get_event(CALENDAR, single)
    fake.requests.clear()

    provider.move_event(CALENDAR, single, berlin(15, 13), berlin(15, 14), etag=read.etag)

    assert [request.method for request in fake.requests] == ["GET", "PATCH"]
    assert shown(fake) == [("Review", berlin(15, 13), berlin(15, 14))]


# Removing -------------------------------------------------------------------------------------------


def test_removing_this_instance_cancels_only_it(fake, provider, standup):
    provider.remove_event(CALENDAR, instance(fake, standup, 14), scope=EditScope.THIS)

    assert [start.day for _, start, _ in shown(fake)] == [7, 21, 28]
    assert writes(fake)[-1].query["sendUpdates"] == ["all"]


def test_removing_all_deletes_the_series(fake, provider, standup):
    provider.remove_event(CALENDAR, instance(fake, standup, 14), scope=EditScope.ALL)

    assert shown(fake) == []
    assert writes(fake)[-1].path.endswith(f"/events/{standup}")


def test_removing_this_and_following_ends_the_series_before_this_instance(fake, provider, standup):
    provider.remove_event(CALENDAR, instance(fake, standup, 21), scope=EditScope.FOLLOWING)

    assert [start.day for _, start, _ in shown(fake)] == [7, 14]
    assert fake.event(CALENDAR, standup)["recurrence"] == [
        "RRULE:FREQ=WEEKLY;UNTIL=20300121T075959Z"
    ]


def test_removing_an_event_that_is_already_gone_is_not_an_error(fake, provider, standup):
    single = fake.add_event(CALENDAR, "Dentist", berlin(9, 14), berlin(9, 15))
    provider.remove_event(CALENDAR, single)
    second = instance(fake, standup, 14)
    fake.cancel_instance(CALENDAR, second)

    provider.remove_event(CALENDAR, single)
    provider.remove_event(CALENDAR, second, scope=EditScope.ALL, etag='"stale"')
    provider.remove_event(CALENDAR, "neverexisted1")

    assert [start.day for _, start, _ in shown(fake)] == [7, 21, 28]


# Conflicts and refusals -------------------------------------------------------------------------------


def test_a_change_made_since_the_event_was_read_is_a_conflict_and_nothing_is_written(
    fake, provider, standup
):
    single = fake.add_event(CALENDAR, "Dentist", berlin(9, 14), berlin(9, 15))
    read = provider.get_event(CALENDAR, single)
    second = provider.get_event(CALENDAR, instance(fake, standup, 14))
    fake.edit_event(CALENDAR, single, summary="Dentist, renamed in Google")
    fake.edit_event(CALENDAR, standup, summary="Standup, renamed in Google")
    before = len(writes(fake))

    with pytest.raises(EventConflict):
        provider.update_event(CALENDAR, single, draft(berlin(9, 16), berlin(9, 17)), etag=read.etag)
    with pytest.raises(EventConflict):
        provider.remove_event(CALENDAR, single, etag=read.etag)
    for scope in EditScope:
        with pytest.raises(EventConflict):
            provider.update_event(
                CALENDAR,
                second.event.id,
                draft(berlin(14, 10), berlin(14, 11)),
                scope=scope,
                etag=second.etag,
            )

    assert len(writes(fake)) == before
    assert fake.event(CALENDAR, single)["summary"] == "Dentist, renamed in Google"


def test_a_change_landing_between_our_read_and_our_write_is_refused_by_google(
    fake, provider, monkeypatch
):
    single = fake.add_event(CALENDAR, "Dentist", berlin(9, 14), berlin(9, 15))
    read = provider.get_event(CALENDAR, single)
    as_read = fake.event(CALENDAR, single)
    fake.edit_event(CALENDAR, single, summary="Dentist, renamed in Google")
    # Our read happened before the other client's change.
    monkeypatch.setattr(provider, "_read_event_or_none", lambda *args: as_read)

    with pytest.raises(EventConflict):
        provider.update_event(CALENDAR, single, draft(berlin(9, 16), berlin(9, 17)), etag=read.etag)
    with pytest.raises(EventConflict):
        provider.remove_event(CALENDAR, single, etag=read.etag)

    assert [r.if_match for r in writes(fake)] == [read.etag, read.etag]
    assert fake.event(CALENDAR, single)["summary"] == "Dentist, renamed in Google"


def test_the_current_version_is_written(fake, provider):
    single = fake.add_event(CALENDAR, "Dentist", berlin(9, 14), berlin(9, 15))
    read = provider.get_event(CALENDAR, single)

    changed = provider.update_event(
        CALENDAR, single, draft(berlin(9, 16), berlin(9, 17)), etag=read.etag
    )
    provider.remove_event(CALENDAR, single, etag=changed.etag)

    assert changed.etag != read.etag
    assert [r.if_match for r in writes(fake)] == [read.etag, changed.etag]
    assert shown(fake) == []


def test_changes_in_a_read_only_calendar_are_refused_in_plain_words(fake, provider):
    fake.add_calendar("team@example.com", "Team", access_role="reader")
    shared = fake.add_event("team@example.com", "Offsite", berlin(9, 9), berlin(9, 17))

    for action in (
        lambda: provider.update_event(
            "team@example.com", shared, draft(berlin(9, 9), berlin(9, 12))
        ),
        lambda: provider.remove_event("team@example.com", shared),
    ):
        with pytest.raises(ActionRefused) as refused:
            action()
        assert refused.value.message == READ_ONLY
        assert not refused.value.permanent


@pytest.mark.parametrize(
    ("kind", "message"), [(MarkerKind.BLOCK, BLOCK_REFUSED), (MarkerKind.BOOKING, BOOKING_REFUSED)]
)
def test_blocks_and_booking_events_are_never_changed_from_the_portfolio(
    fake, provider, kind, message
):
    spec = BlockSpec(
        block_id="0b1c6a52-5f7e-4c36-9a57-1f8a3f1d2e4b",
        start=berlin(9, 14),
        end=berlin(9, 15),
        all_day=False,
        title="Busy",
        kind=kind,
    )
    remote_id = provider.put_block(CALENDAR, spec)
    before = fake.event(CALENDAR, remote_id)
    written = len(writes(fake))

    for action in (
        lambda: provider.update_event(CALENDAR, remote_id, draft(berlin(9, 16), berlin(9, 17))),
        lambda: provider.move_event(CALENDAR, remote_id, berlin(9, 16), berlin(9, 17)),
        lambda: provider.remove_event(CALENDAR, remote_id, scope=EditScope.ALL),
        lambda: provider.reply(CALENDAR, remote_id, Response.DECLINED),
    ):
        with pytest.raises(ActionRefused) as refused:
            action()
        assert refused.value.message == message

    assert len(writes(fake)) == written
    assert fake.event(CALENDAR, remote_id) == before


def test_a_revoked_authorization_stays_a_permanent_error(fake, provider):
    single = fake.add_event(CALENDAR, "Dentist", berlin(9, 14), berlin(9, 15))
    fake.revoke(provider.current_secrets()["refresh_token"])

    with pytest.raises(ProviderError) as failed:
        provider.update_event(CALENDAR, single, draft(berlin(9, 16), berlin(9, 17)))

    assert failed.value.permanent
    assert not isinstance(failed.value, ActionRefused)


@pytest.mark.parametrize("status", [403, 429])
def test_throttling_on_a_write_stays_a_retry_later(fake, provider, status):
    single = fake.add_event(CALENDAR, "Dentist", berlin(9, 14), berlin(9, 15))
    fake.fail_next(1, status=status, retry_after=7, methods=("PATCH",))

    with pytest.raises(ProviderError) as failed:
        provider.update_event(CALENDAR, single, draft(berlin(9, 16), berlin(9, 17)))

    assert not isinstance(failed.value, ActionRefused)
    assert not failed.value.permanent
    assert failed.value.retry_after == 7


# Answering invitations ----------------------------------------------------------------------------------


def test_an_answer_sets_the_owners_response_keeps_the_other_guests_and_tells_the_organizer(
    fake, provider
):
    invitation = fake.add_invitation(CALENDAR, "Board meeting", berlin(9, 14), berlin(9, 15))

    answered = provider.reply(CALENDAR, invitation, Response.TENTATIVE)

    assert answered.event.response == Response.TENTATIVE
    assert answered.can_reply
    attendees = {
        a["email"]: a["responseStatus"] for a in fake.event(CALENDAR, invitation)["attendees"]
    }
    assert attendees == {
        "boss@example.com": "accepted",
        "colleague@example.com": "tentative",
        CALENDAR: "tentative",
    }
    patch = writes(fake)[-1]
    assert patch.method == "PATCH"
    assert patch.query["sendUpdates"] == ["all"]
    assert set(patch.body) == {"attendees"}
    assert patch.if_match  # another guest's answer meanwhile is never overwritten


def test_an_answer_to_one_instance_of_a_series_is_for_that_instance(fake, provider):
    series = fake.add_invitation(
        CALENDAR,
        "Board",
        berlin(7, 9),
        berlin(7, 10),
        time_zone="Europe/Berlin",
        recurrence=WEEKLY_4,
    )
    second = instance(fake, series, 14)

    provider.reply(CALENDAR, second, Response.DECLINED)

    responses = {e.id: e.response for e in provider.changes(CALENDAR, "", WINDOW).events}
    assert responses[second] == Response.DECLINED
    assert {r for i, r in responses.items() if i != second} == {Response.NEEDS_ACTION}


def test_an_answer_meets_another_guests_answer_and_is_sent_again(fake, provider, monkeypatch):
    invitation = fake.add_invitation(CALENDAR, "Board meeting", berlin(9, 14), berlin(9, 15))
    reads = []
    real_read = provider._read_event_or_none

    def read_then_someone_answers(*args):
        item = real_read(*args)
        if not reads:  # between our first read and our write, the colleague answers
            fake.edit_event(CALENDAR, invitation, description="changed meanwhile")
        reads.append(item)
        return item

    monkeypatch.setattr(provider, "_read_event_or_none", read_then_someone_answers)

    answered = provider.reply(CALENDAR, invitation, Response.ACCEPTED)

    assert len(reads) == 2
    assert answered.event.response == Response.ACCEPTED
    assert answered.event.description == "changed meanwhile"


def test_no_answer_is_sent_for_an_event_the_owner_is_not_invited_to(fake, provider):
    own = fake.add_event(CALENDAR, "Dentist", berlin(9, 14), berlin(9, 15))
    organised = provider.create_event(CALENDAR, draft(berlin(10, 9), berlin(10, 10)))
    fake.edit_event(
        CALENDAR,
        organised.event.id,
        attendees=[
            {"email": CALENDAR, "self": True, "organizer": True, "responseStatus": "accepted"},
            {"email": "guest@example.com", "responseStatus": "needsAction"},
        ],
    )
    written = len(writes(fake))

    for event_id in (own, organised.event.id):
        assert not provider.get_event(CALENDAR, event_id).can_reply
        with pytest.raises(ActionRefused) as refused:
            provider.reply(CALENDAR, event_id, Response.ACCEPTED)
        assert refused.value.message == NOT_INVITED

    assert len(writes(fake)) == written


# Content stays out of logs and errors ---------------------------------------------------------------


def test_no_event_content_reaches_a_log_record_or_an_error_message(fake, provider, standup, caplog):
    secret = {
        "title": "Merger talks with Initech",
        "location": "Secret room 42",
        "description": "Do not tell Bill Lumbergh",
    }
    caplog.set_level(logging.DEBUG)
    for name in ("integrations", "googleapiclient", "google_auth_httplib2", "httplib2"):
        caplog.set_level(logging.DEBUG, logger=name)
    errors = []

    created = provider.create_event(
        CALENDAR,
        EventDraft(
            title=secret["title"],
            start=berlin(9, 14),
            end=berlin(9, 15),
            time_zone="Europe/Berlin",
            location=secret["location"],
            description=secret["description"],
        ),
    )
    secret_draft = draft(
        berlin(14, 10),
        berlin(14, 11),
        title=secret["title"],
        location=secret["location"],
        description=secret["description"],
    )
    for scope in (EditScope.THIS, EditScope.ALL):
        provider.update_event(CALENDAR, instance(fake, standup, 14), secret_draft, scope=scope)
    provider.update_event(
        CALENDAR, instance(fake, standup, 21, 10), secret_draft, scope=EditScope.FOLLOWING
    )
    fake.edit_event(CALENDAR, created.event.id, summary=secret["title"] + " (v2)")
    try:
        provider.update_event(CALENDAR, created.event.id, secret_draft, etag=created.etag)
    except ProviderError as error:
        errors.append(error)
    fake.fail_next(1, status=400, reason="invalid", methods=("PATCH",))
    try:
        provider.update_event(CALENDAR, created.event.id, secret_draft)
    except ProviderError as error:
        errors.append(error)

    assert len(errors) == 2
    assert caplog.records, "nothing was logged: the test would prove nothing"
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    said = "\n".join(f"{e} {e.message} {e!r}" for e in errors)
    for value in secret.values():
        assert value not in logged
        assert value not in said
        assert value not in repr(created)
