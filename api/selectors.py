from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User
from api.models import ApiKey


def keys_for_user(user: User) -> QuerySet[ApiKey]:
    """The user's keys, newest first; revoked ones stay listed (the audit log names them)."""
    return ApiKey.objects.filter(user=user).order_by("-created_at")


def get_key_for_user(user: User, key_id: object) -> ApiKey:
    return get_object_or_404(ApiKey, id=key_id, user=user)
