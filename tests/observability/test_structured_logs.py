"""Structured log records, as a JSON formatter writes them, and never the token (OBS-1..OBS-3,
R6750-21, R7662-13)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from obs_kit import (
    DRIVERS,
    READ,
    SENDERS,
    STANDARD_ATTRIBUTES,
    Driver,
    JSONLines,
    MakeGuard,
)

from stepup_mfa import Guard, JWTVerifier, RequestView
from stepup_mfa._observe import log_fields
from stepup_mfa.adapters.gateway import ForwardAuthGateway
from stepup_mfa.routes import Route, RouteTable
from stepup_mfa.testing import FakeIssuer, FrozenClock
from stepup_mfa.testing.issuer import INTROSPECTION_PATH, JWKS_PATH
from stepup_mfa.testing.server import Reply
from stepup_mfa.testing.tokens import TokenFactory


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """What ``extra=`` added to a record."""
    return {k: v for k, v in record.__dict__.items() if k not in STANDARD_ATTRIBUTES}


def events(logs: JSONLines) -> list[str]:
    return [document["stepup_event"] for document in logs.documents()]


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_refusal_is_one_json_record_that_says_why(
    driver: Driver, jwt_guard: MakeGuard, issuer: FakeIssuer, json_logs: JSONLines
) -> None:
    """OBS-3: method, path, policy, outcome, status, error code and reason, in the message and
    as fields."""
    send = SENDERS[driver](jwt_guard())
    assert send("/payout", issuer.tokens.password_token(scope="reports:read")) == 401
    [document] = json_logs.documents()
    assert document["name"] == "stepup_mfa"
    assert document["levelname"] == "INFO"
    assert document["message"] == (
        "refused GET /payout: policy=payout-mfa-60s status=401 "
        "error=insufficient_user_authentication reason=A different authentication level is required"
    )
    assert {k: v for k, v in document.items() if k.startswith("stepup_")} == {
        "stepup_event": "refused",
        "stepup_method": "GET",
        "stepup_path": "/payout",
        "stepup_policy": "payout-mfa-60s",
        "stepup_outcome": "refused",
        "stepup_status": 401,
        "stepup_error": "insufficient_user_authentication",
        "stepup_reason": "A different authentication level is required",
    }


def test_allowed_requests_are_not_logged(
    jwt_guard: MakeGuard, issuer: FakeIssuer, json_logs: JSONLines
) -> None:
    """OBS-3: only refusals and faults are logged; an allowed request writes no record."""
    send = SENDERS["sync"](jwt_guard())
    token = issuer.tokens.password_token(scope="reports:read")
    assert [send("/", None), send("/reports", token), send("/reports", token)] == [200] * 3
    assert json_logs.records == []


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_jwks_outage_logs_the_issuer_and_the_cause(
    driver: Driver, jwt_guard: MakeGuard, issuer: FakeIssuer, json_logs: JSONLines
) -> None:
    """OBS-1, OBS-3: the JWKS answers 500: a warning naming the issuer and the cause, then the
    503 refusal carrying the same cause."""
    issuer.server.routes[JWKS_PATH] = lambda _request: Reply(500, b"oops")
    send = SENDERS[driver](jwt_guard())
    assert send("/reports", issuer.tokens.password_token(scope="reports:read")) == 503
    jwks, refused = json_logs.documents()
    cause = f"{issuer.jwks_uri} answered 500"
    assert jwks["name"] == "stepup_mfa.jwt"
    assert jwks["levelname"] == "WARNING"
    assert jwks["stepup_event"] == "jwks_unavailable"
    assert jwks["stepup_issuer"] == issuer.issuer
    assert jwks["stepup_cause"] == cause
    assert refused["stepup_event"] == "refused"
    assert refused["stepup_status"] == 503
    assert refused["stepup_error"] == "temporarily_unavailable"
    assert refused["stepup_cause"] == cause
    assert refused["message"].endswith(f"({cause})")


@pytest.mark.parametrize(
    ("fault", "event", "fields"),
    [
        ("503", "introspection_refused", {"stepup_http_status": 503}),
        ("garbage", "introspection_garbled", {"stepup_http_status": 200}),
    ],
)
def test_an_introspection_outage_logs_what_failed(
    fault: str,
    event: str,
    fields: dict[str, Any],
    introspection_guard: MakeGuard,
    issuer: FakeIssuer,
    json_logs: JSONLines,
) -> None:
    """OBS-1, R7662-13: the status or the shape of the answer, never its body."""
    replies = {
        "503": Reply(503, b'{"sub": "leak"}', {"Content-Type": "application/json"}),
        "garbage": Reply(200, b"<html>sub=leak</html>", {"Content-Type": "text/html"}),
    }
    issuer.server.routes[INTROSPECTION_PATH] = lambda _request: replies[fault]
    send = SENDERS["sync"](introspection_guard())
    assert send("/reports", issuer.opaque_token(scope="reports:read")) == 503
    assert events(json_logs) == [event, "refused"]
    document = json_logs.documents()[0]
    assert document["name"] == "stepup_mfa.introspection"
    assert {k: document[k] for k in fields} == fields
    assert "leak" not in "".join(json_logs.lines)


def test_an_unreachable_introspection_endpoint_logs_the_url_and_the_error_type(
    introspection_guard: MakeGuard, issuer: FakeIssuer, json_logs: JSONLines
) -> None:
    """OBS-1: the endpoint and the transport's error type (ConnectError)."""
    issuer.metadata["introspection_endpoint"] = "http://127.0.0.1:9" + INTROSPECTION_PATH
    send = SENDERS["async"](introspection_guard())
    assert send("/reports", issuer.opaque_token(scope="reports:read")) == 503
    unreachable = json_logs.documents()[0]
    assert unreachable["stepup_event"] == "introspection_unreachable"
    assert unreachable["stepup_url"] == "http://127.0.0.1:9" + INTROSPECTION_PATH
    assert unreachable["stepup_error_type"] == "ConnectError"


