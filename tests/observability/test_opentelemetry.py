"""OpenTelemetry metrics and traces of a Guard, through real adapters and a real authorization
server on 127.0.0.1, read back with the SDK's in-memory reader and exporter (OBS-4..OBS-9)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest
from obs_kit import (
    DRIVERS,
    READ,
    SENDERS,
    Driver,
    MakeGuard,
    Telemetry,
    TestClient,
)
from opentelemetry.trace import SpanKind, StatusCode
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from stepup_mfa import ConfigurationError, RequestView
from stepup_mfa.asgi import StepUpMiddleware
from stepup_mfa.integrations.opentelemetry import CALLS, DECISIONS, DURATION, instrument
from stepup_mfa.routes import Route as TableRoute
from stepup_mfa.routes import RouteTable
from stepup_mfa.testing import FakeIssuer, FrozenClock
from stepup_mfa.testing.issuer import INTROSPECTION_PATH, JWKS_PATH, METADATA_PATH
from stepup_mfa.testing.server import Reply, wait_until

Key = tuple[tuple[str, Any], ...]
JWKS_DEFAULT_AGE = 600  # the verifier's default when the server sends no Cache-Control


def key(**attributes: Any) -> Key:
    return tuple(sorted(attributes.items()))


def decision(policy: str, status: int, error: str | None = None) -> Key:
    attributes: dict[str, Any] = {
        "stepup_mfa.policy": policy,
        "stepup_mfa.outcome": "allowed" if error is None else "refused",
        "stepup_mfa.status": status,
    }
    if error is not None:
        attributes["stepup_mfa.error"] = error
    return key(**attributes)


def call(
    issuer_url: str,
    kind: str,
    method: str = "GET",
    status: int | None = 200,
    error_type: str | None = None,
    result: str | None = None,
) -> Key:
    """The attributes of one exchange in the histogram (``result`` given: in the counter)."""
    host, _, port = issuer_url.removeprefix("http://").partition(":")
    attributes: dict[str, Any] = {
        "http.request.method": method,
        "server.address": host,
        "server.port": int(port),
        "stepup_mfa.call.kind": kind,
    }
    if status is not None:
        attributes["http.response.status_code"] = status
    if error_type is not None:
        attributes["error.type"] = error_type
    if result is not None:
        attributes["stepup_mfa.call.result"] = result
    return key(**attributes)


def closed_port_url(path: str) -> str:
    """A loopback URL nothing listens on (the port was just free)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


@pytest.mark.parametrize("driver", DRIVERS)
def test_decisions_are_counted_by_policy_outcome_and_error(
    driver: Driver, jwt_guard: MakeGuard, issuer: FakeIssuer, telemetry: Telemetry
) -> None:
    """OBS-4: one data point per (policy, outcome, error), counting every request."""
    guard = jwt_guard()
    instrument(guard, meter_provider=telemetry.meter_provider)
    send = SENDERS[driver](guard)
    reader = issuer.tokens.password_token(scope="reports:read")
    assert send("/", None) == 200
    assert send("/reports", reader) == 200
    assert send("/reports", reader) == 200  # from the verifier's memory: counted all the same
    assert send("/reports", None) == 401
    assert send("/payout", reader) == 401
    assert send("/misc", reader) == 200
    assert telemetry.counts(DECISIONS) == {
        decision("anonymous", 200): 1,
        decision("reports-read", 200): 2,
        decision("reports-read", 401, "missing_credentials"): 1,
        decision("payout-mfa-60s", 401, "insufficient_user_authentication"): 1,
        decision("unnamed", 200): 1,
    }


