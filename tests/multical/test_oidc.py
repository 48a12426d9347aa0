"""The OpenID Connect relying party against a local provider: the whole sign-in, and every way a
sign-in must be refused (OpenID Connect Core 1.0 §3.1.3.7, RFC 7636, key rotation, SSRF)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from multical.lib import oidc
from multical.lib.oidc import IdentityClaims, OIDCClient, OIDCError, PendingAuthorization
from tests.fakes.oidc import REDIRECT_URI, FakeOIDCProvider, Tamper, running_oidc_provider


@pytest.fixture
def provider() -> Iterator[FakeOIDCProvider]:
    with running_oidc_provider() as fake:
        yield fake


@pytest.fixture
def client(provider: FakeOIDCProvider) -> OIDCClient:
    return OIDCClient(
        issuer=provider.issuer,
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        redirect_uri=REDIRECT_URI,
    )


def browse(url: str) -> dict[str, str]:
    """Follow the authorization URL as a browser would, to the redirect back to us: its query."""
    answer = httpx.get(url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def sign_in(client: OIDCClient) -> tuple[PendingAuthorization, dict[str, str]]:
    """Start a sign-in and come back from the provider: what we kept, and the callback's query."""
    request = oidc.start_authorization(client)
    return request.pending, browse(request.url)


@contextmanager
def refused(reason: str) -> Iterator[None]:
    with pytest.raises(OIDCError) as caught:
        yield
    assert caught.value.reason == reason, caught.value.reason
    assert str(caught.value) == oidc.REASONS[reason]


# --- the whole flow ------------------------------------------------------------------------------


def test_a_sign_in_goes_from_the_authorization_url_to_the_persons_claims(provider, client):
    pending, callback = sign_in(client)

    claims = oidc.complete_authorization(client, pending, callback)

    user = provider.users[0]
    assert claims == IdentityClaims(
        issuer=provider.issuer,
        sub=user.sub,
        email="ada@example.org",
        email_verified=True,
        name="Ada Lovelace",
    )


