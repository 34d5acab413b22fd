"""The WSGI middleware's rule memo (PERF-4): the rule a request reaches, and its policy,
remembered per every environ value werkzeug's ``match`` reads, only while the map is plain and
unchanged; Flask's dispatch check still judges a rewritten request again (BIND-2).

Adapter matches are counted on werkzeug's real ``MapAdapter.match``: behind the middleware, Flask
matches once per request itself, and the middleware adds one only when it asks the adapter.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.routing import BaseConverter, Map, MapAdapter, Rule
from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Response

from stepup_mfa import ANONYMOUS, Guard, Policy
from stepup_mfa.adapters import wsgi
from stepup_mfa.adapters.wsgi import JUDGED_KEY, StepUpWSGIMiddleware
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import MFA_ACR, TokenFactory

AUTH = Policy(name="authenticated")
MFA = Policy(acr_values=MFA_ACR, max_age=60, name="mfa-60s")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def matches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path werkzeug's ``MapAdapter.match`` is asked for, in order."""
    seen: list[str] = []
    original = MapAdapter.match

    def counted(self: MapAdapter, *args: Any, **kwargs: Any) -> Any:
        seen.append(self.path_info)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(MapAdapter, "match", counted)
    return seen


def judging_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A werkzeug app that answers with the rule the middleware judged the request by."""
    rule = environ[JUDGED_KEY][0]
    return Response(str(rule))(environ, start_response)


def werkzeug_middleware(guard: Guard, url_map: Map, table: RouteTable) -> StepUpWSGIMiddleware:
    return StepUpWSGIMiddleware(judging_app, guard=guard, routes=table, url_map=url_map)


def flask_app(guard: Guard) -> Flask:
    app = Flask(__name__)

    @app.get("/pub")
    def pub() -> str:
        return "pub"

    @app.route("/admin/<int:id>", methods=["GET", "POST"])
    def admin(id: int) -> str:
        return f"admin {id}"

    table = RouteTable(
        [Route("GET", "/pub", ANONYMOUS), Route("GET", "/admin/<int:id>", MFA)], default=AUTH
    )
    app.wsgi_app = StepUpWSGIMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, guard=guard, routes=table
    )
    return app


def memo_of(app: Any) -> wsgi.RuleMemo:
    middleware = app.wsgi_app if isinstance(app, Flask) else app
    assert isinstance(middleware, StepUpWSGIMiddleware)
    assert middleware._memo is not None
    return middleware._memo


def test_perf_4_flask_the_middleware_asks_the_adapter_once_per_distinct_request(
    guard: Guard, matches: list[str]
) -> None:
    """The same request again is judged from the memo: only Flask's own match remains."""
    client = flask_app(guard).test_client()
    assert client.get("/pub").text == "pub"
    assert len(matches) == 2  # the middleware's, then Flask's
    for _ in range(3):
        assert client.get("/pub").text == "pub"
    assert len(matches) == 5  # Flask's only
    assert client.get("/pub", headers={"Host": "other.example"}).text == "pub"
    assert len(matches) == 7  # another host is another request


def test_perf_4_werkzeug_map_remembered_answers_keep_their_status_and_policy(
    guard: Guard, tokens: TokenFactory, matches: list[str]
) -> None:
    """A plain werkzeug map: 404, 405 and redirects are remembered as 'no rule runs' and answered
    as before; the MFA rule keeps refusing a password token."""
    url_map = Map(
        [
            Rule("/open", endpoint="open"),
            Rule("/admin/<int:id>", endpoint="admin", methods=["GET"]),
            Rule("/dir/", endpoint="dir"),
        ]
    )
    table = RouteTable(
        [Route("GET", "/open", ANONYMOUS), Route("GET", "/admin/<int:id>", MFA)],
        default=ANONYMOUS,
        allow_anonymous_default=True,
    )
    client = Client(werkzeug_middleware(guard, url_map, table))
    password = bearer(tokens.password_token())
    cases = [
        ("GET", "/open", 200, b"/open"),
        ("GET", "/nowhere", 200, b"None"),  # 404: no rule, the default (anonymous)
        ("POST", "/admin/1", 200, b"None"),  # 405: no rule runs
        ("GET", "/dir", 200, b"None"),  # the slash redirect: no rule runs
        ("GET", "/admin/1", 401, None),
    ]
    for round_ in range(2):
        for method, path, status, body in cases:
            answer = client.open(path, method=method, headers=password)
            assert answer.status_code == status, (round_, method, path)
            if body is not None:
                assert answer.get_data() == body
    assert len(matches) == len(cases)  # the second round came from the memo


