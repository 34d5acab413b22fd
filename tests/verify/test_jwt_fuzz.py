"""Property tests: no input makes the parser or the verifier crash, hang or allow.

R7515-1, R7515-2, R7515-7, R8725-8, R8725-15, T9: whatever the bytes, the outcome is
:class:`InvalidToken` or (for a well-formed token of a configured issuer) a request for keys.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from verify_helpers import json_values as shared_json_values

from stepup_mfa._core.errors import InvalidToken
from stepup_mfa._verify.jwt_verifier import JWTVerifier
from stepup_mfa._verify.strict_json import DuplicateMembers, MalformedJSON, loads_strict_json

NOW = 1_900_000_000
ISSUER = "https://as.example.com"
VERIFIER = JWTVerifier(ISSUER, "https://api.example.com", jwks_uri=ISSUER + "/jwks")
FUZZ = settings(max_examples=300, deadline=None, database=None)

json_values = shared_json_values(key_size=8)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def outcome(token: str) -> str:
    flow = VERIFIER.verify(token, NOW)
    try:
        next(flow)
    except StopIteration:
        return "allowed"
    except InvalidToken:
        return "rejected"
    flow.close()
    return "needs keys"


@FUZZ
@given(st.text(max_size=400))
def test_R7515_1_arbitrary_text_is_rejected(token: str) -> None:
    assert outcome(token) == "rejected"


@FUZZ
@given(st.binary(max_size=200), st.binary(max_size=300), st.binary(min_size=1, max_size=80))
def test_R7515_7_arbitrary_segment_bytes_are_rejected(
    header: bytes, payload: bytes, signature: bytes
) -> None:
    token = f"{b64url(header)}.{b64url(payload)}.{b64url(signature)}"
    assert outcome(token) in ("rejected", "needs keys")


@FUZZ
@given(json_values, json_values)
def test_R7515_2_arbitrary_json_header_and_payload_never_allow(header: Any, payload: Any) -> None:
    token = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}.c2ln"
    assert outcome(token) in ("rejected", "needs keys")


@FUZZ
@given(st.dictionaries(st.sampled_from(["sub", "aud", "exp", "iss", "x"]), json_values))
def test_R7519_claims_of_any_shape_never_allow_unsigned(claims: dict[str, Any]) -> None:
    claims["iss"] = ISSUER
    header = {"alg": "RS256", "typ": "at+jwt", "kid": "k"}
    token = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}.c2ln"
    assert outcome(token) == "needs keys"  # keys first; the claims are judged only after


@FUZZ
@given(st.binary(max_size=300))
def test_R8725_8_strict_json_parser_raises_only_malformed_json(data: bytes) -> None:
    try:
        value = loads_strict_json(data)
    except MalformedJSON:
        return
    assert not isinstance(value, DuplicateMembers)
    json.dumps(value).encode("utf-8")  # what it accepts is valid UTF-8 JSON
