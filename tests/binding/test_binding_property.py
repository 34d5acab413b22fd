"""BIND-1, BIND-2 as a property: for generated request paths, a handler that answered had its
own policy met, against uvicorn + Starlette and gunicorn + Flask (route tables whose default is
anonymous, the case where a drift opens a route).

Paths are built from an alphabet of ``/``, ``.``, ``%``, hex digits, ``;``, control characters
and pieces of the route names; the examples are bounded and derandomized, so the run is the same
every time.
"""

from __future__ import annotations

import pytest
from binding_servers import Credentials, Fleet
from binding_spellings import Spelling, assert_bound, send
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PIECES = (
    *"/.%;0123456789ABCDEFabcdef",
    "\t",
    "\x00",
    "\n",
    "%0A",
    "%0D",
    "%00",
    "%09",
    "%20",
    "%2F",
    "%2E",
    "%3F",
    "%23",
    "%5C",
    "//",
    "cats",
    "dogs",
    "users",
    "api",
    "ws",
    "7",
    "c",
    "a",
    "t",
    "s",
)
ROUTES = ("", "cats/", "dogs/", "users/7/", "api/cats/", "cats", "users/", "api/")
PREFIXES = ("/", "//", "/%2F", "/./", "/x/../", "/%2E/", "/;x/")
ENDINGS = ("", "%0A", "\n", "%0D%0A", "/", ".", ";x", "%00", "%3F")

#: a route with one odd ending, or anything built from the pieces around a route name
paths = st.one_of(
    st.builds(
        lambda route, ending: "/" + route + ending,
        st.sampled_from(ROUTES),
        st.sampled_from(ENDINGS),
    ),
    st.builds(
        lambda prefix, route, tail, ending: prefix + route + "".join(tail) + ending,
        st.sampled_from(PREFIXES),
        st.sampled_from(ROUTES),
        st.lists(st.sampled_from(PIECES), max_size=3),
        st.sampled_from(ENDINGS),
    ),
)

TARGETS = (
    pytest.param(("uvicorn", "starlette", "default_anonymous"), id="BIND-1-uvicorn-starlette"),
    pytest.param(("gunicorn", "flask", "default_anonymous"), id="BIND-2-gunicorn-flask"),
)


@pytest.mark.parametrize("key", TARGETS)
def test_generated_paths_reach_a_handler_only_under_its_policy(
    fleet: Fleet, credentials: Credentials, key: tuple[str, str, str]
) -> None:
    server = fleet[key]

    @settings(
        max_examples=300,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(path=paths)
    def check(path: str) -> None:
        spelling = Spelling("generated", path)
        for credential in Credentials.NAMES:
            response = send(server.port, spelling, credentials.headers(credential))
            assert_bound(response, credential, lambda c=credential: f"{server.name} {path!r} {c}")

    check()
