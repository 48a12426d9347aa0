import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from multical import health
from multical.celery import app as celery_app

pytestmark = pytest.mark.django_db

HEALTH = reverse("health")


@pytest.fixture(autouse=True)
def no_heartbeat():
    cache.delete(health.HEARTBEAT_CACHE_KEY)
    yield
    cache.delete(health.HEARTBEAT_CACHE_KEY)


def test_health_is_ok_when_the_database_and_broker_answer(client):
    response = client.get(HEALTH)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert response["Cache-Control"].startswith("max-age=0")


def test_health_is_503_when_the_broker_is_down(client, monkeypatch):
    monkeypatch.setitem(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")

    response = client.get(HEALTH)

    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == {"ok": False, "detail": "OperationalError"}


def test_health_reports_a_missing_worker_without_failing(client):
    response = client.get(HEALTH)
    assert response.status_code == 200
    assert response.json()["checks"]["worker"] == {"ok": False, "detail": "no heartbeat yet"}


def test_health_reports_a_stale_heartbeat(client):
    cache.set(health.HEARTBEAT_CACHE_KEY, timezone.now().timestamp() - 600)
    assert response_worker(client)["ok"] is False


def test_health_reports_a_fresh_heartbeat(client):
    health.record_heartbeat()
    assert response_worker(client) == {"ok": True, "detail": "last heartbeat 0 s ago"}


def response_worker(client):
    return client.get(HEALTH).json()["checks"]["worker"]


def test_health_refuses_writes(client):
    assert client.post(HEALTH).status_code == 405
