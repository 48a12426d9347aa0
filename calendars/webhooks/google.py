"""Google push notifications: verify the channel, publish the change (one coalesced sync), answer
at once.

A notification has no body, only headers: the channel id (ours), the channel token (derived from
the channel id with the server secret), the resource id Google gave the channel, and the state
(``sync`` when the channel opens, then ``exists``/``not_exists``). Anything that does not verify
is refused before any work is queued. The token is checked first, without touching the database,
so forged notifications cost nothing.

A notification for a channel whose token verifies but which no calendar holds any more (one
replaced by a renewal and not yet stopped) is answered 404 and otherwise ignored: stopping it needs
the credentials of the account that opened it, which the channel id alone does not name. Such a
channel ends at its expiry.
"""

from __future__ import annotations

import hmac
import logging

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from calendars.models import Calendar
from calendars.signals import calendar_changed
from calendars.webhooks import answer_timed
from integrations.push import channel_secret_matches

logger = logging.getLogger(__name__)

CHANGED_STATES = frozenset({"exists", "not_exists"})
# Longer ids are not ours (the column holds 200 characters).
MAX_CHANNEL_ID = 200


@answer_timed("google")
@csrf_exempt
@require_POST
def google_notification(request: HttpRequest) -> HttpResponse:
    channel_id = request.headers.get("X-Goog-Channel-ID", "")
    token = request.headers.get("X-Goog-Channel-Token", "")
    resource_id = request.headers.get("X-Goog-Resource-ID", "")
    state = request.headers.get("X-Goog-Resource-State", "")
    if not channel_id or not resource_id or not state or len(channel_id) > MAX_CHANNEL_ID:
        return HttpResponse(status=400)
    if not token.isascii() or not channel_secret_matches(channel_id, token):
        return HttpResponse(status=403)
    calendar = (
        Calendar.objects.filter(push_channel_id=channel_id).only("id", "push_resource_id").first()
    )
    if calendar is None:
        logger.info("Google notification on a channel no calendar holds; it ends at its expiry")
        return HttpResponse(status=404)
    if not hmac.compare_digest(calendar.push_resource_id.encode(), resource_id.encode()):
        return HttpResponse(status=403)
    if state in CHANGED_STATES:
        calendar_changed.send(sender=Calendar, calendar_id=str(calendar.id))
    return HttpResponse(status=200)
