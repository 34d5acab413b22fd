"""Adversarial review of issue 10: a policy is bound to what the framework dispatches.

Each test tries one way to reach a protected handler under a weaker policy (or with no token),
or to make the library answer 5xx, hang or garble a connection, beyond what the raw-socket
spelling harness in ``tests/binding`` covers. Ids:

- BIND-1 Starlette/FastAPI: the policy is the dispatched route's (Mount, Host, root_path,
  ``{path:path}``, HTTPEndpoint, included routers, routes added late, slash redirects).
- BIND-2 Flask: the policy is the rule Flask's URL adapter picks (blueprints, strict_slashes,
  merge_slashes, subdomains, MethodView, binding on a first request under threads).
- BIND-3 raw ASGI/WSGI apps: non-canonical paths refused with 400, canonical ones judged.
- BIND-4 websockets: routes, included routers, ``WebSocketEndpoint`` methods.
- BIND-5 table entries checked against the app at start-up.
- BIND-6 FastAPI dependency misuse fails at declaration; ``Security`` scopes enforced.
- BIND-7 Flask ``@stepup.require`` above ``@app.get`` detected.
- BIND-8 a HEAD refusal has no body; keep-alive stays in step on real servers.
- BIND-9 form bodies bounded; a disconnect mid-body is not judged or replayed.

Every handler here answers ``SECRET`` (or its name); a test that sees that text without a
sufficient token has found a hole.
"""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import anyio
import flask
import pytest
import uvicorn
import waitress
from adapter_apps import MakeGuard, TestClient
from fastapi import APIRouter, Depends, FastAPI, Security, WebSocket
from flask.views import MethodView
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint, WebSocketEndpoint
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Host, Mount, Router, WebSocketRoute
from starlette.routing import Route as SRoute
from starlette.websockets import WebSocketDisconnect
from werkzeug.test import Client as WerkzeugClient

from stepup_mfa import (
    ANONYMOUS,
    AUTHENTICATED,
    ConfigurationError,
    Guard,
    Policy,
    PolicyWarning,
    TokenMethods,
)
from stepup_mfa.asgi import StepUpMiddleware
from stepup_mfa.integrations.fastapi import StepUp
from stepup_mfa.integrations.flask import FlaskStepUp
from stepup_mfa.integrations.starlette import require
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import MFA_ACR, TokenFactory
from stepup_mfa.wsgi import StepUpWSGIMiddleware

MFA = Policy(acr_values=MFA_ACR, max_age=60, name="mfa-60s")
PREFLIGHT = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
FORM = "application/x-www-form-urlencoded"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token}


def text(body: str) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse(body)

    return endpoint


def anonymous_default_table(*routes: Route) -> RouteTable:
    return RouteTable(routes, default=ANONYMOUS, allow_anonymous_default=True)


def starlette_app(guard: Guard, routes: list[Any], table: RouteTable, **kw: Any) -> Starlette:
    middleware = [Middleware(StepUpMiddleware, guard=guard, routes=table)]
    return Starlette(routes=routes, middleware=middleware, **kw)


# -- BIND-1: Starlette / FastAPI: the dispatched route's policy -------------------------------


def _mount_app(guard: Guard) -> Starlette:
    sub = Starlette(routes=[SRoute("/cats/", text("SECRET")), SRoute("/{rest:path}", text("rest"))])
    table = anonymous_default_table(
        Route("GET", "/sub/cats/", MFA), Route("GET", "/sub/{rest:path}", ANONYMOUS)
    )
    return starlette_app(guard, [Mount("/sub", app=sub)], table)


def test_bind1_mounted_sub_app_route_meets_its_own_entry(
    guard: Guard, tokens: TokenFactory
) -> None:
    with TestClient(_mount_app(guard)) as client:
        refused = client.get("/sub/cats/", headers=auth(tokens.password_token()))
        admitted = client.get("/sub/cats/", headers=auth(tokens.mfa_token()))
    assert (refused.status_code, admitted.text) == (401, "SECRET")


@pytest.mark.parametrize("path", ["/sub//cats/", "/sub/cats", "/sub/cats/x"])
def test_bind1_mounted_sub_app_spellings_reach_only_the_catch_all(guard: Guard, path: str) -> None:
    with TestClient(_mount_app(guard)) as client:
        response = client.get(path, follow_redirects=False)
    assert "SECRET" not in response.text


def _host_app(guard: Guard) -> Starlette:
    admin = Router([SRoute("/panel/", text("SECRET"))])
    table = anonymous_default_table(Route("GET", "/panel/", MFA))
    return starlette_app(guard, [Host("admin.example.com", app=admin)], table)


@pytest.mark.parametrize(
    "host",
    ["admin.example.com", "ADMIN.example.com", "admin.example.com:8080", "Admin.Example.Com"],
)
def test_bind1_host_route_spellings_meet_the_host_route_policy(guard: Guard, host: str) -> None:
    with TestClient(_host_app(guard)) as client:
        response = client.get("/panel/", headers={"host": host})
    assert "SECRET" not in response.text


@pytest.mark.parametrize("host", ["admin.example.com.", "evil.example", ""])
def test_bind1_host_route_is_not_reached_through_other_hosts(guard: Guard, host: str) -> None:
    with TestClient(_host_app(guard)) as client:
        response = client.get("/panel/", headers={"host": host})
    assert "SECRET" not in response.text


@pytest.mark.parametrize(
    "path", ["/files/a", "/files/a/b/c", "/files/", "/files/%0A", "/files/..%2F"]
)
def test_bind1_path_convertor_route_meets_its_policy_at_any_depth(guard: Guard, path: str) -> None:
    table = anonymous_default_table(Route("GET", "/files/{p:path}", MFA))
    app = starlette_app(guard, [SRoute("/files/{p:path}", text("SECRET"))], table)
    with TestClient(app) as client:
        response = client.get(path)
    assert "SECRET" not in response.text


