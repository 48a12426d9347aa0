from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import AuditLog
from api.main import api
from api.models import ApiKey
from api.scopes import Scope
from api.services import api_key_authenticate, api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db


def _problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["code"] == code
    return body


def test_a_key_opens_its_account(owner, owner_api):
    body = owner_api.get("/me").json()

    assert body["id"] == str(owner.id)
    assert body["email"] == owner.email


def test_the_key_is_stored_as_a_digest_only(owner):
    key, token = api_key_create(user=owner, name="ci", scopes=[], expires_at=None, ip_address=None)

    stored = ApiKey.objects.values().get(id=key.id)
    assert token.startswith(f"mck_{key.prefix}_")
    assert not any(token in str(value) for value in stored.values())
    assert token.split("_")[-1] not in str(stored)


def test_no_key_is_refused_with_a_problem_and_a_challenge():
    response = Client().get("/api/v1/me")

    _problem(response, 401, "unauthenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_signed_in_session_does_not_open_the_api(owner_client):
    _problem(owner_client.get("/api/v1/me"), 401, "unauthenticated")


@pytest.mark.parametrize(
    "spoil",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # one character off
        lambda token: token.replace("mck_", "xyz_"),
        lambda token: token[:-3],
        lambda token: "mck_" + "a" * 12 + "_" + "b" * 32,
        lambda token: "",
    ],
)
def test_a_tampered_key_is_refused(owner_api, spoil):
    response = Client(HTTP_AUTHORIZATION=f"Bearer {spoil(owner_api.token)}").get("/api/v1/me")

    _problem(response, 401, "unauthenticated")


def test_a_revoked_key_is_refused_at_once(owner, owner_api):
    key = ApiKey.objects.get(user=owner)
    api_key_revoke(key=key, ip_address="127.0.0.1")

    _problem(owner_api.get("/me"), 401, "unauthenticated")
    assert AuditLog.objects.filter(user=owner, action=AuditLog.Action.API_KEY_REVOKED).count() == 1


def test_an_expired_key_is_refused(owner, make_api, time_machine):
    api = make_api(owner, expires_at=timezone.now() + timedelta(days=1))
    assert api.get("/me").status_code == 200

    time_machine.move_to(timezone.now() + timedelta(days=1, seconds=1))

    _problem(api.get("/me"), 401, "unauthenticated")


def test_a_key_of_a_deactivated_account_is_refused(owner, owner_api):
    owner.is_active = False
    owner.save(update_fields=["is_active"])

    _problem(owner_api.get("/me"), 401, "unauthenticated")


def test_a_read_key_cannot_write(owner, make_api):
    api = make_api(owner, scopes=[Scope.RULES_READ])

    assert api.get("/rules").status_code == 200
    body = _problem(api.post("/rules", {"name": "x"}), 403, "insufficient_scope")
    assert "rules:write" in body["detail"]


def test_a_write_scope_implies_reading(owner, make_api):
    api = make_api(owner, scopes=[Scope.RULES_WRITE])

    assert api.get("/rules").status_code == 200


def test_a_key_without_a_scope_reaches_only_its_account(owner, make_api):
    api = make_api(owner, scopes=[])

    assert api.get("/me").status_code == 200
    _problem(api.get("/calendars"), 403, "insufficient_scope")


def test_each_key_has_its_own_rate_limit_with_retry_after(owner, make_api, settings):
    settings.API_KEY_RATE = "3/m"
    first, second = make_api(owner), make_api(owner)

    assert [first.get("/me").status_code for _ in range(3)] == [200, 200, 200]
    refused = first.get("/me")

    body = _problem(refused, 429, "rate_limited")
    assert 1 <= int(refused["Retry-After"]) <= 61
    assert "3/m" in body["detail"]
    assert second.get("/me").status_code == 200


def test_requests_with_bad_keys_count_against_the_address(settings):
    settings.RATE_LIMIT_DEFAULT = "2/m"
    bad = Client(HTTP_AUTHORIZATION="Bearer mck_nothing", REMOTE_ADDR="203.0.113.42")

    assert [bad.get("/api/v1/me").status_code for _ in range(2)] == [401, 401]
    refused = bad.get("/api/v1/me")
    _problem(refused, 429, "rate_limited")
    assert int(refused["Retry-After"]) >= 1


def test_use_from_a_new_address_is_audited_once(owner):
    _key, token = api_key_create(user=owner, name="ci", scopes=[], expires_at=None, ip_address=None)

    for address in ["203.0.113.5", "203.0.113.5", "198.51.100.7"]:
        assert api_key_authenticate(token, ip_address=address) is not None

    lines = AuditLog.objects.filter(user=owner, action=AuditLog.Action.API_KEY_NEW_ADDRESS)
    assert sorted(line.ip_address for line in lines) == ["198.51.100.7", "203.0.113.5"]


def test_the_last_use_is_kept_to_the_minute(owner, time_machine):
    key, token = api_key_create(user=owner, name="ci", scopes=[], expires_at=None, ip_address=None)
    api_key_authenticate(token, ip_address=None)
    first = ApiKey.objects.get(id=key.id).last_used_at

    time_machine.move_to(timezone.now() + timedelta(seconds=20))
    api_key_authenticate(token, ip_address=None)
    assert ApiKey.objects.get(id=key.id).last_used_at == first

    time_machine.move_to(timezone.now() + timedelta(minutes=2))
    api_key_authenticate(token, ip_address=None)
    assert ApiKey.objects.get(id=key.id).last_used_at > first


def test_creation_is_audited_with_the_prefix_never_the_token(owner):
    key, token = api_key_create(
        user=owner, name="ci", scopes=[Scope.BOOKINGS_READ], expires_at=None, ip_address="::1"
    )

    line = AuditLog.objects.get(user=owner, action=AuditLog.Action.API_KEY_CREATED)
    assert line.metadata["prefix"] == key.prefix
    assert token not in str(line.metadata)


def test_every_operation_has_a_name_of_its_own():
    document = api.get_openapi_schema(path_prefix="/api/v1/")
    names = [op["operationId"] for item in document["paths"].values() for op in item.values()]

    assert len(names) == len(set(names)) >= 10
