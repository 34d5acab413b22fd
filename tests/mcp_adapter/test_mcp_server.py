"""The example bank server, driven over real HTTP (uvicorn on 127.0.0.1) by the official MCP SDK
client and, for what the SDK never sends (lying headers, batches, huge bodies), by httpx."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_helpers import ServerThread

from stepup_mfa import Guard, StepUpSettings, parse_www_authenticate
from stepup_mfa.integrations.mcp import McpStepUpAuth, StepUpNeeded
from stepup_mfa.testing import MFA_ACR, FakeIssuer

Seen = list[tuple[int, str | None]]
METADATA_URL = "https://api.example.com/.well-known/oauth-protected-resource"


@asynccontextmanager
async def sdk_client(
    server: ServerThread,
    token: str | None = None,
    auth: httpx2.Auth | None = None,
    seen: Seen | None = None,
) -> AsyncIterator[tuple[Client, Seen]]:
    """The SDK's own client over Streamable HTTP, every HTTP answer recorded in ``seen``."""
    seen = [] if seen is None else seen

    async def record(response: httpx2.Response) -> None:
        seen.append((response.status_code, response.headers.get("www-authenticate")))

    headers = {"Authorization": "Bearer " + token} if token else {}
    async with httpx2.AsyncClient(
        headers=headers, auth=auth, event_hooks={"response": [record]}, timeout=10
    ) as http:
        async with Client(streamable_http_client(server.url + "/mcp", http_client=http)) as client:
            yield client, seen


def call(server: ServerThread, token: str | None, tool: str, **arguments: Any) -> tuple[Any, Seen]:
    """Call ``tool`` with the SDK client; the result (or the error raised) and the answers."""
    outcome: list[Any] = []
    seen_out: Seen = []

    async def main() -> None:
        try:
            async with sdk_client(server, token, seen=seen_out) as (client, _):
                outcome.append(await client.call_tool(tool, arguments))
        except Exception as error:  # the SDK surfaces an HTTP refusal as an error
            outcome.append(error)

    anyio.run(main)
    return outcome[0], seen_out


def challenge(value: str | None) -> dict[str, str]:
    assert value is not None
    (parsed,) = parse_www_authenticate(value)
    assert parsed.scheme == "Bearer"
    return dict(parsed.params)


def refusal(seen: Seen) -> tuple[int, dict[str, str]]:
    status, value = seen[-1]
    return status, challenge(value)


def structured(result: Any) -> Any:
    assert not isinstance(result, BaseException), result
    assert result.is_error is False, result
    return result.structured_content


def test_MCP_1_get_balance_with_a_password_login(
    bank: ServerThread, mcp_issuer: FakeIssuer
) -> None:
    result, _ = call(bank, mcp_issuer.tokens.password_token(), "get_balance")
    assert structured(result)["user"] == "user-1"


def test_MCP_1_R9728_11_no_token_is_401_naming_the_metadata(bank: ServerThread) -> None:
    result, seen = call(bank, None, "get_balance")
    assert isinstance(result, BaseException)
    status, params = refusal(seen)
    assert status == 401
    assert params == {"realm": "bank", "resource_metadata": METADATA_URL}


def test_MCP_1_invalid_token_is_401_invalid_token(
    bank: ServerThread, mcp_issuer: FakeIssuer
) -> None:
    expired = mcp_issuer.tokens.password_token(expires_in=-600, issued_at=None)
    result, seen = call(bank, expired, "get_balance")
    assert isinstance(result, BaseException)
    status, params = refusal(seen)
    assert status == 401 and params["error"] == "invalid_token"
    assert params["resource_metadata"] == METADATA_URL


def test_MCP_2_R9728_11_transfer_money_needs_fresh_mfa(
    bank: ServerThread, mcp_issuer: FakeIssuer
) -> None:
    for token in (
        mcp_issuer.tokens.password_token(),
        mcp_issuer.tokens.mfa_token(auth_age=120),  # MFA, but outside the 60 s window
    ):
        result, seen = call(bank, token, "transfer_money", payee="alice", amount_cents=5)
        assert isinstance(result, BaseException)
        status, params = refusal(seen)
        assert status == 401
        assert params["error"] == "insufficient_user_authentication"
        assert params["acr_values"] == MFA_ACR and params["max_age"] == "60"
        assert params["resource_metadata"] == METADATA_URL
    result, _ = call(
        bank, mcp_issuer.tokens.mfa_token(auth_age=5), "transfer_money", payee="bob", amount_cents=5
    )
    assert structured(result)["sent_cents"] == 5


