"""The user's own events through the Microsoft Graph provider (the portfolio's contract), against
the stateful Graph fake: read, create, change, delete and answer, with the scopes Outlook has."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from integrations.base import (
    ActionRefused,
    EditScope,
    EventConflict,
    EventDraft,
    ProviderError,
    Response,
)
from integrations.microsoft import mapping
from integrations.microsoft.provider import (
    BLOCK_REFUSED,
    BOOKING_REFUSED,
    FOLLOWING_REFUSED,
    ORGANIZER_REPLY,
    WRITE_REFUSED,
)
from tests.integrations.microsoft import test_provider
from tests.integrations.microsoft.test_provider import BLOCK_ID, WINDOW, booking, spec, utc

# The provider tests' fixtures: a connected account and its provider.
account = test_provider.account
provider = test_provider.provider

TITLE = "Quarterly review with Acme"
NOTES = "Bring the signed statement of work"
PLACE = "Room 4.12, Harbour House"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def draft(**changes) -> EventDraft:
    values = {
        "title": TITLE,
        "start": utc(2026, 3, 10, 9),
        "end": utc(2026, 3, 10, 10),
        "time_zone": "Europe/Berlin",
        "description": NOTES,
        "location": PLACE,
    }
    return EventDraft(**{**values, **changes})


@pytest.fixture
def graph(microsoft_fake):
    return microsoft_fake.graph


@pytest.fixture
def calendar(account):
    return account.default_calendar


@pytest.fixture
def series(graph, calendar):
    """A weekly stand-up, four Tuesdays at 08:00 UTC (09:00 in Berlin), written in Berlin's zone."""
    master, occurrences = graph.add_series(
        calendar,
        "Stand-up",
        utc(2026, 3, 3, 8),
        duration=timedelta(minutes=30),
        count=4,
        start_zone="W. Europe Standard Time",
    )
    return master, occurrences


def writes(graph) -> int:
    return sum(graph.count(method) for method in ("POST", "PATCH", "DELETE"))


# What Outlook can do ---------------------------------------------------------------------------


def test_outlook_changes_one_instance_or_the_whole_series_and_answers_invitations(provider):
    actions = provider.event_actions()

    assert actions.scopes == {EditScope.THIS, EditScope.ALL}
    assert actions.replies


# Reading one event -----------------------------------------------------------------------------


def test_an_event_is_read_by_the_id_changes_gave_it_with_its_version_and_link(
    graph, calendar, provider
):
    event_id = graph.add_event(calendar, TITLE, utc(2026, 3, 10, 9), utc(2026, 3, 10, 10))
    listed = provider.changes(calendar, "", WINDOW).events

    detail = provider.get_event(calendar, listed[0].id)

    assert detail.event.id == event_id == listed[0].id
    assert detail.event.title == TITLE
    assert detail.etag == f'W/"{graph.event(event_id).version}"'
    assert detail.web_link.startswith("https://outlook.office365.com/")
    assert detail.organizer and not detail.can_reply and not detail.recurring


def test_an_occurrence_is_read_as_an_instance_of_its_series(graph, calendar, provider, series):
    master, occurrences = series

    detail = provider.get_event(calendar, occurrences[1])

    assert detail.recurring
    assert detail.event.id == occurrences[1]
    assert detail.event.series_id == master
    assert detail.event.start == utc(2026, 3, 10, 8)


def test_an_invitation_is_read_as_one_the_owner_can_answer(graph, calendar, provider):
    event_id = graph.add_event(
        calendar,
        "Board meeting",
        utc(2026, 3, 11, 14),
        utc(2026, 3, 11, 15),
        response="notResponded",
    )

    detail = provider.get_event(calendar, event_id)

    assert not detail.organizer and detail.can_reply
    assert detail.event.response == Response.NEEDS_ACTION


def test_an_event_that_is_gone_or_in_another_calendar_is_refused(
    graph, account, calendar, provider
):
    gone = graph.add_event(calendar, TITLE, utc(2026, 3, 10, 9), utc(2026, 3, 10, 10))
    graph.delete_event(gone)
    other = graph.add_calendar(account.user, "Work")
    elsewhere = graph.add_event(other, TITLE, utc(2026, 3, 10, 9), utc(2026, 3, 10, 10))

    for event_id in (gone, elsewhere):
        with pytest.raises(ActionRefused):
            provider.get_event(calendar, event_id)


