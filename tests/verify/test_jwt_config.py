"""Configuration is validated when the verifier is built (ConfigurationError at startup)."""

from __future__ import annotations

from typing import Any

import pytest

from stepup_mfa._core.errors import ConfigurationError
from stepup_mfa._verify.jwt_verifier import DEFAULT_ALGORITHMS, JWTVerifier

ISSUER = "https://as.example.com"
AUDIENCE = "https://api.example.com"


@pytest.mark.parametrize("leeway", [301, 3600, -1, "60", True, float("nan")], ids=repr)
def test_R9068_7_leeway_over_300_seconds_is_a_startup_error(leeway: Any) -> None:
    with pytest.raises(ConfigurationError):
        JWTVerifier(ISSUER, AUDIENCE, leeway=leeway)


@pytest.mark.parametrize("leeway", [0, 60, 300, 0.5])
def test_R9068_7_leeway_within_bounds(leeway: float) -> None:
    JWTVerifier(ISSUER, AUDIENCE, leeway=leeway)


@pytest.mark.parametrize(
    "algorithms",
    [["none"], ["HS256"], ["RS256", "HS512"], ["rs256"], [], "RS256", ["ES256K"]],
    ids=repr,
)
def test_R8725_1_R8725_7_R7518_2_allowlist_refuses_none_symmetric_and_unknown(
    algorithms: Any,
) -> None:
    """HS* is not supported at all, so no public key can ever become an HMAC secret (A4)."""
    with pytest.raises(ConfigurationError):
        JWTVerifier(ISSUER, AUDIENCE, algorithms=algorithms)


def test_R8725_1_default_allowlist_is_asymmetric_only() -> None:
    assert set(DEFAULT_ALGORITHMS) == {
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
        "ES256",
        "ES384",
        "ES512",
    }


@pytest.mark.parametrize("audience", ["", [], [""], [1], None], ids=repr)
def test_audience_required(audience: Any) -> None:
    with pytest.raises(ConfigurationError):
        JWTVerifier(ISSUER, audience)


@pytest.mark.parametrize(
    "jwks_uri",
    [
        "http://as.example.com/jwks",
        "jwks.json",
        {"https://other.example.com": "https://other.example.com/jwks"},
        7,
    ],
    ids=repr,
)
def test_R8414_4_jwks_uri_must_be_https_and_for_a_configured_issuer(jwks_uri: Any) -> None:
    with pytest.raises(ConfigurationError):
        JWTVerifier(ISSUER, AUDIENCE, jwks_uri=jwks_uri)


def test_single_jwks_uri_with_several_issuers_is_ambiguous() -> None:
    with pytest.raises(ConfigurationError):
        JWTVerifier([ISSUER, "https://as2.example.com"], AUDIENCE, jwks_uri=ISSUER + "/jwks")


def test_development_switch_allows_http_everywhere() -> None:
    verifier = JWTVerifier(
        "http://idp.internal",
        AUDIENCE,
        jwks_uri="http://idp.internal/jwks",
        allow_insecure_http=True,
    )
    assert verifier.issuers == ("http://idp.internal",)


@pytest.mark.parametrize(
    "options",
    [
        {"timeout": 0},
        {"jwks_min_age": 700},
        {"jwks_default_age": 10, "jwks_min_age": 60},
        {"unknown_kid_cooldown": -1},
        {"retry_interval": 0},
        {"max_token_length": 10},
        {"required_claims": "sub"},
    ],
    ids=repr,
)
def test_bad_numbers_and_shapes_are_startup_errors(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        JWTVerifier(ISSUER, AUDIENCE, **options)


def test_multiple_issuers_kept_exactly_and_deduplicated() -> None:
    verifier = JWTVerifier([ISSUER, ISSUER + "/", ISSUER], AUDIENCE)
    assert verifier.issuers == (ISSUER, ISSUER + "/")
    assert "as.example.com" in repr(verifier)