def test_MCP_3_list_payees_needs_its_scope(bank: ServerThread, mcp_issuer: FakeIssuer) -> None:
    result, seen = call(bank, mcp_issuer.tokens.password_token(scope="other"), "list_payees")
    assert isinstance(result, BaseException)
    status, params = refusal(seen)
    assert status == 403
    assert params["error"] == "insufficient_scope" and params["scope"] == "payees:read"
    result, _ = call(bank, mcp_issuer.tokens.password_token(scope="payees:read"), "list_payees")
    assert structured(result) == {"result": ["alice", "bob"]}


def test_MCP_7_a_refusal_keeps_the_session_and_the_auth_flow_steps_up_once(
    bank: ServerThread, mcp_issuer: FakeIssuer
) -> None:
    asked: list[StepUpNeeded] = []

    async def reauthenticate(needed: StepUpNeeded) -> str:
        asked.append(needed)
        return mcp_issuer.tokens.mfa_token()

    auth = McpStepUpAuth(mcp_issuer.tokens.password_token(), reauthenticate)

    async def main() -> tuple[Any, Any, Seen]:
        async with sdk_client(bank, auth=auth) as (client, seen):
            before = await client.call_tool("get_balance", {})
            moved = await client.call_tool("transfer_money", {"payee": "alice", "amount_cents": 7})
            return before, moved, list(seen)

    before, moved, seen = anyio.run(main)
    assert structured(before)["user"] == "user-1"
    assert structured(moved)["sent_cents"] == 7
    assert len(asked) == 1 and auth.reauthentications == 1
    assert asked[0].acr_values == (MFA_ACR,) and asked[0].max_age == 60
    assert asked[0].resource_metadata == METADATA_URL
    # The 401 went to the auth flow, which retried the same request once: the SDK saw a 200,
    # and the session carried on (no new initialize).
    statuses = [status for status, _ in seen]
    assert statuses[-2:] == [401, 200] and statuses.count(401) == 1


def _raw_post(
    server: ServerThread, body: bytes | Any, token: str, **headers: str
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(
        server.url + "/mcp",
        content=content,
        headers={
            "Authorization": "Bearer " + token,
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            **headers,
        },
        timeout=10,
    )


def _tool_call(name: str, id_: int = 1) -> dict[str, Any]:
    arguments = {"payee": "alice", "amount_cents": 1} if name == "transfer_money" else {}
    return {
        "jsonrpc": "2.0",
        "id": id_,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Mcp-Method": "tools/call", "Mcp-Name": "get_balance"}, id="name-lies"),
        pytest.param({"Mcp-Method": "tools/list"}, id="method-lies"),
        pytest.param({"Mcp-Name": "=?base64?Z2V0X2JhbGFuY2U=?="}, id="encoded-name-lies"),
        pytest.param({"Mcp-Name": "=?base64?not base64?="}, id="malformed-encoding"),
    ],
)
def test_MCP_4_a_header_that_disagrees_with_the_body_is_400(
    bank: ServerThread, mcp_issuer: FakeIssuer, headers: dict[str, str]
) -> None:
    # Even with a token that would pass transfer_money: no policy is looked up at all.
    answer = _raw_post(bank, _tool_call("transfer_money"), mcp_issuer.tokens.mfa_token(), **headers)
    assert answer.status_code == 400
    assert challenge(answer.headers["www-authenticate"])["error"] == "invalid_request"


def test_MCP_4_an_encoded_name_that_agrees_is_judged_by_its_tool(
    bank: ServerThread, mcp_issuer: FakeIssuer
) -> None:
    encoded = "=?base64?" + base64.b64encode(b"transfer_money").decode() + "?="
    answer = _raw_post(
        bank,
        _tool_call("transfer_money"),
        mcp_issuer.tokens.password_token(),
        **{"Mcp-Method": "tools/call", "Mcp-Name": encoded},
    )
    assert answer.status_code == 401
    assert challenge(answer.headers["www-authenticate"])["max_age"] == "60"


