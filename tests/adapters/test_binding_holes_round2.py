"""Holes a second adversarial round found in the dispatch check, the preflight rule and the
shared-handler rule (BIND-1, BIND-2, BIND-5), kept as tests of the safe behaviour: a rewritten
Host or method, a route list changed after start-up, a property-defined handler, a shared view
under several names, and a router guarded by two tables."""

from __future__ import annotations

from typing import Any

import flask
import pytest
from adapter_apps import TestClient
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Host, Mount, Router
from starlette.routing import Route as SRoute
from werkzeug.test import Client as WerkzeugClient

from stepup_mfa import ANONYMOUS, ConfigurationError, Guard, Policy
from stepup_mfa.asgi import StepUpMiddleware
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import MFA_ACR, TokenFactory
from stepup_mfa.wsgi import StepUpWSGIMiddleware

MFA = Policy(acr_values=MFA_ACR, max_age=60, name="mfa-60s")
PREFLIGHT = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}


def anon_table(*entries: Route) -> RouteTable:
    return RouteTable(list(entries), default=ANONYMOUS, allow_anonymous_default=True)


async def secret(request: Request) -> Response:
    return PlainTextResponse("SECRET " + request.method)


async def public(request: Request) -> Response:
    return PlainTextResponse("public")


class ForwardedHost:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            fwd = headers.get(b"x-forwarded-host")
            if fwd:
                scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"host"] + [
                    (b"host", fwd)
                ]
        await self.app(scope, receive, send)


def test_bind_1_a_host_rewritten_after_the_middleware_meets_the_host_route_policy(
    guard: Guard,
) -> None:
    table = anon_table(Route("GET", "/panel", MFA), Route("GET", "/{page}", ANONYMOUS))
    app = Starlette(
        routes=[
            Host("admin.example", app=Router([SRoute("/panel", secret)])),
            SRoute("/{page}", public),
        ],
        middleware=[
            Middleware(StepUpMiddleware, guard=guard, routes=table),
            Middleware(ForwardedHost),
        ],
    )
    with TestClient(app, base_url="http://www.example") as client:
        r = client.get("/panel", headers={"X-Forwarded-Host": "admin.example"})
    assert "SECRET" not in r.text


def test_bind_1_routes_reordered_after_start_up_are_seen(guard: Guard) -> None:
    table = anon_table(Route("GET", "/x", MFA), Route("GET", "/{p}", ANONYMOUS))
    app = Starlette(
        routes=[SRoute("/{p}", public), SRoute("/x", secret)],
        middleware=[Middleware(StepUpMiddleware, guard=guard, routes=table)],
    )
    with TestClient(app) as client:
        assert client.get("/x").text == "public"
        routes = app.router.routes
        routes[0], routes[1] = routes[1], routes[0]
        r = client.get("/x")
    assert "SECRET" not in r.text


def test_bind_1_a_route_inserted_in_a_mount_after_start_up_is_seen(guard: Guard) -> None:
    table = RouteTable([Route("GET", "/api/{p}", ANONYMOUS)])  # default authenticated
    mount = Mount("/api", routes=[SRoute("/{p}", public)])
    app = Starlette(
        routes=[mount],
        middleware=[Middleware(StepUpMiddleware, guard=guard, routes=table)],
    )
    with TestClient(app) as client:
        assert client.get("/api/admin").text == "public"
        mount.routes.insert(0, SRoute("/admin", secret))
        r = client.get("/api/admin")
    assert "SECRET" not in r.text


