"""Principal.from_claims: claim types (R7519-1, R7519-5, OIDC-1, OIDC-6, OIDC-8, R8176-2)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from stepup_mfa._core.errors import InvalidToken
from stepup_mfa._core.principal import Principal, numeric_date

NOW = 1_800_000_000
API = "https://api.example.com"
MFA = "urn:example:acr:mfa"
ABSENT: Any = object()

BASE: dict[str, Any] = {
    "iss": "https://as.example.com",
    "sub": "u1",
    "aud": API,
    "client_id": "c1",
    "scope": "cats:read dogs:read",
    "exp": NOW + 300,
    "iat": NOW - 10,
    "auth_time": NOW - 10,
    "acr": MFA,
    "amr": ["pwd", "otp"],
}


def claims(**changes: Any) -> dict[str, Any]:
    result = dict(BASE)
    for name, value in changes.items():
        if value is ABSENT:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def test_r9470_8_jwt_claims_are_read() -> None:
    principal = Principal.from_claims(claims(), "jwt")
    assert (
        principal.subject,
        principal.client_id,
        principal.issuer,
        principal.audience,
        principal.scopes,
        principal.expires_at,
        principal.issued_at,
        principal.auth_time,
        principal.acr,
        principal.amr,
        principal.kind,
    ) == (
        "u1",
        "c1",
        "https://as.example.com",
        (API,),
        frozenset({"cats:read", "dogs:read"}),
        NOW + 300,
        NOW - 10,
        NOW - 10,
        MFA,
        ("pwd", "otp"),
        "jwt",
    )


def test_r9470_9_introspection_reads_top_level_members() -> None:
    answer = claims(active=True, auth_time=NOW - 120, token_type="Bearer")
    principal = Principal.from_claims(answer, "introspection")
    assert (principal.kind, principal.auth_time, principal.acr, principal.token_type) == (
        "introspection",
        NOW - 120,
        MFA,
        "Bearer",
    )


def test_raw_claims_are_kept_read_only() -> None:
    principal = Principal.from_claims(claims(role="admin"))
    with pytest.raises(TypeError):
        principal.claims["role"] = "user"  # type: ignore[index]


def test_principal_is_frozen() -> None:
    principal = Principal.from_claims(claims())
    with pytest.raises(dataclasses.FrozenInstanceError):
        principal.acr = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("aud", "expected"),
    [
        pytest.param(API, (API,), id="R7519-1-string"),
        pytest.param(["https://x", API], ("https://x", API), id="R7519-1-array"),
        pytest.param([], (), id="R7519-1-empty-array"),
        pytest.param(ABSENT, (), id="R7519-1-absent"),
    ],
)
def test_r7519_1_audience_shapes(aud: Any, expected: tuple[str, ...]) -> None:
    assert Principal.from_claims(claims(aud=aud)).audience == expected


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"aud": 123}, id="R7519-1-T7-number"),
        pytest.param({"aud": [[API]]}, id="R7519-1-T7-nested"),
        pytest.param({"aud": [API, 1]}, id="R7519-1-mixed"),
        pytest.param({"aud": {"a": API}}, id="R7519-1-object"),
        pytest.param({"sub": 7}, id="R7519-sub-number"),
        pytest.param({"iss": ["https://as.example.com"]}, id="R7519-T6-iss-array"),
        pytest.param({"client_id": True}, id="client-id-bool"),
        pytest.param({"token_type": 1}, id="token-type-number"),
        pytest.param({"cnf": "jkt"}, id="cnf-string"),
    ],
)
def test_wrongly_typed_identity_claims_are_an_invalid_token(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidToken):
        Principal.from_claims(claims(**changes))


@pytest.mark.parametrize("name", ["exp", "nbf", "iat", "auth_time"])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param("1893456000", id="R7519-5-OIDC-1-S5-string"),
        pytest.param(True, id="R7519-5-OIDC-1-S5-true"),
        pytest.param(False, id="R7519-5-false"),
        pytest.param([NOW], id="R7519-5-OIDC-1-array"),
        pytest.param({"t": NOW}, id="R7519-5-object"),
        pytest.param(float("inf"), id="R7519-5-T2-1e400"),
        pytest.param(float("nan"), id="R7519-5-nan"),
        pytest.param(10**400, id="R7519-5-integer-overflow"),
        pytest.param(-(10**400), id="R7519-5-negative-overflow"),
    ],
)
def test_r7519_5_numeric_date_types(name: str, value: Any) -> None:
    with pytest.raises(InvalidToken):
        Principal.from_claims(claims(**{name: value}))


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(1893456000, id="R7519-5-integer"),
        pytest.param(1893456000.5, id="R7519-5-fraction"),
        pytest.param(0, id="R7519-5-epoch"),
        pytest.param(None, id="R7519-5-absent"),
    ],
)
def test_r7519_5_numeric_date_accepted(value: float | None) -> None:
    assert numeric_date(value) == value


def test_oidc_2_missing_auth_time_reads_as_unknown() -> None:
    assert Principal.from_claims(claims(auth_time=ABSENT)).auth_time is None


@pytest.mark.parametrize(
    ("acr", "expected"),
    [
        pytest.param(MFA, MFA, id="OIDC-6-string"),
        pytest.param([MFA], None, id="OIDC-6-S6-array-is-absent"),
        pytest.param(3, None, id="OIDC-6-number-is-absent"),
        pytest.param(ABSENT, None, id="OIDC-6-absent"),
    ],
)
def test_oidc_6_acr_shapes(acr: Any, expected: str | None) -> None:
    assert Principal.from_claims(claims(acr=acr)).acr == expected


@pytest.mark.parametrize(
    ("amr", "expected"),
    [
        pytest.param(["pwd", "otp"], ("pwd", "otp"), id="OIDC-8-array"),
        pytest.param("otp", (), id="OIDC-8-S6-string-is-absent"),
        pytest.param(["pwd", 7, None], ("pwd",), id="OIDC-8-non-string-entries"),
        pytest.param(["pwd", "urn:x:custom"], ("pwd", "urn:x:custom"), id="R8176-2-unknown-kept"),
        pytest.param(["OTP"], ("OTP",), id="R8176-2-case-kept"),
    ],
)
def test_oidc_8_amr_shapes(amr: Any, expected: tuple[str, ...]) -> None:
    assert Principal.from_claims(claims(amr=amr)).amr == expected


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        pytest.param("cats:read", {"cats:read"}, id="R9068-12-one"),
        pytest.param("cats:read  dogs:read", {"cats:read", "dogs:read"}, id="double-space"),
        pytest.param(["cats:read"], set(), id="T11-array-is-absent"),
        pytest.param("cats:read,dogs:read", {"cats:read,dogs:read"}, id="T11-comma"),
        pytest.param(ABSENT, set(), id="absent"),
    ],
)
def test_scope_shapes(scope: Any, expected: set[str]) -> None:
    assert Principal.from_claims(claims(scope=scope)).scopes == expected
