"""An OpenID Connect relying party: discovery, the authorization request, the code exchange and
the ID token's checks (OpenID Connect Core 1.0 §3.1, RFC 7636 PKCE), for any standard issuer.

It knows nothing of organizations or sessions. A caller:

1. builds an ``OIDCClient`` from an organization's settings (issuer, client id and secret, the
   exact redirect URI registered with the issuer);
2. calls ``start_authorization`` and keeps the returned ``PendingAuthorization`` server-side (the
   session, ``as_dict``/``from_dict``), then redirects the browser to ``.url``;
3. on the callback, calls ``complete_authorization`` with the pending request it kept (removed
   from the session first, so it serves once) and the callback's query parameters: the state is
   checked there, the code exchanged, the ID token validated, and the person's claims returned.

Issuer URLs are typed by organization admins, so every request we make (discovery, JWKS, token)
goes through ``multical.lib.safe_http``: public addresses only, pinned, bounded in time and size.
Every URL must be https; plain http only for a loopback host while ``OUTBOUND_ALLOW_LOOPBACK`` is
on (the test suite, local development), the setting the guarded fetcher itself honours.

A multi-tenant issuer (Microsoft Entra's ``…/organizations/v2.0`` and ``…/common/v2.0``) serves
one discovery document for every tenant: its ``issuer`` holds the literal ``{tenantid}``, and each
ID token names its tenant in ``tid`` and carries that tenant's issuer in ``iss``. Such an issuer
vouches for anyone in any tenant, so a client of one lists the tenants it trusts (``tenants``): a
token counts only when its ``tid`` is one of them *and* its ``iss`` is the template with that
``tid`` in it (and so is the ``issuer`` a signing key is published for, when the JWKS says). With
no tenant listed it signs nobody in.

Discovery documents and JWKS are kept in the shared cache. An ID token signed with a key we do
not know makes us fetch the JWKS once more (the issuer rotated its keys), at most once per
``OIDC_JWKS_REFETCH_SECONDS`` per JWKS, so a flood of forged tokens costs the issuer one request.

Every refusal raises ``OIDCError`` with a stable ``reason`` (see ``REASONS``) and a plain-language
message. Tokens, codes, verifiers and secrets are never logged nor put in a message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext_noop
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import ECKey, RSAKey

from multical.lib import safe_http

logger = logging.getLogger(__name__)

SCOPE = "openid email profile"
# Asymmetric algorithms only: an HS* token would be "signed" with a secret the issuer shares with
# every client, or, forged, with the issuer's public key; "none" is no signature at all.
ALGORITHMS: Mapping[str, tuple[type[RSAKey] | type[ECKey], str | None]] = {
    "RS256": (RSAKey, None),
    "ES256": (ECKey, "P-256"),
}
# Documents of a few kilobytes; a megabyte is generous and still bounded.
DOCUMENT_MAX_BYTES = 1024 * 1024
_DISCOVERY_PATH = "/.well-known/openid-configuration"
_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
_JSON_HEADERS = {"Accept": "application/json"}
_LOOPBACK_NAMES = {"localhost"}
# What a multi-tenant issuer's discovery document has where a token has its tenant's ID, and the
# names such an issuer is configured under in place of a tenant (Entra's).
TENANT_PLACEHOLDER = "{tenantid}"
_MULTI_TENANT_NAMES = ("organizations", "common")

# Defaults of the settings read here (each may be set in the settings module).
DISCOVERY_CACHE_SECONDS = 3600
JWKS_CACHE_SECONDS = 3600
JWKS_REFETCH_SECONDS = 60
CLOCK_SKEW_SECONDS = 60

REASONS = {
    "unsafe_url": gettext_noop("The sign-in provider's address cannot be used."),
    "insecure_url": gettext_noop("The sign-in provider's address must start with https://."),
    "unreachable": gettext_noop(
        "The sign-in provider could not be reached. Please try again in a moment."
    ),
    "discovery_failed": gettext_noop("The sign-in provider's configuration could not be read."),
    "wrong_issuer": gettext_noop(
        "The sign-in provider did not identify itself as the configured issuer."
    ),
    "jwks_failed": gettext_noop("The sign-in provider's signing keys could not be read."),
    "unsupported_auth_method": gettext_noop(
        "The sign-in provider accepts no client authentication method we support."
    ),
    "state_mismatch": gettext_noop(
        "This sign-in link is not the one we started. Please sign in again."
    ),
    "provider_error": gettext_noop("The sign-in provider did not sign you in."),
    "token_refused": gettext_noop(
        "The sign-in provider refused to complete the sign-in. Please sign in again."
    ),
    "malformed_token": gettext_noop("The sign-in provider sent an identity token we cannot read."),
    "unsupported_algorithm": gettext_noop("The identity token is not signed in a way we accept."),
    "unknown_key": gettext_noop(
        "The identity token is signed with a key the sign-in provider does not publish."
    ),
    "bad_signature": gettext_noop("The identity token's signature is not valid."),
    "wrong_audience": gettext_noop("The identity token was issued for another application."),
    "expired": gettext_noop("The identity token has expired. Please sign in again."),
    "not_yet_valid": gettext_noop("The identity token is not valid yet. Check the server's clock."),
    "wrong_nonce": gettext_noop(
        "The identity token does not belong to this sign-in. Please sign in again."
    ),
    "wrong_at_hash": gettext_noop(
        "The identity token does not match the access token it came with."
    ),
    "missing_claim": gettext_noop("The identity token lacks information we need."),
    "wrong_tenant": gettext_noop(
        "You signed in with an account of a tenant this organization does not allow."
    ),
}


class OIDCError(Exception):
    """A sign-in refused. ``reason`` is one of ``REASONS`` (stable, for code and logs); the message
    is plain words fit for the person signing in. ``transient`` says whether trying again later
    may help. ``provider_error`` is the OAuth error code the provider sent (``access_denied``,
    ``invalid_grant``), when it sent one.
    """

    def __init__(
        self,
        reason: str,
        *,
        transient: bool = False,
        provider_error: str | None = None,
    ) -> None:
        assert reason in REASONS, reason
        super().__init__(REASONS[reason])
        self.reason = reason
        self.transient = transient
        self.provider_error = provider_error


@dataclass(frozen=True, slots=True)
class OIDCClient:
    """One relying party registration at one issuer. ``redirect_uri`` is sent exactly as given,
    in the authorization request and in the code exchange, so it must be byte for byte the one
    registered with the issuer. ``tenants`` are the tenant IDs (lower case) whose tokens a
    multi-tenant issuer may sign the person in with; a single-tenant issuer ignores them."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    tenants: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """What we use of an issuer's discovery document, checked (see ``discover``).
    ``issuer_template`` is the document's issuer when it is a multi-tenant one's, with
    ``TENANT_PLACEHOLDER`` in it; ``issuer`` is always the one configured."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    token_endpoint_auth_methods_supported: tuple[str, ...]
    userinfo_endpoint: str | None = None
    issuer_template: str | None = None

    @property
    def multi_tenant(self) -> bool:
        return self.issuer_template is not None

    def tenant_issuer(self, tenant: str) -> str:
        """The issuer a token of ``tenant`` names (a multi-tenant issuer's only)."""
        assert self.issuer_template is not None
        return self.issuer_template.replace(TENANT_PLACEHOLDER, tenant)


