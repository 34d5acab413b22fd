"""One small error hierarchy; every error knows its HTTP form.

Each error carries a stable ``code`` (the RFC 6750 / 9470 / 9449 error code, or a library code for
failures that are not the client's fault), the HTTP ``status`` it maps to, and the auth-params its
challenge adds. Descriptions are fixed strings chosen by the library, never text taken from a
request, so nothing a caller sends can reach a response header (R6750-14, R6750-21, R9457-5).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_NO_PARAMS: Mapping[str, str] = MappingProxyType({})


class StepUpError(Exception):
    """Base of every error raised by stepup-mfa.

    ``description`` replaces the class's default human-readable text (``error_description`` in a
    challenge); it never carries token contents.
    """

    code: str = "server_error"
    status: int = 500
    description: str = "Internal error"

    def __init__(self, description: str | None = None) -> None:
        if description is not None:
            self.description = description
        super().__init__(self.description)


class ConfigurationError(StepUpError, ValueError):
    """A policy, verifier or adapter was configured with a value that cannot work.

    Raised when the application starts, never while serving a request.
    """

    code = "configuration_error"


class MalformedHeader(StepUpError, ValueError):
    """A ``WWW-Authenticate`` value that does not follow RFC 9110 §11 (raised by the parser)."""

    code = "malformed_header"


class PolicyWarning(UserWarning):
    """A policy that works but is probably not what was meant (unregistered ``amr``, max_age 0)."""


class AuthError(StepUpError):
    """A request is refused; the response carries a ``WWW-Authenticate`` challenge.

    ``description`` is the ``error_description`` (the class's default when ``None``).

    ``params`` are the auth-params that follow ``error`` and ``error_description`` in the
    challenge (``scope``, ``acr_values``, ``max_age``); they come from the route's policy, never
    from the user or the token (R9470-13).
    """

    status = 401
    #: Whether the challenge names the error (RFC 6750 §3.1: not when no credentials were sent).
    names_error = True

    def __init__(
        self, description: str | None = None, params: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(description)
        self.params: Mapping[str, str] = params if params is not None else _NO_PARAMS


class MissingCredentials(AuthError):
    """No credentials, or a scheme this server does not support (RFC 6750 §3.1, R6750-18)."""

    code = "missing_credentials"
    description = "Authentication required"
    names_error = False


class InvalidRequest(AuthError):
    """The request is malformed: several credentials, bad syntax (RFC 6750 §3.1, R6750-15)."""

    code = "invalid_request"
    status = 400
    description = "Malformed Authorization header"


class RequestTooLarge(InvalidRequest):
    """A form body too large to be searched for ``access_token`` (library limit, BIND-9)."""

    status = 413
    description = "Request body too large"


class InvalidToken(AuthError):
    """The token is expired, revoked, malformed or otherwise invalid (RFC 6750 §3.1, R6750-16)."""

    code = "invalid_token"
    description = "Invalid token"


class InsufficientScope(AuthError):
    """The token is valid but lacks a required scope (RFC 6750 §3.1, R6750-17)."""

    code = "insufficient_scope"
    status = 403
    description = "The access token lacks a required scope"


class InsufficientUserAuthentication(AuthError):
    """The authentication behind the token is too weak or too old (RFC 9470 §3, R9470-1)."""

    code = "insufficient_user_authentication"
    description = "More recent authentication is required"


class InvalidDPoPProof(AuthError):
    """The DPoP proof is missing, malformed or does not match the request (RFC 9449 §7.1)."""

    code = "invalid_dpop_proof"
    description = "Invalid DPoP proof"


class UseDPoPNonce(AuthError):
    """The resource server requires a fresh DPoP nonce (RFC 9449 §9).

    ``description`` and ``params`` as for :class:`AuthError`; ``nonce`` is the fresh nonce the
    refusal hands out in ``DPoP-Nonce``.
    """

    code = "use_dpop_nonce"
    description = "Resource server requires nonce in DPoP proof"

    def __init__(
        self,
        description: str | None = None,
        params: Mapping[str, str] | None = None,
        *,
        nonce: str | None = None,
    ) -> None:
        super().__init__(description, params)
        #: The fresh nonce the refusal hands out in ``DPoP-Nonce`` (R9449-20, R9449-21).
        self.nonce = nonce


class VerifierUnavailable(StepUpError):
    """The authorization server (metadata, JWKS or introspection) cannot be used right now.

    Fail closed: the request is refused with 503 and the client's token is not blamed
    (R7662-3, R8414-3). ``retry_after`` is a hint in seconds for the ``Retry-After`` header.
    ``cause`` says what precisely went wrong and the likely fix (a wrong issuer path, an HTML
    page where metadata belongs, https to an http server...): it is part of ``str(error)``, so
    start-up errors and logs show it, and never part of a response (``description`` is).
    """

    code = "temporarily_unavailable"
    status = 503
    description = "The authorization server cannot be reached; try again later"

    def __init__(
        self,
        description: str | None = None,
        retry_after: int | None = 5,
        cause: str | None = None,
    ) -> None:
        super().__init__(description)
        self.retry_after = retry_after
        self.cause = cause

    def __str__(self) -> str:
        return self.description if self.cause is None else f"{self.description}: {self.cause}"
