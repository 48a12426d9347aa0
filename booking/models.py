"""Booking pages, their availability, and the bookings attendees make through them.

Bookings are the one kind of event content Multical stores (title, time, attendee, answers): the
owner asked for them through their own page. They stay until the owner deletes them or the
account goes.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import TIME_ZONE_CHOICES
from calendars.models import Calendar
from integrations.wording import translated
from orgs.models import Organization


def new_secret() -> str:
    """128 random bits in hex: the part of an unlisted page's address nobody can guess (hex, so
    it never holds the "--" that joins it to the slug)."""
    return secrets.token_hex(16)


def new_nonce() -> str:
    return secrets.token_hex(16)


class Profile(models.Model):
    """The owner's public face: ``/book/<handle>/`` lists their listed pages."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="booking_profile",
    )
    handle = models.SlugField(max_length=40, unique=True)
    display_name = models.CharField(max_length=120)
    # The SHA-256 of the host's picture as we stored it (ProfilePicture), in hex: it names the
    # picture in its address, so a new picture has a new address and each can be cached for good.
    # Blank: no picture, attendees see the initials.
    picture_digest = models.CharField(max_length=64, blank=True, editable=False)

    def __str__(self) -> str:
        return self.handle

    @property
    def initials(self) -> str:
        """What stands in for a missing picture: the first letters of the first and last words of
        the name ("Ada Lovelace" -> "AL", "Ada" -> "A"), else of the handle."""
        words = self.display_name.split() or [self.handle]
        first, last = words[0], words[-1]
        letters = first[:1] + (last[:1] if len(words) > 1 else "")
        return letters.upper()


class ProfilePicture(models.Model):
    """The host's picture, as ``booking.pictures`` re-encoded it: a small square WebP, no metadata.

    Kept in PostgreSQL, so every web process serves it without shared disks, and in a table of
    its own, so that the many reads of a profile (every public page names its host) never load
    its bytes; ``Profile.picture_digest`` says whether there is one and names it.
    """

    profile = models.OneToOneField(
        Profile, on_delete=models.CASCADE, primary_key=True, related_name="picture"
    )
    image = models.BinaryField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.profile_id}'s picture"


