"""The seed's catsdogs API on Starlette, protected by one middleware and a route table.

The table lives in ``policies.toml`` beside this file, so the people who own security policy can
change which endpoint needs which assurance without touching the handlers. The "mfa-recent"
policy it names is built here from ``STEPUP_MFA_ACR`` and ``STEPUP_MFA_MAX_AGE``, because the acr
value that means MFA depends on the authorization server.

DPoP-bound tokens (RFC 9449) are accepted as well as bearer tokens; ``STEPUP_DPOP_REQUIRED=1``
makes ``/cats/`` accept only bound ones, and proofs must name ``STEPUP_PUBLIC_URL`` (default: the
URL this app is served on).

Run it with ``python examples/starlette_app/app.py``; it reads the STEPUP_* variables (see README).
"""

from __future__ import annotations

import os
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from stepup_mfa import Guard, StepUpSettings
from stepup_mfa.asgi import StepUpMiddleware
from stepup_mfa.integrations.starlette import principal_of
from stepup_mfa.routes import RouteTable

POLICY_FILE = Path(__file__).with_name("policies.toml")

# Development defaults, visible on purpose: with a STEPUP_* variable unset, the app trusts the
# development authorization server (``stepup-mfa dev-idp``) on its default port. The library has
# no default issuer or audience; a deployment sets STEPUP_ISSUER and STEPUP_AUDIENCE (or drops
# this mapping, so that a forgotten variable stops the app at start-up).
DEVELOPMENT_DEFAULTS = {
    "STEPUP_ISSUER": "http://127.0.0.1:9400",
    "STEPUP_AUDIENCE": "https://api.example.com",
    "STEPUP_MFA_ACR": "urn:stepup-mfa:acr:mfa",
}


async def index(request: Request) -> JSONResponse:
    return JSONResponse({"message": "Hello, anonymous visitor"})


def _subject(request: Request) -> str | None:
    principal = principal_of(request)  # who the middleware admitted the request for
    return principal.subject if principal is not None else None


async def dogs(request: Request) -> JSONResponse:
    return JSONResponse({"message": "Woof", "sub": _subject(request)})


async def cats(request: Request) -> JSONResponse:
    return JSONResponse({"message": "Meow (fresh MFA seen)", "sub": _subject(request)})


PORT = int(os.environ.get("PORT", "8000"))
SERVED_URL = f"http://127.0.0.1:{PORT}"


def create_app(settings: StepUpSettings | None = None) -> Starlette:
    settings = settings or StepUpSettings.from_env(defaults=DEVELOPMENT_DEFAULTS)
    routes = RouteTable.from_toml(
        POLICY_FILE, policies={"mfa-recent": settings.mfa_policy(name="mfa-recent")}
    )
    guard = Guard(
        settings.verifier(),
        realm="catsdogs",
        dpop=settings.dpop(SERVED_URL),
        strict_acr=settings.strict_acr,
    )
    return Starlette(
        routes=[Route("/", index), Route("/dogs/", dogs), Route("/cats/", cats)],
        middleware=[Middleware(StepUpMiddleware, guard=guard, routes=routes)],
    )


if __name__ == "__main__":
    uvicorn.run(create_app(), host="127.0.0.1", port=PORT)
