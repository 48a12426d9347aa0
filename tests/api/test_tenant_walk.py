"""Tenant isolation through the API: every operation of the published document that names an
object by id, asked by a key of another user holding every scope, finds nothing and changes
nothing. The walk reads the operations from the OpenAPI document, so a new one is covered the
day it is added."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from api.main import api
from api.scopes import Scope
from api.services import api_key_create
from tests.security.test_tenant_isolation import leaked, snapshot
from tests.security.world import Names, make_tenant

pytestmark = pytest.mark.django_db

OWNER = Names.marked("owner")
_PARAMETER = re.compile(r"\{(\w+)\}")


def _ids(tenant) -> dict[str, Any]:
    return {
        "connection_id": tenant.connection.id,
        "calendar_id": tenant.calendar.id,
        "rule_id": tenant.rule.id,
        "page_id": tenant.page.id,
        "team_page_id": tenant.team_page.id,
        "booking_id": tenant.booking.id,
        "subscription_id": tenant.webhook.id,
        "handle": tenant.profile.handle,
        "slug": tenant.page.slug,
    }


def _operations() -> list[tuple[str, str]]:
    document = api.get_openapi_schema(path_prefix="/api/v1/")
    return [
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if _PARAMETER.search(path) and not path.startswith("/api/v1/public/")
    ]


def _client(user) -> Client:
    _key, token = api_key_create(
        user=user, name="walk", scopes=list(Scope.values), expires_at=None, ip_address=None
    )
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def tenant(radicale_server, owner):
    return make_tenant(radicale_server, owner, OWNER, handle="owner-host")


def test_the_walk_knows_how_to_fill_every_id(tenant):
    names = {name for _method, path in _operations() for name in _PARAMETER.findall(path)}

    assert names <= set(_ids(tenant))
    assert len(_operations()) >= 5


def test_the_owners_key_reaches_every_object(tenant, owner):
    client = _client(owner)
    missing = []
    for method, path in _operations():
        if method != "get":
            continue
        response = client.get(_PARAMETER.sub(lambda m: str(_ids(tenant)[m[1]]), path))
        if response.status_code != 200:
            missing.append(f"GET {path}: {response.status_code}")

    assert missing == []


def test_another_users_key_finds_nothing_and_changes_nothing(tenant, radicale_server, outsider):
    make_tenant(radicale_server, outsider, Names.marked("outsider"), handle="outsider-host")
    client = _client(outsider)
    before = snapshot(tenant)
    problems = []
    for method, path in _operations():
        filled = _PARAMETER.sub(lambda m: str(_ids(tenant)[m[1]]), path)
        response = getattr(client, method)(filled, data={}, content_type="application/json")
        body = response.json() if response.content else {}
        refused_body = response.status_code == 422 and all(
            error["field"].split(".")[0] not in _ids(tenant) for error in body.get("errors", [])
        )
        if response.status_code != 404 and not refused_body:
            problems.append(f"{method.upper()} {path}: {response.status_code}")
        if leaked(response):
            problems.append(f"{method.upper()} {path} shows {leaked(response)}")

    assert problems == []
    assert snapshot(tenant) == before
