"""Compact JWS parsing and signature checks: the CPU-only hot path of JWT verification.

Why not call joserfc (or PyJWT) here: they re-parse keys, re-build padding and hash objects and
walk generic registries on every call, which costs 1.5x-3x the RSA verification itself. This
module does the minimum a compact JWS needs, strictly, and hands the signature to `cryptography`
with objects built once per key. Keys are imported (and validated) with joserfc in ``jwks.py``.

Strictness, each with its checklist id:

- R7515-1 / R8725-15 / P11: three base64url segments, no padding, no whitespace, nothing else.
- R7515-2 / R7519-3 / H5 / T8 / R7515-7 / R8725-8 / R7519-6 / T9: header and payload are read by
  the one strict JSON reader (``strict_json.py``: no duplicate names, UTF-8 only, no lone
  surrogates, no non-finite numbers, one object with nothing after it).
- R7518-4 / A8 / A9: ECDSA signatures are R||S of the exact length with 0 < r, s < n.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

from .._core.errors import InvalidToken
from .strict_json import MalformedJSON, loads_strict_object

#: The RSA algorithms (RFC 7518 §3.3, §3.5).
RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
#: Each ECDSA algorithm and the one curve it works with (RFC 7518 §3.4, R7518-5).
EC_ALGORITHM_FOR_CURVE = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
EC_ALGORITHMS = frozenset(EC_ALGORITHM_FOR_CURVE.values())
#: Edwards-curve signatures (RFC 8037); opt-in.
EDDSA_ALGORITHMS = frozenset({"EdDSA"})
#: Every algorithm this module can verify. Symmetric (HS*) and ``none`` are deliberately absent.
SUPPORTED_ALGORITHMS = RSA_ALGORITHMS | EC_ALGORITHMS | EDDSA_ALGORITHMS

#: A token longer than this is refused before any decoding (bounded CPU and memory; K3).
DEFAULT_MAX_TOKEN_LENGTH = 16 * 1024


_MALFORMED = "Malformed access token"


_TO_STANDARD_ALPHABET = bytes.maketrans(b"-_", b"+/")
_PADDING = (b"", b"===", b"==", b"=")
_BASE64URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_BASE64URL_AND_DOT = _BASE64URL + b"."
#: Every byte that is neither base64url nor ".": the split deletes them in the same pass that
#: translates to the standard alphabet, so a shorter result means the token held one.
_OUTSIDE_BASE64URL_AND_DOT = bytes(sorted(set(range(256)) - set(_BASE64URL_AND_DOT)))
#: The 6-bit value of each character of a segment as the split returns it (the standard alphabet,
#: "+" and "/" for base64url's "-" and "_"), by byte; 0 for bytes outside the alphabet.
_SEXTET = [0] * 256
for _value, _char in enumerate(_BASE64URL.translate(_TO_STANDARD_ALPHABET)):
    _SEXTET[_char] = _value
#: Bits of the last character that fall outside the data, by ``len(segment) % 4``.
_UNUSED_BITS = (0, 0, 0x0F, 0x03)


def decode_segment(segment: bytes) -> bytes:
    """Decode one segment of a compact JWS as :func:`split_compact_jws` returns it (its
    base64url characters already in the standard alphabet, alphabet checked).

    Canonical only (RFC 4648 §3.5, R7515-1, P11): the bits of the last character that carry no
    data must be zero, so each signature, header and payload has exactly one spelling (otherwise
    one token has 16 spellings, hence 16 cache keys and 16 log identities). A length of 4k+1
    cannot be base64. Both raise :class:`binascii.Error`. (binascii rather than
    ``base64.urlsafe_b64decode``: half the cost.)
    """
    remainder = len(segment) % 4
    if remainder == 1 or (remainder and _SEXTET[segment[-1]] & _UNUSED_BITS[remainder]):
        raise binascii.Error("not canonical base64url")
    return binascii.a2b_base64(segment + _PADDING[remainder])


def split_compact_jws(
    token: str, max_length: int = DEFAULT_MAX_TOKEN_LENGTH
) -> tuple[bytes, bytes, bytes, bytes]:
    """``(header, payload, signature, signing_input)`` of a compact JWS: the three segments for
    :func:`decode_segment`, :func:`decode_json_segment` and :func:`decode_signature` (their
    base64url characters in the standard alphabet), and the bytes the signature covers.

    R7515-1, R8725-15, P11: exactly three non-empty base64url segments without padding or
    whitespace; a 5-segment JWE (R9068-9, H4), an empty signature (A1, A10) or an over-long
    token (K3) raise :class:`InvalidToken`. (One byte translation both checks the alphabet and
    translates it, rather than a regex: a third of the cost, and the bytes are what the decoder
    and the signature check need.)
    """
    if len(token) > max_length:
        raise InvalidToken(_MALFORMED)
    try:
        data = token.encode("ascii")
    except UnicodeEncodeError:
        raise InvalidToken(_MALFORMED) from None
    standard = data.translate(_TO_STANDARD_ALPHABET, _OUTSIDE_BASE64URL_AND_DOT)
    if len(standard) != len(data):  # a byte outside the alphabet was deleted
        raise InvalidToken(_MALFORMED)
    # Exactly two dots with something before, between and after them (find is a memchr, where
    # split compares byte by byte).
    first = standard.find(b".")
    second = standard.find(b".", first + 1)
    if (
        first < 1  # no dot, or an empty header
        or second < first + 2  # one dot only, or an empty payload
        or second == len(standard) - 1  # an empty signature
        or standard.find(b".", second + 1) != -1  # more than three segments (a JWE has five)
    ):
        raise InvalidToken(_MALFORMED)
    return standard[:first], standard[first + 1 : second], standard[second + 1 :], data[:second]


def decode_json_segment(segment: bytes) -> dict[str, Any]:
    """A segment from :func:`split_compact_jws` holding one strict UTF-8 JSON object, or
    :class:`InvalidToken`.

    R7515-2, R7519-3 (duplicate names), R7515-7, R8725-8 (UTF-8, strict JSON), R7519-6 (an
    object, not ``[]``, ``"x"`` or ``null``): the rules of ``strict_json.py``.
    """
    try:
        return loads_strict_object(decode_segment(segment).decode("utf-8"))
    except (MalformedJSON, binascii.Error, ValueError):
        raise InvalidToken(_MALFORMED) from None


def decode_signature(segment: bytes) -> bytes:
    """The signature bytes of a compact JWS (its segment from :func:`split_compact_jws`), or
    :class:`InvalidToken`."""
    try:
        return decode_segment(segment)
    except (binascii.Error, ValueError):
        raise InvalidToken(_MALFORMED) from None


@dataclass(frozen=True, slots=True)
class CompactJWS:
    """A compact JWS split and decoded, signature not yet checked."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


