"""What an API key may do: read or write, per family of resources.

A key holds a list of these; each operation names the one it needs. ``/me`` needs none beyond a
valid key. The same list is offered when a key is created and documented in the OpenAPI document.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Scope(models.TextChoices):
    CALENDARS_READ = "calendars:read", _("Read connections and calendars (names and state)")
    RULES_READ = "rules:read", _("Read sync rules and their runs")
    RULES_WRITE = "rules:write", _("Create, change and delete sync rules")
    PAGES_READ = "pages:read", _("Read booking pages and their open times")
    PAGES_WRITE = "pages:write", _("Create, change and delete booking pages")
    BOOKINGS_READ = "bookings:read", _("Read bookings")
    BOOKINGS_WRITE = "bookings:write", _("Make, move and cancel bookings")
    EVENTS_READ = "events:read", _("Read calendar events live from the providers (nothing stored)")
    WEBHOOKS_READ = "webhooks:read", _("Read webhooks and their deliveries")
    WEBHOOKS_WRITE = "webhooks:write", _("Add, change and delete webhooks")


# What a write scope implies: a key that may change something may read it too.
IMPLIED = {
    Scope.RULES_WRITE: Scope.RULES_READ,
    Scope.PAGES_WRITE: Scope.PAGES_READ,
    Scope.BOOKINGS_WRITE: Scope.BOOKINGS_READ,
    Scope.WEBHOOKS_WRITE: Scope.WEBHOOKS_READ,
}


def granted(scopes: list[str]) -> frozenset[str]:
    """Every scope ``scopes`` grant, implied ones included."""
    held = set(scopes)
    held.update(str(IMPLIED[Scope(scope)]) for scope in scopes if scope in IMPLIED)
    return frozenset(held)
