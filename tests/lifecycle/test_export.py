"""The GDPR data export: every section there, no credential in it, nobody else's data in it."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from accounts.models import AuditLog, Consent
from accounts.services import audit_log_record
from booking.models import Booking, BookingPage, DateOverride, Profile, ProfilePicture, Question
from booking.pictures import SIDE, square_picture
from booking.services import profiles
from calendars.models import Connection
from syncrules.models import Block, SyncRule
from tests.factories import DEFAULT_PASSWORD, CalendarFactory, ConnectionFactory
from webhooks.models import WebhookSubscription

pytestmark = pytest.mark.django_db

EXPORT = reverse("lifecycle:export")
# Credentials planted in the owner's connections: none may leave in an export.
CALDAV_PASSWORD = "caldav-pw-Q7xk2LmN9"
ACCESS_TOKEN = "ya29.planted-access-token-8fJ2kq"
REFRESH_TOKEN = "1//planted-refresh-token-Zp3w"
ICAL_TOKEN = "ical-secret-token-4hT8vB1"
ICAL_URL = f"https://calendar.example.com/feeds/u/8765/basic.ics?token={ICAL_TOKEN}"
SYNC_CURSOR = "sync-cursor-token-Lq0Pz"
ATTENDEE = "grace@attendee.example"
ANSWER = "Compilers for everyone"

# Each test exports from its own address, so the per-address limit of one never reaches another.
_addresses = (f"198.18.{n // 250}.{n % 250 + 1}" for n in itertools.count())


@pytest.fixture
def exporter(owner):
    client = Client(REMOTE_ADDR=next(_addresses))
    client.login(email=owner.email, password=DEFAULT_PASSWORD)
    return client


def export(client) -> dict:
    response = client.post(EXPORT)
    assert response.status_code == 200, response.status_code
    return json.loads(response.content)


def make_data(user, *, marker: str) -> dict[str, object]:
    """A connection of each kind with credentials, a rule, a block, a page and a booking."""
    caldav = ConnectionFactory(
        user=user,
        label=f"{marker} @ dav.example.com",
        server_url="https://dav.example.com/",
        username=marker,
        secrets={"password": f"{CALDAV_PASSWORD}-{marker}"},
    )
    work = CalendarFactory(connection=caldav, name=f"{marker} work", sync_cursor=SYNC_CURSOR)
    google = ConnectionFactory(
        user=user,
        kind=Connection.Kind.GOOGLE,
        label=f"{marker}@gmail.example",
        server_url="",
        username=f"{marker}@gmail.example",
        secrets={
            "access_token": f"{ACCESS_TOKEN}-{marker}",
            "refresh_token": f"{REFRESH_TOKEN}-{marker}",
            "email": f"{marker}@gmail.example",
        },
    )
    family = CalendarFactory(
        connection=google,
        remote_id=f"{marker}-family@group.calendar.google.com",
        name=f"{marker} family",
        push_channel_id="channel-id-planted",
        push_resource_id="resource-id-planted",
    )
    ics = ConnectionFactory(
        user=user,
        kind=Connection.Kind.ICS,
        label=f"{marker} feed",
        server_url="",
        username="",
        secrets={"url": f"{ICAL_URL}-{marker}"},
    )
    CalendarFactory(connection=ics, remote_id="feed", name=f"{marker} feed")
    rule = SyncRule.objects.create(
        user=user,
        name=f"{marker} rule",
        visibility=SyncRule.Visibility.TITLE,
        include_keywords=["client"],
        weekdays=[1, 2, 3],
        working_hours_start=time(9),
        working_hours_end=time(17),
    )
    rule.sources.set([family])
    rule.targets.set([work])
    start = datetime(2030, 5, 6, 9, 0, tzinfo=UTC)
    block = Block.objects.create(
        rule=rule,
        source_calendar=family,
        source_event_id=f"{marker}-event-1",
        source_series_id=f"{marker}-event-1",
        target_calendar=work,
        target_event_id=f"{marker}-block-1.ics",
        state=Block.State.SYNCED,
        start=start,
        end=start + timedelta(hours=1),
        fingerprint="f" * 64,
    )
    Profile.objects.create(user=user, handle=f"{marker}-host", display_name=f"{marker} Host")
    page = BookingPage.objects.create(
        owner=user,
        title=f"{marker} intro",
        slug="intro",
        listed=False,
        durations=[30, 60],
        weekly_hours={"1": [[540, 720]]},
        write_calendar=work,
        location=BookingPage.Location.PHONE,
        location_detail="+49 30 1234567",
    )
    page.busy_calendars.set([work])
    Question.objects.create(page=page, label="What shall we talk about?", required=True)
    DateOverride.objects.create(page=page, date=date(2030, 5, 8), hours=[])
    booking = Booking.objects.create(
        owner=user,
        page=page,
        title=f"{marker} intro",
        start=start + timedelta(days=1),
        end=start + timedelta(days=1, minutes=30),
        attendee_name=f"{marker} Grace",
        attendee_email=f"{marker}-{ATTENDEE}",
        answers=[{"question": "What shall we talk about?", "answer": f"{marker} {ANSWER}"}],
        location=BookingPage.Location.PHONE,
        location_detail="+49 30 1234567",
        submission_key=uuid.uuid4().hex,
    )
    Consent.objects.create(user=user, kind=Consent.Kind.TERMS, granted=True, document_version="v1")
    audit_log_record(user=user, action=AuditLog.Action.LOGIN, ip_address="203.0.113.50")
    return {
        "connections": [caldav, google, ics],
        "rule": rule,
        "block": block,
        "page": page,
        "booking": booking,
    }


def test_the_export_is_a_json_download_of_format_1_3(exporter, owner):
    response = exporter.post(EXPORT)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith('attachment; filename="multical-data-')
    assert json.loads(response.content)["format_version"] == "1.3"


def test_every_section_is_present_with_the_users_data(exporter, owner):
    owner.notify_booking_emails = False
    owner.save(update_fields=["notify_booking_emails"])
    data = make_data(owner, marker="ada")

    exported = export(exporter)

    assert set(exported) == {
        "format_version",
        "exported_at",
        "account",
        "notification_preferences",
        "consents",
        "connections",
        "sync_rules",
        "blocks",
        "booking_profile",
        "booking_pages",
        "bookings",
        "webhooks",
        "audit_log",
    }
    assert exported["account"]["email"] == owner.email
    assert exported["account"]["time_zone"] == "Europe/Berlin"
    assert exported["notification_preferences"] == {
        "reconnect_alerts": True,
        "booking_emails": False,
        "sync_alerts": True,
    }
    assert exported["consents"] == [
        {
            "kind": "terms",
            "granted": True,
            "document_version": "v1",
            "recorded_at": exported["consents"][0]["recorded_at"],
        }
    ]
    connections = {c["kind"]: c for c in exported["connections"]}
    assert set(connections) == {"caldav", "google", "ics"}
    assert connections["caldav"]["server_url"] == "https://dav.example.com/"
    assert connections["caldav"]["username"] == "ada"
    assert [c["name"] for c in connections["google"]["calendars"]] == ["ada family"]
    assert connections["ics"]["label"] == "ada feed"

    (rule,) = exported["sync_rules"]
    assert rule["name"] == "ada rule"
    assert rule["visibility"] == "title"
    assert rule["include_keywords"] == ["client"]
    assert rule["weekdays"] == [1, 2, 3]
    assert rule["working_hours_start"] == "09:00:00"
    assert rule["sources"] == [str(data["rule"].sources.get().id)]
    assert rule["targets"] == [str(data["rule"].targets.get().id)]

    (block,) = exported["blocks"]
    assert block["id"] == str(data["block"].id)
    assert block["state"] == "synced"
    assert block["start"] == "2030-05-06T09:00:00Z"
    assert block["source_event_id"] == "ada-event-1"

    assert exported["booking_profile"] == {
        "handle": "ada-host",
        "display_name": "ada Host",
        "picture": None,
    }
    (page,) = exported["booking_pages"]
    assert page["title"] == "ada intro"
    assert page["durations"] == [30, 60]
    assert page["questions"][0]["label"] == "What shall we talk about?"
    assert page["date_overrides"] == [{"date": "2030-05-08", "hours": []}]
    (booking,) = exported["bookings"]
    assert booking["attendee_name"] == "ada Grace"
    assert booking["attendee_email"] == f"ada-{ATTENDEE}"
    assert booking["answers"][0]["answer"] == f"ada {ANSWER}"

    actions = [entry["action"] for entry in exported["audit_log"]]
    assert actions == ["login", "data_exported"]
    assert exported["audit_log"][0]["ip_address"] == "203.0.113.50"
    assert exported["audit_log"][0]["description"] == "Logged in"


def test_the_host_picture_comes_back_as_the_image_we_keep(exporter, owner):
    make_data(owner, marker="ada")
    profile = Profile.objects.get(user=owner)
    uploaded = io.BytesIO()
    Image.new("RGB", (400, 300), "teal").save(uploaded, "PNG")
    uploaded.seek(0)
    profiles.profile_picture_set(profile=profile, picture=square_picture(uploaded))
    profile.refresh_from_db()

    picture = export(exporter)["booking_profile"]["picture"]

    assert set(picture) == {"content_type", "sha256", "updated_at", "data_base64"}
    data = base64.b64decode(picture["data_base64"], validate=True)
    assert data == bytes(ProfilePicture.objects.get(profile=profile).image)
    assert picture["content_type"] == "image/webp"
    assert picture["sha256"] == profile.picture_digest == hashlib.sha256(data).hexdigest()
    # The very file attendees see: the page's address for it serves the same bytes.
    served = Client().get(f"/book/ada-host/picture/{profile.picture_digest}.webp")
    assert served.content == data
    with Image.open(io.BytesIO(data)) as image:
        assert (image.format, image.size) == ("WEBP", (SIDE, SIDE))


def test_a_host_without_a_picture_exports_none_and_no_profile_exports_null(exporter, owner):
    assert export(exporter)["booking_profile"] is None

    Profile.objects.create(user=owner, handle="ada-host", display_name="Ada")

    assert export(exporter)["booking_profile"] == {
        "handle": "ada-host",
        "display_name": "Ada",
        "picture": None,
    }


def test_a_removed_picture_is_not_exported(exporter, owner):
    profile = Profile.objects.create(user=owner, handle="ada-host", display_name="Ada")
    uploaded = io.BytesIO()
    Image.new("RGB", (64, 64), "teal").save(uploaded, "PNG")
    uploaded.seek(0)
    profiles.profile_picture_set(profile=profile, picture=square_picture(uploaded))
    profiles.profile_picture_remove(profile=profile)

    assert export(exporter)["booking_profile"]["picture"] is None


def test_the_last_errors_are_exported_in_english_with_their_values(exporter, owner):
    owner.language = "de"
    owner.save(update_fields=["language"])
    make_data(owner, marker="ada")
    feed = Connection.objects.get(user=owner, kind=Connection.Kind.ICS)
    feed.last_error = "The link was refused (HTTP %(status)s). Check that it is still shared."
    feed.last_error_params = {"status": 404}
    feed.save(update_fields=["last_error", "last_error_params"])

    (exported,) = [c for c in export(exporter)["connections"] if c["kind"] == "ics"]

    assert (
        exported["last_error"] == "The link was refused (HTTP 404). Check that it is still shared."
    )


def test_a_rule_is_exported_with_every_option(exporter, owner):
    make_data(owner, marker="ada")

    (rule,) = export(exporter)["sync_rules"]

    options = {f.attname for f in SyncRule._meta.concrete_fields} - {"user_id"}
    assert set(rule) == options | {"sources", "targets"}


def test_no_credential_or_sealed_value_is_ever_exported(exporter, owner):
    """The attack: plant a CalDAV password, OAuth tokens and an iCal link with a token, and look
    for each of them, and for the sealed ciphertext as stored, in the downloaded file."""
    data = make_data(owner, marker="ada")
    ciphertexts = [
        Connection.objects.get(id=connection.id).secrets for connection in data["connections"]
    ]

    text = exporter.post(EXPORT).content.decode()

    for secret in (CALDAV_PASSWORD, ACCESS_TOKEN, REFRESH_TOKEN, ICAL_TOKEN, ICAL_URL):
        assert secret not in text
    for ciphertext in ciphertexts:
        assert ciphertext
        assert ciphertext not in text
        assert ciphertext[-24:] not in text  # nor any recognisable piece of it
    # The secrets of links and cursors: the unlisted page's, the manage links', sync and push ids.
    assert data["page"].secret not in text
    assert data["booking"].token_nonce not in text
    assert data["booking"].submission_key not in text
    assert SYNC_CURSOR not in text
    assert "channel-id-planted" not in text and "resource-id-planted" not in text
    assert "f" * 64 not in text  # block fingerprints are keyed digests of event content
    assert "password" not in json.loads(text)["account"]


def test_credentials_in_a_caldav_server_address_are_left_out(exporter, owner):
    connection = ConnectionFactory(
        user=owner, server_url=f"https://person:{CALDAV_PASSWORD}@dav.example.com/dav/?key=abc"
    )
    CalendarFactory(
        connection=connection,
        remote_id=f"https://person:{CALDAV_PASSWORD}@dav.example.com/dav/cal/",
    )

    text = exporter.post(EXPORT).content.decode()

    assert CALDAV_PASSWORD not in text
    assert "key=abc" not in text
    exported = json.loads(text)["connections"][0]
    assert exported["server_url"] == "https://dav.example.com/dav/"
    assert exported["calendars"][0]["remote_id"] == "https://dav.example.com/dav/cal/"


def test_another_users_data_never_appears(exporter, owner, second_user):
    make_data(owner, marker="ada")
    make_data(second_user, marker="zed")
    audit_log_record(user=second_user, action=AuditLog.Action.LOGIN, ip_address="198.51.100.99")

    text = exporter.post(EXPORT).content.decode()

    assert "ada" in text
    assert "zed" not in text
    assert second_user.email not in text
    assert str(second_user.id) not in text
    assert "198.51.100.99" not in text


def test_the_export_is_audited_with_the_address(exporter, owner):
    exporter.post(EXPORT)

    entry = AuditLog.objects.get(user=owner)
    assert entry.action == AuditLog.Action.DATA_EXPORTED
    assert entry.ip_address == exporter.defaults["REMOTE_ADDR"]
    assert entry.metadata == {}


def test_the_export_needs_a_post_with_a_csrf_token(owner):
    client = Client(enforce_csrf_checks=True, REMOTE_ADDR=next(_addresses))
    client.login(email=owner.email, password=DEFAULT_PASSWORD)

    assert client.get(EXPORT).status_code == 405
    assert client.post(EXPORT).status_code == 403
    assert not AuditLog.objects.exists()

    settings_page = client.get(reverse("accounts:settings"))
    token = settings_page.context["csrf_token"]
    assert client.post(EXPORT, {"csrfmiddlewaretoken": token}).status_code == 200


def test_logged_out_visitors_get_nothing(client):
    response = client.post(EXPORT, REMOTE_ADDR=next(_addresses))

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_twenty_exports_per_quarter_hour_per_account_then_429(exporter, owner, second_user):
    for _ in range(20):
        assert exporter.post(EXPORT).status_code == 200

    refused = exporter.post(EXPORT)

    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 15 * 60 + 1  # what is left of the window
    assert AuditLog.objects.filter(action=AuditLog.Action.DATA_EXPORTED).count() == 20
    # Counted by account: another address does not reset it, and another account has its own.
    assert exporter.post(EXPORT, REMOTE_ADDR=next(_addresses)).status_code == 429
    colleague = Client(REMOTE_ADDR=exporter.defaults["REMOTE_ADDR"])
    colleague.login(email=second_user.email, password=DEFAULT_PASSWORD)
    assert colleague.post(EXPORT).status_code == 200


def test_a_webhook_is_exported_without_its_secret_or_its_addresss_query(exporter, owner):
    from webhooks.services import subscription_create

    subscription, secret = subscription_create(
        user=owner, url="http://127.0.0.1:9/hooks?token=receiver-token", events=["rule.paused"]
    )

    text = exporter.post(EXPORT).content.decode()

    (exported,) = json.loads(text)["webhooks"]
    assert exported["id"] == str(subscription.id)
    assert exported["url"] == "http://127.0.0.1:9/hooks"
    assert exported["events"] == ["rule.paused"] and exported["active"] is True
    stored = WebhookSubscription.objects.get(id=subscription.id).secret
    for hidden in (secret, secret[6:], stored, stored[-24:], "receiver-token"):
        assert hidden not in text
