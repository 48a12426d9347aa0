from __future__ import annotations

import uuid
import zoneinfo
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from multical.lib.vault import SealedTextField


def normalize_email(email: str) -> str:
    """One spelling per mailbox, so the same address cannot sign up twice in another case."""
    return email.strip().lower()


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email=normalize_email(username or ""))

    def create_user(self, email: str, password: str | None = None, **fields: object) -> User:
        user = self.model(email=normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: object) -> User:
        fields.update(is_staff=True, is_superuser=True, email_verified_at=timezone.now())
        return self.create_user(email, password, **fields)


TIME_ZONE_CHOICES = sorted(
    (name, name.replace("_", " ")) for name in zoneinfo.available_timezones()
)


class User(AbstractBaseUser, PermissionsMixin):
    # Random, so that ids in e-mailed links and URLs reveal nothing about other accounts.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField("e-mail address", max_length=254, unique=True)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    time_zone = models.CharField(max_length=64, choices=TIME_ZONE_CHOICES, default="UTC")
    # How the user reads calendars across the product: the day a week starts on, and the clock.
    week_start = models.PositiveSmallIntegerField(
        _("Weeks start on"),
        choices=[(1, _("Monday")), (0, _("Sunday")), (6, _("Saturday"))],
        default=1,
    )
    clock = models.PositiveSmallIntegerField(
        _("Clock"), choices=[(24, _("24-hour (14:30)")), (12, _("12-hour (2:30 pm)"))], default=24
    )
    # The language of the owner's pages and e-mails, one of settings.OWNER_LANGUAGES (the Settings
    # form offers them; no choices here, so that a new language needs no migration); blank follows
    # the browser (accounts.languages).
    language = models.CharField(_("Language"), max_length=16, blank=True, default="")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    # E-mails the user can switch off (the attendees of their bookings are always told).
    notify_reconnect_alerts = models.BooleanField(
        _("E-mail me when a calendar account needs reconnecting"), default=True
    )
    notify_booking_emails = models.BooleanField(
        _("E-mail me when a booking is made, moved or cancelled"), default=True
    )
    notify_sync_alerts = models.BooleanField(
        _("E-mail me when most of a calendar's events vanish and their blocks are removed"),
        default=True,
    )

    # Set when the owner asked for the account to be deleted: from then on it is inactive (no log-in,
    # no session) and a task removes what it wrote at the providers, then deletes it for good.
    deletion_requested_at = models.DateTimeField(null=True, blank=True)
    deletion_removes_blocks = models.BooleanField(default=True)
    # Part of every session's check (see ``_get_session_auth_hash``): a new value signs out every
    # session made before it, as a new password does. Changed when two-factor sign-in is turned
    # on and when the e-mail address changes.
    session_stamp = models.CharField(max_length=32, blank=True, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"

    class Meta:
        constraints = [
            # Stored lowercased, so the unique index also holds across letter case.
            models.CheckConstraint(
                condition=Q(email=Lower("email")), name="accounts_user_email_lowercase"
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        """A save of the whole row leaves ``session_stamp`` as it is in the database: it is
        written only by name (``update_fields``), so a form saved from a copy read before the
        stamp changed (requiring single sign-on, say) cannot bring back the sessions it ended."""
        if kwargs.get("update_fields") is None and not self._state.adding:
            left_out = {"session_stamp", *self.get_deferred_fields()}  # deferred: as Django does
            kwargs["update_fields"] = [
                field.attname
                for field in self._meta.concrete_fields
                if not field.primary_key and field.attname not in left_out
            ]
        super().save(*args, **kwargs)

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        # Django's own hash of the password alone while no stamp was set (so sessions made before
        # the stamp existed stay signed in), the password and the stamp once one is. Django calls
        # this for the current secret and for each of SECRET_KEY_FALLBACKS.
        if not self.session_stamp:
            salt, value = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash", ""
        else:
            salt, value = "accounts.User.session_auth_hash", f":{self.session_stamp}"
        return salted_hmac(
            salt, f"{self.password}{value}", secret=secret, algorithm="sha256"
        ).hexdigest()


class Consent(models.Model):
    """An append-only ledger: each grant or withdrawal is a row, so its time is never lost."""

    class Kind(models.TextChoices):
        TERMS = "terms", "Terms of Service"
        PRIVACY = "privacy", "Privacy Policy"
        MARKETING_EMAIL = "marketing_email", "Product news by e-mail"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="consents")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    granted = models.BooleanField()
    # The legal documents' version for terms and privacy; empty for marketing.
    document_version = models.CharField(max_length=32, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["user", "kind", "-recorded_at"], name="accounts_consent_latest")
        ]

    def __str__(self) -> str:
        verb = "granted" if self.granted else "withdrew"
        return f"{self.user_id} {verb} {self.kind} at {self.recorded_at:%Y-%m-%d %H:%M}"


class AuditLog(models.Model):
    """Who did what to their account, when and from where; metadata never holds secrets or content."""

    class Action(models.TextChoices):
        LOGIN = "login", _("Logged in")
        LOGIN_FAILED = "login_failed", _("Failed login")
        PASSWORD_CHANGED = "password_changed", _("Changed password")
        PASSWORD_RESET = "password_reset", _("Reset password by e-mailed link")
        CONNECTION_ADDED = "connection_added", _("Connected an account")
        CONNECTION_UPDATED = "connection_updated", _("Updated an account's credentials")
        CONNECTION_DISCONNECTED = "connection_disconnected", _("Disconnected an account")
        CONNECTION_REMOVED = "connection_removed", _("Removed an account")
        DATA_EXPORTED = "data_exported", _("Downloaded a copy of the account's data")
        DELETION_REQUESTED = "deletion_requested", _("Asked for the account to be deleted")
        TWO_FACTOR_ENABLED = "two_factor_enabled", _("Turned on two-factor sign-in")
        TWO_FACTOR_DISABLED = "two_factor_disabled", _("Turned off two-factor sign-in")
        TWO_FACTOR_FAILED = "two_factor_failed", _("Entered a wrong two-factor code")
        RECOVERY_CODE_USED = "recovery_code_used", _("Signed in with a recovery code")
        RECOVERY_CODES_RENEWED = "recovery_codes_renewed", _("Made new recovery codes")
        EMAIL_CHANGE_REQUESTED = "email_change_requested", _("Asked to change the e-mail address")
        EMAIL_CHANGED = "email_changed", _("Changed the e-mail address")
        API_KEY_CREATED = "api_key_created", _("Created an API key")
        API_KEY_NEW_ADDRESS = "api_key_new_address", _("Used an API key from a new address")
        API_KEY_REVOKED = "api_key_revoked", _("Revoked an API key")
        WEBHOOK_CREATED = "webhook_created", _("Added a webhook")
        WEBHOOK_SECRET_ROTATED = "webhook_secret_rotated", _("Made a new webhook signing secret")
        WEBHOOK_DELETED = "webhook_deleted", _("Deleted a webhook")
        DUPLICATE_SUBSCRIPTION_CANCELLED = (
            "duplicate_subscription_cancelled",
            _("A second Pro subscription was cancelled and refunded"),
        )

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="audit_log")
    action = models.CharField(max_length=32, choices=Action.choices)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="accounts_auditlog_user")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.action} at {self.created_at:%Y-%m-%d %H:%M}"


