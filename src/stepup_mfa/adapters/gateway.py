"""A forward-auth server: step-up in front of any service, for nginx, Caddy, Traefik and Envoy.

The proxy asks the gateway about each request before it routes it (nginx ``auth_request``, Caddy
``forward_auth``, Traefik ``ForwardAuth``, Envoy ``ext_authz`` HTTP service). The gateway finds
the original method and request target in what the proxy sends, looks the policy up in a
:class:`~stepup_mfa.routes.RouteTable` and asks the :class:`~stepup_mfa.Guard`, exactly as the raw
ASGI middleware does in-process:

- allowed: ``200`` with identity headers for the upstream (subject, scopes, acr, amr,
  auth_time; names configurable, see :class:`IdentityHeaders`);
- refused: the Guard's own refusal, the same status, ``WWW-Authenticate`` and body an in-process
  adapter sends (``401`` step-up, ``403 insufficient_scope``, ``401 invalid_token``, ``503`` with
  ``Retry-After`` when the authorization server cannot be reached).

**Which protocol** is chosen per deployment (``protocol=``), never sniffed from the request: a
client that can reach the gateway through the proxy must not be able to pick the headers that are
believed.

- ``nginx``: ``X-Original-Method`` and ``X-Original-URI``, which the documented configuration
  sets to ``$request_method`` and ``$request_uri``;
- ``caddy`` and ``traefik``: ``X-Forwarded-Method`` and ``X-Forwarded-Uri``, which
  ``forward_auth`` and ``ForwardAuth`` set;
- ``envoy``: the check request's own method, and its path after ``envoy_prefix`` (Envoy's
  ``http_service.path_prefix``), query included.

Every protocol reads the scheme from ``X-Forwarded-Proto`` (for ``Guard(require_https=True)``)
and the token from the ``Authorization`` header the proxy passes through.

**The path judged** (BIND-3, GW-3): each proxy is given the *raw* request target (nginx
``$request_uri``, Caddy and Traefik ``X-Forwarded-Uri``, Envoy ``:path``), which the gateway
decodes the way an ASGI server does. What a proxy routes on is its normalised form (nginx
``$uri``: percent-decoded, ``//`` merged, dot segments resolved), and what the upstream receives
is the raw form again (``proxy_pass`` without a URI): both agree with the decoded raw target
exactly when it is canonical. So a target that any of them could read differently (control
characters, ``//``, dot segments however encoded, ``%2F``, a backslash, double encoding) is
refused with ``400 invalid_request`` by the one canonical-path rule, ``_core/paths.py``; the
decoded ``$uri`` itself is never passed, because judging the normalised form while the upstream
routes on the raw one would judge a second description of the request.

**Trust** (GW-5): the forwarded headers are believed only because only the proxy can reach the
gateway: ``stepup-mfa gateway`` binds to 127.0.0.1 (or a unix socket) by default. A
``shared_secret`` adds a header the proxy must send, compared in constant time; a request
without it gets ``403`` before anything else is read.
"""

from __future__ import annotations

import hmac
import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Literal
from urllib.parse import quote, unquote

from .._core.credentials import RequestView
from .._core.decision import Decision
from .._core.errors import ConfigurationError, InvalidRequest
from .._core.principal import Principal
from .._guard import Denial, Guard
from .._observe import log_fields
from ..routes import RouteTable
from ._edge import (
    is_preflight,
    middleware_arguments,
    non_canonical,
    raw_policy,
    refusal_for,
    refuse,
)
from .asgi import Message, Receive, Scope, Send, send_denial

__all__ = [
    "PROTOCOLS",
    "ForwardAuthGateway",
    "ForwardedRequest",
    "GatewayProtocol",
    "IdentityHeaders",
]

logger = logging.getLogger("stepup_mfa")

#: The proxies whose authorization subrequests the gateway understands.
GatewayProtocol = Literal["nginx", "caddy", "traefik", "envoy"]
#: Every :data:`GatewayProtocol`, in the order the documentation lists them.
PROTOCOLS: tuple[GatewayProtocol, ...] = ("nginx", "caddy", "traefik", "envoy")

#: (method header, target header) of the protocols that forward the request in headers
_FORWARDED_BY: Mapping[str, tuple[bytes, bytes]] = {
    "nginx": (b"x-original-method", b"x-original-uri"),
    "caddy": (b"x-forwarded-method", b"x-forwarded-uri"),
    "traefik": (b"x-forwarded-method", b"x-forwarded-uri"),
}
#: The fixed ``error_description`` when the proxy did not say which request to judge.
NOT_FORWARDED = "The forward-auth request does not name the original request"
UNTRUSTED = b"The forward-auth caller is not trusted"
#: RFC 9110 §5.1 field-name, and §9.1 method: both are tokens.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: What an identity header value may carry unescaped: visible ASCII except ``%``. Anything else
#: (spaces inside a value, control characters, non-ASCII) is percent-encoded as UTF-8, so no
#: claim can break a header line, and values decode with ``urllib.parse.unquote``.
_VISIBLE = "".join(chr(code) for code in range(0x21, 0x7F) if chr(code) != "%")


