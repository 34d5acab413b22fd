"""Which Starlette route a request reaches, asked of the app's router itself (BIND-1, BIND-4).

:func:`template_resolver` walks the router's routes with their own ``matches()`` exactly as
``Router.app`` does: the first full match wins, else the first partial one (a method the route
does not answer: a 405, no endpoint runs), through ``Mount`` and ``Host`` into the routers they
hold. The answer is the matched route's declared path template, prefixes of its mounts included,
which is what a :class:`~stepup_mfa.routes.RouteTable` entry names. ``None`` means no route runs
(a 404, or the slash redirect), and the table's default applies.

Because the same ``matches()`` decides both, a path the router reads one way cannot be judged
another way: ``/cats/\\n`` reaches the ``/cats/`` route (its regex ``$`` matches before a final
newline), so it meets the ``/cats/`` policy.
"""

from __future__ import annotations

import functools
import inspect
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.routing import BaseRoute, Host, Match, Mount, Route, Router, WebSocketRoute

from .._core.errors import ConfigurationError
from ..routes import KNOWN_METHODS, ServedMethods, template_key

__all__ = [
    "RouteMemo",
    "Served",
    "dispatch_points",
    "find_router",
    "reads_only_path_and_method",
    "served_by",
    "template_resolver",
]

#: How deep a chain of wrapping middlewares may go before the search gives up.
_MAX_DEPTH = 64
#: What a mount or host without routes of its own dispatches everything below it to.
_ANY_BELOW = "/{path:path}"


def find_router(*candidates: Any) -> Router | None:
    """The first Starlette ``Router`` reachable from the candidates through ``.app``/``.router``.

    Candidates are the explicit ``router=`` argument, the wrapped app (inside Starlette's
    middleware stack, a chain of middlewares ending in the router) and ``scope["app"]``.
    """
    for candidate in candidates:
        node = candidate
        for _ in range(_MAX_DEPTH):
            if node is None:
                break
            if isinstance(node, Router):
                return node
            if isinstance(node, Starlette):
                return node.router
            node = getattr(node, "app", None)
    return None


def template_resolver(router: Router) -> Callable[[Any], str | None]:
    """A function from an ASGI scope to the template of the route ``router`` dispatches it to.

    Nothing is remembered between requests: the routes are asked every time, so a route added,
    removed or reordered after start-up is seen at once.
    """

    def resolve(scope: Any) -> str | None:
        return _dispatched(router.routes, scope, "")

    return resolve


#: What a route runs (``Route.handle``, ``Mount.handle``... call it).
_app_of = operator.attrgetter("app")
#: How many (type, method, root path, path) answers a :class:`RouteMemo` keeps.
MAX_REMEMBERED_ROUTES = 1024

#: (holder, attribute, the object it held, the identities of its routes or ``None``, the
#: identities of those routes' ``app`` or ``None``).
_Watched = tuple[Any, str, Any, "tuple[Any, ...] | None", "tuple[Any, ...] | None"]


