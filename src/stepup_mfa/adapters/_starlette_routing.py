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

from collections.abc import Callable, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Host, Match, Mount, Route, Router, WebSocketRoute

from ..routes import ServedMethods, template_key

__all__ = ["find_router", "served_by", "template_resolver"]

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
    """A function from an ASGI scope to the template of the route ``router`` dispatches it to."""

    def resolve(scope: Any) -> str | None:
        return _dispatched(router.routes, scope, "")

    return resolve


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


def served_by(router: Router) -> dict[str, ServedMethods]:
    """Every route template the router serves (by :func:`template_key`) and its methods."""
    served: dict[str, ServedMethods] = {}
    _collect(router.routes, "", served)
    return served


def _collect(routes: Iterable[Any], prefix: str, served: dict[str, ServedMethods]) -> None:
    for route in routes:
        if _is_included_router(route):
            for context in route.effective_route_contexts():
                inner = context.starlette_route
                if isinstance(inner, Mount | Host):
                    _collect([inner], prefix, served)
                else:
                    methods = context.methods
                    path = context.path or getattr(inner, "path", "")
                    _add(served, prefix + path, frozenset(methods) if methods else None)
        elif isinstance(route, Mount | Host):
            below = prefix + route.path if isinstance(route, Mount) else prefix
            inner = route.routes
            if inner:
                _collect(inner, below, served)
            else:
                _add(served, below + _ANY_BELOW, None)
        elif isinstance(route, Route):
            _add(served, prefix + route.path, frozenset(route.methods) if route.methods else None)
        elif isinstance(route, WebSocketRoute):
            _add(served, prefix + route.path, frozenset({"GET", "HEAD"}))
        else:
            path = getattr(route, "path", None)
            if isinstance(path, str):
                _add(served, prefix + path, None)


def _add(served: dict[str, ServedMethods], template: str, methods: ServedMethods) -> None:
    key = template_key(template)
    if key in served:
        known = served[key]
        served[key] = None if known is None or methods is None else known | methods
    else:
        served[key] = methods
