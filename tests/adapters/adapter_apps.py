"""The seed scenario built six ways, one per adapter, behind one small client interface.

Every app serves the same routes with the same policies, and every handler answers
``{"sub": <the principal's subject or null>}``, so the shared behaviour table can run unchanged
against all of them through each framework's real request path:

- ``GET /``      anonymous
- ``GET /dogs/`` scope ``dogs:read``
- ``GET /cats/`` scope ``cats:read``, acr MFA, authentication within 60 s
- ``GET /boom/`` any valid token; the handler raises :class:`Boom`

``mode`` is ``"sync"`` or ``"async"``: the kind of handler function the app uses.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import flask
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route as StarletteRoute
from werkzeug.test import Client as WerkzeugClient

from stepup_mfa import ANONYMOUS, AUTHENTICATED, Challenge, Guard, Policy, parse_www_authenticate
from stepup_mfa._core.principal import Principal
from stepup_mfa.asgi import StepUpMiddleware
from stepup_mfa.integrations.fastapi import StepUp
from stepup_mfa.integrations.flask import FlaskStepUp, get_principal
from stepup_mfa.integrations.starlette import principal_of, require
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import MFA_ACR
from stepup_mfa.wsgi import StepUpWSGIMiddleware

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its test client and warns when it falls back to httpx;
    # the fallback is fine for these tests (the lead may add httpx2 to the dev extra).
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

Mode = Literal["sync", "async"]
#: Builds a Guard on a fresh verifier trusting the test issuer (the ``make_guard`` fixture).
MakeGuard = Callable[..., Guard]
REALM = "catsdogs"
ADAPTERS = (
    "flask-decorator",
    "flask-blueprint",
    "starlette-decorator",
    "fastapi-dependency",
    "wsgi-middleware",
    "asgi-middleware",
)
MODES: tuple[Mode, ...] = ("sync", "async")

DOGS = Policy(scopes="dogs:read", name="dogs")
CATS = Policy(scopes="cats:read", acr_values=MFA_ACR, max_age=60, name="cats-mfa-60s")
#: path -> (policy, handler raises)
ROUTES: dict[str, tuple[Policy, bool]] = {
    "/": (ANONYMOUS, False),
    "/dogs/": (DOGS, False),
    "/cats/": (CATS, False),
    "/boom/": (AUTHENTICATED, True),
}
TABLE = RouteTable([Route("GET", path, policy) for path, (policy, _) in ROUTES.items()])


class Boom(Exception):
    """Raised by the ``/boom/`` handler; must reach the test client, not become a 5xx."""


@dataclass(frozen=True)
class Reply:
    """A response, reduced to what the behaviour table checks."""

    status: int
    headers: dict[str, list[str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return ", ".join(values) if values else None

    @property
    def challenges(self) -> list[Challenge]:
        value = self.header("www-authenticate")
        return parse_www_authenticate(value) if value else []


Headers = Sequence[tuple[str, str]]
Call = Callable[[str, str, Headers], Reply]


def _reply(status: int, items: Sequence[tuple[str, str]], body: bytes) -> Reply:
    headers: dict[str, list[str]] = {}
    for name, value in items:
        headers.setdefault(name.lower(), []).append(value)
    return Reply(status, headers, body)


def _subject(principal: Principal | None) -> dict[str, Any]:
    return {"sub": principal.subject if principal is not None else None}


# -- Flask ------------------------------------------------------------------------------------


def _flask_view(name: str, boom: bool, mode: Mode) -> Callable[..., Any]:
    def sync_view() -> dict[str, Any]:
        if boom:
            raise Boom(name)
        return _subject(get_principal())

    async def async_view() -> dict[str, Any]:
        if boom:
            raise Boom(name)
        return _subject(get_principal())

    view = sync_view if mode == "sync" else async_view
    view.__name__ = name
    return view


def _flask_client(app: Any) -> Call:
    client = app.test_client() if isinstance(app, flask.Flask) else WerkzeugClient(app)

    def call(method: str, path: str, headers: Headers) -> Reply:
        response = client.open(path, method=method, headers=list(headers))
        return _reply(response.status_code, list(response.headers.items()), response.get_data())

    return call


def flask_decorator(guard: Guard, mode: Mode) -> Call:
    app = flask.Flask(__name__)
    app.testing = True
    stepup = FlaskStepUp()
    stepup.init_app(app, guard=guard)
    for index, (path, (policy, boom)) in enumerate(ROUTES.items()):
        view = stepup.require(policy)(_flask_view(f"view{index}", boom, mode))
        app.add_url_rule(path, view_func=view)
    return _flask_client(app)


def flask_blueprint(guard: Guard, mode: Mode) -> Call:
    app = flask.Flask(__name__)
    app.testing = True
    stepup = FlaskStepUp(guard, app)
    for index, (path, (policy, boom)) in enumerate(ROUTES.items()):
        blueprint = flask.Blueprint(f"bp{index}", __name__)
        blueprint.add_url_rule(path, view_func=_flask_view("view", boom, mode))
        stepup.protect(blueprint, policy)
        app.register_blueprint(blueprint)
    return _flask_client(app)


def wsgi_middleware(guard: Guard, mode: Mode) -> Call:
    """A Flask app with no protection of its own, wrapped in the WSGI middleware, driven by
    werkzeug's test client (the principal reaches the view through the WSGI environ)."""
    app = flask.Flask(__name__)
    app.testing = True
    for index, (path, (_policy, boom)) in enumerate(ROUTES.items()):
        app.add_url_rule(path, view_func=_flask_view(f"view{index}", boom, mode))
    return _flask_client(StepUpWSGIMiddleware(app.wsgi_app, guard=guard, routes=TABLE))


