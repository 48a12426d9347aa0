"""Connecting Google and Microsoft 365 calendars, and Zoom, through OAuth: connect and callback.

Thin: access check → flow → service → redirect. The flows live in ``integrations.<provider>.oauth``,
the state handling in ``integrations.oauth_state``.
"""

from __future__ import annotations

from types import ModuleType

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from accounts.billing.plans import PlanLimitReached
from accounts.http import AuthenticatedHttpRequest
from calendars import services
from calendars.models import Connection
from calendars.views import connect_outcome, known_connections
from integrations import oauth_state
from integrations.base import ProviderError
from integrations.google import oauth as google_oauth
from integrations.microsoft import oauth as microsoft_oauth
from integrations.wording import error_text, translated
from integrations.zoom import oauth as zoom_oauth
from multical.lib.requests import client_ip
from orgs.policies import PolicyRefused, connect_refusal

FLOWS: dict[str, ModuleType] = {
    Connection.Kind.GOOGLE: google_oauth,
    Connection.Kind.MICROSOFT: microsoft_oauth,
}


def _flow_for(provider: str) -> ModuleType:
    flow = FLOWS.get(provider)
    if flow is None or not flow.is_configured():
        raise Http404("This provider is not set up on this server.")
    return flow


def _redirect_uri(provider: str) -> str:
    return settings.SITE_URL + reverse(f"calendars_oauth:{provider}_callback")


@login_required
@require_POST
def oauth_connect(request: AuthenticatedHttpRequest, provider: str) -> HttpResponse:
    """Send the user to the provider's consent screen (a POST, so no prefetch starts a flow)."""
    flow = _flow_for(provider)
    refusal = connect_refusal(user=request.user, kind=provider)
    if refusal is not None:
        return _error(request, provider, refusal, status=403)
    try:
        url, pending = flow.authorization_start(redirect_uri=_redirect_uri(provider))
    except oauth_state.OAuthError as error:
        return _error(request, provider, translated(error.msgid, error.params), status=error.status)
    oauth_state.pending_save(request, provider, pending)
    return redirect(url)


@login_required
@require_GET
def oauth_callback(request: AuthenticatedHttpRequest, provider: str) -> HttpResponse:
    flow = _flow_for(provider)
    try:
        pending = oauth_state.pending_pop(request, provider, state=request.GET.get("state", ""))
        if request.GET.get("error"):
            return _denied(request, provider, request.GET["error"])
        grant = flow.authorization_finish(
            pending=pending, query=request.GET.dict(), redirect_uri=_redirect_uri(provider)
        )
        known = known_connections(request.user)
        connection = services.connection_connect_oauth(
            user=request.user,
            kind=provider,
            email=grant.email,
            secrets=grant.secrets,
            ip_address=client_ip(request),
        )
    except oauth_state.OAuthError as error:
        return _error(request, provider, translated(error.msgid, error.params), status=error.status)
    except ProviderError as error:
        return _error(request, provider, error_text(error), status=502)
    except PolicyRefused as refusal:
        return _error(request, provider, refusal.message, status=403)
    except PlanLimitReached as refusal:
        return render(
            request,
            "calendars/oauth_error.html",
            {
                "provider_name": _(Connection.Kind(provider).label),
                "message": _("Nothing was connected."),
                "refusal": refusal,
            },
        )
    count = connection.calendars.count()
    added = ngettext(
        "Connected %(name)s: %(count)s calendar.", "Connected %(name)s: %(count)s calendars.", count
    ) % {"name": grant.email, "count": count}
    messages.success(request, connect_outcome(connection, known, added=added))
    return redirect("calendars:calendar_list")


def _denied(request: HttpRequest, provider: str, error: str) -> HttpResponse:
    name = _(Connection.Kind(provider).label)
    if error == "access_denied":
        message = _(
            "You did not allow Multical to use your %(name)s calendars, so nothing was connected."
        ) % {"name": name}
    else:
        message = _("%(name)s could not complete the connection, so nothing was connected.") % {
            "name": name
        }
    return _error(request, provider, message, status=200)


def _error(request: HttpRequest, provider: str, message: str, *, status: int) -> HttpResponse:
    return render(
        request,
        "calendars/oauth_error.html",
        {"provider_name": _(Connection.Kind(provider).label), "message": message},
        status=status,
    )


# Zoom: a meeting provider, not a calendar, so its connection has no calendars to list. ------------


def _zoom_flow() -> ModuleType:
    if not zoom_oauth.is_configured():
        raise Http404("Zoom is not set up on this server.")
    return zoom_oauth


@login_required
@require_POST
def zoom_connect(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Send the user to Zoom's consent screen (a POST, so no prefetch starts a flow)."""
    flow = _zoom_flow()
    refusal = connect_refusal(user=request.user, kind=Connection.Kind.ZOOM)
    if refusal is not None:
        return _error(request, Connection.Kind.ZOOM, refusal, status=403)
    url, pending = flow.authorization_start(redirect_uri=_redirect_uri(Connection.Kind.ZOOM))
    oauth_state.pending_save(request, Connection.Kind.ZOOM, pending)
    return redirect(url)


@login_required
@require_GET
def zoom_callback(request: AuthenticatedHttpRequest) -> HttpResponse:
    provider = Connection.Kind.ZOOM
    flow = _zoom_flow()
    try:
        pending = oauth_state.pending_pop(request, provider, state=request.GET.get("state", ""))
        if request.GET.get("error"):
            message = (
                _("You did not allow Multical to create Zoom meetings, so nothing was connected.")
                if request.GET["error"] == "access_denied"
                else _("Zoom could not complete the connection, so nothing was connected.")
            )
            return _error(request, provider, message, status=200)
        grant = flow.authorization_finish(
            pending=pending, query=request.GET.dict(), redirect_uri=_redirect_uri(provider)
        )
        known = known_connections(request.user)
        connection = services.connection_connect_zoom(
            user=request.user,
            email=grant.email,
            secrets=grant.secrets,
            ip_address=client_ip(request),
        )
    except oauth_state.OAuthError as error:
        return _error(request, provider, translated(error.msgid, error.params), status=error.status)
    except PolicyRefused as refusal:
        return _error(request, provider, refusal.message, status=403)
    added = _("Connected Zoom (%(email)s): booking pages can add meetings.") % {
        "email": grant.email
    }
    messages.success(
        request, connect_outcome(connection, known, added=added, name=f"Zoom ({grant.email})")
    )
    return redirect("calendars:calendar_list")
