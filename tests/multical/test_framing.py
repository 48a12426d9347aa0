"""Framing: which text is an origin a page may be framed by, and how a view, and only a view
marked for it, lets the sites it names frame one response (``multical.lib.framing``)."""

from __future__ import annotations

import pytest

from multical.lib.framing import NotAnOrigin, frame_origin
from tests.security.test_headers import assert_security_headers, policy


@pytest.mark.parametrize(
    ("given", "origin"),
    [
        ("https://example.com", "https://example.com"),
        ("https://example.com/", "https://example.com"),
        ("  HTTPS://Example.COM  ", "https://example.com"),
        ("https://shop.example.co.uk:8443", "https://shop.example.co.uk:8443"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://*.example.com", "https://*.example.com"),
        ("https://xn--bcher-kva.example", "https://xn--bcher-kva.example"),
    ],
)
def test_a_site_address_is_the_origin_it_names(given, origin):
    assert frame_origin(given) == origin


@pytest.mark.parametrize(
    "given",
    [
        "",
        "example.com",
        "//example.com",
        "ftp://example.com",
        "javascript:alert(1)",
        "data:text/html,x",
        "https://example.com/booking",
        "https://example.com/?a=1",
        "https://example.com#top",
        "https://user:secret@example.com",
        "https://*",
        "*",
        "https://*example.com",
        "https://example.*.com",
        "https://example.com:*",
        "https://example.com:port",
        "https://[::1]:8000",
        "https://exa mple.com",
        "https://example.com; script-src *",
        "https://example.com, https://evil.example",
        "https://example.com 'unsafe-inline'",
        "'self'",
        "https://-example.com",
        "https://bücher.example",
    ],
)
def test_anything_else_is_no_origin(given):
    with pytest.raises(NotAnOrigin):
        frame_origin(given)


def test_a_refusal_says_what_to_change():
    with pytest.raises(NotAnOrigin, match="without a path"):
        frame_origin("https://example.com/booking")


with_probes = pytest.mark.urls("tests.multical.framing_urls")


def framing_of(response) -> tuple[str | None, list[str]]:
    return response.get("X-Frame-Options"), policy(response)["frame-ancestors"]


@pytest.mark.django_db
@with_probes
def test_a_framable_view_lets_the_sites_it_names_frame_its_response(client):
    assert framing_of(client.get("/probe/framed-by-example/")) == (None, ["https://example.com"])
    assert framing_of(client.get("/probe/framed-by-anyone/")) == (None, ["*"])


@pytest.mark.django_db
@with_probes
def test_the_rest_of_the_policy_stays_as_it_is_on_a_framable_response(client):
    framed = policy(client.get("/probe/framed-by-example/"))
    unframed = policy(client.get("/probe/framable-not-now/"))

    assert {k: v for k, v in framed.items() if k not in {"frame-ancestors", "style-src"}} == {
        k: v for k, v in unframed.items() if k not in {"frame-ancestors", "style-src"}
    }


@pytest.mark.django_db
@with_probes
@pytest.mark.parametrize(
    "path",
    ["/probe/framable-not-now/", "/probe/undecorated/", "/probe/no-origin/"],
    ids=["not-asked", "not-marked-framable", "no-origin-named"],
)
def test_nothing_else_can_be_framed(client, path):
    assert_security_headers(client.get(path))
