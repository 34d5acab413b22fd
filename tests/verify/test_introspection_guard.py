"""The seed scenario with opaque tokens: the Guard, the introspection verifier and a real endpoint.

What the client sees (status, ``WWW-Authenticate``, ``Retry-After``, body) for the checklist lines
of section 4 and R9470-9, parsed as RFC 9110 describes rather than compared as raw strings.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from introspection_fixtures import (
    AUDIENCE,
    ISSUER,
    NOW,
    IntrospectionStub,
    active,
    verifier_for,
)

from stepup_mfa._core.challenge import Challenge, parse_www_authenticate
from stepup_mfa._core.credentials import RequestView
from stepup_mfa._core.decision import Decision
from stepup_mfa._core.policy import Policy
from stepup_mfa._guard import Guard
from stepup_mfa._verify.introspection import ClientSecretBasic, IntrospectionVerifier
from stepup_mfa._verify.transports import AsyncHttpxTransport, HttpxTransport
from stepup_mfa.testing.clock import FrozenClock
from stepup_mfa.testing.server import RecordedRequest, Reply

MFA = "urn:example:acr:mfa"
CATS = Policy(scopes="cats:read", acr_values=MFA, max_age=60, name="cats")
DOGS = Policy(scopes="dogs:read", name="dogs")
TOKEN = "opaque-cats-token"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


def guard_for(
    stub: IntrospectionStub, clock: FrozenClock, transport: HttpxTransport, **options: Any
) -> Guard:
    return Guard(verifier_for(stub, **options), realm="api", clock=clock, transport=transport)


def get(path: str, token: str = TOKEN) -> RequestView:
    return RequestView("GET", path, authorization=(f"Bearer {token}",))


def challenge(decision: Decision) -> Challenge:
    header = decision.www_authenticate
    assert header is not None
    (parsed,) = parse_www_authenticate(header)
    assert parsed.scheme.lower() == "bearer"
    return parsed


def test_R9470_9_stale_auth_time_in_the_introspection_answer_is_stepped_up(
    stub: IntrospectionStub, clock: FrozenClock, transport: HttpxTransport
) -> None:
    stub.answers[TOKEN] = {
        "active": True,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "u1",
        "scope": "cats:read",
        "exp": NOW + 300,
        "auth_time": NOW - 120,
        "acr": MFA,
    }
    decision = guard_for(stub, clock, transport).check(get("/cats/"), CATS)
    assert decision.status == 401
    parsed = challenge(decision)
    assert parsed.error == "insufficient_user_authentication"
    assert parsed.max_age == 60
    assert parsed.acr_values == (MFA,)


def test_R9470_10_mfa_window_closes_although_the_answer_is_cached(
    stub: IntrospectionStub, clock: FrozenClock, transport: HttpxTransport
) -> None:
    """Fresh -> 200; after max_age -> 401 step-up; still one introspection call."""
    stub.answers[TOKEN] = active(auth_time=NOW - 30, exp=NOW + 3600)
    guard = guard_for(stub, clock, transport, cache_ttl=300)
    assert guard.check(get("/cats/"), CATS).allowed
    clock.advance(30)
    assert guard.check(get("/cats/"), CATS).allowed  # now - auth_time == 60: the boundary passes
    clock.advance(1)
    refused = guard.check(get("/cats/"), CATS)
    assert refused.status == 401
    assert challenge(refused).error == "insufficient_user_authentication"
    assert challenge(refused).max_age == 60
    assert guard.check(get("/profile/"), Policy(name="login")).allowed  # the token is still valid
    assert stub.calls == 1


def test_R7662_5_inactive_token_gets_invalid_token_challenge(
    stub: IntrospectionStub, clock: FrozenClock, transport: HttpxTransport
) -> None:
    stub.answers[TOKEN] = {"active": False}
    decision = guard_for(stub, clock, transport).check(get("/dogs/"), DOGS)
    assert decision.status == 401
    parsed = challenge(decision)
    assert parsed.error == "invalid_token"
    assert parsed.param("error_description") == "The access token is not active"
    assert parsed.param("realm") == "api"
    assert parsed.max_age is None and parsed.acr_values == ()


def test_R7662_6_reason_never_reaches_the_response(
    stub: IntrospectionStub, clock: FrozenClock, transport: HttpxTransport
) -> None:
    stub.answers[TOKEN] = {"active": False, "reason": "revoked", "sub": "u1"}
    guard = guard_for(stub, clock, transport)
    decision = guard.check(get("/dogs/"), DOGS)
    for accept in (None, "application/problem+json"):
        denial = guard.denial(decision, accept)
        shown = repr(denial.headers) + denial.body.decode()
        assert "revoked" not in shown
        assert "u1" not in shown


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply.json({"error": "invalid_client"}, status=401), id="401-invalid_client"),
        pytest.param(Reply(200, b"<html>login</html>", {"Content-Type": "text/html"}), id="html"),
        pytest.param(Reply(500, b"oops"), id="500"),
    ],
)
def test_R7662_3_endpoint_failure_is_503_with_retry_after_and_no_blame(
    stub: IntrospectionStub, clock: FrozenClock, transport: HttpxTransport, reply: Reply
) -> None:
    stub.answers[TOKEN] = reply
    decision = guard_for(stub, clock, transport).check(get("/dogs/"), DOGS)
    assert (decision.allowed, decision.status) == (False, 503)
    headers = dict(decision.headers)
    assert headers.get("Retry-After") == "5"
    assert "invalid_token" not in repr(decision.headers)


def test_R7662_3_timeout_is_503(
    stub: IntrospectionStub, clock: FrozenClock, transport: HttpxTransport
) -> None:
    stub.answers[TOKEN] = active()
    stub.server.fault = "hang"
    decision = guard_for(stub, clock, transport, timeout=0.3).check(get("/dogs/"), DOGS)
    assert decision.status == 503


def test_R7662_7_I3_token_for_another_resource_is_invalid_token(
    stub: IntrospectionStub, clock: FrozenClock, transport: HttpxTransport
) -> None:
    stub.answers[TOKEN] = active(aud="https://other.example.com", scope="dogs:read")
    decision = guard_for(stub, clock, transport).check(get("/dogs/"), DOGS)
    assert decision.status == 401
    assert challenge(decision).error == "invalid_token"


@pytest.mark.parametrize(
    "members",
    [
        pytest.param({"token_type": "DPoP", "cnf": {"jkt": "0ZcOCORZNYy"}}, id="DPoP-bound"),
        pytest.param({"cnf": {"jkt": "0ZcOCORZNYy"}}, id="cnf-jkt-only"),
        pytest.param({"cnf": {"x5t#S256": "bwcK0esc3ACC3DB2"}}, id="certificate-bound"),
    ],
)
def test_R7662_14_I5_bound_token_presented_as_bearer_is_invalid_token(
    stub: IntrospectionStub, clock: FrozenClock, transport: HttpxTransport, members: dict[str, Any]
) -> None:
    stub.answers[TOKEN] = active(scope="dogs:read", **members)
    decision = guard_for(stub, clock, transport).check(get("/dogs/"), DOGS)
    assert decision.status == 401
    assert challenge(decision).error == "invalid_token"


def test_R7662_10_route_with_max_cache_age_zero_introspects_every_request(
    stub: IntrospectionStub, clock: FrozenClock, transport: HttpxTransport
) -> None:
    stub.answers[TOKEN] = active(scope="dogs:read cats:read")
    guard = guard_for(stub, clock, transport)
    live = Policy(scopes="dogs:read", max_cache_age=0, name="transfer")
    for _ in range(3):
        assert guard.check(get("/transfer/"), live).allowed
    assert guard.check(get("/dogs/"), DOGS).allowed
    assert stub.calls == 3


def test_R7662_13_info_logs_of_a_refusal_carry_no_personal_data(
    stub: IntrospectionStub,
    clock: FrozenClock,
    transport: HttpxTransport,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    stub.answers[TOKEN] = active(
        sub="alice-subject-id", username="alice@example.com", auth_time=NOW - 600
    )
    decision = guard_for(stub, clock, transport).check(get("/cats/"), CATS)
    assert decision.status == 401
    assert "refused" in caplog.text
    for personal in ("alice-subject-id", "alice@example.com", TOKEN):
        assert personal not in caplog.text


@pytest.mark.anyio
async def test_R7662_1_asyncio_guard_introspects_once_and_steps_up(
    stub: IntrospectionStub, clock: FrozenClock
) -> None:
    stub.answers[TOKEN] = active(auth_time=NOW - 30, exp=NOW + 3600)
    async_transport = AsyncHttpxTransport()
    guard = Guard(
        verifier_for(stub, cache_ttl=300),
        realm="api",
        clock=clock,
        async_transport=async_transport,
    )
    try:
        assert (await guard.acheck(get("/cats/"), CATS)).allowed
        clock.advance(31)
        refused = await guard.acheck(get("/cats/"), CATS)
    finally:
        await async_transport.aclose()
    assert challenge(refused).error == "insufficient_user_authentication"
    assert stub.calls == 1


def test_R8414_6_guard_startup_discovers_the_endpoint(
    stub: IntrospectionStub, clock: FrozenClock, transport: HttpxTransport
) -> None:
    issuer = stub.server.url
    document = {"issuer": issuer, "introspection_endpoint": stub.endpoint}

    def metadata(_: RecordedRequest) -> Reply:
        return Reply.json(document)

    stub.server.routes["/.well-known/oauth-authorization-server"] = metadata
    stub.answers[TOKEN] = active(iss=issuer, scope="dogs:read")
    verifier = IntrospectionVerifier(
        None, client_auth=ClientSecretBasic("rs-api", "s3cr:t é+/%"), issuer=issuer
    )
    guard = Guard(verifier, realm="api", clock=clock, transport=transport)
    guard.startup()
    assert verifier.endpoint == stub.endpoint
    assert guard.check(get("/dogs/"), DOGS).allowed
    assert stub.server.count("/.well-known/oauth-authorization-server") == 1
