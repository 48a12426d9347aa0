"""What anyone may read without a key: the open times of a host's listed pages and of an
organization's active team pages, so that a front end of one's own can offer them. Nothing beyond
what the public page itself shows."""

from __future__ import annotations

from django.core.validators import slug_re
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Query, Router

from api import limits
from api.problems import Problem
from api.schemas_booking import SlotsOut, SlotsQuery, open_slots
from api.schemas_team import open_team_slots
from booking.handles import organization_for_handle
from booking.models import TeamPage
from booking.public_display import offers_a_length
from booking.selectors.public import get_public_page
from multical.lib import rate_limits

router = Router(tags=["Public"])
_browse_rate = rate_limits.setting_rate("BOOKING_BROWSE_RATE")


def _count_browsing(request: HttpRequest) -> None:
    """Counted with the public pages' browsing (``BOOKING_BROWSE_RATE`` per address): a custom
    front end shares the budget its visitors have on the pages themselves."""
    limits.count(
        request,
        group="booking-browse",
        rate=_browse_rate,
        key=rate_limits.requester_key,
        refusal="Too many requests for booking pages from this address",
    )


@router.get(
    "/{handle}/{slug}/slots",
    response={200: SlotsOut, 404: Problem, 503: Problem},
    auth=None,
    summary="A listed page's open times",
    description="No key needed. The open times of a page listed on a host's public profile, or "
    "of an organization's active team page (`/book/{handle}/{slug}/`: people and organizations "
    "share one namespace of handles), as its page offers them; any other address answers 404. "
    "Counted with the public booking pages' limit per address.",
)
def public_slots(
    request: HttpRequest, handle: str, slug: str, query: Query[SlotsQuery]
) -> HttpResponse:
    _count_browsing(request)
    if "\x00" in handle + slug:
        # No address holds one, and PostgreSQL cannot even be asked about it.
        raise Http404
    # Only a slug can be an organization's handle (as on ``/book/``): nothing else is asked for.
    organization_id = organization_for_handle(handle) if slug_re.fullmatch(handle) else ""
    if organization_id:
        team_page = (
            TeamPage.objects.filter(organization_id=organization_id, slug=slug, active=True)
            .exclude(durations=[])
            .first()
        )
        if team_page is None:
            raise Http404
        return open_team_slots(team_page, query)
    found = get_public_page(handle, slug)
    if not found.listed or not offers_a_length(found):
        raise Http404
    return open_slots(found, query)
