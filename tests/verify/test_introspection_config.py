"""Configuration checked at startup, client authentication (R7662-2, R7662-12, RFC 7523) and
discovery of the endpoint from the authorization server's metadata (R8414-6)."""

from __future__ import annotations

import base64
import math
from typing import Any
from urllib.parse import parse_qsl

import pytest
from introspection_fixtures import (
    CLIENT_ID,
    CLIENT_SECRET,
    NOW,
    IntrospectionStub,
    active,
    check,
    verifier_for,
)
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from stepup_mfa._core.errors import ConfigurationError, VerifierUnavailable
from stepup_mfa._verify import introspection
from stepup_mfa._verify.flow import run_sync
from stepup_mfa._verify.introspection import (
    ClientSecretBasic,
    ClientSecretPost,
    IntrospectionVerifier,
    PrivateKeyJWT,
)
from stepup_mfa._verify.transports import HttpxTransport
from stepup_mfa.testing.server import RecordedRequest, Reply

EC_KEY = ECKey.generate_key("P-256", private=True)
BASIC = ClientSecretBasic(CLIENT_ID, CLIENT_SECRET)
HTTPS = "https://as.example.com/introspect"


# -- R7662-12: https only (loopback or an explicit switch excepted) --------------------------------


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://as.example.com/introspect",
        "http://10.0.0.1/introspect",
        "ftp://as.example.com/introspect",
        "/introspect",
        "as.example.com/introspect",
        "https:///introspect",
        "https://user:pw@as.example.com/introspect",
        "https://as.example.com/introspect#x",
        "https://[::1/introspect",
        "https://as.example.com:99999/introspect",
        "https://as.example.com:x/introspect",
        "",
    ],
)
def test_R7662_12_insecure_or_malformed_endpoint_is_refused_at_startup(endpoint: str) -> None:
    with pytest.raises(ConfigurationError):
        IntrospectionVerifier(endpoint, client_auth=BASIC)


@pytest.mark.parametrize(
    "endpoint",
    [
        HTTPS,
        "http://127.0.0.1:8080/introspect",
        "http://localhost/introspect",
        "http://[::1]:9000/introspect",
    ],
)
def test_R7662_12_https_or_loopback_endpoint_is_accepted(endpoint: str) -> None:
    assert IntrospectionVerifier(endpoint, client_auth=BASIC).endpoint == endpoint


def test_R7662_12_development_switch_allows_plain_http() -> None:
    endpoint = "http://as.internal/introspect"
    verifier = IntrospectionVerifier(endpoint, client_auth=BASIC, allow_insecure_http=True)
    assert verifier.endpoint == endpoint


# -- R7662-2: credentials are required -------------------------------------------------------------


def test_R7662_2_introspection_without_credentials_is_refused_at_startup() -> None:
    with pytest.raises(ConfigurationError, match="R7662-2"):
        IntrospectionVerifier(HTTPS, client_auth=None)


@pytest.mark.parametrize(
    ("client_id", "secret"), [("", "s"), ("id", ""), (None, "s"), ("id", None)]
)
@pytest.mark.parametrize("method", [ClientSecretBasic, ClientSecretPost])
def test_R7662_2_empty_credentials_are_refused_at_startup(
    method: Any, client_id: Any, secret: Any
) -> None:
    with pytest.raises(ConfigurationError):
        method(client_id, secret)


