"""Opaque tokens for the second audience, RFC 7662 introspection and RFC 7009 revocation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from stepup_mfa.devidp import (
    CONFIDENTIAL_CLIENT_ID,
    CONFIDENTIAL_CLIENT_SECRET,
    RESOURCE_SERVER_CLIENT_ID,
    RESOURCE_SERVER_CLIENT_SECRET,
    DevIdP,
    DevIdPClient,
    login,
)
from stepup_mfa.testing import FrozenClock

ALICE = ("alice", "alice-password")
RS = (RESOURCE_SERVER_CLIENT_ID, RESOURCE_SERVER_CLIENT_SECRET)


def _introspect(
    idp: DevIdP, token: str, auth: tuple[str, str] | None = RS, **extra: str
) -> httpx.Response:
    return httpx.post(idp.introspection_endpoint, data={"token": token, **extra}, auth=auth)


def _opaque(idp: DevIdP, **options: Any) -> str:
    return login(
        idp.issuer, "demo-client", *ALICE, resource=idp.opaque_audience, **options
    ).access_token


def test_the_second_audience_gets_opaque_tokens(idp: DevIdP) -> None:
    token = _opaque(idp)
    assert token.count(".") == 0


def test_introspection_carries_the_step_up_facts_top_level_r9470_9(
    idp: DevIdP, clock: FrozenClock
) -> None:
    """Checklist: R9470-9."""
    token = _opaque(idp, totp=idp.totp_code("alice"), acr_values=idp.mfa_acr)
    answer = _introspect(idp, token, token_type_hint="access_token").json()
    assert answer["active"] is True
    assert answer["aud"] == idp.opaque_audience
    assert answer["iss"] == idp.issuer
    assert answer["sub"] == "alice"
    assert (answer["acr"], answer["amr"], answer["auth_time"]) == (
        idp.mfa_acr,
        ["pwd", "otp"],
        clock(),
    )
    assert answer["exp"] == clock() + idp.access_token_lifetime


@pytest.mark.parametrize(
    "auth",
    [None, (RESOURCE_SERVER_CLIENT_ID, "wrong-secret"), ("demo-client", "")],
)
def test_introspection_requires_client_authentication_r7662_2(
    idp: DevIdP, auth: tuple[str, str] | None
) -> None:
    """Checklist: R7662-2."""
    response = _introspect(idp, _opaque(idp), auth)
    assert response.status_code in (400, 401)
    assert response.json()["error"] == "invalid_client"


def test_a_client_not_registered_for_the_audience_learns_nothing_r7662_5(idp: DevIdP) -> None:
    """Checklist: R7662-5."""
    answer = _introspect(idp, _opaque(idp), (CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET))
    assert answer.json() == {"active": False}


@pytest.mark.parametrize("token", ["never-issued", ""])
def test_unknown_tokens_are_inactive_r7662_5(idp: DevIdP, token: str) -> None:
    """Checklist: R7662-5."""
    assert _introspect(idp, token).json() == {"active": False}


def test_expired_tokens_are_inactive(idp: DevIdP, clock: FrozenClock) -> None:
    token = _opaque(idp)
    clock.advance(idp.access_token_lifetime)
    assert _introspect(idp, token).json() == {"active": False}


def test_jwt_access_tokens_can_be_introspected_too(idp: DevIdP) -> None:
    token = login(idp.issuer, "demo-client", *ALICE).access_token
    assert _introspect(idp, token).json()["aud"] == idp.audience


def test_revoking_an_access_token_makes_it_inactive_rfc7009(idp: DevIdP) -> None:
    with DevIdPClient(idp.issuer) as client:
        tokens = client.login(*ALICE, resource=idp.opaque_audience)
        client.revoke(tokens.access_token, token_type_hint="access_token")
    assert _introspect(idp, tokens.access_token).json() == {"active": False}


def test_revoking_a_refresh_token_revokes_its_access_tokens_rfc7009(idp: DevIdP) -> None:
    with DevIdPClient(idp.issuer) as client:
        tokens = client.login(*ALICE, resource=idp.opaque_audience)
        assert tokens.refresh_token is not None
        client.revoke(tokens.refresh_token)
        refused = httpx.post(
            idp.token_endpoint,
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens.refresh_token,
                "client_id": "demo-client",
            },
        )
    assert _introspect(idp, tokens.access_token).json() == {"active": False}
    assert refused.json()["error"] == "invalid_grant"


def test_revoking_an_unknown_token_is_not_an_error_rfc7009_2_2(idp: DevIdP) -> None:
    response = httpx.post(
        idp.issuer + "/revoke", data={"token": "never-issued", "client_id": "demo-client"}
    )
    assert response.status_code == 200


def test_a_client_cannot_revoke_another_clients_token(idp: DevIdP) -> None:
    token = _opaque(idp)
    response = httpx.post(
        idp.issuer + "/revoke",
        data={"token": token},
        auth=(CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET),
    )
    assert response.status_code == 400
    assert _introspect(idp, token).json()["active"] is True
