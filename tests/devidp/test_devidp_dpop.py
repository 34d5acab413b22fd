"""DPoP at the development server's token endpoint (RFC 9449 §5), end to end over real HTTP.

The server runs on 127.0.0.1 (werkzeug), the proofs are signed by joserfc (the testing kit's
``DPoPKey``) or by PyJWT with a cryptography key, and the tokens it issues are then checked by the
library's own resource-server side: ``Guard(JWTVerifier | IntrospectionVerifier, dpop=DPoP(...))``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from stepup_mfa import (
    AUTHENTICATED,
    ClientSecretBasic,
    DPoP,
    Guard,
    IntrospectionVerifier,
    JWTVerifier,
    RequestView,
)
from stepup_mfa.devidp import (
    CONFIDENTIAL_CLIENT_ID,
    CONFIDENTIAL_CLIENT_SECRET,
    RESOURCE_SERVER_CLIENT_ID,
    RESOURCE_SERVER_CLIENT_SECRET,
    DevIdP,
    DevIdPClient,
    LoginError,
    login,
)
from stepup_mfa.testing import DPoPKey, FrozenClock

ALICE = ("alice", "alice-password")
API = "https://api.example.com"


@pytest.fixture
def key(clock: FrozenClock) -> DPoPKey:
    return DPoPKey(clock=clock)


@pytest.fixture
def jwt_guard(idp: DevIdP, clock: FrozenClock) -> Iterator[Guard]:
    guard = Guard(JWTVerifier(idp.issuer, idp.audience), clock=clock, dpop=DPoP(API))
    yield guard
    guard.close()


def _cats(token: str, proof: str | None, scheme: str = "DPoP") -> RequestView:
    return RequestView(
        "GET",
        "/cats/",
        (f"{scheme} {token}",),
        scheme="https",
        dpop=(proof,) if proof is not None else (),
    )


def _token_request(idp: DevIdP, proof: str | None, **form: str) -> httpx.Response:
    """A client-credentials request by the confidential client, with ``proof`` as ``DPoP``."""
    return httpx.post(
        idp.token_endpoint,
        data={"grant_type": "client_credentials", "scope": "dogs:read", **form},
        auth=(CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET),
        headers={"DPoP": proof} if proof is not None else {},
    )


def test_IDP_1_R9449_1_bound_jwt_is_accepted_by_the_library_with_its_key(
    idp: DevIdP, key: DPoPKey, jwt_guard: Guard, claims_of: Any
) -> None:
    """IDP-1, R9449-1: a login with a proof gets ``token_type: DPoP`` and a JWT with
    ``cnf.jkt``; the library's resource server accepts it with a proof by that key."""
    tokens = login(idp.issuer, "demo-client", *ALICE, dpop=key)
    assert tokens.token_type == "DPoP"
    assert claims_of(tokens.access_token)["cnf"] == {"jkt": key.jkt}
    proof = key.proof("GET", f"{API}/cats/", token=tokens.access_token)
    assert jwt_guard.check(_cats(tokens.access_token, proof), AUTHENTICATED).allowed


def test_IDP_1_R9449_16_stolen_bound_jwt_is_refused_without_its_key(
    idp: DevIdP, key: DPoPKey, jwt_guard: Guard, clock: FrozenClock
) -> None:
    """IDP-1, R9449-16, R9449-17: the same token with a thief's key, or as Bearer, is refused."""
    token = login(idp.issuer, "demo-client", *ALICE, dpop=key).access_token
    thief = DPoPKey(clock=clock)
    stolen = jwt_guard.check(
        _cats(token, thief.proof("GET", f"{API}/cats/", token=token)), AUTHENTICATED
    )
    assert stolen.status == 401 and stolen.error.code == "invalid_token"
    as_bearer = jwt_guard.check(_cats(token, None, scheme="Bearer"), AUTHENTICATED)
    assert as_bearer.status == 401 and as_bearer.error.code == "invalid_token"


def test_IDP_1_no_proof_gets_a_bearer_token(idp: DevIdP, claims_of: Any) -> None:
    """IDP-1: without a ``DPoP`` header nothing changes: ``Bearer``, no ``cnf``."""
    tokens = login(idp.issuer, "demo-client", *ALICE)
    assert tokens.token_type == "Bearer"
    assert "cnf" not in claims_of(tokens.access_token)


