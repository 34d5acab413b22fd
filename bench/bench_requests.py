"""What stepup-mfa costs per request on the hot path: a token seen before, a cached verification.

Drives three Starlette apps in-process through the ASGI interface (a prebuilt scope, a no-op
``receive``/``send``), side by side in one run, and prints the per-request cost and the ratios to
the bare app (best of several repeats, so noise from the machine inflates nothing):

- ``bare``: a Starlette app, one async endpoint;
- ``middleware``: the same app behind :class:`stepup_mfa.asgi.StepUpMiddleware` (route table);
- ``decorator``: the endpoint wrapped with :func:`stepup_mfa.integrations.starlette.require`.

The Guard uses the real :class:`JWTVerifier` against a fake issuer on 127.0.0.1; the token is
verified once before timing starts, so every timed request is a cache hit, as in steady state.
A second pair of rows uses a verifier whose ``cached()`` returns a fixed principal, to separate
the verifier's cache cost from the Guard's and the adapters'.
The route's policy is the seed's ``/cats/`` (scope, acr and MFA within 60 s), so the policy
evaluation is included.

For comparison, ``peer: PyJWT every request`` is the common setup of other libraries: a pure ASGI
middleware that verifies the signature with PyJWT (key preloaded) and checks the same claims on
every request. The second table times the same apps through an HTTP client in-process
(``httpx.AsyncClient`` over ``httpx.ASGITransport``), which adds the request and response
handling every real request pays, as a client-observed request cost. Target: a seen-before token
at most 1.25x the bare app there, where peers' best setups cost about 1.7-1.8x. The raw ASGI table
is the harshest view (a bare request costs a few microseconds); it shows where the remaining
microseconds go: adapter, Guard and the verifier's memory.

Run: ``python bench/bench_requests.py [--requests N] [--repeats R]``
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from stepup_mfa import Decision, Guard, JWTVerifier, Policy, Principal, RequestView
from stepup_mfa._verify.flow import Flow
from stepup_mfa.asgi import StepUpMiddleware
from stepup_mfa.integrations.starlette import require
from stepup_mfa.routes import Route as PolicyRoute
from stepup_mfa.routes import RouteTable
from stepup_mfa.testing import MFA_ACR, FakeIssuer, FrozenClock

AUDIENCE = "https://api.example.com"
CATS = Policy(scopes="cats:read", acr_values=MFA_ACR, max_age=60, name="cats")

ASGIApp = Callable[..., Any]


class DecidedGuard(Guard):
    """A Guard that answers every check with one precomputed decision: what is left is the
    adapter's own cost (the split between adapter, Guard and verifier, for whoever optimises)."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(FixedVerifier(decision.principal))  # type: ignore[arg-type]
        self.decision = decision

    async def acheck(self, request: RequestView, policy: Policy) -> Decision:
        return self.decision


