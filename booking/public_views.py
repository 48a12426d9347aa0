"""The pages attendees use: a host's profile, a booking page, the form, and their booking's page.

No sign-in, so every view is rate limited per address, and every lookup answers a plain 404 for
whatever does not exist or is not theirs to see. Everything works without JavaScript; the small
script (static/booking/public.js) picks the browser's zone and clock on the first visit, shows
the times at once when either changes, and keeps what was typed in the form for the tab.

The host's picture and the booking's calendar file are served here too, by their own addresses:
the picture's names its content, the file's carries the attendee's manage token.

With ``?embed=1`` the booking flow (page, form, confirmation) is shown without the site's header
and footer, for another site's frame, and only those responses may be framed, by the sites the
page allows (``booking.embed``). It books without cookies: the form is protected by a signed
token rather than Django's CSRF cookie, and the confirmation is reached with a signed receipt
rather than the session (``booking.form_tokens``).

Each page is in the attendee's language (``speaks_attendee_language``): the page's own when its
host fixed one, else the one they chose on the switcher (kept in a cookie), else, on their
booking's pages, the one they booked in, else their browser's Accept-Language.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import wraps
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.http import content_disposition_header
from django.utils.safestring import mark_safe
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from booking import embed, form_tokens, page_cache
from booking.availability import (
    bookings_version,
    busy_calendar_ids,
    page_slots,
)
from booking.ics import booking_ics, ics_mimetype
from booking.models import Booking, BookingPage, Profile
from booking.pictures import CONTENT_TYPE as PICTURE_CONTENT_TYPE
from booking.public_calendar import calendar_links
from booking.public_display import (
    LANGUAGE_PARAM,
    Viewer,
    date_words,
    default_clock,
    format_start,
    format_when,
    heading_day,
    language_asked,
    length_refusal,
    month_weeks,
    month_words,
    offers_a_length,
    parse_day,
    parse_month,
    parse_start,
    supported_language,
    viewer_from,
    weekday_names,
    zone_options,
)
from booking.public_forms import BookingForm, CancelForm, new_submission_key
from booking.selectors.owner import public_page_path
from booking.selectors.public import (
    get_booking_by_token,
    get_profile,
    get_profile_picture,
    get_public_page,
    listed_pages,
)
from booking.services.bookings import (
    BookingClosed,
    BusyUnknown,
    LengthNotOffered,
    SlotUnavailable,
    booking_cancel,
    booking_create,
    booking_reschedule,
)
from booking.slots import Refusal, local_day_window, slots_by_day
from booking.tokens import manage_path
from calendars.busy import busy_versions
from integrations.base import Window
from multical.lib import rate_limits
from multical.lib.framing import framable

# How long a rendered month of open times is reused: it also bounds how long a time stays offered
# after its notice has passed (the booking itself re-checks).
PICKER_SECONDS = 60
# A time is offered only while it can still be booked a while after the page is shown: the
# rendered month is served for up to PICKER_SECONDS, and the attendee needs a moment for the form.
OFFER_LEAD = timedelta(seconds=PICKER_SECONDS, minutes=5)
# What the language cookie's SameSite setting may be (settings.LANGUAGE_COOKIE_SAMESITE).
SameSite = Literal["Lax", "Strict", "None"]
# Bookings this browser made, so that its confirmation page shows them to it and nobody else.
SESSION_KEY = "booking:made"
# A picture's address names its content (its digest): whoever has it may keep it for a year.
PICTURE_CACHE_CONTROL = "public, max-age=31536000, immutable"
# How far a refused form looks for other times when the refused time's day has none left.
OTHER_TIMES_DAYS = 14


browsing_limit = rate_limits.ratelimit(
    group="booking-browse", rate=rate_limits.setting_rate("BOOKING_BROWSE_RATE")
)
submitting_limit = rate_limits.ratelimit(
    group="booking-submit", rate=rate_limits.setting_rate("BOOKING_SUBMIT_RATE"), method="POST"
)


def speaks_attendee_language(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Runs ``view`` in the language the attendee asked for (``language_asked``), which the view
    may settle otherwise once it has the page or booking (``_speak``), over the owner's language
    that ``accounts.middleware`` activated. A language chosen on the switcher is kept in a cookie, and the response says which
    language it is in and that it varies with what the browser sends."""

    @wraps(view)
    def in_language(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with translation.override(language_asked(request).code):
            response = view(request, *args, **kwargs)
            spoken = translation.get_language()
        chosen = supported_language(request.GET.get(LANGUAGE_PARAM))
        if chosen:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                chosen,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                samesite=cast(SameSite, settings.LANGUAGE_COOKIE_SAMESITE),
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            )
        response.headers.setdefault("Content-Language", spoken)
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        return response

    return in_language


