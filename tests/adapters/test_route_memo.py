"""The middleware's route-lookup memo (issue 13) stays exactly as strict as asking the router.

``RouteMemo`` remembers which route template a (type, method, root path, path) reaches, but only
while the routes are the very objects it asked: every request first compares the route lists
below the router (mounts included) with a snapshot of their identities. These tests change the
routes after start-up in each way Starlette allows and check that the next request meets the
policy of the handler that actually runs (BIND-1, PERF-2), and that the dispatch check in front
of the router takes its shortcut only for routes the middleware resolved with (PERF-3).
"""

from __future__ import annotations

from typing import Any

from adapter_apps import TestClient
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Host, Mount, Router
from starlette.routing import Route as SRoute

from stepup_mfa import ANONYMOUS, Guard, Policy
from stepup_mfa.adapters import _starlette_routing as routing
from stepup_mfa.adapters._starlette_routing import MAX_REMEMBERED_ROUTES, RouteMemo
from stepup_mfa.asgi import StepUpMiddleware
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import MFA_ACR, TokenFactory

MFA = Policy(acr_values=MFA_ACR, max_age=60, name="mfa-60s")


async def secret(request: Request) -> Response:
    return PlainTextResponse("SECRET")


async def public(request: Request) -> Response:
    return PlainTextResponse("public")


def http(path: str, method: str = "GET", root_path: str = "") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": root_path, "headers": []}


def anon_default(*entries: Route) -> RouteTable:
    return RouteTable(list(entries), default=ANONYMOUS, allow_anonymous_default=True)


def app_with(guard: Guard, routes: list[Any], table: RouteTable, *inner: Middleware) -> Starlette:
    middleware = [Middleware(StepUpMiddleware, guard=guard, routes=table), *inner]
    return Starlette(routes=routes, middleware=middleware)


# -- the memo itself -----------------------------------------------------------------------------


def test_perf_2_memo_answers_as_the_router_and_stays_bounded() -> None:
    memo = RouteMemo(Router([SRoute("/{page}", public), SRoute("/x/", secret)]))
    for n in range(3 * MAX_REMEMBERED_ROUTES):
        assert memo.resolve(http(f"/{n}"))[0] == "/{page}"
        assert len(memo._memory) <= MAX_REMEMBERED_ROUTES
    assert memo.resolve(http("/x/"))[0] == "/x/"


def test_perf_2_routes_swapped_in_place_are_seen() -> None:
    router = Router([SRoute("/{page}", public), SRoute("/admin", secret)])
    memo = RouteMemo(router)
    assert memo.resolve(http("/admin"))[0] == "/{page}"
    routes = router.routes
    routes[0], routes[1] = routes[1], routes[0]  # same list, same length
    assert memo.resolve(http("/admin"))[0] == "/admin"


def test_perf_2_a_route_replaced_by_an_equal_one_of_another_kind_is_seen() -> None:
    class HostAware(SRoute):
        """Compares equal to a plain Route (Starlette's __eq__), but reads more than the path."""

        def matches(self, scope: Any) -> Any:
            return super().matches(scope)

    router = Router([SRoute("/{page}", public)])
    memo = RouteMemo(router)
    assert memo.generation() is not None
    replacement = HostAware("/{page}", public)
    assert replacement == router.routes[0]
    router.routes[0] = replacement
    assert memo.generation() is None  # not plain any more: nothing is remembered
    assert memo.resolve(http("/a")) == ("/{page}", None)


def test_perf_2_a_route_inserted_in_a_mount_is_seen() -> None:
    inner = Router([SRoute("/{p}", public)])
    memo = RouteMemo(Router([Mount("/api", app=inner)]))
    assert memo.resolve(http("/api/admin"))[0] == "/api/{p}"
    inner.routes.insert(0, SRoute("/admin", secret))
    assert memo.resolve(http("/api/admin"))[0] == "/api/admin"


def test_perf_2_a_mount_given_another_app_is_seen() -> None:
    mount = Mount("/api", app=Router([SRoute("/{p}", public)]))
    memo = RouteMemo(Router([mount]))
    assert memo.resolve(http("/api/admin"))[0] == "/api/{p}"
    mount._base_app = Router([SRoute("/admin", secret)])
    assert memo.resolve(http("/api/admin"))[0] == "/api/admin"


def test_perf_2_a_host_route_added_at_run_time_turns_remembering_off() -> None:
    router = Router([SRoute("/{page}", public)])
    memo = RouteMemo(router)
    before = memo.generation()
    assert before is not None
    router.routes.insert(0, Host("admin.example", app=Router([SRoute("/panel", secret)])))
    assert memo.generation() is None
    admin = {**http("/panel"), "headers": [(b"host", b"admin.example")]}
    assert memo.resolve(admin) == ("/panel", None)
    assert memo.resolve(http("/panel")) == ("/{page}", None)


