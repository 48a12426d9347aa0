"""Writes for accounts. Views call these; they hold the rules that views and forms must not."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import get_random_string
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.languages import owner_language
from accounts.models import AuditLog, Consent, User, normalize_email
from accounts.selectors import consent_granted, user_exists
from accounts.signals import email_confirmed
from accounts.tokens import email_change_token, email_verification_token
from multical.lib.email import send_templated_email


@transaction.atomic
def user_register(*, email: str, password: str, time_zone: str, marketing_email: bool) -> User:
    """Create an unverified account that has accepted the legal documents, and e-mail the link."""
    user = User.objects.create_user(email, password, time_zone=time_zone)
    _consent_record_sign_up(user=user, marketing_email=marketing_email)
    transaction.on_commit(lambda: user_send_verification_email(user=user))
    return user


def _consent_record_sign_up(*, user: User, marketing_email: bool) -> None:
    """A new account's answers: Terms and Privacy accepted in their current version, and news."""
    version = settings.LEGAL_DOCUMENTS_VERSION
    Consent.objects.bulk_create(
        [
            Consent(user=user, kind=Consent.Kind.TERMS, granted=True, document_version=version),
            Consent(user=user, kind=Consent.Kind.PRIVACY, granted=True, document_version=version),
            Consent(user=user, kind=Consent.Kind.MARKETING_EMAIL, granted=marketing_email),
        ]
    )


def user_send_verification_email(*, user: User) -> None:
    if user.email_verified:
        return
    path = reverse(
        "accounts:verify_email",
        args=[
            urlsafe_base64_encode(force_bytes(user.pk)),
            email_verification_token.make_token(user),
        ],
    )
    send_templated_email(
        to=user.email,
        template="accounts/email/verify-email",
        context={"user": user, "verify_url": settings.SITE_URL + path},
        language=owner_language(user, browser=translation.get_language()),
    )


def user_verify_email(*, user: User) -> bool:
    """Mark the address verified; True only for the one call that did (two uses of one link at
    the same moment: one of them wins)."""
    if user.email_verified:
        return False
    now = timezone.now()
    with transaction.atomic():
        won = User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(
            email_verified_at=now
        )
        if won:
            user.email_verified_at = now
            email_confirmed.send(sender=User, user=user)
    return bool(won)


class EmailTaken(Exception):
    """Another account uses the address by now."""


def user_email_change_request(*, user: User, new_email: str, ip_address: str | None) -> None:
    """E-mail a link to ``new_email``; the address changes only when it is opened
    (``user_email_change_confirm``). The account keeps its address meanwhile."""
    new_email = normalize_email(new_email)
    path = reverse("accounts:email_change_confirm", args=[email_change_token(user, new_email)])
    audit_log_record(
        user=user,
        action=AuditLog.Action.EMAIL_CHANGE_REQUESTED,
        ip_address=ip_address,
        new_email=new_email,
    )
    language = owner_language(user, browser=translation.get_language())
    transaction.on_commit(
        lambda: send_templated_email(
            to=new_email,
            template="accounts/email/email-change",
            context={"user": user, "new_email": new_email, "confirm_url": settings.SITE_URL + path},
            language=language,
        )
    )


def user_email_change_confirm(*, user: User, new_email: str, ip_address: str | None) -> None:
    """Give the account the address its owner just proved; raise ``EmailTaken`` if another account
    has it by now (the unique index decides a race between two claims).

    Every session of the account is signed out (the caller keeps the current one if it is the
    owner's), and the old address is told, with no link in the notice: a link that undoes the
    change would be one more thing to steal, so whoever did not make the change is told to reset
    their password and contact the operator.
    """
    old_email = user.email
    user.email = normalize_email(new_email)
    user.email_verified_at = timezone.now()
    user.session_stamp = get_random_string(32)
    try:
        with transaction.atomic():
            user.save(update_fields=["email", "email_verified_at", "session_stamp"])
            audit_log_record(
                user=user,
                action=AuditLog.Action.EMAIL_CHANGED,
                ip_address=ip_address,
                old_email=old_email,
                new_email=user.email,
            )
            email_confirmed.send(sender=User, user=user)
    except IntegrityError:
        user.refresh_from_db()
        raise EmailTaken(new_email) from None
    changed_at = user.email_verified_at
    language = owner_language(user, browser=translation.get_language())
    transaction.on_commit(
        lambda: send_templated_email(
            to=old_email,
            template="accounts/email/email-changed",
            context={
                "old_email": old_email,
                "new_email": user.email,
                "changed_at": changed_at,
                "operator_contact": settings.OPERATOR_CONTACT,
            },
            language=language,
        )
    )