class _Endpoint(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        return PlainTextResponse("SECRET")


@pytest.mark.parametrize("method", ["GET", "HEAD", "get", "Get", "head"])
def test_bind1_http_endpoint_any_method_spelling_meets_the_get_policy(
    guard: Guard, tokens: TokenFactory, method: str
) -> None:
    table = anonymous_default_table(Route("GET", "/ep/", MFA))
    app = starlette_app(guard, [SRoute("/ep/", _Endpoint)], table)
    with TestClient(app) as client:
        response = client.request(method, "/ep/", headers=auth(tokens.password_token()))
    assert response.status_code in (401, 405)
    assert "SECRET" not in response.text


def test_bind1_cors_preflight_on_an_endpoint_without_options_is_only_a_405(guard: Guard) -> None:
    table = RouteTable([Route("GET", "/ep/", MFA)])
    app = starlette_app(guard, [SRoute("/ep/", _Endpoint)], table)
    with TestClient(app) as client:
        response = client.options("/ep/", headers=PREFLIGHT)
    assert (response.status_code, "SECRET" in response.text) == (405, False)


def test_bind1_slash_redirect_runs_no_handler_under_the_default(guard: Guard) -> None:
    table = anonymous_default_table(Route("GET", "/cats/", MFA))
    app = starlette_app(guard, [SRoute("/cats/", text("SECRET"))], table)
    with TestClient(app) as client:
        redirect = client.get("/cats", follow_redirects=False)
        followed = client.get("/cats")
    assert (redirect.status_code, followed.status_code) == (307, 401)


def test_bind1_route_added_after_start_up_meets_the_default(
    guard: Guard, tokens: TokenFactory
) -> None:
    app = starlette_app(
        guard, [SRoute("/", text("index"))], RouteTable([Route("GET", "/", ANONYMOUS)])
    )
    with TestClient(app) as client:
        app.router.routes.append(SRoute("/late/", text("SECRET")))
        response = client.get("/late/")
        admitted = client.get("/late/", headers=auth(tokens.password_token()))
    assert (response.status_code, admitted.text) == (401, "SECRET")


def _fastapi_app(guard: Guard) -> FastAPI:
    table = anonymous_default_table(
        Route("GET", "/v1/a/cats/", MFA),
        Route("GET", "/v1/a/{name}/", ANONYMOUS),
        Route("GET", "/sub/cats/", MFA),
    )
    app = FastAPI(middleware=[Middleware(StepUpMiddleware, guard=guard, routes=table)])
    inner = APIRouter(prefix="/a")

    @inner.get("/cats/")
    async def cats() -> str:
        return "SECRET"

    @inner.get("/{name}/")
    async def named(name: str) -> str:
        return "named"

    outer = APIRouter(prefix="/v1")
    outer.include_router(inner)
    app.include_router(outer)
    sub = FastAPI()

    @sub.get("/cats/")
    async def sub_cats() -> str:
        return "SECRET"

    app.mount("/sub", sub)
    return app


@pytest.mark.parametrize("path", ["/v1/a/cats/", "/sub/cats/", "/v1/a/cats/%0A", "/sub/cats/%0A"])
def test_bind1_fastapi_nested_routers_and_mounts_meet_their_entries(
    guard: Guard, tokens: TokenFactory, path: str
) -> None:
    with TestClient(_fastapi_app(guard)) as client:
        response = client.get(path, headers=auth(tokens.password_token()))
    assert response.status_code in (401, 404)  # a Mount's ``.*`` stops at a newline: no route
    assert "SECRET" not in response.text


def test_bind1_fastapi_nested_router_sibling_route_keeps_its_own_policy(guard: Guard) -> None:
    with TestClient(_fastapi_app(guard)) as client:
        response = client.get("/v1/a/dogs/")
    assert (response.status_code, response.json()) == (200, "named")


@pytest.fixture
def uvicorn_server() -> Iterator[Callable[..., tuple[str, int]]]:
    """Starts ASGI apps on uvicorn in a thread; every server is stopped after the test."""
    running: list[tuple[uvicorn.Server, threading.Thread, socket.socket]] = []

    def start(app: Any, **config: Any) -> tuple[str, int]:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        options: dict[str, Any] = {"http": "h11", "ws": "none", "log_level": "warning"}
        server = uvicorn.Server(uvicorn.Config(app, **{**options, **config}))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        running.append((server, thread, sock))
        for _ in range(500):
            if server.started:
                break
            thread.join(0.01)
        assert server.started
        host, port = sock.getsockname()
        return host, port

    yield start
    for server, thread, sock in running:
        server.should_exit = True
        thread.join(5)
        sock.close()


def raw_exchange(address: tuple[str, int], data: bytes, timeout: float = 5.0) -> bytes:
    """Send bytes as they are and read until the server closes (every test ends with
    ``Connection: close``)."""
    received = b""
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(data)
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_bind1_uvicorn_root_path_does_not_change_the_route_judged(
    guard: Guard, tokens: TokenFactory, uvicorn_server: Callable[..., tuple[str, int]]
) -> None:
    table = anonymous_default_table(Route("GET", "/cats/", MFA))
    app = starlette_app(guard, [SRoute("/cats/", text("SECRET"))], table)
    address = uvicorn_server(app, root_path="/api")
    token = tokens.password_token().encode()
    answers = [
        raw_exchange(
            address,
            b"GET "
            + target
            + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + token
            + b"\r\nConnection: close\r\n\r\n",
        )
        for target in (b"/cats/", b"/api/cats/", b"/api/cats/%0A", b"/cats/%0A")
    ]
    # uvicorn prefixes the root path to every target, so /api/... is /api/api/...: no route.
    assert [a.split(b" ", 2)[1] for a in answers] == [b"401", b"404", b"404", b"401"]
    assert not any(b"SECRET" in a for a in answers)


# -- BIND-2: Flask: the rule Flask dispatches to -----------------------------------------------


def _flask_middleware_app(guard: Guard, table: RouteTable, **config: Any) -> flask.Flask:
    app = flask.Flask(__name__)
    app.config.update(config)
    blueprint = flask.Blueprint("admin", __name__, url_prefix="/admin")

    @blueprint.get("/panel/")
    def panel() -> str:
        return "SECRET"

    app.register_blueprint(blueprint)

    @app.get("/lax", strict_slashes=False)
    def lax() -> str:
        return "SECRET"

    @app.get("/")
    def index() -> str:
        return "index"

    app.wsgi_app = StepUpWSGIMiddleware(app.wsgi_app, guard=guard, routes=table)  # type: ignore[method-assign]
    return app


FLASK_TABLE = (
    Route("GET", "/admin/panel/", MFA),
    Route("GET", "/lax", MFA),
    Route("GET", "/", ANONYMOUS),
)


@pytest.mark.parametrize(
    "path",
    ["/admin/panel/", "//admin/panel/", "/admin//panel/", "/admin/panel", "/lax", "/lax/", "//lax"],
)
def test_bind2_blueprint_and_lax_slash_spellings_meet_the_rule_policy(
    guard: Guard, tokens: TokenFactory, path: str
) -> None:
    app = _flask_middleware_app(guard, anonymous_default_table(*FLASK_TABLE))
    response = WerkzeugClient(app).get(path, headers=auth(tokens.password_token()))
    assert b"SECRET" not in response.get_data()


def test_bind2_merge_slashes_off_does_not_open_the_double_slash_spelling(guard: Guard) -> None:
    app = _flask_middleware_app(guard, anonymous_default_table(*FLASK_TABLE))
    app.url_map.merge_slashes = False
    response = WerkzeugClient(app).get("/admin//panel/")
    assert b"SECRET" not in response.get_data()


def test_bind2_subdomain_rule_meets_its_policy_with_server_name(guard: Guard) -> None:
    app = flask.Flask(__name__, subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.com"

    @app.get("/panel/", subdomain="admin")
    def panel() -> str:
        return "SECRET"

    table = anonymous_default_table(Route("GET", "/panel/", MFA))
    app.wsgi_app = StepUpWSGIMiddleware(app.wsgi_app, guard=guard, routes=table)  # type: ignore[method-assign]
    client = WerkzeugClient(app)
    answers = [
        client.get("/panel/", headers={"Host": host})
        for host in ("admin.example.com", "ADMIN.EXAMPLE.COM", "admin.example.com:80")
    ]
    assert [a.status_code for a in answers] == [401, 401, 401]


class _Panel(MethodView):
    def get(self) -> str:
        return "SECRET"


@pytest.mark.parametrize("method", ["GET", "HEAD", "get"])
def test_bind2_method_view_method_spellings_meet_the_get_policy(
    guard: Guard, tokens: TokenFactory, method: str
) -> None:
    app = flask.Flask(__name__)
    app.add_url_rule("/mv/", view_func=_Panel.as_view("mv"))
    table = anonymous_default_table(Route("GET", "/mv/", MFA))
    app.wsgi_app = StepUpWSGIMiddleware(app.wsgi_app, guard=guard, routes=table)  # type: ignore[method-assign]
    response = WerkzeugClient(app).open(
        "/mv/", method=method, headers=auth(tokens.password_token())
    )
    assert response.status_code in (401, 405)


def test_bind2_automatic_options_preflight_runs_no_view(guard: Guard) -> None:
    app = _flask_middleware_app(guard, RouteTable(FLASK_TABLE))
    response = WerkzeugClient(app).options("/admin/panel/", headers=PREFLIGHT)
    assert (response.status_code, b"SECRET" in response.get_data()) == (200, False)


def test_bind2_first_request_binding_under_threads_is_judged_for_every_request(
    guard: Guard,
) -> None:
    app = _flask_middleware_app(guard, RouteTable(FLASK_TABLE))
    barrier = threading.Barrier(16)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def hit() -> None:
        try:
            barrier.wait(5)
            statuses.append(WerkzeugClient(app).get("/admin/panel/").status_code)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=hit) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert (errors, statuses) == ([], [401] * 16)


# -- BIND-3: raw ASGI/WSGI apps: canonical paths only ------------------------------------------


async def _raw_asgi(scope: Any, receive: Any, send: Any) -> None:
    await PlainTextResponse("SECRET " + scope["path"])(scope, receive, send)


def _raw_wsgi(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"SECRET"]


RAW_TABLE = (Route("GET", "/cats/", MFA), Route("GET", "/pub/{x}", ANONYMOUS))


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/cats/\n", b"/cats/%0A"),
        ("/pub/x\x00", b"/pub/x%00"),
        ("/pub/a/cats/", b"/pub/a%2Fcats/"),
        ("/pub//cats/", b"/pub//cats/"),
        ("/pub/../cats/", b"/pub/%2E%2E/cats/"),
        ("/pub/%2F", b"/pub/%252F"),
        ("/pub\\..\\cats/", b"/pub%5C..%5Ccats/"),
    ],
)
def test_bind3_raw_asgi_app_refuses_non_canonical_paths_with_400(
    guard: Guard, path: str, raw: bytes
) -> None:
    app = StepUpMiddleware(_raw_asgi, guard=guard, routes=anonymous_default_table(*RAW_TABLE))
    scope = _http_scope("GET", path, raw_path=raw)
    sent = _run_asgi(app, scope, [{"type": "http.request", "body": b""}])
    assert sent[0]["status"] == 400
    assert b"SECRET" not in b"".join(m.get("body", b"") for m in sent)


