"""Issue 11: one validity rule, one strict JSON reader, one spelling per token.

Each test here failed before the fix (see the CHANGELOG): a future ``auth_time`` stretched the
MFA window, introspection read ``1e400`` and lone surrogates the JWS reader refuses, and every
JWS signature had 16 accepted spellings.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from introspection_fixtures import NOW as INTROSPECTION_NOW
from introspection_fixtures import IntrospectionStub, active, verifier_for

from stepup_mfa._core.credentials import RequestView
from stepup_mfa._core.errors import InvalidToken, VerifierUnavailable
from stepup_mfa._core.policy import Policy
from stepup_mfa._core.principal import Principal
from stepup_mfa._guard import Guard
from stepup_mfa._verify.jwt_verifier import JWTVerifier
from stepup_mfa._verify.transports import HttpxTransport
from stepup_mfa.testing.clock import FrozenClock

NOW = 1_900_000_000
MFA_60S = Policy(acr_values="urn:example:acr:mfa", max_age=60, name="mfa-60s")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def bearer(token: str) -> RequestView:
    return RequestView("GET", "/cats/", ("Bearer " + token,))


# -- priority 1: the freshness window (OIDC-4, OIDC-3) --------------------------------------------


def test_OIDC_4_S5_jwt_auth_time_ahead_of_our_clock_never_stretches_max_age(
    issuer_server: Any, transport: HttpxTransport
) -> None:
    """auth_time=now+59 (leeway 60) counts as now: the 60 s window closes at now+60, not now+119.

    Before the fix the token still passed at now+61 (``now - auth_time`` was 2 s).
    """
    token = issuer_server.mint(claims=issuer_server.claims(auth_time=NOW + 59))
    clock = FrozenClock(NOW)
    verifier = JWTVerifier(issuer_server.issuer, "https://api.example.com")
    guard = Guard(verifier, clock=clock, transport=transport)
    assert guard.check(bearer(token), MFA_60S).allowed
    clock.advance(60)
    assert guard.check(bearer(token), MFA_60S).allowed  # OIDC-3: exactly max_age passes
    clock.advance(1)
    decision = guard.check(bearer(token), MFA_60S)
    assert decision.status == 401
    assert decision.error is not None
    assert decision.error.code == "insufficient_user_authentication"


def test_OIDC_4_S5_introspection_auth_time_ahead_of_our_clock_never_stretches_max_age(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    """The same for an introspection answer, cached or re-read from a shared store."""
    now = INTROSPECTION_NOW
    stub.answers["opaque"] = active(auth_time=now + 59, exp=now + 3600)
    clock = FrozenClock(now)
    guard = Guard(verifier_for(stub, cache_ttl=300), clock=clock, transport=transport)
    assert guard.check(bearer("opaque"), MFA_60S).allowed
    clock.advance(61)
    decision = guard.check(bearer("opaque"), MFA_60S)
    assert decision.error is not None
    assert decision.error.code == "insufficient_user_authentication"
    assert stub.calls == 1  # judged from the cache, with the time it was fetched


# -- priority 2: one validity rule for fresh and cached JWTs ------------------------------------


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    claim=st.sampled_from(["exp", "nbf", "iat", "auth_time"]),
    offset=st.integers(min_value=-400, max_value=400),
    later=st.integers(min_value=0, max_value=400),
)
def test_R9068_7_R7519_2_cache_hits_judge_time_exactly_like_a_fresh_verification(
    issuer_server: Any, run: Callable[..., Principal], claim: str, offset: int, later: int
) -> None:
    """Verified at ``NOW`` then asked at ``NOW + later``: the cache answers what a fresh
    verifier answers at that time, whatever the claim (one rule in validity.py)."""
    claims = issuer_server.claims(**{claim: NOW + offset})
    claims.setdefault("exp", NOW + 1000)
    token = issuer_server.mint(claims=claims)
    warm = JWTVerifier(issuer_server.issuer, "https://api.example.com")
    try:
        run(warm.verify(token, NOW))
    except InvalidToken:
        return  # refused at NOW: nothing is cached
    at = NOW + later
    hit = warm.cached(token, at)
    fresh = JWTVerifier(issuer_server.issuer, "https://api.example.com")
    try:
        outcome: Principal | None = run(fresh.verify(token, at))
    except InvalidToken:
        outcome = None
    if outcome is None:
        assert hit is None
    else:
        assert hit is not None
        assert hit.subject == outcome.subject


# -- priority 2: one strict JSON reader for introspection too (T9, R7519-5) -----------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"active": true, "sub": "u1", "x": 1e400}', id="T2-1e400"),
        pytest.param(b'{"active": true, "sub": "\\ud800"}', id="T9-lone-surrogate"),
        pytest.param(b'{"active": true, "sub": "u1", "sub": "admin"}', id="T8-duplicate"),
        pytest.param(b'{"active": true, "x": NaN}', id="T9-NaN"),
        pytest.param(b'\xef\xbb\xbf{"active": true}', id="T9-BOM"),
    ],
)
def test_T9_R7662_3_introspection_reads_answers_with_the_strict_json_reader(
    stub: IntrospectionStub, transport: HttpxTransport, body: bytes
) -> None:
    """Before the fix, 1e400 (as infinity) and a lone surrogate were accepted here while the JWS
    reader refused them; now an answer that is not strict JSON is unusable (503, R7662-3)."""
    from stepup_mfa.testing.server import Reply

    stub.answers["opaque"] = Reply(200, body, {"Content-Type": "application/json"})
    guard = Guard(verifier_for(stub), clock=FrozenClock(INTROSPECTION_NOW), transport=transport)
    decision = guard.check(bearer("opaque"), Policy())
    assert decision.status == 503
    assert isinstance(decision.error, VerifierUnavailable)


# -- priority 3: canonical base64url, one spelling per segment (R7515-1, P11) ---------------------


def _spellings(segment: str) -> list[str]:
    """Every base64url spelling of the same bytes: the last character with its unused bits set
    every possible way (16 for a 2-character remainder, 4 for a 3-character one)."""
    unused = {2: 4, 3: 2}[len(segment) % 4]
    last = _ALPHABET.index(segment[-1])
    base = last & ~((1 << unused) - 1)
    return [segment[:-1] + _ALPHABET[base | bits] for bits in range(1 << unused)]


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_R7515_1_P11_a_signature_has_exactly_one_accepted_spelling(
    issuer_server: Any, check: Callable[..., Principal], alg: str
) -> None:
    """RS256 (256 bytes) and ES256 (64 bytes) signatures are 342 and 86 characters: 4 unused bits,
    16 spellings of the same bytes. Before the fix all 16 verified; now only the canonical one."""
    key = issuer_server.new_key(alg, kid=alg)
    token = issuer_server.mint(key)
    head, _, signature = token.rpartition(".")
    variants = _spellings(signature)
    assert len(variants) == 16
    accepted = []
    for variant in variants:
        try:
            check(JWTVerifier(issuer_server.issuer, "https://api.example.com"), f"{head}.{variant}")
        except InvalidToken as error:
            assert error.description == "Malformed access token"
        else:
            accepted.append(variant)
    assert accepted == [signature]


@pytest.mark.parametrize("segment", ["header", "payload"])
def test_R7515_1_P11_header_and_payload_have_one_spelling_too(
    issuer_server: Any, check: Callable[..., Principal], segment: str
) -> None:
    """A correctly *signed* token whose header or payload uses a non-canonical spelling."""
    key = issuer_server.keys[0]
    header = json.dumps(issuer_server.header(key)).encode()
    payload = json.dumps(issuer_server.claims()).encode()
    # Pad the chosen part so that its encoding leaves unused bits (length % 3 == 1).
    if segment == "header":
        header += b" " * ((1 - len(header)) % 3)
    else:
        payload += b" " * ((1 - len(payload)) % 3)
    parts = [base64.urlsafe_b64encode(p).rstrip(b"=").decode() for p in (header, payload)]
    index = 0 if segment == "header" else 1
    canonical = parts[index]
    odd = next(s for s in _spellings(canonical) if s != canonical)
    parts[index] = odd
    signing_input = ".".join(parts).encode()
    signature = base64.urlsafe_b64encode(key.sign(signing_input)).rstrip(b"=").decode()
    verifier = JWTVerifier(issuer_server.issuer, "https://api.example.com")
    with pytest.raises(InvalidToken, match="Malformed"):
        check(verifier, f"{signing_input.decode()}.{signature}")
