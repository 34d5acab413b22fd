"""Differential tests: mutated tokens through our verifier, joserfc and PyJWT (issue 11).

A valid RS256 access token is mutated (header members, claims, encodings, signatures), re-signed
where the mutation is not the signature itself, and judged three times. The rule: **ours never
accepts what joserfc or PyJWT rejects**. Where ours refuses a token that both accept, the refusal
must be one of :data:`STRICTER`, each a deliberate rule with its reason; anything else fails.

joserfc and PyJWT are configured as a careful resource server would: the one RS256 key, ``iss``
and ``aud`` required and compared, ``exp`` required, 60 s of leeway on every date. Their clocks
cannot be frozen the same way (PyJWT reads the wall clock), so times are whole seconds well away
from every boundary.

What the comparison found us *laxer* on, now fixed: a ``b64`` or ``zip`` header member without
``crit`` (RFC 7797 §6, RFC 7516 §4.1.3), ``"kid": null`` / ``"typ": null`` / ``"cty": null`` read
as absent members, and ``"nbf": null`` (any NumericDate claim given as null) read as absent. With
3000-8000 RS256 mutations per run nothing else differs, nor in the ES256 signature spellings
below; the stricter rules hit are those of :data:`STRICTER` (typ, required claims, crit, cty,
kid lookup, canonical encoding and strict JSON, empty sub, future auth_time).
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt as pyjwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from stepup_mfa._core.errors import InvalidToken
from stepup_mfa._verify.flow import HttpRequest, HttpResponse, run_sync
from stepup_mfa._verify.jwt_verifier import JWTVerifier

ISS = "https://as.example.com"
AUD = "https://api.example.com"
LEEWAY = 60
_PRIVATE = rsa.generate_private_key(65537, 2048)
_JOSE_KEY = RSAKey.import_key(_PRIVATE.public_key())
_JWK = {**_JOSE_KEY.as_dict(private=False), "kid": "k1", "use": "sig", "alg": "RS256"}
_EC_PRIVATE = ec.generate_private_key(ec.SECP256R1())
_EC_JOSE_KEY = ECKey.import_key(_EC_PRIVATE.public_key())
_EC_JWK = {**_EC_JOSE_KEY.as_dict(private=False), "kid": "e1", "use": "sig", "alg": "ES256"}
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
DELETE: Any = object()

#: Where ours refuses what both joserfc and PyJWT accept: our description -> why, deliberately.
STRICTER = {
    "The access token type is wrong": (
        "R9068-1, H3: an access token is typed at+jwt; joserfc and PyJWT ignore typ, so an ID "
        "Token or any other JWT signed by the same key would pass them."
    ),
    "The access token lacks a required claim": (
        "R9068-10, T5: RFC 9068 requires sub, client_id, iat and jti; the others require only "
        "what they are told to (here iss, aud, exp)."
    ),
    "The access token uses unsupported header extensions": (
        "R7515-3, H1, H2: no extension is understood, so any crit refuses (PyJWT ignores crit; "
        "joserfc accepts crit names it knows, such as b64)."
    ),
    "Nested access tokens are not accepted": (
        "R8725-5, H4: cty JWT would need its inner token verified too; the others ignore cty."
    ),
    "The access token signing key is unknown": (
        "R9068-14, R7515-4, K3, K10: the key is picked by kid from the issuer's JWKS; the others "
        "were handed the key directly and never look at kid."
    ),
    "Malformed access token": (
        "R7515-1, R7519-3, T8, T9, P11, R7519-5: canonical base64url only, no duplicate members "
        "(the others keep the last), strict UTF-8 JSON, bounded NumericDates and jti a string."
    ),
    "The access token has an invalid subject": "R8725-10: sub, when present, is non-empty.",
    "The access token has an authentication time in the future": (
        "OIDC-4, S5: nobody authenticates in the future; the others do not know auth_time."
    ),
}

_TIMES = st.sampled_from([-100_000, -3600, -300, -90, -30, 30, 90, 300, 3600, 100_000])
_ODD = st.sampled_from(["1900000000", True, None, [1], {"a": 1}, 2**70, 1e300, -1e300])


def _claim_values(name: str) -> st.SearchStrategy[Any]:
    if name in ("exp", "nbf", "iat", "auth_time"):
        return st.one_of(_TIMES.map(lambda offset: ("now", offset)), _ODD, st.just(DELETE))
    special = {
        "iss": [
            ISS,
            ISS + "/",
            "https://AS.example.com",
            [ISS],
            7,
            "",
            "https://as.example.com.evil",
        ],
        "aud": [AUD, [AUD], ["https://x", AUD], [], "x", 7, [7], [[AUD]], AUD + "/", None],
        "sub": ["u1", "", 7, None, ["u1"]],
        "jti": ["j1", "", 7, None],
        "client_id": ["c1", 7, None],
        "nonce": ["n"],
        "events": [{}],
        "scope": ["a b", ["a"], 7],
        "acr": ["urn:x", 7],
    }[name]
    return st.one_of(st.sampled_from(special), st.just(DELETE))


_CLAIMS = st.dictionaries(
    st.sampled_from(
        ["iss", "aud", "exp", "nbf", "iat", "auth_time", "sub", "jti", "client_id", "nonce",
         "events", "scope", "acr"]
    ),
    st.none(),
    max_size=4,
).flatmap(
    lambda keys: st.fixed_dictionaries({name: _claim_values(name) for name in keys})
)  # fmt: skip

_HEADER_VALUES: dict[str, list[Any]] = {
    "alg": ["RS256", "none", "HS256", "rs256", "RS384", "PS256", None, ["RS256"]],
    "typ": ["at+jwt", "JWT", "application/at+jwt", "AT+JWT", "jwt", "dpop+jwt", 7, None],
    "kid": ["k1", "other", 7, "", None],
    "crit": [["exp"], [], ["b64"], "b64"],
    "b64": [False, True],
    "cty": ["JWT", "json", "application/jwt"],
    "jku": ["https://attacker.example/jwks"],
    "jwk": [{"kty": "RSA"}],
    "x5u": ["https://attacker.example/cert"],
    "zip": ["DEF"],
}
_HEADER = st.dictionaries(st.sampled_from(sorted(_HEADER_VALUES)), st.none(), max_size=3).flatmap(
    lambda keys: st.fixed_dictionaries(
        {name: st.sampled_from([*_HEADER_VALUES[name], DELETE]) for name in keys}
    )
)

_ENCODINGS = st.sampled_from(
    [
        "none",
        "pad-payload",
        "std-alphabet-signature",
        "trailing-bits-signature",
        "trailing-bits-payload",
        "duplicate-aud",
        "duplicate-exp",
        "bom-payload",
        "whitespace-json",
        "lone-surrogate-sub",
        "flip-signature-bit",
        "truncate-signature",
        "empty-signature",
        "utf16-payload",
        "nan-exp",
        "huge-exp",
    ]
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _resolve(value: Any, now: int) -> Any:
    if isinstance(value, tuple) and value[:1] == ("now",):
        return now + value[1]
    return value


def _apply(base: dict[str, Any], changes: dict[str, Any], now: int) -> dict[str, Any]:
    result = dict(base)
    for name, value in changes.items():
        if value is DELETE:
            result.pop(name, None)
        else:
            result[name] = _resolve(value, now)
    return result


def _bump_last(segment: str) -> str:
    """The same bytes with non-zero unused bits in the last character (when there are any)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    unused = {2: 4, 3: 2}.get(len(segment) % 4)
    if unused is None:
        return segment + "A"  # 4k characters: one more makes 4k+1, not base64 at all
    index = alphabet.index(segment[-1])
    return segment[:-1] + alphabet[index ^ 1]


