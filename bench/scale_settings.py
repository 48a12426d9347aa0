"""Settings of the stack ``bench/scale.py`` starts: the project's own, read from the environment
the bench gives every process, with e-mail sent over SMTP to the bench's sink (the project's
development settings print e-mail to the console, which says nothing about when it left).

Importing the project's settings module whole keeps every other setting as operators run it:
queue names, the beat schedule, cache and broker on Redis, persistent database connections.
"""

from __future__ import annotations

import os

from multical.settings import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = int(os.environ["SCALE_SMTP_PORT"])
EMAIL_USE_TLS = False
EMAIL_TIMEOUT = 10
# The simulated CalDAV servers and iCal links listen on loopback.
OUTBOUND_ALLOW_LOOPBACK = True
