"""Round 3 attacks on route binding after the hot-path work (issue 13: ``RouteMemo``, the
dispatch check's shortcut, ``Guard.recall`` in the ASGI middleware).

The app changes under the middleware after start-up (routes inserted, mounts added, a FastAPI
router included), or an inner middleware rewrites the path or method of a request the outer
middleware admitted from a remembered verdict. Each time, the handler that runs must have met
its own policy (BIND-1). Every handler answers its name, so a 200 says which one ran. The path
spellings over raw sockets against uvicorn, hypercorn, gunicorn, waitress and werkzeug are
``tests/binding`` (re-run this round: all pass; its credentials are reused across cells, so its
requests also meet remembered verdicts). A hole is marked ``xfail(strict=True)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Router
from starlette.routing import Route as StarletteRoute
from starlette.testclient import TestClient

from stepup_mfa import ANONYMOUS, Guard, JWTVerifier, Policy
from stepup_mfa._verify.flow import HttpRequest, HttpResponse
from stepup_mfa._verify.transports import AsyncHttpxTransport
from stepup_mfa.adapters.asgi import StepUpMiddleware
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import MFA_ACR, FakeIssuer, FrozenClock

AUDIENCE = "https://api.example.com"
NOW = 1_800_000_000.0
AUTH = Policy(name="authenticated")
MFA = Policy(acr_values=MFA_ACR, max_age=60, name="mfa-60s")
TABLE = RouteTable(
    [
        Route("GET", "/open", AUTH),
        Route("GET", "/admin/{id}", MFA),
        Route("POST", "/admin/{id}", MFA),
        Route("GET", "/pub", ANONYMOUS),
    ],
    default=AUTH,
)


class OneShotAsyncTransport:
    async def send(self, request: HttpRequest) -> HttpResponse:
        async with httpx.AsyncClient(follow_redirects=False) as client:
            return await AsyncHttpxTransport(client).send(request)


def named(name: str) -> Any:
    async def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse(name)

    return endpoint


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    with FakeIssuer(AUDIENCE, clock=FrozenClock(NOW)) as issuer:
        yield issuer


@pytest.fixture
def guard(issuer: FakeIssuer) -> Iterator[Guard]:
    verifier = JWTVerifier(issuer.issuer, AUDIENCE, allow_insecure_http=True)
    guard = Guard(
        verifier,
        clock=FrozenClock(NOW),
        refresh_ahead=None,
        async_transport=OneShotAsyncTransport(),
    )
    yield guard
    guard.close()


@pytest.fixture
def password(issuer: FakeIssuer) -> dict[str, str]:
    return {"Authorization": "Bearer " + issuer.tokens.password_token()}


def base_app(guard: Guard, *middleware: Any) -> Starlette:
    app = Starlette(
        routes=[
            StarletteRoute("/open", named("open")),
            StarletteRoute("/admin/{id}", named("admin"), methods=["GET", "POST"]),
            StarletteRoute("/pub", named("pub")),
        ]
    )
    for cls, options in middleware:
        app.add_middleware(cls, **options)
    app.add_middleware(StepUpMiddleware, guard=guard, routes=TABLE)
    return app


def warm(client: TestClient, headers: dict[str, str]) -> None:
    for _ in range(3):
        answer = client.get("/open", headers=headers)
        assert (answer.status_code, answer.text) == (200, "open")


def not_admin(answer: Any) -> None:
    assert answer.status_code < 500
    assert answer.text != "admin", "the MFA handler ran for a password token"


# -- routes added after start-up ----------------------------------------------------------------


@pytest.mark.parametrize(
    "added",
    [
        StarletteRoute("/admin/{name}", named("admin")),  # the same template, another name
        Mount("/admin", routes=[StarletteRoute("/{x}", named("admin"))]),
        Mount("/", routes=[StarletteRoute("/admin/{x}", named("admin"))]),
        Mount("/admin", app=Router(routes=[StarletteRoute("/{x}", named("admin"))])),
    ],
    ids=["renamed-param", "mount", "root-mount", "mounted-router"],
)
def test_binding_a_route_inserted_first_after_start_up_keeps_the_mfa_policy(
    guard: Guard, password: dict[str, str], added: Any
) -> None:
    """Attack: after start-up (and with verdicts remembered), a route for the MFA handler's
    paths is inserted before the others under a template that normalises to the listed one; a
    password token must not reach it (BIND-1, PERF-2: the route memory notices the new list)."""
    app = base_app(guard)
    with TestClient(app) as client:
        warm(client, password)
        app.router.routes.insert(0, added)
        for method in ("GET", "POST"):
            not_admin(client.request(method, "/admin/1", headers=password))


def _admin_endpoint(app: Starlette) -> Any:
    """The endpoint function of the listed ``/admin/{id}`` route."""
    for route in app.router.routes:
        if isinstance(route, StarletteRoute) and route.path == "/admin/{id}":
            return route.endpoint
    raise AssertionError("no /admin/{id} route")


@pytest.mark.parametrize("template", ["/admin/{id:path}", "/{section}/{id}", "/staff/{id}"])
def test_binding_the_mfa_handler_added_under_another_template_after_start_up(
    guard: Guard, password: dict[str, str], template: str
) -> None:
    """Attack: after start-up, the MFA handler itself is also routed under a template the table
    does not list (``app.router.routes.insert``/``add_route`` at run time). At start-up the
    library refuses exactly this app ("the routes ... run one handler, but ... is not listed
    and would run it under the default policy"). Was a hole (the table was bound once, so the
    handler ran under the default policy); now the routes are bound again on the change and,
    refused as at start-up, every request fails closed with 503 (BIND-1, BIND-5, BIND-12)."""
    app = base_app(guard)
    with TestClient(app) as client:
        warm(client, password)
        app.router.routes.insert(0, StarletteRoute(template, _admin_endpoint(app)))
        target = "/admin/1" if template.startswith(("/admin", "/{")) else "/staff/1"
        answer = client.get(target, headers=password)
    assert answer.status_code == 503  # fail closed: the table no longer fits the routes
    assert answer.text != "admin", "the MFA handler ran for a password token"


def test_binding_a_catch_all_added_after_start_up_gets_the_default_policy(
    guard: Guard, password: dict[str, str]
) -> None:
    """Attack: a catch-all inserted first after start-up takes ``/pub`` (anonymous) over: the
    handler that runs now is judged by the table's default, not the anonymous entry (BIND-1)."""
    app = base_app(guard)
    with TestClient(app) as client:
        assert client.get("/pub").status_code == 200
        app.router.routes.insert(0, StarletteRoute("/{anything}", named("catch-all")))
        assert client.get("/pub").status_code == 401
        assert client.get("/pub", headers=password).text == "catch-all"


