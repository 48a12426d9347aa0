"""Booking's reads, by who reads: ``owner`` (the owner's pages, bookings and calendars) and
``public`` (attendees: a profile, a page by its address, a booking by its link)."""
