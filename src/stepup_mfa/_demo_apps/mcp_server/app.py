"""A small banking MCP server (Streamable HTTP at /mcp) with per-tool step-up.

``get_balance`` needs a valid token, ``list_payees`` the scope ``payees:read``, and
``transfer_money`` a second factor within ``STEPUP_MFA_MAX_AGE`` seconds (default 60). The table
lives in ``policies.toml`` beside this file; the middleware in front of the SDK's app judges each
JSON-RPC call before the SDK dispatches it, and answers refusals with RFC 9470 / RFC 6750
challenges that name the RFC 9728 metadata it serves.

Run it with ``python examples/mcp_server/app.py``; it reads the STEPUP_* variables (see README)
and listens on 127.0.0.1:$PORT (default 8000).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import uvicorn
from mcp.server.mcpserver import Context, MCPServer

from stepup_mfa import Guard, ResourceMetadata, StepUpSettings
from stepup_mfa.integrations.mcp import McpPolicyTable, McpStepUpMiddleware, principal_of

POLICY_FILE = Path(__file__).with_name("policies.toml")

# Development defaults, visible on purpose: with a STEPUP_* variable unset, the server trusts the
# development authorization server (``stepup-mfa dev-idp``) on its default port. A deployment sets
# STEPUP_ISSUER and STEPUP_AUDIENCE (ideally the server's own URL, https://bank.example.com/mcp:
# the RFC 9728 document is then served at /.well-known/oauth-protected-resource/mcp).
DEVELOPMENT_DEFAULTS = {
    "STEPUP_ISSUER": "http://127.0.0.1:9400",
    "STEPUP_AUDIENCE": "https://api.example.com",
    "STEPUP_MFA_ACR": "urn:stepup-mfa:acr:mfa",
}

ACCOUNTS: dict[str, int] = {}
PAYEES = ["alice", "bob"]


def _who(ctx: Context) -> str:
    principal = principal_of(ctx)  # who the middleware admitted this call for
    return (principal.subject if principal is not None else None) or "unknown"


def create_server() -> MCPServer:
    server = MCPServer("Example bank")

    @server.tool()
    def get_balance(ctx: Context) -> dict[str, Any]:
        """The balance of the caller's account, in cents."""
        user = _who(ctx)
        return {"user": user, "balance_cents": ACCOUNTS.setdefault(user, 100_000)}

    @server.tool()
    def list_payees() -> list[str]:
        """The payees money can be sent to."""
        return list(PAYEES)

    @server.tool()
    def transfer_money(payee: str, amount_cents: int, ctx: Context) -> dict[str, Any]:
        """Send money to a payee (needs a fresh second factor)."""
        if payee not in PAYEES or amount_cents <= 0:
            raise ValueError("unknown payee or bad amount")
        user = _who(ctx)
        ACCOUNTS[user] = ACCOUNTS.setdefault(user, 100_000) - amount_cents
        return {"user": user, "payee": payee, "sent_cents": amount_cents}

    return server


def create_app(settings: StepUpSettings | None = None, *, host: str = "127.0.0.1") -> Any:
    settings = settings or StepUpSettings.from_env(defaults=DEVELOPMENT_DEFAULTS)
    policies = McpPolicyTable.from_toml(
        POLICY_FILE, policies={"mfa-recent": settings.mfa_policy(name="mfa-recent")}
    )
    metadata = ResourceMetadata(
        settings.audience,
        authorization_servers=[settings.issuer],
        scopes_supported=sorted(policies.scopes),
        resource_name="Example bank (MCP)",
        # The development issuer is plain http on loopback; anything else must be https.
        allow_insecure_http=settings.allow_insecure_http
        or settings.issuer.startswith("http://127.0.0.1:"),
    )
    guard = Guard(
        settings.verifier(),
        realm="bank",
        resource_metadata=metadata.url,
        strict_acr=settings.strict_acr,
    )
    server = create_server()
    return McpStepUpMiddleware(
        server.streamable_http_app(host=host),
        guard=guard,
        policies=policies,
        metadata=metadata,
        server=server,
    )


if __name__ == "__main__":
    uvicorn.run(create_app(), host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