def test_binding_a_fastapi_router_included_after_start_up_is_judged(
    guard: Guard, issuer: FakeIssuer
) -> None:
    """Attack: ``include_router`` after start-up adds another handler for ``/admin/{id}``, and
    the route list is then replaced whole in reverse order, so the new handler is the one that
    runs (BIND-1, PERF-2: judged by the template's policy)."""
    from fastapi import APIRouter, FastAPI

    app = FastAPI()
    app.add_api_route("/open", named("open"), methods=["GET"])
    app.add_api_route("/admin/{id}", named("admin"), methods=["GET", "POST"])
    app.add_api_route("/pub", named("pub"), methods=["GET"])
    app.add_middleware(StepUpMiddleware, guard=guard, routes=TABLE)
    line = {"Authorization": "Bearer " + issuer.tokens.password_token()}
    with TestClient(app) as client:
        warm(client, line)
        late = APIRouter()
        late.add_api_route("/admin/{id}", named("admin"), methods=["GET"])
        app.include_router(late)
        not_admin(client.get("/admin/1", headers=line))
        app.router.routes = [*reversed(app.router.routes)]
        not_admin(client.get("/admin/1", headers=line))


# -- an inner middleware rewrites what the outer one judged ---------------------------------------


class Rewrite:
    """Rewrites ``/open`` to ``/admin/1`` (path, raw_path and, optionally, the method)."""

    def __init__(self, app: Any, method: str | None = None) -> None:
        self.app = app
        self.method = method

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/open":
            scope = dict(scope, path="/admin/1", raw_path=b"/admin/1")
            if self.method is not None:
                scope["method"] = self.method
        await self.app(scope, receive, send)


