"""The Flask extension's and the WSGI middleware's hot path keeps every rule (issue 13).

A token seen before is admitted from the Guard's remembered verdict with the request's objects
taken once each; the decorator-order check of ``init_app`` (BIND-7) runs on the first request
and then leaves the request path without skipping any other hook; each app keeps its own Guard.
"""

from __future__ import annotations

from typing import Any

import flask
import pytest
from adapter_apps import CATS, MakeGuard

from stepup_mfa import AUTHENTICATED, ConfigurationError, Guard
from stepup_mfa.integrations.flask import FlaskStepUp, current_principal
from stepup_mfa.testing import TokenFactory


def auth(token: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token}


def counting(guard: Guard) -> list[str]:
    """Record every call of the Guard's full path."""
    calls: list[str] = []
    check = guard.check

    def counted_check(*args: Any) -> Any:
        calls.append("check")
        return check(*args)

    guard.check = counted_check  # type: ignore[method-assign,assignment]
    return calls


def test_bind_7_the_order_check_leaves_the_request_path_and_no_other_hook_is_skipped(
    guard: Guard, tokens: TokenFactory
) -> None:
    app = flask.Flask(__name__)
    ran: list[str] = []

    def hook(name: str) -> Any:
        def record() -> None:
            ran.append(name)

        return record

    app.before_request(hook("before init_app"))
    stepup = FlaskStepUp(guard, app)
    app.before_request(hook("after init_app"))

    @app.get("/cats/")
    @stepup.require(CATS)
    def cats() -> str:
        return "meow"

    client = app.test_client()
    good = auth(tokens.mfa_token(scope="cats:read", auth_age=10))
    assert [client.get("/cats/", headers=good).status_code for _ in range(3)] == [200] * 3
    assert ran == ["before init_app", "after init_app"] * 3
    hooks = app.before_request_funcs.get(None, [])
    assert [hook.__name__ for hook in hooks] == ["record", "record"]


def test_bind_7_the_order_check_alone_leaves_no_hook_behind(guard: Guard) -> None:
    app = flask.Flask(__name__)
    FlaskStepUp(guard, app)
    app.add_url_rule("/open", view_func=lambda: "open")
    assert app.test_client().get("/open").status_code == 200
    assert None not in app.before_request_funcs


def test_bind_7_a_failed_order_check_fails_every_request_until_fixed(guard: Guard) -> None:
    stepup = FlaskStepUp(guard)
    app = flask.Flask(__name__)
    stepup.init_app(app)
    blueprint = flask.Blueprint("cats", __name__)

    @stepup.require(CATS)
    @blueprint.get("/cats/")
    def cats() -> str:
        return "meow"

    app.register_blueprint(blueprint)
    app.testing = True  # Flask re-raises instead of answering 500
    client = app.test_client()
    for _ in range(2):  # the check is not dropped after a failure
        with pytest.raises(ConfigurationError, match="wrong order"):
            client.get("/cats/")


def test_perf_1_the_extension_admits_a_token_seen_before_with_its_principal(
    make_guard: MakeGuard, tokens: TokenFactory
) -> None:
    guard = make_guard()
    calls = counting(guard)
    app = flask.Flask(__name__)
    stepup = FlaskStepUp(guard, app)

    @app.get("/cats/")
    @stepup.require(CATS)
    def cats() -> dict[str, Any]:
        return {"sub": current_principal.subject}

    client = app.test_client()
    good = auth(tokens.mfa_token(scope="cats:read", auth_age=10, subject="alice"))
    replies = [client.get("/cats/", headers=good) for _ in range(4)]
    assert [(r.status_code, r.json) for r in replies] == [(200, {"sub": "alice"})] * 4
    assert len(calls) == 2  # verified, then remembered: the last two were recalled
    weak = auth(tokens.password_token(scope="cats:read"))
    assert [client.get("/cats/", headers=weak).status_code for _ in range(2)] == [401] * 2


def test_perf_1_each_app_recalls_with_its_own_guard(
    make_guard: MakeGuard, tokens: TokenFactory
) -> None:
    stepup = FlaskStepUp()
    apps = [flask.Flask("one"), flask.Flask("two")]
    guards = [make_guard(realm="one"), make_guard(realm="two")]
    calls = [counting(guard) for guard in guards]
    for app, guard in zip(apps, guards, strict=True):
        stepup.init_app(app, guard=guard)
        app.add_url_rule("/x", view_func=stepup.require(AUTHENTICATED)(lambda: "x"))
    good = auth(tokens.mfa_token())
    first, second = (app.test_client() for app in apps)
    assert [first.get("/x", headers=good).status_code for _ in range(4)] == [200] * 4
    assert (len(calls[0]), len(calls[1])) == (2, 0)
    assert second.get("/x", headers=good).status_code == 200
    assert len(calls[1]) == 1  # the other app's Guard judged it: nothing shared
    assert second.get("/x").headers["WWW-Authenticate"] == 'Bearer realm="two"'


def test_perf_1_a_view_of_an_app_not_initialised_fails_closed() -> None:
    stepup = FlaskStepUp()
    app = flask.Flask(__name__)
    app.add_url_rule("/x", view_func=stepup.require(AUTHENTICATED)(lambda: "x"))
    app.testing = True
    with pytest.raises(ConfigurationError, match="not initialised"):
        app.test_client().get("/x")