class FixedVerifier:
    """A verifier whose cache always hits with one principal (no hashing, no lookup)."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    def cached(self, token: str, now: float, max_cache_age: float | None = None) -> Principal:
        return self.principal

    def verify(self, token: str, now: float) -> Flow[Principal]:
        raise AssertionError("the bench only measures cache hits")
        yield  # pragma: no cover - makes this a generator


async def cats(request: Request) -> PlainTextResponse:
    return PlainTextResponse("meow")


class PyJWTEveryRequest:
    """What peers do: verify the signature and the claims of every request with PyJWT."""

    def __init__(self, app: ASGIApp, *, key: Any, audience: str, issuer: str) -> None:
        self.app, self.key, self.audience, self.issuer = app, key, audience, issuer

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        claims = jwt.decode(
            header.removeprefix("Bearer "),
            self.key,
            algorithms=["RS256"],
            audience=self.audience,
            issuer=self.issuer,
            options={"require": ["exp", "iat", "sub"]},
        )
        fresh = time.time() - claims["auth_time"] <= 60 and claims.get("acr") == MFA_ACR
        if not fresh or "cats:read" not in claims.get("scope", "").split():
            raise SystemExit("the peer refused the bench token")
        scope.setdefault("state", {})["claims"] = claims
        await self.app(scope, receive, send)


def build_apps(
    guard: Guard, fixed: Guard, decided: Guard, peer_key: Any, issuer: str
) -> dict[str, ASGIApp]:
    table = RouteTable([PolicyRoute("GET", "/cats/", CATS)])

    def behind_middleware(guard: Guard) -> ASGIApp:
        return Starlette(
            routes=[Route("/cats/", cats)],
            middleware=[Middleware(StepUpMiddleware, guard=guard, routes=table)],
        )

    return {
        "bare": Starlette(routes=[Route("/cats/", cats)]),
        "middleware": behind_middleware(guard),
        "decorator": Starlette(routes=[Route("/cats/", require(guard, CATS)(cats))]),
        "middleware, fixed principal": behind_middleware(fixed),
        "decorator, fixed principal": Starlette(
            routes=[Route("/cats/", require(fixed, CATS)(cats))]
        ),
        "middleware, adapter only": behind_middleware(decided),
        "decorator, adapter only": Starlette(
            routes=[Route("/cats/", require(decided, CATS)(cats))]
        ),
        "peer: PyJWT every request": Starlette(
            routes=[Route("/cats/", cats)],
            middleware=[
                Middleware(PyJWTEveryRequest, key=peer_key, audience=AUDIENCE, issuer=issuer)
            ],
        ),
    }


HTTP_CLIENT_VARIANTS = ("bare", "middleware", "decorator", "peer: PyJWT every request")


def make_scope(token: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/cats/",
        "raw_path": b"/cats/",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"api.example.com"),
            (b"user-agent", b"bench"),
            (b"accept", b"*/*"),
            (b"authorization", ("Bearer " + token).encode("latin-1")),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def run(app: ASGIApp, scope: dict[str, Any], requests: int) -> float:
    """Seconds per request over ``requests`` calls (the scope is copied, as a server makes one
    per request; every variant pays the same copy)."""
    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    start = time.perf_counter()
    for _ in range(requests):
        await app(dict(scope), receive, send)
    elapsed = time.perf_counter() - start
    if set(statuses) != {200}:
        raise SystemExit(f"unexpected statuses {sorted(set(statuses))}")
    return elapsed / requests


async def run_through_client(app: ASGIApp, headers: dict[str, str], requests: int) -> float:
    """Seconds per request through httpx's in-process ASGI transport."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.example.com") as client:
        start = time.perf_counter()
        for _ in range(requests):
            response = await client.get("/cats/", headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"unexpected status {response.status_code}")
        return (time.perf_counter() - start) / requests


async def warm(guard: Guard, token: str) -> Principal:
    """Verify ``token`` once (fetching the issuer's keys), so timed requests hit the cache."""
    decision = await guard.acheck(RequestView("GET", "/cats/", ("Bearer " + token,)), CATS)
    if decision.principal is None:
        raise SystemExit(f"the bench token was refused: {decision.error}")
    return decision.principal


async def bench(requests: int, repeats: int) -> None:
    clock = FrozenClock()
    with FakeIssuer(AUDIENCE, clock=clock) as issuer:
        verifier = JWTVerifier(issuer.issuer, AUDIENCE, allow_insecure_http=True)
        guard = Guard(verifier, clock=clock)
        token = issuer.tokens.mfa_token(scope="cats:read")
        scope = make_scope(token)
        principal = verifier.cached(token, clock(), None) or await warm(guard, token)
        fixed = Guard(FixedVerifier(principal), clock=clock)
        decided = DecidedGuard(Decision(allowed=True, principal=principal))
        rsa_jwk = next(k for k in issuer.tokens.jwks["keys"] if k["kty"] == "RSA")
        apps = build_apps(guard, fixed, decided, jwt.PyJWK(rsa_jwk).key, issuer.issuer)
        for app in apps.values():  # warm: build the middleware stacks
            await run(app, scope, 10)
        best = dict.fromkeys(apps, float("inf"))
        for _ in range(repeats):
            for name, app in apps.items():  # interleaved, so drift hits every variant alike
                best[name] = min(best[name], await run(app, scope, requests))
        client_requests = max(requests // 10, 100)
        headers = {"Authorization": "Bearer " + token}
        through_client = dict.fromkeys(HTTP_CLIENT_VARIANTS, float("inf"))
        for _ in range(repeats):
            for name in HTTP_CLIENT_VARIANTS:
                seconds = await run_through_client(apps[name], headers, client_requests)
                through_client[name] = min(through_client[name], seconds)
    report(f"ASGI call, no-op receive/send: {requests} requests x {repeats} repeats", best)
    report(
        f"through an HTTP client (httpx ASGITransport): {client_requests} requests x {repeats}",
        through_client,
    )


def report(title: str, best: dict[str, float]) -> None:
    bare = best["bare"]
    print(f"{title}; best per-request cost, token seen before")
    for name, seconds in best.items():
        print(f"  {name:<28} {seconds * 1e6:8.2f} us   ratio {seconds / bare:5.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(bench(args.requests, args.repeats))


if __name__ == "__main__":
    main()
