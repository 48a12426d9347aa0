"""Team pages as an attendee's browser sees them (without JavaScript), under the organization's
handle."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from booking.models import Booking, TeamPage
from booking.public_display import format_start
from booking.services.teams import team_booking_create, team_member_left
from booking.tokens import manage_token
from tests.booking.pages import at, days_ahead, make_host
from tests.booking.team_world import make_team

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("team_follow_ups", "generous_rate_limits"),
]


@pytest.fixture
def team_follow_ups(monkeypatch) -> list[str]:
    asked: list[str] = []
    for where in ("booking.services.teams", "booking.services.bookings"):
        monkeypatch.setattr(f"{where}.enqueue_follow_up", lambda i: asked.append(str(i)))
    return asked


def times_on(html: str) -> list[str]:
    return re.findall(r'booking-picker__time" href="[^"]*start=(\d{8}T\d{6}Z)"', html)


def form_data(response, **fields: str) -> dict[str, str]:
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', response.text))
    hidden.pop("csrfmiddlewaretoken", None)
    return {**hidden, "name": "Grace Guest", "email": "grace@example.com", **fields}


def test_the_organization_handle_lists_its_active_team_pages_with_the_team(radicale_server, client):
    team = make_team(radicale_server)
    team.page(title="Sales demo")
    team.page(TeamPage.Kind.COLLECTIVE, title="Hidden", active=False)

    response = client.get("/book/acme/")

    assert response.status_code == 200
    assert "Sales demo" in response.text and "Hidden" not in response.text
    assert all(f"Person {n}" in response.text for n in range(3))


def test_people_handles_still_lead_to_their_own_pages(radicale_server, owner, client):
    make_team(radicale_server, size=1)
    host = make_host(radicale_server, owner)

    assert "Intro call" in client.get(f"/book/{host.handle}/").text
    assert client.get(host.path).status_code == 200


def test_unknown_and_switched_off_team_pages_are_not_found(radicale_server, client):
    team = make_team(radicale_server, size=1)
    page = team.page(active=False)

    assert client.get(f"/book/acme/{page.slug}/").status_code == 404
    assert client.get("/book/acme/nothing/").status_code == 404


def test_round_robin_offers_a_time_when_anyone_is_free_in_the_viewers_zone(radicale_server, client):
    team = make_team(radicale_server, size=2)
    day = days_ahead(10)
    page = team.page(weekly_hours={str(day.isoweekday()): [[9 * 60, 10 * 60]]})
    first, second = team.users
    team.worlds[first.id].put("work", "a", at(day, 9), minutes=30)
    team.worlds[second.id].put("work", "b", at(day, 9, 30), minutes=30)
    collective = team.page(
        TeamPage.Kind.COLLECTIVE, weekly_hours={str(day.isoweekday()): [[9 * 60, 10 * 60]]}
    )
    query = f"?tz=Asia/Tokyo&clock=24&month={day:%Y-%m}&day="

    tokyo_day = at(day, 9).astimezone(ZoneInfo("Asia/Tokyo")).date()
    shown = client.get(f"/book/acme/{page.slug}/{query}{tokyo_day:%Y-%m-%d}")
    both = client.get(f"/book/acme/{collective.slug}/{query}{tokyo_day:%Y-%m-%d}")

    assert times_on(shown.text) == [format_start(at(day, 9)), format_start(at(day, 9, 30))]
    assert ">18:00<" in shown.text  # 09:00 UTC in Tokyo
    # Nobody is free on both halves that day: the page shows the next day with times instead.
    assert not {format_start(at(day, 9)), format_start(at(day, 9, 30))} & set(times_on(both.text))


def test_an_attendee_books_a_collective_page_and_sees_who_they_meet(radicale_server, client):
    team = make_team(radicale_server)
    page = team.page(TeamPage.Kind.COLLECTIVE)
    start = at(days_ahead(3), 10)
    form_url = (
        f"/book/acme/{page.slug}/new/?tz=Europe/Berlin&duration=30&start={format_start(start)}"
    )

    form = client.get(form_url)
    missing = client.post(form_url, form_data(form, email="not an address"))
    assert missing.status_code == 200 and "Enter a valid email address" in missing.text
    done = client.post(form_url, form_data(form))

    assert done.status_code == 302
    assert Booking.objects.filter(team_page=page).count() == 3
    confirmation = client.get(done.url)
    assert "You will meet" in confirmation.text
    assert all(f"Person {n}" in confirmation.text for n in range(3))
    assert Client().get(done.url).status_code == 404  # another browser


def test_a_round_robin_confirmation_names_the_one_member(radicale_server, client):
    team = make_team(radicale_server)
    page = team.page()
    start = at(days_ahead(3), 10)
    form_url = f"/book/acme/{page.slug}/new/?tz=UTC&duration=30&start={format_start(start)}"

    done = client.post(form_url, form_data(client.get(form_url)))

    booking = Booking.objects.get()
    text = client.get(done.url).text
    assert booking.owner_id == team.users[0].id
    assert "Person 0" in text and "Person 1" not in text


def test_a_taken_time_is_refused_on_the_form(radicale_server, client):
    team = make_team(radicale_server, size=1)
    page = team.page()
    start = at(days_ahead(3), 10)
    team.worlds[team.users[0].id].put("work", "x", start, minutes=30)
    form_url = f"/book/acme/{page.slug}/new/?tz=UTC&duration=30&start={format_start(start)}"

    refused = client.post(form_url, form_data(client.get(form_url)))

    assert refused.status_code == 200
    assert "This time was just taken" in refused.text
    assert not Booking.objects.exists()


def test_the_attendee_cancels_and_moves_a_team_booking_by_its_link(radicale_server, client):
    team = make_team(radicale_server)
    page = team.page(TeamPage.Kind.COLLECTIVE)
    day = days_ahead(3)
    form_url = f"/book/acme/{page.slug}/new/?tz=UTC&duration=30&start={format_start(at(day, 10))}"
    client.post(form_url, form_data(client.get(form_url)))
    lead = Booking.objects.get(team_lead__isnull=True)
    manage = f"/bookings/{lead.id}/{manage_token(lead)}/"

    assert client.get(manage + f"reschedule/?tz=UTC&day={day:%Y-%m-%d}").status_code == 200
    client.post(manage + "reschedule/?tz=UTC", {"start": format_start(at(day, 11))})
    assert set(Booking.objects.values_list("start", flat=True)) == {at(day, 11)}

    client.post(manage + "cancel/", {"reason": "Something came up"})
    assert set(Booking.objects.values_list("status", flat=True)) == {Booking.Status.CANCELLED}


def test_a_kept_page_stops_offering_a_time_once_it_is_booked(
    radicale_server, client, django_capture_on_commit_callbacks
):
    team = make_team(radicale_server, size=1)
    day = days_ahead(10)
    page = team.page(weekly_hours={str(day.isoweekday()): [[9 * 60, 10 * 60]]})
    url = f"/book/acme/{page.slug}/?tz=UTC&month={day:%Y-%m}&day={day:%Y-%m-%d}"
    assert format_start(at(day, 9)) in times_on(Client().get(url).text)  # now kept

    with django_capture_on_commit_callbacks(execute=True):
        team_booking_create(
            page=page,
            start=at(day, 9),
            duration=30,
            attendee_name="A",
            attendee_email="a@example.com",
            attendee_time_zone="UTC",
            submission_key="k",
        )

    assert format_start(at(day, 9)) not in times_on(Client().get(url).text)


def test_a_kept_page_follows_the_admins_changes_at_once(
    radicale_server, django_capture_on_commit_callbacks
):
    team = make_team(radicale_server, size=2)
    page = team.page()
    url = f"/book/acme/{page.slug}/?tz=UTC"
    assert "Person 1" in Client().get(url).text  # now kept

    with django_capture_on_commit_callbacks(execute=True):
        team_member_left(organization_id=team.organization.id, user_id=team.users[1].id)

    assert "Person 1" not in Client().get(url).text


def test_the_team_form_refuses_a_submission_without_the_csrf_token(radicale_server):
    team = make_team(radicale_server, size=1)
    page = team.page()
    start = at(days_ahead(3), 10)
    form_url = f"/book/acme/{page.slug}/new/?tz=UTC&duration=30&start={format_start(start)}"
    browser = Client(enforce_csrf_checks=True)

    refused = browser.post(form_url, form_data(browser.get(form_url)))

    assert refused.status_code == 403
    assert not Booking.objects.exists()


def test_team_pages_are_never_framed(radicale_server, client):
    team = make_team(radicale_server, size=1)
    page = team.page()

    response = client.get(f"/book/acme/{page.slug}/?embed=1")

    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