@dataclass(frozen=True, slots=True)
class IdentityHeaders:
    """The names of the headers that tell the upstream who was admitted.

    ``subject`` carries ``sub``, ``scopes`` the granted scopes, ``acr`` and ``amr`` how the user
    authenticated, ``auth_time`` when.

    On every ``200`` the gateway sends all five, empty when there is nothing to say (an anonymous
    route, a token without ``acr``): proxies that copy them onto the upstream request (Traefik
    ``authResponseHeaders``, Envoy ``allowed_upstream_headers``) then overwrite any copy the
    client sent. Values are percent-encoded outside visible ASCII; scopes (sorted) and amr values
    (in token order) are separated by single spaces; ``auth_time`` is whole seconds since the
    epoch.
    """

    subject: str = "X-Auth-Subject"
    scopes: str = "X-Auth-Scopes"
    acr: str = "X-Auth-Acr"
    amr: str = "X-Auth-Amr"
    auth_time: str = "X-Auth-Time"

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for field in fields(self):
            name = getattr(self, field.name)
            if not isinstance(name, str) or not _TOKEN.fullmatch(name):
                raise ConfigurationError(f"identity header {field.name}: {name!r} is not a name")
            if name.lower() in seen:
                raise ConfigurationError(f"identity header {name!r} is named twice")
            seen.add(name.lower())

    @property
    def names(self) -> tuple[str, ...]:
        return (self.subject, self.scopes, self.acr, self.amr, self.auth_time)

    def for_principal(self, principal: Principal | None) -> list[tuple[bytes, bytes]]:
        """The five headers for ``principal`` (all empty for ``None``), as ASGI header pairs."""
        values = ("", "", "", "", "")
        if principal is not None:
            auth_time = principal.auth_time
            values = (
                _escaped(principal.subject or ""),
                " ".join(sorted(_escaped(scope) for scope in principal.scopes)),
                _escaped(principal.acr or ""),
                " ".join(_escaped(method) for method in principal.amr),
                str(int(auth_time)) if auth_time is not None and math.isfinite(auth_time) else "",
            )
        return [
            (name.lower().encode("latin-1"), value.encode("ascii"))
            for name, value in zip(self.names, values, strict=True)
        ]


@dataclass(frozen=True, slots=True)
class ForwardedRequest:
    """The request the proxy asks about: its ``method``, its ``path`` (decoded, as routers see it),
    the ``raw_path`` and ``query`` as they arrived, and the ``scheme`` the proxy reports."""

    method: str
    path: str
    raw_path: str
    query: str
    scheme: str


def _escaped(value: str) -> str:
    return quote(value, safe=_VISIBLE)


