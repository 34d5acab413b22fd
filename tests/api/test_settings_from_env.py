"""The STEPUP_* variables: the examples' documented interface (issues 7 and 12)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stepup_mfa import (
    AUTHENTICATED,
    ConfigurationError,
    Guard,
    IntrospectionVerifier,
    JWTVerifier,
    Principal,
    RequestView,
    StepUpSettings,
    evaluate,
)
from stepup_mfa._verify.transports import HttpxTransport
from stepup_mfa.testing import FakeIssuer, FrozenClock

NOW = 1_800_000_000
REQUIRED = {
    "STEPUP_ISSUER": "https://idp.example.com",
    "STEPUP_AUDIENCE": "https://api.example.com",
}
DEV = {**REQUIRED, "STEPUP_ISSUER": "http://127.0.0.1:9400", "STEPUP_ALLOW_INSECURE_HTTP": "1"}


def test_only_issuer_and_audience_are_required() -> None:
    settings = StepUpSettings.from_env(REQUIRED)
    assert settings.issuer == "https://idp.example.com"
    assert settings.audience == "https://api.example.com"
    assert settings.token_mode == "jwt"
    assert settings.mfa_acr == "urn:stepup-mfa:acr:mfa"
    assert settings.mfa_max_age == 60
    assert settings.allow_insecure_http is False
    assert settings.accept_jwt_typ is False


@pytest.mark.parametrize("name", ["STEPUP_ISSUER", "STEPUP_AUDIENCE"])
@pytest.mark.parametrize("value", [None, "", "  "], ids=["unset", "empty", "blank"])
def test_issuer_and_audience_have_no_default(name: str, value: str | None) -> None:
    """Issue 12: an unset issuer never falls back to trusting whatever listens on a dev port."""
    env = {key: text for key, text in REQUIRED.items() if key != name}
    if value is not None:
        env[name] = value
    with pytest.raises(ConfigurationError, match=name):
        StepUpSettings.from_env(env)


def test_from_env_reads_os_environ_and_requires_the_issuer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("STEPUP_ISSUER", raising=False)
    monkeypatch.setenv("STEPUP_AUDIENCE", "https://api.example.com")
    with pytest.raises(ConfigurationError, match="STEPUP_ISSUER"):
        StepUpSettings.from_env()
    monkeypatch.setenv("STEPUP_ISSUER", "https://idp.example.com")
    assert StepUpSettings.from_env().issuer == "https://idp.example.com"


def test_defaults_fill_only_what_the_environment_leaves_unset() -> None:
    defaults = {**DEV, "STEPUP_MFA_ACR": "urn:dev:mfa"}
    settings = StepUpSettings.from_env(
        {"STEPUP_ISSUER": "https://idp.example.com", "STEPUP_MFA_ACR": ""}, defaults=defaults
    )
    assert settings.issuer == "https://idp.example.com"
    assert settings.audience == "https://api.example.com"
    assert settings.mfa_acr == "urn:dev:mfa"
    assert settings.allow_insecure_http is True
    with pytest.raises(ConfigurationError, match="STEPUP_AUDIENCE"):
        StepUpSettings.from_env({}, defaults={"STEPUP_ISSUER": "https://idp.example.com"})


def test_the_class_itself_has_no_default_issuer_or_audience() -> None:
    with pytest.raises(TypeError):
        StepUpSettings()  # type: ignore[call-arg]


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
            "STEPUP_ACCEPT_JWT_TYP": "1",
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
        accept_jwt_typ=True,
    )


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({"STEPUP_TOKEN_MODE": "opaque"}, id="unknown-mode"),
        pytest.param({"STEPUP_MFA_MAX_AGE": "60s"}, id="R9470-4-max-age-with-unit"),
        pytest.param({"STEPUP_MFA_MAX_AGE": "-1"}, id="R9470-4-negative-max-age"),
        pytest.param({"STEPUP_MFA_MAX_AGE": "1.5"}, id="R9470-4-fractional-max-age"),
        pytest.param({"STEPUP_ACCEPT_JWT_TYP": "on"}, id="unknown-switch-value"),
        pytest.param({"STEPUP_ALLOW_INSECURE_HTTP": "maybe"}, id="unknown-insecure-value"),
    ],
)
def test_malformed_values_fail_at_start_up(env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        StepUpSettings.from_env({**REQUIRED, **env})


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
    settings = StepUpSettings.from_env({**REQUIRED, "STEPUP_ISSUER": "http://idp.example.com"})
    with pytest.raises(ConfigurationError):
        settings.verifier()


@pytest.mark.parametrize(("age", "allowed"), [(60, True), (61, False)])
def test_R9470_10_mfa_policy_uses_the_acr_and_the_window(age: int, allowed: bool) -> None:
    settings = StepUpSettings.from_env({**REQUIRED, "STEPUP_MFA_ACR": "urn:example:acr:mfa"})
    policy = settings.mfa_policy()
    principal = Principal.from_claims(
        {"sub": "u1", "acr": "urn:example:acr:mfa", "auth_time": NOW - age}
    )
    assert evaluate(principal, policy, NOW).allowed is allowed


@pytest.fixture
def issuer(stepup_clock: FrozenClock) -> Iterator[FakeIssuer]:
    with FakeIssuer("https://api.example.com", clock=stepup_clock) as fake:
        yield fake


@pytest.mark.parametrize(
    ("switch", "typ", "allowed"),
    [
        ("", "at+jwt", True),
        ("", "JWT", False),
        ("1", "JWT", True),
        ("1", None, True),
        ("1", "at+jwt", True),
    ],
)
def test_R9068_4_accept_jwt_typ_switch(
    issuer: FakeIssuer, stepup_clock: FrozenClock, switch: str, typ: str | None, allowed: bool
) -> None:
    """RFC 9068 §4: with ``STEPUP_ACCEPT_JWT_TYP=1`` a token typed ``JWT`` (or untyped) is also
    accepted; without it only ``at+jwt`` is."""
    settings = StepUpSettings.from_env(
        {
            "STEPUP_ISSUER": issuer.issuer,
            "STEPUP_AUDIENCE": "https://api.example.com",
            "STEPUP_ALLOW_INSECURE_HTTP": "1",
            "STEPUP_ACCEPT_JWT_TYP": switch,
        }
    )
    token = issuer.tokens.mint(header={"typ": typ})
    transport = HttpxTransport()
    try:
        guard = Guard(settings.verifier(), clock=stepup_clock, transport=transport)
        request = RequestView("GET", "/", authorization=(f"Bearer {token}",))
        assert guard.check(request, AUTHENTICATED).allowed is allowed
    finally:
        transport.close()
