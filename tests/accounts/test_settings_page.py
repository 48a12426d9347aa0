import pytest
from django.urls import reverse

from accounts.models import Consent
from accounts.selectors import consent_granted

pytestmark = pytest.mark.django_db

SETTINGS = reverse("accounts:settings")


def test_settings_change_the_time_zone(owner_client, owner):
    response = owner_client.post(SETTINGS, {"time_zone": "Asia/Kolkata"})

    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.time_zone == "Asia/Kolkata"


def test_an_invalid_time_zone_is_a_field_error(owner_client, owner):
    response = owner_client.post(SETTINGS, {"time_zone": "Nowhere/Land"})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    owner.refresh_from_db()
    assert owner.time_zone == "Europe/Berlin"


def test_opting_in_and_out_of_marketing_keeps_the_history(owner_client, owner):
    owner_client.post(SETTINGS, {"time_zone": "UTC", "marketing_email": "on"})
    owner_client.post(SETTINGS, {"time_zone": "UTC"})
    owner_client.post(SETTINGS, {"time_zone": "UTC"})

    rows = list(owner.consents.filter(kind=Consent.Kind.MARKETING_EMAIL).order_by("recorded_at"))
    assert [row.granted for row in rows] == [True, False]
    assert consent_granted(user=owner, kind=Consent.Kind.MARKETING_EMAIL) is False


def test_the_settings_form_shows_the_current_marketing_choice(owner_client, owner):
    Consent.objects.create(user=owner, kind=Consent.Kind.MARKETING_EMAIL, granted=True)
    html = owner_client.get(SETTINGS).content.decode()
    assert 'name="marketing_email" id="id_marketing_email" checked' in html


def test_the_week_start_and_the_clock_are_kept_and_left_as_they_are_when_not_sent(
    owner_client, owner
):
    owner_client.post(SETTINGS, {"time_zone": "UTC", "week_start": "0", "clock": "12"})
    owner.refresh_from_db()
    assert (owner.week_start, owner.clock) == (0, 12)

    owner_client.post(SETTINGS, {"time_zone": "Asia/Tokyo"})  # an older page sends only the zone

    owner.refresh_from_db()
    assert (owner.time_zone, owner.week_start, owner.clock) == ("Asia/Tokyo", 0, 12)
    page = owner_client.get(SETTINGS).content.decode()
    assert "Weeks start on" in page and "12-hour (2:30 pm)" in page
