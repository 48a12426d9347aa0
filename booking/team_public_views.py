"""The pages attendees use for an organization's team pages, under its public handle.

People and organizations share one namespace of handles (``booking.handles``), so
``/book/<handle>/...`` is first looked up as an organization's (one indexed query); anything
else goes on to the person's pages in ``booking.public_views``. The team flow follows the
personal one: the page with its month of open times (computed by ``booking.team_slots`` from
each member's busy time and bookings, shown in the viewer's zone and clock), the form, and the
confirmation that names who the attendee will meet. The form asks the page's own questions, and
the answers go with the booking to every member who meets the attendee.

A team page is embedded in other sites as a person's is (``booking.embed``): ``?embed=1`` on the
page, its times, its form and its confirmation, each of them framable by the sites the team page
allows, and only those. So the form books without a cookie, as the personal one does: a signed
form token instead of Django's CSRF cookie, and a receipt instead of the session for an embedded
confirmation (``booking.form_tokens``). Cancelling and moving use the booking's links, as every
booking does (``public_views.manage`` and friends; moving a team booking is ``reschedule``
here); those are never framed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from booking import embed, form_tokens, public_views
from booking.availability import bookings_version_key
from booking.handles import organization_for_handle
from booking.models import Booking, OrgHandle, Profile, TeamPage, TeamPageMember
from booking.public_calendar import calendar_links
from booking.public_display import (
    Viewer,
    default_clock,
    format_start,
    language_asked,
    parse_start,
    viewer_from,
)
from booking.public_forms import BookingForm, new_submission_key
from booking.public_views import (
    OFFER_LEAD,
    PICKER_SECONDS,
    _booking_when,
    _render,
    browsing_limit,
    made_here,
    picker_context,
    picker_month,
    remember_made_here,
    speaks_attendee_language,
    submitting_limit,
)
from booking.selectors.public import get_booking_by_token
from booking.services.bookings import BookingClosed, BusyUnknown, LengthNotOffered, SlotUnavailable
from booking.services.teams import team_booking_create, team_booking_reschedule
from booking.team_availability import (
    team_busy_calendar_ids,
    team_members,
    team_pages_version,
    team_slots,
)
from booking.tokens import manage_path
from calendars.busy import busy_versions
from multical.lib.framing import RESPONSE_ATTRIBUTE, allow_framing, framable

# ``booking_public`` URL names, each answered here for an organization's handle. The personal
# views' marks stay on their dispatchers: ``page``, ``book`` and ``booked`` may be framed (each
# response decides), and ``book`` is exempt from Django's CSRF check, since both forms check
# their own form token instead (``form_tokens.form_token_protected``).


def profile_or_team(request: HttpRequest, handle: str) -> HttpResponse:
    if organization_for_handle(handle):
        return team_list(request, handle)
    return public_views.profile(request, handle)


@framable
def page_or_team(request: HttpRequest, handle: str, slug: str) -> HttpResponse:
    if organization_for_handle(handle):
        return team_page(request, handle, slug)
    return public_views.page(request, handle, slug)


@framable
@csrf_exempt
def book_or_team(request: HttpRequest, handle: str, slug: str) -> HttpResponse:
    if organization_for_handle(handle):
        return team_book(request, handle, slug)
    return public_views.book(request, handle, slug)


@framable
def booked_or_team(request: HttpRequest, handle: str, slug: str, booking_id: str) -> HttpResponse:
    if organization_for_handle(handle):
        return team_booked(request, handle, slug, booking_id)
    return public_views.booked(request, handle, slug, booking_id)


def reschedule_or_team(request: HttpRequest, booking_id: str, token: str) -> HttpResponse:
    if Booking.objects.filter(id=booking_id, team_page__isnull=False).exists():
        return team_reschedule(request, booking_id, token)
    return public_views.reschedule(request, booking_id, token)


def _get_page(handle: str, slug: str, *, switched_off: bool = False) -> TeamPage:
    pages = TeamPage.objects.select_related("organization").filter(
        organization__booking_handle__handle=handle, slug=slug
    )
    if not switched_off:
        pages = pages.filter(active=True)
    return get_object_or_404(pages)


def _team(members: list[TeamPageMember]) -> list[Profile]:
    """How the members are shown: their public profiles (their name and picture)."""
    return [member.user.booking_profile for member in members]


def _viewer(request: HttpRequest, page: TeamPage, params: Any) -> Viewer:
    language = translation.get_language()
    return viewer_from(
        params,
        cast(Any, page),
        clock=default_clock(request, language),
        language=language,
        embed=embed.embedded(request),
    )


def _render_step(
    request: HttpRequest, template: str, context: dict[str, Any], *, page: TeamPage
) -> HttpResponse:
    """A step of the booking flow (the times, the form, the confirmation): asked for embedded,
    without the site's header and footer and framable by the sites ``page`` allows; else as any
    public page (``public_views._render``)."""
    if not embed.embedded(request):
        return _render(request, template, context)
    response = render(request, template, {**context, "languages": [], "embed": True})
    embed.framed_by_page(response, page)
    return response


@browsing_limit
@speaks_attendee_language
def team_list(request: HttpRequest, handle: str) -> HttpResponse:
    # Kept a minute for visitors who bring nothing, under the organization's version of its pages
    # (``team_pages_version``: any change to the organization, its pages or their members), so a
    # kept list is found without a query. The members' names and pictures may lag that minute.
    key = None
    if _brings_nothing(request) and (organization_id := organization_for_handle(handle)):
        key = "booking:team-list:" + _digest(
            [
                organization_id,
                team_pages_version(organization_id),
                str(int(timezone.now().timestamp() // PICKER_SECONDS)),
                translation.get_language(),
                request.get_full_path(),
            ]
        )
    kept = _kept(key, request)
    if kept is not None:
        return kept
    organization = get_object_or_404(
        OrgHandle.objects.select_related("organization"), handle=handle
    )
    listed = TeamPage.objects.filter(
        organization_id=organization.organization_id, active=True
    ).exclude(durations=[])
    pages = [(page, _team(team_members(page))) for page in listed.order_by("title", "id")]
    response = _render(
        request,
        "booking/public/team_list.html",
        {"organization": organization.organization, "handle": handle, "pages": pages},
    )
    _keep(key, request, response)
    return response


@browsing_limit
@speaks_attendee_language
def team_page(request: HttpRequest, handle: str, slug: str) -> HttpResponse:
    # Whole pages are kept a minute for visitors who bring nothing of their own, as personal pages
    # are (``booking.page_cache``): the address's entry names what the page depends on, so a
    # kept page is found without a query. The members' names and pictures may lag that minute.
    entry_key = None
    if _brings_nothing(request):
        organization_id = organization_for_handle(handle)
        version = team_pages_version(organization_id)
        entry_key = f"booking:team-entry:{organization_id}:{version}:{slug}"
        kept = _kept_by_entry(request, entry_key)
        if kept is not None:
            return kept
    page = _get_page(handle, slug)
    members = team_members(page)
    viewer = _viewer(request, page, request.GET)
    bookable = bool(members and page.durations)
    entry = _Entry(
        page_id=str(page.id),
        updated=page.updated_at.isoformat(),
        durations=list(page.durations),
        time_zone=page.time_zone,
        member_ids=[str(member.user_id) for member in members],
        calendar_ids=team_busy_calendar_ids(members) if bookable else [],
    )
    versions = _versions(request, entry, viewer)
    picker, complete = (
        _picker(request, handle, page, members, viewer, versions) if bookable else ("", False)
    )
    response = _render_step(
        request,
        "booking/public/team_page.html",
        {
            "page": page,
            "team": _team(members),
            "viewer": viewer,
            "picker": picker,
            "bookable": bookable,
            "organization": page.organization,
        },
        page=page,
    )
    if complete and entry_key:  # an unreadable calendar is asked again next time
        cache.set(entry_key, entry, PICKER_SECONDS)
        _keep(_page_key(request, versions), request, response)
    return response


@dataclass(frozen=True, slots=True)
class _Entry:
    """What a team page's open times depend on, besides the viewer, kept by its address."""

    page_id: str
    updated: str
    durations: list[int]
    time_zone: str
    member_ids: list[str]
    calendar_ids: list[str]


