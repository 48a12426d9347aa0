from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditLog
from api.models import ApiKey

pytestmark = pytest.mark.django_db


def _create(client, **fields):
    data = {"name": "Dashboard", "scopes": ["bookings:read", "calendars:read"], **fields}
    return client.post(reverse("api_keys:create"), data)


def test_a_key_made_in_settings_is_shown_once_and_works(owner_client, owner):
    response = _create(owner_client)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = response.context["token"]
    assert token in response.content.decode()
    listing = owner_client.get(reverse("api_keys:list")).content.decode()
    assert token not in listing
    assert f"mck_{ApiKey.objects.get(user=owner).prefix}_" in listing
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/v1/calendars").status_code == 200
    assert api.get("/api/v1/rules").status_code == 403


def test_the_expiry_day_ends_in_the_users_zone(owner_client, owner):
    day = date.today() + timedelta(days=10)

    _create(owner_client, expires_on=day.isoformat())

    key = ApiKey.objects.get(user=owner)
    local = key.expires_at.astimezone(ZoneInfo(owner.time_zone))
    assert (local.date(), local.hour, local.minute) == (day + timedelta(days=1), 0, 0)


@pytest.mark.parametrize(
    "fields",
    [
        {"name": ""},
        {"expires_on": (date.today() - timedelta(days=2)).isoformat()},
        {"expires_on": (date.today() + timedelta(days=900)).isoformat()},
        {"scopes": ["everything"]},
    ],
)
def test_a_bad_key_form_shows_field_errors_and_makes_nothing(owner_client, fields):
    response = _create(owner_client, **fields)

    assert response.status_code == 400
    assert response.context["form"].errors
    assert ApiKey.objects.count() == 0


def test_revoking_a_key_stops_it_at_once(owner_client, owner):
    token = _create(owner_client).context["token"]
    key = ApiKey.objects.get(user=owner)

    response = owner_client.post(reverse("api_keys:revoke", args=[key.id]))

    assert response.status_code == 302
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/v1/me").status_code == 401
    actions = set(AuditLog.objects.filter(user=owner).values_list("action", flat=True))
    assert {AuditLog.Action.API_KEY_CREATED, AuditLog.Action.API_KEY_REVOKED} <= actions
    log = owner_client.get(reverse("accounts:security")).content.decode()
    assert f"mck_{key.prefix}_" in log


def test_another_user_cannot_revoke_a_key(owner_client, owner, second_user):
    _create(owner_client)
    key = ApiKey.objects.get(user=owner)
    other = Client()
    other.force_login(second_user)

    assert other.post(reverse("api_keys:revoke", args=[key.id])).status_code == 404
    assert ApiKey.objects.get(id=key.id).revoked_at is None


def test_key_pages_need_a_sign_in():
    response = Client().get(reverse("api_keys:list"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