def mint(header: dict[str, Any], claims: dict[str, Any], encoding: str) -> str:
    header_json = json.dumps(header).encode()
    payload_json = json.dumps(claims).encode()
    if encoding == "duplicate-aud":
        payload_json = b'{"aud":"https://evil.example",' + payload_json[1:]
    elif encoding == "duplicate-exp":
        payload_json = b'{"exp":1,' + payload_json[1:]
    elif encoding == "bom-payload":
        payload_json = b"\xef\xbb\xbf" + payload_json
    elif encoding == "whitespace-json":
        payload_json = json.dumps(claims, indent=2).encode() + b"\n"
    elif encoding == "lone-surrogate-sub":
        payload_json = payload_json[:-1] + b',"x":"\\ud800"}'
    elif encoding == "utf16-payload":
        payload_json = payload_json.decode().encode("utf-16")
    elif encoding == "nan-exp":
        payload_json = payload_json[:-1] + b',"exp2":NaN}'
    elif encoding == "huge-exp":
        payload_json = payload_json[:-1] + b',"x":1e400}'
    header_b64, payload_b64 = b64(header_json), b64(payload_json)
    if encoding == "pad-payload":
        payload_b64 += "=" * (-len(payload_b64) % 4 or 4)
    if encoding == "trailing-bits-payload":
        payload_b64 = _bump_last(payload_b64)
    signing_input = f"{header_b64}.{payload_b64}".encode()
    signature = _PRIVATE.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    signature_b64 = b64(signature)
    if encoding == "std-alphabet-signature":
        signature_b64 = signature_b64.replace("-", "+").replace("_", "/")
    elif encoding == "trailing-bits-signature":
        signature_b64 = _bump_last(signature_b64)
    elif encoding == "flip-signature-bit":
        signature_b64 = b64(bytes([signature[0] ^ 1]) + signature[1:])
    elif encoding == "truncate-signature":
        signature_b64 = signature_b64[:-4]
    elif encoding == "empty-signature":
        signature_b64 = ""
    return f"{header_b64}.{payload_b64}.{signature_b64}"