class RouteMemo:
    """:func:`template_resolver` for one router, remembering its answers while that is exact.

    Answers are remembered per (type, method, root path, path) only while every route below the
    router is one of Starlette's own kinds without ``Host`` (:func:`reads_only_path_and_method`:
    their ``matches()`` read nothing else), and only while the routes are the very ones they
    were computed with. Every call (but :meth:`remembered`, for the middleware's hot path behind
    the dispatch check) first compares each route list reachable from the router (its
    own, and those of the routers inside its mounts) with a snapshot of the identities of its
    routes and of what each of them runs (its ``app``: two identity comparisons per route), and
    each mount's ``_base_app`` with the one it had: a route
    added, removed, replaced or reordered anywhere, a route's or a mount's ``app`` reassigned in
    place (what its ``handle()`` calls, so what runs), starts a new memory and surveys the
    routes again (which may also turn remembering off, say for a ``Host`` route added at run
    time). The memory is bounded (emptied when full), so a flood of distinct paths costs
    nothing but misses. A route's ``endpoint`` is what the binding reads, not what runs: it is
    read again with every change, and the binding also matches routes by their ``app``, so an
    ``app`` taken from another route is seen even with the old ``endpoint`` left in place.
    Other in-place mutations (a route's regex or methods reassigned) are not seen: Starlette
    itself offers no way to do that.

    Routes that cannot be read (``router.routes = None``, a route whose attributes raise) fail
    closed: the survey hands the error to ``on_change`` (the middleware refuses every request
    with 503, logged once) and nothing is resolved until the routes change again.

    ``on_change`` is called on every such change, after the new survey and before anything is
    resolved under the new routes (the middleware binds its route table again there, BIND-12),
    so no answer computed from the new routes is ever given under what was bound for the old.
    It gets the exception that made the survey fail, or ``None``.
    """

    __slots__ = (
        "_broken",
        "_generation",
        "_memory",
        "_on_change",
        "_plain",
        "_router",
        "_watched",
    )

    def __init__(
        self, router: Router, on_change: Callable[[Exception | None], None] | None = None
    ) -> None:
        self._router = router
        self._watched: tuple[_Watched, ...] = ()
        self._plain = False
        #: Why the routes could not be read at the last survey, or ``None``.
        self._broken: Exception | None = None
        self._generation = 0
        self._memory: dict[tuple[Any, ...], Any] = {}
        self._on_change: Callable[[Exception | None], None] | None = None
        self._survey()
        if self._broken is not None:
            raise ConfigurationError(f"the app's routes cannot be read: {self._broken!r}")
        self._on_change = on_change

    def _survey(self) -> None:
        watched: list[_Watched] = []
        broken: Exception | None = None
        try:
            plain = _watch(self._router, watched)
        except Exception as error:  # unreadable routes fail closed (on_change), never a 500
            plain, broken = False, error
        self._watched = tuple(watched)
        self._generation += 1
        self._plain = plain
        self._broken = broken
        self._memory = {}  # replaced, not cleared: a resolution under the old routes in flight
        # elsewhere can only land in the dictionary that is being dropped
        on_change = self._on_change
        if on_change is not None:
            on_change(broken)

    def _unchanged(self) -> bool:
        # A plain loop of identity tests: about half the work of all(map(operator.is_, ...)).
        try:
            for holder, attribute, held, identities, apps in self._watched:
                current = getattr(holder, attribute, None)
                if current is not held:
                    return False
                if identities is None:
                    continue
                if len(current) != len(identities):
                    return False
                if apps is None:
                    for route, held_route in zip(current, identities, strict=True):
                        if route is not held_route:
                            return False
                else:
                    for route, held_route, app in zip(current, identities, apps, strict=True):
                        if route is not held_route or route.app is not app:
                            return False
        except Exception:  # something no longer reads as it did: survey again
            return False
        return True

    def version(self) -> int:
        """Which routes these are, right now, plain or not: a number that changes whenever the
        routes change (the dispatch check compares it with the judgement's, BIND-12)."""
        if not self._unchanged():
            self._survey()
        return self._generation

    def generation(self) -> int | None:
        """Which routes these are, right now: a number that changes whenever the routes change,
        or ``None`` while they are not plain (they may read more than the four values)."""
        if not self._unchanged():
            self._survey()
        return self._generation if self._plain else None

    def resolve(self, scope: Any) -> tuple[str | None, int | None]:
        """The template of the route the router dispatches ``scope`` to (see
        :func:`template_resolver`), and the :meth:`generation` of the routes it was read from."""
        if not self._unchanged():
            self._survey()
        memory = self._memory  # taken before resolving: see _survey
        if self._broken is not None:
            raise ConfigurationError(f"the app's routes cannot be read: {self._broken!r}")
        if not self._plain:
            return _dispatched(self._router.routes, scope, ""), None
        generation = self._generation
        key = (scope["type"], scope.get("method"), scope.get("root_path"), scope["path"])
        try:
            template: str | None = memory[key]
            return template, generation
        except KeyError:
            pass
        template = _dispatched(self._router.routes, scope, "")
        if len(memory) >= MAX_REMEMBERED_ROUTES:
            memory.clear()
        memory[key] = template
        return template, generation

    def remembered(self, scope: Any, preflight: bool) -> tuple[Any, ...] | None:
        """What :meth:`judged` remembered for ``scope``, without comparing the routes first, or
        ``None``. Only for the middleware's hot path, whose dispatch check compares them
        before the router runs (and judges the request again if they changed since): a stale
        answer can at most be judged twice, never run under the old routes."""
        judged: tuple[Any, ...] | None = self._memory.get(
            (scope["type"], scope.get("method"), scope.get("root_path"), scope["path"], preflight)
        )
        return judged

    def judged(
        self,
        scope: Any,
        method: str,
        preflight: bool,
        policy_for: Callable[[str, str | None, bool], Any],
    ) -> tuple[Any, ...]:
        """What the middleware judges ``scope`` by: ``(path, root path, method, template,
        policy_for(method, template, preflight), generation, version)``, remembered whole like a
        template (``policy_for`` must be a pure function of its arguments, as a route binding's
        is). While the routes cannot be read, no route is resolved: ``policy_for`` is asked for
        no template (the middleware's refuses, as its binding was told by ``on_change``)."""
        if not self._unchanged():
            self._survey()
        memory = self._memory  # taken before resolving: see _survey
        path = scope["path"]
        root_path = scope.get("root_path")
        version = self._generation
        if not self._plain:
            if self._broken is not None:
                template = None
            else:
                template = _dispatched(self._router.routes, scope, "")
            policy = policy_for(method, template, preflight)
            return path, root_path, method, template, policy, None, version
        key = (scope["type"], scope.get("method"), root_path, path, preflight)
        try:
            judged: tuple[Any, ...] = memory[key]
            return judged
        except KeyError:
            pass
        template = _dispatched(self._router.routes, scope, "")
        policy = policy_for(method, template, preflight)
        judged = (path, root_path, method, template, policy, version, version)
        if len(memory) >= MAX_REMEMBERED_ROUTES:
            memory.clear()
        memory[key] = judged
        return judged


