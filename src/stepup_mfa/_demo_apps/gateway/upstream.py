"""The seed's catsdogs pages, as a service that knows nothing about tokens.

It sits behind a proxy that asks ``stepup-mfa gateway`` about every request (``nginx.conf``,
``Caddyfile``): by the time a request arrives here, the gateway has judged it against
``policies.toml`` and the proxy has replaced the identity headers with the gateway's. Each page
says which handler answered and what the identity headers said, so the tests can check that no
handler ever answers under a weaker policy than its own.

Run it with ``python examples/gateway/upstream.py`` (127.0.0.1, ``PORT`` or 9402). Bind it where
only the proxy can reach it: a request that bypasses the proxy has not been judged at all.
"""

from __future__ import annotations

import os

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

#: The gateway's default identity header names (``IdentityHeaders``), as this service reads them.
IDENTITY = {
    "sub": "x-auth-subject",
    "scopes": "x-auth-scopes",
    "acr": "x-auth-acr",
    "amr": "x-auth-amr",
    "auth_time": "x-auth-time",
}


def _page(request: Request, handler: str, message: str) -> JSONResponse:
    identity = {key: request.headers.get(name) or None for key, name in IDENTITY.items()}
    # Every copy of every identity header that arrived, so that a smuggled one would show; with
    # "_" read as "-", as CGI-style servers (WSGI's HTTP_X_AUTH_SUBJECT) read header names.
    seen = [
        [name.decode("latin-1"), value.decode("latin-1")]
        for name, value in request.scope["headers"]
        if name.replace(b"_", b"-").startswith(b"x-auth-")
    ]
    return JSONResponse(
        {"handler": handler, "message": message, "identity": identity, "identity_headers": seen}
    )


async def index(request: Request) -> JSONResponse:
    return _page(request, "index", "Hello, anonymous visitor")


async def dogs(request: Request) -> JSONResponse:
    return _page(request, "dogs", "Woof")


async def cats(request: Request) -> JSONResponse:
    return _page(request, "cats", "Meow (fresh MFA seen)")


app = Starlette(
    routes=[
        Route("/catsdogs/", index),
        Route("/catsdogs/dogs/", dogs),
        Route("/catsdogs/cats/", cats),
    ]
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "9402")))
