"""FastMCP's verifier interface, under FastMCP's own auth (uvicorn on 127.0.0.1, SDK client)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_helpers import OneShotAsyncTransport, ServerThread

from stepup_mfa import ANONYMOUS, ConfigurationError, Guard, JWTVerifier, StepUpSettings
from stepup_mfa.testing import MFA_ACR, FakeIssuer

fastmcp = pytest.importorskip("fastmcp")

from fastmcp.server.auth import TokenVerificationError  # noqa: E402
from fastmcp.server.dependencies import get_access_token  # noqa: E402

from stepup_mfa.integrations.fastmcp import FastMCPStepUpVerifier  # noqa: E402


@pytest.fixture(scope="module")
def fastmcp_server(bank_settings: StepUpSettings) -> Iterator[str]:
    guard = Guard(bank_settings.verifier(), async_transport=OneShotAsyncTransport())
    server = fastmcp.FastMCP(
        "claims",
        auth=FastMCPStepUpVerifier(
            guard, resource="https://api.example.com", base_url="http://127.0.0.1"
        ),
    )

    @server.tool
    def whoami() -> dict[str, Any]:
        token = get_access_token()
        assert token is not None
        return {"claims": token.claims, "scopes": token.scopes}

    with ServerThread(server.http_app(path="/mcp")) as running:
        yield running.url


def _whoami(url: str, token: str) -> Any:
    async def main() -> Any:
        headers = {"Authorization": "Bearer " + token}
        async with httpx2.AsyncClient(headers=headers, timeout=10) as http:
            async with Client(streamable_http_client(url + "/mcp", http_client=http)) as client:
                return (await client.call_tool("whoami", {})).structured_content

    return anyio.run(main)


def test_MCP_10_fastmcp_tools_see_the_step_up_facts(
    fastmcp_server: str, mcp_issuer: FakeIssuer
) -> None:
    token = mcp_issuer.tokens.mfa_token(auth_age=10, scope="payees:read")
    answer = _whoami(fastmcp_server, token)
    claims = answer["claims"]
    assert claims["acr"] == MFA_ACR and claims["amr"] == ["pwd", "otp"]
    assert claims["iss"] == mcp_issuer.issuer and claims["aud"] == ["https://api.example.com"]
    assert claims["sub"] == "user-1" and isinstance(claims["auth_time"], int | float)
    assert answer["scopes"] == ["payees:read"]


def test_MCP_10_fastmcp_refuses_what_our_verifier_refuses(
    fastmcp_server: str, mcp_issuer: FakeIssuer
) -> None:
    forged = mcp_issuer.tokens.mfa_token()[:-4] + "AAAA"
    with pytest.raises(Exception):  # noqa: B017 - the SDK client's error for a 401
        _whoami(fastmcp_server, forged)


def test_MCP_10_an_unreachable_issuer_is_a_verification_error_not_an_invalid_token(
    mcp_issuer: FakeIssuer,
) -> None:
    # Nothing listens on port 9 of loopback: discovery fails, and the Guard fails closed (503).
    verifier = JWTVerifier(issuer="http://127.0.0.1:9", audience="https://api.example.com")
    guard = Guard(verifier, async_transport=OneShotAsyncTransport())
    with pytest.raises(TokenVerificationError):
        token = mcp_issuer.tokens.mfa_token(issuer="http://127.0.0.1:9")
        anyio.run(FastMCPStepUpVerifier(guard).verify_token, token)


def test_MCP_10_fastmcp_verifier_checks_its_arguments(bank_settings: StepUpSettings) -> None:
    with pytest.raises(ConfigurationError):
        FastMCPStepUpVerifier("guard")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        FastMCPStepUpVerifier(Guard(bank_settings.verifier()), policy=ANONYMOUS)


def test_MCP_9_a_fastmcp_server_has_its_names_checked_at_start_up(
    bank_settings: StepUpSettings,
) -> None:
    from starlette.testclient import TestClient

    from stepup_mfa import Policy
    from stepup_mfa.integrations.mcp import McpPolicyTable, McpStepUpMiddleware

    server = fastmcp.FastMCP("bank")

    @server.tool
    def transfer_money() -> str:
        return "sent"

    guard = Guard(bank_settings.verifier())
    good = McpPolicyTable(tools={"transfer_money": Policy(scopes="pay")})
    app = McpStepUpMiddleware(
        server.http_app(path="/mcp"), guard=guard, policies=good, server=server
    )
    with TestClient(app) as client:  # starts: the name and the path fit
        assert client.post("/mcp", content=b"{}").status_code == 401
    typo = McpPolicyTable(tools={"transfer_mony": Policy(scopes="pay")})
    app = McpStepUpMiddleware(
        server.http_app(path="/mcp"), guard=guard, policies=typo, server=server
    )
    with pytest.raises(ConfigurationError, match="transfer_mony"), TestClient(app):
        pass
