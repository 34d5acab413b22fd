"""Starlette adapter: a ``require`` decorator for endpoints, and the principal on the request.

::

    @require(guard, MFA_60S)
    async def cats(request: Request) -> Response:
        return JSONResponse({"sub": principal_of(request).subject})

The decorator works on endpoint functions (``async def`` and plain ``def``, the latter still run
in the threadpool as Starlette would), on ``HTTPEndpoint`` / ``WebSocketEndpoint`` methods (a
decorated ``on_receive`` checks the connection again on every message, so a freshness window that
runs out mid-session closes it), and on websocket endpoints, which are closed with 1008 when
refused. The check itself always runs with ``guard.acheck`` on the event loop, so a new token
never ties up a worker thread while the verifier fetches keys. The policy is attached to the
endpoint itself, so no spelling of the path can reach it under another policy.

A refusal is answered with ``guard.denial(...)``, the same bytes every other adapter sends.
:class:`StepUpDenied` is the exception form of a refusal, raised by the FastAPI dependency; it is
a Starlette ``HTTPException``, so even an app without :func:`install_handler` answers with the
right status and ``WWW-Authenticate`` header.

The ASGI middleware with a route table lives in :mod:`stepup_mfa.adapters.asgi` and is
re-exported here.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from .._core.decision import Decision, Refused
from .._core.errors import RequestTooLarge
from .._core.policy import Policy
from .._core.principal import Principal
from .._guard import Denial, Guard
from . import _edge
from ._edge import (
    asgi_recall,
    asgi_view,
    checked_guard_and_policy,
    principal_in,
    refusal_for,
    refuse,
)
from .asgi import StepUpMiddleware, admit, close_websocket, route_path, wants_form_body

__all__ = [
    "StepUpDenied",
    "StepUpMiddleware",
    "denial_response",
    "install_handler",
    "principal_of",
    "require",
]

F = TypeVar("F", bound=Callable[..., Any])


class StepUpDenied(HTTPException):
    """A refused request, as an exception: carries the :class:`Decision` (``decision``) and the
    Guard's ready-made :class:`Denial` (``denial``, negotiated against the request's ``Accept``
    when raised)."""

    def __init__(self, decision: Refused, denial: Denial) -> None:
        super().__init__(
            denial.status,
            detail=decision.error.description,
            headers={name: value for name, value in denial.headers if name != "Content-Type"},
        )
        self.decision = decision
        self.denial = denial


def denial_response(denial: Denial) -> Response:
    """The Starlette response for a :class:`Denial` (``denial``); headers and body exactly as
    shaped."""
    response = Response(denial.body, status_code=denial.status)  # no media type: no Content-Type
    response.raw_headers.extend(
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in denial.headers
    )
    return response


async def _handle_denied(_request: Request, exc: Exception) -> Response:
    return denial_response(cast(StepUpDenied, exc).denial)


def install_handler(app: Any) -> None:
    """Register the handler that renders :class:`StepUpDenied` as ``guard.denial`` shaped it.

    ``app`` is a Starlette or FastAPI application. Without it a refusal still carries the right
    status and challenge, but the body is the framework's default error body.
    """
    app.add_exception_handler(StepUpDenied, _handle_denied)


def principal_of(connection: HTTPConnection) -> Principal | None:
    """The principal admitted for this request or websocket, the ``connection`` (``None`` on
    anonymous routes).

    Also available as ``request.state.principal`` and ``request.scope["stepup_mfa.principal"]``.
    """
    return principal_in(connection.scope)


async def check_connection(guard: Guard, connection: HTTPConnection, policy: Policy) -> Decision:
    """Run the Guard for a Starlette request or websocket; on success record the principal."""
    scope = connection.scope
    remembered = asgi_recall(guard, scope, policy)  # a token seen before: no view, no await
    if remembered is not None:
        admit(scope, remembered)
        return remembered
    form_body: bytes | None = None
    if isinstance(connection, Request) and wants_form_body(guard, scope, policy):
        limit = guard.token_methods.max_body_length
        chunks: list[bytes] = []
        size = 0
        async for chunk in connection.stream():  # bounded, even for a chunked body
            size += len(chunk)
            if size > limit:
                return refuse(guard, RequestTooLarge())
            chunks.append(chunk)
        form_body = b"".join(chunks)
        # What Request.body() caches, so the endpoint can still read the body.
        connection._body = form_body
    view = asgi_view(scope, route_path(scope), form_body=form_body, mtls=guard.mtls)
    decision = await guard.acheck(view, policy)
    if decision.allowed:
        admit(scope, decision)
    return decision


def require(guard: Guard, policy: Policy) -> Callable[[F], F]:
    """Refuse calls to the decorated endpoint unless the request satisfies ``policy``, as judged
    by ``guard``.

    Wrong arguments (swapped, a policy name instead of a :class:`Policy`) fail here, at
    decoration, not on the first request.
    """
    guard, policy = checked_guard_and_policy(guard, policy, "require(guard, policy)")

    def decorate(endpoint: F) -> F:
        if not callable(endpoint):
            raise TypeError("@require(guard, policy) decorates an endpoint function or method")
        is_async = inspect.iscoroutinefunction(endpoint)

        @functools.wraps(endpoint)
        async def guarded(*args: Any, **kwargs: Any) -> Any:
            connection = _connection(args, kwargs)
            scope = connection.scope
            decision: Decision | None = asgi_recall(guard, scope, policy)
            if decision is not None:  # the hot path: a token seen before
                admit(scope, decision)
            elif guard.token_methods.body:
                decision = await check_connection(guard, connection, policy)
            else:
                decision = await guard.acheck(
                    asgi_view(scope, route_path(scope), mtls=guard.mtls), policy
                )
                if decision.allowed:
                    admit(scope, decision)
            if not decision.allowed:
                if isinstance(connection, WebSocket):
                    await close_websocket(connection.send, decision)
                    return None
                method = connection.scope.get("method", "GET")
                accept = connection.headers.get("accept")
                return denial_response(refusal_for(guard, decision, accept, method))
            if is_async:
                response = await endpoint(*args, **kwargs)
            else:
                response = await run_in_threadpool(endpoint, *args, **kwargs)
            return _with_admitted_headers(guard, connection, response)

        return cast(F, guarded)

    return decorate


def _with_admitted_headers(guard: Guard, connection: HTTPConnection, response: Any) -> Any:
    """``response`` with the headers of an admitted request (a fresh ``DPoP-Nonce``, RFC 9449
    §8.2), when the endpoint returned a :class:`~starlette.responses.Response`."""
    extra = _edge.asgi_admitted_headers(guard, connection.scope)
    if extra and isinstance(response, Response):
        for name, value in extra:
            response.headers[name] = value
    return response


def _connection(args: tuple[Any, ...], kwargs: dict[str, Any]) -> HTTPConnection:
    """The request or websocket the endpoint was called with.

    Starlette passes it positionally: ``(request)`` for a function, ``(self, request)`` for an
    ``HTTPEndpoint`` method, ``(self, websocket, data)`` for ``WebSocketEndpoint.on_receive``;
    FastAPI passes keywords. The first connection found is the one, wherever it stands.
    """
    for value in (*args, *kwargs.values()):
        kind = type(value)  # the exact types first: isinstance of a Mapping ABC costs more
        if kind is Request or kind is WebSocket or isinstance(value, HTTPConnection):
            connection: HTTPConnection = value
            return connection
    raise TypeError("@require needs an endpoint that receives the Request or WebSocket")
