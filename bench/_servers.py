"""The apps ``bench/run.py`` serves under uvicorn and gunicorn, one variant per process.

The variant and the issuer come from the environment (``BENCH_VARIANT``, ``BENCH_ISSUER``,
``BENCH_JWKS``), set by ``run.py``; ``asgi_app()`` and ``wsgi_app()`` are the factories.
Every protected variant checks the same claims: signature, ``iss``, ``aud``, ``exp``, scope
``cats:read``, the MFA ``acr`` and ``auth_time`` within ``max_age``.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

AUDIENCE = "https://api.example.com"
MFA = "urn:stepup-mfa:acr:mfa"
MAX_AGE = 3600  # the run lasts minutes: a 60 s window would run out under the benchmark
ASGI_VARIANTS = (
    "bare",
    "bare-control",
    "middleware",
    "decorator",
    "fastapi-bare",
    "fastapi",
    "fastapi-pyjwt-cached",
    "pyjwt-every",
    "pyjwt-cached",
    "joserfc-every",
    "introspection-warm",
    "introspection-every",
)
WSGI_VARIANTS = ("flask-bare", "flask-middleware", "flask-extension")


def _claims_ok(claims: dict[str, Any]) -> bool:
    return (
        claims.get("acr") == MFA
        and time.time() - claims["auth_time"] <= MAX_AGE
        and "cats:read" in str(claims.get("scope", "")).split()
    )


def _guard(variant: str) -> Any:
    from stepup_mfa import Guard, JWTVerifier
    from stepup_mfa._verify.introspection import ClientSecretBasic, IntrospectionVerifier

    issuer = os.environ["BENCH_ISSUER"]
    if variant.startswith("introspection"):
        verifier: Any = IntrospectionVerifier(
            issuer + "/introspect",
            client_auth=ClientSecretBasic("test-resource-server", "test-rs-secret"),
            issuer=issuer,
            audience=AUDIENCE,
            allow_insecure_http=True,
        )
    else:
        verifier = JWTVerifier(issuer, AUDIENCE, allow_insecure_http=True)
    return Guard(verifier)


def _policy(variant: str) -> Any:
    from stepup_mfa import Policy

    every = 0 if variant == "introspection-every" else None
    return Policy(
        scopes="cats:read", acr_values=MFA, max_age=MAX_AGE, max_cache_age=every, name="cats"
    )


def _rsa_key() -> Any:
    import jwt

    jwks = json.loads(os.environ["BENCH_JWKS"])
    return jwt.PyJWK(next(k for k in jwks["keys"] if k["kty"] == "RSA")).key


class _PeerMiddleware:
    """A 20-line hand-written peer: PyJWT or joserfc on every request, or PyJWT plus a dict."""

    def __init__(self, app: Any, variant: str) -> None:
        self.app, self.variant = app, variant
        self.issuer = os.environ["BENCH_ISSUER"]
        self.key = _rsa_key()
        self.cache: dict[str, dict[str, Any]] = {}
        if variant == "joserfc-every":
            from joserfc.jwk import KeySet

            self.jose_keys = KeySet.import_key_set(json.loads(os.environ["BENCH_JWKS"]))

    def decode(self, token: str) -> dict[str, Any]:
        if self.variant == "joserfc-every":
            from joserfc import jwt as jose_jwt
            from joserfc.jwt import JWTClaimsRegistry

            claims = jose_jwt.decode(token, self.jose_keys, algorithms=["RS256"]).claims
            JWTClaimsRegistry(
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": AUDIENCE},
                exp={"essential": True},
            ).validate(claims)
            return dict(claims)
        import jwt

        if self.variant == "pyjwt-cached":
            hit = self.cache.get(token)
            if hit is not None and hit["exp"] > time.time():
                return hit
        claims: dict[str, Any] = jwt.decode(
            token, self.key, algorithms=["RS256"], audience=AUDIENCE, issuer=self.issuer
        )
        if self.variant == "pyjwt-cached":
            if len(self.cache) > 10_000:
                self.cache.clear()
            self.cache[token] = claims
        return claims

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            value = b""
            for name, header in scope["headers"]:
                if name == b"authorization":
                    value = header
            try:
                claims = self.decode(value.decode("latin-1").removeprefix("Bearer "))
                ok = _claims_ok(claims)
            except Exception:
                ok = False
            if not ok:
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
            scope.setdefault("state", {})["claims"] = claims
        await self.app(scope, receive, send)


def asgi_app() -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from stepup_mfa.asgi import StepUpMiddleware
    from stepup_mfa.integrations.starlette import require
    from stepup_mfa.routes import Route as PolicyRoute
    from stepup_mfa.routes import RouteTable

    variant = os.environ["BENCH_VARIANT"]

    async def cats(request: Any) -> PlainTextResponse:
        return PlainTextResponse("meow")

    if variant in ("bare", "bare-control"):  # the control: the base measured against itself
        return Starlette(routes=[Route("/cats/", cats)])
    if variant in ("middleware", "introspection-warm", "introspection-every"):
        table = RouteTable([PolicyRoute("GET", "/cats/", _policy(variant))])
        guard = _guard(variant)
        return Starlette(
            routes=[Route("/cats/", cats)],
            middleware=[Middleware(StepUpMiddleware, guard=guard, routes=table)],
        )
    if variant == "decorator":
        return Starlette(routes=[Route("/cats/", require(_guard(variant), _policy(variant))(cats))])
    if variant == "fastapi-bare":
        from fastapi import FastAPI

        bare = FastAPI()

        @bare.get("/cats/", response_class=PlainTextResponse)
        async def fastapi_bare_cats() -> str:
            return "meow"

        return bare
    if variant == "fastapi":
        from fastapi import Depends, FastAPI

        from stepup_mfa import Principal
        from stepup_mfa.integrations.fastapi import StepUp

        app = FastAPI()
        stepup = StepUp(_guard(variant))
        stepup.install(app)
        dependency = Depends(stepup.dependency(_policy(variant)))

        @app.get("/cats/", response_class=PlainTextResponse)
        async def fastapi_cats(principal: Principal = dependency) -> str:
            return "meow"

        return app
    if variant == "fastapi-pyjwt-cached":
        from fastapi import Depends, FastAPI, HTTPException, Request

        peer = FastAPI()
        decoder = _PeerMiddleware(None, "pyjwt-cached")

        async def claims_of(request: Request) -> dict[str, Any]:
            value = request.headers.get("authorization", "")
            try:
                claims = decoder.decode(value.removeprefix("Bearer "))
                ok = _claims_ok(claims)
            except Exception:
                ok = False
            if not ok:
                raise HTTPException(401)
            return claims

        # FastAPI reads the annotations at run time: name the locally imported class itself.
        claims_of.__annotations__["request"] = Request
        peer_dependency = Depends(claims_of)

        @peer.get("/cats/", response_class=PlainTextResponse)
        async def fastapi_peer_cats(claims: dict[str, Any] = peer_dependency) -> str:
            return "meow"

        return peer
    if variant in ("pyjwt-every", "pyjwt-cached", "joserfc-every"):
        return Starlette(
            routes=[Route("/cats/", cats)],
            middleware=[Middleware(_PeerMiddleware, variant=variant)],
        )
    raise SystemExit(f"unknown ASGI variant {variant!r}")


def wsgi_app() -> Any:
    from flask import Flask

    from stepup_mfa.integrations.flask import FlaskStepUp
    from stepup_mfa.routes import Route as PolicyRoute
    from stepup_mfa.routes import RouteTable
    from stepup_mfa.wsgi import StepUpWSGIMiddleware

    variant = os.environ["BENCH_VARIANT"]
    app = Flask(__name__)
    if variant == "flask-extension":
        stepup = FlaskStepUp(_guard(variant), app)

        @app.get("/cats/")
        @stepup.require(_policy(variant))
        def guarded_cats() -> str:
            return "meow"

        return app

    @app.get("/cats/")
    def cats() -> str:
        return "meow"

    if variant == "flask-bare":
        return app
    if variant == "flask-middleware":
        table = RouteTable([PolicyRoute("GET", "/cats/", _policy(variant))])
        app.wsgi_app = StepUpWSGIMiddleware(  # type: ignore[method-assign]
            app.wsgi_app, guard=_guard(variant), routes=table, url_map=app.url_map
        )
        return app
    raise SystemExit(f"unknown WSGI variant {variant!r}")