def test_bind3_raw_asgi_app_judges_canonical_paths(guard: Guard, tokens: TokenFactory) -> None:
    app = StepUpMiddleware(_raw_asgi, guard=guard, routes=anonymous_default_table(*RAW_TABLE))
    public = _run_asgi(app, _http_scope("GET", "/pub/x"), [{"type": "http.request"}])
    refused = _run_asgi(
        app, _http_scope("GET", "/cats/", token=tokens.password_token()), [{"type": "http.request"}]
    )
    assert (public[0]["status"], refused[0]["status"]) == (200, 401)


@pytest.mark.parametrize(
    ("path_info", "raw_uri"),
    [("/pub/a/cats/", "/pub/a%2Fcats/"), ("/cats/\n", "/cats/%0A"), ("//cats/", "//cats/")],
)
def test_bind3_raw_wsgi_app_refuses_non_canonical_paths_with_400(
    guard: Guard, path_info: str, raw_uri: str
) -> None:
    app = StepUpWSGIMiddleware(_raw_wsgi, guard=guard, routes=anonymous_default_table(*RAW_TABLE))
    response = WerkzeugClient(app).get(
        environ_overrides={"PATH_INFO": path_info, "REQUEST_URI": raw_uri, "RAW_URI": raw_uri}
    )
    assert (response.status_code, b"SECRET" in response.get_data()) == (400, False)


