"""RFC 8414 metadata discovery (checklist section 10), against a real server on 127.0.0.1."""

from __future__ import annotations

from typing import Any

import pytest

from stepup_mfa._core.errors import ConfigurationError, VerifierUnavailable
from stepup_mfa._verify.discovery import (
    metadata_flow,
    metadata_url,
    metadata_urls,
    validate_issuer,
)
from stepup_mfa._verify.flow import HttpResponse
from stepup_mfa._verify.jwt_verifier import JWTVerifier
from stepup_mfa.testing.server import Reply


@pytest.mark.parametrize(
    ("issuer", "expected"),
    [
        (
            "https://as.example.com/tenant1",
            "https://as.example.com/.well-known/oauth-authorization-server/tenant1",
        ),
        ("https://as.example.com", "https://as.example.com/.well-known/oauth-authorization-server"),
        (
            "https://as.example.com/",
            "https://as.example.com/.well-known/oauth-authorization-server",
        ),
        (
            "https://as.example.com:8443/a/b/",
            "https://as.example.com:8443/.well-known/oauth-authorization-server/a/b",
        ),
    ],
)
def test_R8414_1_well_known_inserted_between_host_and_path(issuer: str, expected: str) -> None:
    assert metadata_url(issuer) == expected


def test_R8414_8_openid_configuration_appended_as_fallback() -> None:
    assert metadata_urls("https://as.example.com/tenant1") == (
        "https://as.example.com/.well-known/oauth-authorization-server/tenant1",
        "https://as.example.com/tenant1/.well-known/openid-configuration",
    )


def test_metadata_flow_sans_io_with_send() -> None:
    """The flow is driven by hand: no server, no I/O (architecture convention 1)."""
    flow = metadata_flow("https://as.example.com")
    request = next(flow)
    assert (request.method, request.url) == (
        "GET",
        "https://as.example.com/.well-known/oauth-authorization-server",
    )
    body = b'{"issuer":"https://as.example.com","jwks_uri":"https://as.example.com/k","x":1}'
    with pytest.raises(StopIteration) as done:
        flow.send(HttpResponse(200, {"content-type": "application/json"}, body))
    assert done.value.value["jwks_uri"] == "https://as.example.com/k"


@pytest.mark.parametrize(
    "issuer",
    [
        "http://as.example.com",
        "https://as.example.com?x=1",
        "https://as.example.com#f",
        "https://as.example.com/?",
        "ftp://as.example.com",
        "as.example.com",
        "",
        "https://user:pw@as.example.com",
        42,
    ],
    ids=repr,
)
def test_R8414_4_configured_issuer_must_be_https_without_query_or_fragment(issuer: Any) -> None:
    with pytest.raises(ConfigurationError):
        validate_issuer(issuer)
    with pytest.raises(ConfigurationError):
        JWTVerifier(issuer, "https://api.example.com")


@pytest.mark.parametrize(
    "issuer", ["http://127.0.0.1:8080", "http://localhost/x", "http://[::1]:9000"]
)
def test_R8414_4_http_allowed_for_loopback_issuers(issuer: str) -> None:
    assert validate_issuer(issuer) == issuer


def test_R8414_4_http_allowed_with_the_development_switch() -> None:
    assert validate_issuer("http://idp.internal", allow_insecure_http=True) == "http://idp.internal"


def test_R8414_2_metadata_with_unknown_members_is_used(issuer_server: Any, run: Any) -> None:
    issuer_server.metadata["x-vendor-extension"] = {"anything": [1, 2]}
    document = run(metadata_flow(issuer_server.issuer))
    assert document["jwks_uri"] == issuer_server.jwks_uri
    assert issuer_server.server.requests[0].headers.get("accept") == "application/json"


def test_R8414_1_issuer_with_path_uses_inserted_well_known(
    make_issuer: Any, run: Any, check: Any, audience: str
) -> None:
    server = make_issuer(path="/tenant1")
    verifier = JWTVerifier(server.issuer, audience)
    assert check(verifier, server.mint()).issuer == server.issuer
    assert server.server.requests[0].path == "/.well-known/oauth-authorization-server/tenant1"


