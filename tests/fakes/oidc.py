"""A stateful OpenID Connect provider on loopback: discovery, JWKS, ``/authorize``, ``/token`` and
``/userinfo``, as Entra ID, Google and Okta behave (OpenID Connect Core 1.0, RFC 6749, RFC 7636),
never more kindly.

- Discovery at ``<issuer>/.well-known/openid-configuration``; the issuer has a path, as Entra's
  (``…/<tenant>/v2.0``), with a tenant of its own for each fake. ``token_endpoint_auth_methods_supported`` is ``auth_methods``.
- ``multi_tenant``: as Entra's ``…/organizations/v2.0``, one issuer for every tenant. The document's
  ``issuer`` is the template ``…/{tenantid}/v2.0`` (and so is each JWKS key's ``issuer``); an ID
  token carries its user's tenant in ``tid`` (``add_user(tenant=…)``, else ``home_tenant``) and
  that tenant's issuer in ``iss``.
- JWKS: the current RS256 signing key and an ES256 key, each with a ``kid``, ``use`` and ``alg``.
- ``GET /authorize`` plays the browser's sign-in as ``signed_in`` (the first user by default). An
  unknown ``client_id`` or a ``redirect_uri`` not registered exactly gets a 400 page and no
  redirect (RFC 6749 §4.1.2.1: never redirect to an unchecked URI). Otherwise a 302 to the
  redirect URI with ``code`` and ``state``, or with ``error`` (``unsupported_response_type``,
  ``invalid_scope`` without ``openid``, ``invalid_request`` for a missing or non-S256 PKCE
  challenge when ``require_pkce``, ``access_denied`` when ``deny_consent``). A code is single-use,
  lives ``code_lifetime`` seconds (Okta's 60) and is bound to the client, the redirect URI, the
  nonce and the challenge.
- ``POST /token``: the client authenticates with exactly one method it is allowed
  (``invalid_client``, 401, otherwise). A code that is unknown, expired, spent, another client's,
  or whose redirect URI or verifier does not match is ``invalid_grant`` (RFC 6749 §5.2, RFC 7636
  §4.6); a spent code stays spent.
- ``GET /userinfo`` with the access token.

Controls: ``add_user`` (``email_verified=False`` for an address the provider has not checked),
``rotate_keys`` (a new RS256 key and ``kid``; the old key leaves the JWKS), ``signing_alg``
(``ES256`` to sign with the EC key), ``tamper`` (the next ID token issued at ``/token`` has a wrong
audience, nonce or issuer, is expired, is signed with a key the JWKS does not publish, or names in
``iss`` another tenant than its ``tid``),
``discovery_issuer`` (the document names another issuer), ``mint_id_token`` (a token built
directly, with the same options), ``mint_with_key`` (signed with a retired key), and the forgeries ``forge_alg_none`` and
``forge_hs256_with_public_key``. Every request is recorded (``requests``; ``count(path)``).

``running_oidc_provider()`` starts one; the ``oidc_fake`` fixture wraps it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

CLIENT_ID = "sso-client-5c1d"
CLIENT_SECRET = "sso-client-secret~Vq8/+="
REDIRECT_URI = "http://testserver/sso/callback/"
# RFC 7636 §4.2: base64url of a SHA-256 digest, 43 characters.
_CHALLENGE_LENGTH = 43
_VERIFIER_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _s256(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode()).digest())


@functools.cache
def _pooled_rsa_key(slot: int) -> RSAKey:
    """An RSA key made once per test process: each takes a tenth of a second to generate, and a
    fake's JWKS URL (its tenant path) is its own whatever keys it shares with other fakes."""
    return RSAKey.generate_key(2048, parameters={"kid": uuid.uuid4().hex})


