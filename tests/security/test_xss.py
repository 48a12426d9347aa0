"""Stored XSS: hostile names typed by owners and attendees (connection, calendar, rule, host,
booking page, question, attendee, answer, cancel reason) render escaped on the owner's pages, the
public booking pages and in the HTML e-mails."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from booking.models import Booking
from booking.public_display import format_start
from booking.public_views import SESSION_KEY as BOOKINGS_MADE_SESSION_KEY
from booking.services import follow_up
from calendars.models import Connection
from orgs.models import Role
from orgs.services import invitation_create
from tests.security.world import Names, Tenant, make_tenant

pytestmark = pytest.mark.django_db

PAYLOAD = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
# Either one in a page means the payload went out as markup.
MARKUP = ["<script>alert(", "<img src=x onerror"]
HOSTILE = Names(**{field: f"{field}{PAYLOAD}" for field in Names.__dataclass_fields__})


def shown_fields(html: str) -> set[str]:
    return {
        field for field in Names.__dataclass_fields__ if escape(getattr(HOSTILE, field)) in html
    }


def assert_no_markup(where: str, html: str) -> None:
    for markup in MARKUP:
        assert markup not in html, f"{where} renders {markup!r} unescaped"


@pytest.fixture
def tenant(radicale_server, owner) -> Tenant:
    return make_tenant(radicale_server, owner, HOSTILE, handle="host")


def cancel_by_owner(booking: Booking) -> None:
    booking.status = Booking.Status.CANCELLED
    booking.cancelled_by = Booking.Actor.OWNER
    booking.cancel_reason = HOSTILE.cancel_reason
    booking.sequence += 1
    booking.save()


def owner_pages(tenant: Tenant) -> list[str]:
    rule, page, booking = tenant.rule.id, tenant.page.id, tenant.booking.id
    connection, calendar = tenant.connection.id, tenant.calendar.id
    return [
        reverse("dashboard"),
        reverse("calendars:calendar_list"),
        reverse("calendars:connection_credentials", args=[connection]),
        reverse("calendars:connection_disconnect", args=[connection]),
        reverse("calendars:connection_remove", args=[connection]),
        reverse("syncrules:rule_list"),
        reverse("syncrules:rule_detail", args=[rule]),
        reverse("syncrules:rule_edit", args=[rule]),
        reverse("syncrules:rule_delete", args=[rule]),
        reverse("syncrules:rule_create"),
        reverse("syncrules:block_each_other"),
        reverse("syncrules:calendar_detail", args=[calendar]),
        reverse("booking:page_list"),
        reverse("booking:profile_edit"),
        reverse("booking:page_edit", args=[page]),
        reverse("booking:page_preview", args=[page]),
        reverse("booking:page_delete", args=[page]),
        reverse("booking:booking_list"),
        reverse("booking:booking_detail", args=[booking]),
        reverse("booking:booking_cancel", args=[booking]),
        reverse("booking:booking_reschedule", args=[booking]),
        reverse("portfolio:portfolio"),
        reverse("console:organization_list"),
        reverse("console:organization", args=[tenant.organization.id]),
        reverse("console:organization_settings", args=[tenant.organization.id]),
        reverse("console:organization_delete", args=[tenant.organization.id]),
        reverse("console:leave", args=[tenant.organization.id]),
        reverse("console:event_log", args=[tenant.organization.id]),
        reverse("console:team_pages", args=[tenant.organization.id]),
        reverse("console:team_page_create", args=[tenant.organization.id]),
        reverse("console:team_page_edit", args=[tenant.organization.id, tenant.team_page.id]),
        reverse("console:team_page_delete", args=[tenant.organization.id, tenant.team_page.id]),
        reverse("console:team_page_mine", args=[tenant.organization.id, tenant.team_page.id]),
    ]


def public_pages(tenant: Tenant) -> list[str]:
    handle, slug, booking = tenant.profile.handle, tenant.page.public_slug, tenant.booking
    team = tenant.org_handle.handle
    start = format_start(tenant.booking.start - timedelta(days=1))
    return [
        reverse("booking_public:profile", args=[handle]),
        reverse("booking_public:page", args=[handle, slug]),
        reverse("booking_public:book", args=[handle, slug]) + f"?start={start}",
        reverse("booking_public:booked", args=[handle, slug, booking.id]),
        reverse("booking_public:manage", args=[booking.id, tenant.token]),
        reverse("booking_public:cancel", args=[booking.id, tenant.token]),
        reverse("booking_public:reschedule", args=[booking.id, tenant.token]),
        reverse("booking_public:profile", args=[team]),
        reverse("booking_public:page", args=[team, "team"]),
        reverse("booking_public:book", args=[team, "team"]) + f"?start={start}",
    ]


def visit(client: Client, paths: list[str]) -> set[str]:
    """Every page renders, with no markup of the payload; the fields they showed, escaped."""
    shown: set[str] = set()
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        assert_no_markup(path, html)
        shown |= shown_fields(html)
    return shown


def test_the_owners_pages_escape_every_name(tenant, owner):
    client = Client()
    client.force_login(owner)

    shown = visit(client, owner_pages(tenant))
    cancel_by_owner(tenant.booking)
    cancelled = tenant.booking.id
    shown |= visit(
        client,
        [
            reverse("booking:booking_detail", args=[cancelled]),
            reverse("booking:booking_delete", args=[cancelled]),
        ],
    )

    assert shown == set(Names.__dataclass_fields__)


def test_the_public_pages_escape_every_name(tenant):
    attendee = Client()
    session = attendee.session
    session[BOOKINGS_MADE_SESSION_KEY] = [str(tenant.booking.id)]
    session.save()

    shown = visit(attendee, public_pages(tenant))

    assert {"host", "page", "question"} <= shown


def test_the_html_emails_escape_every_name(tenant, owner, django_capture_on_commit_callbacks):
    booking = tenant.booking
    # Not yet told anyone, and written to a calendar whose account needs reconnecting, so the
    # owner's e-mail names the calendar and the connection among its problems.
    Connection.objects.filter(pk=tenant.connection.pk).update(
        status=Connection.Status.NEEDS_RECONNECT
    )
    Booking.objects.filter(pk=booking.pk).update(notified_sequence=-1, calendar=tenant.calendar)
    follow_up.booking_follow_up(booking_id=str(booking.id))
    booking.refresh_from_db()
    cancel_by_owner(booking)
    follow_up.booking_follow_up(booking_id=str(booking.id))
    with django_capture_on_commit_callbacks(execute=True):
        invitation_create(
            membership=tenant.organization.memberships.get(user=owner),
            email="second.invitee@example.com",
            role=Role.MEMBER,
            ip_address=None,
        )

    shown: set[str] = set()
    # Booked and cancelled, to the attendee and to the owner; an invitation to the organization.
    assert len(mail.outbox) == 5
    for message in mail.outbox:
        html = message.alternatives[0][0]
        assert_no_markup(message.subject, html)
        shown |= shown_fields(html)

    # Everything but the sync rule, which has nothing to do with bookings.
    assert shown == set(Names.__dataclass_fields__) - {"rule"}
