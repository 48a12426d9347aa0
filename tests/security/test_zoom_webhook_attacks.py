"""Zoom's notification endpoint under attack: anything unsigned, forged, tampered with or stale is
refused before it is read, a signed body of the wrong shape is a 400 (never a 500), and the
validation challenge never signs text an attacker chose."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from calendars.models import Connection
from calendars.selectors import connection_secrets
from calendars.services import connection_connect_zoom
from integrations.zoom.oauth import secrets_from_token_answer

pytestmark = pytest.mark.django_db

HOOK = "zoom_notification"


@pytest.fixture
def hooks() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def victim(owner, zoom_fake) -> Connection:
    """The owner's Zoom connection, whose Zoom user an attacker would like forgotten."""
    secrets = {**secrets_from_token_answer(zoom_fake.grant()), "user_id": zoom_fake.user_id}
    return connection_connect_zoom(
        user=owner, email=zoom_fake.email, secrets=secrets, ip_address=None
    )


def post(hooks: Client, body: bytes, **headers: str):
    return hooks.post(reverse(HOOK), data=body, content_type="application/json", **headers)


def still_connected(connection: Connection) -> bool:
    connection.refresh_from_db()
    return connection.status == Connection.Status.OK and bool(connection_secrets(connection))


def test_an_unsigned_deauthorization_is_refused(hooks, zoom_fake, victim):
    body, _ = zoom_fake.signed(zoom_fake.deauthorization())

    response = post(hooks, body)

    assert response.status_code == 401
    assert still_connected(victim)


def test_a_deauthorization_signed_with_another_secret_is_refused(hooks, zoom_fake, victim):
    body, headers = zoom_fake.signed(zoom_fake.deauthorization(), secret="guessed-secret")

    response = post(hooks, body, **headers)

    assert response.status_code == 401
    assert still_connected(victim)


def test_a_signed_body_with_another_user_swapped_in_is_refused(hooks, zoom_fake, victim):
    genuine, headers = zoom_fake.signed(zoom_fake.deauthorization(user_id="SomeoneElse00000000000"))
    tampered = genuine.replace(b"SomeoneElse00000000000", zoom_fake.user_id.encode())

    response = post(hooks, tampered, **headers)

    assert response.status_code == 401
    assert still_connected(victim)


@pytest.mark.parametrize("seconds", [-301, 301, -(10**9)])
def test_a_notice_stamped_outside_five_minutes_is_refused(hooks, zoom_fake, victim, seconds):
    # The clock stands still: one second on a busy machine would bring 301 s back to 300.
    now = int(time.time())
    stamp = now + seconds
    body, headers = zoom_fake.signed(zoom_fake.deauthorization(), timestamp=stamp)

    with time_machine.travel(now, tick=False):
        response = post(hooks, body, **headers)

    assert response.status_code == 401
    assert still_connected(victim)


def test_a_captured_notice_replayed_later_is_refused(hooks, zoom_fake, victim):
    body, headers = zoom_fake.signed(zoom_fake.deauthorization())

    with time_machine.travel(time.time() + 6 * 60):
        response = post(hooks, body, **headers)

    assert response.status_code == 401
    assert still_connected(victim)


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "v0=",
        "v1={digest}",
        "{digest}",
        "v0={digest}0",
        "v0=" + "g" * 64,
        "v0={DIGEST}",
        "v0=" + "a" * 10_000,
        "v0=\u00e9" * 8,
    ],
)
def test_a_malformed_signature_header_is_refused(hooks, zoom_fake, victim, signature):
    body, headers = zoom_fake.signed(zoom_fake.deauthorization())
    digest = headers["HTTP_X_ZM_SIGNATURE"].removeprefix("v0=")
    headers["HTTP_X_ZM_SIGNATURE"] = signature.format(digest=digest, DIGEST=digest.upper())

    response = post(hooks, body, **headers)

    assert response.status_code == 401
    assert still_connected(victim)


@pytest.mark.parametrize("stamp", ["", "abc", "1e9", " 1700000000", "-1", "9" * 40])
def test_a_malformed_timestamp_is_refused(hooks, zoom_fake, victim, stamp):
    body = json.dumps(zoom_fake.deauthorization()).encode()
    digest = hmac.new(
        zoom_fake.webhook_secret_token.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256
    ).hexdigest()

    response = post(
        hooks, body, HTTP_X_ZM_REQUEST_TIMESTAMP=stamp, HTTP_X_ZM_SIGNATURE=f"v0={digest}"
    )

    assert response.status_code == 401
    assert still_connected(victim)


def test_the_validation_challenge_is_not_answered_unsigned(hooks, zoom_fake):
    body, _ = zoom_fake.signed(zoom_fake.url_validation())

    response = post(hooks, body)

    assert response.status_code == 401
    assert b"encryptedToken" not in response.content


def test_the_validation_challenge_never_signs_an_event_an_attacker_wrote(hooks, zoom_fake, victim):
    """Its answer is HMAC(secret, plainToken), the function signatures use: a plainToken shaped
    like "v0:<time>:<forged body>" would come back as a valid signature of the forged body."""
    forged = json.dumps(zoom_fake.deauthorization()).encode()
    stamp = str(int(time.time()))
    body, headers = zoom_fake.signed(zoom_fake.url_validation(f"v0:{stamp}:{forged.decode()}"))

    answer = post(hooks, body, **headers)

    assert answer.status_code == 400
    assert b"encryptedToken" not in answer.content
    assert still_connected(victim)


# JSON values of every type but a string, and strings no Zoom id or token looks like.
NOT_A_STRING: list[object] = [None, 0, 1.5, True, [], {}, ["x"], {"a": "b"}]
ODD_STRINGS = ["", "x" * 500, "../../etc", "é", "a:b", "a b"]


def _bodies(zoom_fake) -> list[bytes]:
    shapes: list[object] = [*NOT_A_STRING, "x"]
    shapes += [{"event": value, "payload": {}} for value in NOT_A_STRING]
    shapes += [{"event": "app_deauthorized", "payload": value} for value in NOT_A_STRING]
    for field in ("user_id", "client_id"):
        for value in [*NOT_A_STRING, *ODD_STRINGS]:
            event = zoom_fake.deauthorization()
            event["payload"][field] = value
            shapes.append(event)
    for value in [*NOT_A_STRING, *ODD_STRINGS]:
        shapes.append(zoom_fake.url_validation(value))  # type: ignore[arg-type]
    bodies = [json.dumps(shape).encode() for shape in shapes]
    deep = b'{"payload": ' * 5_000 + b"{}" + b"}" * 5_000
    return [*bodies, b"", b"not json", b"[" * 100_000, b"\xff\xfe", deep]


def test_every_signed_body_of_the_wrong_shape_is_a_400(hooks, zoom_fake, victim):
    answers: dict[int, list[bytes]] = {}
    for body in _bodies(zoom_fake):
        stamp = str(int(time.time()))
        digest = hmac.new(
            zoom_fake.webhook_secret_token.encode(),
            f"v0:{stamp}:".encode() + body,
            hashlib.sha256,
        ).hexdigest()
        response = post(
            hooks, body, HTTP_X_ZM_REQUEST_TIMESTAMP=stamp, HTTP_X_ZM_SIGNATURE=f"v0={digest}"
        )
        answers.setdefault(response.status_code, []).append(body[:60])

    assert set(answers) == {400}, {status: bodies[:3] for status, bodies in answers.items()}
    assert still_connected(victim)


def test_only_post_is_accepted(hooks, zoom_fake):
    assert hooks.get(reverse(HOOK)).status_code == 405
