"""Cursor pagination: ``?limit=`` and an opaque ``cursor`` from the last page's ``next_cursor``.

A cursor is the position after the last item (its ordering value and id), signed so that it
cannot be forged or carried to another list. Unlike offsets, a cursor does not skip or repeat
items when rows are added or removed between pages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from django.core import signing
from django.db.models import Model, Q, QuerySet
from ninja import Field, Schema

from api.problems import FieldProblem, invalid

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
_M = TypeVar("_M", bound=Model)


class PageQuery(Schema):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page (1 to 100).")
    cursor: str | None = Field(
        None, description="The `next_cursor` of the previous page; leave out for the first page."
    )


def page(
    queryset: QuerySet[_M], query: PageQuery, *, order: str, descending: bool, scope: str
) -> tuple[list[_M], str | None]:
    """One page of ``queryset`` ordered by ``order`` then ``id``, and the cursor of the next.

    ``scope`` names the list (with its filters) the cursor belongs to.
    """
    salt = f"api.cursor.{scope}"
    if query.cursor:
        value, last_id = _position(query.cursor, salt)
        after = Q(**{f"{order}__lt" if descending else f"{order}__gt": value}) | Q(
            **{order: value, "id__lt" if descending else "id__gt": last_id}
        )
        queryset = queryset.filter(after)
    sign = "-" if descending else ""
    rows = list(queryset.order_by(f"{sign}{order}", f"{sign}id")[: query.limit + 1])
    if len(rows) <= query.limit:
        return rows, None
    rows = rows[: query.limit]
    last = rows[-1]
    value = getattr(last, order)
    kind, kept = ("time", value.isoformat()) if isinstance(value, datetime) else ("value", value)
    cursor = signing.dumps([kind, kept, str(last.pk)], salt=salt, compress=True)
    return rows, cursor


def _position(cursor: str, salt: str) -> tuple[Any, str]:
    try:
        kind, value, last_id = signing.loads(cursor, salt=salt)
        return (datetime.fromisoformat(value) if kind == "time" else value), str(last_id)
    except (signing.BadSignature, ValueError, TypeError) as error:
        raise invalid(
            [FieldProblem(field="cursor", message="This cursor is not valid for this list.")]
        ) from error
