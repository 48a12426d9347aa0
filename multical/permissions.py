"""The public permissions & privacy page, for the administrators who approve Multical.

Everything on it that can drift is read from the code that does it: the scopes from
``integrations.scopes`` through the same helpers the OAuth flows use (plus those Microsoft's
library adds to every request), the settings of the Zoom meetings bookings create, the privacy
controls of sync rules, the credential vault's cipher and key derivation, the password hasher's
parameters, push channel renewal, polling, rate limits, HSTS, the audit log's actions and the
operator to contact. Included by the project's urls as ``path("permissions/", include(...))``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher, get_hasher
from django.db.models import Field
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.views.decorators.http import require_GET

from accounts.models import AuditLog
from calendars.push import RENEW_AHEAD
from integrations import scopes
from integrations.microsoft.provider import subscription_minutes
from integrations.zoom.client import MEETING_SETTINGS
from lifecycle.export import FORMAT_VERSION
from multical.lib import vault
from syncrules.models import SyncRule

ADMIN_CONSENT_URL = "https://login.microsoftonline.com/organizations/v2.0/adminconsent"
# Where the Graph permissions live, for the admin-consent request (OpenID scopes stay bare).
GRAPH_RESOURCE = "https://graph.microsoft.com/"
OPENID_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
# Why a scope that Microsoft's library adds by itself is on a consent screen we did not declare
# it for (sign-in keeps no token at all).
MSAL_ADDED = (
    "Microsoft's sign-in library (MSAL) adds it to every request; nothing it grants is kept."
)

# django-ratelimit's rates: "10/m", "100/15m".
_RATE = re.compile(r"^(\d+)/(\d*)([smhd])$")
_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}
# The limits this installation enforces, by setting, in the words of the page.
RATE_LIMITS = [
    ("RATE_LIMIT_SIGNED_IN", "Every request of one signed-in account, from any address"),
    ("RATE_LIMIT_DEFAULT", "Every other request from one address, when not signed in"),
    ("FAILED_ATTEMPTS_RATE", "Failed log-ins, sign-ups and password resets from one address"),
    ("SYNC_NOW_RATE", "“Sync now” by one account"),
    ("PORTFOLIO_FETCH_RATE", "Reads of your calendars for the unified view by one account"),
    (
        "PORTFOLIO_ACTION_RATE",
        "Events opened, added, changed, moved, deleted or answered in the unified view by one "
        "account",
    ),
    ("DATA_EXPORT_RATE", "Data exports by one account"),
    ("BOOKING_PREVIEW_RATE", "Previews of a booking page being edited, by one account"),
    ("BOOKING_BROWSE_RATE", "Public booking pages viewed from one address, all pages together"),
    ("BOOKING_PAGE_RATE", "Views of one public booking page from one address"),
    ("BOOKING_SUBMIT_RATE", "Bookings made, moved or cancelled from one address"),
]
_ERROR_CODE = re.compile(r"^[a-z_]{1,64}$")


@dataclass(frozen=True)
class Flow:
    """One consent screen: what it is for, and each scope it asks for with the reason."""

    key: str
    title: str
    scopes: tuple[scopes.Scope, ...]


def microsoft_requested(declared: tuple[scopes.Scope, ...]) -> tuple[scopes.Scope, ...]:
    """The scopes a Microsoft flow sends: the declared ones msal is handed, and msal's own."""
    handed = scopes.msal_names(declared)
    reasons = {scope.name: scope for scope in declared}
    names = handed + sorted(scopes.MSAL_RESERVED)
    return tuple(reasons.get(name) or scopes.Scope(name, MSAL_ADDED) for name in names)


