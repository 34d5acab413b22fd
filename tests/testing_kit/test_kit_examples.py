"""The example tests of docs/testing.md, run for real: a Flask route and a Starlette route.

They use only the pytest plugin's fixtures (``stepup_issuer``, ``stepup_tokens``,
``stepup_clock``) and the assertion helpers, as a user's test suite would; keep them in step
with the document.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from stepup_mfa import Guard, Policy
from stepup_mfa._verify.jwt_verifier import JWTVerifier
from stepup_mfa._verify.transports import AsyncHttpxTransport, HttpxTransport
from stepup_mfa.integrations.flask import FlaskStepUp, current_principal
from stepup_mfa.integrations.starlette import principal_of, require
from stepup_mfa.testing import (
    FakeIssuer,
    FrozenClock,
    TokenFactory,
    assert_invalid_token,
    assert_step_up,
    assert_unauthenticated,
)

MFA_ACR = "urn:stepup-mfa:acr:mfa"
CATS = Policy(scopes=["cats:read"], acr_values=[MFA_ACR], max_age=60)


@pytest.fixture
def guard(stepup_issuer: FakeIssuer, stepup_clock: FrozenClock) -> Iterator[Guard]:
    verifier = JWTVerifier(
        issuer=stepup_issuer.issuer,
        audience="https://api.example.com",
        allow_insecure_http=True,  # the fake issuer is http on 127.0.0.1
    )
    to_issuer = HttpxTransport()  # closed after the test, so no socket outlives it
    yield Guard(verifier, realm="api", clock=stepup_clock, transport=to_issuer)
    to_issuer.close()


# -- Flask -----------------------------------------------------------------------------------------


def create_flask_app(guard: Guard) -> Flask:
    app = Flask(__name__)
    stepup = FlaskStepUp(guard)
    stepup.init_app(app)

    @app.get("/cats/")
    @stepup.require(CATS)
    def cats() -> dict[str, Any]:
        return {"sub": current_principal.subject}

    return app


@pytest.fixture
def flask_client(guard: Guard) -> Any:
    return create_flask_app(guard).test_client()


def test_flask_cats_needs_mfa_in_the_last_60_seconds_r9470_4(
    flask_client: Any, stepup_tokens: TokenFactory, stepup_clock: FrozenClock
) -> None:
    """Checklist: R9470-4."""
    token = stepup_tokens.mint(mfa=True, scope="cats:read")
    headers = {"Authorization": f"Bearer {token}"}

    assert flask_client.get("/cats/", headers=headers).status_code == 200

    stepup_clock.advance(61)  # no sleeping: the Guard reads the frozen clock
    assert_step_up(flask_client.get("/cats/", headers=headers), max_age=60, acr_values=MFA_ACR)


def test_flask_password_login_is_asked_to_step_up_r9470_1(
    flask_client: Any, stepup_tokens: TokenFactory
) -> None:
    """Checklist: R9470-1."""
    token = stepup_tokens.password_token(scope="cats:read")
    response = flask_client.get("/cats/", headers={"Authorization": f"Bearer {token}"})
    assert_step_up(response, acr_values=MFA_ACR, max_age=60)


def test_flask_no_token_and_bad_token_r6750_9_r6750_16(
    flask_client: Any, stepup_tokens: TokenFactory
) -> None:
    """Checklist: R6750-9, R6750-16."""
    assert_unauthenticated(flask_client.get("/cats/"), realm="api")
    expired = stepup_tokens.mint(mfa=True, scope="cats:read", expires_in=-3600)
    response = flask_client.get("/cats/", headers={"Authorization": f"Bearer {expired}"})
    assert_invalid_token(response)


# -- Starlette -------------------------------------------------------------------------------------


def create_starlette_app(guard: Guard) -> Starlette:
    @require(guard, CATS)
    async def cats(request: Request) -> JSONResponse:
        principal = principal_of(request)
        assert principal is not None
        return JSONResponse({"sub": principal.subject})

    return Starlette(routes=[Route("/cats/", cats)])


@pytest.mark.anyio
async def test_starlette_cats_needs_mfa_in_the_last_60_seconds_r9470_4(
    stepup_issuer: FakeIssuer, stepup_tokens: TokenFactory, stepup_clock: FrozenClock
) -> None:
    # httpx clients belong to one event loop: give the Guard one and close it with the loop.
    """Checklist: R9470-4."""
    to_issuer = AsyncHttpxTransport()
    verifier = JWTVerifier(
        issuer=stepup_issuer.issuer, audience="https://api.example.com", allow_insecure_http=True
    )
    guard = Guard(verifier, realm="api", clock=stepup_clock, async_transport=to_issuer)
    token = stepup_tokens.mint(mfa=True, scope="cats:read", auth_age=30)
    headers = {"Authorization": f"Bearer {token}"}
    app = httpx.ASGITransport(app=create_starlette_app(guard))
    try:
        async with httpx.AsyncClient(transport=app, base_url="http://testserver") as client:
            assert (await client.get("/cats/", headers=headers)).json() == {"sub": "user-1"}
            stepup_clock.advance(31)
            response = await client.get("/cats/", headers=headers)
    finally:
        await to_issuer.aclose()
    assert_step_up(response, max_age=60, acr_values=MFA_ACR)