def test_bind3_raw_wsgi_app_judges_canonical_paths(guard: Guard) -> None:
    app = StepUpWSGIMiddleware(_raw_wsgi, guard=guard, routes=anonymous_default_table(*RAW_TABLE))
    client = WerkzeugClient(app)
    assert (client.get("/pub/x").status_code, client.get("/cats/").status_code) == (200, 401)


# -- BIND-4: websockets ------------------------------------------------------------------------


async def _ws_secret(websocket: Any) -> None:
    await websocket.accept()
    await websocket.send_text("SECRET")
    await websocket.close()


@pytest.mark.parametrize("path", ["/ws/cats", "/ws/cats\n"])
def test_bind4_websocket_route_spellings_meet_the_route_policy(guard: Guard, path: str) -> None:
    table = anonymous_default_table(Route("GET", "/ws/cats", MFA))
    app = starlette_app(guard, [WebSocketRoute("/ws/cats", _ws_secret)], table)
    scope = {**_http_scope("GET", path), "type": "websocket", "scheme": "ws", "subprotocols": []}
    scope.pop("method")
    sent = _run_asgi(app, scope, [{"type": "websocket.connect"}])
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "missing_credentials"}]


def test_bind4_fastapi_included_router_websocket_is_refused_without_token(guard: Guard) -> None:
    table = anonymous_default_table(Route("GET", "/v1/ws", MFA))
    app = FastAPI(middleware=[Middleware(StepUpMiddleware, guard=guard, routes=table)])
    router = APIRouter(prefix="/v1")

    @router.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await _ws_secret(websocket)

    app.include_router(router)
    with TestClient(app) as client, pytest.raises(WebSocketDisconnect) as closed:
        with client.websocket_connect("/v1/ws") as connection:
            connection.receive_text()
    assert closed.value.code == 1008


class _Chat(WebSocketEndpoint):
    encoding = "text"


def test_bind4_websocket_endpoint_on_receive_checks_each_message(
    guard: Guard, tokens: TokenFactory
) -> None:
    class Chat(_Chat):
        @require(guard, MFA)
        async def on_receive(self, websocket: Any, data: Any) -> None:
            await websocket.send_text("SECRET " + data)

    app = Starlette(routes=[WebSocketRoute("/chat", Chat)])
    with TestClient(app) as client:
        with client.websocket_connect("/chat", headers=auth(tokens.mfa_token())) as connection:
            connection.send_text("hi")
            admitted = connection.receive_text()
        with client.websocket_connect("/chat") as connection:
            connection.send_text("hi")
            refused = connection.receive()
    assert admitted == "SECRET hi"
    assert refused == {"type": "websocket.close", "code": 1008, "reason": "missing_credentials"}


def test_bind4_websocket_endpoint_on_connect_refusal_closes_before_any_message(
    guard: Guard,
) -> None:
    class Chat(_Chat):
        @require(guard, MFA)
        async def on_connect(self, websocket: Any) -> None:
            await websocket.accept()

        async def on_receive(self, websocket: Any, data: Any) -> None:
            await websocket.send_text("SECRET")

    app = Starlette(routes=[WebSocketRoute("/chat", Chat)])
    with TestClient(app) as client, pytest.raises(WebSocketDisconnect) as closed:
        with client.websocket_connect("/chat") as connection:
            connection.send_text("hi")
            connection.receive_text()
    assert closed.value.code == 1008


# -- BIND-5: table entries checked against the app at start-up ---------------------------------


@pytest.mark.parametrize(
    "match", ["POTS /cats/", "GTE /cats/", "GET,PTCH /cats/", "G\u0415T /cats/"]
)
def test_bind5_misspelt_method_in_toml_is_a_configuration_error(tmp_path: Path, match: str) -> None:
    path = tmp_path / "routes.toml"
    path.write_text(f'[[routes]]\nmatch = "{match}"\npolicy = "authenticated"\n', "utf-8")
    with pytest.raises(ConfigurationError, match=r"routes\[0\]"):
        RouteTable.from_toml(path)


def test_bind5_anonymous_default_in_toml_warns(tmp_path: Path) -> None:
    path = tmp_path / "routes.toml"
    path.write_text('default = "anonymous"\n', "utf-8")
    with pytest.warns(PolicyWarning):
        RouteTable.from_toml(path)


@pytest.mark.parametrize(
    "entry",
    [
        Route("GET", "/catz/", MFA),
        Route("POST", "/cats/", MFA),
        Route("GET", "/cats", MFA),
        Route("GET", "/cats/{id:int}", MFA),
        Route("POST", "/ws/cats", MFA),
    ],
    ids=["typo", "unserved-method", "missing-slash", "absent-convertor", "websocket-post"],
)
def test_bind5_entry_naming_no_route_fails_lifespan_start_up(guard: Guard, entry: Route) -> None:
    routes = [SRoute("/cats/", text("SECRET")), WebSocketRoute("/ws/cats", _ws_secret)]
    app = starlette_app(guard, routes, RouteTable([entry]))
    with pytest.raises(ConfigurationError, match="does not fit the app"), TestClient(app):
        pass


def test_bind5_without_lifespan_the_first_request_fails_closed(guard: Guard) -> None:
    app = starlette_app(
        guard, [SRoute("/cats/", text("SECRET"))], RouteTable([Route("GET", "/catz/", ANONYMOUS)])
    )
    client = TestClient(app)  # no ``with``: no lifespan, binding on the first request
    with pytest.raises(ConfigurationError, match="catz"):
        client.get("/cats/")


def test_bind5_flask_entry_naming_no_rule_fails_the_first_request(guard: Guard) -> None:
    table = RouteTable([*FLASK_TABLE, Route("GET", "/admin/panle/", ANONYMOUS)])
    app = _flask_middleware_app(guard, table)
    with pytest.raises(ConfigurationError, match="panle"):
        WerkzeugClient(app).get("/admin/panel/")