@pytest.mark.parametrize("method", [None, "POST"])
def test_binding_an_inner_rewrite_after_a_recalled_admission_is_judged_again(
    guard: Guard, issuer: FakeIssuer, password: dict[str, str], method: str | None
) -> None:
    """Attack: the outer middleware admits ``GET /open`` from a remembered verdict (the
    password token was seen twice); an inner middleware then sends the request to the MFA
    handler, with or without changing the method (BIND-1: the dispatch check judges again)."""
    plain = base_app(guard)
    with TestClient(plain) as client:
        warm(client, password)  # the verdict is remembered in this Guard
    app = base_app(guard, (Rewrite, {"method": method}))
    with TestClient(app) as client:
        answer = client.get("/open", headers=password)
    not_admin(answer)
    assert answer.status_code == 401
    mfa = {"Authorization": "Bearer " + issuer.tokens.mfa_token()}
    with TestClient(app) as client:
        assert client.get("/open", headers=mfa).text == "admin"  # the rewrite itself works


def test_binding_an_inner_rewrite_to_an_unknown_path_falls_to_the_default(
    guard: Guard, password: dict[str, str]
) -> None:
    """Attack: an anonymous request to ``/pub`` rewritten by an inner middleware to the MFA
    handler's path: the dispatch check must ask for a token (BIND-1)."""

    class ToAdmin(Rewrite):
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["path"] == "/pub":
                scope = dict(scope, path="/admin/1", raw_path=b"/admin/1")
            await self.app(scope, receive, send)

    app = base_app(guard, (ToAdmin, {}))
    with TestClient(app) as client:
        anonymous = client.get("/pub")
        weak = client.get("/pub", headers=password)
    assert anonymous.status_code == 401 and anonymous.text != "admin"
    not_admin(weak)


# -- a mount replaced after start-up --


