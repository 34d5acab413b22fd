"""RFC 7662 introspection against a real endpoint on 127.0.0.1: checklist section 4, R9470-9, I1-I5.

Time is the frozen ``NOW`` (plus offsets); nothing here sleeps past a TTL.
"""

from __future__ import annotations

import json
import logging
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from introspection_fixtures import (
    AUDIENCE,
    CLIENT_ID,
    CLIENT_SECRET,
    ISSUER,
    NOW,
    IntrospectionStub,
    TLSIntrospectionServer,
    active,
    check,
    self_signed_localhost,
    verifier_for,
)

from stepup_mfa._core.decision import Decision, check_binding, evaluate
from stepup_mfa._core.errors import InvalidToken, VerifierUnavailable
from stepup_mfa._core.policy import Policy
from stepup_mfa._verify.cache import MemoryStore, token_key
from stepup_mfa._verify.flow import HttpResponse, run_sync
from stepup_mfa._verify.introspection import (
    CachedAnswer,
    ClientSecretBasic,
    IntrospectionVerifier,
)
from stepup_mfa._verify.transports import HttpxTransport
from stepup_mfa.testing.server import Reply

TOKEN = "opaque-token-1"


# -- R7662-1: the request --------------------------------------------------------------------------


def test_R7662_1_post_form_encoded_token_and_hint_never_in_url(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    token = "abc+/def~.-_=="
    stub.answers[token] = active()
    check(verifier_for(stub), token, NOW, transport)

    (request,) = stub.requests
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.query == ""
    assert token not in request.path
    assert parse_qsl(request.body.decode("ascii")) == [
        ("token", token),
        ("token_type_hint", "access_token"),
    ]
    # Form-encoded for real: '+' and '/' are escaped, so the stub reads the token back intact.
    assert request.body.startswith(b"token=abc%2B%2Fdef~.-_%3D%3D&token_type_hint=access_token")


# -- R7662-2: the resource server authenticates (methods: see test_introspection_config) ----


def test_R7662_2_stub_sees_basic_credentials(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    stub.answers[TOKEN] = active()
    check(verifier_for(stub), TOKEN, NOW, transport)
    assert stub.requests[0].headers["authorization"].startswith("Basic ")
    assert stub.auth_failures == []


# -- R7662-3 / I2: failures of the endpoint are 503, never the client's fault ----------------------


def _refused_by_endpoint(stub: IntrospectionStub, transport: HttpxTransport) -> VerifierUnavailable:
    verifier = verifier_for(stub, timeout=0.5)
    with pytest.raises(VerifierUnavailable) as caught:
        check(verifier, TOKEN, NOW, transport)
    assert not isinstance(caught.value, InvalidToken)
    assert caught.value.status == 503
    assert caught.value.code != "invalid_token"
    return caught.value


@pytest.mark.parametrize("fault", ["500", "hang", "close", "garbage"])
def test_R7662_3_I2_endpoint_fault_is_503(
    stub: IntrospectionStub, transport: HttpxTransport, fault: Any
) -> None:
    stub.answers[TOKEN] = active()
    stub.server.fault = fault
    _refused_by_endpoint(stub, transport)


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply.json({"error": "invalid_client"}, status=401), id="401-invalid_client"),
        pytest.param(Reply.json(active(), status=403), id="403"),
        pytest.param(Reply.json(active(), status=201), id="201"),
        pytest.param(Reply(302, b"", {"Location": "https://evil.example/"}), id="redirect"),
        pytest.param(Reply(200, b"<html>hi</html>", {"Content-Type": "text/html"}), id="html"),
        pytest.param(Reply(200, b"x" * (10 << 20)), id="10MB-body"),
        pytest.param(Reply(200, b""), id="empty-body"),
        pytest.param(Reply.json([active()]), id="json-array"),
        pytest.param(Reply.json("active"), id="json-string"),
        pytest.param(Reply(200, b'{"active": true, "exp": NaN}'), id="NaN"),
        pytest.param(Reply(200, b'{"active": false, "active": true}'), id="duplicate-members"),
        pytest.param(Reply(200, b'{"active": true, "sub": "\xff"}'), id="bad-utf8"),
        pytest.param(Reply(200, b"[" * 100_000 + b"]" * 100_000), id="deep-nesting"),
        pytest.param(Reply(200, b'{"active": true, "exp": 1' + b"0" * 5000 + b"}"), id="huge-int"),
    ],
)
def test_R7662_3_I2_unusable_answer_is_503(
    stub: IntrospectionStub, transport: HttpxTransport, reply: Reply
) -> None:
    stub.answers[TOKEN] = reply
    _refused_by_endpoint(stub, transport)