@dataclass(frozen=True, slots=True)
class PendingAuthorization:
    """What the caller keeps server-side between the redirect and the callback, and never puts
    in a URL: the state and nonce sent, and the PKCE verifier whose challenge was sent."""

    issuer: str
    state: str
    nonce: str
    code_verifier: str = field(repr=False)

    def as_dict(self) -> dict[str, str]:
        """A JSON-ready form, for the session."""
        return {
            "issuer": self.issuer,
            "state": self.state,
            "nonce": self.nonce,
            "code_verifier": self.code_verifier,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PendingAuthorization:
        """Back from ``as_dict``; raises ``OIDCError("state_mismatch")`` for anything else."""
        try:
            values = {name: data[name] for name in ("issuer", "state", "nonce", "code_verifier")}
        except (KeyError, TypeError):
            raise OIDCError("state_mismatch") from None
        if not all(isinstance(value, str) and value for value in values.values()):
            raise OIDCError("state_mismatch")
        return cls(**values)


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """Where to send the browser, and what to keep until it comes back."""

    url: str
    pending: PendingAuthorization


@dataclass(frozen=True, slots=True)
class IdentityClaims:
    """The person the issuer signed in. ``(issuer, sub)`` identifies them for good (``issuer``
    is the token's: a multi-tenant issuer's tenant's); the address is theirs only when
    ``email_verified`` (absent counts as not verified)."""

    issuer: str
    sub: str
    email: str | None
    email_verified: bool
    name: str | None


@dataclass(frozen=True, slots=True)
class TokenResponse:
    """The token endpoint's answer: the ID token still unchecked. Never log or store it."""

    id_token: str = field(repr=False)
    access_token: str | None = field(default=None, repr=False)


# --- discovery and keys --------------------------------------------------------------------------


def discover(issuer: str) -> ProviderMetadata:
    """The issuer's discovery document, from the cache or fetched through the guarded fetcher.

    The document's ``issuer`` must equal ``issuer`` exactly, or be a multi-tenant issuer's
    template for it (``issuer`` with ``organizations`` or ``common`` where the template has
    ``TENANT_PLACEHOLDER``), and every endpoint must be https (see the module's docstring). Raises ``OIDCError``: ``insecure_url``, ``unsafe_url``,
    ``unreachable`` (transient), ``discovery_failed`` or ``wrong_issuer``.
    """
    _require_https(issuer)
    key = _cache_key("discovery", issuer)
    document = cache.get(key)
    if document is None:
        url = issuer.rstrip("/") + _DISCOVERY_PATH
        document = _get_json(url, failure="discovery_failed")
        metadata = _metadata(issuer, document)
        cache.set(key, document, _setting("OIDC_DISCOVERY_CACHE_SECONDS", DISCOVERY_CACHE_SECONDS))
        return metadata
    return _metadata(issuer, document)


def _metadata(issuer: str, document: Any) -> ProviderMetadata:
    if not isinstance(document, dict):
        raise OIDCError("discovery_failed")
    # OpenID Connect Discovery §4.3: exactly the issuer asked for, or an impostor may sign for it.
    # A multi-tenant issuer names every tenant's issuer at once, and each token its own.
    named = document.get("issuer")
    template = named if _is_tenant_template(named, issuer) else None
    if named != issuer and template is None:
        _log_refusal("wrong_issuer", issuer)
        raise OIDCError("wrong_issuer")
    endpoints = {}
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        value = document.get(name)
        if not isinstance(value, str) or not value:
            raise OIDCError("discovery_failed")
        _require_https(value)
        endpoints[name] = value
    userinfo = document.get("userinfo_endpoint")
    if isinstance(userinfo, str) and userinfo:
        _require_https(userinfo)
    else:
        userinfo = None
    # Discovery §3: absent means client_secret_basic, the one every server must support.
    methods = document.get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
    if not isinstance(methods, list):
        raise OIDCError("discovery_failed")
    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=endpoints["authorization_endpoint"],
        token_endpoint=endpoints["token_endpoint"],
        jwks_uri=endpoints["jwks_uri"],
        token_endpoint_auth_methods_supported=tuple(m for m in methods if isinstance(m, str)),
        userinfo_endpoint=userinfo,
        issuer_template=template,
    )


