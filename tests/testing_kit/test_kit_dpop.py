"""The testing kit's DPoP helpers: ``DPoPKey`` proofs and ``bound_to=`` tokens, checked by the
library's resource-server side over a real FakeIssuer (JWKS and introspection on 127.0.0.1)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from stepup_mfa import (
    AUTHENTICATED,
    ClientSecretBasic,
    DPoP,
    Guard,
    IntrospectionVerifier,
    JWTVerifier,
    RequestView,
)
from stepup_mfa.testing import DPoPKey, FakeIssuer, FrozenClock

API = "https://api.example.com"
NOW = 1_800_000_000.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _part(jws: str, index: int) -> dict[str, Any]:
    segment = jws.split(".")[index]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return decoded


def _view(token: str, proof: str) -> RequestView:
    return RequestView("GET", "/cats/", (f"DPoP {token}",), scheme="https", dpop=(proof,))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def issuer(clock: FrozenClock) -> Iterator[FakeIssuer]:
    with FakeIssuer(API, clock=clock) as running:
        yield running


@pytest.mark.parametrize("algorithm", ["ES256", "ES384", "PS256", "RS256", "EdDSA"])
def test_R9449_1_bound_jwt_and_proof_are_accepted_by_the_library(
    issuer: FakeIssuer, clock: FrozenClock, algorithm: Any
) -> None:
    """R9449-1, R9449-8, R9449-16: ``mint(bound_to=key)`` plus ``key.proof(...)`` is what the
    library's DPoP check accepts, for each proof algorithm; another key's proof is not."""
    key = DPoPKey(algorithm, clock=clock)
    token = issuer.tokens.mint(bound_to=key)
    guard = Guard(
        JWTVerifier(issuer.issuer, API), clock=clock, dpop=DPoP(API, algorithms=[algorithm])
    )
    try:
        proof = key.proof("GET", f"{API}/cats/", token=token)
        assert guard.check(_view(token, proof), AUTHENTICATED).allowed
        other = DPoPKey(algorithm, clock=clock).proof("GET", f"{API}/cats/", token=token)
        assert guard.check(_view(token, other), AUTHENTICATED).error.code == "invalid_token"
    finally:
        guard.close()


def test_R9449_24_bound_opaque_token_introspects_as_dpop(
    issuer: FakeIssuer, clock: FrozenClock
) -> None:
    """R9449-24: ``opaque_token(bound_to=key)`` answers ``cnf.jkt`` and ``token_type: DPoP``, and
    the library's introspection verifier accepts it with the key's proof."""
    key = DPoPKey(clock=clock)
    token = issuer.opaque_token(bound_to=key, mfa=True)
    answer = httpx.post(
        issuer.introspection_endpoint, data={"token": token}, auth=issuer.introspection_client
    ).json()
    assert (answer["token_type"], answer["cnf"]) == ("DPoP", {"jkt": key.jkt})
    verifier = IntrospectionVerifier(
        issuer=issuer.issuer,
        audience=API,
        client_auth=ClientSecretBasic(*issuer.introspection_client),
    )
    guard = Guard(verifier, clock=clock, dpop=DPoP(API))
    try:
        proof = key.proof("GET", f"{API}/cats/", token=token)
        assert guard.check(_view(token, proof), AUTHENTICATED).allowed
    finally:
        guard.close()


def test_unbound_opaque_token_still_says_bearer(issuer: FakeIssuer) -> None:
    token = issuer.opaque_token()
    answer = httpx.post(
        issuer.introspection_endpoint, data={"token": token}, auth=issuer.introspection_client
    ).json()
    assert answer["token_type"] == "Bearer" and "cnf" not in answer


def test_jkt_is_the_rfc7638_thumbprint() -> None:
    """R9449-16: computed here from the public JWK, independently of joserfc."""
    key = DPoPKey()
    members = {name: key.jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    assert key.jkt == _b64(hashlib.sha256(canonical).digest())
    assert "d" not in key.jwk


def test_proof_members(clock: FrozenClock) -> None:
    """R9449-5, R9449-15: ``typ``, ``alg``, public ``jwk``; ``jti``, ``htm``, ``htu``, ``iat``
    from the clock; ``ath`` only with a token; ``nonce`` when given."""
    key = DPoPKey(clock=clock)
    header, claims = (
        _part(key.proof("POST", "https://as/token"), 0),
        _part(key.proof("POST", "https://as/token"), 1),
    )
    assert (header["typ"], header["alg"], header["jwk"]) == ("dpop+jwt", "ES256", key.jwk)
    assert (claims["htm"], claims["htu"], claims["iat"]) == ("POST", "https://as/token", NOW)
    assert "ath" not in claims and "nonce" not in claims and claims["jti"]
    bound = _part(key.proof("GET", f"{API}/", token="tok", nonce="n-1"), 1)
    assert bound["ath"] == _b64(hashlib.sha256(b"tok").digest())
    assert bound["nonce"] == "n-1"


def test_proof_overrides_and_removals(clock: FrozenClock) -> None:
    """``claims``/``header`` change members; ``None`` removes one (for negative tests)."""
    key = DPoPKey(clock=clock)
    proof = key.proof("GET", API, claims={"jti": None, "htm": "get"}, header={"typ": "JWT"})
    assert "jti" not in _part(proof, 1) and _part(proof, 1)["htm"] == "get"
    assert _part(proof, 0)["typ"] == "JWT"
    assert _part(key.proof("GET", API, iat=NOW - 61), 1)["iat"] == NOW - 61


def test_headers_carry_the_scheme_and_one_proof() -> None:
    key = DPoPKey()
    headers = key.headers("GET", f"{API}/cats/", "tok")
    assert headers["Authorization"] == "DPoP tok"
    assert _part(headers["DPoP"], 1)["ath"] == _b64(hashlib.sha256(b"tok").digest())


def test_bound_to_accepts_a_thumbprint(issuer: FakeIssuer) -> None:
    assert issuer.tokens.claims(bound_to="abc")["cnf"] == {"jkt": "abc"}
    assert "cnf" not in issuer.tokens.claims()


def test_unknown_algorithm_is_refused() -> None:
    with pytest.raises(ValueError, match="HS256"):
        DPoPKey("HS256")  # type: ignore[arg-type]
