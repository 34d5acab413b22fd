"""Sans-I/O flows and the two drivers that run them.

Protocol logic (discovery, JWKS refresh, introspection) is written once, as a generator that
yields :class:`HttpRequest` values and receives :class:`HttpResponse` values (or has a
:class:`TransportError` thrown into it). :func:`run_sync` and :func:`run_async` are the only
places that do I/O; they are short loops around the generator, in the style of httpx's
``Auth.sync_auth_flow`` / ``async_auth_flow``.

The drivers also give *single flight*: requests that carry the same ``flight_key`` while one of
them is on the wire share that one exchange, whether the waiters are threads, asyncio tasks, or
both. A thousand concurrent requests that all need the same JWKS refresh cause one fetch.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from .._core.errors import VerifierUnavailable

T = TypeVar("T")

DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """An outbound request a flow wants sent. ``flight_key`` groups identical requests."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    timeout: float = DEFAULT_TIMEOUT
    flight_key: str | None = None


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """What came back. Header names are lower-case."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


class TransportError(VerifierUnavailable):
    """The request did not produce a response: timeout, refused connection, TLS failure.

    Thrown into the flow, which decides what it means (cached keys may still serve). If a flow
    lets it escape, it is a 503 like any other outage; ``reason`` (for logs only) names the fault.
    """

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


#: A flow: yields requests, receives responses, returns its result.
Flow = Generator[HttpRequest, HttpResponse, T]


class SyncTransport(Protocol):
    """Sends one request and returns the response; raises :class:`TransportError` on failure."""

    def send(self, request: HttpRequest) -> HttpResponse: ...


class AsyncTransport(Protocol):
    """The asyncio counterpart of :class:`SyncTransport`."""

    async def send(self, request: HttpRequest) -> HttpResponse: ...


class _InFlight:
    """Exchanges on the wire, keyed by ``flight_key``, shared by threads and tasks alike."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[str, concurrent.futures.Future[HttpResponse]] = {}

    def join_or_lead(self, key: str) -> tuple[concurrent.futures.Future[HttpResponse], bool]:
        with self._lock:
            future = self._futures.get(key)
            if future is not None:
                return future, False
            future = concurrent.futures.Future()
            self._futures[key] = future
            return future, True

    def finish(self, key: str) -> None:
        with self._lock:
            self._futures.pop(key, None)


_IN_FLIGHT = _InFlight()


def _settle(
    future: concurrent.futures.Future[HttpResponse],
    key: str,
    response: HttpResponse | None,
    error: BaseException | None,
) -> None:
    _IN_FLIGHT.finish(key)
    if error is not None:
        future.set_exception(error)
    else:
        assert response is not None
        future.set_result(response)


def _send_sync(transport: SyncTransport, request: HttpRequest) -> HttpResponse:
    key = request.flight_key
    if key is None:
        return transport.send(request)
    future, leader = _IN_FLIGHT.join_or_lead(key)
    if not leader:
        try:
            return future.result(timeout=request.timeout * 2)
        except concurrent.futures.TimeoutError as exc:
            raise TransportError("timed out waiting for a shared request") from exc
    try:
        response = transport.send(request)
    except BaseException as exc:
        _settle(future, key, None, exc)
        raise
    _settle(future, key, response, None)
    return response


async def _send_async(transport: AsyncTransport, request: HttpRequest) -> HttpResponse:
    key = request.flight_key
    if key is None:
        return await transport.send(request)
    future, leader = _IN_FLIGHT.join_or_lead(key)
    if not leader:
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), request.timeout * 2)
        except TimeoutError as exc:
            raise TransportError("timed out waiting for a shared request") from exc
    try:
        response = await transport.send(request)
    except BaseException as exc:
        _settle(future, key, None, exc)
        raise
    _settle(future, key, response, None)
    return response


def run_sync(flow: Flow[T], transport: SyncTransport) -> T:
    """Drive ``flow`` to completion with blocking I/O."""
    try:
        request = next(flow)
        while True:
            try:
                response = _send_sync(transport, request)
            except TransportError as exc:
                request = flow.throw(exc)
            else:
                request = flow.send(response)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        flow.close()


async def run_async(flow: Flow[T], transport: AsyncTransport) -> T:
    """Drive ``flow`` to completion on the running event loop."""
    try:
        request = next(flow)
        while True:
            try:
                response = await _send_async(transport, request)
            except TransportError as exc:
                request = flow.throw(exc)
            else:
                request = flow.send(response)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        flow.close()
