"""Who a verified token speaks for, and how that party authenticated.

A :class:`Principal` is built only from claims whose integrity was already established (a verified
JWT signature, or an introspection answer from the authorization server). Building it checks the
*types* of the claims; whether the token is for us (``iss``, ``aud``) and still valid is the
verifier's job, and whether it satisfies a route is the policy's.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from .errors import InvalidToken

TokenKind = Literal["jwt", "introspection"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_DATES = ("exp", "nbf", "iat", "auth_time")


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified facts of one access token.

    ``auth_time``, ``acr`` and ``amr`` describe the user's original authentication and do not
    change when a token is refreshed (RFC 9068 §2.2.1); recency is judged from ``auth_time`` only.

    - ``subject``: ``sub``, the user (or, for a client-credentials token, the client).
    - ``client_id``: the OAuth client the token was issued to.
    - ``issuer``: ``iss``; ``audience``: every ``aud`` value.
    - ``scopes``: the granted scopes (``scope``, split on spaces).
    - ``expires_at``, ``not_before``, ``issued_at``: ``exp``, ``nbf``, ``iat`` (seconds since the
      epoch).
    - ``cnf``: the confirmation claim of a sender-constrained token (``jkt`` for DPoP, RFC 9449
      §6; ``x5t#S256`` for mTLS, RFC 8705 §3.1).
    - ``token_type``: the introspection answer's ``token_type`` (``Bearer``, ``DPoP``).
    - ``kind``: ``"jwt"`` or ``"introspection"``, how the token was verified.
    - ``claims``: every claim as received, for the application's own rules.
    """

    subject: str | None
    client_id: str | None = None
    issuer: str | None = None
    audience: tuple[str, ...] = ()
    scopes: frozenset[str] = frozenset()
    expires_at: float | None = None
    not_before: float | None = None
    issued_at: float | None = None
    auth_time: float | None = None
    acr: str | None = None
    amr: tuple[str, ...] = ()
    cnf: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)
    token_type: str | None = None
    kind: TokenKind = "jwt"
    claims: Mapping[str, Any] = field(
        default_factory=lambda: _EMPTY, compare=False, hash=False, repr=False
    )

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any], kind: TokenKind = "jwt") -> Principal:
        """Build a principal from JWT ``claims`` (RFC 9068) or an introspection answer (RFC 7662).

        ``kind`` records which of the two it was (``"jwt"`` or ``"introspection"``).

        Raises :class:`InvalidToken` when a claim has a type the specifications forbid
        (OIDC-1, R7519-1, R7519-5). Shapes that merely fail to prove something are read as
        absent instead: a non-string ``acr`` (OIDC-6), a non-array ``amr`` or its non-string
        entries (OIDC-8, R8176-2), a non-string ``scope`` (R9068-12). They then satisfy no
        requirement, so a route that needs them challenges instead of allowing.
        """
        get = claims.get
        acr = get("acr")
        amr = get("amr")
        scope = get("scope")
        cnf = get("cnf")
        if cnf is not None and not isinstance(cnf, Mapping):
            raise InvalidToken("Malformed access token")
        # In a JWT a NumericDate that is present is a number: "nbf": null is not a missing nbf
        # (R7519-5; joserfc agrees, found by the differential tests). An introspection answer
        # comes from the authorization server itself, and some servers write null for a member
        # they do not set (RFC 7662 members are optional), so there null still reads as absent.
        if kind == "jwt":
            for name in _DATES:
                if name in claims and claims[name] is None:
                    raise InvalidToken("Malformed access token")
        return cls(
            subject=_optional_string(get("sub")),
            client_id=_optional_string(get("client_id")),
            issuer=_optional_string(get("iss")),
            audience=_audience(get("aud")),
            scopes=frozenset(s for s in scope.split(" ") if s)
            if isinstance(scope, str)
            else frozenset(),
            expires_at=numeric_date(get("exp")),
            not_before=numeric_date(get("nbf")),
            issued_at=numeric_date(get("iat")),
            auth_time=numeric_date(get("auth_time")),
            acr=acr if isinstance(acr, str) else None,
            amr=tuple(m for m in amr if isinstance(m, str)) if isinstance(amr, list) else (),
            cnf=MappingProxyType(dict(cnf)) if cnf is not None else None,
            token_type=_optional_string(get("token_type")),
            kind=kind,
            claims=MappingProxyType(dict(claims)),
        )


def numeric_date(value: object) -> float | None:
    """A JWT NumericDate: a finite JSON number, never a string or boolean (R7519-5, OIDC-1)."""
    if value is None:
        return None
    # An integer beyond the float range is an overflow value too: ``now - value`` would raise.
    if type(value) is int and abs(value) <= sys.float_info.max:
        return value
    if type(value) is float and math.isfinite(value):
        return value
    raise InvalidToken("Malformed access token")


def _optional_string(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InvalidToken("Malformed access token")


def _audience(value: object) -> tuple[str, ...]:
    """``aud`` is a string or an array of strings (R7519-1)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(a, str) for a in value):
        return tuple(value)
    raise InvalidToken("Malformed access token")
