"""JWK Set loading: from the issuer's JSON document to ready-to-use verification keys.

joserfc imports (and validates) each JWK; we keep the `cryptography` public key and the
per-algorithm signature checks built once from it, so that verifying a token does no key work.

A bad entry is skipped, never fatal for the whole set (R7517-1): an unknown ``kty``, missing or
malformed members, duplicate member names (R7517-4), an ``x5c`` whose first certificate holds
another key (R7517-5), a key meant for encryption (R7517-2, K8), a weak key (RSA under 2048 bits,
R7518-3; an EC point off its curve, R8725-6; K9), an ``alg`` outside the allowlist or
inconsistent with the key type (R7517-3, R7518-5), or a published private key. Symmetric
(``oct``) keys are never loaded from a JWKS: HMAC with a public document is attack A4.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from joserfc.jwk import ECKey, OKPKey, RSAKey

from .jws import (
    EC_ALGORITHM_FOR_CURVE,
    EDDSA_ALGORITHMS,
    RSA_ALGORITHMS,
    SignatureCheck,
    curve_name,
    signature_check,
)
from .strict_json import DuplicateMembers

#: R7518-3: RSA keys used with RS*/PS* are at least 2048 bits.
MIN_RSA_BITS = 2048
#: Most keys a JWK Set may contribute (bounds memory and the work of a hostile document).
MAX_KEYS = 100

_PUBLIC_MEMBERS = {"RSA": ("n", "e"), "EC": ("crv", "x", "y"), "OKP": ("crv", "x")}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_IMPORTERS: Mapping[str, type[RSAKey] | type[ECKey] | type[OKPKey]] = {
    "RSA": RSAKey,
    "EC": ECKey,
    "OKP": OKPKey,
}


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One usable signing key of an issuer, bound to the algorithms it may verify.

    ``thumbprint`` (RFC 7638) identifies the key material; the verified-token cache remembers it
    so that a token is served from the cache only while its key is still published.
    """

    kid: str | None
    kty: str
    thumbprint: str
    algorithms: frozenset[str]
    public_key: Any = field(repr=False, compare=False)
    checks: Mapping[str, SignatureCheck] = field(repr=False, compare=False)

    def verify(self, alg: str, signing_input: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is a valid ``alg`` signature by this key; False for other algs."""
        check = self.checks.get(alg)
        return check is not None and check(signing_input, signature)


@dataclass(frozen=True, slots=True)
class KeySet:
    """The usable keys of one JWK Set, indexed by ``kid``."""

    keys: tuple[VerificationKey, ...]
    by_kid: Mapping[str, tuple[VerificationKey, ...]]
    skipped: int = 0

    def candidates(self, kid: str | None, alg: str) -> tuple[VerificationKey, ...]:
        """Keys that may verify an ``alg`` token with this ``kid`` (R9068-14, R8725-2).

        A token without ``kid`` is tried against every key of the set that serves ``alg``.
        """
        pool = self.keys if kid is None else self.by_kid.get(kid, ())
        return tuple(key for key in pool if alg in key.algorithms)

    def has_key(self, kid: str | None, thumbprint: str) -> bool:
        """Whether the key with this ``kid`` and ``thumbprint`` is still in the set."""
        pool = self.keys if kid is None else self.by_kid.get(kid, ())
        return any(key.thumbprint == thumbprint for key in pool)


EMPTY_KEY_SET = KeySet((), {})


def _key_algorithms(
    jwk: Mapping[str, Any], public_key: object, allowed: frozenset[str]
) -> frozenset[str]:
    """The algorithms this key may verify: one key, one algorithm where the key says so.

    R8725-3 / R7517-3: a JWK ``alg`` fixes the algorithm. Without it an RSA key serves the
    allowlisted RS*/PS* algorithms, an EC key its curve's one algorithm (R7518-5), an Edwards
    key EdDSA.
    """
    if isinstance(public_key, rsa.RSAPublicKey):
        possible = RSA_ALGORITHMS
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        curve = curve_name(public_key)
        possible = frozenset({EC_ALGORITHM_FOR_CURVE[curve]}) if curve else frozenset()
    elif isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        possible = EDDSA_ALGORITHMS
    else:
        possible = frozenset()
    declared = jwk.get("alg")
    if declared is not None:
        possible = possible & {declared}
    return possible & allowed


def _usable_for_signatures(jwk: Mapping[str, Any]) -> bool:
    """R7517-2: ``use`` is ``sig`` or absent; ``key_ops``, if present, includes ``verify``."""
    use = jwk.get("use")
    if use is not None and use != "sig":
        return False
    key_ops = jwk.get("key_ops")
    if key_ops is not None:
        if not isinstance(key_ops, list) or not all(isinstance(op, str) for op in key_ops):
            return False
        if "verify" not in key_ops or len(set(key_ops)) != len(key_ops):
            return False
    return True


def _public_bytes(public_key: Any) -> bytes:
    return bytes(
        public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _x5c_matches(x5c: object, public_key: Any) -> bool:
    """R7517-5: the first certificate of ``x5c`` must hold this very key. Never a trust anchor."""
    if not isinstance(x5c, list) or not x5c or not isinstance(x5c[0], str):
        return False
    try:
        der = base64.b64decode(x5c[0], validate=True)
        certificate = x509.load_der_x509_certificate(der)
        return _public_bytes(certificate.public_key()) == _public_bytes(public_key)
    except (ValueError, binascii.Error, TypeError):
        return False


def _modulus_bits(n: str) -> int:
    try:
        return int.from_bytes(base64.urlsafe_b64decode(n + "=" * (-len(n) % 4)), "big").bit_length()
    except (ValueError, binascii.Error):
        return 0


def load_jwk(jwk: object, allowed: frozenset[str]) -> VerificationKey | None:
    """Turn one JWK into a :class:`VerificationKey`, or None when it must be skipped."""
    if not isinstance(jwk, dict) or isinstance(jwk, DuplicateMembers):
        return None
    kty = jwk.get("kty")
    members = _PUBLIC_MEMBERS.get(kty) if isinstance(kty, str) else None
    if members is None or kty is None:
        return None
    if _PRIVATE_MEMBERS.intersection(jwk):
        return None  # a published private key is a compromised key
    kid = jwk.get("kid")
    alg = jwk.get("alg")
    if (kid is not None and not isinstance(kid, str)) or (alg is not None and type(alg) is not str):
        return None
    if not _usable_for_signatures(jwk):
        return None
    public_jwk = {"kty": kty}
    for name in members:
        value = jwk.get(name)
        if not isinstance(value, str) or not value:
            return None
        public_jwk[name] = value
    if kty == "RSA" and _modulus_bits(public_jwk["n"]) < MIN_RSA_BITS:
        return None  # R7518-3 (checked before import, which would warn)
    try:
        imported = _IMPORTERS[kty].import_key(public_jwk)
        public_key = imported.public_key
        thumbprint = imported.thumbprint()
    except Exception:  # joserfc and cryptography raise many types for bad key material
        return None
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size < MIN_RSA_BITS:
        return None
    if "x5c" in jwk and not _x5c_matches(jwk["x5c"], public_key):
        return None
    algorithms = _key_algorithms(jwk, public_key, allowed)
    checks: dict[str, SignatureCheck] = {}
    for algorithm in algorithms:
        try:
            checks[algorithm] = signature_check(algorithm, public_key)
        except ValueError:
            continue
    if not checks:
        return None
    return VerificationKey(kid, kty, thumbprint, frozenset(checks), public_key, checks)


def build_key_set(keys: Iterable[VerificationKey], skipped: int = 0) -> KeySet:
    """Index ``keys`` by ``kid``."""
    ordered = tuple(keys)
    by_kid: dict[str, tuple[VerificationKey, ...]] = {}
    for key in ordered:
        if key.kid is not None:
            by_kid[key.kid] = (*by_kid.get(key.kid, ()), key)
    return KeySet(ordered, by_kid, skipped)


def load_jwk_set(document: object, allowed: frozenset[str]) -> KeySet:
    """Load a parsed JWK Set document (``{"keys": [...]}``).

    Raises :class:`ValueError` when the document itself is not a JWK Set; bad entries are
    skipped and counted in ``skipped`` (R7517-1).
    """
    if not isinstance(document, dict) or isinstance(document, DuplicateMembers):
        raise ValueError("not a JWK Set")
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise ValueError("not a JWK Set")
    loaded: list[VerificationKey] = []
    skipped = 0
    for entry in entries[:MAX_KEYS]:
        key = load_jwk(entry, allowed)
        if key is None:
            skipped += 1
        else:
            loaded.append(key)
    skipped += max(0, len(entries) - MAX_KEYS)
    return build_key_set(loaded, skipped)
