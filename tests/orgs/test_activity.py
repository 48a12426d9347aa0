"""Members' own activity in their organizations' logs: sign-ins by every door, calendar accounts
connected and disconnected, data exports, and the log's own export. Kinds and doors only; never
an account's address, a calendar's name or anything in a calendar."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from django.db import connection as db_connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import sign_in
from accounts.models import AuditLog
from accounts.services import audit_log_record
from calendars.models import Connection
from calendars.services import connection_disconnect, connection_remove
from orgs.activity import EXPORTED_ACCOUNT, EXPORTED_LOG
from orgs.models import Membership, OrgEvent, Role
from orgs.services import organization_create
from tests.factories import DEFAULT_PASSWORD, ConnectionFactory, UserFactory

pytestmark = pytest.mark.django_db

SIGNED_IN, CONNECTED, DISCONNECTED, EXPORTED = (
    OrgEvent.Action.SIGNED_IN,
    OrgEvent.Action.CONNECTED,
    OrgEvent.Action.DISCONNECTED,
    OrgEvent.Action.EXPORTED,
)


@pytest.fixture
def orgs(owner):
    """Two organizations ``owner`` belongs to, and one they do not."""
    acme = organization_create(user=owner, name="Acme", ip_address=None)
    globex = organization_create(user=UserFactory(), name="Globex", ip_address=None)
    Membership.objects.create(organization=globex, user=owner, role=Role.MEMBER)
    other = organization_create(user=UserFactory(), name="Initech", ip_address=None)
    return acme, globex, other


def lines(organization, action) -> list[tuple[object, str, str | None]]:
    return list(
        OrgEvent.objects.filter(organization=organization, action=action).values_list(
            "actor_id", "subject", "ip_address"
        )
    )


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_password_sign_in_is_in_every_organization_of_the_member(orgs, owner):
    acme, globex, other = orgs
    client = Client(REMOTE_ADDR="203.0.113.7")

    response = client.post(
        reverse("accounts:login"), {"username": owner.email, "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 302
    assert lines(acme, SIGNED_IN) == [(owner.id, "password", "203.0.113.7")]
    assert lines(globex, SIGNED_IN) == [(owner.id, "password", "203.0.113.7")]
    assert lines(other, SIGNED_IN) == []


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_a_provider_sign_in_names_the_provider(orgs, owner, provider):
    acme, globex, _other = orgs
    request = RequestFactory().post("/", REMOTE_ADDR="198.51.100.4")
    SessionMiddleware(lambda request: None).process_request(request)

    sign_in.sign_in(request, owner, next_url="", provider=provider)

    assert lines(acme, SIGNED_IN) == [(owner.id, provider, "198.51.100.4")]
    assert lines(globex, SIGNED_IN) == [(owner.id, provider, "198.51.100.4")]


def test_a_failed_password_is_not_a_sign_in(orgs, owner):
    acme, _globex, _other = orgs

    Client().post(reverse("accounts:login"), {"username": owner.email, "password": "wrong"})

    assert OrgEvent.objects.filter(organization=acme, action=SIGNED_IN).count() == 0


def test_one_insert_writes_the_line_of_every_organization(orgs, owner):
    _acme, _globex, _other = orgs
    third = organization_create(user=UserFactory(), name="Umbrella", ip_address=None)
    Membership.objects.create(organization=third, user=owner, role=Role.ADMIN)

    with CaptureQueriesContext(db_connection) as queries:
        audit_log_record(user=owner, action=AuditLog.Action.LOGIN, ip_address=None, method="x")

    inserts = [q["sql"] for q in queries if q["sql"].startswith('INSERT INTO "orgs_orgevent"')]
    assert len(inserts) == 1
    assert len(queries) == 3  # the audit row, the member's organizations, the log lines
    assert OrgEvent.objects.filter(actor=owner, action=SIGNED_IN).count() == 3


def test_someone_in_no_organization_costs_one_read(owner):
    with CaptureQueriesContext(db_connection) as queries:
        audit_log_record(user=owner, action=AuditLog.Action.LOGIN, ip_address=None)

    assert len(queries) == 2
    assert not OrgEvent.objects.exists()


def test_actions_the_organization_does_not_see_cost_nothing(orgs, owner):
    with CaptureQueriesContext(db_connection) as queries:
        audit_log_record(user=owner, action=AuditLog.Action.PASSWORD_CHANGED, ip_address=None)

    assert len(queries) == 1
    assert not OrgEvent.objects.filter(actor=owner).exclude(action="created").exists()


def test_connecting_an_ical_link_says_the_kind_and_nothing_of_the_link(orgs, owner, feed):
    acme, globex, _other = orgs
    feed.serve_file("google.ics")

    signed_in(owner).post(reverse("calendars:connect_ics"), {"url": feed.url, "label": "Secret"})

    assert lines(acme, CONNECTED) == [(owner.id, "ics", "127.0.0.1")]
    assert lines(globex, CONNECTED) == [(owner.id, "ics", "127.0.0.1")]
    logged = str(list(OrgEvent.objects.values()))
    assert feed.url not in logged
    assert "Secret" not in logged


def test_disconnecting_and_removing_say_the_kind(orgs, owner):
    acme, _globex, _other = orgs
    caldav = ConnectionFactory(user=owner, label="Private label", username="me@example.org")
    icloud = ConnectionFactory(user=owner, kind=Connection.Kind.ICLOUD)

    connection_disconnect(connection=caldav, ip_address="192.0.2.1")
    connection_remove(connection=icloud, ip_address=None)

    assert sorted(lines(acme, DISCONNECTED)) == sorted(
        [(owner.id, "caldav", "192.0.2.1"), (owner.id, "icloud", None)]
    )
    logged = str(list(OrgEvent.objects.values()))
    assert "Private label" not in logged
    assert "me@example.org" not in logged


def test_zoom_is_no_calendar_account(orgs, owner):
    acme, _globex, _other = orgs
    zoom = ConnectionFactory(user=owner, kind=Connection.Kind.ZOOM)

    connection_disconnect(connection=zoom, ip_address=None)

    assert lines(acme, DISCONNECTED) == []


def test_a_data_export_is_in_the_log(orgs, owner):
    acme, globex, _other = orgs

    response = signed_in(owner).post(reverse("lifecycle:export"))

    assert response.status_code == 200
    assert lines(acme, EXPORTED) == [(owner.id, EXPORTED_ACCOUNT, "127.0.0.1")]
    assert lines(globex, EXPORTED) == [(owner.id, EXPORTED_ACCOUNT, "127.0.0.1")]


def test_downloading_the_log_is_in_the_log_after_the_file_was_made(orgs, owner):
    acme, globex, _other = orgs

    response = signed_in(owner).get(reverse("console:event_log", args=[acme.id]), {"format": "csv"})

    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["action"] for row in rows] == ["created"]
    assert lines(acme, EXPORTED) == [(owner.id, EXPORTED_LOG, "127.0.0.1")]
    assert lines(globex, EXPORTED) == []


def test_the_activity_log_page_shows_members_activity(orgs, owner):
    acme, _globex, _other = orgs
    member = UserFactory()
    Membership.objects.create(organization=acme, user=member, role=Role.MEMBER)
    audit_log_record(user=member, action=AuditLog.Action.LOGIN, ip_address=None, method="password")

    body = signed_in(owner).get(reverse("console:event_log", args=[acme.id])).content.decode()

    assert member.email in body
    assert "Signed in" in body


def test_a_former_member_adds_nothing(orgs, owner):
    acme, globex, _other = orgs
    Membership.objects.filter(organization=globex, user=owner).delete()

    audit_log_record(user=owner, action=AuditLog.Action.DATA_EXPORTED, ip_address=None)

    assert lines(acme, EXPORTED) == [(owner.id, EXPORTED_ACCOUNT, None)]
    assert lines(globex, EXPORTED) == []


def test_the_log_page_words_doors_kinds_and_exports(orgs, owner):
    acme, _globex, _other = orgs
    audit_log_record(user=owner, action=AuditLog.Action.LOGIN, ip_address=None, provider="google")
    audit_log_record(
        user=owner, action=AuditLog.Action.CONNECTION_ADDED, ip_address=None, provider="icloud"
    )
    audit_log_record(user=owner, action=AuditLog.Action.DATA_EXPORTED, ip_address=None)
    client = signed_in(owner)
    client.get(reverse("console:event_log", args=[acme.id]), {"format": "csv"})

    body = client.get(reverse("console:event_log", args=[acme.id])).content.decode()

    for words in [
        "with Google",
        "Apple iCloud",
        "their own account&#x27;s data",
        "this activity log",
    ]:
        assert words in body


def test_the_csv_keeps_the_stored_keys(orgs, owner):
    acme, _globex, _other = orgs
    audit_log_record(user=owner, action=AuditLog.Action.LOGIN, ip_address=None, method="password")

    response = signed_in(owner).get(reverse("console:event_log", args=[acme.id]), {"format": "csv"})

    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert ("signed_in", "password") in [(row["action"], row["subject"]) for row in rows]
