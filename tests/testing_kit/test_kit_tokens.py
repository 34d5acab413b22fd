"""TokenFactory: RFC 9068 tokens with chosen authentication facts, checked by PyJWT."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt as pyjwt
import pytest
from joserfc.jwk import RSAKey

from stepup_mfa.testing import MFA_ACR, PASSWORD_ACR, FrozenClock, TokenFactory

NOW = 1_700_000_000
AUD = "https://api.example.com"


@pytest.fixture
def factory() -> TokenFactory:
    return TokenFactory("https://as.example.com", AUD, clock=FrozenClock(NOW))


def _verify(factory: TokenFactory, token: str) -> dict[str, Any]:
    """Verify with PyJWT against the published JWKS, at the factory's frozen time."""
    header = pyjwt.get_unverified_header(token)
    jwk = next(k for k in factory.jwks["keys"] if k["kid"] == header["kid"])
    key = pyjwt.PyJWK(jwk)
    claims: dict[str, Any] = pyjwt.decode(
        token,
        key,
        algorithms=[jwk["alg"]],
        audience=AUD,
        issuer="https://as.example.com",
        options={"verify_exp": False, "verify_iat": False},
    )
    return claims


def _header(token: str) -> dict[str, Any]:
    segment = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))  # type: ignore[no-any-return]


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_tokens_verify_with_the_published_jwks_rfc9068_3(
    factory: TokenFactory, algorithm: Any
) -> None:
    token = factory.mint(algorithm=algorithm)
    assert _header(token)["alg"] == algorithm
    assert _verify(factory, token)["sub"] == "user-1"


def test_header_is_typed_at_jwt_with_a_kid_r9068_1(factory: TokenFactory) -> None:
    """Checklist: R9068-1."""
    header = _header(factory.mint())
    assert header["typ"] == "at+jwt"
    assert header["kid"] in factory.keys.kids()


def test_default_token_carries_every_required_claim_r9068_10(factory: TokenFactory) -> None:
    """Checklist: R9068-10."""
    claims = _verify(factory, factory.mint())
    assert {"iss", "aud", "sub", "client_id", "iat", "exp", "jti"} <= claims.keys()
    assert claims["exp"] == NOW + 300


@pytest.mark.parametrize(
    ("options", "acr", "amr", "auth_time"),
    [
        ({}, PASSWORD_ACR, ["pwd"], NOW),
        ({"mfa": True}, MFA_ACR, ["pwd", "otp"], NOW),
        ({"mfa": True, "auth_age": 61}, MFA_ACR, ["pwd", "otp"], NOW - 61),
        ({"acr": "urn:example:acr:hwk", "amr": ["hwk"]}, "urn:example:acr:hwk", ["hwk"], NOW),
        ({"auth_time": NOW - 3600}, PASSWORD_ACR, ["pwd"], NOW - 3600),
    ],
)
def test_authentication_facts_are_what_the_test_asks_for(
    factory: TokenFactory, options: dict[str, Any], acr: str, amr: list[str], auth_time: int
) -> None:
    claims = _verify(factory, factory.mint(**options))
    assert (claims["acr"], claims["amr"], claims["auth_time"]) == (acr, amr, auth_time)


def test_refreshed_token_keeps_an_old_auth_time_r9470_11(factory: TokenFactory) -> None:
    """Checklist: R9470-11."""
    claims = factory.claims(issued_at=NOW - 1, auth_age=3600)
    assert claims["iat"] == NOW - 1
    assert claims["auth_time"] == NOW - 3600


@pytest.mark.parametrize("name", ["iss", "aud", "sub", "client_id", "iat", "exp", "jti"])
def test_omit_removes_a_claim_r9068_10(factory: TokenFactory, name: str) -> None:
    """Checklist: R9068-10."""
    assert name not in factory.claims(omit=[name])


def test_raw_claims_may_have_any_json_type_oidc_1(factory: TokenFactory) -> None:
    """Checklist: OIDC-1."""
    assert factory.claims(claims={"auth_time": "1700000000"})["auth_time"] == "1700000000"


@pytest.mark.parametrize(
    ("scope", "expected"), [("a b", "a b"), (["dogs:read", "cats:read"], "dogs:read cats:read")]
)
def test_scope_is_a_space_separated_string_r9068_12(
    factory: TokenFactory, scope: Any, expected: str
) -> None:
    """Checklist: R9068-12."""
    assert factory.claims(scope=scope)["scope"] == expected


def test_client_credentials_token_has_no_user_authentication_r9068_15(
    factory: TokenFactory,
) -> None:
    """Checklist: R9068-15."""
    claims = _verify(factory, factory.client_credentials_token())
    assert claims["sub"] == claims["client_id"] == "test-client"
    assert not {"auth_time", "acr", "amr"} & claims.keys()


def test_header_overrides_and_removals(factory: TokenFactory) -> None:
    header = _header(factory.mint(header={"typ": "JWT", "kid": None}))
    assert header["typ"] == "JWT"
    assert "kid" not in header


def test_unsigned_token_has_alg_none_and_an_empty_signature_r9068_2(
    factory: TokenFactory,
) -> None:
    """Checklist: R9068-2."""
    token = factory.unsigned()
    assert token.endswith(".")
    assert _header(token)["alg"] == "none"


def test_foreign_key_signs_a_token_the_jwks_cannot_verify_r9068_6(factory: TokenFactory) -> None:
    """Checklist: R9068-6."""
    stranger = RSAKey.generate_key(2048, parameters={"alg": "RS256", "kid": factory.keys.kids()[0]})
    token = factory.mint(key=stranger)
    with pytest.raises(pyjwt.InvalidSignatureError):
        _verify(factory, token)


@pytest.mark.parametrize(("keep_previous", "old_still_verifies"), [(True, True), (False, False)])
def test_rotation_publishes_new_keys_and_keeps_or_drops_the_old_ones(
    factory: TokenFactory, keep_previous: bool, old_still_verifies: bool
) -> None:
    old = factory.mint()
    old_kid = _header(old)["kid"]
    factory.rotate_keys(keep_previous=keep_previous)
    new = factory.mint()
    assert _header(new)["kid"] != old_kid
    assert _verify(factory, new)["sub"] == "user-1"
    assert (old_kid in factory.keys.kids()) is old_still_verifies
