"""The user's own events through the CalDAV provider, on Radicale and Xandikos: read, create,
change and remove them with every scope, as the portfolio does, and check what the server then
stores and what a sync then reads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import icalendar
import pytest

from integrations.base import (
    MARKER_PROPERTY,
    ActionRefused,
    BlockSpec,
    EditScope,
    EventConflict,
    EventDraft,
    MarkerKind,
    ProviderError,
    RemoteEvent,
    Response,
    Window,
)
from integrations.caldav.provider import CalDAVProvider
from tests.caldav_servers import VTIMEZONE, Account, CalDAVServer
from tests.fault_proxy import running_fault_proxy

WINDOW = Window(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 6, 1, tzinfo=UTC))
PARIS = ZoneInfo("Europe/Paris")
SECRET_TITLE = "Board meeting about the merger"
SECRET_PLACE = "Room 4B, secret annex"
SECRET_NOTES = "Bring the acquisition figures"

RADICALE_ONLY = pytest.mark.parametrize("caldav_server", ["radicale"], indirect=True)


def calendar(*events: str, zones: str = "") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other client//EN\r\n"
        + zones
        + "".join(events)
        + "END:VCALENDAR\r\n"
    )


def vevent(uid: str, start: str, end: str, *lines: str, title: str = "Planning") -> str:
    extra = "".join(f"{line}\r\n" for line in lines)
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20300101T000000Z\r\n"
        f"DTSTART{start}\r\nDTEND{end}\r\nSUMMARY:{title}\r\n{extra}END:VEVENT\r\n"
    )


# Mondays 08:00 UTC, six times from 7 January: the 2nd moved to 12:00, the 3rd removed.
WEEKLY = calendar(
    vevent(
        "weekly-1",
        ":20300107T080000Z",
        ":20300107T090000Z",
        "RRULE:FREQ=WEEKLY;COUNT=6",
        "EXDATE:20300121T080000Z",
        title="Weekly",
    ),
    vevent(
        "weekly-1",
        ":20300114T120000Z",
        ":20300114T130000Z",
        "RECURRENCE-ID:20300114T080000Z",
        title="Weekly (moved)",
    ),
)

# Tuesdays 09:00 in Paris from 5 March 2030, across the change to summer time (31 March).
PARIS_WEEKLY = calendar(
    vevent(
        "paris-1",
        ";TZID=Europe/Paris:20300305T090000",
        ";TZID=Europe/Paris:20300305T100000",
        "RRULE:FREQ=WEEKLY;UNTIL=20300430T235959Z",
        title="Stand-up",
    ),
    zones=VTIMEZONE["Europe/Paris"],
)

# Every day, all day, 1 to 10 February.
DAILY_ALL_DAY = calendar(
    vevent(
        "days-1",
        ";VALUE=DATE:20300201",
        ";VALUE=DATE:20300202",
        "RRULE:FREQ=DAILY;COUNT=10",
        title="Holiday",
    )
)


def at(day: int, hour: int, minute: int = 0, *, month: int = 1, zone=UTC) -> datetime:
    return datetime(2030, month, day, hour, minute, tzinfo=zone).astimezone(UTC)


def timed(start: datetime, end: datetime, *, title: str = "Changed", zone: str = "UTC"):
    return EventDraft(title=title, start=start, end=end, time_zone=zone)


def days(first: date, after_last: date, *, title: str = "Changed") -> EventDraft:
    return EventDraft(
        title=title,
        start=datetime.combine(first, datetime.min.time(), tzinfo=UTC),
        end=datetime.combine(after_last, datetime.min.time(), tzinfo=UTC),
        all_day=True,
    )


@pytest.fixture
def account(caldav_server: CalDAVServer) -> Account:
    return caldav_server.new_account()


@pytest.fixture
def calendar_url(caldav_server: CalDAVServer, account: Account) -> str:
    return caldav_server.create_calendar(account, "Work")


@pytest.fixture
def make_provider() -> Iterator[Callable[..., CalDAVProvider]]:
    providers = []

    def make(account: Account, **changes: str) -> CalDAVProvider:
        provider = CalDAVProvider.from_secrets({**account.secrets, **changes})
        providers.append(provider)
        return provider

    yield make
    for provider in providers:
        provider.close()


@pytest.fixture
def provider(make_provider, account: Account) -> CalDAVProvider:
    return make_provider(account)


class Calendar:
    """The calendar as the tests see it: objects put and read as another client would, and
    what a sync reads."""

    def __init__(self, server: CalDAVServer, account: Account, url: str, provider) -> None:
        self.server, self.account, self.url, self.provider = server, account, url, provider

    @property
    def direct_url(self) -> str:
        """The calendar on its server (``url`` may lead through a proxy)."""
        return urljoin(self.server.url, urlsplit(self.url).path)

    def put(self, name: str, data: str) -> str:
        """Store an object as another client; its path (the href in our ids)."""
        url = self.server.put_object(self.account, self.direct_url, name, data)
        return url.removeprefix(self.server.url.rstrip("/"))

    def stored(self, path: str) -> icalendar.Calendar | None:
        data = self.server.read_object(self.account, urljoin(self.server.url, path))
        return None if data is None else icalendar.Calendar.from_ical(data)

    def objects(self) -> list[str]:
        return sorted(self.server.list_objects(self.account, self.direct_url))

    def events(self) -> list[RemoteEvent]:
        """Every instance a full sync reads now, in time order."""
        read = self.provider.changes(self.url, "", WINDOW)
        return sorted(read.events, key=lambda event: (event.start, event.id))

    def times(self) -> list[tuple[datetime, datetime, str]]:
        return [(event.start, event.end, event.title) for event in self.events()]

    def instance(self, start: datetime) -> RemoteEvent:
        (found,) = [event for event in self.events() if event.start == start]
        return found


@pytest.fixture
def cal(caldav_server, account, calendar_url, provider) -> Calendar:
    return Calendar(caldav_server, account, calendar_url, provider)


def vevents(stored: icalendar.Calendar | None) -> list[icalendar.Event]:
    assert stored is not None
    return stored.walk("VEVENT")


def master_of(stored: icalendar.Calendar | None) -> icalendar.Event:
    (master,) = [event for event in vevents(stored) if "RECURRENCE-ID" not in event]
    return master


def overrides_of(stored: icalendar.Calendar | None) -> dict[str, icalendar.Event]:
    return {
        event["RECURRENCE-ID"].to_ical().decode(): event
        for event in vevents(stored)
        if "RECURRENCE-ID" in event
    }


def through(proxy, url: str) -> str:
    """The calendar's URL on the fault proxy in front of its server."""
    return urljoin(proxy.url, urlsplit(url).path)


