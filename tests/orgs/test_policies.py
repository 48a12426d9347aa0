"""Organization policies: read in one query, changed by admins only (logged, versioned), and held
to where members connect accounts, write sync rules and publish booking pages."""

from __future__ import annotations

import html
import threading

import psycopg
import pytest
from django.db import connection as db_connection
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from booking import plan_limits
from booking.models import BookingPage, Profile
from calendars.models import Connection
from calendars.selectors import connection_secrets
from calendars.services import connection_connect_caldav, connection_connect_oauth
from orgs.addresses import address_domain
from orgs.models import Domain, Membership, OrgEvent, Policy, Role
from orgs.policies import (
    PolicyRefused,
    PolicySettings,
    account_notes,
    capped_visibility,
    connect_refusal,
    policies_for_addresses,
    policy_for_address,
    policy_update,
)
from orgs.services import OrgRefused, organization_create
from syncrules.models import SyncRule
from tests.booking.test_owner_pages import page_form_data
from tests.factories import CalendarFactory, ConnectionFactory
from tests.syncrules.rule_page_helpers import rule_form_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("enqueued")]

NO_LIMITS = {
    "max_visibility": "",
    "links_may_leave": True,
    "allowed_kinds": (),
    "personal_accounts_allowed": True,
    "public_pages_allowed": True,
}


@pytest.fixture
def org(owner):
    organization = organization_create(user=owner, name="Acme", ip_address=None)
    Domain.objects.create(
        organization=organization, name="acme.test", token="t", verified_at=timezone.now()
    )
    return organization


@pytest.fixture
def member(org, second_user):
    Membership.objects.create(organization=org, user=second_user, role=Role.MEMBER)
    return second_user


def _membership(org, user) -> Membership:
    return Membership.objects.select_related("organization", "user").get(
        organization=org, user=user
    )


def set_policy(org, user, **changes) -> Policy:
    return policy_update(
        membership=_membership(org, user),
        settings=PolicySettings(**{**NO_LIMITS, **changes}),
        ip_address=None,
    )


# Reading ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "domain"),
    [
        ("Ada@Acme.Test", "acme.test"),
        ("ada@acme.test.", "acme.test"),
        ("odd@name@acme.test", "acme.test"),
        ("ada@bücher.test", "xn--bcher-kva.test"),
        ("link:4f1c", ""),
        ("ada", ""),
        ("ada@", ""),
    ],
)
def test_an_address_has_the_domain_domains_are_stored_by(address, domain):
    assert address_domain(address) == domain


def test_any_number_of_addresses_are_read_in_one_query(org, owner):
    set_policy(org, owner, max_visibility="busy")
    addresses = [f"person{n}@acme.test" for n in range(20)] + ["me@elsewhere.test", "link:x"]

    with CaptureQueriesContext(db_connection) as queries:
        found = policies_for_addresses(addresses)

    assert len(queries) == 1
    assert set(found) == set(addresses[:20])
    assert {policy.max_visibility for policy in found.values()} == {"busy"}


def test_an_organization_without_a_policy_row_allows_everything(org):
    policy = policy_for_address("ada@acme.test")
    assert policy is not None and policy.organization_name == "Acme"
    assert not policy.caps_blocks and policy.allows_kind("ics")


def test_an_unverified_domain_makes_no_account_the_organizations(org, owner):
    Domain.objects.filter(organization=org).update(verified_at=None)
    set_policy(org, owner, max_visibility="busy")
    assert policy_for_address("ada@acme.test") is None


def test_a_cap_lowers_a_rule_and_never_raises_it(org, owner):
    set_policy(org, owner, max_visibility="title")
    policy = policy_for_address("ada@acme.test")
    assert capped_visibility("full", policy) == "title"
    assert capped_visibility("title", policy) == "title"
    assert capped_visibility("busy", policy) == "busy"
    assert capped_visibility("full", None) == "full"


# Changing ---------------------------------------------------------------------------------------


