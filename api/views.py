from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from api import problems
from api.main import api
from api.reference import prose
from api.reference import reference as read_reference


def reference(request: HttpRequest) -> HttpResponse:
    """The API's reference, read from the same OpenAPI document the API publishes."""
    document = api.get_openapi_schema(path_prefix="/api/v1/")
    sections, schemas = read_reference(document)
    return render(
        request,
        "api/reference.html",
        {
            "title": document["info"]["title"],
            "introduction": prose(document["info"].get("description", "")),
            "sections": sections,
            "schemas": schemas,
        },
    )


def unknown(request: HttpRequest) -> HttpResponse:
    return problems.response(
        request, problems.not_found("There is no such address in this API; see /api/docs/.")
    )