def test_bind5_werkzeug_syntax_entry_binds_to_the_int_rule(
    guard: Guard, tokens: TokenFactory
) -> None:
    app = flask.Flask(__name__)

    @app.get("/users/<int:uid>/")
    def user(uid: int) -> str:
        return "SECRET"

    table = anonymous_default_table(Route("GET", "/users/{id:int}/", MFA))
    app.wsgi_app = StepUpWSGIMiddleware(app.wsgi_app, guard=guard, routes=table)  # type: ignore[method-assign]
    client = WerkzeugClient(app)
    assert client.get("/users/7/", headers=auth(tokens.password_token())).status_code == 401


# -- BIND-6: FastAPI dependency misuse and Security scopes -------------------------------------


def test_bind6_call_less_dependency_in_signature_fails_at_declaration(guard: Guard) -> None:
    stepup, app = StepUp(guard), FastAPI()
    with pytest.raises(ConfigurationError, match="missing its call"):

        @app.get("/x")
        async def x(principal: Any = Depends(stepup.dependency)) -> str:  # noqa: B008
            return "SECRET"


def test_bind6_call_less_dependency_in_decorator_dependencies_fails(guard: Guard) -> None:
    stepup, app = StepUp(guard), FastAPI()
    with pytest.raises(ConfigurationError, match="missing its call"):

        @app.get("/x", dependencies=[Depends(stepup.dependency)])
        async def x() -> str:
            return "SECRET"


def test_bind6_call_less_dependency_in_router_dependencies_fails(guard: Guard) -> None:
    stepup, app = StepUp(guard), FastAPI()
    router = APIRouter(dependencies=[Depends(stepup.dependency)])
    with pytest.raises(ConfigurationError, match="missing its call"):

        @router.get("/x")
        async def x() -> str:
            return "SECRET"

        app.include_router(router)


#: ``Annotated`` metadata is evaluated from the module's globals (this module postpones
#: annotations), so the StepUp it names must be one.
_ANNOTATED: dict[str, StepUp] = {}


def test_bind6_call_less_dependency_in_annotated_fails(guard: Guard) -> None:
    _ANNOTATED["stepup"], app = StepUp(guard), FastAPI()
    with pytest.raises(ConfigurationError, match="missing its call"):

        @app.get("/x")
        async def x(
            principal: Annotated[Any, Depends(_ANNOTATED["stepup"].dependency)],
        ) -> str:
            return "SECRET"


def test_bind6_dependency_with_a_policy_name_string_fails_at_declaration(guard: Guard) -> None:
    stepup = StepUp(guard)
    with pytest.raises(ConfigurationError):
        stepup.dependency("mfa")  # type: ignore[arg-type]


def test_bind6_stepup_object_as_dependency_means_authenticated(
    guard: Guard, tokens: TokenFactory
) -> None:
    stepup, app = StepUp(guard), FastAPI()
    stepup.install(app)

    @app.get("/x")
    async def x(principal: Any = Depends(stepup)) -> str:  # noqa: B008
        return principal.subject

    with TestClient(app) as client:
        refused = client.get("/x")
        admitted = client.get("/x", headers=auth(tokens.password_token()))
    assert (refused.status_code, admitted.json()) == (401, "user-1")


def _scoped_app(guard: Guard, dependency: Callable[[StepUp], Any]) -> FastAPI:
    stepup, app = StepUp(guard), FastAPI()
    stepup.install(app)

    @app.get("/x")
    async def x(principal: Any = dependency(stepup)) -> str:  # noqa: B008
        return "SECRET"

    return app


def test_bind6_security_scopes_are_enforced_with_insufficient_scope(
    guard: Guard, tokens: TokenFactory
) -> None:
    app = _scoped_app(guard, lambda s: Security(s.dependency(MFA), scopes=["admin"]))
    with TestClient(app) as client:
        refused = client.get("/x", headers=auth(tokens.mfa_token(scope="cats:read")))
        admitted = client.get("/x", headers=auth(tokens.mfa_token(scope="admin")))
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    assert 'scope="admin"' in refused.headers["www-authenticate"]
    assert admitted.text == '"SECRET"'


def test_bind6_security_scopes_on_the_stepup_object_are_enforced(
    guard: Guard, tokens: TokenFactory
) -> None:
    app = _scoped_app(guard, lambda s: Security(s, scopes=["admin"]))
    with TestClient(app) as client:
        refused = client.get("/x", headers=auth(tokens.password_token()))
    assert refused.status_code == 403


def test_bind6_nested_security_scopes_are_all_required_and_all_named(
    guard: Guard, tokens: TokenFactory
) -> None:
    stepup, app = StepUp(guard), FastAPI()
    stepup.install(app)

    async def outer(principal: Any = Security(stepup.dependency(MFA), scopes=["b"])) -> Any:  # noqa: B008
        return principal

    @app.get("/x")
    async def x(principal: Any = Security(outer, scopes=["a"])) -> str:  # noqa: B008
        return "SECRET"

    with TestClient(app) as client:
        refused = client.get("/x", headers=auth(tokens.mfa_token(scope="b")))
        admitted = client.get("/x", headers=auth(tokens.mfa_token(scope="a b")))
    assert refused.status_code == 403
    assert 'scope="a b"' in refused.headers["www-authenticate"]
    assert admitted.status_code == 200


def test_bind6_security_scopes_do_not_weaken_the_policy(guard: Guard, tokens: TokenFactory) -> None:
    app = _scoped_app(guard, lambda s: Security(s.dependency(MFA), scopes=["admin"]))
    with TestClient(app) as client:
        response = client.get("/x", headers=auth(tokens.password_token(scope="admin")))
    assert response.status_code == 401


def test_bind6_openapi_documents_401_and_403(guard: Guard) -> None:
    app = _scoped_app(guard, lambda s: Depends(s.dependency(MFA)))
    responses = app.openapi()["paths"]["/x"]["get"]["responses"]
    assert {"401", "403"} <= set(responses)


# -- BIND-7: Flask decorator order -------------------------------------------------------------


def test_bind7_require_above_route_raises_at_decoration_on_an_initialised_app(
    guard: Guard,
) -> None:
    app = flask.Flask(__name__)
    stepup = FlaskStepUp(guard, app)
    with pytest.raises(ConfigurationError, match="wrong order"):

        @stepup.require(MFA)
        @app.get("/x")
        def x() -> str:
            return "SECRET"


