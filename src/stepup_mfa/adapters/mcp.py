"""Step-up for MCP servers: per-tool policies at the HTTP layer, and verifiers for the MCP SDK.

MCP servers are OAuth resource servers. A tool such as ``transfer_money`` deserves a fresh second
factor, but the SDK's ``TokenVerifier.verify_token(token)`` never sees which tool is called, and a
refusal inside the JSON-RPC answer (a 200) carries no HTTP challenge a client can act on. So the
decision is taken here, in front of the Streamable HTTP endpoint, before dispatch:

- :class:`McpPolicyTable` maps tool names (``tools/call``), resource URIs (``resources/read``),
  prompt names (``prompts/get``) and JSON-RPC methods to policies; everything else meets the
  default (:data:`~stepup_mfa.AUTHENTICATED` unless told otherwise). Written in Python or in TOML
  with the route table's ``[policies.NAME]`` sections::

      default = "authenticated"
      [policies.mfa-60s]
      acr_values = ["urn:example:acr:mfa"]
      max_age = 60
      [tools]
      transfer_money = "mfa-60s"

- :class:`McpStepUpMiddleware` reads each ``POST`` body to the endpoint (bounded: 413 past
  ``max_body``; then replayed to the app byte for byte), finds the method and the name, and asks
  the Guard. A JSON-RPC batch is judged by its strictest member (every member's policy at once).
  When the client sent ``Mcp-Method``/``Mcp-Name`` and they disagree with the body, the request is
  refused with 400 before any policy is looked up: a header that lies must never buy a weaker
  policy (architecture rule 10). Refusals are HTTP answers, shaped by the Guard like every other
  adapter's (401 ``insufficient_user_authentication`` with ``acr_values``/``max_age``, 403
  ``insufficient_scope`` with every required scope, 401 ``invalid_token``, all with
  ``resource_metadata=``); the app never sees the request, so the MCP session lives on. With
  ``metadata=`` it also serves the RFC 9728 document. With ``server=`` (an ``MCPServer``) every
  name in the table must be one the server offers, checked at lifespan start-up.
- :class:`StepUpTokenVerifier` satisfies the SDK's ``TokenVerifier`` protocol (``MCPServer(...,
  token_verifier=...)``) with a Guard's verifier behind it, so the SDK's own bearer middleware
  gets our caches, single flight and fail-closed checks, and ``acr``, ``amr``, ``auth_time``,
  ``iss`` and ``aud`` land in ``AccessToken.claims``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import operator
import os
import re
import warnings
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx2
from mcp.server.auth.provider import AccessToken

from .._core.credentials import RequestView
from .._core.decision import Decision
from .._core.errors import ConfigurationError, InvalidRequest, PolicyWarning, RequestTooLarge
from .._core.paths import non_canonical_reason
from .._core.policy import AUTHENTICATED, Policy
from .._core.principal import Principal
from .._core.resource_metadata import ResourceMetadata
from .._guard import Guard
from .._verify.strict_json import MalformedJSON, loads_strict_json
from ..routes import named_policies, named_policy, read_toml
from ._edge import asgi_view, non_canonical, principal_in, refuse
from .asgi import (
    ASGIApp,
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    admit,
    answer_refusal,
    fail_startup,
    read_body,
    route_path,
)
from .client import StepUpFlow
from .metadata import ResourceMetadataApp

__all__ = [
    "DEFAULT_MAX_BODY",
    "McpPolicyTable",
    "McpStepUpAuth",
    "McpStepUpMiddleware",
    "StepUpTokenVerifier",
    "principal_of",
]

#: The largest JSON-RPC body read to find the tool (4 MiB, the SDK's own limit); a larger one is
#: refused with 413.
DEFAULT_MAX_BODY = 4 << 20
#: The methods that name what they act on, and the ``params`` member holding the name (the value
#: the client mirrors in ``Mcp-Name``).
NAME_BEARING = {"tools/call": "name", "resources/read": "uri", "prompts/get": "name"}
_SECTION_OF = {"tools/call": "tools", "resources/read": "resources", "prompts/get": "prompts"}
_TOP_LEVEL_KEYS = frozenset(
    {"default", "policies", "tools", "resources", "prompts", "methods", "allow_anonymous_default"}
)
_METHOD_NAME = re.compile(r"[A-Za-z0-9_./\-]+")
#: The ``Mcp-Name`` encoding of values a header cannot carry verbatim (``=?base64?...?=``).
_B64_SENTINEL = re.compile(r"=\?base64\?(?P<payload>.*)\?=")

NOT_JSON_RPC = "The request body is not a JSON-RPC message"
HEADER_MISMATCH = "The Mcp-Method or Mcp-Name header does not match the request body"
NO_NAME = "The JSON-RPC request does not name what it calls"


class _Lists(Protocol):
    """What the start-up check asks an ``MCPServer`` for (its public async listings)."""

    async def list_tools(self) -> Any: ...
    async def list_resources(self) -> Any: ...
    async def list_prompts(self) -> Any: ...


class McpPolicyTable:
    """Which policy a JSON-RPC message to an MCP server meets.

    ``tools``, ``resources`` (by URI) and ``prompts`` map names to policies for ``tools/call``,
    ``resources/read`` and ``prompts/get``; ``methods`` maps other JSON-RPC methods (or those
    three, for the names not listed). The rest meets ``default``; an anonymous default warns
    (:class:`~stepup_mfa.PolicyWarning`) unless ``allow_anonymous_default=True``.
    """

    __slots__ = ("default", "methods", "prompts", "resources", "tools")

    def __init__(
        self,
        *,
        tools: Mapping[str, Policy] | None = None,
        resources: Mapping[str, Policy] | None = None,
        prompts: Mapping[str, Policy] | None = None,
        methods: Mapping[str, Policy] | None = None,
        default: Policy = AUTHENTICATED,
        allow_anonymous_default: bool = False,
    ) -> None:
        if not isinstance(default, Policy):
            raise ConfigurationError("McpPolicyTable: default must be a Policy")
        self.tools = _section("tools", tools)
        self.resources = _section("resources", resources)
        self.prompts = _section("prompts", prompts)
        self.methods = _section("methods", methods)
        for method in self.methods:
            if not _METHOD_NAME.fullmatch(method):
                raise ConfigurationError(f"[methods]: {method!r} is not a JSON-RPC method name")
        self.default = default
        if not default.authenticated and not allow_anonymous_default:
            warnings.warn(
                "the MCP policy table's default is anonymous: every tool, resource and prompt it "
                "does not list needs no token. Pass allow_anonymous_default=True (TOML: "
                "allow_anonymous_default = true) if meant.",
                PolicyWarning,
                stacklevel=2,
            )

    def policy_for(self, method: str | None, name: str | None = None) -> Policy:
        """The policy of one message: by its ``name`` (tool, resource URI or prompt) for the
        name-bearing methods, then by its JSON-RPC ``method``."""
        if method is None:  # a JSON-RPC response (to a server's request): the default
            return self.default
        section = _SECTION_OF.get(method)
        if section is not None and name is not None:
            entries: dict[str, Policy] = getattr(self, section)
            policy = entries.get(name)
            if policy is not None:
                return policy
        return self.methods.get(method, self.default)

    @property
    def scopes(self) -> frozenset[str]:
        """Every scope some entry requires (for ``scopes_supported``, R9728-8)."""
        policies = [
            self.default,
            *self.tools.values(),
            *self.resources.values(),
            *self.prompts.values(),
            *self.methods.values(),
        ]
        return frozenset().union(*(policy.scopes for policy in policies))

    def check_names(
        self,
        *,
        tools: Iterable[str] | None = None,
        resources: Iterable[str] | None = None,
        prompts: Iterable[str] | None = None,
    ) -> None:
        """Raise unless every listed name is one the server offers (each kind given is checked).

        A typo (``transfer_mony``) must not leave ``transfer_money`` to the default policy.
        """
        problems: list[str] = []
        for section, offered in (("tools", tools), ("resources", resources), ("prompts", prompts)):
            if offered is None:
                continue
            known = set(offered)
            unknown = sorted(set(getattr(self, section)) - known)
            if unknown:
                problems.append(
                    f"[{section}] names {', '.join(map(repr, unknown))}, which the server does "
                    f"not offer (it offers: {', '.join(sorted(known)) or 'none'})"
                )
        if problems:
            raise ConfigurationError(
                "the MCP policy table does not fit the server: " + "; ".join(problems)
            )

    async def check_server(self, server: _Lists) -> None:
        """:meth:`check_names` with the tools, resources and prompts ``server`` (an
        ``MCPServer``) lists."""
        tools = [tool.name for tool in await server.list_tools()]
        resources = [str(resource.uri) for resource in await server.list_resources()]
        prompts = [prompt.name for prompt in await server.list_prompts()]
        self.check_names(tools=tools, resources=resources, prompts=prompts)

    # -- loading ----------------------------------------------------------------------------------

    @classmethod
    def from_toml(
        cls, path: str | os.PathLike[str], *, policies: Mapping[str, Policy] | None = None
    ) -> McpPolicyTable:
        """Load a table from the TOML file at ``path`` (the route table's ``[policies.NAME]``
        format); ``policies`` adds named policies written in Python."""
        name = os.fspath(path)
        return cls.from_dict(
            read_toml(name, "the MCP policy table"), source=name, policies=policies
        )

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        source: str = "MCP policy table",
        policies: Mapping[str, Policy] | None = None,
    ) -> McpPolicyTable:
        """Build a table from ``data``, parsed TOML (or any mapping of the same shape).

        ``source`` names the table in error messages; ``policies`` adds named policies written in
        Python."""
        unknown = sorted(set(data) - _TOP_LEVEL_KEYS)
        if unknown:
            raise ConfigurationError(f"{source}: unknown top-level keys {unknown}")
        named = named_policies(data, source, policies)
        sections: dict[str, dict[str, Policy]] = {}
        for section in ("tools", "resources", "prompts", "methods"):
            raw = data.get(section, {})
            if not isinstance(raw, Mapping):
                raise ConfigurationError(f"{source}: [{section}] must be a table of names")
            sections[section] = {
                key: named_policy(named, value, f"{source}: [{section}] {key}")
                for key, value in raw.items()
            }
        default = named_policy(named, data.get("default", "authenticated"), f"{source}: default")
        allow_anonymous = data.get("allow_anonymous_default", False)
        if not isinstance(allow_anonymous, bool):
            raise ConfigurationError(f"{source}: allow_anonymous_default must be true or false")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PolicyWarning)  # re-raised below, naming the file
            table = cls(**sections, default=default, allow_anonymous_default=True)
        if not default.authenticated and not allow_anonymous:
            warnings.warn(
                f"{source}: the default is anonymous: every tool the file does not list needs "
                "no token. Add allow_anonymous_default = true to the file if meant.",
                PolicyWarning,
                stacklevel=3,
            )
        return table


def _section(name: str, entries: Mapping[str, Policy] | None) -> dict[str, Policy]:
    if entries is None:
        return {}
    if not isinstance(entries, Mapping):
        raise ConfigurationError(f"McpPolicyTable: {name} must map names to policies")
    checked: dict[str, Policy] = {}
    for key, policy in entries.items():
        if not isinstance(key, str) or not key:
            raise ConfigurationError(f"McpPolicyTable: [{name}] has a name that is not a string")
        if not isinstance(policy, Policy):
            raise ConfigurationError(f"McpPolicyTable: [{name}] {key}: expected a Policy")
        checked[key] = policy
    return checked


# -- reading a JSON-RPC body --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    """One JSON-RPC message as the middleware judges it: its method and, if any, its name."""

    method: str | None
    name: str | None


def calls_in(body: bytes) -> list[Call] | None:
    """The messages of a JSON-RPC body (a batch gives several); ``None`` when it is not one.

    Parsed strictly (duplicate member names refused): a parser that let the last
    ``"name"`` win where the server's lets the first win would judge another tool than the one
    that runs.
    """
    try:
        document = loads_strict_json(body)
    except MalformedJSON:
        return None
    messages = document if isinstance(document, list) else [document]
    if not messages:
        return None
    calls: list[Call] = []
    for message in messages:
        if not isinstance(message, dict):
            return None
        method = message.get("method")
        if method is None:
            calls.append(Call(None, None))  # a response to the server's own request
            continue
        if not isinstance(method, str):
            return None
        key = NAME_BEARING.get(method)
        name: str | None = None
        if key is not None:
            params = message.get("params")
            value = params.get(key) if isinstance(params, dict) else None
            if not isinstance(value, str):
                return None  # the server would refuse it; nothing to judge it by
            name = value
        calls.append(Call(method, name))
    return calls


def decode_header_value(value: str) -> str | None:
    """An ``Mcp-Name`` value as the client meant it: verbatim, or the UTF-8 of a canonical
    ``=?base64?...?=`` payload; ``None`` for a malformed one (it then matches nothing)."""
    match = _B64_SENTINEL.fullmatch(value)
    if match is None:
        return value
    payload = match.group("payload")
    try:
        decoded = base64.b64decode(payload, validate=True)
        if base64.b64encode(decoded).decode("ascii") != payload:
            return None
        return decoded.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def headers_agree(scope: Scope, calls: list[Call]) -> bool:
    """Whether ``Mcp-Method``/``Mcp-Name``, when sent, say what every message says.

    A repeated header line is a disagreement too (which one would the server read?).
    """
    methods: list[str] = []
    names: list[str] = []
    for key, value in scope["headers"]:
        if key == b"mcp-method":
            methods.append(value.decode("latin-1"))
        elif key == b"mcp-name":
            names.append(value.decode("latin-1"))
    if len(methods) > 1 or len(names) > 1:
        return False
    if methods and any(call.method != methods[0] for call in calls):
        return False
    if names:
        name = decode_header_value(names[0])
        if name is None or any(call.name != name for call in calls):
            return False
    return True


def strictest(policies: list[Policy]) -> Policy | None:
    """One policy requiring everything each requires; ``None`` when no single token can meet
    them all (acr values with nothing in common), and each must be checked in turn."""
    distinct = list(dict.fromkeys(policies))
    if len(distinct) == 1:
        return distinct[0]
    try:
        return functools.reduce(operator.and_, distinct)
    except ConfigurationError:
        return None


# -- the middleware -----------------------------------------------------------------------------


class McpStepUpMiddleware:
    """Judges every request to an MCP Streamable HTTP app before the SDK dispatches it.

    ``app`` is the SDK's ASGI app and ``guard`` the :class:`~stepup_mfa.Guard` that decides;
    ``max_body`` bounds the JSON-RPC body read (413 past it).

    ``policies`` is an :class:`McpPolicyTable` or a TOML path; ``path`` the MCP endpoint
    (``/mcp``). ``POST`` bodies to it are judged per message (see the module docstring); other
    requests (the ``GET`` event stream, ``DELETE`` of a session, any other route of the app) meet
    the table's default. ``metadata`` serves the RFC 9728 document at its well-known path, and
    must be the one the Guard's challenges name (``Guard(resource_metadata=metadata.url)``).
    ``server`` (an ``MCPServer``) has the table checked against its tools, resources and prompts
    at lifespan start-up (or the first request); so is ``path`` against the routes of a
    Starlette app (the SDK's), since a body is judged only there. An admitted request carries its
    principal in ``scope["stepup_mfa.principal"]`` and ``scope["state"]["principal"]``.
    """

    __slots__ = (
        "_checked",
        "_metadata_app",
        "app",
        "guard",
        "max_body",
        "path",
        "policies",
        "server",
    )

    def __init__(
        self,
        app: ASGIApp,
        *,
        guard: Guard,
        policies: McpPolicyTable | str | os.PathLike[str],
        path: str = "/mcp",
        metadata: ResourceMetadata | None = None,
        server: _Lists | None = None,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        if not isinstance(guard, Guard):
            raise ConfigurationError(f"McpStepUpMiddleware: guard must be a Guard, got {guard!r}")
        if isinstance(policies, str | os.PathLike):
            policies = McpPolicyTable.from_toml(policies)
        if not isinstance(policies, McpPolicyTable):
            raise ConfigurationError(
                f"McpStepUpMiddleware: policies must be an McpPolicyTable or a TOML path, got "
                f"{policies!r}"
            )
        if not isinstance(path, str) or not path.startswith("/"):
            raise ConfigurationError("McpStepUpMiddleware: path must start with '/'")
        if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 1:
            raise ConfigurationError("McpStepUpMiddleware: max_body must be a positive integer")
        if metadata is not None:
            if not isinstance(metadata, ResourceMetadata):
                raise ConfigurationError("McpStepUpMiddleware: metadata must be a ResourceMetadata")
            if guard.settings.resource_metadata != metadata.url:
                raise ConfigurationError(
                    "McpStepUpMiddleware: the Guard's challenges must name the metadata served "
                    f"here: Guard(..., resource_metadata={metadata.url!r}) (R9728-11)"
                )
        self.app = app
        self.guard = guard
        self.policies = policies
        self.path = path
        self.max_body = max_body
        self.server = server
        self._metadata_app = ResourceMetadataApp(metadata) if metadata is not None else None
        self._checked = False

    async def _check(self) -> None:
        if self._checked:
            return
        routes = getattr(self.app, "routes", None)
        if isinstance(routes, list) and self.path not in set(_route_paths(routes)):
            # The body is judged only at ``path``: an endpoint served elsewhere would run every
            # tool under the default policy.
            raise ConfigurationError(
                f"McpStepUpMiddleware: the app serves no route at path={self.path!r} (its "
                f"routes: {', '.join(sorted(_route_paths(routes))) or 'none'}); pass the SDK's "
                "streamable_http_path"
            )
        if self.server is not None:
            await self.policies.check_server(self.server)
        self._checked = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            if kind == "lifespan" and not self._checked:
                try:
                    await self._check()
                    # R9470-14: the table's acr values against the issuer's (warns, or strict).
                    table = self.policies
                    await self.guard.acheck_acr_values(
                        (
                            *table.tools.values(),
                            *table.resources.values(),
                            *table.prompts.values(),
                            *table.methods.values(),
                            table.default,
                        )
                    )
                except ConfigurationError as error:
                    await fail_startup(receive, send, error)
                    return
            if kind == "lifespan":
                send = self._closing_guard(send)
            await self.app(scope, receive, send)
            return
        if self._metadata_app is not None and self._metadata_app.serves(scope):
            await self._metadata_app(scope, receive, send)
            return
        await self._check()
        guard = self.guard
        path = route_path(scope)
        raw = scope.get("raw_path")
        if non_canonical_reason(path, raw.decode("latin-1") if isinstance(raw, bytes) else None):
            await answer_refusal(guard, scope, send, non_canonical(guard))
            return
        if kind == "http" and path == self.path and scope.get("method", "").upper() == "POST":
            try:
                body, receive = await read_body(receive, self.max_body)
            except ClientDisconnected:
                return
            except RequestTooLarge as error:
                await answer_refusal(guard, scope, send, refuse(guard, error))
                return
            calls = calls_in(body)
            if calls is None:
                await answer_refusal(
                    guard, scope, send, refuse(guard, InvalidRequest(NOT_JSON_RPC))
                )
                return
            if not headers_agree(scope, calls):
                await answer_refusal(
                    guard, scope, send, refuse(guard, InvalidRequest(HEADER_MISMATCH))
                )
                return
            decision = await self._judge(
                scope, [self.policies.policy_for(c.method, c.name) for c in calls]
            )
        else:
            decision = await self._judge(scope, [self.policies.default])
        if decision.allowed:
            admit(scope, decision)
            await self.app(scope, receive, send)
        else:
            await answer_refusal(guard, scope, send, decision)

    def _closing_guard(self, send: Send) -> Send:
        """``send`` for the lifespan: the Guard's own HTTP clients (on this event loop) are
        closed before the server hears that shutdown is complete."""
        guard = self.guard

        async def closing(message: MutableMapping[str, Any]) -> None:
            if message.get("type") == "lifespan.shutdown.complete":
                await guard.aclose()
            await send(message)

        return closing

    async def _judge(self, scope: Scope, policies: list[Policy]) -> Decision:
        view = asgi_view(scope, route_path(scope), mtls=self.guard.mtls)
        policy = strictest(policies)
        if policy is not None:
            return await self.guard.acheck(view, policy)
        first, *others = dict.fromkeys(policies)  # no one policy covers them: each in turn
        decision = await self.guard.acheck(view, first)
        for each in others:
            if not decision.allowed:
                break
            decision = await self.guard.acheck(view, each)
        return decision


def _route_paths(routes: list[Any], prefix: str = "", depth: int = 0) -> list[str]:
    """The full paths of a Starlette app's routes, through ``Mount`` (and nested routers)."""
    paths: list[str] = []
    for route in routes:
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            continue
        inner = getattr(route, "routes", None)
        if isinstance(inner, list) and inner and depth < 8:
            paths += _route_paths(inner, prefix + path, depth + 1)
        else:
            paths.append(prefix + path)
    return paths


def principal_of(ctx: Any) -> Principal | None:
    """The principal :class:`McpStepUpMiddleware` admitted the current call with, from a tool's
    ``ctx: Context`` (``None`` outside an HTTP request, or when nothing was admitted)."""
    request = getattr(ctx.request_context, "request", None)
    scope = getattr(request, "scope", None)
    return principal_in(scope) if isinstance(scope, Mapping) else None


# -- the SDK's TokenVerifier --------------------------------------------------------------------


class StepUpTokenVerifier:
    """The MCP SDK's ``TokenVerifier`` (``MCPServer(auth=..., token_verifier=...)``), backed by
    a :class:`~stepup_mfa.Guard` (``guard``) and its verifier.

    ``verify_token`` checks the token against ``policy`` (a valid token by default) and returns
    the SDK's ``AccessToken`` with ``claims`` holding ``iss``, ``aud``, ``sub``, ``acr``, ``amr``
    and ``auth_time`` (those the token has), so ``ctx``-level code can read how the user logged
    in; ``resource`` is the token's audience entry equal to ``resource`` (RFC 8707), if given.
    Any refusal, an unreachable authorization server included, is ``None``: the protocol has no
    other answer (put :class:`McpStepUpMiddleware` in front for step-up challenges and 503s).
    """

    __slots__ = ("guard", "policy", "resource")

    def __init__(
        self, guard: Guard, *, policy: Policy = AUTHENTICATED, resource: str | None = None
    ) -> None:
        checked_verifier_arguments(guard, policy, "StepUpTokenVerifier")
        self.guard = guard
        self.policy = policy
        self.resource = resource

    async def verify_token(self, token: str) -> AccessToken | None:
        """The SDK's hook: ``token``'s ``AccessToken``, or ``None`` for any refusal."""
        decision = await check_token(self.guard, self.policy, token)
        if not decision.allowed:
            return None
        principal = decision.principal
        if principal is None:
            return None
        return access_token(token, principal, self.resource)


async def check_token(guard: Guard, policy: Policy, token: str) -> Decision:
    """The Guard's decision on a bare token, for the SDKs' verifier slots.

    The SDK's middleware already took the token from the request: the view carries it alone,
    over the transport the server reported (the scheme check is the server's)."""
    return await guard.acheck(
        RequestView("POST", "/", ("Bearer " + token,), scheme="https"), policy
    )


def checked_verifier_arguments(guard: object, policy: object, where: str) -> None:
    """Refuse, at construction, a verifier adapter without a Guard or with a policy needing no
    token (it would admit anything)."""
    if not isinstance(guard, Guard):
        raise ConfigurationError(f"{where}: guard must be a Guard, got {guard!r}")
    if not isinstance(policy, Policy) or not policy.authenticated:
        raise ConfigurationError(f"{where}: policy must be a Policy needing a token")


def access_token(token: str, principal: Principal, resource: str | None = None) -> AccessToken:
    """The SDK's ``AccessToken`` for a verified principal, step-up facts in ``claims``."""
    claims: dict[str, Any] = {
        "iss": principal.issuer,
        "aud": list(principal.audience),
        "sub": principal.subject,
        "acr": principal.acr,
        "amr": list(principal.amr),
        "auth_time": principal.auth_time,
    }
    audience = principal.audience
    return AccessToken(
        token=token,
        client_id=principal.client_id or principal.subject or "",
        scopes=sorted(principal.scopes),
        expires_at=int(principal.expires_at) if principal.expires_at is not None else None,
        resource=resource
        if resource in audience
        else (audience[0] if len(audience) == 1 else None),
        subject=principal.subject,
        claims={key: value for key, value in claims.items() if value not in (None, [])},
    )


# -- the client side ----------------------------------------------------------------------------


class McpStepUpAuth(StepUpFlow, httpx2.Auth):
    """The step-up auth flow (:class:`~stepup_mfa.adapters.client.StepUpFlow`) for ``httpx2``
    clients, the MCP SDK's: ``streamable_http_client(url, http_client=httpx2.AsyncClient(
    auth=McpStepUpAuth(token, reauthenticate)))``."""
