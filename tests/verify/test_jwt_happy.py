"""Happy paths: tokens from two independent implementations (joserfc, PyJWT) verify."""

from __future__ import annotations

from typing import Any

import pytest

from stepup_mfa._core.principal import Principal

ALL_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]


@pytest.mark.parametrize("alg", ALL_ALGORITHMS)
def test_R9068_3_R9068_6_joserfc_token_verifies(
    alg: str, issuer_server: Any, make_verifier: Any, check: Any
) -> None:
    """R9068-3 (RS256 supported), R9068-6: every allowlisted algorithm verifies with its key."""
    key = issuer_server.new_key(alg, kid=f"k-{alg}")
    principal = check(make_verifier(), issuer_server.mint(key))
    assert isinstance(principal, Principal)
    assert principal.subject == "user-1"
    assert principal.issuer == issuer_server.issuer
    assert principal.scopes == frozenset({"cats:read", "dogs:read"})
    assert principal.acr == "urn:example:acr:mfa"


@pytest.mark.parametrize("alg", ALL_ALGORITHMS)
def test_R9068_3_pyjwt_token_verifies(
    alg: str, issuer_server: Any, make_verifier: Any, check: Any
) -> None:
    """Tokens minted by PyJWT verify too, so a misunderstanding shared with joserfc shows."""
    key = issuer_server.new_key(alg, kid=f"k-{alg}")
    principal = check(make_verifier(), issuer_server.mint_pyjwt(key))
    assert principal.subject == "user-1"
    assert principal.auth_time is not None


def test_eddsa_verifies_when_allowlisted(
    issuer_server: Any, make_verifier: Any, check: Any
) -> None:
    key = issuer_server.new_key("EdDSA", kid="ed")
    verifier = make_verifier(algorithms=["EdDSA"])
    token = issuer_server.sign_raw(issuer_server.header(key), issuer_server.claims(), key)
    assert check(verifier, token).subject == "user-1"


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "at+JWT", "Application/AT+JWT"])
def test_R9068_1_R7515_8_typ_media_type_compares_case_insensitively(
    typ: str, issuer_server: Any, verifier: Any, check: Any
) -> None:
    key = issuer_server.keys[0]
    token = issuer_server.mint(key, header=issuer_server.header(key, typ=typ))
    assert check(verifier, token).subject == "user-1"


@pytest.mark.parametrize("typ", ["JWT", "jwt", "application/jwt", None])
def test_R9068_1_accept_jwt_typ_option(
    typ: Any, issuer_server: Any, make_verifier: Any, check: Any, drop: Any
) -> None:
    """An explicit option accepts ``JWT`` (or no typ) for servers that do not type tokens."""
    key = issuer_server.keys[0]
    token = issuer_server.mint(
        key, header=issuer_server.header(key, typ=drop if typ is None else typ)
    )
    assert check(make_verifier(accept_jwt_typ=True), token).subject == "user-1"


def test_R9068_5_aud_array_containing_ours(issuer_server: Any, verifier: Any, check: Any) -> None:
    token = issuer_server.mint(
        claims=issuer_server.claims(aud=["https://other.example.com", "https://api.example.com"])
    )
    assert check(verifier, token).audience == (
        "https://other.example.com",
        "https://api.example.com",
    )


def test_R9068_14_second_key_in_jwks_selected_by_kid(
    issuer_server: Any, verifier: Any, check: Any
) -> None:
    second = issuer_server.new_key("RS256", kid="second")
    assert check(verifier, issuer_server.mint(second)).subject == "user-1"


def test_R9068_14_token_without_kid_tries_the_issuers_keys(
    issuer_server: Any, verifier: Any, check: Any, drop: Any
) -> None:
    issuer_server.new_key("ES256", kid="ec")
    key = issuer_server.keys[0]
    token = issuer_server.mint(key, header=issuer_server.header(key, kid=drop))
    assert check(verifier, token).subject == "user-1"


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("exp", 1_900_000_000 - 30),
        ("nbf", 1_900_000_000 + 30),
        ("iat", 1_900_000_000 + 30),
        ("auth_time", 1_900_000_000 + 30),
    ],
    ids=["R9068_7-exp-30s-ago", "R7519_2-nbf-in-30s", "T4-iat-in-30s", "OIDC_4-auth_time-in-30s"],
)
def test_R9068_7_R7519_2_leeway_absorbs_skew(
    claim: str, value: int, issuer_server: Any, verifier: Any, check: Any
) -> None:
    token = issuer_server.mint(claims=issuer_server.claims(**{claim: value}))
    assert check(verifier, token).subject == "user-1"


def test_R7519_5_fractional_numeric_date_accepted(
    issuer_server: Any, verifier: Any, check: Any
) -> None:
    token = issuer_server.mint(claims=issuer_server.claims(exp=1_900_000_300.5))
    assert check(verifier, token).expires_at == 1_900_000_300.5


def test_R9068_10_required_claims_configurable(
    issuer_server: Any, make_verifier: Any, check: Any, drop: Any
) -> None:
    """Servers that omit ``client_id`` and ``jti`` can be accommodated explicitly."""
    token = issuer_server.mint(claims=issuer_server.claims(client_id=drop, jti=drop))
    verifier = make_verifier(required_claims=["iss", "exp", "aud", "sub", "iat"])
    assert check(verifier, token).client_id is None


def test_R9068_15_client_credentials_token_verifies_without_auth_time(
    issuer_server: Any, verifier: Any, check: Any, drop: Any
) -> None:
    """A client-credentials token is valid; the policy (not the verifier) refuses it for step-up."""
    token = issuer_server.mint(
        claims=issuer_server.claims(sub="client-1", auth_time=drop, acr=drop, amr=drop)
    )
    principal = check(verifier, token)
    assert principal.auth_time is None and principal.subject == principal.client_id


def test_R9068_11_unknown_claims_and_principal_claims_kept(
    issuer_server: Any, verifier: Any, check: Any
) -> None:
    token = issuer_server.mint(claims=issuer_server.claims(groups=["admins"], cnf={"jkt": "abc"}))
    principal = check(verifier, token)
    assert principal.claims["groups"] == ["admins"]
    assert principal.cnf == {"jkt": "abc"}


def test_K10_multi_issuer_keys_looked_up_per_issuer(
    make_issuer: Any, check: Any, audience: str
) -> None:
    from stepup_mfa._verify.jwt_verifier import JWTVerifier

    first = make_issuer(kid="shared-kid")
    second = make_issuer(kid="shared-kid")
    verifier = JWTVerifier([first.issuer, second.issuer], audience)
    assert check(verifier, first.mint()).issuer == first.issuer
    assert check(verifier, second.mint()).issuer == second.issuer


def test_R9068_1_typed_access_token_may_carry_nonce(
    issuer_server: Any, verifier: Any, check: Any
) -> None:
    """Some servers copy ``nonce`` into access tokens; ``typ`` at+jwt already says what it is."""
    token = issuer_server.mint(claims=issuer_server.claims(nonce="n-1"))
    assert check(verifier, token).claims["nonce"] == "n-1"