class _JWKS:
    """The issuer's JWK Set, in memory (sans-I/O: no server needed for CPU-only checks)."""

    body = json.dumps({"keys": [_JWK, _EC_JWK]}).encode()

    def send(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, {"content-type": "application/json"}, self.body)


def ours(token: str, now: int) -> str | None:
    """None when our verifier accepts, else its refusal."""
    verifier = JWTVerifier(ISS, AUD, jwks_uri=ISS + "/jwks", cache_tokens=False, leeway=LEEWAY)
    try:
        run_sync(verifier.verify(token, now), _JWKS())
    except InvalidToken as error:
        return error.description
    return None


def joserfc_accepts(token: str, now: int) -> bool:
    try:
        decoded = jose_jwt.decode(token, _JOSE_KEY, algorithms=["RS256"])
        jose_jwt.JWTClaimsRegistry(
            now=now,
            leeway=LEEWAY,
            iss={"essential": True, "value": ISS},
            aud={"essential": True, "value": AUD},
            exp={"essential": True},
        ).validate(decoded.claims)
    except (JoseError, ValueError, TypeError, UnicodeError):
        return False
    return True


def pyjwt_accepts(token: str) -> bool:
    try:
        pyjwt.decode(
            token,
            _PRIVATE.public_key(),
            algorithms=["RS256"],
            audience=AUD,
            issuer=ISS,
            leeway=LEEWAY,
            options={"require": ["exp", "iss", "aud"]},
        )
    except (pyjwt.PyJWTError, ValueError, TypeError):
        return False
    return True


def base_token_parts(now: int) -> tuple[dict[str, Any], dict[str, Any]]:
    header = {"alg": "RS256", "typ": "at+jwt", "kid": "k1"}
    claims = {
        "iss": ISS,
        "aud": AUD,
        "sub": "u1",
        "client_id": "c1",
        "exp": now + 300,
        "iat": now - 10,
        "jti": "j1",
        "auth_time": now - 20,
    }
    return header, claims


def test_the_unmutated_token_passes_all_three() -> None:
    now = int(time.time())
    header, claims = base_token_parts(now)
    token = mint(header, claims, "none")
    assert ours(token, now) is None
    assert joserfc_accepts(token, now) and pyjwt_accepts(token)


