"""Saving some fields of many rows at once, at a cost that stays small per row.

Django's ``bulk_update`` folds every row into one ``CASE WHEN`` expression per field, and building
that costs close to a millisecond of CPU per row. Here each row is a plain
``UPDATE ... WHERE pk = %s``, all sent by one ``executemany``, which psycopg 3 pipelines into a
single round trip. Fields are prepared as ``save()`` prepares them (``auto_now`` included).

``write_together`` commits many such statements, of any tables, in a round trip or two.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Field, ForeignObjectRel, Model
from django.db.models.options import Options


def save_fields(objects: Sequence[Model], fields: Sequence[str]) -> None:
    """Write ``fields`` of ``objects`` (all of one model, already saved) in one transaction.

    One object is one plain statement, committed on its own: a row saved the moment its remote
    write succeeded costs a round trip, not a transaction's three.
    """
    if not objects:
        return
    model = type(objects[0])
    meta = model._meta
    connection = connections[router.db_for_write(model)]
    columns = [_concrete(meta, name) for name in fields]
    pk = _concrete(meta, "pk")
    statement = _update_statement(connection.vendor, model, tuple(fields))
    rows = [_values(obj, columns, pk, connection) for obj in objects]
    if len(rows) == 1:
        with connection.cursor() as cursor:
            cursor.execute(statement, rows[0])
        return
    with transaction.atomic(using=connection.alias, savepoint=False), connection.cursor() as cursor:
        cursor.executemany(statement, rows)


@functools.cache
def _update_statement(vendor: str, model: type[Model], fields: tuple[str, ...]) -> str:
    meta = model._meta
    quote = connections[router.db_for_write(model)].ops.quote_name
    assignments = ", ".join(f"{quote(_column(meta, name))} = %s" for name in fields)
    # Only quoted names from the model's meta are formatted in; every value is a parameter.
    return (
        f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(_column(meta, 'pk'))} = %s"  # noqa: S608
    )


def _concrete(meta: Options[Any], name: str) -> Field[Any, Any]:
    """The field ``name`` (``pk``: the primary key); a relation's other side is no field to save."""
    field: Field[Any, Any] | ForeignObjectRel | None = (
        meta.pk if name == "pk" else meta.get_field(name)
    )
    if not isinstance(field, Field):
        raise ValueError(f"{meta.label}.{name} is not a field of its own.")
    return field


def _column(meta: Options[Any], name: str) -> str:
    column = _concrete(meta, name).column
    if column is None:
        raise ValueError(f"{meta.label}.{name} has no column.")
    return column


# A statement with its values.
Statement = tuple[str, Sequence[Any]]


def update_statement(obj: Model, fields: Sequence[str]) -> Statement:
    """The statement ``save_fields([obj], fields)`` runs, with its values, for ``write_together``."""
    model = type(obj)
    meta = model._meta
    connection = connections[router.db_for_write(model)]
    columns = [_concrete(meta, name) for name in fields]
    values = _values(obj, columns, _concrete(meta, "pk"), connection)
    return _update_statement(connection.vendor, model, tuple(fields)), values


def _values(
    obj: Model, columns: list[Field[Any, Any]], pk: Field[Any, Any], connection: Any
) -> list[Any]:
    """The values of one row's statement: its fields as ``save()`` prepares them, then its key."""
    return [
        *(field.get_db_prep_save(field.pre_save(obj, add=False), connection) for field in columns),
        pk.get_db_prep_value(obj.pk, connection),
    ]


def write_together(statements: Sequence[Statement]) -> None:
    """Run several statements (each with its values) on the default database in one transaction;
    those of the same text go together, one pipelined round trip each (psycopg 3's
    ``executemany``), in the order each text first appears. None may depend on another's effect.
    """
    groups: dict[str, list[Sequence[Any]]] = {}
    for statement, values in statements:
        groups.setdefault(statement, []).append(values)
    connection = connections["default"]
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        for statement, rows in groups.items():
            cursor.executemany(statement, rows)
