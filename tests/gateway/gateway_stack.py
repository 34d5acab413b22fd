"""Real processes for the gateway tests, all on 127.0.0.1 and free ports.

One upstream (``examples/gateway/upstream.py``), and for each proxy (Debian's ``nginx`` and
``caddy``) a ``stepup-mfa gateway`` with that proxy's protocol and the proxy itself, run from the
documented configuration in ``examples/gateway`` with only its ports changed. A second pair of
stacks trusts an issuer nobody listens on, for the outage. The Traefik and Envoy protocols get a
gateway each, asked directly with the header sets their documentation specifies.

Everything starts together the first time a test asks for it and is stopped at the end of the
session; every wait is bounded.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from stepup_mfa._demo_gateway import configured
from stepup_mfa.testing import FakeIssuer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "gateway"
AUDIENCE = "https://api.example.com"
REALM = "catsdogs"
STARTUP_TIMEOUT = 20.0
ENVOY_PREFIX = "/authz"
#: A route that needs a scope, added to the example's table for the 403 cases
ADMIN_ROUTE = """
[policies.admin]
scopes = ["catsdogs:admin"]

[[routes]]
match = "GET /catsdogs/admin/"
policy = "admin"
"""

PROXIES = ("nginx", "caddy")
#: Which credentials satisfy each upstream handler's own policy (examples/gateway/policies.toml)
HANDLER_ACCEPTS = {
    "index": {"none", "password", "mfa"},
    "dogs": {"password", "mfa"},
    "cats": {"mfa"},
}


def bearer(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def require_binary(name: str) -> str:
    """The path of a Debian package's binary; skipped on a developer machine, failed in CI."""
    path = shutil.which(name) or (
        f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None
    )
    if path is not None:
        return path
    message = f"{name} not found (apt-get install {name})"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None

    @property
    def page(self) -> dict[str, object] | None:
        """The upstream's page (which handler answered, what it was told), if it answered."""
        if self.status != 200 or not self.body.startswith(b"{"):
            return None
        page: dict[str, object] = json.loads(self.body)
        return page

    @property
    def handler(self) -> str | None:
        page = self.page
        return None if page is None else str(page["handler"])


def request(
    port: int,
    target: str,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] = (),
    method: str = "GET",
) -> Response:
    """One request, the target sent byte for byte (http.client does not normalise paths)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5.0)
    try:
        items = list(headers.items() if isinstance(headers, Mapping) else headers)
        has_host = any(name.lower() == "host" for name, _ in items)
        connection.putrequest(method, target, skip_host=has_host, skip_accept_encoding=True)
        for name, value in items:
            connection.putheader(name, value)
        connection.putheader("Connection", "close")
        connection.endheaders()
        answer = connection.getresponse()
        body = answer.read()
        return Response(answer.status, answer.getheaders(), body)
    finally:
        connection.close()


@dataclass
class Process:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text("utf-8", "replace") if self.log.exists() else ""

    def check(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(f"{self.name} exited with {self.process.returncode}:\n{self.log_text()}")

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        self.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # the group this fixture created
            self.process.wait(timeout=5)


def _spawn(
    name: str, argv: list[str], port: int, logs: Path, env: Mapping[str, str] | None = None
) -> Process:
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=logs,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Process(name, port, process, log)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _wait(process: Process, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.process.poll() is not None:
            raise RuntimeError(f"{process.name} exited at start-up:\n{process.log_text()}")
        if _listening(process.port):
            return
        time.sleep(0.05)
    raise RuntimeError(
        f"{process.name} not listening in {STARTUP_TIMEOUT} s:\n{process.log_text()}"
    )


@dataclass
class Stack:
    """A proxy in front of the upstream, asking its own gateway."""

    proxy: str
    gateway: Process
    server: Process

    @property
    def port(self) -> int:
        return self.server.port

    def get(self, target: str, headers: Mapping[str, str] | None = None) -> Response:
        self.gateway.check()
        self.server.check()
        return request(self.port, target, headers or {})


@dataclass
class World:
    issuer: FakeIssuer
    upstream: Process
    stacks: dict[str, Stack] = field(default_factory=dict)
    down: dict[str, Stack] = field(default_factory=dict)
    #: proxies whose gateway nobody runs: the gateway itself is down
    orphans: dict[str, Process] = field(default_factory=dict)
    gateways: dict[str, Process] = field(default_factory=dict)
    routes: Path = Path()
    dead_issuer: str = ""  # an issuer nobody answers for: an outage
    dead_gateway: int = 0  # a gateway port nobody answers on

    def processes(self) -> Iterator[Process]:
        yield self.upstream
        for stack in (*self.stacks.values(), *self.down.values()):
            yield stack.gateway
            yield stack.server
        yield from self.gateways.values()
        yield from self.orphans.values()


def gateway_process(
    name: str, protocol: str, issuer: str, routes: Path, logs: Path, *extra: str
) -> Process:
    port = free_port()
    argv = [
        *(sys.executable, "-m", "stepup_mfa", "gateway", "--protocol", protocol),
        *("--routes", str(routes), "--port", str(port), "--realm", REALM),
        *extra,
    ]
    env = {
        "STEPUP_ISSUER": issuer,
        "STEPUP_AUDIENCE": AUDIENCE,
        "STEPUP_ALLOW_INSECURE_HTTP": "1",
    }
    return _spawn(name, argv, port, logs, env)


def proxy_process(name: str, proxy: str, gateway: int, upstream: int, logs: Path) -> Process:
    port = free_port()
    if proxy == "nginx":
        prefix = logs / f"{name}-prefix"
        prefix.mkdir()
        conf = prefix / "nginx.conf"
        text = (EXAMPLE / "nginx.conf").read_text()
        conf.write_text(configured(text, port, gateway, upstream))
        argv = [require_binary("nginx"), "-p", str(prefix), "-c", str(conf), "-e", "stderr"]
        return _spawn(name, argv, port, logs)
    home = logs / f"{name}-home"
    home.mkdir()
    conf = home / "Caddyfile"
    conf.write_text(configured((EXAMPLE / "Caddyfile").read_text(), port, gateway, upstream))
    argv = [require_binary("caddy"), "run", "--config", str(conf), "--adapter", "caddyfile"]
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home), "XDG_DATA_HOME": str(home)}
    return _spawn(name, argv, port, logs, env)


@pytest.fixture(scope="session")
def issuer() -> Iterator[FakeIssuer]:
    """The fake issuer, on the real clock: the gateways judge ``auth_time`` by real time."""
    with FakeIssuer(AUDIENCE, clock=time.time) as running:
        yield running


def reserved_port() -> tuple[socket.socket, int]:
    """A port bound but never listened on, kept for the session: connecting to it is refused,
    and no other process can take it (an issuer or a gateway that is down)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    return sock, port


