"""The ASGI middleware with a route table, and the ASGI helpers the Starlette adapters share.

A plain ASGI callable, not Starlette's ``BaseHTTPMiddleware``: it sits on the measured hot path,
so it reads the ``Authorization`` lines straight from ``scope["headers"]`` in one pass and wraps
neither ``receive`` nor ``send`` for a request that is let through. Lifespan and any other scope
type pass through (after the start-up check below).

Which policy a request meets (architecture rule 10, BIND-1, BIND-3):

- In a **Starlette or FastAPI** app the middleware asks the app's own router which route the
  request reaches, with the very ``matches()`` the router runs (through ``Mount``, ``Host`` and
  websocket routes), and looks that route's declared template up in the table. However the path
  is spelt, the policy is the policy of the handler that runs. Every table entry must name a route
  of the app: checked at lifespan start-up (or on the first request), naming the entry at fault,
  and again whenever the routes change (:class:`RoutedBinding`; a change the table no longer
  fits is logged and refused with 503, BIND-12).
- Around **any other ASGI app** (no router to ask), a path that a router could read differently
  (control characters, ``//``, dot segments, ``%2F``...: :mod:`stepup_mfa._core.paths`) is refused
  with ``400 invalid_request`` before the table is consulted.

::

    middleware = [Middleware(StepUpMiddleware, guard=guard, routes=table)]
    app = Starlette(routes=..., middleware=middleware)
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .._core.credentials import MAX_FORM_BODY, body_may_carry_token
from .._core.decision import Decision, Refused
from .._core.errors import ConfigurationError, RequestTooLarge
from .._core.policy import Policy
from .._core.principal import Principal
from .._guard import Denial, Guard
from ..routes import RouteBinding, RouteTable
from . import _edge
from ._edge import (
    PRINCIPAL_KEY,
    RoutesUnbound,
    asgi_view,
    is_preflight,
    middleware_arguments,
    non_canonical,
    principal_in,
    raw_policy,
    refusal_for,
    refuse,
    routes_unbound,
    scope_scheme,
)

__all__ = ["PRINCIPAL_KEY", "StepUpMiddleware", "principal_from_scope", "scope_scheme"]

logger = logging.getLogger("stepup_mfa")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: The policy a request meets: (scope, method, is-a-CORS-preflight) -> the policy, or ``None``
#: when the path must be refused as non-canonical (raw apps only).
PolicyOf = Callable[[Scope, str, bool], Policy | None]

#: What the middleware judged a request by: (path, root_path, method, template, policy, the
#: generation of the routes it was resolved with, ``None`` unless they are plain, and the
#: version of those routes, plain or not: ``RouteMemo.version``).
JUDGED_KEY = "stepup_mfa.judged"
#: RFC 6455 §7.4.1: 1008, "policy violation", the close code for a refused websocket.
WS_POLICY_VIOLATION = 1008


def principal_from_scope(scope: Scope) -> Principal | None:
    """The principal the middleware or a decorator admitted the request of this ASGI ``scope``
    with, if any."""
    return principal_in(scope)


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of header ``name`` (lower-case bytes); only used off the hot path."""
    for key, value in scope["headers"]:
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


def wants_form_body(guard: Guard, scope: Scope, policy: Policy) -> bool:
    """Whether the form-body token method (RFC 6750 §2.2) means this body must be read.

    Only when the application enabled it, only where a token is needed, and only for a
    urlencoded body on a method with body semantics: the core ignores any other body (R6750-5),
    so reading it would only cost memory (and refuse large public forms).
    """
    return (
        guard.token_methods.body
        and policy.authenticated
        and body_may_carry_token(scope.get("method", "GET"), header(scope, b"content-type"))
    )


class ClientDisconnected(Exception):
    """The client went away before its body was complete: nothing is judged or answered."""


async def read_body(receive: Receive, limit: int = MAX_FORM_BODY) -> tuple[bytes, Receive]:
    """Read a form body of at most ``limit`` bytes; return it and a ``receive`` replaying it.

    Raises :class:`~stepup_mfa.RequestTooLarge` past ``limit`` (nothing is buffered beyond it)
    and :class:`ClientDisconnected` when the client leaves mid-body: a body cut short is never
    judged or replayed as if it were complete.
    """
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge()
        chunks.append(chunk)
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
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in denial.headers
    ]
    headers.append((b"content-length", str(len(denial.body)).encode("latin-1")))
    await send({"type": "http.response.start", "status": denial.status, "headers": headers})
    await send({"type": "http.response.body", "body": denial.body})


async def close_websocket(send: Send, decision: Refused) -> None:
    """Refuse a websocket: close code 1008 with the error code as reason.

    The reason names only the library's error code (the same token the ``WWW-Authenticate``
    challenge would carry), never anything from the token.
    """
    reason = decision.error.code
    await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION, "reason": reason})