class BookingPage(models.Model):
    class Location(models.TextChoices):
        # Shown to attendees too, in their language.
        ZOOM = "zoom", _("Zoom meeting")
        PHONE = "phone", _("Phone call")
        IN_PERSON = "in_person", _("In person")
        LINK = "link", _("Custom link")
        NONE = "none", _("No location")

    class AllDayEvents(models.TextChoices):
        BUSY_ONLY = "busy", _("Count when shown as busy")
        IGNORE = "ignore", _("Never count")

    class EmbedOn(models.TextChoices):
        # Worded for the owner by the page form (booking.forms).
        ANY_SITE = "any"
        LISTED_SITES = "listed"
        NOWHERE = "nowhere"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="booking_pages"
    )
    title = models.CharField(max_length=120)
    description = models.TextField(max_length=2000, blank=True)
    slug = models.SlugField(max_length=60)
    # Listed pages appear on the owner's profile; unlisted ones are reached only by a secret link.
    listed = models.BooleanField(default=False)
    secret = models.CharField(max_length=32, default=new_secret, editable=False)
    active = models.BooleanField(default=True)
    # Set when the end of a Pro plan closed the page (not its owner); cleared when it opens again.
    plan_paused_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Meeting lengths in minutes the attendee can choose from; the first is the default.
    durations = models.JSONField(default=list)

    time_zone = models.CharField(max_length=64, choices=TIME_ZONE_CHOICES, default="UTC")
    # {"1": [[540, 720], [780, 1020]], ...}: ISO weekday -> [start, end) minutes from midnight.
    weekly_hours = models.JSONField(default=dict, blank=True)
    buffer_before = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(240)], help_text="Minutes"
    )
    buffer_after = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(240)], help_text="Minutes"
    )
    minimum_notice = models.PositiveIntegerField(
        default=240, validators=[MaxValueValidator(60 * 24 * 30)], help_text="Minutes"
    )
    horizon_days = models.PositiveSmallIntegerField(
        default=60, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    increment = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(5), MaxValueValidator(240)], help_text="Minutes"
    )
    max_per_day = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )

    # Which calendars make the owner busy: every calendar they have (also ones connected later),
    # or the chosen ones.
    busy_in_all_calendars = models.BooleanField(default=True)
    busy_calendars = models.ManyToManyField(Calendar, blank=True, related_name="+")
    tentative_is_busy = models.BooleanField(default=True)
    free_is_busy = models.BooleanField(default=False)
    all_day_events = models.CharField(
        max_length=8, choices=AllDayEvents.choices, default=AllDayEvents.BUSY_ONLY
    )
    write_calendar = models.ForeignKey(
        Calendar, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    location = models.CharField(max_length=16, choices=Location.choices, default=Location.NONE)
    # The phone number, the address or the link, depending on ``location``.
    location_detail = models.CharField(max_length=500, blank=True)
    # Blank: each attendee reads the page (and their e-mails) in their own language.
    language = models.CharField(
        "Language of the page",
        max_length=8,
        choices=[("", _("Each attendee's own (from their browser)")), *settings.LANGUAGES],
        blank=True,
        default="",
        help_text="The page, its e-mails and invitations to attendees are in this language. "
        "Attendees can switch unless you fix one here.",
    )

    # Which websites may show the page in a frame (booking.embed). Any, by default: the page is
    # public and books without a session or cookie, so a site framing it gets nothing it could not
    # get by linking to it or posting the form itself, and a copied snippet works at once.
    embed_on = models.CharField(max_length=8, choices=EmbedOn.choices, default=EmbedOn.ANY_SITE)
    # With LISTED_SITES: origins such as "https://example.com" (multical.lib.framing.frame_origin).
    embed_origins = models.JSONField(default=list, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "slug"], name="booking_page_owner_slug"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def public_slug(self) -> str:
        return self.slug if self.listed else f"{self.slug}--{self.secret}"


class DateOverrideFields(models.Model):
    """Different hours on one date, in the page's zone; no hours at all is a day off.

    Personal pages (``DateOverride``) and team pages (``TeamDateOverride``) each have their own
    table, reached the same way (``page.date_overrides``), so one editor and one slot
    computation serve both.
    """

    date = models.DateField()
    hours = models.JSONField(default=list, blank=True)

    class Meta:
        abstract = True
        ordering = ["date"]

    def __str__(self) -> str:
        return self.date.isoformat()


class DateOverride(DateOverrideFields):
    page = models.ForeignKey(BookingPage, on_delete=models.CASCADE, related_name="date_overrides")

    class Meta(DateOverrideFields.Meta):
        constraints = [
            models.UniqueConstraint(fields=["page", "date"], name="booking_override_page_date"),
        ]


class QuestionFields(models.Model):
    """A question the booking form asks besides name and e-mail; answers are kept on the
    booking (``Booking.answers``). As for overrides: one table per kind of page, read alike
    (``page.questions``)."""

    class Kind(models.TextChoices):
        SHORT = "short", _("Short text")
        LONG = "long", _("Long text")

    label = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.SHORT)
    required = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        abstract = True
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.label


class Question(QuestionFields):
    page = models.ForeignKey(BookingPage, on_delete=models.CASCADE, related_name="questions")


