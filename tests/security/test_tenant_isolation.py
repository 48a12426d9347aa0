"""Tenant isolation: every URL that takes an object id, filled with the owner's real objects and
requested (GET and POST) by another signed-in user and by an anonymous visitor. Zero leaks: the
other user gets 404, the visitor the log-in page or 404, nobody sees the owner's data, and nothing
of the owner's changes.

A URL taking an id (a uuid or int converter) that ``TARGETS`` does not know fails the suite until
it says which of the owner's objects fills it, so no new URL escapes the walk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from booking.public_views import SESSION_KEY as BOOKINGS_MADE_SESSION_KEY
from orgs.models import SsoIdentity
from tests.security.routes import routes
from tests.security.world import Names, Tenant, make_tenant

pytestmark = pytest.mark.django_db

OWNER = Names.marked("owner-private-7c1e")
OWNER_ATTENDEE_EMAIL = "owner-private-attendee@example.com"
# A token of the right shape that is not the booking's (the real one is the attendee's key).
FORGED_TOKEN = "0" * 64
# What a careless view would act on, were its access check missing.
POST_DATA = {
    "name": "hijacked",
    "title": "hijacked",
    "enabled": "",
    "shown": "",
    "color": "#000000",
    "reason": "hijacked",
    "remove_blocks": "on",
}


@dataclass(frozen=True)
class Target:
    """How to fill a URL with the owner's objects. ``key`` fills it for the control request
    when the URL itself carries the credential (an attendee's link), and ``made_here`` marks
    the confirmation page, which only the browser that booked may see."""

    fill: Callable[[Tenant], dict[str, Any]]
    key: Callable[[Tenant], dict[str, Any]] | None = None
    made_here: bool = False
    # The URL names more than the object (an event's id in the query): the owner's bare GET is
    # a 400 saying what is missing, given only once the object was found.
    needs_more: bool = False


def _connection(t: Tenant) -> dict[str, Any]:
    return {"connection_id": t.connection.id}


def _calendar(t: Tenant) -> dict[str, Any]:
    return {"calendar_id": t.calendar.id}


def _rule(t: Tenant) -> dict[str, Any]:
    return {"rule_id": t.rule.id}


def _page(t: Tenant) -> dict[str, Any]:
    return {"page_id": t.page.id}


def _booking(t: Tenant) -> dict[str, Any]:
    return {"booking_id": t.booking.id}


def _webhook(t: Tenant) -> dict[str, Any]:
    return {"subscription_id": t.webhook.id}


def _api_key(t: Tenant) -> dict[str, Any]:
    return {"key_id": t.api_key.id}


def _organization(t: Tenant) -> dict[str, Any]:
    return {"organization_id": t.organization.id}


def _invitation(t: Tenant) -> dict[str, Any]:
    return {"organization_id": t.organization.id, "invitation_id": t.invitation.id}


def _member(t: Tenant) -> dict[str, Any]:
    return {"organization_id": t.organization.id, "user_id": t.connection.user_id}


def _domain(t: Tenant) -> dict[str, Any]:
    return {"organization_id": t.organization.id, "domain_id": t.domain.id}


def _sso_identity(t: Tenant) -> dict[str, Any]:
    identity = SsoIdentity.objects.get(organization=t.organization)
    return {"organization_id": t.organization.id, "identity_id": identity.public_id}


def _own_sso_identity(t: Tenant) -> dict[str, Any]:
    return {"identity_id": SsoIdentity.objects.get(organization=t.organization).public_id}


def _team_page(t: Tenant) -> dict[str, Any]:
    return {"organization_id": t.organization.id, "page_id": t.team_page.id}


def _forged_link(t: Tenant) -> dict[str, Any]:
    return {"booking_id": t.booking.id, "token": FORGED_TOKEN}


def _attendee_link(t: Tenant) -> dict[str, Any]:
    return {"booking_id": t.booking.id, "token": t.token}


def _confirmation(t: Tenant) -> dict[str, Any]:
    return {"handle": t.profile.handle, "slug": t.page.public_slug, "booking_id": t.booking.id}


TARGETS: dict[str, Target] = {
    "calendars:connection_credentials": Target(_connection),
    "calendars:connection_disconnect": Target(_connection),
    "calendars:connection_remove": Target(_connection),
    "syncrules:calendar_detail": Target(_calendar),
    "syncrules:calendar_status": Target(_calendar),
    "syncrules:rule_detail": Target(_rule),
    "syncrules:rule_status": Target(_rule),
    "syncrules:rule_edit": Target(_rule),
    "syncrules:rule_set_enabled": Target(_rule),
    "syncrules:rule_delete": Target(_rule),
    "booking:page_edit": Target(_page),
    "booking:page_edit_preview": Target(_page),
    "booking:page_preview": Target(_page),
    "booking:page_delete": Target(_page),
    "booking:booking_detail": Target(_booking),
    "booking:booking_cancel": Target(_booking),
    "booking:booking_reschedule": Target(_booking),
    "booking:booking_delete": Target(_booking),
    "api_keys:revoke": Target(_api_key),
    "webhooks:subscription_detail": Target(_webhook),
    "webhooks:delivery_log": Target(_webhook),
    "webhooks:subscription_pause": Target(_webhook),
    "webhooks:subscription_resume": Target(_webhook),
    "webhooks:subscription_test": Target(_webhook),
    "webhooks:subscription_rotate": Target(_webhook),
    "webhooks:subscription_delete": Target(_webhook),
    "console:organization": Target(_organization),
    "console:invitation_create": Target(_organization),
    "console:invitation_revoke": Target(_invitation),
    "console:member": Target(_member),
    "console:member_remove": Target(_member),
    "console:leave": Target(_organization),
    "console:organization_settings": Target(_organization),
    "console:organization_delete": Target(_organization),
    "console:event_log": Target(_organization),
    "console:policies": Target(_organization),
    "console:domain_list": Target(_organization),
    "console:domain": Target(_domain),
    "console:domain_check": Target(_domain),
    "console:domain_capture": Target(_domain),
    "console:domain_remove": Target(_domain),
    "console:admin_microsoft_consent": Target(_organization),
    "console:sso_settings": Target(_organization),
    "console:sso_identity_unlink": Target(_sso_identity),
    "console:sso_identity_remove": Target(_own_sso_identity),
    "console:team_pages": Target(_organization),
    "console:team_page_create": Target(_organization),
    "console:team_page_edit": Target(_team_page),
    "console:team_page_delete": Target(_team_page),
    "console:team_page_mine": Target(_team_page),
    "console:team_page_embed": Target(_team_page),
    "console:billing": Target(_organization),
    "console:billing_checkout": Target(_organization),
    "console:billing_portal": Target(_organization),
    "portfolio:calendar_preference": Target(_calendar),
    "portfolio:event": Target(_calendar, needs_more=True),
    "portfolio:event_create": Target(_calendar),
    "portfolio:event_update": Target(_calendar),
    "portfolio:event_move": Target(_calendar),
    "portfolio:event_remove": Target(_calendar),
    "portfolio:event_reply": Target(_calendar),
    # Public: the attendee's link carries an HMAC token; anyone else's guess is a 404.
    "booking_public:manage": Target(_forged_link, key=_attendee_link),
    "booking_public:cancel": Target(_forged_link, key=_attendee_link),
    "booking_public:reschedule": Target(_forged_link, key=_attendee_link),
    "booking_public:calendar_file": Target(_forged_link, key=_attendee_link),
    # Public: shown only to the browser session that made the booking.
    "booking_public:booked": Target(_confirmation, made_here=True),
}


@pytest.fixture
def tenant(radicale_server, owner) -> Tenant:
    return make_tenant(
        radicale_server, owner, OWNER, handle="owner-host", attendee_email=OWNER_ATTENDEE_EMAIL
    )


@pytest.fixture
def outsider_client(radicale_server, outsider) -> Client:
    """Another customer, signed in, with objects of every kind of their own."""
    make_tenant(radicale_server, outsider, Names.marked("outsider"), handle="outsider-host")
    client = Client()
    client.force_login(outsider)
    return client


def id_routes() -> dict[str, str]:
    return {route.name: route.route for route in routes() if route.takes_an_object_id}


def url(name: str, kwargs: dict[str, Any]) -> str:
    return reverse(name, kwargs=kwargs)


def leaked(response) -> list[str]:
    body = response.content.decode(errors="replace")
    return [value for value in [*OWNER.all(), OWNER_ATTENDEE_EMAIL] if value in body]


def snapshot(tenant: Tenant) -> dict[str, Any]:
    objects = [
        tenant.connection,
        tenant.calendar,
        tenant.other_calendar,
        tenant.rule,
        tenant.profile,
        tenant.page,
        tenant.question,
        tenant.booking,
        tenant.preference,
        tenant.api_key,
        tenant.webhook,
        tenant.organization,
        tenant.invitation,
        tenant.domain,
        tenant.org_handle,
        tenant.team_page,
    ]
    rows = {
        f"{type(obj).__name__} {obj.pk}": type(obj).objects.filter(pk=obj.pk).values().first()
        for obj in objects
    }
    rows["webhook deliveries"] = tenant.webhook.deliveries.count()
    rows["memberships"] = list(tenant.organization.memberships.values("user_id", "role"))
    rows["sso identities"] = list(
        SsoIdentity.objects.filter(organization=tenant.organization).values_list("id", flat=True)
    )
    rows["team members"] = list(tenant.team_page.members.values("user_id", "write_calendar_id"))
    rows["rule sources"] = sorted(str(c.pk) for c in tenant.rule.sources.all())
    rows["rule targets"] = sorted(str(c.pk) for c in tenant.rule.targets.all())
    return rows


def test_every_url_that_takes_an_object_id_is_known():
    unknown = sorted(set(id_routes()) - set(TARGETS))
    gone = sorted(set(TARGETS) - set(id_routes()))

    assert unknown == [], f"Say in TARGETS which of the owner's objects fills {unknown}"
    assert gone == [], f"These URLs no longer exist: remove them from TARGETS: {gone}"


def test_the_owner_reaches_every_object(tenant, owner):
    """The control: the filled URLs name real objects, so the 404s below are refusals."""
    client = Client()
    client.force_login(owner)
    missing = []
    for name, target in TARGETS.items():
        visitor = client
        if target.key is not None:
            visitor = Client()
        elif target.made_here:
            visitor = Client()
            session = visitor.session
            session[BOOKINGS_MADE_SESSION_KEY] = [str(tenant.booking.id)]
            session.save()
        kwargs = (target.key or target.fill)(tenant)
        response = visitor.get(url(name, kwargs))
        if response.status_code not in {200, 302, 405, *([400] if target.needs_more else [])}:
            missing.append(f"{name}: {response.status_code}")

    assert missing == []


def test_another_user_gets_404_for_every_object_and_changes_nothing(tenant, outsider_client):
    before = snapshot(tenant)
    problems = []
    for name, target in TARGETS.items():
        path = url(name, target.fill(tenant))
        for response in [outsider_client.get(path), outsider_client.post(path, POST_DATA)]:
            method = response.request["REQUEST_METHOD"]
            # 405: a view that takes no such request at all, turned away before any lookup.
            if response.status_code not in {404, 405}:
                problems.append(f"{method} {name}: {response.status_code}")
            if leaked(response):
                problems.append(f"{method} {name} shows {leaked(response)}")

    assert problems == []
    assert snapshot(tenant) == before


def test_an_anonymous_visitor_is_sent_to_log_in_or_gets_404_and_changes_nothing(tenant):
    visitor = Client()
    login = reverse("accounts:login")
    before = snapshot(tenant)
    problems = []
    for name, target in TARGETS.items():
        path = url(name, target.fill(tenant))
        for response in [visitor.get(path), visitor.post(path, POST_DATA)]:
            method = response.request["REQUEST_METHOD"]
            to_login = response.status_code == 302 and response["Location"].startswith(login)
            if not (to_login or response.status_code in {401, 404, 405}):
                problems.append(f"{method} {name}: {response.status_code}")
            if leaked(response):
                problems.append(f"{method} {name} shows {leaked(response)}")

    assert problems == []
    assert snapshot(tenant) == before


def test_the_admin_turns_away_everyone_but_staff(tenant, owner, outsider_client):
    """The admin addresses objects by ``<path:object_id>``: it is for staff only, whoever asks."""
    login = reverse("admin:login")
    problems = []
    # Logging in and out shows nothing of anyone's.
    entrances = {"admin:login", "admin:logout"}
    admin_routes = [r for r in routes() if r.namespace == "admin" and r.name not in entrances]
    for route in admin_routes:
        path = route.path({"object_id": tenant.booking.pk, "id": owner.pk})
        for client in [outsider_client, Client()]:
            response = client.get(path)
            to_login = response.status_code == 302 and login in response["Location"]
            if not (to_login or response.status_code == 404) or leaked(response):
                problems.append(f"{path}: {response.status_code}")

    assert len(admin_routes) > 20
    assert problems == []