def parse_compact_jws(token: str, max_length: int = DEFAULT_MAX_TOKEN_LENGTH) -> CompactJWS:
    """Split and decode a compact JWS whose header and payload are JSON objects (a JWT).

    Raises :class:`InvalidToken` for anything that is not exactly that (see
    :func:`split_compact_jws` and :func:`decode_json_segment`).
    """
    header_b64, payload_b64, signature_b64, signing_input = split_compact_jws(token, max_length)
    header = decode_json_segment(header_b64)
    payload = decode_json_segment(payload_b64)
    signature = decode_signature(signature_b64)
    return CompactJWS(header, payload, signing_input, signature)


#: ``check(signing_input, signature) -> bool``, built once per (key, algorithm).
SignatureCheck = Callable[[bytes, bytes], bool]

_HASHES: dict[str, hashes.HashAlgorithm] = {
    "256": hashes.SHA256(),
    "384": hashes.SHA384(),
    "512": hashes.SHA512(),
}

#: Group orders of the NIST curves (FIPS 186-4 D.1.2), for the 0 < r, s < n check (R7518-4).
_CURVE_ORDER = {
    "P-256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "P-384": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
        "581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
    # 521 bits (an earlier spelling had 56 extra bits: r, s >= n then reached OpenSSL, which
    # refused them too).
    "P-521": int(
        "01FF" + "FFFFFFFF" * 7 + "FFFFFFFA"
        "51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
        16,
    ),
}
_CURVE_FOR_NAME = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
_COORDINATE_BYTES = {"P-256": 32, "P-384": 48, "P-521": 66}


def curve_name(public_key: ec.EllipticCurvePublicKey) -> str | None:
    """The JOSE name (``P-256``...) of an EC key's curve, or None for curves JOSE does not use."""
    return _CURVE_FOR_NAME.get(public_key.curve.name)