def test_only_owners_and_admins_change_the_policy(org, member):
    with pytest.raises(OrgRefused):
        set_policy(org, member, max_visibility="busy")
    assert not Policy.objects.filter(organization=org).exists()


def test_a_change_bumps_the_version_and_is_logged_and_saving_it_again_is_not(org, owner):
    first = set_policy(org, owner, max_visibility="busy")
    again = set_policy(org, owner, max_visibility="busy")
    second = set_policy(org, owner, max_visibility="busy", links_may_leave=False)

    assert (first.version, again.version, second.version) == (1, 1, 2)
    logged = OrgEvent.objects.filter(organization=org, action=OrgEvent.Action.POLICY_CHANGED)
    assert logged.count() == 2
    assert set(logged.values_list("actor", flat=True)) == {owner.id}


def test_a_policy_names_only_known_visibilities_and_kinds(org, owner):
    with pytest.raises(ValueError):
        set_policy(org, owner, max_visibility="everything")
    with pytest.raises(ValueError):
        set_policy(org, owner, allowed_kinds=("fax",))


# Connecting accounts ----------------------------------------------------------------------------


def test_a_member_cannot_connect_a_kind_the_organization_does_not_allow(org, owner, member):
    set_policy(org, owner, allowed_kinds=("google", "microsoft"))

    refusal = connect_refusal(user=member, kind="ics")

    assert refusal == "Acme does not allow iCal link accounts to be connected."
    assert connect_refusal(user=member, kind="google") is None


def test_the_kind_of_an_organizations_account_is_held_to_whoever_connects_it(org, owner, outsider):
    set_policy(org, owner, allowed_kinds=("google",))

    with pytest.raises(PolicyRefused):
        connection_connect_caldav(
            user=outsider,
            kind=Connection.Kind.ICLOUD,
            server_url="",
            username="ada@acme.test",
            password="x",
            ip_address=None,
        )
    assert connect_refusal(user=outsider, kind="icloud", address="ada@elsewhere.test") is None


def test_without_personal_accounts_a_member_connects_only_work_google_accounts(org, owner, member):
    set_policy(org, owner, personal_accounts_allowed=False)

    assert connect_refusal(user=member, kind="google", address="me@acme.test") is None
    refusal = connect_refusal(user=member, kind="google", address="me@gmail.test")
    assert refusal is not None and "me@gmail.test" in refusal
    # Other kinds are the business of the allowed kinds alone.
    assert connect_refusal(user=member, kind="icloud", address="me@icloud.test") is None
    with pytest.raises(PolicyRefused):
        connection_connect_oauth(
            user=member, kind="microsoft", email="me@outlook.test", secrets={}, ip_address=None
        )
    assert not Connection.objects.filter(user=member).exists()


def test_a_refused_icloud_account_is_a_form_error_and_nothing_is_stored(org, owner, member, client):
    set_policy(org, owner, allowed_kinds=("google",))
    client.force_login(member)

    response = client.post(
        reverse("calendars:connect_icloud"),
        {"apple_id": "me@icloud.test", "app_password": "abcd-efgh-ijkl-mnop"},
    )

    assert response.status_code == 200
    assert "Acme does not allow Apple iCloud accounts to be connected." in response.text
    assert not Connection.objects.filter(user=member).exists()


def test_the_connect_page_says_up_front_that_the_kind_is_refused(
    org, owner, member, outsider, client
):
    set_policy(org, owner, allowed_kinds=("google",))
    said = "Acme does not allow iCal link accounts to be connected."

    client.force_login(member)
    assert said in client.get(reverse("calendars:connect_ics")).text
    client.force_login(outsider)
    assert said not in client.get(reverse("calendars:connect_ics")).text


def test_a_refused_kind_never_reaches_the_providers_consent_screen(
    org, owner, member, client, google_fake
):
    set_policy(org, owner, allowed_kinds=("microsoft",))
    client.force_login(member)

    response = client.post(reverse("calendars_oauth:google_connect"))

    assert response.status_code == 403
    assert "Acme does not allow Google Calendar accounts to be connected." in response.text


