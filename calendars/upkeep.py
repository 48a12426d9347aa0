"""Keeping OAuth connections alive while nothing uses them: their refresh tokens expire unused.

Above the services it calls and Zoom's token store (which builds on those services), so that
neither imports the other.
"""

from __future__ import annotations

from calendars import services
from calendars.models import Connection
from calendars.zoom_tokens import client_for_connection


def connection_keep_authorized(*, connection: Connection) -> None:
    """Use an OAuth connection's credentials once, so that its tokens are refreshed (and rotated
    ones stored) before they lapse, even when nothing has synced through it for weeks: Microsoft
    and Zoom refresh tokens expire when unused. A calendar account also gets its calendar list
    brought up to date on the way. Raises ``ProviderError``."""
    if connection.kind == Connection.Kind.ZOOM:
        client_for_connection(connection).me()
    else:
        services.connection_refresh_calendars(connection=connection)
