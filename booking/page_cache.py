"""Whole booking pages, kept a minute for attendees who bring nothing of their own.

Most visits to a booking page come from browsers without a session or a message waiting for
them. What such a visitor is shown depends only on the address, the query, the language they ask
for (and their browser's first language tag, for the clock), the page and its host's profile as
last saved, the busy time of the page's calendars, the owner's bookings and the minute. The page
is kept under a key made of all of those, so that every visit after the first costs a few Redis
reads instead of two queries and two templates. What is kept is what any attendee may see anyway:
the page, the host's name and the open times; never a calendar's events.

Two reads find a kept page: the address's entry (the page's owner and calendars) names the
versions to read, and those with the request make the page's key. The services that change a
Saving a page (or its busy calendars) or its host's profile retires the owner's kept pages once
the transaction commits, whoever saves it (``follow_changes``: the forms, the admin, billing's
pauses, a shell); a bulk update calls ``forget_public_pages`` itself. A calendar connected or
released under a page that checks all calendars is seen within ``PAGE_SECONDS``, as the minute in
the key turns (busy time inside the calendars at once, through their versions). Whatever is
booked is checked again live, as with the rendered times before.

Each response gets its own CSP nonce: the kept page's nonce is swapped for the request's. An
embedded page (``booking.embed``) is kept with the sites that may frame it, which are the page's
as last saved, like everything else kept.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from booking.availability import bookings_version_key
from booking.models import BookingPage, Profile
from booking.public_display import language_asked
from calendars.busy import busy_versions
from multical.lib import framing

if TYPE_CHECKING:
    from django.db.models import Model

# How long a page is kept; also its entry, which bounds how long a change to the page's set of
# calendars goes unseen. The rendered times inside are kept no longer (see public_views).
PAGE_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Lookup:
    """What a lookup found: the kept page's HTML, language and the sites that may frame it, or
    the key to keep the page under once rendered (None when its address has no entry yet, or the
    visitor brings a session)."""

    key: str | None = None
    entry: dict[str, object] | None = None
    html: str | None = None
    language: str = ""
    nonce: str = ""
    frame_ancestors: tuple[str, ...] = ()


def keeps_pages_for(request: HttpRequest) -> bool:
    """Whether the visitor brings nothing the page would show: no session (a signed-in owner, a
    message waiting) and no message in a cookie."""
    return request.method == "GET" and not (
        request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        or request.COOKIES.get(CookieStorage.cookie_name)
    )


def lookup(request: HttpRequest, handle: str, slug: str) -> Lookup:
    """The kept page for this visit, or the key to keep it under."""
    if not keeps_pages_for(request):
        return Lookup()
    entry = cache.get(_entry_key(handle, slug))
    if entry is None:
        return Lookup()
    key = _page_key(request, handle, slug, entry["owner"], entry["calendars"])
    kept = cache.get(key)
    if kept is None:
        return Lookup(key=key, entry=entry)
    return Lookup(
        key=key,
        entry=entry,
        html=kept["html"],
        language=kept["language"],
        nonce=kept["nonce"],
        frame_ancestors=tuple(kept.get("frame_ancestors", ())),
    )


def kept_response(request: HttpRequest, found: Lookup) -> HttpResponse:
    """The kept page with this response's own nonce (``request.csp_nonce``, which also puts it in
    the CSP header), framable as it was."""
    assert found.html is not None
    response = HttpResponse(found.html.replace(found.nonce, _nonce(request)))
    framing.allow_framing(response, found.frame_ancestors)
    return response


def keep(
    request: HttpRequest,
    handle: str,
    slug: str,
    found: Lookup,
    *,
    page: BookingPage,
    calendar_ids: list[str],
    response: HttpResponse,
    language: str,
) -> None:
    """Keep a page just rendered for ``request``. Kept under the key its lookup made, from
    versions read before the page itself: a change saved meanwhile moves on from them, and the
    page is not found again. Only the entry is written when there was none, or when the page's
    owner or calendars are no longer the entry's (the next visit keeps the page)."""
    if not keeps_pages_for(request) or response.status_code != 200:
        return
    entry: dict[str, object] = {"owner": str(page.owner_id), "calendars": sorted(calendar_ids)}
    if found.key is None or found.entry != entry:
        cache.set(_entry_key(handle, slug), entry, PAGE_SECONDS)
        return
    kept = {
        "html": response.content.decode(),
        "language": language,
        "nonce": _nonce(request),
        "frame_ancestors": list(getattr(response, framing.RESPONSE_ATTRIBUTE, ())),
    }
    cache.set(found.key, kept, PAGE_SECONDS)


def forget_public_pages(owner_id: object) -> None:
    """Once the current transaction commits, the owner's kept pages are found no more."""
    key = _public_version_key(owner_id)
    transaction.on_commit(lambda: cache.set(key, uuid.uuid4().hex[:12], None))


def follow_changes() -> None:
    """Retire the owner's kept pages whenever a page, its busy calendars or their profile is
    saved or deleted (connected once, from the app's ``ready``)."""
    for model in (BookingPage, Profile):
        post_save.connect(_changed, sender=model, dispatch_uid=f"page-cache-save-{model.__name__}")
        post_delete.connect(
            _changed, sender=model, dispatch_uid=f"page-cache-delete-{model.__name__}"
        )
    m2m_changed.connect(
        _changed, sender=BookingPage.busy_calendars.through, dispatch_uid="page-cache-calendars"
    )


def _changed(sender: type[Model], instance: Model, **kwargs: object) -> None:
    if isinstance(instance, BookingPage):
        forget_public_pages(instance.owner_id)
    elif isinstance(instance, Profile):
        forget_public_pages(instance.user_id)


def _page_key(
    request: HttpRequest, handle: str, slug: str, owner_id: str, calendar_ids: list[str]
) -> str:
    versions = cache.get_many([_public_version_key(owner_id), bookings_version_key(owner_id)])
    busy = busy_versions(calendar_ids)
    accepted = request.META.get("HTTP_ACCEPT_LANGUAGE", "").split(",")[0].split(";")[0]
    parts = [
        handle,
        slug,
        owner_id,
        request.GET.urlencode(),
        language_asked(request).code,
        accepted.strip().lower(),
        versions.get(_public_version_key(owner_id), ""),
        versions.get(bookings_version_key(owner_id), ""),
        *(f"{i}={busy[i]}" for i in calendar_ids),
        str(int(timezone.now().timestamp() // PAGE_SECONDS)),
    ]
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return f"booking:public-page:{digest}"


def _nonce(request: HttpRequest) -> str:
    """This response's CSP nonce (django-csp's; reading it puts it in the response's header)."""
    return str(request.csp_nonce)  # type: ignore[attr-defined]


def _entry_key(handle: str, slug: str) -> str:
    digest = hashlib.sha256(f"{handle}\n{slug}".encode()).hexdigest()
    return f"booking:public-address:{digest}"


def _public_version_key(owner_id: object) -> str:
    return f"booking:public-version:{owner_id}"
