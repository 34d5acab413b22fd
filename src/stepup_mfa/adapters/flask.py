"""Flask adapter: an extension with ``require`` for views and ``protect`` for whole blueprints.

::

    stepup = FlaskStepUp(guard)          # or FlaskStepUp() and stepup.init_app(app, guard=guard)

    @app.get("/cats/")
    @stepup.require(MFA_60S)
    def cats():
        return {"sub": current_principal.subject}

    stepup.protect(admin_blueprint, AUTHENTICATED)

Every view, ``async def`` ones included, is checked with the blocking ``guard.check``: Flask runs
each async view on a fresh event loop in the worker thread, so an asyncio HTTP client could not
be pooled across requests, and blocking that short-lived loop costs nothing.
``require`` also decorates ``View``/``MethodView`` methods or goes in ``View.decorators``.

A refusal is raised as :class:`StepUpDenied`, a werkzeug ``HTTPException`` whose concrete class
follows the status (``Unauthorized``, ``Forbidden``, ``BadRequest``, ``ServiceUnavailable``), so
``@app.errorhandler(401)``, ``@app.errorhandler(StepUpDenied)`` and the like customise it as
usual. Its default response is ``guard.denial(...)``, byte for byte what every adapter sends.

State lives in ``app.extensions["stepup_mfa"]`` (the app's Guard); the extension object holds no
app, so one extension serves an app factory's many apps.

Misuse fails early (architecture rule 11): ``@stepup.require`` without a policy, or with a policy
name instead of a :class:`~stepup_mfa.Policy`, raises at decoration; ``@stepup.require(P)``
written *above* ``@app.get(...)`` (so the route was registered with the unprotected view) raises
:class:`~stepup_mfa.ConfigurationError` as soon as it can be seen: at decoration for an app already
initialised, else at ``init_app`` or on the app's first request, before any view runs.
"""

from __future__ import annotations

import functools
import inspect
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from flask import Blueprint, Flask, after_this_request, current_app, g, request
from werkzeug.exceptions import (
    BadRequest,
    Forbidden,
    HTTPException,
    RequestEntityTooLarge,
    ServiceUnavailable,
    Unauthorized,
)
from werkzeug.local import LocalProxy
from werkzeug.wrappers import Response

from .._core.credentials import RequestView
from .._core.decision import Decision, Refused
from .._core.errors import ConfigurationError, StepUpError
from .._core.policy import Policy
from .._core.principal import Principal
from .._guard import Denial, Guard
from . import _edge
from ._edge import (
    RoutesUnbound,
    environ_is_preflight,
    principal_in,
    refusal_for,
    refuse,
    wsgi_view,
)
from .wsgi import JUDGED_KEY, Judgement, form_body

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment
    from flask import Request as FlaskRequest
    from werkzeug.wrappers import Request as WSGIRequest

__all__ = [
    "EXTENSION_KEY",
    "FlaskStepUp",
    "StepUpDenied",
    "current_principal",
    "get_principal",
]

F = TypeVar("F", bound=Callable[..., Any])

#: The key of ``app.extensions`` under which the extension keeps each app's Guard.
EXTENSION_KEY = "stepup_mfa"
_G_KEY = "_stepup_mfa_principal"


class StepUpDenied(HTTPException):
    """A refused request. ``decision`` says why; ``denial`` is the response the Guard shaped
    (negotiated against the request's ``Accept`` when raised)."""

    def __init__(self, decision: Refused, denial: Denial) -> None:
        super().__init__(description=decision.error.description)
        if self.code is None:
            self.code = denial.status
        self.decision = decision
        self.denial = denial

    def get_response(
        self,
        environ: WSGIEnvironment | WSGIRequest | None = None,
        scope: dict[str, Any] | None = None,
    ) -> Response:
        """werkzeug's hook: the Guard's response, whatever the ``environ`` or ``scope``."""
        denial = self.denial
        return Response(denial.body, denial.status, list(denial.headers))


class StepUpUnauthorized(StepUpDenied, Unauthorized):
    """401: no token, an invalid token, or a step-up challenge."""