def _kept_by_entry(request: HttpRequest, entry_key: str) -> HttpResponse | None:
    entry = cache.get(entry_key)
    if not isinstance(entry, _Entry):
        return None
    # The viewer reads a page's lengths and zone only, which the entry holds.
    viewer = _viewer(request, cast(TeamPage, entry), request.GET)
    return _kept(_page_key(request, _versions(request, entry, viewer)), request)


def _page_key(request: HttpRequest, versions: list[str]) -> str:
    return "booking:team-page:" + _digest([*versions, request.get_full_path()])


def _versions(request: HttpRequest, entry: _Entry, viewer: Viewer) -> list[str]:
    """What the page's open times depend on: the page, its members' busy time and bookings, the
    minute, and what the viewer asked for."""
    busy = busy_versions(entry.calendar_ids)
    booked = cache.get_many([bookings_version_key(member) for member in entry.member_ids])
    return [
        entry.page_id,
        entry.updated,
        *(f"{m}={booked.get(bookings_version_key(m), '')}" for m in entry.member_ids),
        *(f"{i}={busy[i]}" for i in entry.calendar_ids),
        str(int(timezone.now().timestamp() // PICKER_SECONDS)),
        viewer.query(),
        viewer.language,
        request.GET.get("month", ""),
        request.GET.get("day", ""),
    ]


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _picker(
    request: HttpRequest,
    handle: str,
    page: TeamPage,
    members: list[TeamPageMember],
    viewer: Viewer,
    versions: list[str],
) -> tuple[str, bool]:
    """The month and its times, rendered, and whether they are complete (every calendar was
    read); kept for a minute in the shared cache under a key that changes with the page, its
    members' busy time and their bookings (as personal pages do)."""
    key = "booking:team-picker:" + _digest(versions)
    html = cache.get(key)
    complete = html is not None
    if html is None:
        picker = _slot_picker(request, page, members, viewer)
        html = render_to_string(
            "booking/public/picker.html",
            {
                "viewer": viewer,
                "action": "book",
                "book_url": reverse("booking_public:book", args=[handle, page.slug]),
                **picker,
            },
            request=request,
        )
        complete = not picker["unavailable"]
        if complete:  # an unreadable calendar is asked again next time
            cache.set(key, html, PICKER_SECONDS)
    return mark_safe(html), complete  # noqa: S308 - rendered by our own template, escaped there


def _brings_nothing(request: HttpRequest) -> bool:
    """A visitor without a session or a message waiting: shown what any such visitor is."""
    return (
        settings.SESSION_COOKIE_NAME not in request.COOKIES
        and CookieStorage.cookie_name not in request.COOKIES
    )


def _kept(key: str | None, request: HttpRequest) -> HttpResponse | None:
    """The page kept under ``key``, with this response's own CSP nonce, framable by the sites it
    was (none unless it was rendered embedded; its key holds the address, ``?embed=1`` with it,
    and the page's last change, so a page asked for otherwise or changed since is not this one)."""
    found = cache.get(key) if key else None
    if found is None:
        return None
    nonce = str(request.csp_nonce)  # type: ignore[attr-defined]
    response = HttpResponse(found["html"].replace(found["nonce"], nonce))
    allow_framing(response, found.get("frame_ancestors", ()))
    return response


def _keep(key: str | None, request: HttpRequest, response: HttpResponse) -> None:
    if key and response.status_code == 200:
        nonce = str(request.csp_nonce)  # type: ignore[attr-defined]
        html = response.content.decode()
        ancestors = list(getattr(response, RESPONSE_ATTRIBUTE, ()))
        kept = {"html": html, "nonce": nonce, "frame_ancestors": ancestors}
        cache.set(key, kept, PICKER_SECONDS)


def _slot_picker(
    request: HttpRequest,
    page: TeamPage,
    members: list[TeamPageMember],
    viewer: Viewer,
    *,
    rescheduling: Booking | None = None,
) -> dict[str, object]:
    """The month the attendee looks at, its days with free times, and the chosen day's times
    (as ``public_views._slot_picker`` has them for a personal page)."""
    now = timezone.now()
    shown = picker_month(request, viewer, now=now, horizon_days=page.horizon_days)
    leaving_out = []
    if rescheduling is not None:
        leaving_out = [rescheduling.id, *rescheduling.team_seats.values_list("id", flat=True)]
    found = team_slots(
        page,
        members,
        now=now,
        window=shown.window,
        duration=viewer.duration,
        lead=OFFER_LEAD,
        leaving_out=leaving_out,
    )
    return picker_context(request, viewer, shown, found.starts, unavailable=found.unreadable)


@browsing_limit
@submitting_limit
@require_http_methods(["GET", "POST"])
@form_tokens.form_token_protected(form_tokens.BOOK)
@speaks_attendee_language
def team_book(request: HttpRequest, handle: str, slug: str) -> HttpResponse:
    page = _get_page(handle, slug)
    posted = request.method == "POST"
    if posted:
        forged = form_tokens.page_refusal(form_tokens.posted_form_token(request), cast(Any, page))
        if forged:
            return _refused(request, page, forged)
    members = team_members(page)
    page_url = reverse("booking_public:page", args=[handle, page.slug])
    params = request.POST if posted else request.GET
    viewer = _viewer(request, page, params)
    start = parse_start(params.get("start", ""))
    if start is None or not members or not page.durations:
        messages.info(request, _("Pick a time first."))
        return redirect(f"{page_url}?{viewer.query()}")
    form = BookingForm(
        request.POST if posted else None,
        page=page,
        initial={"submission": new_submission_key()},
    )
    if posted and form.is_valid():
        try:
            booking = team_booking_create(
                page=page,
                start=start,
                duration=viewer.duration,
                attendee_name=form.cleaned_data["name"],
                attendee_email=form.cleaned_data["email"],
                attendee_time_zone=viewer.zone.key,
                attendee_clock=viewer.clock,
                attendee_language=language_asked(request).code,
                answers=form.answers(),
                submission_key=form.cleaned_data["submission"],
            )
        except (SlotUnavailable, BusyUnknown, BookingClosed, LengthNotOffered) as error:
            form.add_error(None, str(error))
        else:
            booked_url = reverse("booking_public:booked", args=[handle, page.slug, booking.id])
            if viewer.embed:
                # No session in another site's frame: the confirmation's address has a receipt.
                receipt = form_tokens.receipt(booking)
                return redirect(
                    f"{booked_url}?{viewer.query(**{form_tokens.RECEIPT_PARAM: receipt})}"
                )
            remember_made_here(request, booking)
            return redirect(f"{booked_url}?{viewer.query()}")
    return _render_step(
        request,
        "booking/public/team_book.html",
        {
            "page": page,
            "team": _team(members),
            "viewer": viewer,
            "form": form,
            "start_code": format_start(start),
            "when": viewer.when(start, start + timedelta(minutes=viewer.duration)),
            "back_url": f"{page_url}?{viewer.query()}",
            "form_token": form_tokens.form_token(cast(Any, page), purpose=form_tokens.BOOK),
        },
        page=page,
    )


def _refused(request: HttpRequest, page: TeamPage, reason: str) -> HttpResponse:
    """A form we cannot take (``form_tokens.page_refusal``): the CSRF failure page, which says to
    reload the form; inside a frame, as the page allows."""
    response = form_tokens.refuse(request, reason)
    if embed.embedded(request):
        embed.framed_by_page(response, page)
    return response


@browsing_limit
@speaks_attendee_language
def team_booked(request: HttpRequest, handle: str, slug: str, booking_id: str) -> HttpResponse:
    """The confirmation, for the browser that booked: its session says so, or (embedded, with
    no session) the receipt in the address does. It names who the attendee meets."""
    page = _get_page(handle, slug, switched_off=True)
    receipt = request.GET.get(form_tokens.RECEIPT_PARAM, "")
    if not (made_here(request, booking_id) or form_tokens.receipt_matches(receipt, booking_id)):
        raise Http404
    booking = (
        Booking.objects.select_related("owner__booking_profile")
        .filter(id=booking_id, team_page=page, team_lead__isnull=True)
        .first()
    )
    if booking is None:
        raise Http404
    return _render_step(
        request,
        "booking/public/team_booked.html",
        {
            "page": page,
            "booking": booking,
            "meeting": _meeting_with(booking),
            "when": _booking_when(booking, translation.get_language()),
            "manage_path": manage_path(booking),
            "calendar": calendar_links(booking),
            "booked_event": embed.booked_event(booking, page),
        },
        page=page,
    )


def _meeting_with(booking: Booking) -> list[Profile]:
    """Who the attendee meets: the booking's member, and on a collective page every seat's."""
    seats = booking.team_seats.select_related("owner__booking_profile").order_by("created_at")
    owners = [booking.owner, *(seat.owner for seat in seats)]
    return [owner.booking_profile for owner in owners if hasattr(owner, "booking_profile")]


@browsing_limit
@submitting_limit
@require_http_methods(["GET", "POST"])
@speaks_attendee_language
def team_reschedule(request: HttpRequest, booking_id: str, token: str) -> HttpResponse:
    """Move a team booking by its link: the same members, at a time each of them is free."""
    booking = get_booking_by_token(booking_id, token)
    page = booking.team_page
    manage = reverse("booking_public:manage", args=[booking.id, token])
    if booking.is_cancelled or booking.end <= timezone.now() or booking.team_lead_id:
        return redirect(manage)
    if page is None or not page.active:
        messages.info(
            request, _("This page stopped taking bookings, so the time cannot be changed.")
        )
        return redirect(manage)
    owners = {booking.owner_id, *booking.team_seats.values_list("owner_id", flat=True)}
    members = [member for member in team_members(page) if member.user_id in owners]
    duration = int((booking.end - booking.start).total_seconds() // 60)
    params = request.POST if request.method == "POST" else request.GET
    language = translation.get_language()
    base = viewer_from(
        params,
        cast(Any, page),
        zone=booking.attendee_time_zone,
        clock=booking.attendee_clock,
        language=language,
    )
    viewer = Viewer(zone=base.zone, clock=base.clock, duration=duration, language=language)
    start = parse_start(request.POST.get("start", "")) if request.method == "POST" else None
    if request.method == "POST" and start is None:
        messages.warning(request, _("Pick a time first."))
    elif start is not None:
        try:
            team_booking_reschedule(booking=booking, start=start)
        except (SlotUnavailable, BusyUnknown, BookingClosed) as error:
            messages.warning(request, str(error))
        else:
            messages.success(request, _("Your booking is moved. We sent you the new details."))
            return redirect(manage)
    picker = (
        _slot_picker(request, page, members, viewer, rescheduling=booking)
        if len(members) == len(owners)
        else {"unavailable": True}
    )
    return _render(
        request,
        "booking/public/reschedule.html",
        {
            "booking": booking,
            "host": booking.owner.booking_profile,
            "when": viewer.when(booking.start, booking.end),
            "page": page,
            "viewer": viewer,
            "token": token,
            **picker,
        },
    )