def test_R7662_3_refused_client_credentials_are_503_not_invalid_token(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    """A 401 from the endpoint means *our* credentials are wrong; the client is not blamed."""
    stub.answers[TOKEN] = active()
    stub.client_secret = "rotated"
    _refused_by_endpoint(stub, transport)
    assert stub.auth_failures == ["wrong basic credentials"]


def test_R7662_3_retry_after_hint_defaults_and_follows_the_server(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    stub.server.fault = "500"
    assert _refused_by_endpoint(stub, transport).retry_after == 5
    stub.server.fault = None
    stub.answers[TOKEN] = Reply(503, b"busy", {"Retry-After": "30"})
    assert _refused_by_endpoint(stub, transport).retry_after == 30
    stub.answers[TOKEN] = Reply(503, b"busy", {"Retry-After": "999999"})
    assert _refused_by_endpoint(stub, transport).retry_after == 300


@pytest.mark.parametrize("fault", ["500", "garbage", "close"])
def test_R7662_3_fault_never_populates_the_cache(
    stub: IntrospectionStub, transport: HttpxTransport, fault: Any
) -> None:
    verifier = verifier_for(stub)
    stub.answers[TOKEN] = active()
    stub.server.fault = fault
    with pytest.raises(VerifierUnavailable):
        check(verifier, TOKEN, NOW, transport)
    assert verifier.cached(TOKEN, NOW) is None
    stub.server.fault = None
    assert check(verifier, TOKEN, NOW + 1, transport).subject == "u1"
    assert stub.calls == 2


def test_R7662_12_untrusted_certificate_is_503(tmp_path: Path) -> None:
    files = self_signed_localhost(tmp_path)
    with TLSIntrospectionServer(files, active()) as server:
        verifier = IntrospectionVerifier(
            server.endpoint, client_auth=_basic(), issuer=ISSUER, audience=AUDIENCE
        )
        untrusting = HttpxTransport()
        trusting = HttpxTransport(
            httpx.Client(verify=ssl.create_default_context(cafile=files.cert))
        )
        try:
            with pytest.raises(VerifierUnavailable):
                run_sync(verifier.verify(TOKEN, NOW), untrusting)
            # The same server is fine once its certificate is trusted: TLS was the only fault.
            assert run_sync(verifier.verify(TOKEN, NOW), trusting).subject == "u1"
        finally:
            untrusting.close()
            trusting.close()


def _basic() -> ClientSecretBasic:
    return ClientSecretBasic(CLIENT_ID, CLIENT_SECRET)


# -- R7662-4 / I1, R7662-5, R7662-6: only a literal true is active ---------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"active": "true"}, id="string-true"),
        pytest.param({"active": 1}, id="one"),
        pytest.param({"active": None}, id="null"),
        pytest.param({}, id="missing"),
        pytest.param({"active": [True]}, id="array"),
        pytest.param({"active": {"value": True}}, id="object"),
        pytest.param({"active": "yes", "sub": "u1"}, id="yes"),
        pytest.param({"active": False}, id="false"),
    ],
)
def test_R7662_4_I1_active_must_be_literally_true(
    stub: IntrospectionStub, transport: HttpxTransport, answer: dict[str, Any]
) -> None:
    stub.answers[TOKEN] = {k: v for k, v in active().items() if k != "active"} | answer
    with pytest.raises(InvalidToken) as caught:
        check(verifier_for(stub), TOKEN, NOW, transport)
    assert caught.value.status == 401
    assert caught.value.description == "The access token is not active"


def test_R7662_4_literal_true_is_active(stub: IntrospectionStub, transport: HttpxTransport) -> None:
    stub.answers[TOKEN] = active()
    principal = check(verifier_for(stub), TOKEN, NOW, transport)
    assert principal.subject == "u1"
    assert principal.kind == "introspection"


