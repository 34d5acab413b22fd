"""Certificate-bound tokens through the Guard (RFC 8705 §3): the stub verifier for the rule's
cases, the real verifiers (JWT on a loopback issuer, RFC 7662 introspection) for §3.1 and §3.2,
and every adapter with the trusted proxy header."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from tests.adapters.adapter_apps import ADAPTERS, BUILDERS, MODES
from tests.dpop.dpop_kit import NOW, Client, StubVerifier, view
from tests.mtls.mtls_kit import Pki

from stepup_mfa import (
    ClientSecretBasic,
    DPoP,
    Guard,
    IntrospectionVerifier,
    JWTVerifier,
    MutualTLS,
    Policy,
    RequestView,
    parse_www_authenticate,
)
from stepup_mfa.testing import FakeIssuer

API = "https://api.example.com"
BOUND = Policy(require_bound_token=True)
MISMATCH = (
    'Bearer realm="api", error="invalid_token", error_description="Certificate binding mismatch"'
)


def bearer(token: str, cert: bytes | None = None) -> RequestView:
    return RequestView("GET", "/cats/", (f"Bearer {token}",), scheme="https", client_cert=cert)


@pytest.fixture
def stub(pki: Pki) -> StubVerifier:
    stub = StubVerifier()
    stub.add("alice-bound", cnf={"x5t#S256": pki.alice.x5t})
    stub.add("plain")
    return stub


def test_R8705_1_the_bound_client_is_admitted(stub: StubVerifier, pki: Pki) -> None:
    guard = Guard(stub, clock=lambda: NOW, mtls=MutualTLS())
    assert guard.check(bearer("alice-bound", pki.alice.der), Policy()).allowed


def test_R8705_1_M2_another_certificate_is_401_certificate_binding_mismatch(
    stub: StubVerifier, pki: Pki
) -> None:
    guard = Guard(stub, clock=lambda: NOW, mtls=MutualTLS())
    decision = guard.check(bearer("alice-bound", pki.bob.der), Policy())
    assert (decision.status, decision.www_authenticate) == (401, MISMATCH)


def test_R8705_2_M1_no_certificate_is_401_invalid_token(stub: StubVerifier) -> None:
    guard = Guard(stub, clock=lambda: NOW, mtls=MutualTLS())
    decision = guard.check(bearer("alice-bound"), Policy())
    assert (decision.status, decision.www_authenticate) == (401, MISMATCH)


def test_R8705_2_without_mtls_a_certificate_bound_token_is_refused(
    stub: StubVerifier, pki: Pki
) -> None:
    """Mutual TLS is opt-in: a view carrying the right certificate does not help without it."""
    guard = Guard(stub, clock=lambda: NOW)
    decision = guard.check(bearer("alice-bound", pki.alice.der), Policy())
    assert (decision.status, decision.www_authenticate) == (401, MISMATCH)


def test_MTLS_1_require_bound_token_accepts_the_certificate(stub: StubVerifier, pki: Pki) -> None:
    guard = Guard(stub, clock=lambda: NOW, mtls=MutualTLS())
    assert guard.check(bearer("alice-bound", pki.alice.der), BOUND).allowed
    refused = guard.check(bearer("plain", pki.alice.der), BOUND)
    assert (refused.status, refused.error.code) == (401, "invalid_token")


def test_MTLS_2_dpop_and_certificate_bound_token_needs_both(stub: StubVerifier, pki: Pki) -> None:
    client = Client()
    stub.add("both", cnf={"x5t#S256": pki.alice.x5t, "jkt": client.jkt})
    guard = Guard(stub, clock=lambda: NOW, dpop=DPoP(API), mtls=MutualTLS())

    def dpop(cert: bytes | None) -> RequestView:
        base = view("both", (client.proof("both", iat=NOW),))
        return RequestView(
            base.method,
            base.path,
            base.authorization,
            scheme="https",
            dpop=base.dpop,
            client_cert=cert,
        )

    assert guard.check(dpop(pki.alice.der), BOUND).allowed
    refused = guard.check(dpop(pki.bob.der), BOUND)
    assert (refused.status, refused.error.code) == (401, "invalid_token")


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    with FakeIssuer(API, clock=lambda: NOW) as running:
        yield running


def test_R8705_1_jwt_cnf_with_the_jwt_verifier_fresh_and_cached(
    issuer: FakeIssuer, pki: Pki
) -> None:
    """§3.1: the JWT's ``cnf``; the second and third requests find the token in memory, and the
    remembered verdict of the first never admits another connection's certificate."""
    token = issuer.tokens.mint(claims={"cnf": {"x5t#S256": pki.alice.x5t}})
    guard = Guard(JWTVerifier(issuer.issuer, API), clock=lambda: NOW, mtls=MutualTLS())
    policy = Policy()
    try:
        for _ in range(3):
            assert guard.check(bearer(token, pki.alice.der), policy).allowed
        for cert in (pki.bob.der, None):
            refused = guard.check(bearer(token, cert), policy)
            assert (refused.status, refused.www_authenticate) == (401, MISMATCH)
    finally:
        guard.close()


@pytest.mark.parametrize(("who", "ok"), [("alice", True), ("bob", False), (None, False)])
def test_R8705_4_introspection_cnf(issuer: FakeIssuer, pki: Pki, who: str | None, ok: bool) -> None:
    """§3.2: ``{"active": true, "token_type": "Bearer", "cnf": {"x5t#S256": ...}}``."""
    token = issuer.opaque_token(claims={"cnf": {"x5t#S256": pki.alice.x5t}})
    verifier = IntrospectionVerifier(
        issuer=issuer.issuer,
        audience=API,
        client_auth=ClientSecretBasic(*issuer.introspection_client),
    )
    guard = Guard(verifier, clock=lambda: NOW, mtls=MutualTLS())
    cert = getattr(pki, who).der if who is not None else None
    try:
        decision = guard.check(bearer(token, cert), Policy())
        assert decision.allowed is ok
        if not ok:
            assert (decision.status, decision.error.code) == (401, "invalid_token")
    finally:
        guard.close()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_R8705_1_R8705_6_through_the_adapter(adapter: str, mode: str, pki: Pki) -> None:
    """Every adapter hands the named header's certificate to the Guard, and only that one."""
    stub = StubVerifier()
    token = stub.add("bound", cnf={"x5t#S256": pki.alice.x5t})
    named = Guard(stub, clock=lambda: NOW, mtls=MutualTLS(trusted_proxy_header="X-Client-Cert"))
    call = BUILDERS[adapter](named, mode)  # type: ignore[arg-type]
    auth = ("Authorization", f"Bearer {token}")
    alice = ("X-Client-Cert", quote(pki.alice.pem, safe=""))
    bob = ("X-Client-Cert", quote(pki.bob.pem, safe=""))
    assert call("GET", "/dogs/", [auth, alice]).status == 200
    for headers in ([auth, bob], [auth], [auth, alice, bob]):
        refused = call("GET", "/dogs/", headers)
        assert refused.status == 401
        (challenge,) = parse_www_authenticate(refused.header("www-authenticate") or "")
        assert challenge.error == "invalid_token"
    # The same header sent to an app whose Guard does not name it is ignored (R8705-6, M3).
    unnamed = BUILDERS[adapter](Guard(stub, clock=lambda: NOW, mtls=MutualTLS()), mode)  # type: ignore[arg-type]
    assert unnamed("GET", "/dogs/", [auth, alice]).status == 401
