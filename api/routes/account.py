from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.http import HttpRequest
from ninja import Router

from api.auth import KeyAuth, key_of
from api.schemas import Out

router = Router(tags=["Account"])


class MeOut(Out):
    id: UUID
    email: str
    time_zone: str
    language: str
    key_name: str
    key_scopes: list[str]
    key_expires_at: datetime | None


@router.get("", response=MeOut, auth=KeyAuth(), summary="The account the key belongs to")
def me(request: HttpRequest) -> MeOut:
    key = key_of(request)
    user = key.user
    return MeOut(
        id=user.id,
        email=user.email,
        time_zone=user.time_zone,
        language=user.language,
        key_name=key.name,
        key_scopes=key.scopes,
        key_expires_at=key.expires_at,
    )