def _speak(
    request: HttpRequest, *, page: BookingPage | None = None, booking: Booking | None = None
) -> str:
    """Settle the language of this response and make it the active one: the page's when its host
    fixed one, else the attendee's choice on the switcher, else the booking's, else their
    browser's."""
    asked = language_asked(request)
    if page is not None and supported_language(page.language):
        code = page.language
    elif booking is not None and not asked.chosen and supported_language(booking.language):
        code = booking.language
    else:
        code = asked.code
    translation.activate(code)  # undone by speaks_attendee_language when the view returns
    return code


def _render(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    page: BookingPage | None = None,
    status: int = 200,
    flow: bool = False,
) -> HttpResponse:
    """``template`` with the language switcher, unless ``page`` fixes its language. A step of the
    booking ``flow`` (the times, the form, the confirmation), asked for embedded
    (``booking.embed``), is shown without the site's header and footer (the switcher with them),
    and may be framed by the sites ``page`` allows; nothing else is ever embedded."""
    fixed = page is not None and bool(supported_language(page.language))
    embedded = flow and page is not None and embed.embedded(request)
    response = render(
        request,
        template,
        {
            **context,
            "languages": [] if fixed or embedded else _switcher(request),
            "embed": embedded,
        },
        status=status,
    )
    if embedded and page is not None:
        embed.framed_by_page(response, page)
    return response


def _switcher(request: HttpRequest) -> list[dict[str, object]]:
    """Each language, named in itself, with a link to this page in it."""
    current = translation.get_language()
    params = request.GET.copy()
    params.pop(LANGUAGE_PARAM, None)
    kept = params.urlencode()
    query = f"{kept}&" if kept else ""
    return [
        {
            "code": code,
            "name": name,
            "href": f"{request.path}?{query}{LANGUAGE_PARAM}={code}",
            "current": code == current,
        }
        for code, name in settings.LANGUAGES
    ]


@browsing_limit
@speaks_attendee_language
def profile(request: HttpRequest, handle: str) -> HttpResponse:
    host = get_profile(handle)
    pages = listed_pages(host)
    return _render(request, "booking/public/profile.html", {"host": host, "pages": pages})


@browsing_limit
@require_safe
def picture(request: HttpRequest, handle: str, digest: str) -> HttpResponse:
    """The host's picture, as we encoded it (``booking.pictures``): the same bytes for as long as
    the address exists, so it is cached for good, and never sniffed as anything but an image."""
    found = get_profile_picture(handle, digest)
    response = HttpResponse(bytes(found.image), content_type=PICTURE_CONTENT_TYPE)
    response["Cache-Control"] = PICTURE_CACHE_CONTROL
    response["X-Content-Type-Options"] = "nosniff"
    return response


@framable
@browsing_limit
@speaks_attendee_language
def page(request: HttpRequest, handle: str, slug: str) -> HttpResponse:
    found = page_cache.lookup(request, handle, slug)
    if found.html is not None:
        translation.activate(found.language)  # undone by speaks_attendee_language
        return page_cache.kept_response(request, found)
    booking_page = get_public_page(handle, slug)
    language = _speak(request, page=booking_page)
    if not offers_a_length(booking_page):
        return _not_bookable(request, booking_page)
    viewer = _viewer(request, request.GET, booking_page, language)
    calendar_ids = busy_calendar_ids(booking_page)
    picker, complete = _page_picker(request, booking_page, viewer, calendar_ids)
    response = _render(
        request,
        "booking/public/page.html",
        {
            "page": booking_page,
            "host": _host(booking_page),
            "viewer": viewer,
            "picker": picker,
        },
        page=booking_page,
        flow=True,
    )
    if complete:
        page_cache.keep(
            request,
            handle,
            slug,
            found,
            page=booking_page,
            calendar_ids=calendar_ids,
            response=response,
            language=language,
        )
    return response