def flows() -> dict[str, list[Flow]]:
    """Each OAuth provider's consent screens, as the flows request them."""
    return {
        "google": [
            Flow(
                "google-calendar", "Connecting a Google calendar", scopes.GOOGLE_CALENDAR_CONNECTION
            ),
            Flow("google-sign-in", "Signing in with Google", scopes.GOOGLE_SIGN_IN),
        ],
        "microsoft": [
            Flow(
                "microsoft-calendar",
                "Connecting a Microsoft 365 or Outlook.com calendar",
                microsoft_requested(scopes.MICROSOFT_CALENDAR_CONNECTION),
            ),
            Flow(
                "microsoft-sign-in",
                "Signing in with Microsoft",
                microsoft_requested(scopes.MICROSOFT_SIGN_IN),
            ),
        ],
        "zoom": [Flow("zoom-meetings", "Connecting Zoom", scopes.ZOOM_CONNECTION)],
    }


def admin_consent_url() -> str:
    """Microsoft's admin-consent link for our app and every permission our flows request, or ""
    when this server has no Microsoft client id."""
    if not settings.MICROSOFT_CLIENT_ID:
        return ""
    names: list[str] = []
    for flow in flows()["microsoft"]:
        for scope in flow.scopes:
            name = scope.name if scope.name in OPENID_SCOPES else GRAPH_RESOURCE + scope.name
            if name not in names:
                names.append(name)
    query = {
        "client_id": settings.MICROSOFT_CLIENT_ID,
        "scope": " ".join(names),
        "redirect_uri": settings.SITE_URL + reverse("permissions"),
    }
    return f"{ADMIN_CONSENT_URL}?{urlencode(query)}"


def admin_consent_answer(request: HttpRequest) -> dict[str, str] | None:
    """What Microsoft said when it sent an administrator back here, in words safe to show."""
    query = request.GET
    if query.get("admin_consent", "").lower() == "true":
        tenant = query.get("tenant", "")
        try:
            tenant = str(uuid.UUID(tenant))
        except ValueError:
            tenant = ""
        return {"outcome": "granted", "tenant": tenant}
    if query.get("error"):
        code = query["error"] if _ERROR_CODE.match(query["error"]) else "error"
        return {
            "outcome": "refused",
            "code": code,
            "description": query.get("error_description", "")[:300],
        }
    return None


def rate_in_words(rate: str) -> str:
    """``"100/15m"`` as "100 per 15 minutes"; anything else as it is."""
    match = _RATE.match(rate.strip())
    if not match:
        return rate
    count, multiplier, unit = match.groups()
    period = _UNITS[unit] if multiplier in ("", "1") else f"{multiplier} {_UNITS[unit]}s"
    return f"{int(count):,} per {period}"


def rate_limits() -> list[tuple[str, str]]:
    return [
        (words, rate_in_words(str(getattr(settings, name))))
        for name, words in RATE_LIMITS
        if getattr(settings, name, "")
    ]


def duration_in_words(seconds: float) -> str:
    """3600 as "1 hour", 86400 as "1 day", 253800 as "4,230 minutes (70.5 hours)"."""
    delta = timedelta(seconds=seconds)
    for unit, size in (("day", timedelta(days=1)), ("hour", timedelta(hours=1))):
        if delta >= size and delta % size == timedelta(0):
            count = int(delta / size)
            return f"{count:,} {unit}" if count == 1 else f"{count:,} {unit}s"
    minutes = round(delta / timedelta(minutes=1))
    words = f"{minutes:,} minute" if minutes == 1 else f"{minutes:,} minutes"
    if minutes > 120:
        words += f" ({delta / timedelta(hours=1):.1f} hours)"
    return words


def every_in_words(seconds: float) -> str:
    """3600 as "every hour", 300 as "every 5 minutes"."""
    words = duration_in_words(seconds)
    return f"every {words.removeprefix('1 ')}" if words.startswith("1 ") else f"every {words}"