def test_MCP_5_a_batch_is_judged_by_its_strictest_member(
    bank: ServerThread, mcp_issuer: FakeIssuer
) -> None:
    batch = [_tool_call("get_balance", 1), _tool_call("transfer_money", 2)]
    answer = _raw_post(bank, batch, mcp_issuer.tokens.password_token(scope="payees:read"))
    assert answer.status_code == 401
    params = challenge(answer.headers["www-authenticate"])
    assert params["error"] == "insufficient_user_authentication"
    assert params["acr_values"] == MFA_ACR
    both = [_tool_call("list_payees", 1), _tool_call("transfer_money", 2)]
    answer = _raw_post(bank, both, mcp_issuer.tokens.mfa_token())  # fresh MFA, no scope
    assert answer.status_code == 403
    assert challenge(answer.headers["www-authenticate"])["scope"] == "payees:read"


def test_MCP_6_a_body_over_the_bound_is_413(bank: ServerThread, mcp_issuer: FakeIssuer) -> None:
    call_ = _tool_call("get_balance")
    call_["params"]["arguments"] = {"padding": "x" * (4 << 20)}  # past the SDK's 4 MiB too
    answer = _raw_post(bank, call_, mcp_issuer.tokens.password_token())
    assert answer.status_code == 413


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[]", b"[1]", b'{"method": 3}', b'{"method":"tools/call","params":{}}'],
    ids=["not-json", "empty-batch", "not-an-object", "method-not-a-string", "no-name"],
)
def test_MCP_6_a_body_that_names_nothing_to_judge_is_400(
    bank: ServerThread, mcp_issuer: FakeIssuer, body: bytes
) -> None:
    answer = _raw_post(bank, body, mcp_issuer.tokens.mfa_token(scope="payees:read"))
    assert answer.status_code == 400


def test_MCP_6_duplicate_members_cannot_pick_a_weaker_tool(
    bank: ServerThread, mcp_issuer: FakeIssuer
) -> None:
    body = (
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call",'
        b'"params":{"name":"transfer_money","name":"get_balance","arguments":{}}}'
    )
    assert _raw_post(bank, body, mcp_issuer.tokens.password_token()).status_code == 400


def test_MCP_8_R9728_4_R9728_8_the_server_serves_its_metadata(bank: ServerThread) -> None:
    answer = httpx.get(bank.url + "/.well-known/oauth-protected-resource", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    doc = answer.json()
    assert doc["resource"] == "https://api.example.com"
    assert METADATA_URL.endswith("/.well-known/oauth-protected-resource")
    assert doc["scopes_supported"] == ["payees:read"]
    assert doc["resource_name"] == "Example bank (MCP)"
    assert doc["bearer_methods_supported"] == ["header"]
    assert len(doc["authorization_servers"]) == 1


def test_MCP_9_unknown_tool_names_stop_the_server_at_start_up(
    bank_example: Any, bank_settings: StepUpSettings, tmp_path: Any
) -> None:
    from stepup_mfa import ConfigurationError
    from stepup_mfa.integrations.mcp import McpPolicyTable, McpStepUpMiddleware

    server = bank_example.create_server()
    table = McpPolicyTable(tools={"transfer_mony": bank_settings.mfa_policy()})
    with pytest.raises(ConfigurationError, match="transfer_mony"):
        anyio.run(table.check_server, server)
    guard = Guard(bank_settings.verifier())
    app = McpStepUpMiddleware(
        server.streamable_http_app(), guard=guard, policies=table, server=server
    )
    from starlette.testclient import TestClient

    with pytest.raises(ConfigurationError, match="does not offer"), TestClient(app):
        pass
    wrong_path = McpStepUpMiddleware(
        server.streamable_http_app(), guard=guard, policies=McpPolicyTable(), path="/rpc"
    )
    with pytest.raises(ConfigurationError, match="no route at path='/rpc'"), TestClient(wrong_path):
        pass