@pytest.mark.parametrize("driver", DRIVERS)
def test_exchanges_with_the_authorization_server_are_counted_timed_and_traced(
    driver: Driver, jwt_guard: MakeGuard, issuer: FakeIssuer, telemetry: Telemetry
) -> None:
    """OBS-5: metadata then JWKS, once each: counted by kind and result, timed, one span each."""
    guard = jwt_guard()
    instrument(
        guard, meter_provider=telemetry.meter_provider, tracer_provider=telemetry.tracer_provider
    )
    send = SENDERS[driver](guard)
    token = issuer.tokens.password_token(scope="reports:read")
    assert send("/reports", token) == 200
    assert send("/reports", token) == 200  # keys and token known: no new exchange
    url = issuer.issuer
    assert telemetry.counts(CALLS) == {
        call(url, "metadata", result="ok"): 1,
        call(url, "jwks", result="ok"): 1,
    }
    assert telemetry.histogram_counts(DURATION) == {
        call(url, "metadata"): 1,
        call(url, "jwks"): 1,
    }
    assert all(point.sum >= 0 for point in telemetry.points(DURATION))
    spans = telemetry.spans()
    assert [span.name for span in spans] == ["GET", "GET"]
    assert [span.attributes["url.full"] for span in spans if span.attributes] == [
        url + METADATA_PATH,
        url + JWKS_PATH,
    ]
    for span in spans:
        assert span.kind is SpanKind.CLIENT
        assert span.status.status_code is StatusCode.UNSET
        assert span.instrumentation_scope is not None
        assert span.instrumentation_scope.name == "stepup_mfa"
        assert span.attributes is not None
        assert span.attributes["http.response.status_code"] == 200
        assert "error.type" not in span.attributes


def _run(guard_driver: Driver, guard: Any, view: RequestView) -> Any:
    if guard_driver == "sync":
        return guard.check(view, READ)
    return asyncio.run(guard.acheck(view, READ))


@pytest.mark.parametrize("driver", DRIVERS)
def test_the_spans_are_children_of_the_request_that_caused_them(
    driver: Driver, jwt_guard: MakeGuard, issuer: FakeIssuer, telemetry: Telemetry
) -> None:
    """OBS-5: the exchange's span is a child of the span current when the Guard was asked."""
    guard = jwt_guard()
    instrument(
        guard, meter_provider=telemetry.meter_provider, tracer_provider=telemetry.tracer_provider
    )
    token = issuer.tokens.password_token(scope="reports:read")
    view = RequestView("GET", "/reports", ("Bearer " + token,))
    tracer = telemetry.tracer_provider.get_tracer("the-app")
    with tracer.start_as_current_span("GET /reports") as parent:
        assert _run(driver, guard, view).allowed
    children = [span for span in telemetry.spans() if span.name == "GET"]
    assert len(children) == 2
    for child in children:
        assert child.parent is not None
        assert child.parent.span_id == parent.get_span_context().span_id
        assert child.context is not None
        assert child.context.trace_id == parent.get_span_context().trace_id


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_jwks_that_answers_500_is_counted_and_traced_as_a_failure(
    driver: Driver, jwt_guard: MakeGuard, issuer: FakeIssuer, telemetry: Telemetry
) -> None:
    """OBS-6: the JWKS answers 500: http_error with error.type 500, the span in error, a 503."""
    issuer.server.routes[JWKS_PATH] = lambda _request: Reply(500, b"oops")
    guard = jwt_guard()
    instrument(
        guard, meter_provider=telemetry.meter_provider, tracer_provider=telemetry.tracer_provider
    )
    send = SENDERS[driver](guard)
    assert send("/reports", issuer.tokens.password_token(scope="reports:read")) == 503
    url = issuer.issuer
    assert telemetry.counts(CALLS) == {
        call(url, "metadata", result="ok"): 1,
        call(url, "jwks", status=500, error_type="500", result="http_error"): 1,
    }
    assert telemetry.counts(DECISIONS) == {
        decision("reports-read", 503, "temporarily_unavailable"): 1
    }
    failed = [s for s in telemetry.spans() if s.attributes and s.attributes.get("error.type")]
    assert len(failed) == 1
    assert failed[0].status.status_code is StatusCode.ERROR
    assert failed[0].attributes is not None
    assert failed[0].attributes["url.full"] == url + JWKS_PATH


