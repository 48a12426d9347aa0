"""Team booking pages embedded in other websites (``booking.embed``), as personal pages are: the
flow without the site's chrome, each step framable only by the sites the team page allows, the
booking made without a cookie, the confirmation's facts for the site around it, kept pages that
never cross between embedded and not, and the admins' page with the code to copy."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from booking import form_tokens
from booking.models import Booking, BookingPage, TeamPage
from booking.public_display import format_start
from booking.team_availability import forget_team_pages
from booking.tokens import manage_path
from orgs.models import Membership, Role
from tests.booking.pages import at, days_ahead
from tests.booking.team_world import make_team
from tests.factories import UserFactory
from tests.security.test_headers import assert_security_headers, policy

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("team_follow_ups", "generous_rate_limits"),
]
EMBED = "?embed=1&tz=UTC&clock=24&duration=30"
LISTED = ["https://shop.example.com", "https://*.example.org"]
# Each setting of the team page, and the frame-ancestors its flow is served with (None: DENY).
SETTINGS = [
    pytest.param(BookingPage.EmbedOn.ANY_SITE, [], ["*"], id="any"),
    pytest.param(BookingPage.EmbedOn.LISTED_SITES, LISTED, LISTED, id="listed"),
    pytest.param(BookingPage.EmbedOn.NOWHERE, [], None, id="nowhere"),
]


@pytest.fixture
def team_follow_ups(monkeypatch) -> list[str]:
    asked: list[str] = []
    monkeypatch.setattr("booking.services.teams.enqueue_follow_up", lambda i: asked.append(i))
    return asked


def framing(response) -> tuple[str | None, list[str]]:
    return response.get("X-Frame-Options"), policy(response)["frame-ancestors"]


def assert_framed(response, ancestors: list[str] | None) -> None:
    if ancestors is None:
        assert_security_headers(response)
    else:
        assert framing(response) == (None, ancestors)


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


def form_url(page: TeamPage, start) -> str:
    return f"/book/acme/{page.slug}/new/{EMBED}&start={format_start(start)}"


def book_in_frame(page: TeamPage, client: Client, start, **answers: str) -> tuple:
    """The embedded form for ``start``, filled in and sent as a browser in another site's frame
    sends it: no cookie, our own origin. The form's response and the answer to the post."""
    form = client.get(form_url(page, start))
    data = {**hidden_fields(form.text), "name": "Grace Guest", "email": "grace@example.com"}
    client.cookies.clear()
    sent = client.post(
        form_url(page, start), {**data, **answers}, headers={"Origin": "http://testserver"}
    )
    return form, sent


@pytest.mark.parametrize(("embed_on", "origins", "ancestors"), SETTINGS)
def test_each_step_of_the_flow_is_framed_as_the_team_page_says(
    radicale_server, embed_on, origins, ancestors
):
    team = make_team(radicale_server, size=2)
    page = team.page(TeamPage.Kind.COLLECTIVE, embed_on=embed_on, embed_origins=origins)
    browser = Client(enforce_csrf_checks=True)
    start = at(days_ahead(3), 10)

    times = browser.get(f"/book/acme/{page.slug}/{EMBED}")
    form, sent = book_in_frame(page, browser, start)
    confirmation = Client().get(sent.url)
    refused = Client().post(
        form_url(page, start),
        {**hidden_fields(form.text), "form_token": "forged"},
        headers={"Origin": "http://testserver"},
    )

    assert [times.status_code, form.status_code, confirmation.status_code] == [200, 200, 200]
    assert sent.status_code == 302 and refused.status_code == 403
    for response in (times, form, confirmation):
        assert_framed(response, ancestors)
        assert "booking/embedded.js" in response.text
        assert 'class="site-header' not in response.text
        assert 'class="site-footer' not in response.text
    assert_security_headers(refused)  # a forged form's answer is not the page's to frame


def test_a_refused_embedded_form_is_framed_as_the_page_says(radicale_server):
    team = make_team(radicale_server, size=1)
    page = team.page(embed_on=BookingPage.EmbedOn.LISTED_SITES, embed_origins=LISTED)
    other = team.page(slug="other")
    browser = Client()
    start = at(days_ahead(3), 10)
    data = hidden_fields(browser.get(form_url(page, start)).text)
    others = hidden_fields(browser.get(form_url(other, start)).text)

    refused = browser.post(
        form_url(page, start),
        {**data, "form_token": others["form_token"], "name": "G", "email": "g@example.com"},
        headers={"Origin": "http://testserver"},
    )

    assert refused.status_code == 403
    assert framing(refused) == (None, LISTED)
    assert not Booking.objects.exists()