def _is_tenant_template(named: object, issuer: str) -> bool:
    return (
        isinstance(named, str)
        and named.count(TENANT_PLACEHOLDER) == 1
        and any(named.replace(TENANT_PLACEHOLDER, name) == issuer for name in _MULTI_TENANT_NAMES)
    )


def is_multi_tenant(issuer: str) -> bool:
    """Whether ``issuer`` signs in the people of every tenant (raises as ``discover`` does)."""
    return discover(issuer).multi_tenant


def _signing_key(metadata: ProviderMetadata, kid: str | None, alg: str) -> _PublishedKey:
    """The published key for a token's ``kid`` and ``alg``, refetching the JWKS once (guarded)
    when it is unknown. Raises ``OIDCError("unknown_key")`` or ``jwks_failed``."""
    key_name = _cache_key("jwks", metadata.jwks_uri)
    jwks = cache.get(key_name)
    fetched = False
    if jwks is None:
        jwks, fetched = _fetch_jwks(metadata, key_name), True
    found = _find_key(jwks, kid, alg)
    # A new kid usually means the issuer rotated its keys since we cached them. The guard is a
    # cache entry taken with add(), so among all our processes one refetch per period wins.
    if found is None and not fetched:
        guard = _cache_key("jwks-refetch", metadata.jwks_uri)
        if cache.add(guard, 1, _setting("OIDC_JWKS_REFETCH_SECONDS", JWKS_REFETCH_SECONDS)):
            found = _find_key(_fetch_jwks(metadata, key_name), kid, alg)
    if found is None:
        _log_refusal("unknown_key", metadata.issuer)
        raise OIDCError("unknown_key")
    return found


