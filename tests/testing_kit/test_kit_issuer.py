"""FakeIssuer: RFC 8414 metadata, the factory's JWKS and RFC 7662 introspection over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from stepup_mfa.testing import FakeIssuer, FrozenClock

NOW = 1_700_000_000


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    with FakeIssuer(clock=FrozenClock(NOW)) as running:
        yield running


@pytest.mark.parametrize(
    "path", ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]
)
def test_metadata_names_the_issuer_and_its_jwks_r8414_3(issuer: FakeIssuer, path: str) -> None:
    """Checklist: R8414-3."""
    document = httpx.get(issuer.issuer + path).json()
    assert document["issuer"] == issuer.issuer
    assert document["jwks_uri"] == issuer.jwks_uri
    assert "urn:stepup-mfa:acr:mfa" in document["acr_values_supported"]


def test_tokens_are_issued_by_the_issuer(issuer: FakeIssuer) -> None:
    assert issuer.tokens.claims()["iss"] == issuer.issuer


def test_jwks_follows_key_rotation_and_counts_fetches(issuer: FakeIssuer) -> None:
    before = {k["kid"] for k in httpx.get(issuer.jwks_uri).json()["keys"]}
    issuer.rotate_keys(keep_previous=False)
    after = {k["kid"] for k in httpx.get(issuer.jwks_uri).json()["keys"]}
    assert len(before) == len(after) == 2
    assert not before & after
    assert issuer.count("/jwks.json") == 2


def test_jwks_has_one_rs256_and_one_es256_public_key(issuer: FakeIssuer) -> None:
    keys = httpx.get(issuer.jwks_uri).json()["keys"]
    assert sorted(k["alg"] for k in keys) == ["ES256", "RS256"]
    assert all("d" not in k for k in keys)


def test_metadata_can_be_broken_by_the_test_r8414_3(issuer: FakeIssuer) -> None:
    """Checklist: R8414-3."""
    issuer.metadata["issuer"] = issuer.issuer + "/"
    assert (
        httpx.get(issuer.issuer + "/.well-known/oauth-authorization-server")
        .json()["issuer"]
        .endswith("/")
    )


def _introspect(issuer: FakeIssuer, token: str, auth: tuple[str, str] | None) -> httpx.Response:
    return httpx.post(issuer.introspection_endpoint, data={"token": token}, auth=auth)


def test_introspection_answers_the_registered_claims_r9470_9(issuer: FakeIssuer) -> None:
    """Checklist: R9470-9."""
    token = issuer.opaque_token(mfa=True, auth_age=120, scope="cats:read")
    answer = _introspect(issuer, token, issuer.introspection_client).json()
    assert answer["active"] is True
    assert answer["auth_time"] == NOW - 120
    assert answer["acr"] == "urn:stepup-mfa:acr:mfa"
    assert answer["scope"] == "cats:read"


@pytest.mark.parametrize("revoked", [True, False])
def test_unknown_or_revoked_tokens_are_inactive_r7662_5(issuer: FakeIssuer, revoked: bool) -> None:
    """Checklist: R7662-5."""
    token = issuer.opaque_token() if revoked else "never-issued"
    if revoked:
        issuer.revoke(token)
    assert _introspect(issuer, token, issuer.introspection_client).json() == {"active": False}


@pytest.mark.parametrize(
    "auth", [None, ("test-resource-server", "wrong"), ("someone-else", "test-rs-secret")]
)
def test_introspection_requires_client_authentication_r7662_2(
    issuer: FakeIssuer, auth: tuple[str, str] | None
) -> None:
    """Checklist: R7662-2."""
    response = _introspect(issuer, issuer.opaque_token(), auth)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}
