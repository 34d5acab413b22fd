"""Raw ASGI middleware with a route table, and the ASGI helpers the Starlette adapter shares.

This is a plain ASGI callable, not Starlette's ``BaseHTTPMiddleware``: it sits on the measured hot
path, so it reads the ``Authorization`` lines straight from ``scope["headers"]`` in one pass,
finds the policy in a precomputed dict, and wraps neither ``receive`` nor ``send`` (a request
that is let through reaches the app with the very callables the server gave). Lifespan and any
other scope type pass through untouched.

Works under any ASGI framework; with Starlette::

    middleware = [Middleware(StepUpMiddleware, guard=guard, routes=table)]
    app = Starlette(routes=..., middleware=middleware)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ._core.credentials import RequestView, body_may_carry_token
from ._core.decision import Decision
from ._core.principal import Principal
from ._guard import Denial, Guard
from .routes import RouteTable

__all__ = ["PRINCIPAL_KEY", "StepUpMiddleware", "principal_from_scope"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Where the principal of an allowed request is put in the ASGI scope (and the WSGI environ).
PRINCIPAL_KEY = "stepup_mfa.principal"
#: RFC 6455 §7.4.1: 1008, "policy violation", the close code for a refused websocket.
WS_POLICY_VIOLATION = 1008
#: ASGI websocket scopes name their scheme ``ws``/``wss``; the Guard judges ``http``/``https``.
_HTTP_SCHEME = {"wss": "https", "ws": "http"}


def scope_scheme(scope: Scope) -> str:
    """The request's scheme as ``http``/``https``, websockets included (``wss`` is TLS)."""
    scheme: str = scope.get("scheme", "http")
    return _HTTP_SCHEME.get(scheme, scheme)


def principal_from_scope(scope: Scope) -> Principal | None:
    """The principal the middleware or a decorator admitted this request with, if any."""
    principal: Principal | None = scope.get(PRINCIPAL_KEY)
    return principal


def request_view(scope: Scope, path: str, form_body: bytes | None = None) -> RequestView:
    """The core's view of an HTTP or websocket scope, built in one pass over the raw headers.

    ASGI servers send header names lower-cased (ASGI spec, HTTP connection scope), so a bytes
    comparison finds every ``Authorization`` line; values are latin-1, as RFC 9110 §5.5 allows.
    """
    authorization: tuple[str, ...] = ()
    content_type: str | None = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization += (value.decode("latin-1"),)
        elif form_body is not None and name == b"content-type":
            content_type = value.decode("latin-1")
    query = scope.get("query_string")
    return RequestView(
        scope.get("method", "GET"),
        path,
        authorization,
        query.decode("latin-1") if query else "",
        content_type,
        form_body,
        scope_scheme(scope),
    )


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of header ``name`` (lower-case bytes); only used off the hot path."""
    for key, value in scope["headers"]:
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


def wants_form_body(guard: Guard, scope: Scope) -> bool:
    """Whether the form-body token method (RFC 6750 §2.2) means this body must be read.

    Only when the application enabled it, and only for a urlencoded body on a method with body
    semantics: the core ignores any other body (R6750-5), so reading it would only cost memory.
    """
    return guard.token_methods.body and body_may_carry_token(
        scope.get("method", "GET"), header(scope, b"content-type")
    )


async def read_body(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole request body; return it and a ``receive`` that replays it to the app."""
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def admit(scope: Scope, decision: Decision) -> None:
    """Record the principal where ``principal_from_scope`` and ``request.state`` find it."""
    principal = decision.principal
    scope[PRINCIPAL_KEY] = principal
    state = scope.get("state")
    if state is None:
        scope["state"] = {"principal": principal}
    else:
        state["principal"] = principal


async def send_denial(send: Send, denial: Denial) -> None:
    """Send the Guard's refusal as an ASGI response, byte for byte what the Guard shaped."""
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in denial.headers]
    headers.append((b"content-length", str(len(denial.body)).encode("latin-1")))
    await send({"type": "http.response.start", "status": denial.status, "headers": headers})
    await send({"type": "http.response.body", "body": denial.body})


async def close_websocket(send: Send, decision: Decision) -> None:
    """Refuse a websocket before accepting it: close code 1008 with the error code as reason.

    The reason names only the library's error code (the same token the ``WWW-Authenticate``
    challenge would carry), never anything from the token.
    """
    error = decision.error
    reason = error.code if error is not None else ""
    await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION, "reason": reason})


def route_path(scope: Scope) -> str:
    """The path the app routes on: ``scope["path"]`` without the ``root_path`` prefix."""
    path: str = scope["path"]
    root_path = scope.get("root_path")
    if root_path and path.startswith(root_path):
        return path[len(root_path) :] or "/"
    return path


class StepUpMiddleware:
    """Checks every HTTP request and websocket against a :class:`RouteTable`.

    A refused HTTP request gets ``guard.denial(...)`` (status, ``WWW-Authenticate``, optional
    problem+json body negotiated with ``Accept``); a refused websocket is closed with 1008. An
    admitted request carries its principal in ``scope["stepup_mfa.principal"]`` and
    ``scope["state"]["principal"]`` (Starlette's ``request.state.principal``).
    """

    __slots__ = ("app", "guard", "routes")

    def __init__(self, app: ASGIApp, *, guard: Guard, routes: RouteTable) -> None:
        self.app = app
        self.guard = guard
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)  # lifespan and unknown scopes: untouched
            return
        # The hot path is written out inline (no helper calls): it runs on every request.
        method = scope.get("method", "GET")
        path: str = scope["path"]
        root_path = scope.get("root_path")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :] or "/"
        authorization: tuple[str, ...] = ()
        requested_method = has_origin = False
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization += (value.decode("latin-1"),)
            elif name == b"access-control-request-method":
                requested_method = True
            elif name == b"origin":
                has_origin = True
        preflight = method == "OPTIONS" and requested_method and has_origin
        policy = self.routes.policy_for(method, path, preflight=preflight)
        guard = self.guard
        if kind == "http" and wants_form_body(guard, scope):
            form_body, receive = await read_body(receive)
            view = request_view(scope, path, form_body)
        else:
            query = scope.get("query_string")
            view = RequestView(
                method,
                path,
                authorization,
                query.decode("latin-1") if query else "",
                scheme=scope_scheme(scope),
            )
        decision = await guard.acheck(view, policy)
        if decision.allowed:
            scope[PRINCIPAL_KEY] = principal = decision.principal
            state = scope.get("state")
            if state is None:
                scope["state"] = {"principal": principal}
            else:
                state["principal"] = principal
            await self.app(scope, receive, send)
        elif kind == "websocket":
            await close_websocket(send, decision)
        else:
            await send_denial(send, guard.denial(decision, header(scope, b"accept")))