@dataclass
class OIDCUser:
    sub: str
    email: str
    name: str
    # None leaves the claim out, as Entra ID does.
    email_verified: bool | None = True
    # Entra's optional "email domain owner verified" claim (JSON true, or "1"/"true"); None: absent.
    xms_edov: bool | str | None = None
    # A multi-tenant fake's: the tenant the user belongs to; None is the fake's home tenant.
    tenant: str | None = None


@dataclass
class RecordedRequest:
    method: str
    path: str


@dataclass
class Tamper:
    """What is wrong with an ID token: each field one way a real attack or mistake looks."""

    wrong_audience: bool = False
    wrong_nonce: bool = False
    wrong_issuer: bool = False
    expired: bool = False
    # Signed with a key the JWKS never published: under a kid of its own, or under the kid of the
    # published key (so only the signature check can tell).
    unpublished_key: bool = False
    reuse_published_kid: bool = False
    # A multi-tenant fake's token whose ``iss`` names another tenant than its ``tid``.
    other_tenants_issuer: bool = False


@dataclass
class FakeOIDCProvider:
    base_url: str = ""
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    redirect_uris: set[str] = field(default_factory=lambda: {REDIRECT_URI})
    auth_methods: list[str] = field(
        default_factory=lambda: ["client_secret_post", "client_secret_basic"]
    )
    require_pkce: bool = True
    deny_consent: bool = False
    code_lifetime: float = 60.0
    id_token_lifetime: int = 3600
    signing_alg: str = "RS256"
    # When set, the discovery document names this issuer instead of its own.
    discovery_issuer: str | None = None
    multi_tenant: bool = False
    # When set, a multi-tenant fake's JWKS publishes its keys for this issuer, not the template.
    key_issuer: str | None = None
    users: list[OIDCUser] = field(default_factory=list)
    signed_in: OIDCUser | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _tamper: Tamper | None = None
    _codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    _spent_codes: set[str] = field(default_factory=set)
    _access_tokens: dict[str, OIDCUser] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A tenant of its own per fake: the issuer URL keys our cache entries, and a later test's
        # fake may get the same port.
        self.tenant_root = f"/{uuid.uuid4()}"
        self.issuer_path = (
            self.tenant_root + ("/organizations" if self.multi_tenant else "") + "/v2.0"
        )
        self.home_tenant = str(uuid.uuid4())
        self.rsa_key = _pooled_rsa_key(0)
        self.ec_key = ECKey.generate_key("P-256", parameters={"kid": uuid.uuid4().hex})
        self.retired_keys: list[RSAKey] = []
        # Never in the JWKS: what an attacker signs with.
        self.unpublished_key = _pooled_rsa_key(1)

    @property
    def issuer(self) -> str:
        return self.base_url + self.issuer_path

    @property
    def issuer_template(self) -> str:
        """A multi-tenant fake's issuer as its discovery document names it."""
        return self.base_url + self.tenant_root + "/{tenantid}/v2.0"

    def tenant_issuer(self, tenant: str) -> str:
        return self.issuer_template.replace("{tenantid}", tenant)

    # --- controls --------------------------------------------------------------------------------

    def add_user(
        self,
        email: str,
        name: str = "",
        *,
        email_verified: bool | None = True,
        xms_edov: bool | str | None = None,
        tenant: str | None = None,
    ) -> OIDCUser:
        user = OIDCUser(
            sub=secrets.token_urlsafe(16),
            email=email,
            name=name or email.split("@")[0],
            email_verified=email_verified,
            xms_edov=xms_edov,
            tenant=tenant,
        )
        with self.lock:
            self.users.append(user)
        return user

    def rotate_keys(self) -> str:
        """A new RS256 signing key under a new kid; the old one leaves the JWKS. The new kid."""
        with self.lock:
            self.retired_keys.append(self.rsa_key)
            self.rsa_key = RSAKey.generate_key(2048, parameters={"kid": uuid.uuid4().hex})
            return str(self.rsa_key.kid)

    def tamper(self, **flags: bool) -> None:
        """The next ID token issued at ``/token`` is wrong as ``flags`` say (``Tamper``'s fields)."""
        self._tamper = Tamper(**flags)

    def count(self, path: str) -> int:
        """How many requests the fake has received for ``path`` (``fake.jwks_path``, say)."""
        with self.lock:
            return sum(1 for request in self.requests if request.path == path)

    @property
    def jwks_path(self) -> str:
        return self.issuer_path + "/discovery/keys"

    def jwks(self) -> dict[str, Any]:
        with self.lock:
            keys = [self.rsa_key, self.ec_key]
        published = []
        for key, alg in zip(keys, ("RS256", "ES256"), strict=True):
            entry = key.as_dict(private=False)
            entry.update(kid=key.kid, use="sig", alg=alg)
            if self.multi_tenant:
                entry["issuer"] = self.key_issuer or self.issuer_template
            published.append(entry)
        return {"keys": published}

    def discovery(self) -> dict[str, Any]:
        base = self.base_url + self.issuer_path
        return {
            "issuer": self.discovery_issuer
            or (self.issuer_template if self.multi_tenant else self.issuer),
            "authorization_endpoint": base + "/oauth2/authorize",
            "token_endpoint": base + "/oauth2/token",
            "userinfo_endpoint": base + "/oidc/userinfo",
            "jwks_uri": self.base_url + self.jwks_path,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": list(self.auth_methods),
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "email", "name"],
        }

    def mint_id_token(
        self,
        user: OIDCUser,
        *,
        nonce: str | None,
        access_token: str | None = None,
        tamper: Tamper | None = None,
        claims: dict[str, Any] | None = None,
    ) -> str:
        """An ID token for ``user`` as ``/token`` issues it, wrong as ``tamper`` says, with
        ``claims`` laid over the usual ones."""
        tamper = tamper or Tamper()
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": "https://impostor.example/v2.0" if tamper.wrong_issuer else self.issuer,
            "sub": user.sub,
            "aud": "someone-elses-client" if tamper.wrong_audience else self.client_id,
            "azp": "someone-elses-client" if tamper.wrong_audience else self.client_id,
            "iat": now - 7200 if tamper.expired else now,
            "exp": now - 3600 if tamper.expired else now + self.id_token_lifetime,
            "email": user.email,
            "name": user.name,
        }
        if self.multi_tenant:
            tenant = user.tenant or self.home_tenant
            body["tid"] = tenant
            if not tamper.wrong_issuer:
                named = str(uuid.uuid4()) if tamper.other_tenants_issuer else tenant
                body["iss"] = self.tenant_issuer(named)
        if user.email_verified is not None:
            body["email_verified"] = user.email_verified
        if user.xms_edov is not None:
            body["xms_edov"] = user.xms_edov
        if nonce is not None:
            body["nonce"] = secrets.token_urlsafe(16) if tamper.wrong_nonce else nonce
        if access_token is not None:
            digest = hashlib.sha256(access_token.encode()).digest()
            body["at_hash"] = _b64url(digest[:16])
        body.update(claims or {})
        with self.lock:
            key: RSAKey | ECKey = self.ec_key if self.signing_alg == "ES256" else self.rsa_key
        kid = key.kid
        if tamper.unpublished_key:
            key = self.unpublished_key
            kid = kid if tamper.reuse_published_kid else uuid.uuid4().hex
        alg = "ES256" if isinstance(key, ECKey) else "RS256"
        return jwt.encode({"alg": alg, "kid": kid, "typ": "JWT"}, body, key, algorithms=[alg])

    def mint_with_key(self, key: RSAKey, user: OIDCUser, *, nonce: str) -> str:
        """An otherwise good ID token signed with ``key`` (a retired one, say) under its kid."""
        now = int(time.time())
        body = {
            "iss": self.issuer,
            "sub": user.sub,
            "aud": self.client_id,
            "iat": now,
            "exp": now + self.id_token_lifetime,
            "nonce": nonce,
        }
        header = {"alg": "RS256", "kid": key.kid, "typ": "JWT"}
        return jwt.encode(header, body, key, algorithms=["RS256"])

    def forge_alg_none(self, user: OIDCUser, *, nonce: str) -> str:
        """A token an attacker writes: good claims, ``alg: none``, no signature."""
        header = {"alg": "none", "kid": self.rsa_key.kid, "typ": "JWT"}
        return self._unsigned(header, self._good_claims(user, nonce)) + "."

    def forge_hs256_with_public_key(self, user: OIDCUser, *, nonce: str) -> str:
        """The classic confusion: HS256 keyed with the issuer's published RSA key, so a verifier
        that takes the JWK's bytes as an HMAC secret would accept it."""
        header = {"alg": "HS256", "kid": self.rsa_key.kid, "typ": "JWT"}
        signing_input = self._unsigned(header, self._good_claims(user, nonce))
        public_pem = self.rsa_key.as_pem(private=False)
        signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64url(signature)}"

    def _good_claims(self, user: OIDCUser, nonce: str) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": self.issuer,
            "sub": user.sub,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 3600,
            "nonce": nonce,
            "email": user.email,
            "email_verified": True,
        }

    @staticmethod
    def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
        return ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )

    # --- endpoints -------------------------------------------------------------------------------

    def authorize(self, query: dict[str, str]) -> tuple[int, str, dict[str, str]]:
        """(status, HTML body, headers) for a GET of the authorization endpoint."""
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != self.client_id or redirect_uri not in self.redirect_uris:
            # An error page, never a redirect: the redirect URI is not known to be the client's.
            return 400, "<h1>Sorry, but we are having trouble signing you in.</h1>", {}
        state = query.get("state")

        def back(params: dict[str, str]) -> tuple[int, str, dict[str, str]]:
            if state is not None:
                params["state"] = state
            return 302, "", {"Location": f"{redirect_uri}?{urlencode(params)}"}

        if query.get("response_type") != "code":
            return back({"error": "unsupported_response_type"})
        if "openid" not in query.get("scope", "").split():
            return back({"error": "invalid_scope"})
        challenge = query.get("code_challenge")
        method = query.get("code_challenge_method", "plain")
        if challenge is None and self.require_pkce:
            return back({"error": "invalid_request", "error_description": "PKCE is required."})
        if challenge is not None and (method != "S256" or len(challenge) != _CHALLENGE_LENGTH):
            return back({"error": "invalid_request", "error_description": "Bad code_challenge."})
        user = self.signed_in or (self.users[0] if self.users else None)
        if self.deny_consent or user is None:
            return back({"error": "access_denied", "error_description": "The user said no."})
        code = secrets.token_urlsafe(32)
        with self.lock:
            self._codes[code] = {
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "nonce": query.get("nonce"),
                "challenge": challenge,
                "user": user,
                "expires": time.monotonic() + self.code_lifetime,
            }
        return back({"code": code})

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        self.token_requests.append({k: v for k, v in form.items() if k == "grant_type"})
        client = self._authenticate(form, authorization)
        if client is None:
            return 401, {"error": "invalid_client", "error_description": "Client auth failed."}
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        code = form.get("code", "")
        with self.lock:
            # Spent on first presentation, whatever happens next (RFC 6749 §4.1.2).
            issued = self._codes.pop(code, None)
            reused = code in self._spent_codes
            self._spent_codes.add(code)
        invalid = {"error": "invalid_grant", "error_description": "The code is not valid."}
        if issued is None or reused or issued["expires"] < time.monotonic():
            return 400, invalid
        if issued["client_id"] != client or form.get("redirect_uri") != issued["redirect_uri"]:
            return 400, invalid
        verifier = form.get("code_verifier")
        if issued["challenge"] is not None:
            if (
                verifier is None
                or not 43 <= len(verifier) <= 128
                or not set(verifier) <= _VERIFIER_CHARS
                or not hmac.compare_digest(_s256(verifier), issued["challenge"])
            ):
                return 400, invalid
        elif verifier is not None:
            return 400, invalid
        access_token = "at-" + secrets.token_urlsafe(32)
        user: OIDCUser = issued["user"]
        with self.lock:
            self._access_tokens[access_token] = user
            tamper, self._tamper = self._tamper, None
        id_token = self.mint_id_token(
            user, nonce=issued["nonce"], access_token=access_token, tamper=tamper
        )
        return 200, {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "openid email profile",
            "id_token": id_token,
        }

    def _authenticate(self, form: dict[str, str], authorization: str) -> str | None:
        """The client id when the request authenticates with exactly one allowed method."""
        used = []
        if authorization.startswith("Basic "):
            try:
                pair = base64.b64decode(authorization.removeprefix("Basic "), validate=True)
                client_id, _, secret = pair.decode().partition(":")
            except ValueError:
                return None
            used.append(("client_secret_basic", unquote_plus(client_id), unquote_plus(secret)))
        if "client_secret" in form:
            used.append(("client_secret_post", form.get("client_id", ""), form["client_secret"]))
        if len(used) != 1:
            return None
        method, client_id, secret = used[0]
        if method not in self.auth_methods or client_id != self.client_id:
            return None
        if not hmac.compare_digest(secret.encode(), self.client_secret.encode()):
            return None
        return client_id

    def userinfo(self, authorization: str) -> tuple[int, dict[str, Any]]:
        with self.lock:
            user = self._access_tokens.get(authorization.removeprefix("Bearer "))
        if user is None:
            return 401, {"error": "invalid_token"}
        body: dict[str, Any] = {"sub": user.sub, "email": user.email, "name": user.name}
        if user.email_verified is not None:
            body["email_verified"] = user.email_verified
        return 200, body


