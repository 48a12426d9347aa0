"""Booking's writes, by who asks for them: ``bookings`` (bookings made, moved and cancelled, by
attendees and owners alike), ``pages`` (the owner's pages and profile) and ``follow_up`` (the work
a task does once a booking changed: the calendar event, the Zoom meeting, the e-mails)."""
