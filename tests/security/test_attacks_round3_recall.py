"""Round 3 attacks on the hot path ``Guard.recall`` (issue 13, PERF-1..3).

Each test tries to get a remembered verdict applied where it must not be: another policy,
another method, past ``max_age`` or ``exp``, after a key left the JWKS, a sender-constrained
token, the same token sent another way, another Guard, hooks installed late, introspection, a
thread race, and a Guard whose verifier was replaced. A hole is marked ``xfail(strict=True)``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route as StarletteRoute
from starlette.testclient import TestClient

from stepup_mfa import (
    ClientSecretBasic,
    DPoP,
    Guard,
    IntrospectionVerifier,
    JWTVerifier,
    MutualTLS,
    Policy,
    RequestView,
    TokenMethods,
)
from stepup_mfa._core.decision import certificate_thumbprint
from stepup_mfa._verify.flow import HttpRequest, HttpResponse
from stepup_mfa._verify.transports import AsyncHttpxTransport
from stepup_mfa.adapters.asgi import StepUpMiddleware
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import MFA_ACR, FakeIssuer, FrozenClock

AUDIENCE = "https://api.example.com"
OTHER_AUDIENCE = "https://other.example.com"
NOW = 1_800_000_000.0
OPEN = Policy(name="open")
MFA_60 = Policy(acr_values=MFA_ACR, max_age=60, name="mfa-60s")


class OneShotAsyncTransport:
    """An httpx client per request: test clients run each request on a new event loop."""

    async def send(self, request: HttpRequest) -> HttpResponse:
        async with httpx.AsyncClient(follow_redirects=False) as client:
            return await AsyncHttpxTransport(client).send(request)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def issuer(clock: FrozenClock) -> Iterator[FakeIssuer]:
    with FakeIssuer(AUDIENCE, clock=clock) as issuer:
        yield issuer


@pytest.fixture
def made() -> Iterator[list[Guard]]:
    guards: list[Guard] = []
    yield guards
    for guard in guards:
        guard.close()


@pytest.fixture
def make(issuer: FakeIssuer, clock: FrozenClock, made: list[Guard]) -> Any:
    def build(audience: str = AUDIENCE, **options: Any) -> Guard:
        options.setdefault("refresh_ahead", None)
        options.setdefault("async_transport", OneShotAsyncTransport())
        verifier = JWTVerifier(issuer.issuer, audience, allow_insecure_http=True)
        guard = Guard(verifier, clock=clock, **options)
        made.append(guard)
        return guard

    return build


def view(line: str | tuple[str, ...], **options: Any) -> RequestView:
    lines = (line,) if isinstance(line, str) else line
    return RequestView("GET", "/admin", lines, **options)


def warm(guard: Guard, line: str, policy: Policy) -> None:
    """Verified, then a cached hit: the verdict is remembered."""
    for _ in range(2):
        assert guard.check(view(line), policy).allowed
    assert guard.recall(line, policy) is not None


async def _echo(request: Request) -> PlainTextResponse:
    principal = request.scope.get("stepup_mfa.principal")
    return PlainTextResponse(getattr(principal, "subject", None) or "-")


def table_app(guard: Guard, table: RouteTable) -> Starlette:
    routes = [
        StarletteRoute("/open", _echo, methods=["GET"]),
        StarletteRoute("/admin", _echo, methods=["GET"]),
        StarletteRoute("/items", _echo, methods=["GET", "POST", "DELETE"]),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(StepUpMiddleware, guard=guard, routes=table)
    return app


TABLE = RouteTable(
    [
        Route("GET", "/open", OPEN),
        Route("GET", "/admin", MFA_60),
        Route("GET", "/items", OPEN),
        Route("POST", "/items", MFA_60),
        Route("DELETE", "/items", MFA_60),
    ]
)


# -- across routes, methods and time (through the ASGI middleware) -------------------------------


def test_recall_a_weak_routes_verdict_never_opens_an_mfa_route(
    make: Any, issuer: FakeIssuer
) -> None:
    """Attack: warm the verdict of a password token on an authenticated-only route, then reuse
    the same Authorization line on the MFA route (PERF-1, R9470-9)."""
    guard = make()
    line = "Bearer " + issuer.tokens.password_token()
    with TestClient(table_app(guard, TABLE)) as client:
        for _ in range(3):
            assert client.get("/open", headers={"Authorization": line}).status_code == 200
        refused = client.get("/admin", headers={"Authorization": line})
    assert refused.status_code == 401
    assert "insufficient_user_authentication" in refused.headers["www-authenticate"]


def test_recall_the_max_age_window_ends_through_the_middleware(
    make: Any, issuer: FakeIssuer, clock: FrozenClock
) -> None:
    """Attack: a remembered MFA verdict used after its MFA window (``max_age``) ran out
    (R9470-9, OIDC-3)."""
    guard = make()
    line = "Bearer " + issuer.tokens.mfa_token(auth_age=50)
    with TestClient(table_app(guard, TABLE)) as client:
        for _ in range(3):
            assert client.get("/admin", headers={"Authorization": line}).status_code == 200
        clock.advance(10.5)
        late = client.get("/admin", headers={"Authorization": line})
    assert late.status_code == 401
    assert 'max_age="60"' in late.headers["www-authenticate"]


def test_recall_exp_ends_through_the_middleware(
    make: Any, issuer: FakeIssuer, clock: FrozenClock
) -> None:
    """Attack: a remembered verdict used after the token's ``exp`` plus leeway (R9068-7)."""
    guard = make()
    line = "Bearer " + issuer.tokens.password_token(expires_in=30)
    with TestClient(table_app(guard, TABLE)) as client:
        for _ in range(3):
            assert client.get("/open", headers={"Authorization": line}).status_code == 200
        clock.advance(30 + 60)
        late = client.get("/open", headers={"Authorization": line})
    assert late.status_code == 401
    assert 'error="invalid_token"' in late.headers["www-authenticate"]


