"""A client that disconnects never fails the requests that shared its key fetch (FLIGHT-1).

A real uvicorn server on 127.0.0.1 runs a raw ASGI app that does what servers and frameworks do on
a client disconnect: it cancels the request's task. The issuer's JWKS endpoint stalls, so the
first request leads the key fetch and two later ones join it; the first client then hangs up.
Before issue 11 its ``CancelledError`` was re-raised in the two others (no response, or a 500);
now they get a fresh fetch and their 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import uvicorn

from stepup_mfa import AUTHENTICATED, Guard, JWTVerifier, RequestView
from stepup_mfa.testing import FakeIssuer, FrozenClock
from stepup_mfa.testing.issuer import JWKS_PATH
from stepup_mfa.testing.server import wait_until

AUDIENCE = "https://api.example.com"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(1_800_000_000)


@pytest.fixture
def issuer(clock: FrozenClock) -> Iterator[FakeIssuer]:
    with FakeIssuer(AUDIENCE, clock=clock) as issuer:
        yield issuer


class DisconnectAwareApp:
    """Answers 200/401/503 from ``Guard.acheck``; cancels the check when the client goes away."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self.cancelled = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # close the Guard's client inside the server's loop
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await self.guard.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        assert scope["type"] == "http"
        headers = tuple(v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization")
        request = RequestView(scope["method"], scope["path"], headers, scheme="http")
        check = asyncio.ensure_future(self.guard.acheck(request, AUTHENTICATED))

        async def disconnected() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        watcher = asyncio.ensure_future(disconnected())
        done, _ = await asyncio.wait({check, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if check not in done:
            check.cancel()  # the client hung up: this request's own cancellation
            self.cancelled += 1
            with contextlib.suppress(asyncio.CancelledError):
                await check
            return
        watcher.cancel()
        decision = check.result()
        body = b"ok" if decision.allowed else b"refused"
        await send({"type": "http.response.start", "status": decision.status, "headers": []})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def served(issuer: FakeIssuer, clock: FrozenClock) -> Iterator[tuple[str, DisconnectAwareApp]]:
    verifier = JWTVerifier(issuer.issuer, AUDIENCE, allow_insecure_http=True)
    app = DisconnectAwareApp(Guard(verifier, clock=clock, refresh_ahead=None))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, http="h11", ws="none", lifespan="on", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: server.started)
        host, port = sock.getsockname()
        yield f"{host}:{port}", app
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


def test_FLIGHT_1_a_client_disconnect_never_fails_the_requests_that_joined_its_fetch(
    issuer: FakeIssuer, served: tuple[str, DisconnectAwareApp]
) -> None:
    address, app = served
    host, port = address.split(":")
    token = issuer.tokens.mint()
    issuer.server.delay = 1.0  # the JWKS endpoint stalls
    leader = socket.create_connection((host, int(port)))
    leader.sendall(
        f"GET /dogs/ HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    )
    assert wait_until(lambda: issuer.count(JWKS_PATH) >= 1)  # the leader's fetch is on the wire
    with ThreadPoolExecutor(max_workers=2) as pool:
        followers = [
            pool.submit(
                httpx.get,
                f"http://{address}/dogs/",
                headers={"Authorization": "Bearer " + token},
                timeout=10,
            )
            for _ in range(2)
        ]
        assert wait_until(lambda: len(issuer.server.requests) >= 1)
        threading.Event().wait(0.3)  # the followers have joined the leader's fetch
        leader.close()  # the first client hangs up
        statuses = [future.result().status_code for future in followers]
    assert statuses == [200, 200]
    assert app.cancelled == 1
    assert issuer.count(JWKS_PATH) == 2  # the abandoned fetch, then one fresh attempt
