"""The receivers of providers' notifications about the calendars and accounts connected here.

Each verifies what it receives before touching anything, then acts on our calendars: a change is
published as ``calendars.signals.calendar_changed`` for the layers above to act on (the sync
engine reads the calendar). The provider adapters in ``integrations`` know nothing of them.
"""
