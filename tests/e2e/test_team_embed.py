"""A team booking page embedded in another website, in a real browser, as personal pages are in
test_embed.py: the host page on ``localhost``, the live server on ``127.0.0.1``. The team page
lets that one site frame it; the name and e-mail the snippet gives fill the form, the page's
question is asked, the time is booked inside the frame, and the host page hears of it once. A
team page that allows no site is not shown in the frame at all."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from booking.models import Booking, BookingPage, TeamPage
from tests.booking.team_world import make_team
from tests.e2e.test_embed import booking_frame, browser_page, host_site, snippet

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["browser_page", "host_site"]  # fixtures, used by name


def test_a_site_embeds_a_team_page_books_in_it_and_hears_of_it_once(
    browser_page, live_server, host_site, radicale_server
):
    team = make_team(radicale_server, size=2)
    team_page = team.page(
        TeamPage.Kind.COLLECTIVE,
        minimum_notice=24 * 60,
        embed_on=BookingPage.EmbedOn.LISTED_SITES,
        embed_origins=[host_site.url],
    )
    team_page.questions.create(label="Company", required=True)
    path = f"/book/acme/{team_page.slug}/"
    given = ' data-name="Grace Hopper" data-email="grace@example.com"'
    page = browser_page

    page.goto(host_site.serve("/team.html", snippet(live_server.url, path, extra=given)))

    frame = booking_frame(page)
    expect(frame.get_by_role("heading", name="Team intro")).to_be_visible()
    assert "site-header" not in frame.content()
    frame.locator(".booking-picker__times a").first.click()
    expect(frame.get_by_label("Your name")).to_have_value("Grace Hopper")
    assert "embed=1" in frame.url and "csrftoken" not in str(page.context.cookies())
    frame.get_by_role("button", name="Book this time").click()
    expect(frame.get_by_text("This field is required.")).to_be_visible()
    expect(frame.get_by_label("E-mail address")).to_have_value("grace@example.com")
    frame.get_by_label("Company").fill("Acme Widgets")
    frame.get_by_role("button", name="Book this time").click()
    expect(frame.get_by_role("heading", name="You are booked")).to_be_visible()
    expect(frame.get_by_text("Person 1")).to_be_visible()  # who they meet
    page.wait_for_function("() => window.heard.length === 1")
    page.wait_for_timeout(500)  # a second message would have arrived by now

    lead = Booking.objects.get(team_lead__isnull=True)
    assert page.evaluate("window.heard") == [
        {
            "id": str(lead.id),
            "start": f"{lead.start:%Y-%m-%dT%H:%M:%SZ}",
            "end": f"{lead.end:%Y-%m-%dT%H:%M:%SZ}",
            "duration": 30,
            "page": team_page.slug,
        }
    ]
    types = [message["type"] for message in page.evaluate("window.messages")]
    assert types.count("multical:booked") == 1
    answers = [{"question": "Company", "answer": "Acme Widgets"}]
    assert [row.answers for row in Booking.objects.all()] == [answers, answers]


def test_a_team_page_that_allows_no_site_is_not_shown_in_a_frame(
    browser_page, live_server, host_site, radicale_server
):
    team = make_team(radicale_server, size=1)
    team_page = team.page(embed_on=BookingPage.EmbedOn.NOWHERE)
    page = browser_page
    frame_page = f'<iframe src="{live_server.url}/book/acme/{team_page.slug}/?embed=1"></iframe>'

    page.goto(host_site.serve("/nowhere.html", frame_page))
    page.wait_for_load_state("load")

    frame = booking_frame(page)
    assert not frame.url.startswith(live_server.url)
    assert "Team intro" not in frame.content()
