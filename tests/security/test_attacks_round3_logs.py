"""Round 3 attacks on the structured logs (issue 12, ``_observe.py``, OBS-*): forge log lines or
terminal escapes through client-controlled values (path, method) in the message and in the
``stepup_*`` fields, and look for the token (or its signature) anywhere in any log record of
any logger (httpx's included) at DEBUG, for admitted, remembered, refused, malformed and
outage cases. A hole is marked ``xfail(strict=True)``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route as StarletteRoute
from starlette.testclient import TestClient

from stepup_mfa import ClientSecretBasic, Guard, IntrospectionVerifier, JWTVerifier, Policy
from stepup_mfa._verify.flow import HttpRequest, HttpResponse
from stepup_mfa._verify.transports import AsyncHttpxTransport
from stepup_mfa.adapters.asgi import StepUpMiddleware
from stepup_mfa.adapters.wsgi import StepUpWSGIMiddleware
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import MFA_ACR, FakeIssuer, FrozenClock

AUDIENCE = "https://api.example.com"
NOW = 1_800_000_000.0
MFA = Policy(acr_values=MFA_ACR, max_age=60, name="mfa-60s")
TABLE = RouteTable([Route("GET", "/admin/{rest:path}", MFA)], default=Policy(name="auth"))
#: What a client may put in a path or method to forge a line or drive a terminal.
EVIL = [
    "\r\nstepup_event=allowed INJECTED",
    "\x1b[31mRED\x1b[0m",
    "\u2028FORGED",
    "\u202egnp.",
    "\x00",
]
FORBIDDEN = ("\r", "\n", "\x1b", "\u2028", "\u2029", "\u202e", "\x00", "\x85")


class OneShotAsyncTransport:
    async def send(self, request: HttpRequest) -> HttpResponse:
        async with httpx.AsyncClient(follow_redirects=False) as client:
            return await AsyncHttpxTransport(client).send(request)


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self) -> Iterator[str]:
        """Everything a formatter or a JSON log shipper could write from each record."""
        formatter = logging.Formatter()
        for record in self.records:
            yield record.getMessage()
            if record.exc_info:
                yield formatter.formatException(record.exc_info)
            for name, value in vars(record).items():
                if name.startswith("stepup_") or name in ("args", "msg"):
                    yield repr(value) if not isinstance(value, str) else value


@pytest.fixture
def collected() -> Iterator[Collect]:
    handler = Collect()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def issuer(clock: FrozenClock) -> Iterator[FakeIssuer]:
    with FakeIssuer(AUDIENCE, clock=clock) as issuer:
        yield issuer


@pytest.fixture
def guard(issuer: FakeIssuer, clock: FrozenClock) -> Iterator[Guard]:
    verifier = JWTVerifier(issuer.issuer, AUDIENCE, allow_insecure_http=True)
    guard = Guard(
        verifier, clock=clock, refresh_ahead=None, async_transport=OneShotAsyncTransport()
    )
    yield guard
    guard.close()


async def _ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def asgi_app(guard: Guard) -> Starlette:
    app = Starlette(routes=[StarletteRoute("/admin/{rest:path}", _ok)])
    app.add_middleware(StepUpMiddleware, guard=guard, routes=TABLE)
    return app


def assert_clean(collected: Collect) -> None:
    """No record carries a raw control character; a request refused before the Guard (a
    non-canonical path, 400) may log nothing at all, which forges nothing either."""
    refused = [r for r in collected.records if getattr(r, "stepup_event", None) == "refused"]
    for text in collected.texts():
        for character in FORBIDDEN:
            assert character not in text, (character, text)
    assert not any("INJECTED" in r.getMessage().split("refused", 1)[0] for r in refused)


@pytest.mark.parametrize("evil", EVIL, ids=["crlf", "ansi", "line-separator", "bidi", "nul"])
def test_logs_a_path_cannot_forge_a_line_or_an_escape_in_the_asgi_refusal(
    guard: Guard, collected: Collect, evil: str
) -> None:
    """Attack: a percent-encoded CR/LF, ANSI escape, U+2028, U+202E or NUL in the path of a
    refused request (ASGI decodes it into ``scope["path"]``); the refusal's message and its
    ``stepup_path`` field must carry it escaped (OBS-2: ``loggable``)."""
    from urllib.parse import quote

    with TestClient(asgi_app(guard)) as client:
        answer = client.get("/admin/" + quote(evil, safe=""))
    assert answer.status_code == 401
    assert_clean(collected)


@pytest.mark.parametrize("evil", EVIL, ids=["crlf", "ansi", "line-separator", "bidi", "nul"])
def test_logs_a_method_cannot_forge_a_line_in_the_asgi_refusal(
    guard: Guard, collected: Collect, evil: str
) -> None:
    """Attack: a server that passes an odd method through (the ASGI scope as such a server
    would build it); the refusal line escapes it (OBS-2)."""
    app = asgi_app(guard)
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET" + evil,
        "scheme": "http",
        "path": "/admin/x",
        "raw_path": b"/admin/x",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1234),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        await app(scope, receive, send)

    asyncio.run(run())
    statuses = [m["status"] for m in sent if m["type"] == "http.response.start"]
    assert statuses and statuses[0] < 500
    if any(getattr(r, "stepup_event", None) == "refused" for r in collected.records):
        assert_clean(collected)


@pytest.mark.parametrize("evil", EVIL, ids=["crlf", "ansi", "line-separator", "bidi", "nul"])
def test_logs_a_path_cannot_forge_a_line_in_the_wsgi_refusal(
    issuer: FakeIssuer, clock: FrozenClock, collected: Collect, evil: str
) -> None:
    """Attack: the same values in a WSGI ``PATH_INFO`` (latin-1 decoded bytes, as servers pass
    them) and ``REQUEST_METHOD`` (OBS-2)."""
    verifier = JWTVerifier(issuer.issuer, AUDIENCE, allow_insecure_http=True)
    guard = Guard(verifier, clock=clock, refresh_ahead=None)
    table = RouteTable([Route("*", "/{rest:path}", MFA)])

    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b"ok"]

    middleware = StepUpWSGIMiddleware(app, guard=guard, routes=table)
    wire = evil.encode("utf-8").decode("latin-1")
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/admin/" + wire,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "HTTP_AUTHORIZATION": "Bearer not-a-token",
    }
    statuses: list[str] = []
    list(middleware(environ, lambda status, headers, *exc: statuses.append(status)))
    guard.close()
    assert statuses and int(statuses[0][:3]) < 500
    assert_clean(collected)


def test_logs_control_a_plain_refusal_is_logged_with_its_fields(
    guard: Guard, collected: Collect
) -> None:
    """Not an attack: the collector sees the refusal line and its fields (OBS-2), so the tests
    above that find nothing wrong are looking at the right records."""
    with TestClient(asgi_app(guard)) as client:
        assert client.get("/admin/x", headers={"Authorization": "Bearer x.y.z"}).status_code
    refused = [r for r in collected.records if getattr(r, "stepup_event", None) == "refused"]
    assert refused and refused[0].stepup_path == "/admin/x"  # type: ignore[attr-defined]


# -- the token is never logged -------------------------------------------------------------------


def _signature(token: str) -> str:
    return token.rpartition(".")[2]


def assert_no_token(collected: Collect, *tokens: str) -> None:
    secrets = [s for token in tokens for s in (token, _signature(token)) if len(s) >= 16]
    assert collected.records, "something was logged"
    for text in collected.texts():
        for secret in secrets:
            assert secret not in text, text


def test_logs_never_carry_the_token_for_any_jwt_outcome(
    guard: Guard, issuer: FakeIssuer, clock: FrozenClock, collected: Collect
) -> None:
    """Attack: admitted (fresh and remembered), step-up, expired, other audience, bad
    signature, unknown kid, a token with a trailing CR-free junk segment, and an issuer outage,
    with every logger at DEBUG (httpx and httpcore included): no record holds a token or its
    signature (OBS-1, R6750-17)."""
    good = issuer.tokens.mfa_token()
    weak = issuer.tokens.password_token()
    expired = issuer.tokens.mfa_token(expires_in=-3600)
    other = issuer.tokens.mfa_token(audience="https://other.example.com")
    forged = good.rpartition(".")[0] + "." + _signature(weak)
    junk = good + ".extra"
    tokens = [good, weak, expired, other, forged, junk]
    with TestClient(asgi_app(guard)) as client:
        for token in [good, good, good, weak, expired, other, forged, junk]:
            client.get("/admin/x", headers={"Authorization": "Bearer " + token})
        issuer.rotate_keys(keep_previous=False)
        unknown = issuer.tokens.mfa_token()
        issuer.server.fault = "500"
        outage = client.get("/admin/x", headers={"Authorization": "Bearer " + unknown})
        issuer.server.fault = None
    assert outage.status_code in (401, 503)
    assert_no_token(collected, *tokens, unknown)


def test_logs_never_carry_an_introspected_token(
    issuer: FakeIssuer, clock: FrozenClock, collected: Collect
) -> None:
    """Attack: opaque tokens through introspection (active, inactive, outage, an answer that
    is not JSON), every logger at DEBUG: the token travels in a POST body, never in a log
    record (R7662-*, OBS-1)."""
    verifier = IntrospectionVerifier(
        issuer.introspection_endpoint,
        client_auth=ClientSecretBasic(*issuer.introspection_client),
        audience=AUDIENCE,
        allow_insecure_http=True,
    )
    guard = Guard(verifier, clock=clock, refresh_ahead=None)
    try:
        active = issuer.opaque_token(mfa=True)
        inactive = issuer.opaque_token(active=False)
        weak = issuer.opaque_token()
        from stepup_mfa import RequestView

        for token in (active, inactive, weak):
            guard.check(RequestView("GET", "/admin/x", ("Bearer " + token,)), MFA)
        for fault in ("500", "garbage"):
            issuer.server.fault = fault  # type: ignore[assignment]
            outage = issuer.opaque_token(mfa=True)
            guard.check(RequestView("GET", "/admin/x", ("Bearer " + outage,)), MFA)
            issuer.server.fault = None
            assert_no_token(collected, outage)
    finally:
        guard.close()
    assert_no_token(collected, active, inactive, weak)
