"""What the console shows of each member: states and counts, never calendar content or names."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, Q

from booking.models import BookingPage
from calendars.models import Calendar, Connection
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
    pages and last activity: four grouped queries for the whole list.

    Last activity is the later of the member's last sign-in (``last_login``, written by every
    sign-in, at the instant their organizations' logs get "Signed in") and the last time one of
    their connected calendars was read (``Calendar.last_synced_at``): someone who stays signed in
    for weeks, or whose calendars sync unattended, is still using Multical. Both are columns
    already kept; the organization's log is not searched for it.
    """
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
    synced = dict(
        Calendar.objects.filter(connection__user_id__in=ids)
        .exclude(connection__status__in=Connection.RELEASED)
        .values("connection__user_id")
        .annotate(latest=Max("last_synced_at"))
        .values_list("connection__user_id", "latest")
    )
    return [
        MemberState(
            membership=member,
            connections=connections.get(member.user_id, {}).get("total", 0),
            needing_reconnect=connections.get(member.user_id, {}).get("broken", 0),
            rules=rules.get(member.user_id, 0),
            pages=pages.get(member.user_id, 0),
            last_active=_latest(member.user.last_login, synced.get(member.user_id)),
        )
        for member in members
    ]


def _latest(*times: datetime | None) -> datetime | None:
    return max((time for time in times if time is not None), default=None)