def test_bind7_require_above_route_raises_at_init_app(guard: Guard) -> None:
    app, stepup = flask.Flask(__name__), FlaskStepUp(guard)

    @stepup.require(MFA)
    @app.get("/x")
    def x() -> str:
        return "SECRET"

    with pytest.raises(ConfigurationError, match="wrong order"):
        stepup.init_app(app)


def test_bind7_require_above_blueprint_route_fails_the_first_request(guard: Guard) -> None:
    app, stepup, blueprint = (
        flask.Flask(__name__),
        FlaskStepUp(guard),
        flask.Blueprint("b", __name__),
    )
    stepup.init_app(app)

    @stepup.require(MFA)
    @blueprint.get("/x")
    def x() -> str:
        return "SECRET"

    app.register_blueprint(blueprint, url_prefix="/b")
    app.testing = True
    with pytest.raises(ConfigurationError, match=r"'b\.x'"):
        app.test_client().get("/b/x")


def test_bind7_require_after_add_url_rule_is_detected(guard: Guard) -> None:
    app = flask.Flask(__name__)
    stepup = FlaskStepUp(guard, app)

    def x() -> str:
        return "SECRET"

    app.add_url_rule("/x", view_func=x)
    with pytest.raises(ConfigurationError, match="wrong order"):
        stepup.require(MFA)(x)


def test_bind7_require_without_a_policy_fails_at_decoration(guard: Guard) -> None:
    stepup = FlaskStepUp(guard)
    with pytest.raises(ConfigurationError, match="takes a Policy"):

        @stepup.require  # type: ignore[arg-type]
        def x() -> str:
            return "SECRET"


def test_bind7_protect_after_register_blueprint_is_refused_by_flask(guard: Guard) -> None:
    app, stepup, blueprint = (
        flask.Flask(__name__),
        FlaskStepUp(guard),
        flask.Blueprint("b", __name__),
    )

    @blueprint.get("/x")
    def x() -> str:
        return "SECRET"

    app.register_blueprint(blueprint)
    with pytest.raises(AssertionError):
        stepup.protect(blueprint, MFA)


# -- BIND-8: HEAD refusals carry no body -------------------------------------------------------

PIPELINE = (
    b"HEAD /cats/ HTTP/1.1\r\nHost: x\r\nAccept: application/problem+json\r\n\r\n"
    b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
)


def _assert_two_clean_answers(received: bytes) -> None:
    first, sep, rest = received.partition(b"\r\n\r\n")
    assert sep and first.startswith(b"HTTP/1.1 401 ")
    assert rest.startswith(b"HTTP/1.1 200 "), rest[:120]
    assert rest.endswith(b"index")


def test_bind8_head_refusal_keeps_waitress_keep_alive_in_step(guard: Guard) -> None:
    app = flask.Flask(__name__)

    @app.get("/cats/")
    def cats() -> str:
        return "SECRET"

    @app.get("/")
    def index() -> str:
        return "index"

    table = RouteTable([Route("GET", "/cats/", MFA), Route("GET", "/", ANONYMOUS)])
    app.wsgi_app = StepUpWSGIMiddleware(app.wsgi_app, guard=guard, routes=table)  # type: ignore[method-assign]
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        address = server.socket.getsockname()[:2]
        _assert_two_clean_answers(raw_exchange(address, PIPELINE))
    finally:
        server.close()
        server.task_dispatcher.shutdown()
        thread.join(5)


def test_bind8_head_refusal_keeps_uvicorn_keep_alive_in_step(
    guard: Guard, uvicorn_server: Callable[..., tuple[str, int]]
) -> None:
    table = RouteTable([Route("GET", "/cats/", MFA), Route("GET", "/", ANONYMOUS)])
    app = starlette_app(
        guard, [SRoute("/cats/", text("SECRET")), SRoute("/", text("index"))], table
    )
    _assert_two_clean_answers(raw_exchange(uvicorn_server(app), PIPELINE))


def test_bind8_starlette_decorator_head_refusal_has_no_body(guard: Guard) -> None:
    app = Starlette(routes=[SRoute("/cats/", require(guard, MFA)(text("SECRET")))])
    with TestClient(app) as client:
        response = client.head("/cats/", headers={"Accept": "application/problem+json"})
    assert (response.status_code, response.content) == (401, b"")


def test_bind8_raw_asgi_head_refusal_sends_no_body_bytes(guard: Guard) -> None:
    app = StepUpMiddleware(_raw_asgi, guard=guard, routes=RouteTable([Route("GET", "/cats/", MFA)]))
    scope = _http_scope("HEAD", "/cats/", headers=[(b"accept", b"application/problem+json")])
    sent = _run_asgi(app, scope, [{"type": "http.request"}])
    assert sent[0]["status"] == 401
    assert b"".join(m.get("body", b"") for m in sent) == b""


# -- BIND-9: form bodies bounded, a disconnect never judged ------------------------------------


