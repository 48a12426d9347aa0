"""Django's PostgreSQL backend, reading ``timestamptz`` with psycopg's compiled loader.

Django registers a loader of its own for ``timestamptz`` (a subclass of psycopg's pure-Python
one) so it can attach the connection's zone. Every row we read holds two to four instants, and
that loader costs about 6 µs per value against 0.5 µs for psycopg's compiled one: a tenth of the
CPU of an API page of 100 bookings. With ``USE_TZ`` the connection's zone is always UTC (Django
sets it when it connects), and the compiled loader then returns instants in
``datetime.timezone.utc``, the very values Django's gives. So when the compiled module is there
and the zone is UTC, the compiled loader does the work; otherwise nothing changes.
"""

from __future__ import annotations

from datetime import UTC
from functools import lru_cache
from typing import Any

from django.db.backends.postgresql import base
from psycopg import abc, adapt, postgres
from psycopg._cmodule import _psycopg as _compiled
from psycopg.pq import Format

_TIMESTAMPTZ = postgres.types["timestamptz"].oid


class _CompiledUtcLoader(adapt.Loader):
    """psycopg's compiled ``timestamptz`` loader, with the ``timezone`` Django looks for.

    Django compares ``timezone`` with its own before each cursor and registers its loader again
    when they differ; UTC here means they never do.
    """

    timezone = UTC

    def __init__(self, oid: int, context: abc.AdaptContext | None = None) -> None:
        super().__init__(oid, context)
        self._load = _compiled.TimestamptzLoader(oid, context).load

    def load(self, data: Any) -> Any:
        return self._load(data)


@lru_cache
def _adapters(template: adapt.AdaptersMap) -> adapt.AdaptersMap:
    adapters = adapt.AdaptersMap(template)
    adapters.register_loader(_TIMESTAMPTZ, _CompiledUtcLoader)
    return adapters


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        context = params.get("context")
        if _compiled is not None and context is not None and self.timezone == UTC:
            loader = context.get_loader(_TIMESTAMPTZ, Format.TEXT)
            if loader is not None and getattr(loader, "timezone", None) == UTC:
                params["context"] = _adapters(context)
        return params
