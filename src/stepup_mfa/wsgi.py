"""WSGI middleware with a route table (werkzeug-compatible, any WSGI app).

::

    app.wsgi_app = StepUpWSGIMiddleware(app.wsgi_app, guard=guard, routes=table)

Every request is checked with ``guard.check`` (WSGI is blocking) against the policy the
:class:`~stepup_mfa.routes.RouteTable` names for it. A refused request gets ``guard.denial(...)``
and never reaches the app; an admitted one carries its principal in
``environ["stepup_mfa.principal"]`` (Flask's ``current_principal`` reads it there too).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING

from werkzeug.wsgi import get_input_stream

from ._core.credentials import RequestView, body_may_carry_token
from ._core.principal import Principal
from ._guard import Denial, Guard
from .asgi import PRINCIPAL_KEY
from .routes import RouteTable

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["PRINCIPAL_KEY", "StepUpWSGIMiddleware", "principal_from_environ"]


def principal_from_environ(environ: WSGIEnvironment) -> Principal | None:
    """The principal the middleware admitted this request with, if any."""
    principal: Principal | None = environ.get(PRINCIPAL_KEY)
    return principal


def environ_path(environ: WSGIEnvironment) -> str:
    """``PATH_INFO`` as text. PEP 3333 hands it over as latin-1-decoded bytes; routers (werkzeug,
    Starlette) match on the UTF-8 reading, so the route table does too."""
    path: str = environ.get("PATH_INFO") or "/"
    if not path.isascii():
        path = path.encode("latin-1").decode("utf-8", "replace")
    return path


def form_body(guard: Guard, environ: WSGIEnvironment) -> bytes | None:
    """The urlencoded body when the form-body token method is on (RFC 6750 §2.2), else ``None``.

    The body is read once, within ``Content-Length`` (werkzeug's safe input stream), and put back
    as a fresh stream so the app can still read it.
    """
    if not guard.token_methods.body or not body_may_carry_token(
        environ.get("REQUEST_METHOD", "GET"), environ.get("CONTENT_TYPE")
    ):
        return None
    body = get_input_stream(environ).read()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("wsgi.input_terminated", None)
    return body


def request_view(guard: Guard, environ: WSGIEnvironment, path: str) -> RequestView:
    """The core's view of a WSGI request.

    WSGI servers join repeated ``Authorization`` lines with a comma; the core refuses such a
    value as malformed (RFC 9110 §11.6.2, R9110-4), so nothing is lost by the joining.
    """
    authorization = environ.get("HTTP_AUTHORIZATION")
    body = form_body(guard, environ)
    return RequestView(
        environ.get("REQUEST_METHOD", "GET"),
        path,
        (authorization,) if authorization is not None else (),
        environ.get("QUERY_STRING", ""),
        environ.get("CONTENT_TYPE") if body is not None else None,
        body,
        environ.get("wsgi.url_scheme", "http"),
    )


def start_denial(denial: Denial, start_response: StartResponse) -> list[bytes]:
    """Send the Guard's refusal through ``start_response``; the body as the WSGI iterable."""
    status = f"{denial.status} {HTTPStatus(denial.status).phrase}"
    headers = [*denial.headers, ("Content-Length", str(len(denial.body)))]
    start_response(status, headers)
    return [denial.body]


class StepUpWSGIMiddleware:
    """Checks every request against a :class:`RouteTable` before the wrapped app sees it."""

    __slots__ = ("app", "guard", "routes")

    def __init__(self, app: WSGIApplication, *, guard: Guard, routes: RouteTable) -> None:
        self.app = app
        self.guard = guard
        self.routes = routes

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ_path(environ)
        preflight = (
            method == "OPTIONS"
            and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ
            and "HTTP_ORIGIN" in environ
        )
        policy = self.routes.policy_for(method, path, preflight=preflight)
        decision = self.guard.check(request_view(self.guard, environ, path), policy)
        if not decision.allowed:
            return start_denial(
                self.guard.denial(decision, environ.get("HTTP_ACCEPT")), start_response
            )
        environ[PRINCIPAL_KEY] = decision.principal
        return self.app(environ, start_response)