def _watch(router: Router, watched: list[_Watched]) -> bool:
    """Record what :class:`RouteMemo` compares for ``router``; whether its routes are plain."""
    routes = router.routes
    at = len(watched)
    # The list's own identity first: routes that cannot be read are still watched for a change.
    watched.append((router, "routes", routes, None, None))
    identities = tuple(routes)
    try:
        apps: tuple[Any, ...] | None = tuple(map(_app_of, identities))
    except AttributeError:  # a route kind without an app: its list is still compared
        apps = None
    watched[at] = (router, "routes", routes, identities, apps)
    plain = True
    for route in identities:
        kind = type(route)
        if "matches" in getattr(route, "__dict__", ()):
            plain = False  # a matcher set on the instance: anything may be read
        elif isinstance(route, Mount) and kind.matches is Mount.matches:
            base = getattr(route, "_base_app", None)
            watched.append((route, "_base_app", base, None, None))
            if not isinstance(base, Router) or not _watch(base, watched):
                plain = False
        elif not (
            (isinstance(route, Route) and kind.matches in _PLAIN_MATCHES)
            or (isinstance(route, WebSocketRoute) and kind.matches is WebSocketRoute.matches)
        ):
            plain = False
    return plain


def reads_only_path_and_method(router: Router) -> bool:
    """Whether every route below ``router`` is one of Starlette's own kinds without ``Host``:
    their ``matches()`` read only the scope's type, method, root path and path, so a request
    whose four values are unchanged reaches the same route (the dispatch check's shortcut)."""
    return _memoizable(router.routes)


def _memoizable(routes: Iterable[Any]) -> bool:
    for route in routes:
        kind = type(route)
        if isinstance(route, Mount) and kind.matches is Mount.matches:
            base = getattr(route, "_base_app", None)
            if not isinstance(base, Router) or not _memoizable(base.routes):
                return False
        elif not (
            (isinstance(route, Route) and kind.matches in _PLAIN_MATCHES)
            or (isinstance(route, WebSocketRoute) and kind.matches is WebSocketRoute.matches)
        ):
            return False
    return True


def _plain_matches() -> frozenset[Any]:
    known: set[Any] = {Route.matches}
    try:  # FastAPI's APIRoute adds only child_scope["route"] to Starlette's own matching
        from fastapi.routing import APIRoute
    except ImportError:  # pragma: no cover - FastAPI is optional
        return frozenset(known)
    known.add(APIRoute.matches)
    return frozenset(known)


_PLAIN_MATCHES = _plain_matches()


def _dispatched(routes: Iterable[BaseRoute], scope: Any, prefix: str) -> str | None:
    partial: tuple[BaseRoute, Any] | None = None
    child_scope: Any
    for route in routes:
        if _is_included_router(route):
            match, child_scope = _included_match(route, scope, prefix)
        else:
            match, child_scope = route.matches(scope)
        if match is Match.FULL:
            return _inside(route, {**scope, **child_scope}, prefix)
        if match is Match.PARTIAL and partial is None:
            partial = (route, child_scope)
    if partial is not None:
        route, child_scope = partial
        return _inside(route, {**scope, **child_scope}, prefix)
    return None


def _inside(route: BaseRoute, scope: Any, prefix: str) -> str | None:
    if _is_included_router(route):
        template: str | None = scope.pop(_INCLUDED_TEMPLATE, None)
        return template
    if isinstance(route, Mount | Host):
        below = prefix + route.path if isinstance(route, Mount) else prefix
        inner = route.routes
        return _dispatched(inner, scope, below) if inner else below + _ANY_BELOW
    path: str | None = getattr(route, "path", None)
    return None if path is None else prefix + path


