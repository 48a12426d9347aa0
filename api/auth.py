"""Authentication by personal API key (``Authorization: Bearer mck_…``), and nothing else.

Sessions never authenticate the API: a browser that is signed in gains nothing here, so the API
has no cross-site request forgery to defend against. Each key has its own rate limit, counted in
the shared cache; requests with a key that does not authenticate count against the client
address's.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja.security import HttpBearer

from api import limits, services
from api.models import ApiKey
from api.problems import ApiProblem
from api.scopes import Scope, granted
from multical.lib import rate_limits

_key_rate = rate_limits.setting_rate("API_KEY_RATE")
_refused_rate = rate_limits.setting_rate("RATE_LIMIT_DEFAULT")


def _by_key(group: str, request: HttpRequest) -> str:
    key: ApiKey = request.auth  # type: ignore[attr-defined]
    return f"api-key:{key.id}"


class KeyAuth(HttpBearer):
    """A live key holding every one of ``scopes`` (any live key when none are named)."""

    def __init__(self, *scopes: Scope) -> None:
        super().__init__()
        self.scopes = scopes

    def __call__(self, request: HttpRequest) -> ApiKey | None:
        key = super().__call__(request)
        if key is None:
            _count_refused(request)
            raise ApiProblem(
                401,
                "unauthenticated",
                "Unauthorized",
                "Send a live API key as `Authorization: Bearer mck_…`.",
                headers={"WWW-Authenticate": 'Bearer realm="api"'},
            )
        return key

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        key = services.api_key_authenticate(
            token.strip(), ip_address=rate_limits.client_address(request)
        )
        if key is None:
            return None
        request.auth = key  # type: ignore[attr-defined]
        limits.count(
            request,
            group="api-key",
            rate=_key_rate,
            key=_by_key,
            refusal=f"This key's limit is {settings.API_KEY_RATE}",
        )
        missing = [str(scope) for scope in self.scopes if scope not in granted(key.scopes)]
        if missing:
            needed = " ".join(missing)
            raise ApiProblem(
                403,
                "insufficient_scope",
                "Forbidden",
                f"This key lacks the scope `{needed}`.",
                headers={
                    "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{needed}"'
                },
            )
        return key


def _count_refused(request: HttpRequest) -> None:
    """A request without a working key counts against its address, like any anonymous one."""
    limits.count(
        request,
        group="api-refused",
        rate=_refused_rate,
        refusal="Too many requests without a working key",
    )


def key_of(request: HttpRequest) -> ApiKey:
    key: ApiKey = request.auth  # type: ignore[attr-defined]
    return key
