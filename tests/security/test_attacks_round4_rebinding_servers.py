"""Round 4 attacks on re-binding (BIND-12) over real servers on 127.0.0.1: uvicorn with the
ASGI middleware around Starlette, gunicorn (threaded workers) with the WSGI middleware around
Flask (round4_rebinding_apps.py), a real JWT verifier and a fake issuer on the real clock.

A request with a password token is judged, then held before the app routes it; meanwhile a
second connection changes the routes so that the MFA handler also runs under the held
request's path, unlisted (routes the table no longer fits). The held request must then be
refused with 503 and never reach the MFA handler; requests after the change get 503 too. A
hole is marked ``xfail(strict=True)``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from server_kit import free_port, raw_request, served

from stepup_mfa.testing import FakeIssuer

HERE = Path(__file__).parent
AUDIENCE = "https://api.example.com"
#: server -> (the held request's path, the command line after the interpreter)
SERVERS = {
    "uvicorn": (
        "/x",
        [
            *("-m", "uvicorn", "--factory", "round4_rebinding_apps:asgi_app"),
            *("--host", "127.0.0.1", "--log-level", "warning", "--port"),
        ],
    ),
    "gunicorn": (
        "/staff/1",
        [
            *("-m", "gunicorn", "round4_rebinding_apps:wsgi_app()", "--threads", "4"),
            "--bind",
        ],
    ),
}


def raw(port: int, target: str, headers: list[tuple[str, str]]) -> tuple[int, bytes]:
    """One GET written byte for byte; the status and the body (read to the close)."""
    return raw_request(port, f"GET {target} HTTP/1.1", headers)


@pytest.fixture(scope="module")
def issuer() -> Iterator[FakeIssuer]:
    with FakeIssuer(AUDIENCE, clock=time.time) as issuer:
        yield issuer


@contextmanager
def _serve(server: str, issuer: FakeIssuer) -> Iterator[int]:
    port = free_port()
    where = str(port) if server == "uvicorn" else f"127.0.0.1:{port}"
    env = {"ROUND4_ISSUER": issuer.issuer, "ROUND4_AUDIENCE": AUDIENCE}
    with served(server, [*SERVERS[server][1], where], env, lambda _pid: raw(port, "/open", [])):
        yield port


def _held_then_flipped(port: int, path: str, password: str) -> tuple[tuple[int, bytes], ...]:
    """The held request, the flip, and a request after the flip."""
    line = [("Authorization", password)]
    assert raw(port, "/open", line) == (200, b"open")
    held: list[tuple[int, bytes]] = []
    thread = threading.Thread(target=lambda: held.append(raw(port, path, [*line, ("X-Hold", "1")])))
    thread.start()
    flip = raw(port, "/flip", [])
    thread.join(30)
    after = raw(port, path, line)
    return held[0], flip, after


@pytest.mark.parametrize(
    "server",
    [
        "uvicorn",
        "gunicorn",
    ],
)
def test_bind_12_server_a_request_in_flight_across_a_route_change_never_reaches_mfa(
    server: str, issuer: FakeIssuer
) -> None:
    """BIND-12, BIND-1: the held request (password token) must not get the MFA handler; 503."""
    path = SERVERS[server][0]
    with _serve(server, issuer) as port:
        held, _, _ = _held_then_flipped(port, path, "Bearer " + issuer.tokens.password_token())
        assert held[1] != b"admin"
        assert held[0] == 503


@pytest.mark.parametrize("server", list(SERVERS))
def test_bind_12_server_requests_after_the_route_change_are_refused_503(
    server: str, issuer: FakeIssuer
) -> None:
    """BIND-12: once the routes the table no longer fits are seen, the held path and the
    anonymous ``/flip`` get 503 (fail closed), never the MFA handler."""
    path = SERVERS[server][0]
    with _serve(server, issuer) as port:
        _, flip, after = _held_then_flipped(port, path, "Bearer " + issuer.tokens.password_token())
        assert flip == (200, b"flip")
        assert after[0] == 503
        assert raw(port, "/flip", [])[0] == 503