def ids_are_unique(events: list[RemoteEvent]) -> bool:
    return len({event.id for event in events}) == len(events)


# What the provider offers ---------------------------------------------------------------------


def test_every_scope_is_offered_and_answers_are_refused_in_plain_words(provider):
    actions = provider.event_actions()

    assert actions.scopes == frozenset({EditScope.THIS, EditScope.FOLLOWING, EditScope.ALL})
    assert actions.replies is False
    assert actions.reply_note == (
        "This CalDAV server does not send answers to invitations; answer from your calendar app."
    )


def test_an_answer_to_an_invitation_is_refused(cal, provider):
    path = cal.put(
        "invite.ics", calendar(vevent("inv-1", ":20300110T100000Z", ":20300110T110000Z"))
    )

    with pytest.raises(ActionRefused) as refused:
        provider.reply(cal.url, path, Response.ACCEPTED)

    assert refused.value.message == provider.event_actions().reply_note
    assert provider.get_event(cal.url, path).can_reply is False


# Reading one event ------------------------------------------------------------------------------


def test_an_event_is_read_as_a_sync_names_it_with_its_etag(cal, provider):
    path = cal.put("one.ics", calendar(vevent("one-1", ":20300110T100000Z", ":20300110T110000Z")))
    (synced,) = cal.events()

    detail = provider.get_event(cal.url, path)

    assert detail.event == synced
    assert detail.event.id == path
    assert detail.etag
    assert (detail.recurring, detail.organizer, detail.can_reply) == (False, True, False)


def test_each_instance_of_a_series_is_read_as_a_sync_names_it(cal, provider):
    cal.put("weekly.ics", WEEKLY)
    synced = cal.events()

    details = [provider.get_event(cal.url, event.id) for event in synced]

    assert [detail.event for detail in details] == synced
    assert all(detail.recurring for detail in details)
    assert [(e.start, e.title) for e in synced][:2] == [
        (at(7, 8), "Weekly"),
        (at(14, 12), "Weekly (moved)"),
    ]


def test_an_event_naming_an_organizer_counts_as_an_invitation_when_no_address_is_known(
    cal, provider
):
    # Neither server names the account's own addresses, so an organizer cannot be told apart:
    # the panel then says answers go through the user's calendar app (true either way).
    path = cal.put(
        "invited.ics",
        calendar(
            vevent(
                "invited-1",
                ":20300110T100000Z",
                ":20300110T110000Z",
                "ORGANIZER:mailto:boss@example.com",
                "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:me@example.com",
            )
        ),
    )

    detail = provider.get_event(cal.url, path)

    assert detail.organizer is False
    assert detail.can_reply is False
    assert provider.event_actions().reply_note  # what the panel says instead


def test_an_event_or_instance_that_is_gone_is_refused_in_plain_words(cal, provider):
    path = cal.put("weekly.ics", WEEKLY)

    for missing in (
        f"{cal.url.removeprefix(cal.server.url.rstrip('/'))}no-such-event.ics",
        f"{path}|weekly-1/20300121T080000Z",  # removed by EXDATE
        f"{path}|weekly-1/20300107T090000Z",  # not an instance
    ):
        with pytest.raises(ActionRefused) as refused:
            provider.get_event(cal.url, missing)
        assert refused.value.message == "This event is no longer in the calendar."


