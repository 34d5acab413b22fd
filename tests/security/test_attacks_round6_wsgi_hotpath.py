"""Round 6 attacks on the WSGI and Flask hot paths (in process).

The WSGI middleware remembers each request's judgement as the ``(rule, method, policy)`` tuple
it records in the environ, reads the app's ``url_map`` and ``view_functions`` without a call,
and wraps ``start_response`` only when it adds headers; the Flask extension admits a token
seen before with the app, request and ``g`` taken once each, and its decorator-order check
(BIND-7) leaves ``before_request`` after its first success. Each attack tries to reach a
protected view under a weaker policy, or a 200 (or a 500) where the library must refuse: map
changes after a remembered hit, environ spellings on a remembered path, the recorded judgement
rewritten by a middleware between ours and Flask, two apps on one extension, hand-pushed
contexts, the order check after it left. A hole is marked ``xfail(strict=True)``.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import flask
import pytest
from werkzeug.routing import Map, Rule

from stepup_mfa import ANONYMOUS, ConfigurationError, Guard, JWTVerifier, Policy
from stepup_mfa.adapters.wsgi import JUDGED_KEY, StepUpWSGIMiddleware
from stepup_mfa.integrations.flask import FlaskStepUp, StepUpDenied
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import MFA_ACR, FakeIssuer, FrozenClock, TokenFactory

AUDIENCE = "https://api.example.com"
NOW = 1_800_000_000.0
AUTH = Policy(name="authenticated")
MFA = Policy(acr_values=MFA_ACR, max_age=60, name="mfa-60s")
TABLE = RouteTable(
    [
        Route("GET", "/open", AUTH),
        Route("GET", "/admin/<id>", MFA),
        Route("GET", "/pub", ANONYMOUS),
    ],
    default=AUTH,
)

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    with FakeIssuer(AUDIENCE, clock=FrozenClock(NOW)) as issuer:
        yield issuer


@pytest.fixture
def tokens(issuer: FakeIssuer) -> TokenFactory:
    return issuer.tokens


def make_guard(issuer: FakeIssuer) -> Guard:
    verifier = JWTVerifier(issuer.issuer, AUDIENCE, allow_insecure_http=True)
    return Guard(verifier, clock=FrozenClock(NOW), refresh_ahead=None)


@pytest.fixture
def guard(issuer: FakeIssuer) -> Iterator[Guard]:
    guard = make_guard(issuer)
    yield guard
    guard.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token}


def admin_view(**_: Any) -> str:
    return "admin"


def flask_app(guard: Guard, between: Callable[[WSGIApp], WSGIApp] | None = None) -> flask.Flask:
    """Flask with the middleware around its ``wsgi_app``; ``between`` wraps Flask's own
    ``wsgi_app`` inside ours (a middleware between the two)."""
    app = flask.Flask(__name__)
    app.add_url_rule("/open", "open", lambda: "open")
    app.add_url_rule("/admin/<id>", "admin", admin_view)
    app.add_url_rule("/pub", "pub", lambda: "pub")
    app.add_url_rule("/extra", "extra", lambda: "extra")  # unlisted: the default (AUTH)
    inner: WSGIApp = app.wsgi_app
    middleware = StepUpWSGIMiddleware(inner, guard=guard, routes=TABLE)
    if between is not None:  # Flask's routing found first, then the middleware slipped in
        middleware.app = between(inner)
    app.wsgi_app = middleware  # type: ignore[method-assign]
    return app


def environ_for(path: str, token: str, **overrides: Any) -> Environ:
    from werkzeug.test import EnvironBuilder

    environ: Environ = EnvironBuilder(path=path, headers=list(bearer(token).items())).get_environ()
    environ.update(overrides)
    return environ


def call(app: Any, environ: Environ) -> tuple[int, str]:
    """One raw WSGI call: the status code and the body."""
    status: list[str] = []

    def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        status.append(line)
        return lambda data: None

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks).decode()
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return int(status[0].split()[0]), body


# -- the judgement recorded in the environ -------------------------------------------------------


def rewrite_to_admin(
    forge: Callable[[Environ], None] | None = None,
) -> Callable[[WSGIApp], WSGIApp]:
    """A middleware between ours and Flask that sends ``/open`` to the MFA view's rule, and
    with ``forge`` rewrites the recorded judgement too."""

    def wrap(app: WSGIApp) -> WSGIApp:
        def rewriting(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
            if environ.get("PATH_INFO") == "/open":
                environ["PATH_INFO"] = "/admin/1"
                if forge is not None:
                    forge(environ)
            return app(environ, start_response)

        return rewriting

    return wrap


def test_bind_2_a_path_rewritten_behind_a_remembered_judgement_is_judged_again(
    guard: Guard, tokens: TokenFactory
) -> None:
    """BIND-2, PERF-4: the judgement of ``/open`` remembered (a second request is a memo hit),
    then a middleware between ours and Flask sends it to the MFA rule: refused, never admin."""
    app = flask_app(guard, rewrite_to_admin())
    plain = tokens.password_token()
    for _ in range(3):
        status, body = call(app, environ_for("/open", plain))
        assert (status, body) != (200, "admin")
        assert status == 401


def test_bind_2_a_recorded_judgement_whose_policy_is_lowered_does_not_skip_the_check(
    guard: Guard, tokens: TokenFactory
) -> None:
    """BIND-2: the inner middleware rewrites the path and lowers the recorded policy (same
    rule and method as the request had): the rule Flask runs differs, so it is judged again."""

    def lower(environ: Environ) -> None:
        rule, method, _ = environ[JUDGED_KEY]
        environ[JUDGED_KEY] = (rule, method, ANONYMOUS)

    app = flask_app(guard, rewrite_to_admin(lower))
    status, body = call(app, environ_for("/open", tokens.password_token()))
    assert (status, body) != (200, "admin")


def test_bind_2_a_recorded_judgement_rewritten_to_the_new_rule_does_not_skip_the_check(
    guard: Guard, tokens: TokenFactory
) -> None:
    """BIND-2 (a round 6 hole, closed: only the middleware's own Judgement is trusted): the
    inner middleware rewrites ``/open`` to ``/admin/1`` and records the plain tuple
    ``("/admin/<id>", "GET", AUTH)`` as the judgement: the password token, judged for AUTH on
    ``/open``, must not reach the MFA view."""

    def forge(environ: Environ) -> None:
        environ[JUDGED_KEY] = ("/admin/<id>", "GET", AUTH)

    app = flask_app(guard, rewrite_to_admin(forge))
    status, body = call(app, environ_for("/open", tokens.password_token()))
    assert (status, body) != (200, "admin")


def test_bind_2_a_recorded_judgement_removed_is_judged_again(
    guard: Guard, tokens: TokenFactory
) -> None:
    """BIND-2: the inner middleware drops the recorded judgement and rewrites the path: the
    dispatch check has nothing to trust and judges the rule Flask runs."""

    def drop(environ: Environ) -> None:
        del environ[JUDGED_KEY]

    app = flask_app(guard, rewrite_to_admin(drop))
    status, body = call(app, environ_for("/open", tokens.password_token()))
    assert (status, body) != (200, "admin")
    assert status == 401


def test_bind_2_a_method_rewritten_on_a_remembered_path_is_judged_again(
    guard: Guard, tokens: TokenFactory
) -> None:
    """BIND-2, PERF-4: ``POST /admin/1`` (405: no rule, the default) remembered, then an inner
    middleware turns it into a ``GET``: Flask runs the MFA rule, which is judged again."""

    def to_get(app: WSGIApp) -> WSGIApp:
        def rewriting(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
            environ["REQUEST_METHOD"] = "GET"
            return app(environ, start_response)

        return rewriting

    app = flask_app(guard, to_get)
    plain = tokens.password_token()
    for _ in range(2):
        status, body = call(app, environ_for("/admin/1", plain, REQUEST_METHOD="POST"))
        assert (status, body) != (200, "admin")


# -- environ spellings on a path remembered before ----------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"REQUEST_METHOD": "get"}, id="method-lower-case"),
        pytest.param({"REQUEST_URI": "/open", "RAW_URI": "/open"}, id="request-uri-lies"),
        pytest.param({"SCRIPT_NAME": "/mount"}, id="script-name"),
        pytest.param({"HTTP_HOST": "other.example"}, id="host"),
        pytest.param({"wsgi.url_scheme": "https"}, id="scheme"),
        pytest.param({"QUERY_STRING": ""}, id="empty-query"),
        pytest.param({"SERVER_PORT": "8443"}, id="server-port"),
        pytest.param({"HTTP_CONNECTION": "Upgrade", "HTTP_UPGRADE": "websocket"}, id="upgrade"),
    ],
)
def test_perf_4_a_spelling_of_a_remembered_mfa_path_meets_its_policy(
    guard: Guard, tokens: TokenFactory, overrides: dict[str, str]
) -> None:
    """PERF-4, BIND-2: ``/admin/1`` remembered with an MFA token, then ``/open`` remembered
    with a password token; the same password token on ``/admin/1`` spelt otherwise (and ``/open``
    spelt otherwise with ``PATH_INFO`` the admin path) never reaches the MFA view."""
    app = flask_app(guard)
    strong = tokens.mfa_token(auth_age=10)
    plain = tokens.password_token()
    assert call(app, environ_for("/admin/1", strong)) == (200, "admin")
    assert call(app, environ_for("/open", plain)) == (200, "open")
    for _ in range(2):
        status, body = call(app, environ_for("/admin/1", plain, **overrides))
        assert (status, body) != (200, "admin")
    assert call(app, environ_for("/admin/1", strong)) == (200, "admin")


def test_p1_two_authorization_lines_joined_on_a_remembered_token_are_refused(
    guard: Guard, tokens: TokenFactory
) -> None:
    """P1, PERF-1: a token admitted (and remembered) on ``/admin/1``, then sent twice as the
    comma-joined line a WSGI server makes of two lines: 400, not the remembered admission."""
    app = flask_app(guard)
    strong = tokens.mfa_token(auth_age=10)
    assert call(app, environ_for("/admin/1", strong)) == (200, "admin")
    environ = environ_for("/admin/1", strong)
    environ["HTTP_AUTHORIZATION"] = f"Bearer {strong}, Bearer {strong}"
    assert call(app, environ)[0] == 400


# -- the map changed after a remembered hit -----------------------------------------------------


def remembered_open(guard: Guard, tokens: TokenFactory) -> tuple[flask.Flask, str]:
    """The app with ``/open`` and ``/extra`` judged twice each (memo hits) for a password token."""
    app = flask_app(guard)
    plain = tokens.password_token()
    for path in ("/open", "/extra") * 2:
        assert call(app, environ_for(path, plain))[0] == 200
    return app, plain


def test_bind_12_view_functions_swapped_after_a_remembered_hit_is_refused(
    guard: Guard, tokens: TokenFactory
) -> None:
    """BIND-12, BIND-5: ``app.view_functions["extra"] = admin_view`` after the unlisted
    ``/extra`` was remembered: the MFA view would run under the default; 503, never admin.
    (``/open``, listed, given the admin view is a table choice: routes listed with different
    policies run one handler deliberately, RouteTable.bind.)"""
    app, plain = remembered_open(guard, tokens)
    app.view_functions["extra"] = admin_view
    status, body = call(app, environ_for("/extra", plain))
    assert body != "admin"
    assert status == 503


def test_bind_12_view_functions_replaced_whole_after_a_remembered_hit_is_refused(
    guard: Guard, tokens: TokenFactory
) -> None:
    """BIND-12: ``app.view_functions = {...}`` (another object, its changes not counted) after
    a remembered hit: the map-change check read without a call still sees it: 503."""
    app, plain = remembered_open(guard, tokens)
    app.view_functions = {**app.view_functions, "extra": admin_view}
    status, body = call(app, environ_for("/extra", plain))
    assert body != "admin"
    assert status == 503


def test_bind_12_url_map_replaced_after_a_remembered_hit_is_refused(
    guard: Guard, tokens: TokenFactory
) -> None:
    """BIND-12: ``app.url_map`` replaced by a map where ``/open`` runs the MFA endpoint, after
    ``/open`` was remembered: 503, never admin."""
    app, plain = remembered_open(guard, tokens)
    app.url_map = Map([Rule("/open", endpoint="admin"), Rule("/admin/<id>", endpoint="admin")])
    status, body = call(app, environ_for("/open", plain))
    assert body != "admin"
    assert status == 503


def test_bind_12_url_map_add_after_a_remembered_hit_is_bound_again(
    guard: Guard, tokens: TokenFactory
) -> None:
    """BIND-12: ``app.url_map.add(Rule("/extra", endpoint="admin"))`` (no setup-finished
    check there) ahead of nothing: werkzeug sorts it with the older ``/extra``; whichever runs,
    a password token never reaches the MFA view."""
    app, plain = remembered_open(guard, tokens)
    app.url_map.add(Rule("/staff/<id>", endpoint="admin"))
    status, body = call(app, environ_for("/staff/1", plain))
    assert body != "admin"
    assert status == 503
    status, body = call(app, environ_for("/open", plain))
    assert status == 503  # fail closed until the map fits again


def test_bind_12_map_setting_changed_after_a_remembered_hit_forgets_it(
    guard: Guard, tokens: TokenFactory
) -> None:
    """PERF-4: ``/admin//1`` remembered (merged, a redirect: no rule runs), then
    ``merge_slashes`` turned off on the map and its matcher: the remembered ``None`` must not
    stand for what now answers; a password token never reaches the MFA view."""
    app = flask_app(guard)
    plain = tokens.password_token()
    for _ in range(2):
        status, body = call(app, environ_for("/admin//1", plain))
        assert (status, body) != (200, "admin")
    app.url_map.merge_slashes = False
    app.url_map._matcher.merge_slashes = False
    status, body = call(app, environ_for("/admin//1", plain))
    assert (status, body) != (200, "admin")


def test_bind_12_threads_racing_a_view_swap_never_reach_admin_after_it(
    guard: Guard, tokens: TokenFactory
) -> None:
    """BIND-12: threads hammer the remembered ``/extra`` while another swaps its view for the
    MFA one; every request that starts after the swap is refused (503), none gets admin after
    the swap was seen by a later request."""
    app, plain = remembered_open(guard, tokens)
    seen_after: list[tuple[int, str]] = []
    swapped = threading.Event()
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            started_after = swapped.is_set()
            answer = call(app, environ_for("/extra", plain))
            if started_after:
                seen_after.append(answer)

    workers = [threading.Thread(target=hammer) for _ in range(3)]
    for worker in workers:
        worker.start()
    try:
        app.view_functions["extra"] = admin_view
        swapped.set()
        while len(seen_after) < 60:
            threading.Event().wait(0.001)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert all(answer == seen_after[0] for answer in seen_after)
    assert seen_after[0][0] == 503


# -- the Flask extension -------------------------------------------------------------------------


def test_bind_7_require_above_a_late_view_registered_by_hand_is_refused(
    guard: Guard, tokens: TokenFactory
) -> None:
    """BIND-7: after the order check left ``before_request``, Flask refuses ``add_url_rule``
    (setup finished): a wrong-order view cannot be registered that way after the first
    request."""
    app = flask.Flask(__name__)
    stepup = FlaskStepUp(guard, app)
    app.add_url_rule("/open", "open", lambda: "open")
    assert app.test_client().get("/open").status_code == 200
    assert None not in app.before_request_funcs

    def raw() -> str:
        return "admin"

    with pytest.raises(AssertionError, match="setup method"):
        app.add_url_rule("/admin", "admin", raw)
    stepup.require(MFA)(raw)  # no route: nothing to catch, nothing served
    assert app.test_client().get("/admin").status_code == 404


def test_bind_7_require_above_a_blueprint_route_registered_after_the_check_left(
    guard: Guard,
) -> None:
    """BIND-7: a warm-up ``with app.test_request_context(): app.preprocess_request()`` runs
    the order check (which then leaves) without finishing Flask's setup; a blueprint with
    ``@stepup.require`` written above ``@bp.get`` registered afterwards must still be caught
    before its view runs."""
    app = flask.Flask(__name__)
    stepup = FlaskStepUp(guard, app)
    with app.test_request_context("/"):
        app.preprocess_request()
    blueprint = flask.Blueprint("late", __name__)

    @stepup.require(MFA)
    @blueprint.get("/admin")
    def admin() -> str:
        return "admin"

    app.register_blueprint(blueprint)
    answer = app.test_client().get("/admin")
    assert answer.get_data(as_text=True) != "admin"


def test_bind_7_concurrent_first_requests_never_get_a_500(guard: Guard) -> None:
    """BIND-7: two threads run the app's first requests at once (gthread, waitress); the hook
    reads the list, both see itself in it, both drop it. The interleaving is forced by a
    ``before_request_funcs`` whose ``get`` waits for the other thread (Flask itself reads it
    with ``in`` and ``[]``); each request must get its 200."""
    app = flask.Flask(__name__)
    FlaskStepUp(guard, app)
    app.add_url_rule("/pub", "pub", lambda: "pub")
    meet = threading.Barrier(2, timeout=2)

    class Meeting(defaultdict[Any, list[Callable[..., Any]]]):
        def get(self, key: Any, default: Any = None) -> Any:
            found = super().get(key, default)
            try:
                meet.wait()
            except threading.BrokenBarrierError:
                pass
            return found

    app.before_request_funcs = Meeting(list, app.before_request_funcs)
    statuses: list[int] = []

    def first() -> None:
        statuses.append(app.test_client().get("/pub").status_code)

    workers = [threading.Thread(target=first) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert statuses == [200, 200]


def test_bind_7_two_apps_on_one_extension_each_keep_their_order_check(guard: Guard) -> None:
    """BIND-7: one extension on two apps; the first app's check leaving does not take the
    second's with it: a wrong-order blueprint on the second app is still caught on its first
    request."""
    stepup = FlaskStepUp(guard)
    first, second = flask.Flask("first"), flask.Flask("second")
    stepup.init_app(first)
    stepup.init_app(second)
    first.add_url_rule("/pub", "pub", lambda: "pub")
    assert first.test_client().get("/pub").status_code == 200
    blueprint = flask.Blueprint("wrong", __name__)

    @stepup.require(MFA)
    @blueprint.get("/admin")
    def admin() -> str:
        return "admin"

    second.register_blueprint(blueprint)
    second.testing = False
    answer = second.test_client().get("/admin")
    assert answer.get_data(as_text=True) != "admin"
    assert answer.status_code == 500  # ConfigurationError: misuse, before any view runs


def test_bind_7_two_apps_with_their_own_guards_never_share_a_remembered_admission(
    issuer: FakeIssuer, tokens: TokenFactory
) -> None:
    """PERF-1: one extension, one protected view on two apps each with its own Guard; a token
    remembered by the first app's Guard is judged by the second's (which refuses this issuer's
    audience), not admitted from the first's memory."""
    with FakeIssuer("https://other.example.com", clock=FrozenClock(NOW)) as other:
        first_guard = make_guard(issuer)
        second_guard = make_guard(other)
        stepup = FlaskStepUp()

        def admin() -> str:
            return "admin"

        protected = stepup.require(MFA)(admin)
        apps = [flask.Flask("first"), flask.Flask("second")]
        for app, app_guard in zip(apps, (first_guard, second_guard), strict=True):
            app.add_url_rule("/admin", "admin", protected)
            stepup.init_app(app, guard=app_guard)
        strong = bearer(tokens.mfa_token(auth_age=10))
        for _ in range(2):
            assert apps[0].test_client().get("/admin", headers=strong).status_code == 200
        answer = apps[1].test_client().get("/admin", headers=strong)
        assert answer.get_data(as_text=True) != "admin"
        assert answer.status_code == 401
        first_guard.close()
        second_guard.close()


def test_bind_7_a_remembered_token_in_a_test_request_context_meets_the_views_policy(
    guard: Guard, tokens: TokenFactory
) -> None:
    """PERF-1: a password token remembered for an AUTH view, then the MFA view called inside
    ``app.test_request_context()`` with it: refused (StepUpDenied), not a remembered pass."""
    app = flask.Flask(__name__)
    stepup = FlaskStepUp(guard, app)

    @app.get("/open")
    @stepup.require(AUTH)
    def open_view() -> str:
        return "open"

    @app.get("/admin")
    @stepup.require(MFA)
    def admin() -> str:
        return "admin"

    plain = bearer(tokens.password_token())
    for _ in range(2):
        assert app.test_client().get("/open", headers=plain).status_code == 200
    with app.test_request_context("/admin", headers=plain), pytest.raises(StepUpDenied):
        admin()


def test_bind_7_a_view_called_under_another_apps_pushed_context_uses_that_apps_guard(
    issuer: FakeIssuer, tokens: TokenFactory
) -> None:
    """PERF-1: inside a request of the first app the view pushes the second app's context by
    hand and calls a view protected for it; the second app's Guard (another issuer) judges,
    and the token the first app remembered is not admitted there."""
    with FakeIssuer("https://other.example.com", clock=FrozenClock(NOW)) as other:
        first_guard, second_guard = make_guard(issuer), make_guard(other)
        stepup = FlaskStepUp()
        first, second = flask.Flask("first"), flask.Flask("second")
        stepup.init_app(first, guard=first_guard)
        stepup.init_app(second, guard=second_guard)

        @stepup.require(MFA)
        def second_admin() -> str:
            return "admin"

        @first.get("/hop")
        @stepup.require(MFA)
        def hop() -> str:
            with second.test_request_context("/admin", headers=dict(flask.request.headers)):
                try:
                    return second_admin()
                except StepUpDenied:
                    return "refused"

        strong = bearer(tokens.mfa_token(auth_age=10))
        for _ in range(2):
            assert first.test_client().get("/hop", headers=strong).get_data(as_text=True) == (
                "refused"
            )
        first_guard.close()
        second_guard.close()


def test_bind_7_before_request_funcs_edited_after_the_check_left_keeps_require(
    guard: Guard, tokens: TokenFactory
) -> None:
    """BIND-7, PERF-1: the app's ``before_request_funcs`` emptied by hand after the order
    check left: ``@stepup.require`` still judges every request (the check is in the view)."""
    app = flask.Flask(__name__)
    stepup = FlaskStepUp(guard, app)

    @app.get("/admin")
    @stepup.require(MFA)
    def admin() -> str:
        return "admin"

    client = app.test_client()
    strong = bearer(tokens.mfa_token(auth_age=10))
    assert client.get("/admin", headers=strong).status_code == 200
    app.before_request_funcs.clear()
    plain = bearer(tokens.password_token())
    for _ in range(2):
        answer = client.get("/admin", headers=plain)
        assert answer.get_data(as_text=True) != "admin"
        assert answer.status_code == 401


def test_perf_1_two_flask_apps_on_one_guard_keep_their_own_tables(
    guard: Guard, tokens: TokenFactory
) -> None:
    """PERF-1, PERF-4: two Flask apps, one Guard, a middleware each; ``/open`` is AUTH on the
    first and MFA on the second. A password token remembered on the first app's ``/open`` is
    judged for MFA on the second's (each middleware its own memo; the Guard's memory keyed by
    policy)."""
    first = flask_app(guard)
    second = flask.Flask("second")
    second.add_url_rule("/open", "open", admin_view)
    second.wsgi_app = StepUpWSGIMiddleware(  # type: ignore[method-assign]
        second.wsgi_app, guard=guard, routes=RouteTable([Route("GET", "/open", MFA)])
    )
    plain = tokens.password_token()
    for _ in range(2):
        assert call(first, environ_for("/open", plain)) == (200, "open")
    for _ in range(2):
        status, body = call(second, environ_for("/open", plain))
        assert (status, body) != (200, "admin")
        assert status == 401


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "POST"])
def test_bind_2_another_method_on_a_remembered_mfa_path_never_runs_the_view(
    guard: Guard, tokens: TokenFactory, method: str
) -> None:
    """BIND-2, PERF-4: ``GET /admin/1`` remembered for an MFA token; the password token with
    ``HEAD`` (Flask runs the GET view), ``OPTIONS`` (Flask answers itself) or ``POST`` (405)
    never runs the MFA view: a remembered judgement is reused only for its own method."""
    ran: list[str] = []
    app = flask_app(guard)

    def counted(**_: Any) -> str:
        ran.append("admin")
        return "admin"

    app.view_functions["admin"] = counted
    strong, plain = tokens.mfa_token(auth_age=10), tokens.password_token()
    for _ in range(2):
        assert call(app, environ_for("/admin/1", strong)) == (200, "admin")
    ran.clear()
    for _ in range(2):
        status, _ = call(app, environ_for("/admin/1", plain, REQUEST_METHOD=method))
        assert status != 200 or method == "OPTIONS"
    assert ran == []