class SubRewrite:
    """Inside a mounted sub-app: ``/x/open`` is sent to ``/x/admin/1``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/x/open":
            scope = dict(scope, path="/x/admin/1", raw_path=b"/x/admin/1")
        await self.app(scope, receive, send)


def _sub_app(rewrite: bool) -> Starlette:
    from starlette.middleware import Middleware

    return Starlette(
        routes=[
            StarletteRoute("/open", named("open")),
            StarletteRoute("/admin/{id}", named("admin")),
        ],
        middleware=[Middleware(SubRewrite)] if rewrite else [],
    )


MOUNT_TABLE = RouteTable(
    [Route("GET", "/x/open", AUTH), Route("GET", "/x/admin/{id}", MFA)], default=AUTH
)


def test_binding_a_rewriting_sub_app_mounted_at_start_up_is_judged_again(
    guard: Guard, password: dict[str, str]
) -> None:
    """Control for the hole below: the same rewriting sub-app, mounted before start-up, gets a
    dispatch check of its own and the password token is refused at the MFA handler (BIND-1)."""
    app = Starlette(routes=[Mount("/x", app=_sub_app(rewrite=True))])
    app.add_middleware(StepUpMiddleware, guard=guard, routes=MOUNT_TABLE)
    with TestClient(app) as client:
        answer = client.get("/x/open", headers=password)
    assert answer.status_code == 401
    not_admin(answer)


def test_binding_a_mount_replaced_after_start_up_by_a_rewriting_sub_app(
    guard: Guard, password: dict[str, str]
) -> None:
    """Attack: the app swaps ``Mount("/x", app=...)`` at run time for a sub-app whose own
    middleware rewrites ``/x/open`` to ``/x/admin/1``. The route memory notices the new mount
    and resolves ``/x/open`` (authenticated) correctly. Was a hole (dispatch checks were
    installed only at start-up, so nothing judged the rewritten request at the sub-app's
    router); now the routes are bound again on the change, dispatch checks included, and the
    MFA handler's policy refuses the password token (BIND-1, BIND-12). The same app mounted
    before start-up is refused (the control above)."""
    app = Starlette(routes=[Mount("/x", app=_sub_app(rewrite=False))])
    app.add_middleware(StepUpMiddleware, guard=guard, routes=MOUNT_TABLE)
    with TestClient(app) as client:
        for _ in range(3):
            assert client.get("/x/open", headers=password).text == "open"
        app.router.routes[0] = Mount("/x", app=_sub_app(rewrite=True))
        answer = client.get("/x/open", headers=password)
    not_admin(answer)


# -- the WSGI middleware over a werkzeug map: a rule added after start-up --


def _werkzeug_app(url_map: Any) -> Any:
    from werkzeug.wrappers import Response

    def app(environ: Any, start_response: Any) -> Any:
        endpoint, _ = url_map.bind_to_environ(environ).match()
        return Response(endpoint)(environ, start_response)

    return app


WSGI_TABLE = RouteTable(
    [Route("GET", "/open", AUTH), Route("GET", "/admin/<id>", MFA)], default=AUTH
)


def test_binding_wsgi_a_map_with_the_mfa_endpoint_under_an_unlisted_rule_fails_at_start_up(
    guard: Guard,
) -> None:
    """Control for the hole below: the same map, complete before the first request, is refused
    (the same-handler rule, BIND-5)."""
    from werkzeug.routing import Map, Rule
    from werkzeug.test import Client

    from stepup_mfa import ConfigurationError
    from stepup_mfa.adapters.wsgi import StepUpWSGIMiddleware

    rules = [Rule("/open", endpoint="open"), Rule("/admin/<id>", endpoint="admin")]
    url_map = Map([*rules, Rule("/staff/<id>", endpoint="admin")])
    middleware = StepUpWSGIMiddleware(
        _werkzeug_app(url_map), guard=guard, routes=WSGI_TABLE, url_map=url_map
    )
    with pytest.raises(ConfigurationError, match="run one handler"):
        Client(middleware).get("/open")


def test_binding_wsgi_a_rule_for_the_mfa_endpoint_added_after_start_up(
    guard: Guard, password: dict[str, str]
) -> None:
    """Attack: ``url_map.add(Rule("/staff/<id>", endpoint="admin"))`` after the first request.
    Was a hole (the table was bound once, in ``StepUpWSGIMiddleware._bind``, so the new rule
    met the table's default and the MFA endpoint answered a password token); now the changed
    map is bound again and, refused as on the first request (the control above), every request
    fails closed with 503 (BIND-2, BIND-5, BIND-12)."""
    from werkzeug.routing import Map, Rule
    from werkzeug.test import Client

    from stepup_mfa.adapters.wsgi import StepUpWSGIMiddleware

    url_map = Map([Rule("/open", endpoint="open"), Rule("/admin/<id>", endpoint="admin")])
    middleware = StepUpWSGIMiddleware(
        _werkzeug_app(url_map), guard=guard, routes=WSGI_TABLE, url_map=url_map
    )
    client = Client(middleware)
    assert client.get("/admin/1", headers=password).status_code == 401
    url_map.add(Rule("/staff/<id>", endpoint="admin"))
    answer = client.get("/staff/1", headers=password)
    assert answer.status_code == 503  # fail closed: the table no longer fits the map
    assert answer.get_data() != b"admin"
