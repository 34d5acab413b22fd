"""R6750-22: bearer tokens travel over TLS only. With ``Guard(require_https=True)`` a protected
route refuses a plain-HTTP request before looking at its token; the scheme is the one the server
reports, so a client-sent ``X-Forwarded-Proto`` never upgrades a request (attack P13)."""

from __future__ import annotations

import httpx
import pytest
from adapter_apps import MakeGuard
from flask import Flask
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from stepup_mfa import ANONYMOUS, AUTHENTICATED, Guard, RequestView, parse_www_authenticate
from stepup_mfa.asgi import StepUpMiddleware
from stepup_mfa.integrations.flask import FlaskStepUp
from stepup_mfa.routes import Route as PolicyRoute
from stepup_mfa.routes import RouteTable
from stepup_mfa.testing import TokenFactory


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def refused_for_https(response: httpx.Response) -> bool:
    [challenge] = parse_www_authenticate(response.headers["WWW-Authenticate"])
    return response.status_code == 400 and challenge.error == "invalid_request"


@pytest.mark.parametrize(("scheme", "allowed"), [("https", True), ("HTTPS", True), ("http", False)])
def test_R6750_22_guard_refuses_plain_http_when_https_is_required(
    make_guard: MakeGuard, tokens: TokenFactory, scheme: str, allowed: bool
) -> None:
    guard = make_guard(require_https=True)
    view = RequestView("GET", "/dogs/", ("Bearer " + tokens.mfa_token(),), scheme=scheme)
    decision = guard.check(view, AUTHENTICATED)
    assert decision.allowed is allowed
    if not allowed:
        assert decision.status == 400 and decision.error is not None
        assert decision.error.code == "invalid_request"


def test_R6750_22_https_is_not_required_by_default(
    make_guard: MakeGuard, tokens: TokenFactory
) -> None:
    view = RequestView("GET", "/dogs/", ("Bearer " + tokens.mfa_token(),), scheme="http")
    assert make_guard().check(view, AUTHENTICATED).allowed


def test_R6750_22_anonymous_routes_stay_reachable_over_http(make_guard: MakeGuard) -> None:
    view = RequestView("GET", "/", (), scheme="http")
    assert make_guard(require_https=True).check(view, ANONYMOUS).allowed


def asgi_app(guard: Guard) -> Starlette:
    async def dogs(request: Request) -> PlainTextResponse:
        return PlainTextResponse("woof")

    table = RouteTable([PolicyRoute("GET", "/dogs/", AUTHENTICATED)])
    return Starlette(
        routes=[Route("/dogs/", dogs)],
        middleware=[Middleware(StepUpMiddleware, guard=guard, routes=table)],
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("base_url", "headers", "allowed"),
    [
        ("https://api.example.com", {}, True),
        ("http://api.example.com", {}, False),
        ("http://api.example.com", {"X-Forwarded-Proto": "https"}, False),
    ],
    ids=["https", "P13-plain-http", "P13-untrusted-forwarded-proto"],
)
async def test_R6750_22_asgi_middleware_uses_the_scheme_the_server_reports(
    make_guard: MakeGuard,
    tokens: TokenFactory,
    base_url: str,
    headers: dict[str, str],
    allowed: bool,
) -> None:
    app = asgi_app(make_guard(require_https=True))
    headers = {**headers, "Authorization": "Bearer " + tokens.mfa_token()}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=base_url
    ) as client:
        response = await client.get("/dogs/", headers=headers)
    assert response.status_code == 200 if allowed else refused_for_https(response)


@pytest.mark.parametrize(
    ("base_url", "headers", "allowed"),
    [
        ("https://localhost", {}, True),
        ("http://localhost", {}, False),
        ("http://localhost", {"X-Forwarded-Proto": "https"}, False),
    ],
    ids=["https", "P13-plain-http", "P13-untrusted-forwarded-proto"],
)
def test_R6750_22_flask_uses_the_scheme_the_server_reports(
    make_guard: MakeGuard,
    tokens: TokenFactory,
    base_url: str,
    headers: dict[str, str],
    allowed: bool,
) -> None:
    app = Flask(__name__)
    stepup = FlaskStepUp(make_guard(require_https=True), app)

    @app.get("/dogs/")
    @stepup.require(AUTHENTICATED)
    def dogs() -> str:
        return "woof"

    headers = {**headers, "Authorization": "Bearer " + tokens.mfa_token()}
    response = app.test_client().get("/dogs/", base_url=base_url, headers=headers)
    if allowed:
        assert response.status_code == 200
    else:
        [challenge] = parse_www_authenticate(response.headers["WWW-Authenticate"])
        assert response.status_code == 400 and challenge.error == "invalid_request"