async def answer_refusal(guard: Guard, scope: Scope, send: Send, decision: Refused) -> None:
    """Send a refusal the way the connection understands it: HTTP response or websocket close."""
    if scope["type"] == "websocket":
        await close_websocket(send, decision)
        return
    method = scope.get("method", "GET")
    await send_denial(send, refusal_for(guard, decision, header(scope, b"accept"), method))


def route_path(scope: Scope) -> str:
    """The path the app routes on: ``scope["path"]`` without the ``root_path`` prefix."""
    path: str = scope["path"]
    root_path = scope.get("root_path")
    if root_path and path.startswith(root_path):
        return path[len(root_path) :] or "/"
    return path


def _raw_path(scope: Scope) -> str | None:
    raw = scope.get("raw_path")
    return raw.decode("latin-1") if isinstance(raw, bytes) else None


class RoutedBinding:
    """The route table bound to a Starlette router's routes as they are now (BIND-1, BIND-5,
    BIND-12).

    Bound at start-up (a table that does not fit raises :class:`~stepup_mfa.ConfigurationError`
    there), and bound again, dispatch checks included, whenever the :class:`RouteMemo` sees the
    routes change: a route added, removed, replaced or reordered, a mount given another app.
    New routes the table does not fit (a listed handler also routed under an unlisted template,
    a route that names nothing...) are refused as start-up would refuse them, but at run time:
    the error is logged and every request is answered with 503 (fail closed) until the routes
    change again into ones the table fits; neither the old binding nor the table's default ever
    judges a request under routes they were not bound to. The change check is the memo's own
    per-request comparison of route-list identities, so nothing is added to the hot path.
    """

    __slots__ = ("bound", "guard", "memo", "router", "table")

    def __init__(self, guard: Guard, table: RouteTable, router: Any) -> None:
        from ._starlette_routing import RouteMemo

        self.guard = guard
        self.table = table
        self.router = router
        #: The binding in force, or the refusal of routes the table does not fit.
        self.bound: RouteBinding | Refused
        # The router's own matches(), remembered only while the routes are the ones asked; told
        # of every change after this first survey.
        self.memo = RouteMemo(router, on_change=self._rebind)
        self._bind()  # at start-up a refusal is the ConfigurationError itself

    def guards_like(self, other: object) -> bool:
        """Whether ``other`` binds the same table for the same Guard: the binding of a
        middleware Starlette built again (``app.build_middleware_stack()``) may take over this
        one's routers (the old middleware is no longer called)."""
        return (
            isinstance(other, RoutedBinding)
            and other.table is self.table
            and other.guard is self.guard
        )

    def policy_for(self, method: str, template: str | None, preflight: bool) -> Policy:
        """The policy of ``method`` on the route ``template``; raises :class:`RoutesUnbound`
        while the routes are ones the table does not fit."""
        bound = self.bound
        if isinstance(bound, Refused):
            raise RoutesUnbound(bound)
        return bound.policy(method, template, preflight=preflight)

    def _bind(self) -> None:
        from ._starlette_routing import dispatch_points, served_by

        router = self.router
        served = served_by(router)
        binding = self.table.bind(served.methods, served.same_handler)
        points = dispatch_points(router, self)
        memo = self.memo
        for point, resolve_there, top in points:
            shortcut = memo.generation if top else None
            installed = point.middleware_stack
            if isinstance(installed, DispatchCheck) and installed.routed is not self:
                if installed.routed.guards_like(self):  # a rebuilt app stack took over: unwrap
                    inner: Any = installed.app
                    point.middleware_stack = installed = inner
            if isinstance(installed, DispatchCheck) and installed.routed is self:
                installed.resolve = resolve_there  # the router may sit under another prefix now
                installed.shortcut = shortcut
            else:
                point.middleware_stack = DispatchCheck(
                    installed, self.guard, self, resolve_there, shortcut
                )
        self.bound = binding

    def reinstall(self) -> None:
        """The top router's dispatch check is not this binding's (taken off, or replaced by
        another layer): bind again, which puts it back in front of whatever is there."""
        self._rebind()

    def _rebind(self, unreadable: Exception | None = None) -> None:
        """The routes changed (called by the memo before it resolves anything under them);
        ``unreadable`` is why the memo could not even survey them (refused without binding)."""
        try:
            if unreadable is not None:
                raise unreadable
            self._bind()
        except Exception as error:  # whatever breaks here must fail closed
            if not isinstance(error, ConfigurationError):
                error = ConfigurationError(f"the app's routes cannot be read: {error!r}")
            self.bound = routes_unbound(self.guard, error)