class ForwardAuthGateway:
    """The ASGI application answering a proxy's authorization subrequests.

    ``guard`` decides each request; ``identity_headers`` names the headers that tell the upstream
    who was admitted (:class:`IdentityHeaders`' defaults when ``None``).

    ``routes`` is a :class:`RouteTable` or the path of a TOML file; it is matched the way the raw
    middleware matches it (exact paths, then patterns; non-canonical paths refused first).
    ``protocol`` says which proxy asks (see the module docstring). ``envoy_prefix`` is Envoy's
    ``path_prefix`` (``""`` when none is set). ``shared_secret``, when given, must arrive in
    ``secret_header`` on every request.
    """

    __slots__ = (
        "_method_header",
        "_secret",
        "_secret_header",
        "_target_header",
        "envoy_prefix",
        "guard",
        "identity_headers",
        "protocol",
        "routes",
    )

    def __init__(
        self,
        *,
        guard: Guard,
        routes: RouteTable | str | os.PathLike[str],
        protocol: GatewayProtocol,
        identity_headers: IdentityHeaders | None = None,
        shared_secret: str | None = None,
        secret_header: str = "X-Stepup-Gateway-Secret",
        envoy_prefix: str = "",
    ) -> None:
        guard, routes = middleware_arguments(guard, routes, "ForwardAuthGateway")
        if protocol not in PROTOCOLS:
            raise ConfigurationError(
                f"ForwardAuthGateway: protocol must be one of {', '.join(PROTOCOLS)}, "
                f"got {protocol!r}"
            )
        if guard.token_methods.body:
            raise ConfigurationError(
                "ForwardAuthGateway: proxies do not send the request body to a forward-auth "
                "server, so the form-body token method cannot be enabled"
            )
        if identity_headers is not None and not isinstance(identity_headers, IdentityHeaders):
            raise ConfigurationError(
                "ForwardAuthGateway: identity_headers must be an IdentityHeaders, got "
                f"{identity_headers!r}"
            )
        if shared_secret is not None and (not isinstance(shared_secret, str) or not shared_secret):
            raise ConfigurationError("ForwardAuthGateway: shared_secret must be a non-empty string")
        if not _TOKEN.fullmatch(secret_header):
            raise ConfigurationError(f"ForwardAuthGateway: {secret_header!r} is not a header name")
        if envoy_prefix and (
            not envoy_prefix.startswith("/")
            or envoy_prefix.endswith("/")
            or not _TOKEN.fullmatch(envoy_prefix.replace("/", ""))
        ):
            raise ConfigurationError(
                "ForwardAuthGateway: envoy_prefix must be like '/authz' (no trailing slash)"
            )
        routes.check_raw()  # no router to ask: every entry must match as a plain path (BIND-3)
        self.guard = guard
        self.routes = routes
        self.protocol: GatewayProtocol = protocol
        self.identity_headers = identity_headers or IdentityHeaders()
        self.envoy_prefix = envoy_prefix
        self._secret = shared_secret.encode("utf-8") if shared_secret is not None else None
        self._secret_header = secret_header.lower().encode("latin-1")
        self._method_header, self._target_header = _FORWARDED_BY.get(protocol, (b"", b""))

    # -- reading the subrequest -----------------------------------------------------------------

    def forwarded(
        self, scope: Scope, headers: Mapping[bytes, list[str]]
    ) -> ForwardedRequest | None:
        """The original request, as this protocol forwards it in the subrequest's ASGI ``scope``
        and ``headers``; ``None`` when the subrequest does not name exactly one method and one
        origin-form target (GW-4)."""
        if self.protocol == "envoy":
            method = scope.get("method", "")
            raw = scope.get("raw_path")
            raw_path = raw.decode("latin-1") if isinstance(raw, bytes) else scope["path"]
            if self.envoy_prefix:
                if not raw_path.startswith(self.envoy_prefix + "/"):
                    return None
                raw_path = raw_path[len(self.envoy_prefix) :]
            query = scope.get("query_string", b"").decode("latin-1")
        else:
            methods = headers.get(self._method_header, [])
            targets = headers.get(self._target_header, [])
            if len(methods) != 1 or len(targets) != 1:
                return None
            method = methods[0]
            raw_path, _, query = targets[0].partition("?")
        if not _TOKEN.fullmatch(method) or not raw_path.startswith("/"):
            return None
        protos = headers.get(b"x-forwarded-proto", [])
        scheme = protos[0].strip().lower() if len(protos) == 1 else ""
        return ForwardedRequest(method, unquote(raw_path), raw_path, query, scheme)

    def _trusted(self, headers: Mapping[bytes, list[str]]) -> bool:
        if self._secret is None:
            return True
        sent = headers.get(self._secret_header, [])
        given = sent[0].encode("latin-1") if len(sent) == 1 else b""
        return hmac.compare_digest(given, self._secret)

    # -- ASGI -----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            await send({"type": "websocket.close", "code": 1008, "reason": ""})
            return
        headers: dict[bytes, list[str]] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, []).append(value.decode("latin-1"))
        if not self._trusted(headers):
            logger.warning(
                "forward-auth request without the shared secret refused",
                extra=log_fields("gateway_untrusted", protocol=self.protocol),
            )
            await send_denial(send, _untrusted())
            return
        accept = headers.get(b"accept", [None])[0]
        original = self.forwarded(scope, headers)
        guard = self.guard
        if original is None:
            logger.warning(
                "forward-auth request does not name the original request (protocol %s)",
                self.protocol,
                extra=log_fields("gateway_not_forwarded", protocol=self.protocol),
            )
            refused = refuse(guard, InvalidRequest(NOT_FORWARDED))
            await send_denial(send, refusal_for(guard, refused, accept, "GET"))
            return
        method = original.method
        preflight = is_preflight(
            method, b"origin" in headers, b"access-control-request-method" in headers
        )
        policy = raw_policy(self.routes, method, original.path, original.raw_path, preflight)
        decision: Decision
        if policy is None:
            decision = non_canonical(guard)
        else:
            view = RequestView(
                method,
                original.path,
                tuple(headers.get(b"authorization", ())),
                original.query,
                None,
                None,
                original.scheme,
            )
            decision = await guard.acheck(view, policy)
        if decision.allowed:
            await self._allow(send, decision)
        else:
            await send_denial(send, refusal_for(guard, decision, accept, method))

    async def _allow(self, send: Send, decision: Decision) -> None:
        headers = self.identity_headers.for_principal(decision.principal)
        headers += [(b"cache-control", b"no-store"), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message: Message = await receive()
            if message["type"] == "lifespan.startup":
                try:  # metadata and keys now, so that the first request does not wait for them
                    await self.guard.astartup()
                except Exception as error:  # the first request tries again (and fails closed)
                    logger.warning(
                        "gateway start-up could not reach the issuer: %s",
                        error,
                        extra=log_fields(
                            "gateway_startup_unavailable", error_type=type(error).__name__
                        ),
                    )
                try:  # R9470-14: the table's acr values against the issuer's
                    await self.guard.acheck_acr_values(self.routes.policies())
                except ConfigurationError as error:
                    await self.guard.aclose()
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.guard.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _untrusted() -> Denial:
    """GW-5: the answer to a caller without the shared secret. Not an OAuth refusal (the client's
    token is not judged), so no challenge: the proxy is misconfigured or bypassed."""
    headers = (("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store"))
    return Denial(403, headers, UNTRUSTED)