@pytest.mark.parametrize("driver", DRIVERS)
def test_an_unreachable_jwks_is_counted_as_a_transport_error(
    driver: Driver, jwt_guard: MakeGuard, issuer: FakeIssuer, telemetry: Telemetry
) -> None:
    """OBS-6: a refused connection: transport_error with the transport's error.type, a 503."""
    jwks_uri = closed_port_url(JWKS_PATH)
    issuer.metadata["jwks_uri"] = jwks_uri
    guard = jwt_guard()
    instrument(
        guard, meter_provider=telemetry.meter_provider, tracer_provider=telemetry.tracer_provider
    )
    send = SENDERS[driver](guard)
    assert send("/reports", issuer.tokens.password_token(scope="reports:read")) == 503
    counts = telemetry.counts(CALLS)
    assert counts.pop(call(issuer.issuer, "metadata", result="ok")) == 1
    assert counts == {
        call(
            jwks_uri.removesuffix(JWKS_PATH),
            "jwks",
            status=None,
            error_type="ConnectError",
            result="transport_error",
        ): 1
    }
    failed = [s for s in telemetry.spans() if s.status.status_code is StatusCode.ERROR]
    assert len(failed) == 1
    assert failed[0].attributes is not None
    assert failed[0].attributes["error.type"] == "ConnectError"
    assert "http.response.status_code" not in failed[0].attributes


@pytest.mark.parametrize("driver", DRIVERS)
def test_introspection_calls_are_counted_and_never_carry_the_token(
    driver: Driver, introspection_guard: MakeGuard, issuer: FakeIssuer, telemetry: Telemetry
) -> None:
    """OBS-5, R6750-21: metadata, then one POST per new token; the token is in no attribute."""
    guard = introspection_guard()
    instrument(
        guard, meter_provider=telemetry.meter_provider, tracer_provider=telemetry.tracer_provider
    )
    send = SENDERS[driver](guard)
    token = issuer.opaque_token(scope="reports:read")
    assert send("/reports", token) == 200
    assert send("/reports", token) == 200  # the answer is cached
    url = issuer.issuer
    assert telemetry.counts(CALLS) == {
        call(url, "metadata", result="ok"): 1,
        call(url, "introspection", method="POST", result="ok"): 1,
    }
    posted = [span for span in telemetry.spans() if span.name == "POST"]
    assert len(posted) == 1
    assert posted[0].attributes is not None
    assert posted[0].attributes["url.full"] == url + INTROSPECTION_PATH
    for span in telemetry.spans():
        assert span.attributes is not None
        assert not any(token in str(value) for value in span.attributes.values())


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize(
    ("outage", "status", "error_type", "result"),
    [
        ("answers 503", 503, "503", "http_error"),
        ("answers 401", 401, "401", "http_error"),
        ("refuses connections", None, "ConnectError", "transport_error"),
    ],
)
def test_an_introspection_outage_is_counted_by_result(
    driver: Driver,
    outage: str,
    status: int | None,
    error_type: str,
    result: str,
    introspection_guard: MakeGuard,
    issuer: FakeIssuer,
    telemetry: Telemetry,
) -> None:
    """OBS-6: an introspection endpoint that fails is counted as failing; requests get 503."""
    endpoint = issuer.issuer
    if status is not None:
        issuer.server.routes[INTROSPECTION_PATH] = lambda _request: Reply.json({}, status)
    else:
        unreachable = closed_port_url(INTROSPECTION_PATH)
        issuer.metadata["introspection_endpoint"] = unreachable
        endpoint = unreachable.removesuffix(INTROSPECTION_PATH)
    guard = introspection_guard()
    instrument(
        guard, meter_provider=telemetry.meter_provider, tracer_provider=telemetry.tracer_provider
    )
    send = SENDERS[driver](guard)
    assert send("/reports", issuer.opaque_token(scope="reports:read")) == 503, outage
    counts = telemetry.counts(CALLS)
    assert counts.pop(call(issuer.issuer, "metadata", result="ok")) == 1
    failure = call(
        endpoint, "introspection", "POST", status=status, error_type=error_type, result=result
    )
    assert counts == {failure: 1}
    assert telemetry.counts(DECISIONS) == {
        decision("reports-read", 503, "temporarily_unavailable"): 1
    }


