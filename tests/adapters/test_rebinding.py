"""Routes changed after start-up are bound again (BIND-12).

The ASGI middleware (Starlette's router) and the WSGI middleware (a werkzeug map, Flask's map)
bind the route table to the app's routes at start-up and again whenever they change: a change
the table still fits is judged by the new binding at once; a change it does not fit (what
start-up would have refused) is logged and answered with 503 for every request, until the
routes change into ones the table fits again. Real apps, real tokens from the fake issuer.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Router
from starlette.routing import Route as StarletteRoute
from starlette.testclient import TestClient
from werkzeug.routing import Map, Rule
from werkzeug.test import Client
from werkzeug.wrappers import Response

from stepup_mfa import ANONYMOUS, Guard, Policy
from stepup_mfa.adapters.asgi import StepUpMiddleware
from stepup_mfa.adapters.wsgi import StepUpWSGIMiddleware
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import MFA_ACR, TokenFactory

AUTH = Policy(name="authenticated")
MFA = Policy(acr_values=MFA_ACR, max_age=60, name="mfa-60s")
TABLE = RouteTable(
    [
        Route("GET", "/open", AUTH),
        Route("GET", "/admin/{id}", MFA),
        Route("GET", "/pub", ANONYMOUS),
    ],
    default=AUTH,
)
WSGI_TABLE = RouteTable(
    [
        Route("GET", "/open", AUTH),
        Route("GET", "/admin/<id>", MFA),
        Route("GET", "/pub", ANONYMOUS),
    ],
    default=AUTH,
)


def named(name: str) -> Any:
    async def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse(name)

    return endpoint


def starlette_app(guard: Guard) -> Starlette:
    app = Starlette(
        routes=[
            StarletteRoute("/open", named("open")),
            StarletteRoute("/admin/{id}", named("admin")),
            StarletteRoute("/pub", named("pub")),
        ]
    )
    app.add_middleware(StepUpMiddleware, guard=guard, routes=TABLE)
    return app


def admin_endpoint(app: Starlette) -> Any:
    for route in app.router.routes:
        if isinstance(route, StarletteRoute) and route.path == "/admin/{id}":
            return route.endpoint
    raise AssertionError("no /admin/{id} route")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token}


def unbound_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "stepup_event", None) == "routes_unbound"]


# -- ASGI (Starlette's router) ------------------------------------------------------------------


def test_bind_12_asgi_routes_the_table_no_longer_fits_refuse_every_request_with_503(
    guard: Guard, tokens: TokenFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The MFA handler also routed under an unlisted template after start-up: every request,
    the anonymous route's and an MFA token's included, gets 503 with ``Retry-After``, and the
    reason is logged once, naming the routes (BIND-12, BIND-5)."""
    app = starlette_app(guard)
    mfa = bearer(tokens.mfa_token())
    with TestClient(app) as client:
        assert client.get("/pub").status_code == 200
        assert client.get("/admin/1", headers=mfa).text == "admin"
        app.router.routes.insert(0, StarletteRoute("/staff/{id}", admin_endpoint(app)))
        with caplog.at_level(logging.ERROR, logger="stepup_mfa"):
            answers = [
                client.get("/pub"),
                client.get("/open", headers=mfa),
                client.get("/admin/1", headers=mfa),
                client.get("/staff/1", headers=mfa),
            ]
    assert [answer.status_code for answer in answers] == [503] * 4
    assert all(answer.headers["retry-after"] for answer in answers)
    assert all(answer.text not in {"pub", "open", "admin"} for answer in answers)
    records = unbound_records(caplog)
    assert len(records) == 1
    assert "/staff/{}" in records[0].getMessage()


def test_bind_12_asgi_routes_changed_back_into_ones_the_table_fits_are_served_again(
    guard: Guard, tokens: TokenFactory
) -> None:
    """The refused route is removed again: the routes are bound afresh and each request meets
    its own route's policy once more (BIND-12)."""
    app = starlette_app(guard)
    password = bearer(tokens.password_token())
    with TestClient(app) as client:
        assert client.get("/open", headers=password).status_code == 200
        app.router.routes.insert(0, StarletteRoute("/staff/{id}", admin_endpoint(app)))
        assert client.get("/open", headers=password).status_code == 503
        del app.router.routes[0]
        assert client.get("/open", headers=password).text == "open"
        assert client.get("/admin/1", headers=password).status_code == 401
        assert client.get("/pub").text == "pub"


