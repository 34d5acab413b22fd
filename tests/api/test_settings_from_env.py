"""The STEPUP_* variables: the examples' documented interface (issue 7)."""

from __future__ import annotations

import pytest

from stepup_mfa import (
    ConfigurationError,
    IntrospectionVerifier,
    JWTVerifier,
    Principal,
    StepUpSettings,
    evaluate,
)

NOW = 1_800_000_000
DEV = {"STEPUP_ALLOW_INSECURE_HTTP": "1"}


def test_defaults_point_at_the_development_server() -> None:
    settings = StepUpSettings.from_env({})
    assert settings.issuer == "http://127.0.0.1:9400"
    assert settings.audience == "https://api.example.com"
    assert settings.token_mode == "jwt"
    assert settings.mfa_acr == "urn:stepup-mfa:acr:mfa"
    assert settings.mfa_max_age == 60
    assert settings.allow_insecure_http is False


def test_every_variable_is_read() -> None:
    settings = StepUpSettings.from_env(
        {
            "STEPUP_ISSUER": "https://idp.example.com",
            "STEPUP_AUDIENCE": "https://cats.example.com",
            "STEPUP_TOKEN_MODE": "Introspection",
            "STEPUP_INTROSPECTION_CLIENT_ID": "cats-api",
            "STEPUP_INTROSPECTION_CLIENT_SECRET": "s3cret",
            "STEPUP_MFA_ACR": "urn:example:acr:mfa",
            "STEPUP_MFA_MAX_AGE": "300",
            "STEPUP_ALLOW_INSECURE_HTTP": "true",
        }
    )
    assert settings == StepUpSettings(
        issuer="https://idp.example.com",
        audience="https://cats.example.com",
        token_mode="introspection",
        introspection_client_id="cats-api",
        introspection_client_secret="s3cret",
        mfa_acr="urn:example:acr:mfa",
        mfa_max_age=300,
        allow_insecure_http=True,
    )


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({"STEPUP_TOKEN_MODE": "opaque"}, id="unknown-mode"),
        pytest.param({"STEPUP_MFA_MAX_AGE": "60s"}, id="R9470-4-max-age-with-unit"),
        pytest.param({"STEPUP_MFA_MAX_AGE": "-1"}, id="R9470-4-negative-max-age"),
        pytest.param({"STEPUP_MFA_MAX_AGE": "1.5"}, id="R9470-4-fractional-max-age"),
    ],
)
def test_malformed_values_fail_at_start_up(env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        StepUpSettings.from_env(env)


def test_jwt_mode_builds_a_jwt_verifier() -> None:
    assert isinstance(StepUpSettings.from_env(DEV).verifier(), JWTVerifier)


def test_R7662_2_introspection_mode_needs_the_api_credentials() -> None:
    settings = StepUpSettings.from_env({**DEV, "STEPUP_TOKEN_MODE": "introspection"})
    with pytest.raises(ConfigurationError, match="STEPUP_INTROSPECTION_CLIENT_ID"):
        settings.verifier()


def test_introspection_mode_builds_an_introspection_verifier() -> None:
    settings = StepUpSettings.from_env(
        {
            **DEV,
            "STEPUP_TOKEN_MODE": "introspection",
            "STEPUP_INTROSPECTION_CLIENT_ID": "api",
            "STEPUP_INTROSPECTION_CLIENT_SECRET": "secret",
        }
    )
    assert isinstance(settings.verifier(), IntrospectionVerifier)


def test_R8414_4_an_http_issuer_off_loopback_needs_the_development_switch() -> None:
    settings = StepUpSettings.from_env({"STEPUP_ISSUER": "http://idp.example.com"})
    with pytest.raises(ConfigurationError):
        settings.verifier()


@pytest.mark.parametrize(("age", "allowed"), [(60, True), (61, False)])
def test_R9470_10_mfa_policy_uses_the_acr_and_the_window(age: int, allowed: bool) -> None:
    policy = StepUpSettings.from_env({"STEPUP_MFA_ACR": "urn:example:acr:mfa"}).mfa_policy()
    principal = Principal.from_claims(
        {"sub": "u1", "acr": "urn:example:acr:mfa", "auth_time": NOW - age}
    )
    assert evaluate(principal, policy, NOW).allowed is allowed
