"""Rate limits, counted by django-ratelimit in the shared cache: signed-in users by their account,
everyone else by their client address.

Counting a signed-in user by account means a whole office behind one address does not share one
budget, and a user cannot buy more by changing address. Failed log-ins, sign-ups and password
resets are always counted by address (``multical.lib.failed_attempts``): whoever fails is not
signed in as the account they try.

django-ratelimit counts in fixed windows (each key's window starts at its own offset). Every
refusal made here records on the request how long its window has left, so that the 429 page
(``multical.views.rate_limited``) sends a ``Retry-After`` that matches the limit that refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import wraps
from typing import Any, Concatenate, ParamSpec, TypeVar

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit import ALL
from django_ratelimit.core import get_usage
from django_ratelimit.exceptions import Ratelimited

from multical.lib.requests import client_ip

# The request attribute that tells the 429 page how many seconds the refusing window has left.
RETRY_AFTER_ATTRIBUTE = "rate_limit_retry_after"
# Requests whose address cannot be read share one bucket instead of escaping every limit.
UNKNOWN_CLIENT = "unknown"

Rate = str | Callable[[str, HttpRequest], str]
Key = Callable[[str, HttpRequest], str]
_Request = TypeVar("_Request", bound=HttpRequest)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def client_address(request: HttpRequest) -> str:
    """The client's address as limits count it: IPv6 clients by their /64, as one host holds one.

    Also django-ratelimit's ``RATELIMIT_IP_META_KEY``, so that ``key="ip"`` means the same.
    """
    address = client_ip(request)
    if not address:
        return UNKNOWN_CLIENT
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return UNKNOWN_CLIENT
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False).network_address)
    return str(parsed)


def client_key(group: str, request: HttpRequest) -> str:
    """``client_address`` in the shape django-ratelimit's ``key`` callables take."""
    return client_address(request)


def requester_key(group: str, request: HttpRequest) -> str:
    """The signed-in user's account, or else ``client_address``: who a request counts against."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"account:{user.pk}"
    return client_address(request)


def usage(
    request: HttpRequest,
    *,
    group: str,
    rate: Rate,
    increment: bool,
    method: Any = ALL,
    key: Key = client_key,
) -> dict[str, Any] | None:
    """django-ratelimit's count of ``group`` for ``key`` (the client address unless given) in the
    current window (None when limits are off or the method is not counted)."""
    counted: dict[str, Any] | None = get_usage(
        request, group=group, key=key, rate=rate, method=method, increment=increment
    )
    return counted


def refusal(request: HttpRequest, *, seconds_left: int) -> Ratelimited:
    """The exception that answers the request with a 429, its wait recorded for Retry-After.

    ``seconds_left`` is django-ratelimit's ``time_left``: the window still counts in its last
    second, so the client may come back one second after it. A failed cache read reports -1
    (django-ratelimit then refuses): the client is asked to wait a minute.
    """
    setattr(request, RETRY_AFTER_ATTRIBUTE, seconds_left + 1 if seconds_left >= 0 else 60)
    return Ratelimited()


def hit(
    request: HttpRequest, *, group: str, rate: Rate, method: Any = ALL, key: Key = requester_key
) -> Ratelimited | None:
    """Count this request against ``rate`` for ``key`` (the account or else the address); the
    refusal to raise or answer if it is over."""
    counted = usage(request, group=group, rate=rate, increment=True, method=method, key=key)
    if counted is None or not counted["should_limit"]:
        return None
    return refusal(request, seconds_left=counted["time_left"])


def ratelimit(
    *, group: str, rate: Rate, method: Any = ALL
) -> Callable[[Callable[Concatenate[_Request, _P], _R]], Callable[Concatenate[_Request, _P], _R]]:
    """A view decorator: every request (of ``method``) counts against ``rate`` per account for a
    signed-in user, per client address for anyone else, and one over the limit is answered by the
    429 page with its window's Retry-After.

    ``rate`` is a string such as ``"20/15m"`` or, to follow a setting that tests change, a
    callable ``(group, request) -> str``.
    """

    def decorator(
        view: Callable[Concatenate[_Request, _P], _R],
    ) -> Callable[Concatenate[_Request, _P], _R]:
        @wraps(view)
        def limited_view(request: _Request, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
            refused = hit(request, group=group, rate=rate, method=method)
            if refused is not None:
                raise refused
            return view(request, *args, **kwargs)

        return limited_view

    return decorator


def setting_rate(name: str) -> Callable[[str, HttpRequest], str]:
    """A rate read from the setting ``name`` at each request (so a changed setting applies at once)."""

    def rate(group: str, request: HttpRequest) -> str:
        value: str = getattr(settings, name)
        return value

    return rate
