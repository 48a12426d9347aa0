"""The project's own middleware: security headers on every response, and the rate limit every
request counts against (by account when signed in, by address otherwise)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from urllib.parse import urlsplit

from csp.constants import HEADER as CSP_HEADER
from csp.middleware import CSPMiddleware, PolicyParts
from csp.utils import build_policy
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import Resolver404, resolve
from django.utils.module_loading import import_string
from django_ratelimit.exceptions import Ratelimited

from multical.lib import framing, rate_limits

# Written on every response whatever a view, a decorator or a setting did: these are promises.
FIXED_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
# Django's technical 404 and 500 pages (DEBUG only) are styled and scripted inline.
_DEBUG_PAGES = {404, 500}
# Where process_view leaves the resolved view, for process_response to ask it about framing.
_VIEW_ATTRIBUTE = "_security_headers_view"


class SecurityHeadersMiddleware(CSPMiddleware):
    """Content-Security-Policy (django-csp, with its per-request nonce), frame, sniffing, referrer
    and permissions policies, and HSTS in production, set on every response.

    Django's own middleware adds HSTS only to requests that look secure, which behind a
    TLS-terminating proxy depends on a header the proxy may drop, and leaves out the frame and CSP
    headers for views that opt out; this one writes all of them unconditionally. It is the
    outermost middleware so that static files, redirects, error pages and 429s carry them too.

    The one exception is framing, and only as ``multical.lib.framing`` allows it: a ``@framable``
    view's response that ``allow_framing`` named sites for gets ``frame-ancestors`` with those
    sites and no ``X-Frame-Options``; every other response stays ``DENY`` and ``'none'``.
    """

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponseBase],
        view_args: tuple[object, ...],
        view_kwargs: dict[str, object],
    ) -> None:
        setattr(request, _VIEW_ATTRIBUTE, view_func)

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        ancestors = framing.frame_ancestors(getattr(request, _VIEW_ATTRIBUTE, None), response)
        if not (settings.DEBUG and response.status_code in _DEBUG_PAGES):
            parts = self.get_policy_parts(request=request, response=response)
            if ancestors:
                parts.replace = {**(parts.replace or {}), "frame-ancestors": list(ancestors)}
            response[CSP_HEADER] = build_policy(**asdict(parts))
        # django-csp's own pass: the report-only header if configured, and its nonce guard.
        response = super().process_response(request, response)
        for name, value in FIXED_HEADERS.items():
            response[name] = value
        if ancestors:
            del response["X-Frame-Options"]
        if settings.SECURE_HSTS_SECONDS:
            response["Strict-Transport-Security"] = hsts_value()
        return response

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
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
_signed_in_rate = rate_limits.setting_rate("RATE_LIMIT_SIGNED_IN")
_page_rate = rate_limits.setting_rate("BOOKING_PAGE_RATE")
# The URL namespace of the pages attendees use: booking pages, and each booking's own page.
PUBLIC_PAGES_NAMESPACE = "booking_public"


class RateLimitMiddleware:
    """Every request counts against a budget, except the providers' push notifications (verified
    by their secrets; dropping one loses a change), the health check and static files:

    - a signed-in user's, against ``RATE_LIMIT_SIGNED_IN`` for their account, from any address;
    - an attendee's, on a public booking page, against that page's share of what one address may
      ask (``BOOKING_PAGE_RATE`` per address and page); the booking views themselves count each
      address against ``BOOKING_BROWSE_RATE`` over all of them, which is sized for a whole office
      behind one address, so these pages stay out of the anonymous budget below;
    - anyone else's, against ``RATE_LIMIT_DEFAULT`` per client address.

    It runs after authentication, to know who is signed in. A request over a budget gets the 429
    page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(exempt_prefixes()):
            refused = _count(request)
            if refused is not None:
                return import_string(settings.RATELIMIT_VIEW)(request, refused)
        return self.get_response(request)


def _count(request: HttpRequest) -> Ratelimited | None:
    if request.user.is_authenticated:
        return rate_limits.hit(
            request, group="signed-in", rate=_signed_in_rate, key=rate_limits.requester_key
        )
    page = public_page(request.path_info)
    if page is None:
        return rate_limits.hit(
            request, group="every-request", rate=_default_rate, key=rate_limits.client_key
        )

    def address_and_page(group: str, request: HttpRequest) -> str:
        return f"{rate_limits.client_address(request)} {page}"

    return rate_limits.hit(request, group="public-page", rate=_page_rate, key=address_and_page)


def public_page(path: str) -> str | None:
    """Which booking page (or booking) an attendee's request is about; None for other pages."""
    try:
        match = resolve(path)
    except Resolver404:
        return None
    if match.namespace != PUBLIC_PAGES_NAMESPACE:
        return None
    if "handle" in match.kwargs:
        return "/".join(
            str(match.kwargs[name]) for name in ("handle", "slug") if name in match.kwargs
        )
    return f"booking/{match.kwargs.get('booking_id', '')}"


def exempt_prefixes() -> tuple[str, ...]:
    static = urlsplit(settings.STATIC_URL or "").path
    return (*settings.RATE_LIMIT_EXEMPT_PATHS, *([static] if static.startswith("/") else []))