# Creating -----------------------------------------------------------------------------------


def test_a_new_timed_event_is_an_ordinary_event_in_the_drafts_zone(cal, provider):
    draft = EventDraft(
        title=SECRET_TITLE,
        start=at(10, 9, month=1, zone=PARIS),
        end=at(10, 10, 30, month=1, zone=PARIS),
        time_zone="Europe/Paris",
        location=SECRET_PLACE,
        description=SECRET_NOTES,
    )

    detail = provider.create_event(cal.url, draft)

    (path,) = cal.objects()
    assert detail.event.id == path
    assert detail.etag
    stored = cal.stored(path)
    (event,) = vevents(stored)
    assert path.endswith(f"/{event['UID']}.ics")
    assert event["SEQUENCE"] == 0
    assert "DTSTAMP" in event
    assert event["DTSTART"].params["TZID"] == "Europe/Paris"
    assert event["DTSTART"].dt == datetime(2030, 1, 10, 9, tzinfo=PARIS)
    assert event["DTEND"].dt == datetime(2030, 1, 10, 10, 30, tzinfo=PARIS)
    assert [zone["TZID"] for zone in stored.walk("VTIMEZONE")] == ["Europe/Paris"]
    assert (str(event["SUMMARY"]), str(event["LOCATION"]), str(event["DESCRIPTION"])) == (
        SECRET_TITLE,
        SECRET_PLACE,
        SECRET_NOTES,
    )
    assert not [name for name in event if name.startswith("X-")]
    (synced,) = cal.events()
    assert synced == detail.event
    assert (synced.start, synced.end, synced.ours, synced.booking_id) == (
        at(10, 8),
        at(10, 9, 30),
        False,
        "",
    )


def test_a_new_all_day_event_is_written_with_dates(cal, provider):
    detail = provider.create_event(cal.url, days(date(2030, 1, 10), date(2030, 1, 12)))

    (event,) = vevents(cal.stored(detail.event.id))
    assert event["DTSTART"].to_ical() == b"20300110"
    assert event["DTSTART"].params.get("VALUE") == "DATE"
    assert event["DTEND"].to_ical() == b"20300112"
    (synced,) = cal.events()
    assert (synced.all_day, synced.start, synced.end) == (True, at(10, 0), at(12, 0))


# Changing -----------------------------------------------------------------------------------


def test_a_single_event_is_changed_whole_with_its_sequence_bumped(cal, provider):
    path = cal.put("one.ics", calendar(vevent("one-1", ":20300110T100000Z", ":20300110T110000Z")))
    detail = provider.get_event(cal.url, path)

    for scope in EditScope:
        changed = provider.update_event(
            cal.url,
            path,
            timed(at(11, 14), at(11, 15, 30), title=f"Moved {scope}"),
            scope=scope,
            etag=detail.etag,
        )
        assert changed.etag != detail.etag
        detail = changed

    (event,) = vevents(cal.stored(path))
    assert event["SEQUENCE"] == 3
    assert cal.objects() == [path]
    assert cal.times() == [(at(11, 14), at(11, 15, 30), "Moved all")]
    assert detail.event == cal.events()[0]


def test_this_instance_gets_an_override_and_the_others_stay(cal, provider):
    path = cal.put("weekly.ics", WEEKLY)
    before = cal.events()
    fourth = next(event for event in before if event.start == at(28, 8))

    changed = provider.update_event(
        cal.url, fourth.id, timed(at(28, 15), at(28, 17), title="Once"), scope=EditScope.THIS
    )

    assert changed.event.id == fourth.id
    assert (changed.event.start, changed.event.end, changed.event.title) == (
        at(28, 15),
        at(28, 17),
        "Once",
    )
    overrides = overrides_of(cal.stored(path))
    assert set(overrides) == {"20300114T080000Z", "20300128T080000Z"}
    assert overrides["20300128T080000Z"]["SEQUENCE"] == 1
    after = cal.events()
    assert ids_are_unique(after)
    assert [event.id for event in after] == [event.id for event in before]
    assert [(e.start, e.title) for e in after] == [
        (at(7, 8), "Weekly"),
        (at(14, 12), "Weekly (moved)"),
        (at(28, 15), "Once"),
        (at(4, 8, month=2), "Weekly"),
        (at(11, 8, month=2), "Weekly"),
    ]


def test_this_instance_that_was_moved_already_has_its_override_replaced(cal, provider):
    path = cal.put("weekly.ics", WEEKLY)
    moved = cal.instance(at(14, 12))

    provider.update_event(cal.url, moved.id, timed(at(15, 7), at(15, 8), title="Again"))

    overrides = overrides_of(cal.stored(path))
    assert list(overrides) == ["20300114T080000Z"]
    assert overrides["20300114T080000Z"]["SEQUENCE"] == 1
    events = cal.events()
    assert ids_are_unique(events)
    assert [(e.start, e.title) for e in events][:2] == [(at(7, 8), "Weekly"), (at(15, 7), "Again")]


