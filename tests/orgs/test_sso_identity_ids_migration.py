"""Single sign-on identities linked before identities had public ids each get their own, on
whichever database the migration runs (it uses no database function)."""

from __future__ import annotations

import pytest

from tests.factories import UserFactory
from tests.migration_steps import at_schema, migrate

BEFORE = [("orgs", "0005_subscription_events")]
AFTER = [("orgs", "0006_sso_tenants")]


@pytest.fixture
def at_the_old_schema():
    yield from at_schema(BEFORE)


@pytest.mark.django_db(transaction=True)
def test_identities_linked_before_get_an_id_each(at_the_old_schema):
    Organization = at_the_old_schema.get_model("orgs", "Organization")
    SsoIdentity = at_the_old_schema.get_model("orgs", "SsoIdentity")
    organization = Organization.objects.create(name="Acme")
    for number in range(3):
        SsoIdentity.objects.create(
            user_id=UserFactory().pk,
            organization=organization,
            issuer="https://issuer.example",
            subject=f"subject-{number}",
        )

    new = migrate(AFTER)

    ids = list(new.get_model("orgs", "SsoIdentity").objects.values_list("public_id", flat=True))
    assert len(ids) == 3 and None not in ids and len(set(ids)) == 3