class StepUpForbidden(StepUpDenied, Forbidden):
    """403: the token lacks a scope or fails an application rule."""


class StepUpBadRequest(StepUpDenied, BadRequest):
    """400: a malformed request (two Authorization lines, a token sent two ways...)."""


class StepUpUnavailable(StepUpDenied, ServiceUnavailable):
    """503: the authorization server cannot be used right now (fail closed)."""


class StepUpTooLarge(StepUpDenied, RequestEntityTooLarge):
    """413: a form body too large to be searched for a token (form-body method only)."""


_BY_STATUS: dict[int, type[StepUpDenied]] = {
    400: StepUpBadRequest,
    401: StepUpUnauthorized,
    403: StepUpForbidden,
    413: StepUpTooLarge,
    503: StepUpUnavailable,
}
_CHECKED_KEY = "stepup_mfa.decorators_checked"
#: Every function some ``require`` wrapped, and what it wrapped in turn (``__wrapped__``): if an
#: app routes to one of them, a decorator above the route decorator left the route unprotected.
#: Module-wide, so a view protected by one extension object is caught on any app.
_UNPROTECTED: weakref.WeakSet[Callable[..., Any]] = weakref.WeakSet()


def _remember_unprotected(view: Callable[..., Any]) -> None:
    """Remember ``view`` and every function it wraps: through ``__wrapped__``, and through the
    functions its closure holds (a decorator written without ``functools.wraps``); at most 32."""
    pending: list[Any] = [view]
    seen = 0
    while pending and seen < 32:
        node = pending.pop(0)
        if not callable(node) or node in _UNPROTECTED:
            continue
        _UNPROTECTED.add(node)
        seen += 1
        pending.append(getattr(node, "__wrapped__", None))
        for cell in getattr(node, "__closure__", None) or ():
            try:
                content = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if inspect.isfunction(content):
                pending.append(content)


def get_principal() -> Principal | None:
    """The principal admitted for the current request, or ``None`` (anonymous route, no check).

    Set by ``require``/``protect``, or by :class:`~stepup_mfa.wsgi.StepUpWSGIMiddleware` when the
    app is wrapped in it.
    """
    principal: Principal | None = getattr(_current_g(), _G_KEY, None)
    if principal is None:
        principal = principal_in(_current_request().environ)
    return principal


def _current_principal() -> Principal:
    principal = get_principal()
    if principal is None:
        raise RuntimeError(
            "no principal for this request: the route is anonymous or not protected by stepup-mfa"
        )
    return principal


#: The current request's :class:`Principal`; raises ``RuntimeError`` when there is none.
current_principal: Principal = cast(Principal, LocalProxy(_current_principal))

#: The objects behind Flask's proxies, each taken with one context-variable lookup (an
#: attribute read through a proxy looks the object up again every time).
_current_app: Callable[[], Flask] = cast(LocalProxy[Flask], current_app)._get_current_object
_current_request: Callable[[], FlaskRequest] = cast(
    LocalProxy["FlaskRequest"], request
)._get_current_object
_current_g: Callable[[], object] = cast(LocalProxy[object], g)._get_current_object


