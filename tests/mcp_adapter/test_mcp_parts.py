"""The SDK verifier under the SDK's own auth middleware, the client auth flow, the tool table."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp_helpers import OneShotAsyncTransport, ServerThread

from stepup_mfa import (
    ANONYMOUS,
    AUTHENTICATED,
    ConfigurationError,
    Guard,
    Policy,
    PolicyWarning,
    ResourceMetadata,
    StepUpSettings,
)
from stepup_mfa.integrations.mcp import (
    McpPolicyTable,
    McpStepUpMiddleware,
    StepUpAuth,
    StepUpNeeded,
    StepUpTokenVerifier,
)
from stepup_mfa.testing import MFA_ACR, FakeIssuer

MFA = Policy(acr_values=MFA_ACR, max_age=60, name="mfa")

# -- the SDK's TokenVerifier ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sdk_auth_server(mcp_issuer: FakeIssuer, bank_settings: StepUpSettings) -> Iterator[str]:
    """An MCPServer whose own bearer middleware asks our verifier; a tool echoes the claims."""
    guard = Guard(bank_settings.verifier(), async_transport=OneShotAsyncTransport())
    server = MCPServer(
        "claims",
        token_verifier=StepUpTokenVerifier(guard, resource="https://api.example.com"),
        auth=AuthSettings(
            issuer_url=mcp_issuer.issuer,
            resource_server_url="https://api.example.com",
            validate_token_resource=True,
        ),
    )

    @server.tool()
    def whoami() -> dict[str, Any]:
        token = get_access_token()
        assert token is not None
        return {"claims": token.claims, "client_id": token.client_id, "resource": token.resource}

    # The SDK's own app, nothing of ours in front: its bearer middleware asks our verifier.
    with ServerThread(server.streamable_http_app()) as running:
        yield running.url


def _whoami(url: str, token: str) -> Any:
    async def main() -> Any:
        headers = {"Authorization": "Bearer " + token}
        async with httpx2.AsyncClient(headers=headers, timeout=10) as http:
            async with Client(streamable_http_client(url + "/mcp", http_client=http)) as client:
                return (await client.call_tool("whoami", {})).structured_content

    return anyio.run(main)


def test_MCP_10_the_verifier_hands_step_up_facts_to_tools(
    sdk_auth_server: str, mcp_issuer: FakeIssuer
) -> None:
    token = mcp_issuer.tokens.mfa_token(auth_age=30)
    answer = _whoami(sdk_auth_server, token)
    claims = answer["claims"]
    assert claims["acr"] == MFA_ACR and claims["amr"] == ["pwd", "otp"]
    assert claims["iss"] == mcp_issuer.issuer and claims["aud"] == ["https://api.example.com"]
    assert isinstance(claims["auth_time"], int | float)
    assert answer["client_id"] == "test-client"
    assert answer["resource"] == "https://api.example.com"


def test_MCP_10_the_sdk_middleware_refuses_what_our_verifier_refuses(
    sdk_auth_server: str, mcp_issuer: FakeIssuer
) -> None:
    forged = mcp_issuer.tokens.mfa_token()[:-4] + "AAAA"
    other = mcp_issuer.tokens.mfa_token(audience="https://other.example.com")
    for token in (forged, other):
        answer = httpx.post(
            sdk_auth_server + "/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Authorization": "Bearer " + token},
            timeout=10,
        )
        assert answer.status_code == 401


def test_MCP_10_the_verifier_is_checked_at_construction(bank_settings: StepUpSettings) -> None:
    with pytest.raises(ConfigurationError):
        StepUpTokenVerifier("not a guard")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        StepUpTokenVerifier(Guard(bank_settings.verifier()), policy=ANONYMOUS)


# -- the client auth flow ------------------------------------------------------------------------

STEP_UP = (
    'Bearer error="insufficient_user_authentication", '
    f'acr_values="{MFA_ACR}", max_age="60", resource_metadata="https://api.example.com/m"'
)


class Api:
    """A mock API: ``answers`` are (status, WWW-Authenticate) in order; requests recorded."""

    def __init__(self, *answers: tuple[int, str | None]) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[str | None, bytes]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        # The flow retries the same request object: record what was on the wire each time.
        self.requests.append((request.headers.get("authorization"), request.content))
        status, challenge = self.answers.pop(0) if self.answers else (200, None)
        headers = {"WWW-Authenticate": challenge} if challenge else {}
        return httpx.Response(status, headers=headers)


def test_MCP_11_a_step_up_is_answered_once_with_the_challenge(tmp_path: Path) -> None:
    api = Api((401, STEP_UP))
    asked: list[StepUpNeeded] = []

    def reauthenticate(needed: StepUpNeeded) -> str:
        asked.append(needed)
        return "fresh"

    auth = StepUpAuth("old", reauthenticate, scopes=["a"])
    with httpx.Client(transport=httpx.MockTransport(api), auth=auth) as client:
        assert client.post("https://api.example.com/x", content=b"body").status_code == 200
    assert api.requests == [("Bearer old", b"body"), ("Bearer fresh", b"body")]
    (needed,) = asked
    assert needed.acr_values == (MFA_ACR,) and needed.max_age == 60 and needed.scope == "a"
    assert needed.resource_metadata == "https://api.example.com/m"


def test_MCP_11_the_retry_is_bounded_never_a_loop() -> None:
    api = Api((401, STEP_UP), (401, STEP_UP), (401, STEP_UP))
    calls = 0

    def reauthenticate(needed: StepUpNeeded) -> str:
        nonlocal calls
        calls += 1
        return f"token-{calls}"

    with httpx.Client(
        transport=httpx.MockTransport(api), auth=StepUpAuth("t", reauthenticate)
    ) as client:
        answer = client.get("https://api.example.com/x")
    assert answer.status_code == 401  # the second refusal is the caller's to see
    assert calls == 1 and len(api.requests) == 2


def test_MCP_11_a_scope_step_up_asks_for_the_union_async() -> None:
    api = Api((403, 'Bearer error="insufficient_scope", scope="payees:read write"'))
    asked: list[StepUpNeeded] = []

    async def reauthenticate(needed: StepUpNeeded) -> str:
        asked.append(needed)
        return "wider"

    auth = StepUpAuth("t", reauthenticate, scopes=["read", "write"])

    async def main() -> int:
        async with httpx.AsyncClient(transport=httpx.MockTransport(api), auth=auth) as client:
            return (await client.get("https://api.example.com/x")).status_code

    assert anyio.run(main) == 200
    assert asked[0].scopes == {"read", "write", "payees:read"}
    assert auth.scopes == {"read", "write", "payees:read"} and auth.token == "wider"


@pytest.mark.parametrize(
    ("status", "challenge"),
    [
        (401, 'Bearer error="invalid_token"'),
        (401, 'Bearer realm="api"'),
        (403, STEP_UP),  # a step-up error on a 403 is not RFC 9470's answer
        (401, 'Bearer error="insufficient_user_authentication'),  # malformed
        (500, None),
    ],
)
def test_MCP_11_other_answers_are_returned_untouched(status: int, challenge: str | None) -> None:
    api = Api((status, challenge))

    def reauthenticate(needed: StepUpNeeded) -> str:  # pragma: no cover - must not run
        raise AssertionError(needed)

    with httpx.Client(
        transport=httpx.MockTransport(api), auth=StepUpAuth("t", reauthenticate)
    ) as client:
        assert client.get("https://api.example.com/x").status_code == status
    assert len(api.requests) == 1


def test_MCP_11_a_coroutine_callback_needs_an_async_client() -> None:
    async def reauthenticate(needed: StepUpNeeded) -> str:  # pragma: no cover - never awaited
        return "x"

    api = Api((401, STEP_UP))
    with (
        httpx.Client(
            transport=httpx.MockTransport(api), auth=StepUpAuth("t", reauthenticate)
        ) as client,
        pytest.raises(ConfigurationError, match="async client"),
    ):
        client.get("https://api.example.com/x")


# -- the tool table ------------------------------------------------------------------------------


def test_MCP_12_the_table_loads_from_toml_with_named_policies(tmp_path: Path) -> None:
    path = tmp_path / "tools.toml"
    path.write_text(
        'default = "authenticated"\n'
        '[policies.payees]\nscopes = ["payees:read"]\n'
        '[tools]\nlist_payees = "payees"\ntransfer_money = "mfa"\n'
        '[resources]\n"bank://statements" = "mfa"\n'
        '[methods]\n"tools/list" = "authenticated"\n'
    )
    table = McpPolicyTable.from_toml(path, policies={"mfa": MFA})
    assert table.policy_for("tools/call", "transfer_money") == MFA
    assert table.policy_for("tools/call", "get_balance") == AUTHENTICATED
    assert table.policy_for("resources/read", "bank://statements") == MFA
    assert table.policy_for("tools/call", "list_payees").scopes == {"payees:read"}
    assert table.policy_for(None) == AUTHENTICATED  # a response to the server's request
    assert table.scopes == {"payees:read"}


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"tool": {}}, "unknown top-level keys"),
        ({"tools": {"x": "nope"}}, "unknown policy 'nope'"),
        ({"tools": ["x"]}, "must be a table"),
        ({"policies": {"p": {"max_age": "soon"}}}, r"\[policies.p\]"),
        ({"methods": {"bad method": "authenticated"}}, "not a JSON-RPC method"),
        ({"allow_anonymous_default": "yes"}, "true or false"),
    ],
)
def test_MCP_12_a_bad_table_fails_at_load(data: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        McpPolicyTable.from_dict(data)


def test_MCP_12_an_anonymous_default_warns_unless_meant() -> None:
    with pytest.warns(PolicyWarning, match="anonymous"):
        McpPolicyTable(default=ANONYMOUS)
    with pytest.warns(PolicyWarning, match="anonymous"):
        McpPolicyTable.from_dict({"default": "anonymous"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        McpPolicyTable.from_dict({"default": "anonymous", "allow_anonymous_default": True})


def test_MCP_9_names_are_checked_against_what_the_server_offers() -> None:
    table = McpPolicyTable(tools={"transfer_money": MFA}, prompts={"p": MFA})
    table.check_names(tools=["transfer_money", "get_balance"])  # prompts not known: unchecked
    with pytest.raises(ConfigurationError, match="'p'"):
        table.check_names(prompts=[])


def test_MCP_8_R9728_11_the_guard_must_name_the_served_metadata(
    bank_settings: StepUpSettings,
) -> None:
    metadata = ResourceMetadata("https://api.example.com/mcp")

    async def app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover
        return None

    with pytest.raises(ConfigurationError, match="resource_metadata="):
        McpStepUpMiddleware(
            app, guard=Guard(bank_settings.verifier()), policies=McpPolicyTable(), metadata=metadata
        )
    guard = Guard(bank_settings.verifier(), resource_metadata=metadata.url)
    assert metadata.url == "https://api.example.com/.well-known/oauth-protected-resource/mcp"
    McpStepUpMiddleware(app, guard=guard, policies=McpPolicyTable(), metadata=metadata)
    for bad in ({"max_body": 0}, {"path": "mcp"}, {"policies": object()}):
        arguments: dict[str, Any] = {"guard": guard, "policies": McpPolicyTable(), **bad}
        with pytest.raises(ConfigurationError):
            McpStepUpMiddleware(app, **arguments)