def test_a_personal_google_account_is_refused_after_consent_and_nothing_is_stored(
    org, owner, member, client, google_fake
):
    set_policy(org, owner, personal_accounts_allowed=False)
    google_fake.add_calendar("primary", google_fake.email)
    client.force_login(member)
    consent = client.post(reverse("calendars_oauth:google_connect"))["Location"]

    response = client.get(
        reverse("calendars_oauth:google_callback"), google_fake.authorize(consent)
    )

    assert response.status_code == 403
    assert "allows only its own Google Calendar accounts" in response.text
    assert not Connection.objects.filter(user=member).exists()


# Bringing accounts back -------------------------------------------------------------------------


def _credentials(connection: Connection) -> str:
    return reverse("calendars:connection_credentials", args=[connection.id])


def test_a_disconnected_caldav_account_cannot_come_back_by_a_new_password(
    org, owner, member, client
):
    set_policy(org, owner, allowed_kinds=("google", "microsoft"))
    connection = ConnectionFactory(user=member, status=Connection.Status.DISCONNECTED)
    sealed = connection.secrets
    client.force_login(member)

    said = "Acme does not allow CalDAV server accounts to be connected."
    assert said in client.get(_credentials(connection)).text
    response = client.post(_credentials(connection), {"password": "a-new-password"})

    assert response.status_code == 200
    assert said in response.text
    connection.refresh_from_db()
    assert connection.status == Connection.Status.DISCONNECTED
    assert connection.secrets == sealed


def test_an_organizations_icloud_account_gets_no_new_password_from_anyone(
    org, owner, outsider, client
):
    set_policy(org, owner, allowed_kinds=("google",))
    connection = ConnectionFactory(
        user=outsider,
        kind=Connection.Kind.ICLOUD,
        server_url="https://caldav.icloud.com/",
        username="ada@acme.test",
        status=Connection.Status.NEEDS_RECONNECT,
    )
    client.force_login(outsider)

    response = client.post(_credentials(connection), {"password": "abcd-efgh-ijkl-mnop"})

    assert response.status_code == 200
    assert "Acme does not allow Apple iCloud accounts to be connected." in response.text
    connection.refresh_from_db()
    assert connection.status == Connection.Status.NEEDS_RECONNECT


def test_an_ical_link_gets_no_new_address_where_links_are_refused(org, owner, member, client, feed):
    set_policy(org, owner, allowed_kinds=("google",))
    connection = ConnectionFactory(
        user=member,
        kind=Connection.Kind.ICS,
        server_url="",
        username="link:old",
        secrets={"url": "https://example.test/old.ics"},
    )
    feed.serve_file("google.ics")
    client.force_login(member)

    response = client.post(_credentials(connection), {"url": feed.url})

    assert response.status_code == 200
    assert "Acme does not allow iCal link accounts to be connected." in response.text
    assert feed.requests == []
    connection.refresh_from_db()
    assert connection_secrets(connection) == {"url": "https://example.test/old.ics"}


def test_a_disconnected_account_of_an_allowed_kind_comes_back_by_its_password(
    org, owner, member, client, radicale_server
):
    set_policy(org, owner, allowed_kinds=("caldav",))
    account = radicale_server.new_account()
    radicale_server.create_calendar(account, "Clients")
    connection = ConnectionFactory(
        user=member,
        server_url=account.server_url,
        username=account.username,
        status=Connection.Status.DISCONNECTED,
    )
    client.force_login(member)

    response = client.post(_credentials(connection), {"password": account.password})

    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.status == Connection.Status.OK
    assert connection_secrets(connection) == {"password": account.password}


# Sync rules -------------------------------------------------------------------------------------


@pytest.fixture
def work_calendars(member):
    work = ConnectionFactory(user=member, username="me@acme.test", label="me@acme.test")
    home = ConnectionFactory(user=member, username="me@home.test", label="me@home.test")
    return CalendarFactory(connection=work, name="Work"), CalendarFactory(
        connection=home, name="Home"
    )


