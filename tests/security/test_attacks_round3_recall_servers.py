"""Round 3 attacks on ``Guard.recall`` over real servers on 127.0.0.1 (uvicorn and hypercorn
with the ASGI middleware, gunicorn, waitress and werkzeug with the WSGI middleware around
Flask), with a real JWT verifier and a fake issuer on the real clock (round3_recall_apps.py).

Each server first remembers verdicts (three requests each for a password token on ``/open``
and an MFA token on ``/admin``); then the same lines come back in shapes the hot path must not
answer from memory: another method, a duplicate or second ``Authorization`` line (however the
server joins them), another case of the scheme, a token also in the query. A hole is marked
``xfail(strict=True)``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_kit import free_port, raw_request, served

from stepup_mfa.testing import FakeIssuer

HERE = Path(__file__).parent
AUDIENCE = "https://api.example.com"
SERVERS = ("uvicorn", "hypercorn", "gunicorn", "waitress", "werkzeug")


def _command(server: str, port: int) -> list[str]:
    """What follows the interpreter on the command line of ``server`` listening on ``port``."""
    bind = f"127.0.0.1:{port}"
    if server == "uvicorn":
        return [
            *("-m", "uvicorn", "--factory", "round3_recall_apps:asgi_app"),
            *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
        ]
    if server == "hypercorn":
        return ["-m", "hypercorn", "round3_recall_apps:asgi_app()", "--bind", bind]
    if server == "gunicorn":
        return ["-m", "gunicorn", "round3_recall_apps:wsgi_app()", "--bind", bind]
    if server == "waitress":
        return ["-m", "waitress", f"--listen={bind}", "--call", "round3_recall_apps:wsgi_app"]
    assert server == "werkzeug"
    script = (
        "import sys, round3_recall_apps as a; from werkzeug.serving import run_simple; "
        "run_simple('127.0.0.1', int(sys.argv[1]), a.wsgi_app(), threaded=True)"
    )
    return ["-c", script, str(port)]


def raw(port: int, method: str, target: str, headers: list[tuple[str, str]]) -> tuple[int, bytes]:
    """One request written byte for byte; the status and the body (read to the close)."""
    sized = [("Content-Length", "0")] if method == "POST" else []
    return raw_request(port, f"{method} {target} HTTP/1.1", [*headers, *sized])


@pytest.fixture(scope="module")
def issuer() -> Iterator[FakeIssuer]:
    with FakeIssuer(AUDIENCE, clock=time.time) as issuer:
        yield issuer


@pytest.fixture(scope="module")
def lines(issuer: FakeIssuer) -> dict[str, str]:
    return {
        "password": "Bearer " + issuer.tokens.password_token(),
        "mfa": "Bearer " + issuer.tokens.mfa_token(),
    }


@pytest.fixture(scope="module", params=SERVERS)
def port(
    request: pytest.FixtureRequest, issuer: FakeIssuer, lines: dict[str, str]
) -> Iterator[int]:
    server: str = request.param
    port = free_port()
    env = {"ROUND3_ISSUER": issuer.issuer, "ROUND3_AUDIENCE": AUDIENCE}

    def ready(_pid: int) -> None:
        raw(port, "GET", "/open", [])

    with served(server, _command(server, port), env, ready):
        for _ in range(3):  # verified, then remembered
            assert raw(port, "GET", "/open", [("Authorization", lines["password"])]) == (
                200,
                b"open",
            )
            assert raw(port, "GET", "/admin", [("Authorization", lines["mfa"])]) == (200, b"admin")
        yield port


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
def test_recall_server_a_remembered_password_verdict_never_opens_admin(
    port: int, lines: dict[str, str], method: str
) -> None:
    """Attack: the password token's remembered verdict (``/open``) replayed on ``/admin`` with
    every method the route serves (PERF-1, R9470-9)."""
    status, body = raw(port, method, "/admin", [("Authorization", lines["password"])])
    assert status == 401 and body != b"admin"


@pytest.mark.parametrize(
    "shape",
    ["mfa twice", "mfa then password", "password then mfa", "mfa, lower-case name twice"],
)
def test_recall_server_two_authorization_lines_are_a_400_however_the_server_joins_them(
    port: int, lines: dict[str, str], shape: str
) -> None:
    """Attack: a remembered MFA line sent twice, or next to another token: WSGI servers join
    repeated lines with a comma, ASGI servers pass both; either way one credential per
    request (R6750-5, R9110-4), never the remembered 200."""
    first, second = {
        "mfa twice": ("mfa", "mfa"),
        "mfa then password": ("mfa", "password"),
        "password then mfa": ("password", "mfa"),
        "mfa, lower-case name twice": ("mfa", "mfa"),
    }[shape]
    name = "authorization" if "lower-case" in shape else "Authorization"
    headers = [("Authorization", lines[first]), (name, lines[second])]
    status, body = raw(port, "GET", "/admin", headers)
    assert status == 400 and body != b"admin"


def test_recall_server_the_scheme_in_another_case_is_judged_like_a_new_line(
    port: int, lines: dict[str, str]
) -> None:
    """Attack: ``bearer``/``BEARER`` with the password token on ``/admin`` and with the MFA
    token (RFC 9110 §11.1: the scheme is case-insensitive, so the MFA one is admitted on the
    full path; the password one is refused)."""
    for scheme in ("bearer", "BEARER"):
        weak = scheme + lines["password"][6:]
        strong = scheme + lines["mfa"][6:]
        assert raw(port, "GET", "/admin", [("Authorization", weak)])[0] == 401
        assert raw(port, "GET", "/admin", [("Authorization", strong)]) == (200, b"admin")


def test_recall_server_a_token_in_the_query_never_upgrades_a_remembered_line(
    port: int, lines: dict[str, str]
) -> None:
    """Attack: the password line in the header (remembered on ``/open``) and the MFA token in
    ``?access_token=`` on ``/admin``: the query method is off by default, so the header's
    token is judged and refused (R6750-5, PERF-1)."""
    target = "/admin?access_token=" + lines["mfa"][7:]
    status, body = raw(port, "GET", target, [("Authorization", lines["password"])])
    assert status in (400, 401) and body != b"admin"