def test_IDP_1_R9449_24_introspection_says_dpop_and_the_library_checks_it(
    idp: DevIdP, key: DPoPKey, clock: FrozenClock
) -> None:
    """IDP-1, R9449-24: an opaque bound token introspects with ``cnf.jkt`` and
    ``token_type: DPoP``; the library's introspection verifier accepts it with the key only."""
    token = login(
        idp.issuer, "demo-client", *ALICE, resource=idp.opaque_audience, dpop=key
    ).access_token
    answer = httpx.post(
        idp.introspection_endpoint,
        data={"token": token},
        auth=(RESOURCE_SERVER_CLIENT_ID, RESOURCE_SERVER_CLIENT_SECRET),
    ).json()
    assert (answer["token_type"], answer["cnf"]) == ("DPoP", {"jkt": key.jkt})
    verifier = IntrospectionVerifier(
        issuer=idp.issuer,
        audience=idp.opaque_audience,
        client_auth=ClientSecretBasic(RESOURCE_SERVER_CLIENT_ID, RESOURCE_SERVER_CLIENT_SECRET),
    )
    guard = Guard(verifier, clock=clock, dpop=DPoP(API))
    try:
        proof = key.proof("GET", f"{API}/cats/", token=token)
        assert guard.check(_cats(token, proof), AUTHENTICATED).allowed
        thief = DPoPKey(clock=clock).proof("GET", f"{API}/cats/", token=token)
        assert guard.check(_cats(token, thief), AUTHENTICATED).error.code == "invalid_token"
    finally:
        guard.close()


def test_IDP_1_proof_signed_by_pyjwt_binds_the_token(
    idp: DevIdP, clock: FrozenClock, claims_of: Any
) -> None:
    """IDP-1: a proof made by an independent JOSE implementation (PyJWT + cryptography)."""
    private = ec.generate_private_key(ec.SECP256R1())
    public_jwk = json.loads(pyjwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    claims = {"jti": str(uuid.uuid4()), "htm": "POST", "htu": idp.token_endpoint}
    proof = pyjwt.encode(
        {**claims, "iat": int(clock())},
        private,
        algorithm="ES256",
        headers={"typ": "dpop+jwt", "jwk": public_jwk},
    )
    response = _token_request(idp, proof)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "DPoP"
    assert claims_of(response.json()["access_token"])["cnf"] == {"jkt": _rfc7638(public_jwk)}


def _rfc7638(jwk: dict[str, Any]) -> str:
    """The RFC 7638 thumbprint of an EC key, computed here (not by the code under test)."""
    members = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode())
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def test_IDP_2_R9449_13_replayed_proof_is_refused_at_the_token_endpoint(
    idp: DevIdP, key: DPoPKey
) -> None:
    """IDP-2, R9449-13: the second use of one proof is 400 ``invalid_dpop_proof``."""
    proof = key.proof("POST", idp.token_endpoint)
    assert _token_request(idp, proof).status_code == 200
    replayed = _token_request(idp, proof)
    assert replayed.status_code == 400
    assert replayed.json() == {
        "error": "invalid_dpop_proof",
        "error_description": "DPoP proof replayed",
    }


@pytest.mark.parametrize(
    ("change", "description"),
    [
        ({"claims": {"htu": "http://127.0.0.1:1/token"}}, "htu"),
        ({"claims": {"htm": "GET"}}, "htm"),
        ({"claims": {"jti": None}}, "lacks a required claim"),
        ({"header": {"typ": "JWT"}}, "typ"),
        ({"iat": 0}, "iat"),
    ],
)
def test_IDP_2_invalid_proofs_get_no_token(
    idp: DevIdP, key: DPoPKey, change: dict[str, Any], description: str
) -> None:
    """IDP-2, R9449-5, R9449-6, R9449-9, R9449-10, R9449-12: the library's proof checks, at the
    token endpoint: 400 ``invalid_dpop_proof`` and no token."""
    response = _token_request(idp, key.proof("POST", idp.token_endpoint, **change))
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_dpop_proof" and "access_token" not in body
    assert description in body["error_description"]