def test_the_rule_form_says_what_the_organization_lets_out(
    org, owner, member, client, work_calendars
):
    set_policy(org, owner, max_visibility="busy", links_may_leave=False)
    client.force_login(member)

    page = client.get(reverse("syncrules:rule_create")).text

    assert "Your organization Acme allows Busy only here: blocks from me@acme.test" in page
    assert "Locations and video-call links from me@acme.test never leave it" in page
    assert reverse("console:policies", args=[org.id]) in page


def test_the_rule_form_refuses_more_than_the_policy_for_an_organizations_source(
    org, owner, member, client, work_calendars
):
    set_policy(org, owner, max_visibility="title", links_may_leave=False)
    work, home = work_calendars
    client.force_login(member)

    response = client.post(
        reverse("syncrules:rule_create"),
        rule_form_data(sources=[work], targets=[home], visibility="full", show_location="on"),
    )

    assert response.status_code == 200
    assert "allows titles at most here" in response.text
    assert not SyncRule.objects.exists()
    allowed = client.post(
        reverse("syncrules:rule_create"),
        rule_form_data(sources=[work], targets=[home], visibility="title"),
    )
    assert allowed.status_code == 302


def test_the_rule_form_leaves_other_sources_as_they_were(
    org, owner, member, client, work_calendars
):
    set_policy(org, owner, max_visibility="busy")
    work, home = work_calendars
    client.force_login(member)

    response = client.post(
        reverse("syncrules:rule_create"),
        rule_form_data(sources=[home], targets=[work], visibility="full", show_location="on"),
    )

    assert response.status_code == 302


# The Calendars page -----------------------------------------------------------------------------

CALENDARS = reverse("calendars:calendar_list")


def test_an_organizations_account_says_what_its_policy_lets_out(
    org, owner, member, client, work_calendars
):
    set_policy(org, owner, max_visibility="busy", links_may_leave=False)
    client.force_login(member)

    page = html.unescape(client.get(CALENDARS).text)

    said = "Acme's policy: blocks copied out of this account show Busy only."
    assert page.count(said) == 1  # me@acme.test; not me@home.test
    assert "Locations and video-call links never leave it." in page
    assert f'href="{reverse("console:policies", args=[org.id])}"' in page


def test_without_limits_the_note_says_the_rules_decide(org, owner, member, client, work_calendars):
    client.force_login(member)

    page = html.unescape(client.get(CALENDARS).text)

    assert "Acme's policy: blocks copied out of this account show what each sync rule says." in page
    assert "Locations and video-call links leave it where a sync rule copies them." in page


def test_someone_outside_the_organization_reads_the_note_without_a_link(
    org, owner, outsider, client
):
    set_policy(org, owner, max_visibility="title")
    ConnectionFactory(user=outsider, username="ada@acme.test", label="ada@acme.test")
    ConnectionFactory(user=outsider, username="ada@elsewhere.test", label="ada@elsewhere.test")
    client.force_login(outsider)

    page = html.unescape(client.get(CALENDARS).text)

    assert page.count("Acme's policy: blocks copied out of this account show their titles") == 1
    assert reverse("console:policies", args=[org.id]) not in page


def test_an_account_under_no_organization_has_no_note(org, owner, outsider, client):
    set_policy(org, owner, max_visibility="busy", allowed_kinds=("google",))
    ConnectionFactory(user=outsider, username="ada@elsewhere.test", label="ada@elsewhere.test")
    client.force_login(outsider)

    page = html.unescape(client.get(CALENDARS).text)

    assert "Acme" not in page


def test_the_organizations_name_is_escaped_in_the_note(org, owner, member, client, work_calendars):
    org.name = '<b class="x">Acme & Co</b>'
    org.save(update_fields=["name"])
    set_policy(org, owner, max_visibility="busy")
    client.force_login(member)

    page = client.get(CALENDARS).text

    assert "&lt;b class=&quot;x&quot;&gt;Acme &amp; Co&lt;/b&gt;&#x27;s policy" in page
    assert '<b class="x">' not in page


