"""The owner's side in the owner's language: chosen in Settings, else the browser's among
settings.OWNER_LANGUAGES, for pages, messages, error pages and the e-mails the owner is sent."""

from __future__ import annotations

import json
import re
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.languages import browser_language, owner_language
from booking.public_display import format_start
from syncrules.notifications import mass_deletion_notify
from tests.booking.pages import at, days_ahead, make_host
from tests.factories import DEFAULT_PASSWORD, CalendarFactory, ConnectionFactory, UserFactory

pytestmark = pytest.mark.django_db

GERMAN_BROWSER = {"accept-language": "de-DE,de;q=0.9,en;q=0.5"}
ENGLISH_BROWSER = {"accept-language": "en-GB,en;q=0.9"}
SETTINGS = reverse("accounts:settings")


def signed_in(user, headers: dict[str, str]) -> Client:
    client = Client(headers=headers)
    client.login(email=user.email, password=DEFAULT_PASSWORD)
    return client


def html_lang(page) -> str:
    found = re.search(r'<html lang="([^"]+)" dir="(ltr|rtl)">', page.text)
    assert found, "the page names its language and direction"
    return found.group(1)


def test_a_german_browser_gets_the_sign_in_page_in_german():
    page = Client(headers=GERMAN_BROWSER).get(reverse("accounts:login"))

    assert html_lang(page) == "de"
    assert page.headers["Content-Language"] == "de"
    assert "Accept-Language" in page.headers["Vary"]
    assert "<h1>Anmelden</h1>" in page.text
    assert "Passwort vergessen?" in page.text
    assert "Forgot your password?" not in page.text


def test_an_english_or_unknown_browser_gets_english():
    for header in ("en-US,en;q=0.9", "", "tlh, x-klingon"):
        page = Client(headers={"accept-language": header}).get(reverse("accounts:login"))
        assert html_lang(page) == "en"
        assert "Forgot your password?" in page.text


def test_the_browser_s_first_language_the_owner_side_speaks_is_chosen(rf):
    # French pages exist for attendees only: the owner side takes the browser's next choice.
    assert browser_language(rf.get("/", headers={"accept-language": "fr-CH, de;q=0.8"})) == "de"
    assert browser_language(rf.get("/", headers={"accept-language": "fr, en;q=0.5"})) == "en"
    assert browser_language(rf.get("/", headers={"accept-language": "de-AT"})) == "de"


def test_a_user_who_chose_nothing_reads_their_browser_s_language(owner):
    page = signed_in(owner, GERMAN_BROWSER).get(reverse("dashboard"))

    assert html_lang(page) == "de"
    assert "<h1>Start</h1>" in page.text
    assert ">Einstellungen</a>" in page.text


def test_the_language_chosen_in_settings_wins_over_the_browser(owner):
    owner.language = "en"
    owner.save(update_fields=["language"])

    page = signed_in(owner, GERMAN_BROWSER).get(reverse("dashboard"))

    assert html_lang(page) == "en"
    assert "<h1>Home</h1>" in page.text

    owner.language = "de"
    owner.save(update_fields=["language"])
    page = signed_in(owner, ENGLISH_BROWSER).get(SETTINGS)

    assert html_lang(page) == "de"
    assert "<h1>Einstellungen</h1>" in page.text
    assert page.headers["Content-Language"] == "de"


def test_settings_offers_each_owner_language_named_in_itself_and_saves_the_choice(owner):
    client = signed_in(owner, ENGLISH_BROWSER)
    form = client.get(SETTINGS).text
    assert '<option value="" selected>As my browser says</option>' in form
    assert '<option value="de">Deutsch</option>' in form

    saved = client.post(SETTINGS, {"time_zone": "UTC", "language": "de"}, follow=True)

    owner.refresh_from_db()
    assert owner.language == "de"
    assert "Einstellungen gespeichert." in saved.text  # said in the language just chosen
    assert '<option value="de" selected>Deutsch</option>' in saved.text


def test_a_language_the_owner_side_does_not_speak_is_a_field_error(owner):
    client = signed_in(owner, ENGLISH_BROWSER)

    page = client.post(SETTINGS, {"time_zone": "UTC", "language": "fr"})

    assert page.status_code == 200
    assert "Select a valid choice" in page.text
    owner.refresh_from_db()
    assert owner.language == ""


def test_a_settings_form_without_the_language_keeps_it(owner):
    owner.language = "de"
    owner.save(update_fields=["language"])
    client = signed_in(owner, ENGLISH_BROWSER)

    client.post(SETTINGS, {"time_zone": "Asia/Tokyo"})  # an older page sends only the zone

    owner.refresh_from_db()
    assert (owner.time_zone, owner.language) == ("Asia/Tokyo", "de")
    client.post(SETTINGS, {"time_zone": "Asia/Tokyo", "language": ""})
    owner.refresh_from_db()
    assert owner.language == ""  # blank: back to the browser's


def test_the_attendees_language_cookie_does_not_switch_owner_pages(owner):
    client = signed_in(owner, ENGLISH_BROWSER)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"

    page = client.get(reverse("dashboard"))

    assert html_lang(page) == "en"