def test_recall_a_key_removed_from_the_jwks_ends_the_verdict(make: Any, issuer: FakeIssuer) -> None:
    """Attack: the signing key is withdrawn (rotation without the previous key); once the
    verifier has the new set, the token signed by the old key must be refused although its
    verdict was remembered (R7517-1, K1)."""
    guard = make()
    line = "Bearer " + issuer.tokens.mfa_token()
    with TestClient(table_app(guard, TABLE)) as client:
        for _ in range(3):
            assert client.get("/admin", headers={"Authorization": line}).status_code == 200
        issuer.rotate_keys(keep_previous=False)
        fresh = "Bearer " + issuer.tokens.mfa_token()  # an unknown kid: the set is fetched
        assert client.get("/admin", headers={"Authorization": fresh}).status_code == 200
        old = client.get("/admin", headers={"Authorization": line})
    assert old.status_code == 401


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("lower-case scheme", 200),
        ("two spaces", 200),  # RFC 6750 §2.1: "Bearer" 1*SP b64token
        ("trailing space", 400),
        ("two Authorization lines", 400),
        ("also in the query", 400),
        ("also in a form body", 400),
    ],
)
def test_recall_the_same_token_sent_another_way_is_judged_as_if_never_seen(
    make: Any, issuer: FakeIssuer, variant: str, expected: int
) -> None:
    """Attack: warm the verdict, then send the same token in another shape (RFC 6750 §2: one
    method only, R6750-5; the Authorization syntax, R9110-4). The answer must be what a Guard
    that never saw the token gives."""
    token = issuer.tokens.mfa_token()
    line = "Bearer " + token
    methods = TokenMethods(query=True, body=True)

    def ask(client: TestClient) -> int:
        headers: list[tuple[str, str]] = [("Authorization", line)]
        url, content = "/items", None
        if variant == "lower-case scheme":
            headers = [("Authorization", "bearer " + token)]
        elif variant == "two spaces":
            headers = [("Authorization", "Bearer  " + token)]
        elif variant == "trailing space":
            headers = [("Authorization", line + " ")]
        elif variant == "two Authorization lines":
            headers = [("Authorization", line), ("Authorization", line)]
        elif variant == "also in the query":
            url = "/items?access_token=" + token
        elif variant == "also in a form body":
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
            content = b"access_token=" + token.encode()
        return client.request("POST", url, headers=headers, content=content).status_code

    fresh = make(token_methods=methods)
    with TestClient(table_app(fresh, TABLE)) as client:
        never_seen = ask(client)
    warmed = make(token_methods=methods)
    with TestClient(table_app(warmed, TABLE)) as client:
        for _ in range(3):
            assert client.post("/items", headers={"Authorization": line}).status_code == 200
        after = ask(client)
    assert (never_seen, after) == (expected, expected)