def test_all_instances_take_the_new_time_of_day_and_content_on_their_own_dates(cal, provider):
    path = cal.put("weekly.ics", WEEKLY)
    fourth = cal.instance(at(28, 8))

    changed = provider.update_event(
        cal.url,
        fourth.id,
        # Dragged to 10:30 for 90 minutes, and to the Tuesday: the date does not move the series.
        timed(at(29, 10, 30), at(29, 12), title="Renamed"),
        scope=EditScope.ALL,
    )

    stored = cal.stored(path)
    master = master_of(stored)
    assert master["DTSTART"].dt == at(7, 10, 30)
    assert master["DTEND"].dt == at(7, 12)
    assert master["EXDATE"].to_ical() == b"20300121T103000Z"
    assert master["SEQUENCE"] == 1
    # The moved instance keeps its own time, under the instance's new original time.
    (override,) = overrides_of(stored).values()
    assert override["RECURRENCE-ID"].dt == at(14, 10, 30)
    assert (override["DTSTART"].dt, str(override["SUMMARY"])) == (at(14, 12), "Renamed")
    events = cal.events()
    assert ids_are_unique(events)
    assert [(e.start, e.end, e.title) for e in events] == [
        (at(7, 10, 30), at(7, 12), "Renamed"),
        (at(14, 12), at(14, 13), "Renamed"),
        (at(28, 10, 30), at(28, 12), "Renamed"),
        (at(4, 10, 30, month=2), at(4, 12, month=2), "Renamed"),
        (at(11, 10, 30, month=2), at(11, 12, month=2), "Renamed"),
    ]
    assert changed.event == events[2]


def test_following_instances_become_a_new_series_and_the_first_ends_before_them(cal, provider):
    path = cal.put("weekly.ics", WEEKLY)
    fourth = cal.instance(at(28, 8))
    cursor = provider.changes(cal.url, "", WINDOW).next_cursor

    changed = provider.update_event(
        cal.url,
        fourth.id,
        timed(at(28, 9), at(28, 9, 30), title="Later"),
        scope=EditScope.FOLLOWING,
    )

    objects = cal.objects()
    assert len(objects) == 2
    (new_path,) = [other for other in objects if other != path]
    old = master_of(cal.stored(path))
    assert old["RRULE"].to_ical() == b"FREQ=WEEKLY;UNTIL=20300128T075959Z"
    assert old["SEQUENCE"] == 1
    new = master_of(cal.stored(new_path))
    assert new["UID"] != old["UID"]
    assert new["RRULE"].to_ical() == b"FREQ=WEEKLY;COUNT=3"
    assert (new["DTSTART"].dt, new["DTEND"].dt, new["SEQUENCE"]) == (at(28, 9), at(28, 9, 30), 0)
    assert "EXDATE" not in new
    events = cal.events()
    assert ids_are_unique(events)
    assert [(e.start, e.title, e.series_id) for e in events] == [
        (at(7, 8), "Weekly", path),
        (at(14, 12), "Weekly (moved)", path),
        (at(28, 9), "Later", new_path),
        (at(4, 9, month=2), "Later", new_path),
        (at(11, 9, month=2), "Later", new_path),
    ]
    assert changed.event == events[2]
    # An incremental sync replaces both series with what a full read gives.
    since = provider.changes(cal.url, cursor, WINDOW)
    assert not since.full_resync
    assert since.replaced_series == {path, new_path}
    assert sorted(since.events, key=lambda event: (event.start, event.id)) == events


def test_following_from_the_first_instance_changes_the_whole_series_in_place(cal, provider):
    path = cal.put("weekly.ics", WEEKLY)
    first = cal.instance(at(7, 8))

    provider.update_event(
        cal.url, first.id, timed(at(7, 9), at(7, 10), title="All"), scope=EditScope.FOLLOWING
    )

    assert cal.objects() == [path]
    assert [(e.start, e.title) for e in cal.events()] == [
        (at(7, 9), "All"),
        (at(14, 12), "All"),
        (at(28, 9), "All"),
        (at(4, 9, month=2), "All"),
        (at(11, 9, month=2), "All"),
    ]


