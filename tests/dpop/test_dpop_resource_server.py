"""RFC 9449 at the resource server: checklist section 7 (R9449-1..24) and attack rows D1..D14.

Proofs are made by joserfc and PyJWT (tests/dpop/conftest.py), never by stepup-mfa.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from joserfc import jwk as jrfc_jwk
from jwt.algorithms import OKPAlgorithm
from tests.dpop.dpop_kit import API, MFA, NOW, Client, StubVerifier, ath_of, b64, pyjwt_proof, view

from stepup_mfa import DPoP, Guard, Policy, parse_www_authenticate
from stepup_mfa._verify.dpop import MemoryReplayStore, ReplayStoreFull

CATS = Policy(scopes="cats:read", acr_values=MFA, max_age=60)
DOGS = Policy(scopes="dogs:read")
ALGS = "ES256 PS256"


def challenges(decision: Any) -> dict[str, Any]:
    return {c.scheme: c for c in parse_www_authenticate(decision.www_authenticate)}


def refused_proof(decision: Any, code: str = "invalid_dpop_proof") -> None:
    assert not decision.allowed
    assert decision.status == 401
    dpop = challenges(decision)["DPoP"]
    assert dpop.error == code
    assert dpop.param("algs") == ALGS


@pytest.fixture
def bound(stub: StubVerifier, client: Client) -> str:
    return stub.add("bound-token", cnf={"jkt": client.jkt})


def test_R9449_1_jwt_with_cnf_jkt_and_good_proof_is_allowed(make_guard, client, bound) -> None:
    decision = make_guard().check(view(bound, (client.proof(bound),)), CATS)
    assert decision.allowed and decision.principal.subject == "alice"


@pytest.mark.parametrize("alg", ["PS256", "RS256", "ES384"])
def test_R9449_1_each_algorithm_family_on_its_own_key(stub, alg) -> None:
    client = Client(alg)
    token = stub.add(f"t-{alg}", cnf={"jkt": client.jkt})
    guard = Guard(stub, clock=lambda: NOW, dpop=DPoP(API, algorithms=[alg]))
    assert guard.check(view(token, (client.proof(token),)), CATS).allowed


def test_R9449_1_proof_made_with_pyjwt(stub) -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    public_jwk = OKPAlgorithm.to_jwk(private.public_key(), as_dict=True)
    thumb = jrfc_jwk.OKPKey.import_key(public_jwk).thumbprint()
    token = stub.add("pyjwt-token", cnf={"jkt": thumb})
    guard = Guard(stub, clock=lambda: NOW, dpop=DPoP(API, algorithms=["EdDSA"]))
    proof = pyjwt_proof(private, public_jwk, "EdDSA", token)
    assert guard.check(view(token, (proof,)), CATS).allowed


def test_R9449_2_bound_token_without_proof(make_guard, bound) -> None:
    decision = make_guard().check(view(bound), CATS)
    refused_proof(decision)
    assert challenges(decision)["DPoP"].param("error_description") == "DPoP proof missing"


def test_R9449_2_scheme_is_case_insensitive(make_guard, client, bound) -> None:
    assert make_guard().check(view(bound, (client.proof(bound),), scheme="dpop"), CATS).allowed


@pytest.mark.parametrize("bad", ["two", "comma"])
def test_R9449_4_D10_several_proofs(make_guard, client, bound, bad) -> None:
    one, two = client.proof(bound), client.proof(bound)
    proofs = (one, two) if bad == "two" else (f"{one},{two}",)
    refused_proof(make_guard().check(view(bound, proofs), CATS))


@pytest.mark.parametrize("claim", ["jti", "htm", "htu", "iat", "ath"])
def test_R9449_5_each_required_claim(make_guard, client, bound, claim) -> None:
    refused_proof(make_guard().check(view(bound, (client.proof(bound, drop=(claim,)),)), CATS))


def test_R9449_5_not_a_jwt(make_guard, bound) -> None:
    refused_proof(make_guard().check(view(bound, ("not-a-jwt",)), CATS))


@pytest.mark.parametrize("typ", ["JWT", "at+jwt", None])
def test_R9449_6_D6_typ(make_guard, client, bound, typ) -> None:
    header = {"typ": typ} if typ else {}
    proof = client.proof(bound, header=header)
    if typ is None:
        h, p, s = proof.split(".")
        dec = json.loads(base64.urlsafe_b64decode(h + "=="))
        dec.pop("typ")
        proof = ".".join([b64(json.dumps(dec).encode()), p, s])
    refused_proof(make_guard().check(view(bound, (proof,)), CATS))


def test_R9449_6_access_token_in_the_dpop_header(make_guard, stub, client) -> None:
    at = client.proof(None, header={"typ": "at+jwt"}, drop=("htm", "htu"))
    token = stub.add("tok", cnf={"jkt": client.jkt})
    refused_proof(make_guard().check(view(token, (at,)), CATS))


def test_R9449_7_D6_hs256(make_guard, client, bound) -> None:
    secret = jrfc_jwk.OctKey.import_key(b"k" * 32)
    proof = client.proof(bound, header={"alg": "HS256"}, sign_with=secret)
    refused_proof(make_guard().check(view(bound, (proof,)), CATS))


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_R9449_7_D6_alg_none(make_guard, client, bound, alg) -> None:
    header = b64(json.dumps({"typ": "dpop+jwt", "alg": alg, "jwk": client.public_jwk}).encode())
    payload = {
        "jti": "x" * 16,
        "htm": "GET",
        "htu": f"{API}/cats/",
        "iat": NOW,
        "ath": ath_of(bound),
    }
    proof = f"{header}.{b64(json.dumps(payload).encode())}."
    refused_proof(make_guard().check(view(bound, (proof,)), CATS))


def test_R9449_7_algorithm_not_allowed_by_policy(make_guard, stub) -> None:
    client = Client("ES384")
    token = stub.add("t384", cnf={"jkt": client.jkt})
    refused_proof(make_guard().check(view(token, (client.proof(token),)), CATS))


def test_R9449_7_configuration_refuses_hmac_and_none() -> None:
    from stepup_mfa import ConfigurationError

    for algs in (["HS256"], ["none"], []):
        with pytest.raises(ConfigurationError):
            DPoP(API, algorithms=algs)


def test_R9449_8_D6_signed_by_another_key(make_guard, client, bound) -> None:
    other = Client()
    refused_proof(
        make_guard().check(view(bound, (client.proof(bound, sign_with=other.key),)), CATS)
    )


def test_R9449_8_D6_private_key_in_jwk(make_guard, client, bound) -> None:
    private = client.key.as_dict(private=True)
    refused_proof(
        make_guard().check(view(bound, (client.proof(bound, header={"jwk": private}),)), CATS)
    )


def test_R9449_8_D6_oct_jwk(make_guard, client, bound) -> None:
    oct_jwk = {"kty": "oct", "k": b64(b"k" * 32)}
    refused_proof(
        make_guard().check(view(bound, (client.proof(bound, header={"jwk": oct_jwk}),)), CATS)
    )


def test_R9449_8_key_type_must_fit_alg(make_guard, stub) -> None:
    rsa_client = Client("PS256")
    token = stub.add("rsa", cnf={"jkt": rsa_client.jkt})
    ec = Client("ES256")
    # An ES256 header naming an RSA jwk: one key, one algorithm.
    proof = ec.proof(token, header={"jwk": rsa_client.public_jwk})
    refused_proof(make_guard().check(view(token, (proof,)), CATS))


@pytest.mark.parametrize("htm", ["POST", "get"])
def test_R9449_9_D4_htm(make_guard, client, bound, htm) -> None:
    refused_proof(make_guard().check(view(bound, (client.proof(bound, htm),)), CATS))


def test_R9449_10_query_is_not_part_of_htu(make_guard, client, bound) -> None:
    assert make_guard().check(view(bound, (client.proof(bound),), query="page=2"), CATS).allowed


@pytest.mark.parametrize(
    "htu",
    [
        f"{API}/dogs/",
        "http://api.example.com/cats/",
        f"{API}/cats",
        f"{API}/cats/?page=2",
        f"{API}/cats/#x",
        "https://evil.example.com/cats/",
        "https://api.example.com:8443/cats/",
        "https://user@api.example.com/cats/",
    ],
)
def test_R9449_10_D3_htu_mismatch(make_guard, client, bound, htu) -> None:
    refused_proof(make_guard().check(view(bound, (client.proof(bound, url=htu),)), CATS))


def test_R9449_11_normalised_htu_matches(make_guard, client, bound) -> None:
    proof = client.proof(bound, url="HTTPS://API.EXAMPLE.COM:443/%63ats/")
    assert make_guard().check(view(bound, (proof,)), CATS).allowed


def test_R9449_11_host_header_never_changes_the_expected_uri(make_guard, client, bound) -> None:
    # The view carries no Host: the expected origin is configuration only. A proof for the host a
    # spoofed header would name does not match.
    proof = client.proof(bound, url="https://evil/cats/")
    refused_proof(make_guard().check(view(bound, (proof,)), CATS))


@pytest.mark.parametrize(("offset", "ok"), [(-61, False), (-60, True), (5, True), (300, False)])
def test_R9449_12_iat_window(make_guard, client, bound, offset, ok) -> None:
    decision = make_guard().check(view(bound, (client.proof(bound, iat=NOW + offset),)), CATS)
    if ok:
        assert decision.allowed
    else:
        refused_proof(decision)


@pytest.mark.parametrize("offset", [-600, 600])
def test_D5_stale_or_future_proof(make_guard, client, bound, offset) -> None:
    refused_proof(make_guard().check(view(bound, (client.proof(bound, iat=NOW + offset),)), CATS))


def test_R9449_13_D1_replayed_proof(make_guard, client, bound) -> None:
    guard = make_guard()
    proof = client.proof(bound)
    assert guard.check(view(bound, (proof,)), CATS).allowed
    decision = guard.check(view(bound, (proof,)), CATS)
    refused_proof(decision)
    assert challenges(decision)["DPoP"].param("error_description") == "DPoP proof replayed"


def test_R9449_13_a_store_that_cannot_record_fails_closed(make_guard, client, bound) -> None:
    class Broken:
        def add(self, key: str, expires_at: float, now: float) -> bool:
            raise OSError("down")

    decision = make_guard(replay=Broken()).check(view(bound, (client.proof(bound),)), CATS)
    assert not decision.allowed and decision.status == 503


def test_R9449_13_a_full_memory_store_refuses_rather_than_forgets() -> None:
    store = MemoryReplayStore(maxsize=2)
    assert store.add("a", NOW + 60, NOW) and store.add("b", NOW + 60, NOW)
    with pytest.raises(ReplayStoreFull):
        store.add("c", NOW + 60, NOW)
    assert not store.add("a", NOW + 60, NOW)
    assert store.add("c", NOW + 200, NOW + 100)  # expired entries make room


def test_R9449_14_D12_large_jti(make_guard, client, bound) -> None:
    refused_proof(make_guard().check(view(bound, (client.proof(bound, jti="j" * 4096),)), CATS))


@pytest.mark.parametrize("bad", ["other-token", "padded", "standard", "missing"])
def test_R9449_15_D2_ath(make_guard, client, bound, bad) -> None:
    good = ath_of(bound)
    if bad == "missing":
        proof = client.proof(bound, drop=("ath",))
    else:
        ath = {
            "other-token": ath_of("another-token"),
            "padded": good + "=",
            "standard": good.replace("-", "+").replace("_", "/")
            if "-" in good or "_" in good
            else good + "=",
        }[bad]
        proof = client.proof(bound, ath=ath)
    refused_proof(make_guard().check(view(bound, (proof,)), CATS))


def test_R9449_16_D7_key_binding_mismatch(make_guard, stub, client) -> None:
    token = stub.add("other-bound", cnf={"jkt": Client().jkt})
    decision = make_guard().check(view(token, (client.proof(token),)), CATS)
    refused_proof(decision, "invalid_token")
    assert challenges(decision)["DPoP"].param("error_description") == "Invalid DPoP key binding"


def test_R9449_17_D8_bound_token_as_bearer(make_guard, client, bound) -> None:
    decision = make_guard().check(view(bound, (client.proof(bound),), scheme="Bearer"), CATS)
    found = challenges(decision)
    assert decision.status == 401
    assert found["Bearer"].error == "invalid_token"
    assert found["Bearer"].param("error_description") == "DPoP-bound token presented as Bearer"
    assert found["DPoP"].param("algs") == ALGS and found["DPoP"].error is None


def test_R9449_18_no_credentials_offers_dpop_with_algs(make_guard) -> None:
    decision = make_guard().check(view(), CATS)
    found = challenges(decision)
    assert found["DPoP"].param("algs") == ALGS and found["DPoP"].error is None


def test_R9449_19_no_credentials_both_challenges_no_error(make_guard) -> None:
    found = challenges(make_guard().check(view(), CATS))
    assert found["Bearer"].param("realm") == "api" and found["Bearer"].error is None
    assert found["DPoP"].error is None


def test_R9449_19_bad_bearer_error_only_in_bearer(make_guard) -> None:
    found = challenges(make_guard().check(view("bad", scheme="Bearer"), CATS))
    assert found["Bearer"].error == "invalid_token" and found["DPoP"].error is None


def test_R9449_19_D14_bearer_and_dpop_at_once(make_guard, client, bound) -> None:
    lines = (f"Bearer {bound}", f"DPoP {bound}")
    decision = make_guard().check(view(authorization=lines, proofs=(client.proof(bound),)), CATS)
    assert decision.status == 400
    found = challenges(decision)
    for scheme in ("Bearer", "DPoP"):
        assert found[scheme].error == "invalid_request"
        assert (
            found[scheme].param("error_description")
            == "Multiple methods used to include access token"
        )
    assert found["DPoP"].param("algs") == ALGS


SECRET = b"s" * 32


def nonce_of(decision: Any) -> str:
    values = [v for k, v in decision.headers if k == "DPoP-Nonce"]
    assert len(values) == 1
    return values[0]


def test_R9449_20_nonce_required(make_guard, client, bound) -> None:
    decision = make_guard(nonce_secret=SECRET).check(view(bound, (client.proof(bound),)), CATS)
    refused_proof(decision, "use_dpop_nonce")
    dpop = challenges(decision)["DPoP"]
    assert dpop.param("error_description") == "Resource server requires nonce in DPoP proof"
    nonce = nonce_of(decision)
    assert len(base64.urlsafe_b64decode(nonce + "=")) * 8 - 64 >= 128


def test_R9449_20_nonce_accepted_by_another_worker_with_the_secret(
    make_guard, stub, client, bound
) -> None:
    first = make_guard(nonce_secret=SECRET)
    nonce = nonce_of(first.check(view(bound, (client.proof(bound),)), CATS))
    second = Guard(stub, clock=lambda: NOW + 100, dpop=DPoP(API, nonce_secret=SECRET))
    assert second.check(
        view(bound, (client.proof(bound, iat=NOW + 100, nonce=nonce),)), DOGS
    ).allowed


@pytest.mark.parametrize("case", ["missing", "other-secret", "expired", "garbage"])
def test_R9449_21_D11_nonce_downgrade_or_forgery(stub, client, bound, case) -> None:
    issuer = DPoP(API, nonce_secret=b"o" * 32 if case == "other-secret" else SECRET)
    nonce = issuer.new_nonce(NOW - 700 if case == "expired" else NOW)
    claims = {} if case == "missing" else {"nonce": "x" * 35 if case == "garbage" else nonce}
    guard = Guard(stub, clock=lambda: NOW, dpop=DPoP(API, nonce_secret=SECRET))
    decision = guard.check(view(bound, (client.proof(bound, **claims),)), CATS)
    refused_proof(decision, "use_dpop_nonce")
    fresh = nonce_of(decision)
    if case in ("other-secret", "expired"):
        assert fresh != nonce
    assert guard.check(view(bound, (client.proof(bound, nonce=fresh),)), CATS).allowed


def test_R9449_22_nonce_refusal_is_not_cacheable(make_guard, client, bound) -> None:
    guard = make_guard(nonce_secret=SECRET)
    decision = guard.check(view(bound, (client.proof(bound),)), CATS)
    denial = guard.denial(decision)
    assert ("Cache-Control", "no-store") in denial.headers
    assert any(k == "DPoP-Nonce" for k, _ in denial.headers)


def test_R9449_23_proxy_authorization_is_not_a_credential(make_guard, client, bound) -> None:
    # Adapters read only Authorization: a DPoP credential in Proxy-Authorization is no credential.
    decision = make_guard().check(view(None, (client.proof(bound),)), CATS)
    found = challenges(decision)
    assert (
        decision.status == 401
        and found["DPoP"].error is None
        and found["DPoP"].param("algs") == ALGS
    )


def test_R9449_24_introspection_token_type_bearer_with_jkt(make_guard, stub, client) -> None:
    token = stub.add("intro", kind="introspection", token_type="Bearer", cnf={"jkt": client.jkt})
    refused_proof(make_guard().check(view(token, (client.proof(token),)), CATS), "invalid_token")


def test_R9449_24_introspection_token_type_dpop_with_jkt(make_guard, stub, client) -> None:
    token = stub.add("intro-ok", kind="introspection", token_type="DPoP", cnf={"jkt": client.jkt})
    assert make_guard().check(view(token, (client.proof(token),)), CATS).allowed


def test_R9449_3_never_200_for_any_refusal(make_guard, client, bound) -> None:
    guard = make_guard()
    for proof in (client.proof(bound, "POST"), client.proof(bound, iat=NOW - 999), "x.y.z"):
        assert not guard.check(view(bound, (proof,)), CATS).allowed


def test_D9_unbound_token_under_dpop_scheme(make_guard, stub, client) -> None:
    token = stub.add("plain")
    refused_proof(make_guard().check(view(token, (client.proof(token),)), CATS), "invalid_token")


def test_D13_token_endpoint_proof_reused_at_the_rs(make_guard, client, bound) -> None:
    proof = client.proof(None, "POST", "https://as.example.com/token")
    refused_proof(make_guard().check(view(bound, (proof,), method="POST"), CATS))


def test_R9470_7_S9_step_up_under_dpop(make_guard, stub, client) -> None:
    token = stub.add("weak", cnf={"jkt": client.jkt}, acr="pwd")
    decision = make_guard().check(view(token, (client.proof(token),)), CATS)
    assert decision.status == 401
    found = challenges(decision)
    assert set(found) == {"DPoP"}
    dpop = found["DPoP"]
    assert dpop.error == "insufficient_user_authentication"
    assert dpop.acr_values == (MFA,) and dpop.max_age == 60 and dpop.param("algs") == ALGS


def test_require_bound_token_refuses_bearer_and_accepts_dpop(
    make_guard, stub, client, bound
) -> None:
    high_value = CATS & Policy(require_bound_token=True)
    plain = stub.add("plain-token")
    guard = make_guard()
    decision = guard.check(view(plain, scheme="Bearer"), high_value)
    assert decision.status == 401 and challenges(decision)["Bearer"].error == "invalid_token"
    assert guard.check(view(plain, scheme="Bearer"), DOGS).allowed
    assert guard.check(view(bound, (client.proof(bound),)), high_value).allowed


def test_without_a_dpop_checker_the_dpop_scheme_is_unsupported(stub, client, bound) -> None:
    guard = Guard(stub, clock=lambda: NOW)
    decision = guard.check(view(bound, (client.proof(bound),)), CATS)
    assert decision.status == 401 and challenges(decision)["Bearer"].error is None


def test_configuration_needs_an_absolute_public_url() -> None:
    from stepup_mfa import ConfigurationError

    for url in ("api.example.com", "ftp://x/", "https://a@b/"):
        with pytest.raises(ConfigurationError):
            DPoP(url)