def test_the_authorization_url_asks_for_code_with_pkce_s256_a_state_and_a_nonce(provider, client):
    request = oidc.start_authorization(client)

    url = urlsplit(request.url)
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    assert (
        f"{url.scheme}://{url.netloc}{url.path}" == provider.discovery()["authorization_endpoint"]
    )
    assert query == {
        "response_type": "code",
        "client_id": provider.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid email profile",
        "state": request.pending.state,
        "nonce": request.pending.nonce,
        "code_challenge": query["code_challenge"],
        "code_challenge_method": "S256",
    }
    verifier = request.pending.code_verifier
    assert 43 <= len(verifier) <= 128
    assert verifier not in request.url
    digest = hashlib.sha256(verifier.encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_each_authorization_request_has_its_own_state_nonce_and_verifier(client):
    first, second = oidc.start_authorization(client), oidc.start_authorization(client)

    assert first.pending.state != second.pending.state
    assert first.pending.nonce != second.pending.nonce
    assert first.pending.code_verifier != second.pending.code_verifier


def test_the_pending_request_survives_a_round_trip_through_the_session(client):
    pending = oidc.start_authorization(client).pending

    stored = json.loads(json.dumps(pending.as_dict()))

    assert PendingAuthorization.from_dict(stored) == pending
    assert pending.code_verifier not in repr(pending)
    with refused("state_mismatch"):
        PendingAuthorization.from_dict({"state": "x"})


def test_a_person_whose_address_the_provider_has_not_checked_is_not_verified(provider, client):
    provider.signed_in = provider.add_user("bob@example.org", "Bob", email_verified=False)
    pending, callback = sign_in(client)

    claims = oidc.complete_authorization(client, pending, callback)

    assert claims.email == "bob@example.org"
    assert claims.email_verified is False


@pytest.mark.parametrize(
    ("edov", "verified"),
    [(True, True), ("1", True), ("true", True), (False, False), ("0", False), (None, False)],
)
def test_entra_vouches_for_an_address_only_through_xms_edov(provider, client, edov, verified):
    # Entra ID sends no email_verified at all; its optional claim says the domain owner checked.
    provider.signed_in = provider.add_user(
        "grace@contoso.example", "Grace", email_verified=None, xms_edov=edov
    )
    pending, callback = sign_in(client)

    assert oidc.complete_authorization(client, pending, callback).email_verified is verified


def test_email_verified_false_is_not_overruled_by_xms_edov(provider, client):
    provider.signed_in = provider.add_user(
        "grace@contoso.example", "Grace", email_verified=False, xms_edov=True
    )
    pending, callback = sign_in(client)

    assert oidc.complete_authorization(client, pending, callback).email_verified is False


def test_an_es256_token_is_accepted(provider, client):
    provider.signing_alg = "ES256"
    pending, callback = sign_in(client)

    assert oidc.complete_authorization(client, pending, callback).sub == provider.users[0].sub


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_the_client_authenticates_the_way_the_provider_accepts(provider, client, method):
    provider.auth_methods = [method]
    pending, callback = sign_in(client)

    assert oidc.complete_authorization(client, pending, callback).sub == provider.users[0].sub


def test_a_secret_with_reserved_characters_authenticates_with_basic(provider, client):
    # RFC 6749 §2.3.1: form-encoded before base64, or "+", "/" and "=" would be read otherwise.
    assert set("/+=") <= set(provider.client_secret)
    provider.auth_methods = ["client_secret_basic"]
    pending, callback = sign_in(client)

    assert oidc.complete_authorization(client, pending, callback).sub == provider.users[0].sub


def test_a_provider_offering_no_method_we_support_is_refused(provider, client):
    provider.auth_methods = ["private_key_jwt"]
    pending, callback = sign_in(client)

    with refused("unsupported_auth_method"):
        oidc.complete_authorization(client, pending, callback)


def test_a_wrong_client_secret_is_refused_by_the_provider(provider, client):
    pending, callback = sign_in(client)

    with refused("token_refused"):
        oidc.complete_authorization(replace(client, client_secret="guess"), pending, callback)


def test_discovery_and_keys_are_fetched_once_for_many_sign_ins(provider, client):
    for _ in range(3):
        pending, callback = sign_in(client)
        oidc.complete_authorization(client, pending, callback)

    assert provider.count(provider.issuer_path + "/.well-known/openid-configuration") == 1
    assert provider.count(provider.jwks_path) == 1


# --- the callback --------------------------------------------------------------------------------


def test_a_callback_with_another_state_is_refused_before_any_exchange(provider, client):
    pending, callback = sign_in(client)

    with refused("state_mismatch"):
        oidc.complete_authorization(client, pending, {**callback, "state": "forged"})
    with refused("state_mismatch"):
        oidc.complete_authorization(client, pending, {"code": callback["code"]})
    assert provider.token_requests == []


def test_a_pending_request_of_another_issuer_is_refused(client):
    pending = oidc.start_authorization(client).pending
    elsewhere = replace(pending, issuer="https://login.example.com/other/v2.0")

    with refused("state_mismatch"):
        oidc.complete_authorization(client, elsewhere, {"state": pending.state, "code": "c"})


def test_a_refused_consent_comes_back_as_a_provider_error(provider, client):
    provider.deny_consent = True
    pending, callback = sign_in(client)

    with pytest.raises(OIDCError) as caught:
        oidc.complete_authorization(client, pending, callback)

    assert caught.value.reason == "provider_error"
    assert caught.value.provider_error == "access_denied"
    assert provider.token_requests == []


def test_a_response_naming_another_issuer_is_refused(client):
    pending, callback = sign_in(client)

    with refused("wrong_issuer"):
        oidc.complete_authorization(client, pending, {**callback, "iss": "https://evil.example"})


def test_a_reused_code_is_refused(provider, client):
    pending, callback = sign_in(client)
    oidc.complete_authorization(client, pending, callback)

    with pytest.raises(OIDCError) as caught:
        oidc.complete_authorization(client, pending, callback)

    assert caught.value.reason == "token_refused"
    assert caught.value.provider_error == "invalid_grant"


def test_a_wrong_code_verifier_is_refused(client):
    pending, callback = sign_in(client)
    other_verifier = oidc.start_authorization(client).pending.code_verifier

    with pytest.raises(OIDCError) as caught:
        oidc.complete_authorization(
            client, replace(pending, code_verifier=other_verifier), callback
        )

    assert (caught.value.reason, caught.value.provider_error) == ("token_refused", "invalid_grant")


def test_a_different_redirect_uri_at_the_exchange_is_refused(provider, client):
    provider.redirect_uris.add(REDIRECT_URI + "other/")
    pending, callback = sign_in(client)

    with pytest.raises(OIDCError) as caught:
        oidc.complete_authorization(
            replace(client, redirect_uri=REDIRECT_URI + "other/"), pending, callback
        )

    assert caught.value.provider_error == "invalid_grant"


def test_an_expired_code_is_refused(provider, client):
    provider.code_lifetime = 0
    pending, callback = sign_in(client)

    with refused("token_refused"):
        oidc.complete_authorization(client, pending, callback)


# --- the ID token --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "reason"),
    [
        ("wrong_audience", "wrong_audience"),
        ("wrong_nonce", "wrong_nonce"),
        ("expired", "expired"),
        ("wrong_issuer", "wrong_issuer"),
        ("unpublished_key", "unknown_key"),
    ],
)
def test_a_bad_id_token_from_the_token_endpoint_is_refused(provider, client, flag, reason):
    provider.tamper(**{flag: True})
    pending, callback = sign_in(client)

    with refused(reason):
        oidc.complete_authorization(client, pending, callback)


