"""Sync one calendar, or every source calendar, now, in this process (for operators)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from calendars.models import Calendar
from integrations.base import ProviderError
from syncrules import engine


class Command(BaseCommand):
    help = "Sync a calendar (by id) or, with --all, every calendar that feeds an enabled rule."

    def add_arguments(self, parser: Any) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--calendar", help="The calendar's id.")
        target.add_argument(
            "--all", action="store_true", help="Every source calendar of an enabled rule."
        )
        parser.add_argument(
            "--full", action="store_true", help="Re-read everything instead of the changes."
        )

    def handle(
        self, *args: Any, calendar: str | None, all: bool, full: bool, **options: Any
    ) -> None:
        # argparse lets exactly one of --calendar and --all through.
        ids = [calendar] if calendar is not None else engine.source_calendar_ids()
        failures = 0
        for calendar_id in ids:
            found = Calendar.objects.select_related("connection").filter(id=calendar_id).first()
            if found is None:
                raise CommandError(f"No calendar with id {calendar_id}.")
            try:
                engine.sync_source_calendar(found, full=full)
            except ProviderError as error:
                failures += 1
                self.stderr.write(f"{calendar_id}: {error.message}")
            else:
                self.stdout.write(f"{calendar_id}: synced")
        removed = engine.remove_stale_blocks()
        self.stdout.write(f"stale blocks removed: {removed}")
        if failures:
            raise CommandError(f"{failures} calendar(s) could not be synced.")
