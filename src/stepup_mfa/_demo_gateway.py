"""``stepup-mfa demo --gateway nginx|caddy``: the seed scenario through a real proxy.

Starts, on free loopback ports, ``stepup-mfa gateway`` trusting the development authorization
server, the catsdogs upstream of ``examples/gateway`` and the proxy itself (Debian's ``nginx`` or
``caddy``) from the documented configuration, with only its ports changed. The demo then talks
to the proxy, under ``/catsdogs/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ._demo import DemoFailure, ExampleServer, demo_app_file, free_port, log_tail

#: The ports the documented configurations name: (proxy, gateway, upstream)
DOCUMENTED_PORTS = ("127.0.0.1:8080", "127.0.0.1:9401", "127.0.0.1:9402")
PROXIES = ("nginx", "caddy")
REALM = "catsdogs"


class GatewayDemoError(DemoFailure):
    """The stack could not be started (a missing proxy, a process that exited)."""


def find_gateway_example() -> Path:
    """The ``gateway`` folder of the example apps this package ships (``examples/gateway``)."""
    return demo_app_file("gateway", "nginx.conf").parent


def proxy_binary(proxy: str) -> str:
    """The proxy's executable (Debian installs nginx in /usr/sbin)."""
    found = shutil.which(proxy) or shutil.which(proxy, path="/usr/sbin:/usr/bin")
    if found is None:
        raise GatewayDemoError(f"{proxy} is not installed (apt-get install {proxy})")
    return found


def configured(text: str, proxy: int, gateway: int, upstream: int) -> str:
    """A documented configuration with its ports replaced (Caddy's site address included)."""
    for documented, port in zip(DOCUMENTED_PORTS, (proxy, gateway, upstream), strict=True):
        if documented not in text:
            raise GatewayDemoError(f"the documented configuration no longer names {documented}")
        text = text.replace(documented, f"127.0.0.1:{port}")
    return text.replace("http://:8080", f"http://:{proxy}")


def policies(example: Path, mfa_acr: str, max_age: int) -> str:
    """The example's route table with the demo's MFA acr and window."""
    text = (example / "policies.toml").read_text()
    return text.replace("urn:stepup-mfa:acr:mfa", mfa_acr).replace(
        "max_age = 60", f"max_age = {max_age}"
    )


@dataclass(slots=True)
class Process:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def output(self) -> str:
        return log_tail(self.log)


@contextmanager
def run_gateway_stack(
    proxy: str, env: Mapping[str, str], mfa_acr: str, max_age: int, timeout: float = 30.0
) -> Iterator[ExampleServer]:
    """The gateway (settings from ``env``), the upstream and ``proxy``, stopped on exit; the
    server yielded is the proxy, its URL the catsdogs pages' base."""
    if proxy not in PROXIES:
        raise GatewayDemoError(f"unknown proxy {proxy!r}")
    binary = proxy_binary(proxy)
    example = find_gateway_example()
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="stepup-gateway-")))
        routes = work / "policies.toml"
        routes.write_text(policies(example, mfa_acr, max_age))
        ports = {name: free_port() for name in ("proxy", "gateway", "upstream")}
        started: list[Process] = []

        def start(name: str, argv: list[str], extra: Mapping[str, str] | None = None) -> Process:
            log = stack.enter_context(tempfile.TemporaryFile())
            process = subprocess.Popen(
                argv,
                cwd=work,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(extra or {})},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            started.append(Process(name, ports[name], process, log))
            return started[-1]

        try:
            start(
                "gateway",
                [
                    *(sys.executable, "-m", "stepup_mfa", "gateway", "--protocol", proxy),
                    *("--routes", str(routes), "--port", str(ports["gateway"])),
                    *("--realm", REALM),
                ],
                env,
            )
            start(
                "upstream",
                [sys.executable, str(example / "upstream.py")],
                {"PORT": str(ports["upstream"])},
            )
            name = "Caddyfile" if proxy == "caddy" else "nginx.conf"
            config = work / name
            config.write_text(
                configured(
                    (example / name).read_text(),
                    ports["proxy"],
                    ports["gateway"],
                    ports["upstream"],
                )
            )
            if proxy == "nginx":
                argv = [binary, "-p", str(work), "-c", str(config), "-e", "stderr"]
                server = start("proxy", argv)
            else:
                home = {"HOME": str(work), "XDG_CONFIG_HOME": str(work), "XDG_DATA_HOME": str(work)}
                argv = [binary, "run", "--config", str(config), "--adapter", "caddyfile"]
                server = start("proxy", argv, home)
            _wait_listening(started, time.monotonic() + timeout)
            yield ExampleServer(
                f"http://127.0.0.1:{ports['proxy']}/catsdogs", server.process, server.log
            )
        finally:
            for process in started:
                if process.process.poll() is None:
                    process.process.terminate()
            for process in started:
                try:
                    process.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.process.kill()
                    process.process.wait()


def _wait_listening(processes: list[Process], deadline: float) -> None:
    for process in processes:
        while True:
            if process.process.poll() is not None:
                raise GatewayDemoError(f"the {process.name} exited early:\n{process.output()}")
            try:
                with socket.create_connection(("127.0.0.1", process.port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise GatewayDemoError(
                        f"the {process.name} did not start in time:\n{process.output()}"
                    ) from None
                time.sleep(0.05)
