"""Route tables: which policy guards which (method, path), for the WSGI and ASGI middlewares.

The seed scenario is "an endpoint list with different kinds of security". A :class:`RouteTable`
is that list, written in Python or loaded from a TOML file so that the people who own security
policy can change it without touching handlers. Everything is validated when the table is built
(start-up), so a typo fails loudly before the first request, naming the entry at fault.

Matching, cheapest first because the middlewares call it on every request:

1. exact paths, looked up in a dict (no per-request allocation);
2. patterns (``/users/{id}/``, ``/files/{rest:path}``), in the order they were declared;
3. the table's default policy, :data:`~stepup_mfa.AUTHENTICATED` unless the user says otherwise
   (secure by default: a route nobody listed still needs a valid token).

A ``GET`` entry also covers ``HEAD`` (the same resource, so the same requirement); ``*`` matches
every method. CORS preflight requests (``OPTIONS`` with ``Origin`` and
``Access-Control-Request-Method``) carry no credentials by design (Fetch standard), so they get
:data:`~stepup_mfa.ANONYMOUS` unless ``cors_preflight=False``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._core.errors import ConfigurationError
from ._core.policy import ANONYMOUS, AUTHENTICATED, Policy

__all__ = ["Route", "RouteTable"]

ANY_METHOD = "*"
_METHOD = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::(path))?\}")
#: Keys a ``[policies.NAME]`` table may hold: the keyword arguments of :class:`Policy` that
#: can be written as data (``rules`` are code, so they stay in Python).
_POLICY_KEYS = frozenset(
    {"authenticated", "scopes", "acr_values", "amr", "max_age", "max_cache_age"}
)
_BUILTIN_POLICIES: Mapping[str, Policy] = {"anonymous": ANONYMOUS, "authenticated": AUTHENTICATED}


@dataclass(frozen=True, slots=True)
class Route:
    """One entry: ``methods`` (``"GET"``, ``"GET,POST"``, a list, or ``"*"``), a path and a policy.

    ``path`` is exact (``/cats/``) or a pattern whose ``{name}`` matches one path segment and
    ``{name:path}`` the rest of the path, slashes included.
    """

    methods: str | Sequence[str]
    path: str
    policy: Policy


class RouteTable:
    """Maps (method, path) to a :class:`Policy`; see the module docstring for the rules."""

    __slots__ = ("_default", "_exact", "_patterns", "cors_preflight", "routes")

    def __init__(
        self,
        routes: Iterable[Route] = (),
        *,
        default: Policy = AUTHENTICATED,
        cors_preflight: bool = True,
    ) -> None:
        if not isinstance(default, Policy):
            raise ConfigurationError("default must be a Policy")
        self.routes: tuple[Route, ...] = tuple(routes)
        self.cors_preflight = bool(cors_preflight)
        self._default = default
        self._exact: dict[str, dict[str, Policy]] = {}
        self._patterns: list[tuple[re.Pattern[str], frozenset[str], Policy]] = []
        seen: set[tuple[str, str]] = set()
        for index, route in enumerate(self.routes):
            where = f"route {index} ({_describe(route)})"
            if not isinstance(route, Route):
                raise ConfigurationError(f"route {index}: expected a Route, got {route!r}")
            if not isinstance(route.policy, Policy):
                raise ConfigurationError(f"{where}: policy must be a Policy")
            methods = _methods(route.methods, where)
            pattern = _compile(route.path, where)
            for method in methods:
                if (method, route.path) in seen:
                    raise ConfigurationError(f"{where}: {method} {route.path} is listed twice")
                seen.add((method, route.path))
            if pattern is None:
                by_method = self._exact.setdefault(route.path, {})
                for method in methods:
                    by_method[method] = route.policy
            else:
                self._patterns.append((pattern, methods, route.policy))
        # HEAD asks for the same resource as GET: never let it through more cheaply.
        for by_method in self._exact.values():
            if "GET" in by_method and "HEAD" not in by_method:
                by_method["HEAD"] = by_method["GET"]
        self._patterns = [
            (p, m | {"HEAD"} if "GET" in m else m, policy) for p, m, policy in self._patterns
        ]

    @property
    def default(self) -> Policy:
        """The policy of every request that no route matches."""
        return self._default

    def policy_for(self, method: str, path: str, *, preflight: bool = False) -> Policy:
        """The policy for a request; ``preflight``: it is a CORS preflight request.

        ``method`` is compared in upper case: HTTP methods are case-sensitive (RFC 9110 §9.1),
        but werkzeug and Django upper-case the method before routing, so ``get`` reaches the
        ``GET`` handler and must meet the ``GET`` policy.
        """
        if preflight and self.cors_preflight:
            return ANONYMOUS
        method = method.upper()
        by_method = self._exact.get(path)
        if by_method is not None:
            policy = by_method.get(method) or by_method.get(ANY_METHOD)
            if policy is not None:
                return policy
        for pattern, methods, policy in self._patterns:
            if (method in methods or ANY_METHOD in methods) and pattern.fullmatch(path):
                return policy
        return self._default

    # -- loading ----------------------------------------------------------------------------------

    @classmethod
    def from_toml(
        cls,
        path: str | os.PathLike[str],
        *,
        policies: Mapping[str, Policy] | None = None,
        cors_preflight: bool = True,
    ) -> RouteTable:
        """Load a table from a TOML file; raises :class:`~stepup_mfa.ConfigurationError`.

        ``policies`` adds named policies defined in Python (for example with ``rules``), which
        the file's routes may then name. See ``docs/policies.md`` for the file format.
        """
        name = os.fspath(path)
        try:
            with open(name, "rb") as file:
                data = tomllib.load(file)
        except OSError as error:
            raise ConfigurationError(f"{name}: cannot read the route table ({error})") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigurationError(f"{name}: invalid TOML: {error}") from None
        return cls.from_dict(data, source=name, policies=policies, cors_preflight=cors_preflight)

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        source: str = "route table",
        policies: Mapping[str, Policy] | None = None,
        cors_preflight: bool = True,
    ) -> RouteTable:
        """Build a table from parsed TOML (or JSON, or any mapping of the same shape)."""
        unknown = sorted(set(data) - {"default", "policies", "routes"})
        if unknown:
            raise ConfigurationError(f"{source}: unknown top-level keys {unknown}")
        named: dict[str, Policy] = {**_BUILTIN_POLICIES, **(policies or {})}
        raw_policies = data.get("policies", {})
        if not isinstance(raw_policies, Mapping):
            raise ConfigurationError(f"{source}: [policies] must be a table")
        for policy_name, spec in raw_policies.items():
            where = f"{source}: [policies.{policy_name}]"
            if policy_name in named:
                raise ConfigurationError(f"{where}: the name {policy_name!r} is already defined")
            named[policy_name] = _policy(policy_name, spec, where)

        def lookup(policy_name: object, where: str) -> Policy:
            if not isinstance(policy_name, str) or policy_name not in named:
                known = ", ".join(sorted(named))
                raise ConfigurationError(
                    f"{where}: unknown policy {policy_name!r} (known: {known})"
                )
            return named[policy_name]

        default = lookup(data.get("default", "authenticated"), f"{source}: default")
        raw_routes = data.get("routes", [])
        if not isinstance(raw_routes, list):
            raise ConfigurationError(f"{source}: routes must be an array of tables [[routes]]")
        routes: list[Route] = []
        for index, entry in enumerate(raw_routes):
            where = f"{source}: routes[{index}]"
            if not isinstance(entry, Mapping):
                raise ConfigurationError(f"{where}: expected a table")
            extra = sorted(set(entry) - {"match", "policy"})
            if extra:
                raise ConfigurationError(f"{where}: unknown keys {extra}")
            match = entry.get("match")
            if not isinstance(match, str) or " " not in match.strip():
                raise ConfigurationError(f'{where}: match must look like "GET /cats/"')
            methods, _, route_path = match.strip().partition(" ")
            where = f"{where} ({match.strip()})"
            route = Route(
                methods.split(","), route_path.strip(), lookup(entry.get("policy"), where)
            )
            _methods(route.methods, where)
            _compile(route.path, where)
            routes.append(route)
        try:
            return cls(routes, default=default, cors_preflight=cors_preflight)
        except ConfigurationError as error:
            raise ConfigurationError(f"{source}: {error}") from None


def _describe(route: object) -> str:
    if isinstance(route, Route):
        methods = route.methods if isinstance(route.methods, str) else ",".join(route.methods)
        return f"{methods} {route.path}"
    return repr(route)


def _methods(value: str | Sequence[str], where: str) -> frozenset[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    methods = frozenset(item.strip().upper() if isinstance(item, str) else item for item in items)
    if not methods or not all(
        isinstance(m, str) and (m == ANY_METHOD or _METHOD.fullmatch(m)) for m in methods
    ):
        raise ConfigurationError(f"{where}: methods must be HTTP method names or '*'")
    return methods


def _compile(path: object, where: str) -> re.Pattern[str] | None:
    """``None`` for an exact path; a compiled regex for a pattern."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise ConfigurationError(f"{where}: the path must start with '/'")
    if "{" not in path and "}" not in path:
        return None
    parts: list[str] = []
    position = 0
    names: set[str] = set()
    for param in _PARAM.finditer(path):
        parts.append(re.escape(path[position : param.start()]))
        if param.group(1) in names:
            raise ConfigurationError(f"{where}: {{{param.group(1)}}} appears twice")
        names.add(param.group(1))
        parts.append(".*" if param.group(2) else "[^/]+")
        position = param.end()
    tail = path[position:]
    if "{" in tail or "}" in tail or any("{" in p or "}" in p for p in parts):
        raise ConfigurationError(f"{where}: bad pattern {path!r}; use {{name}} or {{name:path}}")
    parts.append(re.escape(tail))
    return re.compile("".join(parts))


def _policy(name: str, spec: object, where: str) -> Policy:
    """A ``[policies.NAME]`` table as a :class:`Policy` named ``NAME`` (the name shows in logs)."""
    if not isinstance(spec, Mapping):
        raise ConfigurationError(f"{where}: expected a table")
    unknown = sorted(set(spec) - _POLICY_KEYS)
    if unknown:
        raise ConfigurationError(f"{where}: unknown keys {unknown}")
    try:
        return Policy(**spec, name=name)
    except ConfigurationError as error:
        raise ConfigurationError(f"{where}: {error}") from None
    except TypeError as error:  # a list where a number belongs, and the like
        raise ConfigurationError(f"{where}: {error}") from None
