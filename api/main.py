"""The REST API at ``/api/v1/``: one NinjaAPI, its routers, and the problem handlers.

django-ninja builds the OpenAPI 3.1 document from the operations' type hints and pydantic
schemas, so the document cannot drift from the code; the operations call the same services and
selectors as the pages (``api/routes/``).
"""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation
from ninja.parser import Parser
from ninja.renderers import BaseRenderer
from pydantic_core import to_json

from api import problems
from api.auth import KeyAuth
from api.problems import ApiProblem, FieldProblem
from api.routes import (
    account,
    bookings,
    calendars,
    events,
    pages,
    public,
    rules,
    team_pages,
    webhooks,
)

DESCRIPTION = """
Multical's REST API: your calendars and connections (names and state), sync rules, booking pages,
your organizations' team pages, their open times and bookings, and your calendars' events read
live from the providers.

**Authentication.** Create a personal API key in Settings → API keys and send it as
`Authorization: Bearer mck_…`. A key holds scopes (read or write per family of resources); an
operation that needs a scope the key lacks answers 403. Signed-in browser sessions do not
authenticate the API. Open times of listed booking pages and active team pages (`/public/…`)
need no key.

**Rate limits.** Each key may make `API_KEY_RATE` requests (120 a minute unless the installation
says otherwise); past it the API answers 429 with `Retry-After` in seconds. Requests without a
working key count against the client address.

**Errors** are RFC 9457 problem details (`application/problem+json`): `status`, `title`, a stable
`code`, a `detail` in words, and for refused fields `errors: [{field, message}]`.

**Lists** are paged by cursor: pass `limit` (1 to 100) and the previous page's `next_cursor` as
`cursor`; `next_cursor` is null on the last page.

**Ids** are the random ids the pages use. **Times** are RFC 3339 with a zone offset; times you
send must carry one.

Event content from your calendars is read live for `/events` and never stored.
"""


class _ObjectsOnly(Parser):
    """Every body this API takes is a JSON object. django-ninja's schemas also read attributes
    of other values (a list, a string), which would let ``[null]`` pass as an empty change."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = json.loads(request.body)
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        return data


class _Json(BaseRenderer):
    """Answers written by pydantic's own JSON encoder: times in RFC 3339, in a tenth of the time
    Python's json module and Django's encoder take for a page of 100 bookings."""

    media_type = "application/json"

    def render(self, request: HttpRequest, data: Any, *, response_status: int) -> bytes:
        return to_json(data)


class _Api(NinjaAPI):
    def get_openapi_operation_id(self, operation: Operation) -> str:
        """The view's own name (``list_rules``, ``create_booking``): names are unique across the
        routes, and a client generated from the document gets readable method names."""
        return operation.view_func.__name__


api = _Api(
    title="Multical API",
    version="1",
    description=DESCRIPTION.strip(),
    urls_namespace="api",
    docs_url=None,
    parser=_ObjectsOnly(),
    renderer=_Json(),
)

# Statuses every operation may answer with, documented on each one.
_ALWAYS = {
    "422": "The request is not valid: see `errors`.",
    "429": "Too many requests: wait for `Retry-After` seconds.",
}
_WITH_BODY = {"400": "The body is not JSON."}
_WITH_KEY = {
    "401": "No live API key was sent.",
    "403": "The key lacks the scope this operation needs.",
}


@api.exception_handler(ApiProblem)
def _problem(request: HttpRequest, error: ApiProblem) -> HttpResponse:
    return problems.response(request, error)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, error: ValidationError) -> HttpResponse:
    fields = [
        FieldProblem(field=_field_name(item.get("loc", ())), message=str(item.get("msg", "")))
        for item in error.errors
    ]
    return problems.response(request, problems.invalid(fields))


def _field_name(location: tuple[object, ...] | list[object]) -> str:
    """The field as the request names it, as the forms' refusals name theirs (``start``,
    ``weekly_hours.monday``): django-ninja's location starts with the source (body, query, path)
    and, for a body or a query model, the operation's parameter holding it."""
    source, *rest = [str(part) for part in location] or ["body"]
    if source in {"body", "query"} and len(rest) > 1:
        rest = rest[1:]
    elif source == "body":
        rest = []  # the body as a whole
    return ".".join(rest)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, error: Http404) -> HttpResponse:
    return problems.response(request, problems.not_found())


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
    return problems.response(
        request,
        ApiProblem(401, "unauthenticated", "Unauthorized", str(error)),
    )


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    """django-ninja's own refusals: a body that is not JSON (400) is the one that reaches here."""
    code = "malformed_body" if error.status_code == 400 else "http_error"
    return problems.response(request, ApiProblem(error.status_code, code, str(error), str(error)))