def _start_world(issuer: FakeIssuer, logs: Path, world: World) -> None:
    routes = world.routes
    upstream_port = world.upstream.port
    for proxy in ("nginx", "caddy"):
        for table, trusted in ((world.stacks, issuer.issuer), (world.down, world.dead_issuer)):
            tag = proxy if table is world.stacks else f"{proxy}-down"
            gateway = gateway_process(f"gateway-{tag}", proxy, trusted, routes, logs)
            server = proxy_process(tag, proxy, gateway.port, upstream_port, logs)
            table[proxy] = Stack(proxy, gateway, server)
        world.orphans[proxy] = proxy_process(
            f"{proxy}-orphan", proxy, world.dead_gateway, upstream_port, logs
        )
    world.gateways["traefik"] = gateway_process(
        "gateway-traefik", "traefik", issuer.issuer, routes, logs
    )
    world.gateways["envoy"] = gateway_process(
        "gateway-envoy", "envoy", issuer.issuer, routes, logs, "--envoy-prefix", ENVOY_PREFIX
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    for process in world.processes():
        _wait(process, deadline)


def _stop(world: World) -> None:
    processes = list(world.processes())
    for process in processes:
        process.terminate()
    for process in processes:
        process.stop()


@pytest.fixture(scope="session")
def world(issuer: FakeIssuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    for binary in ("nginx", "caddy"):
        require_binary(binary)
    issuer_socket, dead_issuer_port = reserved_port()
    gateway_socket, dead_gateway = reserved_port()
    world: World | None = None
    try:
        for attempt in (1, 2):  # a free port taken between choosing and binding it: once more
            logs = tmp_path_factory.mktemp("gateway")
            routes = logs / "policies.toml"
            routes.write_text((EXAMPLE / "policies.toml").read_text() + ADMIN_ROUTE)
            upstream_port = free_port()
            upstream = _spawn(
                "upstream",
                [
                    *(sys.executable, "-m", "uvicorn", "--app-dir", str(EXAMPLE), "upstream:app"),
                    *("--host", "127.0.0.1", "--port", str(upstream_port)),
                    *("--log-level", "warning"),
                ],
                upstream_port,
                logs,
            )
            world = World(
                issuer,
                upstream,
                routes=routes,
                dead_issuer=f"http://127.0.0.1:{dead_issuer_port}",
                dead_gateway=dead_gateway,
            )
            try:
                _start_world(issuer, logs, world)
                break
            except RuntimeError as error:
                _stop(world)
                world = None
                if attempt == 2 or "in use" not in str(error):
                    raise
        assert world is not None
        yield world
    finally:
        if world is not None:
            _stop(world)
        issuer_socket.close()
        gateway_socket.close()


@dataclass
class Reference:
    """What the library answers in-process: the raw WSGI middleware around an app that always
    says 200, with the gateway's route table, realm and issuer."""

    status: int
    www_authenticate: str | None
    retry_after: str | None


@pytest.fixture(scope="session")
def reference(issuer: FakeIssuer, world: World) -> Iterator[Callable[..., Reference]]:
    from werkzeug.test import Client

    from stepup_mfa import Guard, JWTVerifier
    from stepup_mfa.routes import RouteTable
    from stepup_mfa.wsgi import StepUpWSGIMiddleware

    guards = {
        down: Guard(JWTVerifier(url, AUDIENCE, allow_insecure_http=True), realm=REALM)
        for down, url in ((False, issuer.issuer), (True, world.dead_issuer))
    }
    table = RouteTable.from_toml(world.routes)

    def app(environ: object, start_response: Callable[..., object]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    clients = {
        down: Client(StepUpWSGIMiddleware(app, guard=guard, routes=table))
        for down, guard in guards.items()
    }

    def answer(target: str, headers: Mapping[str, str], *, down: bool = False) -> Reference:
        response = clients[down].get(target, headers=dict(headers))
        return Reference(
            response.status_code,
            response.headers.get("WWW-Authenticate"),
            response.headers.get("Retry-After"),
        )

    yield answer
    for guard in guards.values():
        guard.close()