# FastAPI (0.16x) keeps each ``include_router`` as one route whose own matcher picks among the
# included routes with their prefixes applied ("effective route contexts"). It has no public
# interface, so these functions ask it the way its router does, and fail closed (no route:
# the table default, and the table check reports the routes it cannot see) if that changes.
_INCLUDED_TEMPLATE = "stepup_mfa.included_template"


def _is_included_router(route: object) -> bool:
    return hasattr(route, "effective_route_contexts") and hasattr(route, "_match")


def _included_match(route: Any, scope: Any, prefix: str) -> tuple[Match, dict[str, Any]]:
    """Match an included FastAPI router; the template of what it dispatches to rides along in
    the child scope (popped again by ``_inside``)."""
    match, child_scope, inner, context = route._match(scope)
    if match is Match.NONE or inner is None:
        return Match.NONE, {}
    merged = {**scope, **child_scope}
    if _is_included_router(inner):
        template = _inside_included(inner, merged, prefix)
    elif context is not None and isinstance(context.starlette_route, Mount | Host):
        template = _inside(context.starlette_route, merged, prefix)
    elif context is not None:
        template = prefix + (context.path or getattr(context.starlette_route, "path", ""))
    else:
        template = None
    return match, {**child_scope, _INCLUDED_TEMPLATE: template}


def _inside_included(route: Any, scope: Any, prefix: str) -> str | None:
    match, child_scope = _included_match(route, scope, prefix)
    template: str | None = child_scope.get(_INCLUDED_TEMPLATE)
    return template if match is not Match.NONE else None


@dataclass(slots=True)
class Served:
    """The templates a router serves (by :func:`template_key`) with the methods whose requests
    run their handler, and which templates share one handler."""

    methods: dict[str, ServedMethods] = field(default_factory=dict)
    handlers: dict[object, set[str]] = field(default_factory=dict)

    def add(
        self, template: str, methods: ServedMethods, handler: object, runs: object = None
    ) -> None:
        """Add ``template``, answering ``methods`` with ``handler``; ``runs`` is what the route
        really calls (its ``app``), also matched across routes: one taken from another route
        runs that route's handler, whatever ``handler`` still says (BIND-5, BIND-12)."""
        key = template_key(template)
        if key in self.methods:
            known = self.methods[key]
            self.methods[key] = None if known is None or methods is None else known | methods
        else:
            self.methods[key] = methods
        self.handlers.setdefault(_handler_identity(handler), set()).add(key)
        if runs is not None and runs is not handler:
            self.handlers.setdefault(_handler_identity(runs), set()).add(key)

    @property
    def same_handler(self) -> list[set[str]]:
        return [keys for keys in self.handlers.values() if len(keys) > 1]


def _route_methods(route: Route) -> ServedMethods:
    """The methods whose requests run the route's handler: its declared ones, or for an
    ``HTTPEndpoint`` class the methods it defines as plain functions (it answers the others with
    405 itself). An endpoint whose handlers are found some other way (a property,
    ``__getattr__``) may answer anything: ``None``."""
    if route.methods:
        return frozenset(route.methods)
    endpoint = route.endpoint
    if not (isinstance(endpoint, type) and issubclass(endpoint, HTTPEndpoint)):
        return None
    if any(
        "__getattr__" in vars(klass) or "__getattribute__" in vars(klass)
        for klass in endpoint.__mro__
        if klass is not object
    ):
        return None
    methods: set[str] = set()
    for method in KNOWN_METHODS:
        found = inspect.getattr_static(endpoint, method.lower(), None)
        if found is None:
            continue
        if not inspect.isfunction(found):
            return None
        methods.add(method)
    return frozenset(methods | ({"HEAD"} if "GET" in methods else set()))


def dispatch_points(
    router: Router, owner: object
) -> list[tuple[Router, Callable[[Any], str | None], bool]]:
    """Where a dispatch check goes: the app's router (``True``: the top one), and the router of
    every ``Mount`` whose requests pass through middleware or a sub-application of their own
    before that router sees them (so the scope may have been rewritten), with how to find the
    dispatched template from there.

    Each router is listed once (the first place it is reached), and is then marked as checked
    for ``owner``; asked again for the same ``owner`` (the routes changed after start-up), the
    routers it already checks are listed again with where they are now, so a check can follow
    its router. A router already checked for another ``owner`` (one app, or one mounted
    sub-app, guarded by two route tables) is a :class:`~stepup_mfa.ConfigurationError`: its
    check could only judge by one of them.
    """
    points: list[tuple[Router, Callable[[Any], str | None], bool]] = []
    seen: set[int] = set()
    if _claim(router, owner, seen):
        points.append((router, template_resolver(router), True))
    _inner_points(router.routes, "", points, owner, seen)
    return points


