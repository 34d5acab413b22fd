"""Round 5 attacks on the ASGI hot path that takes a remembered judgement without comparing the
routes first (BIND-12, BIND-1, PERF-1).

A request with one ``Authorization`` line, no query string, on a path judged before, is admitted
by the judgement ``RouteMemo.remembered()`` kept and the Guard's remembered verdict; the only
route-change check left on that path is the dispatch check in front of the router, which must
judge the request again when the routes changed since the judgement (BIND-12) or the request
was rewritten on the way (BIND-1). Each attack warms the path twice with a password token (the
judgement and the verdict are remembered), then changes the routes, removes the check, rewrites
the request, or spells the headers oddly, and asks again. Every handler answers its own name,
so a 200 says which one ran: the MFA handlers (``admin``, ``page``) must never answer a password
token. In-process ASGI calls; real tokens from the fake issuer. An attack that succeeds is
marked ``xfail(strict=True)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Host, Mount, Router, WebSocketRoute
from starlette.routing import Route as StarletteRoute
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from stepup_mfa import ANONYMOUS, Guard, JWTVerifier, Policy
from stepup_mfa._verify.flow import HttpRequest, HttpResponse
from stepup_mfa._verify.transports import AsyncHttpxTransport
from stepup_mfa.adapters.asgi import StepUpMiddleware
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import MFA_ACR, FakeIssuer, FrozenClock, TokenFactory

AUDIENCE = "https://api.example.com"
NOW = 1_800_000_000.0
AUTH = Policy(name="authenticated")
MFA = Policy(acr_values=MFA_ACR, max_age=60, name="mfa-60s")
TABLE = RouteTable(
    [
        Route("GET", "/open", AUTH),
        Route("GET", "/admin/{id}", MFA),
        Route("GET", "/{page}", MFA),
        Route("POST", "/both", MFA),
        Route("GET", "/ws/open", AUTH),
        Route("GET", "/ws/{room}", MFA),
    ],
    default=AUTH,
)
MUTATE_TABLE = RouteTable([*TABLE.routes, Route("GET", "/mutate", ANONYMOUS)], default=AUTH)
#: What only an MFA token may get.
MFA_BODIES = {"admin", "page", "both-POST", "ws-admin"}


class OneShotAsyncTransport:
    async def send(self, request: HttpRequest) -> HttpResponse:
        async with httpx.AsyncClient(follow_redirects=False) as client:
            return await AsyncHttpxTransport(client).send(request)


@pytest.fixture(scope="module")
def issuer() -> Iterator[FakeIssuer]:
    with FakeIssuer(AUDIENCE, clock=FrozenClock(NOW)) as issuer:
        yield issuer


@pytest.fixture(scope="module")
def tokens(issuer: FakeIssuer) -> TokenFactory:
    return issuer.tokens


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


@pytest.fixture(scope="module")
def password(tokens: TokenFactory) -> dict[str, str]:
    return {"Authorization": "Bearer " + tokens.password_token()}


def named(name: str) -> Any:
    async def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse(name)

    return endpoint


ADMIN = named("admin")
PAGE = named("page")


async def both(request: Request) -> PlainTextResponse:
    return PlainTextResponse("both-" + request.method)


async def ws_open(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("ws-open")
    await websocket.close()


async def ws_admin(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("ws-admin")
    await websocket.close()


def routes() -> list[Any]:
    return [
        StarletteRoute("/open", named("open")),
        StarletteRoute("/admin/{id}", ADMIN),
        StarletteRoute("/both", both, methods=["GET", "POST"]),
        StarletteRoute("/x/", named("x")),  # unlisted: the table's default (AUTH)
        StarletteRoute("/{page}", PAGE),
        Mount("/m", routes=[StarletteRoute("/a", named("m-a"))]),
        WebSocketRoute("/ws/open", ws_open),
        WebSocketRoute("/ws/{room}", ws_admin),
    ]


def app_with(guard: Guard, *inner: Middleware) -> Starlette:
    """Starlette with the route-table middleware outermost, then ``inner`` before the router."""
    return Starlette(
        routes=routes(),
        middleware=[Middleware(StepUpMiddleware, guard=guard, routes=TABLE), *inner],
    )


def warmed(client: TestClient, path: str, headers: dict[str, str], status: int = 200) -> None:
    """Twice: the judgement and the Guard's verdict are both remembered (the hot path)."""
    assert [client.get(path, headers=headers).status_code for _ in range(2)] == [status] * 2