def test_perf_1_protect_admission_remembered_does_not_pass_a_stricter_require(
    guard: Guard, tokens: TokenFactory
) -> None:
    """PERF-1, BIND-7: a blueprint under ``protect(bp, AUTH)`` with one view also under
    ``require(MFA)``; both share one path since today. The password token remembered by
    ``protect`` (and by an AUTH view) is judged again for MFA by ``require``: 401."""
    app = flask.Flask(__name__)
    stepup = FlaskStepUp(guard, app)
    blueprint = flask.Blueprint("staff", __name__)

    @blueprint.get("/list")
    def staff_list() -> str:
        return "list"

    @blueprint.get("/admin")
    @stepup.require(MFA)
    def staff_admin() -> str:
        return "admin"

    stepup.protect(blueprint, AUTH)
    app.register_blueprint(blueprint)
    client = app.test_client()
    plain = bearer(tokens.password_token())
    for _ in range(2):
        assert client.get("/list", headers=plain).get_data(as_text=True) == "list"
    for _ in range(2):
        answer = client.get("/admin", headers=plain)
        assert answer.get_data(as_text=True) != "admin"
        assert answer.status_code == 401
    strong = bearer(tokens.mfa_token(auth_age=10))
    assert client.get("/admin", headers=strong).get_data(as_text=True) == "admin"


