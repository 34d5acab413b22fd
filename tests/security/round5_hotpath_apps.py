"""The app for the round 5 hot-path attacks over real servers
(test_attacks_round5_hotpath_servers.py), built in the server process: a JWT verifier trusting
``ROUND5_ISSUER`` (a fake issuer in the test process, real clock) for ``ROUND5_AUDIENCE``.

``GET /open`` needs a token, the catch-all ``GET /{page}`` MFA within 60 s, ``/o/pts`` (whose
handler answers ``OPTIONS`` itself) MFA, ``GET /flip/it`` is anonymous: a sync endpoint (run in
the server's threadpool) that moves the catch-all in front of ``/open`` or back behind it.
Every handler answers its own name.
"""

from __future__ import annotations

import os
from typing import Any

from stepup_mfa import ANONYMOUS, Guard, JWTVerifier, Policy
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import MFA_ACR

MFA = Policy(acr_values=MFA_ACR, max_age=60, name="mfa-60s")
AUTH = Policy(name="authenticated")


def asgi_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route as StarletteRoute

    from stepup_mfa.adapters.asgi import StepUpMiddleware

    def named(name: str) -> Any:
        async def endpoint(request: Request) -> PlainTextResponse:
            return PlainTextResponse(name)

        return endpoint

    page = StarletteRoute("/{page}", named("page"), methods=["GET"])

    def flip(request: Request) -> PlainTextResponse:
        routes = app.router.routes
        front = routes[0] is page
        routes.remove(page)
        if front:
            routes.append(page)
            return PlainTextResponse("back")
        routes.insert(0, page)
        return PlainTextResponse("front")

    app = Starlette(
        routes=[
            StarletteRoute("/flip/it", flip, methods=["GET"]),
            StarletteRoute("/open", named("open"), methods=["GET"]),
            StarletteRoute("/o/pts", named("options"), methods=["GET", "OPTIONS"]),
            page,
        ]
    )
    verifier = JWTVerifier(
        os.environ["ROUND5_ISSUER"], os.environ["ROUND5_AUDIENCE"], allow_insecure_http=True
    )
    table = RouteTable(
        [
            Route("GET", "/open", AUTH),
            Route("GET", "/{page}", MFA),
            Route("GET", "/flip/it", ANONYMOUS),
        ],
        default=MFA,
    )
    app.add_middleware(StepUpMiddleware, guard=Guard(verifier), routes=table)
    return app