def _fetch_jwks(metadata: ProviderMetadata, key_name: str) -> Any:
    jwks = _get_json(metadata.jwks_uri, failure="jwks_failed")
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise OIDCError("jwks_failed")
    cache.set(key_name, jwks, _setting("OIDC_JWKS_CACHE_SECONDS", JWKS_CACHE_SECONDS))
    return jwks


@dataclass(frozen=True, slots=True)
class _PublishedKey:
    """A JWKS key, and the issuer it is published for when the JWKS names one (Entra does)."""

    key: RSAKey | ECKey
    issuer: str | None


def _find_key(jwks: Any, kid: str | None, alg: str) -> _PublishedKey | None:
    key_class, curve = ALGORITHMS[alg]
    candidates = []
    for entry in jwks.get("keys", []) if isinstance(jwks, dict) else []:
        if not isinstance(entry, dict) or entry.get("kty") != key_class.key_type:
            continue
        # A key published for encryption, or for another algorithm, does not sign ID tokens.
        if entry.get("use", "sig") != "sig" or entry.get("alg", alg) != alg:
            continue
        if curve is not None and entry.get("crv") != curve:
            continue
        if kid is not None and entry.get("kid") != kid:
            continue
        candidates.append(entry)
    # Core §10.1: without a kid the token can name no key, which works only with a single one.
    if len(candidates) != 1:
        return None
    public = {name: value for name, value in candidates[0].items() if name != "d"}
    try:
        key = key_class.import_key(public)
    except (JoseError, ValueError, TypeError):
        return None
    issuer = public.get("issuer")
    return _PublishedKey(key=key, issuer=issuer if isinstance(issuer, str) else None)


# --- the authorization request and the callback --------------------------------------------------


def start_authorization(
    client: OIDCClient, *, login_hint: str | None = None
) -> AuthorizationRequest:
    """The authorization request (code flow, PKCE S256, a fresh state and nonce) for ``client``.

    Keep ``.pending`` server-side and redirect the browser to ``.url``. Raises ``OIDCError`` as
    ``discover`` does.
    """
    metadata = discover(client.issuer)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    # 64 characters of the unreserved set: RFC 7636 §4.1 asks for 43 to 128.
    verifier = secrets.token_urlsafe(48)
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": SCOPE,
        "state": state,
        "nonce": nonce,
        "code_challenge": _s256(verifier),
        "code_challenge_method": "S256",
    }
    if login_hint:
        params["login_hint"] = login_hint
    # The endpoint may carry a query of its own (Discovery allows it): add to it, never replace.
    url = httpx.URL(metadata.authorization_endpoint).copy_merge_params(params)
    pending = PendingAuthorization(
        issuer=client.issuer, state=state, nonce=nonce, code_verifier=verifier
    )
    return AuthorizationRequest(url=str(url), pending=pending)