def test_a_token_signed_with_another_key_under_a_published_kid_is_refused(provider, client):
    token = provider.mint_id_token(
        provider.users[0],
        nonce="n",
        tamper=Tamper(unpublished_key=True, reuse_published_kid=True),
    )

    with refused("bad_signature"):
        oidc.validate_id_token(client, token, nonce="n")


def test_a_token_with_an_altered_payload_is_refused(provider, client):
    header, _, signature = provider.mint_id_token(provider.users[0], nonce="n").split(".")
    forged = provider.mint_id_token(provider.users[0], nonce="n", claims={"sub": "someone-else"})
    payload = forged.split(".")[1]

    with refused("bad_signature"):
        oidc.validate_id_token(client, f"{header}.{payload}.{signature}", nonce="n")


def test_alg_none_is_refused(provider, client):
    token = provider.forge_alg_none(provider.users[0], nonce="n")

    with refused("unsupported_algorithm"):
        oidc.validate_id_token(client, token, nonce="n")


def test_hs256_keyed_with_the_public_key_is_refused(provider, client):
    token = provider.forge_hs256_with_public_key(provider.users[0], nonce="n")

    with refused("unsupported_algorithm"):
        oidc.validate_id_token(client, token, nonce="n")


def test_a_token_for_several_audiences_must_have_been_issued_to_us(provider, client):
    user = provider.users[0]
    several = [client.client_id, "another-client"]
    to_us = provider.mint_id_token(user, nonce="n", claims={"aud": several})
    to_them = provider.mint_id_token(user, nonce="n", claims={"aud": several, "azp": "other"})

    assert oidc.validate_id_token(client, to_us, nonce="n").sub == user.sub
    with refused("wrong_audience"):
        oidc.validate_id_token(client, to_them, nonce="n")
    without_azp = provider.mint_id_token(user, nonce="n", claims={"aud": several, "azp": None})
    with refused("wrong_audience"):
        oidc.validate_id_token(client, without_azp, nonce="n")


def test_a_token_not_valid_yet_is_refused(provider, client):
    later = int(time.time()) + 3600
    user = provider.users[0]

    with refused("not_yet_valid"):
        oidc.validate_id_token(
            client, provider.mint_id_token(user, nonce="n", claims={"nbf": later}), nonce="n"
        )
    with refused("not_yet_valid"):
        oidc.validate_id_token(
            client, provider.mint_id_token(user, nonce="n", claims={"iat": later}), nonce="n"
        )


