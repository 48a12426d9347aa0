"""The Terms of Service and the Privacy Policy: public, versioned, specific about what Multical
keeps and never keeps, and linked from both ways of signing up."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def page(client, name: str) -> str:
    response = client.get(reverse(name))
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("name", ["terms", "privacy"])
def test_each_document_is_public_and_shows_its_version(client, settings, name):
    assert f"Version {settings.LEGAL_DOCUMENTS_VERSION}." in page(client, name)


def test_the_privacy_policy_says_what_is_kept_and_what_never_is(client):
    html = page(client, "privacy")

    for kept in (
        "ids of the source and target events",
        "keyed fingerprint",
        "Argon2id",
        "AES-256-GCM",
    ):
        assert kept in html
    assert "titles, descriptions, locations, attendees and meeting links" in html
    assert "Bookings made through your pages are the one exception" in html


def test_the_privacy_policy_names_who_else_handles_data_how_long_and_the_rights(client):
    html = page(client, "privacy")

    assert "The calendar and meeting providers you connect" in html
    assert "Stripe" in html
    assert "until you delete them or your account" in html  # bookings
    assert "as a JSON file" in html  # export
    assert "delete your account under Settings" in html
    assert "the operator of this installation" in html  # contact
    assert f'href="{reverse("permissions")}"' in html


@pytest.mark.parametrize("name", ["terms", "privacy"])
@pytest.mark.parametrize(
    ("contact", "link"),
    [
        ("privacy@calendars.example", "mailto:privacy@calendars.example"),
        ("https://calendars.example/contact", "https://calendars.example/contact"),
        # Only web pages are linked as they are: any other scheme is taken for an address.
        ("javascript://%0aalert(1)", "mailto:javascript://%0aalert(1)"),
    ],
)
def test_each_document_names_the_operator_and_how_to_reach_them(
    client, settings, name, contact, link
):
    settings.OPERATOR_NAME = "Example Calendars <Ltd>"
    settings.OPERATOR_CONTACT = contact

    html = page(client, name)

    assert "Example Calendars &lt;Ltd&gt;" in html
    assert f'<a href="{link}">{contact}</a>' in html


def test_the_terms_link_the_privacy_policy_and_the_permissions_page(client):
    html = page(client, "terms")

    assert f'href="{reverse("privacy")}"' in html
    assert f'href="{reverse("permissions")}"' in html
    assert "Free plan includes one sync rule, two connected calendars and one booking page" in html


def test_signing_up_with_a_password_links_both_documents(client):
    html = page(client, "accounts:signup")

    assert f'href="{reverse("terms")}"' in html
    assert f'href="{reverse("privacy")}"' in html


def test_finishing_a_sign_up_with_a_provider_links_both_documents(client):
    from accounts.oauth_views import SIGN_UP_SESSION_KEY

    session = client.session
    session[SIGN_UP_SESSION_KEY] = {
        "provider": "google",
        "email": "new@example.com",
        "subject": "1234",
        "next": "",
        "held_at": time.time(),
    }
    session.save()

    html = page(client, "accounts_oauth:sign_up")

    assert "new@example.com" in html
    assert f'href="{reverse("terms")}"' in html
    assert f'href="{reverse("privacy")}"' in html
