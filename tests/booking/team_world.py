"""An organization with members who each have a Radicale calendar, and its team pages."""

from __future__ import annotations

from dataclasses import dataclass, field

from booking.models import OrgHandle, Profile, TeamPage, TeamPageMember
from orgs.models import Membership, Organization, Role
from tests.booking.pages import WEEKDAYS_ALL_DAY
from tests.factories import UserFactory
from tests.syncrules.world import World, make_world


@dataclass
class Team:
    organization: Organization
    admin: Membership
    members: list[Membership]
    worlds: dict[object, World] = field(default_factory=dict)

    @property
    def users(self) -> list:
        return [membership.user for membership in self.members]

    def page(self, kind: str = TeamPage.Kind.ROUND_ROBIN, **fields: object) -> TeamPage:
        """A 30-minute page, open around the clock with no notice, with every member on it."""
        values: dict[str, object] = {
            "title": "Team intro",
            "slug": f"intro-{kind}",
            "kind": kind,
            "durations": [30],
            "time_zone": "UTC",
            "weekly_hours": WEEKDAYS_ALL_DAY,
            "minimum_notice": 0,
            **fields,
        }
        page = TeamPage.objects.create(organization=self.organization, **values)
        for position, membership in enumerate(self.members):
            TeamPageMember.objects.create(
                page=page,
                user=membership.user,
                write_calendar=self.worlds[membership.user.id].calendars["work"],
                priority=position,
            )
        return page


def make_team(
    radicale_server,
    *,
    size: int = 3,
    handle: str = "acme",
    name: str = "Acme",
    server_url: str | None = None,
) -> Team:
    """An organization at ``/book/<handle>/`` whose owner administers it and ``size`` members
    (the owner among them), each with a profile and a Radicale calendar "work" (reached through
    ``server_url`` when given: a fault proxy in front of the server)."""
    organization = Organization.objects.create(name=name)
    OrgHandle.objects.create(organization=organization, handle=handle)
    members = []
    worlds = {}
    for number in range(size):
        user = UserFactory(email=f"{handle}-member{number}@example.com")
        role = Role.OWNER if number == 0 else Role.MEMBER
        members.append(Membership.objects.create(organization=organization, user=user, role=role))
        Profile.objects.create(
            user=user, handle=f"{handle}-person{number}", display_name=f"Person {number}"
        )
        worlds[user.id] = make_world(radicale_server, user, ["work"], server_url=server_url)
    return Team(organization=organization, admin=members[0], members=members, worlds=worlds)
