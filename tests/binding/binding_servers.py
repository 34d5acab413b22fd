"""Real servers for the binding tests: each (server, app, table default) runs as its own process
on 127.0.0.1, trusting one fake issuer that runs in the test process on a real clock.

All the servers the session needs are started together, the first time a test asks for one
(starting them in parallel keeps the run short), and each is stopped at the end of the session.
A server is ready when ``GET /`` answers ``{"handler": "index"}``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from binding_rawhttp import RawResponse, build_request, exchange

from stepup_mfa.testing import FakeIssuer

HERE = Path(__file__).resolve().parent
AUDIENCE = "https://api.example.com"
STARTUP_TIMEOUT = 30.0
#: A token older than this is minted again, well inside the routes' 60 s MFA window.
TOKEN_REFRESH = 20.0

ASGI_SERVERS = ("uvicorn", "hypercorn")
WSGI_SERVERS = ("gunicorn", "waitress", "werkzeug")
ASGI_APPS = ("starlette", "fastapi")
VARIANTS = ("default_authenticated", "default_anonymous")
#: (server, app, variant) of every server process the binding tests use
FLEET: tuple[tuple[str, str, str], ...] = (
    *((s, a, v) for s in ASGI_SERVERS for a in ASGI_APPS for v in VARIANTS),
    *((s, "flask", v) for s in WSGI_SERVERS for v in VARIANTS),
    ("uvicorn", "raw_asgi", "default_anonymous"),
    ("hypercorn", "raw_asgi", "default_anonymous"),
    ("gunicorn", "raw_wsgi", "default_anonymous"),
    ("waitress", "raw_wsgi", "default_anonymous"),
)
FACTORIES = {
    "starlette": "starlette_app",
    "fastapi": "fastapi_app",
    "flask": "flask_app",
    "raw_asgi": "raw_asgi",
    "raw_wsgi": "raw_wsgi",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_command(server: str, app: str, port: int) -> list[str]:
    py = sys.executable
    factory = FACTORIES[app]
    bind = f"127.0.0.1:{port}"
    if server == "uvicorn":
        return [
            *(py, "-m", "uvicorn", "--factory", f"binding_apps:{factory}"),
            *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
            "--no-access-log",
        ]
    if server == "hypercorn":
        return [py, "-m", "hypercorn", f"binding_apps:{factory}()", "--bind", bind]
    if server == "gunicorn":
        return [
            *(py, "-m", "gunicorn", f"binding_apps:{factory}()", "--bind", bind),
            *("--workers", "1", "--worker-class", "sync", "--timeout", "30"),
            *("--log-level", "warning"),
        ]
    if server == "waitress":
        return [py, "-m", "waitress", f"--listen={bind}", "--call", f"binding_apps:{factory}"]
    if server == "werkzeug":
        return [py, str(HERE / "binding_apps.py"), "werkzeug", str(port)]
    raise ValueError(server)


@dataclass
class Server:
    server: str
    app: str
    variant: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def name(self) -> str:
        return f"{self.server}+{self.app}+{self.variant}"

    def host(self) -> bytes:
        return f"127.0.0.1:{self.port}".encode()

    def get(self, target: bytes) -> RawResponse:
        return exchange(self.port, build_request(b"GET", target, self.host()), timeout=2.0)

    def log_text(self) -> str:
        return self.log.read_text("utf-8", "replace") if self.log.exists() else ""

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        self.terminate()
        if self.process.poll() is None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # the group this fixture created
                self.process.wait(timeout=10)


class Fleet:
    """The running servers, by (server, app, variant). A server that did not start fails the
    cells that use it (with its log), not the whole session."""

    def __init__(
        self, servers: dict[tuple[str, str, str], Server], errors: dict[tuple[str, str, str], str]
    ) -> None:
        self.servers = servers
        self.errors = errors

    def __getitem__(self, key: tuple[str, str, str]) -> Server:
        if key in self.errors:
            pytest.fail(self.errors[key])
        server = self.servers[key]
        if server.process.poll() is not None:
            pytest.fail(
                f"{server.name} exited with {server.process.returncode}:\n{server.log_text()}"
            )
        return server


def _start(issuer: str, key: tuple[str, str, str], logs: Path) -> Server:
    server, app, variant = key
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
        "BINDING_ISSUER": issuer,
        "BINDING_AUDIENCE": AUDIENCE,
        "BINDING_DEFAULT": variant.removeprefix("default_"),
    }
    log = logs / f"{server}-{app}-{variant}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            server_command(server, app, port),
            cwd=HERE,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(server, app, variant, port, process, log)


def _wait_ready(server: Server, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited at start-up:\n{server.log_text()}")
        try:
            if server.get(b"/").handler == "index":
                return
        except (OSError, AssertionError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} not ready in {STARTUP_TIMEOUT} s:\n{server.log_text()}")


@pytest.fixture(scope="session")
def issuer() -> Iterator[FakeIssuer]:
    """The fake issuer, on the real clock: the servers judge ``auth_time`` by real time."""
    with FakeIssuer(AUDIENCE, clock=time.time) as running:
        yield running


def _wanted(session: pytest.Session) -> list[tuple[str, str, str]]:
    """The servers the selected tests use (every test names its server in a ``key`` param)."""
    keys = {
        tuple(item.callspec.params["key"])
        for item in session.items
        if isinstance(item, pytest.Function)
        and hasattr(item, "callspec")
        and "key" in item.callspec.params
    }
    return [key for key in FLEET if key in keys] or list(FLEET)


@pytest.fixture(scope="session")
def fleet(
    request: pytest.FixtureRequest,
    issuer: FakeIssuer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Fleet]:
    """The servers the selected tests use, started together and stopped at the end."""
    logs = tmp_path_factory.mktemp("binding-servers")
    servers: dict[tuple[str, str, str], Server] = {}
    try:
        for key in _wanted(request.session):
            servers[key] = _start(issuer.issuer, key, logs)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        errors: dict[tuple[str, str, str], str] = {}
        for key, server in list(servers.items()):
            try:
                try:
                    _wait_ready(server, deadline)
                except RuntimeError:
                    if "in use" not in server.log_text():
                        raise
                    # the free port was taken between choosing it and binding it: once more
                    servers[key] = _start(issuer.issuer, key, logs)
                    _wait_ready(servers[key], time.monotonic() + STARTUP_TIMEOUT)
            except RuntimeError as error:
                errors[key] = str(error)
        yield Fleet(servers, errors)
    finally:
        for server in servers.values():
            server.terminate()
        for server in servers.values():
            server.stop()


class Credentials:
    """``none``, ``password`` (a password-only login) and ``mfa`` (a fresh MFA login), as the
    ``Authorization`` header lines to send; tokens are re-minted before they could go stale."""

    NAMES = ("none", "password", "mfa")

    def __init__(self, issuer: FakeIssuer) -> None:
        self.issuer = issuer
        self._minted = 0.0
        self._tokens: dict[str, str] = {}

    def headers(self, name: str) -> list[tuple[bytes, bytes]]:
        if name == "none":
            return []
        if not self._tokens or time.monotonic() - self._minted > TOKEN_REFRESH:
            self._tokens = {
                "password": self.issuer.tokens.password_token(),
                "mfa": self.issuer.tokens.mfa_token(),
            }
            self._minted = time.monotonic()
        return [(b"Authorization", b"Bearer " + self._tokens[name].encode())]


@pytest.fixture(scope="session")
def credentials(issuer: FakeIssuer) -> Credentials:
    return Credentials(issuer)
