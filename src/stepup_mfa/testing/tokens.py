"""Mint RFC 9068 JWT access tokens with exactly the authentication facts a test needs.

A test of a step-up route needs tokens whose ``acr``, ``amr`` and ``auth_time`` it chooses: "a
password login 61 seconds ago", "an MFA login just now", "a refreshed token whose ``iat`` is new but
whose ``auth_time`` is old". :class:`TokenFactory` mints them, signed with a local key that its JWKS
publishes, so the verifier under test checks real signatures.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from joserfc import jwt

from .dpop import DPoPKey, jkt_of
from .keys import KeyRing, SigningAlgorithm, SigningKey

#: Default acr for a password-only login (the development server's default too).
PASSWORD_ACR = "urn:stepup-mfa:acr:pwd"
#: Default acr for a login with a second factor.
MFA_ACR = "urn:stepup-mfa:acr:mfa"
#: ``amr`` of a password login (RFC 8176 values).
PASSWORD_AMR: tuple[str, ...] = ("pwd",)
#: ``amr`` of a password + one-time-code login (RFC 8176 values).
MFA_AMR: tuple[str, ...] = ("pwd", "otp")

DEFAULT_ISSUER = "https://as.example.com"
DEFAULT_AUDIENCE = "https://api.example.com"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenFactory:
    """Mints signed RFC 9068 access tokens (``typ: at+jwt``) for tests.

    Every token carries the claims RFC 9068 §2.2 requires (``iss``, ``aud``, ``sub``,
    ``client_id``, ``iat``, ``exp``, ``jti``), and by default a password login that happened
    *now*: ``acr`` = :data:`PASSWORD_ACR`, ``amr`` = ``["pwd"]``, ``auth_time`` = now. Override
    any of it per token; ``omit`` removes claims, ``claims`` sets raw values of any JSON type (for
    malformed-token tests), ``header`` changes the JOSE header.

    Time comes from ``clock`` (pass the same :class:`~stepup_mfa.testing.FrozenClock` that the
    ``Guard`` uses).

    The defaults of every token: ``issuer`` (``iss``), ``audience`` (``aud``), ``client_id``,
    ``subject`` (``sub``), ``lifetime`` (seconds until ``exp``), the signing ``algorithm``, and
    the ``password_acr`` and ``mfa_acr`` values. ``keys`` is the :class:`KeyRing` to sign with (a
    new one by default; the fake issuer publishes it).
    """

    def __init__(
        self,
        issuer: str = DEFAULT_ISSUER,
        audience: str | Sequence[str] = DEFAULT_AUDIENCE,
        *,
        clock: Callable[[], float] = time.time,
        client_id: str = "test-client",
        subject: str = "user-1",
        lifetime: int = 300,
        algorithm: SigningAlgorithm = "RS256",
        password_acr: str = PASSWORD_ACR,
        mfa_acr: str = MFA_ACR,
        keys: KeyRing | None = None,
    ) -> None:
        self.issuer = issuer
        self.audience: str | list[str] = audience if isinstance(audience, str) else list(audience)
        self.clock = clock
        self.client_id = client_id
        self.subject = subject
        self.lifetime = lifetime
        self.algorithm: SigningAlgorithm = algorithm
        self.password_acr = password_acr
        self.mfa_acr = mfa_acr
        self.keys = keys if keys is not None else KeyRing()

    # -- what a token says -------------------------------------------------------------------

    def claims(
        self,
        *,
        subject: str | None = None,
        scope: str | Iterable[str] | None = None,
        mfa: bool = False,
        acr: str | None = None,
        amr: Sequence[str] | None = None,
        auth_time: float | None = None,
        auth_age: float | None = None,
        issued_at: float | None = None,
        expires_in: float | None = None,
        expires_at: float | None = None,
        audience: str | Sequence[str] | None = None,
        issuer: str | None = None,
        client_id: str | None = None,
        bound_to: DPoPKey | str | None = None,
        omit: Iterable[str] = (),
        claims: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The claims :meth:`mint` would sign, with the same arguments.

        ``subject``, ``audience``, ``issuer`` and ``client_id`` replace the factory's defaults;
        ``scope`` is a space-separated string or a list of scopes.

        ``mfa=True`` switches the defaults to an MFA login (:data:`MFA_ACR`, ``["pwd","otp"]``).
        ``auth_age`` is "seconds ago" and wins over ``auth_time``; ``expires_in`` is relative to
        ``issued_at`` (default: now), ``expires_at`` absolute. ``bound_to`` (a
        :class:`~stepup_mfa.testing.DPoPKey` or a thumbprint) makes a DPoP-bound token:
        ``cnf.jkt`` (RFC 9449 §6).
        """
        now = self.clock()
        iat = now if issued_at is None else issued_at
        if auth_age is not None:
            auth_time = now - auth_age
        elif auth_time is None:
            auth_time = now
        if expires_at is None:
            expires_at = iat + (self.lifetime if expires_in is None else expires_in)
        if isinstance(scope, str) or scope is None:
            scope_value = scope
        else:
            scope_value = " ".join(scope)
        body: dict[str, Any] = {
            "iss": self.issuer if issuer is None else issuer,
            "aud": self.audience if audience is None else _audience(audience),
            "sub": self.subject if subject is None else subject,
            "client_id": self.client_id if client_id is None else client_id,
            "iat": _numeric(iat),
            "exp": _numeric(expires_at),
            "jti": secrets.token_urlsafe(12),
            "auth_time": _numeric(auth_time),
            "acr": acr if acr is not None else (self.mfa_acr if mfa else self.password_acr),
            "amr": list(amr) if amr is not None else list(MFA_AMR if mfa else PASSWORD_AMR),
        }
        if scope_value is not None:
            body["scope"] = scope_value
        if bound_to is not None:
            body["cnf"] = {"jkt": jkt_of(bound_to)}
        for name in omit:
            body.pop(name, None)
        if claims:
            body.update(claims)
        return body

    # -- signed tokens -----------------------------------------------------------------------

    def mint(
        self,
        *,
        header: Mapping[str, Any] | None = None,
        algorithm: SigningAlgorithm | None = None,
        key: SigningKey | None = None,
        **claim_options: Any,
    ) -> str:
        """A signed access token; ``claim_options`` are those of :meth:`claims`.

        ``algorithm`` picks which of the published keys signs (default: the factory's
        ``algorithm``); ``key`` signs with any other key instead (for "signed by a key outside
        the JWKS" tests; its ``kid`` goes into the header). ``header`` entries override the
        defaults ``typ: at+jwt``, ``alg`` and ``kid``; a ``None`` value removes the entry.
        """
        body = self.claims(**claim_options)
        signing_key = key if key is not None else self.keys.current(algorithm or self.algorithm)
        protected: dict[str, Any] = {
            "alg": str(signing_key.get("alg") or algorithm or self.algorithm),
            "typ": "at+jwt",
            "kid": str(signing_key.kid),
        }
        for name, value in (header or {}).items():
            if value is None:
                protected.pop(name, None)
            else:
                protected[name] = value
        return jwt.encode(protected, body, signing_key, algorithms=[str(protected["alg"])])

    def mfa_token(self, **claim_options: Any) -> str:
        """A token from an MFA login (``auth_age`` seconds ago, default now); ``claim_options``
        are :meth:`mint`'s keywords."""
        return self.mint(mfa=True, **claim_options)

    def password_token(self, **claim_options: Any) -> str:
        """A token from a password-only login; ``claim_options`` are :meth:`mint`'s keywords."""
        return self.mint(mfa=False, **claim_options)

    def client_credentials_token(self, **claim_options: Any) -> str:
        """A token with no user behind it: ``sub`` is the client, no ``auth_time``/``acr``/``amr``
        (R9068-15), so it can never satisfy a step-up route. ``claim_options`` are
        :meth:`mint`'s keywords."""
        client_id = claim_options.pop("client_id", None) or self.client_id
        omit = (*claim_options.pop("omit", ()), "auth_time", "acr", "amr")
        return self.mint(subject=client_id, client_id=client_id, omit=omit, **claim_options)

    def unsigned(self, header: Mapping[str, Any] | None = None, **claim_options: Any) -> str:
        """An ``alg: none`` token with an empty signature, for "refuse unsigned tokens" tests
        (R9068-2). joserfc refuses to produce one, so it is assembled by hand. ``header`` changes
        the JOSE header; ``claim_options`` are :meth:`claims`' keywords."""
        protected = {"alg": "none", "typ": "at+jwt", **(header or {})}
        body = self.claims(**claim_options)
        return ".".join(
            (
                _b64url(json.dumps(protected, separators=(",", ":")).encode()),
                _b64url(json.dumps(body, separators=(",", ":")).encode()),
                "",
            )
        )

    # -- keys ---------------------------------------------------------------------------------

    @property
    def jwks(self) -> dict[str, Any]:
        """The public JWKS the issuer publishes (RS256 and ES256 keys, retired keys after them)."""
        return self.keys.public_jwks()

    def rotate_keys(self, *, keep_previous: bool = True) -> None:
        """New signing keys; with ``keep_previous=False`` the old ones are dropped. See
        :meth:`KeyRing.rotate`."""
        self.keys.rotate(keep_previous=keep_previous)


def _audience(value: str | Sequence[str]) -> str | list[str]:
    return value if isinstance(value, str) else list(value)


def _numeric(value: float) -> int | float:
    """NumericDate as an integer when it is whole, as most issuers send it."""
    return int(value) if float(value).is_integer() else value
