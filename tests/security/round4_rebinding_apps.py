"""Apps for the round 4 re-binding attacks over real servers
(test_attacks_round4_rebinding_servers.py), built in the server process: a JWT verifier
trusting ``ROUND4_ISSUER`` (a fake issuer in the test process, real clock) for
``ROUND4_AUDIENCE``. ``GET /open`` needs a token, ``GET /admin/{id}`` MFA within 60 s, ``GET
/flip`` is anonymous; anything else gets the table's default (a token). Every handler answers
its own name.

A request carrying ``X-Hold: 1`` is held after the route-table middleware judged it and before
the app routes it, until a ``GET /flip`` (on another connection) has changed the routes: the
MFA handler is then routed under a path the table does not list (``/x`` for ASGI, a new rule
``/staff/<id>`` for Flask), routes the table no longer fits. The held request is a request in
flight while the routes change.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from stepup_mfa import ANONYMOUS, Guard, JWTVerifier, Policy
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import MFA_ACR

MFA = Policy(acr_values=MFA_ACR, max_age=60, name="mfa-60s")
AUTH = Policy(name="authenticated")
HOLD_SECONDS = 15.0


def _guard() -> Guard:
    verifier = JWTVerifier(
        os.environ["ROUND4_ISSUER"], os.environ["ROUND4_AUDIENCE"], allow_insecure_http=True
    )
    return Guard(verifier)


def asgi_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route as StarletteRoute
    from starlette.types import ASGIApp, Receive, Scope, Send

    from stepup_mfa.adapters.asgi import StepUpMiddleware

    held = asyncio.Event()
    flipped = asyncio.Event()

    class Hold:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and (b"x-hold", b"1") in scope["headers"]:
                held.set()
                await asyncio.wait_for(flipped.wait(), HOLD_SECONDS)
            await self.app(scope, receive, send)

    def named(name: str) -> Any:
        async def endpoint(request: Request) -> PlainTextResponse:
            return PlainTextResponse(name)

        return endpoint

    admin = named("admin")

    async def flip(request: Request) -> PlainTextResponse:
        await asyncio.wait_for(held.wait(), HOLD_SECONDS)
        routes = app.router.routes
        for i, route in enumerate(routes):
            if getattr(route, "path", None) == "/x":
                routes[i] = StarletteRoute("/x", admin, methods=["GET"])
        flipped.set()
        return PlainTextResponse("flip")

    app = Starlette(
        routes=[
            StarletteRoute("/open", named("open"), methods=["GET"]),
            StarletteRoute("/admin/{id}", admin, methods=["GET"]),
            StarletteRoute("/x", named("x"), methods=["GET"]),
            StarletteRoute("/flip", flip, methods=["GET"]),
        ]
    )
    table = RouteTable(
        [
            Route("GET", "/open", AUTH),
            Route("GET", "/admin/{id}", MFA),
            Route("GET", "/flip", ANONYMOUS),
        ],
        default=AUTH,
    )
    app.add_middleware(Hold)
    app.add_middleware(StepUpMiddleware, guard=_guard(), routes=table)
    return app


def wsgi_app() -> Any:
    from flask import Flask
    from werkzeug.routing import Rule

    from stepup_mfa.adapters.wsgi import StepUpWSGIMiddleware

    held = threading.Event()
    flipped = threading.Event()
    app = Flask("round4")

    @app.get("/open")
    def open_() -> str:
        return "open"

    @app.get("/admin/<id>")
    def admin(id: str) -> str:
        return "admin"

    @app.get("/flip")
    def flip() -> str:
        held.wait(HOLD_SECONDS)
        app.url_map.add(Rule("/staff/<id>", endpoint="admin", methods=["GET"]))
        flipped.set()
        return "flip"

    table = RouteTable(
        [
            Route("GET", "/open", AUTH),
            Route("GET", "/admin/<id>", MFA),
            Route("GET", "/flip", ANONYMOUS),
        ],
        default=AUTH,
    )
    flask_wsgi = app.wsgi_app

    def hold(environ: Any, start_response: Any) -> Any:
        if environ.get("HTTP_X_HOLD") == "1":
            held.set()
            flipped.wait(HOLD_SECONDS)
        return flask_wsgi(environ, start_response)

    middleware = StepUpWSGIMiddleware(flask_wsgi, guard=_guard(), routes=table)
    middleware.app = hold  # judged around Flask's own routing, held before Flask routes it
    app.wsgi_app = middleware  # type: ignore[method-assign]
    return app
