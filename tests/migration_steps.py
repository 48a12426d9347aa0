"""Moving the test database to a migration and back, for tests of data migrations."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from django.apps.registry import Apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(targets: Sequence[tuple[str, str]]) -> Apps:
    """The database at ``targets``; the models as they were there."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(list(targets))
    return executor.loader.project_state(list(targets)).apps


def at_schema(targets: Sequence[tuple[str, str]]) -> Iterator[Apps]:
    """A fixture's body: the models at ``targets``, and the latest schema again afterwards."""
    apps = migrate(targets)
    try:
        yield apps
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
