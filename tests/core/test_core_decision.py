"""evaluate(): the decision, its status and the ONE challenge it renders (RFC 9470, RFC 6750 §3).

Challenges are compared by parsing ``WWW-Authenticate``. The seed routes: ``/dogs/`` needs scope
``dogs:read``; ``/cats/`` needs ``cats:read``, acr ``urn:example:acr:mfa`` and an authentication
no older than 60 s. ``now`` is frozen.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from stepup_mfa._core.challenge import Challenge, parse_www_authenticate
from stepup_mfa._core.decision import (
    DIFFERENT_LEVEL,
    MORE_RECENT,
    NOT_GRANTED,
    Allowed,
    ChallengeSettings,
    Decision,
    Refused,
    check_binding,
    deny,
    evaluate,
    is_fresh,
)
from stepup_mfa._core.errors import (
    AuthError,
    ConfigurationError,
    InsufficientScope,
    InsufficientUserAuthentication,
    InvalidDPoPProof,
    InvalidRequest,
    InvalidToken,
    MissingCredentials,
    PolicyWarning,
    StepUpError,
    UseDPoPNonce,
    VerifierUnavailable,
)
from stepup_mfa._core.policy import ANONYMOUS, AUTHENTICATED, SECOND_FACTOR_AMR, Policy, Rule
from stepup_mfa._core.principal import Principal

NOW = 1_800_000_000
PWD = "urn:example:acr:pwd"
MFA = "urn:example:acr:mfa"
HWK = "urn:example:acr:hwk"
IUA = "insufficient_user_authentication"
ABSENT: Any = object()
SETTINGS = ChallengeSettings(realm="api")

DOGS = Policy(scopes=["dogs:read"], name="dogs")
CATS = Policy(scopes=["cats:read"], acr_values=[MFA], max_age=60, name="cats")
RECENT_60 = Policy(scopes=["cats:read"], max_age=60)
HWK_OR_MFA = Policy(acr_values=[HWK, MFA])
OTP_60 = Policy(amr=["otp"], acr_values=[MFA], max_age=60)
EXPLICIT_MFA = Policy(amr=["mfa"], acr_values=[MFA])
FACTORS_MFA = Policy(amr=SECOND_FACTOR_AMR, acr_values=[MFA])
PWD_AMR = Policy(amr=["pwd"], acr_values=[PWD])

BASE: dict[str, Any] = {
    "iss": "https://as.example.com",
    "sub": "u1",
    "aud": "https://api.example.com",
    "client_id": "c1",
    "scope": "cats:read",
    "exp": NOW + 300,
    "iat": NOW - 10,
    "auth_time": NOW - 10,
    "acr": MFA,
    "amr": ["pwd", "otp"],
}


def principal(kind: Any = "jwt", **changes: Any) -> Principal:
    claims = dict(BASE)
    for name, value in changes.items():
        if value is ABSENT:
            claims.pop(name, None)
        else:
            claims[name] = value
    return Principal.from_claims(claims, kind)


def challenge_of(decision: Decision) -> Challenge:
    """The one challenge of a refusal, parsed."""
    assert decision.www_authenticate is not None
    [challenge] = parse_www_authenticate(decision.www_authenticate)
    return challenge


def step_up(description: str, **params: str) -> dict[str, str]:
    return {"realm": "api", "error": IUA, "error_description": description, **params}


# -- the step-up table -------------------------------------------------------------------------

ALLOWED: dict[str, str] | None = None


@pytest.mark.parametrize(
    ("claims", "policy", "status", "params"),
    [
        pytest.param(
            {"acr": PWD},
            CATS,
            401,
            step_up(DIFFERENT_LEVEL, acr_values=MFA, max_age="60"),
            id="R9470-1-S1-weak-acr",
        ),
        pytest.param(
            {"acr": PWD},
            HWK_OR_MFA,
            401,
            step_up(DIFFERENT_LEVEL, acr_values=f"{HWK} {MFA}"),
            id="R9470-3-preference-order",
        ),
        pytest.param({"acr": MFA}, HWK_OR_MFA, 200, ALLOWED, id="R9470-3-any-one-second"),
        pytest.param({"acr": HWK}, HWK_OR_MFA, 200, ALLOWED, id="R9470-3-any-one-first"),
        pytest.param(
            {"auth_time": NOW - 61},
            RECENT_60,
            401,
            step_up(MORE_RECENT, max_age="60"),
            id="R9470-4-S2-stale",
        ),
        pytest.param(
            {"auth_time": NOW - 61},
            CATS,
            401,
            step_up(MORE_RECENT, acr_values=MFA, max_age="60"),
            id="R9470-4-R9470-5-stale-on-cats-names-every-requirement",
        ),
        pytest.param(
            {"acr": PWD, "auth_time": NOW - 600},
            CATS,
            401,
            step_up(DIFFERENT_LEVEL, acr_values=MFA, max_age="60"),
            id="R9470-5-both",
        ),
        pytest.param(
            {"scope": "dogs:read", "acr": PWD},
            CATS,
            401,
            step_up(DIFFERENT_LEVEL, acr_values=MFA, max_age="60", scope="cats:read"),
            id="R9470-6-scope-joins-step-up",
        ),
        pytest.param(
            {"auth_time": NOW - 30, "acr": MFA}, CATS, 200, ALLOWED, id="R9470-8-jwt-allowed"
        ),
        pytest.param(
            {"auth_time": ABSENT},
            CATS,
            401,
            step_up(MORE_RECENT, acr_values=MFA, max_age="60"),
            id="R9470-10-S3-OIDC-2-no-auth-time",
        ),
        pytest.param(
            {"auth_time": NOW - 60}, CATS, 200, ALLOWED, id="R9470-10-OIDC-3-boundary-passes"
        ),
        pytest.param(
            {"auth_time": NOW - 61},
            CATS,
            401,
            step_up(MORE_RECENT, acr_values=MFA, max_age="60"),
            id="R9470-10-OIDC-3-one-second-more-fails",
        ),
        pytest.param(
            {"auth_time": NOW - 60.5},
            RECENT_60,
            401,
            step_up(MORE_RECENT, max_age="60"),
            id="R9470-10-OIDC-3-fraction-over",
        ),
        pytest.param(
            {"iat": NOW - 1, "nbf": NOW - 1, "auth_time": NOW - 3600},
            CATS,
            401,
            step_up(MORE_RECENT, acr_values=MFA, max_age="60"),
            id="R9470-11-S4-refreshed-token",
        ),
        pytest.param(
            {"iat": NOW - 3600, "auth_time": NOW - 5}, CATS, 200, ALLOWED, id="R9470-11-not-iat"
        ),
        pytest.param({"auth_time": NOW + 30}, CATS, 200, ALLOWED, id="OIDC-4-skew-counts-as-now"),
        pytest.param(
            {"acr": "URN:EXAMPLE:ACR:MFA"},
            CATS,
            401,
            step_up(DIFFERENT_LEVEL, acr_values=MFA, max_age="60"),
            id="OIDC-6-S6-acr-case",
        ),
        pytest.param(
            {"acr": [MFA]},
            CATS,
            401,
            step_up(DIFFERENT_LEVEL, acr_values=MFA, max_age="60"),
            id="OIDC-6-S6-acr-array",
        ),
        pytest.param(
            {"acr": ABSENT},
            CATS,
            401,
            step_up(DIFFERENT_LEVEL, acr_values=MFA, max_age="60"),
            id="OIDC-6-acr-absent",
        ),
        pytest.param(
            {"acr": "0"},
            CATS,
            401,
            step_up(DIFFERENT_LEVEL, acr_values=MFA, max_age="60"),
            id="OIDC-7-acr-zero",
        ),
        pytest.param(
            {"amr": "otp"},
            OTP_60,
            401,
            step_up(DIFFERENT_LEVEL, acr_values=MFA, max_age="60"),
            id="OIDC-8-S6-amr-string",
        ),
        pytest.param(
            {"amr": ["OTP"]},
            OTP_60,
            401,
            step_up(DIFFERENT_LEVEL, acr_values=MFA, max_age="60"),
            id="R8176-2-S6-amr-case",
        ),
        pytest.param(
            {"amr": ["pwd", "urn:x:custom"], "acr": PWD},
            PWD_AMR,
            200,
            ALLOWED,
            id="R8176-2-unknown-ignored",
        ),
        pytest.param(
            {"amr": ["pwd", "urn:x:custom"]},
            OTP_60,
            401,
            step_up(DIFFERENT_LEVEL, acr_values=MFA, max_age="60"),
            id="R8176-2-unknown-is-not-otp",
        ),
        pytest.param(
            {"amr": ["pwd", "otp"]},
            EXPLICIT_MFA,
            401,
            step_up(DIFFERENT_LEVEL, acr_values=MFA),
            id="R8176-3-explicit-factors-fail",
        ),
        pytest.param(
            {"amr": ["pwd", "otp", "mfa"]}, EXPLICIT_MFA, 200, ALLOWED, id="R8176-3-explicit-mfa"
        ),
        pytest.param({"amr": ["pwd", "otp"]}, FACTORS_MFA, 200, ALLOWED, id="R8176-3-factors"),
        pytest.param(
            {"amr": ["pwd", "otp", "mfa"]}, FACTORS_MFA, 200, ALLOWED, id="R8176-3-factors-mfa"
        ),
        pytest.param(
            {"amr": ["pwd"]}, FACTORS_MFA, 401, step_up(DIFFERENT_LEVEL, acr_values=MFA), id="pwd"
        ),
        pytest.param(
            {"amr": ["pwd"]},
            OTP_60,
            401,
            step_up(DIFFERENT_LEVEL, acr_values=MFA, max_age="60"),
            id="R8176-4-acr-stands-in-for-amr",
        ),
        pytest.param(
            {"sub": ABSENT, "auth_time": ABSENT, "acr": ABSENT, "amr": ABSENT},
            CATS,
            401,
            step_up(DIFFERENT_LEVEL, acr_values=MFA, max_age="60"),
            id="S7-client-credentials",
        ),
        pytest.param(
            {"scope": "dogs:read"},
            CATS,
            403,
            {
                "realm": "api",
                "error": "insufficient_scope",
                "error_description": "The access token lacks a required scope",
                "scope": "cats:read",
            },
            id="R6750-17-R9110-5-missing-scope",
        ),
        pytest.param(
            {"scope": "cats:read dogs:read"}, DOGS, 200, ALLOWED, id="R6750-1-dogs-allowed"
        ),
        pytest.param(
            {"scope": "cats:readonly cats:read,dogs:read CATS:READ"},
            CATS,
            403,
            {
                "realm": "api",
                "error": "insufficient_scope",
                "error_description": "The access token lacks a required scope",
                "scope": "cats:read",
            },
            id="T11-scope-tricks",
        ),
    ],
)
def test_evaluate(
    claims: dict[str, Any], policy: Policy, status: int, params: dict[str, str] | None
) -> None:
    decision = evaluate(principal(**claims), policy, NOW, SETTINGS)
    outcome = (decision.status, None if decision.allowed else dict(challenge_of(decision).params))
    assert outcome == (status, params)


def test_r9470_9_introspected_principal_is_judged_the_same() -> None:
    answer = principal("introspection", active=True, auth_time=NOW - 120)
    decision = evaluate(answer, CATS, NOW, SETTINGS)
    assert dict(challenge_of(decision).params) == step_up(MORE_RECENT, acr_values=MFA, max_age="60")


def test_s3_introspection_without_auth_time_is_challenged() -> None:
    decision = evaluate(principal("introspection", auth_time=ABSENT), RECENT_60, NOW, SETTINGS)
    assert challenge_of(decision).max_age == 60


def test_r9470_2_step_up_status_is_401() -> None:
    decision = evaluate(principal(acr=PWD), CATS, NOW, SETTINGS)
    assert (decision.status, type(decision.error)) == (401, InsufficientUserAuthentication)


def test_oidc_5_max_age_zero_allows_an_authentication_this_second() -> None:
    with pytest.warns(PolicyWarning):
        policy = Policy(max_age=0)
    assert evaluate(principal(auth_time=NOW), policy, NOW, SETTINGS).allowed


def test_oidc_5_max_age_zero_challenges_one_second_later() -> None:
    with pytest.warns(PolicyWarning):
        policy = Policy(max_age=0)
    decision = evaluate(principal(auth_time=NOW - 1), policy, NOW, SETTINGS)
    assert challenge_of(decision).param("max_age") == "0"


def test_r8176_4_no_challenge_param_names_amr() -> None:
    decision = evaluate(principal(amr=["pwd"]), OTP_60, NOW, SETTINGS)
    assert not any("amr" in name for name in challenge_of(decision).params)


def test_r9470_12_s8_invalid_token_discloses_no_requirement() -> None:
    decision = deny(InvalidToken("The access token expired"), SETTINGS)
    assert (decision.status, dict(challenge_of(decision).params)) == (
        401,
        {"realm": "api", "error": "invalid_token", "error_description": "The access token expired"},
    )


def test_r9470_13_challenge_does_not_depend_on_the_user() -> None:
    admin = principal(sub="admin", role="admin", client_id="ops", acr=PWD)
    user = principal(sub="u2", role="user", client_id="web", acr=PWD)
    assert (
        evaluate(admin, CATS, NOW, SETTINGS).headers == evaluate(user, CATS, NOW, SETTINGS).headers
    )


def test_s11_weak_tokens_keep_being_challenged() -> None:
    decisions = [
        evaluate(principal(acr=PWD, auth_time=NOW + offset - 5), CATS, NOW + offset, SETTINGS)
        for offset in range(0, 600, 60)
    ]
    assert {(d.allowed, d.error.code if d.error else None) for d in decisions} == {(False, IUA)}


def test_step_up_is_judged_before_rules() -> None:
    policy = Policy(acr_values=[MFA], rules=[Rule("never", lambda p: False)])
    assert evaluate(principal(acr=PWD), policy, NOW, SETTINGS).error.code == IUA  # type: ignore[union-attr]


def test_failing_rule_refuses_with_403_and_no_scope() -> None:
    policy = Policy(rules=[Rule("admin", lambda p: p.claims.get("role") == "admin")])
    decision = evaluate(principal(role="user"), policy, NOW, SETTINGS)
    assert (decision.status, dict(challenge_of(decision).params)) == (
        403,
        {"realm": "api", "error": "insufficient_scope", "error_description": NOT_GRANTED},
    )


def test_passing_rule_allows() -> None:
    policy = Policy(rules=[Rule("admin", lambda p: p.claims.get("role") == "admin")])
    assert evaluate(principal(role="admin"), policy, NOW, SETTINGS).allowed


# -- no credentials, anonymous routes ----------------------------------------------------------


def test_r6750_9_no_credentials_on_a_protected_route() -> None:
    decision = evaluate(None, DOGS, NOW, SETTINGS)
    assert (decision.status, dict(challenge_of(decision).params)) == (401, {"realm": "api"})


def test_r6750_18_exact_challenge_without_credentials() -> None:
    assert evaluate(None, AUTHENTICATED, NOW, SETTINGS).headers == (
        ("WWW-Authenticate", 'Bearer realm="api"'),
    )


def test_r6750_9_anonymous_route_without_token_has_no_challenge() -> None:
    decision = evaluate(None, ANONYMOUS, NOW, SETTINGS)
    assert (decision.allowed, decision.status, decision.headers) == (True, 200, ())


def test_anonymous_route_keeps_the_principal() -> None:
    somebody = principal()
    assert evaluate(somebody, ANONYMOUS, NOW, SETTINGS).principal is somebody


def test_allowed_decision_carries_the_principal() -> None:
    somebody = principal()
    assert evaluate(somebody, CATS, NOW, SETTINGS).principal is somebody


def test_r6750_10_realm_less_server_still_names_a_param() -> None:
    decision = evaluate(None, AUTHENTICATED, NOW, ChallengeSettings())
    assert dict(challenge_of(decision).params) == {"realm": "api"}


# -- every error's challenge: RFC 6750 §3, RFC 9110 §11 ----------------------------------------

ERRORS: list[Any] = [
    pytest.param(MissingCredentials(), 401, None, id="missing-credentials"),
    pytest.param(InvalidRequest(), 400, "invalid_request", id="R6750-15-invalid-request"),
    pytest.param(InvalidToken(), 401, "invalid_token", id="R6750-16-invalid-token"),
    pytest.param(InsufficientScope(), 403, "insufficient_scope", id="R6750-17-scope"),
    pytest.param(InsufficientUserAuthentication(), 401, IUA, id="R9470-2-step-up"),
    pytest.param(InvalidDPoPProof(), 401, "invalid_dpop_proof", id="dpop-proof"),
    pytest.param(UseDPoPNonce(), 401, "use_dpop_nonce", id="dpop-nonce"),
]
SETTINGS_VARIANTS = [
    pytest.param(ChallengeSettings(), id="no-realm"),
    pytest.param(SETTINGS, id="realm"),
    pytest.param(
        ChallengeSettings(
            realm="api",
            resource_metadata="https://api.example.com/.well-known/oauth-protected-resource",
            error_uri="https://api.example.com/errors",
        ),
        id="everything",
    ),
]


@pytest.mark.parametrize(("error", "status", "code"), ERRORS)
def test_r9110_5_r6750_15_16_17_status(error: AuthError, status: int, code: str | None) -> None:
    assert deny(error, SETTINGS).status == status


@pytest.mark.parametrize(("error", "status", "code"), ERRORS)
def test_r6750_13_r6750_18_error_is_named_only_with_credentials(
    error: AuthError, status: int, code: str | None
) -> None:
    assert challenge_of(deny(error, SETTINGS)).error == code


@pytest.mark.parametrize("settings", SETTINGS_VARIANTS)
@pytest.mark.parametrize(("error", "status", "code"), ERRORS)
def test_r9110_1_r6750_10_every_refusal_has_a_challenge_with_params(
    error: AuthError, status: int, code: str | None, settings: ChallengeSettings
) -> None:
    challenge = challenge_of(deny(error, settings))  # parsing also rejects repeats (R6750-11)
    assert (challenge.scheme, len(challenge.params) >= 1) == ("Bearer", True)


@pytest.mark.parametrize("settings", SETTINGS_VARIANTS[1:])
@pytest.mark.parametrize(("error", "status", "code"), ERRORS)
def test_r9110_3_realm_comes_first_and_quoted(
    error: AuthError, status: int, code: str | None, settings: ChallengeSettings
) -> None:
    header = deny(error, settings).www_authenticate
    assert header is not None and header.startswith('Bearer realm="api"')


def test_r6750_13_error_uri_is_emitted() -> None:
    settings = ChallengeSettings(realm="api", error_uri="https://api.example.com/errors")
    decision = deny(InvalidToken("Malformed access token"), settings)
    assert challenge_of(decision).param("error_uri") == "https://api.example.com/errors"


def test_r9728_resource_metadata_is_emitted_without_credentials() -> None:
    url = "https://api.example.com/.well-known/oauth-protected-resource"
    decision = evaluate(None, DOGS, NOW, ChallengeSettings(realm="api", resource_metadata=url))
    assert dict(challenge_of(decision).params) == {"realm": "api", "resource_metadata": url}


def test_r6750_12_emitted_scope_is_space_separated() -> None:
    policy = Policy(scopes=["cats:write", "cats:read"])
    decision = evaluate(principal(scope="dogs:read"), policy, NOW, SETTINGS)
    assert re.fullmatch(
        r"[!#-\[\]-~]+( [!#-\[\]-~]+)*", challenge_of(decision).param("scope") or ""
    )


def test_r6750_12_emitted_scope_names_every_required_scope() -> None:
    policy = Policy(scopes=["cats:write", "cats:read"])
    decision = evaluate(principal(scope="dogs:read"), policy, NOW, SETTINGS)
    assert challenge_of(decision).scopes == {"cats:read", "cats:write"}


def test_oidc_9_emitted_acr_values_single_spaces_no_commas() -> None:
    policy = Policy(acr_values=[HWK, MFA, PWD])
    value = challenge_of(evaluate(principal(acr="urn:x:other"), policy, NOW, SETTINGS)).param(
        "acr_values"
    )
    assert value == f"{HWK} {MFA} {PWD}"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("error_uri", "https://api.example.com/a b", id="R6750-14-space"),
        pytest.param("error_uri", "/errors", id="R6750-14-relative"),
        pytest.param("error_uri", 'https://x/"', id="R6750-14-quote"),
        pytest.param("resource_metadata", "https://x/\u00e9", id="R9728-non-ascii"),
        pytest.param("realm", 'a"b', id="R9110-3-realm-quote"),
        pytest.param("realm", "a\r\nb", id="R9110-3-realm-crlf"),
    ],
)
def test_r6750_14_unsafe_settings_fail_at_start_up(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError):
        ChallengeSettings(**{name: value})


# -- RFC 9457 problem details ------------------------------------------------------------------


def test_r9457_1_step_up_body() -> None:
    decision = evaluate(principal(auth_time=NOW - 61), RECENT_60, NOW, SETTINGS)
    assert decision.problem_details() == {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": "More recent authentication is required",
        "error": IUA,
        "max_age": 60,
    }


def test_r9457_1_header_stays_with_the_body() -> None:
    decision = evaluate(principal(auth_time=NOW - 61), RECENT_60, NOW, SETTINGS)
    assert challenge_of(decision).max_age == 60


@pytest.mark.parametrize(("error", "status", "code"), ERRORS)
def test_r9457_2_body_status_equals_response_status(
    error: AuthError, status: int, code: str | None
) -> None:
    decision = deny(error, SETTINGS)
    assert (decision.problem_details() or {}).get("status") == decision.status == status


def test_r9457_3_insufficient_scope_body() -> None:
    body = evaluate(principal(scope="dogs:read"), CATS, NOW, SETTINGS).problem_details() or {}
    assert (body["type"], body["title"], body["status"], body["scope"]) == (
        "about:blank",
        "Forbidden",
        403,
        "cats:read",
    )


def test_r9457_4_extension_member_names() -> None:
    decision = evaluate(principal(acr=PWD, scope="dogs:read"), CATS, NOW, SETTINGS)
    body = decision.problem_details() or {}
    extensions = set(body) - {"type", "title", "status", "detail", "instance"}
    assert extensions == {"error", "acr_values", "max_age", "scope"}
    assert all(re.fullmatch(r"[A-Za-z0-9_]{3,}", name) for name in extensions)


def test_r9457_4_problem_json_is_the_same_body() -> None:
    decision = evaluate(principal(acr=PWD), CATS, NOW, SETTINGS)
    assert json.loads(decision.problem_json() or b"") == decision.problem_details()


def test_r9457_missing_credentials_body_names_no_error() -> None:
    body = evaluate(None, DOGS, NOW, SETTINGS).problem_details() or {}
    assert "error" not in body


def test_r9457_allowed_decision_has_no_body() -> None:
    decision = evaluate(principal(), CATS, NOW, SETTINGS)
    assert isinstance(decision, Allowed) and not hasattr(decision, "problem_json")


def test_a_refusal_without_an_error_cannot_be_made() -> None:
    """Decision is Allowed | Refused, and a Refused must say why: no adapter guesses an error."""
    with pytest.raises(TypeError):
        Refused(401)  # type: ignore[call-arg]


def test_allowed_narrows_the_decision_type() -> None:
    decision = evaluate(principal(scope="dogs:read"), CATS, NOW, SETTINGS)
    assert not decision.allowed and isinstance(decision, Refused) and decision.error.code


def test_r9457_5_body_carries_only_the_fixed_description() -> None:
    token = "eyJhbGciOiJSUzI1NiIsImtpZCI6InNlY3JldC1raWQifQ.eyJ9.c2ln"
    body = deny(InvalidToken("Invalid token signature"), SETTINGS).problem_json() or b""
    assert (token.encode() in body, b"kid" in body, b"Traceback" in body) == (False, False, False)


def test_verifier_unavailable_is_503_with_retry_after_and_no_challenge() -> None:
    decision = deny(VerifierUnavailable(retry_after=7))
    assert (decision.status, decision.headers) == (503, (("Retry-After", "7"),))


def test_verifier_unavailable_body_blames_no_token() -> None:
    body = deny(VerifierUnavailable()).problem_details() or {}
    assert (body["status"], body["error"]) == (503, "temporarily_unavailable")


def test_other_library_error_is_500_without_headers() -> None:
    decision = deny(StepUpError())
    assert (decision.status, decision.headers) == (500, ())


# -- freshness and binding helpers -------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth_time", "max_age", "fresh"),
    [
        pytest.param(None, 60, False, id="R9470-10-OIDC-2-unknown"),
        pytest.param(NOW - 60, 60, True, id="OIDC-3-equal"),
        pytest.param(NOW - 61, 60, False, id="OIDC-3-over"),
        pytest.param(NOW - 60.25, 60, False, id="OIDC-3-fraction-over"),
        pytest.param(NOW, 0, True, id="OIDC-5-now"),
        pytest.param(NOW + 30, 0, True, id="OIDC-4-skew"),
    ],
)
def test_is_fresh(auth_time: float | None, max_age: int, fresh: bool) -> None:
    assert is_fresh(auth_time, max_age, NOW) is fresh


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"cnf": {"jkt": "abc"}}, id="R9449-17-jkt"),
        pytest.param({"token_type": "DPoP"}, id="R7662-14-token-type"),
        pytest.param({"token_type": "dpop"}, id="R7662-14-token-type-case"),
        pytest.param({"cnf": {"x5t#S256": "abc"}}, id="R8705-2-certificate"),
    ],
)
def test_check_binding_refuses_bound_tokens(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidToken):
        check_binding(principal(**changes))


def test_check_binding_accepts_a_plain_bearer_token() -> None:
    check_binding(principal(token_type="Bearer"))
