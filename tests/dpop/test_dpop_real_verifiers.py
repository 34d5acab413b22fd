"""R9449-1 / R9449-24 with the real verifiers: a JWT with ``cnf.jkt`` (JWKS on a loopback issuer)
and an introspection answer with ``cnf.jkt``; proofs by joserfc."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.dpop.dpop_kit import Client, view

from stepup_mfa import ClientSecretBasic, DPoP, Guard, IntrospectionVerifier, JWTVerifier, Policy
from stepup_mfa.testing import FakeIssuer

API = "https://api.example.com"
NOW = 1_800_000_000.0


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    with FakeIssuer(API, clock=lambda: NOW) as running:
        yield running


def test_R9449_1_jwt_verifier_bound_token(issuer: FakeIssuer) -> None:
    client = Client()
    token = issuer.tokens.mint(claims={"cnf": {"jkt": client.jkt}})
    guard = Guard(JWTVerifier(issuer.issuer, API), clock=lambda: NOW, dpop=DPoP(API))
    try:
        assert guard.check(view(token, (client.proof(token, iat=NOW),)), Policy()).allowed
        # The same token, now from the verified-token cache, with a proof by another key.
        other = Client()
        refused = guard.check(view(token, (other.proof(token, iat=NOW),)), Policy())
        assert refused.status == 401 and refused.error.code == "invalid_token"
        # And as Bearer: a downgrade (R9449-17).
        assert guard.check(view(token, scheme="Bearer"), Policy()).error.code == "invalid_token"
    finally:
        guard.close()


@pytest.mark.parametrize(("token_type", "ok"), [("DPoP", True), ("Bearer", False)])
def test_R9449_24_introspection_cnf_jkt(issuer: FakeIssuer, token_type: str, ok: bool) -> None:
    """The fake issuer answers ``token_type`` Bearer unless told otherwise."""
    client = Client()
    extra = {"cnf": {"jkt": client.jkt}, "token_type": token_type}
    token = issuer.opaque_token(claims=extra)
    verifier = IntrospectionVerifier(
        issuer=issuer.issuer,
        audience=API,
        client_auth=ClientSecretBasic(*issuer.introspection_client),
    )
    guard = Guard(verifier, clock=lambda: NOW, dpop=DPoP(API))
    try:
        decision = guard.check(view(token, (client.proof(token, iat=NOW),)), Policy())
        assert decision.allowed is ok
        if not ok:
            assert decision.error.code == "invalid_token"
    finally:
        guard.close()
