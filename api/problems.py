"""Errors as RFC 9457 problem details (``application/problem+json``), one shape for every one.

``type`` is ``about:blank`` (the status says it all) and ``code`` a stable word a client can
branch on; ``errors`` lists what was wrong with each field of a request that was refused.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Schema

PROBLEM_TYPE = "application/problem+json"


class FieldProblem(Schema):
    field: str
    message: str


class Problem(Schema):
    type: str = "about:blank"
    title: str
    status: int
    code: str
    detail: str | None = None
    errors: list[FieldProblem] | None = None


class ApiProblem(Exception):
    """Raised anywhere under an operation to answer with a problem."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        *,
        errors: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


def not_found(detail: str = "No such object, or it is not yours.") -> ApiProblem:
    return ApiProblem(404, "not_found", "Not found", detail)


def invalid(
    errors: list[FieldProblem], detail: str = "The request has invalid fields."
) -> ApiProblem:
    return ApiProblem(422, "invalid", "Unprocessable content", detail, errors=errors)


def conflict(code: str, detail: str) -> ApiProblem:
    return ApiProblem(409, code, "Conflict", detail)


def response(request: HttpRequest, problem: ApiProblem) -> HttpResponse:
    body = Problem(
        title=problem.title,
        status=problem.status,
        code=problem.code,
        detail=problem.detail,
        errors=problem.errors,
    )
    answer = HttpResponse(
        body.model_dump_json(exclude_none=True), status=problem.status, content_type=PROBLEM_TYPE
    )
    for name, value in problem.headers.items():
        answer[name] = value
    return answer


def form_errors(
    errors: dict[str, Any], *, fields: dict[str, str] | None = None
) -> list[FieldProblem]:
    """A Django form's errors as field problems; ``fields`` renames form fields to API fields."""
    renamed = fields or {}
    return [
        FieldProblem(
            field=renamed.get(name, name) if name != "__all__" else "",
            message=str(message),
        )
        for name, messages in errors.items()
        for message in messages
    ]
