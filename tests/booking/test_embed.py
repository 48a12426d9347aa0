"""Booking pages embedded in other websites (``booking.embed``): the flow without the site's
chrome, framable only by the sites the page allows and only there, booking without a cookie, the
confirmation's facts for the site around it, and the owner's setting and snippets."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from booking import form_tokens
from booking.models import Booking, BookingPage
from booking.public_display import format_start
from booking.services import pages
from booking.services.pages import PageSettings
from booking.tokens import manage_path
from tests.booking.pages import at, days_ahead, make_host
from tests.booking.test_owner_pages import page_form_data
from tests.security.test_headers import assert_security_headers, policy

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("follow_ups", "generous_rate_limits"),
]
EMBED = "?embed=1&tz=UTC&clock=24&duration=30"


def framing(response) -> tuple[str | None, list[str]]:
    return response.get("X-Frame-Options"), policy(response)["frame-ancestors"]


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


def book_in_frame(host, client: Client, start) -> tuple:
    """The embedded form for ``start``, filled in and sent as a browser in another site's frame
    sends it: no cookie, our own origin. The form's response and the answer to the post."""
    form_url = f"{host.path}new/{EMBED}&start={format_start(start)}"
    form = client.get(form_url)
    data = {**hidden_fields(form.text), "name": "Grace Guest", "email": "grace@example.com"}
    client.cookies.clear()
    sent = client.post(form_url, data, headers={"Origin": "http://testserver"})
    return form, sent


def test_an_embedded_page_has_no_site_chrome_and_any_site_may_frame_it(
    radicale_server, owner, client
):
    host = make_host(radicale_server, owner)

    embedded = client.get(host.path + EMBED)
    alone = client.get(host.path + "?tz=UTC")

    assert embedded.status_code == 200
    assert framing(embedded) == (None, ["*"])
    assert 'class="site-header' not in embedded.text
    assert 'class="site-footer' not in embedded.text
    assert "booking/embedded.js" in embedded.text
    assert "public-booking--embedded" in embedded.text
    assert_security_headers(alone)
    assert 'class="site-header' in alone.text and "booking/embedded.js" not in alone.text


def test_the_flow_stays_embedded_from_the_times_to_the_form(radicale_server, owner, client):
    host = make_host(radicale_server, owner, durations=[30, 60])

    html = client.get(host.path + EMBED).text

    times = re.findall(r'booking-picker__time" href="([^"]+)"', html)
    days = re.findall(r'booking-picker__day[^"]*" href="([^"]+)"', html)
    lengths = re.findall(r'<a class="button[^"]*" href="(\?[^"]*duration=[^"]*)"', html)
    assert times and days and len(lengths) >= 2
    assert all("embed=1" in link for link in [*times, *days, *lengths])
    assert '<input type="hidden" name="embed" value="1">' in html  # the zone and clock form
    form = client.get(times[0].replace("&amp;", "&"))
    assert form.status_code == 200
    assert framing(form) == (None, ["*"])
    assert "embed=1" in re.search(r'href="([^"]+)">← ', form.text)[1]  # back to the times


def test_only_the_listed_sites_may_frame_a_page_that_lists_them(radicale_server, owner, client):
    host = make_host(
        radicale_server,
        owner,
        embed_on=BookingPage.EmbedOn.LISTED_SITES,
        embed_origins=["https://shop.example.com", "https://*.example.org"],
    )

    page = client.get(host.path + EMBED)
    form = client.get(f"{host.path}new/{EMBED}&start={format_start(at(days_ahead(3), 10))}")

    for response in (page, form):
        assert framing(response) == (None, ["https://shop.example.com", "https://*.example.org"])


def test_a_page_embedded_nowhere_refuses_every_frame(radicale_server, owner, client):
    host = make_host(radicale_server, owner, embed_on=BookingPage.EmbedOn.NOWHERE)

    assert_security_headers(client.get(host.path + EMBED))
    assert_security_headers(client.get(f"{host.path}new/{EMBED}&start=20300506T100000Z"))


