from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import signing
from django.core.exceptions import ValidationError
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts.models import User


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    """Signed links that die once the address is verified or changed, once the password changes,
    or after a day (``PASSWORD_RESET_TIMEOUT``)."""

    key_salt = "accounts.tokens.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        return f"{user.pk}{user.email}{user.password}{user.email_verified_at}{timestamp}"

    def was_used(self, user: User, token: str) -> bool:
        """Whether ``token`` is a genuine link of ``user``'s that died because it verified the
        address: it checks out against the account as it was before (unverified), and nothing
        else about it changed since (address, password)."""
        if not user.email_verified:
            return False
        verified_at, user.email_verified_at = user.email_verified_at, None
        try:
            # Expired or not: a spent link is "used", whenever it is opened again.
            timestamp = self._timestamp(token)
            return timestamp is not None and constant_time_compare(
                self._make_token_with_timestamp(user, timestamp, self.secret), token
            )
        finally:
            user.email_verified_at = verified_at

    def _timestamp(self, token: str) -> int | None:
        try:
            ts_b36 = token.split("-")[0]
            return int(ts_b36, 36) if ts_b36 and len(ts_b36) <= 13 else None
        except ValueError:
            return None


email_verification_token = EmailVerificationTokenGenerator()


# Changing the e-mail address -----------------------------------------------------------------------

_EMAIL_CHANGE_SALT = "accounts.tokens.email_change"


def _account_state(user: User) -> str:
    """What a change link is bound to: the address it replaces and the password. Once the address
    changed (the link was used) or the password did, the link no longer opens."""
    return salted_hmac(
        _EMAIL_CHANGE_SALT, f"{user.pk}:{user.email}:{user.password}", algorithm="sha256"
    ).hexdigest()


def email_change_token(user: User, new_email: str) -> str:
    """A signed, timed token for the link sent to ``new_email``."""
    return signing.dumps(
        {"user": str(user.pk), "email": new_email, "state": _account_state(user)},
        salt=_EMAIL_CHANGE_SALT,
    )


def email_change_from_token(token: str) -> tuple[User, str] | None:
    """The account and new address a change link names, while it is valid; else None."""
    try:
        payload = signing.loads(
            token, salt=_EMAIL_CHANGE_SALT, max_age=settings.PASSWORD_RESET_TIMEOUT
        )
        user = User.objects.get(pk=payload["user"], is_active=True)
    except (signing.BadSignature, KeyError, TypeError, ValueError, ValidationError):
        return None
    except User.DoesNotExist:
        return None
    if not isinstance(payload.get("email"), str) or not constant_time_compare(
        str(payload.get("state", "")), _account_state(user)
    ):
        return None
    return user, payload["email"]
