"""Apps for the round 6 attacks on the WSGI and Flask hot paths over real servers
(test_attacks_round6_wsgi_servers.py), built in the server process: a JWT verifier trusting
``ROUND6_ISSUER`` (a fake issuer in the test process, real clock) for ``ROUND6_AUDIENCE``.
``GET /open`` needs a token, ``GET /admin/<id>`` MFA within 60 s, ``GET /pub`` is anonymous;
every view answers its own name. :func:`middleware_app` guards them with the WSGI middleware
and a route table, :func:`extension_app` with the Flask extension's ``require``.
"""

from __future__ import annotations

import os
from typing import Any

from stepup_mfa import ANONYMOUS, Guard, JWTVerifier, Policy
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import MFA_ACR

MFA = Policy(acr_values=MFA_ACR, max_age=60, name="mfa-60s")
AUTH = Policy(name="authenticated")


def _guard() -> Guard:
    verifier = JWTVerifier(
        os.environ["ROUND6_ISSUER"], os.environ["ROUND6_AUDIENCE"], allow_insecure_http=True
    )
    return Guard(verifier)


def middleware_app() -> Any:
    from flask import Flask

    from stepup_mfa.adapters.wsgi import StepUpWSGIMiddleware

    app = Flask("round6_middleware")
    app.add_url_rule("/open", "open", lambda: "open")
    app.add_url_rule("/admin/<id>", "admin", lambda id: "admin")
    app.add_url_rule("/pub", "pub", lambda: "pub")
    table = RouteTable(
        [
            Route("GET", "/open", AUTH),
            Route("GET", "/admin/<id>", MFA),
            Route("GET", "/pub", ANONYMOUS),
        ],
        default=AUTH,
    )
    app.wsgi_app = StepUpWSGIMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, guard=_guard(), routes=table
    )
    return app


def extension_app() -> Any:
    from flask import Flask

    from stepup_mfa.integrations.flask import FlaskStepUp

    app = Flask("round6_extension")
    stepup = FlaskStepUp(_guard(), app)

    @app.get("/open")
    @stepup.require(AUTH)
    def open_() -> str:
        return "open"

    @app.get("/admin/<id>")
    @stepup.require(MFA)
    def admin(id: str) -> str:
        return "admin"

    @app.get("/pub")
    def pub() -> str:
        return "pub"

    return app