def _rsa_check(public_key: rsa.RSAPublicKey, alg: str) -> SignatureCheck:
    hash_algorithm = _HASHES[alg[2:]]
    pad: padding.AsymmetricPadding
    if alg.startswith("PS"):
        # RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash output.
        pad = padding.PSS(padding.MGF1(hash_algorithm), hash_algorithm.digest_size)
    else:
        pad = padding.PKCS1v15()
    verify = public_key.verify
    modulus_bytes = (public_key.key_size + 7) // 8

    def check(signing_input: bytes, signature: bytes) -> bool:
        if len(signature) != modulus_bytes:
            return False
        try:
            verify(signature, signing_input, pad, hash_algorithm)
        except (InvalidSignature, ValueError):
            return False
        return True

    return check


def _ecdsa_check(public_key: ec.EllipticCurvePublicKey, alg: str) -> SignatureCheck:
    curve = curve_name(public_key)
    if curve is None or EC_ALGORITHM_FOR_CURVE[curve] != alg:  # R7518-5
        raise ValueError("curve does not match the algorithm")
    size = _COORDINATE_BYTES[curve]
    # Fixed-length big-endian strings compare as their numbers do: 0 < r < n is zero < r < n.
    zero = bytes(size)
    order = _CURVE_ORDER[curve].to_bytes(size, "big")
    signature_algorithm = ec.ECDSA(_HASHES[alg[2:]])
    verify = public_key.verify

    def check(signing_input: bytes, signature: bytes) -> bool:
        # R7518-4: exactly R||S; DER or any other length fails; r, s in [1, n-1] (A8, A9).
        if len(signature) != 2 * size:
            return False
        r = signature[:size]
        s = signature[size:]
        if not (zero < r < order and zero < s < order):
            return False
        try:
            verify(der_signature(r, s), signing_input, signature_algorithm)
        except (InvalidSignature, ValueError):
            return False
        return True

    return check


#: DER heads by content length: an INTEGER, an INTEGER whose first content byte is the zero that
#: keeps it positive (then follows), a SEQUENCE (short or one-byte long form). P-521's body can
#: reach 138 bytes.
_INTEGER = tuple(b"\x02" + bytes((n,)) for n in range(128))
_INTEGER_SIGNED = tuple(b"\x02" + bytes((n + 1,)) + b"\x00" for n in range(127))
_SEQUENCE = tuple(
    b"\x30" + (bytes((n,)) if n < 0x80 else b"\x81" + bytes((n,))) for n in range(256)
)


def der_signature(r: bytes, s: bytes) -> bytes:
    """The DER ``ECDSA-Sig-Value`` of nonzero big-endian ``r`` and ``s`` (what
    ``encode_dss_signature`` gives for the same numbers, without the two int conversions): each
    a minimal positive INTEGER (leading zero bytes dropped, one zero byte before a first byte
    whose top bit is set), in a SEQUENCE."""
    if not r[0]:
        r = r.lstrip(b"\x00")
    if not s[0]:
        s = s.lstrip(b"\x00")
    r = (_INTEGER_SIGNED if r[0] & 0x80 else _INTEGER)[len(r)] + r
    s = (_INTEGER_SIGNED if s[0] & 0x80 else _INTEGER)[len(s)] + s
    return _SEQUENCE[len(r) + len(s)] + r + s


def _eddsa_check(
    public_key: ed25519.Ed25519PublicKey | ed448.Ed448PublicKey,
) -> SignatureCheck:
    verify = public_key.verify
    length = 64 if isinstance(public_key, ed25519.Ed25519PublicKey) else 114

    def check(signing_input: bytes, signature: bytes) -> bool:
        if len(signature) != length:
            return False
        try:
            verify(signature, signing_input)
        except (InvalidSignature, ValueError):
            return False
        return True

    return check


def signature_check(alg: str, public_key: object) -> SignatureCheck:
    """Build the verifier of ``alg`` signatures under ``public_key``.

    Raises :class:`ValueError` when the key cannot serve that algorithm: an RSA key serves only
    RS*/PS*, an EC key only its curve's one ES* algorithm, an Edwards key only EdDSA (R8725-2,
    R7518-5). HMAC is never built from a public key (attack A4).
    """
    if alg in RSA_ALGORITHMS and isinstance(public_key, rsa.RSAPublicKey):
        return _rsa_check(public_key, alg)
    if alg in EC_ALGORITHMS and isinstance(public_key, ec.EllipticCurvePublicKey):
        return _ecdsa_check(public_key, alg)
    if alg in EDDSA_ALGORITHMS and isinstance(
        public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
    ):
        return _eddsa_check(public_key)
    raise ValueError("the key cannot verify this algorithm")
