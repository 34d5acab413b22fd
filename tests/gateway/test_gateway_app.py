"""The gateway application in-process: the same answers as the raw ASGI middleware (GW-1), the
shared secret (GW-5), header values (GW-8), misconfiguration (GW-9) and the CLI's trust checks.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from stepup_mfa import (
    ANONYMOUS,
    AUTHENTICATED,
    ConfigurationError,
    Guard,
    JWTVerifier,
    Policy,
    Principal,
    TokenMethods,
)
from stepup_mfa._gateway_cli import _build, add_arguments
from stepup_mfa.adapters.gateway import ForwardAuthGateway, IdentityHeaders
from stepup_mfa.asgi import StepUpMiddleware
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import MFA_ACR, FakeIssuer, FrozenClock

AUDIENCE = "https://api.example.com"
ROUTES = RouteTable(
    [
        Route("GET", "/catsdogs/", ANONYMOUS),
        Route("GET", "/catsdogs/dogs/", AUTHENTICATED),
        Route("GET", "/catsdogs/cats/", Policy(acr_values=MFA_ACR, max_age=60)),
        Route("GET", "/catsdogs/admin/{rest:path}", Policy(scopes="catsdogs:admin")),
    ]
)
EXAMPLE_ROUTES = Path(__file__).resolve().parents[2] / "examples" / "gateway" / "policies.toml"


async def ok(scope: object, receive: object, send: object) -> None:  # the app behind
    await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]


def guard_for(issuer: FakeIssuer, clock: FrozenClock) -> Guard:
    verifier = JWTVerifier(issuer.issuer, AUDIENCE, allow_insecure_http=True)
    return Guard(verifier, realm="catsdogs", clock=clock)


def test_GW_1_the_gateway_answers_as_the_raw_middleware(
    stepup_issuer: FakeIssuer, stepup_clock: FrozenClock
) -> None:
    """GW-1: for the same request, the same status, headers and body (problem+json included) as
    the in-process middleware; and a 200 with identity headers where it lets the request in."""
    tokens = stepup_issuer.tokens
    cases: list[tuple[str, str | None, str | None]] = [
        ("/catsdogs/", None, None),
        ("/catsdogs/dogs/", None, None),
        ("/catsdogs/dogs/", tokens.password_token(), None),
        ("/catsdogs/dogs/", tokens.password_token(), "application/problem+json"),
        ("/catsdogs/dogs/", "not-a-jwt", None),
        ("/catsdogs/dogs/?access_token=x", tokens.password_token(), None),
        ("/catsdogs/cats/", tokens.password_token(), "application/problem+json"),
        ("/catsdogs/cats/", tokens.mfa_token(auth_age=61), None),
        ("/catsdogs/cats/", tokens.mfa_token(), None),
        ("/catsdogs/admin/x/y", tokens.mfa_token(), None),
        ("/catsdogs/admin/x/y", tokens.mfa_token(scope="catsdogs:admin"), None),
        ("/catsdogs//cats/", tokens.mfa_token(), None),
        ("/catsdogs/cats/%2e", None, "application/problem+json"),
        ("/unlisted", None, None),
    ]
    guard = guard_for(stepup_issuer, stepup_clock)
    gateway = ForwardAuthGateway(guard=guard, routes=ROUTES, protocol="nginx")
    middleware = StepUpMiddleware(ok, guard=guard, routes=ROUTES)

    async def both() -> list[tuple[httpx.Response, httpx.Response]]:
        answers = []
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(gateway), base_url="http://g") as g,
            httpx.AsyncClient(transport=httpx.ASGITransport(middleware), base_url="http://m") as m,
        ):
            for target, token, accept in cases:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                if accept:
                    headers["Accept"] = accept
                original = {"X-Original-Method": "GET", "X-Original-URI": target}
                answers.append(
                    (
                        await g.get("/auth", headers={**headers, **original}),
                        await m.get(target, headers=headers),
                    )
                )
        await guard.aclose()
        return answers

    for (target, _, _), (got, want) in zip(cases, asyncio.run(both()), strict=True):
        assert got.status_code == want.status_code, target
        if want.status_code == 200:
            assert "x-auth-subject" in got.headers
        else:
            assert got.headers == want.headers, target
            assert got.content == want.content, target


def test_GW_5_a_shared_secret_is_required_when_configured(
    stepup_issuer: FakeIssuer, stepup_clock: FrozenClock
) -> None:
    """GW-5: without the secret header (or with a wrong or repeated one) the answer is 403 for
    every request, an anonymous page included; with it, the request is judged."""
    guard = guard_for(stepup_issuer, stepup_clock)
    gateway = ForwardAuthGateway(
        guard=guard, routes=ROUTES, protocol="caddy", shared_secret="s3cret-value"
    )
    original = [("X-Forwarded-Method", "GET"), ("X-Forwarded-Uri", "/catsdogs/")]
    attempts: list[Sequence[tuple[str, str]]] = [
        [],
        [("X-Stepup-Gateway-Secret", "wrong")],
        [("X-Stepup-Gateway-Secret", "s3cret-valu")],
        [("X-Stepup-Gateway-Secret", "s3cret-value"), ("X-Stepup-Gateway-Secret", "x")],
        [("X-Stepup-Gateway-Secret", "s3cret-value")],
    ]

    async def ask() -> list[httpx.Response]:
        transport = httpx.ASGITransport(gateway)
        async with httpx.AsyncClient(transport=transport, base_url="http://g") as client:
            return [await client.get("/", headers=[*original, *extra]) for extra in attempts]

    answers = asyncio.run(ask())
    assert [answer.status_code for answer in answers] == [403, 403, 403, 403, 200]
    assert "www-authenticate" not in answers[0].headers


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        pytest.param(None, ["", "", "", "", ""], id="anonymous"),
        pytest.param(
            Principal(
                "user-1",
                scopes=frozenset({"b", "a"}),
                acr="x",
                amr=("pwd", "otp"),
                auth_time=1700000000.9,
            ),
            ["user-1", "a b", "x", "pwd otp", "1700000000"],
            id="plain",
        ),
        pytest.param(
            Principal("evil\r\nX-Auth-Acr: mfa", acr="\u20ac %41", amr=("a b",)),
            ["evil%0D%0AX-Auth-Acr:%20mfa", "", "%E2%82%AC%20%2541", "a%20b", ""],
            id="injection",
        ),
    ],
)
def test_GW_8_identity_header_values_cannot_break_a_header_line(
    principal: Principal | None, expected: list[str]
) -> None:
    """GW-8: values outside visible ASCII (and '%') are percent-encoded; they decode back."""
    pairs = IdentityHeaders().for_principal(principal)
    values = [value.decode("ascii") for _, value in pairs]
    assert values == expected
    if principal is not None:
        assert unquote(values[0]) == principal.subject


def test_GW_8_identity_header_names_are_configurable() -> None:
    names = IdentityHeaders(subject="X-User", auth_time="X-User-Auth-Time")
    pairs = names.for_principal(Principal("u", auth_time=5.0))
    assert pairs[0] == (b"x-user", b"u") and pairs[4] == (b"x-user-auth-time", b"5")


@pytest.mark.parametrize(
    "change",
    [
        {"protocol": "haproxy"},
        {"identity_headers": "X-User"},
        {"secret_header": "bad header"},
        {"shared_secret": ""},
        {"envoy_prefix": "authz"},
        {"envoy_prefix": "/authz/"},
        {"routes": RouteTable([Route("GET", "/users/<any(a,b):id>/", AUTHENTICATED)])},
        {"guard": "guard"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_GW_9_a_gateway_that_cannot_work_fails_at_construction(change: dict[str, object]) -> None:
    """GW-9, BIND-11: wrong arguments are errors before the first request."""
    guard = Guard(JWTVerifier("https://idp.example.com", AUDIENCE))
    arguments: dict[str, object] = {"guard": guard, "routes": ROUTES, "protocol": "nginx"}
    arguments.update(change)
    with pytest.raises(ConfigurationError):
        ForwardAuthGateway(**arguments)  # type: ignore[arg-type]


def test_GW_9_the_form_body_token_method_cannot_be_enabled() -> None:
    guard = Guard(
        JWTVerifier("https://idp.example.com", AUDIENCE), token_methods=TokenMethods(body=True)
    )
    with pytest.raises(ConfigurationError, match="body"):
        ForwardAuthGateway(guard=guard, routes=ROUTES, protocol="nginx")


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ({"subject": "X Auth"}, "not a name"),
        ({"subject": "X-Auth", "acr": "x-auth"}, "named twice"),
    ],
)
def test_GW_9_bad_identity_header_names(names: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        IdentityHeaders(**names)


def cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(["--routes", str(EXAMPLE_ROUTES), "--protocol", "nginx", *argv])


ENV = {"STEPUP_ISSUER": "https://idp.example.com", "STEPUP_AUDIENCE": AUDIENCE}


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (("--host", "0.0.0.0", "--port", "9401"), ENV, "not a loopback address"),
        (
            ("--host", "10.0.0.5", "--port", "9401", "--allow-non-loopback"),
            ENV,
            "needs STEPUP_GATEWAY_SECRET",
        ),
        (("--port", "9401"), {}, "STEPUP_ISSUER is not set"),
        ((), ENV, "--port is required"),
        (("--port", "9401", "--identity-header", "sub=X-User"), ENV, "FIELD=NAME"),
    ],
)
def test_GW_5_the_cli_binds_loopback_unless_told_and_given_a_secret(
    argv: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    """GW-5: forwarded headers are believed only from the proxy."""
    with pytest.raises(ConfigurationError, match=message):
        _build(cli(*argv), env)


@pytest.mark.parametrize(
    ("argv", "env", "bind"),
    [
        (("--port", "9401"), ENV, {"host": "127.0.0.1", "port": 9401}),
        (("--host", "::1", "--port", "9401"), ENV, {"host": "::1", "port": 9401}),
        (("--uds", "/run/stepup.sock"), ENV, {"uds": "/run/stepup.sock"}),
        (
            ("--host", "10.0.0.5", "--port", "1", "--allow-non-loopback"),
            {**ENV, "STEPUP_GATEWAY_SECRET": "s"},
            {"host": "10.0.0.5", "port": 1},
        ),
    ],
)
def test_GW_5_the_cli_accepts_a_trusted_binding(
    argv: tuple[str, ...], env: dict[str, str], bind: dict[str, object]
) -> None:
    app, got = _build(cli(*argv), env)
    assert got == bind and app.protocol == "nginx"


@pytest.mark.parametrize(("argv", "passes"), [((), True), (("--judge-preflights",), False)])
def test_GW_5_cors_preflights_pass_unless_judged(argv: tuple[str, ...], passes: bool) -> None:
    """A CORS preflight passes without a token, as in the raw middlewares, unless the upstream
    may answer OPTIONS itself and the deployment says to judge them."""
    app, _ = _build(cli("--port", "9401", *argv), ENV)
    assert app.routes.cors_preflight is passes