def test_IDP_2_two_proofs_are_refused(idp: DevIdP, key: DPoPKey) -> None:
    """IDP-2, R9449-4: two ``DPoP`` lines (joined by the server with a comma) are refused."""
    one, two = (key.proof("POST", idp.token_endpoint) for _ in range(2))
    response = httpx.post(
        idp.token_endpoint,
        data={"grant_type": "client_credentials"},
        auth=(CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET),
        headers=[("DPoP", one), ("DPoP", two)],
    )
    assert response.status_code == 400
    assert response.json()["error_description"] == "Multiple DPoP proofs"


def test_D13_a_token_endpoint_proof_is_not_accepted_at_the_resource_server(
    idp: DevIdP, key: DPoPKey, jwt_guard: Guard
) -> None:
    """D13: the proof that obtained the token (no ``ath``, ``htu`` the token endpoint) does not
    open the API."""
    proof = key.proof("POST", idp.token_endpoint)
    response = _token_request(idp, proof)
    token = response.json()["access_token"]
    refused = jwt_guard.check(_cats(token, proof), AUTHENTICATED)
    assert refused.status == 401 and refused.error.code == "invalid_dpop_proof"


def test_IDP_3_bound_refresh_token_needs_the_same_key(
    idp: DevIdP, key: DPoPKey, clock: FrozenClock, claims_of: Any
) -> None:
    """IDP-3: a public client's refresh token is bound: refused without a proof and with another
    key's, refreshed (and bound again) with the original key's."""
    tokens = login(idp.issuer, "demo-client", *ALICE, dpop=key)
    assert tokens.refresh_token is not None
    with DevIdPClient(idp.issuer) as no_key, pytest.raises(LoginError) as refused:
        no_key.refresh(tokens.refresh_token)
    assert refused.value.code == "invalid_grant"
    with (
        DevIdPClient(idp.issuer, dpop=DPoPKey(clock=clock)) as thief,
        pytest.raises(LoginError) as stolen,
    ):
        thief.refresh(tokens.refresh_token)
    assert stolen.value.code == "invalid_grant"
    with DevIdPClient(idp.issuer, dpop=key) as owner:
        refreshed = owner.refresh(tokens.refresh_token)
    assert refreshed.token_type == "DPoP"
    assert claims_of(refreshed.access_token)["cnf"] == {"jkt": key.jkt}


def test_IDP_1_metadata_names_the_proof_algorithms(idp: DevIdP) -> None:
    """IDP-1: RFC 9449 §5.1 ``dpop_signing_alg_values_supported``."""
    document = httpx.get(idp.metadata_url).json()
    assert "ES256" in document["dpop_signing_alg_values_supported"]
    assert "HS256" not in document["dpop_signing_alg_values_supported"]


def test_IDP_2_R9449_20_nonce_mode_asks_for_a_nonce_then_issues() -> None:
    """IDP-2, R9449-20: with ``dpop_nonces`` a proof without a nonce gets 400 ``use_dpop_nonce``
    and a ``DPoP-Nonce``; the retry with it gets a bound token."""
    with DevIdP(dpop_nonces=True) as idp:
        key = DPoPKey()
        first = _token_request(idp, key.proof("POST", idp.token_endpoint))
        assert first.status_code == 400 and first.json()["error"] == "use_dpop_nonce"
        nonce = first.headers["DPoP-Nonce"]
        retry = _token_request(idp, key.proof("POST", idp.token_endpoint, nonce=nonce))
        assert retry.status_code == 200 and retry.json()["token_type"] == "DPoP"


class _BrokenReplayStore:
    """A replay store that cannot record (a Redis outage, made here: it cannot be made real in
    the in-memory store)."""

    def add(self, key: str, expires_at: float, now: float) -> bool:
        raise ConnectionError("replay store down")


def test_IDP_2_replay_store_outage_issues_nothing(idp: DevIdP, key: DPoPKey) -> None:
    """IDP-2: a proof that cannot be recorded is 503 ``temporarily_unavailable``, never a token."""
    idp.dpop.replay = _BrokenReplayStore()
    response = _token_request(idp, key.proof("POST", idp.token_endpoint))
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert "access_token" not in response.json()
