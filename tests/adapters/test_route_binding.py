"""A policy is bound to what the framework dispatches (architecture rules 10 and 11).

In-process, one behaviour per test; the same invariants over raw sockets against real servers
live in ``tests/binding``. Password-only tokens stand for "authenticated, no MFA": reaching an
MFA handler with one is the bypass these tests rule out.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import AsyncIterator
from typing import Any

import flask
import pytest
from adapter_apps import MakeGuard, TestClient
from fastapi import Depends, FastAPI, Security
from starlette.applications import Starlette
from starlette.endpoints import WebSocketEndpoint
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Host, Mount, Router, WebSocketRoute
from starlette.routing import Route as StarletteRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from werkzeug.test import Client as WerkzeugClient

from stepup_mfa import (
    ANONYMOUS,
    AUTHENTICATED,
    ConfigurationError,
    Guard,
    Policy,
    PolicyWarning,
    Principal,
    TokenMethods,
    parse_www_authenticate,
)
from stepup_mfa.asgi import StepUpMiddleware
from stepup_mfa.integrations.fastapi import StepUp
from stepup_mfa.integrations.flask import FlaskStepUp
from stepup_mfa.integrations.starlette import require
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import MFA_ACR, TokenFactory
from stepup_mfa.wsgi import StepUpWSGIMiddleware

MFA = Policy(acr_values=MFA_ACR, max_age=60, name="mfa")
ADMIN = Policy(scopes="admin", name="admin")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token}


def handler(name: str) -> Any:
    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse({"handler": name})

    return endpoint


def starlette_app(guard: Guard, table: RouteTable, **options: Any) -> Starlette:
    return Starlette(
        routes=[
            StarletteRoute("/", handler("index")),
            StarletteRoute("/cats/", handler("cats")),
            StarletteRoute("/users/{id:int}/", handler("users")),
            Mount("/api", routes=[StarletteRoute("/cats/", handler("api-cats"))]),
            Host("admin.example", app=Router([StarletteRoute("/panel", handler("panel"))])),
        ],
        middleware=[Middleware(StepUpMiddleware, guard=guard, routes=table)],
        **options,
    )


ANONYMOUS_DEFAULT = RouteTable(
    [
        Route("GET", "/cats/", MFA),
        Route("GET", "/users/{id:int}/", MFA),
        Route("GET", "/api/cats/", MFA),
        Route("GET", "/panel", MFA),
    ],
    default=ANONYMOUS,
    allow_anonymous_default=True,
)


# -- BIND-1: Starlette and FastAPI ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "host"),
    [
        ("/cats/%0A", None),  # Starlette's `$` matches before a final newline: the cats handler
        ("/users/7/%0A", None),
        ("/panel", "admin.example"),
        ("/panel", "ADMIN.example"),
        ("/panel%0A", "admin.example"),
    ],
)
def test_bind_1_the_dispatched_route_decides_not_the_spelling(
    guard: Guard, tokens: TokenFactory, path: str, host: str | None
) -> None:
    client = TestClient(starlette_app(guard, ANONYMOUS_DEFAULT))
    headers = auth(tokens.password_token())
    if host is not None:
        headers["Host"] = host
    response = client.get(path, headers=headers)
    (challenge,) = parse_www_authenticate(response.headers["www-authenticate"])
    assert (response.status_code, challenge.error) == (401, "insufficient_user_authentication")


@pytest.mark.parametrize("path", ["/nowhere", "/api/cats/%0A"])  # the Mount routes no handler
def test_bind_1_a_path_no_route_has_gets_the_default(guard: Guard, path: str) -> None:
    client = TestClient(starlette_app(guard, ANONYMOUS_DEFAULT))
    assert client.get(path).status_code == 404


def test_bind_1_entries_written_without_convertors_name_the_route(
    guard: Guard, tokens: TokenFactory
) -> None:
    table = RouteTable([Route("GET", "/users/{id}/", MFA)])  # the route says {id:int}
    app = Starlette(
        routes=[StarletteRoute("/users/{id:int}/", handler("users"))],
        middleware=[Middleware(StepUpMiddleware, guard=guard, routes=table)],
    )
    response = TestClient(app).get("/users/7/", headers=auth(tokens.password_token()))
    assert response.status_code == 401


def test_bind_1_fastapi_included_router_routes_are_bound(
    guard: Guard, tokens: TokenFactory
) -> None:
    from fastapi import APIRouter

    router = APIRouter()

    @router.get("/cats/{id:int}")
    async def cats(id: int) -> dict[str, str]:
        return {"handler": "cats"}

    app = FastAPI(
        middleware=[
            Middleware(
                StepUpMiddleware,
                guard=guard,
                routes=RouteTable([Route("GET", "/api/cats/<int:id>", MFA)]),
            )
        ]
    )
    app.include_router(router, prefix="/api")
    response = TestClient(app).get("/api/cats/7%0A", headers=auth(tokens.password_token()))
    assert response.status_code == 401


# -- BIND-4: websockets -----------------------------------------------------------------------


async def ws_hello(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hello")
    await websocket.close()


def test_bind_4_websocket_spelling_meets_the_route_policy(
    guard: Guard, tokens: TokenFactory
) -> None:
    table = RouteTable(
        [Route("GET", "/ws/cats", MFA)], default=ANONYMOUS, allow_anonymous_default=True
    )
    app = Starlette(
        routes=[WebSocketRoute("/ws/cats", ws_hello)],
        middleware=[Middleware(StepUpMiddleware, guard=guard, routes=table)],
    )
    with pytest.raises(WebSocketDisconnect) as closed:
        with TestClient(app).websocket_connect(
            "/ws/cats%0A", headers=auth(tokens.password_token())
        ):
            pass
    assert closed.value.code == 1008


def test_bind_4_require_on_websocket_endpoint_receive_checks_each_message(
    guard: Guard, tokens: TokenFactory
) -> None:
    class Echo(WebSocketEndpoint):
        encoding = "text"

        @require(guard, AUTHENTICATED)
        async def on_receive(self, websocket: WebSocket, data: Any) -> None:
            await websocket.send_text("echo:" + data)

    app = Starlette(routes=[WebSocketRoute("/ws/echo", Echo)])
    with TestClient(app).websocket_connect("/ws/echo", headers=auth(tokens.password_token())) as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "echo:hi"


# -- BIND-3: apps whose router is unknown -----------------------------------------------------


async def raw_asgi(scope: Any, receive: Any, send: Any) -> None:
    await PlainTextResponse("raw:" + scope["path"])(scope, receive, send)


RAW_TABLE = RouteTable(
    [Route("GET", "/cats/", MFA), Route("GET", "/users/{id}/", MFA)],
    default=ANONYMOUS,
    allow_anonymous_default=True,
)


async def call_asgi(app: Any, path: str, raw_path: bytes | None = None) -> list[Any]:
    """Call an ASGI app with the path a server decoded (no client normalises it first)."""
    sent: list[Any] = []
    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}
    if raw_path is not None:
        scope["raw_path"] = raw_path

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "raw_path"),
    [
        ("/cats/\n", b"/cats/%0A"),
        ("//cats/", None),
        ("/cats/", b"/%2Fcats/"),
        ("/./cats/", None),
        ("/x/../cats/", None),
        ("/../cats/", b"/%2E%2E/cats/"),
        ("/cats\\", None),
        ("/cats/\x00", None),
        ("/cats\t/", None),
        ("/%2Fcats/", b"/%252Fcats/"),
        ("http://h/cats/", None),
    ],
)
async def test_bind_3_raw_asgi_app_refuses_non_canonical_paths(
    guard: Guard, path: str, raw_path: bytes | None
) -> None:
    sent = await call_asgi(
        StepUpMiddleware(raw_asgi, guard=guard, routes=RAW_TABLE), path, raw_path
    )
    headers = dict(sent[0]["headers"])
    (challenge,) = parse_www_authenticate(headers[b"www-authenticate"].decode())
    assert (sent[0]["status"], challenge.error) == (400, "invalid_request")


def test_bind_3_raw_asgi_app_serves_canonical_paths(guard: Guard) -> None:
    client = TestClient(StepUpMiddleware(raw_asgi, guard=guard, routes=RAW_TABLE))
    assert (client.get("/dogs/").text, client.get("/cats/").status_code) == ("raw:/dogs/", 401)


def raw_wsgi(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("raw:" + environ["PATH_INFO"]).encode("latin-1")]


@pytest.mark.parametrize(
    ("path_info", "raw_uri"),
    [
        ("//cats/", "//cats/"),
        ("/cats//", "/cats//"),
        ("/cats/", "/%2Fcats/"),
        ("/cats/\n", None),
        ("/./cats/", None),
        ("/cats/..", None),
    ],
)
def test_bind_3_raw_wsgi_app_refuses_non_canonical_paths(
    guard: Guard, path_info: str, raw_uri: str | None
) -> None:
    client = WerkzeugClient(StepUpWSGIMiddleware(raw_wsgi, guard=guard, routes=RAW_TABLE))
    environ = {"PATH_INFO": path_info} | ({"RAW_URI": raw_uri} if raw_uri else {})
    response = client.get("/", environ_overrides=environ)
    assert response.status_code == 400


# -- BIND-2: Flask ----------------------------------------------------------------------------


def flask_app(guard: Guard, table: RouteTable) -> flask.Flask:
    app = flask.Flask(__name__)
    admin = flask.Blueprint("admin", __name__, url_prefix="/admin")

    @app.get("/cats/")
    def cats() -> dict[str, str]:
        return {"handler": "cats"}

    @app.get("/users/<int:id>/")
    def users(id: int) -> dict[str, str]:
        return {"handler": "users"}

    @admin.get("/panel")
    def panel() -> dict[str, str]:
        return {"handler": "panel"}

    app.register_blueprint(admin)
    app.wsgi_app = StepUpWSGIMiddleware(app.wsgi_app, guard=guard, routes=table)  # type: ignore[method-assign]
    return app


FLASK_TABLE = RouteTable(
    [
        Route("GET", "/cats/", MFA),
        Route("GET", "/users/<int:id>/", MFA),
        Route("GET", "/admin/panel", MFA),
    ],
    default=ANONYMOUS,
    allow_anonymous_default=True,
)


@pytest.mark.parametrize("path_info", ["//cats/", "///cats/", "/users/7/", "//admin/panel"])
def test_bind_2_flask_rule_decides_not_the_spelling(
    guard: Guard, tokens: TokenFactory, path_info: str
) -> None:
    client = flask_app(guard, FLASK_TABLE).test_client()
    response = client.get(
        "/", headers=auth(tokens.password_token()), environ_overrides={"PATH_INFO": path_info}
    )
    assert response.status_code == 401


def test_bind_2_flask_admits_the_policy_of_the_rule(guard: Guard, tokens: TokenFactory) -> None:
    client = flask_app(guard, FLASK_TABLE).test_client()
    response = client.get("/users/7/", headers=auth(tokens.mfa_token()))
    assert response.get_json() == {"handler": "users"}


# -- BIND-5: the table is checked against the app at start-up ---------------------------------


def test_bind_5_starlette_lifespan_fails_on_an_entry_no_route_has(guard: Guard) -> None:
    table = RouteTable([Route("GET", "/catz/", MFA)])
    app = starlette_app(guard, table)
    with pytest.raises(ConfigurationError, match=r"route 0 \(GET /catz/\): no route"):
        with TestClient(app):
            pass


def test_bind_5_starlette_without_lifespan_fails_on_the_first_request(guard: Guard) -> None:
    app = starlette_app(guard, RouteTable([Route("POST", "/cats/", MFA)]))
    with pytest.raises(ConfigurationError, match="does not answer POST"):
        TestClient(app).get("/cats/")


def test_bind_5_flask_fails_on_the_first_request(guard: Guard) -> None:
    app = flask_app(guard, RouteTable([Route("GET", "/cats", MFA)]))
    with pytest.raises(ConfigurationError, match=r"GET /cats\): no route"):
        app.test_client().get("/cats/")


def test_bind_5_ambiguous_shape_must_name_the_convertor(guard: Guard) -> None:
    app = Starlette(
        routes=[
            StarletteRoute("/u/{id:int}", handler("a")),
            StarletteRoute("/u/{id:uuid}", handler("b")),
        ],
        middleware=[
            Middleware(
                StepUpMiddleware, guard=guard, routes=RouteTable([Route("GET", "/u/{id}", MFA)])
            )
        ],
    )
    with pytest.raises(ConfigurationError, match="several routes have this shape"):
        TestClient(app).get("/u/1")


@pytest.mark.parametrize("match", ["POTS /wire/{account}", "GTE /cats/", "GET,PSOT /cats/"])
def test_bind_5_a_misspelt_method_in_toml_fails_naming_the_entry(match: str) -> None:
    data = {"routes": [{"match": match, "policy": "authenticated"}]}
    with pytest.raises(ConfigurationError, match=r"routes\[0\].*unknown method"):
        RouteTable.from_dict(data)


def test_bind_5_a_misspelt_method_in_python_fails_naming_the_entry() -> None:
    with pytest.raises(ConfigurationError, match=r"route 0 \(POTS /wire\): unknown method POTS"):
        RouteTable([Route("POTS", "/wire", MFA)])


def test_bind_5_declared_extra_methods_are_known() -> None:
    table = RouteTable([Route("PROPFIND", "/dav/", MFA)], extra_methods=["PROPFIND"])
    assert table.policy_for("PROPFIND", "/dav/") is MFA


# -- BIND-10: an anonymous default is an explicit choice --------------------------------------


def test_bind_10_an_anonymous_default_warns() -> None:
    with pytest.warns(PolicyWarning, match="allow_anonymous_default"):
        RouteTable([Route("GET", "/cats/", MFA)], default=ANONYMOUS)


def test_bind_10_an_anonymous_default_in_toml_warns() -> None:
    with pytest.warns(PolicyWarning, match="allow_anonymous_default"):
        RouteTable.from_dict({"default": "anonymous"})


def test_bind_10_the_opt_in_silences_the_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RouteTable.from_dict({"default": "anonymous", "allow_anonymous_default": True})


# -- BIND-6: FastAPI --------------------------------------------------------------------------


def test_bind_6_a_dependency_without_its_call_fails_when_the_route_is_declared(
    guard: Guard,
) -> None:
    app = FastAPI()
    stepup = StepUp(guard)
    with pytest.raises(ConfigurationError, match="missing its call"):

        @app.get("/cats/")
        async def cats(principal: Principal = Depends(stepup.dependency)) -> dict[str, str]:  # noqa: B008
            return {}


def test_bind_6_the_stepup_object_is_the_authenticated_dependency(
    guard: Guard, tokens: TokenFactory
) -> None:
    app = FastAPI()
    stepup = StepUp(guard)

    @app.get("/dogs/")
    async def dogs(principal: Principal = Depends(stepup)) -> dict[str, str | None]:  # noqa: B008
        return {"sub": principal.subject}

    client = TestClient(app)
    assert client.get("/dogs/").status_code == 401
    assert client.get("/dogs/", headers=auth(tokens.password_token())).json() == {"sub": "user-1"}


def fastapi_scoped_app(guard: Guard) -> FastAPI:
    app = FastAPI()
    stepup = StepUp(guard)
    stepup.install(app)

    @app.get("/admin/")
    async def admin(
        principal: Principal = Security(stepup.dependency(AUTHENTICATED), scopes=["admin"]),  # noqa: B008
    ) -> dict[str, str]:
        return {"handler": "admin"}

    return app


def test_bind_6_security_scopes_are_enforced(guard: Guard, tokens: TokenFactory) -> None:
    client = TestClient(fastapi_scoped_app(guard))
    response = client.get("/admin/", headers=auth(tokens.password_token(scope="dogs:read")))
    (challenge,) = parse_www_authenticate(response.headers["www-authenticate"])
    assert (response.status_code, challenge.error, challenge.param("scope")) == (
        403,
        "insufficient_scope",
        "admin",
    )


def test_bind_6_security_scopes_admit_a_token_that_has_them(
    guard: Guard, tokens: TokenFactory
) -> None:
    client = TestClient(fastapi_scoped_app(guard))
    response = client.get("/admin/", headers=auth(tokens.password_token(scope="admin")))
    assert response.json() == {"handler": "admin"}


def test_bind_6_openapi_documents_the_refusals(guard: Guard) -> None:
    document = TestClient(fastapi_scoped_app(guard)).get("/openapi.json").json()
    responses = document["paths"]["/admin/"]["get"]["responses"]
    assert {"401", "403"} <= set(responses)


# -- BIND-7: Flask decorators in the wrong order ----------------------------------------------


def test_bind_7_require_above_the_route_fails_at_decoration(guard: Guard) -> None:
    app = flask.Flask(__name__)
    stepup = FlaskStepUp(guard, app)
    with pytest.raises(ConfigurationError, match="wrong order"):

        @stepup.require(MFA)
        @app.get("/cats/")
        def cats() -> str:
            return "meow"


def wrongly_decorated_blueprint(stepup: FlaskStepUp) -> flask.Blueprint:
    blueprint = flask.Blueprint("cats", __name__)

    @stepup.require(MFA)
    @blueprint.get("/cats/")
    def cats() -> str:
        return "meow"

    return blueprint


def test_bind_7_require_above_a_blueprint_route_fails_at_init_app(guard: Guard) -> None:
    stepup = FlaskStepUp(guard)
    app = flask.Flask(__name__)
    app.register_blueprint(wrongly_decorated_blueprint(stepup))
    with pytest.raises(ConfigurationError, match=r"'cats\.cats'"):
        stepup.init_app(app)


def test_bind_7_require_above_a_late_blueprint_route_fails_before_any_view_runs(
    guard: Guard,
) -> None:
    stepup = FlaskStepUp(guard)
    app = flask.Flask(__name__)
    stepup.init_app(app)
    app.register_blueprint(wrongly_decorated_blueprint(stepup))
    app.testing = True  # Flask re-raises instead of answering 500
    with pytest.raises(ConfigurationError, match="wrong order"):
        app.test_client().get("/cats/")


def test_bind_11_require_without_a_policy_fails_at_decoration(guard: Guard) -> None:
    stepup = FlaskStepUp(guard)
    with pytest.raises(ConfigurationError, match="takes a Policy"):

        @stepup.require  # type: ignore[arg-type]
        def cats() -> str:
            return "meow"


def test_bind_11_starlette_require_refuses_a_policy_name(guard: Guard) -> None:
    with pytest.raises(ConfigurationError, match="expected a Policy"):
        require(guard, "mfa")  # type: ignore[arg-type]


def test_bind_11_starlette_require_refuses_swapped_arguments(guard: Guard) -> None:
    with pytest.raises(ConfigurationError, match="expected a Guard"):
        require(MFA, guard)  # type: ignore[arg-type]


# -- BIND-8: HEAD refusals carry no body ------------------------------------------------------


def test_bind_8_asgi_head_refusal_has_no_body(guard: Guard) -> None:
    response = TestClient(starlette_app(guard, ANONYMOUS_DEFAULT)).head("/cats/")
    assert (response.status_code, response.content) == (401, b"")


def test_bind_8_wsgi_head_refusal_has_no_body(guard: Guard) -> None:
    response = flask_app(guard, FLASK_TABLE).test_client().head("/cats/")
    assert (response.status_code, response.data) == (401, b"")


# -- BIND-9: form bodies ----------------------------------------------------------------------

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
POST_F = RouteTable([Route("POST", "/f", AUTHENTICATED)])


def form_starlette_app(guard: Guard) -> Starlette:
    async def form(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(len(await request.body())))

    return Starlette(
        routes=[StarletteRoute("/form/", form, methods=["POST"])],
        middleware=[
            Middleware(
                StepUpMiddleware,
                guard=guard,
                routes=RouteTable([Route("POST", "/form/", AUTHENTICATED)]),
            )
        ],
    )


def test_bind_9_asgi_form_body_past_the_limit_is_413(make_guard: MakeGuard) -> None:
    guard = make_guard(token_methods=TokenMethods(body=True, max_body_length=1024))
    response = TestClient(form_starlette_app(guard)).post(
        "/form/", content=b"a=" * 1000, headers=FORM
    )
    assert response.status_code == 413


def test_bind_9_wsgi_form_body_past_the_limit_is_413(make_guard: MakeGuard) -> None:
    guard = make_guard(token_methods=TokenMethods(body=True, max_body_length=1024))
    app = StepUpWSGIMiddleware(
        raw_wsgi, guard=guard, routes=RouteTable([Route("POST", "/f", AUTHENTICATED)])
    )
    response = WerkzeugClient(app).post("/f", data=b"a=" * 1000, headers=FORM)
    assert response.status_code == 413


@pytest.mark.anyio
async def test_bind_9_a_disconnect_mid_body_is_not_replayed_as_complete(
    make_guard: MakeGuard, tokens: TokenFactory
) -> None:
    guard = make_guard(token_methods=TokenMethods(body=True))
    reached: list[bool] = []
    sent: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(True)

    token = tokens.password_token().encode()
    messages = iter(
        [
            {"type": "http.request", "body": b"access_token=" + token, "more_body": True},
            {"type": "http.disconnect"},
        ]
    )

    async def receive() -> Any:
        return next(messages)

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/f",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
    }
    await StepUpMiddleware(app, guard=guard, routes=POST_F)(scope, receive, send)
    assert (reached, sent) == ([], [])


def test_bind_9_wsgi_body_shorter_than_its_length_is_refused(
    make_guard: MakeGuard, tokens: TokenFactory
) -> None:
    import io

    guard = make_guard(token_methods=TokenMethods(body=True))
    app = StepUpWSGIMiddleware(
        raw_wsgi, guard=guard, routes=RouteTable([Route("POST", "/f", AUTHENTICATED)])
    )
    body = b"access_token=" + tokens.password_token().encode()
    environ = {"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body) + 100)}
    response = WerkzeugClient(app).post("/f", headers=FORM, environ_overrides=environ)
    assert response.status_code == 400


@contextlib.asynccontextmanager
async def _noop_lifespan(app: Any) -> AsyncIterator[None]:
    yield


def test_bind_5_a_fitting_table_starts(guard: Guard) -> None:
    with TestClient(starlette_app(guard, ANONYMOUS_DEFAULT, lifespan=_noop_lifespan)) as client:
        assert client.get("/").json() == {"handler": "index"}


def test_bind_9_a_large_form_on_an_anonymous_route_is_not_read(make_guard: MakeGuard) -> None:
    """The body is read for a token only where a token is needed."""
    guard = make_guard(token_methods=TokenMethods(body=True, max_body_length=1024))

    async def comments(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(len(await request.body())))

    table = RouteTable([Route("POST", "/comments/", ANONYMOUS)])
    app = Starlette(
        routes=[StarletteRoute("/comments/", comments, methods=["POST"])],
        middleware=[Middleware(StepUpMiddleware, guard=guard, routes=table)],
    )
    response = TestClient(app).post("/comments/", content=b"a=" * 1000, headers=FORM)
    assert (response.status_code, response.text) == (200, "2000")


def test_bind_5_one_handler_under_routes_listed_with_different_policies_is_allowed(
    guard: Guard, tokens: TokenFactory
) -> None:
    """A generic handler behind two routes with two deliberate policies: each route its own."""
    table = RouteTable([Route("GET", "/public/", ANONYMOUS), Route("GET", "/private/", MFA)])
    shared = handler("shared")
    app = Starlette(
        routes=[StarletteRoute("/public/", shared), StarletteRoute("/private/", shared)],
        middleware=[Middleware(StepUpMiddleware, guard=guard, routes=table)],
    )
    client = TestClient(app)
    assert (client.get("/public/").status_code, client.get("/private/").status_code) == (200, 401)
