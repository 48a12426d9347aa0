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
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.billing.plans import Limit, PlanLimitReached, would_exceed
from accounts.http import AuthenticatedHttpRequest
from booking import embed, forms
from booking.models import Booking, BookingPage
from booking.selectors import owner as selectors
from booking.services import bookings as services
from booking.services import pages, profiles
from multical.lib import rate_limits
from orgs.policies import PolicyRefused, public_pages_refusal

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
    booking_pages = []
    for page in selectors.pages_for_user(request.user):
        public_url = _absolute(selectors.public_page_path(page, handle=profile.handle))
        label = _("Book a time with %(name)s") % {"name": profile.display_name}
        booking_pages.append((page, public_url, embed.snippets(public_url, label=label)))
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
    files = request.FILES if request.method == "POST" else None
    form = forms.ProfileForm(_posted(request), files, user=request.user, with_picture=True)
    if request.method == "POST" and form.is_valid():
        profile = profiles.profile_save(user=request.user, **form.cleaned_data)
        address = _absolute(selectors.public_profile_path(profile))
        messages.success(request, _("Your public address is %(address)s.") % {"address": address})
        return redirect("booking:page_list")
    return render(request, "booking/profile_form.html", {"form": form, "profile": profile})


@login_required
@require_http_methods(["GET", "POST"])
def page_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    if selectors.profile_for_user(request.user) is None:
        messages.info(
            request, _("First choose your public address: your pages' links start with it.")
        )
        return redirect("booking:profile_edit")
    editor = forms.PageForms(_posted(request), user=request.user)
    # Said before the form is filled in; a posted page over the limit is shown again, unsaved.
    refusal = would_exceed(user=request.user, limit=Limit.BOOKING_PAGES)
    if request.method == "POST" and editor.is_valid():
        try:
            page = pages.page_create(owner=request.user, **editor.saved())
        except PlanLimitReached as error:
            refusal = error
        except PolicyRefused as error:
            editor.form.add_error("active", error.message)
        else:
            messages.success(request, _saved_message(page))
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
        except PolicyRefused as error:
            editor.form.add_error("active", error.message)
            return _page_form(request, editor, page=page)
        messages.success(request, _saved_message(page))
        return redirect("booking:page_preview", page_id=page.id)
    return _page_form(request, editor, page=page)


@login_required
@require_POST
@rate_limits.ratelimit(
    group="booking-page-preview", rate=rate_limits.setting_rate("BOOKING_PREVIEW_RATE")
)
def page_draft_preview(
    request: AuthenticatedHttpRequest, page_id: str | None = None
) -> HttpResponse:
    """The public page as the form being filled in would make it: its words and the times it would
    offer over the next days, for the form's live preview (static/booking/page_form.js). Nothing
    is saved; busy time is read as for the page itself, as times only."""
    page = selectors.get_page_for_user(request.user, page_id) if page_id else None
    posted = request.POST.copy()
    # A page without a title yet is previewed as an untitled one: its times show all the same.
    if not posted.get("title", "").strip():
        posted["title"] = _("Untitled page")
    editor = forms.PageForms(posted, user=request.user, page=page)
    draft = editor.draft()
    context: dict[str, object] = {
        "profile": selectors.profile_for_user(request.user),
        "words": _draft_words(editor.form),
        "preview_days": PREVIEW_DAYS,
    }
    if draft is None:
        context["problems"] = _draft_problems(editor)
    else:
        unsaved, related = draft
        preview = selectors.slot_preview(
            unsaved, duration=unsaved.durations[0], days=PREVIEW_DAYS, draft=related
        )
        context.update(
            page=unsaved,
            preview=preview,
            days=_every_day(preview, unsaved),
            offered=sum(len(day.slots) for day in preview.days),
        )
    response = render(request, "booking/page_form/preview.html", context)
    response["Cache-Control"] = "no-store"
    return response


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
        messages.success(
            request, _("“%(title)s” is deleted. Its links no longer work.") % {"title": page.title}
        )
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
        messages.info(request, _("This booking is already cancelled."))
        return redirect("booking:booking_detail", booking_id=booking.id)
    form = forms.CancelForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        services.booking_cancel(
            booking=booking, actor=Booking.Actor.OWNER, reason=form.cleaned_data["reason"]
        )
        messages.success(
            request,
            _("The booking with %(name)s is cancelled.") % {"name": booking.attendee_name},
        )
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
            form.add_error("start", _("%(reason)s Choose another one.") % {"reason": error})
        except services.BusyUnknown:
            form.add_error(
                "start",
                _("A calendar could not be read just now, so nothing was moved. Try again."),
            )
        except services.BookingClosed as error:
            messages.error(request, str(error))
            return redirect("booking:booking_detail", booking_id=booking.id)
        else:
            messages.success(
                request, _("The booking with %(name)s is moved.") % {"name": booking.attendee_name}
            )
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
        messages.error(request, _("Cancel this booking first: the attendee is told when you do."))
        return redirect("booking:booking_detail", booking_id=booking.id)
    if request.method == "POST":
        try:
            services.booking_delete(booking=booking)
        except services.BookingClosed as error:
            messages.error(request, str(error))
            return redirect("booking:booking_detail", booking_id=booking.id)
        messages.success(
            request,
            _("The booking with %(name)s is deleted.") % {"name": booking.attendee_name},
        )
        return redirect("booking:booking_list")
    return render(request, "booking/booking_confirm_delete.html", {"booking": booking})