def test_every_record_has_an_event_and_only_stepup_fields(
    jwt_guard: MakeGuard,
    introspection_guard: MakeGuard,
    issuer: FakeIssuer,
    json_logs: JSONLines,
) -> None:
    """OBS-1: across refusals and outages of both verifiers, every record the library writes
    has ``stepup_event`` and every field it adds is ``stepup_``-prefixed."""
    jwt = SENDERS["sync"](jwt_guard())
    opaque = SENDERS["async"](introspection_guard())
    token = issuer.tokens.password_token(scope="reports:read")
    jwt("/payout", token)
    jwt("/reports", None)
    jwt("/reports", token[:-3] + "abc")
    jwt("\r\n/forged", token)
    opaque("/reports", issuer.opaque_token(active=False))
    issuer.server.fault = "500"
    SENDERS["sync"](jwt_guard())("/reports", token)  # a fresh verifier meets the outage
    opaque("/reports", issuer.opaque_token(scope="reports:read"))
    assert len(json_logs.records) >= 8
    for record in json_logs.records:
        added = extras(record)
        assert "stepup_event" in added, record.getMessage()
        assert all(name.startswith("stepup_") for name in added), added
        assert "\n" not in record.getMessage() and "\r" not in record.getMessage()


def test_the_gateway_logs_structured_fields_and_never_its_secret(
    jwt_guard: MakeGuard, issuer: FakeIssuer, json_logs: JSONLines
) -> None:
    """OBS-1, OBS-2: the forward-auth gateway's warnings (no shared secret, no original request)
    and its refusals carry stepup_ fields; the secret and the token are in no record."""
    secret = "gateway-secret-5b2f0c"
    gateway = ForwardAuthGateway(
        guard=jwt_guard(),
        routes=RouteTable([Route("GET", "/reports", READ)]),
        protocol="nginx",
        shared_secret=secret,
    )
    token = issuer.tokens.password_token(scope="other")
    original = [("X-Original-Method", "GET"), ("X-Original-URI", "/reports")]
    attempts: list[list[tuple[str, str]]] = [
        [*original, ("X-Stepup-Gateway-Secret", secret[:-1])],
        [("X-Stepup-Gateway-Secret", secret)],
        [*original, ("X-Stepup-Gateway-Secret", secret), ("Authorization", "Bearer " + token)],
    ]

    async def ask() -> list[int]:
        transport = httpx.ASGITransport(gateway)
        async with httpx.AsyncClient(transport=transport, base_url="http://g") as client:
            return [(await client.get("/", headers=headers)).status_code for headers in attempts]

    assert asyncio.run(ask()) == [403, 400, 403]
    documents = json_logs.documents()
    assert [d["stepup_event"] for d in documents] == [
        "gateway_untrusted",
        "gateway_not_forwarded",
        "refused",
    ]
    assert documents[0]["stepup_protocol"] == documents[1]["stepup_protocol"] == "nginx"
    assert documents[2]["stepup_error"] == "insufficient_scope"
    assert documents[2]["stepup_path"] == "/reports"
    _assert_not_logged(json_logs, [secret, secret[:-1], token, _signature(token)])


def test_log_fields_escape_client_text_and_skip_what_is_not_given() -> None:
    """OBS-1: one helper; text from the client cannot forge a line."""
    assert log_fields("refused", method="G\r\nET", path="/a\x00b", status=401) == {
        "stepup_event": "refused",
        "stepup_method": "G\\r\\nET",
        "stepup_path": "/a\\x00b",
        "stepup_status": 401,
    }


