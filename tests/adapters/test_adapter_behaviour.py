"""ONE behaviour table, run against all six adapters, sync and async handlers.

Each case goes through the framework's real request path (Flask / werkzeug / Starlette test
clients) with real signed tokens verified against a fake issuer on 127.0.0.1. An adapter that
drifts from the others (a different status, a challenge that lost a parameter, a swallowed
handler exception) fails here. Checklist ids are named per case.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from adapter_apps import ADAPTERS, BUILDERS, MODES, REALM, Boom, MakeGuard, Mode, Reply

from stepup_mfa.testing import MFA_ACR, FakeIssuer, TokenFactory

TokenHeaders = Callable[[TokenFactory], list[tuple[str, str]]]


def bearer(make: Callable[[TokenFactory], str]) -> TokenHeaders:
    return lambda tokens: [("Authorization", "Bearer " + make(tokens))]


TOKENS: dict[str, TokenHeaders] = {
    "none": lambda tokens: [],
    "basic": lambda tokens: [("Authorization", "Basic dXNlcjpwYXNz")],
    "dogs": bearer(lambda t: t.password_token(scope="dogs:read")),
    "cats-only": bearer(lambda t: t.password_token(scope="cats:read")),
    "cats-mfa-fresh": bearer(lambda t: t.mfa_token(scope="cats:read", auth_age=10)),
    "cats-mfa-stale": bearer(lambda t: t.mfa_token(scope="cats:read", auth_age=61)),
    "cats-password": bearer(lambda t: t.password_token(scope="cats:read")),
    "garbage": lambda tokens: [("Authorization", "Bearer not-a-jwt")],
    "two-lines": lambda tokens: [("Authorization", "Bearer a"), ("Authorization", "Bearer b")],
}

ABSENT = object()


@dataclass(frozen=True)
class Case:
    """A request and what every adapter must answer.

    ``error``: the challenge's ``error`` (``None``: a challenge naming no error; ``ABSENT``: no
    ``WWW-Authenticate`` at all). ``params``: further auth-params the challenge must carry.
    """

    id: str
    path: str
    token: str
    status: int
    error: object = ABSENT
    params: dict[str, str] = field(default_factory=dict)
    subject: str | None = None
    accept: str | None = None
    outage: bool = False
    raises: type[Exception] | None = None


CASES = [
    Case("anonymous-route-no-token", "/", "none", 200),
    Case("anonymous-route-with-token", "/", "dogs", 200),
    Case("no-token-R6750-9", "/dogs/", "none", 401, None),
    Case("unsupported-scheme-R6750-18", "/dogs/", "basic", 401, None),
    Case("valid-token-R6750-1", "/dogs/", "dogs", 200, subject="user-1"),
    Case("fresh-mfa-R9470-8", "/cats/", "cats-mfa-fresh", 200, subject="user-1"),
    Case(
        "missing-scope-R6750-17",
        "/dogs/",
        "cats-only",
        403,
        "insufficient_scope",
        {"scope": "dogs:read"},
    ),
    Case(
        "stale-mfa-R9470-4",
        "/cats/",
        "cats-mfa-stale",
        401,
        "insufficient_user_authentication",
        {"max_age": "60", "acr_values": MFA_ACR},
    ),
    Case(
        "weak-acr-R9470-1",
        "/cats/",
        "cats-password",
        401,
        "insufficient_user_authentication",
        {"max_age": "60", "acr_values": MFA_ACR},
    ),
    Case("invalid-token-R6750-13-R9068-8", "/dogs/", "garbage", 401, "invalid_token"),
    Case("two-authorization-lines-R9110-4", "/dogs/", "two-lines", 400, "invalid_request"),
    Case("verifier-outage-R7662-3", "/dogs/", "dogs", 503, outage=True),
    Case(
        "problem-json-R9457-1",
        "/cats/",
        "cats-mfa-stale",
        401,
        "insufficient_user_authentication",
        {"max_age": "60"},
        accept="application/problem+json",
    ),
    Case("handler-exception-not-swallowed", "/boom/", "dogs", 200, raises=Boom),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_behaviour(
    case: Case,
    adapter: str,
    mode: Mode,
    make_guard: MakeGuard,
    issuer: FakeIssuer,
    tokens: TokenFactory,
) -> None:
    """One row of the shared table, through one adapter's real request path. Each row's id names
    the requirement it checks (R6750-9, R6750-13, R6750-17, R6750-18, R9068-8, R9470-1,
    R9470-4, R9110-4, R9457-1, R7662-3)."""
    call = BUILDERS[adapter](make_guard(), mode)
    headers = TOKENS[case.token](tokens)
    if case.accept is not None:
        headers.append(("Accept", case.accept))
    if case.outage:
        issuer.server.fault = "500"
    if case.raises is not None:
        with pytest.raises(case.raises):
            call("GET", case.path, headers)
        return
    reply = call("GET", case.path, headers)
    assert reply.status == case.status
    check_challenge(reply, case)
    if case.status == 200:
        assert json.loads(reply.body) == {"sub": case.subject}
    if case.status == 503:
        assert reply.header("retry-after") is not None
    if case.accept is not None:
        check_problem(reply, case)


def check_challenge(reply: Reply, case: Case) -> None:
    if case.error is ABSENT:
        assert reply.header("www-authenticate") is None
        return
    (challenge,) = reply.challenges
    assert challenge.scheme.lower() == "bearer"
    assert challenge.param("realm") == REALM
    assert challenge.error == case.error
    for name, value in case.params.items():
        assert challenge.param(name) == value, name


def check_problem(reply: Reply, case: Case) -> None:
    assert (reply.header("content-type") or "").startswith("application/problem+json")
    body: dict[str, Any] = json.loads(reply.body)
    assert body["status"] == case.status
    assert body["error"] == case.error
    assert body["max_age"] == 60
