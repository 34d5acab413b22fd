"""Second adversarial round on the route binding (issue 10): the resolution memo, the dispatch
check in front of the routers, preflights and one-handler-one-policy. Each test states a safe
behaviour that held; the holes found are reported separately, not kept here as failing tests.
"""

from __future__ import annotations

from typing import Any

import anyio
import flask
import pytest
from adapter_apps import TestClient
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from flask.views import MethodView
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Host, Match, Mount, Router, WebSocketRoute
from starlette.routing import Route as SRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from werkzeug.test import Client as WerkzeugClient

from stepup_mfa import ANONYMOUS, ConfigurationError, Guard, Policy
from stepup_mfa.adapters._starlette_routing import template_resolver
from stepup_mfa.asgi import StepUpMiddleware
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import MFA_ACR, TokenFactory
from stepup_mfa.wsgi import StepUpWSGIMiddleware

MFA = Policy(acr_values=MFA_ACR, max_age=60, name="mfa-60s")
PREFLIGHT = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}


def anonymous_default(*entries: Route) -> RouteTable:
    return RouteTable(list(entries), default=ANONYMOUS, allow_anonymous_default=True)


def guarded(guard: Guard, routes: list[Any], table: RouteTable, *inner: Middleware) -> Starlette:
    middleware = [Middleware(StepUpMiddleware, guard=guard, routes=table), *inner]
    return Starlette(routes=routes, middleware=middleware)


def password(tokens: TokenFactory) -> dict[str, str]:
    return {"Authorization": "Bearer " + tokens.password_token()}


async def secret(request: Request) -> Response:
    return PlainTextResponse("SECRET " + request.method)


async def public(request: Request) -> Response:
    return PlainTextResponse("public")


