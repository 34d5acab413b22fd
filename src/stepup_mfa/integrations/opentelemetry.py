"""OpenTelemetry metrics and traces for a Guard (the ``otel`` extra: ``opentelemetry-api`` only).

    from stepup_mfa.integrations.opentelemetry import instrument

    instrument(guard)  # the global meter and tracer providers, or pass your own

What it records (names and attributes in ``docs/observability.md``):

- ``stepup_mfa.decisions``: a counter of decisions by policy name, outcome and error code;
- ``stepup_mfa.authorization_server.calls``: a counter of the exchanges with the authorization
  server (metadata, JWKS, introspection) by kind and result;
- ``stepup_mfa.authorization_server.duration``: their durations, in seconds, with the attributes,
  unit and buckets of OpenTelemetry's HTTP client semantic conventions (``http.request.method``,
  ``server.address``, ``server.port``, ``http.response.status_code``, ``error.type``), under a
  name of its own so that an httpx instrumentation's ``http.client.request.duration`` is not
  counted twice;
- one ``CLIENT`` span around each of those exchanges, a child of the span of the request that
  caused it (the exchange shared by single flight is recorded once, by the request that led it).

Never recorded: tokens, their claims, the request path (only the route's policy name), request or
response bodies and headers. The application installs an SDK (or an agent) to export; without
one the API's no-op providers make this free.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextvars import Token
from typing import TYPE_CHECKING

from .._extras import missing_extra as _missing_extra

try:
    import opentelemetry.context as otel_context
    import opentelemetry.metrics as otel_metrics
    import opentelemetry.trace as otel_trace
except ModuleNotFoundError as error:  # opentelemetry-api is an extra: say so in one line
    hint = _missing_extra(error, "otel", "stepup_mfa.integrations.opentelemetry")
    if hint is None:
        raise
    raise hint from None

from .._core.errors import ConfigurationError
from .._observe import Call, policy_name

if TYPE_CHECKING:
    from .._core.credentials import RequestView
    from .._core.decision import Decision
    from .._core.policy import Policy
    from .._guard import Guard

__all__ = [
    "CALLS",
    "DECISIONS",
    "DURATION",
    "SCOPE",
    "OpenTelemetryObserver",
    "instrument",
]

#: The instrumentation scope of the meter and the tracer.
SCOPE = "stepup_mfa"
#: Counter of decisions ({decision}).
DECISIONS = "stepup_mfa.decisions"
#: Counter of exchanges with the authorization server ({request}).
CALLS = "stepup_mfa.authorization_server.calls"
#: Histogram of their durations (s), with the attributes of ``http.client.request.duration``.
DURATION = "stepup_mfa.authorization_server.duration"

#: The semantic conventions' advised boundaries for ``http.client.request.duration``.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
#: Attribute sets kept for decisions (policies x status x error codes is small; bounded anyway).
_MAX_CACHED_ATTRIBUTES = 1024

Attributes = Mapping[str, str | int]


def _version() -> str:
    from .. import __version__

    return __version__


class OpenTelemetryObserver:
    """A Guard observer (``Guard(observer=...)``) that records to OpenTelemetry.

    ``meter_provider`` and ``tracer_provider`` default to the global ones (set by the SDK or an
    agent). Prefer :func:`instrument`, which installs one on an existing Guard.
    """

    def __init__(
        self,
        *,
        meter_provider: otel_metrics.MeterProvider | None = None,
        tracer_provider: otel_trace.TracerProvider | None = None,
    ) -> None:
        version = _version()
        meter = otel_metrics.get_meter(SCOPE, version, meter_provider=meter_provider)
        self._tracer = otel_trace.get_tracer(SCOPE, version, tracer_provider=tracer_provider)
        self._decisions = meter.create_counter(
            DECISIONS, unit="{decision}", description="Requests decided, by policy and outcome"
        )
        self._calls = meter.create_counter(
            CALLS,
            unit="{request}",
            description="Requests to the authorization server, by kind and result",
        )
        self._duration = meter.create_histogram(
            DURATION,
            unit="s",
            description="Duration of requests to the authorization server",
            explicit_bucket_boundaries_advisory=_BUCKETS,
        )
        self._decision_attributes: dict[tuple[str, int, str | None], Attributes] = {}

    # -- decisions ------------------------------------------------------------------------------

    def decided(self, request: RequestView, policy: Policy, decision: Decision) -> None:
        """Count ``decision``, reached for ``request`` under ``policy``, in ``stepup_mfa.decisions``
        (the Guard calls this; the request's path is not recorded, only the policy's name)."""
        self.recalled(policy, decision)

    def recalled(self, policy: Policy, decision: Decision) -> None:
        """Count ``decision``, remembered for a token seen before and admitted again under
        ``policy`` on the Guard's hot path, as :meth:`decided` does (so instrumenting a Guard
        keeps that path on)."""
        code = None if decision.error is None else decision.error.code
        key = (policy_name(policy), decision.status, code)
        attributes = self._decision_attributes.get(key)
        if attributes is None:
            attributes = _decision_attributes(*key)
            if len(self._decision_attributes) < _MAX_CACHED_ATTRIBUTES:
                self._decision_attributes[key] = attributes
        self._decisions.add(1, attributes)

    # -- exchanges with the authorization server ------------------------------------------------

    def calling(self, call: Call) -> _Watch:
        """Start the span of ``call``, an exchange going on the wire (the flow drivers call
        this); the returned watch ends it and records the counter and the duration."""
        attributes: dict[str, str | int] = {
            "http.request.method": call.method,
            "server.address": call.server_address,
            "stepup_mfa.call.kind": call.kind,
        }
        if call.server_port is not None:
            attributes["server.port"] = call.server_port
        span = self._tracer.start_span(
            call.method,
            kind=otel_trace.SpanKind.CLIENT,
            attributes={**attributes, "url.full": call.url},
        )
        # The span is current while the request is on the wire, so an HTTP client
        # instrumentation's own span (and the trace context it sends) nests under it.
        token = otel_context.attach(otel_trace.set_span_in_context(span))
        return _Watch(self, span, token, attributes, time.perf_counter())

    def _ended(
        self,
        watch: _Watch,
        result: str,
        status: int | None,
        error_type: str | None,
    ) -> None:
        duration = time.perf_counter() - watch.started
        attributes = dict(watch.attributes)
        span = watch.span
        try:
            if status is not None:
                attributes["http.response.status_code"] = status
                span.set_attribute("http.response.status_code", status)
            if error_type is not None:
                attributes["error.type"] = error_type
                span.set_attribute("error.type", error_type)
                span.set_status(otel_trace.Status(otel_trace.StatusCode.ERROR))
            self._duration.record(duration, attributes)
            attributes["stepup_mfa.call.result"] = result
            self._calls.add(1, attributes)
        finally:
            span.end()
            otel_context.detach(watch.token)


def _decision_attributes(policy: str, status: int, error: str | None) -> Attributes:
    """The attributes of one ``stepup_mfa.decisions`` data point."""
    attributes: dict[str, str | int] = {
        "stepup_mfa.policy": policy,
        "stepup_mfa.outcome": "allowed" if error is None else "refused",
        "stepup_mfa.status": status,
    }
    if error is not None:
        attributes["stepup_mfa.error"] = error
    return attributes


class _Watch:
    """One exchange on the wire: its span, its start, and how it ended."""

    __slots__ = ("attributes", "observer", "span", "started", "token")

    def __init__(
        self,
        observer: OpenTelemetryObserver,
        span: otel_trace.Span,
        token: Token[otel_context.Context],
        attributes: dict[str, str | int],
        started: float,
    ) -> None:
        self.observer = observer
        self.span = span
        self.token = token
        self.attributes = attributes
        self.started = started

    def answered(self, status: int) -> None:
        ok = 200 <= status < 300  # redirects are not followed: a 3xx is a failure here
        self.observer._ended(
            self, "ok" if ok else "http_error", status, None if ok else str(status)
        )

    def failed(self, error_type: str) -> None:
        result = "cancelled" if error_type == "CancelledError" else "transport_error"
        self.observer._ended(self, result, None, error_type)


def instrument(
    guard: Guard,
    *,
    meter_provider: otel_metrics.MeterProvider | None = None,
    tracer_provider: otel_trace.TracerProvider | None = None,
) -> OpenTelemetryObserver:
    """Record ``guard``'s decisions and its exchanges with the authorization server.

    Installs an :class:`OpenTelemetryObserver` as the Guard's observer and returns it; its meter
    and tracer come from ``meter_provider`` and ``tracer_provider`` (default: the global ones,
    which the SDK or an agent sets). A Guard has one observer: instrumenting it twice, or one
    built with ``observer=``, is a :class:`~stepup_mfa.ConfigurationError`.
    """
    if guard.observer is not None:
        raise ConfigurationError("this Guard already has an observer")
    observer = OpenTelemetryObserver(meter_provider=meter_provider, tracer_provider=tracer_provider)
    guard.observer = observer
    return observer