def test_both_drivers_report_the_same_exchanges(
    jwt_guard: MakeGuard, issuer: FakeIssuer, telemetry: Telemetry
) -> None:
    """OBS-7: the same requests through Flask (blocking) and Starlette (asyncio), on two Guards,
    give the same counts, the same histogram attribute sets and the same span attributes."""
    token = issuer.tokens.password_token(scope="reports:read")
    seen: dict[Driver, tuple[Any, ...]] = {}
    for driver in DRIVERS:
        telemetry.exporter.clear()
        guard = jwt_guard()
        instrument(
            guard,
            meter_provider=telemetry.meter_provider,
            tracer_provider=telemetry.tracer_provider,
        )
        send = SENDERS[driver](guard)
        assert send("/reports", token) == 200
        assert send("/payout", token) == 401
        seen[driver] = (
            telemetry.counts(CALLS),
            telemetry.counts(DECISIONS),
            telemetry.histogram_counts(DURATION).keys(),
            [(span.name, span.kind, dict(span.attributes or {})) for span in telemetry.spans()],
        )
    # The counters are cumulative: the second run doubled every count of the first.
    sync_calls, sync_decisions, sync_durations, sync_spans = seen["sync"]
    async_calls, async_decisions, async_durations, async_spans = seen["async"]
    assert async_calls == {attributes: 2 * n for attributes, n in sync_calls.items()}
    assert async_decisions == {attributes: 2 * n for attributes, n in sync_decisions.items()}
    assert async_durations == sync_durations
    assert async_spans == sync_spans
    assert len(sync_spans) == 2