def security_facts() -> dict[str, object]:
    """The numbers the page promises, read from the code and settings that keep them."""
    hasher = get_hasher()
    assert isinstance(hasher, Argon2PasswordHasher)  # PASSWORD_HASHERS names Argon2id alone
    parameters = hasher.params()
    hsts = getattr(settings, "SECURE_HSTS_SECONDS", 0) or 0
    renew_every = settings.CELERY_BEAT_SCHEDULE["renew-push-channels"]["schedule"]
    assert isinstance(renew_every, float)  # seconds, not a crontab
    return {
        "cipher": f"AES-{vault.KEY_LENGTH * 8}-GCM",
        "nonce_bits": vault.NONCE_LENGTH * 8,
        "tag_bits": vault.TAG_LENGTH * 8,
        "kdf": f"scrypt (N = 2^{vault.KDF_N.bit_length() - 1}, r = {vault.KDF_R}, p = {vault.KDF_P})",
        "key_id_bits": vault.KEY_ID_LENGTH * 4,
        "hash": f"Argon2{parameters.type.name.lower()}",
        "hash_memory_kib": parameters.memory_cost,
        "hash_memory_mib": f"{parameters.memory_cost / 1024:g}",
        "hash_iterations": parameters.time_cost,
        "hash_parallelism": parameters.parallelism,
        "hash_salt_bits": parameters.salt_len * 8,
        "https": settings.SITE_URL.startswith("https://"),
        "https_redirect": getattr(settings, "SECURE_SSL_REDIRECT", False),
        "frames_denied": getattr(settings, "X_FRAME_OPTIONS", "") == "DENY",
        "hsts": duration_in_words(hsts) if hsts else "",
        "hsts_subdomains": getattr(settings, "SECURE_HSTS_INCLUDE_SUBDOMAINS", False),
        "hsts_preload": getattr(settings, "SECURE_HSTS_PRELOAD", False),
        "renew_ahead": duration_in_words(RENEW_AHEAD.total_seconds()),
        "renew_every": every_in_words(renew_every),
        "graph_lifetime": duration_in_words(subscription_minutes() * 60),
        "poll_every": every_in_words(settings.SYNC_POLL_INTERVAL_SECONDS),
    }


def zoom_meetings() -> dict[str, bool]:
    """What the Zoom meetings of bookings are set to, as the Zoom client sends them."""
    return {
        "recording_off": MEETING_SETTINGS.get("auto_recording") == "none",
        "host_first": MEETING_SETTINGS.get("join_before_host") is False,
    }


def privacy_controls() -> dict[str, object]:
    """The choices every sync rule offers over what its blocks show, and their defaults."""

    def field(name: str) -> Field[Any, Any]:
        found = SyncRule._meta.get_field(name)
        assert isinstance(found, Field)  # a column of the rule, not a relation
        return found

    return {
        "visibility": [label for _, label in SyncRule.Visibility.choices],
        "visibility_default": SyncRule.Visibility(field("visibility").default).label,
        "visibility_busy": SyncRule.Visibility.BUSY.label,
        "show_as": [label for _, label in SyncRule.ShowAs.choices],
        "show_as_default": SyncRule.ShowAs(field("show_as").default).label,
        "details_off": not field("show_location").default and not field("show_video_link").default,
    }


def operator() -> dict[str, str]:
    """Who runs this installation, and a link that reaches them (a web page, or an address)."""
    contact = settings.OPERATOR_CONTACT
    link = contact if contact.startswith(("https://", "http://")) else f"mailto:{contact}"
    return {"name": settings.OPERATOR_NAME, "contact": contact, "link": link}


@require_GET
def permissions_page(request: HttpRequest) -> HttpResponse:
    context = {
        "flows": flows(),
        "zoom_not_requested": scopes.ZOOM_NOT_REQUESTED,
        "zoom_meetings": zoom_meetings(),
        "controls": privacy_controls(),
        "operator": operator(),
        "facts": security_facts(),
        "rate_limits": rate_limits(),
        "audit_actions": [label for _, label in AuditLog.Action.choices],
        "export_format": FORMAT_VERSION,
        "admin_consent_url": admin_consent_url(),
        "admin_consent_client_id": settings.MICROSOFT_CLIENT_ID,
        "admin_consent_answer": admin_consent_answer(request),
        "legal_version": settings.LEGAL_DOCUMENTS_VERSION,
    }
    return render(request, "legal/permissions.html", context)


urlpatterns = [path("", permissions_page, name="permissions")]
