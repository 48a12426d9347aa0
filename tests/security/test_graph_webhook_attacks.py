"""Microsoft Graph's webhooks under attack: any body that is not a notification batch is a 400,
never a 500, and the validation token is echoed only for the request Graph's handshake makes."""

from __future__ import annotations

import json
import random
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

RECEIVERS = ["microsoft_notification", "microsoft_lifecycle"]
# Graph's own validation token (as its handshake sends it).
GRAPH_TOKEN = "Validation: Testing client application reachability for subscription Request-Id: 7f1c0e2a-9d1b-4b8e-8a44-3c2b6c1d5e90"

WRONG_TYPES: list[object] = [None, 0, 1.5, True, "x", [], {}, ["x"], {"a": "b"}]


def _shapes(receiver: str) -> list[object]:
    """Bodies of every wrong shape for ``receiver``: the batch, its list and its items' fields
    replaced by values of every other JSON type, plus deep and odd structures and a seeded mix."""
    shapes: list[object] = [value for value in WRONG_TYPES]
    shapes += [{"value": value} for value in WRONG_TYPES if not isinstance(value, list)]
    shapes += [{"value": [value]} for value in WRONG_TYPES if not isinstance(value, dict)]
    # The fields Graph's items carry as strings: the ones the receiver reads may not be null.
    read = ("subscriptionId", "clientState")
    if receiver == "microsoft_lifecycle":
        read += ("lifecycleEvent",)
    for field in ("subscriptionId", "clientState", "lifecycleEvent", "changeType", "tenantId"):
        for value in WRONG_TYPES:
            if isinstance(value, str) or (value is None and field not in read):
                continue
            item = {"subscriptionId": "s", "clientState": "c", "lifecycleEvent": "missed"}
            shapes.append({"value": [{**item, field: value}]})
    shapes += [
        {"value": [{"subscriptionId": ["x"], "clientState": "y"}]},
        {"value": [{"subscriptionId": {"x": 1}, "clientState": "y"}]},
        {"value": [{"subscriptionId": "x", "clientState": ["y"]}]},
        {"value": [{"subscriptionId": "x" * 100_000, "clientState": "y"}]},
        {"value": [{}]},
        {"value": [[]]},
        {"Value": []},
    ]
    deep: object = "x"
    for _ in range(50):
        deep = {"value": [deep]}
    shapes.append(deep)
    seeded = random.Random(14)
    for _ in range(40):
        item = {
            key: seeded.choice(WRONG_TYPES)
            for key in seeded.sample(
                ["subscriptionId", "clientState", "lifecycleEvent", "resource", "tenantId"], 3
            )
        }
        shapes.append({"value": [item]})
    return shapes


RAW_BODIES = {
    "empty": b"",
    "text": b"not json",
    "deep arrays": b"[" * 100_000,
    "deep batches": b'{"value": [' * 10_000,
    "not utf-8": b"\xff\xfe\x00garbage",
    "truncated": b'{"value": []',
    "huge number": b"1e999999",
    "long id": b'{"value": [{"subscriptionId": "' + b"9" * 5000 + b'", "clientState": "c"}]}',
    "lone surrogates": b'"' + b"\\ud800" * 10 + b'"',
}


@pytest.fixture
def hooks() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.mark.parametrize("receiver", RECEIVERS)
def test_every_malformed_json_shape_is_a_400(hooks, enqueued, receiver):
    answers = {}
    for shape in _shapes(receiver):
        body = json.dumps(shape)
        response = hooks.post(reverse(receiver), data=body, content_type="application/json")
        answers.setdefault(response.status_code, []).append(body[:80])

    assert set(answers) == {400}, {status: bodies[:3] for status, bodies in answers.items()}
    assert enqueued.syncs == []


@pytest.mark.parametrize("receiver", RECEIVERS)
@pytest.mark.parametrize("name", RAW_BODIES)
def test_a_body_that_is_not_a_json_batch_is_a_400(hooks, enqueued, receiver, name):
    response = hooks.post(reverse(receiver), data=RAW_BODIES[name], content_type="application/json")

    assert response.status_code == 400
    assert enqueued.syncs == []


@pytest.mark.parametrize("receiver", RECEIVERS)
def test_an_empty_batch_and_an_unknown_subscription_are_accepted_and_do_nothing(
    hooks, enqueued, receiver
):
    empty = hooks.post(reverse(receiver), data='{"value": []}', content_type="application/json")
    unknown = hooks.post(
        reverse(receiver),
        data=json.dumps(
            {
                "value": [
                    {
                        "subscriptionId": "2d6bd7bc-4b0b-4f5e-9b55-2b8c2f1a7e2d",
                        "clientState": "guess",
                        "lifecycleEvent": "missed",
                    }
                ]
            }
        ),
        content_type="application/json",
    )

    assert (empty.status_code, unknown.status_code) == (202, 202)
    assert enqueued.syncs == []


@pytest.mark.parametrize("receiver", RECEIVERS)
def test_graphs_validation_request_is_answered_with_its_token_as_plain_text(hooks, receiver):
    response = hooks.post(
        f"{reverse(receiver)}?validationToken={quote(GRAPH_TOKEN)}",
        data="",
        content_type="text/plain; charset=utf-8",
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == GRAPH_TOKEN


@pytest.mark.parametrize("receiver", RECEIVERS)
@pytest.mark.parametrize(
    "token",
    [
        "",
        "<script>alert(document.cookie)</script>",
        "x" * 2000,
        "line\r\nSet-Cookie: a=b",
        "\x00\x01",
        "ünïcödé",
        '"><img src=x onerror=alert(1)>',
    ],
    ids=["empty", "markup", "long", "header", "control", "non-ascii", "attribute"],
)
def test_a_validation_token_graph_would_never_send_is_refused(hooks, receiver, token):
    response = hooks.post(
        f"{reverse(receiver)}?validationToken={quote(token)}", data="", content_type="text/plain"
    )

    assert response.status_code == 400
    assert token.encode() not in response.content or not token


@pytest.mark.parametrize("receiver", RECEIVERS)
def test_a_validation_token_with_a_body_is_not_echoed(hooks, enqueued, receiver):
    """Graph's handshake has no body: a notification carrying a token is not a handshake."""
    response = hooks.post(
        f"{reverse(receiver)}?validationToken=reflect-me",
        data=json.dumps({"value": []}),
        content_type="application/json",
    )

    assert response.status_code == 400
    assert b"reflect-me" not in response.content
    assert enqueued.syncs == []


@pytest.mark.parametrize("receiver", RECEIVERS)
def test_the_validation_token_may_appear_only_once(hooks, receiver):
    response = hooks.post(
        f"{reverse(receiver)}?validationToken=abc&validationToken=def",
        data="",
        content_type="text/plain",
    )

    assert response.status_code == 400
