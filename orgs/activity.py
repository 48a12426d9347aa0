"""What members do with their own accounts, in the log of every organization they belong to.

Each account keeps its own audit log (``accounts.AuditLog``): every sign-in by any door, every
calendar account connected, reconnected, disconnected or removed, every data export is written
there by the code that does it. The organization's log takes its lines from there rather than from
hooks in each of those places: accounts and calendars sit below ``orgs`` and cannot call it, and a
new door or a new way to connect that audits itself is in the organization's log without more
work. A receiver of the audit row's ``post_save`` maps the action and writes one line per
membership, in the same transaction (one read of the member's organizations, one insert).

Only what an admin may see goes across: the action, when, from which address, and for a
connection its kind (``google``, ``icloud``…) or for a sign-in its door (``password``,
``google``…): never a calendar's name, an account's address, or anything in a calendar. Zoom is
not a calendar account and is left out.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils.translation import gettext, gettext_lazy

from accounts.models import AuditLog
from integrations.kinds import AccountKind
from orgs.models import Membership, OrgEvent

# The account's actions the organization sees, as the organization's log names them.
ACTIONS: dict[str, OrgEvent.Action] = {
    AuditLog.Action.LOGIN: OrgEvent.Action.SIGNED_IN,
    AuditLog.Action.CONNECTION_ADDED: OrgEvent.Action.CONNECTED,
    # New credentials for an account: connected again (one that was disconnected comes back).
    AuditLog.Action.CONNECTION_UPDATED: OrgEvent.Action.CONNECTED,
    AuditLog.Action.CONNECTION_DISCONNECTED: OrgEvent.Action.DISCONNECTED,
    AuditLog.Action.CONNECTION_REMOVED: OrgEvent.Action.DISCONNECTED,
    AuditLog.Action.DATA_EXPORTED: OrgEvent.Action.EXPORTED,
}
# What the organization's log says was exported (``subject``): a member's own data, or the log.
EXPORTED_ACCOUNT = "account"
EXPORTED_LOG = "organization log"
# Kinds of connection that are not calendar accounts.
_NOT_CALENDARS = frozenset({"zoom"})
# How the log page words a sign-in's door and what was exported (stored as these keys).
_DOORS = {
    "password": gettext_lazy("with a password"),
    "email_link": gettext_lazy("with the link e-mailed to confirm the address"),
    "google": gettext_lazy("with Google"),
    "microsoft": gettext_lazy("with Microsoft"),
    "sso": gettext_lazy("with the organization's single sign-on"),
}
_EXPORTS = {
    EXPORTED_ACCOUNT: gettext_lazy("their own account's data"),
    EXPORTED_LOG: gettext_lazy("this activity log"),
}


def subject_of(entry: AuditLog) -> str | None:
    """The organization log's ``subject`` for ``entry``: the door of a sign-in, the kind of a
    connection, what was exported; None when the organization does not see it at all."""
    metadata = entry.metadata if isinstance(entry.metadata, dict) else {}
    if entry.action == AuditLog.Action.LOGIN:
        return str(metadata.get("method") or metadata.get("provider") or "")[:32]
    if entry.action == AuditLog.Action.DATA_EXPORTED:
        return EXPORTED_ACCOUNT
    kind = str(metadata.get("provider", ""))[:32]
    return None if kind in _NOT_CALENDARS else kind


def subject_label(event: OrgEvent) -> str:
    """``event.subject`` as the log page shows it: the words for a door, an account's kind or an
    export, in the reader's language; anything else (an address, a name) as it was written."""
    subject = event.subject
    if event.action == OrgEvent.Action.SIGNED_IN and subject in _DOORS:
        return str(_DOORS[subject])
    if event.action == OrgEvent.Action.EXPORTED and subject in _EXPORTS:
        return str(_EXPORTS[subject])
    kinds = {kind.value for kind in AccountKind}
    if (
        event.action in (OrgEvent.Action.CONNECTED, OrgEvent.Action.DISCONNECTED)
        and subject in kinds
    ):
        return gettext(AccountKind(subject).label)
    return subject


def member_activity_record(entry: AuditLog) -> int:
    """Write ``entry`` into the log of each organization its account belongs to, if the
    organization sees that action; how many lines were written."""
    action = ACTIONS.get(entry.action)
    subject = subject_of(entry) if action is not None else None
    if action is None or subject is None:
        return 0
    organizations = list(
        Membership.objects.filter(user_id=entry.user_id).values_list("organization_id", flat=True)
    )
    OrgEvent.objects.bulk_create(
        [
            OrgEvent(
                organization_id=organization_id,
                actor_id=entry.user_id,
                action=action,
                subject=subject,
                ip_address=entry.ip_address,
                created_at=entry.created_at,
            )
            for organization_id in organizations
        ]
    )
    return len(organizations)


@receiver(post_save, sender=AuditLog, dispatch_uid="orgs.activity.audit_entry_saved")
def _audit_entry_saved(sender: Any, *, instance: AuditLog, created: bool, **kwargs: Any) -> None:
    if created and not kwargs.get("raw"):
        member_activity_record(instance)
