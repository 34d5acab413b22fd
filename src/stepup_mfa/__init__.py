"""stepup-mfa: demand fresh multi-factor authentication on high-value API endpoints.

Verify bearer tokens (JWT against the issuer's JWKS, or opaque tokens by RFC 7662 introspection),
judge them against per-route policies, and answer RFC 9470 step-up challenges when the user's last
authentication is too weak or too old.
"""

from ._core.challenge import Challenge, parse_www_authenticate, render_www_authenticate
from ._core.credentials import RequestView, TokenMethods
from ._core.decision import ChallengeSettings, Decision, evaluate
from ._core.errors import (
    AuthError,
    ConfigurationError,
    InsufficientScope,
    InsufficientUserAuthentication,
    InvalidRequest,
    InvalidToken,
    MalformedHeader,
    MissingCredentials,
    PolicyWarning,
    StepUpError,
    VerifierUnavailable,
)
from ._core.policy import (
    ANONYMOUS,
    AUTHENTICATED,
    REGISTERED_AMR,
    SECOND_FACTOR_AMR,
    AcrLadder,
    Policy,
    Rule,
)
from ._core.principal import Principal
from ._guard import Denial, Guard
from ._settings import StepUpSettings
from ._verify.introspection import (
    ClientSecretBasic,
    ClientSecretPost,
    IntrospectionVerifier,
    PrivateKeyJWT,
)
from ._verify.jwt_verifier import JWTVerifier

__all__ = [
    "ANONYMOUS",
    "AUTHENTICATED",
    "REGISTERED_AMR",
    "SECOND_FACTOR_AMR",
    "AcrLadder",
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
    "RequestView",
    "Rule",
    "StepUpError",
    "StepUpSettings",
    "TokenMethods",
    "VerifierUnavailable",
    "evaluate",
    "parse_www_authenticate",
    "render_www_authenticate",
]
