"""Judging a principal against a policy, and the decision that comes out.

:func:`evaluate` is the one place where access is decided. It is pure: the time is an argument,
and it does no I/O. A denial lists every unmet requirement in ONE challenge, so that a single
re-authentication satisfies the route (R9470-5, R9470-6). Challenge parameters come from the
policy only, never from the user, so a challenge cannot single out privileged accounts (R9470-13).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar, Literal

from .challenge import ABSOLUTE_URI, Challenge, params_of, render_www_authenticate, sanitize
from .errors import (
    AuthError,
    ConfigurationError,
    InsufficientScope,
    InsufficientUserAuthentication,
    InvalidToken,
    MissingCredentials,
    StepUpError,
    VerifierUnavailable,
)
from .policy import Policy
from .principal import Principal

DIFFERENT_LEVEL = "A different authentication level is required"
MORE_RECENT = "More recent authentication is required"
DEFAULT_REALM = "api"
NOT_GRANTED = "The access token does not grant access to this resource"


@dataclass(frozen=True, slots=True)
class ChallengeSettings:
    """How this resource server dresses its challenges.

    ``realm`` comes first in every challenge when set; ``resource_metadata`` is the RFC 9728
    metadata URL (R9728-11); ``error_uri`` an absolute URI of a page explaining errors (R6750-13).
    """

    realm: str | None = None
    resource_metadata: str | None = None
    error_uri: str | None = None

    def __post_init__(self) -> None:
        for name in ("realm", "resource_metadata", "error_uri"):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, str) or sanitize(value) != value:
                raise ConfigurationError(f"{name} contains characters a challenge cannot carry")
            if name != "realm" and (" " in value or not ABSOLUTE_URI.fullmatch(value)):
                raise ConfigurationError(f"{name} must be an absolute URI (R6750-14)")


@dataclass(frozen=True, slots=True)
class Allowed:
    """The request may proceed; ``principal`` is who the token speaks for (``None`` on an
    anonymous route, where no token is looked at)."""

    principal: Principal | None = None
    allowed: ClassVar[Literal[True]] = True
    status: ClassVar[int] = 200
    error: ClassVar[None] = None
    headers: ClassVar[tuple[tuple[str, str], ...]] = ()


@dataclass(frozen=True, slots=True)
class Refused:
    """The request is refused: its ``status``, the ``error`` that caused it, and the
    ``headers`` to send (``WWW-Authenticate``; ``Retry-After`` for 503).

    An error is required: a refusal that cannot say why cannot be represented, so no adapter
    has to guess one.
    """

    status: int
    error: StepUpError
    headers: tuple[tuple[str, str], ...] = ()
    allowed: ClassVar[Literal[False]] = False
    principal: ClassVar[None] = None

    @property
    def www_authenticate(self) -> str | None:
        for name, value in self.headers:
            if name == "WWW-Authenticate":
                return value
        return None

    def problem_details(self) -> dict[str, Any]:
        """An RFC 9457 body that says what the challenge says (R9457-1..5).

        ``detail`` is the library's fixed description: no token, key id or upstream text.
        """
        error = self.error
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": HTTPStatus(self.status).phrase,
            "status": self.status,
            "detail": error.description,
        }
        if isinstance(error, AuthError):
            if error.names_error:
                body["error"] = error.code
            for name, value in error.params.items():
                body[name] = int(value) if name == "max_age" else value
        else:
            body["error"] = error.code
        return body

    def problem_json(self) -> bytes:
        return json.dumps(self.problem_details()).encode()


#: The outcome for one request: :class:`Allowed` or :class:`Refused` (``decision.allowed``
#: tells them apart, and narrows the type).
Decision = Allowed | Refused

ALLOW_ANONYMOUS = Allowed()


def evaluate(
    principal: Principal | None,
    policy: Policy,
    now: float,
    settings: ChallengeSettings = ChallengeSettings(),
) -> Decision:
    """Decide whether ``principal`` (``None``: no credentials) may use a route with ``policy``."""
    if not policy.authenticated:
        return Allowed(principal)
    if principal is None:
        return deny(MissingCredentials(), settings)
    error = unmet_requirements(principal, policy, now)
    if error is None:
        return Allowed(principal)
    return deny(error, settings)


def unmet_requirements(principal: Principal, policy: Policy, now: float) -> AuthError | None:
    """The error naming every requirement of ``policy`` that ``principal`` does not meet."""
    missing_scope = not policy.scopes <= principal.scopes
    acr_unmet = bool(policy.acr_values) and principal.acr not in policy.acr_values
    amr_unmet = bool(policy.amr_groups) and any(
        group.isdisjoint(principal.amr) for group in policy.amr_groups
    )
    too_old = policy.max_age is not None and not is_fresh(principal.auth_time, policy.max_age, now)
    if acr_unmet or amr_unmet or too_old:
        return InsufficientUserAuthentication(
            DIFFERENT_LEVEL if acr_unmet or amr_unmet else MORE_RECENT,
            params_of(
                [
                    ("acr_values", " ".join(policy.acr_values) or None),
                    ("max_age", None if policy.max_age is None else str(policy.max_age)),
                    ("scope", " ".join(sorted(policy.scopes)) if missing_scope else None),
                ]
            ),
        )
    if missing_scope:
        return InsufficientScope(params=params_of([("scope", " ".join(sorted(policy.scopes)))]))
    for rule in policy.rules:
        if not rule.check(principal):
            return InsufficientScope(NOT_GRANTED)
    return None


def is_fresh(auth_time: float | None, max_age: int, now: float) -> bool:
    """Whether an authentication at ``auth_time`` is at most ``max_age`` seconds old at ``now``.

    Without ``auth_time`` recency cannot be proven, so the answer is no (R9470-10, OIDC-2). Only an
    elapsed time strictly greater than ``max_age`` fails (OIDC-3). An ``auth_time`` slightly in the
    future (clock skew, already bounded by the verifier, OIDC-4) counts as now: the window is
    ``now - min(auth_time, now)``, and the verifiers also move such an ``auth_time`` back to the
    moment they verified the token (:func:`~stepup_mfa._core.validity.settle_auth_time`), so that
    leeway never stretches ``max_age``.
    """
    if auth_time is None:
        return False
    return now - min(auth_time, now) <= max_age


def check_binding(principal: Principal) -> None:
    """Refuse sender-constrained tokens this request cannot prove possession of.

    A DPoP-bound token (``cnf.jkt``, or introspection ``token_type`` DPoP) presented as Bearer is a
    downgrade (R9449-17, R7662-14, R9449-24). A certificate-bound token (``cnf.x5t#S256``) needs the
    mutual-TLS check, which this library does not perform, so it is refused (R8705-2).
    """
    cnf = principal.cnf
    token_type = principal.token_type
    if (cnf is not None and "jkt" in cnf) or (
        token_type is not None and token_type.lower() == "dpop"
    ):
        raise InvalidToken("DPoP-bound token presented as Bearer")
    if cnf is not None and "x5t#S256" in cnf:
        raise InvalidToken("Certificate binding mismatch")


def deny(error: StepUpError, settings: ChallengeSettings = ChallengeSettings()) -> Refused:
    """The refusal for ``error``: its status and the headers that explain it."""
    if isinstance(error, AuthError):
        headers: tuple[tuple[str, str], ...] = (
            ("WWW-Authenticate", render_www_authenticate([challenge_for(error, settings)])),
        )
    elif isinstance(error, VerifierUnavailable) and error.retry_after is not None:
        headers = (("Retry-After", str(error.retry_after)),)
    else:
        headers = ()
    return Refused(error.status, error, headers)


def challenge_for(error: AuthError, settings: ChallengeSettings) -> Challenge:
    """The Bearer challenge for ``error``: realm first, then the error, then its params.

    With no credentials the challenge names no error (RFC 6750 §3.1, R6750-18).
    """
    pairs: list[tuple[str, str | None]] = [("realm", settings.realm)]
    if error.names_error:
        pairs += [
            ("error", error.code),
            ("error_description", error.description),
            ("error_uri", settings.error_uri),
        ]
    pairs += list(error.params.items())
    pairs.append(("resource_metadata", settings.resource_metadata))
    params: Mapping[str, str] = params_of(pairs)
    if not params:
        # RFC 6750 §3: a challenge always carries an auth-param; a realm-less server names one.
        params = params_of([("realm", DEFAULT_REALM)])
    return Challenge("Bearer", params)
