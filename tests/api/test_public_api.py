"""The public surface is a choice: this test pins it, so a new export is a deliberate change."""

from __future__ import annotations

import inspect

import stepup_mfa

PUBLIC = {
    "TransportError",
    "SyncTransport",
    "HttpResponse",
    "HttpRequest",
    "Flow",
    "AsyncTransport",
    "Store",
    "MemoryStore",
    "TokenVerifier",
    "DPoP",
    "InvalidDPoPProof",
    "MemoryReplayStore",
    "ReplayStore",
    "UseDPoPNonce",
    "MutualTLS",
    "Observer",
    "RecallObserver",
    "Call",
    "CallWatch",
    "ANONYMOUS",
    "AUTHENTICATED",
    "REGISTERED_AMR",
    "SECOND_FACTOR_AMR",
    "AcrLadder",
    "Allowed",
    "AuthError",
    "Challenge",
    "ChallengeSettings",
    "ClientSecretBasic",
    "ClientSecretPost",
    "ConfigurationError",
    "Decision",
    "Denial",
    "Guard",
    "InsufficientScope",
    "InsufficientUserAuthentication",
    "IntrospectionVerifier",
    "InvalidRequest",
    "InvalidToken",
    "JWTVerifier",
    "MalformedHeader",
    "MissingCredentials",
    "Policy",
    "PolicyWarning",
    "Principal",
    "PrivateKeyJWT",
    "Refused",
    "RequestTooLarge",
    "RequestView",
    "ResourceMetadata",
    "Rule",
    "StepUpError",
    "StepUpSettings",
    "TokenMethods",
    "VerifierUnavailable",
    "evaluate",
    "parse_www_authenticate",
    "render_www_authenticate",
}


def test_all_lists_exactly_the_public_names() -> None:
    assert set(stepup_mfa.__all__) == PUBLIC


def test_every_public_name_is_importable_and_says_where_it_lives() -> None:
    for name in stepup_mfa.__all__:
        member = getattr(stepup_mfa, name)
        if isinstance(member, type) or inspect.isfunction(member):
            assert member.__module__.startswith("stepup_mfa"), name


def test_errors_form_one_hierarchy() -> None:
    errors = [
        getattr(stepup_mfa, n)
        for n in stepup_mfa.__all__
        if isinstance(getattr(stepup_mfa, n), type)
        and issubclass(getattr(stepup_mfa, n), Exception)
        and not issubclass(getattr(stepup_mfa, n), Warning)
    ]
    assert errors
    assert all(issubclass(e, stepup_mfa.StepUpError) for e in errors)