class TwoFactor(models.Model):
    """A user's authenticator (TOTP, RFC 6238): on once ``enabled_at`` is set, being set up before.

    The shared secret is sealed by the vault under ``context_for(self, "secret")`` and opened only
    to check a code (and, while setting up, to show it). ``last_used_step`` is the 30-second step
    of the last code accepted: a code is accepted only for a later step, so none works twice.
    """

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, primary_key=True, related_name="two_factor"
    )
    secret = SealedTextField()
    enabled_at = models.DateTimeField(null=True, blank=True)
    last_used_step = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user_id}: {'on' if self.enabled_at else 'being set up'}"


class RecoveryCode(models.Model):
    """One of the single-use codes that sign in when the authenticator is lost; only its hash is
    kept (see ``accounts.two_factor.recovery_code_hash``)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "code_hash"], name="accounts_recoverycode_unique_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {'used' if self.used_at else 'unused'}"


class Subscription(models.Model):
    """The user's Stripe customer and their Pro subscription, as last read from Stripe.

    No row, or a subscription that is not live, is the Free plan. Card details never reach us:
    Checkout and the Customer Portal are Stripe's own pages.
    """

    class Status(models.TextChoices):
        # Stripe's subscription statuses.
        INCOMPLETE = "incomplete", "Waiting for the first payment"
        INCOMPLETE_EXPIRED = "incomplete_expired", "First payment never made"
        TRIALING = "trialing", "Trial"
        ACTIVE = "active", "Active"
        PAST_DUE = "past_due", "Payment failed, retrying"
        CANCELED = "canceled", "Ended"
        UNPAID = "unpaid", "Ended unpaid"
        PAUSED = "paused", "Paused"

    # Pro while Stripe keeps the subscription going: past due included, since Stripe retries the
    # payment for a while and only then cancels it (or marks it unpaid), which ends Pro.
    LIVE_STATUSES = frozenset({Status.TRIALING, Status.ACTIVE, Status.PAST_DUE})

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, primary_key=True, related_name="subscription"
    )
    stripe_customer_id = models.CharField(max_length=255)
    stripe_subscription_id = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=24, choices=Status.choices, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    # When a renewal payment failed, until one succeeds: a notice, and one e-mail per failed streak.
    payment_failed_at = models.DateTimeField(null=True, blank=True)
    # When the last Pro subscription ended.
    ended_at = models.DateTimeField(null=True, blank=True)
    # The Checkout session last opened for the customer and when Stripe closes it: while it is
    # open, starting Checkout again returns it rather than open a second one that could be paid.
    checkout_session_id = models.CharField(max_length=255, blank=True)
    checkout_expires_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stripe_customer_id"], name="accounts_subscription_unique_customer"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.status or 'no subscription'}"

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE_STATUSES


class StripeEvent(models.Model):
    """A Stripe webhook event that was processed: the same id delivered again changes nothing."""

    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event_id"], name="accounts_stripeevent_unique_id"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} ({self.type})"
