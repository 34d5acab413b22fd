"""The development server's tokens pass the library's own verifiers, and its step-up works with
the Guard end to end: the seed scenario's /cats/ route, with the clock moved instead of waiting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stepup_mfa import Guard, Policy
from stepup_mfa._core.credentials import RequestView
from stepup_mfa._verify.flow import run_sync
from stepup_mfa._verify.introspection import ClientSecretBasic, IntrospectionVerifier
from stepup_mfa._verify.jwt_verifier import JWTVerifier
from stepup_mfa._verify.transports import HttpxTransport
from stepup_mfa.devidp import (
    RESOURCE_SERVER_CLIENT_ID,
    RESOURCE_SERVER_CLIENT_SECRET,
    DevIdP,
    DevIdPClient,
    login,
)
from stepup_mfa.testing import FrozenClock, assert_step_up

ALICE = ("alice", "alice-password")


def _request(token: str) -> RequestView:
    return RequestView("GET", "/cats/", (f"Bearer {token}",))


@pytest.fixture
def verifier(idp: DevIdP) -> JWTVerifier:
    return JWTVerifier(issuer=idp.issuer, audience=idp.audience, allow_insecure_http=True)


@pytest.fixture
def transport() -> Iterator[HttpxTransport]:
    to_idp = HttpxTransport()
    yield to_idp
    to_idp.close()


@pytest.mark.parametrize("mfa", [False, True])
def test_library_jwt_verifier_accepts_dev_idp_tokens(
    idp: DevIdP, clock: FrozenClock, verifier: JWTVerifier, transport: HttpxTransport, mfa: bool
) -> None:
    token = login(
        idp.issuer,
        "demo-client",
        *ALICE,
        totp=idp.totp_code("alice") if mfa else None,
        acr_values=idp.mfa_acr if mfa else None,
    ).access_token
    principal = run_sync(verifier.verify(token, clock()), transport)
    assert principal.subject == "alice"
    assert principal.acr == (idp.mfa_acr if mfa else idp.password_acr)
    assert principal.auth_time == clock()


def test_seed_scenario_step_up_with_the_guard_r9470_1_r9470_4(
    idp: DevIdP, clock: FrozenClock, verifier: JWTVerifier, transport: HttpxTransport
) -> None:
    """Checklist: R9470-1, R9470-4."""
    guard = Guard(verifier, realm="api", clock=clock, transport=transport)
    cats = Policy(scopes=frozenset({"cats:read"}), acr_values=(idp.mfa_acr,), max_age=60)
    with DevIdPClient(idp.issuer) as browser:
        password_token = browser.login(*ALICE).access_token
        denied = guard.check(_request(password_token), cats)
        challenge = assert_step_up(
            denied.status, denied.www_authenticate, acr_values=idp.mfa_acr, max_age=60
        )
        # The client copies the challenge into its authorization request (OIDC-9).
        mfa_token = browser.login(
            totp=idp.totp_code("alice"),
            acr_values=challenge.acr_values,
            max_age=challenge.max_age,
        ).access_token
        assert guard.check(_request(mfa_token), cats).allowed
        clock.advance(61)
        stale = guard.check(_request(mfa_token), cats)
        challenge = assert_step_up(stale.status, stale.www_authenticate, max_age=60)
        fresh = browser.login(
            *ALICE,
            totp=idp.totp_code("alice"),
            acr_values=challenge.acr_values,
            max_age=challenge.max_age,
        ).access_token
    assert guard.check(_request(fresh), cats).allowed


@pytest.mark.parametrize("mfa", [False, True])
def test_library_introspection_verifier_reads_opaque_dev_idp_tokens_r9470_9(
    idp: DevIdP, clock: FrozenClock, transport: HttpxTransport, mfa: bool
) -> None:
    verifier = IntrospectionVerifier(
        client_auth=ClientSecretBasic(RESOURCE_SERVER_CLIENT_ID, RESOURCE_SERVER_CLIENT_SECRET),
        issuer=idp.issuer,
        audience=idp.opaque_audience,
        allow_insecure_http=True,
    )
    token = login(
        idp.issuer,
        "demo-client",
        *ALICE,
        totp=idp.totp_code("alice") if mfa else None,
        acr_values=idp.mfa_acr if mfa else None,
        resource=idp.opaque_audience,
    ).access_token
    principal = run_sync(verifier.verify(token, clock()), transport)
    assert principal.kind == "introspection"
    assert principal.acr == (idp.mfa_acr if mfa else idp.password_acr)
    assert principal.auth_time == clock()
