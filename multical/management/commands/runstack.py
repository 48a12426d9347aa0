"""Run the whole product in one terminal: web server, Celery workers and Celery beat."""

from __future__ import annotations

import ipaddress
import os
import shlex
import sys
from typing import Any, NamedTuple

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.core.management.commands.runserver import naiveip_re
from honcho.manager import Manager
from honcho.printer import Printer


class StackProcess(NamedTuple):
    """One process of the stack: its name at the terminal, its command line, its environment."""

    name: str
    command: list[str]
    env: dict[str, str]


def site_url(addrport: str) -> str:
    """The address a browser on this machine reaches a server started on ``addrport`` at.

    ``addrport`` is runserver's: ``port``, ``address:port`` or ``[ipv6]:port``. Without an address
    the server listens on 127.0.0.1, as runserver does; a wildcard one (``0``, ``0.0.0.0``,
    ``[::]``) becomes loopback. Raises CommandError for what runserver could not listen on.
    """
    refused = CommandError(
        f"{addrport!r} is not a port or an address:port pair (e.g. 8080, 0.0.0.0:8080, [::1]:8000)."
    )
    match = naiveip_re.match(addrport)
    if match is None or not 0 < int(match["port"]) < 65536:
        raise refused
    host = (match["addr"] or "127.0.0.1").lower()
    try:
        if match["ipv4"]:
            ipaddress.IPv4Address(host)
        elif match["ipv6"] and ipaddress.IPv6Address(host[1:-1]).is_unspecified:
            host = "[::1]"
    except ValueError:
        raise refused from None
    if host in ("0", "0.0.0.0"):  # noqa: S104 - naming it, not binding to it
        host = "127.0.0.1"
    return f"http://{host}:{int(match['port'])}"


def stack_processes(addrport: str, *, quiet: bool = False) -> list[StackProcess]:
    """The web server on ``addrport``, the two workers and beat.

    Outside production, unless SITE_URL is set, each is given ``SITE_URL=site_url(addrport)``: the
    links they make (e-mailed verification and booking links, the booking links to copy) lead to
    the server as it was started. ``quiet`` leaves out the worker's and beat's start-up banners
    and runserver's production warning (the demo prints its own banner after them).
    """
    url = site_url(addrport)
    env = dict(os.environ)
    if not settings.PRODUCTION and not env.get("SITE_URL", "").strip():
        env["SITE_URL"] = url
    python = sys.executable
    celery = [python, "-m", "celery", "--app", "multical", *(["--quiet"] if quiet else [])]
    # Threads rather than forked children: Ctrl-C then stops the workers without orphans.
    worker = [*celery, "worker", "--loglevel", "INFO", "--pool", "threads", "--concurrency", "4"]
    if not settings.REDIS_URL:
        # The filesystem broker has no fanout, which remote control and gossip rely on.
        worker += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    web_env = {**env, "DJANGO_RUNSERVER_HIDE_WARNING": "true"} if quiet else env
    # Two workers, as in production: one for what people wait for (outgoing webhooks too, their
    # own worker in production), one for polling and the routine jobs, so a backlog of the second
    # never delays the first (CELERY_TASK_DEFAULT_QUEUE).
    now_queues = f"{settings.CELERY_TASK_DEFAULT_QUEUE},{settings.CELERY_WEBHOOKS_QUEUE}"
    routine_queues = f"{settings.CELERY_POLL_QUEUE},{settings.CELERY_BULK_QUEUE}"
    return [
        StackProcess("web", [python, "manage.py", "runserver", addrport], web_env),
        StackProcess("worker", [*worker, "--queues", now_queues, "-n", "now@%h"], env),
        StackProcess("poller", [*worker, "--queues", routine_queues, "-n", "routine@%h"], env),
        StackProcess("beat", [*celery, "beat", "--loglevel", "INFO"], env),
    ]


def stack_manager(addrport: str, *, quiet: bool = False, printer: Printer | None = None) -> Manager:
    """A honcho manager holding ``stack_processes(addrport)``; ``loop()`` runs them."""
    manager = Manager(printer=printer)
    for process in stack_processes(addrport, quiet=quiet):
        manager.add_process(process.name, shlex.join(process.command), env=process.env)
    return manager


class Command(BaseCommand):
    help = "Run the web server, the Celery workers and Celery beat together; Ctrl-C stops them all."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "addrport", nargs="?", default="127.0.0.1:8000", help="Where the web server listens."
        )

    def handle(self, *args: Any, addrport: str, **options: Any) -> None:
        manager = stack_manager(addrport)
        manager.loop()
        sys.exit(manager.returncode)
