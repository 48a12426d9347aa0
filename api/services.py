"""API keys made, used and revoked."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import constant_time_compare, get_random_string, salted_hmac

from accounts.models import AuditLog, User
from accounts.services import audit_log_record
from api.models import ApiKey
from api.scopes import Scope

TOKEN_PREFIX = "mck_"  # noqa: S105 (what every key starts with, not a secret)
_PREFIX_LENGTH = 12
# 32 characters of 62: some 190 random bits.
_SECRET_LENGTH = 32
_DIGEST_SALT = "api.keys.digest"
_ADDRESS_SALT = "api.keys.address"
# How many addresses a key remembers; older ones are forgotten (and audited again if they return).
_ADDRESSES_KEPT = 50
# How stale ``last_used_at`` may be: a key used all day is written once a minute, not per request.
_LAST_USED_GRAIN = timedelta(minutes=1)


def _digest(token: str) -> str:
    return salted_hmac(_DIGEST_SALT, token, algorithm="sha256").hexdigest()


def _address_fingerprint(address: str) -> str:
    return salted_hmac(_ADDRESS_SALT, address, algorithm="sha256").hexdigest()[:32]


def api_key_create(
    *,
    user: User,
    name: str,
    scopes: Sequence[str],
    expires_at: datetime | None,
    ip_address: str | None,
) -> tuple[ApiKey, str]:
    """Make a key; returns it with the full token, which is never available again."""
    unknown = set(scopes) - set(Scope.values)
    if unknown:
        raise ValueError(f"unknown scopes: {sorted(unknown)}")
    prefix = get_random_string(_PREFIX_LENGTH)
    token = f"{TOKEN_PREFIX}{prefix}_{get_random_string(_SECRET_LENGTH)}"
    with transaction.atomic():
        key = ApiKey.objects.create(
            user=user,
            name=name.strip(),
            prefix=prefix,
            digest=_digest(token),
            scopes=sorted(set(scopes)),
            expires_at=expires_at,
        )
        audit_log_record(
            user=user,
            action=AuditLog.Action.API_KEY_CREATED,
            ip_address=ip_address,
            key=str(key.id),
            prefix=prefix,
            scopes=key.scopes,
        )
    return key, token


def api_key_revoke(*, key: ApiKey, ip_address: str | None) -> None:
    """Revoke at once; revoking twice changes nothing."""
    with transaction.atomic():
        revoked = ApiKey.objects.filter(id=key.id, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if revoked:
            audit_log_record(
                user=key.user,
                action=AuditLog.Action.API_KEY_REVOKED,
                ip_address=ip_address,
                key=str(key.id),
                prefix=key.prefix,
            )
    key.refresh_from_db(fields=["revoked_at"])


def api_key_authenticate(token: str, *, ip_address: str | None) -> ApiKey | None:
    """The live key ``token`` is, with its user, or None (unknown, tampered, revoked, expired).

    Notes the use: ``last_used_at`` (to the minute) and, from an address the key has not been
    used from, a line in the owner's audit log.
    """
    if not token.startswith(TOKEN_PREFIX):
        return None
    prefix, _, secret = token[len(TOKEN_PREFIX) :].partition("_")
    if len(prefix) != _PREFIX_LENGTH or len(secret) != _SECRET_LENGTH:
        return None
    now = timezone.now()
    key = ApiKey.objects.live(now=now).select_related("user").filter(prefix=prefix).first()
    if key is None or not constant_time_compare(key.digest, _digest(token)):
        return None
    if not key.user.is_active:
        return None
    _note_use(key, now=now, ip_address=ip_address)
    return key


def _note_use(key: ApiKey, *, now: datetime, ip_address: str | None) -> None:
    if key.last_used_at is None or key.last_used_at < now - _LAST_USED_GRAIN:
        ApiKey.objects.filter(id=key.id).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - _LAST_USED_GRAIN)
        ).update(last_used_at=now)
        key.last_used_at = now
    if ip_address is None:
        return
    seen = _address_fingerprint(ip_address)
    if seen in key.seen_addresses:
        return
    with transaction.atomic():
        current = ApiKey.objects.select_for_update().get(id=key.id)
        if seen in current.seen_addresses:
            return
        current.seen_addresses = [*current.seen_addresses, seen][-_ADDRESSES_KEPT:]
        current.save(update_fields=["seen_addresses"])
        audit_log_record(
            user=key.user,
            action=AuditLog.Action.API_KEY_NEW_ADDRESS,
            ip_address=ip_address,
            key=str(key.id),
            prefix=key.prefix,
        )
    key.seen_addresses = current.seen_addresses
