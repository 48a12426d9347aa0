"""Google Calendar provider: API v3 reads and writes, push channels, the notification receiver."""
