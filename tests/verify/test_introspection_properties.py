"""Whatever the endpoint answers and whatever token arrives, the verifier ends in a principal, an
``InvalidToken`` (401) or a ``VerifierUnavailable`` (503), never another exception (attack
catalog preamble; R7662-3, R7662-4). Driven sans-I/O: the flow is fed answers directly."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from introspection_fixtures import AUDIENCE, ISSUER, NOW, active
from verify_helpers import json_values as shared_json_values

from stepup_mfa._core.errors import InvalidToken, VerifierUnavailable
from stepup_mfa._core.principal import Principal
from stepup_mfa._verify.flow import HttpResponse, TransportError
from stepup_mfa._verify.introspection import ClientSecretBasic, IntrospectionVerifier

VERIFIER = IntrospectionVerifier(
    "https://as.example.com/introspect",
    client_auth=ClientSecretBasic("rs-api", "secret"),
    issuer=ISSUER,
    audience=AUDIENCE,
    cache_ttl=0,
    inactive_ttl=0,
)

json_values = shared_json_values(key_size=10)
members = st.sampled_from(
    [
        "active",
        "iss",
        "aud",
        "exp",
        "nbf",
        "iat",
        "auth_time",
        "acr",
        "amr",
        "scope",
        "sub",
        "client_id",
        "token_type",
        "cnf",
        "username",
    ]
)


def outcome(response: HttpResponse | TransportError, token: str = "tok") -> str:
    """Run one verification to its end and name how it ended."""
    try:
        flow = VERIFIER.verify(token, NOW)
        next(flow)
        if isinstance(response, TransportError):
            flow.throw(response)
        else:
            flow.send(response)
    except StopIteration as done:
        assert isinstance(done.value, Principal)
        return "allowed"
    except InvalidToken:
        return "401"
    except VerifierUnavailable:
        return "503"
    raise AssertionError("the flow asked for a second request")


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(members, json_values, max_size=8))
def test_R7662_4_I1_any_answer_document_ends_in_a_library_outcome(document: dict[str, Any]) -> None:
    result = outcome(HttpResponse(200, {}, json.dumps(document).encode()))
    if document.get("active") is not True:
        assert result == "401"


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(members, json_values, max_size=6))
def test_R7662_7_overrides_of_a_good_answer_end_in_a_library_outcome(
    overrides: dict[str, Any],
) -> None:
    document = active(**overrides)
    outcome(HttpResponse(200, {}, json.dumps(document).encode()))


@settings(max_examples=200, deadline=None)
@given(st.integers(100, 599), st.binary(max_size=200))
def test_R7662_3_I2_any_status_or_body_never_allows_unless_200_json(
    status: int, body: bytes
) -> None:
    result = outcome(HttpResponse(status, {}, body))
    if status != 200:
        assert result == "503"
    else:
        assert result in {"401", "503"}  # random bytes are never a valid active answer


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=64))
def test_any_token_string_ends_in_a_library_outcome(token: str) -> None:
    try:
        VERIFIER.cached(token, NOW)
    except InvalidToken:
        pass
    assert outcome(HttpResponse(200, {}, json.dumps(active()).encode()), token) in {
        "allowed",
        "401",
    }


def test_R7662_3_transport_error_is_503() -> None:
    assert outcome(TransportError("ConnectTimeout")) == "503"
