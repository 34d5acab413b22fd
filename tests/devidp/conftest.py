"""Fixtures for the development authorization server's tests.

The server runs for real on 127.0.0.1 (``stepup_dev_idp`` from the project's own pytest plugin)
and follows a frozen clock, so MFA windows and TOTP steps move without sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import jwt as pyjwt
import pytest

from stepup_mfa.devidp import DevIdP, DevIdPClient
from stepup_mfa.testing import FrozenClock

ALICE = ("alice", "alice-password")


@pytest.fixture
def clock(stepup_clock: FrozenClock) -> FrozenClock:
    return stepup_clock


@pytest.fixture
def idp(stepup_dev_idp: DevIdP) -> DevIdP:
    return stepup_dev_idp


@pytest.fixture
def browser(idp: DevIdP) -> Iterator[DevIdPClient]:
    """A scripted user agent with a cookie jar: consecutive logins share one session."""
    with DevIdPClient(idp.issuer) as client:
        yield client


def verify_with_pyjwt(idp: DevIdP, token: str, now: float) -> dict[str, Any]:
    """An independent check (PyJWT) of signature, typ, iss and aud, and of exp at ``now``."""
    header = pyjwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt"
    jwk = next(k for k in idp.jwks()["keys"] if k["kid"] == header["kid"])
    claims: dict[str, Any] = pyjwt.decode(
        token,
        pyjwt.PyJWK(jwk),
        algorithms=[jwk["alg"]],
        audience=idp.audience,
        issuer=idp.issuer,
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    assert claims["iat"] <= now < claims["exp"]
    return claims


@pytest.fixture
def claims_of(idp: DevIdP, clock: FrozenClock) -> Callable[[str], dict[str, Any]]:
    return lambda token: verify_with_pyjwt(idp, token, clock())
