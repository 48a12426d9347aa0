import pytest
from django.test import Client
from django.urls import reverse
from django.views.defaults import server_error
from django_ratelimit.exceptions import Ratelimited

from multical.views import rate_limited
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def test_the_landing_page_says_what_the_product_does(client):
    html = client.get(reverse("landing")).content.decode()
    assert "All your calendars, in step." in html
    assert reverse("accounts:signup") in html


def test_an_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "We can't find that page" in response.content.decode()


def test_a_server_error_is_a_friendly_500(rf):
    response = server_error(rf.get("/"))
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


def test_rate_limited_requests_get_a_429_with_retry_after(rf):
    request = rf.get("/")
    request.user = None
    response = rate_limited(request, Ratelimited())

    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert "Slow down a little" in response.content.decode()


def test_a_form_posted_without_its_csrf_token_gets_a_friendly_403(owner):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        reverse("accounts:login"), {"username": owner.email, "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_legal_pages_show_their_version(client, settings):
    for name in ["terms", "privacy"]:
        response = client.get(reverse(name))
        assert response.status_code == 200
        assert settings.LEGAL_DOCUMENTS_VERSION in response.content.decode()


def test_signup_links_the_legal_pages(client):
    html = client.get(reverse("accounts:signup")).content.decode()
    assert f'href="{reverse("terms")}"' in html
    assert f'href="{reverse("privacy")}"' in html


def test_pages_send_no_frame_and_no_sniff_headers(client):
    response = client.get(reverse("landing"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