# Creating --------------------------------------------------------------------------------------


def test_a_new_event_is_an_ordinary_event_in_the_users_zone(graph, calendar, provider):
    detail = provider.create_event(calendar, draft())

    created = graph.event(detail.event.id)
    assert created.start_zone == "W. Europe Standard Time"
    assert (created.start, created.end) == (utc(2026, 3, 10, 9), utc(2026, 3, 10, 10))
    assert (created.subject, created.location) == (TITLE, PLACE)
    assert created.body["content"] == NOTES
    assert created.properties == {} and created.transaction_id is None
    assert not detail.event.ours and not detail.event.booking_id
    assert detail.etag and detail.organizer
    # A sync of the calendar takes it for the user's own event, not for one of ours.
    (read,) = provider.changes(calendar, "", WINDOW).events
    assert read.id == detail.event.id and not read.ours


@pytest.mark.parametrize(
    ("zone", "windows"),
    [
        ("Europe/Berlin", "W. Europe Standard Time"),
        ("Asia/Kolkata", "India Standard Time"),  # CLDR spells it Asia/Calcutta
        ("America/New_York", "Eastern Standard Time"),
        ("UTC", "UTC"),
        ("Not/AZone", "UTC"),
    ],
)
def test_a_zone_is_sent_by_the_windows_name_graph_takes(zone, windows):
    assert mapping.windows_zone(zone) == windows


def test_a_zone_without_a_windows_name_of_its_own_is_sent_as_one_keeping_its_clock():
    windows = mapping.windows_zone("Europe/Amsterdam")  # CLDR names Europe/Berlin for its zone

    assert windows != "UTC"
    olson = ZoneInfo(WINDOWS_TO_OLSON[windows])
    for month in range(1, 13):
        moment = datetime(2026, month, 20, 12, tzinfo=UTC)
        assert moment.astimezone(olson).utcoffset() == moment.astimezone(AMSTERDAM).utcoffset()


def test_a_new_all_day_event_is_written_as_midnight_dates(graph, calendar, provider):
    detail = provider.create_event(
        calendar, draft(start=utc(2026, 3, 12), end=utc(2026, 3, 14), all_day=True)
    )

    created = graph.event(detail.event.id)
    assert created.is_all_day
    assert detail.event.all_day
    assert (detail.event.start, detail.event.end) == (utc(2026, 3, 12), utc(2026, 3, 14))


def test_creating_in_a_calendar_shared_read_only_is_refused_in_plain_words(
    graph, account, provider
):
    shared = graph.add_calendar(account.user, "Shared by Grace", can_edit=False)

    with pytest.raises(ActionRefused) as refused:
        provider.create_event(shared, draft())

    assert refused.value.message == WRITE_REFUSED
    assert not refused.value.permanent
    assert graph.live_events(shared) == []


def test_graph_answers_an_iana_zone_it_does_not_take_with_its_400(graph, account, calendar):
    """The fake is no kinder than Graph: only Windows names (and UTC) are written."""
    token = microsoft_token(graph, account)
    answer = httpx.post(
        f"{graph.url}/me/calendars/{calendar}/events",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "subject": "x",
            "start": {"dateTime": "2026-03-10T09:00:00", "timeZone": "Europe/Amsterdam"},
            "end": {"dateTime": "2026-03-10T10:00:00", "timeZone": "Europe/Amsterdam"},
        },
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "TimeZoneNotSupportedException"


def microsoft_token(graph, account) -> str:
    from integrations.microsoft.provider import MicrosoftProvider

    provider = MicrosoftProvider.from_secrets(account.secrets)
    try:
        return provider._credentials.access_token()
    finally:
        provider.close()


# Changing --------------------------------------------------------------------------------------


def test_a_single_event_moves_and_is_renamed_in_place(graph, calendar, provider):
    event_id = graph.add_event(calendar, TITLE, utc(2026, 3, 10, 9), utc(2026, 3, 10, 10))
    seen = provider.get_event(calendar, event_id)

    detail = provider.update_event(
        calendar,
        event_id,
        draft(title="Review (moved)", start=utc(2026, 3, 10, 13), end=utc(2026, 3, 10, 14, 30)),
        etag=seen.etag,
    )

    event = graph.event(event_id)
    assert (event.subject, event.start, event.end) == (
        "Review (moved)",
        utc(2026, 3, 10, 13),
        utc(2026, 3, 10, 14, 30),
    )
    assert detail.event.title == "Review (moved)" and detail.etag != seen.etag
    (patch,) = [r for r in graph.requests if r.method == "PATCH"]
    assert patch.if_match == seen.etag