class Booking(models.Model):
    """One meeting booked through a page; its calendar event and Zoom meeting follow it.

    ``sequence`` counts the changes attendees were told about (the iCalendar SEQUENCE); each outside
    effect records the sequence it last caught up with, so the follow-up task can always tell what
    is left to do, however often it runs.
    """

    class Status(models.TextChoices):
        CONFIRMED = "confirmed", "Confirmed"
        CANCELLED = "cancelled", "Cancelled"

    class Actor(models.TextChoices):
        ATTENDEE = "attendee", "the attendee"
        OWNER = "owner", "the host"

    class Clock(models.IntegerChoices):
        TWELVE = 12, "am/pm"
        TWENTY_FOUR = 24, "24-hour"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bookings"
    )
    page = models.ForeignKey(
        BookingPage, on_delete=models.SET_NULL, null=True, blank=True, related_name="bookings"
    )
    title = models.CharField(max_length=120)
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CONFIRMED)

    attendee_name = models.CharField(max_length=120)
    attendee_email = models.EmailField(max_length=254)
    attendee_time_zone = models.CharField(max_length=64, default="UTC")
    # The zone and clock the attendee booked with: their pages and e-mails keep showing them.
    attendee_clock = models.PositiveSmallIntegerField(
        choices=Clock.choices, default=Clock.TWENTY_FOUR
    )
    # The language the attendee booked in: their pages and e-mails stay in it.
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, default="en")
    # [{"question": label, "answer": text}], as asked when the booking was made.
    answers = models.JSONField(default=list, blank=True)

    location = models.CharField(max_length=16, choices=BookingPage.Location.choices)
    location_detail = models.CharField(max_length=500, blank=True)
    zoom_meeting_id = models.CharField(max_length=64, blank=True)
    meeting_url = models.URLField(max_length=1000, blank=True)

    calendar = models.ForeignKey(
        Calendar, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    remote_event_id = models.CharField(max_length=1000, blank=True)

    # Mixed with the server secret into the manage links' token (see booking.tokens).
    token_nonce = models.CharField(max_length=32, default=new_nonce, editable=False)
    # A double-click or a retried submission carries the same key and books once.
    submission_key = models.CharField(max_length=64)

    sequence = models.PositiveIntegerField(default=0)
    meeting_sequence = models.IntegerField(default=-1)
    event_sequence = models.IntegerField(default=-1)
    notified_sequence = models.IntegerField(default=-1)
    # What the last follow-up could not do, for the owner (``booking.services.follow_up``): each
    # problem an English message with its values, read in the owner's language when shown.
    follow_up_problems = models.JSONField(default=list, blank=True)

    # Bookings made through a team page (``TeamPage``): one row per member who meets the
    # attendee, each the member's own (``owner``), so the member's exclusion constraint and lock
    # hold for it as for any booking of theirs. On a collective page the attendee's row (the one
    # their links name) is the lead; the other members' rows are its seats, and follow it.
    team_page = models.ForeignKey(
        "TeamPage", on_delete=models.SET_NULL, null=True, blank=True, related_name="bookings"
    )
    team_lead = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="team_seats"
    )

    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.CharField(max_length=10, choices=Actor.choices, blank=True)
    cancel_reason = models.TextField(max_length=1000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")), name="booking_end_after_start"
            ),
            models.UniqueConstraint(
                fields=["owner", "submission_key"], name="booking_owner_submission_key"
            ),
        ]
        indexes = [models.Index(fields=["owner", "status", "start"], name="booking_owner_start")]
        # The exclusion constraint on confirmed ranges (invariant 6) is PostgreSQL-only and is
        # added by migration 0002, so the embedded SQLite development database can still migrate.

    def __str__(self) -> str:
        return f"{self.title} at {self.start:%Y-%m-%d %H:%M}Z"

    @property
    def follow_up_problem_texts(self) -> list[str]:
        """What the last follow-up could not do, in the reader's language."""
        return [problem_text(problem) for problem in self.follow_up_problems]

    @property
    def is_cancelled(self) -> bool:
        return self.status == self.Status.CANCELLED


def problem_text(problem: dict[str, Any]) -> str:
    """One of ``Booking.follow_up_problems`` in the active language: ``{"message", "params"}``,
    and a ``reason`` (a message of its own, such as a provider error) put in its ``%(reason)s``.
    Problems kept before they were stored this way hold their English words alone."""
    params = dict(problem.get("params") or {})
    reason = problem.get("reason")
    if reason:
        # The reason ends the sentence: its own full stop goes.
        params["reason"] = translated(reason["message"], reason.get("params")).rstrip(".")
    return translated(problem["message"], params)


class OrgHandle(models.Model):
    """An organization's public handle: ``/book/<handle>/`` lists its team pages.

    Organizations and people share one namespace of handles, so an address never means two
    things. Each table's own unique constraint keeps its handles apart; across the two tables,
    every write of a handle (``booking.handles.handle_claim``) first takes a PostgreSQL advisory
    lock named by the handle, for the rest of its transaction, and then looks in both tables.
    Two writers of the same handle are thus decided one after the other, and the second sees the
    first's committed row. A lock rather than a shared table of handles: ``Profile.handle`` stays
    where every link and lookup already reads it, and no existing row has to move.
    """

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="booking_handle"
    )
    handle = models.SlugField(max_length=40, unique=True)

    def __str__(self) -> str:
        return self.handle


