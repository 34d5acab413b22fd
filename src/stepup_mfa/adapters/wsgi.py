"""The WSGI middleware with a route table (Flask, any werkzeug app, any WSGI app).

::

    app.wsgi_app = StepUpWSGIMiddleware(app.wsgi_app, guard=guard, routes=table)

Which policy a request meets (architecture rule 10, BIND-2, BIND-3):

- For a **Flask** app (``app.wsgi_app``, or the app itself) the middleware asks Flask's own URL
  adapter which rule the request reaches, as Flask will when it dispatches (``strict_slashes``
  redirects, host and subdomain matching, ``//`` joined and ``%2F`` decoded by werkzeug all
  included), and looks that rule up in the table. Pass ``url_map=`` for a plain werkzeug app.
  Every table entry must name a rule of the app: checked on the first request, before it is
  dispatched, naming the entry at fault, and again whenever a rule is added
  (:class:`MappedBinding`; a change the table no longer fits is logged and refused with 503,
  BIND-12).
- Around **any other WSGI app**, a path that a router could read differently is refused with
  ``400 invalid_request`` before the table is consulted (:mod:`stepup_mfa._core.paths`).

Every request is checked with ``guard.check`` (WSGI is blocking). A refused request gets
``guard.denial(...)`` (no body for ``HEAD``) and never reaches the app; an admitted one carries
its principal in ``environ["stepup_mfa.principal"]``.
"""

from __future__ import annotations

import inspect
import io
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import ClientDisconnected, HTTPException
from werkzeug.routing import Map, MapAdapter, RequestRedirect
from werkzeug.wsgi import get_input_stream

