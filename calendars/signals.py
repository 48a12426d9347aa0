"""What the calendars app tells the layers above it, which subscribe in their AppConfig.ready.

Signals are sent synchronously, inside the sender's transaction: a receiver that records intent
(the sync engine's sync request rows) commits or rolls back with the change that caused it, and
one that starts work after the commit uses ``transaction.on_commit``. The calendars app never
imports its subscribers.
"""

from django.dispatch import Signal

# A calendar changed at its provider (a push notification, a missed one): read it.
# Arguments: calendar_id (str), full (bool: read everything, not just the changes).
calendar_changed = Signal()

# A connection works again with new credentials (connected again, reauthorized): whatever reads
# from or writes into its calendars is read in full. Argument: connection_id (str).
connection_restored = Signal()

# A connection was disconnected or is being removed (its status saved): its blocks and what it
# holds are to be released once the transaction commits. Argument: connection_id (str).
connection_released = Signal()
