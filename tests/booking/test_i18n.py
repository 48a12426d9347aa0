"""Attendees in their own language: the public pages, their e-mails and invitations, and the
catalogues behind them."""

from __future__ import annotations

import gettext
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
from babel.messages.extract import extract
from babel.messages.pofile import read_po
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils.translation.template import templatize

from booking.models import Booking
from booking.public_display import format_start, format_when
from booking.services.bookings import booking_cancel
from booking.tokens import manage_path
from tests.booking.pages import at, days_ahead, make_host

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_rate_limits")]

ROOT = Path(settings.BASE_DIR)
LANGUAGES = [code for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]
GERMAN_MONTHS = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
]
# What attendees read: every public page and every e-mail to them, and the code that words them.
ATTENDEE_TEMPLATES = [
    *sorted((ROOT / "templates/booking/public").glob("*.html")),
    *sorted((ROOT / "templates/booking/email").glob("attendee-*")),
    *sorted((ROOT / "templates/booking/email").glob("_attendee-*")),
]
ATTENDEE_CODE = [
    ROOT / "booking" / name
    for name in (
        "public_views.py",
        "team_public_views.py",
        "public_forms.py",
        "public_display.py",
        "ics.py",
        "models.py",
    )
]
KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
}


def form_data(response, **fields: str) -> dict[str, str]:
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', response.text))
    hidden.pop("csrfmiddlewaretoken", None)
    return {**hidden, "name": "Grace Guest", "email": "grace@example.com", **fields}


def german_month(day) -> str:
    return f"{GERMAN_MONTHS[day.month - 1]} {day.year}"


def test_a_page_is_in_german_for_a_german_browser(radicale_server, owner):
    host = make_host(radicale_server, owner)

    page = Client(headers={"accept-language": "de-DE,de;q=0.9,en;q=0.5"}).get(host.path)

    assert '<html lang="de" dir="ltr">' in page.text
    assert page.headers["Content-Language"] == "de"
    assert "Accept-Language" in page.headers["Vary"]
    today = datetime.now(UTC).date()
    assert f'<h2 id="picker-month">{german_month(today)}</h2>' in page.text
    assert '<abbr title="Montag">M</abbr>' in page.text
    assert '<abbr title="Sonntag">S</abbr>' in page.text
    assert '<label for="picker-tz">Zeitzone</label>' in page.text
    assert "30 Minuten" in page.text
    assert "Show times" not in page.text


def test_the_switcher_changes_the_language_and_the_cookie_keeps_it(radicale_server, owner):
    host = make_host(radicale_server, owner)
    browser = Client(headers={"accept-language": "de"})
    german = browser.get(f"{host.path}?tz=Europe/Paris")
    french_link = re.search(r'<a href="([^"]+)" lang="fr" hreflang="fr">Français</a>', german.text)
    assert french_link, "the switcher offers French"

    french = browser.get(french_link.group(1).replace("&amp;", "&"))

    assert '<html lang="fr" dir="ltr">' in french.text
    assert "Fuseau horaire" in french.text
    assert 'value="Europe/Paris" selected' in french.text  # what the page showed is kept
    assert french.cookies[settings.LANGUAGE_COOKIE_NAME].value == "fr"
    again = browser.get(host.path)  # the browser still asks for German
    assert '<html lang="fr"' in again.text
    assert 'aria-current="true" lang="fr">Français</strong>' in again.text


def test_a_language_the_host_fixed_wins_over_the_browser_and_the_switcher(radicale_server, owner):
    host = make_host(radicale_server, owner, language="it")
    browser = Client(headers={"accept-language": "de"})
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"

    page = browser.get(f"{host.path}?lang=ja")

    assert '<html lang="it" dir="ltr">' in page.text
    assert "Fuso orario" in page.text
    assert 'hreflang="' not in page.text  # no switcher on a page whose language is fixed


def test_the_clock_follows_the_browser_locale_until_the_attendee_picks_one(radicale_server, owner):
    host = make_host(radicale_server, owner)
    american = Client(headers={"accept-language": "en-US,en;q=0.9"})
    british = Client(headers={"accept-language": "en-GB"})

    assert 'value="12" checked' in american.get(host.path).text
    assert 'value="24" checked' in british.get(host.path).text
    assert 'value="24" checked' in american.get(f"{host.path}?clock=24").text


def test_japanese_dates_and_times_are_written_the_japanese_way(radicale_server, owner):
    start = datetime(2030, 5, 6, 5, 30, tzinfo=UTC)  # a Monday, 14:30 in Tokyo
    end = start + timedelta(minutes=30)

    assert format_when(start, end, "Asia/Tokyo", 24, "ja") == (
        "2030年5月6日月曜日 14:30–15:00（Asia/Tokyo）"  # noqa: RUF001 - as Japanese writes it
    )
    assert format_when(start, end, "Asia/Tokyo", 12, "ja") == (
        "2030年5月6日月曜日 午後2:30–午後3:00（Asia/Tokyo）"  # noqa: RUF001 - as Japanese writes it
    )
    host = make_host(radicale_server, owner)
    page = Client(headers={"accept-language": "ja-JP"}).get(host.path)
    assert '<html lang="ja" dir="ltr">' in page.text
    assert '<abbr title="月曜日">月</abbr>' in page.text
    today = datetime.now(UTC).date()
    assert f'<h2 id="picker-month">{today.year}年{today.month}月</h2>' in page.text


