"""Authorization-server metadata discovery (RFC 8414, with OpenID Connect Discovery as fallback).

:func:`metadata_flow` is a sans-I/O flow: it yields the GET requests and returns the validated
metadata document. The JWT verifier uses it to find ``jwks_uri``; the introspection verifier uses
it to find ``introspection_endpoint``. Both drive it with :func:`~stepup_mfa._verify.flow.run_sync`
or :func:`~stepup_mfa._verify.flow.run_async`.

Deliberately not done: fetching both documents and comparing them (R8414-8 allows either source;
we use the first one that exists), signed metadata (``signed_metadata``), and following redirects
(a 3xx is an answer, and it is refused: attack K12).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .._core.errors import ConfigurationError, VerifierUnavailable
from .._observe import log_fields
from .flow import DEFAULT_TIMEOUT, Flow, HttpRequest, TransportError
from .strict_json import MalformedJSON, loads_strict_json

logger = logging.getLogger("stepup_mfa")

OAUTH_WELL_KNOWN = "/.well-known/oauth-authorization-server"
OPENID_WELL_KNOWN = "/.well-known/openid-configuration"

_JSON_ACCEPT = (("accept", "application/json"),)


def is_loopback_host(host: str | None) -> bool:
    """``localhost`` or a loopback IP literal (127.0.0.0/8, ::1): plain http is tolerable there."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_secure_url(url: str, *, allow_insecure_http: bool = False) -> bool:
    """Whether ``url`` is an absolute https URL (or http to loopback / with the development switch).

    R8414-4, R8414-5: metadata, JWKS and introspection are reached over TLS. Plain http is
    accepted only for a loopback host (local development and tests) or when the application
    explicitly sets ``allow_insecure_http`` (never in production).
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    if not host or parts.username is not None or parts.password is not None:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and (allow_insecure_http or is_loopback_host(host))


def check_secure_url(url: object, what: str, *, allow_insecure_http: bool = False) -> str:
    """A configured endpoint URL (``jwks_uri``, introspection ``endpoint``), or
    :class:`ConfigurationError` at start-up: :func:`is_secure_url`, and no fragment
    (R8414-4, R7662-12)."""
    if not isinstance(url, str) or not url:
        raise ConfigurationError(f"{what} must be a non-empty string")
    if not is_secure_url(url, allow_insecure_http=allow_insecure_http) or "#" in url:
        raise ConfigurationError(
            f"{what} must be an https URL without credentials or fragment (http only on "
            "loopback, or with allow_insecure_http=True for development)"
        )
    return url


def validate_issuer(issuer: object, *, allow_insecure_http: bool = False) -> str:
    """Check a configured issuer identifier at startup; raise :class:`ConfigurationError`.

    R8414-4: the issuer is an https URL with no query or fragment (http only for loopback hosts
    or with the development switch). It is kept exactly as given: issuers compare by code point
    with no normalisation (R8414-7, R9068-4).
    """
    if not isinstance(issuer, str) or not issuer:
        raise ConfigurationError("The issuer must be a non-empty string")
    if not is_secure_url(issuer, allow_insecure_http=allow_insecure_http):
        raise ConfigurationError(
            "The issuer must be an https URL (http is accepted on loopback, or elsewhere with "
            "allow_insecure_http=True / STEPUP_ALLOW_INSECURE_HTTP=1, for development only)"
        )
    parts = urlsplit(issuer)
    if parts.query or parts.fragment or "?" in issuer or "#" in issuer:
        raise ConfigurationError("The issuer must not have a query or fragment")
    return issuer


def metadata_url(issuer: str, well_known: str = OAUTH_WELL_KNOWN) -> str:
    """The metadata URL for ``issuer``.

    R8414-1: for RFC 8414 the well-known suffix goes between the host and the issuer's path, with
    a trailing ``/`` dropped (``https://as/t1`` -> ``https://as/.well-known/oauth-authorization-server/t1``).
    OpenID Connect Discovery instead appends the suffix to the issuer (R8414-8).
    """
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    if well_known == OPENID_WELL_KNOWN:
        new_path = path + well_known
    else:
        new_path = well_known + path
    return urlunsplit((parts.scheme, parts.netloc, new_path, "", ""))


def metadata_urls(issuer: str) -> tuple[str, str]:
    """The URLs tried in order: RFC 8414 first, then OpenID Connect Discovery."""
    return metadata_url(issuer, OAUTH_WELL_KNOWN), metadata_url(issuer, OPENID_WELL_KNOWN)


def _is_json_content_type(value: str | None) -> bool:
    if value is None:
        return False
    media_type = value.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def sanitize_cause(text: str) -> str:
    """A cause quoting the server's words, kept printable and short (it reaches logs)."""
    printable = "".join(c if c.isprintable() else "?" for c in text)
    return printable[:300]


def parse_metadata(
    body: bytes,
    content_type: str | None,
    issuer: str,
    *,
    required: Sequence[str] = (),
    allow_insecure_http: bool = False,
) -> Mapping[str, Any]:
    """Validate one metadata document; raise :class:`VerifierUnavailable` when it cannot be used.

    R8414-2: a JSON object served as ``application/json``; unknown members are tolerated.
    R8414-3: its ``issuer`` must be identical to the configured issuer (no normalisation, R8414-7).
    R8414-4: ``jwks_uri`` (and every member named in ``required``) is a secure URL string.
    """
    if not _is_json_content_type(content_type):
        shown = (content_type or "no content type").split(";", 1)[0]
        raise VerifierUnavailable(
            "The authorization server metadata is not JSON",
            cause=f"the metadata URL answered {shown}: is the issuer the authorization server's "
            "issuer identifier (not a login page or the API itself)?",
        )
    try:
        document = loads_strict_json(body)
    except MalformedJSON:
        raise VerifierUnavailable(
            "The authorization server metadata is malformed", cause="not strict JSON"
        ) from None
    if not isinstance(document, dict):
        raise VerifierUnavailable(
            "The authorization server metadata is malformed", cause="not a JSON object"
        )
    named = document.get("issuer")
    if named != issuer:
        hint = (
            f"the metadata names the issuer {named!r}, the configuration {issuer!r}; set the "
            "issuer to exactly the metadata's (a trailing slash counts, R8414-3)"
            if isinstance(named, str)
            else "the metadata has no issuer string"
        )
        raise VerifierUnavailable(
            "The authorization server metadata names another issuer", cause=sanitize_cause(hint)
        )
    for member in {"jwks_uri", *required}:
        value = document.get(member)
        if value is None and member not in required:
            continue
        if not isinstance(value, str) or not is_secure_url(
            value, allow_insecure_http=allow_insecure_http
        ):
            raise VerifierUnavailable(
                "The authorization server metadata is unusable",
                cause=f"its {member} is missing or not an https URL",
            )
    return MappingProxyType(document)


def metadata_flow(
    issuer: str,
    *,
    required: Sequence[str] = (),
    allow_insecure_http: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> Flow[Mapping[str, Any]]:
    """Fetch and validate the metadata of a configured ``issuer``; the flow returns the document.

    The RFC 8414 URL is tried first. When it answers 4xx (the server does not publish it), the
    OpenID Connect Discovery URL is tried (R8414-8). Anything else that is not a usable 200 -
    a network failure, 5xx, a redirect, a wrong content type, a document for another issuer -
    raises :class:`VerifierUnavailable`: the metadata is not used and requests get 503 (fail
    closed, R8414-2, R8414-3, K12). ``issuer`` must already have passed :func:`validate_issuer`.
    """
    urls = metadata_urls(issuer)
    statuses: list[str] = []
    for index, url in enumerate(urls):
        try:
            response = yield HttpRequest(
                "GET", url, headers=_JSON_ACCEPT, timeout=timeout, flight_key="metadata " + url
            )
        except TransportError as error:
            raise VerifierUnavailable(
                "The authorization server metadata cannot be fetched",
                cause=f"{url}: {error.reason}",
            ) from None
        statuses.append(f"{url} answered {response.status}")
        if 400 <= response.status < 500 and index + 1 < len(urls):
            continue
        if response.status != 200:
            hint = (
                "; is the issuer's path right?"
                if 400 <= response.status < 500
                else " (redirects are not followed)"
                if 300 <= response.status < 400
                else ""
            )
            raise VerifierUnavailable(
                "The authorization server metadata cannot be fetched",
                cause="; ".join(statuses) + hint,
            )
        return parse_metadata(
            response.body,
            response.headers.get("content-type"),
            issuer,
            required=required,
            allow_insecure_http=allow_insecure_http,
        )
    raise VerifierUnavailable("The authorization server metadata cannot be fetched")


#: One issuer's identifier and its metadata document (``None``: it could not be had).
IssuerMetadata = tuple[str, Mapping[str, Any] | None]


def issuers_metadata(
    issuers: Sequence[str], allow_insecure_http: bool, timeout: float = DEFAULT_TIMEOUT
) -> Flow[tuple[IssuerMetadata, ...]]:
    """The metadata of each of ``issuers`` for start-up checks; an issuer whose metadata cannot be
    fetched or used gets ``None`` (logged), since such a check must not stop an app whose requests
    would retry (and fail closed) on their own."""
    found: list[IssuerMetadata] = []
    for issuer in issuers:
        try:
            metadata = yield from metadata_flow(
                issuer, allow_insecure_http=allow_insecure_http, timeout=timeout
            )
        except VerifierUnavailable as error:
            logger.info(
                "metadata of issuer %s not checked: %s",
                issuer,
                error,
                extra=log_fields(
                    "metadata_unchecked", issuer=issuer, reason=error.description, cause=error.cause
                ),
            )
            found.append((issuer, None))
        else:
            found.append((issuer, metadata))
    return tuple(found)