class FlaskStepUp:
    """The Flask extension. ``guard`` here is the default for every app it is initialised on;
    with ``app`` it initialises that app at once (:meth:`init_app`).
    """

    def __init__(self, guard: Guard | None = None, app: Flask | None = None) -> None:
        if guard is not None and not isinstance(guard, Guard):
            raise ConfigurationError(f"FlaskStepUp(guard): expected a Guard, got {guard!r}")
        self.guard = guard
        self._apps: weakref.WeakSet[Flask] = weakref.WeakSet()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, guard: Guard | None = None) -> None:
        """Attach a Guard to ``app`` (``guard`` or the one given to the constructor)."""
        chosen = guard or self.guard
        if chosen is None:
            raise ConfigurationError("FlaskStepUp needs a Guard: FlaskStepUp(guard) or init_app")
        if not isinstance(chosen, Guard):
            raise ConfigurationError(f"init_app(app, guard): expected a Guard, got {chosen!r}")
        app.extensions[EXTENSION_KEY] = chosen
        self._apps.add(app)
        self._check_order(app)

        def stepup_mfa_check_decorators() -> None:
            # Until Flask's setup is finished (its first full request; a hand-run
            # preprocess_request does not finish it) views may still be added: checked every
            # time. Once it is, checked once more, and the hook leaves: no view can be
            # registered any more, and the hook would only cost every request a call.
            finished = getattr(app, "_got_first_request", False) is True
            if not (finished and app.extensions.get(_CHECKED_KEY)):
                self._check_order(app)  # blueprints register their views late
                if finished:
                    app.extensions[_CHECKED_KEY] = True
            if finished:
                _drop_hook(app, stepup_mfa_check_decorators)

        app.before_request_funcs.setdefault(None, []).insert(0, stepup_mfa_check_decorators)

    def _check_order(self, app: Flask) -> None:
        """Raise if ``app`` routes to a view whose protected form exists but is not routed."""
        for endpoint, view in app.view_functions.items():
            if view in _UNPROTECTED:
                raise ConfigurationError(
                    f"endpoint {endpoint!r} is registered without its @stepup.require check: "
                    "the decorators are in the wrong order. Write @app.get(...) above "
                    "@stepup.require(policy), so the route is registered with the protected view"
                )

    def require(self, policy: Policy) -> Callable[[F], F]:
        """Refuse calls to the decorated view unless the request satisfies ``policy``."""
        if not isinstance(policy, Policy):
            shown = getattr(policy, "__name__", None) or type(policy).__name__
            raise ConfigurationError(
                f"@stepup.require takes a Policy, got {shown!r}: write @stepup.require(policy)"
            )

        def decorate(view: F) -> F:
            if inspect.iscoroutinefunction(view):

                @functools.wraps(view)
                async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                    _judge_view(self.guard, policy)
                    return await view(*args, **kwargs)

                protected: Callable[..., Any] = guarded_async
            else:

                @functools.wraps(view)
                def guarded(*args: Any, **kwargs: Any) -> Any:
                    _judge_view(self.guard, policy)
                    return view(*args, **kwargs)

                protected = guarded
            _remember_unprotected(view)
            for app in list(self._apps):
                self._check_order(app)
            return cast(F, protected)

        return decorate

    def protect(self, blueprint: Blueprint, policy: Policy) -> None:
        """Check every request to ``blueprint``'s views against ``policy`` (before ``require``).

        CORS preflight requests pass, as in the middlewares: they carry no credentials by design.
        """
        if not isinstance(policy, Policy):
            raise ConfigurationError(f"protect(blueprint, policy): got {type(policy).__name__}")

        def stepup_mfa_protect() -> None:
            current = _current_request()
            if environ_is_preflight(current.environ, current.method) and not (
                _view_answers_options()
            ):
                return
            _judge_view(self.guard, policy)

        blueprint.before_request(stepup_mfa_protect)


def install_dispatch_check(
    app: Flask,
    guard: Guard,
    policy_for: Callable[[str, str | None, bool], Policy],
    changed: Callable[[], bool] = lambda: False,
) -> None:
    """Behind :class:`~stepup_mfa.wsgi.StepUpWSGIMiddleware`, make sure the rule and method
    Flask dispatches are the ones the middleware judged (BIND-2).

    A WSGI middleware between the two (or a replaced ``app.wsgi_app``) may rewrite the path or
    the method; Flask then runs another view than the one predicted. Installed as the app's
    first URL-value preprocessor, the first code Flask runs for a matched request, it judges the
    request again by the rule that runs whenever that rule's policy differs from the one judged.
    ``policy_for(method, rule, preflight)`` is the middleware's binding in force (bound again
    when the map changes, BIND-12); while the map is one the table does not fit it raises
    :class:`~stepup_mfa.adapters._edge.RoutesUnbound`, and the request is refused with its 503.
    ``changed()`` binds again if the map changed while the request was in flight; the judged
    policy then counts for nothing and the request is judged by the new binding.
    """

    def stepup_mfa_dispatch_check(_endpoint: str | None, _values: dict[str, Any] | None) -> None:
        current = _current_request()  # once: each read through the proxy looks it up again
        environ = current.environ
        judged = environ.get(JUDGED_KEY)
        if type(judged) is not Judgement:  # not the middleware's own record: trusted for nothing
            judged = None
        method = current.method
        url_rule = current.url_rule
        rule = url_rule.rule if url_rule is not None else None
        fresh = not changed()
        if fresh and judged is not None and judged[0] == rule and judged[1] == method:
            return
        preflight = environ_is_preflight(environ, method)
        try:
            policy = policy_for(method, rule, preflight)
        except RoutesUnbound as unbound:
            _admit(guard, unbound.refusal)  # raises the refusal
            return
        if fresh and judged is not None and judged[2] == policy:
            return
        _admit(guard, guard.check(wsgi_view(environ, current.path, mtls=guard.mtls), policy))
        environ[JUDGED_KEY] = Judgement((rule, method, policy))

    app.url_value_preprocessors.setdefault(None, []).insert(0, stepup_mfa_dispatch_check)