def _viewer(request: HttpRequest, params: Any, booking_page: BookingPage, language: str) -> Viewer:
    return viewer_from(
        params,
        booking_page,
        clock=default_clock(request, language),
        language=language,
        embed=embed.embedded(request),
    )


def _page_picker(
    request: HttpRequest, booking_page: BookingPage, viewer: Viewer, calendar_ids: list[str]
) -> tuple[str, bool]:
    """The month and its times, rendered, and whether they are complete (every calendar was
    read); kept for a minute in the shared cache, under a key that changes with the page, its
    calendars' busy time and the owner's bookings, so every visitor after the first gets it
    without computing. What it shows is open times only; a booking re-checks everything live
    anyway."""
    key = _picker_key(request, booking_page, viewer, calendar_ids)
    html = cache.get(key)
    complete = html is not None
    if html is None:
        picker = _slot_picker(request, booking_page, viewer)
        book_url = reverse(
            "booking_public:book",
            kwargs={
                "handle": booking_page.owner.booking_profile.handle,
                "slug": booking_page.public_slug,
            },
        )
        html = render_to_string(
            "booking/public/picker.html",
            {"viewer": viewer, "action": "book", "book_url": book_url, **picker},
            request=request,
        )
        complete = not picker["unavailable"]
        if complete:  # an unreadable calendar is asked again next time
            cache.set(key, html, PICKER_SECONDS)
    return mark_safe(html), complete  # noqa: S308 - rendered by our own template, escaped there


