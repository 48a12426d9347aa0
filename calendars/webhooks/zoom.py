"""Zoom's event notifications: the endpoint's validation challenge, and the deauthorization notice.

Zoom signs every notification with the app's secret token (``ZOOM_WEBHOOK_SECRET_TOKEN``):
``x-zm-signature`` is ``v0=`` and the hex HMAC-SHA256 of ``v0:<x-zm-request-timestamp>:<raw body>``.
A request without a valid signature, or stamped more than ``MAX_AGE_SECONDS`` away from our clock
(a replay), is refused with a 401 before its body is read; a signed body of the wrong shape is a
400. Without a secret token nothing can be verified, and the endpoint is a 404.

- ``endpoint.url_validation`` (when the URL is set, then every 72 hours): the answer is the
  ``plainToken`` and its HMAC under the same secret. That HMAC is the very function signatures use,
  so the challenge is answered only when it is signed itself, and only for a token of the shape
  Zoom sends (short, no ``:``), never for text that could pass as a signed event.
- ``app_deauthorized`` (the user removed the app at Zoom): the credentials of that Zoom user's
  connection are deleted at once, and its owner is asked to reconnect Zoom.

Other events are acknowledged and ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from typing import Any

from django.conf import settings
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
)
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from calendars import services
from calendars.webhooks import answer_timed

# Zoom's requests carry the time they were signed; older (or later) ones are replays.
MAX_AGE_SECONDS = 5 * 60
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=([0-9a-f]{64})")
# Zoom's plainToken is a short random string (22 characters of base64url today).
_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Zoom's ids of users, accounts and apps.
_ZOOM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@answer_timed("zoom")
@csrf_exempt
@require_POST
def zoom_notification(request: HttpRequest) -> HttpResponse:
    secret = settings.ZOOM_WEBHOOK_SECRET_TOKEN
    if not secret:
        raise Http404("Zoom notifications are not set up on this server.")
    if not _signed(request, secret):
        return HttpResponse(status=401)
    event = _event(request.body)
    if event is None:
        return HttpResponseBadRequest()
    name, payload = event
    if name == "endpoint.url_validation":
        return _validation_answer(payload, secret)
    if name == "app_deauthorized":
        return _deauthorized(payload)
    return HttpResponse(status=204)


def _signed(request: HttpRequest, secret: str) -> bool:
    """True when the request carries Zoom's signature of its body, made within the last minutes."""
    stamp = request.headers.get("x-zm-request-timestamp", "")
    signature = _SIGNATURE.fullmatch(request.headers.get("x-zm-signature", ""))
    if not _TIMESTAMP.fullmatch(stamp) or signature is None:
        return False
    if abs(time.time() - int(stamp)) > MAX_AGE_SECONDS:
        return False
    expected = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + request.body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), signature.group(1))


def _event(body: bytes) -> tuple[str, dict[str, Any]] | None:
    """The event's name and payload, or None when the body is not an event."""
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(event, dict):
        return None
    name, payload = event.get("event"), event.get("payload")
    if not isinstance(name, str) or not isinstance(payload, dict):
        return None
    return name, payload


def _validation_answer(payload: dict[str, Any], secret: str) -> HttpResponse:
    plain = payload.get("plainToken")
    if not isinstance(plain, str) or not _PLAIN_TOKEN.fullmatch(plain):
        return HttpResponseBadRequest()
    encrypted = hmac.new(secret.encode(), plain.encode(), hashlib.sha256).hexdigest()
    return JsonResponse({"plainToken": plain, "encryptedToken": encrypted})


def _deauthorized(payload: dict[str, Any]) -> HttpResponse:
    user_id, client_id = payload.get("user_id"), payload.get("client_id")
    if not (
        isinstance(user_id, str)
        and _ZOOM_ID.fullmatch(user_id)
        and client_id == settings.ZOOM_CLIENT_ID
    ):
        return HttpResponseBadRequest()
    services.connection_forget_zoom_user(zoom_user_id=user_id)
    return HttpResponse(status=204)