class StepUpMiddleware:
    """Checks every HTTP request and websocket against a :class:`RouteTable`.

    ``app`` is the ASGI app to protect and ``guard`` the :class:`~stepup_mfa.Guard` that decides.

    ``routes`` is a :class:`RouteTable` or the path of a TOML file. ``router`` is the Starlette
    ``Router`` (or app) to ask which route a request reaches; by default it is found by walking
    the wrapped app (``Middleware(StepUpMiddleware, ...)`` inside Starlette or FastAPI, or
    ``StepUpMiddleware(app, ...)`` around one). Without one, the app is treated as raw.

    A refused HTTP request gets ``guard.denial(...)`` (status, ``WWW-Authenticate``, optional
    problem+json body negotiated with ``Accept``); a refused websocket is closed with 1008. An
    admitted request carries its principal in ``scope["stepup_mfa.principal"]`` and
    ``scope["state"]["principal"]`` (Starlette's ``request.state.principal``).
    """

    __slots__ = ("_policy_of", "_routed", "_router", "app", "guard", "routes")

    def __init__(
        self,
        app: ASGIApp,
        *,
        guard: Guard,
        routes: RouteTable | str | os.PathLike[str],
        router: Any = None,
    ) -> None:
        guard, routes = middleware_arguments(guard, routes, "StepUpMiddleware")
        self.app = app
        self.guard = guard
        self.routes = routes
        self._router = router
        self._policy_of: PolicyOf | None = None
        #: The routed binding (its memo is the hot path's lookup), or ``None`` for a raw app.
        self._routed: RoutedBinding | None = None

    def _bind(self, scope: Scope) -> PolicyOf:
        """Decide once how requests find their policy, and check the table against the app."""
        table = self.routes
        router = None
        if "starlette" in sys.modules:  # a Starlette router exists only once starlette is imported
            from ._starlette_routing import find_router

            router = find_router(self._router, self.app, scope.get("app"))
        if router is None:
            table.check_raw()

            def policy_of(scope: Scope, method: str, preflight: bool) -> Policy | None:
                return raw_policy(table, method, route_path(scope), _raw_path(scope), preflight)

        else:
            # The table is bound to the routes as they are, and again whenever they change
            # (BIND-12); a refusal at start-up is the ConfigurationError raised here.
            routed = RoutedBinding(self.guard, table, router)
            judge = routed.memo.judged
            policy_for = routed.policy_for

            def policy_of(scope: Scope, method: str, preflight: bool) -> Policy | None:
                judged = scope[JUDGED_KEY] = judge(scope, method, preflight, policy_for)
                policy: Policy = judged[4]
                return policy

            self._routed = routed
        self._policy_of = policy_of
        return policy_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            if kind == "lifespan" and self._policy_of is None:
                try:
                    self._bind(scope)
                    # R9470-14: the table's acr values against the issuer's (warns, or strict).
                    await self.guard.acheck_acr_values(self.routes.policies())
                except ConfigurationError as error:
                    await fail_startup(receive, send, error)
                    return
            await self.app(scope, receive, send)
            return
        policy_of = self._policy_of or self._bind(scope)
        method = scope.get("method", "GET")
        # The hot path is written out inline: it runs on every request.
        authorization: tuple[str, ...] = ()
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization += (value.decode("latin-1"),)
        preflight = method == "OPTIONS" and is_preflight(
            method,
            header(scope, b"origin") is not None,
            header(scope, b"access-control-request-method") is not None,
        )
        guard = self.guard
        recallable = (
            len(authorization) == 1
            and not scope.get("query_string")
            and not guard.token_methods.body  # a token may be in the body: read it first
        )
        routed = self._routed
        if routed is not None:
            check = routed.router.middleware_stack
            if type(check) is not DispatchCheck or check.routed is not routed:
                recallable = False  # the dispatch check was taken off: put it back first
                if not isinstance(routed.bound, Refused):  # (refused routes: 503 below anyway)
                    routed.reinstall()
        if recallable and routed is not None:
            # A token seen before on a path judged before: the judgement remembered for these
            # routes, and the Guard's remembered verdict under its policy. No route-change check
            # here: the dispatch check in front of the router (in place, as just seen) makes it
            # before anything runs, and judges the request again if the routes changed since
            # (BIND-12).
            judged = routed.memo.remembered(scope, preflight)
            if judged is not None:
                remembered = guard.recall(authorization[0], judged[4])
                if remembered is not None:
                    scope[JUDGED_KEY] = judged
                    admit(scope, remembered)
                    await self.app(scope, receive, send)
                    return
        try:
            policy = policy_of(scope, method, preflight)
        except RoutesUnbound as unbound:  # the routes changed and the table no longer fits them
            await answer_refusal(guard, scope, send, unbound.refusal)
            return
        if policy is None:
            await answer_refusal(guard, scope, send, non_canonical(guard))
            return
        if recallable:
            # A token seen before: the Guard's remembered verdict, or None for the full path.
            remembered = guard.recall(authorization[0], policy)
            if remembered is not None:
                admit(scope, remembered)
                await self.app(scope, receive, send)
                return
        if kind == "http" and wants_form_body(guard, scope, policy):
            try:
                form_body, receive = await read_body(receive, guard.token_methods.max_body_length)
            except ClientDisconnected:
                return
            except RequestTooLarge as error:
                await answer_refusal(guard, scope, send, refuse(guard, error))
                return
            view = asgi_view(scope, route_path(scope), form_body=form_body, mtls=guard.mtls)
        else:
            view = asgi_view(scope, route_path(scope), authorization, mtls=guard.mtls)
        decision = await guard.acheck(view, policy)
        if decision.allowed:
            admit(scope, decision)
            extra = _edge.admitted_headers(guard, view.authorization)  # RFC 9449 §8.2
            await self.app(scope, receive, _edge.sending_with(send, extra))
        else:
            await answer_refusal(guard, scope, send, decision)