def test_a_kept_page_is_framed_as_the_page_says_now(
    radicale_server, owner, django_capture_on_commit_callbacks
):
    host = make_host(radicale_server, owner)
    visitor = Client()
    for _ in range(3):  # the entry, the page kept, the kept page served
        assert framing(visitor.get(host.path + EMBED)) == (None, ["*"])

    host.page.embed_on = BookingPage.EmbedOn.LISTED_SITES
    host.page.embed_origins = ["https://shop.example.com"]
    with django_capture_on_commit_callbacks(execute=True):
        host.page.save()

    for _ in range(3):
        assert framing(visitor.get(host.path + EMBED)) == (None, ["https://shop.example.com"])
    assert_security_headers(visitor.get(host.path + "?tz=UTC&clock=24&duration=30"))


@pytest.mark.parametrize("name", ["landing", "accounts:login", "dashboard"])
def test_no_other_page_can_be_framed_even_when_asked(client, name):
    assert_security_headers(client.get(reverse(name) + "?embed=1"))


def test_the_pages_around_a_booking_page_cannot_be_framed(radicale_server, owner, client):
    host = make_host(radicale_server, owner)
    _form, sent = book_in_frame(host, client, at(days_ahead(3), 10))
    booking = Booking.objects.get()

    assert sent.status_code == 302
    around = [manage_path(booking), manage_path(booking, "reschedule"), "/no-such-page/"]
    for path in (f"/book/{host.handle}/", *around):
        response = client.get(path + "?embed=1")
        assert_security_headers(response)
        assert "booking/embedded.js" not in response.text


def test_an_attendee_books_in_a_frame_without_any_cookie(radicale_server, owner):
    host = make_host(radicale_server, owner)
    browser = Client(enforce_csrf_checks=True)
    start = at(days_ahead(3), 10)

    form, sent = book_in_frame(host, browser, start)

    assert 'name="form_token"' in form.text and "csrftoken" not in form.cookies
    booking = Booking.objects.get()
    assert booking.attendee_email == "grace@example.com" and booking.start == start
    assert sent.status_code == 302
    assert "embed=1" in sent.url and f"{form_tokens.RECEIPT_PARAM}=" in sent.url
    assert "sessionid" not in sent.cookies  # nothing kept for a browser that sends no cookie
    confirmation = Client().get(sent.url)
    assert confirmation.status_code == 200
    assert framing(confirmation) == (None, ["*"])
    assert "You are booked" in confirmation.text


def test_the_confirmation_tells_the_site_around_it_the_booking_and_nothing_more(
    radicale_server, owner
):
    host = make_host(radicale_server, owner, listed=False)
    host.page.questions.create(label="What about?")
    start = at(days_ahead(3), 10)
    _form, sent = book_in_frame(host, Client(), start)

    confirmation = Client().get(sent.url)

    data = re.search(
        r'<script id="multical-booked" type="application/json">(.*?)</script>', confirmation.text
    )
    booking = Booking.objects.get()
    assert json.loads(data[1]) == {
        "id": str(booking.id),
        "start": f"{start:%Y-%m-%dT%H:%M:%SZ}",
        "end": f"{start + timedelta(minutes=30):%Y-%m-%dT%H:%M:%SZ}",
        "duration": 30,
        "page": "intro",  # never the unlisted page's secret
    }
    assert host.page.secret not in data[1]
    assert "multical-booked" not in Client().get(sent.url.replace("embed=1", "embed=0")).text


def test_a_receipt_shows_only_its_own_booking_and_only_for_a_while(radicale_server, owner):
    host = make_host(radicale_server, owner)
    _form, first = book_in_frame(host, Client(), at(days_ahead(3), 10))
    _form, second = book_in_frame(host, Client(), at(days_ahead(3), 11))
    first_receipt = re.search(r"receipt=([^&]+)", first.url)[1]
    second_receipt = re.search(r"receipt=([^&]+)", second.url)[1]

    swapped = first.url.replace(first_receipt, second_receipt)
    tampered = first.url.replace(first_receipt, first_receipt[:-3] + "abc")
    bare = re.sub(r"&?receipt=[^&]+", "", first.url)
    later = timezone.now() + timedelta(seconds=form_tokens.RECEIPT_SECONDS + 60)

    for url in (swapped, tampered, bare):
        assert Client().get(url).status_code == 404
    with time_machine.travel(later):
        assert Client().get(first.url).status_code == 404


