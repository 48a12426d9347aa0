"""The credential vault: AES-256-GCM for every secret we keep (see the module's functions)."""

from __future__ import annotations

from django.db import models


class SealedTextField(models.TextField):
    """A column that holds only vault tokens, never plaintext; `rotate_vault_key` re-seals them."""
