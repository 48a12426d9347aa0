"""What the accounts app tells the layers above it, which subscribe in their AppConfig.ready.

Sent synchronously, inside the sender's transaction: what a receiver writes commits or rolls
back with the change that caused it. The accounts app never imports its subscribers.
"""

from django.dispatch import Signal

# A person just proved they own their account's address: the sign-up link, an e-mail change's
# link, or a provider's sign-in that verified it. Sent once per proof, never for an address
# nobody proved. Arguments: user (the account, its ``email`` the address proved).
email_confirmed = Signal()