@pytest.mark.parametrize(
    "options",
    [
        {"cache_ttl": -1},
        {"cache_ttl": math.nan},
        {"cache_ttl": math.inf},
        {"cache_ttl": True},
        {"cache_ttl": "60"},
        {"inactive_ttl": -0.5},
        {"leeway": 301},
        {"leeway": -1},
        {"timeout": 0},
        {"retry_after": 0},
        {"retry_after": 2.5},
        {"issuer": "http://as.example.com"},
        {"issuer": "https://as.example.com?tenant=1"},
        {"issuer": ""},
        {"audience": ""},
    ],
    ids=repr,
)
def test_bad_settings_are_refused_at_startup(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        IntrospectionVerifier(HTTPS, client_auth=BASIC, **options)


def test_repr_hides_secrets() -> None:
    shown = repr(IntrospectionVerifier(HTTPS, client_auth=BASIC)) + repr(
        ClientSecretPost(CLIENT_ID, CLIENT_SECRET)
    )
    assert CLIENT_SECRET not in shown
    assert CLIENT_ID in shown


# -- R7662-2: the three client-authentication methods, checked by the stub -------------------------


def test_R7662_2_client_secret_basic_form_encodes_id_and_secret(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    """RFC 6749 §2.3.1: ':' and non-ASCII in the secret survive the Basic encoding."""
    stub.answers["t"] = active()
    assert check(verifier_for(stub), "t", NOW, transport).subject == "u1"
    header = stub.requests[0].headers["authorization"]
    decoded = base64.b64decode(header.removeprefix("Basic ")).decode()
    assert decoded == "rs-api:s3cr%3At%20%C3%A9%2B%2F%25"
    assert stub.auth_failures == []


def test_R7662_2_client_secret_post_sends_credentials_in_the_body(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    stub.auth = "post"
    stub.answers["t"] = active()
    verifier = verifier_for(stub, client_auth=ClientSecretPost(CLIENT_ID, CLIENT_SECRET))
    assert check(verifier, "t", NOW, transport).subject == "u1"
    (request,) = stub.requests
    assert "authorization" not in request.headers
    assert dict(parse_qsl(request.body.decode())) == {
        "token": "t",
        "token_type_hint": "access_token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }


@pytest.mark.parametrize(
    ("private", "algorithm"),
    [
        pytest.param(EC_KEY, "ES256", id="ES256"),
        pytest.param(RSAKey.generate_key(2048, private=True), "PS256", id="PS256"),
        pytest.param(OKPKey.generate_key("Ed25519", private=True), "Ed25519", id="Ed25519"),
    ],
)
def test_R7662_2_private_key_jwt_assertion_verifies_at_the_server(
    stub: IntrospectionStub, transport: HttpxTransport, private: Any, algorithm: str
) -> None:
    stub.auth = "private_key_jwt"
    stub.assertion_key = type(private).import_key(private.as_dict(private=False))
    stub.answers["t"] = active()
    auth = PrivateKeyJWT(CLIENT_ID, private, algorithm=algorithm, key_id="rs-key-1")
    verifier = verifier_for(stub, client_auth=auth, cache_ttl=0)
    for offset in range(2):
        assert check(verifier, "t", NOW + offset, transport).subject == "u1"
    assert stub.auth_failures == []
    first, second = stub.assertions
    assert first["jti"] != second["jti"]  # fresh per request (RFC 7523 §3, item 7)
    assert first["exp"] - first["iat"] == 60  # short-lived
    assert first["iat"] == NOW
    assert first["aud"] == stub.endpoint


def test_R7662_2_private_key_jwt_audience_can_be_the_issuer(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    """The stub wants the endpoint as ``aud``; an AS that wants its issuer gets a 503 here."""
    stub.auth = "private_key_jwt"
    stub.assertion_key = ECKey.import_key(EC_KEY.as_dict(private=False))
    stub.answers["t"] = active()
    auth = PrivateKeyJWT(CLIENT_ID, EC_KEY, audience="https://as.example.com")
    with pytest.raises(VerifierUnavailable):
        check(verifier_for(stub, client_auth=auth), "t", NOW, transport)
    assert stub.auth_failures == ["wrong aud"]
    assert stub.assertions[0]["aud"] == "https://as.example.com"


def test_R7662_2_wrong_private_key_is_refused_by_the_server_and_gives_503(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    stub.auth = "private_key_jwt"
    stub.assertion_key = ECKey.import_key(EC_KEY.as_dict(private=False))
    stub.answers["t"] = active()
    other = PrivateKeyJWT(CLIENT_ID, ECKey.generate_key("P-256", private=True))
    with pytest.raises(VerifierUnavailable):
        check(verifier_for(stub, client_auth=other), "t", NOW, transport)
    assert stub.auth_failures == ["bad assertion signature"]


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"key": ECKey.import_key(EC_KEY.as_dict(private=False))}, id="public-key"),
        pytest.param({"key": OctKey.generate_key(256), "algorithm": "HS256"}, id="HS256"),
        pytest.param({"algorithm": "RS256"}, id="algorithm-for-another-key-type"),
        pytest.param({"algorithm": "none"}, id="none"),
        pytest.param({"key": OKPKey.generate_key("Ed25519"), "algorithm": "EdDSA"}, id="EdDSA"),
        pytest.param({"key": "-----BEGIN PRIVATE KEY-----"}, id="pem-string"),
        pytest.param({"lifetime": 0}, id="lifetime-0"),
        pytest.param({"lifetime": 3600}, id="lifetime-hour"),
        pytest.param({"lifetime": math.nan}, id="lifetime-nan"),
        pytest.param({"client_id": ""}, id="empty-client-id"),
    ],
)
def test_R7662_2_private_key_jwt_misconfiguration_is_refused_at_startup(
    options: dict[str, Any],
) -> None:
    settings: dict[str, Any] = {"client_id": CLIENT_ID, "key": EC_KEY, **options}
    with pytest.raises(ConfigurationError):
        PrivateKeyJWT(**settings)


# -- R8414-6: the endpoint discovered from the authorization server's metadata ---------------------


def _publish_metadata(stub: IntrospectionStub, **members: Any) -> str:
    issuer = stub.server.url
    document = {"issuer": issuer, "introspection_endpoint": stub.endpoint, **members}
    document = {k: v for k, v in document.items() if v is not None}

    def metadata(_: RecordedRequest) -> Reply:
        return Reply.json(document)

    stub.server.routes["/.well-known/oauth-authorization-server"] = metadata
    return issuer


def _discovering(stub: IntrospectionStub, issuer: str, **options: Any) -> IntrospectionVerifier:
    return IntrospectionVerifier(None, client_auth=BASIC, issuer=issuer, **options)


def test_R8414_6_endpoint_is_discovered_once_from_metadata(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    issuer = _publish_metadata(stub)
    stub.answers["t1"] = active(iss=issuer)
    stub.answers["t2"] = active(iss=issuer)
    verifier = _discovering(stub, issuer)
    assert verifier.endpoint is None
    check(verifier, "t1", NOW, transport)
    check(verifier, "t2", NOW + 1, transport)
    assert verifier.endpoint == stub.endpoint
    assert stub.server.count("/.well-known/oauth-authorization-server") == 1
    assert stub.calls == 2


def test_R8414_6_discovered_endpoint_is_read_again_after_an_hour(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    issuer = _publish_metadata(stub)
    stub.answers["t"] = active(iss=issuer, exp=NOW + 7200)
    verifier = _discovering(stub, issuer, cache_ttl=0)
    check(verifier, "t", NOW, transport)
    check(verifier, "t", NOW + introspection.METADATA_TTL - 1, transport)
    assert stub.server.count("/.well-known/oauth-authorization-server") == 1
    check(verifier, "t", NOW + introspection.METADATA_TTL, transport)
    assert stub.server.count("/.well-known/oauth-authorization-server") == 2


@pytest.mark.parametrize(
    "members",
    [
        pytest.param({"introspection_endpoint": None}, id="no-endpoint"),
        pytest.param({"introspection_endpoint": "http://as.example.com/i"}, id="http-endpoint"),
        pytest.param({"introspection_endpoint": 7}, id="number"),
        pytest.param({"issuer": "https://other.example.com"}, id="other-issuer"),
    ],
)
def test_R8414_6_metadata_without_a_usable_endpoint_is_503(
    stub: IntrospectionStub, transport: HttpxTransport, members: dict[str, Any]
) -> None:
    issuer = _publish_metadata(stub, **members)
    stub.answers["t"] = active(iss=issuer)
    verifier = _discovering(stub, issuer)
    with pytest.raises(VerifierUnavailable):
        check(verifier, "t", NOW, transport)
    assert stub.calls == 0
    assert verifier.endpoint is None


def test_R8414_6_metadata_outage_is_503_and_retried_next_time(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    issuer = _publish_metadata(stub)
    stub.answers["t"] = active(iss=issuer)
    verifier = _discovering(stub, issuer)
    stub.server.fault = "500"
    with pytest.raises(VerifierUnavailable):
        check(verifier, "t", NOW, transport)
    stub.server.fault = None
    assert check(verifier, "t", NOW + 1, transport).subject == "u1"


def test_R8414_6_neither_endpoint_nor_issuer_is_refused_at_startup() -> None:
    with pytest.raises(ConfigurationError, match="R8414-6"):
        IntrospectionVerifier(None, client_auth=BASIC)


def test_discovered_issuer_is_also_the_trusted_issuer(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    issuer = _publish_metadata(stub)
    stub.answers["t"] = active(iss="https://evil.example")
    from stepup_mfa._core.errors import InvalidToken

    with pytest.raises(InvalidToken, match="untrusted issuer"):
        check(_discovering(stub, issuer), "t", NOW, transport)


@pytest.mark.parametrize(
    "members",
    [
        pytest.param({"introspection_endpoint": None}, id="no-endpoint"),
        pytest.param({"introspection_endpoint": "http://as.example.com/i"}, id="http-endpoint"),
    ],
)
def test_R8414_6_startup_without_an_introspection_endpoint_is_a_configuration_error(
    stub: IntrospectionStub, transport: HttpxTransport, members: dict[str, Any]
) -> None:
    issuer = _publish_metadata(stub, **members)
    with pytest.raises(ConfigurationError, match="R8414-6"):
        run_sync(_discovering(stub, issuer).startup_flow(), transport)


def test_R8414_6_startup_metadata_outage_is_503(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    issuer = _publish_metadata(stub)
    stub.server.fault = "500"
    with pytest.raises(VerifierUnavailable):
        run_sync(_discovering(stub, issuer).startup_flow(), transport)


def test_R8414_6_startup_discovery_serves_the_first_requests(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    issuer = _publish_metadata(stub)
    stub.answers["t"] = active(iss=issuer, exp=NOW + 7200)
    verifier = _discovering(stub, issuer, cache_ttl=0)
    run_sync(verifier.startup_flow(), transport)
    check(verifier, "t", NOW, transport)
    check(verifier, "t", NOW + introspection.METADATA_TTL - 1, transport)
    assert stub.server.count("/.well-known/oauth-authorization-server") == 1
    check(verifier, "t", NOW + introspection.METADATA_TTL, transport)
    assert stub.server.count("/.well-known/oauth-authorization-server") == 2


def test_startup_with_a_configured_endpoint_sends_nothing(stub: IntrospectionStub) -> None:
    flow = verifier_for(stub).startup_flow()
    with pytest.raises(StopIteration):
        next(flow)
