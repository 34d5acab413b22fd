"""FastAPI adapter: a dependency that yields the principal and documents the bearer scheme.

::

    stepup = StepUp(guard)
    stepup.install(app)

    @app.get("/cats/")
    async def cats(principal: Principal = Depends(stepup.dependency(MFA_60S))) -> dict[str, str]:
        ...

The dependency declares ``HTTPBearer(auto_error=False)`` so the OpenAPI document shows the bearer
scheme and Swagger UI offers an "Authorize" button; the Guard, not FastAPI, decides. A refusal is
raised as :class:`~stepup_mfa.integrations.starlette.StepUpDenied`; the handler that
:meth:`StepUp.install` registers sends ``guard.denial(...)``, the same response as every other
adapter (without it, FastAPI's default handler still sends the status and the challenge).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Security
from fastapi.exceptions import WebSocketException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import Request
from starlette.websockets import WebSocket

from .._core.policy import AUTHENTICATED, Policy
from .._core.principal import Principal
from .._guard import Guard
from ..asgi import WS_POLICY_VIOLATION
from .starlette import StepUpDenied, check_connection, install_handler, principal_of

__all__ = ["StepUp", "StepUpDenied", "principal_of"]


class StepUp:
    """Builds FastAPI dependencies for one :class:`Guard`.

    ``scheme_name`` and ``description`` name the security scheme in the OpenAPI document.
    """

    def __init__(
        self,
        guard: Guard,
        *,
        scheme_name: str = "bearer",
        description: str | None = "OAuth 2.0 access token (RFC 6750)",
    ) -> None:
        self.guard = guard
        self.scheme = HTTPBearer(auto_error=False, scheme_name=scheme_name, description=description)

    def install(self, app: Any) -> None:
        """Register the exception handler that renders refusals as the Guard shapes them."""
        install_handler(app)

    def dependency(
        self, policy: Policy = AUTHENTICATED
    ) -> Callable[..., Awaitable[Principal | None]]:
        """A dependency for HTTP routes: the principal if ``policy`` is met, else a refusal.

        The principal is ``None`` only on an anonymous policy with no token checked.
        """
        guard = self.guard

        async def stepup_principal(
            request: Request,
            _credentials: HTTPAuthorizationCredentials | None = Security(self.scheme),  # noqa: B008
        ) -> Principal | None:
            decision = await check_connection(guard, request, policy)
            if not decision.allowed:
                raise StepUpDenied(decision, guard.denial(decision, request.headers.get("accept")))
            return decision.principal

        return stepup_principal

    def websocket_dependency(self, policy: Policy) -> Callable[..., Awaitable[Principal | None]]:
        """The websocket form of :meth:`dependency`: a refusal closes with 1008 (RFC 6455)."""
        guard = self.guard

        async def stepup_ws_principal(websocket: WebSocket) -> Principal | None:
            decision = await check_connection(guard, websocket, policy)
            if not decision.allowed:
                error = decision.error
                raise WebSocketException(
                    WS_POLICY_VIOLATION, error.code if error is not None else None
                )
            return decision.principal

        return stepup_ws_principal
