"""The ASGI middleware behind a real server: uvicorn on 127.0.0.1, requests over a socket."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from adapter_apps import REALM, TABLE, MakeGuard, Mode, asgi_app

from stepup_mfa import parse_www_authenticate
from stepup_mfa.testing import TokenFactory


@pytest.fixture(params=["sync", "async"])
def server_url(request: pytest.FixtureRequest, make_guard: MakeGuard) -> Iterator[str]:
    mode: Mode = request.param
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        asgi_app(make_guard(), mode, TABLE),
        http="h11",
        ws="none",
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            thread.join(0.01)
        assert server.started
        host, port = sock.getsockname()
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


def test_real_server_refuses_without_token(server_url: str) -> None:
    response = httpx.get(server_url + "/cats/")
    (challenge,) = parse_www_authenticate(response.headers["www-authenticate"])
    assert (response.status_code, challenge.param("realm"), challenge.error) == (401, REALM, None)


def test_real_server_admits_a_fresh_mfa_token(server_url: str, tokens: TokenFactory) -> None:
    token = tokens.mfa_token(scope="cats:read")
    response = httpx.get(server_url + "/cats/", headers={"Authorization": "Bearer " + token})
    assert (response.status_code, response.json()) == (200, {"sub": "user-1"})