def test_everything_else_about_a_team_page_stays_unframable(radicale_server):
    team = make_team(radicale_server, size=1)
    page = team.page()
    browser = Client()
    start = at(days_ahead(3), 10)
    _form, sent = book_in_frame(page, browser, start)
    booking = Booking.objects.get()
    plain = f"/book/acme/{page.slug}/new/?tz=UTC&duration=30&start={format_start(start)}"

    around = [
        "/book/acme/?embed=1",  # the organization's list of pages
        f"/book/acme/{page.slug}/?tz=UTC",
        plain,
        manage_path(booking) + "?embed=1",
        manage_path(booking, "reschedule") + "?embed=1",
        manage_path(booking, "cancel") + "?embed=1",
        sent.url.replace("embed=1", "embed=0"),
    ]
    for path in around:
        response = Client().get(path)
        assert response.status_code == 200, path
        assert_security_headers(response)
        assert "booking/embedded.js" not in response.text


def test_the_flow_stays_embedded_from_the_times_to_the_confirmation(radicale_server):
    team = make_team(radicale_server, size=1)
    page = team.page(durations=[30, 60])
    browser = Client()

    html = browser.get(f"/book/acme/{page.slug}/{EMBED}").text

    times = re.findall(r'booking-picker__time" href="([^"]+)"', html)
    days = re.findall(r'booking-picker__day[^"]*" href="([^"]+)"', html)
    lengths = re.findall(r'<a class="button[^"]*" href="(\?[^"]*duration=[^"]*)"', html)
    assert times and days and len(lengths) >= 2
    assert all("embed=1" in link for link in [*times, *days, *lengths])
    assert '<input type="hidden" name="embed" value="1">' in html  # the zone and clock form
    form = browser.get(times[0].replace("&amp;", "&"))
    assert framing(form) == (None, ["*"])
    assert "embed=1" in re.search(r'href="([^"]+)">← ', form.text)[1]  # back to the times
    data = {**hidden_fields(form.text), "name": "Grace Guest", "email": "grace@example.com"}
    browser.cookies.clear()
    sent = browser.post(times[0].replace("&amp;", "&"), data)
    assert "embed=1" in sent.url and f"{form_tokens.RECEIPT_PARAM}=" in sent.url
    assert "sessionid" not in sent.cookies  # nothing kept for a browser that sends no cookie


def test_an_embedded_team_form_books_with_its_questions_and_no_cookie(radicale_server):
    team = make_team(radicale_server, size=1)
    page = team.page()
    question = page.questions.create(label="Company", required=True)
    browser = Client(enforce_csrf_checks=True)
    start = at(days_ahead(3), 10)

    form, missing = book_in_frame(page, browser, start)
    _form, sent = book_in_frame(page, browser, start, **{f"question_{question.id}": "Acme"})

    assert 'name="form_token"' in form.text and "csrftoken" not in form.cookies
    assert missing.status_code == 200 and framing(missing) == (None, ["*"])
    assert "Grace Guest" in missing.text and "This field is required." in missing.text
    assert sent.status_code == 302
    assert Booking.objects.get().answers == [{"question": "Company", "answer": "Acme"}]


def test_the_confirmation_tells_the_site_around_it_the_booking_and_nothing_more(radicale_server):
    team = make_team(radicale_server)
    page = team.page(TeamPage.Kind.COLLECTIVE)
    page.questions.create(label="What about?")
    start = at(days_ahead(3), 10)
    _form, sent = book_in_frame(page, Client(), start, **{"name": "Grace"})

    confirmation = Client().get(sent.url)

    data = re.search(
        r'<script id="multical-booked" type="application/json">(.*?)</script>', confirmation.text
    )
    lead = Booking.objects.get(team_lead__isnull=True)
    assert json.loads(data[1]) == {
        "id": str(lead.id),
        "start": f"{start:%Y-%m-%dT%H:%M:%SZ}",
        "end": f"{start + timedelta(minutes=30):%Y-%m-%dT%H:%M:%SZ}",
        "duration": 30,
        "page": page.slug,
    }
    assert confirmation.text.count('id="multical-booked"') == 1
    assert all(f"Person {n}" in confirmation.text for n in range(3))  # who they meet
    assert "multical-booked" not in Client().get(sent.url.replace("embed=1", "embed=0")).text


def test_a_receipt_shows_only_its_own_team_booking(radicale_server):
    team = make_team(radicale_server, size=1)
    page = team.page()
    other = team.page(slug="other")
    _form, first = book_in_frame(page, Client(), at(days_ahead(3), 10))
    _form, second = book_in_frame(page, Client(), at(days_ahead(3), 11))
    first_receipt = re.search(r"receipt=([^&]+)", first.url)[1]
    second_receipt = re.search(r"receipt=([^&]+)", second.url)[1]

    swapped = first.url.replace(first_receipt, second_receipt)
    tampered = first.url.replace(first_receipt, first_receipt[:-3] + "abc")
    bare = re.sub(r"&?receipt=[^&]+", "", first.url)
    on_another_page = first.url.replace(f"/{page.slug}/", f"/{other.slug}/")

    assert Client().get(first.url).status_code == 200
    for url in (swapped, tampered, bare, on_another_page):
        assert Client().get(url).status_code == 404


# Kept pages ---------------------------------------------------------------------------------------