def test_perf_4_bind_12_a_rule_added_empties_the_memo_before_the_next_lookup(
    guard: Guard, tokens: TokenFactory, matches: list[str]
) -> None:
    """A remembered admission is not given under a map the table no longer fits: a rule for the
    MFA endpoint added after start-up turns the remembered requests into 503s at once."""
    url_map = Map([Rule("/open", endpoint="open"), Rule("/admin/<id>", endpoint="admin")])
    table = RouteTable(
        [Route("GET", "/open", ANONYMOUS), Route("GET", "/admin/<id>", MFA)], default=AUTH
    )
    middleware = werkzeug_middleware(guard, url_map, table)
    client = Client(middleware)
    mfa = bearer(tokens.mfa_token())
    for _ in range(2):
        assert client.get("/admin/1", headers=mfa).status_code == 200
        assert client.get("/open").status_code == 200
    assert len(matches) == 2 and len(memo_of(middleware)) == 2
    url_map.add(Rule("/staff/<id>", endpoint="admin"))
    assert client.get("/admin/1", headers=mfa).status_code == 503
    assert client.get("/open").status_code == 503
    assert len(memo_of(middleware)) == 0  # refusals of an unbound map are never remembered


def test_perf_4_bind_12_a_fitting_rule_added_is_judged_by_the_new_map(
    guard: Guard, matches: list[str]
) -> None:
    """A rule added in front of a catch-all: the request that reached the catch-all before now
    reaches the new rule (its remembered answer is gone)."""
    url_map = Map([Rule("/open", endpoint="open"), Rule("/<path:rest>", endpoint="rest")])
    table = RouteTable(
        [Route("GET", "/open", ANONYMOUS)], default=ANONYMOUS, allow_anonymous_default=True
    )
    client = Client(werkzeug_middleware(guard, url_map, table))
    assert client.get("/late").get_data() == b"/<path:rest>"
    assert client.get("/late").get_data() == b"/<path:rest>"
    assert len(matches) == 1
    url_map.add(Rule("/late", endpoint="late"))
    assert client.get("/late").get_data() == b"/late"
    assert len(matches) == 2


def test_perf_4_bind_12_flask_a_view_registered_renews_the_memo(
    guard: Guard, matches: list[str]
) -> None:
    """Flask: a view and its rule added after the first request (a rule before the catch-all)
    are seen on the next request."""
    app = Flask(__name__)

    @app.get("/<path:rest>")
    def rest(rest: str) -> str:
        return "rest"

    app.wsgi_app = StepUpWSGIMiddleware(  # type: ignore[method-assign]
        app.wsgi_app,
        guard=guard,
        routes=RouteTable([], default=ANONYMOUS, allow_anonymous_default=True),
    )
    client = app.test_client()
    assert client.get("/late").text == "rest"
    assert client.get("/late").text == "rest"
    # Flask refuses add_url_rule once serving; what it would do, done by hand (BIND-12):
    app.view_functions["late"] = lambda: "late"
    app.url_map.add(Rule("/late", endpoint="late", methods=["GET"]))
    assert client.get("/late").text == "late"
    assert client.get("/late").text == "late"
    assert len(matches) == 2 + 1 + 2 + 1  # asked again once after the change


class UpperConverter(BaseConverter):
    """A custom converter: its ``to_python`` could read anything, so nothing is remembered."""

    def to_python(self, value: str) -> str:
        if not value.isupper():
            raise ValueError(value)
        return value


