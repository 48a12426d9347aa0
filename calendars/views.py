from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta

from django import forms as django_forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods

from accounts.billing.plans import Limit, PlanLimitReached, would_exceed
from accounts.http import AuthenticatedHttpRequest
from accounts.models import User
from calendars import forms, selectors, services
from calendars.models import Connection
from integrations.base import ProviderError
from integrations.wording import error_text
from multical.lib.requests import client_ip
from orgs.policies import PolicyRefused, account_notes, connect_refusal

CREDENTIAL_FORMS: dict[str, type[django_forms.Form]] = {
    Connection.Kind.ICLOUD: forms.ICloudPasswordUpdateForm,
    Connection.Kind.CALDAV: forms.PasswordUpdateForm,
    Connection.Kind.ICS: forms.ICSLinkUpdateForm,
}


# The newest connection this browser has seen listed ("" for none yet): one newer than that was
# just connected, and the page shows the next steps once.
SEEN_SESSION_KEY = "calendars_newest_seen"
# Without that mark (the first look of a session), a connection this young was just connected.
JUST_CONNECTED = timedelta(minutes=10)
CALENDAR_STATE_TEMPLATE = "calendars/includes/calendar_state.html"


@login_required
def calendar_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    accounts = selectors.calendars_for_list(request.user)
    calendar_accounts = [a for a in accounts if a.connection.kind != Connection.Kind.ZOOM]
    statuses = [status for account in calendar_accounts for status in account.calendars]
    just_connected = _first_look_since_connecting(request, [a.connection for a in accounts])
    calendar_count = sum(
        len(account.calendars)
        for account in calendar_accounts
        if account.connection.status not in Connection.RELEASED
    )
    # What organizations' policies do to each account, read for all of them at once.
    notes = account_notes(
        user=request.user,
        accounts={
            a.connection.id: (
                a.connection.kind,
                a.connection.username,
                a.connection.status in (Connection.Status.OK, Connection.Status.ERROR),
            )
            for a in calendar_accounts
            if a.connection.status != Connection.Status.REMOVING
        },
    )
    return render(
        request,
        "calendars/calendar_list.html",
        {
            "calendar_accounts": [(a, notes.get(a.connection.id)) for a in calendar_accounts],
            "video_accounts": [a for a in accounts if a.connection.kind == Connection.Kind.ZOOM],
            "next_steps": (
                selectors.next_steps(request.user, calendar_count=calendar_count)
                if just_connected
                else None
            ),
            "active": _active(statuses),
            # The OAuth providers this server has a client for; the others' buttons are disabled.
            "google_available": bool(settings.GOOGLE_CLIENT_ID),
            "microsoft_available": bool(settings.MICROSOFT_CLIENT_ID),
            "zoom_available": bool(settings.ZOOM_CLIENT_ID),
            "refusal": would_exceed(user=request.user, limit=Limit.CALENDAR_ACCOUNTS),
        },
    )


@login_required
@require_GET
def calendar_list_status(request: AuthenticatedHttpRequest) -> JsonResponse:
    """Each calendar's line on the Calendars page, for static/syncrules/live_status.js while syncs
    run: ``{active, parts: {element id: HTML}}``, as the sync pages answer it."""
    statuses = [
        status
        for account in selectors.calendars_for_list(request.user)
        for status in account.calendars
    ]
    response = JsonResponse(
        {
            "active": _active(statuses),
            "parts": {
                f"calendar-state-{status.calendar.id}": render_to_string(
                    CALENDAR_STATE_TEMPLATE, {"status": status}, request=request
                )
                for status in statuses
            },
        }
    )
    response["Cache-Control"] = "no-store"
    return response


def _active(statuses: Iterable[selectors.CalendarStatus]) -> bool:
    return any(status.activity != "idle" for status in statuses)


def _first_look_since_connecting(
    request: AuthenticatedHttpRequest, connections: list[Connection]
) -> bool:
    """Whether an account was connected since this browser last saw the list, the redirect after
    any way of connecting (OAuth or a form) included; true once, as the newest is marked seen."""
    newest = max((connection.created_at for connection in connections), default=None)
    seen = request.session.get(SEEN_SESSION_KEY)
    mark = newest.isoformat() if newest is not None else ""
    if seen != mark:
        request.session[SEEN_SESSION_KEY] = mark
    if newest is None or seen == mark:
        return False
    if seen is None:
        return timezone.now() - newest < JUST_CONNECTED
    return seen == "" or newest > datetime.fromisoformat(seen)