def _picker_key(
    request: HttpRequest, booking_page: BookingPage, viewer: Viewer, calendar_ids: list[str]
) -> str:
    versions = busy_versions(calendar_ids)
    parts = [
        str(booking_page.id),
        booking_page.updated_at.isoformat(),
        bookings_version(booking_page.owner_id),
        *(f"{i}={versions[i]}" for i in sorted(calendar_ids)),
        str(int(timezone.now().timestamp() // PICKER_SECONDS)),
        viewer.query(),
        viewer.language,
        request.GET.get("month", ""),
        request.GET.get("day", ""),
    ]
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()
    return f"booking:picker:{digest}"


@framable
@browsing_limit
@submitting_limit
@require_http_methods(["GET", "POST"])
@form_tokens.form_token_protected(form_tokens.BOOK)
@speaks_attendee_language
def book(request: HttpRequest, handle: str, slug: str) -> HttpResponse:
    booking_page = get_public_page(handle, slug, switched_off=True)
    language = _speak(request, page=booking_page)
    posted = request.method == "POST"
    if posted:
        token = form_tokens.posted_form_token(request)
        forged = form_tokens.page_refusal(token, booking_page)
        if forged:
            return _refused(request, booking_page, forged)
    if not booking_page.active:
        return _stopped(request, booking_page)
    if not offers_a_length(booking_page):
        return _not_bookable(request, booking_page)
    params = request.POST if posted else request.GET
    viewer = _viewer(request, params, booking_page, language)
    # A refused form offers the day's other times; the time it was refused for stays its default.
    start = parse_start(params.get("other_start") or params.get("start", ""))
    if start is None:
        messages.info(request, _("Pick a time first."))
        return redirect(_page_url(booking_page, viewer))
    wrong_length = length_refusal(params, booking_page, required=posted)
    if not posted:
        if wrong_length:
            messages.warning(request, wrong_length)
            return redirect(_page_url(booking_page, viewer))
        if start <= timezone.now():
            messages.info(request, _("This time has passed. Pick another one."))
            return redirect(_page_url(booking_page, viewer))
        form = BookingForm(page=booking_page, initial={"submission": new_submission_key()})
        return _book_form(request, booking_page, viewer, form, start)
    form = BookingForm(request.POST, page=booking_page)
    valid = form.is_valid()
    if wrong_length:
        form.add_error(None, wrong_length)
        return _book_form(request, booking_page, viewer, form, start, choose_length=True)
    if not valid:
        return _book_form(request, booking_page, viewer, form, start)
    # Whether the page is on and offers the length was settled above, on this same page row.
    try:
        booking = booking_create(
            page=booking_page,
            start=start,
            duration=viewer.duration,
            attendee_name=form.cleaned_data["name"],
            attendee_email=form.cleaned_data["email"],
            attendee_time_zone=viewer.zone.key,
            attendee_clock=viewer.clock,
            attendee_language=language,
            answers=form.answers(),
            submission_key=form.cleaned_data["submission"],
        )
    except SlotUnavailable as error:
        form.add_error(None, str(error))
        announce = _("That time was just taken, pick another.")
        if error.reason != Refusal.TAKEN:
            announce = _("%(reason)s Pick another time.") % {"reason": error}
        return _book_form(
            request, booking_page, viewer, form, start, other_times=True, announce=announce
        )
    except BusyUnknown as error:
        form.add_error(None, str(error))
        return _book_form(request, booking_page, viewer, form, start, announce=str(error))
    except (LengthNotOffered, BookingClosed):
        # The host changed the page between the checks above and the booking: read it again.
        booking_page.refresh_from_db()
        if not booking_page.active:
            return _stopped(request, booking_page)
        refusal = length_refusal(params, booking_page, required=True)
        form.add_error(None, refusal or _("Choose a meeting length."))
        return _book_form(request, booking_page, viewer, form, start, choose_length=True)
    booked_url = reverse(
        "booking_public:booked", kwargs={"handle": handle, "slug": slug, "booking_id": booking.id}
    )
    if viewer.embed:
        # No session in another site's frame: the confirmation's address carries a receipt.
        receipt = form_tokens.receipt(booking)
        return redirect(f"{booked_url}?{viewer.query(**{form_tokens.RECEIPT_PARAM: receipt})}")
    remember_made_here(request, booking)
    return redirect(f"{booked_url}?{viewer.query()}")


def remember_made_here(request: HttpRequest, booking: Booking) -> None:
    """This browser made ``booking``: its confirmation page may show it here (the last 20)."""
    request.session[SESSION_KEY] = [str(booking.id), *request.session.get(SESSION_KEY, [])][:20]


def made_here(request: HttpRequest, booking_id: object) -> bool:
    return str(booking_id) in request.session.get(SESSION_KEY, [])


def _book_form(
    request: HttpRequest,
    booking_page: BookingPage,
    viewer: Viewer,
    form: BookingForm,
    start: datetime,
    *,
    choose_length: bool = False,
    other_times: bool = False,
    announce: str = "",
) -> HttpResponse:
    """The form, as first shown or sent back with all that was typed. ``choose_length``: the
    length is asked again among those offered now; ``other_times``: the times still free on the
    same day (or, with none left there, the next day that has some) are offered instead of the
    refused one; ``announce``: what screen readers are told, politely, once it is shown."""
    alternatives = _other_times(booking_page, viewer, start) if other_times else None
    return _render(
        request,
        "booking/public/book.html",
        {
            "page": booking_page,
            "host": _host(booking_page),
            "viewer": viewer,
            "form": form,
            "start_code": format_start(start),
            "when": viewer.when(start) if choose_length else _meeting_when(start, viewer),
            "length_choices": booking_page.durations if choose_length else None,
            "other_times": alternatives.times if alternatives else None,
            "day_label": viewer.day_label(alternatives.first if alternatives else start),
            "back_url": _page_url(booking_page, viewer, day=_local_day(start, viewer)),
            "announce": announce,
            "form_token": form_tokens.form_token(booking_page, purpose=form_tokens.BOOK),
        },
        page=booking_page,
        flow=True,
    )


def _meeting_when(start: datetime, viewer: Viewer) -> str:
    return viewer.when(start, start + timedelta(minutes=viewer.duration))


@dataclass(frozen=True, slots=True)
class _OtherTimes:
    first: datetime  # the first of them, which names their day
    times: list[dict[str, str]]


def _other_times(booking_page: BookingPage, viewer: Viewer, start: datetime) -> _OtherTimes | None:
    """The times still offered on ``start``'s day where the attendee is, but ``start`` itself;
    when none is left that day, those of the next day that has some (within
    ``OTHER_TIMES_DAYS``), so that the attendee picks again on the form they filled in. None
    when the calendars cannot be read just now; no times at all when nothing is free."""
    first_day = _local_day(start, viewer)
    found = page_slots(
        booking_page,
        now=timezone.now(),
        lead=OFFER_LEAD,
        window=Window(
            local_day_window(first_day, viewer.zone).start,
            local_day_window(first_day + timedelta(days=OTHER_TIMES_DAYS), viewer.zone).start,
        ),
        duration=viewer.duration,
    )
    if found.unreadable:
        return None
    for _day, slots in sorted(slots_by_day(found.slots, viewer.zone).items()):
        others = [slot for slot in slots if slot != start]
        if others:
            return _OtherTimes(
                first=others[0],
                times=[
                    {"code": format_start(slot), "label": viewer.time_label(slot)}
                    for slot in others
                ],
            )
    return _OtherTimes(first=start, times=[])


def _stopped(request: HttpRequest, booking_page: BookingPage) -> HttpResponse:
    """Someone had the page open when its owner switched it off: say so, rather than a bare 404."""
    return _render(
        request,
        "booking/public/stopped.html",
        {"page": booking_page, "host": _host(booking_page)},
        page=booking_page,
        status=410,
        flow=True,
    )


def _refused(request: HttpRequest, booking_page: BookingPage, reason: str) -> HttpResponse:
    """A booking form we cannot take (``form_tokens.page_refusal``): the CSRF failure page, which
    says to reload the form and send it again; inside a frame, as the page allows."""
    response = form_tokens.refuse(request, reason)
    if embed.embedded(request):
        embed.framed_by_page(response, booking_page)
    return response


def _not_bookable(request: HttpRequest, booking_page: BookingPage) -> HttpResponse:
    """An active page that offers no meeting length: nothing can be booked, and it says so."""
    return _render(
        request,
        "booking/public/stopped.html",
        {"page": booking_page, "host": _host(booking_page), "no_length": True},
        page=booking_page,
        flow=True,
    )


@framable
@browsing_limit
@speaks_attendee_language
def booked(request: HttpRequest, handle: str, slug: str, booking_id: str) -> HttpResponse:
    """The confirmation, for the browser that booked: its session says so, or (embedded, with no
    session) the receipt in the address does."""
    # The page may be switched off a moment after the booking: the booking stands all the same.
    booking_page = get_public_page(handle, slug, switched_off=True)
    receipt = request.GET.get(form_tokens.RECEIPT_PARAM, "")
    if not (made_here(request, booking_id) or form_tokens.receipt_matches(receipt, booking_id)):
        raise Http404
    booking = Booking.objects.filter(id=booking_id, page=booking_page).first()
    if booking is None:  # deleted by the host since
        raise Http404
    language = _speak(request, page=booking_page, booking=booking)
    return _render(
        request,
        "booking/public/booked.html",
        {
            "page": booking_page,
            "host": _host(booking_page),
            "booking": booking,
            "when": _booking_when(booking, language),
            "manage_path": manage_path(booking),
            "calendar": calendar_links(booking),
            "booked_event": embed.booked_event(booking, booking_page),
        },
        page=booking_page,
        flow=True,
    )


@browsing_limit
@speaks_attendee_language
def manage(request: HttpRequest, booking_id: str, token: str) -> HttpResponse:
    booking = get_booking_by_token(booking_id, token)
    language = _speak(request, page=booking.page, booking=booking)
    cancelled = booking.cancelled_at or booking.updated_at
    cancelled_on = date_words(timezone.localtime(cancelled, _zone(booking)).date(), language)
    return _render(
        request,
        "booking/public/manage.html",
        {
            "booking": booking,
            "host": booking.owner.booking_profile,
            "when": _booking_when(booking, language),
            "cancelled_on": cancelled_on,
            "token": token,
            "is_over": booking.end <= timezone.now(),
            "calendar": calendar_links(booking),
        },
        page=booking.page,
    )


@browsing_limit
@submitting_limit
@require_http_methods(["GET", "POST"])
@speaks_attendee_language
def cancel(request: HttpRequest, booking_id: str, token: str) -> HttpResponse:
    booking = get_booking_by_token(booking_id, token)
    language = _speak(request, page=booking.page, booking=booking)
    if booking.is_cancelled or booking.end <= timezone.now():
        return redirect("booking_public:manage", booking_id=booking.id, token=token)
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        booking_cancel(
            booking=booking, actor=Booking.Actor.ATTENDEE, reason=form.cleaned_data["reason"]
        )
        messages.success(request, _("Your booking is cancelled. We let the host know."))
        return redirect("booking_public:manage", booking_id=booking.id, token=token)
    return _render(
        request,
        "booking/public/cancel.html",
        {
            "booking": booking,
            "host": booking.owner.booking_profile,
            "when": _booking_when(booking, language),
            "token": token,
            "form": form,
        },
        page=booking.page,
    )


@browsing_limit
@require_safe
def calendar_file(request: HttpRequest, booking_id: str, token: str) -> HttpResponse:
    """The booking as an iCalendar file to import (``booking_ics``, published), for the one who
    has the link; in the language the attendee booked in, like their e-mails."""
    booking = get_booking_by_token(booking_id, token)
    response = HttpResponse(
        booking_ics(booking, download=True),
        content_type=f"{ics_mimetype(booking, download=True)}; charset=utf-8",
    )
    name = slugify(booking.title, allow_unicode=True) or "booking"
    response["Content-Disposition"] = content_disposition_header(True, f"{name}.ics")
    # The attendee's address and their link to change the booking are in it.
    response["Cache-Control"] = "private, no-store"
    return response


@browsing_limit
@submitting_limit
@require_http_methods(["GET", "POST"])
@speaks_attendee_language
def reschedule(request: HttpRequest, booking_id: str, token: str) -> HttpResponse:
    booking = get_booking_by_token(booking_id, token)
    booking_page = booking.page
    language = _speak(request, page=booking_page, booking=booking)
    if booking.is_cancelled or booking.end <= timezone.now():
        return redirect("booking_public:manage", booking_id=booking.id, token=token)
    if booking_page is None or not booking_page.active:
        messages.info(
            request, _("This page stopped taking bookings, so the time cannot be changed.")
        )
        return redirect("booking_public:manage", booking_id=booking.id, token=token)
    duration = int((booking.end - booking.start).total_seconds() // 60)
    params = request.POST if request.method == "POST" else request.GET
    base = viewer_from(
        params,
        booking_page,
        zone=booking.attendee_time_zone,
        clock=booking.attendee_clock,
        language=language,
    )
    viewer = Viewer(zone=base.zone, clock=base.clock, duration=duration, language=language)
    start = parse_start(request.POST.get("start", "")) if request.method == "POST" else None
    announce = ""
    if request.method == "POST" and start is None:
        messages.warning(request, _("Pick a time first."))
    elif start is not None:
        try:
            booking_reschedule(booking=booking, start=start, actor=Booking.Actor.ATTENDEE)
        except (SlotUnavailable, BusyUnknown, BookingClosed) as error:
            messages.warning(request, str(error))
            announce = str(error)
            if isinstance(error, SlotUnavailable) and error.reason == Refusal.TAKEN:
                announce = _("That time was just taken, pick another.")
        else:
            messages.success(request, _("Your booking is moved. We sent you the new details."))
            return redirect("booking_public:manage", booking_id=booking.id, token=token)
    picker = _slot_picker(request, booking_page, viewer, rescheduling=booking)
    return _render(
        request,
        "booking/public/reschedule.html",
        {
            "booking": booking,
            "host": booking.owner.booking_profile,
            "when": viewer.when(booking.start, booking.end),
            "page": booking_page,
            "viewer": viewer,
            "token": token,
            "announce": announce,
            **picker,
        },
        page=booking_page,
    )


def _host(booking_page: BookingPage) -> Profile:
    return booking_page.owner.booking_profile


def _booking_when(booking: Booking, language: str) -> str:
    """The booking's time in the zone and on the clock the attendee booked with."""
    return format_when(
        booking.start, booking.end, booking.attendee_time_zone, booking.attendee_clock, language
    )


def _zone(booking: Booking) -> ZoneInfo:
    try:
        return ZoneInfo(booking.attendee_time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True, slots=True)
class PickerMonth:
    """The month an attendee looks at, bounded by today and the page's horizon, and its window."""

    today: date
    last_day: date
    month: date
    next_month: date
    window: Window


def picker_month(
    request: HttpRequest, viewer: Viewer, *, now: datetime, horizon_days: int
) -> PickerMonth:
    today = now.astimezone(viewer.zone).date()
    last_day = today + timedelta(days=horizon_days + 1)
    month = parse_month(request.GET.get("month", ""), today)
    month = min(max(month, today.replace(day=1)), last_day.replace(day=1))
    next_month = (month + timedelta(days=32)).replace(day=1)
    window = Window(
        local_day_window(month, viewer.zone).start, local_day_window(next_month, viewer.zone).start
    )
    return PickerMonth(today, last_day, month, next_month, window)


def picker_context(
    request: HttpRequest,
    viewer: Viewer,
    shown: PickerMonth,
    starts: Iterable[datetime],
    *,
    unavailable: bool,
) -> dict[str, object]:
    """The picker's words: the month's days with free times, and the chosen day's times."""
    by_day = slots_by_day(starts, viewer.zone)
    chosen = parse_day(request.GET.get("day", ""))
    if chosen not in by_day:
        chosen = min(by_day) if by_day else None
    query = viewer.query()
    month = shown.month
    return {
        "unavailable": unavailable,
        "query": query,
        "month": month,
        "weeks": month_weeks(
            month,
            open_days={day: len(day_starts) for day, day_starts in by_day.items()},
            query=query,
            language=viewer.language,
        ),
        "weekdays": weekday_names(viewer.language),
        "month_heading": month_words(month, viewer.language),
        "chosen_day": chosen,
        "chosen_heading": heading_day(chosen, viewer.language) if chosen else "",
        "times": [
            {"label": viewer.time_label(start), "code": format_start(start)}
            for start in by_day.get(chosen, [])
        ]
        if chosen
        else [],
        "previous_month": month - timedelta(days=1) if month > shown.today.replace(day=1) else None,
        "next_month": shown.next_month if shown.next_month <= shown.last_day else None,
        "zone_options": zone_options(viewer.zone.key),
    }


def _slot_picker(
    request: HttpRequest,
    booking_page: BookingPage,
    viewer: Viewer,
    *,
    rescheduling: Booking | None = None,
) -> dict[str, object]:
    """The month the attendee looks at, its days with free times, and the chosen day's times."""
    now = timezone.now()
    shown = picker_month(request, viewer, now=now, horizon_days=booking_page.horizon_days)
    found = page_slots(
        booking_page,
        now=now,
        lead=OFFER_LEAD,
        window=shown.window,
        duration=viewer.duration,
        rescheduling=rescheduling,
    )
    return picker_context(request, viewer, shown, found.slots, unavailable=bool(found.unreadable))


def _page_url(booking_page: BookingPage, viewer: Viewer, *, day: date | None = None) -> str:
    extra = {"day": day.isoformat(), "month": day.strftime("%Y-%m")} if day else {}
    return f"{public_page_path(booking_page)}?{viewer.query(**extra)}"


def _local_day(moment: datetime, viewer: Viewer) -> date:
    return moment.astimezone(viewer.zone).date()