def test_a_series_across_the_change_to_summer_time_keeps_its_local_time_when_split(cal, provider):
    path = cal.put("paris.ics", PARIS_WEEKLY)
    events = cal.events()
    assert [e.start for e in events][3:6] == [
        at(26, 8, month=3),  # 09:00 in winter
        at(2, 7, month=4),  # 09:00 in summer
        at(9, 7, month=4),
    ]
    third = cal.instance(at(19, 8, month=3))

    provider.update_event(
        cal.url,
        third.id,
        timed(
            datetime(2030, 3, 19, 10, tzinfo=PARIS),
            datetime(2030, 3, 19, 11, tzinfo=PARIS),
            title="Later stand-up",
            zone="Europe/Paris",
        ),
        scope=EditScope.FOLLOWING,
    )

    old = master_of(cal.stored(path))
    assert old["RRULE"].to_ical() == b"FREQ=WEEKLY;UNTIL=20300319T075959Z"
    (new_path,) = [other for other in cal.objects() if other != path]
    new = master_of(cal.stored(new_path))
    assert new["DTSTART"].params["TZID"] == "Europe/Paris"
    assert new["DTSTART"].dt == datetime(2030, 3, 19, 10, tzinfo=PARIS)
    # The UNTIL moves with the series' time of day, so that it never cuts off its last instance.
    assert new["RRULE"].to_ical() == b"FREQ=WEEKLY;UNTIL=20300501T005959Z"
    after = cal.events()
    assert ids_are_unique(after)
    local = [(e.start.astimezone(PARIS).strftime("%m-%d %H:%M"), e.title) for e in after]
    assert local == [
        ("03-05 09:00", "Stand-up"),
        ("03-12 09:00", "Stand-up"),
        ("03-19 10:00", "Later stand-up"),
        ("03-26 10:00", "Later stand-up"),
        ("04-02 10:00", "Later stand-up"),
        ("04-09 10:00", "Later stand-up"),
        ("04-16 10:00", "Later stand-up"),
        ("04-23 10:00", "Later stand-up"),
        ("04-30 10:00", "Later stand-up"),
    ]


def test_floating_series_are_changed_in_the_calendars_time_zone(caldav_server, account, provider):
    paris = caldav_server.create_calendar(account, "Paris", time_zone="Europe/Paris")
    cal = Calendar(caldav_server, account, paris, provider)
    path = cal.put(
        "floating.ics",
        calendar(
            vevent(
                "float-1",
                ":20300107T090000",
                ":20300107T100000",
                "RRULE:FREQ=WEEKLY;COUNT=5",
                title="Floating",
            )
        ),
    )
    assert cal.events()[1].start == at(14, 8)  # 09:00 in Paris

    provider.update_event(
        paris, cal.events()[1].id, timed(at(14, 10), at(14, 11), title="Moved once")
    )
    provider.update_event(
        paris,
        cal.events()[3].id,
        timed(at(28, 7), at(28, 8), title="Earlier"),
        scope=EditScope.FOLLOWING,
    )
    provider.remove_event(paris, cal.events()[0].id)

    stored = cal.stored(path)
    assert list(overrides_of(stored)) == ["20300114T090000"]
    assert master_of(stored)["RRULE"].to_ical() == b"FREQ=WEEKLY;UNTIL=20300128T085959"
    assert master_of(stored)["EXDATE"].to_ical() == b"20300107T090000"
    (new_path,) = [other for other in cal.objects() if other != path]
    new = master_of(cal.stored(new_path))
    assert new["DTSTART"].to_ical() == b"20300128T080000"  # 08:00 in Paris, still floating
    assert new["RRULE"].to_ical() == b"FREQ=WEEKLY;COUNT=2"
    events = cal.events()
    assert ids_are_unique(events)
    assert [(e.start, e.title) for e in events] == [
        (at(14, 10), "Moved once"),
        (at(21, 8), "Floating"),
        (at(28, 7), "Earlier"),
        (at(4, 7, month=2), "Earlier"),
    ]


def test_a_dragged_instance_keeps_its_zone_and_content(cal, provider):
    """``move_event`` (the contract's read-and-write) sends the times alone, in UTC."""
    path = cal.put("paris.ics", PARIS_WEEKLY)
    second = cal.instance(at(12, 8, month=3))

    moved = provider.move_event(cal.url, second.id, at(12, 13, month=3), at(12, 14, 30, month=3))

    (override,) = overrides_of(cal.stored(path)).values()
    assert override["DTSTART"].params["TZID"] == "Europe/Paris"
    assert override["DTSTART"].dt == datetime(2030, 3, 12, 14, tzinfo=PARIS)
    assert override["RECURRENCE-ID"].dt == datetime(2030, 3, 12, 9, tzinfo=PARIS)
    assert (moved.event.start, moved.event.end, moved.event.title) == (
        at(12, 13, month=3),
        at(12, 14, 30, month=3),
        "Stand-up",
    )
    assert len(cal.events()) == 9


def test_a_drag_reads_the_object_once_before_writing_it(cal, provider, monkeypatch):
    cal.put("paris.ics", PARIS_WEEKLY)
    second = cal.instance(at(12, 8, month=3))
    sent: list[str] = []
    request = provider._session.request

    def counted(method, url, *args, **kwargs):
        sent.append(method)
        return request(method, url, *args, **kwargs)

    monkeypatch.setattr(provider._session, "request", counted)

    provider.move_event(cal.url, second.id, at(12, 13, month=3), at(12, 14, month=3))

    # One read of the object (the refusals, its version, its content), one write, one read of
    # what the server stored; a version asked for apart only where the read's ETag is weak.
    writes = sent.index("PUT")
    assert sent[:writes].count("GET") == 1, sent
    assert sent.count("PUT") == 1 and sent[writes + 1 :].count("GET") == 1, sent


