"""Flask and WSGI beyond the shared table: error-handler customisation, class-based views, the
extension's set-up rules, CORS preflight, and form-body tokens through the WSGI middleware."""

from __future__ import annotations

from typing import Any, ClassVar

import flask
import pytest
from adapter_apps import CATS, TABLE, MakeGuard
from flask.views import MethodView, View
from werkzeug.exceptions import Unauthorized
from werkzeug.test import Client

from stepup_mfa import AUTHENTICATED, ConfigurationError, Guard, TokenMethods
from stepup_mfa.integrations.flask import FlaskStepUp, StepUpDenied, current_principal
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import TokenFactory
from stepup_mfa.wsgi import StepUpWSGIMiddleware, principal_from_environ


def auth(token: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token}


def make_app(guard: Guard) -> tuple[flask.Flask, FlaskStepUp]:
    app = flask.Flask(__name__)
    app.testing = True
    return app, FlaskStepUp(guard, app)


def test_errorhandler_by_status_customises_the_refusal(guard: Guard) -> None:
    app, stepup = make_app(guard)

    @app.get("/cats/")
    @stepup.require(CATS)
    def cats() -> str:
        return "meow"

    @app.errorhandler(401)
    def unauthorized(error: StepUpDenied) -> tuple[dict[str, Any], int, dict[str, Any]]:
        headers = {"WWW-Authenticate": error.decision.www_authenticate}
        return {"custom": error.decision.error.code}, 401, headers  # type: ignore[union-attr]

    response = app.test_client().get("/cats/")
    assert response.json == {"custom": "missing_credentials"}
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="catsdogs"'


def test_errorhandler_by_class_catches_every_refusal(guard: Guard) -> None:
    app, stepup = make_app(guard)
    app.add_url_rule("/cats/", view_func=stepup.require(CATS)(lambda: "meow"))
    app.register_error_handler(StepUpDenied, lambda error: ("denied", error.code))
    assert app.test_client().get("/cats/").get_data() == b"denied"


def test_refusal_is_a_werkzeug_exception_of_its_status(guard: Guard) -> None:
    app, stepup = make_app(guard)
    app.add_url_rule("/cats/", view_func=stepup.require(CATS)(lambda: "meow"))
    caught: list[Exception] = []
    app.register_error_handler(Unauthorized, lambda e: (caught.append(e) or "x", 401))
    app.test_client().get("/cats/")
    assert isinstance(caught[0], StepUpDenied)


def test_method_view_methods_can_be_decorated(guard: Guard, tokens: TokenFactory) -> None:
    app, stepup = make_app(guard)

    class Cats(MethodView):
        @stepup.require(CATS)
        def get(self) -> dict[str, Any]:
            return {"sub": current_principal.subject}

        @stepup.require(AUTHENTICATED)
        async def post(self) -> dict[str, Any]:
            return {"sub": current_principal.subject}

    app.add_url_rule("/cats/", view_func=Cats.as_view("cats"))
    client = app.test_client()
    assert client.get("/cats/", headers=auth(tokens.password_token())).status_code == 401
    assert client.post("/cats/", headers=auth(tokens.password_token())).json == {"sub": "user-1"}


def test_view_decorators_attribute(guard: Guard, tokens: TokenFactory) -> None:
    app, stepup = make_app(guard)

    class Dogs(View):
        decorators: ClassVar[list[Any]] = [stepup.require(AUTHENTICATED)]

        def dispatch_request(self) -> dict[str, Any]:
            return {"sub": current_principal.subject}

    app.add_url_rule("/dogs/", view_func=Dogs.as_view("dogs"))
    client = app.test_client()
    assert client.get("/dogs/").status_code == 401
    assert client.get("/dogs/", headers=auth(tokens.password_token())).json == {"sub": "user-1"}


def test_current_principal_without_one_says_why(guard: Guard) -> None:
    app, _ = make_app(guard)
    with app.test_request_context("/"), pytest.raises(RuntimeError, match="no principal"):
        _ = current_principal.subject


def test_init_app_needs_a_guard() -> None:
    with pytest.raises(ConfigurationError, match="needs a Guard"):
        FlaskStepUp().init_app(flask.Flask(__name__))


def test_one_extension_serves_several_apps(make_guard: MakeGuard) -> None:
    stepup = FlaskStepUp()
    apps = [flask.Flask(__name__), flask.Flask(__name__)]
    guards = [make_guard(realm="one"), make_guard(realm="two")]
    for app, guard in zip(apps, guards, strict=True):
        stepup.init_app(app, guard=guard)
        app.add_url_rule("/x", view_func=stepup.require(AUTHENTICATED)(lambda: "x"))
    realms = [app.test_client().get("/x").headers["WWW-Authenticate"] for app in apps]
    assert realms == ['Bearer realm="one"', 'Bearer realm="two"']


def test_blueprint_lets_cors_preflight_through(guard: Guard) -> None:
    app, stepup = make_app(guard)
    blueprint = flask.Blueprint("cats", __name__)
    blueprint.add_url_rule("/cats/", view_func=lambda: "meow", methods=["GET"])
    stepup.protect(blueprint, CATS)
    app.register_blueprint(blueprint)
    headers = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    assert app.test_client().options("/cats/", headers=headers).status_code == 200


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    principal = principal_from_environ(environ)
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [(principal.subject if principal else "-").encode(), b" ", body]


def test_wsgi_cors_preflight_passes_without_token(guard: Guard) -> None:
    client = Client(StepUpWSGIMiddleware(wsgi_app, guard=guard, routes=TABLE))
    headers = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    assert client.options("/cats/", headers=headers).status_code == 200


def test_wsgi_plain_options_still_needs_a_token(guard: Guard) -> None:
    client = Client(StepUpWSGIMiddleware(wsgi_app, guard=guard, routes=TABLE))
    assert client.options("/cats/").status_code == 401


def test_wsgi_options_without_origin_is_not_a_preflight(guard: Guard) -> None:
    client = Client(StepUpWSGIMiddleware(wsgi_app, guard=guard, routes=TABLE))
    headers = {"Access-Control-Request-Method": "GET"}
    assert client.options("/cats/", headers=headers).status_code == 401


def test_wsgi_form_body_token_is_read_and_replayed(
    make_guard: MakeGuard, tokens: TokenFactory
) -> None:
    guard = make_guard(token_methods=TokenMethods(body=True))
    table = RouteTable([Route("POST", "/form/", AUTHENTICATED)])
    client = Client(StepUpWSGIMiddleware(wsgi_app, guard=guard, routes=table))
    body = "access_token=" + tokens.password_token() + "&x=1"
    response = client.post("/form/", data=body, content_type="application/x-www-form-urlencoded")
    assert response.get_data(as_text=True) == "user-1 " + body


def test_flask_form_body_token(make_guard: MakeGuard, tokens: TokenFactory) -> None:
    guard = make_guard(token_methods=TokenMethods(body=True))
    app, stepup = make_app(guard)

    @app.post("/form/")
    @stepup.require(AUTHENTICATED)
    def form() -> dict[str, Any]:
        return {"sub": current_principal.subject, "x": flask.request.form["x"]}

    body = {"access_token": tokens.password_token(), "x": "1"}
    assert app.test_client().post("/form/", data=body).json == {"sub": "user-1", "x": "1"}
