"""The owner's side of booking: their profile, their pages (with a preview of the coming slots) and
the bookings people made, which they can cancel, move or delete."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from accounts.billing.plans import Limit, PlanLimitReached, would_exceed
from accounts.http import AuthenticatedHttpRequest
from booking import forms
from booking.models import Booking, BookingPage
from booking.selectors import owner as selectors
from booking.services import bookings as services
from booking.services import pages

PREVIEW_DAYS = 7
RESCHEDULE_DAYS = 14
BOOKINGS_PER_PAGE = 50


@login_required
@require_GET
def page_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    profile = selectors.profile_for_user(request.user)
    if profile is None:
        # First use: the handle comes first, since every page's address starts with it.
        return render(
            request,
            "booking/page_list.html",
            {"profile": None, "profile_form": forms.ProfileForm(user=request.user)},
        )
    booking_pages = [
        (page, _absolute(selectors.public_page_path(page, handle=profile.handle)))
        for page in selectors.pages_for_user(request.user)
    ]
    return render(
        request,
        "booking/page_list.html",
        {
            "profile": profile,
            "public_profile_url": _absolute(selectors.public_profile_path(profile)),
            "pages": booking_pages,
            "calendar_count": selectors.calendars_for_user(request.user).count(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def profile_edit(request: AuthenticatedHttpRequest) -> HttpResponse:
    profile = selectors.profile_for_user(request.user)
    form = forms.ProfileForm(_posted(request), user=request.user)
    if request.method == "POST" and form.is_valid():
        profile = pages.profile_update(user=request.user, **form.cleaned_data)
        address = _absolute(selectors.public_profile_path(profile))
        messages.success(request, f"Your public address is {address}.")
        return redirect("booking:page_list")
    return render(request, "booking/profile_form.html", {"form": form, "profile": profile})


@login_required
@require_http_methods(["GET", "POST"])
def page_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    if selectors.profile_for_user(request.user) is None:
        messages.info(request, "First choose your public address: your pages' links start with it.")
        return redirect("booking:profile_edit")
    editor = forms.PageForms(_posted(request), user=request.user)
    # Said before the form is filled in; a posted page over the limit is shown again, unsaved.
    refusal = would_exceed(user=request.user, limit=Limit.BOOKING_PAGES)
    if request.method == "POST" and editor.is_valid():
        try:
            page = pages.page_create(owner=request.user, **editor.saved())
        except PlanLimitReached as error:
            refusal = error
        else:
            messages.success(request, f"“{page.title}” is saved. These are the times it offers.")
            return redirect("booking:page_preview", page_id=page.id)
    return _page_form(request, editor, page=None, refusal=refusal)


@login_required
@require_http_methods(["GET", "POST"])
def page_edit(request: AuthenticatedHttpRequest, page_id: str) -> HttpResponse:
    page = selectors.get_page_for_user(request.user, page_id)
    editor = forms.PageForms(_posted(request), user=request.user, page=page)
    if request.method == "POST" and editor.is_valid():
        try:
            pages.page_update(page=page, **editor.saved())
        except PlanLimitReached as refusal:
            return _page_form(request, editor, page=page, refusal=refusal)
        messages.success(request, f"“{page.title}” is saved. These are the times it offers.")
        return redirect("booking:page_preview", page_id=page.id)
    return _page_form(request, editor, page=page)


@login_required
def page_preview(request: AuthenticatedHttpRequest, page_id: str) -> HttpResponse:
    """The times the saved page offers over the next week, as attendees will see them."""
    page = selectors.get_page_for_user(request.user, page_id)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET"])
    duration = _chosen_duration(request, page)
    return render(
        request,
        "booking/page_preview.html",
        {
            "page": page,
            "public_url": _absolute(selectors.public_page_path(page)),
            "preview": selectors.slot_preview(page, duration=duration, days=PREVIEW_DAYS),
            "preview_days": PREVIEW_DAYS,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def page_delete(request: AuthenticatedHttpRequest, page_id: str) -> HttpResponse:
    page = selectors.get_page_for_user(request.user, page_id)
    if request.method == "POST":
        pages.page_delete(page=page)
        messages.success(request, f"“{page.title}” is deleted. Its links no longer work.")
        return redirect("booking:page_list")
    upcoming = selectors.bookings_for_user(request.user, show="upcoming").filter(page=page)
    return render(
        request,
        "booking/page_confirm_delete.html",
        {"page": page, "upcoming_count": upcoming.count()},
    )


@login_required
@require_GET
def booking_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    show = request.GET.get("show", "upcoming")
    if show not in selectors.BOOKING_VIEWS:
        show = "upcoming"
    bookings = selectors.bookings_for_user(request.user, show=show)
    page_of_bookings = Paginator(bookings, BOOKINGS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "booking/booking_list.html",
        {"show": show, "bookings": page_of_bookings, "views": selectors.BOOKING_VIEWS},
    )


@login_required
def booking_detail(request: AuthenticatedHttpRequest, booking_id: str) -> HttpResponse:
    booking = selectors.get_booking_for_user(request.user, booking_id)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET"])
    return render(
        request,
        "booking/booking_detail.html",
        {"booking": booking, **_booking_actions(booking)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def booking_cancel(request: AuthenticatedHttpRequest, booking_id: str) -> HttpResponse:
    booking = selectors.get_booking_for_user(request.user, booking_id)
    if booking.is_cancelled:
        messages.info(request, "This booking is already cancelled.")
        return redirect("booking:booking_detail", booking_id=booking.id)
    form = forms.CancelForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        services.booking_cancel(
            booking=booking, actor=Booking.Actor.OWNER, reason=form.cleaned_data["reason"]
        )
        messages.success(request, f"The booking with {booking.attendee_name} is cancelled.")
        return redirect("booking:booking_detail", booking_id=booking.id)
    return render(request, "booking/booking_cancel.html", {"booking": booking, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def booking_reschedule(request: AuthenticatedHttpRequest, booking_id: str) -> HttpResponse:
    booking = selectors.get_booking_for_user(request.user, booking_id)
    if not _booking_actions(booking)["can_reschedule"]:
        messages.error(request, _why_not_reschedulable(booking))
        return redirect("booking:booking_detail", booking_id=booking.id)
    page = booking.page
    assert page is not None  # a booking whose page is deleted cannot be moved (above)
    form = forms.RescheduleForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.booking_reschedule(
                booking=booking, start=form.cleaned_data["start"], actor=Booking.Actor.OWNER
            )
        except services.SlotUnavailable as error:
            form.add_error("start", f"{error} Choose another one.")
        except services.BusyUnknown:
            form.add_error(
                "start", "A calendar could not be read just now, so nothing was moved. Try again."
            )
        except services.BookingClosed as error:
            messages.error(request, str(error))
            return redirect("booking:booking_detail", booking_id=booking.id)
        else:
            messages.success(request, f"The booking with {booking.attendee_name} is moved.")
            return redirect("booking:booking_detail", booking_id=booking.id)
    duration = int((booking.end - booking.start) / timedelta(minutes=1))
    zone = ZoneInfo(page.time_zone)
    today = timezone.now().astimezone(zone).date()
    first_day = max(_day_asked(request) or today, today)
    start = datetime.combine(first_day, time(0), tzinfo=zone)
    return render(
        request,
        "booking/booking_reschedule.html",
        {
            "booking": booking,
            "form": form,
            "preview": selectors.slot_preview(
                page,
                duration=duration,
                days=RESCHEDULE_DAYS,
                start=start,
                rescheduling=booking,
            ),
            "earlier": first_day - timedelta(days=RESCHEDULE_DAYS) if first_day > today else None,
            "later": first_day + timedelta(days=RESCHEDULE_DAYS),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def booking_delete(request: AuthenticatedHttpRequest, booking_id: str) -> HttpResponse:
    booking = selectors.get_booking_for_user(request.user, booking_id)
    if not _booking_actions(booking)["can_delete"]:
        messages.error(request, "Cancel this booking first: the attendee is told when you do.")
        return redirect("booking:booking_detail", booking_id=booking.id)
    if request.method == "POST":
        try:
            services.booking_delete(booking=booking)
        except services.BookingClosed as error:
            messages.error(request, str(error))
            return redirect("booking:booking_detail", booking_id=booking.id)
        messages.success(request, f"The booking with {booking.attendee_name} is deleted.")
        return redirect("booking:booking_list")
    return render(request, "booking/booking_confirm_delete.html", {"booking": booking})


def _page_form(
    request: AuthenticatedHttpRequest,
    editor: forms.PageForms,
    *,
    page: BookingPage | None,
    refusal: PlanLimitReached | None = None,
) -> HttpResponse:
    return render(
        request,
        "booking/page_form.html",
        {
            "editor": editor,
            "form": editor.form,
            "page": page,
            "zoom_connected": selectors.zoom_connection_for_user(request.user) is not None,
            "refusal": refusal,
        },
    )


def _posted(request: HttpRequest) -> QueryDict | None:
    """The posted data, also when empty (a form whose fields are all optional or unticked)."""
    return request.POST if request.method == "POST" else None


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _chosen_duration(request: HttpRequest, page: BookingPage) -> int:
    """The meeting length asked for in ``?duration=``, if the page offers it, else its first."""
    asked = request.GET.get("duration", "")
    if asked.isdigit() and int(asked) in page.durations:
        return int(asked)
    return page.durations[0] if page.durations else forms.DEFAULT_DURATIONS[0]


def _day_asked(request: HttpRequest) -> date | None:
    """The first day of the slots asked for in ``?from=YYYY-MM-DD``, if any."""
    try:
        return date.fromisoformat(request.GET.get("from", ""))
    except ValueError:
        return None


def _booking_actions(booking: Booking) -> dict[str, bool]:
    over = booking.end <= timezone.now()
    return {
        "can_cancel": not booking.is_cancelled and not over,
        "can_reschedule": not booking.is_cancelled and booking.page is not None,
        "can_delete": booking.is_cancelled or over,
    }


def _why_not_reschedulable(booking: Booking) -> str:
    if booking.is_cancelled:
        return "A cancelled booking cannot be moved."
    return "The page this booking was made on is deleted, so it has no times to move to."