def test_a_drag_is_one_read_and_one_patch_keeping_the_rest(graph, calendar, provider):
    event_id = graph.add_event(
        calendar,
        TITLE,
        utc(2026, 3, 10, 9),
        utc(2026, 3, 10, 10),
        body={"contentType": "html", "content": f"<p><b>{NOTES}</b></p>"},
        location=PLACE,
    )
    seen = provider.get_event(calendar, event_id)
    graph.reset_counts()

    provider.move_event(
        calendar, event_id, utc(2026, 3, 10, 13), utc(2026, 3, 10, 14), etag=seen.etag
    )

    assert [request.method for request in graph.requests] == ["GET", "PATCH"]
    event = graph.event(event_id)
    assert (event.start, event.end) == (utc(2026, 3, 10, 13), utc(2026, 3, 10, 14))
    assert event.body == {"contentType": "html", "content": f"<p><b>{NOTES}</b></p>"}


def test_only_what_changed_is_sent(graph, calendar, provider):
    event_id = graph.add_event(
        calendar,
        TITLE,
        utc(2026, 3, 10, 9),
        utc(2026, 3, 10, 10),
        body={"contentType": "html", "content": f"<p><b>{NOTES}</b></p>"},
        location=PLACE,
    )

    provider.update_event(calendar, event_id, draft(title="Renamed"))

    event = graph.event(event_id)
    assert event.subject == "Renamed"
    assert event.body == {"contentType": "html", "content": f"<p><b>{NOTES}</b></p>"}
    assert event.start_zone == "UTC"  # its time was not touched, nor its zone


def test_this_instance_changes_alone_and_becomes_an_exception(graph, calendar, provider, series):
    master, occurrences = series

    provider.update_event(
        calendar,
        occurrences[1],
        draft(title="Stand-up (late)", start=utc(2026, 3, 10, 10), end=utc(2026, 3, 10, 10, 30)),
        scope=EditScope.THIS,
    )

    changed = graph.event(occurrences[1])
    assert changed.type == "exception" and changed.start == utc(2026, 3, 10, 10)
    others = [graph.event(i) for i in (occurrences[0], occurrences[2], occurrences[3])]
    assert {(e.subject, e.start.hour) for e in others} == {("Stand-up", 8)}
    assert graph.event(master).subject == "Stand-up"


def test_all_instances_take_the_title_and_the_new_time_of_day_on_their_own_dates(
    graph, calendar, provider, series
):
    master, occurrences = series
    master_version = f'W/"{graph.event(master).version}"'

    detail = provider.update_event(
        calendar,
        occurrences[1],
        # Moved an hour later and made an hour long, and (wrongly) dragged to another day.
        draft(title="Team sync", start=utc(2026, 3, 11, 9), end=utc(2026, 3, 11, 10)),
        scope=EditScope.ALL,
    )

    assert graph.event(master).subject == "Team sync"
    instances = [graph.event(i) for i in occurrences]
    assert [(e.start, e.end) for e in instances] == [
        (utc(2026, 3, 3 + 7 * n, 9), utc(2026, 3, 3 + 7 * n, 10)) for n in range(4)
    ]
    assert {e.subject for e in instances} == {"Team sync"}
    assert detail.event.id == occurrences[1] and detail.event.start == utc(2026, 3, 10, 9)
    (patch,) = [r for r in graph.requests if r.method == "PATCH"]
    assert master in patch.path
    assert patch.if_match == master_version


def test_all_instances_keep_their_time_when_only_the_title_changes(
    graph, calendar, provider, series
):
    _, occurrences = series
    instance = provider.get_event(calendar, occurrences[2]).event

    provider.update_event(
        calendar,
        occurrences[2],
        draft(title="Renamed", start=instance.start, end=instance.end, description="", location=""),
        scope=EditScope.ALL,
    )

    assert [graph.event(i).start for i in occurrences] == [
        utc(2026, 3, 3 + 7 * n, 8) for n in range(4)
    ]
    assert {graph.event(i).subject for i in occurrences} == {"Renamed"}