def complete_authorization(
    client: OIDCClient, pending: PendingAuthorization, params: Mapping[str, str]
) -> IdentityClaims:
    """Check the callback's query ``params`` against ``pending``, exchange the code and validate
    the ID token: the person's claims, or ``OIDCError``.

    The caller must have removed ``pending`` from the session before calling, so a callback URL
    replayed cannot use it twice. An ``error`` from the provider (the person refused consent:
    ``access_denied``) raises ``provider_error`` with the code in ``provider_error``.
    """
    # The state first: an error redirect we did not ask for is someone else's, not an answer.
    state = params.get("state", "")
    if pending.issuer != client.issuer or not hmac.compare_digest(
        state.encode(), pending.state.encode()
    ):
        _log_refusal("state_mismatch", client.issuer)
        raise OIDCError("state_mismatch")
    # RFC 9207: an issuer that names itself in the response must name the one we asked.
    if "iss" in params and not _names_our_issuer(client, params["iss"]):
        _log_refusal("wrong_issuer", client.issuer)
        raise OIDCError("wrong_issuer")
    if "error" in params:
        code = _oauth_error_code(params["error"])
        _log_refusal("provider_error", client.issuer, code)
        raise OIDCError("provider_error", provider_error=code)
    code = params.get("code", "")
    if not code:
        raise OIDCError("provider_error")
    tokens = exchange_code(client, code=code, code_verifier=pending.code_verifier)
    return validate_id_token(
        client, tokens.id_token, nonce=pending.nonce, access_token=tokens.access_token
    )


def exchange_code(client: OIDCClient, *, code: str, code_verifier: str) -> TokenResponse:
    """Exchange an authorization code at the token endpoint, with the PKCE verifier and the exact
    redirect URI, authenticating as the discovery document allows (client_secret_basic preferred,
    else client_secret_post). Raises ``OIDCError``: ``token_refused`` (``provider_error`` holds
    the OAuth error, ``invalid_grant`` for a spent or wrong code), ``unsupported_auth_method``,
    ``unreachable`` (transient), ``unsafe_url``.
    """
    metadata = discover(client.issuer)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": client.redirect_uri,
        "code_verifier": code_verifier,
    }
    headers = {**_JSON_HEADERS, "Content-Type": "application/x-www-form-urlencoded"}
    methods = metadata.token_endpoint_auth_methods_supported
    if "client_secret_basic" in methods:
        # RFC 6749 §2.3.1: each part form-encoded before they are joined and base64-encoded.
        pair = f"{quote(client.client_id, safe='')}:{quote(client.client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    elif "client_secret_post" in methods:
        form |= {"client_id": client.client_id, "client_secret": client.client_secret}
    else:
        raise OIDCError("unsupported_auth_method")
    body = urlencode(form)
    try:
        result = safe_http.post(metadata.token_endpoint, body=body.encode(), headers=headers)
    except safe_http.UnsafeURLError:
        raise OIDCError("unsafe_url") from None
    except safe_http.FetchError:
        raise OIDCError("unreachable", transient=True) from None
    answer = _json_or_none(result.body)
    if result.status != 200:
        error = answer.get("error") if isinstance(answer, dict) else None
        code_name = _oauth_error_code(error) if isinstance(error, str) else None
        _log_refusal("token_refused", client.issuer, code_name)
        raise OIDCError(
            "unreachable" if result.status >= 500 else "token_refused",
            transient=result.status >= 500,
            provider_error=code_name,
        )
    if not isinstance(answer, dict) or not isinstance(answer.get("id_token"), str):
        raise OIDCError("malformed_token")
    access = answer.get("access_token")
    return TokenResponse(
        id_token=answer["id_token"], access_token=access if isinstance(access, str) else None
    )


# --- the ID token --------------------------------------------------------------------------------


