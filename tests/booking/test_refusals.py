"""A booking refused: whatever the attendee typed stays on the form that offers other times, the
refusal is worded in the attendee's language, and screen readers are told politely. Also what a
screen reader hears of the month and the times."""

from __future__ import annotations

import html
import itertools
import re
import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection
from django.test import Client
from django.utils import translation

from booking.form_tokens import form_token
from booking.models import Booking, BookingPage, Profile
from booking.public_display import format_start
from booking.services import bookings as services
from booking.slots import Refusal
from tests.booking.pages import at, days_ahead, make_host

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("follow_ups", "generous_rate_limits"),
]

LANGUAGES = ["de", "fr", "es", "pt", "nl", "it", "ja"]
TAKEN_IN = {
    "en": "This time was just taken.",
    "de": "Diese Uhrzeit wurde gerade vergeben.",
    "fr": "Cet horaire vient d’être réservé.",  # noqa: RUF001 - French writes it so
    "ja": "この時間はたった今予約されました。",
}


def typed(host, start, **fields: str) -> dict[str, str]:
    return {
        "form_token": form_token(host.page),
        "start": format_start(start),
        "duration": "30",
        "tz": "UTC",
        "clock": "24",
        "submission": f"key-{fields.get('name', 'grace')}-{start:%Y%m%d%H%M}",
        "name": "Grace Guest",
        "email": "grace@example.com",
        **fields,
    }


def field_value(text: str, name: str) -> str:
    found = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', text) or re.search(
        rf'<textarea[^>]*name="{name}"[^>]*>\s*(.*?)</textarea>', text, re.S
    )
    return html.unescape(found[1]) if found else ""


def other_starts(text: str) -> list[str]:
    return re.findall(r'name="other_start" value="(\d{8}T\d{6}Z)"', text)


def announced(text: str) -> str:
    found = re.search(r'id="announcer"[^>]*data-announce="([^"]*)"', text)
    return html.unescape(found[1]) if found else ""


