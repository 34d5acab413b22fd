"""Interoperability: the introspection verifier against the development authorization server
(authlib's RFC 7662 endpoint, on 127.0.0.1), with discovery, Basic client authentication,
revocation and the seed scenario's step-up. The clock is the server's frozen clock."""

from __future__ import annotations

from typing import Any

import pytest

from stepup_mfa._core.credentials import RequestView
from stepup_mfa._core.errors import InvalidToken
from stepup_mfa._core.policy import Policy
from stepup_mfa._guard import Guard
from stepup_mfa._verify.flow import run_sync
from stepup_mfa._verify.introspection import (
    ClientSecretBasic,
    ClientSecretPost,
    IntrospectionVerifier,
)
from stepup_mfa._verify.transports import HttpxTransport
from stepup_mfa.devidp import (
    RESOURCE_SERVER_CLIENT_ID,
    RESOURCE_SERVER_CLIENT_SECRET,
    DevIdP,
    DevIdPClient,
    login,
)
from stepup_mfa.testing import FrozenClock

ALICE = ("alice", "alice-password")


@pytest.fixture
def idp(stepup_dev_idp: DevIdP) -> DevIdP:
    return stepup_dev_idp


@pytest.fixture
def clock(stepup_clock: FrozenClock) -> FrozenClock:
    return stepup_clock


@pytest.fixture(params=[ClientSecretBasic, ClientSecretPost], ids=["basic", "post"])
def verifier(idp: DevIdP, request: pytest.FixtureRequest) -> IntrospectionVerifier:
    """R7662-2 with both secret-based methods the server advertises."""
    return IntrospectionVerifier(
        None,  # discovered from the server's metadata (R8414-6)
        client_auth=request.param(RESOURCE_SERVER_CLIENT_ID, RESOURCE_SERVER_CLIENT_SECRET),
        issuer=idp.issuer,
        audience=idp.opaque_audience,
        allow_insecure_http=True,
    )


def _opaque(idp: DevIdP, **options: Any) -> str:
    return login(
        idp.issuer, "demo-client", *ALICE, resource=idp.opaque_audience, **options
    ).access_token


def test_R9470_9_mfa_facts_of_an_opaque_token_reach_the_principal(
    idp: DevIdP,
    clock: FrozenClock,
    verifier: IntrospectionVerifier,
    transport: HttpxTransport,
) -> None:
    token = _opaque(idp, totp=idp.totp_code("alice"), acr_values=idp.mfa_acr)
    principal = run_sync(verifier.verify(token, clock()), transport)
    assert verifier.endpoint == idp.introspection_endpoint
    assert principal.subject == "alice"
    assert principal.acr == idp.mfa_acr
    assert principal.auth_time == clock()
    assert idp.opaque_audience in principal.audience
    assert principal.kind == "introspection"


def test_R7662_5_revoked_token_is_refused_once_the_cached_answer_is_too_old(
    idp: DevIdP,
    clock: FrozenClock,
    verifier: IntrospectionVerifier,
    transport: HttpxTransport,
) -> None:
    with DevIdPClient(idp.issuer) as client:
        tokens = client.login(*ALICE, resource=idp.opaque_audience)
        now = clock()
        assert run_sync(verifier.verify(tokens.access_token, now), transport).subject == "alice"
        client.revoke(tokens.access_token, token_type_hint="access_token")
    assert verifier.cached(tokens.access_token, now) is not None  # the TTL's price (R7662-10)
    assert verifier.cached(tokens.access_token, now, max_cache_age=0) is None
    with pytest.raises(InvalidToken, match="not active"):
        run_sync(verifier.verify(tokens.access_token, now), transport)


def test_R7662_5_unknown_token_is_invalid(
    clock: FrozenClock, verifier: IntrospectionVerifier, transport: HttpxTransport
) -> None:
    with pytest.raises(InvalidToken, match="not active"):
        run_sync(verifier.verify("devidp-opaque-never-issued", clock()), transport)


def test_R9470_10_seed_step_up_with_opaque_tokens_and_the_guard(
    idp: DevIdP,
    clock: FrozenClock,
    verifier: IntrospectionVerifier,
    transport: HttpxTransport,
) -> None:
    guard = Guard(verifier, realm="api", clock=clock, transport=transport)
    cats = Policy(acr_values=idp.mfa_acr, max_age=60, name="cats")

    def get(token: str) -> RequestView:
        return RequestView("GET", "/cats/", (f"Bearer {token}",))

    password_only = _opaque(idp)
    denied = guard.check(get(password_only), cats)
    assert denied.status == 401 and "insufficient_user_authentication" in str(
        denied.www_authenticate
    )
    mfa = _opaque(idp, totp=idp.totp_code("alice"), acr_values=idp.mfa_acr)
    assert guard.check(get(mfa), cats).allowed
    clock.advance(61)
    stale = guard.check(get(mfa), cats)
    assert stale.status == 401
    assert 'max_age="60"' in str(stale.www_authenticate)
