"""The Free plan's limit on calendar accounts, as billing asks (``accounts.billing.plans``): each
connected account counts, whatever calendars it holds; Zoom is not a calendar, and a disconnected
account or one being removed does not count. The end of Pro disconnects nothing."""

from __future__ import annotations

from accounts.billing.plans import Limited
from accounts.models import User
from calendars.models import Connection


def count(user: User) -> int:
    return Connection.objects.held().filter(user=user).exclude(kind=Connection.Kind.ZOOM).count()


LIMITED = Limited(count=count)