def _claim(router: Router, owner: object, seen: set[int]) -> bool:
    """Mark ``router`` as checked for ``owner``; ``False`` if it is already listed (``seen``)."""
    if id(router) in seen:
        return False
    known = getattr(router, _CHECKED, None)
    takes_over = getattr(known, "guards_like", None)
    if known is not None and known is not owner and not (takes_over and takes_over(owner)):
        raise ConfigurationError(
            "this router is already guarded by another route table (an app or a mounted "
            "sub-app wrapped by two StepUpMiddleware): give each router one table"
        )
    seen.add(id(router))
    setattr(router, _CHECKED, owner)
    return True


_CHECKED = "_stepup_mfa_dispatch_checked"


def _inner_points(
    routes: Iterable[Any],
    prefix: str,
    points: list[tuple[Router, Any, bool]],
    owner: object,
    seen: set[int],
) -> None:
    for route in routes:
        if not isinstance(route, Mount | Host):
            continue
        below = prefix + route.path if isinstance(route, Mount) else prefix
        base = getattr(route, "_base_app", route.app)
        inner = base.router if isinstance(base, Starlette) else base
        if isinstance(inner, Router):
            rewritable = route.app is not base or isinstance(base, Starlette)
            if rewritable and _claim(inner, owner, seen):
                points.append((inner, _resolver_below(inner, below), False))
            _inner_points(inner.routes, below, points, owner, seen)


def _resolver_below(router: Router, prefix: str) -> Callable[[Any], str | None]:
    def resolve(scope: Any) -> str | None:
        return _dispatched(router.routes, scope, prefix)

    return resolve


def _handler_identity(handler: object) -> object:
    """What makes two routes run the same code: a partial is its function, a bound method its
    (instance, function) pair, anything else itself."""
    while isinstance(handler, functools.partial):
        handler = handler.func
    if inspect.ismethod(handler):
        return (id(handler.__self__), id(handler.__func__))
    return id(handler)


def _check_mount(mount: Mount, template: str) -> None:
    """A mount's routes (``_base_app``, what ``routes`` and the binding read) must be what it
    runs (``app``, what ``handle()`` calls, through any middleware of its own): ``mount.app``
    given another router or app in place would run routes the table was never bound to. The
    chain of ``.app`` attributes from ``app`` must reach ``_base_app``; a chain that ends in
    something opaque (a middleware that keeps its app elsewhere) cannot be followed and is
    taken as built; one that reaches another router or app first is refused."""
    base = getattr(mount, "_base_app", None)
    node: Any = mount.app
    for _ in range(_MAX_DEPTH):
        if node is base:
            return
        if node is None or isinstance(node, Router | Starlette):
            break
        node = getattr(node, "app", None)
    if node is None:
        return
    raise ConfigurationError(
        f"the mount {template!r} runs an app that is not the one holding its routes "
        "(mount.app reassigned?): the route table cannot be bound to what it runs"
    )


def served_by(router: Router) -> Served:
    """Every route template the router serves, its methods and its handler."""
    served = Served()
    _collect(router.routes, "", served)
    return served


def _collect(routes: Iterable[Any], prefix: str, served: Served) -> None:
    for route in routes:
        if _is_included_router(route):
            for context in route.effective_route_contexts():
                inner = context.starlette_route
                if isinstance(inner, Mount | Host):
                    _collect([inner], prefix, served)
                else:
                    methods = context.methods
                    path = context.path or getattr(inner, "path", "")
                    handler = getattr(context.original_route, "endpoint", context)
                    served.add(prefix + path, frozenset(methods) if methods else None, handler)
        elif isinstance(route, Mount | Host):
            below = prefix + route.path if isinstance(route, Mount) else prefix
            if isinstance(route, Mount):
                _check_mount(route, below)
            inner_routes = route.routes
            if inner_routes:
                _collect(inner_routes, below, served)
            else:
                served.add(below + _ANY_BELOW, None, route.app)
        elif isinstance(route, Route):
            served.add(prefix + route.path, _route_methods(route), route.endpoint, route.app)
        elif isinstance(route, WebSocketRoute):
            methods = frozenset({"GET", "HEAD"})
            served.add(prefix + route.path, methods, route.endpoint, route.app)
        else:
            path = getattr(route, "path", None)
            if isinstance(path, str):
                served.add(prefix + path, None, getattr(route, "endpoint", route))
