"""The kinds of account Multical connects, by the names people know them by (English, marked for
the catalogues: pages show them in the reader's language, as ``Connection.kind_label``)."""

from __future__ import annotations

from integrations.choices import Choice, gettext_noop


class AccountKind(Choice):
    GOOGLE = "google", gettext_noop("Google Calendar")
    MICROSOFT = "microsoft", gettext_noop("Microsoft 365")
    ICLOUD = "icloud", gettext_noop("Apple iCloud")
    CALDAV = "caldav", gettext_noop("CalDAV server")
    ICS = "ics", gettext_noop("iCal link")
    # Not a calendar: the meeting provider booking pages create meetings with.
    ZOOM = "zoom", gettext_noop("Zoom")