def test_bind_12_asgi_a_fitting_change_is_judged_by_the_new_binding(
    guard: Guard, tokens: TokenFactory
) -> None:
    """A new handler added after start-up under the MFA template (inserted first, so it is the
    one that runs) meets the MFA entry; an unlisted new route meets the default (BIND-12)."""
    app = starlette_app(guard)
    password = bearer(tokens.password_token())
    with TestClient(app) as client:
        assert client.get("/open", headers=password).status_code == 200
        app.router.routes.insert(0, StarletteRoute("/admin/{id}", named("new admin")))
        app.router.routes.append(StarletteRoute("/late", named("late")))
        assert client.get("/admin/1", headers=password).status_code == 401
        assert client.get("/late").status_code == 401
        assert client.get("/late", headers=password).text == "late"


def test_bind_12_asgi_a_judgement_remembered_before_a_reorder_is_judged_again_at_dispatch(
    guard: Guard, tokens: TokenFactory
) -> None:
    """The hot path takes the judgement remembered for a path without comparing the routes
    first; the dispatch check compares them before the router runs. A token admitted on
    ``/open`` (twice: the judgement and the verdict are remembered) is refused once a reorder
    makes ``/open`` reach the MFA catch-all: the handler that would run meets its own policy
    (BIND-12, BIND-1)."""
    table = RouteTable([Route("GET", "/open", AUTH), Route("GET", "/{page}", MFA)])
    app = Starlette(
        routes=[StarletteRoute("/open", named("open")), StarletteRoute("/{page}", named("page"))]
    )
    app.add_middleware(StepUpMiddleware, guard=guard, routes=table)
    password = bearer(tokens.password_token())
    with TestClient(app) as client:
        assert [client.get("/open", headers=password).text for _ in range(2)] == ["open"] * 2
        app.router.routes.reverse()
        refused = client.get("/open", headers=password)
        assert refused.status_code == 401
        assert "insufficient_user_authentication" in refused.headers["www-authenticate"]
        assert refused.text != "page"
        assert client.get("/open", headers=bearer(tokens.mfa_token())).text == "page"


def test_bind_12_asgi_a_mount_added_after_start_up_gets_its_dispatch_check(
    guard: Guard, tokens: TokenFactory
) -> None:
    """A sub-app mounted first after start-up, whose own middleware rewrites ``/x/open`` to its
    MFA handler's ``/x/admin/1``: the dispatch check installed on re-binding judges the
    rewritten request by the MFA entry (BIND-1, BIND-12)."""
    from starlette.middleware import Middleware

    class Rewrite:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["path"] == "/x/open":
                scope = dict(scope, path="/x/admin/1", raw_path=b"/x/admin/1")
            await self.app(scope, receive, send)

    table = RouteTable(
        [Route("GET", "/x/open", AUTH), Route("GET", "/x/admin/{id}", MFA)], default=AUTH
    )
    plain = Router(
        [StarletteRoute("/open", named("open")), StarletteRoute("/admin/{id}", named("admin"))]
    )
    app = Starlette(routes=[Mount("/x", app=plain)])
    app.add_middleware(StepUpMiddleware, guard=guard, routes=table)
    sub = Starlette(
        routes=[
            StarletteRoute("/open", named("new open")),
            StarletteRoute("/admin/{id}", named("new admin")),
        ],
        middleware=[Middleware(Rewrite)],
    )
    password = bearer(tokens.password_token())
    mfa = bearer(tokens.mfa_token())
    with TestClient(app) as client:
        assert client.get("/x/open", headers=password).text == "open"
        app.router.routes.insert(0, Mount("/x", app=sub))
        refused = client.get("/x/open", headers=password)
        admitted = client.get("/x/open", headers=mfa)
    assert refused.status_code == 401 and refused.text != "new admin"
    assert admitted.text == "new admin"  # the rewrite itself works


# -- WSGI (a werkzeug map, Flask's map) ---------------------------------------------------------


def werkzeug_app(url_map: Map) -> Any:
    def app(environ: Any, start_response: Any) -> Any:
        endpoint, _ = url_map.bind_to_environ(environ).match()
        return Response(endpoint)(environ, start_response)

    return app