def _handler(fake: FakeOIDCProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(
            self,
            status: int,
            body: Any,
            headers: dict[str, str] | None = None,
            content_type: str = "application/json",
        ) -> None:
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            path = parts.path
            with fake.lock:
                fake.requests.append(RecordedRequest(self.command, path))
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            authorization = self.headers.get("Authorization", "")
            base = fake.issuer_path
            if self.command == "GET" and path == base + "/.well-known/openid-configuration":
                self._answer(200, fake.discovery())
            elif self.command == "GET" and path == fake.jwks_path:
                self._answer(200, fake.jwks())
            elif self.command == "GET" and path == base + "/oauth2/authorize":
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                status, page, headers = fake.authorize(query)
                self._answer(status, page, headers, content_type="text/html; charset=utf-8")
            elif self.command == "POST" and path == base + "/oauth2/token":
                if self.headers.get("Content-Type", "").split(";")[0].strip() != (
                    "application/x-www-form-urlencoded"
                ):
                    self._answer(400, {"error": "invalid_request"})
                    return
                form = {k: v[0] for k, v in parse_qs(raw).items()}
                status, answer = fake.token(form, authorization)
                headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
                if status == 401 and authorization.startswith("Basic "):
                    headers["WWW-Authenticate"] = 'Basic realm="token"'
                self._answer(status, answer, headers)
            elif self.command == "GET" and path == base + "/oidc/userinfo":
                self._answer(*fake.userinfo(authorization))
            else:
                self._answer(404, {"error": "not_found"})

        do_GET = do_POST = _handle

    return Handler


@contextmanager
def running_oidc_provider(**options: Any) -> Iterator[FakeOIDCProvider]:
    """A fake provider serving on 127.0.0.1 for the block's duration, with one user."""
    fake = FakeOIDCProvider(**options)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    # A short poll so that shutdown() returns at once, not after half a second.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    fake.add_user("ada@example.org", "Ada Lovelace")
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def oidc_fake() -> Iterator[FakeOIDCProvider]:
    """A running fake OpenID Connect provider (see the module's docstring)."""
    with running_oidc_provider() as fake:
        yield fake