def _http_scope(
    method: str,
    path: str,
    *,
    raw_path: bytes | None = None,
    token: str | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> dict[str, Any]:
    lines = [(b"host", b"testserver"), *(headers or [])]
    if token is not None:
        lines.append((b"authorization", b"Bearer " + token.encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": raw_path if raw_path is not None else path.encode("utf-8"),
        "root_path": "",
        "query_string": b"",
        "headers": lines,
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
    }


def _run_asgi(app: Any, scope: dict[str, Any], messages: list[dict[str, Any]]) -> list[Any]:
    """Run one ASGI call; ``receive`` hands out ``messages`` then ``http.disconnect``."""
    queue = list(messages)
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    async def main() -> None:
        await app(scope, receive, send)

    anyio.run(main)
    return sent


class _Counting:
    """An ASGI receive that streams ``total`` chunks of 16 KiB and counts what was taken."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.taken = 0

    async def __call__(self) -> dict[str, Any]:
        self.taken += 1
        return {"type": "http.request", "body": b"a" * 16384, "more_body": self.taken < self.total}


def test_bind9_asgi_middleware_chunked_form_body_past_the_limit_is_413_without_reading_on(
    make_guard: MakeGuard,
) -> None:
    guard = make_guard(token_methods=TokenMethods(body=True))
    reached: list[bool] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        reached.append(True)

    app = StepUpMiddleware(
        inner, guard=guard, routes=RouteTable([Route("POST", "/x", AUTHENTICATED)])
    )
    receive = _Counting(1000)  # 16 MB offered, no Content-Length
    scope = _http_scope("POST", "/x", headers=[(b"content-type", FORM.encode())])
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def main() -> None:
        await app(scope, receive, send)

    anyio.run(main)
    assert (sent[0]["status"], reached) == (413, [])
    assert receive.taken <= 65536 // 16384 + 1


def test_bind9_asgi_middleware_disconnect_mid_body_is_not_judged_or_replayed(
    make_guard: MakeGuard, tokens: TokenFactory
) -> None:
    guard = make_guard(token_methods=TokenMethods(body=True))
    reached: list[bool] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        reached.append(True)

    app = StepUpMiddleware(
        inner, guard=guard, routes=RouteTable([Route("POST", "/x", AUTHENTICATED)])
    )
    body = b"access_token=" + tokens.password_token().encode()
    scope = _http_scope("POST", "/x", headers=[(b"content-type", FORM.encode())])
    sent = _run_asgi(app, scope, [{"type": "http.request", "body": body, "more_body": True}])
    assert (sent, reached) == ([], [])


def test_bind9_asgi_middleware_complete_form_body_is_judged_and_replayed(
    make_guard: MakeGuard, tokens: TokenFactory
) -> None:
    guard = make_guard(token_methods=TokenMethods(body=True))
    seen: list[bytes] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append((await receive())["body"])
        await PlainTextResponse("SECRET")(scope, receive, send)

    app = StepUpMiddleware(
        inner, guard=guard, routes=RouteTable([Route("POST", "/x", AUTHENTICATED)])
    )
    body = b"access_token=" + tokens.password_token().encode()
    scope = _http_scope("POST", "/x", headers=[(b"content-type", FORM.encode())])
    sent = _run_asgi(app, scope, [{"type": "http.request", "body": body}])
    assert (sent[0]["status"], seen) == (200, [body])


def test_bind9_wsgi_middleware_short_body_is_400_not_judged(
    make_guard: MakeGuard, tokens: TokenFactory
) -> None:
    guard = make_guard(token_methods=TokenMethods(body=True))
    reached: list[bool] = []

    def inner(environ: Any, start_response: Any) -> list[bytes]:
        reached.append(True)
        return _raw_wsgi(environ, start_response)

    app = StepUpWSGIMiddleware(
        inner, guard=guard, routes=RouteTable([Route("POST", "/x", AUTHENTICATED)])
    )
    body = b"access_token=" + tokens.password_token().encode()
    response = WerkzeugClient(app).post(
        "/x",
        environ_overrides={
            "wsgi.input": io.BytesIO(body),
            "CONTENT_LENGTH": str(len(body) + 100),
            "CONTENT_TYPE": FORM,
        },
    )
    assert (response.status_code, reached) == (400, [])


def test_bind9_wsgi_middleware_declared_body_past_the_limit_is_413(make_guard: MakeGuard) -> None:
    guard = make_guard(token_methods=TokenMethods(body=True))
    app = StepUpWSGIMiddleware(
        _raw_wsgi, guard=guard, routes=RouteTable([Route("POST", "/x", AUTHENTICATED)])
    )
    response = WerkzeugClient(app).post("/x", data=b"a" * 70000, content_type=FORM)
    assert response.status_code == 413


def test_bind9_wsgi_middleware_streamed_body_past_the_limit_reads_at_most_the_limit(
    make_guard: MakeGuard,
) -> None:
    class Endless(io.RawIOBase):
        taken = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            Endless.taken += len(buffer)
            buffer[:] = b"a" * len(buffer)
            return len(buffer)

    guard = make_guard(token_methods=TokenMethods(body=True))
    app = StepUpWSGIMiddleware(
        _raw_wsgi, guard=guard, routes=RouteTable([Route("POST", "/x", AUTHENTICATED)])
    )
    response = WerkzeugClient(app).post(
        "/x",
        environ_overrides={
            "wsgi.input": io.BufferedReader(Endless()),
            "wsgi.input_terminated": True,
            "CONTENT_TYPE": FORM,
        },
    )
    assert response.status_code == 413
    assert Endless.taken < 1_000_000


def test_bind8_head_refusal_keeps_hypercorn_keep_alive_in_step(guard: Guard) -> None:
    import asyncio

    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    table = RouteTable([Route("GET", "/cats/", MFA), Route("GET", "/", ANONYMOUS)])
    app = starlette_app(
        guard, [SRoute("/cats/", text("SECRET")), SRoute("/", text("index"))], table
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = probe.getsockname()
    config = Config()
    config.bind = [f"{address[0]}:{address[1]}"]
    config.accesslog = config.errorlog = None
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    started = threading.Event()

    async def run() -> None:
        started.set()
        await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    try:
        started.wait(5)
        for _ in range(200):
            try:
                socket.create_connection(address, timeout=1).close()
                break
            except OSError:
                threading.Event().wait(0.02)
        _assert_two_clean_answers(raw_exchange(address, PIPELINE))
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def _form_app(guard: Guard, reached: list[bytes]) -> Any:
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        reached.append((await receive()).get("body", b""))
        await PlainTextResponse("SECRET")(scope, receive, send)

    table = RouteTable([Route("POST", "/x", MFA)])
    return StepUpMiddleware(inner, guard=guard, routes=table)


def test_bind9_uvicorn_chunked_form_body_past_the_limit_is_413(
    make_guard: MakeGuard, uvicorn_server: Callable[..., tuple[str, int]]
) -> None:
    reached: list[bytes] = []
    guard = make_guard(token_methods=TokenMethods(body=True))
    address = uvicorn_server(_form_app(guard, reached))
    chunk = b"a" * 8192
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(10)) + b"0\r\n\r\n"
    head = (
        b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
        b"Content-Type: " + FORM.encode() + b"\r\n\r\n"
    )
    answer = raw_exchange(address, head + body)
    assert (answer.split(b" ", 2)[1], reached) == (b"413", [])


def test_bind9_uvicorn_client_leaving_mid_body_is_not_judged(
    make_guard: MakeGuard, tokens: TokenFactory, uvicorn_server: Callable[..., tuple[str, int]]
) -> None:
    reached: list[bytes] = []
    guard = make_guard(token_methods=TokenMethods(body=True))
    address = uvicorn_server(_form_app(guard, reached))
    body = b"access_token=" + tokens.mfa_token().encode()
    head = (
        b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
        b"Content-Type: " % (len(body) + 50) + FORM.encode() + b"\r\n\r\n"
    )
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(head + body)
        sock.shutdown(socket.SHUT_WR)  # the client leaves, 50 bytes short
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert b"SECRET" not in received
    assert reached == []


# -- BIND-1 / BIND-2 as a sweep: spelled paths straight into the app, no client normalising ----

SWEEP_PIECES = (
    *("/", "//", ".", "..", "%2F", "%2E", "%0A", "\n", "%00", "%20", ";", "\r", "%25"),
    *("%5C", "\\", "\u0665", "\uff17", "7", "-7", "a", "b", "m", "f", "x", "y", "cats", "lax"),
)


def _sweep_targets(seed: int, count: int = 1500) -> list[str]:
    import random

    rng = random.Random(seed)
    return sorted(
        {
            "/" + "".join(rng.choice(SWEEP_PIECES) for _ in range(rng.randint(1, 6)))
            for _ in range(count)
        }
    )


async def _fastapi_secret() -> str:
    return "SECRET"


def _sweep_fastapi_app(guard: Guard) -> FastAPI:
    table = anonymous_default_table(
        Route("GET", "/", ANONYMOUS),
        Route("GET", "/a/cats/", MFA),
        Route("GET", "/a/b/{x}/", MFA),
        Route("GET", "/m/cats/", MFA),
        Route("GET", "/m/{id:int}/", MFA),
        Route("GET", "/f/{p:path}", MFA),
        Route("GET", "/hh/", MFA),
    )
    app = FastAPI(middleware=[Middleware(StepUpMiddleware, guard=guard, routes=table)])
    app.router.routes.append(SRoute("/", text("index")))
    outer, inner = APIRouter(prefix="/a"), APIRouter(prefix="/b")
    outer.add_api_route("/cats/", _fastapi_secret, response_class=PlainTextResponse)
    inner.add_api_route("/{x}/", _fastapi_secret, response_class=PlainTextResponse)
    outer.include_router(inner)
    app.include_router(outer)
    app.mount(
        "/m",
        Starlette(routes=[SRoute("/cats/", text("SECRET")), SRoute("/{id:int}/", text("SECRET"))]),
    )
    app.router.routes.append(SRoute("/f/{p:path}", text("SECRET")))
    app.router.routes.append(Host("h.example", app=Router([SRoute("/hh/", text("SECRET"))])))
    return app


def test_bind1_sweep_no_spelling_reaches_an_mfa_handler_with_a_password_token(
    guard: Guard, tokens: TokenFactory
) -> None:
    assert _fastapi_sweep(guard, tokens.password_token()) == []
    assert _fastapi_sweep(guard, tokens.mfa_token())  # control: the sweep does reach them


def _fastapi_sweep(guard: Guard, token: str) -> list[tuple[str, bytes, int]]:
    from urllib.parse import unquote

    app = _sweep_fastapi_app(guard)
    opened: list[tuple[str, bytes, int]] = []

    async def main() -> None:
        for target in _sweep_targets(1):
            for host in (b"testserver", b"h.example"):
                scope = _http_scope(
                    "GET", unquote(target), raw_path=target.encode("utf-8"), token=token
                )
                scope["headers"][0] = (b"host", host)
                sent: list[Any] = []

                async def receive() -> dict[str, Any]:
                    return {"type": "http.request", "body": b""}

                async def send(message: Any, sent: list[Any] = sent) -> None:
                    sent.append(message)

                await app(scope, receive, send)
                body = b"".join(m.get("body", b"") for m in sent[1:])
                if sent[0]["status"] >= 500 or b"SECRET" in body:
                    opened.append((target, host, sent[0]["status"]))

    anyio.run(main)
    return opened


def _sweep_flask_app(guard: Guard) -> flask.Flask:
    app = flask.Flask(__name__)
    blueprint = flask.Blueprint("a", __name__, url_prefix="/a")
    blueprint.add_url_rule("/cats/", "cats", lambda: "SECRET")
    blueprint.add_url_rule("/<any(x,y):k>/", "k", lambda k: "SECRET", strict_slashes=False)
    app.register_blueprint(blueprint)
    app.add_url_rule("/", "index", lambda: "index")
    app.add_url_rule("/f/<path:p>", "f", lambda p: "SECRET")
    app.add_url_rule("/u/<int:i>", "u", lambda i: "SECRET")
    app.add_url_rule("/lax", "lax", lambda: "SECRET", strict_slashes=False)
    table = anonymous_default_table(
        Route("GET", "/", ANONYMOUS),
        Route("GET", "/a/cats/", MFA),
        Route("GET", "/a/<any(x,y):k>/", MFA),
        Route("GET", "/f/<path:p>", MFA),
        Route("GET", "/u/<int:i>", MFA),
        Route("GET", "/lax", MFA),
    )
    app.wsgi_app = StepUpWSGIMiddleware(app.wsgi_app, guard=guard, routes=table)  # type: ignore[method-assign]
    return app


def test_bind2_sweep_no_spelling_reaches_an_mfa_view_with_a_password_token(
    guard: Guard, tokens: TokenFactory
) -> None:
    assert _flask_sweep(guard, tokens.password_token()) == []
    assert _flask_sweep(guard, tokens.mfa_token())  # control: the sweep does reach them


def _flask_sweep(guard: Guard, token: str) -> list[tuple[str, str]]:
    from urllib.parse import unquote

    app = _sweep_flask_app(guard)
    opened: list[tuple[str, str]] = []
    for target in _sweep_targets(2):
        environ = {
            "PATH_INFO": unquote(target).encode("utf-8").decode("latin-1"),
            "RAW_URI": target,
            "REQUEST_URI": target,
        }
        response = WerkzeugClient(app).get(environ_overrides=environ, headers=auth(token))
        if response.status_code >= 500 or b"SECRET" in response.get_data():
            opened.append((target, response.status))
    return opened