def _drop_hook(app: Flask, hook: Callable[[], Any]) -> None:
    """Take ``hook`` out of the app's ``before_request`` hooks through a new list, so that the
    loop Flask is running over the old one goes on to the next hook; idempotent, so that
    concurrent first requests may both do it."""
    funcs = app.before_request_funcs.get(None)
    if funcs is None or hook not in funcs:
        return
    kept = [f for f in funcs if f is not hook]
    if kept:
        app.before_request_funcs[None] = kept
    else:
        app.before_request_funcs.pop(None, None)


def _view_answers_options() -> bool:
    """Whether the matched view itself answers ``OPTIONS`` (not Flask's automatic answer): then
    a request dressed as a CORS preflight must not pass it without a token."""
    rule = request.url_rule
    if rule is None:
        return False
    methods: Iterable[str] = rule.methods or ()
    return "OPTIONS" in methods and not getattr(rule, "provide_automatic_options", False)


def _request_view(guard: Guard, policy: Policy) -> RequestView:
    body: bytes | None = None
    try:
        body = form_body(guard, request.environ, policy)  # bounded, even for a chunked body
    except StepUpError as error:
        _admit(guard, refuse(guard, error))
    return wsgi_view(request.environ, request.path, body, guard.mtls)


def _app_guard(app: Flask, default: Guard | None) -> Guard:
    """The Guard of ``app`` (``init_app``), else the extension's own."""
    guard: Guard | None = app.extensions.get(EXTENSION_KEY) or default
    if guard is None:
        raise ConfigurationError("stepup-mfa is not initialised on this app (init_app)")
    return guard


def _judge_view(default: Guard | None, policy: Policy) -> None:
    """Judge the current request with the current app's Guard (``init_app``, else ``default``);
    once admitted, its response gets the headers of an admitted request (a fresh
    ``DPoP-Nonce``, RFC 9449 §8.2). A token seen before is admitted with the request's objects
    taken from their context variables once each (every attribute read through Flask's proxies
    costs a lookup of its own)."""
    guard = _app_guard(_current_app(), default)
    remembered = _edge.wsgi_recall(guard, _current_request().environ, policy)
    if remembered is not None:  # a token seen before (Bearer only: nothing to add)
        setattr(_current_g(), _G_KEY, remembered.principal)  # as _admit records it
        return
    view = _request_view(guard, policy)
    _admit(guard, guard.check(view, policy))
    extra = _edge.admitted_headers(guard, view.authorization)
    if extra:

        @after_this_request
        def add_headers(response: Response) -> Response:
            for name, value in extra:
                response.headers[name] = value
            return response


def _admit(guard: Guard, decision: Decision) -> None:
    """Record the principal, or raise the refusal the Guard shaped."""
    if decision.allowed:
        setattr(g, _G_KEY, decision.principal)
        return
    denial = refusal_for(guard, decision, request.headers.get("Accept"), request.method)
    raise _BY_STATUS.get(denial.status, StepUpDenied)(decision, denial)
