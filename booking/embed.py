"""Booking pages inside other websites: who may frame a page, the snippets its owner copies, and
what the page tells the site around it once a time is booked.

A page, a person's or a team's, is embedded through its own address with ``?embed=1``
(``EMBED_PARAM``), not an address of its own: the same views, checks and rate limits serve it,
and the flag travels through the flow (times, form, confirmation) in the query like the
attendee's zone and clock. Only those responses may be framed, and only by the sites the page
allows (``frame_ancestors``, enforced as CSP ``frame-ancestors`` by ``multical.lib.framing``);
every other response stays ``DENY``.

The site around the page includes our script (static/booking/embed.js); inside the frame
static/booking/embedded.js answers it. The messages, all ``postMessage`` objects with a ``type``:

- ``multical:hello`` (site → frame, to our origin): sent on each load of the frame, with
  ``prefill`` ({"name", "email"}, either may be missing) for the booking form's empty fields. The
  frame takes the sender's origin, as the browser reports it, as the one it talks to.
- ``multical:resize`` (frame → site): ``height`` in CSS pixels, whenever it changes.
- ``multical:booked`` (frame → site): ``booking`` as ``booked_event`` makes it, once, from the
  confirmation. The script also dispatches it on the host page as the DOM event
  ``multical:booked`` with the same ``detail``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.html import escape
from django.utils.translation import gettext as _

from booking.models import Booking, BookingPage, TeamPage
from multical.lib.framing import ANY_SITE, allow_framing

EMBED_PARAM = "embed"
# Where the site around a page finds our script: the unhashed name, which stays the same from one
# release to the next (a hashed one would break every snippet pasted before a deploy).
SCRIPT_PATH = "booking/embed.js"
# How many origins a page may list: a frame-ancestors header stays short.
ORIGINS_MAX = 20


def embedded(request: HttpRequest) -> bool:
    """Whether ``request`` asks for a page as shown in another site's frame (``?embed=1``)."""
    return request.GET.get(EMBED_PARAM) == "1"


def frame_ancestors(page: BookingPage | TeamPage) -> tuple[str, ...]:
    """The sites that may frame ``page``: any, those its owner listed, or none."""
    if page.embed_on == BookingPage.EmbedOn.ANY_SITE:
        return (ANY_SITE,)
    if page.embed_on == BookingPage.EmbedOn.LISTED_SITES:
        return tuple(page.embed_origins)
    return ()


def framed_by_page(response: HttpResponseBase, page: BookingPage | TeamPage) -> HttpResponseBase:
    """``response``, framable by the sites ``page`` allows (by none when it allows none)."""
    return allow_framing(response, frame_ancestors(page))


def booked_event(booking: Booking, page: BookingPage | TeamPage) -> dict[str, object]:
    """What the site around the page is told of a booking (``multical:booked``): the booking's
    public id, its start and end (RFC 3339, UTC), its length in minutes and the page's slug (never
    an unlisted page's secret). Nothing else: no attendee, no answers, nothing from a calendar."""
    return {
        "id": str(booking.id),
        "start": _rfc3339(booking.start),
        "end": _rfc3339(booking.end),
        "duration": int((booking.end - booking.start).total_seconds() // 60),
        "page": page.slug,
    }


@dataclass(frozen=True, slots=True)
class Snippets:
    """The code an owner copies to embed a page: inline, a button that opens it in a pop-up, and
    a button floating in the corner of every page of their site."""

    inline: str
    popup: str
    floating: str

    @property
    def choices(self) -> list[tuple[str, str, str]]:
        """Each way, as (its name, what it is in words, its code)."""
        return [
            ("inline", _("Inside your page, as tall as it needs"), self.inline),
            ("popup", _("A link that opens it in a pop-up"), self.popup),
            ("floating", _("A button floating in the corner of your page"), self.floating),
        ]


def snippets(public_url: str, *, label: str) -> Snippets:
    """The three snippets for the page at ``public_url``; ``label`` is the link's text, which
    the script turns into the frame's title or the button's words (and which stays a plain link
    where the script does not run)."""
    script = f'<script src="{script_url()}" defer></script>'

    # The pop-up's close button is named in the owner's language, the one the snippet is shown
    # in: the script cannot know the host page's.
    closing = f' data-close-label="{escape(_("Close"))}"'

    def link(mode: str, text: str, extra: str = "") -> str:
        return f'<a href="{public_url}" data-multical-embed="{mode}"{extra}>{text}</a>\n{script}'

    text = escape(label)
    return Snippets(
        inline=link("inline", text),
        popup=link("popup", text, closing),
        floating=link("floating", text, closing),
    )


def script_url() -> str:
    return f"{settings.SITE_URL}{settings.STATIC_URL}{SCRIPT_PATH}"


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
