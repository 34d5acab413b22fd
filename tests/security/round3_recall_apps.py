"""Apps for the round 3 recall attacks over real servers (test_attacks_round3_recall_servers.py),
built in the server process: a JWT verifier trusting ``ROUND3_ISSUER`` (a fake issuer in the
test process, real clock) for ``ROUND3_AUDIENCE``; ``GET /open`` needs a token, ``GET`` and
``POST /admin`` need MFA within 60 s. Every handler answers its own name."""

from __future__ import annotations

import os
from typing import Any

from stepup_mfa import Guard, JWTVerifier, Policy
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import MFA_ACR

MFA = Policy(acr_values=MFA_ACR, max_age=60, name="mfa-60s")
TABLE = RouteTable(
    [
        Route("GET", "/open", Policy(name="authenticated")),
        Route("GET,POST", "/admin", MFA),
    ]
)


def _guard() -> Guard:
    verifier = JWTVerifier(
        os.environ["ROUND3_ISSUER"], os.environ["ROUND3_AUDIENCE"], allow_insecure_http=True
    )
    return Guard(verifier)


def asgi_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route as StarletteRoute

    from stepup_mfa.adapters.asgi import StepUpMiddleware

    async def open_(request: Request) -> PlainTextResponse:
        return PlainTextResponse("open")

    async def admin(request: Request) -> PlainTextResponse:
        return PlainTextResponse("admin")

    app = Starlette(
        routes=[
            StarletteRoute("/open", open_, methods=["GET"]),
            StarletteRoute("/admin", admin, methods=["GET", "POST"]),
        ]
    )
    app.add_middleware(StepUpMiddleware, guard=_guard(), routes=TABLE)
    return app


def wsgi_app() -> Any:
    from flask import Flask

    from stepup_mfa.adapters.wsgi import StepUpWSGIMiddleware

    app = Flask("round3")

    @app.get("/open")
    def open_() -> str:
        return "open"

    @app.route("/admin", methods=["GET", "POST"])
    def admin() -> str:
        return "admin"

    app.wsgi_app = StepUpWSGIMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, guard=_guard(), routes=TABLE
    )
    return app