class TeamPage(models.Model):
    """A booking page of an organization's team, at ``/book/<org handle>/<slug>/``.

    **Collective**: a time is offered when every member is free, and the meeting is written into
    every member's calendar. **Round-robin**: a time is offered when at least one member is free,
    and the meeting goes to one of them (``booking.team_slots.round_robin_pick``).

    The page's hours, zone, notice, horizon and grid say when the team meets; buffers and the
    daily cap apply to each member on their own (``booking.team_slots``).
    """

    class Kind(models.TextChoices):
        # Worded for the organization's admins by the console's form (console.team_forms).
        COLLECTIVE = "collective"
        ROUND_ROBIN = "round_robin"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="team_pages"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.ROUND_ROBIN)
    title = models.CharField(max_length=120)
    description = models.TextField(max_length=2000, blank=True)
    slug = models.SlugField(max_length=60)
    active = models.BooleanField(default=True)
    durations = models.JSONField(default=list)
    time_zone = models.CharField(max_length=64, choices=TIME_ZONE_CHOICES, default="UTC")
    # As ``BookingPage.weekly_hours``: ISO weekday -> [start, end) minutes, in ``time_zone``.
    weekly_hours = models.JSONField(default=dict, blank=True)
    minimum_notice = models.PositiveIntegerField(
        default=240, validators=[MaxValueValidator(60 * 24 * 30)]
    )
    horizon_days = models.PositiveSmallIntegerField(
        default=60, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    increment = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(5), MaxValueValidator(240)]
    )
    # Each member's own, around their meetings and per day (not the page's as a whole).
    buffer_before = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(240)])
    buffer_after = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(240)])
    max_per_day = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    location = models.CharField(
        max_length=16, choices=BookingPage.Location.choices, default=BookingPage.Location.NONE
    )
    location_detail = models.CharField(max_length=500, blank=True)
    # As on personal pages, for every member's calendars alike.
    tentative_is_busy = models.BooleanField(default=True)
    free_is_busy = models.BooleanField(default=False)
    all_day_events = models.CharField(
        max_length=8,
        choices=BookingPage.AllDayEvents.choices,
        default=BookingPage.AllDayEvents.BUSY_ONLY,
    )
    # Who may frame the page (booking.embed), as ``BookingPage.embed_on`` and ``embed_origins``.
    embed_on = models.CharField(
        max_length=8, choices=BookingPage.EmbedOn.choices, default=BookingPage.EmbedOn.ANY_SITE
    )
    embed_origins = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="booking_team_page_slug"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_collective(self) -> bool:
        return self.kind == self.Kind.COLLECTIVE


class TeamDateOverride(DateOverrideFields):
    page = models.ForeignKey(TeamPage, on_delete=models.CASCADE, related_name="date_overrides")

    class Meta(DateOverrideFields.Meta):
        constraints = [
            models.UniqueConstraint(fields=["page", "date"], name="booking_team_override_date"),
        ]


class TeamQuestion(QuestionFields):
    page = models.ForeignKey(TeamPage, on_delete=models.CASCADE, related_name="questions")


class TeamPageMember(models.Model):
    """A member of the organization on a team page: the calendars that make them busy, the one
    their meetings are written into, and, on round-robin pages, their weight and priority.

    A member counts only while they belong to the organization (every read joins on their
    membership), and leaving the organization removes them from its team pages
    (``booking.services.teams.team_member_left``): the page goes on with the others.
    """

    page = models.ForeignKey(TeamPage, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    busy_in_all_calendars = models.BooleanField(default=True)
    busy_calendars = models.ManyToManyField(Calendar, blank=True, related_name="+")
    write_calendar = models.ForeignKey(
        Calendar, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Round-robin: a member of weight 2 gets twice the meetings of one of weight 1; ties go to the
    # lowest priority number.
    weight = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    priority = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(100)])
    # The member's own hours for the page (as ``TeamPage.weekly_hours``, in ``time_zone``), which
    # they set themselves; empty: the page's hours. They meet only inside both.
    time_zone = models.CharField(max_length=64, choices=TIME_ZONE_CHOICES, blank=True)
    weekly_hours = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["page", "user"], name="booking_team_member_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.page_id}"