def test_a_kept_team_page_never_crosses_between_embedded_and_not(radicale_server):
    team = make_team(radicale_server, size=1)
    page = team.page()
    embedded = f"/book/acme/{page.slug}/{EMBED}"
    alone = f"/book/acme/{page.slug}/?tz=UTC&clock=24&duration=30"
    visitor = Client()

    for path in (embedded, alone, embedded, alone, alone, embedded):
        response = visitor.get(path)
        if path == embedded:
            assert framing(response) == (None, ["*"])
            assert "booking/embedded.js" in response.text
        else:
            assert_security_headers(response)
            assert "booking/embedded.js" not in response.text
            assert 'class="site-header' in response.text


@pytest.mark.parametrize(("embed_on", "origins", "ancestors"), SETTINGS)
def test_a_kept_team_page_is_framed_as_the_page_says_now(
    radicale_server, django_capture_on_commit_callbacks, embed_on, origins, ancestors
):
    team = make_team(radicale_server, size=1)
    page = team.page(embed_on=BookingPage.EmbedOn.LISTED_SITES, embed_origins=["https://a.test"])
    visitor = Client()
    for _ in range(3):  # the entry, the page kept, the kept page served
        assert framing(visitor.get(f"/book/acme/{page.slug}/{EMBED}")) == (None, ["https://a.test"])

    page.embed_on, page.embed_origins = embed_on, origins
    with django_capture_on_commit_callbacks(execute=True):  # as the team page's editor saves it
        page.save()
        forget_team_pages(page.organization_id)

    for _ in range(3):
        assert_framed(visitor.get(f"/book/acme/{page.slug}/{EMBED}"), ancestors)


# The admins' page ---------------------------------------------------------------------------------


def test_admins_get_the_code_to_embed_a_team_page(radicale_server, settings):
    settings.SITE_URL = "https://multical.example"
    team = make_team(radicale_server, size=1)
    page = team.page(title="Sales <demo>")
    admin = Client()
    admin.force_login(team.admin.user)

    html = admin.get(reverse("console:team_page_embed", args=[team.organization.id, page.id])).text
    listing = admin.get(reverse("console:team_pages", args=[team.organization.id])).text

    url = f"https://multical.example/book/acme/{page.slug}/"
    script = "&lt;script src=&quot;https://multical.example/static/booking/embed.js&quot; defer"
    for mode in ("inline", "popup", "floating"):
        assert f"&lt;a href=&quot;{url}&quot; data-multical-embed=&quot;{mode}&quot;" in html
    assert html.count(script) == 2 * 3  # in each text box and in its copy button
    assert "Book a time with Acme" in html and "Works on any website." in html
    assert "Sales &lt;demo&gt;" in html and "<demo>" not in html
    assert reverse("console:team_page_embed", args=[team.organization.id, page.id]) in listing


def test_the_code_page_says_where_a_team_page_may_be_shown(radicale_server):
    team = make_team(radicale_server, size=1)
    listed = team.page(embed_on=BookingPage.EmbedOn.LISTED_SITES, embed_origins=LISTED)
    nowhere = team.page(slug="nowhere", embed_on=BookingPage.EmbedOn.NOWHERE)
    admin = Client()
    admin.force_login(team.admin.user)
    organization = team.organization.id

    on_listed = admin.get(reverse("console:team_page_embed", args=[organization, listed.id])).text
    on_none = admin.get(reverse("console:team_page_embed", args=[organization, nowhere.id])).text

    assert "Works on these websites only: https://shop.example.com, https://*.example.org" in (
        on_listed
    )
    assert "may not be shown inside other websites" in on_none
    edit = reverse("console:team_page_edit", args=[organization, nowhere.id])
    assert f"{edit}#section-websites" in on_none
    assert "data-multical-embed" not in on_none


def test_only_the_organizations_admins_see_the_code_page(radicale_server):
    team = make_team(radicale_server, size=2)
    page = team.page()
    path = reverse("console:team_page_embed", args=[team.organization.id, page.id])
    member = Client()
    member.force_login(team.users[1])  # on the page, not an admin
    outsider = Client()
    outsider.force_login(UserFactory(email="outsider@example.com"))
    other_admin = Client()
    elsewhere = make_team(radicale_server, size=1, handle="other", name="Other")
    other_admin.force_login(elsewhere.admin.user)
    removed = Client()
    removed.force_login(team.admin.user)

    assert member.get(path).status_code == 404
    assert outsider.get(path).status_code == 404
    assert other_admin.get(path).status_code == 404
    assert Client().get(path).status_code == 302  # to sign in
    # Another organization's page under this organization's address is not found either.
    foreign = elsewhere.page()
    assert (
        removed.get(
            reverse("console:team_page_embed", args=[team.organization.id, foreign.id])
        ).status_code
        == 404
    )
    Membership.objects.filter(pk=team.admin.pk).update(role=Role.MEMBER)
    assert removed.get(path).status_code == 404
