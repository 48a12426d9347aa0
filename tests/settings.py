"""Settings for the test suite: the project's own, on PostgreSQL and Redis at 127.0.0.1 by default.

Each test process gets its own cache prefix and Celery queue, so parallel runs (pytest-xdist, or two
checkouts on one machine) never read each other's sessions or tasks. Worker subprocesses started by
the tests inherit these variables and so share them with the test that started them.
"""

import os

os.environ["MULTICAL_ENV"] = "development"
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/multical")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("CACHE_KEY_PREFIX", f"multical-test-{os.getpid()}")
os.environ.setdefault("CELERY_QUEUE", f"multical-test-{os.getpid()}")
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
