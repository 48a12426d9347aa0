"""The owner's bookings: the list and its filters, a booking's details, cancelling, moving to
another time, deleting, and access."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from booking.availability import PageSlots
from booking.models import Booking, BookingPage, Profile
from booking.selectors import owner as selectors
from booking.services import bookings as services
from booking.slots import Refusal
from tests.factories import DEFAULT_PASSWORD, CalendarFactory, ConnectionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("follow_ups")]

BOOKING_URLS = ["booking_detail", "booking_cancel", "booking_reschedule", "booking_delete"]
# Monday 6 May 2030, 08:00 UTC (10:00 in Berlin, the owner's zone).
MONDAY = datetime(2030, 5, 6, 8, 0, tzinfo=UTC)


@pytest.fixture
def page(owner):
    Profile.objects.create(user=owner, handle="ada", display_name="Ada Lovelace")
    return BookingPage.objects.create(
        owner=owner,
        title="Intro call",
        slug="intro-call",
        durations=[30],
        time_zone="Europe/Berlin",
        # Every day 09:00 to 12:00 in Berlin; no calendars, so only hours and bookings decide.
        weekly_hours={str(day): [[540, 720]] for day in range(1, 8)},
        minimum_notice=0,
        location=BookingPage.Location.LINK,
        location_detail="https://meet.example.com/ada",
    )


def make_booking(owner, page, start, *, minutes=30, status=Booking.Status.CONFIRMED, **fields):
    fields.setdefault("attendee_name", "Grace Hopper")
    fields.setdefault("notified_sequence", 0)  # the attendee heard of it: nothing pending
    fields.setdefault("attendee_email", "grace@example.com")
    return Booking.objects.create(
        owner=owner,
        page=page,
        title=page.title if page else "Old page",
        start=start,
        end=start + timedelta(minutes=minutes),
        status=status,
        location=page.location if page else BookingPage.Location.NONE,
        location_detail=page.location_detail if page else "",
        submission_key=f"key-{Booking.objects.count()}",
        **fields,
    )


@pytest.fixture
def booking(owner, page):
    return make_booking(
        owner,
        page,
        MONDAY + timedelta(days=1, hours=1),  # Tuesday 11:00 in Berlin
        attendee_time_zone="America/New_York",
        answers=[
            {"question": "Company", "answer": "Navy"},
            {"question": "Topic", "answer": "Compilers\nand bugs"},
        ],
    )


@pytest.fixture
def monday():
    with time_machine.travel(MONDAY, tick=False):
        yield


def client_for(user) -> Client:
    client = Client()
    client.login(email=user.email, password=DEFAULT_PASSWORD)
    return client


# Access ------------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in_from_every_booking_page(client, booking):
    urls = [reverse("booking:booking_list")]
    urls += [reverse(f"booking:{name}", args=[booking.id]) for name in BOOKING_URLS]
    for url in urls:
        for response in [client.get(url), client.post(url)]:
            assert response.status_code == 302, url
            assert response.url.startswith(reverse("accounts:login")), url


def test_an_outsider_gets_404_on_every_booking_url_and_changes_nothing(
    booking, outsider, follow_ups, monday
):
    past = make_booking(booking.owner, booking.page, MONDAY - timedelta(days=3))
    client = client_for(outsider)
    for target in [booking, past]:
        for name in BOOKING_URLS:
            url = reverse(f"booking:{name}", args=[target.id])
            assert client.get(url).status_code == 404, name
            data = {"reason": "Nope", "start": (MONDAY + timedelta(days=2)).isoformat()}
            assert client.post(url, data).status_code == 404, name

    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED and booking.start == MONDAY + timedelta(
        days=1, hours=1
    )
    assert Booking.objects.filter(id=past.id).exists()
    assert follow_ups == []


def test_an_outsider_sees_none_of_the_owners_bookings(booking, outsider):
    client = client_for(outsider)
    for show in selectors.BOOKING_VIEWS:
        html = client.get(reverse("booking:booking_list"), {"show": show}).content.decode()
        assert "Grace Hopper" not in html and str(booking.id) not in html


# The list ----------------------------------------------------------------------------------------


def test_the_list_filters_upcoming_past_and_cancelled_bookings(owner_client, owner, page, monday):
    make_booking(owner, page, MONDAY + timedelta(days=2), attendee_name="Later Guest")
    make_booking(owner, page, MONDAY + timedelta(hours=1), attendee_name="Soon Guest")
    make_booking(owner, page, MONDAY - timedelta(minutes=10), attendee_name="Running Guest")
    make_booking(owner, page, MONDAY - timedelta(days=1), attendee_name="Yesterday Guest")
    make_booking(owner, page, MONDAY - timedelta(days=5), attendee_name="Old Guest")
    make_booking(
        owner,
        page,
        MONDAY + timedelta(days=3),
        attendee_name="Cancelled Guest",
        status=Booking.Status.CANCELLED,
    )

    def names(show: str | None) -> list[str]:
        query = {"show": show} if show else {}
        response = owner_client.get(reverse("booking:booking_list"), query)
        return [booking.attendee_name for booking in response.context["bookings"]]

    # A meeting still going on is upcoming until it ends.
    assert names(None) == ["Running Guest", "Soon Guest", "Later Guest"]
    assert names("upcoming") == names(None)
    assert names("past") == ["Yesterday Guest", "Old Guest"]
    assert names("cancelled") == ["Cancelled Guest"]
    assert names("everything") == names(None)


def test_the_list_shows_times_in_the_users_zone_with_attendee_page_and_place(
    owner_client, booking, monday
):
    html = owner_client.get(reverse("booking:booking_list")).content.decode()

    row = html.split("<tbody>")[1]
    assert "Tue 7 May 2030, 11:00\u201311:30" in row  # 09:00 UTC in Berlin
    assert "Grace Hopper" in row and "grace@example.com" in row
    assert "Intro call" in row
    assert 'href="https://meet.example.com/ada"' in row
    assert reverse("booking:booking_detail", args=[booking.id]) in row
    assert "Europe/Berlin" in html
    assert 'aria-current="page">Upcoming' in html


def test_every_owner_page_shows_the_booking_in_the_owners_zone_and_on_their_clock(
    owner_client, owner, booking, monday
):
    owner.time_zone, owner.clock = "America/New_York", 12
    owner.save(update_fields=["time_zone", "clock"])
    ConnectionFactory(user=owner)  # home lists bookings once a calendar is connected
    pages = {
        "list": reverse("booking:booking_list"),
        "detail": reverse("booking:booking_detail", args=[booking.id]),
        "cancel": reverse("booking:booking_cancel", args=[booking.id]),
        "home": reverse("dashboard"),
    }

    for name, url in pages.items():
        html = owner_client.get(url).content.decode()
        # 09:00 UTC is 5:00 am in New York (daylight time in May).
        assert "7 May" in html and "5:00 am" in html, name
        assert "11:00" not in html and "09:00" not in html, name


def test_a_booking_whose_page_was_deleted_is_still_listed(owner_client, owner, monday):
    make_booking(owner, None, MONDAY + timedelta(days=1))

    html = owner_client.get(reverse("booking:booking_list")).content.decode()

    assert "Old page" in html and "(page deleted)" in html


def test_the_empty_filters_say_so(owner_client, monday):
    for show, text in [("upcoming", "No upcoming"), ("past", "No past"), ("cancelled", "No canc")]:
        html = owner_client.get(reverse("booking:booking_list"), {"show": show}).content.decode()
        assert text in html


# The detail page ---------------------------------------------------------------------------------


def test_the_detail_shows_the_booking_its_answers_and_what_can_be_done(
    owner_client, booking, monday
):
    html = owner_client.get(reverse("booking:booking_detail", args=[booking.id])).content.decode()

    assert "Tuesday 7 May 2030, 11:00\u201311:30" in html
    assert "Grace Hopper" in html and 'href="mailto:grace@example.com"' in html
    assert "America/New_York" in html
    assert re.search(r"<dt>Company</dt><dd>Navy</dd>", html)
    assert "Compilers<br>and bugs" in html
    assert "https://meet.example.com/ada" in html
    assert reverse("booking:booking_reschedule", args=[booking.id]) in html
    assert reverse("booking:booking_cancel", args=[booking.id]) in html
    assert reverse("booking:booking_delete", args=[booking.id]) not in html


def test_a_zoom_booking_shows_its_meeting_link(owner_client, owner, page, monday):
    page.location = BookingPage.Location.ZOOM
    page.location_detail = ""
    zoom = make_booking(
        owner, page, MONDAY + timedelta(days=1), meeting_url="https://zoom.example.com/j/123"
    )

    html = owner_client.get(reverse("booking:booking_detail", args=[zoom.id])).content.decode()

    assert 'Zoom meeting: <a href="https://zoom.example.com/j/123"' in html


def test_a_past_or_cancelled_booking_offers_delete_not_cancel(owner_client, owner, page, monday):
    past = make_booking(owner, page, MONDAY - timedelta(days=1))
    cancelled = make_booking(
        owner, page, MONDAY + timedelta(days=1), status=Booking.Status.CANCELLED
    )
    cancelled.cancel_reason = "Ill"
    cancelled.cancelled_by = Booking.Actor.ATTENDEE
    cancelled.save()

    past_html = owner_client.get(reverse("booking:booking_detail", args=[past.id])).content.decode()
    cancelled_html = owner_client.get(
        reverse("booking:booking_detail", args=[cancelled.id])
    ).content.decode()

    assert reverse("booking:booking_delete", args=[past.id]) in past_html
    assert reverse("booking:booking_cancel", args=[past.id]) not in past_html
    assert reverse("booking:booking_delete", args=[cancelled.id]) in cancelled_html
    assert reverse("booking:booking_cancel", args=[cancelled.id]) not in cancelled_html
    assert reverse("booking:booking_reschedule", args=[cancelled.id]) not in cancelled_html
    assert "Cancelled by the attendee" in cancelled_html and "“Ill”" in cancelled_html


# Cancelling --------------------------------------------------------------------------------------


def test_cancelling_asks_first_then_cancels_with_the_reason(
    owner_client, booking, follow_ups, monday
):
    url = reverse("booking:booking_cancel", args=[booking.id])

    confirm = owner_client.get(url).content.decode()
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    response = owner_client.post(url, {"reason": "  Something came up.  "}, follow=True)

    assert "Cancel the booking with Grace Hopper?" in confirm and 'name="reason"' in confirm
    assert response.redirect_chain[-1][0] == reverse("booking:booking_detail", args=[booking.id])
    assert "is cancelled" in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert booking.cancelled_by == Booking.Actor.OWNER
    assert booking.cancel_reason == "Something came up."
    assert follow_ups == [str(booking.id)]


def test_a_cancel_reason_is_optional_but_not_endless(owner_client, booking, monday):
    url = reverse("booking:booking_cancel", args=[booking.id])

    too_long = owner_client.post(url, {"reason": "x" * 1001})
    assert too_long.status_code == 200 and too_long.context["form"].errors["reason"]
    booking.refresh_from_db()
    assert not booking.is_cancelled

    assert owner_client.post(url, {}).status_code == 302
    booking.refresh_from_db()
    assert booking.is_cancelled and booking.cancel_reason == ""


def test_a_cancelled_booking_is_not_cancelled_again(owner_client, booking, follow_ups, monday):
    services.booking_cancel(booking=booking)
    follow_ups.clear()

    response = owner_client.post(reverse("booking:booking_cancel", args=[booking.id]), follow=True)

    assert "already cancelled" in response.content.decode()
    assert follow_ups == []


# Rescheduling ------------------------------------------------------------------------------------


def test_rescheduling_offers_the_pages_free_times_for_the_bookings_length(
    owner_client, owner, page, booking, monday
):
    make_booking(
        owner, page, MONDAY + timedelta(days=1, hours=2)
    )  # Tuesday 12:00 is outside anyway
    make_booking(owner, page, MONDAY + timedelta(days=2), minutes=60)  # Wed 10:00-11:00 taken

    response = owner_client.get(reverse("booking:booking_reschedule", args=[booking.id]))

    html = response.content.decode()
    days = html.split('class="slot-day"')[1:]
    # Monday from now (10:00 in Berlin); the booking's own time on Tuesday is offered.
    assert "Monday 6 May" in days[0]
    assert re.findall(r">(\d\d:\d\d)</label>", days[0]) == ["10:00", "10:30", "11:00", "11:30"]
    assert "Tuesday 7 May" in days[1]
    assert "11:00" in re.findall(r">(\d\d:\d\d)</label>", days[1])
    assert "Wednesday 8 May" in days[2]
    assert re.findall(r">(\d\d:\d\d)</label>", days[2]) == ["09:00", "09:30", "11:00", "11:30"]
    assert len(days) == 14
    assert 'value="2030-05-06T10:00:00+02:00"' in html
    assert "?from=2030-05-20" in html and "Earlier days" not in html


def test_rescheduling_can_look_further_ahead(owner_client, booking, monday, monkeypatch):
    calls: list[dict] = []
    monkeypatch.setattr(
        selectors, "page_slots", lambda page, **options: calls.append(options) or PageSlots()
    )

    html = owner_client.get(
        reverse("booking:booking_reschedule", args=[booking.id]), {"from": "2030-05-20"}
    ).content.decode()
    owner_client.get(
        reverse("booking:booking_reschedule", args=[booking.id]), {"from": "2001-01-01"}
    )

    assert calls[0]["window"].start == datetime(2030, 5, 19, 22, 0, tzinfo=UTC)  # midnight, Berlin
    assert calls[0]["window"].end == datetime(2030, 6, 2, 22, 0, tzinfo=UTC)
    assert calls[0]["rescheduling"] == booking and calls[0]["duration"] == 30
    assert "?from=2030-05-06" in html and "?from=2030-06-03" in html
    assert calls[1]["window"].start == MONDAY  # never before now


def test_a_new_time_moves_the_booking(owner_client, booking, follow_ups, monday):
    new_start = datetime(2030, 5, 8, 8, 30, tzinfo=UTC)  # Wednesday 10:30 in Berlin

    response = owner_client.post(
        reverse("booking:booking_reschedule", args=[booking.id]),
        {"start": "2030-05-08T10:30:00+02:00"},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == reverse("booking:booking_detail", args=[booking.id])
    assert "is moved" in response.content.decode()
    booking.refresh_from_db()
    assert (booking.start, booking.end) == (new_start, new_start + timedelta(minutes=30))
    assert follow_ups == [str(booking.id)]


def test_a_time_outside_the_hours_is_refused_with_fresh_times(owner_client, booking, monday):
    response = owner_client.post(
        reverse("booking:booking_reschedule", args=[booking.id]),
        {"start": "2030-05-08T20:00:00+02:00"},
    )

    assert response.context["form"].errors["start"] == [
        "This time is outside the hours this page offers. Choose another one."
    ]
    assert "outside the hours this page offers" in response.content.decode()
    assert response.context["preview"].days
    booking.refresh_from_db()
    assert booking.start == MONDAY + timedelta(days=1, hours=1)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (services.SlotUnavailable, "This time was just taken. Choose another one."),
        (services.BusyUnknown, "A calendar could not be read just now, so nothing was moved."),
    ],
)
def test_a_refused_move_says_why_and_offers_the_times_again(
    owner_client, booking, monday, monkeypatch, error, message
):
    def refuse(**kwargs):
        if error is services.SlotUnavailable:
            raise error(Refusal.TAKEN, "This time was just taken.")
        raise error("no")

    monkeypatch.setattr(services, "booking_reschedule", refuse)

    response = owner_client.post(
        reverse("booking:booking_reschedule", args=[booking.id]),
        {"start": "2030-05-08T10:30:00+02:00"},
    )

    assert response.status_code == 200
    assert response.context["form"].errors["start"][0].startswith(message)
    assert 'class="slot-day"' in response.content.decode()


def test_no_time_chosen_is_a_field_error(owner_client, booking, monday):
    for data in [{}, {"start": "tomorrow"}]:
        response = owner_client.post(reverse("booking:booking_reschedule", args=[booking.id]), data)
        assert response.context["form"].errors["start"] == ["Choose a new time."]


def test_an_unreadable_calendar_offers_no_times_to_move_to(
    owner_client, owner, booking, monday, monkeypatch
):
    calendar = CalendarFactory(connection=ConnectionFactory(user=owner), name="Work")
    monkeypatch.setattr(
        selectors, "page_slots", lambda page, **options: PageSlots(unreadable=[calendar])
    )

    html = owner_client.get(
        reverse("booking:booking_reschedule", args=[booking.id])
    ).content.decode()

    assert "No times are offered while <strong>Work</strong> cannot be read" in html
    assert "Move the booking" not in html


def test_a_cancelled_booking_cannot_be_rescheduled(owner_client, booking, monday):
    services.booking_cancel(booking=booking)
    url = reverse("booking:booking_reschedule", args=[booking.id])

    for response in [
        owner_client.get(url, follow=True),
        owner_client.post(url, {"start": "2030-05-08T10:30:00+02:00"}, follow=True),
    ]:
        assert response.redirect_chain[-1][0] == reverse(
            "booking:booking_detail", args=[booking.id]
        )
        assert "A cancelled booking cannot be moved." in response.content.decode()
    booking.refresh_from_db()
    assert booking.start == MONDAY + timedelta(days=1, hours=1)


def test_a_booking_whose_page_is_gone_cannot_be_rescheduled(owner_client, owner, monday):
    orphan = make_booking(owner, None, MONDAY + timedelta(days=1))

    response = owner_client.get(
        reverse("booking:booking_reschedule", args=[orphan.id]), follow=True
    )

    assert "has no times to move to" in response.content.decode()


# Deleting ----------------------------------------------------------------------------------------


def test_a_past_or_cancelled_booking_is_deleted_for_good_after_asking(
    owner_client, owner, page, monday
):
    past = make_booking(owner, page, MONDAY - timedelta(days=1))
    cancelled = make_booking(
        owner, page, MONDAY + timedelta(days=1), status=Booking.Status.CANCELLED
    )
    for booking in [past, cancelled]:
        url = reverse("booking:booking_delete", args=[booking.id])
        confirm = owner_client.get(url).content.decode()
        response = owner_client.post(url)

        assert "Delete the booking with Grace Hopper?" in confirm
        assert response.status_code == 302 and response.url == reverse("booking:booking_list")
        assert not Booking.objects.filter(id=booking.id).exists()


def test_a_booking_is_not_deleted_while_its_cancellation_is_being_sent(
    owner_client, booking, monday
):
    services.booking_cancel(booking=booking)  # the follow-up is not run here

    response = owner_client.post(reverse("booking:booking_delete", args=[booking.id]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("booking:booking_detail", args=[booking.id])
    assert "still being sent out" in response.content.decode()
    assert Booking.objects.filter(id=booking.id).exists()


def test_an_upcoming_booking_must_be_cancelled_before_it_is_deleted(owner_client, booking, monday):
    url = reverse("booking:booking_delete", args=[booking.id])

    for response in [owner_client.get(url, follow=True), owner_client.post(url, follow=True)]:
        assert "Cancel this booking first" in response.content.decode()
    assert Booking.objects.filter(id=booking.id).exists()


def test_more_than_a_page_of_bookings_links_to_the_next_keeping_the_filter(
    owner, page, owner_client
):
    start = datetime(2020, 1, 1, 9, tzinfo=UTC)
    for day in range(51):
        make_booking(owner, page, start + timedelta(days=day), status=Booking.Status.CANCELLED)

    html = owner_client.get(reverse("booking:booking_list") + "?show=cancelled").content.decode()

    assert 'href="?show=cancelled&amp;page=2">More</a>' in html


@pytest.mark.parametrize("start", ["9999-12-31T23:59:59+00:00", "9999-12-31T23:59:59-12:00"])
def test_a_new_time_out_of_any_range_is_refused_not_a_server_error(
    owner_client, booking, monday, start
):
    response = owner_client.post(
        reverse("booking:booking_reschedule", args=[booking.id]), {"start": start}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["start"]
    booking.refresh_from_db()
    assert booking.start == MONDAY + timedelta(days=1, hours=1)
