from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from calendars.models import ERROR_LENGTH, Calendar
from integrations.base import ProviderError
from integrations.wording import translated
from syncrules import choices


class SyncRule(models.Model):
    """Copy the events of the source calendars into the target calendars as blocks."""

    # Defined once in syncrules.choices, where the planner reads them too.
    Visibility = choices.Visibility
    Handling = choices.Handling
    ShowAs = choices.ShowAs

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sync_rules"
    )
    name = models.CharField(max_length=120)
    sources = models.ManyToManyField(Calendar, related_name="rules_as_source")
    targets = models.ManyToManyField(Calendar, related_name="rules_as_target")
    enabled = models.BooleanField(default=True)
    # Set when the end of a Pro plan switched the rule off (not its owner); cleared when it is on.
    plan_paused_at = models.DateTimeField(null=True, blank=True, editable=False)

    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.BUSY)
    busy_title = models.CharField(max_length=120, default="Busy")
    show_location = models.BooleanField(default=False)
    show_video_link = models.BooleanField(default=False)
    # Lists of words (JSON, so the embedded SQLite development database can hold them too).
    include_keywords = models.JSONField(default=list, blank=True)
    exclude_keywords = models.JSONField(default=list, blank=True)

    skip_declined = models.BooleanField(default=True)
    skip_free = models.BooleanField(default=True)
    tentative = models.CharField(
        max_length=8, choices=choices.Handling.choices, default=choices.Handling.BUSY
    )
    all_day = models.CharField(
        max_length=8, choices=choices.ALL_DAY_CHOICES, default=choices.Handling.SKIP
    )
    show_as = models.CharField(max_length=8, choices=ShowAs.choices, default=ShowAs.BUSY)

    lookahead_days = models.PositiveSmallIntegerField(
        default=60, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    lookback_days = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(30)])
    # ISO weekdays (1 = Monday) whose events are copied; empty means every day.
    weekdays = models.JSONField(default=list, blank=True)
    # Copy only events that overlap these hours, read in the user's time zone; both or neither.
    working_hours_start = models.TimeField(null=True, blank=True)
    working_hours_end = models.TimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(lookahead_days__gte=1, lookahead_days__lte=365),
                name="syncrules_rule_lookahead_range",
            ),
            models.CheckConstraint(
                condition=models.Q(working_hours_start__isnull=True, working_hours_end__isnull=True)
                | models.Q(working_hours_start__isnull=False, working_hours_end__isnull=False),
                name="syncrules_rule_working_hours_both_or_neither",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Block(models.Model):
    """A blocking event we wrote into a target calendar for one source event instance.

    Holds ids, times, a state and a keyed fingerprint of what was written; never the content.
    The row is written (pending) before the remote create, and its id is the marker the remote
    event carries, so a retry finds what an interrupted attempt wrote instead of writing twice.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Being written"
        SYNCED = "synced", "In the target calendar"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The rule whose rendering the block shows. Both outlive what they point at (SET_NULL): a
    # block whose source calendar is gone, or that no enabled rule copies any more, is stale, and
    # the clean-up deletes it from the target calendar before forgetting it; one whose rule went
    # while another rule still copies its event is rendered again by that rule.
    rule = models.ForeignKey(SyncRule, on_delete=models.SET_NULL, null=True, related_name="blocks")
    source_calendar = models.ForeignKey(
        Calendar, on_delete=models.SET_NULL, null=True, related_name="source_blocks"
    )
    source_event_id = models.CharField(max_length=1000)
    source_series_id = models.CharField(max_length=1000)
    target_calendar = models.ForeignKey(
        Calendar, on_delete=models.CASCADE, related_name="target_blocks"
    )
    # The event's id in the target calendar, once written.
    target_event_id = models.CharField(max_length=1000, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    start = models.DateTimeField()
    end = models.DateTimeField()
    all_day = models.BooleanField(default=False)
    fingerprint = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # However many rules copy one instance into one calendar, it gets one block there (the
            # most private rendering wins, and ``rule`` names the rule it was rendered by).
            models.UniqueConstraint(
                fields=["source_calendar", "source_event_id", "target_calendar"],
                name="syncrules_block_one_per_instance_and_target",
            ),
        ]
        indexes = [
            models.Index(
                fields=["source_calendar", "source_series_id"], name="syncrules_block_series"
            ),
            models.Index(
                fields=["target_calendar", "target_event_id"], name="syncrules_block_target_event"
            ),
        ]

    def __str__(self) -> str:
        return f"block {self.id} ({self.state})"


class SyncRun(models.Model):
    """One sync of one rule's source calendar: counts and an error in plain words, no content."""

    rule = models.ForeignKey(SyncRule, on_delete=models.CASCADE, related_name="runs")
    source_calendar = models.ForeignKey(
        Calendar, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    full_read = models.BooleanField(default=False)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    # The mass-deletion guard: deletions this run held back until a later full read confirms the
    # events are gone, and whether ``deleted`` is such a confirmed mass deletion.
    deletions_held = models.PositiveIntegerField(default=0)
    deletions_confirmed = models.BooleanField(default=False)
    # Why the run failed, kept as a connection's last error is (``calendars.models.LastError``).
    error = models.CharField(max_length=ERROR_LENGTH, blank=True)
    error_params = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["rule", "-started_at"], name="syncrules_run_rule")]

    def __str__(self) -> str:
        return f"run of {self.rule_id} at {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def error_text(self) -> str:
        """Why the run failed, in the reader's language."""
        return translated(self.error, self.error_params)

    def note_error(self, error: ProviderError) -> None:
        """Keep ``error`` as why the run failed (unsaved)."""
        self.error = error.msgid[:ERROR_LENGTH]
        self.error_params = error.params


