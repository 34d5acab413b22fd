"""FastAPI beyond the shared table: OpenAPI, an app without ``install``, websockets."""

from __future__ import annotations

from typing import Any

import pytest
from adapter_apps import CATS, TestClient
from fastapi import Depends, FastAPI, WebSocket
from starlette.websockets import WebSocketDisconnect

from stepup_mfa import Guard, Principal
from stepup_mfa.integrations.fastapi import StepUp
from stepup_mfa.testing import TokenFactory


def make_app(guard: Guard, *, install: bool = True) -> FastAPI:
    app = FastAPI()
    stepup = StepUp(guard)
    if install:
        stepup.install(app)

    @app.get("/cats/")
    async def cats(principal: Principal = Depends(stepup.dependency(CATS))) -> dict[str, Any]:  # noqa: B008
        return {"sub": principal.subject}

    @app.websocket("/ws/")
    async def ws(
        websocket: WebSocket,
        principal: Principal = Depends(stepup.websocket_dependency(CATS)),  # noqa: B008
    ) -> None:
        await websocket.accept()
        await websocket.send_text(str(principal.subject))
        await websocket.close()

    return app


def test_openapi_declares_the_bearer_scheme(guard: Guard) -> None:
    document = TestClient(make_app(guard)).get("/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"]["type"] == "http" and schemes["bearer"]["scheme"] == "bearer"


def test_openapi_marks_the_route_as_secured(guard: Guard) -> None:
    document = TestClient(make_app(guard)).get("/openapi.json").json()
    assert document["paths"]["/cats/"]["get"]["security"] == [{"bearer": []}]


def test_without_install_the_status_and_challenge_still_hold(guard: Guard) -> None:
    response = TestClient(make_app(guard, install=False)).get("/cats/")
    assert (response.status_code, response.headers["www-authenticate"]) == (
        401,
        'Bearer realm="catsdogs"',
    )


def test_websocket_dependency_refuses_with_1008(guard: Guard, tokens: TokenFactory) -> None:
    headers = {"Authorization": "Bearer " + tokens.password_token(scope="cats:read")}
    with pytest.raises(WebSocketDisconnect) as closed:
        with TestClient(make_app(guard)).websocket_connect("/ws/", headers=headers):
            pass
    assert (closed.value.code, closed.value.reason) == (1008, "insufficient_user_authentication")


def test_websocket_dependency_admits(guard: Guard, tokens: TokenFactory) -> None:
    headers = {"Authorization": "Bearer " + tokens.mfa_token(scope="cats:read")}
    with TestClient(make_app(guard)).websocket_connect("/ws/", headers=headers) as ws:
        assert ws.receive_text() == "user-1"