def test_perf_1_protect_with_a_remembered_token_and_a_query_token_is_judged(
    guard: Guard, tokens: TokenFactory
) -> None:
    """PERF-1, R6750: a token remembered under ``protect``; the same header with an
    ``access_token`` in the query (two ways at once) is not the remembered admission: judged,
    refused (400), never the view."""
    app = flask.Flask(__name__)
    stepup = FlaskStepUp(guard, app)
    blueprint = flask.Blueprint("staff", __name__)

    @blueprint.get("/list")
    def staff_list() -> str:
        return "list"

    stepup.protect(blueprint, AUTH)
    app.register_blueprint(blueprint)
    client = app.test_client()
    token = tokens.password_token()
    for _ in range(2):
        assert client.get("/list", headers=bearer(token)).status_code == 200
    answer = client.get("/list?access_token=" + token, headers=bearer(token))
    assert answer.get_data(as_text=True) != "list"
    assert answer.status_code == 400


def _no_wraps(view: Callable[..., Any]) -> Callable[..., Any]:
    """A decorator that keeps no ``__wrapped__`` (many hand-written ones do not use
    ``functools.wraps``)."""

    def logged(*args: Any, **kwargs: Any) -> Any:
        return view(*args, **kwargs)

    logged.__name__ = view.__name__
    return logged


