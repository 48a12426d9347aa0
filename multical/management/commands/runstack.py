"""Run the whole product in one terminal: web server, Celery worker and Celery beat."""

from __future__ import annotations

import shlex
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from honcho.manager import Manager


def stack_manager(addrport: str) -> Manager:
    """A honcho manager holding the web server, a worker and beat; ``loop()`` runs them."""
    python = sys.executable
    celery = [python, "-m", "celery", "--app", "multical"]
    # Threads rather than forked children: Ctrl-C then stops the worker without orphans.
    worker = [*celery, "worker", "--loglevel", "INFO", "--pool", "threads", "--concurrency", "4"]
    if not settings.REDIS_URL:
        # The filesystem broker has no fanout, which remote control and gossip rely on.
        worker += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    manager = Manager()
    manager.add_process("web", shlex.join([python, "manage.py", "runserver", addrport]))
    manager.add_process("worker", shlex.join(worker))
    manager.add_process("beat", shlex.join([*celery, "beat", "--loglevel", "INFO"]))
    return manager


class Command(BaseCommand):
    help = "Run the web server, a Celery worker and Celery beat together; Ctrl-C stops all three."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "addrport", nargs="?", default="127.0.0.1:8000", help="Where the web server listens."
        )

    def handle(self, *args: Any, addrport: str, **options: Any) -> None:
        manager = stack_manager(addrport)
        manager.loop()
        sys.exit(manager.returncode)
