from __future__ import annotations

import pytest
from django.test import Client

from api.main import api
from api.reference import prose

pytestmark = pytest.mark.django_db


def test_the_reference_lists_every_operation_of_the_document():
    document = api.get_openapi_schema(path_prefix="/api/v1/")

    page = Client().get("/api/docs/").content.decode()

    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert f'id="op-{operation["operationId"]}"' in page, (method, path)
    assert "<code>rules:write</code>" in page
    assert "No key needed." in page


def test_the_document_is_published_as_openapi_3_1():
    response = Client().get("/api/v1/openapi.json")

    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    scopes = {
        scope
        for item in document["paths"].values()
        for operation in item.values()
        for requirement in operation.get("security", [])
        for scope in requirement.get("KeyAuth", [])
    }
    assert {"rules:write", "bookings:write", "events:read"} <= scopes


def test_every_operation_with_a_key_names_its_scope_but_the_account():
    document = api.get_openapi_schema(path_prefix="/api/v1/")

    unscoped = [
        path
        for path, item in document["paths"].items()
        for operation in item.values()
        if operation.get("security") == [{"KeyAuth": []}]
    ]

    assert unscoped == ["/api/v1/me"]


def test_descriptions_are_escaped_before_they_are_formatted():
    html = prose("Send `<script>` as **bold** text.\n\nSecond <b>paragraph</b>.")

    assert html == (
        "<p>Send <code>&lt;script&gt;</code> as <strong>bold</strong> text.</p>"
        "<p>Second &lt;b&gt;paragraph&lt;/b&gt;.</p>"
    )
