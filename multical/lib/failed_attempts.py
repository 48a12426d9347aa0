"""Failed log-ins, sign-ups and password resets, limited per client address.

Only failures count (``FAILED_ATTEMPTS_RATE``, 10 per 15 minutes by default), so someone who types
the right password is never slowed down by their own successes. A view guards each attempt:

    failed_attempts.check(request, failed_attempts.LOGIN)   # before it tries: 429 when used up
    ...
    failed_attempts.record(request, failed_attempts.LOGIN)  # when the attempt failed

``check`` raises django-ratelimit's ``Ratelimited``, which the ``RatelimitMiddleware`` answers with
the 429 page and a ``Retry-After`` of the time left in the window. Each action counts on its own.
"""

from __future__ import annotations

from django.http import HttpRequest

from multical.lib import rate_limits

LOGIN = "failed-login"
SIGNUP = "failed-signup"
PASSWORD_RESET = "failed-password-reset"  # noqa: S105 - a counter's name

_rate = rate_limits.setting_rate("FAILED_ATTEMPTS_RATE")


def check(request: HttpRequest, action: str) -> None:
    """Refuse the attempt (raise ``Ratelimited``) once this address has used up its failures of
    ``action`` in the current window; the attempt itself is not counted."""
    counted = rate_limits.usage(request, group=action, rate=_rate, increment=False)
    if counted is not None and counted["count"] >= counted["limit"]:
        raise rate_limits.refusal(request, seconds_left=counted["time_left"])


def record(request: HttpRequest, action: str) -> None:
    """Count one failed attempt of ``action`` from this address."""
    rate_limits.usage(request, group=action, rate=_rate, increment=True)
