"""The attack catalog (checklist section 15), rows A, K, H, C and T: each one a named test.

Every attack must end in :class:`InvalidToken` (401 ``invalid_token``), or for issuer-side faults
:class:`VerifierUnavailable` (503): never a principal, an unexpected exception, or a hang.
Attack tokens that probe parsing are *correctly signed* by the issuer's key (``sign_raw``), so
the rejection is owed to the check under test and not to a broken signature.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc.jwk import RSAKey
from verify_helpers import self_signed_der

from stepup_mfa._core.errors import InvalidToken, VerifierUnavailable
from stepup_mfa._verify.jwt_verifier import JWTVerifier

NOW = 1_900_000_000


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def rejected(check: Any, verifier: Any, token: str, at: float = NOW) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        check(verifier, token, at)
    return caught.value


# -- A: algorithm attacks -------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", ["", "c2ln"], ids=["empty-sig", "junk-sig"])
def test_A1_A2_R9068_2_R8725_4_alg_none_in_any_case(
    alg: str, signature: str, issuer_server: Any, verifier: Any, check: Any
) -> None:
    header = b64url(json.dumps({"alg": alg, "typ": "at+jwt"}).encode())
    payload = b64url(json.dumps(issuer_server.claims()).encode())
    rejected(check, verifier, f"{header}.{payload}.{signature}")


def test_A3_R7518_1_alg_none_with_a_valid_rs256_signature(
    issuer_server: Any, verifier: Any, check: Any
) -> None:
    key = issuer_server.keys[0]
    header = {"alg": "none", "typ": "at+jwt", "kid": key.kid}
    token = issuer_server.sign_raw(header, issuer_server.claims(), key, alg="RS256")
    rejected(check, verifier, token)


def _rsa_secret_forms(public: rsa.RSAPublicKey, jwk: dict[str, Any]) -> dict[str, bytes]:
    return {
        "pem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "spki-der": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "pkcs1-der": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.PKCS1
        ),
        "jwk-json": json.dumps(jwk).encode(),
        "modulus": public.public_numbers().n.to_bytes(256, "big"),
    }


@pytest.mark.parametrize("form", ["pem", "spki-der", "pkcs1-der", "jwk-json", "modulus"])
def test_A4_R8725_2_hs256_keyed_with_the_rsa_public_key(
    form: str, issuer_server: Any, verifier: Any, check: Any
) -> None:
    key = issuer_server.keys[0]
    secret = _rsa_secret_forms(key.private.public_key(), key.public_jwk())[form]
    header = b64url(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": key.kid}).encode())
    payload = b64url(json.dumps(issuer_server.claims()).encode())
    mac = hmac.HMAC(secret, hashes.SHA256())
    mac.update(f"{header}.{payload}".encode())
    rejected(check, verifier, f"{header}.{payload}.{b64url(mac.finalize())}")


def test_A5_R8725_3_R7517_3_algorithm_swap_on_a_key_pinned_to_rs256(
    issuer_server: Any, verifier: Any, check: Any
) -> None:
    pinned = issuer_server.new_key("RS256", kid="pinned", jwk={"alg": "RS256"})
    token = issuer_server.sign_raw(
        {"alg": "PS256", "typ": "at+jwt", "kid": "pinned"}, issuer_server.claims(), pinned, "PS256"
    )
    rejected(check, verifier, token)


def test_A6_R8725_1_algorithm_outside_the_allowlist(
    issuer_server: Any, make_verifier: Any, check: Any
) -> None:
    key = issuer_server.new_key("ES512", kid="p521")
    verifier = make_verifier(algorithms=["RS256", "ES256"])
    rejected(check, verifier, issuer_server.mint(key))


@pytest.mark.parametrize("alg", [None, ["RS256"], "RS256 ", "rs256", "Rs256", 256], ids=repr)
def test_A7_R8725_16_bad_alg_value(alg: Any, issuer_server: Any, verifier: Any, check: Any) -> None:
    key = issuer_server.keys[0]
    header: dict[str, Any] = {"typ": "at+jwt", "kid": key.kid}
    if alg is not None:
        header["alg"] = alg
    token = issuer_server.sign_raw(header, issuer_server.claims(), key, alg="RS256")
    rejected(check, verifier, token)


def _es256_token_with_signature(issuer_server: Any, signature: bytes) -> str:
    key = issuer_server.new_key("ES256", kid="ec")
    good = issuer_server.mint(key)
    return good.rsplit(".", 1)[0] + "." + b64url(signature)


P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@pytest.mark.parametrize(
    "signature",
    [
        bytes(64),
        bytes(32) + (1).to_bytes(32, "big"),
        (1).to_bytes(32, "big") + bytes(32),
        P256_ORDER.to_bytes(32, "big") + (1).to_bytes(32, "big"),
        (1).to_bytes(32, "big") + P256_ORDER.to_bytes(32, "big"),
    ],
    ids=["r=s=0", "r=0", "s=0", "r=n", "s=n"],
)
def test_A8_R7518_4_psychic_and_out_of_range_ecdsa_signatures(
    signature: bytes, issuer_server: Any, verifier: Any, check: Any
) -> None:
    rejected(check, verifier, _es256_token_with_signature(issuer_server, signature))


@pytest.mark.parametrize("form", ["der", "65-bytes", "63-bytes", "128-bytes"])
def test_A9_R7518_4_ecdsa_signature_not_in_r_s_form(
    form: str, issuer_server: Any, verifier: Any, check: Any
) -> None:
    key = issuer_server.new_key("ES256", kid="ec")
    good = issuer_server.mint(key)
    raw = base64.urlsafe_b64decode(good.rsplit(".", 1)[1] + "==")
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    signature = {
        "der": encode_dss_signature(r, s),
        "65-bytes": b"\x00" + raw,
        "63-bytes": raw[1:],
        "128-bytes": raw + raw,
    }[form]
    rejected(check, verifier, good.rsplit(".", 1)[0] + "." + b64url(signature))


def test_A10_R6750_19_tampered_payload(issuer_server: Any, verifier: Any, check: Any) -> None:
    header, payload, signature = issuer_server.mint().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "admin"
    rejected(check, verifier, f"{header}.{b64url(json.dumps(claims).encode())}.{signature}")


@pytest.mark.parametrize("mangle", ["strip", "flip-byte", "truncate", "other-token-sig"])
def test_A10_R7515_1_stripped_or_altered_signature(
    mangle: str, issuer_server: Any, verifier: Any, check: Any
) -> None:
    token = issuer_server.mint()
    head, signature = token.rsplit(".", 1)
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    if mangle == "strip":
        mangled = head + "."
    elif mangle == "flip-byte":
        raw[10] ^= 0x01
        mangled = head + "." + b64url(bytes(raw))
    elif mangle == "truncate":
        mangled = head + "." + b64url(bytes(raw[:-1]))
    else:
        other = issuer_server.mint(claims=issuer_server.claims(sub="someone-else"))
        mangled = head + "." + other.rsplit(".", 1)[1]
    rejected(check, verifier, mangled)


# -- K: key attacks -------------------------------------------------------------------------------


def test_K1_R7515_4_unknown_kid_one_refresh_then_reject(
    issuer_server: Any, verifier: Any, check: Any, run: Any
) -> None:
    """100 tokens with an unknown kid: at most one JWKS refresh beyond the first load."""
    run(verifier.startup_flow(NOW))
    loads = issuer_server.jwks_fetches
    stranger = issuer_server.new_key("RS256", kid="rotated-away", publish=False)
    token = issuer_server.mint(stranger)
    for _ in range(100):
        rejected(check, verifier, token)
    assert issuer_server.jwks_fetches - loads <= 1


def test_K2_R7515_4_kid_flood_bounded_fetches_and_memory(
    issuer_server: Any, verifier: Any, check: Any, run: Any
) -> None:
    """1000 requests, each with a new random kid: at most one refresh per cooldown."""
    run(verifier.startup_flow(NOW))
    loads = issuer_server.jwks_fetches
    stranger = issuer_server.new_key("RS256", kid=None, publish=False)
    for i in range(1000):
        header = issuer_server.header(stranger, kid=secrets.token_hex(8))
        token = issuer_server.sign_raw(header, issuer_server.claims(), stranger)
        rejected(check, verifier, token, NOW + i * 0.001)
    assert issuer_server.jwks_fetches - loads <= 1
    # memory flat: the negative cache is bounded
    state = verifier._issuers[issuer_server.issuer].state
    assert len(state.unknown_kids) <= 1024


@pytest.mark.parametrize(
    "kid",
    ["../../dev/null", "' OR 1=1--", "x' OR '1'='1", "a\u0000b", "k" * 65536, {}, 7, ["default"]],
    ids=["path", "sql", "sql2", "nul", "64KiB", "object", "number", "array"],
)
def test_K3_R8725_12_kid_injection(kid: Any, issuer_server: Any, verifier: Any, check: Any) -> None:
    key = issuer_server.keys[0]
    token = issuer_server.sign_raw(issuer_server.header(key, kid=kid), issuer_server.claims(), key)
    rejected(check, verifier, token)


@pytest.mark.parametrize("member", ["jku", "x5u"])
def test_K4_K5_R7515_5_R8725_13_jku_and_x5u_never_fetched(
    member: str, make_issuer: Any, issuer_server: Any, verifier: Any, check: Any
) -> None:
    attacker = make_issuer(kid="attacker")
    attacker_key = attacker.keys[0]
    header = attacker.header(attacker_key, **{member: attacker.jwks_uri})
    token = attacker.sign_raw(header, issuer_server.claims(), attacker_key)
    rejected(check, verifier, token)
    assert attacker.server.count() == 0


def test_K6_R7515_6_embedded_jwk_header_is_not_a_trust_anchor(
    issuer_server: Any, verifier: Any, check: Any
) -> None:
    attacker = issuer_server.new_key("RS256", kid="default", publish=False)
    header = issuer_server.header(attacker, jwk=attacker.public_jwk())
    rejected(check, verifier, issuer_server.sign_raw(header, issuer_server.claims(), attacker))


def test_K7_R7515_6_attacker_x5c_chain(issuer_server: Any, verifier: Any, check: Any) -> None:
    attacker = issuer_server.new_key("RS256", kid="default", publish=False)
    x5c = [base64.b64encode(self_signed_der(attacker.private, "attacker")).decode()]
    header = issuer_server.header(attacker, x5c=x5c)
    rejected(check, verifier, issuer_server.sign_raw(header, issuer_server.claims(), attacker))


@pytest.mark.parametrize(
    "marking",
    [{"use": "enc"}, {"use": None, "key_ops": ["encrypt"]}, {"use": "sig", "key_ops": ["encrypt"]}],
    ids=["use-enc", "key_ops-encrypt", "use-and-key_ops-disagree"],
)
def test_K8_R7517_2_key_meant_for_encryption(
    marking: dict[str, Any], issuer_server: Any, verifier: Any, check: Any
) -> None:
    key = issuer_server.new_key("RS256", kid="enc-key", jwk=marking)
    rejected(check, verifier, issuer_server.mint(key))


def test_K9_R7518_3_rsa_1024_key_ignored(issuer_server: Any, verifier: Any, check: Any) -> None:
    weak = issuer_server.new_key("RS256", kid="weak")
    weak.private = issuer_server.pool.rsa_1024
    token = issuer_server.sign_raw(issuer_server.header(weak), issuer_server.claims(), weak)
    rejected(check, verifier, token)


def test_K9_R8725_6_ec_point_off_the_curve_ignored(
    issuer_server: Any, verifier: Any, check: Any
) -> None:
    key = issuer_server.new_key("ES256", kid="off-curve", publish=False)
    jwk = key.public_jwk()
    y = int.from_bytes(base64.urlsafe_b64decode(jwk["y"] + "=="), "big")
    jwk["y"] = b64url(((y + 1) % 2**256).to_bytes(32, "big"))
    issuer_server.raw_entries.append(jwk)
    rejected(check, verifier, issuer_server.mint(key))


def test_K10_R8725_9_key_of_another_configured_issuer(
    make_issuer: Any, check: Any, audience: str
) -> None:
    first = make_issuer(kid="a-key")
    second = make_issuer(kid="b-key")
    verifier = JWTVerifier([first.issuer, second.issuer], audience)
    b_key = second.keys[0]
    token = second.mint(b_key, claims=first.claims())  # iss = A, kid and signature of B
    rejected(check, verifier, token)


def test_K11_R8725_9_unconfigured_issuer_never_contacted(
    make_issuer: Any, issuer_server: Any, verifier: Any, check: Any
) -> None:
    evil = make_issuer(kid="default")
    rejected(check, verifier, evil.mint())
    assert evil.server.count() == 0
    assert issuer_server.server.count() == 0  # not even our issuer: iss decides first


@pytest.mark.parametrize(
    "jwks_uri",
    ["http://as.example.com/jwks.json", "ftp://127.0.0.1/jwks", "https://user:pw@as.example/j"],
)
def test_K12_R8414_4_insecure_jwks_uri_in_metadata_refused(
    jwks_uri: str, issuer_server: Any, verifier: Any, check: Any
) -> None:
    issuer_server.metadata["jwks_uri"] = jwks_uri
    with pytest.raises(VerifierUnavailable):
        check(verifier, issuer_server.mint())


def test_K12_R8725_13_jwks_redirect_not_followed(
    make_issuer: Any, issuer_server: Any, verifier: Any, check: Any
) -> None:
    elsewhere = make_issuer()
    issuer_server.jwks_body = b""
    issuer_server.jwks_headers = {"Location": elsewhere.jwks_uri}
    issuer_server.server.routes["/jwks.json"] = lambda request: _redirect(elsewhere.jwks_uri)
    with pytest.raises(VerifierUnavailable):
        check(verifier, issuer_server.mint())
    assert elsewhere.server.count() == 0


def _redirect(location: str) -> Any:
    from stepup_mfa.testing.server import Reply

    return Reply(302, b"", {"Location": location})


# -- H: header attacks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"crit": ["urn:x:foo"], "urn:x:foo": 1},
        {"crit": []},
        {"crit": ["alg"]},
        {"crit": ["exp"]},
        {"crit": ["b64"], "b64": False},
        {"crit": "urn:x:foo", "urn:x:foo": 1},
    ],
    ids=["H1-unknown", "H2-empty", "H2-registered", "H2-absent-member", "H2-b64", "H2-not-list"],
)
def test_H1_H2_R7515_3_crit(
    extra: dict[str, Any], issuer_server: Any, verifier: Any, check: Any
) -> None:
    key = issuer_server.keys[0]
    token = issuer_server.sign_raw(issuer_server.header(key, **extra), issuer_server.claims(), key)
    rejected(check, verifier, token)


@pytest.mark.parametrize(
    "typ",
    ["JWT", None, "dpop+jwt", "secevent+jwt", "logout+jwt", ["at+jwt"], "at+jwt ", "at-jwt", ""],
    ids=repr,
)
def test_H3_R9068_1_wrong_typ(
    typ: Any, issuer_server: Any, verifier: Any, check: Any, drop: Any
) -> None:
    key = issuer_server.keys[0]
    header = issuer_server.header(key, typ=drop if typ is None else typ)
    rejected(check, verifier, issuer_server.sign_raw(header, issuer_server.claims(), key))


@pytest.mark.parametrize("cty", ["JWT", "jwt", "application/JWT", 1])
def test_H4_R8725_5_nested_jwt_cty(cty: Any, issuer_server: Any, verifier: Any, check: Any) -> None:
    key = issuer_server.keys[0]
    header = issuer_server.header(key, cty=cty)
    rejected(check, verifier, issuer_server.sign_raw(header, issuer_server.claims(), key))


@pytest.mark.parametrize("zip_bomb", [False, True], ids=["jwe", "jwe-zip-def"])
def test_H4_R9068_9_five_segment_jwe_refused(
    zip_bomb: bool, issuer_server: Any, verifier: Any, check: Any
) -> None:
    header: dict[str, Any] = {"alg": "RSA-OAEP", "enc": "A256GCM", "typ": "at+jwt"}
    if zip_bomb:
        header["zip"] = "DEF"
    parts = [b64url(json.dumps(header).encode())] + [b64url(secrets.token_bytes(16))] * 4
    rejected(check, verifier, ".".join(parts))
    assert issuer_server.server.count() == 0


def test_H5_R7515_2_duplicate_header_member(issuer_server: Any, verifier: Any, check: Any) -> None:
    key = issuer_server.keys[0]
    header = b'{"alg":"RS256","typ":"at+jwt","kid":"default","alg":"none"}'
    rejected(check, verifier, issuer_server.sign_raw(header, issuer_server.claims(), key))


def test_H5_R7515_2_duplicate_header_member_same_value(
    issuer_server: Any, verifier: Any, check: Any
) -> None:
    key = issuer_server.keys[0]
    header = b'{"alg":"RS256","typ":"at+jwt","kid":"default","kid":"default"}'
    rejected(check, verifier, issuer_server.sign_raw(header, issuer_server.claims(), key))


# -- C: confusion between kinds of JWT ------------------------------------------------------------


@pytest.mark.parametrize("accept_jwt_typ", [False, True], ids=["strict", "accept-JWT"])
def test_C1_R9068_13_id_token_is_not_an_access_token(
    accept_jwt_typ: bool, issuer_server: Any, make_verifier: Any, check: Any
) -> None:
    key = issuer_server.keys[0]
    id_token_claims = issuer_server.claims(nonce="n-0S6_WzA2Mj")
    token = issuer_server.sign_raw(issuer_server.header(key, typ="JWT"), id_token_claims, key)
    rejected(check, make_verifier(accept_jwt_typ=accept_jwt_typ), token)


@pytest.mark.parametrize("accept_jwt_typ", [False, True], ids=["strict", "accept-JWT"])
@pytest.mark.parametrize("kind", ["dpop-proof", "client-assertion", "logout-token", "set"])
def test_C2_R8725_14_other_jwt_kinds_rejected(
    kind: str, accept_jwt_typ: bool, issuer_server: Any, make_verifier: Any, check: Any, drop: Any
) -> None:
    key = issuer_server.keys[0]
    events = {"http://schemas.openid.net/event/backchannel-logout": {}}
    typ, claims = {
        "dpop-proof": ("dpop+jwt", {"htm": "GET", "htu": "https://api.example.com/cats/"}),
        "client-assertion": (
            "JWT",
            {"iss": "client-1", "sub": "client-1", "aud": issuer_server.issuer + "/token"},
        ),
        "logout-token": ("logout+jwt", {"events": events}),
        "set": ("secevent+jwt", {"events": events}),
    }[kind]
    header = issuer_server.header(key, typ=typ)
    token = issuer_server.sign_raw(header, issuer_server.claims(**claims), key)
    rejected(check, make_verifier(accept_jwt_typ=accept_jwt_typ), token)
    if kind != "dpop-proof":  # the same token typed as plain JWT is still refused
        header = issuer_server.header(key, typ="JWT")
        token = issuer_server.sign_raw(header, issuer_server.claims(**claims), key)
        rejected(check, make_verifier(accept_jwt_typ=True), token)


def test_C3_R9068_5_R6750_20_token_for_another_resource(
    issuer_server: Any, verifier: Any, check: Any
) -> None:
    token = issuer_server.mint(claims=issuer_server.claims(aud="https://billing.example.com"))
    rejected(check, verifier, token)


# -- T: claim attacks -----------------------------------------------------------------------------


def test_T1_R9068_7_expired_beyond_leeway(issuer_server: Any, verifier: Any, check: Any) -> None:
    error = rejected(check, verifier, issuer_server.mint(claims=issuer_server.claims(exp=NOW - 61)))
    assert error.description == "The access token expired"


def test_R9068_7_leeway_zero_exp_now_rejected(
    issuer_server: Any, make_verifier: Any, check: Any
) -> None:
    token = issuer_server.mint(claims=issuer_server.claims(exp=NOW))
    rejected(check, make_verifier(leeway=0), token)


@pytest.mark.parametrize(
    "exp",
    [
        None,
        "1900000300",
        True,
        b"1e400",
        b"NaN",
        b"Infinity",
        b"-Infinity",
        [NOW + 300],
        b"1" + b"0" * 400,
        b"-1" + b"0" * 400,
        b"253402300800",
    ],
    ids=lambda v: repr(v)[:24],
)
def test_T2_R7519_5_exp_missing_or_wrongly_typed(
    exp: Any, issuer_server: Any, verifier: Any, check: Any, drop: Any
) -> None:
    key = issuer_server.keys[0]
    if isinstance(exp, bytes):
        claims = issuer_server.claims(exp=drop)
        payload = json.dumps(claims)[:-1].encode() + b', "exp": ' + exp + b"}"
    else:
        payload = json.dumps(issuer_server.claims(exp=drop if exp is None else exp)).encode()
    rejected(check, verifier, issuer_server.sign_raw(issuer_server.header(key), payload, key))


def test_T3_R7519_2_not_yet_valid(issuer_server: Any, verifier: Any, check: Any) -> None:
    rejected(check, verifier, issuer_server.mint(claims=issuer_server.claims(nbf=NOW + 120)))


def test_T4_issued_in_the_future(issuer_server: Any, verifier: Any, check: Any) -> None:
    rejected(check, verifier, issuer_server.mint(claims=issuer_server.claims(iat=NOW + 3600)))


@pytest.mark.parametrize("claim", ["iat", "jti", "sub", "client_id", "aud", "iss", "exp"])
def test_T5_R9068_10_required_claim_missing(
    claim: str, issuer_server: Any, verifier: Any, check: Any, drop: Any
) -> None:
    token = issuer_server.mint(claims=issuer_server.claims(**{claim: drop}))
    rejected(check, verifier, token)


@pytest.mark.parametrize("claim", ["aud", "iss"])
def test_R8725_11_aud_and_iss_always_required(
    claim: str, issuer_server: Any, make_verifier: Any, check: Any, drop: Any
) -> None:
    token = issuer_server.mint(claims=issuer_server.claims(**{claim: drop}))
    rejected(check, make_verifier(required_claims=[]), token)


@pytest.mark.parametrize("sub", ["", 42, None], ids=repr)
def test_R8725_10_sub_empty_or_not_a_string(
    sub: Any, issuer_server: Any, verifier: Any, check: Any
) -> None:
    rejected(check, verifier, issuer_server.mint(claims=issuer_server.claims(sub=sub)))


@pytest.mark.parametrize(
    "transform",
    [
        lambda iss: iss + "/",
        lambda iss: iss.upper(),
        lambda iss: iss + ".evil.com",
        lambda iss: [iss],
        lambda iss: iss.replace("http", "https"),
        lambda iss: "https://evil.example",
    ],
    ids=["T6-trailing-slash", "T6-upper-case", "T6-suffix", "T6-array", "T6-scheme", "T6-evil"],
)
def test_T6_R9068_4_iss_must_match_exactly(
    transform: Any, issuer_server: Any, verifier: Any, check: Any
) -> None:
    iss = transform(issuer_server.issuer)
    rejected(check, verifier, issuer_server.mint(claims=issuer_server.claims(iss=iss)))
    assert issuer_server.server.count() == 0


@pytest.mark.parametrize(
    "aud",
    [
        "https://api.example.com/",
        "https://api.example.com.evil",
        "https://api.example",
        "*",
        [],
        [["https://api.example.com"]],
        None,
        123,
        "HTTPS://api.example.com",
        {"aud": "https://api.example.com"},
    ],
    ids=repr,
)
def test_T7_R9068_5_R7519_1_aud_tricks(
    aud: Any, issuer_server: Any, verifier: Any, check: Any
) -> None:
    rejected(check, verifier, issuer_server.mint(claims=issuer_server.claims(aud=aud)))


@pytest.mark.parametrize(
    "duplicate",
    [b', "aud": "https://evil.example"', b', "exp": 1900000300'],
    ids=["aud-twice", "exp-twice"],
)
def test_T8_R7519_3_duplicate_claims(
    duplicate: bytes, issuer_server: Any, verifier: Any, check: Any
) -> None:
    key = issuer_server.keys[0]
    payload = json.dumps(issuer_server.claims())[:-1].encode() + duplicate + b"}"
    rejected(check, verifier, issuer_server.sign_raw(issuer_server.header(key), payload, key))


def _json_trick(name: str, claims: dict[str, Any]) -> bytes:
    text = json.dumps(claims)
    return {
        "trailing-data": text.encode() + b"ABCD",
        "utf8-bom": b"\xef\xbb\xbf" + text.encode(),
        "utf16-le": text.encode("utf-16-le"),
        "utf16-bom": text.encode("utf-16"),
        "invalid-utf8": text[:-1].encode() + b', "x": "\xff\xfe"}',
        "lone-surrogate": text[:-1].encode() + b', "x": "\\ud800"}',
        "lone-low-surrogate": text[:-1].encode() + b', "x": "\\udc00x"}',
        "surrogate-key": text[:-1].encode() + b', "\\udfff": 1}',
        "nan": text[:-1].encode() + b', "x": NaN}',
        "comment": text[:-1].encode() + b', /* c */ "x": 1}',
        "single-quotes": text.replace('"', "'").encode(),
        "nested-10000": text[:-1].encode() + b', "x": ' + b"[" * 10000 + b"]" * 10000 + b"}",
        "overlong-utf8": text[:-1].encode() + b', "x": "\xc0\xaf"}',
        "huge-integer": text[:-1].encode() + b', "x": ' + b"9" * 5000 + b"}",
        "array": b"[" + text.encode() + b"]",
        "string": b'"x"',
        "null": b"null",
    }[name]


@pytest.mark.parametrize(
    "trick",
    [
        "trailing-data",
        "utf8-bom",
        "utf16-le",
        "utf16-bom",
        "invalid-utf8",
        "lone-surrogate",
        "lone-low-surrogate",
        "surrogate-key",
        "nan",
        "comment",
        "single-quotes",
        "nested-10000",
        "overlong-utf8",
        "huge-integer",
        "array",
        "string",
        "null",
    ],
)
@pytest.mark.parametrize("part", ["payload", "header"])
def test_T9_R7515_7_R8725_8_R7519_6_json_tricks(
    trick: str, part: str, issuer_server: Any, make_verifier: Any, check: Any
) -> None:
    """Correctly signed, but not one strict UTF-8 JSON object: refused without a crash."""
    key = issuer_server.keys[0]
    verifier = make_verifier(max_token_length=64 * 1024)  # let the nesting reach the parser
    header: Any = issuer_server.header(key)
    claims: Any = issuer_server.claims()
    if part == "payload":
        claims = _json_trick(trick, claims)
    else:
        header = _json_trick(trick, header)
    rejected(check, verifier, issuer_server.sign_raw(header, claims, key))


def test_T9_surrogate_pair_escape_is_fine(issuer_server: Any, verifier: Any, check: Any) -> None:
    """Control: a proper escaped surrogate pair (an emoji) is valid JSON and valid UTF-8."""
    key = issuer_server.keys[0]
    payload = json.dumps(issuer_server.claims())[:-1].encode() + b', "x": "\\ud83d\\ude00"}'
    principal = check(verifier, issuer_server.sign_raw(issuer_server.header(key), payload, key))
    assert principal.claims["x"] == "\U0001f600"


def test_T10_R7519_4_cyrillic_lookalike_issuer(make_issuer: Any, audience: str, check: Any) -> None:
    server = make_issuer(path="/tenant-a")
    verifier = JWTVerifier(server.issuer, audience)
    lookalike = server.issuer.replace("tenant-a", "tenant-\u0430")  # CYRILLIC SMALL LETTER A
    rejected(check, verifier, server.mint(claims=server.claims(iss=lookalike)))


@pytest.mark.parametrize(
    "auth_time",
    ["1700000000", True, [1], NOW + 3600, -(10**400), 10**30],
    ids=["string", "true", "array", "future", "minus-10e400-int", "10e30"],
)
def test_OIDC_1_OIDC_4_S5_auth_time_wrongly_typed_or_in_the_future(
    auth_time: Any, issuer_server: Any, verifier: Any, check: Any
) -> None:
    rejected(check, verifier, issuer_server.mint(claims=issuer_server.claims(auth_time=auth_time)))


# -- R7515-1 / P11: compact form ----------------------------------------------------------------


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t + "=",
        lambda t: t.replace(".", "=.", 1),
        lambda t: t.replace("-", "+").replace("_", "/") if ("-" in t or "_" in t) else t + "+",
        lambda t: t[:10] + " " + t[10:],
        lambda t: t[:10] + "\n" + t[10:],
        lambda t: t.rsplit(".", 1)[0],
        lambda t: t + ".abcd",
        lambda t: "....",
        lambda t: "a.b",
        lambda t: " " + t,
        lambda t: t + "\n",
        lambda t: "",
        lambda t: '{"payload":"x","signatures":[]}',
        lambda t: t[:20] + "\u00e9" + t[20:],
        lambda t: "A" * 17 + "." + t.split(".", 1)[1],
    ],
    ids=[
        "pad-end",
        "pad-header",
        "std-alphabet",
        "space",
        "newline",
        "2-segments",
        "4-segments",
        "dots",
        "a.b",
        "leading-space",
        "trailing-newline",
        "empty",
        "json-serialization",
        "non-ascii",
        "4k+1-length",
    ],
)
def test_R7515_1_P11_R8725_15_not_a_compact_jws(
    mangle: Any, issuer_server: Any, verifier: Any, check: Any
) -> None:
    rejected(check, verifier, mangle(issuer_server.mint()))
    assert issuer_server.server.count() == 0


def test_oversized_token_rejected_before_decoding(
    issuer_server: Any, verifier: Any, check: Any
) -> None:
    token = issuer_server.mint(claims=issuer_server.claims(pad="x" * 20000))
    rejected(check, verifier, token)


def test_R7518_5_es256_token_against_a_p384_key(
    issuer_server: Any, verifier: Any, check: Any
) -> None:
    p384 = issuer_server.new_key("ES384", kid="p384")
    header = issuer_server.header(p384, alg="ES256")
    # An ES256-shaped (64-byte) signature can never be checked against a P-384 key.
    token = issuer_server.sign_raw(header, issuer_server.claims(), p384, alg="ES384")
    rejected(check, verifier, token)


def test_R9068_6_key_outside_jwks_with_copied_kid(
    issuer_server: Any, verifier: Any, check: Any
) -> None:
    impostor = issuer_server.new_key("RS256", kid="default", publish=False)
    rejected(check, verifier, issuer_server.mint(impostor))


def test_ec_key_object_checks() -> None:
    """Sanity: an EC private key of P-256 produces 64-byte JWS signatures (fixture check)."""
    private = ec.generate_private_key(ec.SECP256R1())
    assert private.curve.key_size == 256
    assert RSAKey  # joserfc imported for the JWK forms above


def test_R9068_14_kidless_token_tries_a_bounded_number_of_keys(
    issuer_server: Any, verifier: Any, check: Any, drop: Any
) -> None:
    """Without a kid at most four keys are tried: no CPU amplification by kid-less tokens."""
    for n in range(5):
        issuer_server.new_key("RS256", kid=f"k{n}")
    fifth = issuer_server.keys[-1]
    token = issuer_server.mint(fifth, header=issuer_server.header(fifth, kid=drop))
    rejected(check, verifier, token)


@pytest.mark.parametrize(
    ("scope", "scopes"),
    [
        (["cats:read"], frozenset()),
        ("cats:readonly", frozenset({"cats:readonly"})),
        ("cats:read,dogs:read", frozenset({"cats:read,dogs:read"})),
        ("CATS:READ", frozenset({"CATS:READ"})),
    ],
    ids=["array", "prefix", "comma", "upper-case"],
)
def test_T11_R9068_12_scope_tricks_verify_but_grant_nothing_extra(
    scope: Any, scopes: frozenset[str], issuer_server: Any, verifier: Any, check: Any
) -> None:
    """The verifier's half of T11: the token is valid, its scopes are read literally, so the
    policy's ``cats:read`` gate finds nothing to match (the 403 itself is the core's)."""
    principal = check(verifier, issuer_server.mint(claims=issuer_server.claims(scope=scope)))
    assert principal.scopes == scopes
    assert "cats:read" not in principal.scopes
