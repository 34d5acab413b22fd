"""The apps the binding tests attack, built in the server processes from environment variables.

Every handler answers ``{"handler": "<name>"}`` (and the same name in ``X-Binding-Handler``, so
that ``HEAD`` answers can be attributed) and nothing else: no handler looks at the principal or
the path, so a 2xx answer says exactly which handler ran. The protection is the route-table
middleware (``StepUpMiddleware`` / ``StepUpWSGIMiddleware``), which is what the tests judge; the
FastAPI app also has ``/dep/cats/``, protected by the dependency, as a control group.

Environment:

``BINDING_ISSUER``   the fake issuer's URL (``http://127.0.0.1:<port>``)
``BINDING_AUDIENCE`` the audience tokens are minted for
``BINDING_DEFAULT``  ``authenticated`` or ``anonymous``: the route table's default

The servers call the factories ``starlette_app``, ``fastapi_app``, ``flask_app``, ``raw_asgi``
and ``raw_wsgi`` (see ``binding_servers.server_command``); ``python binding_apps.py werkzeug PORT``
runs the Flask app on the werkzeug development server.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

from stepup_mfa import ANONYMOUS, AUTHENTICATED, Guard, JWTVerifier, Policy
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import MFA_ACR

HANDLER_HEADER = "X-Binding-Handler"
MFA = Policy(acr_values=MFA_ACR, max_age=60, name="mfa-60s")

#: handler name -> the policy that handler must only ever run under (what the tests check)
HANDLER_POLICIES: dict[str, Policy] = {
    "index": ANONYMOUS,
    "dogs": AUTHENTICATED,
    "cats": MFA,
    "users": MFA,
    "api_cats": MFA,
    "ws_cats": MFA,
    "dep_cats": MFA,  # FastAPI only: protected by the dependency (control group)
}

#: (method, Starlette template, policy) of the route table; Flask uses FLASK_USERS_KEYS for users
STARLETTE_TABLE: tuple[tuple[str, str, Policy], ...] = (
    ("GET", "/", ANONYMOUS),
    ("GET", "/dogs/", AUTHENTICATED),
    ("GET", "/cats/", MFA),
    ("GET", "/users/{id}/", MFA),
    ("GET", "/api/cats/", MFA),
    ("GET", "/ws/cats", MFA),
)
#: The Flask rule for users is ``/users/<int:id>/``: the table is keyed by that rule when the
#: route table understands werkzeug syntax (after the fix), else by today's ``{id}`` pattern.
FLASK_USERS_KEYS = ("/users/<int:id>/", "/users/{id}/")


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"binding_apps: set {name}")
    return value


def make_guard(**options: Any) -> Guard:
    verifier = JWTVerifier(
        _env("BINDING_ISSUER"), _env("BINDING_AUDIENCE"), allow_insecure_http=True
    )
    return Guard(verifier, realm="binding", **options)


def make_table(entries: Iterable[tuple[str, str, Policy]]) -> RouteTable:
    """The table with the configured default; an anonymous default is opted into explicitly
    when ``RouteTable`` has the keyword for it (after the fix), so no ``PolicyWarning``."""
    default_name = _env("BINDING_DEFAULT")
    default = {"authenticated": AUTHENTICATED, "anonymous": ANONYMOUS}[default_name]
    options: dict[str, Any] = {"default": default}
    if (
        default is ANONYMOUS
        and "allow_anonymous_default" in inspect.signature(RouteTable).parameters
    ):
        options["allow_anonymous_default"] = True
    return RouteTable([Route(m, p, policy) for m, p, policy in entries], **options)


def _body(name: str) -> bytes:
    return json.dumps({"handler": name}).encode()


# -- Starlette and FastAPI -----------------------------------------------------------------------


def _starlette_endpoint(name: str) -> Callable[..., Any]:
    from starlette.responses import Response

    async def endpoint(request: Any) -> Any:
        return Response(_body(name), media_type="application/json", headers={HANDLER_HEADER: name})

    endpoint.__name__ = name
    return endpoint


async def _ws_cats(websocket: Any) -> None:
    await websocket.accept()
    await websocket.send_text(json.dumps({"handler": "ws_cats"}))
    await websocket.close()


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import Mount, WebSocketRoute
    from starlette.routing import Route as StarletteRoute

    from stepup_mfa.asgi import StepUpMiddleware

    routes = [
        StarletteRoute("/", _starlette_endpoint("index")),
        StarletteRoute("/dogs/", _starlette_endpoint("dogs")),
        StarletteRoute("/cats/", _starlette_endpoint("cats")),
        StarletteRoute("/users/{id}/", _starlette_endpoint("users")),
        WebSocketRoute("/ws/cats", _ws_cats),
        Mount("/api", routes=[StarletteRoute("/cats/", _starlette_endpoint("api_cats"))]),
    ]
    middleware = [
        Middleware(StepUpMiddleware, guard=make_guard(), routes=make_table(STARLETTE_TABLE))
    ]
    return Starlette(routes=routes, middleware=middleware)


def fastapi_app() -> Any:
    from fastapi import APIRouter, Depends, FastAPI, WebSocket
    from starlette.middleware import Middleware
    from starlette.responses import Response

    from stepup_mfa.asgi import StepUpMiddleware
    from stepup_mfa.integrations.fastapi import StepUp

    guard = make_guard()
    middleware = [Middleware(StepUpMiddleware, guard=guard, routes=make_table(STARLETTE_TABLE))]
    app = FastAPI(middleware=middleware, openapi_url=None, docs_url=None, redoc_url=None)
    stepup = StepUp(guard)
    stepup.install(app)

    def answer(name: str) -> Response:
        return Response(_body(name), media_type="application/json", headers={HANDLER_HEADER: name})

    @app.get("/")
    async def index() -> Response:
        return answer("index")

    @app.get("/dogs/")
    async def dogs() -> Response:
        return answer("dogs")

    @app.get("/cats/")
    async def cats() -> Response:
        return answer("cats")

    @app.get("/users/{id}/")
    async def users(id: str) -> Response:
        return answer("users")

    mfa_dependency = Depends(stepup.dependency(MFA))

    @app.get("/dep/cats/")
    async def dep_cats(principal: Any = mfa_dependency) -> Response:
        return answer("dep_cats")

    @app.websocket("/ws/cats")
    async def ws_cats(websocket: WebSocket) -> None:
        await _ws_cats(websocket)

    api = APIRouter()

    @api.get("/cats/")
    async def api_cats() -> Response:
        return answer("api_cats")

    app.include_router(api, prefix="/api")
    return app


async def raw_asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers every HTTP request as handler ``raw`` (wrapped by ``raw_asgi`` below)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    body = _body("index" if scope["path"] == "/" else "raw")
    name = b"index" if scope["path"] == "/" else b"raw"
    headers = [(b"content-type", b"application/json"), (HANDLER_HEADER.lower().encode(), name)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


RAW_TABLE: tuple[tuple[str, str, Policy], ...] = (("GET", "/", ANONYMOUS), ("GET", "/cats/", MFA))
#: the response header in which the raw apps' recorder reports the path the app was given
SEEN_HEADER = "X-Binding-Seen-Path"


def _seen(path: bytes, raw_path: bytes | None) -> list[tuple[bytes, bytes]]:
    """The recorder's headers: the decoded path (percent-encoded again, so that control
    characters survive a header) and the ASGI ``raw_path`` when there is one."""
    from urllib.parse import quote_from_bytes

    headers = [(SEEN_HEADER.lower().encode(), quote_from_bytes(path, safe="/").encode())]
    if raw_path is not None:
        headers.append((b"x-binding-seen-raw-path", quote_from_bytes(raw_path, safe="/%").encode()))
    return headers


def raw_asgi() -> Any:
    """A router-less ASGI app behind the middleware (BIND-3), inside a recorder that reports
    on every answer (refusals included) the path the middleware was given."""
    from stepup_mfa.asgi import StepUpMiddleware

    protected = StepUpMiddleware(raw_asgi_app, guard=make_guard(), routes=make_table(RAW_TABLE))

    async def recorder(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await protected(scope, receive, send)
            return
        seen = _seen(scope["path"].encode("utf-8", "surrogateescape"), scope.get("raw_path"))

        async def send_seen(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *seen]}
            await send(message)

        await protected(scope, receive, send_seen)

    return recorder


def raw_wsgi() -> Any:
    """A router-less WSGI app behind the middleware (BIND-3), inside the same recorder."""
    from stepup_mfa.wsgi import StepUpWSGIMiddleware

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        name = "index" if environ.get("PATH_INFO") == "/" else "raw"
        start_response("200 OK", [("Content-Type", "application/json"), (HANDLER_HEADER, name)])
        return [_body(name)]

    protected = StepUpWSGIMiddleware(app, guard=make_guard(), routes=make_table(RAW_TABLE))

    def recorder(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "").encode("latin-1")
        seen = [(n.decode(), v.decode()) for n, v in _seen(path, None)]

        def start_seen(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            return start_response(status, [*headers, *seen], *exc)

        return protected(environ, start_seen)

    return recorder


# -- Flask -----------------------------------------------------------------------------------------


def _flask_table(users_key: str) -> tuple[tuple[str, str, Policy], ...]:
    return tuple(
        (m, users_key if p == "/users/{id}/" else p, policy)
        for m, p, policy in STARLETTE_TABLE
        if p != "/ws/cats"
    )


def _flask_unprotected() -> Any:
    import flask

    app = flask.Flask("binding_apps")

    def view(name: str) -> Callable[..., Any]:
        def handler(**_: Any) -> Any:
            return flask.Response(
                _body(name), mimetype="application/json", headers={HANDLER_HEADER: name}
            )

        handler.__name__ = name
        return handler

    app.add_url_rule("/", view_func=view("index"))
    app.add_url_rule("/dogs/", view_func=view("dogs"))
    app.add_url_rule("/cats/", view_func=view("cats"))
    app.add_url_rule("/users/<int:id>/", view_func=view("users"))
    api = flask.Blueprint("api", "binding_apps")
    api.add_url_rule("/cats/", view_func=view("api_cats"))
    app.register_blueprint(api, url_prefix="/api")
    return app


def _flask_with(users_key: str, guard: Guard) -> Any:
    from stepup_mfa.wsgi import StepUpWSGIMiddleware

    app = _flask_unprotected()
    table = make_table(_flask_table(users_key))
    app.wsgi_app = StepUpWSGIMiddleware(app.wsgi_app, guard=guard, routes=table)
    return app


def _users_policy(users_key: str) -> Policy | None:
    """The policy the middleware applies to ``GET /users/7/`` with this key (on a probe Guard
    that records its decisions; no token is sent, so nothing is verified)."""
    seen: list[Policy] = []
    probe = make_guard(on_decision=lambda _view, policy, _decision: seen.append(policy))
    _flask_with(users_key, probe).test_client().get("/users/7/")
    return seen[0] if seen else None


def flask_app() -> Any:
    """The Flask app behind the WSGI middleware; the users key is the first spelling the route
    table binds to the ``/users/<int:id>/`` rule (checked on the canonical path only)."""
    from stepup_mfa import ConfigurationError

    for key in FLASK_USERS_KEYS:
        try:
            if _users_policy(key) == MFA:
                return _flask_with(key, make_guard())
        except ConfigurationError:
            continue
    raise RuntimeError("binding_apps: no route-table key protects GET /users/7/ in Flask")


def main(argv: list[str]) -> None:
    if len(argv) != 3 or argv[1] != "werkzeug":
        raise SystemExit("usage: binding_apps.py werkzeug PORT")
    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", int(argv[2]), flask_app(), threaded=True)


if __name__ == "__main__":
    main(sys.argv)
