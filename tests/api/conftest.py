from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from api.scopes import Scope
from api.services import api_key_create

ALL_SCOPES = list(Scope.values)


class ApiClient:
    """A test client that sends one API key with every request, and JSON bodies."""

    def __init__(self, token: str) -> None:
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        self.token = token

    def get(self, path: str, **params: object):
        return self.client.get(f"/api/v1{path}", params)

    def post(self, path: str, body: object = None):
        return self.client.post(f"/api/v1{path}", body or {}, content_type="application/json")

    def patch(self, path: str, body: object):
        return self.client.patch(f"/api/v1{path}", body, content_type="application/json")

    def put(self, path: str, body: object):
        return self.client.put(f"/api/v1{path}", body, content_type="application/json")

    def delete(self, path: str):
        return self.client.delete(f"/api/v1{path}")


@pytest.fixture
def make_api() -> Callable[..., ApiClient]:
    def make(user, scopes: list[str] | None = None, **options: object) -> ApiClient:
        _key, token = api_key_create(
            user=user,
            name="test",
            scopes=ALL_SCOPES if scopes is None else scopes,
            expires_at=options.get("expires_at"),  # type: ignore[arg-type]
            ip_address="127.0.0.1",
        )
        return ApiClient(token)

    return make


@pytest.fixture
def owner_api(owner, make_api) -> ApiClient:
    return make_api(owner)
