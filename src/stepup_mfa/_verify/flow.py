"""Sans-I/O flows and the two drivers that run them.

Protocol logic (discovery, JWKS refresh, introspection) is written once, as a generator that
yields :class:`HttpRequest` values and receives :class:`HttpResponse` values (or has a
:class:`TransportError` thrown into it). :func:`run_sync` and :func:`run_async` are the only
places that do I/O; they are short loops around the generator, in the style of httpx's
``Auth.sync_auth_flow`` / ``async_auth_flow``.

Both drivers report each exchange that goes on the wire to an optional observer
(:class:`~stepup_mfa._observe.CallObserver`), through :func:`_watch` and :func:`_watched`: one
place, so that blocking and asyncio requests are counted and traced alike.

The drivers also give *single flight*: requests of one verifier (its :class:`SingleFlight`) that
carry the same ``flight_key`` while one of them is on the wire share that one exchange, whether
the waiters are threads, asyncio tasks, or both. A thousand concurrent requests that all need the
same JWKS refresh cause one fetch; a cancelled leader never fails its followers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol, TypeVar

from .._core.errors import VerifierUnavailable
from .._observe import Call, CallObserver, CallWatch

T = TypeVar("T")

DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """An outbound request a flow wants sent. ``flight_key`` groups identical requests.

    ``method``, ``url``, ``headers`` (name-value pairs) and ``body`` are the HTTP request;
    ``timeout`` bounds the whole exchange in seconds.

    Requests with the same ``flight_key`` share one exchange only within one ``flights`` group
    (a :class:`SingleFlight`, owned by a verifier; :func:`shared` sets it on every request of a
    flow). Without a group every request goes on the wire on its own.
    """

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    timeout: float = DEFAULT_TIMEOUT
    flight_key: str | None = None
    flights: SingleFlight | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """What came back: ``status``, ``headers`` (names lower-case) and ``body``."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


class TransportError(VerifierUnavailable):
    """The request did not produce a response: timeout, refused connection, TLS failure.

    Thrown into the flow, which decides what it means (cached keys may still serve). If a flow
    lets it escape, it is a 503 like any other outage; ``reason`` (for logs only) names the fault,
    ``error_type`` says its kind in a word, for metrics (``ConnectError``, ``ReadTimeout``,
    ``response_too_large``).
    """

    def __init__(self, reason: str, error_type: str = "transport_error") -> None:
        super().__init__(cause=reason)
        self.reason = reason
        self.error_type = error_type


#: A flow: yields requests, receives responses, returns its result.
Flow = Generator[HttpRequest, HttpResponse, T]


class SyncTransport(Protocol):
    """Sends one request and returns the response; raises :class:`TransportError` on failure."""

    def send(self, request: HttpRequest) -> HttpResponse:
        """Perform ``request`` and return its response."""


class AsyncTransport(Protocol):
    """The asyncio counterpart of :class:`SyncTransport`."""

    async def send(self, request: HttpRequest) -> HttpResponse:
        """Perform ``request`` and return its response, without blocking the event loop."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    """How a shared exchange ended: a response, a failure (``reason``), or abandoned (neither:
    the leader was cancelled or interrupted, which says nothing about the server)."""

    response: HttpResponse | None = None
    reason: str | None = None


_ABANDONED = _Outcome()


class SingleFlight:
    """Exchanges on the wire, keyed by ``flight_key``, shared by threads and tasks alike.

    Each verifier owns one (never a module global), so verifiers with different configurations
    never share an exchange. The rules, so that no request fails because *another* one did:

    - the leader's response or failure (``TransportError``, with its reason) reaches every
      follower; followers get their own exception object, never the leader's;
    - a leader that is cancelled or interrupted (``CancelledError``, ``KeyboardInterrupt``, a
      timeout around its task) abandons the exchange: its followers start a fresh attempt (one of
      them leads it) instead of re-raising the leader's cancellation;
    - a follower stops waiting after twice the request's timeout (``TransportError``: 503), and
      a follower's own timeout or cancellation never touches the shared exchange;
    - this request's own cancellation propagates unchanged.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, concurrent.futures.Future[_Outcome]] = {}

    def join_or_lead(self, key: str) -> tuple[concurrent.futures.Future[_Outcome], bool]:
        with self._lock:
            future = self._flights.get(key)
            if future is not None:
                return future, False
            future = concurrent.futures.Future()
            self._flights[key] = future
            return future, True

    def settle(
        self, key: str, future: concurrent.futures.Future[_Outcome], outcome: _Outcome
    ) -> None:
        with self._lock:
            if self._flights.get(key) is future:
                del self._flights[key]
        future.set_result(outcome)

    def __len__(self) -> int:
        """Exchanges on the wire now (for tests and diagnostics)."""
        with self._lock:
            return len(self._flights)


def shared(flow: Flow[T], flights: SingleFlight) -> Flow[T]:
    """``flow`` with each request that has a ``flight_key`` shared through ``flights``."""
    try:
        request = next(flow)
        while True:
            if request.flight_key is not None and request.flights is None:
                request = replace(request, flights=flights)
            try:
                response = yield request
            except GeneratorExit:
                raise
            except BaseException as exc:
                request = flow.throw(exc)
            else:
                request = flow.send(response)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        flow.close()


