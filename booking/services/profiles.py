"""The owner's public profile saved as a whole: its handle and name, and its picture."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from booking.models import Profile, ProfilePicture
from booking.pictures import SquarePicture
from booking.services.pages import profile_update


@transaction.atomic
def profile_save(
    *,
    user: User,
    handle: str,
    display_name: str,
    picture: SquarePicture | None = None,
    remove_picture: bool = False,
) -> Profile:
    """Create or change the user's profile; ``picture`` replaces theirs, else ``remove_picture``
    takes it away (attendees then see the initials)."""
    profile = profile_update(user=user, handle=handle, display_name=display_name)
    if picture is not None:
        profile_picture_set(profile=profile, picture=picture)
    elif remove_picture:
        profile_picture_remove(profile=profile)
    return profile


@transaction.atomic
def profile_picture_set(*, profile: Profile, picture: SquarePicture) -> None:
    ProfilePicture.objects.update_or_create(profile=profile, defaults={"image": picture.data})
    profile.picture_digest = picture.digest
    profile.save(update_fields=["picture_digest"])


@transaction.atomic
def profile_picture_remove(*, profile: Profile) -> None:
    ProfilePicture.objects.filter(profile=profile).delete()
    profile.picture_digest = ""
    profile.save(update_fields=["picture_digest"])
