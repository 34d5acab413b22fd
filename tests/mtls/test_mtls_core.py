"""The binding rule in the core (RFC 8705 §3): ``cnf["x5t#S256"]`` against the DER thumbprint of
the certificate the client presented, and how ``require_bound_token`` counts it."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.mtls.mtls_kit import Pki

from stepup_mfa import InvalidToken, Policy, Principal
from stepup_mfa._core.decision import (
    BOUND_AS_BEARER,
    BOUND_REQUIRED,
    CERTIFICATE_MISMATCH,
    certificate_thumbprint,
    check_binding,
    check_certificate,
)

BOUND = Policy(require_bound_token=True)


def principal(**claims: Any) -> Principal:
    kind = claims.pop("kind", "jwt")
    return Principal.from_claims({"sub": "alice", **claims}, kind=kind)


def test_R8705_3_thumbprint_is_unpadded_base64url_sha256_of_der(pki: Pki) -> None:
    assert certificate_thumbprint(pki.alice.der) == pki.alice.x5t
    assert "=" not in pki.alice.x5t and len(pki.alice.x5t) == 43


def test_R8705_1_R8705_5_the_presented_certificate_satisfies_its_token(pki: Pki) -> None:
    """The self-signed certificate counts as much as a CA-signed one: no chain check (R8705-5)."""
    for issued in (pki.alice, pki.mallory):
        check_binding(principal(cnf={"x5t#S256": issued.x5t}), None, issued.der)


def test_R8705_2_M1_no_certificate_is_invalid_token(pki: Pki) -> None:
    with pytest.raises(InvalidToken, match=CERTIFICATE_MISMATCH):
        check_binding(principal(cnf={"x5t#S256": pki.alice.x5t}), None, None)


def test_R8705_1_M2_another_certificate_is_invalid_token(pki: Pki) -> None:
    with pytest.raises(InvalidToken, match=CERTIFICATE_MISMATCH):
        check_binding(principal(cnf={"x5t#S256": pki.alice.x5t}), None, pki.bob.der)


def _pem_hash(pki: Pki) -> str:
    digest = hashlib.sha256(pki.alice.pem.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(lambda p: p.alice.x5t + "=", id="padded"),
        pytest.param(_pem_hash, id="hash-of-pem-text"),
        pytest.param(lambda p: " " + p.alice.x5t, id="leading-space"),
        pytest.param(lambda p: p.alice.x5t + "\n", id="trailing-newline"),
        pytest.param(
            lambda p: base64.b64encode(hashlib.sha256(p.alice.der).digest()).decode(), id="std-b64"
        ),
        pytest.param(lambda p: hashlib.sha256(p.alice.der).hexdigest(), id="hex"),
        pytest.param(
            lambda p: (
                base64.urlsafe_b64encode(hashlib.sha1(p.alice.der).digest()).rstrip(b"=").decode()
            ),
            id="sha1-x5t",
        ),
        pytest.param(lambda p: p.alice.x5t.lower(), id="lower-case"),
        pytest.param(lambda p: "", id="empty"),
        pytest.param(lambda p: None, id="null"),
        pytest.param(lambda p: [p.alice.x5t], id="list"),
        pytest.param(lambda p: 42, id="number"),
        pytest.param(lambda p: p.alice.x5t[:-1] + "é", id="non-ascii"),
    ],
)
def test_R8705_3_M4_other_formats_never_match(pki: Pki, value: Any) -> None:
    """Compared exactly: no padding, no whitespace, no hash of the PEM text, no other digest."""
    with pytest.raises(InvalidToken, match=CERTIFICATE_MISMATCH):
        check_certificate(principal(cnf={"x5t#S256": value(pki)}), pki.alice.der)


def test_R8705_4_introspection_cnf_is_judged_the_same(pki: Pki) -> None:
    answer = principal(kind="introspection", token_type="Bearer", cnf={"x5t#S256": pki.alice.x5t})
    check_binding(answer, None, pki.alice.der)
    with pytest.raises(InvalidToken, match=CERTIFICATE_MISMATCH):
        check_binding(answer, None, pki.bob.der)


def test_an_unbound_token_needs_no_certificate(pki: Pki) -> None:
    assert check_certificate(principal(), None) is False
    assert check_certificate(principal(cnf={"jwk": {}}), pki.bob.der) is False


def test_MTLS_1_require_bound_token_accepts_a_certificate_bound_token(pki: Pki) -> None:
    check_binding(principal(cnf={"x5t#S256": pki.alice.x5t}), BOUND, pki.alice.der)


def test_MTLS_1_require_bound_token_refuses_a_bearer_token_with_a_certificate(pki: Pki) -> None:
    """A certificate on the connection does not make an unbound token bound."""
    with pytest.raises(InvalidToken, match=re.escape(BOUND_REQUIRED)):
        check_binding(principal(), BOUND, pki.alice.der)


def test_MTLS_2_a_token_bound_both_ways_needs_both(pki: Pki) -> None:
    both = principal(cnf={"x5t#S256": pki.alice.x5t, "jkt": "thumb"})
    with pytest.raises(InvalidToken, match=CERTIFICATE_MISMATCH):
        check_binding(both, BOUND, None, proof=True)  # the DPoP proof alone is not enough
    with pytest.raises(InvalidToken, match=BOUND_AS_BEARER):
        check_binding(both, BOUND, pki.alice.der)  # nor the certificate alone
    check_binding(both, BOUND, pki.alice.der, proof=True)


@given(st.binary(min_size=1, max_size=256), st.binary(min_size=1, max_size=256))
def test_R8705_3_a_thumbprint_matches_only_its_own_certificate(a: bytes, b: bytes) -> None:
    bound = principal(cnf={"x5t#S256": certificate_thumbprint(a)})
    assert check_certificate(bound, a) is True
    if a != b:
        with pytest.raises(InvalidToken):
            check_certificate(bound, b)
