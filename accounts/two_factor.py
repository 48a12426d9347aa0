"""Two-factor sign-in: an authenticator app's time-based codes (TOTP, RFC 6238) and recovery codes.

pyotp computes the codes; everything kept is ours and small: the shared secret sealed by the vault
(``TwoFactor.secret``), the last 30-second step a code was accepted for (so a code works once,
even within its own step), and the SHA-256 of each recovery code. A recovery code carries 60
random bits, so a fast hash is enough: nobody can try 2^59 guesses against a hash, and the sign-in
itself is rate-limited. Nothing here logs a secret or a code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
import segno
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.views.decorators.debug import sensitive_variables

from accounts.models import AuditLog, RecoveryCode, TwoFactor, User
from accounts.services import audit_log_record
from multical.lib import vault

ISSUER = "Multical"
STEP_SECONDS = 30
# A code of the step before or after the current one is accepted too: phone clocks drift.
DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
# No 0/O, 1/I/L: the codes are read off paper. 31 symbols, 12 of them: about 60 bits.
_RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
_RECOVERY_LENGTH = 12


def enabled_for(user: User) -> bool:
    """Whether signing in as ``user`` asks for a second step."""
    return TwoFactor.objects.filter(user=user, enabled_at__isnull=False).exists()


def _secret_context(device: TwoFactor) -> str:
    return vault.context_for(device, "secret")


@sensitive_variables()
def _secret(device: TwoFactor) -> str:
    return vault.unseal(device.secret, context=_secret_context(device))


# Setting up ---------------------------------------------------------------------------------------


@sensitive_variables()
def setup_begin(*, user: User) -> TwoFactor:
    """The authenticator being set up: the pending one, or a new one with a fresh secret.

    Raises ``ValueError`` when two-factor sign-in is on already.
    """
    device = TwoFactor.objects.filter(user=user).first()
    if device is not None and device.enabled_at is not None:
        raise ValueError("Two-factor sign-in is on already.")
    if device is None:
        device = TwoFactor(user=user)
        device.secret = vault.seal(pyotp.random_base32(), context=_secret_context(device))
        device.save(force_insert=True)
    else:
        device.secret = vault.seal(pyotp.random_base32(), context=_secret_context(device))
        device.last_used_step = None
        device.save(update_fields=["secret", "last_used_step"])
    return device


def pending_setup(*, user: User) -> TwoFactor | None:
    """The authenticator ``user`` is setting up (its ``user`` is this very instance), if any."""
    device = TwoFactor.objects.filter(user=user, enabled_at__isnull=True).first()
    if device is not None:
        device.user = user
    return device


@sensitive_variables()
def setup_details(device: TwoFactor) -> tuple[str, str]:
    """The secret in groups of four (to type it in) and the QR code as inline SVG (to scan it)."""
    secret = _secret(device)
    uri = pyotp.TOTP(secret).provisioning_uri(name=device.user.email, issuer_name=ISSUER)
    svg = segno.make(uri, error="m").svg_inline(scale=5, border=2, dark="#1f2430", light="#ffffff")
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return grouped, svg


@transaction.atomic
def enable(*, device: TwoFactor, code: str, ip_address: str | None) -> list[str] | None:
    """Turn two-factor sign-in on once ``code`` proves the app holds the secret.

    Returns the new recovery codes (shown once, kept only hashed), or None for a wrong code
    (audited). Every other session of the user is signed out: a session made with the password
    alone must not outlive the second factor. The caller keeps the current one.
    """
    user = device.user
    if not verify_code(device=device, code=code):
        _audit(user, AuditLog.Action.TWO_FACTOR_FAILED, ip_address, stage="setup")
        return None
    device.enabled_at = timezone.now()
    device.save(update_fields=["enabled_at"])
    codes = _recovery_codes_replace(user=user)
    user.session_stamp = get_random_string(32)
    user.save(update_fields=["session_stamp"])
    _audit(user, AuditLog.Action.TWO_FACTOR_ENABLED, ip_address)
    return codes


@transaction.atomic
def disable(*, user: User, ip_address: str | None) -> None:
    """Turn two-factor sign-in off: the secret and every recovery code are deleted."""
    TwoFactor.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    _audit(user, AuditLog.Action.TWO_FACTOR_DISABLED, ip_address)


@transaction.atomic
def recovery_codes_renew(*, user: User, ip_address: str | None) -> list[str]:
    """New recovery codes for the old ones (all of which stop working)."""
    codes = _recovery_codes_replace(user=user)
    _audit(user, AuditLog.Action.RECOVERY_CODES_RENEWED, ip_address)
    return codes


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


# Checking codes -----------------------------------------------------------------------------------


def _normalize(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def looks_like_totp(code: str) -> bool:
    code = _normalize(code)
    return len(code) == 6 and code.isdigit()


@sensitive_variables()
def verify_code(*, device: TwoFactor, code: str, now: float | None = None) -> bool:
    """Whether ``code`` is the app's code for now (give or take a step) and no code was accepted
    for that step or a later one before. Accepting it records its step, in one conditional
    UPDATE, so two requests racing with the same code cannot both win."""
    code = _normalize(code)
    if not looks_like_totp(code):
        return False
    totp = pyotp.TOTP(_secret(device))
    current = int((time.time() if now is None else now) // STEP_SECONDS)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            won = (
                TwoFactor.objects.filter(pk=device.pk)
                .filter(Q(last_used_step__isnull=True) | Q(last_used_step__lt=step))
                .update(last_used_step=step)
            )
            if won:
                device.last_used_step = step
            return bool(won)
    return False


def recovery_code_hash(user: User, code: str) -> str:
    return hashlib.sha256(f"{user.pk}:{_normalize(code)}".encode()).hexdigest()


@sensitive_variables()
def use_recovery_code(*, user: User, code: str, ip_address: str | None) -> bool:
    """Spend one of the user's unused recovery codes (audited); False if ``code`` is none."""
    normalized = _normalize(code)
    if len(normalized) != _RECOVERY_LENGTH:
        return False
    spent = RecoveryCode.objects.filter(
        user=user, code_hash=recovery_code_hash(user, normalized), used_at__isnull=True
    ).update(used_at=timezone.now())
    if spent:
        _audit(
            user,
            AuditLog.Action.RECOVERY_CODE_USED,
            ip_address,
            codes_left=recovery_codes_left(user),
        )
    return bool(spent)


def check_second_factor(*, user: User, code: str, ip_address: str | None, stage: str) -> str | None:
    """Check an authenticator code or a recovery code for ``user``: how it was proven ("totp" or
    "recovery_code"), or None, audited as a failed code with the ``stage`` it was asked at."""
    device = TwoFactor.objects.filter(user=user, enabled_at__isnull=False).first()
    if device is not None:
        if looks_like_totp(code):
            if verify_code(device=device, code=code):
                return "totp"
        elif use_recovery_code(user=user, code=code, ip_address=ip_address):
            return "recovery_code"
    _audit(user, AuditLog.Action.TWO_FACTOR_FAILED, ip_address, stage=stage)
    return None


def _recovery_codes_replace(*, user: User) -> list[str]:
    codes = [
        "-".join("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(4)) for _ in range(3))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create(
        [RecoveryCode(user=user, code_hash=recovery_code_hash(user, code)) for code in codes]
    )
    return codes


def _audit(user: User, action: str, ip_address: str | None, **metadata: object) -> None:
    audit_log_record(user=user, action=action, ip_address=ip_address, **metadata)