class LowerPath:
    """An inner middleware that rewrites the path (case folding, as some proxies' apps do)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {**scope, "path": scope["path"].lower()}
        await self.app(scope, receive, send)


async def call(app: Any, scope: dict[str, Any]) -> tuple[int, bytes]:
    """One HTTP request straight through the ASGI interface (a hand-built scope)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    base = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    full = {**base, **scope}
    full.setdefault("raw_path", full["path"].encode())
    await app(full, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


# -- BIND-1: the memo ----------------------------------------------------------------------------


def test_bind1_memo_is_keyed_by_root_path(guard: Guard) -> None:
    table = anonymous_default(Route("GET", "/admin", MFA), Route("GET", "/{rest:path}", ANONYMOUS))
    app = guarded(guard, [SRoute("/admin", secret), SRoute("/{rest:path}", public)], table)

    async def scenario() -> list[tuple[int, bytes]]:
        # remembered first as the catch-all (root_path ""), then asked with root_path "/p"
        first = await call(app, {"path": "/p/admin", "root_path": ""})
        second = await call(app, {"path": "/p/admin", "root_path": "/p"})
        return [first, second]

    first, second = anyio.run(scenario)
    assert first == (200, b"public")
    assert second[0] == 401


def test_bind1_memo_keeps_websocket_and_http_apart(guard: Guard) -> None:
    async def chat(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("SECRET")
        await websocket.close()

    table = anonymous_default(Route("GET", "/{page}/", ANONYMOUS), Route("GET", "/chat/", MFA))
    app = guarded(guard, [SRoute("/{page}/", public), WebSocketRoute("/chat/", chat)], table)
    with TestClient(app) as client:
        assert client.get("/chat/").text == "public"  # the http answer is remembered first
        with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/chat/") as ws:
            ws.receive_text()
    assert closed.value.code == 1008


def test_bind1_resolution_keeps_no_state_under_many_distinct_paths() -> None:
    router = Router([SRoute("/{page}", public)])
    resolve = template_resolver(router)
    for n in range(5000):
        assert resolve({"type": "http", "method": "GET", "root_path": "", "path": f"/{n}"})
    assert set(resolve.__code__.co_freevars) == {"router"}


def test_bind1_host_routes_are_not_remembered_by_path(guard: Guard) -> None:
    table = anonymous_default(Route("GET", "/panel", MFA), Route("GET", "/{page}", ANONYMOUS))
    routes = [
        Host("admin.example", app=Router([SRoute("/panel", secret)])),
        SRoute("/{page}", public),
    ]
    app = guarded(guard, routes, table)
    with TestClient(app, base_url="http://www.example") as client:
        assert client.get("/panel").text == "public"  # remembered, if it were, as the catch-all
        response = client.get("/panel", headers={"Host": "admin.example"})
    assert response.status_code == 401


def test_bind1_route_subclass_with_own_matching_is_asked_every_time(guard: Guard) -> None:
    class BetaRoute(APIRoute):
        def matches(self, scope: Any) -> tuple[Match, Any]:
            if (b"x-beta", b"1") not in scope.get("headers", []):
                return Match.NONE, {}
            return super().matches(scope)

    table = anonymous_default(Route("GET", "/beta/", MFA), Route("GET", "/{page}/", ANONYMOUS))
    app = FastAPI(middleware=[Middleware(StepUpMiddleware, guard=guard, routes=table)])
    beta = APIRouter(route_class=BetaRoute)

    @beta.get("/beta/")
    async def beta_view() -> str:
        return "SECRET"

    app.include_router(beta)

    @app.get("/{page}/")
    async def page(page: str) -> str:
        return "public"

    with TestClient(app) as client:
        assert client.get("/beta/").json() == "public"
        response = client.get("/beta/", headers={"X-Beta": "1"})
    assert response.status_code == 401


# -- BIND-1: the dispatch check ------------------------------------------------------------------


def test_bind1_sub_app_with_its_own_rewriting_middleware_meets_the_route_policy(
    guard: Guard, tokens: TokenFactory
) -> None:
    sub = Starlette(
        routes=[SRoute("/admin/", secret), SRoute("/{name}/", public)],
        middleware=[Middleware(LowerPath)],
    )
    table = anonymous_default(
        Route("GET", "/sub/admin/", MFA), Route("GET", "/sub/{name}/", ANONYMOUS)
    )
    app = guarded(guard, [Mount("/sub", app=sub)], table)
    with TestClient(app) as client:
        response = client.get("/sub/ADMIN/", headers=password(tokens))
    assert response.status_code == 401


def test_bind1_fastapi_included_router_in_a_mounted_sub_app_with_rewriting_middleware(
    guard: Guard,
) -> None:
    sub = FastAPI(middleware=[Middleware(LowerPath)])
    inner = APIRouter(prefix="/r")

    @inner.get("/admin/")
    async def admin() -> str:
        return "SECRET"

    @inner.get("/{name}/")
    async def named(name: str) -> str:
        return "public"

    sub.include_router(inner)
    table = anonymous_default(
        Route("GET", "/m/r/admin/", MFA), Route("GET", "/m/r/{name}/", ANONYMOUS)
    )
    app = guarded(guard, [Mount("/m", app=sub)], table)
    with TestClient(app) as client:
        response = client.get("/m/r/ADMIN/")
    assert response.status_code == 401


def test_bind1_inner_middleware_calling_the_router_twice_meets_the_policy_each_time(
    guard: Guard,
) -> None:
    class Twice:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await self.app(scope, receive, send)
                return

            async def drop(message: Any) -> None:
                pass

            await self.app({**scope, "path": "/page/"}, receive, drop)
            await self.app({**scope, "path": scope["path"].lower()}, receive, send)

    table = anonymous_default(Route("GET", "/admin/", MFA), Route("GET", "/{name}/", ANONYMOUS))
    app = guarded(
        guard, [SRoute("/admin/", secret), SRoute("/{name}/", public)], table, Middleware(Twice)
    )
    with TestClient(app) as client:
        response = client.get("/ADMIN/")
    assert response.status_code == 401


def test_bind1_client_headers_cannot_forge_the_judged_record(guard: Guard) -> None:
    table = anonymous_default(Route("GET", "/admin/", MFA), Route("GET", "/{name}/", ANONYMOUS))
    app = guarded(
        guard,
        [SRoute("/admin/", secret), SRoute("/{name}/", public)],
        table,
        Middleware(LowerPath),
    )
    headers = {"stepup_mfa.judged": "('/admin/', '', 'GET', '/admin/', None)"}
    with TestClient(app) as client:
        response = client.get("/ADMIN/", headers=headers)
    assert response.status_code == 401


def test_bind1_inner_method_override_middleware_meets_the_post_policy(
    guard: Guard, tokens: TokenFactory
) -> None:
    class MethodOverride:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            override = dict(scope.get("headers", [])).get(b"x-http-method-override")
            if scope["type"] == "http" and override:
                scope = {**scope, "method": override.decode()}
            await self.app(scope, receive, send)

    table = RouteTable([Route("GET", "/wire", ANONYMOUS), Route("POST", "/wire", MFA)])
    app = guarded(
        guard, [SRoute("/wire", secret, methods=["GET", "POST"])], table, Middleware(MethodOverride)
    )
    with TestClient(app) as client:
        response = client.get(
            "/wire", headers={"X-HTTP-Method-Override": "POST", **password(tokens)}
        )
    assert response.status_code == 401


# -- BIND-1: preflights --------------------------------------------------------------------------


def test_bind1_function_route_without_methods_answers_a_preflight_with_405_only(
    guard: Guard,
) -> None:
    table = RouteTable([Route("GET", "/admin/", MFA)])
    app = guarded(guard, [SRoute("/admin/", secret, methods=None)], table)
    with TestClient(app) as client:
        response = client.options("/admin/", headers=PREFLIGHT)
    assert (response.status_code, "SECRET" in response.text) == (405, False)


def test_bind1_http_endpoint_with_options_from_a_mixin_is_judged_not_passed(
    guard: Guard,
) -> None:
    class OptionsMixin:
        async def options(self, request: Request) -> Response:
            return PlainTextResponse("SECRET OPTIONS")

    class Admin(OptionsMixin, HTTPEndpoint):
        async def get(self, request: Request) -> Response:
            return PlainTextResponse("SECRET GET")

    table = RouteTable([Route("GET,OPTIONS", "/admin/", MFA)])
    app = guarded(guard, [SRoute("/admin/", Admin)], table)
    with TestClient(app) as client:
        response = client.options("/admin/", headers=PREFLIGHT)
    assert response.status_code == 401


# -- BIND-2: Flask preflights and the dispatch check ---------------------------------------------


def test_bind2_flask_method_view_with_options_is_judged_not_passed(guard: Guard) -> None:
    app = flask.Flask(__name__)

    class Admin(MethodView):
        def get(self) -> str:
            return "SECRET GET"

        def options(self) -> str:
            return "SECRET OPTIONS"

    app.add_url_rule("/admin/", view_func=Admin.as_view("admin"))
    table = RouteTable([Route("GET,OPTIONS", "/admin/", MFA)])
    client = WerkzeugClient(StepUpWSGIMiddleware(app, guard=guard, routes=table))
    response = client.options("/admin/", headers=PREFLIGHT)
    assert response.status_code == 401


def test_bind2_flask_without_automatic_options_runs_no_view_for_a_preflight(
    guard: Guard,
) -> None:
    app = flask.Flask(__name__)

    def admin() -> str:
        return "SECRET " + flask.request.method

    app.add_url_rule("/admin/", view_func=admin, provide_automatic_options=False)
    table = RouteTable([Route("GET", "/admin/", MFA)])
    client = WerkzeugClient(StepUpWSGIMiddleware(app, guard=guard, routes=table))
    response = client.options("/admin/", headers=PREFLIGHT)
    assert (response.status_code, b"SECRET" in response.data) == (405, False)


def test_bind2_dispatch_check_runs_before_blueprint_before_request_functions(
    guard: Guard,
) -> None:
    app = flask.Flask(__name__)
    ran: list[str] = []
    blueprint = flask.Blueprint("bp", __name__)

    @blueprint.before_request
    def side_effect() -> None:
        ran.append(flask.request.path)

    @blueprint.get("/admin/")
    def admin() -> str:
        return "SECRET"

    @blueprint.get("/<name>/")
    def named(name: str) -> str:
        return "public"

    app.register_blueprint(blueprint)
    inner = app.wsgi_app

    def lower(environ: Any, start_response: Any) -> Any:
        environ["PATH_INFO"] = environ["PATH_INFO"].lower()
        return inner(environ, start_response)

    app.wsgi_app = lower  # type: ignore[method-assign]
    table = anonymous_default(Route("GET", "/admin/", MFA), Route("GET", "/<name>/", ANONYMOUS))
    response = WerkzeugClient(StepUpWSGIMiddleware(app, guard=guard, routes=table)).get("/ADMIN/")
    assert (response.status_code, ran) == (401, [])


# -- BIND-5: one handler, one policy -------------------------------------------------------------


def test_bind5_one_http_endpoint_class_on_two_routes_needs_one_policy(guard: Guard) -> None:
    class Admin(HTTPEndpoint):
        async def get(self, request: Request) -> Response:
            return PlainTextResponse("SECRET")

    table = anonymous_default(Route("GET", "/admin", MFA))
    app = guarded(guard, [SRoute("/admin", Admin), SRoute("/legacy-admin", Admin)], table)
    with pytest.raises(ConfigurationError, match="run one handler"), TestClient(app):
        pass


def test_bind5_one_flask_endpoint_on_two_rules_needs_one_policy(guard: Guard) -> None:
    app = flask.Flask(__name__)

    @app.get("/admin")
    @app.get("/legacy-admin")
    def admin() -> str:
        return "SECRET"

    table = anonymous_default(Route("GET", "/admin", MFA))
    client = WerkzeugClient(StepUpWSGIMiddleware(app, guard=guard, routes=table))
    with pytest.raises(ConfigurationError, match="run one handler"):
        client.get("/legacy-admin")