def test_an_exchange_shared_by_single_flight_is_counted_once(
    jwt_guard: MakeGuard, issuer: FakeIssuer, telemetry: Telemetry
) -> None:
    """OBS-5, FLIGHT-1: concurrent first requests share the metadata and JWKS exchanges; the
    counters say what the authorization server saw."""
    guard = jwt_guard()
    instrument(
        guard, meter_provider=telemetry.meter_provider, tracer_provider=telemetry.tracer_provider
    )
    issuer.server.delay = 0.2  # long enough for every thread to join the exchange on the wire
    tokens = [issuer.tokens.password_token(scope="reports:read") for _ in range(6)]
    start = threading.Barrier(len(tokens))
    allowed: list[bool] = []

    def request(token: str) -> None:
        start.wait()
        view = RequestView("GET", "/reports", ("Bearer " + token,))
        allowed.append(guard.check(view, READ).allowed)

    threads = [threading.Thread(target=request, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed == [True] * len(tokens)
    url = issuer.issuer
    counts = telemetry.counts(CALLS)
    assert counts == {
        call(url, "metadata", result="ok"): issuer.count(METADATA_PATH),
        call(url, "jwks", result="ok"): issuer.count(JWKS_PATH),
    }
    assert sum(counts.values()) < len(tokens)
    assert len(telemetry.spans()) == sum(counts.values())


def test_a_background_key_refresh_is_counted_and_traced(
    jwt_guard: MakeGuard, issuer: FakeIssuer, clock: FrozenClock, telemetry: Telemetry
) -> None:
    """OBS-5: the refresh the Guard starts ahead of the keys' expiry, on a thread of its own,
    reports its exchange like a request's (a root span: no request waits for it)."""
    guard = jwt_guard(refresh_ahead=30.0)
    instrument(
        guard, meter_provider=telemetry.meter_provider, tracer_provider=telemetry.tracer_provider
    )
    token = issuer.tokens.password_token(scope="reports:read", expires_in=3600)
    view = RequestView("GET", "/reports", ("Bearer " + token,))
    assert guard.check(view, READ).allowed
    clock.advance(JWKS_DEFAULT_AGE - 10)  # inside the refresh-ahead window
    assert guard.check(view, READ).allowed  # answered at once; the refresh runs behind it
    assert wait_until(lambda: len(telemetry.spans()) == 3)
    assert issuer.count(JWKS_PATH) == 2
    assert telemetry.counts(CALLS) == {
        call(issuer.issuer, "metadata", result="ok"): 1,
        call(issuer.issuer, "jwks", result="ok"): 2,
    }
    refresh = telemetry.spans()[-1]
    assert refresh.attributes is not None
    assert refresh.attributes["url.full"] == issuer.jwks_uri
    assert refresh.parent is None


@pytest.mark.parametrize("driver", DRIVERS)
def test_without_an_observer_nothing_is_measured_and_nothing_changes(
    driver: Driver, jwt_guard: MakeGuard, issuer: FakeIssuer, telemetry: Telemetry
) -> None:
    """OBS-8: the same requests on a Guard without an observer and on an instrumented one: the
    same statuses; the plain Guard records nothing and keeps the remembered-verdict hot path."""
    plain, instrumented = jwt_guard(), jwt_guard()
    instrument(
        instrumented,
        meter_provider=telemetry.meter_provider,
        tracer_provider=telemetry.tracer_provider,
    )
    token = issuer.tokens.mfa_token(scope="reports:read")
    requests = [("/", None), ("/reports", token), ("/reports", token), ("/payout", token)]
    requests += [("/reports", None), ("/reports", token + "x")]
    statuses = {}
    for name, guard in (("plain", plain), ("instrumented", instrumented)):
        send = SENDERS[driver](guard)
        statuses[name] = [send(path, value) for path, value in requests]
        if name == "plain":
            assert telemetry.points(DECISIONS) == []
            assert telemetry.points(CALLS) == []
            assert telemetry.spans() == ()
    assert statuses["plain"] == statuses["instrumented"] == [200, 200, 200, 200, 401, 401]
    assert plain.observer is None
    assert sum(telemetry.counts(DECISIONS).values()) == len(requests)  # the other Guard's


def _recall_app(guard: Any) -> TestClient:
    async def endpoint(_request: Request) -> JSONResponse:
        return JSONResponse({})

    app = StepUpMiddleware(
        Starlette(routes=[Route("/reports", endpoint)]),
        guard=guard,
        routes=RouteTable([TableRoute("GET", "/reports", READ)]),
    )
    return TestClient(app)


def test_the_asgi_middleware_reports_every_decision_to_the_observer(
    jwt_guard: MakeGuard, issuer: FakeIssuer, telemetry: Telemetry
) -> None:
    """OBS-4, OBS-8: the raw ASGI middleware, which may answer a token seen before from the
    Guard's remembered verdicts, still reports each decision when an observer is installed."""
    guard = jwt_guard()
    instrument(guard, meter_provider=telemetry.meter_provider)
    client = _recall_app(guard)
    token = issuer.tokens.password_token(scope="reports:read")
    headers = {"Authorization": "Bearer " + token}
    assert [client.get("/reports", headers=headers).status_code for _ in range(3)] == [200] * 3
    assert telemetry.counts(DECISIONS) == {decision("reports-read", 200): 3}


class _Counting:
    """An observer of decisions only; with ``recalls`` it also hears the hot path's."""

    def __init__(self, recalls: bool) -> None:
        self.decided_statuses: list[int] = []
        self.recalled_statuses: list[int] = []
        if recalls:
            self.recalled = lambda _policy, decision: self.recalled_statuses.append(decision.status)

    def decided(self, _request: RequestView, _policy: Any, decision: Any) -> None:
        self.decided_statuses.append(decision.status)

    def calling(self, _call: Any) -> Any:
        return None


def test_obs_10_an_observer_with_recalled_keeps_the_hot_path_and_hears_its_hits(
    jwt_guard: MakeGuard, issuer: FakeIssuer
) -> None:
    """OBS-10, PERF-1: the first request verifies the token and the second finds it in the
    verifier's memory, both judged in full (``decided``; the second's verdict is remembered);
    the two that follow, the same ``Authorization`` line, are answered from that verdict and
    reported to ``recalled``."""
    observer = _Counting(recalls=True)
    guard = jwt_guard(observer=observer)
    client = _recall_app(guard)
    headers = {"Authorization": "Bearer " + issuer.tokens.password_token(scope="reports:read")}
    assert [client.get("/reports", headers=headers).status_code for _ in range(4)] == [200] * 4
    assert observer.decided_statuses == [200, 200]
    assert observer.recalled_statuses == [200, 200]


@pytest.mark.parametrize("hearer", ["observer without recalled", "on_decision hook"])
def test_obs_10_a_hearer_that_needs_the_request_turns_the_hot_path_off(
    jwt_guard: MakeGuard, issuer: FakeIssuer, hearer: str
) -> None:
    """OBS-10: an observer without ``recalled``, or an ``on_decision`` hook, sees every
    decision with its request, the hot path's included."""
    heard: list[int] = []
    if hearer == "on_decision hook":
        guard = jwt_guard(on_decision=lambda _request, _policy, d: heard.append(d.status))
    else:
        observer = _Counting(recalls=False)
        guard = jwt_guard(observer=observer)
        heard = observer.decided_statuses
    client = _recall_app(guard)
    headers = {"Authorization": "Bearer " + issuer.tokens.password_token(scope="reports:read")}
    assert [client.get("/reports", headers=headers).status_code for _ in range(3)] == [200] * 3
    assert heard == [200] * 3
    assert guard.recall(headers["Authorization"], READ) is None


def test_obs_10_the_opentelemetry_observer_counts_the_hot_paths_admissions(
    jwt_guard: MakeGuard, issuer: FakeIssuer, telemetry: Telemetry
) -> None:
    """OBS-10, OBS-4: instrumenting a Guard keeps the hot path on (``recall`` answers) and every
    admission there is counted like the others."""
    guard = jwt_guard()
    instrument(guard, meter_provider=telemetry.meter_provider)
    client = _recall_app(guard)
    headers = {"Authorization": "Bearer " + issuer.tokens.password_token(scope="reports:read")}
    assert [client.get("/reports", headers=headers).status_code for _ in range(3)] == [200] * 3
    assert guard.recall(headers["Authorization"], READ) is not None
    assert telemetry.counts(DECISIONS) == {decision("reports-read", 200): 4}


def test_a_guard_has_one_observer(jwt_guard: MakeGuard, telemetry: Telemetry) -> None:
    """OBS-4: instrumenting a Guard twice is a start-up error, not double counting."""
    guard = jwt_guard()
    instrument(guard, meter_provider=telemetry.meter_provider)
    with pytest.raises(ConfigurationError, match="already has an observer"):
        instrument(guard, meter_provider=telemetry.meter_provider)


def test_on_decision_and_the_observer_both_hear_every_decision(
    jwt_guard: MakeGuard, issuer: FakeIssuer, telemetry: Telemetry
) -> None:
    """OBS-4: an ``on_decision`` hook keeps working next to the observer."""
    heard: list[int] = []
    guard = jwt_guard(on_decision=lambda _request, _policy, decided: heard.append(decided.status))
    instrument(guard, meter_provider=telemetry.meter_provider)
    send = SENDERS["sync"](guard)
    token = issuer.tokens.password_token(scope="reports:read")
    assert [send("/reports", token), send("/reports", None)] == [200, 401]
    assert heard == [200, 401]
    assert sum(telemetry.counts(DECISIONS).values()) == 2


HIDE = """
import sys


class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "opentelemetry":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, Hide())
"""


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", HIDE + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_integration_without_the_otel_extra_is_a_one_line_error() -> None:
    """OBS-9: no opentelemetry-api installed: one line naming the extra, nothing chained."""
    result = _python(
        """
        try:
            import stepup_mfa.integrations.opentelemetry
        except ModuleNotFoundError as error:
            chained = error.__cause__ is not None or not error.__suppress_context__
            print("chained" if chained else "alone", error, sep="|")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "alone|stepup_mfa.integrations.opentelemetry needs the otel extra (opentelemetry is not "
        "installed): pip install 'stepup-mfa[otel]'"
    ]


def test_the_library_works_without_opentelemetry() -> None:
    """OBS-9: the core never imports opentelemetry; a Guard decides without it."""
    result = _python(
        """
        from stepup_mfa import ANONYMOUS, Guard, JWTVerifier, RequestView

        guard = Guard(JWTVerifier("https://idp.example.com", "https://api.example.com"))
        print(guard.check(RequestView("GET", "/"), ANONYMOUS).allowed)
        print(any(name.startswith("opentelemetry") for name in sys.modules))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["True", "False"]
