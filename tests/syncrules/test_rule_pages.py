"""The sync-rule pages: list, form and its validation, preview, history, calendar sync page, access."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from calendars.models import Connection
from calendars.services import connection_connect_ics
from syncrules.models import Block, SyncRule, SyncRun
from tests.factories import DEFAULT_PASSWORD, CalendarFactory, ConnectionFactory, UserFactory
from tests.syncrules.rule_page_helpers import (
    BlockFactory,
    SyncRuleFactory,
    SyncRunFactory,
    client_for,
    days_from_now,
    ics_event,
    ics_feed,
    rule_form_data,
)

pytestmark = pytest.mark.django_db

RULE_URLS = ["rule_detail", "rule_edit", "rule_delete", "rule_set_enabled"]
PLAIN_URLS = ["rule_list", "rule_create", "rule_preview", "block_each_other"]


@pytest.fixture
def calendars(owner):
    dav = ConnectionFactory(user=owner, label="owner @ dav.example.com")
    ics = ConnectionFactory(user=owner, kind=Connection.Kind.ICS, label="School holidays link")
    return {
        "Work": CalendarFactory(connection=dav, name="Work"),
        "Personal": CalendarFactory(connection=dav, name="Personal"),
        "Holidays": CalendarFactory(connection=ics, name="Holidays", read_only=True),
    }


@pytest.fixture
def rule(owner, calendars):
    return SyncRuleFactory(
        user=owner,
        name="Work into personal",
        sources=[calendars["Work"]],
        targets=[calendars["Personal"]],
    )


@pytest.fixture
def strangers_calendar(outsider):
    connection = ConnectionFactory(user=outsider, label="outsider @ dav.example.com")
    return CalendarFactory(connection=connection, name="Outsider's secret calendar")


def errors_of(response, field: str) -> list[str]:
    return list(response.context["form"].errors.get(field, []))


# Access ------------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in_from_every_rule_page(client, rule, calendars):
    urls = [reverse(f"syncrules:{name}") for name in PLAIN_URLS]
    urls += [reverse(f"syncrules:{name}", args=[rule.id]) for name in RULE_URLS]
    urls.append(reverse("syncrules:calendar_detail", args=[calendars["Work"].id]))
    for url in urls:
        for response in [client.get(url), client.post(url)]:
            assert response.status_code == 302, url
            assert response.url.startswith(reverse("accounts:login")), url


def test_an_outsider_gets_404_on_every_rule_url_and_the_calendar_page(
    rule, calendars, outsider, enqueued, django_capture_on_commit_callbacks
):
    client = client_for(outsider)
    data = rule_form_data(sources=[calendars["Work"]], targets=[calendars["Personal"]])
    with django_capture_on_commit_callbacks(execute=True):
        for name in RULE_URLS:
            url = reverse(f"syncrules:{name}", args=[rule.id])
            assert client.get(url).status_code == 404, name
            assert client.post(url, {**data, "enabled": "off"}).status_code == 404, name
        for calendar in calendars.values():
            url = reverse("syncrules:calendar_detail", args=[calendar.id])
            assert client.get(url).status_code == 404
            assert client.post(url).status_code == 404
        # Previewing from the owner's edit page is refused too.
        preview = client.post(reverse("syncrules:rule_preview"), {**data, "rule": str(rule.id)})
        assert preview.status_code == 404

    rule.refresh_from_db()
    assert rule.enabled and rule.name == "Work into personal"
    assert enqueued.syncs == [] and enqueued.stale_removals == 0


def test_a_preview_naming_a_rule_that_is_not_a_uuid_is_404(owner_client, calendars):
    data = rule_form_data(sources=[calendars["Work"]], targets=[calendars["Personal"]])
    response = owner_client.post(reverse("syncrules:rule_preview"), {**data, "rule": "1 OR 1"})
    assert response.status_code == 404


def test_an_outsider_sees_none_of_the_owners_rules_or_calendars(rule, outsider):
    client = client_for(outsider)
    for url in [reverse("syncrules:rule_list"), reverse("syncrules:rule_create")]:
        html = client.get(url).content.decode()
        assert "Work into personal" not in html
        assert "owner @ dav.example.com" not in html


# The list ----------------------------------------------------------------------------------------


def test_the_empty_list_says_to_connect_two_calendars_first(owner_client, owner):
    CalendarFactory(connection=ConnectionFactory(user=owner), name="Only one")

    html = owner_client.get(reverse("syncrules:rule_list")).content.decode()

    assert "Connect at least two calendars first" in html
    assert reverse("calendars:calendar_list") in html
    assert reverse("syncrules:rule_create") not in html


def test_the_empty_list_offers_a_new_rule_and_blocking_each_other(owner_client, calendars):
    html = owner_client.get(reverse("syncrules:rule_list")).content.decode()

    assert "No sync rules yet" in html
    assert reverse("syncrules:rule_create") in html
    assert reverse("syncrules:block_each_other") in html


def test_the_list_shows_each_rule_with_its_calendars_state_last_run_and_blocks(
    owner_client, owner, rule, calendars
):
    SyncRunFactory(
        rule=rule,
        source_calendar=calendars["Work"],
        started_at=datetime.now(UTC) - timedelta(hours=2),
        created=9,
    )
    SyncRunFactory(
        rule=rule,
        source_calendar=calendars["Work"],
        created=4,
        updated=3,
        deleted=2,
        skipped=7,
        error="The server refused the user name or password.",
    )
    for _ in range(5):
        BlockFactory(
            rule=rule, source_calendar=calendars["Work"], target_calendar=calendars["Personal"]
        )
    SyncRuleFactory(
        user=owner,
        name="Holidays into work",
        enabled=False,
        visibility=SyncRule.Visibility.FULL,
        sources=[calendars["Holidays"]],
        targets=[calendars["Work"]],
    )

    html = owner_client.get(reverse("syncrules:rule_list")).content.decode()

    first, second = html.split('id="rule-')[1:3]
    assert "Work into personal" in first
    assert re.search(r"Work</span>\s*<span[^>]*>→</span>.*?Personal", first, re.DOTALL)
    assert "On" in first and "Busy only (“Busy”)" in first
    assert "4 created, 3 updated, 2 deleted, 7 skipped" in first
    assert "9 created" not in first  # only the latest run
    assert "The server refused the user name or password." in first
    assert "<dd>5</dd>" in first
    assert "Holidays into work" in second
    assert "Off" in second and "Full details" in second and "Not run yet" in second
    assert "Turn on" in second


# The form and its validation ---------------------------------------------------------------------


def test_the_form_offers_the_users_calendars_grouped_by_account(
    owner_client, calendars, strangers_calendar
):
    response = owner_client.get(reverse("syncrules:rule_create"))
    html = response.content.decode()

    assert html.count("<legend>owner @ dav.example.com</legend>") == 2  # sources and targets
    assert html.count("<legend>School holidays link</legend>") == 2
    holidays = str(calendars["Holidays"].id)
    source_box = re.search(rf'<input[^>]*name="sources"[^>]*value="{holidays}"[^>]*>', html)
    target_box = re.search(rf'<input[^>]*name="targets"[^>]*value="{holidays}"[^>]*>', html)
    assert "disabled" not in source_box.group()
    assert "disabled" in target_box.group()  # read-only: only ever a source
    assert "Outsider's secret calendar" not in html
    assert str(strangers_calendar.id) not in html


def test_the_form_starts_from_the_rule_defaults(owner_client, calendars):
    form = owner_client.get(reverse("syncrules:rule_create")).context["form"]

    assert form["busy_title"].value() == "Busy"
    assert form["visibility"].value() == "busy"
    assert form["lookahead_days"].value() == 60 and form["lookback_days"].value() == 0
    assert form["skip_declined"].value() and form["skip_free"].value()
    assert not form["show_location"].value() and not form["show_video_link"].value()
    assert form["tentative"].value() == "busy" and form["all_day"].value() == "skip"
    assert form["show_as"].value() == "busy" and form["enabled"].value()
    assert "Meet, Zoom, Teams and Webex links" in str(form["show_video_link"].help_text)


def test_a_valid_rule_is_saved_and_its_sources_are_synced(
    owner_client, owner, calendars, enqueued, django_capture_on_commit_callbacks
):
    data = rule_form_data(
        sources=[calendars["Work"], calendars["Holidays"]],
        targets=[calendars["Personal"]],
        include_keywords=" Client A ,client b,, Client A ",
        exclude_keywords="lunch",
        weekdays=["1", "2", "3"],
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("syncrules:rule_create"), data, follow=True)

    rule = SyncRule.objects.get(user=owner)
    assert response.redirect_chain[-1][0] == reverse("syncrules:rule_list")
    assert "Work into personal" in response.content.decode()
    assert set(rule.sources.all()) == {calendars["Work"], calendars["Holidays"]}
    assert list(rule.targets.all()) == [calendars["Personal"]]
    assert rule.include_keywords == ["Client A", "client b"]
    assert rule.exclude_keywords == ["lunch"]
    assert rule.weekdays == [1, 2, 3]
    assert sorted(enqueued.syncs) == sorted(
        [str(calendars["Work"].id), str(calendars["Holidays"].id)]
    )


@pytest.mark.parametrize(
    ("case", "field", "message"),
    [
        ("read-only target", "targets", "“Holidays” is read-only"),
        ("source and target", "targets", "“Work” cannot be both a source and a target"),
        ("no source", "sources", "Choose at least one calendar to copy events from."),
        ("no target", "targets", "Choose at least one calendar to block time in."),
        ("another user's source", "sources", "Choose among your own calendars."),
        ("another user's target", "targets", "Choose among your own calendars."),
        ("hours end before start", "working_hours_end", "Working hours must end after they start."),
        ("hours without end", "working_hours_end", "Give both the start and the end"),
        ("hours without start", "working_hours_start", "Give both the start and the end"),
        ("no lookahead", "lookahead_days", "Choose between 1 and 365 days."),
        ("lookahead over a year", "lookahead_days", "Choose between 1 and 365 days."),
        ("lookback over a month", "lookback_days", "Choose between 0 and 30 days."),
    ],
)
def test_an_invalid_rule_is_refused_with_the_error_under_its_field(
    owner_client, calendars, strangers_calendar, case, field, message, enqueued
):
    work, personal, holidays = calendars["Work"], calendars["Personal"], calendars["Holidays"]
    sources, targets, changes = [work], [personal], {}
    if case == "read-only target":
        targets = [personal, holidays]
    elif case == "source and target":
        targets = [personal, work]
    elif case == "no source":
        sources = []
    elif case == "no target":
        targets = []
    elif case == "another user's source":
        sources = [work, strangers_calendar]
    elif case == "another user's target":
        targets = [strangers_calendar]
    elif case == "hours end before start":
        changes = {"working_hours_start": "17:00", "working_hours_end": "09:00"}
    elif case == "hours without end":
        changes = {"working_hours_start": "09:00"}
    elif case == "hours without start":
        changes = {"working_hours_end": "17:00"}
    elif case == "no lookahead":
        changes = {"lookahead_days": "0"}
    elif case == "lookahead over a year":
        changes = {"lookahead_days": "366"}
    elif case == "lookback over a month":
        changes = {"lookback_days": "31"}

    response = owner_client.post(
        reverse("syncrules:rule_create"),
        rule_form_data(sources=sources, targets=targets, **changes),
    )

    assert response.status_code == 200
    assert any(message in error for error in errors_of(response, field)), response.context[
        "form"
    ].errors
    html = response.content.decode()
    assert "field--invalid" in html
    assert "Outsider's secret calendar" not in html
    assert not SyncRule.objects.exists()


def test_working_hours_from_before_to_after_are_accepted(owner_client, owner, calendars):
    data = rule_form_data(
        sources=[calendars["Work"]],
        targets=[calendars["Personal"]],
        working_hours_start="08:00",
        working_hours_end="17:30",
    )

    owner_client.post(reverse("syncrules:rule_create"), data)

    rule = SyncRule.objects.get(user=owner)
    assert (str(rule.working_hours_start), str(rule.working_hours_end)) == ("08:00:00", "17:30:00")


def test_the_edit_page_shows_the_rule_as_saved_and_saves_changes(
    owner_client, rule, calendars, enqueued, django_capture_on_commit_callbacks
):
    SyncRule.objects.filter(id=rule.id).update(exclude_keywords=["lunch", "gym"], weekdays=[1, 5])
    url = reverse("syncrules:rule_edit", args=[rule.id])

    form = owner_client.get(url).context["form"]
    assert form["name"].value() == "Work into personal"
    assert [str(value) for value in form["sources"].value()] == [str(calendars["Work"].id)]
    assert form["exclude_keywords"].value() == "lunch, gym"
    assert [int(day) for day in form["weekdays"].value()] == [1, 5]

    data = rule_form_data(
        sources=[calendars["Work"], calendars["Holidays"]],
        targets=[calendars["Personal"]],
        name="Everything into personal",
        visibility="title",
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(url, data)

    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.name == "Everything into personal"
    assert rule.visibility == SyncRule.Visibility.TITLE
    assert rule.exclude_keywords == []
    assert set(rule.sources.all()) == {calendars["Work"], calendars["Holidays"]}
    assert enqueued.stale_removals == 1
    assert enqueued.full(calendars["Holidays"].id)


def test_delete_asks_first_and_deletes_only_on_post(
    owner_client, rule, calendars, enqueued, django_capture_on_commit_callbacks
):
    url = reverse("syncrules:rule_delete", args=[rule.id])

    page = owner_client.get(url)
    assert "Delete “Work into personal”?" in page.content.decode()
    assert SyncRule.objects.filter(id=rule.id).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(url, follow=True)

    assert not SyncRule.objects.filter(id=rule.id).exists()
    assert "is deleted" in response.content.decode()
    assert enqueued.stale_removals == 1


def test_a_rule_is_turned_off_and_on_from_the_list(
    owner_client, rule, enqueued, django_capture_on_commit_callbacks
):
    url = reverse("syncrules:rule_set_enabled", args=[rule.id])
    assert owner_client.get(url).status_code == 405  # only a POST changes anything

    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(url, {"enabled": "off"})
    rule.refresh_from_db()
    assert not rule.enabled
    assert enqueued.stale_removals == 1

    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(url, {"enabled": "on"})
    rule.refresh_from_db()
    assert rule.enabled
    assert enqueued.syncs == [str(rule.sources.get().id)]


# Block each other --------------------------------------------------------------------------------


def test_block_each_other_lists_writable_calendars_and_makes_a_rule_for_each(
    owner_client, owner, calendars, enqueued, django_capture_on_commit_callbacks
):
    family = CalendarFactory(connection=calendars["Work"].connection, name="Family")
    url = reverse("syncrules:block_each_other")

    html = owner_client.get(url).content.decode()
    assert str(calendars["Work"].id) in html and str(family.id) in html
    assert str(calendars["Holidays"].id) not in html

    chosen = [calendars["Work"], calendars["Personal"], family]
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(url, {"calendars": [str(c.id) for c in chosen]}, follow=True)

    assert "3 rules are saved" in response.content.decode()
    rules = SyncRule.objects.filter(user=owner)
    assert sorted(rule.name for rule in rules) == [
        "Family → others",
        "Personal → others",
        "Work → others",
    ]
    for rule in rules:
        (source,) = rule.sources.all()
        assert set(rule.targets.all()) == set(chosen) - {source}


@pytest.mark.parametrize("case", ["one", "read-only", "another user's"])
def test_block_each_other_needs_two_of_the_users_writable_calendars(
    owner_client, calendars, strangers_calendar, case
):
    chosen = {
        "one": [calendars["Work"]],
        "read-only": [calendars["Work"], calendars["Holidays"]],
        "another user's": [calendars["Work"], strangers_calendar],
    }[case]

    response = owner_client.post(
        reverse("syncrules:block_each_other"), {"calendars": [str(c.id) for c in chosen]}
    )

    assert response.status_code == 200
    assert "Outsider's secret calendar" not in response.content.decode()
    assert response.context["form"].errors["calendars"]
    assert not SyncRule.objects.exists()


# History and the calendar sync page --------------------------------------------------------------


def test_the_history_shows_the_last_50_runs_with_counts_and_errors(owner_client, rule, calendars):
    now = datetime.now(UTC)
    for minutes in range(55):
        SyncRunFactory(
            rule=rule,
            source_calendar=calendars["Work"],
            started_at=now - timedelta(minutes=minutes + 1),
            created=minutes,
        )
    SyncRunFactory(
        rule=rule,
        source_calendar=calendars["Work"],
        started_at=now,
        full_read=True,
        created=11,
        updated=12,
        deleted=13,
        skipped=14,
        error="The calendar's server is not answering right now (HTTP 503).",
    )

    response = owner_client.get(reverse("syncrules:rule_detail", args=[rule.id]))
    html = response.content.decode()

    rows = html.split("<tbody>")[1].split("</tbody>")[0].count("<tr>")
    assert rows == 50
    first_row = html.split("<tbody>")[1].split("</tr>")[0]
    assert "Work" in first_row and "Full read" in first_row
    for label, count in [("Created", 11), ("Updated", 12), ("Deleted", 13), ("Skipped", 14)]:
        # Labelled, for the rows a phone shows stacked.
        assert f'<td class="numeric" data-label="{label}">{count}</td>' in first_row
    assert "(HTTP 503)" in first_row
    assert "Changes only" in html


def test_the_calendar_page_shows_its_sync_state(owner_client, owner, rule, calendars, settings):
    settings.SYNC_POLL_INTERVAL_SECONDS = 300
    work = calendars["Work"]
    work.last_synced_at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    work.last_error = "The server refused the user name or password."
    work.last_error_at = datetime(2026, 1, 5, 9, 1, tzinfo=UTC)
    work.save()
    for _ in range(3):
        BlockFactory(rule=rule, source_calendar=work, target_calendar=calendars["Personal"])
    BlockFactory(rule=rule, source_calendar=calendars["Holidays"], target_calendar=work)
    SyncRuleFactory(
        user=owner, name="Personal into work", sources=[calendars["Personal"]], targets=[work]
    )

    html = owner_client.get(reverse("syncrules:calendar_detail", args=[work.id])).content.decode()

    # Berlin is an hour ahead of UTC in January.
    assert "5 Jan 2026, 10:00" in html  # last sync
    assert "5 Jan 2026, 10:05" in html  # next poll, one interval later
    assert re.search(r"Blocks written into it</dt><dd>1</dd>", html)
    assert re.search(r"Blocks made from its events</dt><dd>3</dd>", html)
    assert "The server refused the user name or password." in html
    assert "5 Jan 2026, 10:01" in html
    work_rule = html.split("Work into personal")[1].split("</li>")[0]
    assert "Source" in work_rule and "Target" not in work_rule
    personal_rule = html.split("Personal into work")[1].split("</li>")[0]
    assert "Target" in personal_rule and "Source" not in personal_rule


def test_a_calendar_never_synced_says_so(owner_client, calendars):
    html = owner_client.get(
        reverse("syncrules:calendar_detail", args=[calendars["Personal"].id])
    ).content.decode()
    assert "Not synced yet" in html
    assert "None planned" in html  # no rule reads from it, so nothing polls it
    assert "This calendar is in no sync rule." in html


def test_sync_now_queues_a_sync_of_the_calendar(
    owner_client, calendars, enqueued, django_capture_on_commit_callbacks
):
    url = reverse("syncrules:calendar_detail", args=[calendars["Work"].id])

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(url, follow=True)

    assert response.redirect_chain[-1][0] == url
    assert "Sync queued" in response.content.decode()
    assert enqueued.syncs == [str(calendars["Work"].id)]
    assert not enqueued.full(calendars["Work"].id)


def test_each_calendar_in_the_calendar_list_links_to_its_sync_page(owner_client, calendars):
    html = owner_client.get(reverse("calendars:calendar_list")).content.decode()
    for calendar in calendars.values():
        assert reverse("syncrules:calendar_detail", args=[calendar.id]) in html


# The preview -------------------------------------------------------------------------------------


@pytest.fixture
def client_feed(owner, feed):
    """An iCal link whose events fall in the next days: two to copy, two to skip."""
    feed.serve(
        ics_feed(
            ics_event("review", days_from_now(2, 10), title="Design review", location="Room 7"),
            ics_event("gym", days_from_now(3, 7), title="Gym", extra=("TRANSP:TRANSPARENT",)),
            ics_event("standup", days_from_now(4, 8), minutes=15, title="Client stand-up"),
            "\r\n".join(
                [
                    "BEGIN:VEVENT",
                    "UID:offsite",
                    "DTSTAMP:20260101T000000Z",
                    f"DTSTART;VALUE=DATE:{days_from_now(5):%Y%m%d}",
                    f"DTEND;VALUE=DATE:{days_from_now(6):%Y%m%d}",
                    "SUMMARY:Offsite",
                    "END:VEVENT",
                ]
            ),
        )
    )
    connection = connection_connect_ics(user=owner, url=feed.url, label="", ip_address=None)
    return connection.calendars.get()


def preview_data(source, target, **changes):
    return rule_form_data(sources=[source], targets=[target], **changes)


def test_preview_without_script_shows_the_form_again_with_the_preview_below(
    owner_client, calendars, client_feed
):
    data = preview_data(client_feed, calendars["Personal"], name="", visibility="title")

    response = owner_client.post(reverse("syncrules:rule_preview"), data)

    html = response.content.decode()
    assert response.status_code == 200
    form_end, preview = html.index("</form>"), html.index('id="rule-preview"')
    assert form_end < preview
    assert f'action="{reverse("syncrules:rule_create")}"' in html
    assert response.context["form"]["visibility"].value() == "title"
    after_form = html[preview:]
    assert '<span class="preview-block__title">Design review</span>' in after_form
    assert '<span class="preview-block__title">Client stand-up</span>' in after_form
    assert "Skipped: Marked free" in after_form
    assert "Skipped: All-day event" in after_form
    assert "In Personal" in after_form


def test_the_preview_for_the_script_is_only_the_fragment(owner_client, calendars, client_feed):
    data = preview_data(client_feed, calendars["Personal"], busy_title="Taken")

    response = owner_client.post(
        reverse("syncrules:rule_preview"), data, headers={"X-Preview-Fragment": "1"}
    )

    html = response.content.decode()
    assert "<form" not in html and "<html" not in html
    assert html.count('<span class="preview-block__title">Taken</span>') == 2
    assert "Design review" in html  # the source event, so the user knows which one it is
    assert "Location:" not in html
    assert "Skipped: Marked free" in html


def test_the_preview_reads_in_the_users_time_zone_in_time_order(
    owner_client, owner, calendars, client_feed
):
    owner.time_zone = "America/New_York"
    owner.save(update_fields=["time_zone"])

    response = owner_client.post(
        reverse("syncrules:rule_preview"),
        preview_data(client_feed, calendars["Personal"], visibility="title"),
        headers={"X-Preview-Fragment": "1"},
    )

    html = response.content.decode()
    titles = re.findall(r"<td>\s*([^<]+?)\s*<span class=\"hint\">", html)
    assert titles == ["Design review", "Gym", "Client stand-up", "Offsite"]
    review = response.context["preview"].rows[0]
    local = days_from_now(2, 10).astimezone(review.start.tzinfo)
    assert str(review.start.tzinfo) == "America/New_York"
    assert f"{local:%H:%M}\N{EN DASH}" in html


def test_the_preview_shows_the_location_only_when_the_rule_shows_it(
    owner_client, calendars, client_feed
):
    url = reverse("syncrules:rule_preview")
    headers = {"X-Preview-Fragment": "1"}
    hidden = owner_client.post(
        url, preview_data(client_feed, calendars["Personal"], visibility="full"), headers=headers
    )
    shown = owner_client.post(
        url,
        preview_data(client_feed, calendars["Personal"], visibility="full", show_location="on"),
        headers=headers,
    )

    assert "Room 7" not in hidden.content.decode()
    assert "Location: Room 7" in shown.content.decode()


def test_the_preview_writes_nothing(owner_client, owner, rule, calendars, client_feed):
    counts = (SyncRule.objects.count(), Block.objects.count(), SyncRun.objects.count())
    data = preview_data(client_feed, calendars["Personal"], name="Changed", visibility="full")

    with CaptureQueriesContext(db_connection) as queries:
        response = owner_client.post(
            reverse("syncrules:rule_preview"), {**data, "rule": str(rule.id)}
        )

    assert "Design review" in response.content.decode()
    writes = [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")]
    assert writes == []
    assert (SyncRule.objects.count(), Block.objects.count(), SyncRun.objects.count()) == counts
    rule.refresh_from_db()
    assert rule.name == "Work into personal"
    # From the edit page, the re-shown form still saves to that rule.
    assert f'action="{reverse("syncrules:rule_edit", args=[rule.id])}"' in response.content.decode()


def test_a_source_that_fails_shows_its_error_in_the_preview(
    owner_client, calendars, client_feed, feed
):
    feed.status = 503

    response = owner_client.post(
        reverse("syncrules:rule_preview"),
        preview_data(client_feed, calendars["Personal"]),
        headers={"X-Preview-Fragment": "1"},
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "could not be read" in html
    assert "(HTTP 503)" in html


def test_the_preview_of_an_invalid_rule_says_what_to_fix(owner_client, calendars):
    response = owner_client.post(
        reverse("syncrules:rule_preview"),
        rule_form_data(sources=[], targets=[calendars["Holidays"]]),
        headers={"X-Preview-Fragment": "1"},
    )

    html = response.content.decode()
    assert "Fix the rule to see its preview" in html
    assert "Choose at least one calendar to copy events from." in html
    assert "read-only" in html


# Admin -------------------------------------------------------------------------------------------


def test_operators_see_rules_blocks_and_runs_and_deleting_a_rule_queues_the_clean_up(
    client, rule, calendars, enqueued, django_capture_on_commit_callbacks
):
    operator = UserFactory(email="operator@example.com", is_staff=True, is_superuser=True)
    client.login(email=operator.email, password=DEFAULT_PASSWORD)
    run = SyncRunFactory(rule=rule, source_calendar=calendars["Work"])
    block = BlockFactory(
        rule=rule, source_calendar=calendars["Work"], target_calendar=calendars["Personal"]
    )
    for name, object_id in [("syncrule", rule.id), ("block", block.id), ("syncrun", run.id)]:
        assert client.get(reverse(f"admin:syncrules_{name}_changelist")).status_code == 200
        assert (
            client.get(reverse(f"admin:syncrules_{name}_change", args=[object_id])).status_code
            == 200
        )
    block_page = client.get(reverse("admin:syncrules_block_change", args=[block.id]))
    assert not block_page.context["has_change_permission"]
    assert not block_page.context["has_delete_permission"]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:syncrules_syncrule_delete", args=[rule.id]), {"post": "yes"}
        )

    assert response.status_code == 302
    assert not SyncRule.objects.filter(id=rule.id).exists()
    block.refresh_from_db()
    assert block.rule is None
    assert enqueued.stale_removals == 1