def test_an_account_of_a_kind_no_longer_allowed_says_what_becomes_of_it(org, owner, member, client):
    ConnectionFactory(user=member, kind=Connection.Kind.ICS, username="link:1", label="Feed")
    ConnectionFactory(
        user=member,
        kind=Connection.Kind.ICS,
        username="link:2",
        label="Old feed",
        status=Connection.Status.DISCONNECTED,
    )
    set_policy(org, owner, allowed_kinds=("google",))
    client.force_login(member)

    page = html.unescape(client.get(CALENDARS).text)

    refused = "Acme does not allow iCal link accounts to be connected."
    assert page.count(refused) == 2
    assert (
        f"{refused} This account keeps working as it is, but once it needs reconnecting or is "
        "disconnected, it cannot be connected again." in page
    )
    assert f"{refused} So it cannot be connected again; you may remove it." in page


def test_a_personal_account_the_policy_refuses_says_so(org, owner, member, client):
    set_policy(org, owner, personal_accounts_allowed=False)
    ConnectionFactory(user=member, kind=Connection.Kind.GOOGLE, username="me@gmail.test")
    client.force_login(member)

    page = html.unescape(client.get(CALENDARS).text)

    assert "allows only its own Google Calendar accounts" in page
    assert "This account keeps working as it is" in page


def test_the_notes_of_any_number_of_accounts_take_one_query(org, owner, member):
    set_policy(org, owner, max_visibility="busy", allowed_kinds=("google", "caldav"))
    accounts = {
        n: (kind, f"person{n}@{domain}", True)
        for n, (kind, domain) in enumerate(
            [("caldav", "acme.test"), ("icloud", "acme.test"), ("google", "home.test")] * 4
        )
    }
    accounts["link"] = ("ics", "link:abc", True)

    with CaptureQueriesContext(db_connection) as queries:
        notes = account_notes(user=member, accounts=accounts)

    assert len(queries) == 1
    assert {key for key, note in notes.items() if note.policy} == {
        n for n, (_kind, address, _working) in accounts.items() if address.endswith("@acme.test")
    }
    assert {key for key, note in notes.items() if note.refusal} == {
        n for n, (kind, _address, _working) in accounts.items() if kind in ("icloud", "ics")
    }


def test_the_calendars_page_reads_the_policies_once_however_many_accounts(
    org, owner, member, client, work_calendars
):
    set_policy(org, owner, max_visibility="busy")
    client.force_login(member)

    def policy_queries() -> int:
        with CaptureQueriesContext(db_connection) as queries:
            assert client.get(CALENDARS).status_code == 200
        return sum('"orgs_' in query["sql"] for query in queries.captured_queries)

    before = policy_queries()
    for n in range(4):
        work = ConnectionFactory(user=member, username=f"me{n}@acme.test", label=f"me{n}")
        CalendarFactory(connection=work)

    assert policy_queries() == before


# Booking pages ----------------------------------------------------------------------------------


@pytest.fixture
def member_page(member):
    Profile.objects.create(user=member, handle="member", display_name="Member")
    return BookingPage.objects.create(owner=member, title="Intro", slug="intro", durations=[30])


def test_a_policy_against_public_pages_closes_the_members_open_pages(
    org, owner, member, member_page, outsider
):
    other = BookingPage.objects.create(owner=outsider, title="Else", slug="else", durations=[30])

    set_policy(org, owner, public_pages_allowed=False)

    member_page.refresh_from_db()
    other.refresh_from_db()
    assert member_page.active is False
    assert other.active is True