def test_without_embed_the_confirmation_still_needs_the_session(radicale_server, owner, client):
    host = make_host(radicale_server, owner)
    start = at(days_ahead(3), 10)
    form_url = f"{host.path}new/?tz=UTC&duration=30&start={format_start(start)}"
    form = client.get(form_url)
    data = {**hidden_fields(form.text), "name": "Grace Guest", "email": "grace@example.com"}

    done = client.post(form_url, data)

    assert done.status_code == 302 and "receipt=" not in done.url and "embed" not in done.url
    assert client.get(done.url).status_code == 200
    assert Client().get(done.url).status_code == 404


# The owner's side -------------------------------------------------------------------------------


def test_the_page_list_offers_the_three_snippets_to_copy(owner_client, owner, profile, settings):
    settings.SITE_URL = "https://multical.example"
    page = BookingPage.objects.create(owner=owner, title="Intro", slug="intro", durations=[30])
    BookingPage.objects.create(
        owner=owner,
        title="Closed",
        slug="closed",
        durations=[30],
        embed_on=BookingPage.EmbedOn.NOWHERE,
    )

    html = owner_client.get(reverse("booking:page_list")).text

    url = f"https://multical.example/book/ada/{page.public_slug}/"
    script = "&lt;script src=&quot;https://multical.example/static/booking/embed.js&quot; defer"
    for mode in ("inline", "popup", "floating"):
        assert f"data-multical-embed=&quot;{mode}&quot;" in html
        assert f"&lt;a href=&quot;{url}&quot; data-multical-embed=&quot;{mode}&quot;" in html
    assert html.count(script) == 2 * 3  # in each text box and in its copy button
    assert "may not be shown inside other websites" in html


def test_the_page_form_keeps_the_sites_as_origins(owner_client, profile):
    response = owner_client.post(
        reverse("booking:page_create"),
        page_form_data(
            embed_on="listed",
            embed_origins="https://Shop.Example.com/\r\n\r\nhttp://localhost:8000\r\n"
            "https://shop.example.com",
        ),
    )

    assert response.status_code == 302
    page = BookingPage.objects.get()
    assert page.embed_on == "listed"
    assert page.embed_origins == ["https://shop.example.com", "http://localhost:8000"]
    form = owner_client.get(reverse("booking:page_edit", args=[page.id])).text
    assert "https://shop.example.com\nhttp://localhost:8000</textarea>" in form


@pytest.mark.parametrize(
    ("sites", "message"),
    [
        ("https://example.com/booking", "“https://example.com/booking”: Give the site"),
        ("example.com", "“example.com”: Start with https://"),
        ("https://example.com; script-src *", "no spaces, commas, semicolons or quotes"),
        ("", "List at least one website"),
    ],
)
def test_the_page_form_refuses_what_is_no_site(owner_client, profile, sites, message):
    response = owner_client.post(
        reverse("booking:page_create"),
        page_form_data(embed_on="listed", embed_origins=sites),
    )

    assert response.status_code == 200
    assert any(
        message in error for error in response.context["editor"].form.errors["embed_origins"]
    )
    assert not BookingPage.objects.exists()


def test_the_services_refuse_an_origin_the_form_would_not_make(owner):
    settings = PageSettings.of(BookingPage(owner=owner, title="Intro", slug="intro"))

    for origins in (("https://example.com/path",), ("*",), ("https://Example.com",)):
        with pytest.raises(ValueError, match="origin"):
            pages.page_create(
                owner=owner, settings=dataclasses.replace(settings, embed_origins=origins)
            )
    assert not BookingPage.objects.exists()
