"""The Celery app; its settings, and every periodic schedule, are CELERY_* Django settings."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "multical.settings")

app = Celery("multical")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
