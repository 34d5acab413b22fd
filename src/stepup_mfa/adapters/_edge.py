"""What every adapter shares: the request view, the CORS-preflight rule, the principal's place,
and the shape of a refusal. One home each, so the five adapters cannot drift apart.

An adapter turns its framework's request into a :class:`~stepup_mfa.RequestView` with
:func:`asgi_view` or :func:`wsgi_view` (Flask views are WSGI underneath), and a refused
:class:`~stepup_mfa.Decision` into a response with :func:`refusal_for`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from .._core.credentials import RequestView
from .._core.decision import Allowed, Refused, deny
from .._core.errors import ConfigurationError, InvalidRequest, StepUpError, VerifierUnavailable
from .._core.paths import NON_CANONICAL_PATH, non_canonical_reason
from .._core.policy import Policy
from .._core.principal import Principal
from .._guard import Denial, Guard
from .._observe import log_fields
from .._verify.mtls import MutualTLS
from ..routes import RouteTable

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

#: Where the principal of an admitted request is kept: the ASGI scope or the WSGI environ.
PRINCIPAL_KEY = "stepup_mfa.principal"
#: ASGI websocket scopes name their scheme ``ws``/``wss``; the Guard judges ``http``/``https``.
_HTTP_SCHEME = {"wss": "https", "ws": "http"}


def principal_in(carrier: Mapping[str, Any]) -> Principal | None:
    """The principal recorded in an ASGI scope or a WSGI environ (``None``: none admitted)."""
    principal: Principal | None = carrier.get(PRINCIPAL_KEY)
    return principal


def is_preflight(method: str, has_origin: bool, has_request_method: bool) -> bool:
    """A CORS preflight: ``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``.

    The Fetch standard sends preflights without credentials, so the route tables let them pass
    (unless ``cors_preflight=False``); the real request that follows is judged as usual.
    """
    return method == "OPTIONS" and has_origin and has_request_method


def environ_is_preflight(environ: Mapping[str, Any], method: str) -> bool:
    """:func:`is_preflight` for a WSGI request (the WSGI middleware, Flask's checks)."""
    return is_preflight(
        method, "HTTP_ORIGIN" in environ, "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ
    )


def scope_scheme(scope: Mapping[str, Any]) -> str:
    """The scheme of the ASGI ``scope`` as ``http``/``https``, websockets included (``wss`` is
    TLS)."""
    scheme: str = scope.get("scheme", "http")
    return _HTTP_SCHEME.get(scheme, scheme)


def asgi_view(
    scope: Mapping[str, Any],
    path: str,
    authorization: tuple[str, ...] | None = None,
    form_body: bytes | None = None,
    mtls: MutualTLS | None = None,
) -> RequestView:
    """The core's view of an ASGI HTTP or websocket scope.

    ASGI servers send header names lower-cased (ASGI spec, HTTP connection scope), so a bytes
    comparison finds every ``Authorization`` line; values are latin-1, as RFC 9110 §5.5 allows.
    ``authorization`` may be passed when the caller already collected the lines. With ``mtls``
    (the Guard's), the client certificate is read from where it says (RFC 8705).
    """
    content_type: str | None = None
    dpop: tuple[str, ...] = ()
    if authorization is None or form_body is not None:
        lines: tuple[str, ...] = ()
        for name, value in scope["headers"]:
            if name == b"authorization":
                lines += (value.decode("latin-1"),)
            elif name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"dpop":
                dpop += (value.decode("latin-1"),)
        authorization = lines
    elif any(line[:5].lower() == "dpop " for line in authorization):
        dpop = tuple(v.decode("latin-1") for n, v in scope["headers"] if n == b"dpop")
    query = scope.get("query_string")
    return RequestView(
        scope.get("method", "GET"),
        path,
        authorization,
        query.decode("latin-1") if query else "",
        content_type if form_body is not None else None,
        form_body,
        scope_scheme(scope),
        dpop,
        mtls.from_asgi(scope) if mtls is not None else None,
    )


def asgi_recall(guard: Guard, scope: Mapping[str, Any], policy: Policy) -> Allowed | None:
    """:meth:`Guard.recall <stepup_mfa.Guard.recall>` for an ASGI scope: the verdict remembered
    for a token seen before, without building a :class:`RequestView`; ``None`` (take the full
    path) unless the request has exactly one ``Authorization`` line and no query string, and
    the form-body method is off (a token might then be in the body too)."""
    if guard.token_methods.body or scope.get("query_string"):
        return None
    line: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            if line is not None:
                return None
            line = value
    return None if line is None else guard.recall(line.decode("latin-1"), policy)


def wsgi_recall(guard: Guard, environ: Mapping[str, Any], policy: Policy) -> Allowed | None:
    """:func:`asgi_recall` for a WSGI environ (repeated ``Authorization`` lines arrive joined
    with a comma, which no remembered line contains)."""
    if guard.token_methods.body or environ.get("QUERY_STRING"):
        return None
    line = environ.get("HTTP_AUTHORIZATION")
    return None if line is None else guard.recall(line, policy)


def wsgi_view(
    environ: WSGIEnvironment,
    path: str,
    form_body: bytes | None = None,
    mtls: MutualTLS | None = None,
) -> RequestView:
    """The core's view of a WSGI request.

    WSGI servers join repeated ``Authorization`` lines with a comma; the core refuses such a
    value as malformed (RFC 9110 §11.6.2, R9110-4), so nothing is lost by the joining. With
    ``mtls`` (the Guard's), the client certificate is read from where it says (RFC 8705).
    """
    authorization = environ.get("HTTP_AUTHORIZATION")
    # Repeated DPoP lines arrive comma-joined; a comma is not in a compact JWS, so two proofs
    # stay two (R9449-4, D10).
    dpop = environ.get("HTTP_DPOP")
    return RequestView(
        environ.get("REQUEST_METHOD", "GET"),
        path,
        (authorization,) if authorization is not None else (),
        environ.get("QUERY_STRING", ""),
        environ.get("CONTENT_TYPE") if form_body is not None else None,
        form_body,
        environ.get("wsgi.url_scheme", "http"),
        tuple(dpop.split(",")) if dpop is not None else (),
        mtls.from_wsgi(environ) if mtls is not None else None,
    )


def raw_policy(
    table: RouteTable, method: str, path: str, raw_path: str | None, preflight: bool
) -> Policy | None:
    """The policy of a request to an app with no router to ask (BIND-3): the path is matched
    itself, once canonical; ``None`` when it is not, and must be refused."""
    if non_canonical_reason(path, raw_path) is not None:
        return None
    return table.policy_for(method, path, preflight=preflight)


def refuse(guard: Guard, error: StepUpError) -> Refused:
    """A refusal the adapter decides before the Guard is asked (a non-canonical path, a body
    too large), rendered with the Guard's challenge settings like every other refusal."""
    return deny(error, guard.settings)


def non_canonical(guard: Guard) -> Refused:
    """BIND-3: the refusal of a path a raw app's router could read differently."""
    return refuse(guard, InvalidRequest(NON_CANONICAL_PATH))


#: The description a request refused for routes the table no longer fits gets (the cause stays
#: in the log: it names the routes).
ROUTES_UNBOUND = "The service's routes are misconfigured; try again later"

logger = logging.getLogger("stepup_mfa")


class RoutesUnbound(Exception):
    """Raised where a policy is asked for while the app's routes are ones the route table was
    refused for (BIND-12); caught by the adapter, which answers with its ``refusal``."""

    def __init__(self, refusal: Refused) -> None:
        super().__init__(refusal.error.code)
        self.refusal = refusal


def routes_unbound(guard: Guard, error: ConfigurationError) -> Refused:
    """BIND-12: the app's routes changed after start-up into routes the table does not fit (the
    ``error`` start-up would have raised). Logged once here; every request is then refused with
    503 (fail closed) until the routes change again, never judged by the old binding or the
    table's default."""
    logger.error(
        "stepup-mfa refuses every request (503) until the routes change again: the app's "
        "routes changed after start-up and the route table no longer fits them: %s",
        error,
        extra=log_fields("routes_unbound", status=503, cause=str(error)),
    )
    return refuse(guard, VerifierUnavailable(ROUTES_UNBOUND, cause=str(error)))


def refusal_for(guard: Guard, decision: Refused, accept: str | None, method: str) -> Denial:
    """The response for a refused ``decision``; a ``HEAD`` refusal carries no body (RFC 9110
    §9.3.2), so a keep-alive connection is not garbled by bytes the client never reads."""
    denial = guard.denial(decision, accept)
    if method == "HEAD" and denial.body:
        return Denial(denial.status, denial.headers, b"")
    return denial


def middleware_arguments(
    guard: object, routes: RouteTable | str | os.PathLike[str], where: str
) -> tuple[Guard, RouteTable]:
    """A middleware's Guard and route table, checked at construction; a TOML path is loaded."""
    if not isinstance(guard, Guard):
        raise ConfigurationError(f"{where}: guard must be a Guard, got {guard!r}")
    if isinstance(routes, str | os.PathLike):
        routes = RouteTable.from_toml(routes)
    if not isinstance(routes, RouteTable):
        raise ConfigurationError(
            f"{where}: routes must be a RouteTable or a TOML path, got {routes!r}"
        )
    return guard, routes


def checked_guard_and_policy(guard: object, policy: object, where: str) -> tuple[Guard, Policy]:
    """Refuse, at decoration time, arguments that cannot work (swapped, a string, ``None``)."""
    if not isinstance(guard, Guard):
        raise ConfigurationError(f"{where}: expected a Guard, got {type(guard).__name__}")
    if not isinstance(policy, Policy):
        raise ConfigurationError(f"{where}: expected a Policy, got {type(policy).__name__}")
    return guard, policy


# -- headers of an admitted request's response -----------------------------------------------------

#: ``(name, value)`` pairs an adapter adds to the application's response.
ExtraHeaders = tuple[tuple[str, str], ...]


def admitted_headers(guard: Guard, authorization: Iterable[str]) -> ExtraHeaders:
    """The headers the response to an admitted request carries, given its ``Authorization``
    lines: the one home of this rule for every adapter.

    With DPoP server nonces on (``DPoP(nonce_secret=...)``), a request admitted with
    ``Authorization: DPoP`` gets the current nonce (RFC 9449 §8.2): the client moves to it before
    the one it used stops being accepted, so a nonce rotation costs no ``use_dpop_nonce`` round
    trip. A response carrying a nonce must not be stored (R9449-22), so ``Cache-Control:
    no-store`` replaces the application's. Otherwise nothing is added.
    """
    dpop = guard.dpop
    if dpop is None or not dpop.nonces:
        return ()
    if not any(line[:5].lower() == "dpop " for line in authorization):
        return ()
    return (("DPoP-Nonce", dpop.new_nonce(guard.clock())), ("Cache-Control", "no-store"))


def asgi_admitted_headers(guard: Guard, scope: Mapping[str, Any]) -> ExtraHeaders:
    """:func:`admitted_headers` for an ASGI scope (its lines are only collected when needed)."""
    if guard.dpop is None or not guard.dpop.nonces:
        return ()
    lines = (v.decode("latin-1") for n, v in scope["headers"] if n == b"authorization")
    return admitted_headers(guard, tuple(lines))


def merged_headers(
    headers: Iterable[tuple[bytes, bytes]], extra: ExtraHeaders
) -> list[tuple[bytes, bytes]]:
    """ASGI response headers with ``extra`` added, replacing the application's of those names."""
    names = {name.lower().encode("latin-1") for name, _ in extra}
    kept = [(name, value) for name, value in headers if name.lower() not in names]
    return kept + [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in extra]


_Message = MutableMapping[str, Any]
_Send = Callable[[_Message], Awaitable[None]]


def sending_with(send: _Send, extra: ExtraHeaders) -> _Send:
    """``send`` adding ``extra`` to the ``http.response.start`` message (ASGI)."""
    if not extra:
        return send

    async def send_with_headers(message: _Message) -> None:
        if message.get("type") == "http.response.start":
            message = {**message, "headers": merged_headers(message.get("headers", ()), extra)}
        await send(message)

    return send_with_headers


def starting_with(start_response: StartResponse, extra: ExtraHeaders) -> StartResponse:
    """``start_response`` adding ``extra`` to the response headers (WSGI)."""
    if not extra:
        return start_response
    names = {name.lower() for name, _ in extra}

    def start_with_headers(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        kept = [(name, value) for name, value in headers if name.lower() not in names]
        return start_response(status, [*kept, *extra], exc_info)

    return start_with_headers
