"""Whole booking pages kept for attendees who bring no session (``booking.page_cache``): served
without the database, each with its own nonce, and never once the page, the profile, the
attendee's language or a message they are owed says otherwise."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from booking.pictures import square_picture
from booking.services.profiles import profile_save
from calendars.models import Connection
from tests.booking.pages import make_host
from tests.booking.test_profile_picture import photo, upload

pytestmark = pytest.mark.django_db


def nonce_of(response) -> str:
    found = re.search(r'<meta name="csp-nonce" content="([^"]+)">', response.text)
    assert found, response.text[:500]
    return found[1]


def clock_of(response) -> str:
    """The clock the page's switcher has chosen."""
    found = re.search(r'name="clock" value="(\d+)" checked', response.text)
    assert found, response.text[:500]
    return found[1]


def kept(client: Client, url: str, **headers: str):
    """The page as a visitor sees it once it is kept: the first visit writes the address's
    entry, the second keeps the page; the answer to the third."""
    for _ in range(2):
        assert client.get(url, headers=headers).status_code == 200
    return client.get(url, headers=headers)


def test_a_kept_page_is_served_without_the_database_and_with_its_own_nonce(
    radicale_server, owner, django_assert_num_queries
):
    host = make_host(radicale_server, owner)
    url = host.path + "?tz=UTC&clock=24"
    first = kept(Client(), url)

    with django_assert_num_queries(0):
        again = Client().get(url)

    assert again.status_code == 200
    assert again["Content-Language"] == "en"
    assert "Intro call" in again.text
    # The same page, except for the nonce: each response has its own, and its header names it.
    assert nonce_of(again) != nonce_of(first)
    assert f"'nonce-{nonce_of(again)}'" in again["Content-Security-Policy"]
    assert again.text.replace(nonce_of(again), "N") == first.text.replace(nonce_of(first), "N")


def test_saving_the_page_or_the_profile_shows_at_once(
    radicale_server, owner, django_capture_on_commit_callbacks
):
    host = make_host(radicale_server, owner)
    url = host.path + "?tz=UTC"
    client = Client()
    assert "Intro call" in kept(client, url).text

    with django_capture_on_commit_callbacks(execute=True):
        host.page.title = "Second opinion"
        host.page.save()
    assert "Second opinion" in client.get(url).text

    kept(client, url)
    with django_capture_on_commit_callbacks(execute=True):
        profile_save(
            user=owner,
            handle=host.handle,
            display_name="Ada Lovelace",
            picture=square_picture(upload(photo())),
        )
    shown = client.get(url).text
    assert "Ada Lovelace" in shown
    assert f"/book/{host.handle}/picture/" in shown

    kept(client, url)
    with django_capture_on_commit_callbacks(execute=True):
        host.page.active = False
        host.page.save()
    assert client.get(url).status_code == 404


def test_each_language_and_clock_the_visitor_asks_for_has_its_own_page(radicale_server, owner):
    host = make_host(radicale_server, owner)
    url = host.path + "?tz=UTC"
    client = Client()

    assert kept(client, url, accept_language="en")["Content-Language"] == "en"
    german = kept(client, url, accept_language="de-DE,de;q=0.9")
    assert german["Content-Language"] == "de"
    assert '<html lang="de"' in german.text
    # English in the United States reads am/pm; English alone, the 24-hour clock.
    assert clock_of(kept(client, url, accept_language="en-US")) == "12"
    assert clock_of(kept(client, url, accept_language="en")) == "24"

    # The switcher's choice sets its cookie, kept page or not, and the cookie speaks from then on.
    chosen = kept(client, url + "&lang=fr")
    assert chosen.cookies["django_language"].value == "fr"
    assert kept(client, url, accept_language="en")["Content-Language"] == "fr"


def test_a_message_owed_to_the_visitor_is_shown_not_a_kept_page(radicale_server, owner):
    host = make_host(radicale_server, owner)
    client = Client()
    kept(client, host.path)

    # A link to a time that has passed goes back to the page, which says so.
    past = (timezone.now() - timedelta(days=1)).strftime("%Y%m%dT%H%M%SZ")
    response = client.get(host.path + f"new/?start={past}", follow=True)

    assert response.redirect_chain[-1][0].startswith(host.path)
    assert "This time has passed" in response.text


def test_a_page_whose_calendar_could_not_be_read_is_not_kept(radicale_server, owner):
    host = make_host(radicale_server, owner)
    url = host.path + "?tz=UTC"
    connection = Connection.objects.filter(id=host.world.connection.id)
    connection.update(status=Connection.Status.NEEDS_RECONNECT)
    client = Client()
    assert "Times can't be shown right now" in kept(client, url).text

    connection.update(status=Connection.Status.OK)

    assert "Times can't be shown right now" not in client.get(url).text


def test_a_change_no_save_announces_shows_once_the_minute_turns(radicale_server, owner):
    host = make_host(radicale_server, owner)
    url = host.path + "?tz=UTC"
    client = Client()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        assert "Times can't be shown right now" not in kept(client, url).text
        # A bulk update announces nothing: the kept page stands for the rest of its minute.
        Connection.objects.filter(id=host.world.connection.id).update(
            status=Connection.Status.NEEDS_RECONNECT
        )
        assert "Times can't be shown right now" not in client.get(url).text

        traveller.shift(timedelta(seconds=60))

        assert "Times can't be shown right now" in client.get(url).text
