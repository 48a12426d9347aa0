"""CalDAV provider: Apple iCloud and any CalDAV server."""
