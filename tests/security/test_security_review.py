"""Regression tests from the end-to-end security review: each test is one attack that worked.

Real servers where it matters: a :class:`FakeIssuer` on 127.0.0.1 signs and publishes the keys,
and Flask is driven through werkzeug's test client, which hands the request method over as sent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import flask
import pytest
from cachetools import FIFOCache
from werkzeug.test import Client

from stepup_mfa import Guard, JWTVerifier, Policy
from stepup_mfa._core.credentials import RequestView
from stepup_mfa._verify.cache import MemoryStore
from stepup_mfa._verify.flow import HttpRequest, HttpResponse
from stepup_mfa._verify.introspection import ClientSecretBasic, IntrospectionVerifier
from stepup_mfa._verify.transports import HttpxTransport
from stepup_mfa.asgi import StepUpMiddleware
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import MFA_ACR, FakeIssuer, FrozenClock
from stepup_mfa.wsgi import StepUpWSGIMiddleware

NOW = 1_800_000_000
API = "https://api.example.com"
BILLING = "https://billing.example.com"
AS = "https://as.example.com"
CATS = Policy(scopes="cats:read", acr_values=MFA_ACR, max_age=60, name="cats")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def issuer(clock: FrozenClock) -> Iterator[FakeIssuer]:
    with FakeIssuer([API, BILLING], clock=clock) as running:
        yield running


@pytest.fixture
def transport() -> Iterator[HttpxTransport]:
    sync = HttpxTransport()
    yield sync
    sync.close()


# -- route table: method case ---------------------------------------------------------------------


def test_route_table_lower_case_method_meets_the_get_policy(
    issuer: FakeIssuer, clock: FrozenClock, transport: HttpxTransport
) -> None:
    """werkzeug upper-cases the method before routing: ``get /cats/`` runs the GET view, so it
    must not fall through to the table's weaker default (a step-up bypass with any token)."""
    verifier = JWTVerifier(issuer.issuer, API, allow_insecure_http=True)
    guard = Guard(verifier, clock=clock, transport=transport)
    app = flask.Flask(__name__)
    app.add_url_rule("/cats/", view_func=lambda: "secret", methods=["GET"])
    table = RouteTable([Route("GET", "/cats/", CATS)])
    app.wsgi_app = StepUpWSGIMiddleware(app.wsgi_app, guard=guard, routes=table)  # type: ignore[method-assign]
    weak = issuer.tokens.password_token(scope="dogs:read")
    headers = {"Authorization": "Bearer " + weak}
    for method in ("GET", "get", "Get"):
        response = Client(app).open("/cats/", method=method, headers=headers)
        assert response.status_code in (401, 403), method
        assert response.get_data() != b"secret"


# -- shared stores: one resource server's answers must not admit tokens at another ----------------


class _Introspection:
    """An AS that says the token is active for the billing service only."""

    def send(self, request: HttpRequest) -> HttpResponse:
        answer = {
            "active": True,
            "iss": AS,
            "aud": BILLING,
            "sub": "u1",
            "scope": "cats:read",
            "exp": NOW + 300,
        }
        return HttpResponse(200, {"content-type": "application/json"}, json.dumps(answer).encode())


def _introspecting_guard(audience: str, store: MemoryStore[object]) -> Guard:
    verifier = IntrospectionVerifier(
        AS + "/introspect",
        client_auth=ClientSecretBasic("rs", "secret"),
        issuer=AS,
        audience=audience,
        store=store,  # type: ignore[arg-type]
    )
    return Guard(verifier, clock=lambda: NOW, transport=_Introspection())


def test_I3_shared_introspection_store_does_not_admit_another_audience() -> None:
    """R7662-7 / I3 through a shared store (Redis): billing caches an answer whose ``aud`` is
    billing; the api service reading the same store must still refuse it."""
    store: MemoryStore[object] = MemoryStore()
    request = RequestView("GET", "/", ("Bearer opaque-token-123",))
    policy = Policy(scopes="cats:read")
    assert _introspecting_guard(BILLING, store).check(request, policy).allowed
    decision = _introspecting_guard(API, store).check(request, policy)
    assert not decision.allowed
    assert decision.status == 401


def test_C3_shared_jwt_cache_does_not_admit_another_audience(
    issuer: FakeIssuer, clock: FrozenClock, transport: HttpxTransport
) -> None:
    """R9068-5 / C3 through a shared verified-token store: a token for billing, verified and
    cached by billing, is refused by the api service that shares the store."""
    store: MemoryStore[object] = MemoryStore()

    def guard(audience: str) -> Guard:
        verifier = JWTVerifier(
            issuer.issuer,
            audience,
            allow_insecure_http=True,
            cache=store,  # type: ignore[arg-type]
        )
        return Guard(verifier, clock=clock, transport=transport)

    token = issuer.tokens.mint(audience=BILLING, scope="cats:read")
    request = RequestView("GET", "/", ("Bearer " + token,))
    policy = Policy(scopes="cats:read")
    assert guard(BILLING).check(request, policy).allowed
    api = guard(API)
    api.startup()
    decision = api.check(request, policy)
    assert not decision.allowed
    assert decision.status == 401


# -- concurrency ------------------------------------------------------------------------------


def test_memory_store_read_racing_an_eviction_is_a_miss() -> None:
    """Reads take no lock; a write that evicts the key between ``FIFOCache.get``'s ``in`` and
    ``[]`` made the read raise KeyError, which the Guard turns into a 503 under load."""

    class EvictedMidRead(FIFOCache[str, tuple[object, float]]):
        def __contains__(self, key: object) -> bool:
            return True  # the key was there for the check, and gone for the read

    store: MemoryStore[object] = MemoryStore()
    store._entries = EvictedMidRead(maxsize=4)
    assert store.get("evicted", NOW) is None


# -- logs ------------------------------------------------------------------------------------


def test_refusal_log_line_cannot_be_forged_through_the_path(
    caplog: pytest.LogCaptureFixture, clock: FrozenClock
) -> None:
    verifier = JWTVerifier(AS, API)
    guard = Guard(verifier, clock=clock)
    with caplog.at_level(logging.INFO, logger="stepup_mfa"):
        guard.check(RequestView("GET", "/cats/\r\nFORGED status=200"), CATS)
    messages = [record.getMessage() for record in caplog.records]
    assert messages
    assert not any("\n" in message or "\r" in message for message in messages)


# -- require_https and websockets --------------------------------------------------------------


@pytest.mark.anyio
async def test_R6750_22_require_https_admits_a_websocket_over_wss(
    issuer: FakeIssuer, clock: FrozenClock
) -> None:
    """ASGI names TLS websockets ``wss``: a ``require_https`` Guard refused every one of them."""
    verifier = JWTVerifier(issuer.issuer, API, allow_insecure_http=True)
    guard = Guard(verifier, clock=clock, require_https=True, refresh_ahead=None)
    await guard.astartup()
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["scheme"])

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    middleware = StepUpMiddleware(app, guard=guard, routes=RouteTable())
    token = issuer.tokens.mint().encode()
    for scheme in ("wss", "ws"):
        scope = {
            "type": "websocket",
            "scheme": scheme,
            "path": "/ws",
            "headers": [(b"authorization", b"Bearer " + token)],
        }
        await middleware(scope, receive, send)
    assert reached == ["wss"]
    assert [message["code"] for message in sent] == [1008]
    await guard.aclose()