def test_the_attendee_is_written_to_in_the_language_they_booked_in(
    radicale_server, owner, run_tasks_inline
):
    host = make_host(radicale_server, owner)
    start = at(days_ahead(3), 10)
    browser = Client(headers={"accept-language": "de-DE"})
    form_url = f"{host.path}new/?tz=Europe/Berlin&clock=24&duration=30&start={format_start(start)}"
    form = browser.get(form_url)
    assert "Ihr Name" in form.text

    with run_tasks_inline():
        browser.post(form_url, form_data(form))

    booking = Booking.objects.get()
    assert booking.language == "de"
    to_attendee, to_owner = _by_recipient(mail.outbox)
    assert to_attendee.subject.startswith("Gebucht: Intro call mit Ada Host, ")
    assert "Hallo Grace Guest," in to_attendee.body
    assert "Ihr Termin ist gebucht." in to_attendee.body
    assert f"{_german_weekday(start)}, {start.day}. " in to_attendee.subject
    assert to_owner is not None and to_owner.subject.startswith("New booking: Grace Guest")
    assert "Dienstag" not in to_owner.body and "Hallo" not in to_owner.body  # in English
    invitation = _invitation(to_attendee)
    assert str(invitation["SUMMARY"]) == "Intro call mit Ada Host"
    assert "Ändern oder absagen: " in str(invitation["DESCRIPTION"])

    mail.outbox.clear()
    with run_tasks_inline():  # later, in another process that speaks English
        booking_cancel(booking=booking, actor=Booking.Actor.OWNER, reason="")

    to_attendee, _owner = _by_recipient(mail.outbox)
    assert to_attendee.subject.startswith("Abgesagt: Intro call mit Ada Host, ")
    assert "Ada Host hat Ihren Termin abgesagt." in to_attendee.body
    assert str(_invitation(to_attendee)["DESCRIPTION"]) == "Intro call mit Ada Host wurde abgesagt."
    manage = Client().get(manage_path(booking))  # a browser with no language: the booking's
    assert "Diese Buchung wurde abgesagt" in manage.text


def _german_weekday(moment: datetime) -> str:
    names = ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"]
    return names[moment.astimezone(ZoneInfo("Europe/Berlin")).weekday()]


def _by_recipient(outbox) -> tuple[mail.EmailMessage, mail.EmailMessage | None]:
    attendee = [message for message in outbox if message.to == ["grace@example.com"]]
    others = [message for message in outbox if message.to != ["grace@example.com"]]
    assert len(attendee) == 1
    return attendee[0], (others[0] if others else None)


def _invitation(message) -> icalendar.Event:
    (attachment,) = message.attachments
    calendar = icalendar.Calendar.from_ical(attachment[1])
    return next(iter(calendar.walk("VEVENT")))


def _attendee_msgids() -> set[str | tuple[str, str]]:
    """Every message attendees can be shown, as makemessages would find it."""
    found: set[str | tuple[str, str]] = set()
    sources = [
        (templatize(path.read_text(), origin=str(path)), path) for path in ATTENDEE_TEMPLATES
    ] + [(path.read_text(), path) for path in ATTENDEE_CODE]
    for source, path in sources:
        for _line, message, _comments, _context in extract(
            "python", io.BytesIO(source.encode()), keywords=KEYWORDS
        ):
            key = message if isinstance(message, str) else tuple(message)
            assert key, f"an empty message in {path}"
            found.add(key)
    return found


def test_every_message_attendees_see_is_translated_in_every_language():
    wanted = _attendee_msgids()
    assert "Pick a new time" in wanted and ("Hello %(name)s,") in wanted  # the extraction works
    for language in LANGUAGES:
        path = ROOT / "locale" / language / "LC_MESSAGES" / "django.po"
        with path.open("rb") as file:
            catalogue = read_po(file, locale=language)
        assert not catalogue.fuzzy, f"{language}: the header is fuzzy"
        assert not catalogue.obsolete, f"{language}: obsolete entries (run makemessages)"
        entries = {
            (message.id if isinstance(message.id, str) else tuple(message.id)): message
            for message in catalogue
            if message.id
        }
        for msgid in sorted(wanted, key=str):
            entry = entries.get(msgid)
            assert entry is not None, f"{language}: {msgid!r} is not in the catalogue"
            assert not entry.fuzzy, f"{language}: {msgid!r} is fuzzy"
            strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
            assert all(strings), f"{language}: {msgid!r} has no translation"
            placeholders = set(re.findall(r"%\(\w+\)s", str(msgid)))
            for string in strings:
                assert set(re.findall(r"%\(\w+\)s", string)) <= placeholders, (
                    f"{language}: {msgid!r} is translated with other placeholders"
                )
                if not isinstance(msgid, tuple):
                    assert set(re.findall(r"%\(\w+\)s", string)) == placeholders, (
                        f"{language}: {msgid!r} drops a placeholder"
                    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogues_are_the_ones_written(language):
    folder = ROOT / "locale" / language / "LC_MESSAGES"
    with (folder / "django.po").open("rb") as file:
        written = read_po(file, locale=language)
    with (folder / "django.mo").open("rb") as file:
        compiled = gettext.GNUTranslations(file)

    for message in written:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not message.id or not all(strings):
            continue  # not translated (an owner message, in English here): left out of the .mo
        context = message.context
        if isinstance(message.id, str):
            found = (
                compiled.pgettext(context, message.id) if context else compiled.gettext(message.id)
            )
            assert found == message.string, (
                f"{language}: django.mo is older than django.po (see locale/README.md)"
            )
        else:
            singular, plural = message.id
            for number, string in ((1, message.string[0]), (2, message.string[-1])):
                found = (
                    compiled.npgettext(context, singular, plural, number)
                    if context
                    else compiled.ngettext(singular, plural, number)
                )
                assert found in message.string, (
                    f"{language}: django.mo is older than django.po (see locale/README.md)"
                )
                assert string