api.add_router("/me", account.router)
api.add_router("/", calendars.router)
api.add_router("/rules", rules.router)
api.add_router("/pages", pages.router)
api.add_router("/team-pages", team_pages.router)
api.add_router("/bookings", bookings.router)
api.add_router("/events", events.router)
api.add_router("/public", public.router)
api.add_router("/webhooks", webhooks.router)


def _document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Document every error status each operation may answer, as problem details."""
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem = problems.Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem.pop("$defs", {}))
    components.setdefault("Problem", problem)
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = {
                str(status): answer for status, answer in operation.get("responses", {}).items()
            }
            operation["responses"] = responses
            wanted = dict(_ALWAYS)
            if "requestBody" in operation:
                wanted.update(_WITH_BODY)
            if operation.get("security"):
                wanted.update(_WITH_KEY)
            for status, description in wanted.items():
                responses.setdefault(status, {"description": description})
            for status, answer in responses.items():
                if status.startswith(("4", "5")):
                    answer["content"] = {problems.PROBLEM_TYPE: {"schema": problem_ref}}
    _link_created_objects(schema)
    return schema


def _link_created_objects(schema: dict[str, Any]) -> None:
    """OpenAPI links from each create operation to the operations on what it created: the id in
    the body of its 201 fills their ``{…_id}``. Clients and testers follow them (Schemathesis'
    stateful phase chains create → read → change → delete by them)."""
    paths = schema.get("paths", {})
    for path, item in paths.items():
        created = item.get("post", {}).get("responses", {}).get("201")
        if created is None:
            continue
        links = {}
        for other, other_item in paths.items():
            name = (
                other[len(path) :].lstrip("/").split("/")[0]
                if other.startswith(path + "/{")
                else ""
            )
            if not name.endswith("_id}"):
                continue
            for operation in other_item.values():
                links[operation["operationId"]] = {
                    "operationId": operation["operationId"],
                    "parameters": {name.strip("{}"): "$response.body#/id"},
                }
        if links:
            created["links"] = links


class _Document(OpenAPISchema):
    """django-ninja's document, with the scopes each operation needs in its security
    requirement (OpenAPI 3.1 lets any scheme list the roles it requires)."""

    def operation_security(self, operation: Operation) -> list[dict[str, Any]] | None:
        security = super().operation_security(operation)
        for auth in operation.auth_callbacks:
            if isinstance(auth, KeyAuth) and security:
                security = [{type(auth).__name__: [str(scope) for scope in auth.scopes]}]
        return security


# The document of each mount point, built once: the operations are fixed once imported. Callers
# read it and never change it (a copy for each would cost more than building it).
_documents: dict[str, dict[str, Any]] = {}


def _schema_with_problems(
    *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
) -> Any:
    if path_prefix is None:
        path_prefix = api.get_root_path(path_params or {})
    if path_prefix not in _documents:
        _documents[path_prefix] = _document_problems(_Document(api, path_prefix))
    return _documents[path_prefix]


api.get_openapi_schema = _schema_with_problems  # type: ignore[method-assign]
