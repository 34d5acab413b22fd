"""The WSGI middleware's hot path keeps every rule of the rule memo (PERF-4, issue 13).

The memo's key is written out name by name for speed: it must stay exactly the environ's value
of every name werkzeug's match reads (``_MATCH_INPUTS``). A remembered judgement is the very
``(rule, method, policy)`` a fresh one records in the environ, for the method it was reached with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from werkzeug.routing import Map, Rule
from werkzeug.test import Client
from werkzeug.wrappers import Response

from stepup_mfa import ANONYMOUS, Guard, Policy
from stepup_mfa.adapters import wsgi
from stepup_mfa.adapters.wsgi import JUDGED_KEY, StepUpWSGIMiddleware
from stepup_mfa.routes import Route, RouteTable

AUTH = Policy(name="authenticated")

#: Names the key reads, and others it must not.
NAMES = (*wsgi._MATCH_INPUTS, "QUERY_STRING", "HTTP_AUTHORIZATION", "RAW_URI", "HTTP_ACCEPT")


@given(
    environ=st.dictionaries(
        st.sampled_from(NAMES), st.none() | st.text(max_size=8) | st.integers(), max_size=12
    ),
    preflight=st.booleans(),
)
def test_perf_4_the_written_out_key_is_every_match_input_in_order(
    environ: dict[str, Any], preflight: bool
) -> None:
    expected = (preflight, *(environ.get(name) for name in wsgi._MATCH_INPUTS))
    assert wsgi.match_key(environ, preflight) == expected


def recording_app(seen: list[Any]) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        seen.append(environ[JUDGED_KEY])
        return Response("ok")(environ, start_response)

    return app


def test_perf_4_a_remembered_judgement_is_the_one_a_fresh_request_records(guard: Guard) -> None:
    url_map = Map(
        [Rule("/open", endpoint="open", methods=["GET", "POST"]), Rule("/x", endpoint="x")]
    )
    table = RouteTable(
        [Route("GET", "/open", ANONYMOUS), Route("POST", "/open", ANONYMOUS)], default=AUTH
    )
    seen: list[Any] = []
    middleware = StepUpWSGIMiddleware(
        recording_app(seen), guard=guard, routes=table, url_map=url_map
    )
    client = Client(middleware)
    for _ in range(3):
        assert client.get("/open").status_code == 200
    assert client.post("/open").status_code == 200
    assert seen[:3] == [("/open", "GET", ANONYMOUS)] * 3
    assert seen[0] is seen[1] is seen[2]  # remembered: the very tuple, not rebuilt
    assert seen[3] == ("/open", "POST", ANONYMOUS)
    assert middleware._memo is not None and len(middleware._memo) == 2
    assert client.get("/x").status_code == 401  # the table's default, remembered or not
    assert client.get("/x").status_code == 401