class PropOptions(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        return PlainTextResponse("SECRET GET")

    @property
    def options(self) -> Any:
        async def answer(request: Request) -> Response:
            return PlainTextResponse("SECRET OPTIONS")

        return answer


def test_bind_1_an_endpoint_whose_options_is_a_property_is_judged(guard: Guard) -> None:
    table = RouteTable([Route("GET", "/admin/", MFA)])
    app = Starlette(
        routes=[SRoute("/admin/", PropOptions)],
        middleware=[Middleware(StepUpMiddleware, guard=guard, routes=table)],
    )
    with TestClient(app) as client:
        r = client.options("/admin/", headers=PREFLIGHT)
    assert "SECRET" not in r.text


class GetattrEndpoint(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        return PlainTextResponse("SECRET GET")

    def __getattr__(self, name: str) -> Any:
        if name in ("post", "options", "delete"):

            async def answer(request: Request) -> Response:
                return PlainTextResponse("SECRET " + request.method)

            return answer
        raise AttributeError(name)


def test_bind_2_a_method_rewritten_after_the_middleware_meets_its_policy(guard: Guard) -> None:
    app = flask.Flask(__name__)

    @app.route("/wire", methods=["GET", "POST"])
    def wire() -> str:
        return "SECRET " + flask.request.method

    inner = app.wsgi_app

    def override(environ: Any, start_response: Any) -> Any:
        m = environ.get("HTTP_X_HTTP_METHOD_OVERRIDE")
        if m:
            environ["REQUEST_METHOD"] = m
        return inner(environ, start_response)

    app.wsgi_app = override
    table = RouteTable([Route("GET", "/wire", ANONYMOUS), Route("POST", "/wire", MFA)])
    client = WerkzeugClient(StepUpWSGIMiddleware(app, guard=guard, routes=table))
    r = client.get("/wire", headers={"X-HTTP-Method-Override": "POST"})
    assert b"SECRET POST" not in r.data


def test_bind_5_one_flask_view_under_two_endpoints_must_be_listed_twice(guard: Guard) -> None:
    app = flask.Flask(__name__)

    def admin() -> str:
        return "SECRET"

    app.add_url_rule("/admin", "admin", admin)
    app.add_url_rule("/legacy-admin", "legacy", admin)
    table = anon_table(Route("GET", "/admin", MFA))
    with pytest.raises(ConfigurationError, match=r"one handler|already guarded"):
        client = WerkzeugClient(StepUpWSGIMiddleware(app, guard=guard, routes=table))
        client.get("/legacy-admin")


class Views:
    async def admin(self, request: Request) -> Response:
        return PlainTextResponse("SECRET")


def test_bind_5_one_bound_method_under_two_routes_must_be_listed_twice(guard: Guard) -> None:
    views = Views()
    table = anon_table(Route("GET", "/admin", MFA))
    app = Starlette(
        routes=[SRoute("/admin", views.admin), SRoute("/legacy-admin", views.admin)],
        middleware=[Middleware(StepUpMiddleware, guard=guard, routes=table)],
    )
    with pytest.raises(ConfigurationError, match=r"one handler|already guarded"):
        with TestClient(app) as client:
            client.get("/legacy-admin")


def test_bind1_memo_is_emptied_when_a_route_is_inserted_at_the_top(
    guard: Guard, tokens: TokenFactory
) -> None:
    table = RouteTable([Route("GET", "/{page}", ANONYMOUS)])  # default: authenticated
    app = Starlette(
        routes=[SRoute("/{page}", public)],
        middleware=[Middleware(StepUpMiddleware, guard=guard, routes=table)],
    )
    with TestClient(app) as client:
        assert client.get("/admin").text == "public"
        app.router.routes.insert(0, SRoute("/admin", secret))
        refused = client.get("/admin")
        admitted = client.get(
            "/admin", headers={"Authorization": "Bearer " + tokens.password_token()}
        )
    assert (refused.status_code, admitted.text) == (401, "SECRET GET")


class LowerPath:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {**scope, "path": scope["path"].lower()}
        await self.app(scope, receive, send)


def test_bind_5_one_app_guarded_by_two_tables_fails_at_start_up(
    guard: Guard, tokens: TokenFactory
) -> None:
    # one Starlette app, two listeners: internal (everything anonymous) and public (admin needs MFA)
    inner = Starlette(
        routes=[SRoute("/admin/", secret), SRoute("/{name}/", public)],
        middleware=[Middleware(LowerPath)],
    )
    internal = StepUpMiddleware(
        inner,
        guard=guard,
        routes=anon_table(Route("GET", "/admin/", ANONYMOUS), Route("GET", "/{name}/", ANONYMOUS)),
    )
    public_app = StepUpMiddleware(
        inner,
        guard=guard,
        routes=anon_table(Route("GET", "/admin/", MFA), Route("GET", "/{name}/", ANONYMOUS)),
    )
    with pytest.raises(ConfigurationError, match=r"one handler|already guarded"):
        with TestClient(internal) as c1:
            assert c1.get("/admin/").text == "SECRET GET"
        with TestClient(public_app) as c2:
            c2.get("/ADMIN/")


def test_bind_5_one_sub_app_guarded_by_two_tables_fails_at_start_up(guard: Guard) -> None:
    sub = Starlette(
        routes=[SRoute("/admin/", secret), SRoute("/{name}/", public)],
        middleware=[Middleware(LowerPath)],
    )
    internal = Starlette(
        routes=[Mount("/s", app=sub)],
        middleware=[
            Middleware(
                StepUpMiddleware,
                guard=guard,
                routes=anon_table(Route("GET", "/s/admin/", ANONYMOUS)),
            )
        ],
    )
    outer = Starlette(
        routes=[Mount("/t", app=sub)],
        middleware=[
            Middleware(
                StepUpMiddleware,
                guard=guard,
                routes=anon_table(
                    Route("GET", "/t/admin/", MFA),
                    Route("GET", "/t/{name}/", ANONYMOUS),
                ),
            )
        ],
    )
    with pytest.raises(ConfigurationError, match=r"one handler|already guarded"):
        with TestClient(internal) as c1:
            assert c1.get("/s/admin/").text == "SECRET GET"
        with TestClient(outer) as c2:
            c2.get("/t/ADMIN/")


def test_bind_2_the_dispatch_check_runs_before_url_value_preprocessors(guard: Guard) -> None:
    app = flask.Flask(__name__)
    ran: list[str] = []

    @app.url_value_preprocessor
    def load(endpoint: Any, values: Any) -> None:
        ran.append(str(endpoint))

    @app.get("/admin/")
    def admin() -> str:
        return "SECRET"

    @app.get("/<name>/")
    def named(name: str) -> str:
        return "public"

    inner = app.wsgi_app

    def lower(environ: Any, start_response: Any) -> Any:
        environ["PATH_INFO"] = environ["PATH_INFO"].lower()
        return inner(environ, start_response)

    app.wsgi_app = lower
    table = anon_table(Route("GET", "/admin/", MFA), Route("GET", "/<name>/", ANONYMOUS))
    r = WerkzeugClient(StepUpWSGIMiddleware(app, guard=guard, routes=table)).get("/ADMIN/")
    assert (r.status_code, ran) == (401, [])


def test_bind_5_partials_of_one_handler_under_two_routes_must_be_listed_twice(guard: Guard) -> None:
    import functools

    async def view(request: Request, label: str) -> Response:
        return PlainTextResponse("SECRET " + label)

    table = anon_table(Route("GET", "/admin", MFA))
    app = Starlette(
        routes=[
            SRoute("/admin", functools.partial(view, label="a")),
            SRoute("/legacy-admin", functools.partial(view, label="b")),
        ],
        middleware=[Middleware(StepUpMiddleware, guard=guard, routes=table)],
    )
    with pytest.raises(ConfigurationError, match=r"one handler|already guarded"):
        with TestClient(app) as client:
            client.get("/legacy-admin")