async def fail_startup(receive: Receive, send: Send, error: ConfigurationError) -> None:
    """Answer the lifespan protocol with ``startup.failed`` and raise, as Starlette's own router
    does when start-up fails: the server reports the message and exits."""
    logger.error("stepup-mfa refused to start: %s", error)
    message = await receive()
    if message["type"] == "lifespan.startup":
        await send({"type": "lifespan.startup.failed", "message": str(error)})
    raise error


class DispatchCheck:
    """Sits in front of a router of the app (BIND-1): the route it is about to dispatch must be
    the route the middleware judged, or the request is judged again by that route's policy.

    A middleware between :class:`StepUpMiddleware` and the router (or inside a ``Mount``) may
    rewrite the path, the method or the headers; the router then runs another handler than the
    one predicted. Here the router's own view of the request decides once more, so the handler
    that runs always meets its own policy. ``shortcut`` (the top router's
    :meth:`~stepup_mfa.adapters._starlette_routing.RouteMemo.generation`): while the routes read
    only the type, method, root path and path (no ``Host`` routes, Starlette's own route kinds)
    and are still the ones the middleware resolved the request with, a request whose values are
    the ones judged skips the work (the common case: nothing rewrote it). Asked on every request:
    a route added, removed or reordered in between, or a route of another kind, means the
    request is resolved again here.

    Routes changed since the judgement (another task or thread changed them while the request
    was in flight: the memo's :meth:`~stepup_mfa.adapters._starlette_routing.RouteMemo.version`
    differs) never pass on the judged template alone (BIND-12): the binding in force is asked
    (503 while the routes are ones the table does not fit), and the request is judged again
    unless that binding gives the very policy it was judged by.
    """

    __slots__ = ("app", "guard", "resolve", "routed", "shortcut")

    def __init__(
        self,
        app: ASGIApp,
        guard: Guard,
        routed: RoutedBinding,
        resolve: Callable[[Scope], str | None],
        shortcut: Callable[[], int | None] | None,
    ) -> None:
        self.app = app
        self.guard = guard
        #: Where the binding in force is read, request by request (bound again on a change).
        self.routed = routed
        self.resolve = resolve
        self.shortcut = shortcut

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        judged = scope.get(JUDGED_KEY)
        shortcut = self.shortcut
        if (
            judged is not None
            and judged[0] == scope["path"]
            and judged[1] == scope.get("root_path")
            and judged[2] == method
            and judged[5] is not None
            and shortcut is not None
            and shortcut() == judged[5]
        ):
            await self.app(scope, receive, send)
            return
        routed = self.routed
        guard = self.guard
        version = routed.memo.version()  # a change is bound again here, before resolving
        bound = routed.bound
        if isinstance(bound, Refused):  # routes the table does not fit (or cannot read): 503
            await answer_refusal(guard, scope, send, bound)
            return
        template = self.resolve(scope)
        if (
            judged is not None
            and judged[6] == version  # the same routes: the judged policy is still theirs
            and judged[3] == template
            and judged[2] == method
        ):
            await self.app(scope, receive, send)
            return
        has_origin = header(scope, b"origin") is not None
        preflight = is_preflight(
            method, has_origin, header(scope, b"access-control-request-method") is not None
        )
        try:
            policy = routed.policy_for(method, template, preflight)
        except RoutesUnbound as unbound:
            await answer_refusal(guard, scope, send, unbound.refusal)
            return
        if judged is not None and judged[4] == policy:
            await self.app(scope, receive, send)
            return
        decision = await guard.acheck(asgi_view(scope, route_path(scope), mtls=guard.mtls), policy)
        if not decision.allowed:
            await answer_refusal(guard, scope, send, decision)
            return
        admit(scope, decision)
        judgement = (scope["path"], scope.get("root_path"), method, template, policy, None, version)
        scope[JUDGED_KEY] = judgement
        await self.app(scope, receive, send)