# -- methods over a real server --


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served(make: Any) -> Iterator[tuple[str, Guard]]:
    guard = make()
    port = _free_port()
    config = uvicorn.Config(
        table_app(guard, TABLE),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        loop="asyncio",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", guard
    finally:
        server.should_exit = True
        thread.join(10)


def test_recall_a_get_or_head_verdict_never_admits_post_or_delete_over_uvicorn(
    served: tuple[str, Guard], issuer: FakeIssuer
) -> None:
    """Attack: over real uvicorn, warm GET and HEAD of /items (authenticated) with a password
    token, then POST and DELETE /items (MFA) with the same line (PERF-1, BIND-1)."""
    base, _guard = served
    line = "Bearer " + issuer.tokens.password_token()
    with httpx.Client(base_url=base) as client:
        for method in ("GET", "HEAD", "GET", "HEAD", "GET"):
            assert (
                client.request(method, "/items", headers={"Authorization": line}).status_code == 200
            )
        for method in ("POST", "DELETE", "POST"):
            answer = client.request(method, "/items", headers={"Authorization": line})
            assert answer.status_code == 401, method
            assert "insufficient_user_authentication" in answer.headers["www-authenticate"]


# -- sender-constrained tokens are never remembered ------------------------------------------------


def test_recall_a_dpop_guard_remembers_nothing(make: Any, issuer: FakeIssuer) -> None:
    """Attack: a Guard with a DPoP checker; a Bearer verdict remembered there would skip the
    proof checks of later DPoP requests (R9449-17, PERF-1)."""
    guard = make(dpop=DPoP("https://api.example.com"))
    line = "Bearer " + issuer.tokens.mfa_token()
    for _ in range(3):
        assert guard.check(view(line), MFA_60).allowed
    assert guard.recall(line, MFA_60) is None


def test_recall_a_certificate_bound_token_needs_its_certificate_every_time(
    make: Any, issuer: FakeIssuer
) -> None:
    """Attack: a certificate-bound token admitted twice with its certificate, then sent without
    it and with another certificate (RFC 8705 §3, R8705-1, R8705-2)."""
    der = b"0\x82 the client's certificate"
    token = issuer.tokens.mfa_token(claims={"cnf": {"x5t#S256": certificate_thumbprint(der)}})
    line = "Bearer " + token
    guard = make(mtls=MutualTLS())
    for _ in range(3):
        assert guard.check(view(line, client_cert=der), MFA_60).allowed
    assert guard.recall(line, MFA_60) is None
    assert not guard.check(view(line), MFA_60).allowed
    assert not guard.check(view(line, client_cert=b"another certificate"), MFA_60).allowed


def test_recall_a_certificate_bound_token_without_its_certificate_through_the_middleware(
    make: Any, issuer: FakeIssuer
) -> None:
    """Attack: the trusted proxy header carries the certificate for three requests, then the
    same Authorization line arrives without it (R8705-2 through the ASGI middleware)."""
    import base64

    der = b"0\x82 the client's certificate"
    token = issuer.tokens.mfa_token(claims={"cnf": {"x5t#S256": certificate_thumbprint(der)}})
    line = "Bearer " + token
    mtls = MutualTLS(trusted_proxy_header="X-Client-Cert", header_format="der-base64")
    guard = make(mtls=mtls)
    cert = base64.b64encode(der).decode()
    with TestClient(table_app(guard, TABLE)) as client:
        for _ in range(3):
            answer = client.get("/admin", headers={"Authorization": line, "X-Client-Cert": cert})
            assert answer.status_code == 200
        bare = client.get("/admin", headers={"Authorization": line})
    assert bare.status_code == 401
    assert 'error="invalid_token"' in bare.headers["www-authenticate"]


# -- other Guards, hooks, introspection --


def test_recall_two_guards_with_other_audiences_share_nothing(
    make: Any, issuer: FakeIssuer
) -> None:
    """Attack: one process, two Guards with verifiers for different audiences; a verdict warmed
    on the first must not admit the token on the second (R9068-5, C3)."""
    ours, theirs = make(), make(audience=OTHER_AUDIENCE)
    line = "Bearer " + issuer.tokens.mfa_token()
    warm(ours, line, MFA_60)
    assert theirs.recall(line, MFA_60) is None
    for _ in range(2):
        decision = theirs.check(view(line), MFA_60)
        assert not decision.allowed and decision.error.code == "invalid_token"


def test_recall_hooks_installed_after_warming_see_every_decision(
    make: Any, issuer: FakeIssuer
) -> None:
    """Attack: warm the verdict, then install an observer-like ``on_decision`` hook; no later
    request may bypass it through the ASGI middleware's recall (OBS-1, PERF-1)."""
    guard = make()
    line = "Bearer " + issuer.tokens.mfa_token()
    with TestClient(table_app(guard, TABLE)) as client:
        for _ in range(3):
            assert client.get("/admin", headers={"Authorization": line}).status_code == 200
        seen: list[bool] = []
        guard.on_decision = lambda request, policy, decision: seen.append(decision.allowed)
        for _ in range(4):
            assert client.get("/admin", headers={"Authorization": line}).status_code == 200
    assert seen == [True] * 4


def test_recall_a_revoked_introspected_token_is_refused_once_its_cache_entry_ends(
    issuer: FakeIssuer, clock: FrozenClock, made: list[Guard]
) -> None:
    """Attack: an opaque token admitted (cached answer), then revoked at the authorization
    server; after ``cache_ttl`` it must be refused, never recalled (R7662-10, PERF-1)."""
    verifier = IntrospectionVerifier(
        issuer.introspection_endpoint,
        client_auth=ClientSecretBasic(*issuer.introspection_client),
        audience=AUDIENCE,
        cache_ttl=30,
        allow_insecure_http=True,
    )
    guard = Guard(verifier, clock=clock, refresh_ahead=None)
    made.append(guard)
    token = issuer.opaque_token(mfa=True)
    line = "Bearer " + token
    for _ in range(3):
        assert guard.check(view(line), MFA_60).allowed
    assert guard.recall(line, MFA_60) is None
    issuer.revoke(token)
    clock.advance(31)
    decision = guard.check(view(line), MFA_60)
    assert not decision.allowed and decision.error.code == "invalid_token"


# -- a race --


def test_recall_many_threads_never_store_a_verdict_under_the_wrong_key(
    make: Any, issuer: FakeIssuer
) -> None:
    """Attack: 12 threads judge 12 tokens (half password, half MFA, each its own subject) under
    two policies at once; every admitted principal must be the token's own, and no password
    token may ever pass the MFA policy, whether by check or by recall (PERF-1)."""
    guard = make()
    lines = {
        f"user-{n}": "Bearer "
        + (
            issuer.tokens.mfa_token(subject=f"user-{n}")
            if n % 2
            else issuer.tokens.password_token(subject=f"user-{n}")
        )
        for n in range(12)
    }
    guard.startup()  # the key set is fetched once, before the race (the race is on the memo)
    wrong: list[str] = []
    start = threading.Barrier(12)

    def work(offset: int) -> None:
        start.wait()
        names = list(lines)
        for round_ in range(40):
            name = names[(offset + round_) % len(names)]
            line = lines[name]
            mfa = int(name.rsplit("-", 1)[1]) % 2 == 1
            for policy in (OPEN, MFA_60):
                decision = guard.recall(line, policy) or guard.check(view(line), policy)
                if decision.allowed:
                    assert decision.principal is not None
                    if decision.principal.subject != name:
                        wrong.append(f"{name} admitted as {decision.principal.subject}")
                    if policy is MFA_60 and not mfa:
                        wrong.append(f"password token {name} passed MFA")
                elif policy is OPEN or mfa:
                    wrong.append(f"{name} refused under {policy.name}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert wrong == []
    assert guard.recall(lines["user-1"], MFA_60) is not None  # remembering did happen
    assert guard.recall(lines["user-0"], MFA_60) is None


# -- a Guard whose verifier was replaced -----------------------------------------------------------


def test_recall_replacing_the_guards_verifier_forgets_the_old_verdicts(
    make: Any, issuer: FakeIssuer
) -> None:
    """Attack: ``guard.verifier`` is a plain public attribute; an app that swaps it (a new
    audience, a reloaded configuration) must not keep admitting tokens through verdicts the
    old verifier reached (PERF-1, fail closed)."""
    guard = make()
    line = "Bearer " + issuer.tokens.mfa_token()
    warm(guard, line, MFA_60)
    guard.verifier = JWTVerifier(issuer.issuer, OTHER_AUDIENCE, allow_insecure_http=True)
    assert guard.recall(line, MFA_60) is None
    assert not guard.check(view(line), MFA_60).allowed


def test_recall_many_asyncio_tasks_through_the_middleware_never_mix_principals(
    make: Any, issuer: FakeIssuer
) -> None:
    """Attack: 240 concurrent requests on one event loop through the ASGI middleware, 12
    tokens (half password, half MFA, each its own subject) on an authenticated and an MFA
    route; each answer must name the token's own subject, and no password token may reach
    the MFA route, whether its verdict was verified, cached or recalled (PERF-1)."""
    import asyncio

    guard = make()
    app = table_app(guard, TABLE)
    names = [f"user-{n}" for n in range(12)]
    lines = {
        name: "Bearer "
        + (
            issuer.tokens.mfa_token(subject=name)
            if n % 2
            else issuer.tokens.password_token(subject=name)
        )
        for n, name in enumerate(names)
    }

    async def one(client: httpx.AsyncClient, name: str, path: str) -> str | None:
        answer = await client.get(path, headers={"Authorization": lines[name]})
        mfa = int(name.rsplit("-", 1)[1]) % 2 == 1
        if answer.status_code == 200:
            if answer.text != name:
                return f"{name} on {path} answered as {answer.text}"
            if path == "/admin" and not mfa:
                return f"password token {name} reached {path}"
            return None
        if path == "/open" or mfa:
            return f"{name} refused on {path}: {answer.status_code}"
        return None

    async def run() -> list[str | None]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await one(client, names[0], "/open")  # the key set, fetched once
            jobs = [
                one(client, names[(n * 7) % 12], "/admin" if n % 3 else "/open") for n in range(240)
            ]
            return await asyncio.gather(*jobs)

    problems = [problem for problem in asyncio.run(run()) if problem is not None]
    assert problems == []


@pytest.mark.parametrize("refresh_ahead", [None, 30.0])
def test_recall_a_withdrawn_key_is_noticed_once_the_jwks_max_age_has_passed(
    issuer: FakeIssuer, clock: FrozenClock, made: list[Guard], refresh_ahead: float | None
) -> None:
    """Attack: the authorization server withdraws a (compromised) signing key; only tokens
    seen before keep arriving. Once the key set's max-age (60 s here) has passed, the keys must
    be fetched again (R8414-2, K1: "after their max-age they are refreshed";
    ``stale_keys_grace`` is documented as serving "while the JWKS cannot be fetched") and the
    token refused. (It was a hole: ``JWTVerifier.cached`` checked only ``usable_until`` and the
    verdict's deadline was ``usable_until``; now a hit needs keys the flow would use without
    fetching, and verdicts end at ``fresh_until``.)"""
    verifier = JWTVerifier(
        issuer.issuer,
        AUDIENCE,
        allow_insecure_http=True,
        jwks_min_age=60,
        jwks_default_age=60,
        stale_keys_grace=3600,
    )
    guard = Guard(verifier, clock=clock, refresh_ahead=refresh_ahead)
    made.append(guard)
    line = "Bearer " + issuer.tokens.mfa_token(expires_in=7200)
    warm(guard, line, OPEN)
    issuer.rotate_keys(keep_previous=False)
    clock.advance(120)  # past the max-age, well inside the grace
    admitted = True
    deadline = time.monotonic() + 3  # a bounded wait for a background refresh, if any
    while admitted and time.monotonic() < deadline:
        clock.advance(1)
        decision = guard.check(view(line), OPEN)
        admitted = decision.allowed
        time.sleep(0.05)
    assert not admitted
    assert decision.error.code == "invalid_token"  # refused for its key, not its age
