"""Project-level pages: the landing page, the dashboard home, health, and the error pages."""

from __future__ import annotations

import math

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedHttpRequest
from booking.selectors.owner import bookings_for_user
from calendars.selectors import connections_for_user, connections_needing_attention
from multical import health
from multical.lib import rate_limits
from syncrules.selectors import mass_deletions_for_user, rules_for_user

# Seconds to wait when the refusing limit did not say (a plain django-ratelimit decorator): the
# longest window, so that the client never comes back too early.
RATE_LIMIT_RETRY_AFTER = 15 * 60
UPCOMING_BOOKINGS = 5


def legal_document(request: HttpRequest, template_name: str) -> HttpResponse:
    """The Terms of Service or the Privacy Policy: this installation's version and operator."""
    contact = settings.OPERATOR_CONTACT
    return render(
        request,
        template_name,
        {
            "version": settings.LEGAL_DOCUMENTS_VERSION,
            "operator_name": settings.OPERATOR_NAME,
            "operator_contact": contact,
            "operator_contact_url": (
                contact if contact.startswith(("https://", "http://")) else f"mailto:{contact}"
            ),
        },
    )


def landing(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    return render(request, "landing.html")


@login_required
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Home: what needs mending first, then the rules, the coming bookings and meetings."""
    user = request.user
    return render(
        request,
        "dashboard.html",
        {
            "broken_connections": connections_needing_attention(user),
            "connection_count": connections_for_user(user).count(),
            "rules": rules_for_user(user),
            "mass_deletions": mass_deletions_for_user(user),
            "bookings": bookings_for_user(user, show="upcoming")[:UPCOMING_BOOKINGS],
        },
    )


@never_cache
@require_GET
def health_check(request: HttpRequest) -> JsonResponse:
    """200 while the database and broker answer (503 otherwise); the worker is reported only."""
    essential = [health.check_database(), health.check_broker()]
    checks = [*essential, health.check_worker()]
    healthy = all(check.ok for check in essential)
    return JsonResponse(
        {
            "status": "ok" if healthy else "unavailable",
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
        },
        status=200 if healthy else 503,
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "403_csrf.html", status=403)


def rate_limited(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 429 page; Retry-After is what is left of the window of the limit that refused."""
    seconds = getattr(request, rate_limits.RETRY_AFTER_ATTRIBUTE, None) or RATE_LIMIT_RETRY_AFTER
    response = render(
        request, "429.html", {"retry_after_minutes": math.ceil(seconds / 60)}, status=429
    )
    response["Retry-After"] = str(seconds)
    return response
