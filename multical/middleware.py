"""The project's own middleware: security headers on every response, and the per-address limit
every request counts against."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from urllib.parse import urlsplit

from csp.constants import HEADER as CSP_HEADER
from csp.middleware import CSPMiddleware, PolicyParts
from csp.utils import build_policy
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from multical.lib import rate_limits

# Written on every response whatever a view, a decorator or a setting did: these are promises.
FIXED_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
# Django's technical 404 and 500 pages (DEBUG only) are styled and scripted inline.
_DEBUG_PAGES = {404, 500}


class SecurityHeadersMiddleware(CSPMiddleware):
    """Content-Security-Policy (django-csp, with its per-request nonce), frame, sniffing, referrer
    and permissions policies, and HSTS in production, set on every response.

    Django's own middleware adds HSTS only to requests that look secure, which behind a
    TLS-terminating proxy depends on a header the proxy may drop, and leaves out the frame and CSP
    headers for views that opt out; this one writes all of them unconditionally. It is the
    outermost middleware so that static files, redirects, error pages and 429s carry them too.
    """

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if not (settings.DEBUG and response.status_code in _DEBUG_PAGES):
            parts = self.get_policy_parts(request=request, response=response)
            response[CSP_HEADER] = build_policy(**asdict(parts))
        # django-csp's own pass: the report-only header if configured, and its nonce guard.
        response = super().process_response(request, response)
        for name, value in FIXED_HEADERS.items():
            response[name] = value
        if settings.SECURE_HSTS_SECONDS:
            response["Strict-Transport-Security"] = hsts_value()
        return response

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponse, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        update = dict(parts.update or {})
        update["form-action"] = [*update.get("form-action", []), *form_action_origins()]
        parts.update = update
        return parts


def hsts_value() -> str:
    value = f"max-age={settings.SECURE_HSTS_SECONDS}"
    if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
        value += "; includeSubDomains"
    if settings.SECURE_HSTS_PRELOAD:
        value += "; preload"
    return value


def form_action_origins() -> list[str]:
    """The origins our forms may send the browser on to: the providers' consent pages.

    The "connect" and "sign in with" buttons post to us and are redirected there, and Chrome
    applies form-action to such redirects. Read per request, since tests point them at fakes.
    """
    origins = []
    for name in settings.FORM_ACTION_URL_SETTINGS:
        parts = urlsplit(getattr(settings, name, "") or "")
        if parts.scheme in {"http", "https"} and parts.netloc:
            origins.append(f"{parts.scheme}://{parts.netloc}")
    return origins


_default_rate = rate_limits.setting_rate("RATE_LIMIT_DEFAULT")


class RateLimitMiddleware:
    """Every request counts against ``RATE_LIMIT_DEFAULT`` per client address, except the
    providers' push notifications (verified by their secrets; dropping one loses a change), the
    health check and static files. A request over the limit gets the 429 page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(exempt_prefixes()):
            refused = rate_limits.hit(request, group="every-request", rate=_default_rate)
            if refused is not None:
                return import_string(settings.RATELIMIT_VIEW)(request, refused)
        return self.get_response(request)


def exempt_prefixes() -> tuple[str, ...]:
    static = urlsplit(settings.STATIC_URL or "").path
    return (*settings.RATE_LIMIT_EXEMPT_PATHS, *([static] if static.startswith("/") else []))