def test_R7662_5_inactive_is_invalid_token(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    stub.answers[TOKEN] = {"active": False}
    with pytest.raises(InvalidToken) as caught:
        check(verifier_for(stub), TOKEN, NOW, transport)
    assert (caught.value.code, caught.value.status) == ("invalid_token", 401)
    assert caught.value.description == "The access token is not active"
    assert dict(caught.value.params) == {}


def test_R7662_5_unknown_token_is_invalid_token(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    with pytest.raises(InvalidToken, match="not active"):
        check(verifier_for(stub), "never-issued", NOW, transport)


def test_R7662_6_reason_for_inactivity_is_not_passed_on(
    stub: IntrospectionStub, transport: HttpxTransport, caplog: pytest.LogCaptureFixture
) -> None:
    stub.answers[TOKEN] = {"active": False, "reason": "revoked", "error": "token_revoked"}
    caplog.set_level(logging.DEBUG)
    with pytest.raises(InvalidToken) as caught:
        check(verifier_for(stub), TOKEN, NOW, transport)
    shown = " ".join([str(caught.value), caught.value.description, repr(caught.value.params)])
    for detail in ("revoked", "token_revoked"):
        assert detail not in shown
        assert detail not in caplog.text


# -- R7662-7 / I3: even an active answer must fit this resource server -----------------------------


@pytest.mark.parametrize(
    ("members", "description"),
    [
        pytest.param(
            {"aud": "https://other.example.com"},
            "The access token is not intended for this resource",
            id="aud-other",
        ),
        pytest.param(
            {"aud": ["https://a.example", "https://b.example"]},
            "The access token is not intended for this resource",
            id="aud-list-without-us",
        ),
        pytest.param({"exp": NOW - 10}, "The access token expired", id="exp-past"),
        pytest.param({"exp": NOW}, "The access token expired", id="exp-now"),
        pytest.param(
            {"iss": "https://evil.example"},
            "The access token was issued by an untrusted issuer",
            id="iss-evil",
        ),
        pytest.param(
            {"iss": ISSUER + "/"},
            "The access token was issued by an untrusted issuer",
            id="iss-trailing-slash",
        ),
        pytest.param({"nbf": NOW + 61}, "The access token is not valid yet", id="nbf-future"),
        pytest.param(
            {"auth_time": NOW + 61},
            "The access token has an authentication time in the future",
            id="auth_time-future",
        ),
    ],
)
def test_R7662_7_I3_active_but_wrong_context_is_invalid_token(
    stub: IntrospectionStub,
    transport: HttpxTransport,
    members: dict[str, Any],
    description: str,
) -> None:
    stub.answers[TOKEN] = active(**members)
    with pytest.raises(InvalidToken) as caught:
        check(verifier_for(stub), TOKEN, NOW, transport)
    assert caught.value.description == description


@pytest.mark.parametrize(
    "members",
    [
        pytest.param({"aud": [AUDIENCE, "https://b.example"]}, id="aud-list-with-us"),
        pytest.param({"aud": None}, id="aud-absent"),
        pytest.param({"iss": None}, id="iss-absent"),
        pytest.param({"exp": None}, id="exp-absent"),
        pytest.param({"nbf": NOW + 60}, id="nbf-within-leeway"),
        pytest.param({"exp": NOW + 1}, id="exp-in-one-second"),
    ],
)
def test_R7662_7_fitting_answers_pass(
    stub: IntrospectionStub, transport: HttpxTransport, members: dict[str, Any]
) -> None:
    stub.answers[TOKEN] = {k: v for k, v in active(**members).items() if v is not None}
    assert check(verifier_for(stub), TOKEN, NOW, transport).subject == "u1"


@pytest.mark.parametrize(
    "members",
    [
        pytest.param({"exp": str(NOW + 300)}, id="exp-string"),
        pytest.param({"exp": True}, id="exp-bool"),
        pytest.param({"auth_time": "recent"}, id="auth_time-string"),
        pytest.param({"aud": 7}, id="aud-number"),
        pytest.param({"aud": [AUDIENCE, 7]}, id="aud-array-with-number"),
        pytest.param({"sub": 42}, id="sub-number"),
        pytest.param({"iss": ["https://as.example.com"]}, id="iss-array"),
        pytest.param({"cnf": "jkt"}, id="cnf-string"),
    ],
)
def test_R7662_7_claim_types_are_checked_like_jwt_claims(
    stub: IntrospectionStub, transport: HttpxTransport, members: dict[str, Any]
) -> None:
    stub.answers[TOKEN] = active(**members)
    with pytest.raises(InvalidToken, match="Malformed access token"):
        check(verifier_for(stub), TOKEN, NOW, transport)


def test_R7662_7_scope_is_read_as_space_separated_string(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    stub.answers[TOKEN] = active(scope="cats:read  dogs:read")
    principal = check(verifier_for(stub), TOKEN, NOW, transport)
    assert principal.scopes == frozenset({"cats:read", "dogs:read"})


# -- R7662-8 .. R7662-11, I4: caching --------------------------------------------------------------


def test_R7662_8_same_token_within_ttl_is_one_call(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    stub.answers[TOKEN] = active()
    verifier = verifier_for(stub)
    first = check(verifier, TOKEN, NOW, transport)
    second = check(verifier, TOKEN, NOW + 59, transport)
    assert first == second
    assert stub.calls == 1


def test_R7662_8_ttl_over_means_a_new_call(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    stub.answers[TOKEN] = active(exp=NOW + 3600)
    verifier = verifier_for(stub, cache_ttl=60)
    check(verifier, TOKEN, NOW, transport)
    assert verifier.cached(TOKEN, NOW + 60) is None
    check(verifier, TOKEN, NOW + 60, transport)
    assert stub.calls == 2


def test_R7662_8_revocation_is_seen_once_the_ttl_is_over(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    stub.answers[TOKEN] = active(exp=NOW + 3600)
    verifier = verifier_for(stub, cache_ttl=30)
    check(verifier, TOKEN, NOW, transport)
    stub.answers[TOKEN] = {"active": False}
    assert check(verifier, TOKEN, NOW + 29, transport).subject == "u1"
    with pytest.raises(InvalidToken, match="not active"):
        check(verifier, TOKEN, NOW + 30, transport)


@pytest.mark.parametrize("later", [10, 11, 40])
def test_R7662_9_I4_cached_answer_never_used_past_its_exp(
    stub: IntrospectionStub, transport: HttpxTransport, later: int
) -> None:
    """exp=now+10 with TTL 300: from now+10 on the token is refused, without a call."""
    stub.answers[TOKEN] = active(exp=NOW + 10)
    verifier = verifier_for(stub, cache_ttl=300)
    check(verifier, TOKEN, NOW, transport)
    with pytest.raises(InvalidToken, match="expired"):
        check(verifier, TOKEN, NOW + later, transport)
    # Within the brief negative window the refusal comes from memory; after it, the endpoint
    # is asked again (and must confirm: a stale cache never says yes).
    assert stub.calls == (1 if later < 10 + 10 else 2)


def test_R7662_9_expired_token_rejected_from_cache_without_a_call(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    stub.answers[TOKEN] = active(exp=NOW + 10)
    verifier = verifier_for(stub)
    check(verifier, TOKEN, NOW, transport)
    with pytest.raises(InvalidToken, match="expired"):
        verifier.cached(TOKEN, NOW + 11)
    assert stub.calls == 1


@pytest.mark.parametrize("cache_ttl", [0, 0.0])
def test_R7662_10_ttl_zero_introspects_every_request(
    stub: IntrospectionStub, transport: HttpxTransport, cache_ttl: float
) -> None:
    stub.answers[TOKEN] = active()
    verifier = verifier_for(stub, cache_ttl=cache_ttl)
    for second in range(3):
        check(verifier, TOKEN, NOW + second, transport)
    assert stub.calls == 3


def test_R7662_10_route_max_cache_age_zero_introspects_every_request(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    stub.answers[TOKEN] = active()
    verifier = verifier_for(stub)
    check(verifier, TOKEN, NOW, transport)
    for _ in range(3):
        check(verifier, TOKEN, NOW, transport, max_cache_age=0)
    check(verifier, TOKEN, NOW, transport)  # an ordinary route still uses the cache
    assert stub.calls == 4


def test_R7662_10_route_max_cache_age_refuses_older_answers(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    stub.answers[TOKEN] = active()
    verifier = verifier_for(stub)
    check(verifier, TOKEN, NOW, transport)
    assert verifier.cached(TOKEN, NOW + 4, max_cache_age=5) is not None
    assert verifier.cached(TOKEN, NOW + 5, max_cache_age=5) is None
    assert verifier.cached(TOKEN, NOW + 5) is not None


def test_R7662_11_cache_keys_are_sha256_never_the_token(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    store: MemoryStore[CachedAnswer] = MemoryStore()
    stub.answers[TOKEN] = active()
    stub.answers["junk-token"] = {"active": False}
    verifier = verifier_for(stub, store=store)
    check(verifier, TOKEN, NOW, transport)
    with pytest.raises(InvalidToken):
        check(verifier, "junk-token", NOW, transport)
    assert sorted(store.keys()) == sorted(
        [token_key(TOKEN, verifier.namespace), token_key("junk-token", verifier.namespace)]
    )
    for key in store.keys():
        assert len(key) == 64 and int(key, 16) >= 0
        assert TOKEN not in repr(store.get(key, NOW)) and "junk-token" not in key


def test_inactive_answer_is_cached_briefly(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    verifier = verifier_for(stub, inactive_ttl=10)
    for second in (0, 9):
        with pytest.raises(InvalidToken, match="not active"):
            check(verifier, "junk", NOW + second, transport)
    assert stub.calls == 1
    with pytest.raises(InvalidToken, match="not active"):
        verifier.cached("junk", NOW + 5)  # a refusal straight from memory
    with pytest.raises(InvalidToken, match="not active"):
        check(verifier, "junk", NOW + 10, transport)
    assert stub.calls == 2


def test_wrong_audience_refusal_is_cached_briefly_too(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    stub.answers[TOKEN] = active(aud="https://other.example.com")
    verifier = verifier_for(stub)
    for second in (0, 5):
        with pytest.raises(InvalidToken, match="not intended for this resource"):
            check(verifier, TOKEN, NOW + second, transport)
    assert stub.calls == 1


def test_malformed_claim_answer_is_not_cached(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    stub.answers[TOKEN] = active(exp="soon")
    verifier = verifier_for(stub)
    with pytest.raises(InvalidToken):
        check(verifier, TOKEN, NOW, transport)
    assert verifier.cached(TOKEN, NOW) is None


def test_nbf_is_rejudged_on_every_request_while_cached(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    stub.answers[TOKEN] = active(nbf=NOW + 100)
    verifier = verifier_for(stub, leeway=0, cache_ttl=300)
    with pytest.raises(InvalidToken, match="not valid yet"):
        check(verifier, TOKEN, NOW, transport)
    with pytest.raises(InvalidToken, match="not valid yet"):
        verifier.cached(TOKEN, NOW + 50)
    assert verifier.cached(TOKEN, NOW + 100) is not None
    assert stub.calls == 1


# -- R9470-9, R7662-14 / I5: what reaches the Principal --------------------------------------------


def test_R9470_9_acr_and_auth_time_come_from_the_top_level_members(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    stub.answers[TOKEN] = {
        "active": True,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "u1",
        "scope": "cats:read",
        "exp": NOW + 300,
        "auth_time": NOW - 120,
        "acr": "urn:example:acr:mfa",
        "amr": ["pwd", "otp"],
    }
    principal = check(verifier_for(stub), TOKEN, NOW, transport)
    assert principal.auth_time == NOW - 120
    assert principal.acr == "urn:example:acr:mfa"
    assert principal.amr == ("pwd", "otp")
    assert principal.scopes == frozenset({"cats:read"})


def test_R9470_9_mfa_window_is_not_refreshed_by_the_cache(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    """The cached principal keeps the original auth_time, so the core sees it age (R9470-10)."""
    stub.answers[TOKEN] = active(auth_time=NOW - 30, exp=NOW + 3600)
    verifier = verifier_for(stub, cache_ttl=300)
    check(verifier, TOKEN, NOW, transport)
    later = verifier.cached(TOKEN, NOW + 31)
    assert later is not None and later.auth_time == NOW - 30
    assert (NOW + 31) - later.auth_time > 60
    assert stub.calls == 1


def test_R7662_14_I5_binding_members_reach_the_principal(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    """The verifier hands ``cnf`` and ``token_type`` to the core, which enforces the binding."""
    stub.answers[TOKEN] = active(
        token_type="DPoP", cnf={"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}
    )
    principal = check(verifier_for(stub), TOKEN, NOW, transport)
    assert principal.token_type == "DPoP"
    assert principal.cnf == {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}
    stub.answers["mtls"] = active(cnf={"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"})
    assert check(verifier_for(stub), "mtls", NOW, transport).cnf == {
        "x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"
    }


def test_R7662_13_personal_data_stays_out_of_logs(
    stub: IntrospectionStub, transport: HttpxTransport, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_sub = "alice-personal-subject"
    stub.answers[TOKEN] = active(sub=secret_sub, username="alice@example.com", aud="https://x")
    stub.answers["t2"] = Reply.json({"error": "x", "sub": secret_sub}, status=400)
    verifier = verifier_for(stub)
    for token in (TOKEN, "t2"):
        with pytest.raises((InvalidToken, VerifierUnavailable)):
            check(verifier, token, NOW, transport)
    assert caplog.records  # the 400 was logged...
    for value in (secret_sub, "alice@example.com", TOKEN, "t2"):
        assert value not in caplog.text  # ...without personal data or tokens


# -- Input a verifier must refuse before any call --------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param("has space", id="space"),
        pytest.param("tök", id="non-ascii"),
        pytest.param("a\x00b", id="nul"),
        pytest.param("=abc", id="leading-padding"),
        pytest.param("a" * (16 * 1024 + 1), id="too-long"),
        pytest.param("token&token=other", id="form-injection"),
    ],
)
def test_malformed_token_is_refused_without_a_call(
    stub: IntrospectionStub, transport: HttpxTransport, token: str
) -> None:
    verifier = verifier_for(stub)
    with pytest.raises(InvalidToken, match="Malformed access token"):
        check(verifier, token, NOW, transport)
    assert stub.calls == 0


# -- Sans-I/O: the flow itself, without a network --------------------------------------------------


def test_flow_yields_one_request_with_a_per_token_flight_key() -> None:
    verifier = IntrospectionVerifier(
        "https://as.example.com/introspect", client_auth=_basic(), issuer=ISSUER
    )
    flow = verifier.verify(TOKEN, NOW)
    request = next(flow)
    assert (request.method, request.url) == ("POST", "https://as.example.com/introspect")
    assert request.flight_key is not None
    assert request.flight_key.startswith("introspect:" + token_key(TOKEN))
    assert TOKEN not in request.flight_key
    other = next(verifier.verify("another-token", NOW))
    assert other.flight_key != request.flight_key
    with pytest.raises(StopIteration) as done:
        flow.send(HttpResponse(200, {}, json.dumps(active()).encode()))
    assert done.value.value.subject == "u1"


def test_flow_scopes_single_flight_to_the_endpoint_and_client() -> None:
    """Two verifiers for different servers must never share one answer."""
    first = IntrospectionVerifier("https://a.example/introspect", client_auth=_basic())
    second = IntrospectionVerifier("https://b.example/introspect", client_auth=_basic())
    assert next(first.verify(TOKEN, NOW)).flight_key != next(second.verify(TOKEN, NOW)).flight_key


# -- With the core policy: the MFA window on an introspected token (R9470-9, R9470-10, I5) ---------

MFA_60S = Policy(scopes="cats:read", acr_values="urn:example:acr:mfa", max_age=60)


def _www_authenticate(decision: Decision) -> str:
    header = decision.www_authenticate
    assert header is not None
    return header


def test_R9470_9_stale_auth_time_from_introspection_gets_a_step_up_challenge(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    """The checklist's exact answer: auth_time=now-120 on a 60 s route -> 401 with max_age."""
    stub.answers[TOKEN] = {
        "active": True,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "u1",
        "scope": "cats:read",
        "exp": NOW + 300,
        "auth_time": NOW - 120,
        "acr": "urn:example:acr:mfa",
    }
    decision = evaluate(check(verifier_for(stub), TOKEN, NOW, transport), MFA_60S, NOW)
    assert (decision.allowed, decision.status) == (False, 401)
    header = _www_authenticate(decision)
    assert 'error="insufficient_user_authentication"' in header
    assert 'max_age="60"' in header


def test_R9470_10_mfa_window_closes_while_the_answer_is_still_cached(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    """Fresh -> allowed; after max_age -> step-up, from the same cached answer (one call)."""
    stub.answers[TOKEN] = active(auth_time=NOW - 30, exp=NOW + 3600)
    verifier = verifier_for(stub, cache_ttl=300)
    assert evaluate(check(verifier, TOKEN, NOW, transport), MFA_60S, NOW).allowed
    assert evaluate(check(verifier, TOKEN, NOW + 30, transport), MFA_60S, NOW + 30).allowed
    later = evaluate(check(verifier, TOKEN, NOW + 31, transport), MFA_60S, NOW + 31)
    assert (later.allowed, later.status) == (False, 401)
    assert 'error="insufficient_user_authentication"' in _www_authenticate(later)
    assert stub.calls == 1


@pytest.mark.parametrize(
    "members",
    [
        pytest.param({"token_type": "DPoP"}, id="token_type-DPoP"),
        pytest.param({"cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}, id="cnf-jkt"),
        pytest.param(
            {"cnf": {"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}, id="x5t"
        ),
    ],
)
def test_R7662_14_I5_bound_token_presented_as_bearer_is_refused_by_the_core(
    stub: IntrospectionStub, transport: HttpxTransport, members: dict[str, Any]
) -> None:
    stub.answers[TOKEN] = active(**members)
    principal = check(verifier_for(stub), TOKEN, NOW, transport)
    with pytest.raises(InvalidToken):
        check_binding(principal)
