"""Multical settings, read from the environment (every variable is listed in .env.example).

MULTICAL_ENV=production makes every secret and service address required. Outside production,
with no DATABASE_URL or REDIS_URL, the project runs on embedded stand-ins (SQLite, a database
cache and Kombu's filesystem broker) so that a fresh checkout starts with nothing but Python.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from multical.lib.env import Env
from multical.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

ENVIRONMENT = Env(production=False).str("MULTICAL_ENV", "development")
if ENVIRONMENT not in {"development", "production"}:
    raise ValueError("MULTICAL_ENV must be development or production.")
PRODUCTION = ENVIRONMENT == "production"
env = Env(production=PRODUCTION)

SECRET_KEY = env.str(
    "SECRET_KEY", dev_default="dev-only-secret-key-never-use-in-production-0123456789"
)
# The server secret from which the credential vault derives its encryption keys; earlier secrets
# stay readable until `manage.py rotate_vault_key` has re-sealed everything under the current one.
VAULT_SECRET = env.str("VAULT_SECRET", dev_default="dev-only-vault-secret")
VAULT_PREVIOUS_SECRETS = env.list("VAULT_PREVIOUS_SECRETS", default=[])
DEBUG = env.bool("DEBUG", default=not PRODUCTION)
# The public address of this installation, used in e-mailed links and OAuth redirect URIs. In
# development `make run` and `make demo` set it to the address their web server was started on.
SITE_URL = env.str("SITE_URL", dev_default="http://localhost:8000").rstrip("/")
# In development the site's own host is allowed too, so that `make run ADDRPORT=192.168.1.20:8080`
# answers the links it makes.
_site_host = urlsplit(SITE_URL).hostname or "localhost"
_site_host = f"[{_site_host}]" if ":" in _site_host else _site_host  # as Host carries an IPv6 one
_dev_hosts = ["localhost", "127.0.0.1", "[::1]", _site_host]
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", dev_default=list(dict.fromkeys(_dev_hosts)))
CSRF_TRUSTED_ORIGINS = [SITE_URL]

INSTALLED_APPS = [
    "multical",
    "accounts",
    "calendars",
    "syncrules",
    "booking",
    "portfolio",
    "lifecycle",
    "integrations",
    "webhooks",
    "api",
    "orgs",
    "console",
    "ninja",
    "django_ratelimit",
    "csp",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
]

MIDDLEWARE = [
    # Each request gets an id, written on its log lines and returned in X-Request-ID.
    "multical.logging.RequestIdMiddleware",
    # Outermost but for the id, so that every response carries the security headers: static files,
    # redirects, error pages and 429s included.
    "multical.middleware.SecurityHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A signed-in user's pages in their time zone and on their clock.
    "accounts.middleware.ReaderMiddleware",
    # Owner pages in the user's language (Settings, else the browser's); public booking pages
    # settle their own. Before the rate limit, so that its 429 page speaks it too.
    "accounts.middleware.LanguageMiddleware",
    # After authentication, so that signed-in users are counted by account (and their 429 page
    # knows them), before any view: every request's limit.
    "multical.middleware.RateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns a refused rate limit into RATELIMIT_VIEW's 429 instead of a 403.
    "django_ratelimit.middleware.RatelimitMiddleware",
]

ROOT_URLCONF = "multical.urls"
WSGI_APPLICATION = "multical.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Form fields render through templates/forms/field.html (labels, help and errors in one place).
FORM_RENDERER = "multical.forms.FormRenderer"

# --- Data stores -------------------------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", dev_default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
# Persistent connections: each web thread and worker process keeps one (checked before reuse), so
# PostgreSQL sees at most one per thread of the installation; the README's "Running at scale"
# adds them up. 0 closes each at the end of its request or task (as PgBouncer would want).
DATABASE_CONN_MAX_AGE = env.int("DATABASE_CONN_MAX_AGE", 60)
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=DATABASE_CONN_MAX_AGE, conn_health_checks=True
    )
}
# Behind a pooler in transaction mode (PgBouncer's pool_mode=transaction), a connection is shared
# between transactions: no server-side cursors, and the sync locks, which are held by a session
# for the length of a sync (multical.lib.locks), need a connection of their own that is a real
# session: LOCKS_DATABASE_URL, straight to PostgreSQL or to a pool in session mode.
# PostgreSQL through Django's backend with psycopg's compiled instant loader (multical.db).
_POSTGRESQL = "django.db.backends.postgresql"
if DATABASES["default"]["ENGINE"] == _POSTGRESQL:
    DATABASES["default"]["ENGINE"] = "multical.db.postgresql"
if env.bool("DATABASE_TRANSACTION_POOLER", False):
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
LOCKS_DATABASE_URL = env.str("LOCKS_DATABASE_URL", "")
if LOCKS_DATABASE_URL:
    DATABASES["locks"] = dj_database_url.parse(
        LOCKS_DATABASE_URL, conn_max_age=DATABASE_CONN_MAX_AGE, conn_health_checks=True
    )
    if DATABASES["locks"]["ENGINE"] == _POSTGRESQL:
        DATABASES["locks"]["ENGINE"] = "multical.db.postgresql"
    # The same database under another address: tests use the default one's test database.
    DATABASES["locks"]["TEST"] = {"MIRROR": "default"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", dev_default="")
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's RedisCache, one Redis client per pool (multical/lib/redis_cache.py).
            "BACKEND": "multical.lib.redis_cache.SharedClientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", "multical"),
        }
    }
else:
    # Shared by the web server, worker and beat processes, unlike the in-memory cache.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "multical_cache",
        }
    }

# --- Celery --------------------------------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", REDIS_URL)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        # A task is handed out again if not acknowledged within this: longer than the hard time
        # limit plus the longest retry countdown (multical.lib.retry), so a running or waiting
        # task is never handed out twice. Crash recovery does not wait for it: a sync's intent is a
        # row, and the sweeper (resume-syncs) queues it again within a minute or two.
        "visibility_timeout": 3600,
    }
else:
    _broker_dir = VAR_DIR / "broker"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    # The host is ignored; naming one keeps Kombu from warning on every connection that it took one.
    CELERY_BROKER_URL = "filesystem://localhost//"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Kombu's default is ./control, which would land in whatever directory the worker starts in.
        "control_folder": str(_broker_dir / "control"),
    }
# Four queues by urgency, each with workers of its own (docker-compose.yml, `make run`), so what
# a person waits for never queues behind a backlog of routine work:
# - the default queue: syncs a push notification or a person asked for, booking follow-ups and
#   e-mails, the sweepers and the heartbeat;
# - ".poll": the poller's tick, and syncs of polled calendars (CalDAV, iCal links) it hands out;
# - ".bulk": the nightly reconciliation, clean-ups, channel renewals, account deletions;
# - ".webhooks": outgoing webhook deliveries, so a slow receiver (10 s each) delays no sync.
# Which queue a sync goes to is chosen where it is asked for (syncrules.tasks); the rest by name.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", "multical")
CELERY_POLL_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}.poll"
CELERY_BULK_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}.bulk"
CELERY_WEBHOOKS_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}.webhooks"
CELERY_QUEUES_ALL = (
    CELERY_TASK_DEFAULT_QUEUE,
    CELERY_POLL_QUEUE,
    CELERY_BULK_QUEUE,
    CELERY_WEBHOOKS_QUEUE,
)
CELERY_TASK_ROUTES = {
    # The poller's tick waits behind the polls it handed out: it never holds up push work, and a
    # backlog slows the hand-out down (syncrules.polling.BACKLOG_LIMIT).
    "syncrules.tasks.poll_calendars": {"queue": CELERY_POLL_QUEUE},
    "webhooks.tasks.deliver_webhook": {"queue": CELERY_WEBHOOKS_QUEUE},
} | {
    name: {"queue": CELERY_BULK_QUEUE}
    for name in (
        "syncrules.tasks.reconcile_all",
        "syncrules.tasks.reconcile_target",
        "syncrules.tasks.remove_stale_blocks",
        "syncrules.tasks.finish_clean_ups",
        "syncrules.tasks.release_connection",
        "calendars.tasks.renew_push_channels",
        "calendars.tasks.keep_connections_authorized",
        "calendars.tasks.keep_connection_authorized",
        "lifecycle.tasks.delete_account",
        "lifecycle.tasks.resume_stalled_deletions",
    )
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged when it finishes, so a worker that dies mid-task leaves it to another.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# No task may run longer: the soft limit lets it record the failure (a sync backs off and is
# retried), the hard one stops a stuck process.
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# How often calendars without push (CalDAV, iCal links) are polled; an idle poll is one request.
# Each calendar has its own moment in the interval, so polls are spread evenly over it. A minute
# by default: bench/scale.py sustains it for 5,000 users on two single-process workers (README,
# "Running at scale").
SYNC_POLL_INTERVAL_SECONDS = env.int("SYNC_POLL_INTERVAL_SECONDS", 60)
# How many syncs of polled calendars may talk to one server at once (iCloud and small CalDAV
# servers throttle), across every worker.
SYNC_POLLS_PER_SERVER = env.int("SYNC_POLLS_PER_SERVER", 4)
# How long booking pages may reuse busy time read from a calendar (sync notifications and syncs
# that find changes forget it sooner).
BOOKING_BUSY_CACHE_SECONDS = env.int("BOOKING_BUSY_CACHE_SECONDS", 120)
# The mass-deletion guard: when one sync would remove more than this percentage of a source's
# blocks, and at least this many, because their events vanished, the deletions wait for a full
# read at least MASS_DELETION_CONFIRM_SECONDS later that finds them still gone.
MASS_DELETION_PERCENT = env.int("MASS_DELETION_PERCENT", 50)
MASS_DELETION_MIN_BLOCKS = env.int("MASS_DELETION_MIN_BLOCKS", 10)
MASS_DELETION_CONFIRM_SECONDS = env.int("MASS_DELETION_CONFIRM_SECONDS", 120)
# Organizations' single sign-on (OpenID Connect): how long an issuer's discovery document and keys
# are reused, how soon an unknown key id may fetch the keys again, and the clock skew allowed.
OIDC_DISCOVERY_CACHE_SECONDS = env.int("OIDC_DISCOVERY_CACHE_SECONDS", 3600)
OIDC_JWKS_CACHE_SECONDS = env.int("OIDC_JWKS_CACHE_SECONDS", 3600)
OIDC_JWKS_REFETCH_SECONDS = env.int("OIDC_JWKS_REFETCH_SECONDS", 60)
OIDC_CLOCK_SKEW_SECONDS = env.int("OIDC_CLOCK_SKEW_SECONDS", 60)
# What looks up the TXT record that proves an organization's domain (tests name a zone of their own).
ORG_DNS_RESOLVER = env.str("ORG_DNS_RESOLVER", "orgs.dns.system_resolver")
# Every periodic job of the project. Each is safe if two beats ever run (they only enqueue
# coalesced, idempotent work).
CELERY_BEAT_SCHEDULE = {
    # Lets /health/ tell operators whether beat and a worker are alive.
    "heartbeat": {"task": "multical.tasks.record_heartbeat", "schedule": 60.0},
    # Syncs asked for and not served (a worker killed mid-sync, a lost message, a retry that is
    # due) are queued again.
    "resume-syncs": {"task": "syncrules.tasks.resume_syncs", "schedule": 30.0},
    # Booking follow-ups a dead worker or a lost message left unfinished are queued again.
    "resume-follow-ups": {"task": "booking.tasks.resume_follow_ups", "schedule": 60.0},
    # Blocks no rule copies any more are removed (their removal is queued at once; this catches a
    # lost message), and disconnections whose clean-up stalled resume.
    "finish-clean-ups": {"task": "syncrules.tasks.finish_clean_ups", "schedule": 10 * 60.0},
    # CalDAV calendars and iCal links have no push: every second, hand out the polls whose
    # moment in the interval has come (syncrules.polling).
    "poll-calendars": {"task": "syncrules.tasks.poll_calendars", "schedule": 1.0},
    # Open push channels (Google, Graph), renewing or replacing each a day before it expires.
    "renew-push-channels": {"task": "calendars.tasks.renew_push_channels", "schedule": 60.0 * 60},
    # Re-read every source in full once a day: heals anything missed and rolls the window forward.
    "reconcile": {"task": "syncrules.tasks.reconcile_all", "schedule": crontab(hour=3, minute=17)},
    # Every OAuth connection uses its tokens once a day, so unused refresh tokens never lapse.
    "keep-connections-authorized": {
        "task": "calendars.tasks.keep_connections_authorized",
        "schedule": crontab(hour=4, minute=41),
    },
    # Account deletions whose task was lost (a broker restart) are queued again.
    "resume-account-deletions": {
        "task": "lifecycle.tasks.resume_stalled_deletions",
        "schedule": 60.0 * 60,
    },
    # Webhook deliveries that are due and lost their message are queued again; failing ones paused.
    "sweep-webhooks": {"task": "webhooks.tasks.sweep_webhooks", "schedule": 30.0},
    # Organizations' seats Stripe does not bill as wanted yet are pushed again; subscriptions of
    # deleted organizations are cancelled.
    "push-pending-seats": {"task": "orgs.tasks.push_pending_seats", "schedule": 5 * 60.0},
    # Domains still waiting for their DNS record are read again (orgs.domains.RECHECK_INTERVAL).
    "recheck-waiting-domains": {"task": "orgs.tasks.recheck_waiting_domains", "schedule": 5 * 60.0},
}
CELERY_TIMEZONE = "UTC"

# --- Accounts, passwords and sessions ------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "landing"
PASSWORD_HASHERS = ["accounts.hashers.Argon2idHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# How long e-mailed password-reset and verification links stay valid.
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24

SESSION_ENGINE = "django.contrib.sessions.backends.cache"
SESSION_COOKIE_AGE = 60 * 60 * 24
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = PRODUCTION
CSRF_FAILURE_VIEW = "multical.views.csrf_failure"

# The version of the Terms of Service and Privacy Policy that sign-up records consent to.
LEGAL_DOCUMENTS_VERSION = "2026-11-21"
# Who runs this installation, and where people write to them: both documents name the operator
# (for the GDPR, the controller of the personal data kept here).
OPERATOR_NAME = env.str("OPERATOR_NAME", dev_default="The person running this development server")
OPERATOR_CONTACT = env.str("OPERATOR_CONTACT", dev_default="privacy@localhost")

# --- Transport security (production sits behind a TLS-terminating proxy) -------------------------
# The request header that proxy puts the client's address in (X-Forwarded-For, read from the right,
# or X-Real-IP), and how many proxies append to it. Unset, only the peer address counts: a client
# could write any forwarding header it likes.
TRUSTED_PROXY_HEADER = env.str("TRUSTED_PROXY_HEADER", "")
if TRUSTED_PROXY_HEADER:
    TRUSTED_PROXY_HEADER = TRUSTED_PROXY_HEADER.upper().replace("-", "_")
    if not TRUSTED_PROXY_HEADER.startswith("HTTP_"):
        TRUSTED_PROXY_HEADER = f"HTTP_{TRUSTED_PROXY_HEADER}"
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", 1)
if TRUSTED_PROXY_COUNT < 1:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 1 or more.")
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # The container health check calls this path over plain HTTP from inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^health/$"]
    SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365 * 2
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
# multical.middleware.SecurityHeadersMiddleware writes these headers, HSTS (from the settings above,
# whether or not a request looks secure) and the policy below on every response; the settings here
# keep Django's own middleware and `check --deploy` in agreement.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        # FullCalendar injects its stylesheet with the nonce it reads from base.html's csp-nonce meta.
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        # FullCalendar's stylesheet carries its arrow icons as an embedded (data:) font.
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        # Plus, per request, the origin of each URL named in FORM_ACTION_URL_SETTINGS.
        "form-action": [SELF],
    }
}
# Settings holding URLs that our forms' redirects lead to (the providers' consent pages, where the
# "connect" and "sign in with" buttons go): each one's origin is allowed in form-action.
FORM_ACTION_URL_SETTINGS = ["GOOGLE_AUTH_URI", "MICROSOFT_AUTHORITY", "ZOOM_OAUTH_URL"]

# --- E-mail --------------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", dev_default="Multical <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if PRODUCTION:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env.str("EMAIL_HOST")
    EMAIL_PORT = env.int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
    EMAIL_TIMEOUT = 10
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# --- Calendar and payment providers (optional: a provider without a client id is shown disabled) -
GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET = env.pair("GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET")
MICROSOFT_CLIENT_ID, MICROSOFT_CLIENT_SECRET = env.pair(
    "MICROSOFT_CLIENT_ID", "MICROSOFT_CLIENT_SECRET"
)
ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET = env.pair("ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET")
STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET = env.pair("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")
# --- Billing (Stripe) -----------------------------------------------------------------------------
# Billing is on when the key, the webhook secret and the Pro plan's price are set. Without them (a
# self-hosted server) nobody is limited: every account has all of Pro's features.
STRIPE_PRO_PRICE_ID = env.str("STRIPE_PRO_PRICE_ID", "")
# The per-seat price organizations pay for each member (monthly, licensed quantity); blank uses the
# Pro price, so a seat costs what a personal Pro does.
STRIPE_SEAT_PRICE_ID = env.str("STRIPE_SEAT_PRICE_ID", "")
if STRIPE_SECRET_KEY and not STRIPE_PRO_PRICE_ID:
    raise ImproperlyConfigured(
        "Set STRIPE_PRO_PRICE_ID (the Pro plan's price) with STRIPE_SECRET_KEY."
    )
# Stripe's API, and the origins of its Checkout and Customer Portal pages (our upgrade and "manage"
# forms redirect there, so form-action must allow them); the tests point all three at a fake.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", "https://api.stripe.com")
STRIPE_CHECKOUT_URL = env.str("STRIPE_CHECKOUT_URL", "https://checkout.stripe.com")
STRIPE_PORTAL_URL = env.str("STRIPE_PORTAL_URL", "https://billing.stripe.com")
FORM_ACTION_URL_SETTINGS += ["STRIPE_CHECKOUT_URL", "STRIPE_PORTAL_URL"]
# Where the providers are; the test suite points these at local fakes of their APIs.
GOOGLE_API_ENDPOINT = env.str("GOOGLE_API_ENDPOINT", "https://www.googleapis.com/calendar/v3/")
GOOGLE_AUTH_URI = env.str("GOOGLE_AUTH_URI", "https://accounts.google.com/o/oauth2/v2/auth")
GOOGLE_TOKEN_URI = env.str("GOOGLE_TOKEN_URI", "https://oauth2.googleapis.com/token")
ZOOM_API_URL = env.str("ZOOM_API_URL", "https://api.zoom.us/v2")
ZOOM_OAUTH_URL = env.str("ZOOM_OAUTH_URL", "https://zoom.us/oauth")
# The secret token Zoom signs its event notifications with (SITE_URL/hooks/zoom/, where the notice
# that a user removed the app arrives): required in production when Zoom is set up.
ZOOM_WEBHOOK_SECRET_TOKEN = (
    env.str("ZOOM_WEBHOOK_SECRET_TOKEN", dev_default="") if ZOOM_CLIENT_ID else ""
)
MICROSOFT_AUTHORITY = env.str("MICROSOFT_AUTHORITY", "https://login.microsoftonline.com/common")
MICROSOFT_GRAPH_URL = env.str("MICROSOFT_GRAPH_URL", "https://graph.microsoft.com/v1.0")
# How long Graph subscriptions to calendars are asked for, in minutes; never more than the 4,230
# Graph documents for events, which it enforces (integrations.microsoft.provider).
MICROSOFT_SUBSCRIPTION_MINUTES = env.int("MICROSOFT_SUBSCRIPTION_MINUTES", 4230)

# Requests to user-supplied URLs (iCal links, CalDAV servers) refuse private and loopback
# addresses; local development and the test suite, whose servers run on loopback, allow loopback.
OUTBOUND_ALLOW_LOOPBACK = env.bool("OUTBOUND_ALLOW_LOOPBACK", default=False)
# Private networks users' iCal links and CalDAV servers may be on (a self-hoster's Nextcloud on
# 192.168.1.0/24), checked and pinned like public addresses; none by default. Cloud metadata,
# link-local, multicast and broadcast addresses stay refused whatever is listed.
OUTBOUND_ALLOWED_NETWORKS: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
for _network in env.list("OUTBOUND_ALLOWED_NETWORKS", default=[]):
    try:
        OUTBOUND_ALLOWED_NETWORKS.append(ipaddress.ip_network(_network, strict=False))
    except ValueError:
        raise ImproperlyConfigured(
            f"OUTBOUND_ALLOWED_NETWORKS: {_network!r} is not a network such as 192.168.1.0/24."
        ) from None

# --- Static files, locale ------------------------------------------------------------------------
STATIC_URL = "/static/"
# Production serves the collected, hashed files; elsewhere WhiteNoise reads the source folders.
STATIC_ROOT = env.str("STATIC_ROOT", str(VAR_DIR / "static")) if PRODUCTION else None
WHITENOISE_USE_FINDERS = not PRODUCTION
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# The languages attendees read booking pages and their e-mails in, each named in itself (the
# switcher lists them so). The public views settle theirs for their own responses
# (booking.public_views.speaks_attendee_language), whatever the rest of the site speaks.
LANGUAGES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("fr", "Français"),
    ("es", "Español"),
    ("pt", "Português"),
    ("nl", "Nederlands"),
    ("it", "Italiano"),
    ("ja", "日本語"),
]
# The languages the owner's side speaks (dashboard, settings, sign-in, e-mails to owners): a
# subset of LANGUAGES, named in themselves for Settings' choice. A signed-in user reads the one
# they chose there, else the best match of their browser's Accept-Language among these
# (accounts.middleware.LanguageMiddleware); the attendees' language cookie is not read for them.
# Another language joins once its catalogue translates the owner's messages (locale/README.md).
OWNER_LANGUAGES = [("en", "English"), ("de", "Deutsch")]
if not set(OWNER_LANGUAGES) <= set(LANGUAGES):
    raise ImproperlyConfigured("OWNER_LANGUAGES must be a subset of LANGUAGES.")
# The catalogues, with their compiled .mo files beside them (locale/README.md says why).
LOCALE_PATHS = [BASE_DIR / "locale"]
# An attendee's choice on the switcher, kept for a year; read by our views only.
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SECURE = PRODUCTION

# --- Logging: one line per record to stderr; never event content or secrets ----------------------
# Secrets in logged paths are redacted, and libraries that log headers or token answers are held
# at WARNING whatever LOG_LEVEL says (multical.logging).
# LOG_FORMAT=json writes each record as one JSON object per line (time, level, logger, message, the
# request or task id), for a log collector; the same redaction and caps apply (multical.logging).
LOG_FORMAT = env.str("LOG_FORMAT", "plain")
LOGGING = logging_config(level=env.str("LOG_LEVEL", "INFO"), log_format=LOG_FORMAT)

# --- Rate limits (django-ratelimit counts in the shared cache) ------------------------------------
RATELIMIT_VIEW = "multical.views.rate_limited"
# Addresses as multical.lib.requests.client_ip reads them (the trusted proxy header, if set).
RATELIMIT_IP_META_KEY = "multical.lib.rate_limits.client_address"
# Every request of a signed-in user, per account, far more than anyone clicks
# (multical.middleware.RateLimitMiddleware)...
RATE_LIMIT_SIGNED_IN = env.str("RATE_LIMIT_SIGNED_IN", "2000/15m")
# ...every other request, per client address, but for public booking pages (below)...
RATE_LIMIT_DEFAULT = env.str("RATE_LIMIT_DEFAULT", "100/15m")
# ...except these paths: push notifications (verified by their secrets, and a dropped one is a
# lost change), the health check, and the REST API, which counts its own requests (per key, per
# address without one: api.auth, api.limits) and answers a refusal as a problem, not as the
# HTML 429 page. Static files are exempt too.
RATE_LIMIT_EXEMPT_PATHS = ["/hooks/", "/health/", "/api/v1/"]
# Failed log-ins, sign-ups and password resets per client address (multical.lib.failed_attempts).
FAILED_ATTEMPTS_RATE = env.str("FAILED_ATTEMPTS_RATE", "10/15m")
# A calendar's "sync now" and a data export, per account.
SYNC_NOW_RATE = env.str("SYNC_NOW_RATE", "20/15m")
DATA_EXPORT_RATE = env.str("DATA_EXPORT_RATE", "20/15m")
# Public booking pages, per client address. An attendee's visit is some 10 to 20 requests (the
# page, a few months or days, the form, the confirmation), so looking around allows a whole office
# behind one address, and each page's share of it about 30 to 60 visits; submitting (book, move,
# cancel) allows an office's bookings and their retries, not a flood of them.
BOOKING_BROWSE_RATE = env.str("BOOKING_BROWSE_RATE", "3000/15m")
BOOKING_PAGE_RATE = env.str("BOOKING_PAGE_RATE", "600/15m")
BOOKING_SUBMIT_RATE = env.str("BOOKING_SUBMIT_RATE", "60/15m")
# The portfolio's event feed reads every calendar at the providers: per account.
PORTFOLIO_FETCH_RATE = env.str("PORTFOLIO_FETCH_RATE", "20/15m")
# Opening, creating, moving, editing, deleting and answering events from the portfolio, per
# account: someone dragging events about for an hour stays well inside it.
PORTFOLIO_ACTION_RATE = env.str("PORTFOLIO_ACTION_RATE", "600/15m")
# The REST API, per API key (api.auth): requests without a working key count against
# RATE_LIMIT_DEFAULT for their address instead.
API_KEY_RATE = env.str("API_KEY_RATE", "120/m")
# The booking page form's live preview, per account: it asks again after each pause in typing.
BOOKING_PREVIEW_RATE = env.str("BOOKING_PREVIEW_RATE", "600/15m")
SILENCED_SYSTEM_CHECKS = [
    # Django's RedisCache (ours shares its clients) increments atomically (INCRBY); the check only
    # knows django-redis.
    "django_ratelimit.W001",
]
if not REDIS_URL:
    # The embedded development cache increments without a lock: limits there are approximate.
    SILENCED_SYSTEM_CHECKS.append("django_ratelimit.E003")

# --- Observability -------------------------------------------------------------------------------
# Workers keep the handler of LOGGING (redaction, the chosen format) instead of Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Prometheus metrics at /metrics, for `Authorization: Bearer <METRICS_TOKEN>` only (a 404 for anyone
# else, and for everyone when unset). Counters are kept in Redis, so that every web process and
# worker on every machine adds to the same ones (multical.metrics).
METRICS_TOKEN = env.str("METRICS_TOKEN", "")
if METRICS_TOKEN and not REDIS_URL:
    raise ImproperlyConfigured(
        "METRICS_TOKEN needs REDIS_URL: the metrics of every process are added up in Redis."
    )
METRICS_KEY_PREFIX = f"{CACHES['default'].get('KEY_PREFIX', 'multical')}:metrics"
if PRODUCTION:
    # Scraped over plain HTTP on the internal network, like the health check.
    SECURE_REDIRECT_EXEMPT += [r"^metrics$"]
# Error reports to Sentry (or a compatible server) when set, scrubbed of event content, personal
# data, local variables and request bodies (multical.logging.error_reports_init).
SENTRY_DSN = env.str("SENTRY_DSN", "")
if SENTRY_DSN:
    from multical.logging import error_reports_init

    error_reports_init(
        dsn=SENTRY_DSN, environment=ENVIRONMENT, release=env.str("SENTRY_RELEASE", "")
    )