def test_all_instances_across_summer_time_move_in_local_time(cal, provider):
    path = cal.put("paris.ics", PARIS_WEEKLY)
    summer = cal.instance(at(9, 7, month=4))

    provider.update_event(
        cal.url,
        summer.id,
        timed(
            datetime(2030, 4, 9, 8, 30, tzinfo=PARIS),
            datetime(2030, 4, 9, 9, 30, tzinfo=PARIS),
            zone="Europe/Paris",
        ),
        scope=EditScope.ALL,
    )

    assert master_of(cal.stored(path))["DTSTART"].dt == datetime(2030, 3, 5, 8, 30, tzinfo=PARIS)
    assert {e.start.astimezone(PARIS).strftime("%H:%M") for e in cal.events()} == {"08:30"}
    assert len(cal.events()) == 9


def test_all_day_series_instances_are_changed_with_dates(cal, provider):
    path = cal.put("days.ics", DAILY_ALL_DAY)
    fifth = cal.instance(at(5, 0, month=2))

    provider.update_event(
        cal.url, fifth.id, days(date(2030, 2, 5), date(2030, 2, 7), title="Two days")
    )
    provider.update_event(
        cal.url,
        cal.instance(at(8, 0, month=2)).id,
        days(date(2030, 2, 8), date(2030, 2, 9), title="Rest"),
        scope=EditScope.FOLLOWING,
    )

    stored = cal.stored(path)
    assert master_of(stored)["RRULE"].to_ical() == b"FREQ=DAILY;UNTIL=20300207"
    assert list(overrides_of(stored)) == ["20300205"]
    (new_path,) = [other for other in cal.objects() if other != path]
    assert master_of(cal.stored(new_path))["RRULE"].to_ical() == b"FREQ=DAILY;COUNT=3"
    events = cal.events()
    assert ids_are_unique(events)
    assert all(event.all_day for event in events)
    assert [(e.start.day, e.end.day, e.title) for e in events] == [
        (1, 2, "Holiday"),
        (2, 3, "Holiday"),
        (3, 4, "Holiday"),
        (4, 5, "Holiday"),
        (5, 7, "Two days"),
        (6, 7, "Holiday"),
        (7, 8, "Holiday"),
        (8, 9, "Rest"),
        (9, 10, "Rest"),
        (10, 11, "Rest"),
    ]


def test_a_series_cannot_switch_between_all_day_and_timed_for_all_its_instances(cal, provider):
    cal.put("weekly.ics", WEEKLY)
    first = cal.instance(at(7, 8))

    with pytest.raises(ActionRefused):
        provider.update_event(
            cal.url, first.id, days(date(2030, 1, 7), date(2030, 1, 8)), scope=EditScope.ALL
        )


# Removing -----------------------------------------------------------------------------------


def test_a_single_event_is_deleted_and_one_already_gone_is_fine(cal, provider):
    path = cal.put("one.ics", calendar(vevent("one-1", ":20300110T100000Z", ":20300110T110000Z")))
    detail = provider.get_event(cal.url, path)

    provider.remove_event(cal.url, path, etag=detail.etag)
    provider.remove_event(cal.url, path, etag=detail.etag)

    assert cal.objects() == []


def test_this_instance_is_removed_with_an_exdate_and_its_override_goes(cal, provider):
    path = cal.put("weekly.ics", WEEKLY)
    moved = cal.instance(at(14, 12))
    fifth = cal.instance(at(4, 8, month=2))

    provider.remove_event(cal.url, moved.id, scope=EditScope.THIS)
    provider.remove_event(cal.url, fifth.id, scope=EditScope.THIS)
    provider.remove_event(cal.url, fifth.id, scope=EditScope.THIS)  # gone already: fine

    stored = cal.stored(path)
    assert overrides_of(stored) == {}
    master = master_of(stored)
    assert master["SEQUENCE"] == 2
    assert [e.start for e in cal.events()] == [at(7, 8), at(28, 8), at(11, 8, month=2)]


def test_following_instances_are_removed_with_until_and_their_overrides_go(cal, provider):
    path = cal.put("weekly.ics", WEEKLY)
    second = cal.instance(at(14, 12))

    provider.remove_event(cal.url, second.id, scope=EditScope.FOLLOWING)

    stored = cal.stored(path)
    assert overrides_of(stored) == {}
    master = master_of(stored)
    assert master["RRULE"].to_ical() == b"FREQ=WEEKLY;UNTIL=20300114T075959Z"
    assert "EXDATE" not in master
    assert [e.start for e in cal.events()] == [at(7, 8)]