def werkzeug_client(guard: Guard) -> tuple[Map, Client]:
    url_map = Map(
        [
            Rule("/open", endpoint="open"),
            Rule("/admin/<id>", endpoint="admin"),
            Rule("/pub", endpoint="pub"),
        ]
    )
    middleware = StepUpWSGIMiddleware(
        werkzeug_app(url_map), guard=guard, routes=WSGI_TABLE, url_map=url_map
    )
    return url_map, Client(middleware)


def test_bind_12_wsgi_a_map_the_table_no_longer_fits_refuses_every_request_with_503(
    guard: Guard, tokens: TokenFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A rule for the MFA endpoint added after the first request: every request gets 503 and
    the reason is logged once (BIND-12, BIND-5)."""
    url_map, client = werkzeug_client(guard)
    mfa = bearer(tokens.mfa_token())
    assert client.get("/pub").status_code == 200
    url_map.add(Rule("/staff/<id>", endpoint="admin"))
    with caplog.at_level(logging.ERROR, logger="stepup_mfa"):
        answers = [client.get("/pub"), client.get("/admin/1", headers=mfa), client.get("/staff/1")]
    assert [answer.status_code for answer in answers] == [503] * 3
    assert all(answer.headers["Retry-After"] for answer in answers)
    assert all(answer.get_data() not in {b"pub", b"admin"} for answer in answers)
    records = unbound_records(caplog)
    assert len(records) == 1
    assert "/staff/" in records[0].getMessage()


def test_bind_12_wsgi_a_fitting_rule_added_after_start_up_is_judged_by_the_new_binding(
    guard: Guard, tokens: TokenFactory
) -> None:
    """A rule with an endpoint of its own added after the first request meets the table's
    default at once (and the listed rules keep theirs) (BIND-12)."""
    url_map, client = werkzeug_client(guard)
    password = bearer(tokens.password_token())
    assert client.get("/open", headers=password).status_code == 200
    url_map.add(Rule("/late", endpoint="late"))
    assert client.get("/late").status_code == 401
    assert client.get("/late", headers=password).get_data() == b"late"
    assert client.get("/admin/1", headers=password).status_code == 401
    assert client.get("/pub").get_data() == b"pub"


def test_bind_12_flask_a_rule_for_the_mfa_view_added_after_the_first_request_is_refused(
    guard: Guard, tokens: TokenFactory
) -> None:
    """Flask: ``app.url_map.add`` after the first request routes the MFA view under an unlisted
    rule; the middleware binds the map again and refuses with 503 (BIND-2, BIND-12)."""
    app = Flask(__name__)

    @app.get("/open")
    def open_view() -> str:
        return "open"

    @app.get("/admin/<id>")
    def admin(id: str) -> str:
        return "admin"

    table = RouteTable(
        [Route("GET", "/open", AUTH), Route("GET", "/admin/<id>", MFA)], default=AUTH
    )
    app.wsgi_app = StepUpWSGIMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, guard=guard, routes=table
    )
    password = bearer(tokens.password_token())
    client = app.test_client()
    assert client.get("/open", headers=password).text == "open"
    app.url_map.add(Rule("/staff/<id>", endpoint="admin", methods=["GET"]))
    answer = client.get("/staff/1", headers=password)
    assert answer.status_code == 503
    assert answer.text != "admin"


def test_bind_12_asgi_the_dispatch_check_taken_off_under_unfit_routes_stays_503_logged_once(
    guard: Guard, tokens: TokenFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Routes the table no longer fits, and then the dispatch check taken off the router: every
    request is still 503 (the remembered path is not taken without the check), and the refusal
    is logged once, not bound again and logged on every request (BIND-12)."""
    app = starlette_app(guard)
    password = bearer(tokens.password_token())
    with TestClient(app) as client:
        assert [client.get("/open", headers=password).text for _ in range(2)] == ["open"] * 2
        app.router.routes.insert(0, StarletteRoute("/staff/{id}", admin_endpoint(app)))
        with caplog.at_level(logging.ERROR, logger="stepup_mfa"):
            answers = [client.get("/open", headers=password)]
            app.router.middleware_stack = app.router.middleware_stack.app  # type: ignore[attr-defined]
            answers += [client.get("/open", headers=password) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [503] * 4
    assert len(unbound_records(caplog)) == 1
