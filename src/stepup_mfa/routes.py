"""Route tables: which policy guards which route, for the WSGI and ASGI middlewares.

The seed scenario is "an endpoint list with different kinds of security". A :class:`RouteTable`
is that list, written in Python or loaded from a TOML file so that the people who own security
policy can change it without touching handlers. Everything is validated when the table is built
(start-up), so a typo fails loudly before the first request, naming the entry at fault.

An entry names a route by its declared path template, in Starlette's syntax (``/users/{id:int}``)
or werkzeug's (``/users/<int:id>``); both spell the same key (:func:`template_key`). How a request
finds its entry depends on what the middleware knows of the app (architecture rule 10, BIND-1):

- **Route-aware** (Starlette, FastAPI, Flask): the framework's own router says which route the
  request reaches, and the table bound to the app's routes (:meth:`RouteTable.bind`) looks that
  route's template up. No spelling of the path can reach a handler under another entry, and an
  entry that names no route of the app is an error at start-up.
- **Raw** (any other ASGI/WSGI app): :meth:`RouteTable.policy_for` matches the path itself, exact
  paths first (a dict lookup), then patterns in the order declared; the middlewares refuse
  non-canonical paths before that (BIND-3), so the string matched is the string routed.

A request that reaches no route gets the table's default policy,
:data:`~stepup_mfa.AUTHENTICATED` unless the user says otherwise (secure by default: a route
nobody listed still needs a valid token). An anonymous default gives a :class:`PolicyWarning`
unless ``allow_anonymous_default=True`` says it is meant.

A ``GET`` entry also covers ``HEAD`` (the same resource, so the same requirement); ``*`` matches
every method. CORS preflight requests (``OPTIONS`` with ``Origin`` and
``Access-Control-Request-Method``) carry no credentials by design (Fetch standard), so they get
:data:`~stepup_mfa.ANONYMOUS` unless ``cors_preflight=False``.
"""

from __future__ import annotations

import os
import re
import tomllib
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._core.errors import ConfigurationError, PolicyWarning
from ._core.policy import ANONYMOUS, AUTHENTICATED, Policy

__all__ = ["KNOWN_METHODS", "Route", "RouteBinding", "RouteTable", "template_key"]

ANY_METHOD = "*"
#: RFC 9110 §9 methods and PATCH (RFC 5789). Others must be declared (``extra_methods``), so a
#: misspelt ``POTS`` is an error at start-up instead of an entry no request ever meets.
KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)
_METHOD = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token
#: A path parameter in Starlette's syntax (``{name}``, ``{name:int}``) or werkzeug's (``<name>``,
#: ``<int:name>``, ``<string(length=2):name>``).
_PARAM = re.compile(
    r"\{(?P<s_name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<s_conv>[A-Za-z_][A-Za-z0-9_]*))?\}"
    r"|<(?:(?P<w_conv>[A-Za-z_][A-Za-z0-9_]*(?:\([^()<>]*\))?):)?(?P<w_name>[A-Za-z_][A-Za-z0-9_]*)>"
)
#: Convertor names that mean "one path segment" in either framework.
_SEGMENT_CONVERTORS = frozenset({"", "str", "string", "default"})
#: What a raw middleware (no router to ask) can match a parameter with.
_RAW_PATTERNS: Mapping[str, str] = {
    "": "[^/]+",
    "path": ".*",
    "int": "[0-9]+",
    "float": r"[0-9]+(?:\.[0-9]+)?",
    "uuid": "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
}
#: Keys a ``[policies.NAME]`` table may hold: the keyword arguments of :class:`Policy` that
#: can be written as data (``rules`` are code, so they stay in Python).
_POLICY_KEYS = frozenset(
    {
        "authenticated",
        "scopes",
        "acr_values",
        "amr",
        "max_age",
        "max_cache_age",
        "require_bound_token",
    }
)
_TOP_LEVEL_KEYS = frozenset(
    {"default", "policies", "routes", "extra_methods", "allow_anonymous_default"}
)
_BUILTIN_POLICIES: Mapping[str, Policy] = {"anonymous": ANONYMOUS, "authenticated": AUTHENTICATED}

#: The methods a served route answers; ``None``: the route dispatches every method itself.
ServedMethods = frozenset[str] | None


@dataclass(frozen=True, slots=True)
class Route:
    """One entry: ``methods`` (``"GET"``, ``"GET,POST"``, a list, or ``"*"``), a ``path`` and the
    ``policy`` requests to it must meet.

    ``path`` is the route's path template as the app declares it: exact (``/cats/``) or with
    parameters, ``{name}``/``{name:int}``/``{name:path}`` or ``<name>``/``<int:name>``/
    ``<path:name>``.
    """

    methods: str | Sequence[str]
    path: str
    policy: Policy


