"""A user with one of every object the app addresses by id, each named with ``names``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from api.models import ApiKey
from api.scopes import Scope
from api.services import api_key_create
from booking.models import (
    Booking,
    BookingPage,
    OrgHandle,
    Profile,
    Question,
    TeamPage,
    TeamPageMember,
)
from booking.tokens import manage_token
from calendars.models import Calendar, Connection
from multical.lib import vault
from orgs.domains import domain_add
from orgs.models import Domain, Invitation, Organization, Role, SsoIdentity
from orgs.services import invitation_create, organization_create
from portfolio.models import CalendarPreference
from syncrules.models import SyncRule
from tests.syncrules.world import World, make_world
from webhooks.models import WebhookDelivery, WebhookSubscription
from webhooks.signing import new_secret

EVERY_DAY = {str(day): [[0, 1440]] for day in range(1, 8)}


@dataclass(frozen=True)
class Names:
    """What the user typed (or an attendee did) into each field a page or an e-mail shows."""

    connection: str
    calendar: str
    rule: str
    host: str
    page: str
    question: str
    attendee: str
    answer: str
    cancel_reason: str
    organization: str

    @classmethod
    def marked(cls, mark: str) -> Names:
        return cls(**{field: f"{mark}-{field}" for field in cls.__dataclass_fields__})

    def all(self) -> list[str]:
        return [getattr(self, field) for field in self.__dataclass_fields__]


@dataclass
class Tenant:
    world: World
    names: Names
    connection: Connection
    calendar: Calendar
    other_calendar: Calendar
    rule: SyncRule
    profile: Profile
    page: BookingPage
    question: Question
    booking: Booking
    preference: CalendarPreference
    api_key: ApiKey
    webhook: WebhookSubscription
    organization: Organization
    invitation: Invitation
    invitation_token: str
    domain: Domain
    org_handle: OrgHandle
    team_page: TeamPage

    @property
    def token(self) -> str:
        return manage_token(self.booking)


def make_tenant(
    radicale_server, user, names: Names, *, handle: str, attendee_email: str = "guest@example.com"
) -> Tenant:
    """``user`` with a CalDAV connection (calendars "work" and "home" on Radicale), a rule from
    work to home, a booking profile and page with a question, a booking with an answer, a
    portfolio colour for work, an API key, a webhook, and an organization ``user`` owns with an
    invitation waiting, a domain waiting for its DNS record, ``user`` linked to its single sign-on,
    and a team page at ``/book/<handle>-team/team/`` with ``user`` on it."""
    world = make_world(radicale_server, user, ["work", "home"])
    connection = world.connection
    connection.label = names.connection
    connection.save(update_fields=["label"])
    calendar, other = world.calendars["work"], world.calendars["home"]
    calendar.name = names.calendar
    calendar.save(update_fields=["name"])
    rule = SyncRule.objects.create(user=user, name=names.rule)
    rule.sources.set([calendar])
    rule.targets.set([other])
    profile = Profile.objects.create(user=user, handle=handle, display_name=names.host)
    page = BookingPage.objects.create(
        owner=user,
        title=names.page,
        slug="intro",
        listed=True,
        durations=[30],
        time_zone="UTC",
        weekly_hours=EVERY_DAY,
        minimum_notice=0,
        busy_in_all_calendars=False,
    )
    question = Question.objects.create(page=page, label=names.question, position=0)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    booking = Booking.objects.create(
        owner=user,
        page=page,
        title=page.title,
        start=start,
        end=start + timedelta(minutes=30),
        attendee_name=names.attendee,
        attendee_email=attendee_email,
        answers=[{"question": names.question, "answer": names.answer}],
        location=BookingPage.Location.NONE,
        submission_key="first",
        notified_sequence=0,
    )
    preference = CalendarPreference.objects.create(calendar=calendar, color="#123456")
    api_key, _token = api_key_create(
        user=user, name=names.rule, scopes=list(Scope.values), expires_at=None, ip_address=None
    )
    webhook = WebhookSubscription(
        user=user, url=f"https://hooks.example/{names.rule}", events=["booking.created"]
    )
    webhook.secret = vault.seal(new_secret(), context=vault.context_for(webhook, "secret"))
    webhook.save()
    WebhookDelivery.objects.create(
        subscription=webhook, event_type="booking.created", status="delivered", attempts=1,
        last_status_code=204, last_latency_ms=87,
    )  # fmt: skip
    organization = organization_create(user=user, name=names.organization, ip_address=None)
    invitation, invitation_token = invitation_create(
        membership=organization.memberships.get(user=user),
        email=f"invitee.{user.id}@example.com",
        role=Role.MEMBER,
        ip_address=None,
    )
    domain = domain_add(
        membership=organization.memberships.get(user=user),
        name=f"{handle}.example.com",
        ip_address=None,
    )
    org_handle = OrgHandle.objects.create(organization=organization, handle=f"{handle}-team")
    team_page = TeamPage.objects.create(
        organization=organization,
        title=f"{names.page} team",
        slug="team",
        durations=[30],
        time_zone="UTC",
        weekly_hours=EVERY_DAY,
        minimum_notice=0,
    )
    TeamPageMember.objects.create(page=team_page, user=user, write_calendar=calendar)
    SsoIdentity.objects.create(
        organization=organization,
        user=user,
        issuer="https://sso.example/v2.0",
        subject=f"{handle}-subject",
    )
    return Tenant(
        world=world,
        names=names,
        connection=connection,
        calendar=calendar,
        other_calendar=other,
        rule=rule,
        profile=profile,
        page=page,
        question=question,
        booking=booking,
        preference=preference,
        api_key=api_key,
        webhook=webhook,
        organization=organization,
        invitation=invitation,
        invitation_token=invitation_token,
        domain=domain,
        org_handle=org_handle,
        team_page=team_page,
    )
