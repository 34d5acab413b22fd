"""Shared fixtures for the JWT verifier tests: a real authorization server on 127.0.0.1.

``issuer_server`` serves RFC 8414 metadata and a JWK Set whose keys a test can add, rotate,
retire and publish raw (malformed) entries for; through the underlying LocalHTTPServer it can be
slowed down, broken ("close", "garbage", "500", "hang") and its requests counted.

Tokens are minted three ways: with joserfc, with PyJWT (two independent implementations for the
happy paths), and with ``sign_raw`` (exact header and payload bytes, signed with `cryptography`)
for attacks that need byte-level control while keeping a valid signature.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from introspection_fixtures import IntrospectionStub, stub_on
from joserfc import jwt as jose_jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

from stepup_mfa._core.principal import Principal
from stepup_mfa._verify.flow import Flow, T, run_async, run_sync
from stepup_mfa._verify.jwt_verifier import JWTVerifier
from stepup_mfa._verify.transports import AsyncHttpxTransport, HttpxTransport
from stepup_mfa.testing.server import LocalHTTPServer, RecordedRequest, Reply

#: The frozen test clock.
NOW = 1_900_000_000
AUDIENCE = "https://api.example.com"
JWKS_PATH = "/jwks.json"
METADATA_PATH = "/.well-known/oauth-authorization-server"

_CURVES = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}
_EC_ALG = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
_HASH = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class SigningKey:
    """A private key of the test issuer, with the one algorithm it signs with."""

    kid: str | None
    alg: str
    private: Any  # a cryptography private key
    jwk_extra: dict[str, Any] = field(default_factory=dict)

    def public_jwk(self) -> dict[str, Any]:
        """The JWK Set entry, as the issuer publishes it."""
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):  # by hand: joserfc warns on small keys
            numbers = public.public_numbers()
            jwk: dict[str, Any] = {
                "kty": "RSA",
                "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
                "e": b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
            }
        elif isinstance(public, ec.EllipticCurvePublicKey):
            jwk = dict(ECKey.import_key(public).as_dict(private=False))
        else:
            jwk = dict(OKPKey.import_key(public).as_dict(private=False))
        if self.kid is not None:
            jwk["kid"] = self.kid
        jwk.setdefault("use", "sig")
        jwk.update(self.jwk_extra)
        return {k: v for k, v in jwk.items() if v is not None}

    def pem(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def sign(self, signing_input: bytes, alg: str | None = None) -> bytes:
        """Sign exactly ``signing_input`` (JWS form: ECDSA as R||S)."""
        alg = alg or self.alg
        key = self.private
        if alg.startswith("RS"):
            return bytes(key.sign(signing_input, padding.PKCS1v15(), _HASH[alg[2:]]()))
        if alg.startswith("PS"):
            digest = _HASH[alg[2:]]()
            return bytes(
                key.sign(
                    signing_input, padding.PSS(padding.MGF1(digest), digest.digest_size), digest
                )
            )
        if alg.startswith("ES"):
            der = key.sign(signing_input, ec.ECDSA(_HASH[alg[2:]]()))
            r, s = decode_dss_signature(der)
            size = (key.curve.key_size + 7) // 8
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")
        return bytes(key.sign(signing_input))  # EdDSA


class KeyPool:
    """Pre-generated keys (RSA generation is slow), handed out fresh to each test."""

    def __init__(self) -> None:
        self._rsa = [rsa.generate_private_key(65537, 2048) for _ in range(6)]
        self._ec = {name: curve() for name, curve in _CURVES.items()}
        self._ec_keys = {
            name: [ec.generate_private_key(curve) for _ in range(3)]
            for name, curve in self._ec.items()
        }
        self.rsa_1024 = rsa.generate_private_key(65537, 1024)
        self._counter = 0

    def rsa(self, index: int) -> rsa.RSAPrivateKey:
        return self._rsa[index % len(self._rsa)]

    def ec(self, curve: str, index: int) -> ec.EllipticCurvePrivateKey:
        keys = self._ec_keys[curve]
        return keys[index % len(keys)]


@pytest.fixture(scope="session")
def key_pool() -> KeyPool:
    return KeyPool()


class IssuerServer:
    """A test authorization server: metadata + JWKS over real HTTP on 127.0.0.1.

    The issuer identifier is ``http://127.0.0.1:<port>``; plain http is allowed for loopback
    hosts without the development switch.
    """

    def __init__(self, pool: KeyPool, server: LocalHTTPServer, path: str = "") -> None:
        self.pool = pool
        self.server = server
        self.issuer = self.server.url + path
        self.jwks_uri = self.server.url + JWKS_PATH
        self.keys: list[SigningKey] = []
        self.raw_entries: list[Any] = []  # extra JWKS entries published verbatim
        self.jwks_body: bytes | None = None  # overrides the whole JWKS body
        self.jwks_headers: dict[str, str] = {"Content-Type": "application/json"}
        self.metadata: dict[str, Any] = {
            "issuer": self.issuer,
            "jwks_uri": self.jwks_uri,
            "token_endpoint": self.server.url + "/token",
        }
        self._rsa_index = 0
        self._ec_index = 0
        self.server.routes[METADATA_PATH + path] = self._metadata_route
        self.server.routes[JWKS_PATH] = self._jwks_route

    # -- routes ------------------------------------------------------------------------------

    def _metadata_route(self, request: RecordedRequest) -> Reply:
        return Reply.json(self.metadata)

    def _jwks_route(self, request: RecordedRequest) -> Reply:
        if self.jwks_body is not None:
            return Reply(200, self.jwks_body, dict(self.jwks_headers))
        document = {"keys": [key.public_jwk() for key in self.keys] + list(self.raw_entries)}
        return Reply(200, json.dumps(document).encode(), dict(self.jwks_headers))

    @property
    def jwks_fetches(self) -> int:
        return self.server.count(JWKS_PATH)

    @property
    def metadata_fetches(self) -> int:
        return self.server.count(METADATA_PATH) + self.server.count(
            "/.well-known/openid-configuration"
        )

    # -- keys --------------------------------------------------------------------------------

    def new_key(
        self,
        alg: str = "RS256",
        kid: str | None = "default",
        *,
        publish: bool = True,
        jwk: dict[str, Any] | None = None,
    ) -> SigningKey:
        """A new key that signs with ``alg``; ``jwk`` adds/overrides members of its JWK."""
        if alg.startswith(("RS", "PS")):
            private: Any = self.pool.rsa(self._rsa_index)
            self._rsa_index += 1
        elif alg.startswith("ES"):
            curve = {v: k for k, v in _EC_ALG.items()}[alg]
            private = self.pool.ec(curve, self._ec_index)
            self._ec_index += 1
        else:
            private = ed25519.Ed25519PrivateKey.generate()
        key = SigningKey(kid, alg, private, dict(jwk or {}))
        if publish:
            self.keys.append(key)
        return key

    def retire(self, key: SigningKey) -> None:
        self.keys = [k for k in self.keys if k is not key]

    # -- tokens ------------------------------------------------------------------------------

    def claims(self, **overrides: Any) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "user-1",
            "aud": AUDIENCE,
            "client_id": "client-1",
            "exp": NOW + 300,
            "iat": NOW - 10,
            "jti": "jti-1",
            "auth_time": NOW - 20,
            "acr": "urn:example:acr:mfa",
            "amr": ["pwd", "otp"],
            "scope": "cats:read dogs:read",
        }
        for name, value in overrides.items():
            if value is DROP:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def header(self, key: SigningKey, **overrides: Any) -> dict[str, Any]:
        header: dict[str, Any] = {"alg": key.alg, "typ": "at+jwt"}
        if key.kid is not None:
            header["kid"] = key.kid
        for name, value in overrides.items():
            if value is DROP:
                header.pop(name, None)
            else:
                header[name] = value
        return header

    def mint(
        self,
        key: SigningKey | None = None,
        *,
        header: dict[str, Any] | None = None,
        claims: dict[str, Any] | None = None,
    ) -> str:
        """A token signed with joserfc."""
        key = key or self.keys[0]
        header = header if header is not None else self.header(key)
        claims = claims if claims is not None else self.claims()
        private = key.private
        if isinstance(private, rsa.RSAPrivateKey):
            jose_key: Any = RSAKey.import_key(private)
        elif isinstance(private, ec.EllipticCurvePrivateKey):
            jose_key = ECKey.import_key(private)
        else:
            jose_key = OKPKey.import_key(private)
        return jose_jwt.encode(header, claims, jose_key, algorithms=[header["alg"]])

    def mint_pyjwt(self, key: SigningKey | None = None, **claim_overrides: Any) -> str:
        """A token signed with PyJWT (an independent implementation)."""
        key = key or self.keys[0]
        headers: dict[str, Any] = {"typ": "at+jwt"}
        if key.kid is not None:
            headers["kid"] = key.kid
        return pyjwt.encode(
            self.claims(**claim_overrides), key.pem(), algorithm=key.alg, headers=headers
        )

    def sign_raw(
        self,
        header: bytes | dict[str, Any],
        payload: bytes | dict[str, Any],
        key: SigningKey | None = None,
        alg: str | None = None,
    ) -> str:
        """Exact header/payload bytes, correctly signed: isolates parsing attacks."""
        key = key or self.keys[0]
        header_bytes = header if isinstance(header, bytes) else json.dumps(header).encode()
        payload_bytes = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        signing_input = f"{b64url(header_bytes)}.{b64url(payload_bytes)}".encode()
        signature = key.sign(signing_input, alg)
        return f"{signing_input.decode()}.{b64url(signature)}"


class ServerPool:
    """Started servers reused across tests: stopping one costs half a second of polling."""

    def __init__(self) -> None:
        self._idle: list[LocalHTTPServer] = []
        self._all: list[LocalHTTPServer] = []

    def take(self) -> LocalHTTPServer:
        if self._idle:
            return self._idle.pop()
        server = LocalHTTPServer().start()
        self._all.append(server)
        return server

    def give_back(self, server: LocalHTTPServer) -> None:
        server.reset()
        server.routes.clear()
        self._idle.append(server)

    def stop_all(self) -> None:
        for server in self._all:
            server.stop()


@pytest.fixture(scope="session")
def server_pool() -> Iterator[ServerPool]:
    pool = ServerPool()
    yield pool
    pool.stop_all()


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


#: Pass as a claim/header override to remove the member.
DROP: Any = _Drop()


@pytest.fixture
def drop() -> Any:
    return DROP


@pytest.fixture
def now() -> int:
    return NOW


@pytest.fixture
def audience() -> str:
    return AUDIENCE


@pytest.fixture
def make_issuer(
    key_pool: KeyPool, server_pool: ServerPool
) -> Iterator[Callable[..., IssuerServer]]:
    """Factory for extra issuers (multi-issuer and "evil issuer" tests)."""
    started: list[IssuerServer] = []

    def make(path: str = "", alg: str | None = "RS256", kid: str = "default") -> IssuerServer:
        server = IssuerServer(key_pool, server_pool.take(), path)
        if alg is not None:
            server.new_key(alg, kid)
        started.append(server)
        return server

    yield make
    for issuer in started:
        server_pool.give_back(issuer.server)


@pytest.fixture
def issuer_server(make_issuer: Callable[..., IssuerServer]) -> IssuerServer:
    """The default issuer: one RS256 key with kid ``default``."""
    return make_issuer()


@pytest.fixture
def transport() -> Iterator[HttpxTransport]:
    client = httpx.Client(follow_redirects=False)
    yield HttpxTransport(client)
    client.close()


@pytest.fixture
def make_verifier(issuer_server: IssuerServer) -> Callable[..., JWTVerifier]:
    def make(**options: Any) -> JWTVerifier:
        options.setdefault("issuer", issuer_server.issuer)
        options.setdefault("audience", AUDIENCE)
        return JWTVerifier(**options)

    return make


@pytest.fixture
def verifier(make_verifier: Callable[..., JWTVerifier]) -> JWTVerifier:
    return make_verifier()


@pytest.fixture
def run(transport: HttpxTransport) -> Callable[[Flow[T]], T]:
    """Drive a flow with the blocking httpx transport against the real local server."""

    def drive(flow: Flow[T]) -> T:
        return run_sync(flow, transport)

    return drive


@pytest.fixture
def check(
    run: Callable[[Flow[Principal]], Principal],
) -> Callable[[JWTVerifier, str, float], Principal]:
    """``check(verifier, token, now)``: the Guard's order - cache first, then the flow."""

    def check_token(verifier: JWTVerifier, token: str, at: float = NOW) -> Principal:
        hit = verifier.cached(token, at)
        if hit is not None:
            return hit
        return run(verifier.verify(token, at))

    return check_token


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def run_flow_async(flow: Flow[T], transport: AsyncHttpxTransport) -> T:
    return await run_async(flow, transport)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalHTTPServer]:
    """The HTTP server behind the introspection stub, one per test module."""
    with LocalHTTPServer(poll_interval=0.05) as server:
        yield server


@pytest.fixture
def stub(server: LocalHTTPServer) -> IntrospectionStub:
    """An RFC 7662 endpoint on ``server``, with an empty answer table."""
    server.routes.clear()
    return stub_on(server)