def _route(app: Starlette, path: str) -> Any:
    return next(r for r in app.router.routes if getattr(r, "path", None) == path)


def _to_front(app: Starlette, path: str) -> None:
    routes = app.router.routes
    routes.insert(0, routes.pop(routes.index(_route(app, path))))


def _mount_base_and_app(app: Starlette) -> None:
    mount = _route(app, "/m")
    other = Router([StarletteRoute("/a", ADMIN)])
    mount._base_app = other
    mount.app = other


def _mount_app_only(app: Starlette) -> None:
    _route(app, "/m").app = Router([StarletteRoute("/a", ADMIN)])


#: name -> (the path asked, the change, the status the password token must get then). A
#: handler moved under a listed template meets that template's policy by design (the table
#: names routes, not handlers); moved under an unlisted one (``/x/``, ``/m/a``) while it is
#: listed elsewhere, the routes no longer fit the table (503).
CHANGES: dict[str, tuple[str, Callable[[Starlette], None], int]] = {
    "reorder": ("/open", lambda app: _to_front(app, "/{page}"), 401),
    "reverse": ("/open", lambda app: app.router.routes.reverse(), 401),
    "insert-before": (
        "/open",
        lambda app: app.router.routes.insert(0, StarletteRoute("/{page}", PAGE)),
        401,
    ),
    "replace-element": (
        "/x/",
        lambda app: app.router.routes.__setitem__(
            app.router.routes.index(_route(app, "/x/")), StarletteRoute("/x/", ADMIN)
        ),
        503,
    ),
    "route-app-taken": (
        "/x/",
        lambda app: setattr(_route(app, "/x/"), "app", _route(app, "/admin/{id}").app),
        503,
    ),
    "new-list": (
        "/open",
        lambda app: setattr(app.router, "routes", list(reversed(app.router.routes))),
        401,
    ),
    "host-before": (
        "/open",
        lambda app: app.router.routes.insert(
            0, Host("testserver", app=Router([StarletteRoute("/{page}", PAGE)]))
        ),
        401,
    ),
    "routes-unreadable": ("/open", lambda app: setattr(app.router, "routes", None), 503),
    "mount-base-and-app": ("/m/a", _mount_base_and_app, 503),
    "mount-app-only": ("/m/a", _mount_app_only, 503),
    "mount-routes-insert": (
        "/m/a",
        lambda app: _route(app, "/m").routes.insert(0, StarletteRoute("/a", ADMIN)),
        503,
    ),
    "mount-routes-new-list": (
        "/m/a",
        lambda app: setattr(_route(app, "/m")._base_app, "routes", [StarletteRoute("/a", ADMIN)]),
        503,
    ),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_bind_12_a_route_change_between_two_remembered_requests_is_judged_again(
    change: str, guard: Guard, password: dict[str, str]
) -> None:
    """BIND-12, BIND-1: the third request of a warmed token and path, after the routes changed
    (reordered, an element replaced, a route's or mount's ``app`` reassigned, a ``Host`` route
    inserted, a new list), meets the policy of the handler that runs now, or 503 for routes the
    table does not fit; never the MFA handler, never 500."""
    path, mutate, status = CHANGES[change]
    app = app_with(guard)
    with TestClient(app) as client:
        warmed(client, path, password)
        mutate(app)
        answer = client.get(path, headers=password)
        assert answer.text not in MFA_BODIES
        assert answer.status_code == status


# --- the dispatch check removed or the stack rebuilt ---------------------------------------


class Passing:
    """A middleware that only passes requests on (standing in for any layer put there)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


#: How the dispatch check can be taken off the router after start-up.
UNCHECKED: dict[str, Callable[[Router], None]] = {
    "removed": lambda router: setattr(router, "middleware_stack", router.app),
    "replaced-by-a-layer": lambda router: setattr(router, "middleware_stack", Passing(router.app)),
}


@pytest.mark.parametrize("unchecked", list(UNCHECKED))
def test_bind_12_a_reorder_with_the_dispatch_check_taken_off_is_judged_again(
    unchecked: str, guard: Guard, password: dict[str, str]
) -> None:
    """BIND-12: with the dispatch check taken off the router (``router.middleware_stack =
    router.app``, or another layer in its place) and the routes reordered, the remembered
    judgement must not admit ``/open`` to the MFA catch-all. Before the hot path skipped the
    route comparison, the middleware itself saw the change (and put the check back)."""
    app = app_with(guard)
    with TestClient(app) as client:
        warmed(client, "/open", password)
        UNCHECKED[unchecked](app.router)
        _to_front(app, "/{page}")
        answer = client.get("/open", headers=password)
        assert answer.text != "page"
        assert answer.status_code == 401


def test_bind_1_a_rewrite_with_the_dispatch_check_taken_off_is_judged_again(
    guard: Guard, password: dict[str, str]
) -> None:
    """BIND-1: with the dispatch check taken off the router, an inner middleware rewriting
    ``/open`` to ``/admin/1`` must still not hand the password token to the MFA handler."""
    on: list[bool] = []

    def to_admin(scope: Scope) -> None:
        if on:
            scope.update(path="/admin/1", raw_path=b"/admin/1")

    app = app_with(guard, rewriting(to_admin))
    with TestClient(app) as client:
        warmed(client, "/open", password)
        app.router.middleware_stack = app.router.app
        on.append(True)
        answer = client.get("/open", headers=password)
        assert answer.text != "admin"
        assert answer.status_code == 401


def test_bind_12_the_dispatch_check_removed_then_reinstalled_by_the_next_change_seen(
    guard: Guard, password: dict[str, str]
) -> None:
    """BIND-12: the check taken off the router is put back once a change is seen through a
    request that misses the memory (a query string makes the middleware judge in full), and the
    reorder is then judged by its new policy on the remembered path too."""
    app = app_with(guard)
    with TestClient(app) as client:
        warmed(client, "/open", password)
        app.router.middleware_stack = app.router.app
        _to_front(app, "/{page}")
        assert client.get("/open?x=1", headers=password).status_code == 401
        answer = client.get("/open", headers=password)
        assert (answer.status_code, answer.text) != (200, "page")
        assert answer.status_code == 401


@pytest.mark.parametrize("rebuild", ["middleware_stack-None", "build_middleware_stack"])
def test_bind_12_the_app_stack_rebuilt_after_start_up_never_runs_a_stale_judgement(
    rebuild: str, guard: Guard, password: dict[str, str]
) -> None:
    """BIND-12, BIND-1: Starlette's middleware stack rebuilt after start-up (a new
    ``StepUpMiddleware`` for the same router, whose dispatch check belongs to the old one)
    and the routes reordered: the MFA catch-all never answers the password token on
    ``/open`` and nothing answers 200 from a handler the token may not reach."""
    app = app_with(guard)
    with TestClient(app, raise_server_exceptions=False) as client:
        warmed(client, "/open", password)
        if rebuild == "middleware_stack-None":
            app.middleware_stack = None
        else:
            app.middleware_stack = app.build_middleware_stack()
        _to_front(app, "/{page}")
        answer = client.get("/open", headers=password)
        assert answer.text != "page"
        assert answer.status_code != 200


def test_bind_12_the_app_stack_rebuilt_after_start_up_fails_closed_without_a_500(
    guard: Guard, password: dict[str, str]
) -> None:
    """BIND-12 (fail closed, no 500): after ``app.middleware_stack = None`` the rebuilt stack's
    new middleware (the same table and Guard) takes over the router the old one checked, and
    the request meets its policy as before."""
    app = app_with(guard)
    with TestClient(app, raise_server_exceptions=False) as client:
        warmed(client, "/open", password)
        app.middleware_stack = None
        assert client.get("/open", headers=password).text == "open"
        assert client.get("/admin/1", headers=password).status_code == 401


def test_bind_12_a_middleware_added_after_start_up_is_refused_by_starlette(
    guard: Guard, password: dict[str, str]
) -> None:
    """BIND-12: ``add_middleware`` after start-up cannot slip a layer between the judgement and
    the dispatch check: Starlette refuses it, and the remembered path still meets the
    reorder."""
    app = app_with(guard)
    with TestClient(app) as client:
        warmed(client, "/open", password)
        with pytest.raises(RuntimeError):
            app.add_middleware(Middleware(type("Late", (), {})))  # type: ignore[arg-type]
        _to_front(app, "/{page}")
        assert client.get("/open", headers=password).status_code == 401


def test_bind_12_fastapi_include_router_after_start_up_then_reorder_is_judged_again(
    guard: Guard, password: dict[str, str]
) -> None:
    """BIND-12: FastAPI ``include_router`` after start-up adds a catch-all at the end, then a
    reorder puts it first: ``/open`` (remembered) now reaches the MFA catch-all and is refused."""
    app = FastAPI()

    @app.get("/open")
    async def open_() -> PlainTextResponse:
        return PlainTextResponse("open")

    app.add_middleware(
        StepUpMiddleware,
        guard=guard,
        routes=RouteTable([Route("GET", "/open", AUTH)], default=MFA),
    )
    late = APIRouter()

    @late.get("/{page}")
    async def catch_all(page: str) -> PlainTextResponse:
        return PlainTextResponse("page")

    with TestClient(app) as client:
        warmed(client, "/open", password)
        app.include_router(late)
        routes = app.router.routes
        routes.insert(0, routes.pop())
        answer = client.get("/open", headers=password)
        assert answer.text != "page"
        assert answer.status_code in (401, 503)


# --- the request rewritten between the middleware and the router ----------------------------


def rewriting(change: Callable[[Scope], None]) -> Middleware:
    class Rewrite:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                change(scope)
            await self.app(scope, receive, send)

    return Middleware(Rewrite)


def _set(**values: Any) -> Callable[[Scope], None]:
    return lambda scope: scope.update(values)


#: name -> (the path asked, the rewrite)
REWRITES: dict[str, tuple[str, Callable[[Scope], None]]] = {
    "path": ("/open", _set(path="/admin/1", raw_path=b"/admin/1")),
    "root_path": ("/r/admin/1", _set(root_path="/r")),
    "method": ("/both", _set(method="POST")),
    "path-and-root_path": ("/open", _set(path="/r/admin/1", root_path="/r")),
}


@pytest.mark.parametrize("rewrite", list(REWRITES))
def test_bind_1_a_rewrite_after_a_remembered_hit_is_judged_again_at_dispatch(
    rewrite: str, guard: Guard, password: dict[str, str]
) -> None:
    """BIND-1: an inner middleware rewrites path, root path or method after the hot path
    admitted the request by its remembered judgement: the router dispatches to an MFA
    handler, so the dispatch check judges the request again and refuses the password token.
    The rewrite is switched on only after the path was warmed."""
    path, change = REWRITES[rewrite]
    on: list[bool] = []

    def maybe(scope: Scope) -> None:
        if on:
            change(scope)

    app = app_with(guard, rewriting(maybe))
    with TestClient(app) as client:
        warmed(client, path, password, 404 if rewrite == "root_path" else 200)
        on.append(True)
        answer = client.get(path, headers=password)
        assert answer.text not in MFA_BODIES
        assert answer.status_code == 401


def test_bind_1_a_host_header_rewrite_to_a_host_route_is_judged_again(
    guard: Guard, password: dict[str, str]
) -> None:
    """BIND-1: a ``Host`` route makes the routes read more than the path; a remembered ``/open``
    whose ``host`` header an inner middleware rewrites reaches the MFA handler of that host
    and is judged again (refused)."""
    on: list[bool] = []

    def host(scope: Scope) -> None:
        if on:
            scope["headers"] = [
                (k, b"admin.example" if k == b"host" else v) for k, v in scope["headers"]
            ]

    app = Starlette(
        routes=[Host("admin.example", app=Router([StarletteRoute("/{page}", PAGE)])), *routes()],
        middleware=[
            Middleware(
                StepUpMiddleware,
                guard=guard,
                routes=RouteTable(
                    [Route("GET", "/open", AUTH), Route("GET", "/{page}", MFA)], default=MFA
                ),
            ),
            rewriting(host),
        ],
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        warmed(client, "/open", password)
        on.append(True)
        answer = client.get("/open", headers=password)
        assert answer.text != "page"
        assert answer.status_code == 401


# --- changes while requests are in flight ----------------------------------------------------


def holding() -> tuple[Middleware, asyncio.Event, asyncio.Event]:
    """An inner middleware holding requests marked ``x-hold`` until released."""
    held, release = asyncio.Event(), asyncio.Event()

    class Hold:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and (b"x-hold", b"1") in scope["headers"]:
                held.set()
                await release.wait()
            await self.app(scope, receive, send)

    return Middleware(Hold), held, release


def _async_client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.mark.parametrize("change", ["reorder", "replace-element", "new-list", "host-before"])
def test_bind_12_a_change_by_another_task_while_a_remembered_request_is_held(
    change: str, guard: Guard, password: dict[str, str]
) -> None:
    """BIND-12: a request admitted by the hot path is held before the router while another
    asyncio task changes the routes; released, it meets the new routes at the dispatch check.
    Nothing else asks in between, so the dispatch check is the first to see the change."""
    path, mutate, status = CHANGES[change]
    hold, held, release = holding()
    app = app_with(guard, hold)

    async def attack() -> httpx.Response:
        async with _async_client(app) as client:
            for _ in range(2):
                assert (await client.get(path, headers=password)).status_code == 200
            request = asyncio.create_task(client.get(path, headers={**password, "x-hold": "1"}))
            await held.wait()
            mutate(app)
            release.set()
            return await request

    answer = asyncio.run(attack())
    assert answer.text not in MFA_BODIES
    assert answer.status_code == status


def test_bind_12_a_sync_endpoint_in_the_threadpool_changes_the_routes_under_a_held_request(
    guard: Guard, password: dict[str, str]
) -> None:
    """BIND-12: a sync endpoint (run in Starlette's threadpool) reorders the routes while a
    remembered request is held before the router: the held request is refused by the MFA
    catch-all's policy, and so is the next one."""
    hold, held, release = holding()

    def mutate(request: Request) -> PlainTextResponse:
        _to_front(app, "/{page}")
        return PlainTextResponse("mutated")

    app = Starlette(
        routes=[StarletteRoute("/mutate", mutate), *routes()],
        middleware=[Middleware(StepUpMiddleware, guard=guard, routes=MUTATE_TABLE), hold],
    )

    async def attack() -> tuple[httpx.Response, httpx.Response]:
        async with _async_client(app) as client:
            for _ in range(2):
                assert (await client.get("/open", headers=password)).status_code == 200
            request = asyncio.create_task(client.get("/open", headers={**password, "x-hold": "1"}))
            await held.wait()
            assert (await client.get("/mutate")).text == "mutated"
            release.set()
            return await request, await client.get("/open", headers=password)

    first, after = asyncio.run(attack())
    assert first.text != "page"
    assert first.status_code == 401
    assert after.status_code == 401


def test_bind_12_many_tasks_racing_route_flips_never_get_the_mfa_handler(
    guard: Guard, password: dict[str, str]
) -> None:
    """BIND-12: many concurrent remembered requests on ``/open`` while another task keeps
    flipping the catch-all to the front and back (each flip between awaits): a password token
    gets ``open`` or 401, never ``page``."""
    app = app_with(guard)

    async def attack() -> list[tuple[int, str]]:
        async with _async_client(app) as client:
            for _ in range(2):
                assert (await client.get("/open", headers=password)).status_code == 200
            stop = asyncio.Event()

            async def flipper() -> None:
                while not stop.is_set():
                    app.router.routes.reverse()
                    await asyncio.sleep(0)

            flipping = asyncio.create_task(flipper())
            answers = await asyncio.gather(
                *(client.get("/open", headers=password) for _ in range(60))
            )
            stop.set()
            await flipping
            return [(a.status_code, a.text) for a in answers]

    answers = asyncio.run(attack())
    assert all(text != "page" for _, text in answers)
    assert all(status in (200, 401) for status, _ in answers)


# --- header spellings on the remembered path -------------------------------------------------


async def call(app: ASGIApp, scope: dict[str, Any]) -> tuple[int, bytes]:
    """One in-process HTTP request with the scope given (headers as given: lists, tuples...)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    base = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/open",
        "raw_path": scope.get("path", "/open").encode(),
        "root_path": "",
        "query_string": b"",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
    }
    await app({**base, **scope}, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


def _auth(password: dict[str, str]) -> bytes:
    return password["Authorization"].encode()


@pytest.mark.parametrize("shape", ["lists", "tuples-in-tuple"])
def test_bind_12_headers_as_lists_or_a_tuple_meet_the_reorder_on_the_remembered_path(
    shape: str, guard: Guard, password: dict[str, str]
) -> None:
    """BIND-12: header pairs given as lists (or the header list as a tuple) take the hot path
    like tuples do, and meet the reorder like them: refused, never the MFA catch-all."""
    app = app_with(guard)

    def headers() -> Any:
        pairs = [[b"host", b"testserver"], [b"authorization", _auth(password)]]
        return pairs if shape == "lists" else tuple(tuple(pair) for pair in pairs)

    async def attack() -> list[tuple[int, bytes]]:
        warm = [await call(app, {"headers": headers()}) for _ in range(2)]
        _to_front(app, "/{page}")
        return [*warm, await call(app, {"headers": headers()})]

    answers = asyncio.run(attack())
    assert answers[:2] == [(200, b"open")] * 2
    assert answers[2][0] == 401
    assert answers[2][1] != b"page"


def test_bind_12_headers_as_a_one_shot_iterator_never_reach_a_handler_by_a_stale_judgement(
    guard: Guard, password: dict[str, str]
) -> None:
    """BIND-12, BIND-1: a ``headers`` value that can be read only once (an iterator, which no
    server gives): after the reorder the dispatch check finds no token left and refuses; the
    MFA catch-all never runs."""
    app = app_with(guard)

    def headers() -> Any:
        return iter([(b"host", b"testserver"), (b"authorization", _auth(password))])

    async def attack() -> tuple[int, bytes]:
        for _ in range(2):
            await call(app, {"headers": headers()})
        _to_front(app, "/{page}")
        return await call(app, {"headers": headers()})

    status, body = asyncio.run(attack())
    assert body != b"page"
    assert status == 401


def test_p1_two_authorization_lines_on_a_remembered_path_are_refused(
    guard: Guard, password: dict[str, str]
) -> None:
    """P1 (several Authorization lines are malformed), PERF-1: two ``Authorization`` lines
    of the same warmed token never take the hot path: refused as an invalid request."""
    app = app_with(guard)
    line = (b"authorization", _auth(password))

    async def attack() -> tuple[int, bytes]:
        for _ in range(2):
            assert await call(app, {"headers": [line]}) == (200, b"open")
        return await call(app, {"headers": [line, line]})

    status, body = asyncio.run(attack())
    assert status == 400
    assert body != b"open"


#: Preflight spellings as a server could pass them (names are lower case per ASGI; values and
#: repetitions as sent): each is a preflight or not the same way for the middleware and the
#: dispatch check, so the handler that answers OPTIONS is never reached without MFA.
PREFLIGHTS: dict[str, list[tuple[bytes, bytes]]] = {
    "plain": [(b"origin", b"https://a.example"), (b"access-control-request-method", b"GET")],
    "odd-case-values": [
        (b"origin", b"HTTPS://A.EXAMPLE"),
        (b"access-control-request-method", b"gEt"),
    ],
    "duplicated": [
        (b"origin", b"https://a.example"),
        (b"origin", b"https://b.example"),
        (b"access-control-request-method", b"GET"),
        (b"access-control-request-method", b"POST"),
    ],
    "empty-values": [(b"origin", b""), (b"access-control-request-method", b"")],
    "upper-case-names": [
        (b"Origin", b"https://a.example"),
        (b"Access-Control-Request-Method", b"GET"),
    ],
    "origin-only": [(b"origin", b"https://a.example")],
}


@pytest.mark.parametrize("spelling", list(PREFLIGHTS))
def test_bind_12_a_remembered_preflight_meets_a_handler_that_now_answers_options(
    spelling: str, guard: Guard, password: dict[str, str]
) -> None:
    """BIND-12, BIND-1: an OPTIONS preflight (each spelling) with a password token on a route
    that does not answer OPTIONS is remembered (anonymous, or the default); then the route is
    replaced by one whose handler answers OPTIONS itself (the table's default: MFA). The
    remembered judgement must not let the password token reach it."""

    async def options_too(request: Request) -> PlainTextResponse:
        return PlainTextResponse("admin")

    app = Starlette(
        routes=[StarletteRoute("/open", named("open"))],
        middleware=[
            Middleware(
                StepUpMiddleware,
                guard=guard,
                routes=RouteTable([Route("GET", "/open", AUTH)], default=MFA),
            )
        ],
    )
    headers = [(b"authorization", _auth(password)), *PREFLIGHTS[spelling]]

    async def attack() -> tuple[int, bytes]:
        for _ in range(2):
            await call(app, {"method": "OPTIONS", "headers": list(headers)})
        app.router.routes[0] = StarletteRoute("/open", options_too, methods=["GET", "OPTIONS"])
        return await call(app, {"method": "OPTIONS", "headers": list(headers)})

    status, body = asyncio.run(attack())
    assert body != b"admin"
    assert status == 401


# --- websockets on the remembered path -------------------------------------------------------


def test_bind_12_a_websocket_remembered_before_a_reorder_is_closed_1008(
    guard: Guard, password: dict[str, str]
) -> None:
    """BIND-12: a websocket on ``/ws/open`` (AUTH) connected twice with a password token, then
    the MFA room route reordered in front of it: the third connection is refused (closed with
    1008 before accept), never handed to the MFA handler."""
    app = app_with(guard)
    with TestClient(app) as client:
        for _ in range(2):
            with client.websocket_connect("/ws/open", headers=password) as ws:
                assert ws.receive_text() == "ws-open"
        _to_front(app, "/ws/{room}")
        with pytest.raises(WebSocketDisconnect) as closed:
            with client.websocket_connect("/ws/open", headers=password) as ws:
                ws.receive_text()
        assert closed.value.code == 1008


def test_bind_12_a_websocket_and_an_http_request_on_one_path_do_not_share_a_judgement(
    guard: Guard, password: dict[str, str]
) -> None:
    """BIND-12, BIND-1: ``/ws/open`` warmed as HTTP (no HTTP route there: a 404 under the
    table's default) is not the websocket judgement; the websocket after a reorder is refused."""
    app = app_with(guard)
    with TestClient(app) as client:
        for _ in range(2):
            client.get("/ws/open", headers=password)
        _to_front(app, "/ws/{room}")
        with pytest.raises(WebSocketDisconnect) as closed:
            with client.websocket_connect("/ws/open", headers=password) as ws:
                ws.receive_text()
        assert closed.value.code == 1008


# --- a mount with middleware of its own ------------------------------------------------------


def test_bind_1_a_rewrite_inside_a_mount_after_a_remembered_hit_is_judged_again(
    guard: Guard, password: dict[str, str]
) -> None:
    """BIND-1: a mount with its own middleware (its router stays plain, so ``/s/a`` is
    remembered) rewrites the path inside the mount after the hot path admitted the request:
    the mount's router meets the MFA route and its dispatch check refuses the password token."""
    on: list[bool] = []

    def to_admin(scope: Scope) -> None:
        if on:
            scope.update(path="/s/admin", raw_path=b"/s/admin")

    app = Starlette(
        routes=[
            Mount(
                "/s",
                routes=[StarletteRoute("/a", named("s-a")), StarletteRoute("/admin", ADMIN)],
                middleware=[rewriting(to_admin)],
            )
        ],
        middleware=[
            Middleware(
                StepUpMiddleware,
                guard=guard,
                routes=RouteTable([Route("GET", "/s/a", AUTH), Route("GET", "/s/admin", MFA)]),
            )
        ],
    )
    with TestClient(app) as client:
        warmed(client, "/s/a", password)
        on.append(True)
        answer = client.get("/s/a", headers=password)
        assert answer.text != "admin"
        assert answer.status_code == 401


def test_bind_12_a_reorder_inside_a_mount_with_middleware_meets_the_remembered_path(
    guard: Guard, password: dict[str, str]
) -> None:
    """BIND-12: a mount with its own middleware; ``/s/a`` warmed, then the mount's routes
    reordered so that an MFA catch-all runs there: refused, never the catch-all."""
    inner = [StarletteRoute("/a", named("s-a")), StarletteRoute("/{page}", PAGE)]
    app = Starlette(
        routes=[Mount("/s", routes=inner, middleware=[Middleware(Passing)])],
        middleware=[
            Middleware(
                StepUpMiddleware,
                guard=guard,
                routes=RouteTable([Route("GET", "/s/a", AUTH), Route("GET", "/s/{page}", MFA)]),
            )
        ],
    )
    with TestClient(app) as client:
        warmed(client, "/s/a", password)
        mount: Any = app.router.routes[0]
        mount.routes.reverse()
        answer = client.get("/s/a", headers=password)
        assert answer.text != "page"
        assert answer.status_code == 401
