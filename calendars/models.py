from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from integrations.base import ProviderError
from integrations.kinds import AccountKind
from integrations.wording import translated
from multical.lib.vault import SealedTextField


class ConnectionQuerySet(models.QuerySet):
    def usable(self) -> ConnectionQuerySet:
        """The connections work is done through (``Connection.USABLE``)."""
        return self.filter(status__in=Connection.USABLE)

    def released(self) -> ConnectionQuerySet:
        """The connections being let go (``Connection.RELEASED``)."""
        return self.filter(status__in=Connection.RELEASED)

    def held(self) -> ConnectionQuerySet:
        """Every connection but the released ones: what the user still has."""
        return self.exclude(status__in=Connection.RELEASED)


# Room for a message as raised (its values are kept apart).
ERROR_LENGTH = 300


class LastError(models.Model):
    """The last failure of a connection or calendar, for its owner: the provider error's English
    message as raised (``ProviderError.msgid``) and its values (statuses, numbers; never a
    credential or event content), so each reader sees it in their own language (``error_text``).
    Rows from before the values were kept hold the English words alone, shown as they are."""

    last_error = models.CharField(max_length=ERROR_LENGTH, blank=True)
    last_error_params = models.JSONField(default=dict, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def error_text(self) -> str:
        """The last error in the reader's language."""
        return translated(self.last_error, self.last_error_params)

    def note_error(self, error: ProviderError) -> None:
        """Keep ``error`` as the last one (unsaved)."""
        self.last_error = error.msgid[:ERROR_LENGTH]
        self.last_error_params = error.params
        self.last_error_at = timezone.now()

    def clear_error(self) -> None:
        """Forget the last error (unsaved)."""
        self.last_error, self.last_error_params, self.last_error_at = "", {}, None


# The fields ``note_error`` and ``clear_error`` change, for ``save(update_fields=…)``.
LAST_ERROR_FIELDS = ("last_error", "last_error_params", "last_error_at")
# A calendar's progress through a long full read, for ``save(update_fields=…)``.
FULL_READ_FIELDS = ("full_read_started_at", "full_read_reached")


class Connection(LastError):
    """One account at one provider, with its credentials sealed in the vault."""

    # Defined with the providers (integrations.kinds), where the names of accounts live.
    Kind = AccountKind

    class Status(models.TextChoices):
        OK = "ok", _("Connected")
        NEEDS_RECONNECT = "needs_reconnect", _("Needs reconnect")
        ERROR = "error", _("Error")
        DISCONNECTED = "disconnected", _("Disconnected")
        REMOVING = "removing", _("Being removed")

    # Working, or failing for a passing reason: read, written into, watched and kept authorized.
    # A connection that needs reconnecting is not (its credentials are refused).
    USABLE = frozenset({Status.OK, Status.ERROR})
    # Disconnected or being removed: its blocks are being taken out, and nothing new starts.
    RELEASED = frozenset({Status.DISCONNECTED, Status.REMOVING})

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="connections"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # What the user recognises the account by: an Apple ID, "user @ server", or the link's label.
    label = models.CharField(max_length=200)
    # The CalDAV server's address; iCal links keep theirs among the secrets (they embed tokens).
    server_url = models.URLField(max_length=500, blank=True)
    # The CalDAV user name (an Apple ID for iCloud): it names the account, so it outlives a disconnect.
    username = models.CharField(max_length=254, blank=True)
    secrets = SealedTextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OK)
    created_at = models.DateTimeField(default=timezone.now)
    # When it was disconnected or its removal asked for (cleared when it is connected again).
    released_at = models.DateTimeField(null=True, blank=True)

    objects = ConnectionQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["user", "created_at"], name="calendars_connection_user")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.label}"

    @property
    def is_usable(self) -> bool:
        return self.status in self.USABLE

    @property
    def kind_label(self) -> str:
        """The kind's name in the reader's language (the labels are English, marked for the
        catalogues where the providers are defined)."""
        return gettext(self.get_kind_display())

    @property
    def provider_slug(self) -> str:
        """The provider class behind this kind: iCloud is a CalDAV server like any other."""
        return "caldav" if self.kind == self.Kind.ICLOUD else self.kind


class Calendar(LastError):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="calendars")
    remote_id = models.CharField(max_length=1000)
    name = models.CharField(max_length=200)
    color = models.CharField(max_length=7, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    read_only = models.BooleanField(default=False)
    # The provider's opaque position in the change feed (a sync token, ETag, delta link).
    sync_cursor = models.TextField(blank=True)
    # Push notifications (Google channel / Graph subscription): ids and expiry only. The secret a
    # notification must carry is derived from the channel id with the server secret, not stored.
    push_channel_id = models.CharField(max_length=200, blank=True)
    push_resource_id = models.CharField(max_length=500, blank=True)
    push_expires_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    # Events the last full read left out because they could not be read (a number only, never
    # which events): shown on the calendar's page.
    unreadable_events = models.PositiveIntegerField(default=0)
    # A full read that takes several requests (a large CalDAV calendar): when it started and the
    # moment up to which it has read the window, written as it goes and cleared when it ends, so
    # that the calendar's page can say how far a long first read has got. A read whose worker
    # died leaves them; the next attempt starts again from the window's start.
    full_read_started_at = models.DateTimeField(null=True, blank=True)
    full_read_reached = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "remote_id"], name="calendars_calendar_unique_remote_id"
            ),
        ]

    def __str__(self) -> str:
        return self.name
