"""A real HTTP server on 127.0.0.1 whose answers, delays and faults a test controls.

Used by the fake issuer (metadata + JWKS), the introspection stub and the project's own tests, so
that verification is exercised over real sockets rather than monkeypatched functions.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Fault = Literal["close", "garbage", "500", "hang"]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the server received: its ``method``, ``path``, ``query`` string, ``headers``
    and ``body``."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(slots=True)
class Reply:
    """What a route answers: ``status``, ``body`` and ``headers``."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, document: Any, status: int = 200, **headers: str) -> Reply:
        """A reply with ``document`` as its JSON body, ``status`` and extra ``headers``."""
        return cls(
            status=status,
            body=json.dumps(document).encode(),
            headers={"Content-Type": "application/json", **headers},
        )


Route = Callable[[RecordedRequest], Reply]


class _ThreadingServer(ThreadingHTTPServer):
    # The socketserver default backlog (5) resets connections when a test opens 100 at once.
    request_queue_size = 128


class LocalHTTPServer:
    """A threaded HTTP/1.1 server on a free loopback port.

    ``routes`` maps a path to a callable; ``delay`` slows every answer; ``fault`` makes every
    answer fail in one of the ways an authorization server does. ``requests`` records everything.
    ``poll_interval`` is how often the serving thread checks for shutdown, in seconds.
    """

    def __init__(
        self, routes: dict[str, Route] | None = None, *, poll_interval: float = 0.5
    ) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.requests: list[RecordedRequest] = []
        self.delay: float = 0.0
        self.fault: Fault | None = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, each answer waits ~40 ms
            # for a delayed ACK.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                recorded = RecordedRequest(
                    method=self.command,
                    path=path,
                    query=query,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with server._lock:
                    server.requests.append(recorded)
                if server.delay:
                    server._stopped.wait(server.delay)
                fault = server.fault
                if fault == "hang":
                    server._stopped.wait(30)
                    return
                if fault == "close":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault == "garbage":
                    reply = Reply(200, b"<html>not json", {"Content-Type": "text/html"})
                elif fault == "500":
                    reply = Reply(500, b"oops", {"Content-Type": "text/plain"})
                else:
                    route = server.routes.get(path)
                    reply = route(recorded) if route else Reply(404, b"not found")
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._httpd = _ThreadingServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        # ``stop()`` waits up to one poll interval for the serving loop to notice the shutdown.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(poll_interval,), daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def count(self, path: str | None = None) -> int:
        """How many requests arrived (for ``path`` only, when given)."""
        with self._lock:
            return sum(1 for r in self.requests if path is None or r.path == path)

    def reset(self) -> None:
        """Forget the recorded requests and clear ``delay`` and ``fault``."""
        with self._lock:
            self.requests.clear()
        self.delay = 0.0
        self.fault = None

    def start(self) -> LocalHTTPServer:
        """Start the serving thread; returns the server."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._stopped.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> LocalHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes; for background refreshes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
