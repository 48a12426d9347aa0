"""What the account's owner asks of its life as a whole."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from lifecycle import deletion, tasks


@transaction.atomic
def account_deletion_request(*, user: User, remove_blocks: bool, ip_address: str | None) -> None:
    """Close the account at once and queue its deletion (``remove_blocks``: take the blocks
    Multical wrote out of the user's calendars). Asking twice keeps the first answer; a lost task
    is queued again by ``tasks.resume_stalled_deletions``."""
    user_id = deletion.account_close(user=user, remove_blocks=remove_blocks, ip_address=ip_address)
    transaction.on_commit(lambda: tasks.delete_account.delay(user_id))
