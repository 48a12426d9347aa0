"""The kinds of account Multical connects, by the names people know them by."""

from __future__ import annotations

from integrations.choices import Choice


class AccountKind(Choice):
    GOOGLE = "google", "Google Calendar"
    MICROSOFT = "microsoft", "Microsoft 365"
    ICLOUD = "icloud", "Apple iCloud"
    CALDAV = "caldav", "CalDAV server"
    ICS = "ics", "iCal link"
    # Not a calendar: the meeting provider booking pages create meetings with.
    ZOOM = "zoom", "Zoom"
