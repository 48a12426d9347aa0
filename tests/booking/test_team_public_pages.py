"""Team pages as an attendee's browser sees them (without JavaScript), under the organization's
handle."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from api.scopes import Scope
from api.services import api_key_create
from booking.models import Booking, TeamPage
from booking.public_display import format_start
from booking.services.follow_up import booking_follow_up
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


def test_the_team_form_refuses_a_submission_without_its_form_token(radicale_server):
    team = make_team(radicale_server, size=1)
    page = team.page()
    other = team.page(slug="other")
    start = at(days_ahead(3), 10)
    form_url = f"/book/acme/{page.slug}/new/?tz=UTC&duration=30&start={format_start(start)}"
    browser = Client(enforce_csrf_checks=True)
    data = form_data(browser.get(form_url))
    others = form_data(browser.get(form_url.replace(page.slug, other.slug)))

    missing = browser.post(form_url, {**data, "form_token": ""})
    for_another_page = browser.post(form_url, {**data, "form_token": others["form_token"]})
    from_another_site = browser.post(form_url, data, headers={"Origin": "https://evil.example"})

    assert [missing.status_code, for_another_page.status_code] == [403, 403]
    assert from_another_site.status_code == 403
    assert not Booking.objects.exists()


# The page's questions ---------------------------------------------------------------------------


def ask(page: TeamPage) -> tuple:
    company = page.questions.create(label="<b>Company</b>", required=True, position=1)
    topic = page.questions.create(label="Topic", kind="long", position=2)
    return company, topic


def test_the_team_form_asks_the_pages_questions_and_keeps_what_was_typed(radicale_server, client):
    team = make_team(radicale_server, size=1)
    page = team.page()
    company, topic = ask(page)
    start = at(days_ahead(3), 10)
    form_url = f"/book/acme/{page.slug}/new/?tz=UTC&duration=30&start={format_start(start)}"
    form = client.get(form_url)

    refused = client.post(
        form_url, form_data(form, **{f"question_{topic.id}": "Pricing <i>plans</i>"})
    )

    assert "&lt;b&gt;Company&lt;/b&gt;" in form.text and "<b>Company</b>" not in form.text
    assert f'name="question_{topic.id}"' in form.text and "<textarea" in form.text
    assert refused.status_code == 200
    assert refused.context["form"].errors[f"question_{company.id}"] == ["This field is required."]
    assert "Grace Guest" in refused.text and "grace@example.com" in refused.text
    assert "Pricing &lt;i&gt;plans&lt;/i&gt;</textarea>" in refused.text
    assert not Booking.objects.exists()


def book_with_answers(client: Client, page: TeamPage, start) -> object:
    company, topic = page.questions.all()
    form_url = f"/book/acme/{page.slug}/new/?tz=UTC&duration=30&start={format_start(start)}"
    answers = {f"question_{company.id}": "<script>x()</script>", f"question_{topic.id}": "A\nB"}
    return client.post(form_url, form_data(client.get(form_url), **answers))


def api_of(user) -> Client:
    """A client of the REST API with a key of ``user``'s own."""
    _key, token = api_key_create(
        user=user, name="test", scopes=list(Scope.values), expires_at=None, ip_address="127.0.0.1"
    )
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


ANSWERS = [
    {"question": "<b>Company</b>", "answer": "<script>x()</script>"},
    {"question": "Topic", "answer": "A\nB"},
]


def test_the_answers_go_to_every_member_who_meets_the_attendee_and_stay_when_moved(
    radicale_server, client
):
    team = make_team(radicale_server)
    page = team.page(TeamPage.Kind.COLLECTIVE)
    ask(page)
    day = days_ahead(3)

    done = book_with_answers(client, page, at(day, 10))

    assert done.status_code == 302
    assert [row.answers for row in Booking.objects.all()] == [ANSWERS] * 3
    lead = Booking.objects.get(team_lead__isnull=True)
    manage = f"/bookings/{lead.id}/{manage_token(lead)}/"
    client.post(manage + "reschedule/?tz=UTC", {"start": format_start(at(day, 11))})
    moved = [(row.start, row.answers) for row in Booking.objects.all()]
    assert moved == [(at(day, 11), ANSWERS)] * 3


def test_a_round_robin_booking_keeps_the_answers_on_the_one_members_booking(
    radicale_server, client
):
    team = make_team(radicale_server)
    page = team.page()
    ask(page)

    book_with_answers(client, page, at(days_ahead(3), 10))

    assert Booking.objects.get().answers == ANSWERS


def test_each_member_reads_the_answers_escaped_in_their_email_dashboard_and_api(
    radicale_server, client
):
    team = make_team(radicale_server, size=2)
    page = team.page(TeamPage.Kind.COLLECTIVE)
    ask(page)
    book_with_answers(client, page, at(days_ahead(3), 10))

    for row in Booking.objects.all():
        booking_follow_up(booking_id=str(row.id))
        member = Client()
        member.force_login(row.owner)
        detail = member.get(reverse("booking:booking_detail", args=[row.id])).text
        (email,) = [m for m in mail.outbox if m.to == [row.owner.email]]
        ((html, _mimetype),) = email.alternatives
        for shown in (detail, html):
            assert "&lt;b&gt;Company&lt;/b&gt;" in shown
            assert "&lt;script&gt;x()&lt;/script&gt;" in shown
            assert "<script>x()" not in shown and "<b>Company" not in shown
        assert "<b>Company</b>: <script>x()</script>" in email.body  # the plain text part
        assert api_of(row.owner).get(f"/api/v1/bookings/{row.id}").json()["answers"] == ANSWERS