def test_a_small_clock_skew_is_tolerated(provider, client, settings):
    settings.OIDC_CLOCK_SKEW_SECONDS = 60
    user = provider.users[0]
    just_expired = provider.mint_id_token(user, nonce="n", claims={"exp": int(time.time()) - 10})

    assert oidc.validate_id_token(client, just_expired, nonce="n").sub == user.sub
    settings.OIDC_CLOCK_SKEW_SECONDS = 0
    with refused("expired"):
        oidc.validate_id_token(client, just_expired, nonce="n")


def test_a_token_without_a_nonce_is_refused(provider, client):
    token = provider.mint_id_token(provider.users[0], nonce=None)

    with refused("wrong_nonce"):
        oidc.validate_id_token(client, token, nonce="n")


def test_an_access_token_that_does_not_match_at_hash_is_refused(provider, client):
    token = provider.mint_id_token(provider.users[0], nonce="n", access_token="the-real-one")

    assert oidc.validate_id_token(client, token, nonce="n", access_token="the-real-one")
    with refused("wrong_at_hash"):
        oidc.validate_id_token(client, token, nonce="n", access_token="a-swapped-one")


def test_garbage_is_a_malformed_token(client):
    with refused("malformed_token"):
        oidc.validate_id_token(client, "not.a.token", nonce="n")


def test_a_key_published_for_encryption_does_not_verify_signatures(provider, client):
    published = provider.jwks

    def for_encryption() -> dict[str, object]:
        return {"keys": [{**key, "use": "enc"} for key in published()["keys"]]}

    provider.jwks = for_encryption
    token = provider.mint_id_token(provider.users[0], nonce="n")

    with refused("unknown_key"):
        oidc.validate_id_token(client, token, nonce="n")


# --- key rotation --------------------------------------------------------------------------------


def test_after_a_rotation_the_new_key_is_accepted_after_one_refetch_and_the_old_refused(
    provider, client
):
    user = provider.users[0]
    pending, callback = sign_in(client)
    oidc.complete_authorization(client, pending, callback)  # the JWKS is now cached
    old_key = provider.rsa_key
    assert provider.count(provider.jwks_path) == 1

    provider.rotate_keys()
    pending, callback = sign_in(client)
    claims = oidc.complete_authorization(client, pending, callback)

    assert claims.sub == user.sub
    assert provider.count(provider.jwks_path) == 2
    with refused("unknown_key"):
        oidc.validate_id_token(client, provider.mint_with_key(old_key, user, nonce="n"), nonce="n")


def test_a_flood_of_unknown_keys_fetches_the_jwks_at_most_once_per_guard_period(
    provider, client, settings
):
    settings.OIDC_JWKS_REFETCH_SECONDS = 60
    user = provider.users[0]
    pending, callback = sign_in(client)
    oidc.complete_authorization(client, pending, callback)
    assert provider.count(provider.jwks_path) == 1

    for _ in range(20):
        token = provider.mint_id_token(user, nonce="n", tamper=Tamper(unpublished_key=True))
        with refused("unknown_key"):
            oidc.validate_id_token(client, token, nonce="n")

    assert provider.count(provider.jwks_path) == 2


def test_a_rotation_during_the_guard_period_waits_for_it_to_end(provider, client, settings):
    settings.OIDC_JWKS_REFETCH_SECONDS = 1
    user = provider.users[0]
    pending, callback = sign_in(client)
    oidc.complete_authorization(client, pending, callback)
    forged = provider.mint_id_token(user, nonce="n", tamper=Tamper(unpublished_key=True))
    with refused("unknown_key"):
        oidc.validate_id_token(client, forged, nonce="n")  # takes the guard

    provider.rotate_keys()
    fresh = provider.mint_id_token(user, nonce="n")
    with refused("unknown_key"):
        oidc.validate_id_token(client, fresh, nonce="n")
    time.sleep(1.1)

    assert oidc.validate_id_token(client, fresh, nonce="n").sub == user.sub


# --- discovery and the guarded fetcher -----------------------------------------------------------


def test_a_discovery_document_naming_another_issuer_is_refused(provider, client):
    provider.discovery_issuer = provider.issuer + "/"

    with refused("wrong_issuer"):
        oidc.start_authorization(client)


