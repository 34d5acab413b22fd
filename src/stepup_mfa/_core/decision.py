"""Judging a principal against a policy, and the decision that comes out.

:func:`evaluate` is the one place where access is decided. It is pure: the time is an argument,
and it does no I/O. A denial lists every unmet requirement in ONE challenge, so that a single
re-authentication satisfies the route (R9470-5, R9470-6). Challenge parameters come from the
policy only, never from the user, so a challenge cannot single out privileged accounts (R9470-13).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
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
    UseDPoPNonce,
    VerifierUnavailable,
)
from .policy import Policy
from .principal import Principal
from .requirements import assess
from .requirements import is_fresh as is_fresh  # re-exported: its home moved

#: Which scheme a request tried: one of them, or both at once (RFC 9449 §7.2).
Attempt = Literal["Bearer", "DPoP", "both"]

DIFFERENT_LEVEL = "A different authentication level is required"
MORE_RECENT = "More recent authentication is required"
DEFAULT_REALM = "api"
NOT_GRANTED = "The access token does not grant access to this resource"


@dataclass(frozen=True, slots=True)
class ChallengeSettings:
    """How this resource server dresses its challenges.

    ``realm`` comes first in every challenge when set; ``resource_metadata`` is the RFC 9728
    metadata URL (R9728-11); ``error_uri`` an absolute URI of a page explaining errors (R6750-13).
    ``dpop_algs``: when set, DPoP is accepted and every refusal also offers a ``DPoP`` challenge
    with these algorithms (RFC 9449 §7.1, R9449-18, R9449-19).
    """

    realm: str | None = None
    resource_metadata: str | None = None
    error_uri: str | None = None
    dpop_algs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for alg in self.dpop_algs:
            if not isinstance(alg, str) or not alg.isalnum():
                raise ConfigurationError("dpop_algs must be algorithm names")
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
        """The RFC 9457 problem details body, as JSON bytes."""
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
    attempt: Attempt = "Bearer",
) -> Decision:
    """Decide whether ``principal`` (``None``: no credentials) may use a route with ``policy``.

    ``now`` is the current time in seconds since the epoch (the core reads no clock);
    ``settings`` dress the challenge of a refusal. ``attempt`` is the scheme the token came with:
    a step-up refusal of a DPoP request is a ``DPoP`` challenge (R9470-7).
    """
    if not policy.authenticated:
        return Allowed(principal)
    if principal is None:
        return deny(MissingCredentials(), settings)
    error = unmet_requirements(principal, policy, now)
    if error is None:
        return Allowed(principal)
    return deny(error, settings, attempt)


def unmet_requirements(principal: Principal, policy: Policy, now: float) -> AuthError | None:
    """The error naming every requirement of ``policy`` that ``principal`` does not meet.

    Each requirement is judged by :func:`~stepup_mfa._core.requirements.assess` (the one home
    that ``stepup-mfa doctor`` also reports from); the application's rules come last.
    """
    assessment = assess(principal, policy, now)
    missing_scope = bool(assessment.missing_scopes)
    if assessment.needs_step_up:
        return InsufficientUserAuthentication(
            DIFFERENT_LEVEL
            if not assessment.acr_met or assessment.unmet_amr_groups
            else MORE_RECENT,
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


BOUND_AS_BEARER = "DPoP-bound token presented as Bearer"
NOT_BOUND = "DPoP scheme used with a token that is not DPoP-bound"
BOUND_REQUIRED = "A sender-constrained (DPoP- or certificate-bound) token is required"
INCONSISTENT_BINDING = "Inconsistent DPoP binding"
CERTIFICATE_MISMATCH = "Certificate binding mismatch"


def certificate_thumbprint(der: bytes) -> str:
    """RFC 8705 §3.1 ``x5t#S256``: the unpadded base64url SHA-256 of a certificate's DER bytes."""
    digest = hashlib.sha256(der).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def dpop_thumbprint(principal: Principal) -> str | None:
    """The RFC 7638 thumbprint the token is bound to (``cnf.jkt``), ``None`` for an unbound token.

    Raises :class:`InvalidToken` for an inconsistent binding: ``token_type`` DPoP without a
    ``cnf.jkt``, a ``cnf.jkt`` with another ``token_type`` (R9449-24), a ``jkt`` not a string.
    """
    cnf = principal.cnf
    jkt = cnf.get("jkt") if cnf is not None else None
    token_type = principal.token_type
    says_dpop = token_type is not None and token_type.lower() == "dpop"
    if jkt is None:
        if says_dpop:
            raise InvalidToken(INCONSISTENT_BINDING)
        return None
    if not isinstance(jkt, str) or not jkt or (token_type is not None and not says_dpop):
        raise InvalidToken(INCONSISTENT_BINDING)
    return jkt