def test_perf_1_protect_admits_a_token_seen_before_and_still_lets_preflights_through(
    make_guard: MakeGuard, tokens: TokenFactory
) -> None:
    guard = make_guard()
    calls = counting(guard)
    app = flask.Flask(__name__)
    stepup = FlaskStepUp(guard, app)
    blueprint = flask.Blueprint("cats", __name__)
    blueprint.add_url_rule("/cats/", view_func=lambda: {"sub": current_principal.subject})
    stepup.protect(blueprint, CATS)
    app.register_blueprint(blueprint)
    client = app.test_client()
    good = auth(tokens.mfa_token(scope="cats:read", auth_age=10, subject="bob"))
    replies = [client.get("/cats/", headers=good) for _ in range(4)]
    assert [(r.status_code, r.json) for r in replies] == [(200, {"sub": "bob"})] * 4
    assert len(calls) == 2
    weak = auth(tokens.password_token(scope="cats:read"))
    assert [client.get("/cats/", headers=weak).status_code for _ in range(2)] == [401] * 2
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    assert client.options("/cats/", headers=preflight).status_code == 200
    assert client.options("/cats/").status_code == 401  # plain OPTIONS: judged


def test_bind_2_behind_the_middleware_the_view_reads_the_principal_it_admitted(
    make_guard: MakeGuard, tokens: TokenFactory
) -> None:
    from stepup_mfa.routes import Route, RouteTable
    from stepup_mfa.wsgi import StepUpWSGIMiddleware

    app = flask.Flask(__name__)
    app.add_url_rule("/cats/", "cats", view_func=lambda: {"sub": current_principal.subject})
    app.add_url_rule("/open", "open", view_func=lambda: "open")
    table = RouteTable([Route("GET", "/cats/", CATS)], default=AUTHENTICATED)
    app.wsgi_app = StepUpWSGIMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, guard=make_guard(), routes=table
    )
    client = app.test_client()
    good = auth(tokens.mfa_token(scope="cats:read", auth_age=10, subject="carol"))
    replies = [client.get("/cats/", headers=good) for _ in range(3)]
    assert [(r.status_code, r.json) for r in replies] == [(200, {"sub": "carol"})] * 3
    weak = auth(tokens.password_token(scope="cats:read"))
    assert [client.get("/cats/", headers=weak).status_code for _ in range(2)] == [401] * 2
    assert client.get("/open").status_code == 401  # the table's default: authenticated


def test_bind_7_a_hand_run_preprocess_request_does_not_end_the_order_check(guard: Guard) -> None:
    app = flask.Flask(__name__)
    stepup = FlaskStepUp(guard, app)
    with app.test_request_context("/"):
        app.preprocess_request()  # Flask's setup is not finished by this
    blueprint = flask.Blueprint("late", __name__)

    @stepup.require(CATS)
    @blueprint.get("/admin")
    def admin() -> str:
        return "admin"

    app.register_blueprint(blueprint)
    app.testing = True
    with pytest.raises(ConfigurationError, match="wrong order"):
        app.test_client().get("/admin")


def test_bind_7_the_hook_leaves_idempotently(guard: Guard) -> None:
    from stepup_mfa.adapters.flask import _drop_hook

    app = flask.Flask(__name__)
    FlaskStepUp(guard, app)
    (hook,) = app.before_request_funcs[None]
    _drop_hook(app, hook)
    _drop_hook(app, hook)  # a second first request doing the same: no KeyError
    assert None not in app.before_request_funcs


def test_bind_2_a_plain_tuple_in_the_judged_key_is_trusted_for_nothing(
    make_guard: MakeGuard, tokens: TokenFactory
) -> None:
    from werkzeug.test import EnvironBuilder

    from stepup_mfa.routes import Route, RouteTable
    from stepup_mfa.wsgi import StepUpWSGIMiddleware

    app = flask.Flask(__name__)
    app.add_url_rule("/open", "open", lambda: "open")
    app.add_url_rule("/admin", "admin", lambda: "admin")
    table = RouteTable([Route("GET", "/admin", CATS)], default=AUTHENTICATED)
    inner = app.wsgi_app
    middleware = StepUpWSGIMiddleware(inner, guard=make_guard(), routes=table)

    def rewriting(environ: dict[str, Any], start_response: Any) -> Any:
        environ["PATH_INFO"] = "/admin"
        environ["stepup_mfa.judged"] = ("/admin", "GET", AUTHENTICATED)  # forged
        return inner(environ, start_response)

    middleware.app = rewriting
    app.wsgi_app = middleware  # type: ignore[method-assign]
    headers = list(auth(tokens.password_token()).items())
    environ = EnvironBuilder(path="/open", headers=headers).get_environ()
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    body = b"".join(app(environ, start_response))
    assert statuses[0].startswith("401") and body != b"admin"


def plain_decorator(view: Any) -> Any:
    """A decorator written without ``functools.wraps``."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return view(*args, **kwargs)

    return wrapper


def test_bind_7_require_above_a_decorator_without_wraps_above_the_route_fails(
    guard: Guard,
) -> None:
    app = flask.Flask(__name__)
    stepup = FlaskStepUp(guard, app)
    with pytest.raises(ConfigurationError, match="wrong order"):

        @stepup.require(CATS)
        @plain_decorator
        @app.get("/admin")
        def admin() -> str:
            return "admin"


def test_bind_7_a_decorator_without_wraps_below_require_is_the_right_order(
    guard: Guard, tokens: TokenFactory
) -> None:
    app = flask.Flask(__name__)
    stepup = FlaskStepUp(guard, app)

    @app.get("/admin")
    @stepup.require(CATS)
    @plain_decorator
    def admin() -> str:
        return "admin"

    client = app.test_client()
    assert client.get("/admin").status_code == 401
    good = auth(tokens.mfa_token(scope="cats:read", auth_age=10))
    assert client.get("/admin", headers=good).status_code == 200
