"""The raw ASGI middleware and the Starlette decorator beyond the shared table: scopes other than
HTTP, websockets, CORS preflight, root_path, the principal on ``request.state``, form bodies."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from adapter_apps import CATS, TABLE, MakeGuard, TestClient
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route as StarletteRoute
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from stepup_mfa import AUTHENTICATED, Guard, TokenMethods
from stepup_mfa.asgi import StepUpMiddleware
from stepup_mfa.integrations.starlette import principal_of, require
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import TokenFactory


async def echo_state(request: Request) -> JSONResponse:
    principal = request.state.principal
    return JSONResponse({"sub": principal.subject if principal else None})


async def ws_endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    principal = principal_of(websocket)
    await websocket.send_text(principal.subject if principal else "-")
    await websocket.close()


#: The shared table's /cats/ entry; the app below serves no other route of it.
CATS_TABLE = RouteTable([Route("GET", "/cats/", CATS)])


def middleware_app(guard: Guard, table: RouteTable = CATS_TABLE, **options: Any) -> Starlette:
    return Starlette(
        routes=[
            StarletteRoute("/cats/", echo_state, methods=["GET", "POST", "OPTIONS"]),
            WebSocketRoute("/ws/cats/", ws_endpoint),
        ],
        middleware=[Middleware(StepUpMiddleware, guard=guard, routes=table)],
        **options,
    )


def auth(token: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token}


@pytest.mark.anyio
async def test_lifespan_scope_passes_through_untouched(guard: Guard) -> None:
    seen: list[tuple[Any, Any, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: Any) -> None:
        return None

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    await StepUpMiddleware(app, guard=guard, routes=TABLE)(scope, receive, send)
    assert seen == [(scope, receive, send)] and seen[0][0] == {
        "type": "lifespan",
        "asgi": {"version": "3.0"},
    }


def test_lifespan_runs_through_the_middleware_in_a_real_app(guard: Guard) -> None:
    started: list[bool] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        started.append(True)
        yield

    app = middleware_app(guard, lifespan=lifespan)
    with TestClient(app):
        pass
    assert started == [True]


def test_principal_is_on_request_state(guard: Guard, tokens: TokenFactory) -> None:
    client = TestClient(middleware_app(guard))
    response = client.get("/cats/", headers=auth(tokens.mfa_token(scope="cats:read")))
    assert response.json() == {"sub": "user-1"}


def test_websocket_refused_with_1008(guard: Guard) -> None:
    client = TestClient(middleware_app(guard))
    with pytest.raises(WebSocketDisconnect) as closed:
        with client.websocket_connect("/ws/cats/"):
            pass
    assert closed.value.code == 1008


def test_websocket_admitted_with_principal(guard: Guard, tokens: TokenFactory) -> None:
    client = TestClient(middleware_app(guard))
    with client.websocket_connect("/ws/cats/", headers=auth(tokens.password_token())) as ws:
        assert ws.receive_text() == "user-1"


def test_websocket_route_policy_is_the_get_entry(guard: Guard, tokens: TokenFactory) -> None:
    table = RouteTable([Route("GET", "/ws/cats/", CATS)])
    client = TestClient(middleware_app(guard, table))
    with pytest.raises(WebSocketDisconnect) as closed:
        with client.websocket_connect("/ws/cats/", headers=auth(tokens.password_token())):
            pass
    assert (closed.value.code, closed.value.reason) == (1008, "insufficient_user_authentication")


PREFLIGHT = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}


def test_cors_preflight_passes_without_token_where_no_handler_answers_it(guard: Guard) -> None:
    """The router answers it (405: no handler runs), never the middleware with a 401."""
    app = Starlette(
        routes=[StarletteRoute("/dogs/", echo_state)],
        middleware=[Middleware(StepUpMiddleware, guard=guard,
                               routes=RouteTable([Route("GET", "/dogs/", CATS)]))],
    )  # fmt: skip
    assert TestClient(app).options("/dogs/", headers=PREFLIGHT).status_code == 405


def test_bind_1_a_preflight_to_a_handler_that_answers_options_needs_a_token(guard: Guard) -> None:
    """/cats/ serves OPTIONS itself: a fake preflight must not run it without a token."""
    client = TestClient(middleware_app(guard))
    assert client.options("/cats/", headers=PREFLIGHT).status_code == 401


def test_plain_options_still_needs_a_token(guard: Guard) -> None:
    client = TestClient(middleware_app(guard))
    assert client.options("/cats/").status_code == 401


def test_options_without_origin_is_not_a_preflight(guard: Guard) -> None:
    """A CORS preflight always carries Origin (Fetch standard); without it, a token is needed."""
    client = TestClient(middleware_app(guard))
    headers = {"Access-Control-Request-Method": "GET"}
    assert client.options("/cats/", headers=headers).status_code == 401


def test_root_path_is_stripped_before_matching(guard: Guard) -> None:
    table = RouteTable([Route("GET", "/cats/", AUTHENTICATED)], default=CATS)
    client = TestClient(middleware_app(guard, table), root_path="/api")
    response = client.get("/api/cats/")
    assert response.headers["www-authenticate"] == 'Bearer realm="catsdogs"'


def test_form_body_token_is_read_and_replayed(make_guard: MakeGuard, tokens: TokenFactory) -> None:
    """R6750-5 with the body method on: the token counts, and the app still gets the body."""

    async def form(request: Request) -> PlainTextResponse:
        return PlainTextResponse((await request.body()).decode())

    guard = make_guard(token_methods=TokenMethods(body=True))
    table = RouteTable([Route("POST", "/form/", AUTHENTICATED)])
    app = Starlette(
        routes=[StarletteRoute("/form/", form, methods=["POST"])],
        middleware=[Middleware(StepUpMiddleware, guard=guard, routes=table)],
    )
    body = "access_token=" + tokens.password_token() + "&x=1"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = TestClient(app).post("/form/", content=body, headers=headers)
    assert (response.status_code, response.text) == (200, body)


def test_form_body_ignored_when_the_method_is_off(guard: Guard, tokens: TokenFactory) -> None:
    """R6750-4: off by default, so a body token is not a credential."""
    table = RouteTable([Route("POST", "/cats/", AUTHENTICATED)])
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    body = "access_token=" + tokens.password_token()
    response = TestClient(middleware_app(guard, table)).post(
        "/cats/", content=body, headers=headers
    )
    assert response.headers["www-authenticate"] == 'Bearer realm="catsdogs"'


# -- the decorator on endpoint classes and websockets ----------------------------------------


def decorated_app(guard: Guard) -> Starlette:
    class Cats(HTTPEndpoint):
        @require(guard, CATS)
        async def get(self, request: Request) -> JSONResponse:
            return JSONResponse({"sub": principal_of(request).subject})  # type: ignore[union-attr]

        @require(guard, AUTHENTICATED)
        def post(self, request: Request) -> JSONResponse:
            return JSONResponse({"sub": request.state.principal.subject})

    @require(guard, CATS)
    async def ws(websocket: WebSocket) -> None:
        await ws_endpoint(websocket)

    return Starlette(routes=[StarletteRoute("/cats/", Cats), WebSocketRoute("/ws/", ws)])


def test_decorated_http_endpoint_async_method(guard: Guard, tokens: TokenFactory) -> None:
    client = TestClient(decorated_app(guard))
    response = client.get("/cats/", headers=auth(tokens.mfa_token(scope="cats:read")))
    assert response.json() == {"sub": "user-1"}


def test_decorated_http_endpoint_sync_method(guard: Guard, tokens: TokenFactory) -> None:
    client = TestClient(decorated_app(guard))
    response = client.post("/cats/", headers=auth(tokens.password_token()))
    assert response.json() == {"sub": "user-1"}


def test_decorated_http_endpoint_refuses(guard: Guard, tokens: TokenFactory) -> None:
    client = TestClient(decorated_app(guard))
    response = client.get("/cats/", headers=auth(tokens.password_token(scope="cats:read")))
    assert response.status_code == 401


def test_decorated_websocket_refused_with_1008(guard: Guard, tokens: TokenFactory) -> None:
    client = TestClient(decorated_app(guard))
    with pytest.raises(WebSocketDisconnect) as closed:
        with client.websocket_connect("/ws/", headers=auth(tokens.password_token())):
            pass
    assert closed.value.code == 1008


def test_decorated_websocket_admitted(guard: Guard, tokens: TokenFactory) -> None:
    client = TestClient(decorated_app(guard))
    token = tokens.mfa_token(scope="cats:read")
    with client.websocket_connect("/ws/", headers=auth(token)) as ws:
        assert ws.receive_text() == "user-1"
