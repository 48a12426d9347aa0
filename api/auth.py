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

from api import services
from api.models import ApiKey
from api.problems import ApiProblem
from api.scopes import Scope, granted
from multical.lib import rate_limits


def _key_rate(group: str, request: HttpRequest) -> str:
    rate: str = settings.API_KEY_RATE
    return rate


def _refused_rate(group: str, request: HttpRequest) -> str:
    rate: str = settings.RATE_LIMIT_DEFAULT
    return rate


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
        counted = rate_limits.usage(
            request, group="api-key", rate=_key_rate, increment=True, key=_by_key
        )
        if counted is not None and counted["should_limit"]:
            wait = max(counted["time_left"], 0) + 1
            raise ApiProblem(
                429,
                "rate_limited",
                "Too many requests",
                f"This key's limit is {settings.API_KEY_RATE}; try again in {wait} s.",
                headers={"Retry-After": str(wait)},
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
    counted = rate_limits.usage(request, group="api-refused", rate=_refused_rate, increment=True)
    if counted is not None and counted["should_limit"]:
        wait = max(counted["time_left"], 0) + 1
        raise ApiProblem(
            429,
            "rate_limited",
            "Too many requests",
            f"Too many requests without a working key; try again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )


def key_of(request: HttpRequest) -> ApiKey:
    key: ApiKey = request.auth  # type: ignore[attr-defined]
    return key
