"""RFC 9728 protected resource metadata: the core builder and the ASGI/WSGI apps serving it."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest
from starlette.testclient import TestClient
from werkzeug.test import Client

from stepup_mfa import ConfigurationError, ResourceMetadata
from stepup_mfa._core.resource_metadata import well_known_path, well_known_url
from stepup_mfa.adapters.metadata import ResourceMetadataApp, ResourceMetadataWSGI

IDP = "https://idp.example.com"


def _metadata(resource: str = "https://api.example.com", **options: Any) -> ResourceMetadata:
    return ResourceMetadata(resource, authorization_servers=[IDP], **options)


@pytest.mark.parametrize(
    ("resource", "path"),
    [
        ("https://api.example.com", "/.well-known/oauth-protected-resource"),
        ("https://api.example.com/", "/.well-known/oauth-protected-resource"),
        ("https://api.example.com/v1", "/.well-known/oauth-protected-resource/v1"),
        ("https://api.example.com/mcp/", "/.well-known/oauth-protected-resource/mcp/"),
    ],
)
def test_R9728_1_well_known_path_inserted_before_the_resource_path(
    resource: str, path: str
) -> None:
    assert well_known_path(resource) == path
    assert well_known_url(resource) == "https://api.example.com" + path


@pytest.mark.parametrize("resource", ["https://api.example.com", "https://api.example.com/v1"])
def test_R9728_1_R9728_2_asgi_serves_the_document_at_its_path(resource: str) -> None:
    metadata = _metadata(resource)
    with TestClient(ResourceMetadataApp(metadata)) as client:
        answer = client.get(metadata.path)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["resource"] == resource
        assert client.head(metadata.path).content == b""
        assert client.post(metadata.path).status_code == 405
        assert client.post(metadata.path).headers["allow"] == "GET, HEAD"
        assert client.get("/other").status_code == 404


def test_R9728_1_R9728_2_wsgi_serves_the_document_and_passes_other_paths() -> None:
    metadata = _metadata("https://api.example.com/v1")

    def upstream(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"upstream"]

    client = Client(ResourceMetadataWSGI(metadata, upstream))
    answer = client.get("/.well-known/oauth-protected-resource/v1")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert json.loads(answer.data)["resource"] == "https://api.example.com/v1"
    assert client.post("/.well-known/oauth-protected-resource/v1").status_code == 405
    assert client.get("/v1/things").data == b"upstream"


def test_R9728_3_resource_is_published_code_point_for_code_point() -> None:
    for resource in ("https://api.example.com", "https://API.example.com/V1/"):
        assert _metadata(resource).document()["resource"] == resource


def test_R9728_5_no_null_and_no_empty_members() -> None:
    doc = ResourceMetadata("https://api.example.com").document()
    assert doc == {"resource": "https://api.example.com", "bearer_methods_supported": ["header"]}
    deliberate = ResourceMetadata(
        "https://api.example.com",
        bearer_methods_supported=[],
        dpop_signing_alg_values_supported=["ES256"],
        dpop_bound_access_tokens_required=True,
    ).document()
    assert deliberate["bearer_methods_supported"] == []
    assert None not in deliberate.values()


def test_R9728_6_published_values_follow_the_configuration() -> None:
    assert _metadata().document()["bearer_methods_supported"] == ["header"]
    both = _metadata(bearer_methods_supported=["header", "body"]).document()
    assert both["bearer_methods_supported"] == ["header", "body"]
    dpop = _metadata(dpop_signing_alg_values_supported=["ES256", "EdDSA"]).document()
    assert dpop["dpop_signing_alg_values_supported"] == ["ES256", "EdDSA"]
    assert "dpop_bound_access_tokens_required" not in dpop
    with pytest.raises(ConfigurationError, match="unknown methods"):
        _metadata(bearer_methods_supported=["cookie"])
    with pytest.raises(ConfigurationError, match="needs dpop_signing"):
        _metadata(dpop_bound_access_tokens_required=True)


@pytest.mark.parametrize(
    "issuer",
    ["http://idp.example.com", "https://idp.example.com?x=1", "https://idp.example.com#f", "idp"],
)
def test_R9728_7_authorization_servers_are_issuer_identifiers(issuer: str) -> None:
    with pytest.raises(ConfigurationError, match="authorization_servers"):
        ResourceMetadata("https://api.example.com", authorization_servers=[issuer])


def test_R9728_7_resource_is_https_without_fragment_unless_development() -> None:
    with pytest.raises(ConfigurationError, match="https"):
        ResourceMetadata("http://127.0.0.1:8000/mcp")
    with pytest.raises(ConfigurationError, match="fragment"):
        ResourceMetadata("https://api.example.com/#x")
    local = ResourceMetadata("http://127.0.0.1:8000/mcp", allow_insecure_http=True)
    assert local.url == "http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp"


def test_R9728_8_scopes_supported_and_resource_name() -> None:
    scopes = ["payees:read", "payees:read"]
    doc = _metadata(scopes_supported=scopes, resource_name="Bank").document()
    assert doc["scopes_supported"] == ["payees:read"]
    assert doc["resource_name"] == "Bank"
    assert doc["authorization_servers"] == [IDP]
    with pytest.raises(ConfigurationError, match="scope token"):
        _metadata(scopes_supported=['bad"scope'])


def test_R9728_9_R9728_10_nothing_signed_and_none_never_listed() -> None:
    doc = _metadata().document()
    assert "signed_metadata" not in doc and "jwks_uri" not in doc
    with pytest.raises(ConfigurationError, match="none"):
        _metadata(dpop_signing_alg_values_supported=["none"])


def test_R9728_12_identifiers_compare_by_code_point() -> None:
    nfc = "https://api.example.com/caf\u00e9"
    nfd = unicodedata.normalize("NFD", nfc)
    body = _metadata(nfc).to_json()
    assert json.loads(body)["resource"] == nfc != nfd
    assert "é".encode() in body  # not escaped, not normalised


def test_documentation_url_and_types_are_checked() -> None:
    doc = _metadata(resource_documentation="https://docs.example.com/api").document()
    assert doc["resource_documentation"] == "https://docs.example.com/api"
    with pytest.raises(ConfigurationError):
        _metadata(resource_documentation="not a url")
    with pytest.raises(ConfigurationError, match="list of strings"):
        ResourceMetadata("https://api.example.com", authorization_servers=IDP)  # type: ignore[arg-type]
