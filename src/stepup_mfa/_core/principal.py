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
        return _build(cls, dict(claims), kind)

    @classmethod
    def _from_owned_claims(cls, claims: dict[str, Any], kind: TokenKind) -> Principal:
        """:meth:`from_claims` for a dict nobody else holds (a payload just parsed): the same
        checks, kept as ``claims`` without another copy."""
        return _build(cls, claims, kind)


# The fast build: a plain slotted class with Principal's very slots is filled by ordinary
# attribute stores (the interpreter's cheapest kind) and then becomes a Principal by __class__
# assignment, which CPython allows between classes of one layout. A frozen dataclass refuses
# setattr, and its generated __init__ goes through object.__setattr__ per field: this does the
# same stores at a third of the cost. _build sets every field (a slot left unset would raise on
# read; the tests compare it with the generated __init__, field by field).


class _Draft:
    __slots__ = Principal.__slots__

    subject: str | None
    client_id: str | None
    issuer: str | None
    audience: tuple[str, ...]
    scopes: frozenset[str]
    expires_at: float | None
    not_before: float | None
    issued_at: float | None
    auth_time: float | None
    acr: str | None
    amr: tuple[str, ...]
    cnf: Mapping[str, Any] | None
    token_type: str | None
    kind: TokenKind
    claims: Mapping[str, Any]


_new_draft = object.__new__
_NO_SCOPES: frozenset[str] = frozenset()
_NO_EMPTY_SCOPE = frozenset({""})
_MAX_FLOAT = sys.float_info.max
#: The same bounds as ints (the largest float is a whole number): an int compares with an int
#: faster than with a float.
_MAX_INT_DATE = int(_MAX_FLOAT)
_MIN_INT_DATE = -_MAX_INT_DATE
_MALFORMED = "Malformed access token"


def _build(cls: type[Principal], claims: dict[str, Any], kind: TokenKind) -> Principal:
    """The one reading of claims into a :class:`Principal` (see :meth:`Principal.from_claims`);
    ``claims`` becomes the principal's (read-only) ``claims``.

    The usual shapes are checked inline; anything else goes through :func:`numeric_date`,
    :func:`_optional_string` and :func:`_audience`, which decide (every refusal is the same
    :class:`InvalidToken`, so the order of the checks is not observable).
    """
    get = claims.get
    cnf = get("cnf")
    if cnf is not None:
        if not isinstance(cnf, Mapping):
            raise InvalidToken(_MALFORMED)
        cnf = MappingProxyType(dict(cnf))
    # In a JWT a NumericDate that is present is a number: "nbf": null is not a missing nbf
    # (R7519-5; joserfc agrees, found by the differential tests). An introspection answer
    # comes from the authorization server itself, and some servers write null for a member
    # they do not set (RFC 7662 members are optional), so there null still reads as absent.
    exp, nbf, iat, auth_time = get("exp"), get("nbf"), get("iat"), get("auth_time")
    if kind == "jwt" and (
        (exp is None and "exp" in claims)
        or (nbf is None and "nbf" in claims)
        or (iat is None and "iat" in claims)
        or (auth_time is None and "auth_time" in claims)
    ):
        raise InvalidToken(_MALFORMED)
    # numeric_date, inline for an int in range (and None for an absent nbf).
    if type(exp) is not int or not _MIN_INT_DATE <= exp <= _MAX_INT_DATE:
        exp = numeric_date(exp)
    if nbf is not None:
        nbf = numeric_date(nbf)
    if type(iat) is not int or not _MIN_INT_DATE <= iat <= _MAX_INT_DATE:
        iat = numeric_date(iat)
    if type(auth_time) is not int or not _MIN_INT_DATE <= auth_time <= _MAX_INT_DATE:
        auth_time = numeric_date(auth_time)
    sub, client_id, iss = get("sub"), get("client_id"), get("iss")
    token_type = get("token_type")
    # _optional_string, inline.
    if (
        (sub is not None and not isinstance(sub, str))
        or (client_id is not None and not isinstance(client_id, str))
        or (iss is not None and not isinstance(iss, str))
        or (token_type is not None and not isinstance(token_type, str))
    ):
        raise InvalidToken(_MALFORMED)
    aud = get("aud")
    audience = (aud,) if type(aud) is str else _audience(aud)
    scope = get("scope")
    if isinstance(scope, str):
        scopes = frozenset(scope.split(" "))
        if "" in scopes:
            scopes = scopes - _NO_EMPTY_SCOPE
    else:
        scopes = _NO_SCOPES
    acr = get("acr")
    amr = get("amr")
    draft = _new_draft(_Draft)
    draft.subject = sub
    draft.client_id = client_id
    draft.issuer = iss
    draft.audience = audience
    draft.scopes = scopes
    draft.expires_at = exp
    draft.not_before = nbf
    draft.issued_at = iat
    draft.auth_time = auth_time
    draft.acr = acr if isinstance(acr, str) else None
    draft.amr = tuple([m for m in amr if isinstance(m, str)]) if isinstance(amr, list) else ()
    draft.cnf = cnf
    draft.token_type = token_type
    draft.kind = kind
    draft.claims = MappingProxyType(claims)
    draft.__class__ = Principal  # type: ignore[assignment]
    principal: Principal = draft  # type: ignore[assignment]
    if cls is not Principal:  # a subclass: through its own constructor, with the same values
        return cls(**{name: getattr(principal, name) for name in _Draft.__slots__})
    return principal


def numeric_date(value: object) -> float | None:
    """A JWT NumericDate: a finite JSON number, never a string or boolean (R7519-5, OIDC-1)."""
    if value is None:
        return None
    # An integer beyond the float range is an overflow value too: ``now - value`` would raise.
    if type(value) is int and abs(value) <= _MAX_FLOAT:
        return value
    if type(value) is float and math.isfinite(value):
        return value
    raise InvalidToken(_MALFORMED)


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
