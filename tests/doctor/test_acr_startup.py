"""R9470-14 at start-up: policies whose acr_values the issuer does not list in its metadata's
``acr_values_supported``, against the development authorization server (which publishes its two
levels) and a :class:`FakeIssuer` whose metadata a test changes.

A typo there sends every client into a re-authentication loop the issuer cannot satisfy, so the
app warns (the service still starts), or with ``strict_acr`` refuses to start.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route as StarletteRoute
from starlette.testclient import TestClient
from werkzeug.test import Client
from werkzeug.wrappers import Request as WerkzeugRequest
from werkzeug.wrappers import Response as WerkzeugResponse

from stepup_mfa import ConfigurationError, Guard, JWTVerifier, Policy, StepUpSettings
from stepup_mfa._core.errors import PolicyWarning
from stepup_mfa.adapters.gateway import ForwardAuthGateway
from stepup_mfa.asgi import StepUpMiddleware
from stepup_mfa.devidp import DevIdP
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import FakeIssuer, LocalHTTPServer
from stepup_mfa.wsgi import StepUpWSGIMiddleware

AUDIENCE = "https://api.example.com"
TYPO = "urn:stepup-mfa:acr:mfaa"


def guard_for(issuer: str, **options: Any) -> Guard:
    return Guard(JWTVerifier(issuer, AUDIENCE), **options)


def typo_policy() -> Policy:
    return Policy(acr_values=TYPO, max_age=60, name="payouts")


def test_R9470_14_dev_server_publishes_acr_values_supported(stepup_dev_idp: DevIdP) -> None:
    """The development server lists its two levels: the check has something to compare with."""
    supported = stepup_dev_idp.metadata()["acr_values_supported"]
    assert supported == [stepup_dev_idp.password_acr, stepup_dev_idp.mfa_acr]


def test_R9470_14_typo_acr_warns_naming_policy_and_issuer_values(
    stepup_dev_idp: DevIdP, caplog: pytest.LogCaptureFixture
) -> None:
    """R9470-14: a PolicyWarning (and a log line) naming the policy, the value and the issuer's
    values; the Guard still works."""
    idp = stepup_dev_idp
    guard = guard_for(idp.issuer)
    try:
        with pytest.warns(PolicyWarning) as caught, caplog.at_level(logging.WARNING):
            problems = guard.check_acr_values([typo_policy(), Policy(acr_values=idp.mfa_acr)])
        (message,) = [str(w.message) for w in caught]
        assert problems == (message,)
        assert "policy 'payouts'" in message
        assert TYPO in message
        assert f"({idp.password_acr} {idp.mfa_acr})" in message
        assert message in caplog.text
    finally:
        guard.close()


def test_R9470_14_listed_acr_values_say_nothing(stepup_dev_idp: DevIdP) -> None:
    guard = guard_for(stepup_dev_idp.issuer)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            policy = Policy(acr_values=stepup_dev_idp.mfa_acr, name="mfa")
            assert guard.check_acr_values([policy]) == ()
    finally:
        guard.close()


def test_R9470_14_strict_acr_is_a_configuration_error(stepup_dev_idp: DevIdP) -> None:
    """R9470-14: with strict_acr the same finding stops the app at start-up."""
    guard = guard_for(stepup_dev_idp.issuer, strict_acr=True)
    try:
        with pytest.raises(ConfigurationError, match="policy 'payouts' asks for acr_values"):
            guard.check_acr_values([typo_policy()])
    finally:
        guard.close()


def test_R9470_14_metadata_without_acr_values_supported_says_nothing(
    stepup_issuer: FakeIssuer,
) -> None:
    del stepup_issuer.metadata["acr_values_supported"]
    guard = guard_for(stepup_issuer.issuer, strict_acr=True)
    try:
        assert guard.check_acr_values([typo_policy()]) == ()
    finally:
        guard.close()


def test_R9470_14_unreachable_metadata_does_not_stop_the_app(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A start-up check never fails an app its requests would not (they fail closed on their
    own): metadata that cannot be had is logged and skipped, even when strict."""
    with LocalHTTPServer() as server:
        issuer = server.url  # answers 404 to every metadata URL
        guard = guard_for(issuer, strict_acr=True)
        try:
            with caplog.at_level(logging.INFO, logger="stepup_mfa"):
                assert guard.check_acr_values([typo_policy()]) == ()
            assert "not checked" in caplog.text
        finally:
            guard.close()


def test_R9470_14_no_acr_policy_fetches_nothing(stepup_issuer: FakeIssuer) -> None:
    guard = guard_for(stepup_issuer.issuer)
    try:
        assert guard.check_acr_values([Policy(scopes="a", name="scoped")]) == ()
        assert stepup_issuer.count() == 0
    finally:
        guard.close()


# -- the adapters' start-up ------------------------------------------------------------------------


