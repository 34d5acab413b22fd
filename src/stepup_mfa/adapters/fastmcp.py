"""FastMCP's verifier interface, backed by a Guard: ``FastMCP(auth=FastMCPStepUpVerifier(guard))``.

FastMCP (the ``fastmcp`` package, 4.x) has its own ``TokenVerifier`` base class and its own
``AccessToken`` (``claims`` always a dict). :class:`FastMCPStepUpVerifier` is that class with our
verifiers behind it (JWKS or introspection, their caches, single flight, fail-closed checks); like
:class:`~stepup_mfa.integrations.mcp.StepUpTokenVerifier` it puts ``iss``, ``aud``, ``sub``,
``acr``, ``amr`` and ``auth_time`` into the claims, so FastMCP's ``get_access_token()`` shows how
the user logged in. As FastMCP asks, an authorization server that cannot be reached raises
``TokenVerificationError`` instead of calling the token invalid.

The verifier slot never sees which tool is called: for per-tool step-up, put
:class:`~stepup_mfa.integrations.mcp.McpStepUpMiddleware` in front of FastMCP's ``http_app()``.
"""

from __future__ import annotations

from fastmcp.server.auth import AccessToken, TokenVerificationError, TokenVerifier
from pydantic import AnyHttpUrl

from .._core.policy import AUTHENTICATED, Policy
from .._guard import Guard
from .mcp import access_token, check_token, checked_verifier_arguments

__all__ = ["FastMCPStepUpVerifier"]


class FastMCPStepUpVerifier(TokenVerifier):
    """A FastMCP ``TokenVerifier`` that asks ``guard`` whether a token meets ``policy``.

    ``resource`` picks the ``AccessToken.resource`` among the token's audiences (RFC 8707);
    ``base_url``, ``required_scopes`` and ``resource_base_url`` are FastMCP's own.
    """

    def __init__(
        self,
        guard: Guard,
        *,
        policy: Policy = AUTHENTICATED,
        resource: str | None = None,
        base_url: AnyHttpUrl | str | None = None,
        required_scopes: list[str] | None = None,
        resource_base_url: AnyHttpUrl | str | None = None,
    ) -> None:
        checked_verifier_arguments(guard, policy, "FastMCPStepUpVerifier")
        super().__init__(
            base_url=base_url, required_scopes=required_scopes, resource_base_url=resource_base_url
        )
        self.guard = guard
        self.policy = policy
        self.resource = resource

    async def verify_token(self, token: str) -> AccessToken | None:
        """FastMCP's hook: ``token``'s claims as an ``AccessToken``, or ``None`` when it is
        refused; raises ``TokenVerificationError`` when the authorization server cannot be
        reached."""
        decision = await check_token(self.guard, self.policy, token)
        if not decision.allowed:
            if decision.status == 503:  # not the token's fault: FastMCP's convention
                raise TokenVerificationError("the authorization server cannot be reached")
            return None
        principal = decision.principal
        if principal is None:
            return None
        sdk_token = access_token(token, principal, self.resource)
        return AccessToken(**sdk_token.model_dump())
