"""The Celery app. Every periodic schedule of the project lives in ``beat_schedule`` below."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "multical.settings")

app = Celery("multical")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Lets /health/ tell operators whether beat and a worker are alive.
    "heartbeat": {"task": "multical.tasks.record_heartbeat", "schedule": 60.0},
}