# -- never the token ------------------------------------------------------------------------------


def _signature(token: str) -> str:
    return token.rsplit(".", 1)[-1]


def _assert_not_logged(logs: JSONLines, secrets: list[str]) -> None:
    """No formatted line, message or record attribute holds any of ``secrets``."""
    text = "\n".join(logs.lines)
    for record in logs.records:
        text += "\n" + record.getMessage() + "\n" + repr(record.__dict__)
    for secret in secrets:
        assert secret not in text


def _token_table(tokens: TokenFactory, issuer: FakeIssuer) -> dict[str, str]:
    valid = tokens.password_token(scope="reports:read")
    return {
        "valid, insufficient": tokens.password_token(scope="reports:read"),
        "expired": tokens.password_token(scope="reports:read", expires_in=-3600),
        "forged signature": valid[:-6] + ("AAAAAA" if not valid.endswith("AAAAAA") else "BBBBBB"),
        "wrong audience": tokens.password_token(audience="https://other.example.com"),
        "wrong issuer": tokens.password_token(issuer="https://evil.example.com"),
        "unknown kid": tokens.password_token(header={"kid": "no-such-kid"}),
        "not a JWT": "abc.def.ghi",
        "opaque, for the JWT verifier": issuer.opaque_token(scope="reports:read"),
    }


@pytest.mark.parametrize("driver", DRIVERS)
def test_no_record_ever_holds_a_jwt_or_its_signature(
    driver: Driver, jwt_guard: MakeGuard, issuer: FakeIssuer, json_logs: JSONLines
) -> None:
    """OBS-2, R6750-21: a table of good, bad and hostile tokens, sent to every route, once with
    the issuer up and once with its JWKS down: the token is in no line and no attribute."""
    table = _token_table(issuer.tokens, issuer)
    secrets = [*table.values(), *(_signature(t) for t in table.values() if "." in t)]
    send = SENDERS[driver](jwt_guard())
    for token in table.values():
        for path in ("/reports", "/payout", "/misc"):
            send(path, token)
    issuer.server.fault = "500"
    send = SENDERS[driver](jwt_guard())
    for token in table.values():
        send("/reports", token)
    assert len(json_logs.records) >= 2 * len(table)
    _assert_not_logged(json_logs, secrets)


@pytest.mark.parametrize("driver", DRIVERS)
def test_no_record_ever_holds_an_opaque_token_or_the_answer(
    driver: Driver, introspection_guard: MakeGuard, issuer: FakeIssuer, json_logs: JSONLines
) -> None:
    """OBS-2, R6750-21, R7662-13: opaque tokens (active, inactive, unknown, insufficient) and
    outages of the endpoint: neither the token nor the answer's subject is logged."""
    subject = "person-7c1f9a@example.com"
    tokens = [
        issuer.opaque_token(scope="reports:read", subject=subject),
        issuer.opaque_token(active=False),
        issuer.opaque_token(scope="other", subject=subject),
        "unknown-opaque-token-0123456789abcdef",
    ]
    send = SENDERS[driver](introspection_guard())
    for token in tokens:
        send("/payout", token)
        send("/reports", token)
    issuer.server.fault = "500"
    send = SENDERS[driver](introspection_guard())
    for token in tokens:
        send("/reports", token)
    assert len(json_logs.records) >= len(tokens)
    _assert_not_logged(json_logs, [*tokens, subject, *issuer.introspection_client])


#: What a client might send as a token: b64token characters, dots, and a little of anything else.
HOSTILE = st.text(
    alphabet=st.sampled_from(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=" + "é\t%"
    ),
    min_size=16,
    max_size=300,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(token=HOSTILE, drop=st.booleans())
def test_random_tokens_never_reach_the_log(token: str, drop: bool) -> None:
    """OBS-2, R6750-21: whatever the Bearer value, no record holds it (no network: the issuer's
    address is closed, so a well-formed token meets an outage, which is logged too)."""
    guard = Guard(
        JWTVerifier("http://127.0.0.1:9", "https://api.example.com", allow_insecure_http=True),
        clock=FrozenClock(1_800_000_000),
        refresh_ahead=None,
    )
    logs = JSONLines()
    logger = logging.getLogger("stepup_mfa")
    level = logger.level
    logger.addHandler(logs)
    logger.setLevel(logging.DEBUG)
    try:
        value = token if drop else token + "." + token[::-1]
        decision = guard.check(RequestView("GET", "/reports", ("Bearer " + value,)), READ)
    finally:
        logger.removeHandler(logs)
        logger.setLevel(level)
        guard.close()
    assert not decision.allowed
    assert logs.records  # the refusal, at least
    _assert_not_logged(logs, [value, token])