def test_all_instances_are_removed_with_the_object(cal, provider):
    cal.put("weekly.ics", WEEKLY)
    third = cal.instance(at(28, 8))

    provider.remove_event(cal.url, third.id, scope=EditScope.ALL)

    assert cal.objects() == []
    assert cal.events() == []


def test_following_from_the_first_instance_removes_the_whole_series(cal, provider):
    cal.put("weekly.ics", WEEKLY)

    provider.remove_event(cal.url, cal.instance(at(7, 8)).id, scope=EditScope.FOLLOWING)

    assert cal.objects() == []


# Conflicts and refusals -----------------------------------------------------------------------


def test_a_change_made_elsewhere_since_the_read_is_a_conflict_and_is_kept(cal, provider):
    path = cal.put("one.ics", calendar(vevent("one-1", ":20300110T100000Z", ":20300110T110000Z")))
    detail = provider.get_event(cal.url, path)
    cal.put(
        "one.ics",
        calendar(vevent("one-1", ":20300110T120000Z", ":20300110T130000Z", title="Theirs")),
    )

    with pytest.raises(EventConflict):
        provider.update_event(
            cal.url, path, timed(at(10, 15), at(10, 16), title="Ours"), etag=detail.etag
        )
    with pytest.raises(EventConflict):
        provider.remove_event(cal.url, path, etag=detail.etag)

    assert cal.times() == [(at(10, 12), at(10, 13), "Theirs")]
    fresh = provider.get_event(cal.url, path)
    assert fresh.etag != detail.etag
    provider.update_event(
        cal.url, path, timed(at(10, 15), at(10, 16), title="Ours"), etag=fresh.etag
    )
    assert cal.times() == [(at(10, 15), at(10, 16), "Ours")]


def test_a_change_made_between_our_read_and_our_write_is_a_conflict(
    caldav_server, account, calendar_url, make_provider
):
    """The server's If-Match decides, not our own comparison: the other client writes after
    our GET and before our PUT."""
    with running_fault_proxy(caldav_server.url) as proxy:
        provider = make_provider(account, server_url=proxy.url)
        calendar_url = through(proxy, calendar_url)
        cal = Calendar(caldav_server, account, calendar_url, provider)
        path = cal.put(
            "one.ics", calendar(vevent("one-1", ":20300110T100000Z", ":20300110T110000Z"))
        )
        detail = provider.get_event(calendar_url, path)

        def other_client_writes_first(method: str, path_: str, count: int) -> None:
            if method == "PUT":
                cal.put(
                    "one.ics",
                    calendar(
                        vevent("one-1", ":20300110T120000Z", ":20300110T130000Z", title="Theirs")
                    ),
                )

        proxy.fault = other_client_writes_first
        with pytest.raises(EventConflict):
            provider.update_event(
                calendar_url, path, timed(at(10, 15), at(10, 16)), etag=detail.etag
            )
        proxy.reset()

    assert cal.times() == [(at(10, 12), at(10, 13), "Theirs")]


def test_a_split_series_is_taken_back_when_the_original_changed_meanwhile(
    caldav_server, account, calendar_url, make_provider
):
    with running_fault_proxy(caldav_server.url) as proxy:
        provider = make_provider(account, server_url=proxy.url)
        calendar_url = through(proxy, calendar_url)
        cal = Calendar(caldav_server, account, calendar_url, provider)
        path = cal.put("weekly.ics", WEEKLY)
        fourth = cal.instance(at(28, 8))
        detail = provider.get_event(calendar_url, fourth.id)
        proxy.fault = lambda method, path_, count: 412 if method == "PUT" and count == 2 else None

        with pytest.raises(EventConflict):
            provider.update_event(
                calendar_url,
                fourth.id,
                timed(at(28, 9), at(28, 10)),
                scope=EditScope.FOLLOWING,
                etag=detail.etag,
            )
        proxy.reset()

    assert cal.objects() == [path]
    assert len(cal.events()) == 5


