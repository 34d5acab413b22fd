"""OAuth 2.0 Protected Resource Metadata (RFC 9728): the document and where it is served.

A pure builder: :class:`ResourceMetadata` validates the configuration when it is built (start-up)
and renders the JSON document; :func:`well_known_url` gives the URL it is served at. The adapters
(:mod:`stepup_mfa.adapters.metadata`) only put the bytes on the wire.

Deliberately not offered: ``signed_metadata`` (R9728-10) and ``jwks_uri`` /
``resource_signing_alg_values_supported`` (R9728-9): this library signs nothing, so it publishes
none of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigurationError

#: RFC 9728 §3: the well-known URI suffix.
WELL_KNOWN = "/.well-known/oauth-protected-resource"
#: RFC 6750 §2: the three ways a bearer token may travel (RFC 9728 §2 bearer_methods_supported).
BEARER_METHODS = ("header", "body", "query")

_SCOPE_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F)) - {'"', "\\"}


@dataclass(frozen=True, slots=True)
class ResourceMetadata:
    """The protected resource metadata of one resource identifier (RFC 9728 §2).

    ``resource`` is published exactly as given, code point for code point (R9728-3, R9728-12);
    it must be an ``https`` URL without a fragment (``allow_insecure_http`` admits ``http`` for
    development). Each ``authorization_servers`` entry must be an RFC 8414 issuer identifier:
    ``https``, no query, no fragment (R9728-7). ``bearer_methods_supported`` lists the RFC 6750
    methods the server accepts (R9728-6; ``["header"]`` by default, an empty list is published as
    such). Members without a value are left out of the document (R9728-5).

    ``scopes_supported`` lists the scopes the resource's policies use; ``resource_name`` and
    ``resource_documentation`` (a URL) are for people. ``dpop_signing_alg_values_supported`` and
    ``dpop_bound_access_tokens_required`` publish the DPoP configuration (RFC 9728 §2).
    """

    resource: str
    authorization_servers: tuple[str, ...] = ()
    scopes_supported: tuple[str, ...] = ()
    bearer_methods_supported: tuple[str, ...] = ("header",)
    resource_name: str | None = None
    resource_documentation: str | None = None
    dpop_signing_alg_values_supported: tuple[str, ...] = ()
    dpop_bound_access_tokens_required: bool = False
    allow_insecure_http: bool = False

    def __init__(
        self,
        resource: str,
        *,
        authorization_servers: Iterable[str] = (),
        scopes_supported: Iterable[str] = (),
        bearer_methods_supported: Iterable[str] = ("header",),
        resource_name: str | None = None,
        resource_documentation: str | None = None,
        dpop_signing_alg_values_supported: Iterable[str] = (),
        dpop_bound_access_tokens_required: bool = False,
        allow_insecure_http: bool = False,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "allow_insecure_http", bool(allow_insecure_http))
        set_(self, "resource", _url("resource", resource, allow_insecure_http, query=True))
        set_(
            self,
            "authorization_servers",
            tuple(
                _url("authorization_servers entry", issuer, allow_insecure_http, query=False)
                for issuer in _strings("authorization_servers", authorization_servers)
            ),
        )
        scopes = _strings("scopes_supported", scopes_supported)
        for scope in scopes:
            if not scope or not set(scope) <= _SCOPE_CHARS:
                raise ConfigurationError(f"scopes_supported: {scope!r} is not a scope token")
        set_(self, "scopes_supported", tuple(dict.fromkeys(scopes)))
        methods = _strings("bearer_methods_supported", bearer_methods_supported)
        unknown = sorted(set(methods) - set(BEARER_METHODS))
        if unknown:
            raise ConfigurationError(
                f"bearer_methods_supported: unknown methods {unknown} (RFC 6750: header, body, "
                "query)"
            )
        set_(self, "bearer_methods_supported", tuple(dict.fromkeys(methods)))
        if resource_name is not None and (not isinstance(resource_name, str) or not resource_name):
            raise ConfigurationError("resource_name must be a non-empty string")
        set_(self, "resource_name", resource_name)
        if resource_documentation is not None:
            resource_documentation = _url(
                "resource_documentation", resource_documentation, True, query=True
            )
        set_(self, "resource_documentation", resource_documentation)
        algs = _strings("dpop_signing_alg_values_supported", dpop_signing_alg_values_supported)
        if any(alg.lower() == "none" for alg in algs):
            raise ConfigurationError("dpop_signing_alg_values_supported must not include 'none'")
        set_(self, "dpop_signing_alg_values_supported", tuple(dict.fromkeys(algs)))
        set_(self, "dpop_bound_access_tokens_required", bool(dpop_bound_access_tokens_required))
        if self.dpop_bound_access_tokens_required and not self.dpop_signing_alg_values_supported:
            raise ConfigurationError(
                "dpop_bound_access_tokens_required needs dpop_signing_alg_values_supported"
            )

    @property
    def url(self) -> str:
        """The absolute URL the document is served at (R9728-1): the value of challenges'
        ``resource_metadata=`` (``Guard(resource_metadata=metadata.url)``)."""
        return well_known_url(self.resource)

    @property
    def path(self) -> str:
        """The request path the document is served at on this server (R9728-1)."""
        return well_known_path(self.resource)

    def document(self) -> dict[str, Any]:
        """The metadata as a JSON object, members without a value left out (R9728-5)."""
        doc: dict[str, Any] = {"resource": self.resource}
        if self.authorization_servers:
            doc["authorization_servers"] = list(self.authorization_servers)
        if self.scopes_supported:
            doc["scopes_supported"] = list(self.scopes_supported)
        # An empty list is meaningful here (no bearer method: DPoP only, R9728-5).
        doc["bearer_methods_supported"] = list(self.bearer_methods_supported)
        if self.resource_name is not None:
            doc["resource_name"] = self.resource_name
        if self.resource_documentation is not None:
            doc["resource_documentation"] = self.resource_documentation
        if self.dpop_signing_alg_values_supported:
            doc["dpop_signing_alg_values_supported"] = list(self.dpop_signing_alg_values_supported)
        if self.dpop_bound_access_tokens_required:
            doc["dpop_bound_access_tokens_required"] = True
        return doc

    def to_json(self) -> bytes:
        """The document as UTF-8 JSON bytes (RFC 9728 §3.2), non-ASCII kept as is (R9728-12)."""
        return json.dumps(self.document(), ensure_ascii=False, separators=(",", ":")).encode()


def well_known_path(resource: str) -> str:
    """The path of the metadata for ``resource``: the well-known suffix inserted before the
    resource's path, a trailing ``/`` after the host dropped (RFC 9728 §3.1, R9728-1).

    ``https://api.example.com`` and ``https://api.example.com/`` ->
    ``/.well-known/oauth-protected-resource``; ``https://api.example.com/v1`` ->
    ``/.well-known/oauth-protected-resource/v1``. A query is kept after the path.
    """
    parts = urlsplit(resource)
    path = parts.path if parts.path != "/" else ""
    query = "?" + parts.query if parts.query else ""
    return WELL_KNOWN + path + query


def well_known_url(resource: str) -> str:
    """The absolute metadata URL for ``resource`` (RFC 9728 §3.1, R9728-1)."""
    parts = urlsplit(resource)
    return f"{parts.scheme}://{parts.netloc}{well_known_path(resource)}"


def _strings(name: str, values: Iterable[str]) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ConfigurationError(f"{name} must be a list of strings")
    items = list(values)
    if not all(isinstance(item, str) for item in items):
        raise ConfigurationError(f"{name} must be a list of strings")
    return items


def _url(name: str, value: object, allow_http: bool, *, query: bool) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a URL string, got {type(value).__name__}")
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ConfigurationError(f"{name} {value!r} is not a URL") from None
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.netloc:
        raise ConfigurationError(
            f"{name} {value!r} must be an https URL"
            + (" (http allowed)" if allow_http else " (allow_insecure_http for development)")
        )
    if parts.fragment or "#" in value:
        raise ConfigurationError(f"{name} {value!r} must not have a fragment")
    if not query and (parts.query or "?" in value):
        raise ConfigurationError(f"{name} {value!r} must not have a query (RFC 8414 §2)")
    if any(c.isspace() or ord(c) < 0x20 or c in '"\\' for c in value):
        raise ConfigurationError(f"{name} {value!r} contains characters a URL cannot carry")
    return value