def template_key(template: str) -> str:
    """The key that identifies a path ``template`` whichever syntax spells it.

    Parameter names do not matter, convertors do: ``/u/{id:int}`` and ``/u/<int:user>`` are both
    ``/u/{:int}``; ``{id}``, ``{id:str}``, ``<id>`` and ``<string:id>`` are all ``{}``.
    """
    parts: list[str] = []
    position = 0
    for param in _PARAM.finditer(template):
        parts.append(template[position : param.start()])
        convertor = _convertor(param)
        parts.append("{}" if convertor in _SEGMENT_CONVERTORS else "{:" + convertor + "}")
        position = param.end()
    parts.append(template[position:])
    return "".join(parts)


def _convertor(param: re.Match[str]) -> str:
    return param.group("s_conv") or param.group("w_conv") or ""


@dataclass(frozen=True, slots=True)
class _Entry:
    where: str
    methods: frozenset[str]
    key: str
    policy: Policy


class RouteTable:
    """Maps a request's route (or, for raw apps, its path) and method to a :class:`Policy`.

    ``routes`` are the :class:`Route` entries; a request that reaches none of them meets
    ``default``. ``cors_preflight=False`` judges CORS preflights like any other request instead of
    letting them through anonymously.

    ``extra_methods`` declares methods beyond :data:`KNOWN_METHODS` (WebDAV's ``PROPFIND``...).
    ``allow_anonymous_default`` silences the :class:`PolicyWarning` an anonymous default gives.
    See the module docstring for how requests are matched.
    """

    __slots__ = (
        "_by_key",
        "_default",
        "_entries",
        "_exact",
        "_patterns",
        "_raw_unmatchable",
        "cors_preflight",
        "routes",
    )

    def __init__(
        self,
        routes: Iterable[Route] = (),
        *,
        default: Policy = AUTHENTICATED,
        cors_preflight: bool = True,
        extra_methods: Iterable[str] = (),
        allow_anonymous_default: bool = False,
    ) -> None:
        if not isinstance(default, Policy):
            raise ConfigurationError("default must be a Policy")
        if isinstance(extra_methods, str):
            raise ConfigurationError("extra_methods must be a list of method names")
        extra = list(extra_methods)
        known = KNOWN_METHODS | (_methods(extra, "extra_methods", None) if extra else frozenset())
        self.routes: tuple[Route, ...] = tuple(routes)
        self.cors_preflight = bool(cors_preflight)
        self._default = default
        self._entries: list[_Entry] = []
        self._by_key: dict[str, dict[str, Policy]] = {}
        self._exact: dict[str, dict[str, Policy]] = {}
        self._patterns: list[tuple[re.Pattern[str], frozenset[str], Policy]] = []
        self._raw_unmatchable: list[str] = []
        for index, route in enumerate(self.routes):
            where = f"route {index} ({_describe(route)})"
            if not isinstance(route, Route):
                raise ConfigurationError(f"route {index}: expected a Route, got {route!r}")
            if not isinstance(route.policy, Policy):
                raise ConfigurationError(f"{where}: policy must be a Policy")
            methods = _methods(route.methods, where, known)
            key = _checked_template(route.path, where)
            by_method = self._by_key.setdefault(key, {})
            for method in methods:
                if method in by_method:
                    raise ConfigurationError(f"{where}: {method} {route.path} is listed twice")
                by_method[method] = route.policy
            self._entries.append(_Entry(where, methods, key, route.policy))
            if key == route.path and "{" not in key:
                self._exact.setdefault(route.path, {}).update(dict.fromkeys(methods, route.policy))
            else:
                pattern = _raw_pattern(route.path)
                if pattern is None:
                    self._raw_unmatchable.append(where)
                else:
                    self._patterns.append((pattern, methods, route.policy))
        # HEAD asks for the same resource as GET (the GET handler runs): never let it through
        # more cheaply.
        for key, by_method in self._by_key.items():
            if (
                "GET" in by_method
                and by_method.setdefault("HEAD", by_method["GET"]) != by_method["GET"]
            ):
                raise ConfigurationError(
                    f"HEAD {key} is listed with another policy than GET {key}: a HEAD request "
                    "runs the GET handler, so it must meet the same policy"
                )
        for by_method in self._exact.values():
            if "GET" in by_method:
                by_method.setdefault("HEAD", by_method["GET"])
        self._patterns = [
            (p, m | {"HEAD"} if "GET" in m else m, policy) for p, m, policy in self._patterns
        ]
        if not default.authenticated and not allow_anonymous_default:
            warnings.warn(
                "the route table's default is anonymous: every route it does not list, and every "
                "request that reaches no route, needs no token. Pass "
                "allow_anonymous_default=True (TOML: allow_anonymous_default = true) if meant.",
                PolicyWarning,
                stacklevel=2,
            )

    @property
    def default(self) -> Policy:
        """The policy of every request that no route matches."""
        return self._default

    def policies(self) -> tuple[Policy, ...]:
        """Every policy the table answers with: its routes' and its default (for start-up
        checks such as the issuer's acr values, R9470-14)."""
        return (*(route.policy for route in self.routes), self._default)

    def policy_for(self, method: str, path: str, *, preflight: bool = False) -> Policy:
        """The policy for a request to a raw app, by its (canonical, decoded) ``path``;
        ``preflight`` as in :meth:`RouteBinding.policy`.

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

    def check_raw(self) -> None:
        """Raise unless every entry can be matched without a router (raw middlewares call it)."""
        if self._raw_unmatchable:
            raise ConfigurationError(
                f"{', '.join(self._raw_unmatchable)}: this convertor can only be matched by a "
                "route-aware middleware (Starlette, FastAPI or Flask); use {name}, {name:int}, "
                "{name:float}, {name:uuid} or {name:path}"
            )

    def bind(
        self,
        served: Mapping[str, ServedMethods],
        same_handler: Iterable[Iterable[str]] = (),
    ) -> RouteBinding:
        """This table bound to the routes an app serves; raises unless every entry fits.

        ``served`` maps each route template's :func:`template_key` to the methods whose requests
        run the route's handler (``None``: every method). An entry names a route by its key; an
        entry written without convertors (``/users/{id}/``) also names a route that differs only
        in them (``/users/<int:id>/``) when exactly one route has that shape.
        ``same_handler`` lists groups of keys whose routes run one and the same handler: if some
        are listed, all must be (a forgotten second route would run the handler under the
        default policy); routes listed with different policies are a deliberate choice.

        An entry that names no route or a method its route does not answer, and a handler
        listed under some of its routes only, are errors (BIND-5): a typo (``/catz/``, ``POTS``)
        must not leave a route to the default policy. Called by the route-aware middlewares at
        start-up.
        """
        by_served: dict[str, Mapping[str, Policy]] = {}
        problems: list[str] = []
        for entry in self._entries:
            target = _target(entry.key, served)
            if isinstance(target, list):
                found = ", ".join(target) if target else "none"
                problems.append(
                    f"{entry.where}: no route of the app has this path"
                    if not target
                    else f"{entry.where}: several routes have this shape ({found}); "
                    "name the convertor"
                )
                continue
            answered = served[target]
            unserved = sorted(entry.methods - answered - {ANY_METHOD}) if answered else []
            if unserved:
                problems.append(
                    f"{entry.where}: the route does not answer {', '.join(unserved)} "
                    f"(it answers {', '.join(sorted(answered or ()))})"
                )
            if target == entry.key or target not in by_served:
                by_served[target] = self._by_key[entry.key]
        for group in same_handler:
            keys = sorted(set(group))
            unlisted = [key for key in keys if key not in by_served]
            if unlisted and len(unlisted) < len(keys):
                problems.append(
                    f"the routes {', '.join(keys)} run one handler, but {', '.join(unlisted)} "
                    "is not listed and would run it under the default policy; list every route "
                    "of the handler"
                )
        if problems:
            routes = ", ".join(sorted(served)) or "none"
            raise ConfigurationError(
                "the route table does not fit the app: "
                + "; ".join(problems)
                + f" (the app's routes: {routes})"
            )
        answers_options = frozenset(
            key for key, methods in served.items() if methods is None or "OPTIONS" in methods
        )
        return RouteBinding(self, by_served, answers_options)

    # -- loading ----------------------------------------------------------------------------------

    @classmethod
    def from_toml(
        cls,
        path: str | os.PathLike[str],
        *,
        policies: Mapping[str, Policy] | None = None,
        cors_preflight: bool = True,
    ) -> RouteTable:
        """Load a table from the TOML file at ``path``; raises
        :class:`~stepup_mfa.ConfigurationError`. ``cors_preflight`` as for :class:`RouteTable`.

        ``policies`` adds named policies defined in Python (for example with ``rules``), which
        the file's routes may then name. See ``docs/policies.md`` for the file format.
        """
        name = os.fspath(path)
        data = read_toml(name, "the route table")
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
        """Build a table from ``data``, parsed TOML (or JSON, or any mapping of the same shape).

        ``source`` names the table in error messages; ``policies`` and ``cors_preflight`` as for
        :meth:`from_toml`."""
        unknown = sorted(set(data) - _TOP_LEVEL_KEYS)
        if unknown:
            raise ConfigurationError(f"{source}: unknown top-level keys {unknown}")
        named = named_policies(data, source, policies)

        def lookup(policy_name: object, where: str) -> Policy:
            return named_policy(named, policy_name, where)

        default = lookup(data.get("default", "authenticated"), f"{source}: default")
        extra_methods = data.get("extra_methods", [])
        allow_anonymous = data.get("allow_anonymous_default", False)
        if not isinstance(extra_methods, list):
            raise ConfigurationError(f"{source}: extra_methods must be a list of method names")
        if not isinstance(allow_anonymous, bool):
            raise ConfigurationError(f"{source}: allow_anonymous_default must be true or false")
        known = KNOWN_METHODS | (
            _methods(extra_methods, f"{source}: extra_methods", None) if extra_methods else set()
        )
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
            _methods(route.methods, where, frozenset(known))
            _checked_template(route.path, where)
            routes.append(route)
        try:
            with warnings.catch_warnings():
                # Re-raised below at the caller's line, with the file named.
                warnings.simplefilter("ignore", PolicyWarning)
                table = cls(
                    routes,
                    default=default,
                    cors_preflight=cors_preflight,
                    extra_methods=extra_methods,
                    allow_anonymous_default=True,
                )
        except ConfigurationError as error:
            raise ConfigurationError(f"{source}: {error}") from None
        if not default.authenticated and not allow_anonymous:
            warnings.warn(
                f"{source}: the default is anonymous: every route the file does not list needs "
                "no token. Add allow_anonymous_default = true to the file if meant.",
                PolicyWarning,
                stacklevel=3,
            )
        return table


def read_toml(name: str, what: str) -> dict[str, Any]:
    """A policy file's TOML, or a ConfigurationError naming the file (``what`` it should be)."""
    try:
        with open(name, "rb") as file:
            return tomllib.load(file)
    except OSError as error:
        raise ConfigurationError(f"{name}: cannot read {what} ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"{name}: invalid TOML: {error}") from None


def named_policies(
    data: Mapping[str, Any], source: str, policies: Mapping[str, Policy] | None = None
) -> dict[str, Policy]:
    """The policies a policy file may name: the built-in ones, ``policies`` given in Python, and
    its ``[policies.NAME]`` tables (shared by the route table and the MCP tool table)."""
    named: dict[str, Policy] = {**_BUILTIN_POLICIES, **(policies or {})}
    raw_policies = data.get("policies", {})
    if not isinstance(raw_policies, Mapping):
        raise ConfigurationError(f"{source}: [policies] must be a table")
    for policy_name, spec in raw_policies.items():
        where = f"{source}: [policies.{policy_name}]"
        if policy_name in named:
            raise ConfigurationError(f"{where}: the name {policy_name!r} is already defined")
        named[policy_name] = _policy(policy_name, spec, where)
    return named


def named_policy(named: Mapping[str, Policy], policy_name: object, where: str) -> Policy:
    """The policy ``policy_name`` names, or a ConfigurationError listing the known names."""
    if not isinstance(policy_name, str) or policy_name not in named:
        known = ", ".join(sorted(named))
        raise ConfigurationError(f"{where}: unknown policy {policy_name!r} (known: {known})")
    return named[policy_name]


class RouteBinding:
    """A :class:`RouteTable` bound to an app's routes (:meth:`RouteTable.bind`): the policy of
    each route the router dispatches to.

    Built by :meth:`RouteTable.bind`, not by hand: ``table`` is the table, ``by_served`` maps
    each route template the app serves to its policies by method, and ``answers_options`` holds
    the templates whose handlers answer ``OPTIONS`` themselves.
    """

    __slots__ = ("_answers_options", "_by_served", "_by_template", "table")

    def __init__(
        self,
        table: RouteTable,
        by_served: Mapping[str, Mapping[str, Policy]],
        answers_options: frozenset[str] = frozenset(),
    ) -> None:
        self.table = table
        self._by_served = dict(by_served)
        self._answers_options = answers_options
        #: template as the router declares it -> (its entry's policies, whether its handler
        #: answers OPTIONS itself); a few entries, one per route.
        self._by_template: dict[str, tuple[Mapping[str, Policy] | None, bool]] = {}

    def policy(self, method: str, template: str | None, *, preflight: bool = False) -> Policy:
        """The policy of a request the router dispatches to the route declared as ``template``
        (``None``: no route runs, as for a 404, a 405 or a slash redirect).

        A CORS preflight passes without a token only where no handler of the app would answer
        it: a route whose handler serves ``OPTIONS`` itself is judged as any other request, so
        a request dressed up as a preflight cannot reach it anonymously. Websockets are looked
        up as ``GET``; ``method`` is compared in upper case (see :meth:`RouteTable.policy_for`).
        ``preflight`` says the request is a CORS preflight (``OPTIONS`` with ``Origin`` and
        ``Access-Control-Request-Method``).
        """
        table = self.table
        if template is None:
            return ANONYMOUS if preflight and table.cors_preflight else table.default
        try:
            by_method, answers_options = self._by_template[template]
        except KeyError:
            key = template_key(template)
            by_method, answers_options = self._by_template[template] = (
                self._by_served.get(key),
                key in self._answers_options,
            )
        if preflight and table.cors_preflight and not answers_options:
            return ANONYMOUS
        if by_method is None:
            return table.default
        method = method.upper()
        return by_method.get(method) or by_method.get(ANY_METHOD) or table.default


def shape_key(key: str) -> str:
    """A :func:`template_key` with every one-segment convertor erased (``{:int}`` -> ``{}``)."""
    return re.sub(r"\{:(?!path\})[^{}]*\}", "{}", key)


def _target(key: str, served: Mapping[str, ServedMethods]) -> str | list[str]:
    """The served template an entry's key names, or the (zero or several) candidates."""
    if key in served:
        return key
    if shape_key(key) != key:
        return []
    candidates = sorted(k for k in served if shape_key(k) == key)
    return candidates[0] if len(candidates) == 1 else candidates


def _describe(route: object) -> str:
    if isinstance(route, Route):
        methods = route.methods if isinstance(route.methods, str) else ",".join(route.methods)
        return f"{methods} {route.path}"
    return repr(route)


def _methods(
    value: str | Iterable[str], where: str, known: frozenset[str] | None
) -> frozenset[str]:
    """The upper-cased method names of an entry; ``known=None`` checks only their syntax."""
    items = value.split(",") if isinstance(value, str) else list(value)
    methods = frozenset(item.strip().upper() if isinstance(item, str) else item for item in items)
    if not methods or not all(
        isinstance(m, str) and (m == ANY_METHOD or _METHOD.fullmatch(m)) for m in methods
    ):
        raise ConfigurationError(f"{where}: methods must be HTTP method names or '*'")
    unknown = sorted(methods - known - {ANY_METHOD}) if known is not None else []
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown method {', '.join(unknown)} (RFC 9110 methods and PATCH are known; "
            "declare others with extra_methods)"
        )
    return methods


def _checked_template(path: object, where: str) -> str:
    """The :func:`template_key` of a well-formed path template, else a ConfigurationError."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise ConfigurationError(f"{where}: the path must start with '/'")
    names: set[str] = set()
    position = 0
    literal: list[str] = []
    for param in _PARAM.finditer(path):
        literal.append(path[position : param.start()])
        name = param.group("s_name") or param.group("w_name")
        if name in names:
            raise ConfigurationError(f"{where}: the parameter {name!r} appears twice")
        names.add(name)
        position = param.end()
    literal.append(path[position:])
    if any(c in text for text in literal for c in "{}<>"):
        raise ConfigurationError(
            f"{where}: bad pattern {path!r}; use {{name}}, {{name:int}}, {{name:path}}, "
            "or werkzeug's <name>, <int:name>, <path:name>"
        )
    return template_key(path)


def _raw_pattern(path: str) -> re.Pattern[str] | None:
    """A regex matching what a router would route to ``path``; ``None`` when a convertor has no
    raw equivalent (``check_raw`` then refuses the table for raw apps)."""
    parts: list[str] = []
    position = 0
    for param in _PARAM.finditer(path):
        parts.append(re.escape(path[position : param.start()]))
        convertor = _convertor(param)
        raw = _RAW_PATTERNS.get("" if convertor in _SEGMENT_CONVERTORS else convertor)
        if raw is None:
            return None
        parts.append(raw)
        position = param.end()
    parts.append(re.escape(path[position:]))
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