def check_certificate(principal: Principal, client_cert: bytes | None) -> bool:
    """Whether the token is certificate-bound, raising unless ``client_cert`` is its certificate.

    RFC 8705 §3: a token with ``cnf["x5t#S256"]`` (in a JWT, §3.1, or an introspection answer,
    §3.2) is only valid from a client that presented, on the TLS connection, the certificate whose
    thumbprint it names: no certificate (R8705-2) or another one (R8705-1, R8705-4) is
    ``invalid_token``. The value is compared exactly with :func:`certificate_thumbprint` of the
    DER bytes, so a padded value or a hash of the PEM text never matches (R8705-3). The chain is
    not validated: possession of the key is what the TLS handshake proved (R8705-5).
    """
    cnf = principal.cnf
    if cnf is None or "x5t#S256" not in cnf:
        return False
    expected = cnf["x5t#S256"]
    if client_cert is None or not isinstance(expected, str) or not expected.isascii():
        raise InvalidToken(CERTIFICATE_MISMATCH)
    actual = certificate_thumbprint(client_cert)
    if not hmac.compare_digest(expected.encode("ascii"), actual.encode("ascii")):
        raise InvalidToken(CERTIFICATE_MISMATCH)
    return True


def check_binding(
    principal: Principal,
    policy: Policy | None = None,
    client_cert: bytes | None = None,
    *,
    proof: bool = False,
) -> None:
    """Refuse sender-constrained tokens the request cannot prove possession of.

    The one home of the binding rule. ``client_cert`` is the DER certificate the client presented
    on the TLS connection (``None``: none, or mutual TLS is not configured); ``proof`` says that a
    DPoP proof for the token's ``cnf.jkt`` was checked (``Authorization: DPoP``).

    - A certificate-bound token (``cnf.x5t#S256``) needs that certificate, whatever the scheme
      (:func:`check_certificate`, R8705-1..4).
    - A DPoP-bound token (``cnf.jkt``, or introspection ``token_type`` DPoP) without a proof is a
      downgrade (R9449-17, R7662-14, R9449-24).
    - A route whose policy has ``require_bound_token`` accepts a DPoP proof or a matching
      certificate, and refuses every other token.
    """
    certificate_bound = check_certificate(principal, client_cert)
    if proof:
        return
    cnf = principal.cnf
    token_type = principal.token_type
    if (cnf is not None and "jkt" in cnf) or (
        token_type is not None and token_type.lower() == "dpop"
    ):
        raise InvalidToken(BOUND_AS_BEARER)
    if policy is not None and policy.require_bound_token and not certificate_bound:
        raise InvalidToken(BOUND_REQUIRED)


def deny(
    error: StepUpError,
    settings: ChallengeSettings = ChallengeSettings(),
    attempt: Attempt = "Bearer",
) -> Refused:
    """The refusal for ``error``: its status and the headers that explain it.

    ``attempt`` is the scheme the request tried (RFC 9449 §7.2, R9449-19): a Bearer attempt gets
    the Bearer challenge with the error (and ``DPoP algs=...`` when DPoP is on), a DPoP attempt the
    ``DPoP`` challenge with the error, an ambiguous one the error in both.
    """
    if isinstance(error, AuthError):
        challenges: list[Challenge] = []
        if attempt != "DPoP":
            challenges.append(challenge_for(error, settings))
        if settings.dpop_algs:
            named = error if attempt != "Bearer" else MissingCredentials()
            challenges.append(dpop_challenge_for(named, settings, realm=attempt == "DPoP"))
        headers: tuple[tuple[str, str], ...] = (
            ("WWW-Authenticate", render_www_authenticate(challenges)),
        )
        if isinstance(error, UseDPoPNonce) and error.nonce is not None:
            headers += (("DPoP-Nonce", error.nonce),)
    elif isinstance(error, VerifierUnavailable) and error.retry_after is not None:
        headers = (("Retry-After", str(error.retry_after)),)
    else:
        headers = ()
    return Refused(error.status, error, headers)


def _error_pairs(error: AuthError, settings: ChallengeSettings) -> list[tuple[str, str | None]]:
    """The auth-params that name an error, in the order every scheme's challenge gives them."""
    return [
        ("error", error.code),
        ("error_description", error.description),
        ("error_uri", settings.error_uri),
    ]


def challenge_for(error: AuthError, settings: ChallengeSettings) -> Challenge:
    """The Bearer challenge for ``error``: realm first, then the error, then its params.

    With no credentials the challenge names no error (RFC 6750 §3.1, R6750-18).
    """
    pairs: list[tuple[str, str | None]] = [("realm", settings.realm)]
    if error.names_error:
        pairs += _error_pairs(error, settings)
    pairs += list(error.params.items())
    pairs.append(("resource_metadata", settings.resource_metadata))
    params: Mapping[str, str] = params_of(pairs)
    if not params:
        # RFC 6750 §3: a challenge always carries an auth-param; a realm-less server names one.
        params = params_of([("realm", DEFAULT_REALM)])
    return Challenge("Bearer", params)


def dpop_challenge_for(error: AuthError, settings: ChallengeSettings, realm: bool) -> Challenge:
    """The ``DPoP`` challenge (RFC 9449 §7.1, R9449-18): the error when this scheme's attempt
    failed, then ``algs``. ``realm`` leads it when it is the only challenge."""
    pairs: list[tuple[str, str | None]] = [("realm", settings.realm if realm else None)]
    if error.names_error:
        pairs += _error_pairs(error, settings)
        pairs += list(error.params.items())
    pairs.append(("algs", " ".join(settings.dpop_algs)))
    return Challenge("DPoP", params_of(pairs))
