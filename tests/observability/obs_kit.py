"""The observability tests' kit: a real fake authorization server on 127.0.0.1 (metadata, JWKS
and introspection over HTTP), Guards on real verifiers and transports, two real adapters (Flask,
which drives the blocking path, and Starlette, which drives the asyncio path), the OpenTelemetry
SDK's in-memory metric reader and span exporter, and a JSON log formatter.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import flask
import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from stepup_mfa import (
    ANONYMOUS,
    ClientSecretBasic,
    Guard,
    IntrospectionVerifier,
    JWTVerifier,
    Policy,
)
from stepup_mfa._verify.flow import HttpRequest, HttpResponse
from stepup_mfa._verify.transports import AsyncHttpxTransport, HttpxTransport
from stepup_mfa.integrations.flask import FlaskStepUp, get_principal
from stepup_mfa.integrations.starlette import principal_of, require
from stepup_mfa.testing import MFA_ACR, FakeIssuer, FrozenClock

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

NOW = 1_800_000_000
AUDIENCE = "https://api.example.com"

READ = Policy(scopes="reports:read", name="reports-read")
FRESH = Policy(scopes="reports:read", acr_values=MFA_ACR, max_age=60, name="payout-mfa-60s")
UNNAMED = Policy(scopes="reports:read")
#: path -> policy, served by both apps
ROUTES: dict[str, Policy] = {"/": ANONYMOUS, "/reports": READ, "/payout": FRESH, "/misc": UNNAMED}

Driver = Literal["sync", "async"]
DRIVERS: tuple[Driver, ...] = ("sync", "async")
#: Sends ``GET path`` with ``token`` (or none) through a real adapter; returns the status.
Send = Callable[[str, str | None], int]


class OneShotAsyncTransport:
    """An async transport with a client per request: Starlette's test client runs requests on
    event loops that do not outlive them, and an httpx async client must not outlive its loop."""

    async def send(self, request: HttpRequest) -> HttpResponse:
        async with httpx.AsyncClient(follow_redirects=False) as client:
            return await AsyncHttpxTransport(client).send(request)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def issuer(clock: FrozenClock) -> Iterator[FakeIssuer]:
    """A fresh fake authorization server per test, so request counts start at zero."""
    with FakeIssuer(AUDIENCE, clock=clock) as running:
        yield running


@pytest.fixture
def transport() -> Iterator[HttpxTransport]:
    sync = HttpxTransport()
    yield sync
    sync.close()


MakeGuard = Callable[..., Guard]


@pytest.fixture
def jwt_guard(issuer: FakeIssuer, clock: FrozenClock, transport: HttpxTransport) -> MakeGuard:
    """Guards on a fresh real JWT verifier trusting the fake issuer."""

    def make(**options: Any) -> Guard:
        verifier = JWTVerifier(issuer.issuer, AUDIENCE, allow_insecure_http=True)
        options.setdefault("refresh_ahead", None)  # no background exchange unless asked for
        return Guard(
            verifier,
            clock=clock,
            transport=transport,
            async_transport=OneShotAsyncTransport(),
            **options,
        )

    return make


@pytest.fixture
def introspection_guard(
    issuer: FakeIssuer, clock: FrozenClock, transport: HttpxTransport
) -> MakeGuard:
    """Guards on a fresh real introspection verifier (endpoint discovered from the metadata)."""

    def make(**options: Any) -> Guard:
        verifier = IntrospectionVerifier(
            issuer=issuer.issuer,
            audience=AUDIENCE,
            client_auth=ClientSecretBasic(*issuer.introspection_client),
            allow_insecure_http=True,
        )
        return Guard(
            verifier,
            clock=clock,
            transport=transport,
            async_transport=OneShotAsyncTransport(),
            **options,
        )

    return make


# -- the two adapters -------------------------------------------------------------------------


def _headers(token: str | None) -> list[tuple[str, str]]:
    return [] if token is None else [("Authorization", "Bearer " + token)]


def flask_send(guard: Guard) -> Send:
    """Flask with sync views: the Guard's blocking path (``Guard.check``, ``run_sync``)."""
    app = flask.Flask(__name__)
    app.testing = True
    stepup = FlaskStepUp(guard, app)
    for index, (path, policy) in enumerate(ROUTES.items()):

        def view() -> dict[str, Any]:
            principal = get_principal()
            return {"sub": None if principal is None else principal.subject}

        view.__name__ = f"view{index}"
        app.add_url_rule(path, view_func=stepup.require(policy)(view))
    client = app.test_client()

    def send(path: str, token: str | None) -> int:
        return client.get(path, headers=_headers(token)).status_code

    return send


def starlette_send(guard: Guard) -> Send:
    """Starlette with the ``require`` decorator: the asyncio path (``Guard.acheck``)."""
    routes = []
    for path, policy in ROUTES.items():

        @require(guard, policy)
        async def endpoint(request: Request) -> JSONResponse:
            principal = principal_of(request)
            return JSONResponse({"sub": None if principal is None else principal.subject})

        routes.append(Route(path, endpoint))
    client = TestClient(Starlette(routes=routes))

    def send(path: str, token: str | None) -> int:
        return client.get(path, headers=_headers(token)).status_code

    return send


SENDERS: dict[Driver, Callable[[Guard], Send]] = {"sync": flask_send, "async": starlette_send}


# -- OpenTelemetry SDK, in memory ---------------------------------------------------------------


Attributes = dict[str, Any]


@dataclass
class Telemetry:
    reader: InMemoryMetricReader
    exporter: InMemorySpanExporter
    meter_provider: MeterProvider
    tracer_provider: TracerProvider

    def points(self, name: str) -> list[Any]:
        """The data points of metric ``name`` (every scope), as the reader collects them now."""
        data = self.reader.get_metrics_data()
        found: list[Any] = []
        if data is None:
            return found
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found

    def counts(self, name: str) -> dict[tuple[tuple[str, Any], ...], int]:
        """Counter ``name`` by its attribute sets (sorted items), summed."""
        return {tuple(sorted(p.attributes.items())): p.value for p in self.points(name)}

    def histogram_counts(self, name: str) -> dict[tuple[tuple[str, Any], ...], int]:
        return {tuple(sorted(p.attributes.items())): p.count for p in self.points(name)}

    def spans(self) -> tuple[ReadableSpan, ...]:
        return tuple(self.exporter.get_finished_spans())


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield Telemetry(reader, exporter, meter_provider, tracer_provider)
    meter_provider.shutdown()
    tracer_provider.shutdown()


# -- logs as a JSON formatter writes them -------------------------------------------------------


#: Attributes every LogRecord has; what is left is what ``extra=`` added.
STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


class JSONFormatter(logging.Formatter):
    """One JSON object per record: the message, the level, the logger and every extra field, as
    the common JSON log formatters write them (everything in ``record.__dict__``)."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            key: value
            for key, value in record.__dict__.items()
            if key not in STANDARD_ATTRIBUTES or key in ("name", "levelname")
        }
        document["message"] = record.getMessage()
        if record.exc_info:
            document["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


class JSONLines(logging.Handler):
    """Collects the formatted JSON lines and the records of the ``stepup_mfa`` logger tree."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JSONFormatter())
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))

    def documents(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def json_logs() -> Iterator[JSONLines]:
    handler = JSONLines()
    logger = logging.getLogger("stepup_mfa")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)
