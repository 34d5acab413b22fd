"""The authorization code flow with PKCE, driven over HTTP exactly as a client would."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt as pyjwt
import pytest

from stepup_mfa.devidp import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, DevIdP, login
from stepup_mfa.devidp.client import LoginError
from stepup_mfa.testing import FrozenClock

ALICE = ("alice", "alice-password")

VERIFIER = "v" * 64
CHALLENGE = (
    base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
)
REDIRECT = "http://127.0.0.1/callback"


def _authorize(http: httpx.Client, idp: DevIdP, **overrides: str | None) -> httpx.Response:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": "demo-client",
        "redirect_uri": REDIRECT,
        "scope": "dogs:read",
        "state": "s1",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        **overrides,
    }
    query = {k: v for k, v in params.items() if v is not None}
    return http.get(idp.issuer + "/authorize", params=query)


def _log_in(http: httpx.Client, idp: DevIdP, **overrides: str | None) -> str:
    """Password login through the form endpoints; returns the redirect to the client."""
    to_login = _authorize(http, idp, **overrides)
    assert to_login.status_code == 303
    tx = parse_qs(urlsplit(to_login.headers["location"]).query)["tx"][0]
    done = http.post(
        idp.issuer + "/login", data={"tx": tx, "username": ALICE[0], "password": ALICE[1]}
    )
    assert done.status_code == 302
    return done.headers["location"]


def _code(location: str) -> str:
    return parse_qs(urlsplit(location).query)["code"][0]


def _exchange(idp: DevIdP, code: str, verifier: str = VERIFIER) -> httpx.Response:
    return httpx.post(
        idp.token_endpoint,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": "demo-client",
            "code_verifier": verifier,
        },
    )


def test_metadata_advertises_endpoints_pkce_and_acr_values_rfc8414(idp: DevIdP) -> None:
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        document = httpx.get(idp.issuer + path).json()
        assert document["issuer"] == idp.issuer
        assert document["code_challenge_methods_supported"] == ["S256"]
        assert document["acr_values_supported"] == [idp.password_acr, idp.mfa_acr]
        assert document["introspection_endpoint"] == idp.introspection_endpoint


def test_jwks_publishes_one_rs256_and_one_es256_public_key(idp: DevIdP) -> None:
    keys = httpx.get(idp.issuer + "/jwks.json").json()["keys"]
    assert sorted(k["alg"] for k in keys) == ["ES256", "RS256"]
    assert all("d" not in k and k["use"] == "sig" and k["kid"] for k in keys)


def test_code_flow_over_http_yields_an_rfc9068_token(
    idp: DevIdP, clock: FrozenClock, claims_of: Callable[[str], dict[str, Any]]
) -> None:
    with httpx.Client() as http:
        location = _log_in(http, idp)
    assert location.startswith(REDIRECT)
    assert parse_qs(urlsplit(location).query)["state"] == ["s1"]
    answer = _exchange(idp, _code(location))
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer"
    claims = claims_of(body["access_token"])
    assert claims["sub"] == "alice"
    assert claims["client_id"] == "demo-client"
    assert claims["scope"] == "dogs:read"
    assert {"iss", "aud", "sub", "client_id", "iat", "exp", "jti"} <= claims.keys()
    assert (claims["acr"], claims["amr"], claims["auth_time"]) == (
        idp.password_acr,
        ["pwd"],
        clock(),
    )


@pytest.mark.parametrize(
    ("overrides", "description"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "PKCE is required"),
        ({"code_challenge_method": "plain", "code_challenge": VERIFIER}, "must be S256"),
        ({"code_challenge_method": None}, "must be S256"),
    ],
)
def test_pkce_s256_is_required_for_every_request(
    idp: DevIdP, overrides: dict[str, str | None], description: str
) -> None:
    with httpx.Client() as http:
        response = _authorize(http, idp, **overrides)
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["invalid_request"]
    assert description in query["error_description"][0]


def test_wrong_code_verifier_is_refused(idp: DevIdP) -> None:
    with httpx.Client() as http:
        code = _code(_log_in(http, idp))
    answer = _exchange(idp, code, verifier="w" * 64)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_a_code_is_single_use(idp: DevIdP) -> None:
    with httpx.Client() as http:
        code = _code(_log_in(http, idp))
    assert _exchange(idp, code).status_code == 200
    assert _exchange(idp, code).json()["error"] == "invalid_grant"


def test_a_code_expires(idp: DevIdP, clock: FrozenClock) -> None:
    with httpx.Client() as http:
        code = _code(_log_in(http, idp))
    clock.advance(121)
    assert _exchange(idp, code).json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "redirect_uri", ["https://evil.example/callback", "http://127.0.0.1/other"]
)
def test_unregistered_redirect_uri_is_never_redirected_to(idp: DevIdP, redirect_uri: str) -> None:
    with httpx.Client() as http:
        response = _authorize(http, idp, redirect_uri=redirect_uri)
    assert response.status_code == 400
    assert "location" not in response.headers


def test_loopback_redirect_uri_matches_on_any_port_rfc8252(idp: DevIdP) -> None:
    with httpx.Client() as http:
        response = _authorize(http, idp, redirect_uri="http://127.0.0.1:51234/callback")
    assert response.status_code == 303


def test_wrong_password_is_refused_and_says_why(idp: DevIdP) -> None:
    with pytest.raises(LoginError) as refused:
        login(idp.issuer, "demo-client", "alice", "not-her-password")
    assert refused.value.code == "invalid_credentials"


def test_login_form_allows_five_attempts(idp: DevIdP) -> None:
    with httpx.Client() as http:
        tx = parse_qs(urlsplit(_authorize(http, idp).headers["location"]).query)["tx"][0]
        statuses = [
            http.post(
                idp.issuer + "/login", data={"tx": tx, "username": "alice", "password": "x"}
            ).status_code
            for _ in range(5)
        ]
    assert statuses == [422, 422, 422, 422, 429]


def test_a_login_form_posted_from_another_browser_is_refused(idp: DevIdP) -> None:
    with httpx.Client() as victim, httpx.Client() as attacker:
        tx = parse_qs(urlsplit(_authorize(attacker, idp).headers["location"]).query)["tx"][0]
        response = victim.post(
            idp.issuer + "/login", data={"tx": tx, "username": ALICE[0], "password": ALICE[1]}
        )
    assert response.status_code == 400


def test_unknown_resource_is_an_invalid_target_rfc8707(idp: DevIdP) -> None:
    with pytest.raises(LoginError) as refused:
        login(idp.issuer, "demo-client", *ALICE, resource="https://elsewhere.example")
    assert refused.value.code == "invalid_target"


def test_refresh_keeps_the_original_authentication_r9470_11(
    idp: DevIdP, clock: FrozenClock, claims_of: Callable[[str], dict[str, Any]]
) -> None:
    """Checklist: R9470-11."""
    first = login(
        idp.issuer, "demo-client", *ALICE, totp=idp.totp_code("alice"), acr_values=idp.mfa_acr
    )
    clock.advance(600)
    with httpx.Client() as http:
        refreshed = http.post(
            idp.token_endpoint,
            data={
                "grant_type": "refresh_token",
                "refresh_token": first.refresh_token,
                "client_id": "demo-client",
            },
        ).json()
    old = first.unverified_claims()  # expired by now; checked when it was issued
    new = claims_of(refreshed["access_token"])
    assert new["iat"] == old["iat"] + 600
    assert new["jti"] != old["jti"]
    assert (new["auth_time"], new["acr"], new["amr"]) == (old["auth_time"], old["acr"], old["amr"])


def test_refresh_tokens_rotate(idp: DevIdP) -> None:
    first = login(idp.issuer, "demo-client", *ALICE)
    data = {
        "grant_type": "refresh_token",
        "refresh_token": first.refresh_token,
        "client_id": "demo-client",
    }
    assert httpx.post(idp.token_endpoint, data=data).status_code == 200
    assert httpx.post(idp.token_endpoint, data=data).json()["error"] == "invalid_grant"


def test_client_credentials_token_has_no_user_r9068_15(
    idp: DevIdP, claims_of: Callable[[str], dict[str, Any]]
) -> None:
    """Checklist: R9068-15."""
    answer = httpx.post(
        idp.token_endpoint,
        data={"grant_type": "client_credentials", "scope": "dogs:read"},
        auth=(CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET),
    ).json()
    claims = claims_of(answer["access_token"])
    assert claims["sub"] == claims["client_id"] == CONFIDENTIAL_CLIENT_ID
    assert not {"auth_time", "acr", "amr"} & claims.keys()
    assert "refresh_token" not in answer


def test_openid_scope_adds_an_id_token_with_the_authentication_facts(idp: DevIdP) -> None:
    tokens = login(idp.issuer, "demo-client", *ALICE, scope="openid dogs:read")
    assert tokens.id_token is not None
    header = pyjwt.get_unverified_header(tokens.id_token)
    claims = pyjwt.decode(tokens.id_token, options={"verify_signature": False})
    assert header["typ"] == "JWT"
    assert claims["aud"] == "demo-client"
    assert claims["acr"] == idp.password_acr


@pytest.mark.parametrize("keep_previous", [True, False])
def test_key_rotation_while_running(
    idp: DevIdP, claims_of: Callable[[str], dict[str, Any]], keep_previous: bool
) -> None:
    before = login(idp.issuer, "demo-client", *ALICE).access_token
    old_kids = {k["kid"] for k in httpx.get(idp.issuer + "/jwks.json").json()["keys"]}
    idp.rotate_keys(keep_previous=keep_previous)
    published = {k["kid"] for k in httpx.get(idp.issuer + "/jwks.json").json()["keys"]}
    after = login(idp.issuer, "demo-client", *ALICE).access_token
    assert claims_of(after)["sub"] == "alice"
    assert pyjwt.get_unverified_header(after)["kid"] not in old_kids
    assert (old_kids <= published) is keep_previous
    assert (pyjwt.get_unverified_header(before)["kid"] in published) is keep_previous