def _lead_outcome(error: BaseException) -> _Outcome:
    if isinstance(error, TransportError):
        return _Outcome(reason=error.reason)
    if isinstance(error, Exception):
        return _Outcome(reason=f"shared request failed ({type(error).__name__})")
    return _ABANDONED  # cancelled or interrupted: the followers try again


def _followed(outcome: _Outcome) -> HttpResponse | None:
    """A follower's view of a finished exchange: the response, None to retry, or its failure."""
    if outcome.response is not None:
        return outcome.response
    if outcome.reason is not None:
        raise TransportError(outcome.reason)
    return None


_WAIT_TIMED_OUT = "timed out waiting for a shared request"


def _watch(observer: CallObserver | None, request: HttpRequest) -> CallWatch | None:
    """Tell ``observer`` that ``request`` goes on the wire (never its headers or body)."""
    if observer is None:
        return None
    return observer.calling(Call.of(request.method, request.url, request.flight_key))


def _watched(watch: CallWatch, error: BaseException) -> None:
    """Tell the watch how an exchange that produced no response failed."""
    if isinstance(error, TransportError):
        watch.failed(error.error_type)
    else:
        watch.failed(type(error).__name__)


def _exchange_sync(
    transport: SyncTransport, request: HttpRequest, observer: CallObserver | None
) -> HttpResponse:
    watch = _watch(observer, request)
    if watch is None:
        return transport.send(request)
    try:
        response = transport.send(request)
    except BaseException as error:
        _watched(watch, error)
        raise
    watch.answered(response.status)
    return response


async def _exchange_async(
    transport: AsyncTransport, request: HttpRequest, observer: CallObserver | None
) -> HttpResponse:
    watch = _watch(observer, request)
    if watch is None:
        return await transport.send(request)
    try:
        response = await transport.send(request)
    except BaseException as error:
        _watched(watch, error)
        raise
    watch.answered(response.status)
    return response


def _send_sync(
    transport: SyncTransport, request: HttpRequest, observer: CallObserver | None = None
) -> HttpResponse:
    key, flights = request.flight_key, request.flights
    if key is None or flights is None:
        return _exchange_sync(transport, request, observer)
    deadline = time.monotonic() + request.timeout * 2
    while True:
        future, leader = flights.join_or_lead(key)
        if leader:
            try:
                response = _exchange_sync(transport, request, observer)
            except BaseException as error:
                flights.settle(key, future, _lead_outcome(error))
                raise
            flights.settle(key, future, _Outcome(response=response))
            return response
        try:
            outcome = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except concurrent.futures.TimeoutError:
            raise TransportError(_WAIT_TIMED_OUT) from None
        followed = _followed(outcome)
        if followed is not None:
            return followed


async def _follow_async(future: concurrent.futures.Future[_Outcome], timeout: float) -> _Outcome:
    """Wait for a shared exchange without ever cancelling it (``asyncio.wrap_future`` would
    pass this waiter's cancellation or timeout on to the leader's future)."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not waiter.done():
            waiter.set_result(None)

    def done(_: concurrent.futures.Future[_Outcome]) -> None:
        try:
            loop.call_soon_threadsafe(wake)
        except RuntimeError:  # the waiter's loop has closed: nobody is waiting any more
            pass

    future.add_done_callback(done)
    try:
        await asyncio.wait_for(waiter, timeout)
    except TimeoutError:
        raise TransportError(_WAIT_TIMED_OUT) from None
    return future.result()


async def _send_async(
    transport: AsyncTransport, request: HttpRequest, observer: CallObserver | None = None
) -> HttpResponse:
    key, flights = request.flight_key, request.flights
    if key is None or flights is None:
        return await _exchange_async(transport, request, observer)
    deadline = time.monotonic() + request.timeout * 2
    while True:
        future, leader = flights.join_or_lead(key)
        if leader:
            try:
                response = await _exchange_async(transport, request, observer)
            except BaseException as error:
                flights.settle(key, future, _lead_outcome(error))
                raise
            flights.settle(key, future, _Outcome(response=response))
            return response
        outcome = await _follow_async(future, max(0.0, deadline - time.monotonic()))
        followed = _followed(outcome)
        if followed is not None:
            return followed


def run_sync(flow: Flow[T], transport: SyncTransport, observer: CallObserver | None = None) -> T:
    """Drive ``flow`` to completion with blocking I/O; ``observer`` hears of each exchange."""
    try:
        request = next(flow)
        while True:
            try:
                response = _send_sync(transport, request, observer)
            except TransportError as exc:
                request = flow.throw(exc)
            else:
                request = flow.send(response)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        flow.close()


async def run_async(
    flow: Flow[T], transport: AsyncTransport, observer: CallObserver | None = None
) -> T:
    """Drive ``flow`` to completion on the running event loop; ``observer`` as for run_sync."""
    try:
        request = next(flow)
        while True:
            try:
                response = await _send_async(transport, request, observer)
            except TransportError as exc:
                request = flow.throw(exc)
            else:
                request = flow.send(response)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        flow.close()