def test_perf_4_a_custom_converter_turns_remembering_off(guard: Guard, matches: list[str]) -> None:
    url_map = Map(
        [Rule("/shout/<upper:word>", endpoint="shout")], converters={"upper": UpperConverter}
    )
    middleware = werkzeug_middleware(
        guard, url_map, RouteTable([], default=ANONYMOUS, allow_anonymous_default=True)
    )
    client = Client(middleware)
    for _ in range(3):
        assert client.get("/shout/HEY").get_data() == b"/shout/<upper:word>"
    assert len(matches) == 3
    assert not memo_of(middleware).plain and len(memo_of(middleware)) == 0


def test_perf_4_a_custom_converter_rule_added_at_run_time_turns_remembering_off(
    guard: Guard, matches: list[str]
) -> None:
    url_map = Map([Rule("/open", endpoint="open")], converters={"upper": UpperConverter})
    middleware = werkzeug_middleware(
        guard, url_map, RouteTable([], default=ANONYMOUS, allow_anonymous_default=True)
    )
    client = Client(middleware)
    client.get("/open")
    client.get("/open")
    assert memo_of(middleware).plain and len(matches) == 1
    url_map.add(Rule("/shout/<upper:word>", endpoint="shout"))
    client.get("/open")
    client.get("/open")
    assert not memo_of(middleware).plain and len(matches) == 3


def test_perf_4_a_callable_redirect_turns_remembering_off(guard: Guard) -> None:
    url_map = Map([Rule("/old", endpoint="old", redirect_to=lambda adapter: "/new")])
    middleware = werkzeug_middleware(
        guard, url_map, RouteTable([], default=ANONYMOUS, allow_anonymous_default=True)
    )
    Client(middleware).get("/old")
    assert not memo_of(middleware).plain


def test_perf_4_host_matching_keeps_hosts_apart(
    guard: Guard, tokens: TokenFactory, matches: list[str]
) -> None:
    """Host matching: the host is part of the key, so one path on two hosts is two judgements."""
    url_map = Map(
        [Rule("/x", host="a.example", endpoint="a"), Rule("/y", host="b.example", endpoint="b")],
        host_matching=True,
    )
    table = RouteTable([Route("GET", "/x", MFA)], default=ANONYMOUS, allow_anonymous_default=True)
    client = Client(werkzeug_middleware(guard, url_map, table))
    password = bearer(tokens.password_token())
    for _ in range(2):
        on_a = client.get("/x", headers={"Host": "a.example", **password})
        on_b = client.get("/x", headers={"Host": "b.example", **password})
        on_upper_a = client.get("/x", headers={"Host": "A.EXAMPLE:80", **password})
        assert (on_a.status_code, on_b.get_data(), on_upper_a.status_code) == (401, b"None", 401)
    assert len(matches) == 3


def test_perf_4_flask_trusted_hosts_changed_at_run_time_are_seen(guard: Guard) -> None:
    """``TRUSTED_HOSTS`` set after requests were remembered: an untrusted host reaches no rule
    from the next request on, and trusted again, the rule again (the middleware's own
    judgement, before Flask's dispatch check could mend it)."""
    app = flask_app(guard)

    def judged_rule() -> Any:
        environ = EnvironBuilder(path="/pub", headers=[("Host", "evil.example")]).get_environ()
        b"".join(app.wsgi_app(environ, ignore_start))
        return environ[JUDGED_KEY][0]

    assert [judged_rule(), judged_rule()] == ["/pub", "/pub"]
    app.config["TRUSTED_HOSTS"] = ["good.example"]
    assert [judged_rule(), judged_rule()] == [None, None]
    app.config["TRUSTED_HOSTS"].append("evil.example")  # changed in place
    assert judged_rule() == "/pub"


def ignore_start(status: str, headers: Any, exc_info: Any = None) -> Any:
    return None


class Rewriter:
    """An inner middleware that rewrites what the middleware judged before Flask routes it."""

    def __init__(self, app: Any, **rewrite: str) -> None:
        self.app, self.rewrite = app, rewrite

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        environ.update(self.rewrite)
        return self.app(environ, start_response)


