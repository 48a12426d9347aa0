"""One namespace of public handles for people (``Profile``) and organizations (``OrgHandle``).

``/book/<handle>/`` must mean one thing, so no organization takes a person's handle and no person
an organization's. Within a table its unique constraint decides; across the two tables, each
write of a handle calls ``handle_claim`` inside its transaction: a PostgreSQL advisory lock named
by the handle, held until the transaction ends, then a look into both tables. Two transactions
claiming one handle at once are decided in turn, and the second sees the first's row. (The
embedded SQLite development database has one writer at a time and needs no lock.)
"""

from __future__ import annotations

from uuid import UUID

from django.core.cache import cache
from django.db import connection, transaction

from booking.models import OrgHandle, Profile

# Keeps these locks apart from any other advisory lock the database may hold.
_LOCK_SPACE = "booking.handle:"
# How long whether a handle is an organization's is kept (every public page asks it).
KIND_SECONDS = 60


class HandleTaken(ValueError):
    """Someone else, a person or an organization, has the handle."""


def handle_in_use(
    handle: str, *, user_id: UUID | None = None, organization_id: UUID | None = None
) -> bool:
    """Whether ``handle`` belongs to anyone but the person ``user_id`` or the organization
    ``organization_id`` (whichever is asking)."""
    people = Profile.objects.filter(handle=handle)
    if user_id is not None:
        people = people.exclude(user_id=user_id)
    organizations = OrgHandle.objects.filter(handle=handle)
    if organization_id is not None:
        organizations = organizations.exclude(organization_id=organization_id)
    return people.exists() or organizations.exists()


def handle_claim(
    handle: str, *, user_id: UUID | None = None, organization_id: UUID | None = None
) -> None:
    """Lock ``handle`` for the current transaction (which must be open), then raise
    ``HandleTaken`` when someone else has it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [_LOCK_SPACE + handle]
            )
    if handle_in_use(handle, user_id=user_id, organization_id=organization_id):
        raise HandleTaken(handle)


def organization_for_handle(handle: str) -> str:
    """The id of the organization whose handle ``handle`` is, or "" when none's: asked by every
    public page before it goes on to a person's, so the answer is kept ``KIND_SECONDS``
    (``handle_changed`` retires it when an organization takes or gives up a handle)."""
    key = _kind_key(handle)
    known = cache.get(key)
    if known is None:
        found = (
            OrgHandle.objects.filter(handle=handle)
            .values_list("organization_id", flat=True)
            .first()
        )
        known = str(found) if found else ""
        cache.set(key, known, KIND_SECONDS)
    return str(known)


def handle_changed(*handles: str) -> None:
    """``organization_for_handle`` asks again about these: at once, and once the current
    transaction commits (a read in between may have kept what was there before)."""
    keys = [_kind_key(handle) for handle in handles if handle]
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))


def _kind_key(handle: str) -> str:
    return f"booking:handle-organization:{handle}"
