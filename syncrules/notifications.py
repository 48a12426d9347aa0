"""E-mails about syncs that their owner may turn off in Settings."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from accounts.languages import owner_language
from accounts.models import User
from accounts.selectors import wants_sync_alerts
from calendars.models import Calendar
from multical.lib.email import send_templated_email


def mass_deletion_notify(*, calendar: Calendar, removed: int) -> None:
    """Tell the owner that a confirming read removed the blocks of most of ``calendar``'s events
    (the sync history and the home page say it too; this is the e-mail they may turn off)."""
    user = calendar.connection.user
    if not wants_sync_alerts(user):
        return
    send_templated_email(
        to=user.email,
        template="syncrules/email/mass-deletion",
        context={
            "calendar": calendar,
            "removed": removed,
            "calendar_url": settings.SITE_URL
            + reverse("syncrules:calendar_detail", args=[calendar.id]),
            "preference": User._meta.get_field("notify_sync_alerts").verbose_name,
        },
        language=owner_language(user),
    )
