"""The credential vault: AES-256-GCM for every secret we keep (OAuth tokens, CalDAV passwords).

A sealed value is a text token `v1.<key id>.<nonce + ciphertext + tag, urlsafe base64>`:

- the key is derived with scrypt from `settings.VAULT_SECRET`; values sealed under a secret listed
  in `settings.VAULT_PREVIOUS_SECRETS` still open, and `manage.py rotate_vault_key` re-seals them;
- every token has a fresh random 96-bit nonce, so sealing one value twice gives two tokens;
- the `context` (which row and field the value belongs to, see `context_for`) is bound as GCM
  associated data, so a token copied to another row or purpose does not open there.

Nothing here logs, and the functions that touch plaintext hide their local variables from
Django's error reports.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import os
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.views.decorators.debug import sensitive_variables

__all__ = [
    "SealedTextField",
    "VaultError",
    "context_for",
    "needs_rotation",
    "seal",
    "seal_json",
    "unseal",
    "unseal_json",
]

VERSION = "v1"
KDF_SALT = b"multical-vault-v1"
KDF_N = 2**15
KDF_R = 8
KDF_P = 1
KEY_LENGTH = 32
NONCE_LENGTH = 12
TAG_LENGTH = 16
KEY_ID_LENGTH = 16  # hex characters: the first 8 bytes of SHA-256 of the key


class VaultError(Exception):
    """A token that cannot be opened: malformed, tampered with, wrong context or unknown key.

    Messages never carry plaintext or key material.
    """


if TYPE_CHECKING:
    # Django's field classes are generic in the stubs only, not subscriptable at run time.
    _TextField = models.TextField[str, str]
else:
    _TextField = models.TextField


class SealedTextField(_TextField):
    """A column that holds only vault tokens, never plaintext; `rotate_vault_key` re-seals them.

    Values must be sealed with `context=context_for(instance, field_name)`: that is the context
    the rotation command opens them with.
    """


@functools.cache
def _key_for_secret(secret: str) -> tuple[str, bytes]:
    # scrypt costs ~32 MiB and tens of milliseconds on purpose; derive each secret's key once per
    # process. Keyed by the secret itself, so changing the settings takes effect at once.
    kdf = Scrypt(salt=KDF_SALT, length=KEY_LENGTH, n=KDF_N, r=KDF_R, p=KDF_P)
    key = kdf.derive(secret.encode("utf-8"))
    # The id names the key without revealing it: a truncated hash of a 256-bit random-looking key.
    key_id = hashlib.sha256(key).digest()[: KEY_ID_LENGTH // 2].hex()
    return key_id, key


def _current_key() -> tuple[str, bytes]:
    secret = getattr(settings, "VAULT_SECRET", "")
    if not secret:
        raise ImproperlyConfigured("VAULT_SECRET is not set: the credential vault cannot work.")
    return _key_for_secret(secret)


def _keyring() -> dict[str, bytes]:
    """Every key a token may be sealed under: the current one first, then the previous ones."""
    key_id, key = _current_key()
    keys = {key_id: key}
    for secret in getattr(settings, "VAULT_PREVIOUS_SECRETS", None) or []:
        # An empty entry (e.g. a trailing comma in the environment) is no key at all.
        if secret:
            previous_id, previous_key = _key_for_secret(secret)
            keys.setdefault(previous_id, previous_key)
    return keys


def _require_context(context: str) -> bytes:
    # Sealing without a context would let a token be moved between rows unnoticed.
    if not context:
        raise ValueError("A vault context is required (see context_for).")
    return context.encode("utf-8")


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise VaultError("The vault token is malformed.") from None
    # Base64 leaves a few bits unused in the last character; insisting on the canonical spelling
    # means no two different tokens open to the same value, so any flipped bit is detected.
    if _b64encode(data) != text:
        raise VaultError("The vault token is malformed.")
    return data


def _parse(token: str) -> tuple[str, bytes]:
    """Split a token into its key id and payload (nonce + ciphertext + tag)."""
    if not isinstance(token, str):
        raise VaultError("The vault token is malformed.")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise VaultError("The vault token is malformed or of an unknown version.")
    key_id, payload = parts[1], parts[2]
    if len(key_id) != KEY_ID_LENGTH or not all(c in "0123456789abcdef" for c in key_id):
        raise VaultError("The vault token is malformed.")
    data = _b64decode(payload)
    if len(data) < NONCE_LENGTH + TAG_LENGTH:
        raise VaultError("The vault token is malformed.")
    return key_id, data


@sensitive_variables()
def seal(plaintext: str, *, context: str) -> str:
    """Encrypt `plaintext` under the current key, bound to `context`; return a text token.

    Raises ImproperlyConfigured when VAULT_SECRET is empty, ValueError when `context` is.
    """
    associated_data = _require_context(context)
    key_id, key = _current_key()
    nonce = os.urandom(NONCE_LENGTH)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), associated_data)
    return f"{VERSION}.{key_id}.{_b64encode(nonce + ciphertext)}"


@sensitive_variables()
def unseal(token: str, *, context: str) -> str:
    """Decrypt a token made by `seal` with the same `context`, under the current or a previous key.

    Raises VaultError when the token is malformed, tampered with, sealed for another context or
    under a key we no longer have; ImproperlyConfigured when VAULT_SECRET is empty.
    """
    associated_data = _require_context(context)
    key_id, data = _parse(token)
    key = _keyring().get(key_id)
    if key is None:
        raise VaultError(f"The vault token was sealed under an unknown key (key id {key_id}).")
    nonce, ciphertext = data[:NONCE_LENGTH], data[NONCE_LENGTH:]
    try:
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, associated_data)
    except InvalidTag:
        raise VaultError(
            "The vault token does not open: it was altered or belongs to another context."
        ) from None
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError:
        raise VaultError("The vault token does not hold text.") from None


@sensitive_variables()
def seal_json(data: dict[str, Any], *, context: str) -> str:
    """Seal a small JSON object (a connection's secrets, e.g. {"password": …}); see `seal`."""
    if not isinstance(data, dict):
        raise TypeError("seal_json seals a dict.")
    return seal(json.dumps(data, ensure_ascii=False, separators=(",", ":")), context=context)


@sensitive_variables()
def unseal_json(token: str, *, context: str) -> dict[str, Any]:
    """Open a token made by `seal_json`; raises VaultError as `unseal` does, or if it holds no object."""
    try:
        data = json.loads(unseal(token, context=context))
    except json.JSONDecodeError:
        raise VaultError("The vault token does not hold a JSON object.") from None
    if not isinstance(data, dict):
        raise VaultError("The vault token does not hold a JSON object.")
    return data


def context_for(instance: models.Model, field_name: str) -> str:
    """The standard context for a sealed model field: `<app>.<model>.<field>:<pk>`.

    The pk must already be set (our models assign UUIDs when the instance is created).
    """
    instance._meta.get_field(field_name)  # a typo here would silently make every token orphaned
    if instance.pk is None:
        raise ValueError("A sealed field's context needs the instance's primary key.")
    return f"{instance._meta.label_lower}.{field_name}:{instance.pk}"


def needs_rotation(token: str) -> bool:
    """True when `token` was sealed under a key other than the current one.

    Raises VaultError for a malformed token, ImproperlyConfigured when VAULT_SECRET is empty.
    """
    key_id, _ = _parse(token)
    return key_id != _current_key()[0]
