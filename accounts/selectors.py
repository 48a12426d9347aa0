"""Reads for accounts."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode

from accounts.models import AuditLog, User, normalize_email
from accounts.tokens import email_verification_token


def consent_granted(*, user: User, kind: str) -> bool:
    """The user's current answer: the latest row of the ledger, or no consent at all."""
    latest = user.consents.filter(kind=kind).order_by("-recorded_at", "-pk").first()
    return bool(latest and latest.granted)


def user_exists(*, email: str) -> bool:
    """Whether any account, active or not, uses the address."""
    return User.objects.filter(email=normalize_email(email)).exists()


def user_from_verification_link(*, uidb64: str, token: str, used: bool = False) -> User | None:
    """The account a sign-up link verifies, while it is valid; with ``used``, the account whose
    genuine link it was once it has verified the address (to say so when it is opened again)."""
    try:
        user = User.objects.get(pk=force_str(urlsafe_base64_decode(uidb64)))
    except (ValueError, TypeError, OverflowError, ValidationError, User.DoesNotExist):
        return None
    if used:
        return user if email_verification_token.was_used(user, token) else None
    return user if email_verification_token.check_token(user, token) else None


def wants_reconnect_alerts(user: User) -> bool:
    """Whether to e-mail the user that a connection needs reconnecting."""
    return user.notify_reconnect_alerts and user.deletion_requested_at is None


def wants_sync_alerts(user: User) -> bool:
    """Whether to e-mail the user that a sync removed the blocks of most of a calendar's events."""
    return user.notify_sync_alerts and user.deletion_requested_at is None


def wants_booking_emails(user: User) -> bool:
    """Whether to e-mail the owner of a booking page about its bookings (never the attendee's)."""
    return user.notify_booking_emails and user.deletion_requested_at is None


def audit_log_for_user(user: User) -> QuerySet[AuditLog]:
    """The user's own audit entries, newest first."""
    return AuditLog.objects.filter(user=user).order_by("-created_at", "-pk")