class SyncState(models.Model):
    """What has been asked of one calendar's sync, and what has been done: the durable intent.

    Every trigger (a notification, a poll, a rule change, "sync now") counts one request; a sync
    remembers the count it started from and, once everything it did has committed, marks that
    count served. So a request is never lost to a crash: until a sync that started after it has
    finished, ``requested > served`` and the sweeper queues the calendar again. A full read asked
    for (a rule's settings changed, a connection came back) is served only by a full read that
    started after it. Counts only: no content, no cursor (that stays on the calendar).
    """

    calendar = models.OneToOneField(
        Calendar, primary_key=True, on_delete=models.CASCADE, related_name="sync_state"
    )
    requested = models.BigIntegerField(default=0)
    served = models.BigIntegerField(default=0)
    # The value of ``requested`` when a full read was last asked for, and the last one served.
    full_requested = models.BigIntegerField(default=0)
    full_served = models.BigIntegerField(default=0)
    # When the oldest request not yet served came in (the sweeper leaves young ones to the queue).
    pending_since = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # After a transient failure: how many in a row, and no new attempt before ``retry_at``.
    failures = models.PositiveIntegerField(default=0)
    retry_at = models.DateTimeField(null=True, blank=True)
    # The mass-deletion guard holds this many deletions since then, for a confirming full read.
    deletions_held = models.PositiveIntegerField(default=0)
    deletions_held_at = models.DateTimeField(null=True, blank=True)
    # When the poller next looks at the calendar: its own moment in each poll interval
    # (``syncrules.polling``); null until the poller has first seen it.
    next_poll_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["pending_since"],
                condition=models.Q(pending_since__isnull=False),
                name="syncrules_state_pending",
            ),
            models.Index(fields=["next_poll_at"], name="syncrules_state_next_poll"),
        ]

    def __str__(self) -> str:
        return f"sync state of {self.calendar_id} ({self.served}/{self.requested})"

    @property
    def pending(self) -> bool:
        return self.requested > self.served or self.full_requested > self.full_served

    @property
    def running(self) -> bool:
        return self.started_at is not None and (
            self.finished_at is None or self.started_at > self.finished_at
        )
