"""Booking without a cookie: the booking form's protection against forgery, and the receipt that
shows the attendee their confirmation.

The booking flow must work inside another site's frame, where the browser sends none of our
cookies (they are ``SameSite=Lax``, and many browsers block third-party cookies anyway). Django's
CSRF check compares the form's token with a cookie, so it would refuse every embedded booking;
the session that shows the confirmation to the browser that booked would be empty. So:

The attendee's POST views of the booking flow (``form_token_protected``) are exempt from Django's
check and make two checks of their own instead:

1. The request's ``Origin``, when the browser sends one (current browsers do on every POST), must
   be this site's own (or one of ``CSRF_TRUSTED_ORIGINS``). The form in a frame is our page, so
   it posts from our origin; a form on another site that posts to us carries that site's origin
   and is refused, whatever it contains. This is the check that stops cross-site forgery, and
   Django's own check starts with it too.
2. A form token: a signature (``django.core.signing``, under the server secret) over the page's
   id and the form's purpose, with the time it was made. Only a form we rendered for that page
   carries one. A missing or altered one, one made for another page or purpose, or one older than
   ``FORM_TOKEN_SECONDS`` gets Django's CSRF failure page (403), which says the form expired and
   to reload it, as a form whose CSRF cookie went always did. Nothing is booked.

Why the token need not be tied to a browser, as Django's cookie ties its own: the booking POST
carries no ambient authority. Nobody is signed in through it and no session is read, so a request
forged in a visitor's browser could do nothing that its author cannot do by posting the form from
their own machine; the rate limits, the live availability check and the database's exclusion
constraint hold for both alike. What the token adds is that a booking comes from a form we served
for that very page, recently.

The confirmation after an embedded booking is reached with a receipt (``receipt``): the booking's
id signed for ``RECEIPT_SECONDS``, in the address the form redirects to, instead of the session.
It shows what the session would have shown, to whoever holds that address for that long.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.urls import get_callable
from django.views.decorators.csrf import csrf_exempt

from booking.models import Booking, BookingPage

FORM_TOKEN_FIELD = "form_token"  # noqa: S105 - the name of a form field
# A form left open overnight still books; Django's CSRF cookie bounded nothing (it lasts a year),
# but a day bounds how long a token fetched once can be replayed.
FORM_TOKEN_SECONDS = 24 * 60 * 60
RECEIPT_PARAM = "receipt"
# Long enough to read the confirmation and reload it; the e-mail carries what it says for good.
RECEIPT_SECONDS = 30 * 60
BOOK = "book"
_FORM_SALT = "booking.form-token"
_RECEIPT_SALT = "booking.confirmation-receipt"
_REQUEST_ATTRIBUTE = "booking_form_token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}


@dataclass(frozen=True, slots=True)
class FormToken:
    """A form token whose signature holds: the page it was made for, and whether it is too old."""

    page_id: str
    expired: bool


class TokenRefused(Exception):
    """A form token that is missing or not ours, or is for something else."""


def form_token(page: BookingPage, *, purpose: str = BOOK) -> str:
    return signing.dumps([str(page.id), purpose], salt=_FORM_SALT)


def read_form_token(token: str, *, purpose: str = BOOK) -> FormToken:
    """What ``token`` says, when we signed it for ``purpose``; raises ``TokenRefused`` else."""
    try:
        page_id, signed_for = signing.loads(token, salt=_FORM_SALT)
    except (signing.BadSignature, ValueError, TypeError) as error:
        raise TokenRefused("The booking form's token is missing or altered.") from error
    if signed_for != purpose or not isinstance(page_id, str):
        raise TokenRefused("The booking form's token is for another form.")
    try:
        signing.loads(token, salt=_FORM_SALT, max_age=FORM_TOKEN_SECONDS)
    except signing.SignatureExpired:
        return FormToken(page_id=page_id, expired=True)
    return FormToken(page_id=page_id, expired=False)


def form_token_protected(
    purpose: str = BOOK,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Instead of Django's cookie-based CSRF check, on every state-changing request: the request
    comes from this site (its Origin), and carries a form token signed for ``purpose``. The view
    finds it with ``posted_form_token`` and checks it against its page (``page_refusal``) once
    it has the page, so that its refusal can be shown where the page may be."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in _SAFE_METHODS:
                if not _from_this_site(request):
                    return refuse(request, "The form was sent from another site.")
                try:
                    token = read_form_token(request.POST.get(FORM_TOKEN_FIELD, ""), purpose=purpose)
                except TokenRefused as refusal:
                    return refuse(request, str(refusal))
                setattr(request, _REQUEST_ATTRIBUTE, token)
            return view(request, *args, **kwargs)

        return csrf_exempt(checked)

    return decorate


def page_refusal(token: FormToken, page: BookingPage) -> str:
    """Why a form token whose signature holds cannot book on ``page``; "" when it can."""
    if token.page_id != str(page.id):
        return "The booking form's token is for another page."
    if token.expired:
        return "The booking form's token has expired."
    return ""


def posted_form_token(request: HttpRequest) -> FormToken:
    """The form token ``form_token_protected`` read from this POST."""
    token = getattr(request, _REQUEST_ATTRIBUTE)
    assert isinstance(token, FormToken)
    return token


def refuse(request: HttpRequest, reason: str) -> HttpResponse:
    """The answer to a forged or broken form: Django's CSRF failure page, as for any other form."""
    failure_view = get_callable(settings.CSRF_FAILURE_VIEW)
    response = failure_view(request, reason=reason)
    assert isinstance(response, HttpResponse)
    return response


def receipt(booking: Booking) -> str:
    return signing.dumps(str(booking.id), salt=_RECEIPT_SALT)


def receipt_matches(token: str, booking_id: object) -> bool:
    """Whether ``token`` is a receipt for ``booking_id`` made less than ``RECEIPT_SECONDS`` ago."""
    try:
        signed = signing.loads(token, salt=_RECEIPT_SALT, max_age=RECEIPT_SECONDS)
    except signing.BadSignature:
        return False
    return signed == str(booking_id)


def _from_this_site(request: HttpRequest) -> bool:
    origin = request.META.get("HTTP_ORIGIN")
    if origin is None:
        return True
    ours = {f"{request.scheme}://{request.get_host()}", *settings.CSRF_TRUSTED_ORIGINS}
    return origin in ours