@pytest.mark.parametrize("method", ["update", "remove"])
def test_this_and_the_following_is_refused_in_plain_words_and_nothing_is_written(
    graph, calendar, provider, series, method
):
    _, occurrences = series
    graph.reset_counts()

    with pytest.raises(ActionRefused) as refused:
        if method == "update":
            provider.update_event(calendar, occurrences[1], draft(), scope=EditScope.FOLLOWING)
        else:
            provider.remove_event(calendar, occurrences[1], scope=EditScope.FOLLOWING)

    assert refused.value.message == FOLLOWING_REFUSED
    assert len(graph.requests) == 0
    assert len(graph.live_events(calendar)) == 5


def test_a_change_to_an_event_changed_meanwhile_is_a_conflict(graph, calendar, provider):
    event_id = graph.add_event(calendar, TITLE, utc(2026, 3, 10, 9), utc(2026, 3, 10, 10))
    seen = provider.get_event(calendar, event_id)
    graph.update_event(event_id, subject="Changed in Outlook")

    with pytest.raises(EventConflict):
        provider.update_event(calendar, event_id, draft(), etag=seen.etag)
    with pytest.raises(EventConflict):
        provider.remove_event(calendar, event_id, etag=seen.etag)

    assert graph.event(event_id).subject == "Changed in Outlook"
    assert not graph.event(event_id).deleted


def test_a_change_landing_between_our_read_and_our_write_is_caught_by_if_match(
    graph, calendar, provider, monkeypatch
):
    event_id = graph.add_event(calendar, TITLE, utc(2026, 3, 10, 9), utc(2026, 3, 10, 10))
    seen = provider.get_event(calendar, event_id)
    read = provider._read_event

    def read_then_someone_edits(calendar_id, remote_id):
        item = read(calendar_id, remote_id)
        graph.update_event(event_id, subject="Changed in Outlook")
        return item

    monkeypatch.setattr(provider, "_read_event", read_then_someone_edits)

    with pytest.raises(EventConflict):
        provider.update_event(calendar, event_id, draft(), etag=seen.etag)

    assert graph.event(event_id).subject == "Changed in Outlook"
    assert graph.requests[-1].status == 412


def test_graph_refuses_a_write_whose_if_match_is_not_the_events_version(graph, account, calendar):
    event_id = graph.add_event(calendar, TITLE, utc(2026, 3, 10, 9), utc(2026, 3, 10, 10))
    token = microsoft_token(graph, account)
    answer = httpx.patch(
        f"{graph.url}/me/events/{event_id}",
        headers={"Authorization": f"Bearer {token}", "If-Match": 'W/"stale"'},
        json={"subject": "x"},
    )

    assert answer.status_code == 412
    assert answer.json()["error"]["code"] == "ErrorIrresolvableConflict"
    assert graph.event(event_id).subject == TITLE


def test_changing_an_event_of_a_calendar_shared_read_only_is_refused(graph, account, provider):
    shared = graph.add_calendar(account.user, "Shared by Grace", can_edit=False)
    event_id = graph.add_event(shared, TITLE, utc(2026, 3, 10, 9), utc(2026, 3, 10, 10))

    with pytest.raises(ActionRefused) as refused:
        provider.update_event(shared, event_id, draft(title="Mine now"))
    with pytest.raises(ActionRefused):
        provider.remove_event(shared, event_id)

    assert refused.value.message == WRITE_REFUSED
    assert graph.event(event_id).subject == TITLE and not graph.event(event_id).deleted


def test_auth_failures_and_throttling_of_a_write_keep_the_connections_error_mapping(
    microsoft_fake, graph, account, calendar, provider, monkeypatch
):
    event_id = graph.add_event(calendar, TITLE, utc(2026, 3, 10, 9), utc(2026, 3, 10, 10))
    read = provider._read_event
    before_the_write = [lambda: graph.throttle(retry_after=9, times=1)]

    def read_then(calendar_id, remote_id):
        item = read(calendar_id, remote_id)
        before_the_write.pop()()
        return item

    monkeypatch.setattr(provider, "_read_event", read_then)

    with pytest.raises(ProviderError) as throttled:
        provider.update_event(calendar, event_id, draft(title="x"))

    assert graph.requests[-1].method == "PATCH"
    assert not isinstance(throttled.value, ActionRefused)
    assert throttled.value.retry_after == 9 and not throttled.value.permanent

    def revoke() -> None:
        microsoft_fake.identity.revoke(account.user)
        microsoft_fake.identity.expire_access_tokens(account.user)

    before_the_write.append(revoke)
    with pytest.raises(ProviderError) as revoked:
        provider.remove_event(calendar, event_id)

    assert revoked.value.permanent and not isinstance(revoked.value, ActionRefused)


