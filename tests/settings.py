"""Settings for the test suite: the project's own, on PostgreSQL and Redis at 127.0.0.1 by default.

Each test process gets its own cache prefix and Celery queue, so parallel runs (the two
pytest-xdist workers, or two checkouts on one machine) never read each other's sessions, tasks or
rate-limit counters. They are made of the run (a random token the pytest process draws, which the
xdist workers it starts inherit) and the xdist worker's name: environment variables pass from a
process to those it starts, so a value set once would be shared by both workers. Worker
subprocesses the tests start (Celery, gunicorn) inherit both parts, and so share the prefix and
queue of the test that started them.
"""

import os
import secrets

os.environ["MULTICAL_ENV"] = "development"
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/multical")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("MULTICAL_TEST_RUN", secrets.token_hex(6))
os.environ["CACHE_KEY_PREFIX"] = "-".join(
    (
        "multical-test",
        os.environ["MULTICAL_TEST_RUN"],
        os.environ.get("PYTEST_XDIST_WORKER", "main"),
    )
)
os.environ["CELERY_QUEUE"] = os.environ["CACHE_KEY_PREFIX"]
# The suite sends thousands of requests from 127.0.0.1; the rate-limit tests lower these themselves.
os.environ.setdefault("RATE_LIMIT_DEFAULT", "1000000/15m")
os.environ.setdefault("FAILED_ATTEMPTS_RATE", "1000000/15m")

from multical.settings import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SITE_URL = "http://testserver"
# The suite's CalDAV servers and iCal feeds listen on 127.0.0.1; the SSRF tests turn this off.
OUTBOUND_ALLOW_LOOPBACK = True
# One test database per run, so two runs on one machine (two checkouts, parallel sessions) never
# drop each other's database; pytest-xdist appends its worker id to this name.
DATABASES["default"]["TEST"] = {"NAME": f"test_multical_{os.getpid()}"}  # noqa: F405
