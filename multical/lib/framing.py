"""Which other sites may show a response in a frame: nobody, unless a view says so for a response.

Every response says ``X-Frame-Options: DENY`` and ``frame-ancestors 'none'``
(``multical.middleware.SecurityHeadersMiddleware``). A view that serves something meant to be
embedded elsewhere opts in twice, so that neither half alone loosens anything:

- the view is decorated with ``@framable`` (read by the middleware from the resolved view);
- each response it wants framed gets ``allow_framing(response, ancestors)``, with the origins
  (``frame_origin``) or ``ANY_SITE``.

The middleware then writes ``frame-ancestors`` with those sources and no ``X-Frame-Options`` for
that response alone (browsers that know CSP ignore X-Frame-Options when frame-ancestors is sent,
but one saying DENY beside it would be a contradiction for older ones).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from django.http import HttpResponseBase
from django.utils.translation import gettext as _

# The CSP source for any web page: ``*`` matches http(s) pages (not file: or data: documents).
ANY_SITE = "*"
VIEW_ATTRIBUTE = "framable"
RESPONSE_ATTRIBUTE = "frame_ancestors"
# A host as CSP's host-source allows: letters, digits and hyphens in dot-separated labels, the
# first one possibly "*" (any subdomain). No IPv6 literal: host-source has no brackets.
_HOST = re.compile(
    r"(?:\*\.)?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)

View = TypeVar("View", bound=Callable[..., Any])


class NotAnOrigin(ValueError):
    """Why a text is no origin a frame-ancestors source can name; ``str()`` says it to a user."""


def frame_origin(text: str) -> str:
    """``text`` as the origin it names, "https://example.com" or "http://localhost:8000", in
    lower case and without a trailing slash; a subdomain wildcard ("https://*.example.com") as
    CSP allows one. Raises ``NotAnOrigin`` for anything else: another scheme, a path, a query,
    credentials, a wildcard anywhere else, a port that is not a number."""
    value = text.strip()
    if any(char.isspace() or char in ";,'\"" for char in value):
        raise NotAnOrigin(_("An address has no spaces, commas, semicolons or quotes."))
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as error:
        raise NotAnOrigin(_("This is not a web address.")) from error
    if parts.scheme.lower() not in {"https", "http"} or not value.lower().startswith(
        f"{parts.scheme.lower()}://"
    ):
        raise NotAnOrigin(_("Start with https:// (or http://)."))
    if parts.username is not None or parts.password is not None:
        raise NotAnOrigin(_("Leave out the user name and password."))
    if parts.path not in {"", "/"} or parts.query or parts.fragment or value.endswith(("?", "#")):
        raise NotAnOrigin(
            _("Give the site's address only, without a path, a query or a #fragment.")
        )
    host = (parts.hostname or "").lower()
    if not _HOST.fullmatch(host) or len(host) > 253:
        raise NotAnOrigin(
            _("Give a host name like example.com; a leading *. allows its subdomains.")
        )
    netloc = f"{host}:{port}" if port is not None else host
    return f"{parts.scheme.lower()}://{netloc}"


def framable(view: View) -> View:
    """Marks ``view`` as one whose responses may be framed, each one that ``allow_framing``
    says so about, and only by the sites it names."""
    setattr(view, VIEW_ATTRIBUTE, True)
    return view


def allow_framing(response: HttpResponseBase, ancestors: Sequence[str]) -> HttpResponseBase:
    """Let the sites ``ancestors`` (origins from ``frame_origin``, or ``ANY_SITE``) frame this
    response; none given, it stays unframable. Honoured only for a ``@framable`` view."""
    setattr(response, RESPONSE_ATTRIBUTE, tuple(ancestors))
    return response


def frame_ancestors(view: Callable[..., Any] | None, response: HttpResponseBase) -> tuple[str, ...]:
    """The sources a response may be framed by: those ``allow_framing`` gave it, when ``view``
    (the resolved view, None when none was) is ``@framable``; else none."""
    if view is None or not getattr(view, VIEW_ATTRIBUTE, False):
        return ()
    sources = getattr(response, RESPONSE_ATTRIBUTE, ())
    return tuple(source for source in sources if source == ANY_SITE or _is_origin(source))


def _is_origin(source: str) -> bool:
    try:
        return frame_origin(source) == source
    except NotAnOrigin:
        return False