def user_update_profile(
    *,
    user: User,
    time_zone: str,
    marketing_email: bool,
    week_start: int | None = None,
    clock: int | None = None,
    language: str | None = None,
) -> None:
    """Save the user's zone (and, when given, the day weeks start on, the clock and the language,
    blank for the browser's)."""
    user.time_zone = time_zone
    if week_start is not None:
        user.week_start = week_start
    if clock is not None:
        user.clock = clock
    if language is not None:
        user.language = language
    user.save(update_fields=["time_zone", "week_start", "clock", "language"])
    if consent_granted(user=user, kind=Consent.Kind.MARKETING_EMAIL) != marketing_email:
        Consent.objects.create(
            user=user, kind=Consent.Kind.MARKETING_EMAIL, granted=marketing_email
        )


def user_update_notifications(
    *, user: User, reconnect_alerts: bool, booking_emails: bool, sync_alerts: bool
) -> None:
    user.notify_reconnect_alerts = reconnect_alerts
    user.notify_booking_emails = booking_emails
    user.notify_sync_alerts = sync_alerts
    user.save(
        update_fields=["notify_reconnect_alerts", "notify_booking_emails", "notify_sync_alerts"]
    )


def audit_log_record(
    *, user: User, action: str, ip_address: str | None, **metadata: object
) -> AuditLog:
    """Append to the user's audit log. Metadata names things (ids, providers); never secrets or content."""
    return AuditLog.objects.create(
        user=user, action=action, ip_address=ip_address, metadata=metadata
    )


def user_sign_in_with_provider(*, email: str, email_verified: bool) -> User | None:
    """The active account a provider's sign-in opens, or None: only for an address it verified.

    No account is created here: Terms and Privacy consent cannot be implied by a provider sign-in
    (``user_register_with_provider`` creates one once its owner has accepted them).
    An account never verified in Multical becomes verified, since the provider proved the address;
    its password is made unusable, because whoever chose it never proved they own the address (a
    pre-registered account must not stay open to its registrant once the owner signs in).
    """
    if not email_verified:
        return None
    user = User.objects.filter(email=normalize_email(email)).first()
    if user is None or not user.is_active:
        return None
    if not user.email_verified:
        user.email_verified_at = timezone.now()
        user.set_unusable_password()
        with transaction.atomic():
            user.save(update_fields=["email_verified_at", "password"])
            email_confirmed.send(sender=User, user=user)
    return user


def user_register_with_provider(
    *, email: str, time_zone: str, marketing_email: bool
) -> User | None:
    """The account an address a provider verified opens once its owner accepted the legal documents.

    A new account has no usable password (the provider is how its owner signs in), its address is
    verified (the provider proved it) and its consent is recorded exactly as ``user_register``
    records it. If an account with the address exists by now (a second tab, a password sign-up
    meanwhile), it is opened the way ``user_sign_in_with_provider`` opens one, without recording
    consent for it; None when that account is disabled.
    """
    email = normalize_email(email)
    if not user_exists(email=email):
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    email, None, time_zone=time_zone, email_verified_at=timezone.now()
                )
                _consent_record_sign_up(user=user, marketing_email=marketing_email)
                email_confirmed.send(sender=User, user=user)
            return user
        except IntegrityError:
            pass  # created by another request between the check and the insert
    return user_sign_in_with_provider(email=email, email_verified=True)


def audit_log_login_failed(*, email: str, ip_address: str | None, reason: str) -> None:
    """Note a refused password log-in in the log of the account it named, if there is one.

    ``reason`` is the form's error code (``invalid_login``, ``unverified``, ``inactive``); the
    attempted password is never recorded.
    """
    user = User.objects.filter(email=normalize_email(email)).first()
    if user is not None:
        audit_log_record(
            user=user, action=AuditLog.Action.LOGIN_FAILED, ip_address=ip_address, reason=reason
        )
