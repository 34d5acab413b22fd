"""stepup-mfa: demand fresh multi-factor authentication on high-value API endpoints.

Verify bearer tokens (JWT against the issuer's JWKS, or opaque tokens by RFC 7662 introspection),
judge them against per-route policies, and answer RFC 9470 step-up challenges when the user's last
authentication is too weak or too old.
"""

from ._core.challenge import Challenge, parse_www_authenticate, render_www_authenticate
from ._core.credentials import RequestView, TokenMethods
from ._core.decision import Allowed, ChallengeSettings, Decision, Refused, evaluate
from ._core.errors import (
    AuthError,
    ConfigurationError,
    InsufficientScope,
    InsufficientUserAuthentication,
    InvalidDPoPProof,
    InvalidRequest,
    InvalidToken,
    MalformedHeader,
    MissingCredentials,
    PolicyWarning,
    RequestTooLarge,
    StepUpError,
    UseDPoPNonce,
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
from ._core.resource_metadata import ResourceMetadata
from ._guard import Denial, Guard
from ._observe import Call, CallWatch, Observer, RecallObserver
from ._settings import StepUpSettings
from ._verify.base import TokenVerifier
from ._verify.cache import MemoryStore, Store
from ._verify.dpop import DPoP, MemoryReplayStore, ReplayStore
from ._verify.flow import (
    AsyncTransport,
    Flow,
    HttpRequest,
    HttpResponse,
    SyncTransport,
    TransportError,
)
from ._verify.introspection import (
    ClientSecretBasic,
    ClientSecretPost,
    IntrospectionVerifier,
    PrivateKeyJWT,
)
from ._verify.jwt_verifier import JWTVerifier
from ._verify.mtls import MutualTLS


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("stepup-mfa")
    except PackageNotFoundError:  # pragma: no cover - a source tree that is not installed
        return "0+unknown"


#: The installed distribution's version (PEP 440), as pip and ``stepup-mfa --version`` report it.
__version__: str = _installed_version()

__all__ = [
    "ANONYMOUS",
    "AUTHENTICATED",
    "REGISTERED_AMR",
    "SECOND_FACTOR_AMR",
    "AcrLadder",
    "Allowed",
    "AsyncTransport",
    "AuthError",
    "Call",
    "CallWatch",
    "Challenge",
    "ChallengeSettings",
    "ClientSecretBasic",
    "ClientSecretPost",
    "ConfigurationError",
    "DPoP",
    "Decision",
    "Denial",
    "Flow",
    "Guard",
    "HttpRequest",
    "HttpResponse",
    "InsufficientScope",
    "InsufficientUserAuthentication",
    "IntrospectionVerifier",
    "InvalidDPoPProof",
    "InvalidRequest",
    "InvalidToken",
    "JWTVerifier",
    "MalformedHeader",
    "MemoryReplayStore",
    "MemoryStore",
    "MissingCredentials",
    "MutualTLS",
    "Observer",
    "Policy",
    "PolicyWarning",
    "Principal",
    "PrivateKeyJWT",
    "RecallObserver",
    "Refused",
    "ReplayStore",
    "RequestTooLarge",
    "RequestView",
    "ResourceMetadata",
    "Rule",
    "StepUpError",
    "StepUpSettings",
    "Store",
    "SyncTransport",
    "TokenMethods",
    "TokenVerifier",
    "TransportError",
    "UseDPoPNonce",
    "VerifierUnavailable",
    "evaluate",
    "parse_www_authenticate",
    "render_www_authenticate",
]