# -- Starlette, FastAPI, ASGI ------------------------------------------------------------------


def _starlette_client(app: Any) -> Call:
    client = TestClient(app)

    def call(method: str, path: str, headers: Headers) -> Reply:
        response = client.request(method, path, headers=list(headers))
        return _reply(response.status_code, response.headers.multi_items(), response.content)

    return call


def _starlette_endpoint(boom: bool, mode: Mode) -> Callable[[Request], Any]:
    def sync_endpoint(request: Request) -> JSONResponse:
        if boom:
            raise Boom(request.url.path)
        return JSONResponse(_subject(principal_of(request)))

    async def async_endpoint(request: Request) -> JSONResponse:
        if boom:
            raise Boom(request.url.path)
        return JSONResponse(_subject(principal_of(request)))

    return sync_endpoint if mode == "sync" else async_endpoint


def starlette_decorator(guard: Guard, mode: Mode) -> Call:
    routes = [
        StarletteRoute(path, require(guard, policy)(_starlette_endpoint(boom, mode)))
        for path, (policy, boom) in ROUTES.items()
    ]
    return _starlette_client(Starlette(routes=routes))


def asgi_app(guard: Guard, mode: Mode, table: RouteTable = TABLE) -> Starlette:
    """The seed routes, unprotected, behind the ASGI middleware."""
    routes = [
        StarletteRoute(path, _starlette_endpoint(boom, mode))
        for path, (_policy, boom) in ROUTES.items()
    ]
    middleware = [Middleware(StepUpMiddleware, guard=guard, routes=table)]
    return Starlette(routes=routes, middleware=middleware)


def asgi_middleware(guard: Guard, mode: Mode) -> Call:
    return _starlette_client(asgi_app(guard, mode))


def _fastapi_endpoint(dependency: Any, boom: bool, mode: Mode) -> Callable[..., Any]:
    def sync_endpoint(principal: Principal | None = dependency) -> Any:
        if boom:
            raise Boom()
        return _subject(principal)

    async def async_endpoint(principal: Principal | None = dependency) -> Any:
        if boom:
            raise Boom()
        return _subject(principal)

    return sync_endpoint if mode == "sync" else async_endpoint


def fastapi_dependency(guard: Guard, mode: Mode) -> Call:
    app = FastAPI()
    stepup = StepUp(guard)
    stepup.install(app)
    for path, (policy, boom) in ROUTES.items():
        endpoint = _fastapi_endpoint(Depends(stepup.dependency(policy)), boom, mode)
        app.add_api_route(path, endpoint, methods=["GET"])
    return _starlette_client(app)


BUILDERS: dict[str, Callable[[Guard, Mode], Call]] = {
    "flask-decorator": flask_decorator,
    "flask-blueprint": flask_blueprint,
    "starlette-decorator": starlette_decorator,
    "fastapi-dependency": fastapi_dependency,
    "wsgi-middleware": wsgi_middleware,
    "asgi-middleware": asgi_middleware,
}