# Deleting --------------------------------------------------------------------------------------


def test_removing_this_instance_leaves_the_rest_of_the_series(graph, calendar, provider, series):
    master, occurrences = series

    provider.remove_event(calendar, occurrences[1], scope=EditScope.THIS)

    assert [graph.event(i).deleted for i in occurrences] == [False, True, False, False]
    assert not graph.event(master).deleted


def test_removing_all_instances_deletes_the_series(graph, calendar, provider, series):
    master, occurrences = series

    provider.remove_event(calendar, occurrences[2], scope=EditScope.ALL)

    assert graph.live_events(calendar) == []
    (delete,) = [r for r in graph.requests if r.method == "DELETE"]
    assert master in delete.path


def test_removing_an_event_already_gone_is_fine(graph, calendar, provider):
    event_id = graph.add_event(calendar, TITLE, utc(2026, 3, 10, 9), utc(2026, 3, 10, 10))
    seen = provider.get_event(calendar, event_id)
    provider.remove_event(calendar, event_id, etag=seen.etag)

    provider.remove_event(calendar, event_id, etag=seen.etag)

    assert graph.event(event_id).deleted


# Answering invitations ---------------------------------------------------------------------------


@pytest.fixture
def invitation(graph, calendar):
    return graph.add_event(
        calendar,
        "Board meeting",
        utc(2026, 3, 11, 14),
        utc(2026, 3, 11, 15),
        response="notResponded",
    )


@pytest.mark.parametrize(
    ("answer", "action", "kept"),
    [
        (Response.ACCEPTED, "accept", "accepted"),
        (Response.TENTATIVE, "tentativelyAccept", "tentativelyAccepted"),
    ],
)
def test_an_answer_is_sent_to_the_organizer(
    graph, calendar, provider, invitation, answer, action, kept
):
    detail = provider.reply(calendar, invitation, answer)

    assert graph.event(invitation).response == kept
    assert detail.event.response == answer
    (post,) = [r for r in graph.requests if r.method == "POST"]
    assert post.path.endswith(f"/events/{invitation}/{action}") and post.status == 202


def test_a_declined_meeting_leaves_the_calendar_and_reads_as_declined(
    graph, calendar, provider, invitation
):
    detail = provider.reply(calendar, invitation, Response.DECLINED)

    assert graph.event(invitation).deleted
    assert detail.event.response == Response.DECLINED and not detail.can_reply


def test_an_answer_to_one_occurrence_answers_that_instance(graph, calendar, provider):
    _, occurrences = graph.add_series(
        calendar,
        "Weekly sync",
        utc(2026, 3, 3, 8),
        duration=timedelta(hours=1),
        count=3,
        response="notResponded",
    )

    provider.reply(calendar, occurrences[1], Response.ACCEPTED)

    assert [graph.event(i).response for i in occurrences] == [
        "notResponded",
        "accepted",
        "notResponded",
    ]


def test_an_answer_the_organizer_did_not_ask_for_is_recorded_without_mail(
    graph, calendar, provider
):
    event_id = graph.add_event(
        calendar,
        "FYI: offsite",
        utc(2026, 3, 12, 9),
        utc(2026, 3, 12, 17),
        response="notResponded",
        response_requested=False,
    )

    provider.reply(calendar, event_id, Response.ACCEPTED)

    assert graph.event(event_id).response == "accepted"


def test_the_organizer_cannot_answer_their_own_event(graph, calendar, provider):
    event_id = graph.add_event(calendar, TITLE, utc(2026, 3, 10, 9), utc(2026, 3, 10, 10))

    with pytest.raises(ActionRefused) as refused:
        provider.reply(calendar, event_id, Response.ACCEPTED)

    assert refused.value.message == ORGANIZER_REPLY
    assert graph.count("POST") == 0


# Our own events ----------------------------------------------------------------------------------