def test_perf_2_the_key_keeps_method_root_path_and_type_apart() -> None:
    memo = RouteMemo(Router([SRoute("/admin", secret, methods=["POST"]), SRoute("/{p}", public)]))
    assert memo.resolve(http("/admin", "GET"))[0] == "/{p}"
    assert memo.resolve(http("/admin", "POST"))[0] == "/admin"
    assert memo.resolve(http("/p/admin", root_path=""))[0] is None
    assert memo.resolve({**http("/admin"), "type": "websocket"})[0] is None


# -- through the middleware ----------------------------------------------------------------------


def test_perf_2_bind_1_a_route_inserted_after_requests_meets_its_policy(
    guard: Guard, tokens: TokenFactory
) -> None:
    table = anon_default(Route("GET", "/{page}", ANONYMOUS), Route("GET", "/admin", MFA))
    app = app_with(guard, [SRoute("/{page}", public)], table)
    app.router.routes.append(SRoute("/admin", secret))  # declared, but behind the catch-all
    with TestClient(app) as client:
        for _ in range(3):  # remembered as the catch-all
            assert client.get("/admin").text == "public"
        app.router.routes.insert(0, app.router.routes.pop())
        refused = client.get("/admin")
        weak = client.get("/admin", headers={"Authorization": "Bearer " + tokens.password_token()})
        strong = client.get("/admin", headers={"Authorization": "Bearer " + tokens.mfa_token()})
    assert (refused.status_code, weak.status_code, strong.text) == (401, 401, "SECRET")


def test_perf_3_routes_changed_between_judgement_and_dispatch_are_judged_again(
    guard: Guard,
) -> None:
    table = RouteTable([Route("GET", "/{page}", ANONYMOUS)])  # default: authenticated
    holder: dict[str, Starlette] = {}

    class InsertsBeforeDispatch:
        """Puts a route in front of the router's list mid-request: the request was judged with
        the old routes and is dispatched with the new ones."""

        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            routes = holder["app"].router.routes
            if scope["type"] == "http" and scope["path"] == "/admin" and len(routes) == 1:
                routes.insert(0, SRoute("/admin", secret))
            await self.app(scope, receive, send)

    app = app_with(guard, [SRoute("/{page}", public)], table, Middleware(InsertsBeforeDispatch))
    holder["app"] = app
    with TestClient(app) as client:
        assert client.get("/other").text == "public"  # remembered, shortcut taken
        response = client.get("/admin")
    assert (response.status_code, "SECRET" in response.text) == (401, False)


def test_perf_2_the_memo_is_used_in_steady_state(
    guard: Guard, tokens: TokenFactory, monkeypatch: Any
) -> None:
    table = RouteTable([Route("GET", "/cats/", MFA)])
    app = app_with(guard, [SRoute("/cats/", secret)], table)
    asked: list[str] = []
    original = routing._dispatched

    def counting(routes: Any, scope: Any, prefix: str) -> Any:
        asked.append(scope["path"])
        return original(routes, scope, prefix)

    monkeypatch.setattr(routing, "_dispatched", counting)
    with TestClient(app) as client:
        statuses = [
            client.get(
                "/cats/", headers={"Authorization": "Bearer " + tokens.mfa_token()}
            ).status_code
            for _ in range(5)
        ]
    assert statuses == [200] * 5
    assert asked == ["/cats/"]  # asked of the router once, then remembered


def test_perf_2_judgements_are_remembered_per_preflight_and_method() -> None:
    """The middleware remembers the whole judgement (template and policy); a CORS preflight and
    a real request to the same path, or two methods, are remembered apart."""
    memo = RouteMemo(Router([SRoute("/cats/", secret, methods=["GET", "OPTIONS"])]))
    asked: list[tuple[str, str | None, bool]] = []

    def policy_for(method: str, template: str | None, preflight: bool) -> str:
        asked.append((method, template, preflight))
        return f"{method} {template} {preflight}"

    options = http("/cats/", "OPTIONS")
    for _ in range(3):
        assert memo.judged(options, "OPTIONS", True, policy_for)[4] == "OPTIONS /cats/ True"
        assert memo.judged(options, "OPTIONS", False, policy_for)[4] == "OPTIONS /cats/ False"
        assert memo.judged(http("/cats/"), "GET", False, policy_for)[4] == "GET /cats/ False"
    assert len(asked) == 3  # each asked once
    judged = memo.judged(http("/cats/"), "GET", False, policy_for)
    assert judged[:4] == ("/cats/", "", "GET", "/cats/") and judged[5] == memo.generation()