def validate_id_token(
    client: OIDCClient, id_token: str, *, nonce: str, access_token: str | None = None
) -> IdentityClaims:
    """Validate ``id_token`` per OpenID Connect Core 1.0 §3.1.3.7 and return the person's claims.

    Checked: the signature (RS256 or ES256 only, with a key from the issuer's JWKS), ``iss``
    equal to the issuer (a multi-tenant one's: ``tid`` one of the client's ``tenants``, and
    ``iss`` and the key's published issuer that tenant's), ``aud`` naming the client (with ``azp`` the client when there are several
    audiences), ``exp``, ``iat`` and ``nbf`` within ``OIDC_CLOCK_SKEW_SECONDS``, ``nonce`` equal
    to the one sent, ``at_hash`` when both it and ``access_token`` are present, and a ``sub``.
    Raises ``OIDCError`` naming the first check that failed.
    """
    metadata = discover(client.issuer)
    try:
        header = jws.extract_compact(id_token.encode()).protected
    except (JoseError, ValueError, UnicodeError):
        raise OIDCError("malformed_token") from None
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALGORITHMS:
        _log_refusal("unsupported_algorithm", client.issuer)
        raise OIDCError("unsupported_algorithm")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise OIDCError("malformed_token")
    published = _signing_key(metadata, kid, alg)
    try:
        claims = jwt.decode(id_token, published.key, algorithms=[alg]).claims
    except BadSignatureError:
        _log_refusal("bad_signature", client.issuer)
        raise OIDCError("bad_signature") from None
    except (JoseError, ValueError):
        raise OIDCError("malformed_token") from None
    issuer = _token_issuer(client, metadata, claims, published)
    _check_claims(client, claims, nonce=nonce, alg=alg, access_token=access_token)
    email = claims.get("email")
    name = claims.get("name")
    return IdentityClaims(
        issuer=issuer,
        sub=claims["sub"],
        email=email if isinstance(email, str) and email else None,
        email_verified=_email_verified(claims),
        name=name if isinstance(name, str) and name else None,
    )


def _token_issuer(
    client: OIDCClient,
    metadata: ProviderMetadata,
    claims: Mapping[str, Any],
    published: _PublishedKey,
) -> str:
    """The issuer the token names, once it is one ``client`` trusts (see the module's
    docstring); raises ``wrong_issuer`` or ``wrong_tenant``."""
    if not metadata.multi_tenant:
        if claims.get("iss") != client.issuer:
            _log_refusal("wrong_issuer", client.issuer)
            raise OIDCError("wrong_issuer")
        return client.issuer
    tenant = claims.get("tid")
    if not isinstance(tenant, str) or tenant.lower() not in client.tenants:
        _log_refusal("wrong_tenant", client.issuer)
        raise OIDCError("wrong_tenant")
    # The token's tenant, its issuer and its key's must all be the one tenant, or a token of a
    # tenant we allow could pass for another's.
    expected = metadata.tenant_issuer(tenant)
    key_issuer = published.issuer
    if claims.get("iss") != expected or (
        key_issuer is not None and key_issuer.replace(TENANT_PLACEHOLDER, tenant) != expected
    ):
        _log_refusal("wrong_issuer", client.issuer)
        raise OIDCError("wrong_issuer")
    return expected


def _names_our_issuer(client: OIDCClient, named: str) -> bool:
    """Whether an authorization response's ``iss`` (RFC 9207) is ``client``'s issuer, or one of
    its allowed tenants' when it is a multi-tenant one."""
    if named == client.issuer:
        return True
    metadata = discover(client.issuer)
    return metadata.multi_tenant and any(
        named == metadata.tenant_issuer(tenant) for tenant in client.tenants
    )


def _email_verified(claims: Mapping[str, Any]) -> bool:
    """Whether the issuer vouches for ``email``: ``email_verified`` (some issuers send the string
    "true"); Entra ID sends none, and vouches through its optional ``xms_edov`` claim ("email
    domain owner verified": JSON true, or "1"/"true"). Anything else, or nothing, is not."""
    if "email_verified" in claims:
        return claims["email_verified"] in (True, "true")
    edov = claims.get("xms_edov")
    return edov is True or (isinstance(edov, str) and edov.strip().lower() in ("1", "true"))


