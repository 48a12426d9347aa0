"""The API's rate limits, counted in the shared cache like the site's, refused as problems."""

from __future__ import annotations

from django.http import HttpRequest

from api.problems import ApiProblem
from multical.lib import rate_limits


def count(
    request: HttpRequest,
    *,
    group: str,
    rate: rate_limits.Rate,
    key: rate_limits.Key = rate_limits.client_key,
    refusal: str,
) -> None:
    """Count the request against ``rate`` for ``key`` (the client address unless given); over
    it, a 429 problem saying ``refusal`` and, in ``Retry-After``, when the window ends (a minute
    when the cache could not say)."""
    counted = rate_limits.usage(request, group=group, rate=rate, increment=True, key=key)
    if counted is None or not counted["should_limit"]:
        return
    left = counted["time_left"]
    wait = left + 1 if left >= 0 else 60
    raise ApiProblem(
        429,
        "rate_limited",
        "Too many requests",
        f"{refusal}; try again in {wait} s.",
        headers={"Retry-After": str(wait)},
    )