@settings(max_examples=400, deadline=None, database=None)
@given(header_changes=_HEADER, claim_changes=_CLAIMS, encoding=_ENCODINGS)
def test_R8725_differential_ours_never_accepts_what_joserfc_or_pyjwt_rejects(
    header_changes: dict[str, Any], claim_changes: dict[str, Any], encoding: str
) -> None:
    now = int(time.time())
    header, claims = base_token_parts(now)
    token = mint(_apply(header, header_changes, now), _apply(claims, claim_changes, now), encoding)
    refusal = ours(token, now)
    jose_ok = joserfc_accepts(token, now)
    pyjwt_ok = pyjwt_accepts(token)
    if refusal is None:
        assert jose_ok, f"ours accepts what joserfc rejects: {token}"
        assert pyjwt_ok, f"ours accepts what PyJWT rejects: {token}"
    elif jose_ok and pyjwt_ok:
        assert refusal in STRICTER, f"unexplained strictness {refusal!r}: {token}"


_EC_SIGNATURES = st.sampled_from(
    [
        "valid",
        "high-s",
        "der",
        "r-zero",
        "s-zero",
        "zeros",
        "r-is-order",
        "one-byte-longer",
        "one-byte-shorter",
        "swapped",
        "trailing-bits",
        "flip",
    ]
)


def _es256_token(kind: str, flip_at: int) -> str:
    """An ES256 access token whose signature is spelt or broken as ``kind`` says (R7518-4)."""
    now = int(time.time())
    header = {"alg": "ES256", "typ": "at+jwt", "kid": "e1"}
    _, claims = base_token_parts(now)
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    der = _EC_PRIVATE.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s_ = decode_dss_signature(der)
    raw = {
        "valid": (r, s_),
        "high-s": (r, _P256_ORDER - s_),  # the other valid ECDSA signature of the same input
        "r-zero": (0, s_),
        "s-zero": (r, 0),
        "zeros": (0, 0),  # A8: the "psychic signature"
        "r-is-order": (_P256_ORDER, s_),
    }.get(kind, (r, s_))
    signature = raw[0].to_bytes(32, "big") + raw[1].to_bytes(32, "big")
    if kind == "der":  # A9
        signature = der
    elif kind == "one-byte-longer":
        signature = b"\0" + signature
    elif kind == "one-byte-shorter":
        signature = signature[1:]
    elif kind == "swapped":
        signature = signature[32:] + signature[:32]
    elif kind == "flip":
        signature = bytearray(signature)
        signature[flip_at % 64] ^= 1
        signature = bytes(signature)
    encoded = b64(signature)
    if kind == "trailing-bits":
        encoded = _bump_last(encoded)
    return f"{signing_input}.{encoded}"


def _es256_others(token: str, now: int) -> tuple[bool, bool]:
    try:
        decoded = jose_jwt.decode(token, _EC_JOSE_KEY, algorithms=["ES256"])
        jose_jwt.JWTClaimsRegistry(now=now, leeway=LEEWAY).validate(decoded.claims)
        jose_ok = True
    except (JoseError, ValueError, TypeError):
        jose_ok = False
    try:
        pyjwt.decode(token, _EC_PRIVATE.public_key(), algorithms=["ES256"], audience=AUD)
        pyjwt_ok = True
    except (pyjwt.PyJWTError, ValueError, TypeError):
        pyjwt_ok = False
    return jose_ok, pyjwt_ok


@settings(max_examples=150, deadline=None, database=None)
@given(kind=_EC_SIGNATURES, flip_at=st.integers(min_value=0, max_value=63))
def test_A8_A9_R7518_4_differential_es256_signature_spellings(kind: str, flip_at: int) -> None:
    """ECDSA signatures: R||S of the exact length, 0 < r, s < n, canonical base64url. The high-S
    twin of a valid signature is valid ECDSA, and all three accept it (JWS does not require low-S:
    a token therefore has two valid signatures; the verified-token cache keys on the whole token,
    so each is verified once on its own)."""
    now = int(time.time())
    token = _es256_token(kind, flip_at)
    refusal = ours(token, now)
    jose_ok, pyjwt_ok = _es256_others(token, now)
    if refusal is None:
        assert jose_ok and pyjwt_ok, f"ours accepts what another rejects: {kind}"
    elif jose_ok and pyjwt_ok:
        assert refusal in STRICTER, f"unexplained strictness {refusal!r}: {kind}"
    assert (refusal is None) is (kind in ("valid", "high-s"))
