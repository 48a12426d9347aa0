"""Logging that never writes a secret: capped library loggers, and paths with their secrets redacted.

``logging_config`` builds the project's ``LOGGING``: one handler (stderr, one line per record)
carrying the ``RedactSecrets`` filter, which Django's request and development-server loggers and
gunicorn's access log are routed through too, and a cap on every third-party logger that writes
request headers, bodies or token answers, whatever level the operator asks for.

Importable without Django (the settings module uses it).
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[redacted]"

# Third-party loggers that write secrets below WARNING, and what they write. Their records go no
# lower than WARNING, whatever LOG_LEVEL says.
CAPPED_LOGGERS = {
    # The token request's headers (HTTP Basic with the client secret) and body (the one-time code,
    # the PKCE verifier), and the token answer (access, refresh and id tokens).
    "requests_oauthlib": "token requests and answers",
    "oauthlib": "token requests and answers",
    # Token cache events carrying the authorization code flow (code and PKCE verifier).
    "msal": "token cache events",
    # Full URLs (delta and sync tokens, iCal links) and connection details.
    "urllib3": "request URLs",
    "requests": "request URLs",
    "httpx": "request URLs, at INFO",
    "httpcore": "request and response events",
    # Token requests and refreshes, and API request URLs.
    "google": "token requests",
    "google_auth_oauthlib": "token requests",
    "google_auth_httplib2": "token refreshes",
    "googleapiclient": "request URLs and bodies",
    # Request parameters and answers (customers' addresses, session ids).
    "stripe": "request parameters",
    # Samples of the bodies it guesses the encoding of.
    "charset_normalizer": "body samples",
    # Every statement with its parameters (password hashes, sealed credentials, bookings).
    "django.db.backends": "SQL parameters",
}

# Secrets carried in a path segment, each found by the path before it (see the URL configuration:
# booking_public, accounts). The segment is replaced, its neighbours kept for the reader.
_SEGMENT = r"[^/?#\s\"'<>]+"
_PATH_SECRETS = [
    # An attendee's manage link: /bookings/<booking id>/<token>/ (not the owner's /booking/bookings/).
    re.compile(rf"((?<!/booking)/bookings/{_SEGMENT}/){_SEGMENT}"),
    # An unlisted booking page: /book/<handle>/<slug>--<secret>/.
    re.compile(rf"(/book/{_SEGMENT}/(?:(?!--)[^/?#\s\"'<>])*--){_SEGMENT}"),
    # E-mail verification and password reset links: .../<uidb64>/<token>/. Django swaps the reset
    # token for the placeholder "set-password" once it is in the session.
    re.compile(rf"(/accounts/verify/{_SEGMENT}/){_SEGMENT}"),
    re.compile(rf"(/accounts/password/reset/{_SEGMENT}/)(?!set-password(?:[/?#\s]|$)){_SEGMENT}"),
]

# Query parameters whose values are secrets: OAuth callbacks (code, state, session_state), Stripe
# Checkout's return (session_id), and any token or key a client might put in a query.
_SECRET_PARAMETERS = (
    "code",
    "state",
    "session_state",
    "session_id",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "code_verifier",
    "client_secret",
    "password",
)
# A parameter is found after "?" or "&", also percent-encoded once or more (a path with its query
# travels on as the "next" of a log-in link), and its value ends at the next separator.
_ENCODED = r"%(?:25)*"
_QUERY_SECRET = re.compile(
    rf"((?:[?&]|{_ENCODED}3F|{_ENCODED}26)(?:{'|'.join(_SECRET_PARAMETERS)})(?:=|{_ENCODED}3D))"
    rf"(?:(?!&|{_ENCODED}26)[^\s\"'#<>])+",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` with every secret path segment and secret query value replaced by ``REDACTED``."""
    for pattern in _PATH_SECRETS:
        text = pattern.sub(rf"\g<1>{REDACTED}", text)
    return _QUERY_SECRET.sub(rf"\g<1>{REDACTED}", text)


class RedactSecrets(logging.Filter):
    """Rewrites a record's message with its secrets redacted (it never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def logging_config(*, level: str) -> dict[str, Any]:
    """The ``LOGGING`` dict for a root logger at ``level`` (a level name, such as LOG_LEVEL's).

    Every record leaves through the one ``stderr`` handler and its redaction. Django's own
    handlers (the console in DEBUG, mail to admins, the development server's request lines) and
    gunicorn's access log are replaced by it, so no path reaches a stream unredacted.
    """
    level = level.upper()
    numeric = logging.getLevelName(level)
    if not isinstance(numeric, int):
        raise ValueError(f"Unknown log level {level!r}: use DEBUG, INFO, WARNING or ERROR.")
    capped = logging.getLevelName(max(logging.WARNING, numeric))
    through_filter = {"handlers": ["stderr"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact_secrets": {"()": RedactSecrets}},
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "filters": ["redact_secrets"],
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "django": through_filter,
            "django.server": through_filter,
            "gunicorn.access": through_filter,
            **{name: {"level": capped} for name in CAPPED_LOGGERS},
        },
    }
