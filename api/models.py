from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def live(self, *, now: object = None) -> ApiKeyQuerySet:
        """Keys that authenticate: not revoked, not expired."""
        moment = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=moment)
        )


class ApiKey(models.Model):
    """A personal API key: ``mck_<prefix>_<secret>``, shown once when it is made.

    Only the public prefix (to find the row and to recognise the key in lists and logs) and a
    keyed digest of the whole key are stored. The secret part holds 190 random bits, so a fast
    keyed hash is enough: there is nothing to guess that a slow hash would protect.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Keyed fingerprints of the client addresses the key was used from (the newest last, capped):
    # a use from an address not among them is written to the audit log.
    seen_addresses = models.JSONField(default=list, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="api_apikey_user")]

    def __str__(self) -> str:
        return f"{self.name} (mck_{self.prefix}_…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()