def test_a_block_is_never_changed_deleted_or_answered_from_the_portfolio(graph, calendar, provider):
    block_id = provider.put_block(calendar, spec())
    graph.reset_counts()

    for attempt in (
        lambda: provider.update_event(calendar, block_id, draft(title="Mine now")),
        lambda: provider.update_event(calendar, block_id, draft(), scope=EditScope.ALL),
        lambda: provider.move_event(calendar, block_id, utc(2026, 3, 11, 9), utc(2026, 3, 11, 10)),
        lambda: provider.remove_event(calendar, block_id),
        lambda: provider.reply(calendar, block_id, Response.DECLINED),
    ):
        with pytest.raises(ActionRefused) as refused:
            attempt()
        assert refused.value.message == BLOCK_REFUSED

    assert writes(graph) == 0
    assert provider.get_event(calendar, block_id).event.block_id == BLOCK_ID


def test_a_block_marked_only_by_its_extended_property_is_refused(graph, calendar, provider):
    event_id = graph.add_event(
        calendar,
        "Busy",
        utc(2026, 3, 10, 9),
        utc(2026, 3, 10, 10),
        properties={mapping.BLOCK_PROPERTY_ID: BLOCK_ID},
    )

    with pytest.raises(ActionRefused) as refused:
        provider.remove_event(calendar, event_id)

    assert refused.value.message == BLOCK_REFUSED
    assert not graph.event(event_id).deleted


def test_a_booking_event_is_changed_through_its_booking_only(graph, calendar, provider):
    event_id = provider.put_block(calendar, booking())

    with pytest.raises(ActionRefused) as refused:
        provider.update_event(calendar, event_id, draft())
    with pytest.raises(ActionRefused):
        provider.remove_event(calendar, event_id, scope=EditScope.ALL)

    assert refused.value.message == BOOKING_REFUSED
    assert not graph.event(event_id).deleted


# No content leaves memory ------------------------------------------------------------------------


def test_no_event_content_reaches_the_logs_or_the_errors(
    graph, account, calendar, provider, caplog
):
    # Everything, the HTTP client's and msal's records too (capped at WARNING in production).
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "msal", "integrations"):
        caplog.set_level(logging.DEBUG, logger=name)
    shared = graph.add_calendar(account.user, "Shared by Grace", can_edit=False)
    graph.add_event(shared, TITLE, utc(2026, 3, 10, 9), utc(2026, 3, 10, 10), location=PLACE)
    errors: list[str] = []

    created = provider.create_event(calendar, draft())
    seen = provider.get_event(calendar, created.event.id)
    provider.update_event(calendar, created.event.id, draft(title=f"{TITLE} II"), etag=seen.etag)
    for attempt in (
        lambda: provider.update_event(calendar, created.event.id, draft(), etag=seen.etag),
        lambda: provider.create_event(shared, draft()),
        lambda: provider.update_event(
            calendar, created.event.id, draft(), scope=EditScope.FOLLOWING
        ),
    ):
        with pytest.raises(ProviderError) as error:
            attempt()
        errors.append(f"{error.value} {error.value!r}")
    provider.remove_event(calendar, created.event.id)

    logged = caplog.text + " ".join(errors) + repr(seen) + repr(draft())
    assert caplog.records  # the HTTP client did log its requests
    for content in (TITLE, NOTES, PLACE, "Acme", "Harbour"):
        assert content not in logged


def test_an_all_day_series_and_a_timed_draft_both_map_to_graph_bodies():
    """``series_changes`` turning a timed series all-day keeps the master's date."""
    master = {
        "id": "m",
        "type": "seriesMaster",
        "subject": "Stand-up",
        "start": {"dateTime": "2026-03-03T08:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-03T08:30:00.0000000", "timeZone": "UTC"},
    }
    instance = {**master, "id": "o", "type": "occurrence", "seriesMasterId": "m"}
    instance["start"] = {"dateTime": "2026-03-10T08:00:00.0000000", "timeZone": "UTC"}
    instance["end"] = {"dateTime": "2026-03-10T08:30:00.0000000", "timeZone": "UTC"}

    changes = mapping.series_changes(
        master,
        instance,
        EventDraft(
            title="Stand-up",
            start=datetime(2026, 3, 10, tzinfo=UTC),
            end=datetime(2026, 3, 11, tzinfo=UTC),
            all_day=True,
        ),
    )

    assert changes == {
        "start": {"dateTime": "2026-03-03T00:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-04T00:00:00", "timeZone": "UTC"},
        "isAllDay": True,
    }
