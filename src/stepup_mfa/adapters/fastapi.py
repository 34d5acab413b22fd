"""FastAPI adapter: a dependency that yields the principal and documents the bearer scheme.

::

    stepup = StepUp(guard)
    stepup.install(app)

    @app.get("/cats/")
    async def cats(principal: Principal = Depends(stepup.dependency(MFA_60S))) -> dict[str, str]:
        ...

    @app.get("/dogs/")
    async def dogs(principal: Principal = Depends(stepup)) -> ...:      # AUTHENTICATED

    @app.get("/admin/")
    async def admin(principal: Principal = Security(stepup.dependency(MFA_60S), scopes=["admin"])):

The dependency declares ``HTTPBearer(auto_error=False)`` so the OpenAPI document shows the bearer
scheme and Swagger UI offers an "Authorize" button; the Guard, not FastAPI, decides. Scopes given
with ``Security(..., scopes=[...])`` (FastAPI's ``SecurityScopes``, the scopes of every enclosing
``Security`` included) are added to the policy's: a shortfall is ``403 insufficient_scope`` naming
them all. A refusal is raised as :class:`~stepup_mfa.integrations.starlette.StepUpDenied`; the
handler that :meth:`StepUp.install` registers sends ``guard.denial(...)``, the same response as
every other adapter, and ``install`` documents the 401 and 403 answers in OpenAPI.

Misuse fails when the route is declared (architecture rule 11): ``Depends(stepup.dependency)``
without the call would hand FastAPI the factory itself, so it raises
:class:`~stepup_mfa.ConfigurationError` at ``@app.get``; ``Depends(stepup)`` is the
call-free spelling of ``AUTHENTICATED``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Security
from fastapi.exceptions import WebSocketException
from fastapi.security import HTTPBearer, SecurityScopes
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

try:
    from fastapi.routing import iter_route_contexts
except ImportError:  # pragma: no cover - FastAPI before included-router contexts
    iter_route_contexts = None  # type: ignore[assignment]

from .._core.errors import ConfigurationError
from .._core.policy import AUTHENTICATED, Policy
from .._core.principal import Principal
from .._guard import Guard
from .asgi import WS_POLICY_VIOLATION
from .starlette import StepUpDenied, check_connection, install_handler, principal_of

__all__ = ["StepUp", "StepUpDenied", "principal_of"]

#: Marks the dependencies this adapter builds, so ``install`` finds the routes they guard.
_POLICY_ATTRIBUTE = "__stepup_policy__"
Dependency = Callable[..., Awaitable[Principal | None]]
CALL_LESS = (
    "Depends(stepup.dependency) is missing its call: FastAPI would call the factory itself "
    "and the route would not be protected. Write Depends(stepup.dependency(policy)), or "
    "Depends(stepup) for any valid token"
)


class PolicyDependencies:
    """``stepup.dependency``: call it with a :class:`Policy` to get that policy's dependency.

    Handed to ``Depends`` uncalled, it refuses to be inspected, so FastAPI fails when the route
    is declared instead of serving it unprotected (BIND-6).
    """

    __slots__ = ("_build", "_default")

    def __init__(self, build: Callable[[Policy], Dependency], default: Policy | None) -> None:
        self._build = build
        self._default = default

    def __call__(self, policy: Policy | None = None) -> Dependency:
        """The dependency: the principal if ``policy`` is met, else a refusal."""
        chosen = self._default if policy is None else policy
        if not isinstance(chosen, Policy):
            raise ConfigurationError(f"{CALL_LESS} (got {type(chosen).__name__} as the policy)")
        return self._build(chosen)

    @property
    def __signature__(self) -> inspect.Signature:
        raise ConfigurationError(CALL_LESS)


class _BearerScheme(HTTPBearer):
    """The bearer scheme, for the OpenAPI document only: it reads nothing (the Guard does), so
    the same dependency serves HTTP routes and websockets."""

    async def __call__(self, connection: HTTPConnection) -> None:
        return None


class StepUp:
    """Builds FastAPI dependencies for one :class:`Guard`; is itself the AUTHENTICATED one.

    ``guard`` decides every request.

    ``scheme_name`` and ``description`` name the security scheme in the OpenAPI document.
    ``dependency(policy)`` and ``websocket_dependency(policy)`` are the same dependency (it works
    on HTTP routes and websockets alike); the second name stays for older code.
    """

    def __init__(
        self,
        guard: Guard,
        *,
        scheme_name: str = "bearer",
        description: str | None = "OAuth 2.0 access token (RFC 6750)",
    ) -> None:
        if not isinstance(guard, Guard):
            raise ConfigurationError(f"StepUp(guard): expected a Guard, got {guard!r}")
        self.guard = guard
        self.scheme = _BearerScheme(
            auto_error=False, scheme_name=scheme_name, description=description
        )
        self.dependency = PolicyDependencies(self._dependency, AUTHENTICATED)
        self.websocket_dependency = PolicyDependencies(self._dependency, None)
        authenticated = self._dependency(AUTHENTICATED)
        self._authenticated = authenticated
        # Depends(stepup) is not a security scheme itself: its signature names the scheme as a
        # sub-dependency, so its routes are documented as secured too.
        signature = inspect.signature(authenticated, eval_str=True)
        scheme = inspect.Parameter(
            "_scheme", inspect.Parameter.KEYWORD_ONLY, default=Security(self.scheme)
        )
        self.__signature__ = signature.replace(parameters=[*signature.parameters.values(), scheme])

    async def __call__(self, **values: Any) -> Principal | None:
        """``Depends(stepup)``: any valid token (FastAPI fills ``values`` from the signature)."""
        values.pop("_scheme", None)
        return await self._authenticated(**values)

    def install(self, app: Any) -> None:
        """Register the refusal handler on the FastAPI ``app``, and document the 401/403 answers
        in its OpenAPI document."""
        install_handler(app)
        build = app.openapi

        def openapi() -> dict[str, Any]:
            if app.openapi_schema is None:
                _document_refusals(app, build())
            schema: dict[str, Any] = app.openapi_schema
            return schema

        app.openapi = openapi

    def _dependency(self, policy: Policy) -> Dependency:
        return _PolicyDependency(self, policy)


class _PolicyDependency(HTTPBearer):
    """One policy's dependency: the principal if the request meets ``policy``, else a refusal.

    It is itself the bearer security scheme, so the OpenAPI document shows the scheme on every
    route it guards while FastAPI resolves one dependency per request (a scheme as a
    sub-dependency would be a second one, about ten microseconds of FastAPI's machinery on the
    hot path). Like the scheme it stands for, it reads nothing itself: the Guard decides.
    """

    def __init__(self, stepup: StepUp, policy: Policy) -> None:
        scheme = stepup.scheme
        super().__init__(
            auto_error=False, scheme_name=scheme.scheme_name, description=scheme.model.description
        )
        self.model = scheme.model
        self._guard = stepup.guard
        self._policy = policy
        self._with_scopes: dict[frozenset[str], Policy] = {}
        setattr(self, _POLICY_ATTRIBUTE, policy)

    async def __call__(  # type: ignore[override]
        self, connection: HTTPConnection, security_scopes: SecurityScopes
    ) -> Principal | None:
        guard = self._guard
        effective = self._policy
        if security_scopes.scopes:
            wanted = frozenset(security_scopes.scopes)
            with_scopes = self._with_scopes
            effective = with_scopes.get(wanted) or with_scopes.setdefault(
                wanted, _with_scopes(effective, wanted)
            )
        decision = await check_connection(guard, connection, effective)
        if decision.allowed:
            return decision.principal
        if isinstance(connection, WebSocket):  # RFC 6455 §7.4.1: 1008, policy violation
            raise WebSocketException(WS_POLICY_VIOLATION, decision.error.code)
        accept = connection.headers.get("accept")
        raise StepUpDenied(decision, guard.denial(decision, accept))


def _with_scopes(policy: Policy, scopes: frozenset[str]) -> Policy:
    """``policy`` plus the scopes FastAPI's ``Security(..., scopes=...)`` asked for, keeping the
    policy's name for the logs."""
    combined = policy & Policy(scopes=scopes)
    return Policy(
        authenticated=True,
        scopes=combined.scopes,
        acr_values=combined.acr_values,
        amr_groups=combined.amr_groups,
        max_age=combined.max_age,
        rules=combined.rules,
        max_cache_age=combined.max_cache_age,
        name=policy.name,
    )


_REFUSALS = {
    "401": "No valid access token, or the authentication behind it is too weak or too old "
    "(RFC 6750, RFC 9470 step-up): see the WWW-Authenticate challenge",
    "403": "The access token lacks a required scope (insufficient_scope)",
}


def _document_refusals(app: Any, schema: dict[str, Any]) -> None:
    """Add the 401 and 403 answers to every operation a stepup-mfa dependency guards."""
    paths = schema.get("paths", {})
    routes = getattr(app, "routes", ())
    if iter_route_contexts is not None:  # FastAPI >= 0.16x: included routers, prefixes applied
        routes = iter_route_contexts(routes)
    for route in routes:
        dependant = getattr(route, "dependant", None)
        operations = paths.get(getattr(route, "path_format", None), {})
        if dependant is None or not _guarded(dependant):
            continue
        for method in getattr(route, "methods", None) or ():
            operation = operations.get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in _REFUSALS.items():
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
                    },
                )


def _guarded(dependant: Any) -> bool:
    call = getattr(dependant, "call", None)
    if call is not None and getattr(call, _POLICY_ATTRIBUTE, None) is not None:
        return True
    if isinstance(call, StepUp):
        return True
    return any(_guarded(inner) for inner in getattr(dependant, "dependencies", ()))