def _page_form(
    request: AuthenticatedHttpRequest,
    editor: forms.PageForms,
    *,
    page: BookingPage | None,
    refusal: PlanLimitReached | None = None,
) -> HttpResponse:
    # Said where it applies: an organization's policy keeps the page from opening.
    policy_note = public_pages_refusal(request.user)
    if policy_note is not None:
        editor.form.fields["active"].help_text = policy_note
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


def _saved_message(page: BookingPage) -> str:
    return _("“%(title)s” is saved. These are the times it offers.") % {"title": page.title}


def _draft_words(form: forms.PageForm) -> dict[str, object]:
    """What the preview shows of the page above its times, as typed, also while other settings
    have errors."""
    cleaned = getattr(form, "cleaned_data", {})
    location = cleaned.get("location", BookingPage.Location.NONE)
    return {
        "title": form["title"].value() or "",
        "description": form["description"].value() or "",
        "durations": cleaned.get("durations", []),
        "location": ""
        if location == BookingPage.Location.NONE
        else BookingPage.Location(location).label,
        "location_detail": cleaned.get("location_detail", "")
        if location == BookingPage.Location.IN_PERSON
        else "",
    }


def _draft_problems(editor: forms.PageForms) -> list[str]:
    """What keeps the preview from showing times: the form's errors, each under its field's name
    unless it names its field already (a weekday's periods)."""
    form = editor.form
    problems: list[str] = []
    for name, errors in form.errors.items():
        label = str(form.fields[name].label) if name in form.fields else ""
        for error in map(str, errors):
            named = not label or error.startswith(f"{label}:")
            problems.append(error if named else format_html("{}: {}", label, error))
    dates = _("Dates with other hours")
    for row in editor.overrides:
        for errors in row.errors.values():
            problems.extend(format_html("{}: {}", dates, error) for error in errors)
    problems.extend(
        format_html("{}: {}", dates, error) for error in editor.overrides.non_form_errors()
    )
    return problems


def _every_day(preview: selectors.SlotPreview, page: BookingPage) -> list[selectors.SlotDay]:
    """Each day of the preview, in the page's zone, those without a time too: a day the hours
    leave out shows as closed."""
    zone = ZoneInfo(page.time_zone)
    first, last = preview.start.astimezone(zone).date(), preview.end.astimezone(zone).date()
    offered = {day.day: day for day in preview.days}
    return [
        offered.get(day) or selectors.SlotDay(day=day, slots=[])
        for day in (first + timedelta(days=n) for n in range((last - first).days))
    ]


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
        return _("A cancelled booking cannot be moved.")
    return _("The page this booking was made on is deleted, so it has no times to move to.")
