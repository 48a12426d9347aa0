"""iCal links: a read-only calendar fetched from a feed URL (Google, Outlook, iCloud exports)."""
