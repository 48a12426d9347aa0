"""Reads for the public side: a host's profile, pages by their address, bookings by their link.

Nothing here tells one page or booking from another that does not exist: whatever is not found,
not listed under the address given, or (unless asked for) not active is a plain 404.
"""

from __future__ import annotations

from uuid import UUID

from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.crypto import constant_time_compare

from booking.models import Booking, BookingPage, Profile, ProfilePicture
from booking.tokens import token_matches

# An unlisted page's address is "<slug>--<secret>".
UNLISTED_JOIN = "--"


def get_profile(handle: str) -> Profile:
    return get_object_or_404(Profile.objects.select_related("user"), handle=handle)


def get_profile_picture(handle: str, digest: str) -> ProfilePicture:
    """The picture of the host at ``handle`` when ``digest`` names the one they have now: an old
    picture's address, another host's, or a guess is a 404."""
    if not digest:
        raise Http404
    return get_object_or_404(
        ProfilePicture.objects.only("image"),
        profile__handle=handle,
        profile__picture_digest=digest,
    )


def listed_pages(profile: Profile) -> list[BookingPage]:
    """The pages the host's profile lists: active, listed, and offering a meeting length."""
    pages = BookingPage.objects.filter(owner_id=profile.user_id, listed=True, active=True)
    return list(pages.exclude(durations=[]))


def get_public_page(handle: str, slug: str, *, switched_off: bool = False) -> BookingPage:
    """The active page at ``/book/<handle>/<slug>/``: a listed page by its slug, an unlisted one
    only by its slug and secret together. ``switched_off`` finds an inactive page too, for those
    who already had it open: they are told it stopped taking bookings."""
    # Slugs cannot hold "--" (the page form refuses it), so the first one starts the secret.
    base, _, secret = slug.partition(UNLISTED_JOIN)
    pages = BookingPage.objects.filter(owner__booking_profile__handle=handle)
    if not switched_off:
        pages = pages.filter(active=True)
    candidates = pages.filter(
        Q(slug=slug, listed=True) | Q(slug=base, listed=False)
    ).select_related("owner", "owner__booking_profile")
    # One query for both readings of the address; a listed page wins.
    found = sorted(candidates, key=lambda page: not page.listed)
    if found and found[0].listed:
        return found[0]
    unlisted = found[0] if found else None
    if unlisted is None or not secret or not constant_time_compare(unlisted.secret, secret):
        raise Http404
    return unlisted


def get_booking_by_token(booking_id: UUID | str, token: str) -> Booking:
    booking = Booking.objects.select_related("page", "owner", "owner__booking_profile").filter(
        id=booking_id
    )
    found = booking.first()
    if found is None or not token_matches(found, token):
        raise Http404
    return found
