"""What the console shows of each member: states and counts, never calendar content or names."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q

from booking.models import BookingPage
from calendars.models import Connection
from orgs.models import Membership
from syncrules.models import SyncRule


@dataclass(frozen=True)
class MemberState:
    membership: Membership
    connections: int
    needing_reconnect: int
    rules: int
    pages: int
    last_active: datetime | None

    @property
    def healthy(self) -> bool:
        return self.needing_reconnect == 0


def member_states(members: Iterable[Membership]) -> list[MemberState]:
    """Each member's connections (held, and how many need reconnecting), sync rules, booking
    pages and last sign-in: three grouped queries for the whole list."""
    members = list(members)
    ids = [member.user_id for member in members]
    connections = {
        row["user_id"]: row
        for row in Connection.objects.held()
        .filter(user_id__in=ids)
        .values("user_id")
        .annotate(
            total=Count("id"),
            broken=Count("id", filter=Q(status=Connection.Status.NEEDS_RECONNECT)),
        )
    }
    rules = dict(
        SyncRule.objects.filter(user_id__in=ids)
        .values("user_id")
        .annotate(total=Count("id"))
        .values_list("user_id", "total")
    )
    pages = dict(
        BookingPage.objects.filter(owner_id__in=ids)
        .values("owner_id")
        .annotate(total=Count("id"))
        .values_list("owner_id", "total")
    )
    return [
        MemberState(
            membership=member,
            connections=connections.get(member.user_id, {}).get("total", 0),
            needing_reconnect=connections.get(member.user_id, {}).get("broken", 0),
            rules=rules.get(member.user_id, 0),
            pages=pages.get(member.user_id, 0),
            last_active=member.user.last_login,
        )
        for member in members
    ]