from .._core.credentials import body_may_carry_token
from .._core.decision import Decision, Refused
from .._core.errors import ConfigurationError, InvalidRequest, RequestTooLarge, StepUpError
from .._core.policy import Policy
from .._core.principal import Principal
from .._guard import Denial, Guard
from ..routes import RouteBinding, RouteTable, ServedMethods, template_key
from . import _edge
from ._edge import (
    PRINCIPAL_KEY,
    RoutesUnbound,
    environ_is_preflight,
    middleware_arguments,
    non_canonical,
    principal_in,
    raw_policy,
    refusal_for,
    refuse,
    routes_unbound,
    wsgi_view,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["PRINCIPAL_KEY", "StepUpWSGIMiddleware", "principal_from_environ"]


@dataclass(frozen=True, slots=True)
class _Routing:
    """The app's URL map, and how to get the adapter the app routes a given request with."""

    url_map: Map
    adapter_for: Callable[[WSGIEnvironment], MapAdapter]
    #: The Flask app, where the dispatch check goes (``None`` for a plain werkzeug map).
    flask_app: Any = None

    @property
    def views(self) -> Mapping[str, object]:
        """Endpoint name -> the view function it runs (Flask), to tell shared views apart."""
        return getattr(self.flask_app, "view_functions", {})


#: (environ, method, is-a-CORS-preflight) -> the policy, ``None``: refuse as non-canonical.
PolicyOf = Callable[["WSGIEnvironment", str, bool], Policy | None]

INCOMPLETE_BODY = "The request body is incomplete"
#: What the middleware judged a request by: a :class:`Judgement`.
JUDGED_KEY = "stepup_mfa.judged"


class Judgement(tuple[str | None, str, Policy]):
    """``(rule, method, policy)``: the rule the middleware predicted (``None``: none runs), the
    method and the policy it judged the request by. Flask's dispatch check trusts only this
    class in ``environ[JUDGED_KEY]``: a plain tuple written there by other code (a middleware
    between ours and Flask) counts for nothing, and the request is judged again."""

    __slots__ = ()


def principal_from_environ(environ: WSGIEnvironment) -> Principal | None:
    """The principal the middleware admitted the request of this WSGI ``environ`` with, if any."""
    return principal_in(environ)


def environ_path(environ: WSGIEnvironment) -> str:
    """``PATH_INFO`` as text. PEP 3333 hands it over as latin-1-decoded bytes; routers (werkzeug,
    Starlette) match on the UTF-8 reading, so the route table does too."""
    path: str = environ.get("PATH_INFO") or "/"
    if not path.isascii():
        path = path.encode("latin-1").decode("utf-8", "replace")
    return path


def raw_request_path(environ: WSGIEnvironment) -> str | None:
    """The request target's path as received, when the server reports it (gunicorn and the
    werkzeug server: ``RAW_URI``; waitress and others: ``REQUEST_URI``)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not isinstance(raw, str):
        return None
    if not raw.startswith("/") and "://" in raw:  # absolute-form: keep the path only
        raw = "/" + raw.partition("://")[2].partition("/")[2]
    return raw


def form_body(guard: Guard, environ: WSGIEnvironment, policy: Policy) -> bytes | None:
    """The urlencoded body when the form-body token method is on (RFC 6750 §2.2), else ``None``.

    The body is read once, at most ``token_methods.max_body_length`` bytes (past that:
    :class:`~stepup_mfa.RequestTooLarge`), and put back as a fresh stream so the app can read it.
    A body shorter than its ``Content-Length`` (the client left) is an
    :class:`~stepup_mfa.InvalidRequest`, never judged as if it were complete.
    """
    methods = guard.token_methods
    if not (methods.body and policy.authenticated) or not body_may_carry_token(
        environ.get("REQUEST_METHOD", "GET"), environ.get("CONTENT_TYPE")
    ):
        return None
    limit = methods.max_body_length
    declared = environ.get("CONTENT_LENGTH")
    if declared and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge()
    stream = get_input_stream(environ, max_content_length=limit)
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := stream.read(limit + 1 - size):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise RequestTooLarge()
    except ClientDisconnected:  # werkzeug: the stream ended before its Content-Length
        raise InvalidRequest(INCOMPLETE_BODY) from None
    except HTTPException:  # werkzeug's RequestEntityTooLarge for a streamed body
        raise RequestTooLarge() from None
    body = b"".join(chunks)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("wsgi.input_terminated", None)
    return body


def start_denial(denial: Denial, start_response: StartResponse) -> list[bytes]:
    """Send the Guard's refusal through ``start_response``; the body as the WSGI iterable."""
    status = f"{denial.status} {HTTPStatus(denial.status).phrase}"
    headers = [*denial.headers, ("Content-Length", str(len(denial.body)))]
    start_response(status, headers)
    return [denial.body] if denial.body else []


class StepUpWSGIMiddleware:
    """Checks every request against a :class:`RouteTable` before the wrapped app sees it.

    ``app`` is the WSGI app to protect and ``guard`` the :class:`~stepup_mfa.Guard` that decides.

    ``routes`` is a :class:`RouteTable` or the path of a TOML file. ``url_map`` is the werkzeug
    ``Map`` to route with when ``app`` is not a Flask app (or its ``wsgi_app``).
    """

    __slots__ = ("_lock", "_memo", "_policy_of", "_routing", "app", "guard", "routes")

    def __init__(
        self,
        app: WSGIApplication,
        *,
        guard: Guard,
        routes: RouteTable | str | os.PathLike[str],
        url_map: Map | None = None,
    ) -> None:
        guard, routes = middleware_arguments(guard, routes, "StepUpWSGIMiddleware")
        self.app = app
        self.guard = guard
        self.routes = routes
        self._routing = _routing_of(app, url_map)
        self._policy_of: PolicyOf | None = None
        #: What remembers the rule each request reaches (a werkzeug map only; from binding on).
        self._memo: RuleMemo | None = None
        self._lock = threading.Lock()

    def _bind(self) -> PolicyOf:
        """Decide once how requests find their policy, and check the table against the app."""
        with self._lock:
            if self._policy_of is not None:
                return self._policy_of
            table = self.routes
            routing = self._routing
            policy_of: PolicyOf
            if routing is None:
                table.check_raw()

                def raw_policy_of(
                    environ: WSGIEnvironment, method: str, pre: bool
                ) -> Policy | None:
                    path = environ_path(environ)
                    return raw_policy(table, method, path, raw_request_path(environ), pre)

                policy_of = raw_policy_of
            else:
                # Bound to the map as it is, and again whenever it changes (BIND-12); the rule
                # each request reaches remembered while the map is plain (RuleMemo), which
                # records its judgement in the environ (JUDGED_KEY).
                mapped = MappedBinding(self.guard, table, routing)
                self._memo = memo = RuleMemo(mapped)
                policy_of = memo.policy_of

                if routing.flask_app is not None:
                    from .flask import install_dispatch_check

                    install_dispatch_check(
                        routing.flask_app, self.guard, mapped.policy_for, mapped.changed
                    )

            # R9470-14: the table's acr values against the issuer's (warns, or strict).
            self.guard.check_acr_values(table.policies())
            self._policy_of = policy_of
            return policy_of

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        policy_of = self._policy_of or self._bind()
        method = environ.get("REQUEST_METHOD", "GET")
        preflight = environ_is_preflight(environ, method)
        guard = self.guard
        try:
            policy = policy_of(environ, method, preflight)
        except RoutesUnbound as unbound:  # the map changed and the table no longer fits it
            denial = refusal_for(guard, unbound.refusal, environ.get("HTTP_ACCEPT"), method)
            return start_denial(denial, start_response)
        decision: Decision
        extra: _edge.ExtraHeaders = ()
        if policy is None:
            decision = non_canonical(guard)
        elif (remembered := _edge.wsgi_recall(guard, environ, policy)) is not None:
            decision = remembered  # a token seen before: the Guard's remembered verdict
        else:
            try:
                body = form_body(guard, environ, policy)
                view = wsgi_view(environ, environ_path(environ), body, guard.mtls)
            except StepUpError as error:
                decision = refuse(guard, error)
            else:
                decision = guard.check(view, policy)
                if decision.allowed:
                    extra = _edge.admitted_headers(guard, view.authorization)  # RFC 9449 §8.2
        if not decision.allowed:
            denial = refusal_for(guard, decision, environ.get("HTTP_ACCEPT"), method)
            return start_denial(denial, start_response)
        environ[PRINCIPAL_KEY] = decision.principal
        if extra:
            start_response = _edge.starting_with(start_response, extra)
        return self.app(environ, start_response)


class _Additions:
    """How many times ``add`` was called on one werkzeug ``Map`` (counted by a wrapper)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


_ADDITIONS = "_stepup_mfa_additions"


def _count_additions(url_map: Map) -> _Additions | None:
    """Count the calls of ``url_map.add`` (Flask's ``add_url_rule`` included) from now on, with a
    wrapper set on the instance; ``None`` if the map does not allow it."""
    known = getattr(url_map, _ADDITIONS, None)
    if isinstance(known, _Additions):
        return known
    additions = _Additions()
    add = url_map.add

    def counted_add(rulefactory: Any) -> None:
        # Counted before and after: a request that sees the map mid-change binds it again, and
        # so does the next one, once the change is complete.
        additions.count += 1
        try:
            add(rulefactory)
        finally:
            additions.count += 1

    try:
        url_map.add = counted_add  # type: ignore[method-assign]
        setattr(url_map, _ADDITIONS, additions)
    except (AttributeError, TypeError):  # pragma: no cover - a map with slots
        return None
    return additions


_NO_VIEWS: Mapping[str, object] = {}


class _WatchedViews(dict[str, object]):
    """Flask's ``view_functions``, counting every change (a view replaced keeps the count)."""

    changes = 0

    def __setitem__(self, key: str, value: object) -> None:
        super().__setitem__(key, value)
        self.changes += 1

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.changes += 1

    def pop(self, *args: Any) -> Any:
        self.changes += 1
        return super().pop(*args)

    def popitem(self) -> tuple[str, object]:
        self.changes += 1
        return super().popitem()

    def setdefault(self, key: str, default: object = None) -> object:
        self.changes += 1
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.changes += 1
        super().update(*args, **kwargs)

    def clear(self) -> None:
        self.changes += 1
        super().clear()

    def __ior__(self, other: Any) -> _WatchedViews:  # type: ignore[override,misc]
        self.changes += 1
        super().__ior__(other)
        return self


class MappedBinding:
    """The route table bound to a werkzeug ``Map`` as it is now (BIND-2, BIND-5, BIND-12).

    Bound on the first request (a table that does not fit raises
    :class:`~stepup_mfa.ConfigurationError` there), and bound again whenever the map changes
    after that: a rule added (``url_map.add``, which Flask's ``add_url_rule`` calls too), or
    for Flask a view registered. :meth:`changed` is asked on every request and costs two
    integer comparisons: the calls of ``url_map.add`` are counted by a wrapper set on the map
    (werkzeug offers no way to remove or replace a rule), and the views of a Flask app are
    counted. A map that cannot be wrapped is compared rule by rule. New rules the table does
    not fit are refused as the first request would refuse them, but at run time: the error is
    logged and every request is answered with 503 (fail closed) until the map changes again
    into one the table fits; neither the old binding nor the table's default ever judges a
    request under rules they were not bound to.
    """

    __slots__ = (
        "_additions",
        "_lock",
        "_seen",
        "_views",
        "bound",
        "guard",
        "on_change",
        "routing",
        "table",
    )

    def __init__(self, guard: Guard, table: RouteTable, routing: _Routing) -> None:
        self.guard = guard
        self.table = table
        self.routing = routing
        self._lock = threading.Lock()
        self._views: Mapping[str, object] = _NO_VIEWS
        if routing.flask_app is not None:
            # Every view registered or replaced counts (``view_functions[name] = view``).
            self._views = routing.flask_app.view_functions = _WatchedViews(routing.views)
        self._additions = _count_additions(routing.url_map)
        self._seen = self._version()
        #: The binding in force, or the refusal of rules the table does not fit.
        self.bound: RouteBinding | Refused = table.bind(*_served(routing.url_map, routing.views))
        #: Called after each new binding, under the lock, before any request can see the new
        #: version as the one in force (:class:`RuleMemo` forgets what it remembered there).
        self.on_change: Callable[[], None] | None = None

    def _version(self) -> tuple[object, ...]:
        """What tells this map's rules (and Flask's views) from any it had before."""
        additions = self._additions
        views = self._views
        changes = views.changes if isinstance(views, _WatchedViews) else len(views)
        if additions is None:  # pragma: no cover - every rule, one by one
            return (changes, *self.routing.url_map.iter_rules())
        return changes, additions.count

    def _replaced(self) -> bool:
        """Whether the Flask app's ``url_map`` or ``view_functions`` is another object now."""
        app = self.routing.flask_app
        return app is not None and (
            app.url_map is not self.routing.url_map or app.view_functions is not self._views
        )

    def changed(self) -> bool:
        """Whether the map changed since it was bound; if so, it is bound again first."""
        additions = self._additions
        seen = self._seen
        views = self._views
        app = self.routing.flask_app
        if (
            additions is not None
            and additions.count == seen[1]
            and (views.changes if isinstance(views, _WatchedViews) else len(views)) == seen[0]
            and (  # not self._replaced(), read here without a call
                app is None or (app.url_map is self.routing.url_map and app.view_functions is views)
            )
        ):
            return False
        with self._lock:
            if self._replaced():
                # The binding cannot follow a map or a view table swapped for another object
                # (its additions are not counted): fail closed until the app is restarted.
                self.bound = routes_unbound(
                    self.guard,
                    ConfigurationError(
                        "app.url_map or app.view_functions was replaced after the first "
                        "request: the route table cannot follow it; restart the app"
                    ),
                )
                if self.on_change is not None:
                    self.on_change()
                return True
            version = self._version()
            if len(version) == len(self._seen) and all(
                a is b or a == b for a, b in zip(version, self._seen, strict=True)
            ):
                return False
            self._rebind()
            on_change = self.on_change
            if on_change is not None:
                on_change()
            self._seen = version
        return True

    def _rebind(self) -> None:
        routing = self.routing
        try:
            self.bound = self.table.bind(*_served(routing.url_map, routing.views))
        except Exception as error:  # whatever breaks here must fail closed
            if not isinstance(error, ConfigurationError):
                error = ConfigurationError(f"the app's rules cannot be read: {error!r}")
            self.bound = routes_unbound(self.guard, error)

    def policy_for(self, method: str, rule: str | None, preflight: bool) -> Policy:
        """The policy of ``method`` on ``rule``; raises :class:`RoutesUnbound` while the rules
        are ones the table does not fit."""
        bound = self.bound
        if isinstance(bound, Refused):
            raise RoutesUnbound(bound)
        return bound.policy(method, rule, preflight=preflight)


#: How many requests' judgements a :class:`RuleMemo` keeps (emptied when full).
MAX_REMEMBERED_RULES = 1024

#: Every environ value ``Map.bind_to_environ`` and ``MapAdapter.match`` read to find the rule
#: (Flask's ``create_url_adapter`` reads the same ones, through ``get_host``): the method, the
#: path and the script name, the host (``Host``, or the server's name and port) and the scheme,
#: and whether it is a WebSocket upgrade. ``QUERY_STRING`` only goes into a redirect's URL:
#: a redirect dispatches no rule whatever the query.
_MATCH_INPUTS = (
    "REQUEST_METHOD",
    "PATH_INFO",
    "SCRIPT_NAME",
    "HTTP_HOST",
    "SERVER_NAME",
    "SERVER_PORT",
    "wsgi.url_scheme",
    "HTTP_CONNECTION",
    "HTTP_UPGRADE",
)


def match_key(environ: WSGIEnvironment, preflight: bool) -> tuple[Any, ...]:
    """What :class:`RuleMemo` remembers a judgement by: ``preflight`` and the environ's value
    (``None``: absent) of every name in ``_MATCH_INPUTS``, in that order (one ``get`` each,
    written out: a quarter of the cost of mapping ``get`` over the names)."""
    get = environ.get
    return (
        preflight,
        get("REQUEST_METHOD"),
        get("PATH_INFO"),
        get("SCRIPT_NAME"),
        get("HTTP_HOST"),
        get("SERVER_NAME"),
        get("SERVER_PORT"),
        get("wsgi.url_scheme"),
        get("HTTP_CONNECTION"),
        get("HTTP_UPGRADE"),
    )


def _builtin_converters() -> tuple[type[Any], ...]:
    from werkzeug.routing.converters import DEFAULT_CONVERTERS

    return tuple(set(DEFAULT_CONVERTERS.values()))


_BUILTIN_CONVERTERS = _builtin_converters()


class RuleMemo:
    """The rule each request reaches and its policy, remembered while that is exact (PERF-1).

    Asking the app's URL adapter (``create_url_adapter`` and ``match``) is most of what the
    middleware costs per request. A judgement, ``(rule, policy)``, is remembered per the exact
    environ values werkzeug reads to find the rule (``_MATCH_INPUTS``: method, ``PATH_INFO``,
    ``SCRIPT_NAME``, host, scheme, WebSocket upgrade) and whether it is a CORS preflight, and
    only while the map is *plain*:

    - a werkzeug ``Map`` of its own class, every rule a plain ``Rule`` with werkzeug's built-in
      converters only (a custom converter's ``to_python`` may read anything, or change), no
      callable ``redirect_to``; for Flask, ``Flask.create_url_adapter`` itself and a request
      class that does not replace ``__init__``;
    - the map's rules unchanged: every request first asks :meth:`MappedBinding.changed`, and a
      change (a rule added, a view registered) replaces the memory inside the binding's lock,
      before any request can see the new map as the one in force, and surveys the map again;
    - the settings ``match`` reads unchanged (``merge_slashes``, ``redirect_defaults``,
      ``host_matching``, ``default_subdomain``; Flask's ``SERVER_NAME``, ``TRUSTED_HOSTS``,
      ``subdomain_matching``, ``url_map``, ``request_class``), compared on every request.

    Host and subdomain matching need nothing more: the host is part of the key. Requests no rule
    runs for (404, 405, a redirect, an untrusted host) are remembered as ``None``, which is what
    asking again would answer; any other exception is raised as before and nothing is kept.
    Rules mutated in place (their methods reassigned) are not seen, as werkzeug itself does not
    recompile them. Flask's dispatch check (``install_dispatch_check`` in
    :mod:`stepup_mfa.adapters.flask`) still compares the rule Flask runs with the one judged, so
    an inner middleware that rewrites the path, method or host is judged again there.
    """

    __slots__ = ("_limit", "_mapped", "_memory", "_plain", "_settings")

    def __init__(self, mapped: MappedBinding) -> None:
        self._mapped = mapped
        self._limit = MAX_REMEMBERED_RULES
        self._memory: dict[tuple[Any, ...], Judgement] = {}
        self._plain = False
        self._settings: tuple[Any, ...] = ()
        self._survey()
        mapped.on_change = self._survey

    def _survey(self) -> None:
        routing = self._mapped.routing
        try:
            plain = _plain_map(routing)
        except Exception:  # pragma: no cover - a map that cannot be read is not plain
            plain = False
        self._settings = _settings_of(routing, copy=True) if plain else ()
        self._plain = plain
        # Replaced, not cleared: a judgement under the old map in flight elsewhere can only
        # land in the dictionary that is being dropped.
        self._memory = {}

    @property
    def plain(self) -> bool:
        """Whether judgements are remembered for the map as it is now."""
        return self._plain

    def __len__(self) -> int:
        """How many judgements are remembered now."""
        return len(self._memory)

    def policy_of(self, environ: WSGIEnvironment, method: str, preflight: bool) -> Policy:
        """``method``'s policy on the rule ``environ`` reaches; the judgement is recorded in
        ``environ[JUDGED_KEY]`` as ``(rule, method, policy)`` (rule ``None``: none runs), the
        very tuple remembered. Raises :class:`RoutesUnbound` while the map is one the table
        does not fit."""
        mapped = self._mapped
        mapped.changed()  # bound again (and this memory replaced) if the map changed
        memory = self._memory  # taken before judging: see _survey
        key: tuple[Any, ...] | None = None
        if self._plain:
            if _settings_of(mapped.routing, copy=False) != self._settings:
                self._survey()  # a setting changed: what was remembered may be wrong
                memory = self._memory
            if self._plain:
                key = match_key(environ, preflight)
                try:
                    remembered = memory.get(key)
                except TypeError:  # an unhashable value in the environ: not remembered
                    key = None
                else:
                    if (
                        remembered is not None
                        and remembered[1] == method
                        and self._memory is memory
                    ):
                        environ[JUDGED_KEY] = remembered
                        return remembered[2]
        routing = mapped.routing
        rule = _rule_of(routing, environ)
        if mapped.changed():  # the map changed meanwhile: bound again, the rule asked again
            rule = _rule_of(routing, environ)
            key = None
        policy = mapped.policy_for(method, rule, preflight)
        judged = Judgement((rule, method, policy))
        if key is not None and self._limit > 0:
            if len(memory) >= self._limit:
                memory.clear()
            memory[key] = judged
        environ[JUDGED_KEY] = judged
        return policy


def _plain_map(routing: _Routing) -> bool:
    """Whether the rule a request reaches is a function of ``_MATCH_INPUTS`` and the settings
    :func:`_settings_of` returns, and nothing else (see :class:`RuleMemo`)."""
    from werkzeug.routing.matcher import StateMachineMatcher
    from werkzeug.routing.rules import Rule

    url_map = routing.url_map
    if type(url_map) is not Map or type(url_map._matcher) is not StateMachineMatcher:
        return False
    if any(name in vars(url_map) for name in ("bind", "bind_to_environ", "update")):
        return False  # a method replaced on the instance (its counted ``add`` is ours)
    flask_app = routing.flask_app
    if flask_app is not None:
        try:
            from flask import Flask
            from werkzeug.wrappers import Request
        except ImportError:  # pragma: no cover - Flask-like but no Flask installed
            return False
        request_class = getattr(flask_app, "request_class", None)
        if (
            not isinstance(flask_app, Flask)
            or flask_app.url_map is not url_map
            or type(flask_app).create_url_adapter is not Flask.create_url_adapter
            or "create_url_adapter" in vars(flask_app)
            or not isinstance(request_class, type)
            or not issubclass(request_class, Request)
            or request_class.__init__ is not Request.__init__
            or not isinstance(
                inspect.getattr_static(request_class, "trusted_hosts", None),
                list | tuple | set | frozenset | type(None),
            )
        ):
            return False
    elif routing.adapter_for != url_map.bind_to_environ:
        return False
    for rule in url_map.iter_rules():
        if type(rule) is not Rule or not (
            rule.redirect_to is None or isinstance(rule.redirect_to, str)
        ):
            return False
        if any(
            type(converter) not in _BUILTIN_CONVERTERS for converter in rule._converters.values()
        ):
            return False
    return True


def _settings_of(routing: _Routing, *, copy: bool) -> tuple[Any, ...]:
    """The settings the rule a request reaches depends on besides the rules and the request
    (``copy``: lists copied, so that a list changed in place compares unequal later)."""
    url_map = routing.url_map
    settings: tuple[Any, ...] = (
        url_map._matcher,
        url_map._matcher.merge_slashes,
        url_map.redirect_defaults,
        url_map.host_matching,
        url_map.default_subdomain,
    )
    flask_app = routing.flask_app
    if flask_app is None:
        return settings
    config = flask_app.config
    trusted = config.get("TRUSTED_HOSTS")
    request_class = flask_app.request_class
    class_trusted = request_class.trusted_hosts
    if copy:
        trusted = None if trusted is None else list(trusted)
        class_trusted = None if class_trusted is None else list(class_trusted)
    return (
        *settings,
        flask_app.url_map is url_map,
        config.get("SERVER_NAME"),
        trusted,
        flask_app.subdomain_matching,
        request_class,
        class_trusted,
    )


def _routing_of(app: Any, url_map: Map | None) -> _Routing | None:
    """How the app routes: Flask's own URL adapter, a given werkzeug map's, or unknown."""
    if url_map is not None:
        if not isinstance(url_map, Map):
            raise ConfigurationError("url_map must be a werkzeug.routing.Map")
        return _Routing(url_map, url_map.bind_to_environ)
    flask_app = getattr(app, "__self__", app)  # app.wsgi_app is a bound method of the Flask app
    if not (hasattr(flask_app, "create_url_adapter") and hasattr(flask_app, "request_class")):
        return None
    request_class = flask_app.request_class
    create_url_adapter = flask_app.create_url_adapter

    def flask_adapter(environ: WSGIEnvironment) -> MapAdapter:
        # Exactly what Flask's RequestContext does before it dispatches: same host checks,
        # subdomain and SERVER_NAME handling, same map.
        adapter: MapAdapter = create_url_adapter(request_class(environ))
        return adapter

    return _Routing(flask_app.url_map, flask_adapter, flask_app)


def _rule_of(routing: _Routing, environ: WSGIEnvironment) -> str | None:
    """The rule the app dispatches ``environ`` to; ``None`` when none runs (404, 405, redirect,
    an untrusted host)."""
    try:
        rule, _ = routing.adapter_for(environ).match(return_rule=True)
    except (RequestRedirect, HTTPException):
        return None
    return rule.rule


def _served(
    url_map: Map, views: Mapping[str, object]
) -> tuple[dict[str, ServedMethods], list[set[str]]]:
    """Every rule template of the map (by :func:`template_key`) with the methods whose requests
    run its view (not the ``OPTIONS`` Flask answers itself), and the rules sharing one view
    (the same function under several endpoint names included)."""
    served: dict[str, ServedMethods] = {}
    by_view: dict[int, set[str]] = {}
    for rule in url_map.iter_rules():
        key = template_key(rule.rule)
        methods = frozenset(rule.methods) if rule.methods else None
        if methods is not None and getattr(rule, "provide_automatic_options", False):
            methods -= {"OPTIONS"}
        known = served.get(key, frozenset())
        served[key] = None if known is None or methods is None else known | methods
        view = views.get(rule.endpoint, rule.endpoint)
        by_view.setdefault(id(view), set()).add(key)
    return served, [keys for keys in by_view.values() if len(keys) > 1]