def test_bind_7_require_above_a_decorator_without_wraps_above_the_route_is_caught(
    guard: Guard,
) -> None:
    """BIND-7: ``@stepup.require(MFA)`` / ``@logged`` (no ``functools.wraps``) /
    ``@app.get("/admin")``: the route is registered with the bare view; the wrong order must
    raise (at decoration, init_app or the first request), never serve the view."""
    app = flask.Flask(__name__)
    stepup = FlaskStepUp(guard, app)
    served: list[str] = []
    try:

        @stepup.require(MFA)
        @_no_wraps
        @app.get("/admin")
        def admin() -> str:
            served.append("admin")
            return "admin"

        app.testing = False
        app.test_client().get("/admin")
    except ConfigurationError:
        pass
    assert served == []


def test_bind_2_a_recorded_judgement_copied_with_the_environ_to_a_rewritten_path_is_judged(
    guard: Guard, tokens: TokenFactory
) -> None:
    """BIND-2: a middleware between ours and Flask that re-dispatches a copy of the environ
    (``dict(environ)``, the middleware's own Judgement carried along) to the MFA rule: the
    Judgement names ``/open``, not the rule Flask runs, so the request is judged again."""

    def copy_to_admin(app: WSGIApp) -> WSGIApp:
        def dispatch(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
            copied = dict(environ)
            copied["PATH_INFO"] = "/admin/1"
            return app(copied, start_response)

        return dispatch

    app = flask_app(guard, copy_to_admin)
    plain = tokens.password_token()
    for _ in range(2):
        status, body = call(app, environ_for("/open", plain))
        assert (status, body) != (200, "admin")
        assert status == 401


def test_bind_2_a_request_run_by_hand_in_a_test_request_context_meets_the_rules_policy(
    guard: Guard, tokens: TokenFactory
) -> None:
    """BIND-2: behind the middleware, ``/admin/1`` remembered for an MFA token; then the
    password token's request run by hand in ``app.test_request_context()`` (no WSGI call, so no
    Judgement in the environ) through ``preprocess_request``: the dispatch check judges it
    by the rule and refuses it before any view runs."""
    app = flask_app(guard)
    strong = tokens.mfa_token(auth_age=10)
    for _ in range(2):
        assert call(app, environ_for("/admin/1", strong)) == (200, "admin")
    with (
        app.test_request_context("/admin/1", headers=bearer(tokens.password_token())),
        pytest.raises(StepUpDenied) as refused,
    ):
        app.preprocess_request()
    assert refused.value.code == 401