def test_R8414_8_falls_back_to_openid_configuration_on_404(issuer_server: Any, run: Any) -> None:
    routes = issuer_server.server.routes
    routes["/.well-known/openid-configuration"] = routes.pop(
        "/.well-known/oauth-authorization-server"
    )
    document = run(metadata_flow(issuer_server.issuer))
    assert document["issuer"] == issuer_server.issuer
    assert [r.path for r in issuer_server.server.requests] == [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ]


@pytest.mark.parametrize(
    "wrong_issuer",
    [
        lambda iss: iss + "/",
        lambda iss: iss.replace("127.0.0.1", "localhost"),
        lambda iss: iss.upper(),
        lambda iss: None,
        lambda iss: [iss],
    ],
    ids=["X1-extra-slash", "X1-other-host", "R8414_7-case", "missing", "array"],
)
def test_X1_R8414_3_metadata_for_another_issuer_refused(
    wrong_issuer: Any, issuer_server: Any, verifier: Any, check: Any
) -> None:
    issuer_server.metadata["issuer"] = wrong_issuer(issuer_server.issuer)
    with pytest.raises(VerifierUnavailable):
        check(verifier, issuer_server.mint())
    assert issuer_server.jwks_fetches == 0


@pytest.mark.parametrize("fault", ["500", "garbage", "close"])
def test_R8414_2_metadata_failure_gives_503_not_invalid_token(
    fault: str, issuer_server: Any, verifier: Any, check: Any
) -> None:
    issuer_server.server.fault = fault
    with pytest.raises(VerifierUnavailable):
        check(verifier, issuer_server.mint())


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, b'{"issuer": 1', {"Content-Type": "application/json"}),
        Reply(200, b"[]", {"Content-Type": "application/json"}),
        Reply(200, b'{"issuer":"x","issuer":"y"}', {"Content-Type": "application/json"}),
        Reply(302, b"", {"Location": "https://elsewhere.example/"}),
    ],
    ids=["truncated", "array", "duplicate", "redirect"],
)
def test_R8414_2_malformed_metadata_refused(reply: Reply, issuer_server: Any, run: Any) -> None:
    issuer_server.server.routes["/.well-known/oauth-authorization-server"] = lambda r: reply
    with pytest.raises(VerifierUnavailable):
        run(metadata_flow(issuer_server.issuer))


def test_R8414_2_metadata_must_be_served_as_json(issuer_server: Any, run: Any) -> None:
    issuer_server.server.routes["/.well-known/oauth-authorization-server"] = lambda r: Reply(
        200, b'{"issuer":"%s"}' % issuer_server.issuer.encode(), {"Content-Type": "text/plain"}
    )
    with pytest.raises(VerifierUnavailable):
        run(metadata_flow(issuer_server.issuer))


def test_required_member_missing_is_refused(issuer_server: Any, run: Any) -> None:
    """The introspection verifier asks for ``introspection_endpoint``; absent -> refused."""
    with pytest.raises(VerifierUnavailable):
        run(metadata_flow(issuer_server.issuer, required=("introspection_endpoint",)))


def test_metadata_is_fetched_once_and_reused(issuer_server: Any, verifier: Any, check: Any) -> None:
    for i in range(3):
        token = issuer_server.mint(claims=issuer_server.claims(jti=f"j{i}", exp=1_900_010_000))
        check(verifier, token, 1_900_000_000 + i * 1000)
    assert issuer_server.metadata_fetches == 1


def test_configured_jwks_uri_skips_discovery(
    issuer_server: Any, make_verifier: Any, check: Any
) -> None:
    verifier = make_verifier(jwks_uri=issuer_server.jwks_uri)
    check(verifier, issuer_server.mint())
    assert issuer_server.metadata_fetches == 0
    assert issuer_server.jwks_fetches == 1