def test_a_discovery_document_with_plain_http_endpoints_elsewhere_is_refused(provider, client):
    original = provider.discovery

    def document() -> dict[str, object]:
        return {**original(), "token_endpoint": "http://login.example.com/token"}

    provider.discovery = document

    with refused("insecure_url"):
        oidc.discover(client.issuer)


def test_an_http_issuer_is_refused_outside_loopback(settings):
    with refused("insecure_url"):
        oidc.discover("http://login.example.com/tenant/v2.0")


def test_an_issuer_on_loopback_is_refused_when_loopback_is_not_allowed(provider, client, settings):
    settings.OUTBOUND_ALLOW_LOOPBACK = False

    with pytest.raises(OIDCError) as caught:
        oidc.start_authorization(client)

    assert caught.value.reason in ("insecure_url", "unsafe_url")
    assert provider.requests == []


@pytest.mark.parametrize(
    "issuer",
    [
        "https://10.0.0.7/tenant/v2.0",
        "https://192.168.1.1/tenant/v2.0",
        "https://169.254.169.254/latest",
        "https://127.0.0.1:9/tenant/v2.0",
        "https://[::1]:9/tenant/v2.0",
        "https://localhost:9/tenant/v2.0",
    ],
)
def test_an_issuer_resolving_to_a_private_address_is_refused_by_the_guarded_fetcher(
    settings, issuer
):
    settings.OUTBOUND_ALLOW_LOOPBACK = False

    with refused("unsafe_url"):
        oidc.discover(issuer)


def test_an_unreachable_issuer_is_a_transient_error(settings):
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    with pytest.raises(OIDCError) as caught:
        oidc.discover("http://127.0.0.1:9/tenant/v2.0")

    assert (caught.value.reason, caught.value.transient) == ("unreachable", True)


def test_nothing_secret_is_logged(provider, client, caplog):
    caplog.set_level("DEBUG", logger="multical.lib.oidc")
    pending, callback = sign_in(client)
    oidc.complete_authorization(client, pending, callback)
    with refused("token_refused"):
        oidc.complete_authorization(client, pending, callback)

    logged = caplog.text
    assert "token_refused" in logged
    for secret in (callback["code"], pending.code_verifier, pending.nonce, client.client_secret):
        assert secret not in logged


# --- the fake is no kinder than a real provider --------------------------------------------------


def test_the_fake_shows_an_error_page_for_an_unregistered_redirect_uri(provider, client):
    for wrong in (
        replace(client, redirect_uri=REDIRECT_URI + "x"),
        replace(client, client_id="unknown"),
    ):
        answer = httpx.get(oidc.start_authorization(wrong).url, follow_redirects=False)

        assert answer.status_code == 400
        assert "location" not in answer.headers


def test_the_fake_refuses_an_authorization_request_without_pkce(provider, client):
    url = httpx.URL(oidc.start_authorization(client).url)
    params = {k: v for k, v in url.params.items() if not k.startswith("code_challenge")}

    callback = browse(str(url.copy_with(params=params)))

    assert callback["error"] == "invalid_request"


# --- a multi-tenant issuer (Entra's …/organizations/v2.0) ----------------------------------------

ALLOWED, ALSO_ALLOWED, OTHER = (
    "3f0e8f4c-5a2b-4c57-9d1e-0b6a1f2e7c11",
    "9a7d3c21-64e0-4f6b-8c2a-5e1b7d0f4a93",
    "c5b2e1d0-7f3a-4e8c-a6b9-2d4f1e0c8b57",
)


@pytest.fixture
def entra() -> Iterator[FakeOIDCProvider]:
    with running_oidc_provider(multi_tenant=True) as fake:
        fake.home_tenant = ALLOWED
        yield fake


@pytest.fixture
def entra_client(entra: FakeOIDCProvider) -> OIDCClient:
    return OIDCClient(
        issuer=entra.issuer,
        client_id=entra.client_id,
        client_secret=entra.client_secret,
        redirect_uri=REDIRECT_URI,
        tenants=(ALLOWED, ALSO_ALLOWED),
    )