def _check_claims(
    client: OIDCClient,
    claims: Mapping[str, Any],
    *,
    nonce: str,
    alg: str,
    access_token: str | None,
) -> None:
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or client.client_id not in audiences:
        _log_refusal("wrong_audience", client.issuer)
        raise OIDCError("wrong_audience")
    azp = claims.get("azp")
    # Core §3.1.3.7 (4, 5): with other audiences the token must have been issued to us (azp).
    if (len(audiences) > 1 or azp is not None) and azp != client.client_id:
        _log_refusal("wrong_audience", client.issuer)
        raise OIDCError("wrong_audience")
    now = time.time()
    skew = _setting("OIDC_CLOCK_SKEW_SECONDS", CLOCK_SKEW_SECONDS)
    expires, issued = _number(claims.get("exp")), _number(claims.get("iat"))
    if expires is None or issued is None:
        raise OIDCError("missing_claim")
    if now >= expires + skew:
        _log_refusal("expired", client.issuer)
        raise OIDCError("expired")
    not_before = _number(claims.get("nbf"))
    if not_before is None and claims.get("nbf") is not None:
        raise OIDCError("malformed_token")
    if issued > now + skew or (not_before is not None and not_before > now + skew):
        _log_refusal("not_yet_valid", client.issuer)
        raise OIDCError("not_yet_valid")
    token_nonce = claims.get("nonce")
    if not isinstance(token_nonce, str) or not hmac.compare_digest(
        token_nonce.encode(), nonce.encode()
    ):
        _log_refusal("wrong_nonce", client.issuer)
        raise OIDCError("wrong_nonce")
    at_hash = claims.get("at_hash")
    if at_hash is not None and access_token is not None:
        # Core §3.1.3.8: the left half of the access token's hash under the token's algorithm
        # (SHA-256 for both RS256 and ES256).
        digest = hashlib.sha256(access_token.encode("ascii", "replace")).digest()
        expected = _b64url(digest[: len(digest) // 2])
        if not isinstance(at_hash, str) or not hmac.compare_digest(
            at_hash.encode(), expected.encode()
        ):
            _log_refusal("wrong_at_hash", client.issuer)
            raise OIDCError("wrong_at_hash")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise OIDCError("missing_claim")


# --- helpers -------------------------------------------------------------------------------------


def _require_https(url: str) -> None:
    """Raise ``insecure_url`` unless ``url`` is https, or http to a loopback host while the
    guarded fetcher itself lets loopback in (tests, local development)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise OIDCError("unsafe_url") from None
    if not parsed.host:
        raise OIDCError("unsafe_url")
    if parsed.scheme == "https":
        return
    if parsed.scheme == "http" and settings.OUTBOUND_ALLOW_LOOPBACK and _is_loopback(parsed.host):
        return
    raise OIDCError("insecure_url")


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _get_json(url: str, *, failure: str) -> Any:
    try:
        result = safe_http.fetch(url, headers=_JSON_HEADERS, max_bytes=DOCUMENT_MAX_BYTES)
    except safe_http.UnsafeURLError:
        raise OIDCError("unsafe_url") from None
    except safe_http.FetchError as error:
        raise OIDCError("unreachable", transient=error.transient) from None
    if result.status != 200:
        raise OIDCError(failure, transient=result.status >= 500)
    # A redirect may have led anywhere the guard allows; it must still be a secure address.
    _require_https(result.url)
    document = _json_or_none(result.body)
    if document is None:
        raise OIDCError(failure)
    return document


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _oauth_error_code(value: str) -> str:
    """The provider's error code if it looks like one (RFC 6749's charset, short), else a
    placeholder: the value is echoed from a URL anyone can craft, and it ends up in logs."""
    if 0 < len(value) <= 64 and all(char.isalnum() or char in "_-." for char in value):
        return value
    return "invalid"


def _s256(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _number(value: object) -> float | None:
    """A NumericDate (RFC 7519 §2) as a float; None for anything else, booleans included."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def _cache_key(kind: str, url: str) -> str:
    # Hashed: URLs are long and may hold characters memcached-style keys refuse.
    return f"oidc:{kind}:{hashlib.sha256(url.encode()).hexdigest()}"


def _log_refusal(reason: str, issuer: str, provider_error: str | None = None) -> None:
    # The reason and the issuer only: never a token, code, verifier or claim.
    logger.info(
        "OpenID Connect sign-in refused: %s (%s) at %s", reason, provider_error or "-", issuer
    )
