"""Deleting an account: confirmed by the owner, closed at once, its blocks removed from a real
Radicale calendar (or kept), its channels stopped, its attendees told, and then every row of it
gone while everyone else's stay. Provider outages are retried; the account goes in the end."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import timedelta

import icalendar
import pytest
from celery.exceptions import Retry
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.cache import SessionStore
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditLog, Consent, User
from booking.models import Booking, BookingPage, DateOverride, Profile, Question
from calendars import tasks
from calendars.models import Calendar, Connection
from lifecycle import deletion
from lifecycle import services as lifecycle_services
from lifecycle.tasks import RETRY_LIMIT, delete_account
from multical.lib import vault
from syncrules.models import Block, SyncRule, SyncRun
from tests.factories import DEFAULT_PASSWORD, CalendarFactory, ConnectionFactory, UserFactory
from tests.fakes.microsoft import django_client_deliverer
from tests.lifecycle.test_export import make_data
from tests.syncrules.world import World, make_world, soon

pytestmark = pytest.mark.django_db

DELETE = reverse("lifecycle:delete")
DASHBOARD = reverse("dashboard")
LOGIN = reverse("accounts:login")
ATTENDEE = "grace@attendee.example"


def blocked_world(world: World) -> World:
    """An event in "personal" copied as a block into "work", which has an event of its own."""
    world.put("personal", "dentist", soon(2, 10), title="Dentist")
    world.put("work", "standup", soon(2, 8), title="Stand-up")
    world.rule(["personal"], ["work"])
    world.sync("personal")
    assert len(world.blocks("work")) == 1
    return world


@pytest.fixture
def world(radicale_server, owner) -> World:
    return blocked_world(make_world(radicale_server, owner, ["personal", "work"]))


def log_in(client: Client, user: User) -> Client:
    response = client.post(LOGIN, {"username": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    return client


def confirm(
    client: Client, *, password: str = DEFAULT_PASSWORD, remove_blocks: bool = True, **extra: str
):
    data = {"password": password, **({"remove_blocks": "on"} if remove_blocks else {})}
    return client.post(DELETE, data, **extra)


def ticked(html: str, name: str) -> bool:
    (checkbox,) = re.findall(rf'<input type="checkbox" name="{name}"[^>]*>', html)
    return " checked" in checkbox


def make_booking(owner, *, start, page=None, attendee=ATTENDEE) -> Booking:
    return Booking.objects.create(
        owner=owner,
        page=page,
        title="Intro call",
        start=start,
        end=start + timedelta(minutes=30),
        attendee_name="Grace Hopper",
        attendee_email=attendee,
        location=BookingPage.Location.NONE,
        submission_key=uuid.uuid4().hex,
    )


def rows_of(user) -> dict[str, int]:
    """How many rows of each kind belong to ``user``."""
    return {
        "users": User.objects.filter(id=user.id).count(),
        "connections": Connection.objects.filter(user=user).count(),
        "calendars": Calendar.objects.filter(connection__user=user).count(),
        "rules": SyncRule.objects.filter(user=user).count(),
        "runs": SyncRun.objects.filter(rule__user=user).count(),
        "blocks": Block.objects.filter(target_calendar__connection__user=user).count(),
        "profiles": Profile.objects.filter(user=user).count(),
        "booking pages": BookingPage.objects.filter(owner=user).count(),
        "questions": Question.objects.filter(page__owner=user).count(),
        "date overrides": DateOverride.objects.filter(page__owner=user).count(),
        "bookings": Booking.objects.filter(owner=user).count(),
        "audit entries": AuditLog.objects.filter(user=user).count(),
        "consents": Consent.objects.filter(user=user).count(),
    }


# Asking ----------------------------------------------------------------------------------------


def test_the_page_asks_for_the_password_and_offers_to_remove_the_blocks(owner_client):
    html = owner_client.get(DELETE).content.decode()

    assert 'name="password"' in html
    assert 'name="email"' not in html
    assert ticked(html, "remove_blocks")
    assert "Remove the blocks Multical made in my calendars" in html


def test_a_wrong_password_changes_nothing(
    owner_client, owner, world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        response = confirm(owner_client, password="not my password")

    assert response.status_code == 200
    assert "That is not your password." in response.content.decode()
    assert queued == []
    owner.refresh_from_db()
    assert owner.is_active and owner.deletion_requested_at is None
    assert owner.check_password(DEFAULT_PASSWORD)
    assert owner_client.get(DASHBOARD).status_code == 200
    assert SyncRule.objects.get(user=owner).enabled
    assert not AuditLog.objects.filter(action=AuditLog.Action.DELETION_REQUESTED).exists()
    assert len(world.blocks("work")) == 1


def test_an_account_without_a_password_confirms_with_its_address(
    client, run_tasks_inline, django_capture_on_commit_callbacks
):
    user = UserFactory(email="provider@example.com", password=make_password(None))
    client.force_login(user)
    html = client.get(DELETE).content.decode()
    assert 'name="email"' in html and 'name="password"' not in html

    with django_capture_on_commit_callbacks() as queued:
        refused = client.post(DELETE, {"email": "someone-else@example.com"})
    assert "That is not the address of this account." in refused.content.decode()
    assert queued == []

    with run_tasks_inline():
        response = client.post(DELETE, {"email": " Provider@Example.com "})

    assert response.status_code == 302
    assert not User.objects.filter(id=user.id).exists()


# Closed at once ---------------------------------------------------------------------------------


def test_the_account_closes_at_once_and_every_session_of_it_ends(
    owner, world, django_capture_on_commit_callbacks, monkeypatch
):
    here, elsewhere = log_in(Client(), owner), log_in(Client(), owner)
    this_session = here.cookies["sessionid"].value
    queued: list[str] = []  # the deletion is queued once the request commits, not run
    monkeypatch.setattr("lifecycle.tasks.delete_account.delay", queued.append)

    with django_capture_on_commit_callbacks(execute=True):
        response = confirm(here, REMOTE_ADDR="203.0.113.30")

    assert response.status_code == 302
    assert response.url == reverse("landing")
    assert queued == [str(owner.pk)]
    assert not SessionStore().exists(this_session)
    assert here.get(DASHBOARD).status_code == 302
    assert elsewhere.get(DASHBOARD).status_code == 302
    assert (
        Client().post(LOGIN, {"username": owner.email, "password": DEFAULT_PASSWORD}).status_code
        == 200
    )
    owner.refresh_from_db()
    assert not owner.is_active
    assert not owner.has_usable_password()
    assert owner.deletion_requested_at is not None
    entry = AuditLog.objects.get(user=owner, action=AuditLog.Action.DELETION_REQUESTED)
    assert entry.ip_address == "203.0.113.30"
    assert entry.metadata == {"remove_blocks": True}


def test_a_closed_account_stops_syncing_booking_and_e_mailing(
    owner, world, mailoutbox, django_capture_on_commit_callbacks
):
    page = BookingPage.objects.create(owner=owner, title="Intro", slug="intro", durations=[30])

    with django_capture_on_commit_callbacks():
        lifecycle_services.account_deletion_request(user=owner, remove_blocks=True, ip_address=None)

    assert not SyncRule.objects.get(user=owner).enabled
    page.refresh_from_db()
    assert not page.active
    Client().post(reverse("accounts:password_reset"), {"email": owner.email})
    assert mailoutbox == []


# Deleted by the task ----------------------------------------------------------------------------


def test_deleting_removes_the_blocks_and_every_row_of_the_user_only(
    owner_client, owner, world, second_user, run_tasks_inline
):
    Profile.objects.create(user=owner, handle="ada", display_name="Ada")
    page = BookingPage.objects.create(owner=owner, title="Intro", slug="intro", durations=[30])
    Question.objects.create(page=page, label="Why?")
    DateOverride.objects.create(page=page, date=timezone.now().date(), hours=[])
    make_booking(owner, start=timezone.now() - timedelta(days=3), page=page)
    Consent.objects.create(user=owner, kind=Consent.Kind.TERMS, granted=True)
    AuditLog.objects.create(user=owner, action=AuditLog.Action.LOGIN)
    make_data(second_user, marker="zed")
    before = rows_of(owner)
    assert all(before.values()), before
    others = rows_of(second_user)

    with run_tasks_inline():
        response = confirm(owner_client)

    assert response.status_code == 302
    assert set(rows_of(owner).values()) == {0}
    assert rows_of(second_user) == others
    assert world.blocks("work") == []
    assert [str(e["UID"]) for e in world.own_events("work")] == ["standup"]
    assert [str(e["UID"]) for e in world.own_events("personal")] == ["dentist"]


def test_keeping_the_blocks_leaves_them_in_the_calendar(
    owner_client, owner, world, run_tasks_inline
):
    with run_tasks_inline():
        confirm(owner_client, remove_blocks=False)

    assert not User.objects.filter(id=owner.id).exists()
    assert not Block.objects.exists()
    assert len(world.blocks("work")) == 1
    assert len(world.own_events("work")) == 1


def test_google_channels_and_graph_subscriptions_are_stopped(
    owner, owner_client, google_fake, microsoft_fake, run_tasks_inline
):
    google_fake.add_calendar("family@example.com", "Family")
    secrets = google_fake.grant()
    google = Connection(user=owner, kind=Connection.Kind.GOOGLE, label=secrets["email"])
    google.secrets = vault.seal_json(secrets, context=vault.context_for(google, "secrets"))
    google.save()
    family = Calendar.objects.create(connection=google, remote_id="family@example.com", name="F")
    microsoft_fake.graph.deliver = django_client_deliverer(Client())
    account = microsoft_fake.connect()
    microsoft = ConnectionFactory(
        user=owner, kind=Connection.Kind.MICROSOFT, label="ada", secrets=account.secrets
    )
    office = CalendarFactory(connection=microsoft, remote_id=account.default_calendar)
    rule = SyncRule.objects.create(user=owner, name="Family and office → nowhere")
    rule.sources.set([family, office])
    with run_tasks_inline():
        tasks.renew_push_channels()
    assert len(google_fake.channels) == 1
    assert len(microsoft_fake.graph.subscriptions) == 1
    channel = Calendar.objects.get(id=family.id).push_channel_id

    with run_tasks_inline():
        confirm(owner_client)

    assert google_fake.channels == {}
    assert google_fake.stopped_channels == [channel]
    assert microsoft_fake.graph.subscriptions == {}
    assert not User.objects.filter(id=owner.id).exists()


def test_coming_bookings_are_cancelled_and_their_attendees_told(
    owner_client, owner, mailoutbox, run_tasks_inline
):
    Profile.objects.create(user=owner, handle="ada", display_name="Ada Host")
    make_booking(owner, start=timezone.now() + timedelta(days=2))
    make_booking(owner, start=timezone.now() - timedelta(days=2), attendee="past@attendee.example")

    with run_tasks_inline():
        confirm(owner_client)

    assert not Booking.objects.exists()
    (message,) = mailoutbox
    assert message.to == [ATTENDEE]
    assert "Ada Host cancelled your meeting." in message.body
    assert deletion.CLOSED_ACCOUNT_REASON in message.body
    ((name, content, _),) = message.attachments
    assert name.endswith(".ics")
    assert icalendar.Calendar.from_ical(content)["METHOD"] == "CANCEL"


def test_an_attendee_who_booked_in_german_is_told_why_in_german(
    owner_client, owner, mailoutbox, run_tasks_inline
):
    Profile.objects.create(user=owner, handle="ada", display_name="Ada Host")
    booking = make_booking(owner, start=timezone.now() + timedelta(days=2))
    Booking.objects.filter(id=booking.id).update(language="de")

    with run_tasks_inline():
        confirm(owner_client)

    (message,) = mailoutbox
    assert "Das Buchungskonto wurde geschlossen." in message.body
    assert deletion.CLOSED_ACCOUNT_REASON not in message.body


def test_the_deletion_waits_for_the_attendees_to_be_told(owner, django_capture_on_commit_callbacks):
    booking = make_booking(owner, start=timezone.now() + timedelta(days=2))
    with django_capture_on_commit_callbacks():  # the follow-up with the e-mail is not run
        lifecycle_services.account_deletion_request(user=owner, remove_blocks=True, ip_address=None)

    with pytest.raises(deletion.DeletionIncomplete):
        deletion.account_delete(user_id=str(owner.id))

    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert User.objects.filter(id=owner.id).exists()
    deletion.account_delete(user_id=str(owner.id), last_try=True)
    assert not User.objects.filter(id=owner.id).exists()


def test_asking_twice_and_running_twice_are_harmless(
    owner, world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        lifecycle_services.account_deletion_request(
            user=owner, remove_blocks=False, ip_address=None
        )
        lifecycle_services.account_deletion_request(user=owner, remove_blocks=True, ip_address=None)
    owner.refresh_from_db()
    assert owner.deletion_removes_blocks is False  # the first answer holds
    assert AuditLog.objects.filter(action=AuditLog.Action.DELETION_REQUESTED).count() == 1

    deletion.account_delete(user_id=str(owner.id))
    deletion.account_delete(user_id=str(owner.id))

    assert not User.objects.filter(id=owner.id).exists()
    assert len(world.blocks("work")) == 1


def test_an_account_nobody_asked_to_delete_is_never_deleted(owner, world):
    deletion.account_delete(user_id=str(owner.id), last_try=True)

    assert User.objects.filter(id=owner.id).exists()
    assert len(world.blocks("work")) == 1


# Outages ----------------------------------------------------------------------------------------


@pytest.fixture
def proxied_world(radicale_server, fault_proxy, owner) -> World:
    return blocked_world(
        make_world(radicale_server, owner, ["personal", "work"], server_url=fault_proxy.url)
    )


def test_a_provider_outage_leaves_the_account_for_a_retry_that_finishes_it(
    owner, proxied_world, fault_proxy, django_capture_on_commit_callbacks
):
    fault_proxy.fault = lambda method, path, count: 503 if method == "DELETE" else None
    with django_capture_on_commit_callbacks():
        lifecycle_services.account_deletion_request(user=owner, remove_blocks=True, ip_address=None)

    with pytest.raises(deletion.DeletionIncomplete):
        deletion.account_delete(user_id=str(owner.id))

    assert User.objects.filter(id=owner.id).exists()
    assert Block.objects.count() == 1
    assert len(proxied_world.blocks("work")) == 1

    fault_proxy.reset()
    deletion.account_delete(user_id=str(owner.id))

    assert not User.objects.filter(id=owner.id).exists()
    assert proxied_world.blocks("work") == []


def test_after_the_last_try_the_account_is_deleted_anyway_and_that_is_logged(
    owner, proxied_world, fault_proxy, run_tasks_inline, caplog
):
    fault_proxy.fault = lambda method, path, count: 503 if method == "DELETE" else None
    with pytest.raises(Retry), run_tasks_inline():
        lifecycle_services.account_deletion_request(user=owner, remove_blocks=True, ip_address=None)
    assert User.objects.filter(id=owner.id).exists()

    with caplog.at_level(logging.INFO, logger="lifecycle.deletion"):
        delete_account.apply(args=[str(owner.id)], retries=RETRY_LIMIT)

    assert not User.objects.filter(id=owner.id).exists()
    assert fault_proxy.seen["DELETE"] == 2  # the first try and the last
    assert len(proxied_world.blocks("work")) == 1
    logged = [record.getMessage() for record in caplog.records]
    assert (
        f"Deleting account {owner.id} with 1 blocks left in its calendars and 0 cancellations unsent"
        in logged
    )
    assert any(line.startswith(f"Deleted account {owner.id} (asked for at ") for line in logged)
    assert owner.email not in "\n".join(logged)


def test_a_deletion_whose_task_was_lost_is_queued_again_by_beat(owner, second_user, monkeypatch):
    from lifecycle import tasks as account_tasks

    queued: list[str] = []
    monkeypatch.setattr(account_tasks.delete_account, "delay", queued.append)
    User.objects.filter(id=owner.id).update(
        deletion_requested_at=timezone.now() - timedelta(hours=4)
    )
    User.objects.filter(id=second_user.id).update(
        deletion_requested_at=timezone.now() - timedelta(minutes=10)  # still in its own retries
    )

    account_tasks.resume_stalled_deletions()

    assert queued == [str(owner.id)]