def test_a_multi_tenant_issuers_template_is_its_discovery_issuer(entra):
    metadata = oidc.discover(entra.issuer)

    assert entra.issuer.endswith("/organizations/v2.0")
    assert metadata.multi_tenant and metadata.issuer_template == entra.issuer_template
    assert "{tenantid}" in entra.discovery()["issuer"]


def test_a_template_for_another_issuer_is_refused(entra):
    # The template must give back the issuer configured: another path's is an impostor's.
    entra.discovery_issuer = entra.base_url + "/elsewhere/{tenantid}/v2.0"

    with refused("wrong_issuer"):
        oidc.discover(entra.issuer)


def test_a_single_tenant_issuer_is_not_multi_tenant(provider):
    assert not oidc.is_multi_tenant(provider.issuer)


def test_a_person_of_an_allowed_tenant_signs_in_under_their_tenants_issuer(entra, entra_client):
    pending, callback = sign_in(entra_client)

    claims = oidc.complete_authorization(entra_client, pending, callback)

    assert claims.sub == entra.users[0].sub
    assert claims.issuer == entra.tenant_issuer(ALLOWED)


def test_a_person_of_another_tenant_is_refused(entra, entra_client):
    entra.signed_in = entra.add_user("eve@example.org", tenant=OTHER)
    pending, callback = sign_in(entra_client)

    with refused("wrong_tenant"):
        oidc.complete_authorization(entra_client, pending, callback)


def test_no_tenant_listed_signs_nobody_in(entra, entra_client):
    pending, callback = sign_in(replace(entra_client, tenants=()))

    with refused("wrong_tenant"):
        oidc.complete_authorization(replace(entra_client, tenants=()), pending, callback)


def test_an_issuer_naming_another_tenant_than_tid_is_refused(entra, entra_client):
    user = entra.users[0]
    unknown = entra.mint_id_token(user, nonce="n", tamper=Tamper(other_tenants_issuer=True))
    # Even when both tenants are allowed: the token must be one tenant's through and through.
    other_allowed = entra.mint_id_token(
        user, nonce="n", claims={"iss": entra.tenant_issuer(ALSO_ALLOWED)}
    )
    the_template = entra.mint_id_token(user, nonce="n", claims={"iss": entra.issuer_template})

    for token in (unknown, other_allowed, the_template):
        with refused("wrong_issuer"):
            oidc.validate_id_token(entra_client, token, nonce="n")


def test_a_token_without_tid_is_refused(entra, entra_client):
    token = entra.mint_id_token(entra.users[0], nonce="n", claims={"tid": None})

    with refused("wrong_tenant"):
        oidc.validate_id_token(entra_client, token, nonce="n")


def test_a_tenant_id_in_capitals_is_the_same_tenant(entra, entra_client):
    token = entra.mint_id_token(
        entra.users[0],
        nonce="n",
        claims={"tid": ALLOWED.upper(), "iss": entra.tenant_issuer(ALLOWED.upper())},
    )

    assert oidc.validate_id_token(entra_client, token, nonce="n").issuer.endswith(
        ALLOWED.upper() + "/v2.0"
    )


def test_a_key_published_for_another_tenant_does_not_sign_for_ours(entra, entra_client):
    entra.key_issuer = entra.tenant_issuer(OTHER)
    token = entra.mint_id_token(entra.users[0], nonce="n")

    with refused("wrong_issuer"):
        oidc.validate_id_token(entra_client, token, nonce="n")


def test_a_response_may_name_an_allowed_tenants_issuer_only(entra, entra_client):
    pending, callback = sign_in(entra_client)
    with refused("wrong_issuer"):
        oidc.complete_authorization(
            entra_client, pending, {**callback, "iss": entra.tenant_issuer(OTHER)}
        )

    pending, callback = sign_in(entra_client)
    claims = oidc.complete_authorization(
        entra_client, pending, {**callback, "iss": entra.tenant_issuer(ALLOWED)}
    )
    assert claims.issuer == entra.tenant_issuer(ALLOWED)