async def ok(_request: Any) -> PlainTextResponse:
    return PlainTextResponse("ok")


def starlette_app(guard: Guard) -> Starlette:
    table = RouteTable([Route("GET", "/payouts/", typo_policy())])
    return Starlette(
        routes=[StarletteRoute("/payouts/", ok)],
        middleware=[Middleware(StepUpMiddleware, guard=guard, routes=table)],
    )


def test_R9470_14_asgi_lifespan_warns_and_the_service_starts(stepup_dev_idp: DevIdP) -> None:
    """R9470-14: the ASGI middleware checks its table at lifespan start-up; the app serves."""
    guard = guard_for(stepup_dev_idp.issuer)
    with pytest.warns(PolicyWarning, match="policy 'payouts'"):
        client = TestClient(starlette_app(guard))
        client.__enter__()
    try:
        assert client.get("/payouts/").status_code == 401
    finally:
        client.__exit__(None, None, None)


def test_R9470_14_asgi_lifespan_fails_start_up_when_strict(stepup_dev_idp: DevIdP) -> None:
    guard = guard_for(stepup_dev_idp.issuer, strict_acr=True)
    with (
        pytest.raises(ConfigurationError, match="policy 'payouts'"),
        TestClient(starlette_app(guard)),
    ):
        pass


def test_R9470_14_wsgi_middleware_checks_when_it_binds(stepup_issuer: FakeIssuer) -> None:
    """R9470-14: the WSGI middleware checks its table when it binds (the first request)."""

    @WerkzeugRequest.application  # type: ignore[arg-type]
    def app(_request: WerkzeugRequest) -> WerkzeugResponse:
        return WerkzeugResponse("ok")

    table = RouteTable([Route("GET", "/payouts/", typo_policy())])
    guard = guard_for(stepup_issuer.issuer)
    client = Client(StepUpWSGIMiddleware(app, guard=guard, routes=table))
    try:
        with pytest.warns(PolicyWarning, match="policy 'payouts'"):
            assert client.get("/payouts/").status_code == 401
        assert client.get("/payouts/").status_code == 401  # checked once, not per request
    finally:
        guard.close()


def test_R9470_14_gateway_lifespan(stepup_issuer: FakeIssuer) -> None:
    """R9470-14: the forward-auth gateway checks its table at lifespan start-up; strict fails."""
    table = RouteTable([Route("GET", "/payouts/", typo_policy())])

    async def lifespan(guard: Guard) -> list[dict[str, Any]]:
        gateway = ForwardAuthGateway(guard=guard, routes=table, protocol="nginx")
        inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return inbox.pop(0)

        async def send(message: Any) -> None:
            sent.append(dict(message))

        await gateway({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
        return sent

    with pytest.warns(PolicyWarning, match="policy 'payouts'"):
        sent = asyncio.run(lifespan(guard_for(stepup_issuer.issuer)))
    assert sent[0] == {"type": "lifespan.startup.complete"}
    sent = asyncio.run(lifespan(guard_for(stepup_issuer.issuer, strict_acr=True)))
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert "policy 'payouts'" in sent[0]["message"]


@pytest.mark.parametrize(("value", "strict"), [("1", True), ("0", False), ("", False)])
def test_R9470_14_strict_acr_setting(value: str, strict: bool) -> None:
    """``STEPUP_STRICT_ACR`` is read with the other switches (for ``Guard(strict_acr=...)``)."""
    env = {"STEPUP_ISSUER": "https://as.example", "STEPUP_AUDIENCE": AUDIENCE}
    settings = StepUpSettings.from_env({**env, "STEPUP_STRICT_ACR": value})
    assert settings.strict_acr is strict
    with pytest.raises(ConfigurationError, match="STEPUP_STRICT_ACR must be 1 or 0"):
        StepUpSettings.from_env({**env, "STEPUP_STRICT_ACR": "on"})


def test_R9470_14_mcp_middleware_lifespan(stepup_dev_idp: DevIdP) -> None:
    """R9470-14: the MCP middleware checks its tool table at lifespan start-up."""
    from stepup_mfa.adapters.mcp import McpPolicyTable, McpStepUpMiddleware

    app = Starlette(routes=[StarletteRoute("/mcp", ok, methods=["POST"])])
    table = McpPolicyTable(tools={"payout": typo_policy()})
    guard = guard_for(stepup_dev_idp.issuer)
    with (
        pytest.warns(PolicyWarning, match="policy 'payouts'"),
        TestClient(McpStepUpMiddleware(app, guard=guard, policies=table)),
    ):
        pass
    strict = guard_for(stepup_dev_idp.issuer, strict_acr=True)
    with (
        pytest.raises(ConfigurationError, match="policy 'payouts'"),
        TestClient(McpStepUpMiddleware(app, guard=strict, policies=table)),
    ):
        pass
