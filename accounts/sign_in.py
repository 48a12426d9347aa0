"""Signing a user in, by any door (password, Google or Microsoft, the e-mailed verification link),
with the second step when two-factor sign-in is on.

Until the code is right the visitor is *not* signed in: the session holds only who is waiting
(``PENDING_KEY``), so every page behind ``login_required`` turns them away exactly as it turns away
anyone else, and the second-step page is the one page that reads it. The pending state names the
account's session hash as it was when the first step passed, so a password changed meanwhile ends
it, lasts ``PENDING_SECONDS``, and is held under a new session id (the id an attacker may have
planted before the password was typed is not the one that reaches the second step).

Failed codes are counted like failed log-ins (``multical.lib.failed_attempts``), per client
address, and also per account, so that a password guessed by someone with many addresses still
leaves the code to guess at ``FAILED_ATTEMPTS_RATE``.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.crypto import constant_time_compare

from accounts import two_factor
from accounts.models import AuditLog, User
from accounts.services import audit_log_record
from multical.lib import failed_attempts, rate_limits
from multical.lib.requests import client_ip

PENDING_KEY = "accounts:two-factor:pending"
# How this session was opened: the sign-in's method, and the organization whose single sign-on
# opened it ("" for any other door). See ``opened_with``.
DOOR_KEY = "accounts:door"
PENDING_SECONDS = 10 * 60
BACKEND = "django.contrib.auth.backends.ModelBackend"
# Failed counters, as ``failed_attempts`` names its own.
FAILED_CODES = "failed-two-factor"
FAILED_REAUTH = "failed-reauthentication"

_rate = rate_limits.setting_rate("FAILED_ATTEMPTS_RATE")


@dataclass(frozen=True)
class Refusal:
    """A door closed to this person: what to tell them, and the door they must use instead."""

    message: str
    url: str


# Sent (with ``user`` and the sign-in's ``method``) before anyone is signed in; a receiver that
# answers with a ``Refusal`` keeps the door shut. Layers above decide: an organization that
# requires its single sign-on for its domains answers for the other doors.
door_check = Signal()


@dataclass(frozen=True)
class Pending:
    """Who passed the first step, where they were going, and how (for the audit entry)."""

    user: User
    next_url: str
    audit: dict[str, Any]


def sign_in(request: HttpRequest, user: User, *, next_url: str, **audit: Any) -> HttpResponse:
    """Sign ``user`` in and go to ``next_url`` (a path already checked to be ours, or "" for the
    dashboard); with two-factor sign-in on, ask for the code first.

    ``audit`` is the log-in's metadata (``method="password"``, ``provider="google"``…).
    """
    method = _method(audit)
    for _receiver, answer in door_check.send(sender=User, user=user, method=method):
        if isinstance(answer, Refusal):
            messages.error(request, answer.message)
            return redirect(answer.url)
    if two_factor.enabled_for(user):
        if request.user.is_authenticated:
            logout(request)  # nobody stays signed in, as whoever it was, while the code is asked
        else:
            request.session.cycle_key()
        request.session[PENDING_KEY] = {
            "user": str(user.pk),
            "hash": user.get_session_auth_hash(),
            "next": next_url,
            "audit": audit,
            "started_at": time.time(),
        }
        return redirect("accounts:login_two_factor")
    return _complete(request, user, next_url, audit)


def pending(request: HttpRequest) -> Pending | None:
    """The sign-in waiting for its second step in this session, if any and still valid."""
    held = request.session.get(PENDING_KEY)
    if (
        isinstance(held, dict)
        and isinstance(held.get("started_at"), int | float)
        and 0 <= time.time() - held["started_at"] <= PENDING_SECONDS
        and isinstance(held.get("audit"), dict)
    ):
        user = _active_user(held.get("user"))
        if user is not None and constant_time_compare(
            str(held.get("hash", "")), user.get_session_auth_hash()
        ):
            return Pending(user=user, next_url=str(held.get("next", "")), audit=held["audit"])
    request.session.pop(PENDING_KEY, None)
    return None


def _active_user(user_id: object) -> User | None:
    try:
        pk = uuid.UUID(str(user_id))
    except ValueError:
        return None
    return User.objects.filter(pk=pk, is_active=True, deletion_requested_at__isnull=True).first()


def pending_cancel(request: HttpRequest) -> None:
    request.session.pop(PENDING_KEY, None)


def second_step_passed(request: HttpRequest, held: Pending, *, second_factor: str) -> HttpResponse:
    """Finish the sign-in ``held`` once its code was right."""
    request.session.pop(PENDING_KEY, None)
    return _complete(
        request, held.user, held.next_url, {**held.audit, "second_factor": second_factor}
    )


def _complete(
    request: HttpRequest, user: User, next_url: str, audit: dict[str, Any]
) -> HttpResponse:
    login(request, user, backend=BACKEND)  # under a new session id
    request.session[DOOR_KEY] = [_method(audit), str(audit.get("organization") or "")]
    audit_log_record(
        user=user, action=AuditLog.Action.LOGIN, ip_address=client_ip(request), **audit
    )
    return redirect(next_url or settings.LOGIN_REDIRECT_URL)


def opened_with(request: HttpRequest) -> tuple[str, str]:
    """The method that opened this session and the organization whose single sign-on it was
    ("" for any other door); ("", "") for a session opened before doors were recorded."""
    door = request.session.get(DOOR_KEY)
    if isinstance(door, list) and len(door) == 2 and all(isinstance(part, str) for part in door):
        return door[0], door[1]
    return "", ""


def _method(audit: dict[str, Any]) -> str:
    return str(audit.get("method") or audit.get("provider") or "")


# Counting failures --------------------------------------------------------------------------------


def _account_key(user: User) -> rate_limits.Key:
    def key(group: str, request: HttpRequest) -> str:
        return f"account:{user.pk}"

    return key


def attempts_check(request: HttpRequest, *, group: str, user: User) -> None:
    """Refuse (raise ``Ratelimited``, answered with a 429) once this address or this account has
    used up its failures of ``group`` in the current window."""
    failed_attempts.check(request, group)
    counted = rate_limits.usage(
        request, group=group, rate=_rate, increment=False, key=_account_key(user)
    )
    if counted is not None and counted["count"] >= counted["limit"]:
        raise rate_limits.refusal(request, seconds_left=counted["time_left"])


def attempts_record(request: HttpRequest, *, group: str, user: User) -> None:
    """Count one failure of ``group`` against this address and this account."""
    failed_attempts.record(request, group)
    rate_limits.usage(request, group=group, rate=_rate, increment=True, key=_account_key(user))