@pytest.mark.parametrize(
    ("path", "method", "rewrite"),
    [
        ("/pub", "GET", {"PATH_INFO": "/admin/1"}),
        ("/admin/1", "POST", {"REQUEST_METHOD": "GET"}),
    ],
    ids=["path", "method"],
)
def test_perf_4_bind_2_a_rewrite_by_an_inner_middleware_is_judged_again(
    guard: Guard,
    tokens: TokenFactory,
    path: str,
    method: str,
    rewrite: dict[str, str],
) -> None:
    """A remembered judgement is the outer request's; Flask's dispatch check sees the rule that
    runs and demands its policy (MFA) every time, the memo's hits included."""
    app = Flask(__name__)

    @app.get("/pub")
    def pub() -> str:
        return "pub"

    @app.route("/admin/<int:id>", methods=["GET", "POST"])
    def admin(id: int) -> str:
        return "admin"

    table = RouteTable(
        [
            Route("GET", "/pub", ANONYMOUS),
            Route("GET", "/admin/<int:id>", MFA),
            Route("POST", "/admin/<int:id>", AUTH),
        ],
        default=AUTH,
    )
    app.wsgi_app = Rewriter(app.wsgi_app, **rewrite)  # type: ignore[method-assign]
    middleware = StepUpWSGIMiddleware(app, guard=guard, routes=table)
    client = Client(middleware)
    password, mfa = bearer(tokens.password_token()), bearer(tokens.mfa_token())
    for _ in range(3):
        assert client.open(path, method=method, headers=password).status_code == 401
        assert client.open(path, method=method, headers=mfa).get_data() == b"admin"
    assert memo_of(middleware).plain and len(memo_of(middleware)) == 1


def test_perf_4_bind_2_a_host_rewrite_on_a_host_matching_flask_app_is_judged_again(
    guard: Guard, tokens: TokenFactory
) -> None:
    """Host matching: the outer request reaches an open rule on one host; an inner middleware
    sends it to another host, whose rule needs MFA: refused, the memo's hits included."""
    app = Flask(__name__, host_matching=True, static_folder=None)

    @app.get("/x", host="a.example")
    def open_x() -> str:
        return "open"

    @app.get("/<path:rest>", host="b.example")
    def secret(rest: str) -> str:
        return "secret"

    table = RouteTable(
        [Route("GET", "/x", ANONYMOUS), Route("GET", "/<path:rest>", MFA)], default=AUTH
    )
    app.wsgi_app = Rewriter(app.wsgi_app, HTTP_HOST="b.example")  # type: ignore[method-assign]
    middleware = StepUpWSGIMiddleware(app, guard=guard, routes=table)
    client = Client(middleware)
    password, mfa = bearer(tokens.password_token()), bearer(tokens.mfa_token())
    for _ in range(3):
        assert client.get("/x", headers={"Host": "a.example", **password}).status_code == 401
        assert client.get("/x", headers={"Host": "a.example", **mfa}).get_data() == b"secret"
    assert memo_of(middleware).plain and len(memo_of(middleware)) == 1


def test_perf_4_a_flood_of_distinct_paths_stays_bounded(
    guard: Guard, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wsgi, "MAX_REMEMBERED_RULES", 50)
    url_map = Map([Rule("/item/<int:n>", endpoint="item")])
    middleware = werkzeug_middleware(
        guard, url_map, RouteTable([], default=ANONYMOUS, allow_anonymous_default=True)
    )
    client = Client(middleware)
    for n in range(240):
        assert client.get(f"/item/{n}").get_data() == b"/item/<int:n>"
        assert len(memo_of(middleware)) <= 50
    assert client.get("/item/x").get_data() == b"None"


# -- memo and no memo agree ---------------------------------------------------------------------

PROPERTY_TABLE = RouteTable(
    [
        Route("GET", "/", ANONYMOUS),
        Route("GET", "/cats/", MFA),
        Route("POST", "/cats/", AUTH),
        Route("GET", "/n/<int:n>", MFA),
        Route("GET", "/f/<path:rest>", AUTH),
        Route("GET", "/k/<any(a, b):kind>", MFA),
        Route("PUT", "/u/<uuid:u>", MFA),
    ],
    default=AUTH,
)


