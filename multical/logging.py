"""Logging and error reports that never carry a secret or event content.

``logging_config`` builds the project's ``LOGGING``: one handler (stderr, one line per record)
carrying the ``RedactSecrets`` filter, which Django's request and development-server loggers and
gunicorn's access log are routed through too, and a cap on every third-party logger that writes
request headers, bodies or token answers, whatever level the operator asks for. Each line is plain
text, or one JSON object (``JsonFormatter``) for log collectors, with the request or task id it
belongs to.

``error_reports_init`` starts the optional Sentry SDK, with everything that could carry event
content or a secret (exception messages, log arguments, local variables, request bodies, extra
data) scrubbed from what it sends (``scrub_event``, ``scrub_breadcrumb``).

Importable without Django (the settings module uses it).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from celery import current_task

if TYPE_CHECKING:
    from sentry_sdk.types import Event, Hint

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
# booking_public, accounts, console). The segment is replaced, its neighbours kept for the reader.
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
    # An invitation to an organization: /orgs/join/<invitation id>.<secret>/.
    re.compile(rf"(/orgs/join/){_SEGMENT}"),
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


# The values LOG_FORMAT takes, and the formatter each one names in ``logging_config``.
LOG_FORMATS = ("plain", "json")


def logging_config(*, level: str, log_format: str = "plain") -> dict[str, Any]:
    """The ``LOGGING`` dict for a root logger at ``level`` (a level name, such as LOG_LEVEL's),
    writing ``log_format`` lines (plain text, or one JSON object per line).

    Every record leaves through the one ``stderr`` handler and its redaction. Django's own
    handlers (the console in DEBUG, mail to admins, the development server's request lines),
    gunicorn's access log and Celery's task logger are replaced by it, so no path reaches a stream
    unredacted.
    """
    level = level.upper()
    numeric = logging.getLevelName(level)
    if not isinstance(numeric, int):
        raise ValueError(f"Unknown log level {level!r}: use DEBUG, INFO, WARNING or ERROR.")
    if log_format not in LOG_FORMATS:
        raise ValueError(f"Unknown log format {log_format!r}: use plain or json.")
    capped = logging.getLevelName(max(logging.WARNING, numeric))
    through_filter = {"handlers": ["stderr"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact_secrets": {"()": RedactSecrets}},
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
            "json": {"()": JsonFormatter},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["redact_secrets"],
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "django": through_filter,
            "django.server": through_filter,
            "gunicorn.access": through_filter,
            # A Celery worker gives this logger a handler of its own unless it has one.
            "celery.task": through_filter,
            **{name: {"level": capped} for name in CAPPED_LOGGERS},
        },
    }


# The request being answered, for the log lines written meanwhile (RequestIdMiddleware).
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# An id a proxy in front may have given the request (X-Request-ID): kept when of this shape.
_GIVEN_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


class RequestIdMiddleware:
    """Gives each request an id (the proxy's X-Request-ID when it sent one, else a new one),
    written on every log line of the request and returned in the response's X-Request-ID, so an
    operator can find the lines of one request, and a user's report leads to them."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        # Imported here: the rest of this module is used before Django is set up.
        from django.core.signals import request_finished

        # Django logs a refused request's line after the middleware has returned, so the id is
        # kept until the response is closed.
        request_finished.connect(_forget_request_id, dispatch_uid="multical.logging.request_id")
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        given = request.headers.get("X-Request-ID", "")
        current = given if _GIVEN_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        request_id.set(current)
        response = self.get_response(request)
        response["X-Request-ID"] = current
        return response


def _forget_request_id(**kwargs: Any) -> None:
    request_id.set(None)


def _task_id() -> str | None:
    """The id of the Celery task this process is running, if any."""
    # The proxy stands for no task outside one, and then has no request.
    task_id = getattr(getattr(current_task, "request", None), "id", None)
    return task_id if isinstance(task_id, str) else None


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, and the request
    and task ids when there are; the exception's traceback as the plain format writes it. The
    message is the record's own, after ``RedactSecrets``: nothing is added from its arguments."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (current_request := request_id.get()) is not None:
            entry["request_id"] = current_request
        if (current_task_id := _task_id()) is not None:
            entry["task_id"] = current_task_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


# --- Error reports (Sentry) ----------------------------------------------------------------------

# What of an event is sent; everything else (extra data, user, request headers, cookies and
# bodies, threads, the celery job's arguments) is dropped.
_EVENT_KEYS = frozenset(
    {
        "event_id",
        "timestamp",
        "level",
        "platform",
        "logger",
        "server_name",
        "release",
        "environment",
        "dist",
        "sdk",
        "transaction",
        "transaction_info",
        "fingerprint",
        "modules",
    }
)
# Contexts that describe the machine and trace, never the work.
_CONTEXTS = frozenset({"runtime", "os", "trace", "device"})
# The task's id, which its log lines carry too; never its arguments.
_TAGS = frozenset({"celery_task_id"})
# A stack frame: where in our code, never its variables.
_FRAME_KEYS = frozenset(
    {
        "filename",
        "abs_path",
        "function",
        "module",
        "lineno",
        "colno",
        "in_app",
        "pre_context",
        "context_line",
        "post_context",
    }
)
_BREADCRUMB_KEYS = frozenset({"type", "category", "level", "timestamp", "message"})
# Breadcrumb categories whose message is ours to keep: SQL with its placeholders, never values.
_BREADCRUMB_MESSAGES = frozenset({"query"})


def scrub_event(event: Event, hint: Hint) -> Event:
    """The event as it may leave: where the failure is in our code and its exception types, and
    nothing a message, argument or variable could have carried (``before_send``)."""
    return cast("Event", _scrubbed_event(cast("dict[str, Any]", event)))


def _scrubbed_event(event: dict[str, Any]) -> dict[str, Any]:
    scrubbed = {key: value for key, value in event.items() if key in _EVENT_KEYS}
    scrubbed["contexts"] = {
        name: value for name, value in (event.get("contexts") or {}).items() if name in _CONTEXTS
    }
    scrubbed["tags"] = {
        name: value for name, value in (event.get("tags") or {}).items() if name in _TAGS
    }
    if "exception" in event:
        scrubbed["exception"] = {
            "values": [_scrub_exception(value) for value in event["exception"].get("values", [])]
        }
    if "logentry" in event:
        # The record's template, as written in our code; its arguments are left behind.
        scrubbed["logentry"] = {"message": str(event["logentry"].get("message", ""))}
    if "request" in event:
        request = event["request"]
        scrubbed["request"] = {
            "method": request.get("method", ""),
            "url": redact(str(request.get("url", ""))),
        }
    crumbs = (event.get("breadcrumbs") or {}).get("values", [])
    scrubbed["breadcrumbs"] = {"values": [_scrub_crumb(crumb) for crumb in crumbs]}
    return scrubbed


def _scrub_exception(value: dict[str, Any]) -> dict[str, Any]:
    # The message ("value") is left out: a parser's error quotes the line it choked on.
    scrubbed: dict[str, Any] = {
        key: value[key] for key in ("type", "module", "mechanism") if key in value
    }
    frames = (value.get("stacktrace") or {}).get("frames", [])
    scrubbed["stacktrace"] = {
        "frames": [{key: frame[key] for key in _FRAME_KEYS if key in frame} for frame in frames]
    }
    return scrubbed


def _scrub_crumb(crumb: dict[str, Any]) -> dict[str, Any]:
    scrubbed = {key: value for key, value in crumb.items() if key in _BREADCRUMB_KEYS}
    if crumb.get("type") != "log" and crumb.get("category") not in _BREADCRUMB_MESSAGES:
        scrubbed.pop("message", None)
    return scrubbed


def scrub_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    """A breadcrumb as it may be kept: a log record's template instead of its message (whose
    arguments may be anything), and no data (URLs with tokens, parameters) (``before_breadcrumb``)."""
    record = hint.get("log_record")
    if isinstance(record, logging.LogRecord):
        crumb = {**crumb, "message": record.msg if isinstance(record.msg, str) else ""}
    return _scrub_crumb(crumb)


def error_reports_init(*, dsn: str, environment: str, release: str = "") -> None:
    """Send unhandled errors of requests and tasks, and ERROR log records, to Sentry at ``dsn``:
    scrubbed of content, without personal data, local variables or request bodies, and without
    performance tracing."""
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        # What send_default_pii=False promised, said category by category (its successor): no
        # user, cookies, headers, bodies, query values, SQL values, task arguments or variables.
        data_collection={
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_headers": {"request": {"mode": "off"}},
            "http_bodies": [],
            "url_query_params": {"mode": "off"},
            "database_query_data": False,
            "queues": False,
            "stack_frame_variables": False,
        },
        include_local_variables=False,
        max_request_body_size="never",
        before_send=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
        # Only the integrations named here: no auto-enabled ones (Redis would record keys).
        auto_enabling_integrations=False,
        integrations=[
            DjangoIntegration(transaction_style="url", middleware_spans=False, signals_spans=False),
            CeleryIntegration(propagate_traces=False, monitor_beat_tasks=False),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
        traces_sample_rate=None,
    )
