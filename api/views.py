from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja.openapi.docs import Swagger

from api import problems
from api.main import api


def reference(request: HttpRequest) -> HttpResponse:
    """The API's reference, rendered from its OpenAPI document by the Swagger UI shipped with
    django-ninja (served from our static files)."""
    return Swagger().render_page(request, api)


def unknown(request: HttpRequest) -> HttpResponse:
    return problems.response(
        request, problems.not_found("There is no such address in this API; see /api/docs/.")
    )