@pytest.mark.django_db(transaction=True)
def test_two_attendees_racing_for_one_time_the_loser_keeps_everything_they_typed(
    radicale_server, owner, monkeypatch
):
    host = make_host(radicale_server, owner)
    notes = host.page.questions.create(label="Notes", kind="long")
    topic = host.page.questions.create(label="Topic", required=True)
    start = at(days_ahead(3), 10)
    url = f"{host.path}new/?tz=UTC"
    people = [
        {"name": "Ada Racer", "email": "ada@example.com", "notes": "First line\nSecond & last"},
        {"name": "Bob Racer", "email": "bob@example.com", "notes": "Bob's <notes>"},
    ]
    # Both have read the calendars (the time is free for both) before either is stored.
    both_read, read = threading.Barrier(2), services.page_slots

    def in_step(*args, **kwargs):
        offered = read(*args, **kwargs)
        if kwargs.get("fresh"):
            both_read.wait(timeout=30)
        return offered

    monkeypatch.setattr(services, "page_slots", in_step)
    answers: list[object] = [None, None]

    def submit(number: int) -> None:
        person = people[number]
        try:
            answers[number] = Client().post(
                url,
                typed(
                    host,
                    start,
                    name=person["name"],
                    email=person["email"],
                    **{
                        f"question_{notes.id}": person["notes"],
                        f"question_{topic.id}": f"{person['name']}'s topic",
                    },
                ),
            )
        finally:
            close_old_connections()
            connection.close()

    racers = [threading.Thread(target=submit, args=(number,)) for number in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()

    assert sorted(answer.status_code for answer in answers) == [200, 302]
    (winner,) = Booking.objects.all()
    loser_number = 0 if winner.attendee_name == people[1]["name"] else 1
    loser, lost = people[loser_number], answers[loser_number].text
    assert "This time was just taken." in lost
    assert field_value(lost, "name") == loser["name"]
    assert field_value(lost, "email") == loser["email"]
    assert field_value(lost, f"question_{notes.id}") == loser["notes"]
    assert field_value(lost, f"question_{topic.id}") == f"{loser['name']}'s topic"
    assert format_start(start) not in other_starts(lost)
    assert format_start(at(days_ahead(3), 10, 30)) in other_starts(lost)
    assert announced(lost) == "That time was just taken, pick another."


def test_the_refusal_is_in_the_attendees_language_and_keeps_the_form(radicale_server, owner):
    host = make_host(radicale_server, owner)
    start = at(days_ahead(3), 10)
    Client().post(f"{host.path}new/?tz=UTC", typed(host, start, name="Quicker"))
    german = Client(headers={"accept-language": "de-DE"})

    refused = german.post(f"{host.path}new/?tz=UTC", typed(host, start))

    assert refused.status_code == 200
    assert '<html lang="de"' in refused.text
    assert TAKEN_IN["de"] in refused.text
    assert TAKEN_IN["en"] not in refused.text
    assert (
        announced(refused.text)
        == "Diese Uhrzeit wurde gerade vergeben, bitte wählen Sie eine andere."
    )
    assert field_value(refused.text, "name") == "Grace Guest"
    japanese = Client(headers={"accept-language": "ja"}).post(
        f"{host.path}new/?tz=UTC", typed(host, start, name="Hanako")
    )
    assert TAKEN_IN["ja"] in japanese.text
    assert field_value(japanese.text, "name") == "Hanako"


def test_a_refusal_for_another_reason_is_announced_with_its_reason(radicale_server, owner):
    host = make_host(radicale_server, owner, minimum_notice=24 * 60)
    too_soon = at(days_ahead(0), 23, 30)

    refused = Client().post(f"{host.path}new/?tz=UTC", typed(host, too_soon))

    assert announced(refused.text) == (
        "This time is too soon: bookings are taken at least 1 day ahead. Pick another time."
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_refusal_is_worded_in_every_language(owner, language):
    page = BookingPage(owner=owner, minimum_notice=90, horizon_days=30)
    no_notice = BookingPage(owner=owner, minimum_notice=0, horizon_days=1)
    refusals = [services._refused(reason, page) for reason in Refusal] + [
        services._refused(Refusal.NOTICE, no_notice),
        services._refused(Refusal.HORIZON, no_notice),
    ]
    closed = [
        services.BusyUnknown(services._CALENDAR_UNREADABLE),
        services.BookingClosed(services._CANCELLED_CANNOT_MOVE),
        services.BookingClosed(services._PAGE_DELETED),
        services.BookingClosed(services._NOT_TAKING_BOOKINGS),
    ]

    with translation.override("en"):
        english = [str(error) for error in [*refusals, *closed]]
    with translation.override(language):
        worded = [str(error) for error in [*refusals, *closed]]

    assert "at least 90 minutes ahead" in english[0]
    assert len(set(english)) == len(english)
    for before, after in zip(english, worded, strict=True):
        assert after and after != before, (language, before)
    assert "90" in worded[0] and "30" in worded[1]


def test_a_refusal_is_worded_when_shown_not_when_made(owner):
    with translation.override("de"):
        refusal = services._refused(Refusal.TAKEN, BookingPage(owner=owner))
    with translation.override("fr"):
        assert str(refusal) == TAKEN_IN["fr"]


def test_with_no_other_time_that_day_the_next_days_times_are_offered_on_the_form(
    radicale_server, owner, client
):
    day = days_ahead(3)
    hours = {str(weekday): [[10 * 60, 11 * 60]] for weekday in range(1, 8)}
    host = make_host(radicale_server, owner, weekly_hours=hours)
    Client().post(f"{host.path}new/?tz=UTC", typed(host, at(day, 10), name="Quicker"))
    Client().post(f"{host.path}new/?tz=UTC", typed(host, at(day, 10, 30), name="Quickest"))

    refused = client.post(f"{host.path}new/?tz=UTC", typed(host, at(day, 10, 30), name="Grace"))

    assert "This time was just taken." in refused.text
    next_day = day.toordinal() + 1
    offered = other_starts(refused.text)
    assert offered == [
        format_start(at(day.fromordinal(next_day), 10)),
        format_start(at(day.fromordinal(next_day), 10, 30)),
    ]
    assert field_value(refused.text, "name") == "Grace"
    chosen = client.post(
        f"{host.path}new/?tz=UTC",
        {**typed(host, at(day, 10, 30), name="Grace"), "other_start": offered[0]},
    )
    assert chosen.status_code == 302
    assert Booking.objects.get(attendee_name="Grace").start == at(day.fromordinal(next_day), 10)


def test_a_page_switched_off_between_the_checks_and_the_booking_says_so(
    radicale_server, owner, client, monkeypatch
):
    host = make_host(radicale_server, owner)
    create = services.booking_create

    def switched_off_meanwhile(*, page, **kwargs):
        BookingPage.objects.filter(id=page.id).update(active=False)
        page.active = False
        return create(page=page, **kwargs)

    monkeypatch.setattr("booking.public_views.booking_create", switched_off_meanwhile)

    response = client.post(f"{host.path}new/?tz=UTC", typed(host, at(days_ahead(3), 10)))

    assert response.status_code == 410
    assert "stopped taking bookings" in response.text
    assert not Booking.objects.exists()


def test_a_length_dropped_between_the_checks_and_the_booking_asks_for_another(
    radicale_server, owner, client, monkeypatch
):
    host = make_host(radicale_server, owner, durations=[30, 45])
    create = services.booking_create

    def dropped_meanwhile(*, page, **kwargs):
        BookingPage.objects.filter(id=page.id).update(durations=[45])
        page.durations = [45]
        return create(page=page, **kwargs)

    monkeypatch.setattr("booking.public_views.booking_create", dropped_meanwhile)

    response = client.post(f"{host.path}new/?tz=UTC", typed(host, at(days_ahead(3), 10)))

    assert response.status_code == 200
    assert "30-minute meetings are not offered" in response.text
    assert 'name="duration" value="45"' in response.text
    assert field_value(response.text, "name") == "Grace Guest"
    assert not Booking.objects.exists()


def test_each_day_of_the_month_is_named_with_how_many_times_it_has(radicale_server, owner, client):
    day = days_ahead(10)
    host = make_host(
        radicale_server, owner, weekly_hours={str(day.isoweekday()): [[9 * 60, 11 * 60]]}
    )

    text = client.get(f"{host.path}?tz=UTC&month={day:%Y-%m}&day={day:%Y-%m-%d}").text

    chosen = re.search(r'<a class="booking-picker__day is-chosen"[^>]*>', text)[0]
    weekday, month = day.strftime("%A"), day.strftime("%B")
    assert f'aria-label="{weekday} {day.day} {month}, 4 times available"' in chosen
    assert 'aria-current="date"' in chosen
    other_day = day.replace(day=1) if day.day != 1 else day.replace(day=2)
    closed = f"{other_day.strftime('%A')} {other_day.day} {month}, no times available"
    if other_day.isoweekday() != day.isoweekday():
        assert f'<span class="sr-only">{closed}</span>' in text
    assert '<h2 id="picker-month">' in text and '<h2 id="picker-day">' in text
    assert f'name="day" value="{day:%Y-%m-%d}"' in text  # the button keeps the day, too
    assert f'name="month" value="{day:%Y-%m}"' in text


def test_the_owners_reschedule_form_has_its_days_right_under_its_heading(owner_client, owner):
    Profile.objects.create(user=owner, handle="ada", display_name="Ada Lovelace")
    page = BookingPage.objects.create(
        owner=owner,
        title="Intro call",
        slug="intro-call",
        durations=[30],
        weekly_hours={str(day): [[540, 720]] for day in range(1, 8)},
        minimum_notice=0,
    )
    start = at(days_ahead(2), 10)
    booking = Booking.objects.create(
        owner=owner,
        page=page,
        title=page.title,
        start=start,
        end=start + timedelta(minutes=30),
        attendee_name="Grace Hopper",
        attendee_email="grace@example.com",
        location=BookingPage.Location.NONE,
        submission_key="owner-move",
    )

    text = owner_client.get(f"/booking/bookings/{booking.id}/reschedule/").text

    levels = [int(level) for level in re.findall(r"<h([1-6])[ >]", text)]
    assert levels[0] == 1 and levels.count(2) >= 7, levels
    assert all(later - earlier <= 1 for earlier, later in itertools.pairwise(levels))