def test_a_german_owner_s_error_pages_are_german(owner):
    owner.language = "de"
    owner.save(update_fields=["language"])

    page = signed_in(owner, ENGLISH_BROWSER).get("/no-such-page/")

    assert page.status_code == 404
    assert html_lang(page) == "de"
    assert "Diese Seite finden wir nicht" in page.text


def test_public_booking_pages_keep_the_attendee_s_language(radicale_server, owner):
    owner.language = "de"
    owner.save(update_fields=["language"])
    host = make_host(radicale_server, owner)

    # The owner looks at their own page with an English browser: the attendee's rules apply.
    page = signed_in(owner, ENGLISH_BROWSER).get(host.path)

    assert html_lang(page) == "en"
    assert page.headers["Content-Language"] == "en"
    assert "Time zone" in page.text


def test_an_e_mail_to_the_owner_is_in_their_language_wherever_it_is_sent_from():
    german = UserFactory(language="de")
    unset = UserFactory()

    assert owner_language(german) == "de"
    assert owner_language(unset) == settings.LANGUAGE_CODE
    assert owner_language(unset, browser="de") == "de"  # their own request's language
    assert owner_language(german, browser="en") == "de"  # Settings wins
    assert owner_language(UserFactory(language="fr")) == settings.LANGUAGE_CODE


def test_the_password_reset_e_mail_follows_the_owner_s_choice_then_their_browser():
    german = UserFactory(email="greta@example.com", language="de")
    unset = UserFactory(email="ulla@example.com")
    reset = reverse("accounts:password_reset")

    Client(headers=ENGLISH_BROWSER).post(reset, {"email": german.email})
    Client(headers=GERMAN_BROWSER).post(reset, {"email": unset.email})
    Client(headers=ENGLISH_BROWSER).post(reset, {"email": unset.email})

    to_german, to_unset_in_german, to_unset_in_english = mail.outbox
    for message in (to_german, to_unset_in_german):
        assert message.subject == "Passwort für Multical zurücksetzen"
        assert "Um ein neues Passwort zu wählen, öffnen Sie diesen Link:" in message.body
        html = message.alternatives[0][0]
        assert '<html lang="de" dir="ltr">' in html
        assert "Neues Passwort wählen</a>" in html
    assert to_unset_in_english.subject == "Reset your Multical password"
    assert translation.get_language() == settings.LANGUAGE_CODE  # nothing left active


def test_an_alert_a_task_sends_is_in_the_owner_s_language_not_the_task_s():
    german = UserFactory(language="de")
    calendar = CalendarFactory(connection=ConnectionFactory(user=german), name="Kunden")

    with translation.override("en"):  # a worker speaks the default
        mass_deletion_notify(calendar=calendar, removed=3)

    (message,) = mail.outbox
    assert message.subject == "3 Blocker entfernt: Die meisten Termine von Kunden sind weg"
    assert "Hallo," in message.body
    # The preference is named as Settings names it, in German too.
    assert "„Mir eine E-Mail schicken, wenn die meisten Termine" in message.body
    assert '<html lang="de" dir="ltr">' in message.alternatives[0][0]


def test_the_owner_is_told_of_a_booking_in_their_language_the_attendee_in_theirs(
    radicale_server, owner, run_tasks_inline
):
    owner.language = "de"
    owner.save(update_fields=["language"])
    host = make_host(radicale_server, owner)
    start = at(days_ahead(3), 10)
    attendee = Client(headers={"accept-language": "fr-FR"})
    form_url = f"{host.path}new/?tz=Europe/Paris&clock=24&duration=30&start={format_start(start)}"
    form = attendee.get(form_url)
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.text))
    hidden.pop("csrfmiddlewaretoken", None)

    with run_tasks_inline():
        attendee.post(form_url, {**hidden, "name": "Grace Guest", "email": "grace@example.com"})

    to_owner = next(message for message in mail.outbox if message.to == [owner.email])
    to_attendee = next(message for message in mail.outbox if message.to == ["grace@example.com"])
    assert to_owner.subject.startswith("Neue Buchung: Grace Guest, Intro call, ")
    weekday = ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"]
    assert weekday[start.astimezone(ZoneInfo(owner.time_zone)).weekday()] in to_owner.subject
    assert "Grace Guest hat einen Termin bei Ihnen gebucht." in to_owner.body
    assert "Wer: Grace Guest <grace@example.com>" in to_owner.body
    assert '<html lang="de" dir="ltr">' in to_owner.alternatives[0][0]
    assert '<html lang="fr" dir="ltr">' in to_attendee.alternatives[0][0]


def test_the_portfolio_script_is_given_its_words_in_the_owner_s_language(owner):
    owner.language = "de"
    owner.save(update_fields=["language"])
    CalendarFactory(connection=ConnectionFactory(user=owner))

    page = signed_in(owner, ENGLISH_BROWSER).get(reverse("portfolio:portfolio"))

    words = re.search(
        r'<script id="portfolio-words" type="application/json">(.*?)</script>', page.text
    )
    assert words, "the words are data in the page, not script"
    assert json.loads(words.group(1))["today"] == "Heute"
    assert json.loads(words.group(1))["conflicts"] == {
        "one": "%(count)s Termin mit Konflikt",
        "other": "%(count)s Termine mit Konflikt",
    }
    assert "<h1>Portfolio</h1>" in page.text and "Zum Datum" in page.text