def property_map(host_matching: bool) -> Map:
    host: dict[str, Any] = {"host": "a.example"} if host_matching else {}
    return Map(
        [
            Rule("/", endpoint="root", **host),
            Rule("/cats/", endpoint="cats", methods=["GET", "POST"], **host),
            Rule("/n/<int:n>", endpoint="n", **host),
            Rule("/f/<path:rest>", endpoint="f", **host),
            Rule("/k/<any(a, b):kind>", endpoint="k", **host),
            Rule("/u/<uuid:u>", endpoint="u", methods=["PUT"], **host),
            Rule("/old", endpoint="old", redirect_to="/cats/", **host),
            Rule("/ws", endpoint="ws", websocket=True, **host),
            Rule("/strict/", endpoint="strict", strict_slashes=False, **host),
        ],
        host_matching=host_matching,
    )


SEGMENTS = ["", "cats", "n", "42", "-1", "f", "a", "b", "k", "u", "old", "ws", "strict", "x.y"]
SEGMENTS += ["12345678-1234-5678-1234-567812345678", "%2F", "caf\xc3\xa9", "..", "."]
requests = st.fixed_dictionaries(
    {
        "method": st.sampled_from(["GET", "POST", "PUT", "HEAD", "OPTIONS", "DELETE", "get"]),
        "path": st.lists(st.sampled_from(SEGMENTS), max_size=4).map(lambda s: "/" + "/".join(s)),
        "slash": st.booleans(),
        "host": st.sampled_from(["a.example", "b.example", "A.EXAMPLE:80", "a.example:443", ""]),
        "script": st.sampled_from(["", "/app"]),
        "scheme": st.sampled_from(["http", "https"]),
        "websocket": st.booleans(),
        "preflight": st.booleans(),
    }
)


def run(middleware: StepUpWSGIMiddleware, request: dict[str, Any]) -> tuple[str, Any, Any]:
    environ = EnvironBuilder(method="GET").get_environ()
    environ.update(
        REQUEST_METHOD=request["method"],
        PATH_INFO=request["path"] + ("/" if request["slash"] else ""),
        SCRIPT_NAME=request["script"],
        HTTP_HOST=request["host"],
        **{"wsgi.url_scheme": request["scheme"], "wsgi.input": io.BytesIO()},
    )
    if request["websocket"]:
        environ.update(HTTP_CONNECTION="keep-alive, Upgrade", HTTP_UPGRADE="websocket")
    if request["preflight"]:
        environ.update(HTTP_ORIGIN="https://app.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)

    body = b"".join(middleware(environ, start_response))
    judged = environ.get(JUDGED_KEY)
    return statuses[0], judged, body if statuses[0].startswith("2") else None


@pytest.mark.parametrize("host_matching", [False, True], ids=["paths", "hosts"])
def test_perf_4_memo_and_no_memo_give_the_same_status_and_policy(
    guard: Guard, host_matching: bool
) -> None:
    """Property: over generated methods, paths, hosts, scripts, schemes, upgrades and preflights,
    one long-lived memo answers every request as a middleware that remembers nothing."""
    remembering = werkzeug_middleware(guard, property_map(host_matching), PROPERTY_TABLE)
    forgetting = werkzeug_middleware(guard, property_map(host_matching), PROPERTY_TABLE)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(wsgi, "MAX_REMEMBERED_RULES", 0)
        Client(forgetting).get("/")  # binds it: its memo keeps nothing
    Client(remembering).get("/")
    hits = 0

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(requests, min_size=1, max_size=4))
    def agree(batch: list[dict[str, Any]]) -> None:
        nonlocal hits
        for request in batch * 2:  # each request twice: the second may come from the memo
            before = len(memo_of(remembering))
            assert run(remembering, request) == run(forgetting, request), request
            hits += len(memo_of(remembering)) == before
        assert len(memo_of(forgetting)) == 0

    agree()
    assert memo_of(remembering).plain and hits > 0