@RADICALE_ONLY
def test_a_calendar_the_account_may_only_read_refuses_changes_in_plain_words(
    caldav_server, account, provider
):
    shared = caldav_server.create_calendar(account, "Team", read_only=True)
    caldav_server.put_object(
        caldav_server._admin(),
        shared,
        "team.ics",
        calendar(vevent("team-1", ":20300110T100000Z", ":20300110T110000Z")),
    )
    (event,) = provider.changes(shared, "", WINDOW).events

    with pytest.raises(ActionRefused) as changing:
        provider.update_event(shared, event.id, timed(at(10, 15), at(10, 16)))
    with pytest.raises(ActionRefused) as removing:
        provider.remove_event(shared, event.id)
    with pytest.raises(ActionRefused) as creating:
        provider.create_event(shared, timed(at(10, 15), at(10, 16)))

    for refused in (changing, removing, creating):
        assert refused.value.message == "This calendar is read-only on its CalDAV server."
        assert not refused.value.permanent


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (403, "This calendar is read-only on its CalDAV server."),
        (404, "This event is no longer in the calendar."),
        (410, "This event is no longer in the calendar."),
    ],
)
def test_refusals_of_a_write_are_said_in_plain_words(
    caldav_server, account, calendar_url, make_provider, status, message
):
    with running_fault_proxy(caldav_server.url) as proxy:
        provider = make_provider(account, server_url=proxy.url)
        calendar_url = through(proxy, calendar_url)
        cal = Calendar(caldav_server, account, calendar_url, provider)
        path = cal.put(
            "one.ics", calendar(vevent("one-1", ":20300110T100000Z", ":20300110T110000Z"))
        )
        proxy.fault = lambda method, path_, count: status if method in ("PUT", "DELETE") else None

        with pytest.raises(ActionRefused) as refused:
            provider.update_event(calendar_url, path, timed(at(10, 15), at(10, 16)))
        proxy.reset()

    assert refused.value.message == message
    assert type(refused.value) is ActionRefused


def test_transient_and_credential_failures_keep_their_meaning(
    caldav_server, account, calendar_url, make_provider
):
    with running_fault_proxy(caldav_server.url) as proxy:
        provider = make_provider(account, server_url=proxy.url)
        calendar_url = through(proxy, calendar_url)
        cal = Calendar(caldav_server, account, calendar_url, provider)
        path = cal.put(
            "one.ics", calendar(vevent("one-1", ":20300110T100000Z", ":20300110T110000Z"))
        )
        outcomes = {}
        for status in (401, 503, 500):
            proxy.fault = lambda method, path_, count, status=status: (
                status if method == "PUT" else None
            )
            with pytest.raises(ProviderError) as failed:
                provider.update_event(calendar_url, path, timed(at(10, 15), at(10, 16)))
            outcomes[status] = (type(failed.value), failed.value.permanent)
        proxy.reset()

    assert outcomes == {
        401: (ProviderError, True),
        503: (ProviderError, False),
        500: (ProviderError, False),
    }


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        (
            MarkerKind.BLOCK,
            "This is a block Multical keeps in step with its source; change the source event "
            "instead.",
        ),
        (
            MarkerKind.BOOKING,
            "This event belongs to a booking made on your booking page; change or cancel the "
            "booking instead.",
        ),
    ],
)
def test_blocks_and_booking_events_are_never_changed_as_the_users_own(cal, provider, kind, message):
    spec = BlockSpec(
        block_id="b-1", start=at(10, 9), end=at(10, 10), all_day=False, title="Busy", kind=kind
    )
    href = provider.put_block(cal.url, spec)
    before = cal.stored(href).to_ical()

    for attempt in (
        lambda: provider.update_event(cal.url, href, timed(at(10, 15), at(10, 16))),
        lambda: provider.remove_event(cal.url, href),
        lambda: provider.remove_event(cal.url, href, scope=EditScope.ALL),
    ):
        with pytest.raises(ActionRefused) as refused:
            attempt()
        assert refused.value.message == message

    assert cal.stored(href).to_ical() == before
    assert (MARKER_PROPERTY in vevents(cal.stored(href))[0]) is (kind == MarkerKind.BLOCK)


# Content stays out of logs ---------------------------------------------------------------------


def test_no_event_content_reaches_our_logs_or_errors(cal, provider, caplog):
    caplog.set_level("DEBUG")
    path = cal.put(
        "weekly.ics",
        WEEKLY.replace("SUMMARY:Weekly\r\n", f"SUMMARY:{SECRET_TITLE}\r\n"),
    )
    draft = EventDraft(
        title=SECRET_TITLE,
        start=at(28, 9),
        end=at(28, 10),
        location=SECRET_PLACE,
        description=SECRET_NOTES,
    )
    created = provider.create_event(cal.url, draft)
    provider.update_event(cal.url, created.event.id, draft)
    errors = []
    for scope, position in ((EditScope.THIS, 1), (EditScope.ALL, 0), (EditScope.FOLLOWING, 2)):
        instance = [event for event in cal.events() if event.series_id == path][position]
        provider.get_event(cal.url, instance.id)
        changed = provider.update_event(cal.url, instance.id, draft, scope=scope)
        with pytest.raises(EventConflict) as conflict:
            provider.update_event(cal.url, changed.event.id, draft, scope=scope, etag='"stale"')
        errors.append(conflict.value)
    for event in cal.events():
        provider.remove_event(cal.url, event.id, scope=EditScope.THIS)

    logged = caplog.text + " ".join(repr(record.args) for record in caplog.records)
    said = " ".join(f"{error!s} {error!r}" for error in errors)
    for secret in (SECRET_TITLE, SECRET_PLACE, SECRET_NOTES):
        assert secret not in logged
        assert secret not in said
    assert SECRET_TITLE not in repr(draft)
    assert SECRET_TITLE not in repr(created)