def test_a_member_cannot_open_a_page_but_may_save_one_closed(
    org, owner, member, member_page, client
):
    set_policy(org, owner, public_pages_allowed=False)
    client.force_login(member)

    refused = client.post(reverse("booking:page_create"), page_form_data(title="Second"))
    closed = client.post(reverse("booking:page_create"), page_form_data(title="Draft", active=None))
    reopened = client.post(
        reverse("booking:page_edit", args=[member_page.id]), page_form_data(title="Intro")
    )

    assert refused.status_code == 200
    assert "Acme does not allow its members to publish booking pages." in refused.text
    assert closed.status_code == 302
    assert reopened.status_code == 200
    assert not BookingPage.objects.filter(owner=member, active=True).exists()


def test_pro_coming_back_does_not_reopen_pages_the_policy_keeps_closed(
    org, owner, member, member_page
):
    BookingPage.objects.filter(id=member_page.id).update(
        active=False, plan_paused_at=timezone.now()
    )
    set_policy(org, owner, public_pages_allowed=False)

    assert plan_limits.resume_paused(member) == 0

    member_page.refresh_from_db()
    assert member_page.active is False


# The console page -------------------------------------------------------------------------------


def test_an_admin_changes_the_policies_on_the_console(org, owner, client):
    client.force_login(owner)
    url = reverse("console:policies", args=[org.id])

    response = client.post(
        url,
        {
            "max_visibility": "busy",
            "allowed_kinds": ["google", "microsoft", "zoom"],
            "public_pages_allowed": "on",
        },
    )

    assert response.status_code == 302
    policy = Policy.objects.get(organization=org)
    assert policy.max_visibility == "busy"
    assert policy.links_may_leave is False
    assert policy.allowed_kinds == ["google", "microsoft", "zoom"]
    assert policy.personal_accounts_allowed is False and policy.public_pages_allowed is True
    assert "acme.test" in client.get(url).text


def test_every_kind_ticked_is_no_limit_and_none_ticked_is_refused(org, owner, client):
    client.force_login(owner)
    url = reverse("console:policies", args=[org.id])
    every = ["google", "microsoft", "icloud", "caldav", "ics", "zoom"]

    client.post(url, {"allowed_kinds": every, "links_may_leave": "on"})
    refused = client.post(url, {"links_may_leave": "on"})

    assert Policy.objects.get(organization=org).allowed_kinds == []
    assert refused.status_code == 200 and "Allow at least one kind of account." in refused.text


def test_a_member_reads_the_policies_and_cannot_change_them(org, owner, member, client):
    set_policy(org, owner, max_visibility="busy", public_pages_allowed=False)
    client.force_login(member)
    url = reverse("console:policies", args=[org.id])

    page = client.get(url)
    change = client.post(url, {"max_visibility": "", "allowed_kinds": ["google"]})

    assert page.status_code == 200
    assert "Busy only" in page.text and "You may not publish booking pages" in page.text
    assert "<form" not in page.text.split("<main", 1)[-1].split("</main>", 1)[0]
    assert change.status_code == 404
    assert Policy.objects.get(organization=org).max_visibility == "busy"


def test_an_outsider_gets_a_404(org, outsider, client):
    client.force_login(outsider)
    assert client.get(reverse("console:policies", args=[org.id])).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_closing_members_pages_waits_for_a_page_being_opened(org, owner, member):
    """A member's page being opened holds the organization's policy (shared) until it commits:
    a change that closes members' pages waits for it, and so sees the page it must close."""
    opening = _other_session()
    opening.execute("BEGIN")
    opening.execute(
        "SELECT pg_advisory_xact_lock_shared(hashtextextended(%s, 0))",
        [f"orgs.policy:{org.id}"],
    )
    changed = threading.Event()

    def change() -> None:
        try:
            set_policy(org, owner, public_pages_allowed=False)
            changed.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=change)
    thread.start()
    try:
        assert not changed.wait(1.0)  # waits for the page being opened
        opening.execute("COMMIT")
        assert changed.wait(10)
    finally:
        opening.close()
        thread.join(10)
    assert not Policy.objects.get(organization=org).public_pages_allowed


def _other_session() -> psycopg.Connection:
    settings = db_connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        autocommit=True,
    )