@login_required
@require_http_methods(["GET", "POST"])
def connect_icloud(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = forms.ICloudConnectForm(request.POST or None)
    return _connect(
        request,
        form,
        "calendars/connect_icloud.html",
        Connection.Kind.ICLOUD,
        lambda data: services.connection_connect_caldav(
            user=request.user,
            kind=Connection.Kind.ICLOUD,
            server_url="",
            username=data["apple_id"],
            password=data["app_password"],
            ip_address=client_ip(request),
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def connect_caldav(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = forms.CalDAVConnectForm(request.POST or None)
    return _connect(
        request,
        form,
        "calendars/connect_caldav.html",
        Connection.Kind.CALDAV,
        lambda data: services.connection_connect_caldav(
            user=request.user,
            kind=Connection.Kind.CALDAV,
            server_url=data["server_url"],
            username=data["username"],
            password=data["password"],
            ip_address=client_ip(request),
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def connect_ics(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = forms.ICSConnectForm(request.POST or None)
    return _connect(
        request,
        form,
        "calendars/connect_ics.html",
        Connection.Kind.ICS,
        lambda data: services.connection_connect_ics(
            user=request.user, url=data["url"], label=data["label"], ip_address=client_ip(request)
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def connection_credentials(request: AuthenticatedHttpRequest, connection_id: str) -> HttpResponse:
    connection = selectors.get_connection_for_user(request.user, connection_id)
    if connection.kind not in CREDENTIAL_FORMS:
        raise Http404("This account reconnects through its provider's sign-in.")
    form = CREDENTIAL_FORMS[connection.kind](request.POST or None)
    refusal = None
    if request.method == "GET":
        # Said up front, as the connect pages say it: an organization refuses this account.
        policy = services.connection_credentials_refusal(connection)
        if policy is not None:
            messages.warning(request, policy)
    if request.method == "POST" and form.is_valid():
        try:
            services.connection_update_credentials(
                connection=connection, secrets=form.cleaned_data, ip_address=client_ip(request)
            )
        except ProviderError as error:
            form.add_error(None, error_text(error))
        except PlanLimitReached as error:
            refusal = error
        except PolicyRefused as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request, _("%(name)s is connected again.") % {"name": connection.label}
            )
            return redirect("calendars:calendar_list")
    return render(
        request,
        "calendars/connection_credentials.html",
        {"connection": connection, "form": form, "refusal": refusal},
    )


@login_required
@require_http_methods(["GET", "POST"])
def connection_disconnect(request: AuthenticatedHttpRequest, connection_id: str) -> HttpResponse:
    connection = selectors.get_connection_for_user(request.user, connection_id)
    if request.method == "POST":
        services.connection_disconnect(connection=connection, ip_address=client_ip(request))
        messages.success(
            request,
            _(
                "%(name)s is disconnected: its blocks are being removed, then its credentials "
                "deleted."
            )
            % {"name": connection.label},
        )
        return redirect("calendars:calendar_list")
    return render(
        request,
        "calendars/connection_confirm.html",
        {"connection": connection, "action": "disconnect"},
    )


@login_required
@require_http_methods(["GET", "POST"])
def connection_remove(request: AuthenticatedHttpRequest, connection_id: str) -> HttpResponse:
    connection = selectors.get_connection_for_user(request.user, connection_id)
    if request.method == "POST":
        services.connection_remove(connection=connection, ip_address=client_ip(request))
        messages.success(
            request,
            _("%(name)s is being removed, with the blocks Multical made.")
            % {"name": connection.label},
        )
        return redirect("calendars:calendar_list")
    return render(
        request, "calendars/connection_confirm.html", {"connection": connection, "action": "remove"}
    )


def _connect(
    request: AuthenticatedHttpRequest,
    form: django_forms.Form,
    template: str,
    kind: str,
    connect: Callable[[dict], Connection],
) -> HttpResponse:
    """The shared shape of the connect pages: validate, ask the provider, or show why not (the
    plan's limit is said before the form is filled in; an organization's policy, once the
    account is known)."""
    refusal = would_exceed(user=request.user, limit=Limit.CALENDAR_ACCOUNTS)
    if request.method == "GET":
        # Said up front when an organization refuses the kind itself; the account's address is
        # weighed once it is given.
        policy = connect_refusal(user=request.user, kind=kind)
        if policy is not None:
            messages.warning(request, policy)
    if request.method == "POST" and form.is_valid():
        known = known_connections(request.user)
        try:
            connection = connect(form.cleaned_data)
        except ProviderError as error:
            form.add_error(None, error_text(error))
        except PlanLimitReached as error:
            refusal = error
        except PolicyRefused as error:
            form.add_error(None, error.message)
        else:
            count = connection.calendars.count()
            added = ngettext(
                "Connected %(name)s: %(count)s calendar.",
                "Connected %(name)s: %(count)s calendars.",
                count,
            ) % {"name": connection.label, "count": count}
            messages.success(request, connect_outcome(connection, known, added=added))
            return redirect("calendars:calendar_list")
    return render(request, template, {"form": form, "refusal": refusal})


def known_connections(user: User) -> dict[uuid.UUID, str]:
    """The user's connections and their states, read before connecting for ``connect_outcome``."""
    return dict(selectors.connections_for_user(user).values_list("id", "status"))


def connect_outcome(
    connection: Connection,
    known: Mapping[uuid.UUID, str],
    *,
    added: str,
    name: str | None = None,
) -> str:
    """What to tell the user once connecting succeeded: ``added`` for a new connection; for one
    they had (``known``), that it came back or that its credentials were updated, by ``name``
    (the connection's label unless given)."""
    name = name or connection.label
    if connection.id not in known:
        return added
    if known[connection.id] == Connection.Status.DISCONNECTED:
        return _("%(name)s is connected again.") % {"name": name}
    return _("%(name)s was already connected: its credentials are updated.") % {"name": name}
