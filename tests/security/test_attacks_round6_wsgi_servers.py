"""Round 6 attacks on the WSGI and Flask hot paths over real servers on 127.0.0.1: gunicorn
(sync and threaded workers) and waitress, each serving Flask guarded by the WSGI middleware and
by the Flask extension (round6_wsgi_apps.py), a real JWT verifier and a fake issuer on the real
clock.

Every attack comes after the paths were remembered (an MFA token admitted twice on
``/admin/1``, a password token twice on ``/open``: rule memo and Guard memory both hit), then
sends the password token to the MFA view spelt another way, written byte for byte: a
lower-case method, the absolute form, other hosts, path spellings werkzeug reads as the admin
rule, an empty query, two ``Authorization`` lines the server joins with a comma. It must never
get the MFA view; the joined lines are a 400. Concurrent first requests on a threaded server
must all be answered (no 500 from the order check leaving ``before_request``). A hole is marked
``xfail(strict=True)``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from server_kit import free_port, raw_request
from server_kit import served as serving

from stepup_mfa.testing import FakeIssuer

HERE = Path(__file__).parent
AUDIENCE = "https://api.example.com"
#: server -> the command line after the interpreter, ending before the app and the address
SERVERS = {
    "gunicorn-sync": ("gunicorn", ["-m", "gunicorn", "--workers", "1"]),
    "gunicorn-gthread": ("gunicorn", ["-m", "gunicorn", "--workers", "1", "--threads", "4"]),
    "waitress": ("waitress", ["-m", "waitress", "--threads", "4", "--call"]),
}
APPS = ["middleware_app", "extension_app"]


raw = raw_request


@pytest.fixture(scope="module")
def issuer() -> Iterator[FakeIssuer]:
    with FakeIssuer(AUDIENCE, clock=time.time) as issuer:
        yield issuer


@contextmanager
def _serve(server: str, app: str, issuer: FakeIssuer, *, probe: bool = True) -> Iterator[int]:
    """The server on a free port; ``probe`` waits with ``/pub`` requests, else by connecting
    (no request reaches the app before the test's own)."""
    port = free_port()
    kind, args = SERVERS[server]
    target = f"round6_wsgi_apps:{app}" + ("()" if kind == "gunicorn" else "")
    where = (
        ["--bind", f"127.0.0.1:{port}", target]
        if kind == "gunicorn"
        else [f"--listen=127.0.0.1:{port}", target]
    )
    env = {"ROUND6_ISSUER": issuer.issuer, "ROUND6_AUDIENCE": AUDIENCE}

    def ready(_pid: int) -> None:
        if probe:
            raw(port, "GET /pub HTTP/1.1", [])
        else:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()

    with serving(server, [*args, *where], env, ready):
        if not probe and kind == "gunicorn":
            time.sleep(0.5)  # the master listens before its worker has imported the app
        yield port


#: (request line, extra headers) for the password token: each reaches (or might reach) the
#: MFA rule ``/admin/<id>`` under some reading. ``{port}`` is the server's port.
SPELLINGS = [
    ("get /admin/1 HTTP/1.1", []),
    ("GET http://127.0.0.1:{port}/admin/1 HTTP/1.1", []),
    ("GET /admin/1 HTTP/1.1", [("Host", "other.example")]),
    ("GET /admin/1? HTTP/1.1", []),
    ("GET /admin/%31 HTTP/1.1", []),
    ("GET //admin/1 HTTP/1.1", []),
    ("GET /open/../admin/1 HTTP/1.1", []),
    ("GET /admin/1/ HTTP/1.1", []),
    ("GET /admin/1 HTTP/1.1", [("Upgrade", "websocket"), ("Connection", "Upgrade, close")]),
    ("GET /open HTTP/1.1", [("X-Original-URL", "/admin/1"), ("X-Rewrite-URL", "/admin/1")]),
]


def _remembered(port: int, strong: str, plain: str) -> None:
    for _ in range(2):
        assert raw(port, "GET /admin/1 HTTP/1.1", [("Authorization", strong)]) == (200, b"admin")
        assert raw(port, "GET /open HTTP/1.1", [("Authorization", plain)]) == (200, b"open")


Served = tuple[int, str, str]


@pytest.fixture(
    scope="module",
    params=[(server, app) for server in SERVERS for app in APPS],
    ids=lambda param: "-".join(param),
)
def served(request: pytest.FixtureRequest, issuer: FakeIssuer) -> Iterator[Served]:
    """A server and app with ``/admin/1`` and ``/open`` remembered: (port, MFA line,
    password line)."""
    server, app = request.param
    strong = "Bearer " + issuer.tokens.mfa_token(auth_age=5)
    plain = "Bearer " + issuer.tokens.password_token()
    with _serve(server, app, issuer) as port:
        _remembered(port, strong, plain)
        yield port, strong, plain


@pytest.mark.parametrize(
    ("line", "headers"), SPELLINGS, ids=[f"{i}" for i in range(len(SPELLINGS))]
)
def test_bind_2_server_a_spelling_of_a_remembered_mfa_path_never_reaches_it(
    served: Served, line: str, headers: list[tuple[str, str]]
) -> None:
    """BIND-2, PERF-4, PERF-1: after the paths were remembered, a spelling of ``/admin/1``
    with the password token is refused (or reaches no MFA view); the MFA token still gets in
    afterwards."""
    port, strong, plain = served
    status, body = raw(port, line.format(port=port), [*headers, ("Authorization", plain)])
    assert body != b"admin", (line, headers, status)
    assert raw(port, "GET /admin/1 HTTP/1.1", [("Authorization", strong)]) == (200, b"admin")


@pytest.mark.parametrize("second", ["same", "password"])
def test_p1_server_two_authorization_lines_on_a_remembered_token_are_400(
    served: Served, second: str
) -> None:
    """P1, PERF-1: the remembered MFA token sent on two lines (the server joins them with a
    comma), or the MFA line with the password line: 400, not the remembered admission."""
    port, strong, plain = served
    status, body = raw(
        port,
        "GET /admin/1 HTTP/1.1",
        [("Authorization", strong), ("Authorization", strong if second == "same" else plain)],
    )
    assert body != b"admin"
    assert status == 400


@pytest.mark.parametrize("app", APPS)
def test_bind_7_gthread_concurrent_first_requests_are_all_answered(
    app: str, issuer: FakeIssuer
) -> None:
    """BIND-7, BIND-12: the very first requests of a fresh gunicorn gthread worker, eight at
    once on four threads (the order check leaves ``before_request`` on the first; the
    middleware binds on the first): every one gets its answer, none a 500."""
    strong = "Bearer " + issuer.tokens.mfa_token(auth_age=5)
    with _serve("gunicorn-gthread", app, issuer, probe=False) as port:
        answers: list[tuple[int, bytes]] = []
        start = threading.Barrier(8, timeout=30)

        def first(path: str) -> None:
            start.wait()
            answers.append(raw(port, f"GET {path} HTTP/1.1", [("Authorization", strong)]))

        paths = ["/pub", "/admin/1", "/open", "/nowhere"] * 2
        workers = [threading.Thread(target=first, args=(path,)) for path in paths]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert len(answers) == 8
        assert sorted(status for status, _ in answers) == [200] * 6 + [404] * 2
