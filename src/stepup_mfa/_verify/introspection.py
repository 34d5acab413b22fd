"""Opaque access tokens checked by OAuth 2.0 Token Introspection (RFC 7662).

The resource server asks the authorization server (AS) about each token it cannot read itself,
and keeps the answer for a short while. What this module guarantees:

- One flow: :meth:`IntrospectionVerifier.verify` is a sans-I/O generator; the Guard drives it with
  blocking or asyncio I/O. Concurrent requests carrying the same uncached token share one call to
  the AS (single flight, through the request's ``flight_key``).
- Fail closed: a timeout, a refused connection, a non-200 answer (a 401 ``invalid_client`` is *our*
  misconfiguration) or a body that is not a JSON object raises :class:`VerifierUnavailable` (503),
  never an allow and never ``invalid_token`` blamed on the client (R7662-3). Faults never reach the
  cache.
- An answer is trusted only when ``active`` is the JSON literal ``true`` (R7662-4) and its
  ``iss``, ``aud``, ``exp`` and ``nbf`` fit this resource server (R7662-7). Any other ``active``
  (``false``, ``"true"``, ``1``, ``null``, missing) is 401 ``invalid_token``, as checklist I1 asks,
  and is cached like an inactive answer. The reason a token is inactive, and every other detail of
  the answer, stays out of errors and logs (R7662-6, R7662-13).
- The endpoint is configured, or discovered from the issuer's metadata (R8414-6).
- ``acr``, ``amr``, ``auth_time``, ``cnf`` and ``token_type`` are read from the top level of the
  answer into the :class:`Principal` (R9470-9); the MFA window and the sender constraint
  (R7662-14) are judged by the core policy on every request, so a cached answer never extends them.
- Cached answers are keyed by the token's SHA-256 (R7662-11), never outlive the ``exp`` they state
  as an allow (R7662-9), and a route can demand a live answer with ``max_cache_age=0`` (R7662-10).

Deliberately not done here: RFC 9701 JWT-secured introspection responses; mutual-TLS client
authentication (``tls_client_auth``), which belongs in the transport's TLS configuration; and
checking our method against ``introspection_endpoint_auth_methods_supported`` (a refusal by the
server shows up as 503 and a warning in the log).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey

from .._core.credentials import B64TOKEN
from .._core.errors import ConfigurationError, InvalidToken, VerifierUnavailable
from .._core.principal import Principal
from .._core.validity import (
    MALFORMED,
    WRONG_AUDIENCE,
    audience_accepted,
    check_times,
    leeway_option,
    seconds_option,
    settle_auth_time,
)
from .._observe import log_fields
from .cache import MemoryStore, Store, configuration_namespace, token_key
from .discovery import (
    IssuerMetadata,
    check_secure_url,
    is_secure_url,
    issuers_metadata,
    metadata_flow,
    validate_issuer,
)
from .flow import (
    DEFAULT_TIMEOUT,
    Flow,
    HttpRequest,
    HttpResponse,
    SingleFlight,
    TransportError,
    shared,
)
from .strict_json import MalformedJSON, loads_strict_json

__all__ = [
    "CachedAnswer",
    "ClientAuthentication",
    "ClientCredentials",
    "ClientSecretBasic",
    "ClientSecretPost",
    "IntrospectionVerifier",
    "PrivateKeyJWT",
]

_log = logging.getLogger("stepup_mfa.introspection")

#: Tokens longer than this are refused before any call to the AS.
MAX_TOKEN_LENGTH = 16 * 1024
#: Largest introspection answer parsed (the httpx transports already stop at 1 MiB).
MAX_ANSWER_BYTES = 1 << 20
#: How long a discovered ``introspection_endpoint`` is used before the metadata is read again.
METADATA_TTL = 3600.0
#: Bounds for a ``Retry-After`` taken from the AS's own answer.
_RETRY_AFTER_RANGE = (1, 300)
_JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "Ed25519"}
)

_NOT_ACTIVE = "The access token is not active"
_WRONG_ISSUER = "The access token was issued by an untrusted issuer"
_UNREACHABLE = "The introspection endpoint cannot be reached; try again later"
_REFUSED = "The introspection endpoint refused the request; try again later"
_NO_ENDPOINT = "The introspection endpoint is not known yet; try again later"
_GARBLED = "The introspection endpoint sent an unusable answer; try again later"


# --------------------------------------------------------------------------------------------
# Client authentication (R7662-2): how the resource server proves itself to the endpoint.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """What a client-authentication method adds to one introspection request."""

    headers: tuple[tuple[str, str], ...] = ()
    form: tuple[tuple[str, str], ...] = ()


class ClientAuthentication(Protocol):
    """A way for the resource server to authenticate to the introspection endpoint (R7662-2).

    ``credentials`` is called once per request with the endpoint URL and the current time, so that
    methods such as ``private_key_jwt`` can mint a fresh, short-lived assertion.
    """

    @property
    def client_id(self) -> str: ...

    def credentials(self, endpoint: str, now: float) -> ClientCredentials: ...


def _require_text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{name} must be a non-empty string")
    return value


@dataclass(frozen=True, slots=True)
class _SharedSecret:
    """A client id and secret, checked when built and never shown in a repr."""

    client_id: str
    client_secret: str

    def __post_init__(self) -> None:
        _require_text(self.client_id, "client_id")
        _require_text(self.client_secret, "client_secret")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client_id={self.client_id!r}, client_secret=<hidden>)"


@dataclass(frozen=True, slots=True, repr=False)
class ClientSecretBasic(_SharedSecret):
    """``client_secret_basic`` (RFC 6749 §2.3.1): HTTP Basic with the form-encoded id and secret.

    ``client_id`` and ``client_secret`` are the resource server's credentials at the
    authorization server; the secret never shows in a repr.
    """

    def credentials(self, endpoint: str, now: float) -> ClientCredentials:
        """The ``Authorization`` header for a call to ``endpoint`` (``now`` is unused)."""
        # RFC 6749 §2.3.1: both parts are application/x-www-form-urlencoded before base64.
        pair = f"{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}"
        basic = base64.b64encode(pair.encode("utf-8")).decode("ascii")
        return ClientCredentials(headers=(("Authorization", f"Basic {basic}"),))


@dataclass(frozen=True, slots=True, repr=False)
class ClientSecretPost(_SharedSecret):
    """``client_secret_post`` (RFC 6749 §2.3.1): id and secret in the form body.

    ``client_id`` and ``client_secret`` are the resource server's credentials at the
    authorization server; the secret never shows in a repr.
    """

    def credentials(self, endpoint: str, now: float) -> ClientCredentials:
        """The form fields for a call to ``endpoint`` (``now`` is unused)."""
        return ClientCredentials(
            form=(("client_id", self.client_id), ("client_secret", self.client_secret))
        )


SigningKey = RSAKey | ECKey | OKPKey


@dataclass(frozen=True, slots=True)
class PrivateKeyJWT:
    """``private_key_jwt`` (RFC 7523 §2.2, OIDC Core §9) for servers that forbid shared secrets.

    Each request carries a new assertion signed with ``key``: ``iss`` and ``sub`` are the client
    id, ``aud`` is ``audience`` (default: the introspection endpoint URL; set it to the issuer if
    your AS wants that), ``jti`` is fresh random and ``exp`` is ``lifetime`` seconds away, so a
    captured assertion is useless soon and cannot be replayed where the AS tracks ``jti``.

    ``client_id`` is the resource server's client id, ``algorithm`` the JWS algorithm the ``key``
    signs with, and ``key_id`` the ``kid`` header the AS finds the public key by.
    """

    client_id: str
    key: SigningKey
    algorithm: str = "ES256"
    key_id: str | None = None
    audience: str | None = None
    lifetime: float = 60.0

    def __post_init__(self) -> None:
        _require_text(self.client_id, "client_id")
        if self.algorithm not in _ASYMMETRIC_ALGORITHMS:
            raise ConfigurationError("algorithm must be an asymmetric JWS algorithm")
        if not isinstance(self.key, RSAKey | ECKey | OKPKey) or not self.key.is_private:
            raise ConfigurationError("key must be a private RSA, EC or OKP key (joserfc)")
        seconds_option("lifetime", self.lifetime, upper=300.0, positive=True)
        # Sign once now, so that a key that does not fit the algorithm fails at startup.
        try:
            self._assertion("https://configuration.check.invalid/", 0.0)
        except JoseError as exc:
            raise ConfigurationError("key cannot sign with the configured algorithm") from exc

    def _assertion(self, endpoint: str, now: float) -> str:
        issued = int(now)
        claims: dict[str, Any] = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.audience or endpoint,
            "jti": secrets.token_urlsafe(24),
            "iat": issued,
            "exp": issued + math.ceil(self.lifetime),
        }
        header: dict[str, Any] = {"alg": self.algorithm, "typ": "JWT"}
        if self.key_id is not None:
            header["kid"] = self.key_id
        return jwt.encode(header, claims, self.key, algorithms=[self.algorithm])

    def credentials(self, endpoint: str, now: float) -> ClientCredentials:
        """The form fields for a call to ``endpoint``: a new assertion issued at ``now``."""
        return ClientCredentials(
            form=(
                ("client_assertion_type", _JWT_BEARER),
                ("client_assertion", self._assertion(endpoint, now)),
            )
        )

    def __repr__(self) -> str:
        return f"PrivateKeyJWT(client_id={self.client_id!r}, algorithm={self.algorithm!r})"


# --------------------------------------------------------------------------------------------
# The verifier.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """One introspection outcome as kept in the store: a principal, or the refusal to repeat."""

    fetched_at: float
    principal: Principal | None
    refusal: str = _NOT_ACTIVE


def _parse_answer(body: bytes) -> dict[str, Any] | None:
    """The answer as a JSON object, or ``None`` when it is not one (R7662-3).

    Read by the one strict JSON reader, as JWS headers and payloads are (duplicate names,
    non-finite numbers such as ``1e400`` and lone surrogates refuse the whole answer).
    """
    if len(body) > MAX_ANSWER_BYTES:
        return None
    try:
        document = loads_strict_json(body)
    except MalformedJSON:
        return None
    return document if isinstance(document, dict) else None


def _retry_after(headers: Mapping[str, str], default: int) -> int:
    """The AS's own ``Retry-After`` (delta-seconds, bounded) when it sent one."""
    value = headers.get("retry-after", "").strip()
    if value.isascii() and value.isdigit() and len(value) <= 6:
        low, high = _RETRY_AFTER_RANGE
        return min(max(int(value), low), high)
    return default


class IntrospectionVerifier:
    """Verifies opaque access tokens at the authorization server's introspection endpoint.

    ``endpoint`` is the introspection URL; leave it ``None`` to discover ``introspection_endpoint``
    from ``issuer``'s metadata on first use (R8414-6; until that succeeds requests get 503).
    ``client_auth`` is how this resource server authenticates there (:class:`ClientSecretBasic`,
    :class:`ClientSecretPost` or :class:`PrivateKeyJWT`); it is required (R7662-2). ``issuer`` is
    the trusted issuer: an ``iss`` in the answer must equal it, code point for code point
    (R7662-7). ``audience`` is this resource server's identifier: when set, an ``aud`` in the
    answer must contain it. Set both: without them the answer's ``iss`` and ``aud`` are not
    checked, and an AS that answers for every resource server could hand us another's token.

    Caching (R7662-8): an active answer is reused for at most ``cache_ttl`` seconds (default 60;
    ``0`` turns caching of active answers off) and never as an allow at or after the ``exp`` it
    states (R7662-9); an inactive answer is reused for ``inactive_ttl`` seconds (default 10) so that
    a flood of junk tokens does not become a flood of calls. ``leeway`` (at most 300 s) forgives
    clock skew on ``nbf`` and ``auth_time``; ``exp`` is never stretched, so a cached answer and a
    live one judge a token the same way.

    ``store`` holds the cached answers (a bounded in-process :class:`~stepup_mfa.MemoryStore` by
    default; ``integrations.redis`` shares them between workers). ``timeout`` bounds each call in
    seconds; ``retry_after`` is the ``Retry-After`` of a 503 when the server named none.
    ``allow_insecure_http`` admits ``http`` URLs that are not loopback (development only).
    """

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        client_auth: ClientAuthentication | None,
        issuer: str | None = None,
        audience: str | None = None,
        cache_ttl: float = 60.0,
        inactive_ttl: float = 10.0,
        leeway: float = 60.0,
        timeout: float = DEFAULT_TIMEOUT,
        retry_after: int = 5,
        store: Store[CachedAnswer] | None = None,
        allow_insecure_http: bool = False,
    ) -> None:
        if client_auth is None or not hasattr(client_auth, "credentials"):
            raise ConfigurationError(
                "introspection needs client credentials for the resource server (R7662-2)"
            )
        self._allow_insecure_http = bool(allow_insecure_http)
        self._issuer = (
            validate_issuer(issuer, allow_insecure_http=self._allow_insecure_http)
            if issuer is not None
            else None
        )
        if endpoint is None:
            if self._issuer is None:
                raise ConfigurationError(
                    "introspection needs an endpoint, or an issuer to discover it from (R8414-6)"
                )
            self._endpoint: str | None = None
        else:
            # R7662-12: https only, except loopback or an explicit development switch.
            self._endpoint = check_secure_url(
                endpoint, "endpoint", allow_insecure_http=self._allow_insecure_http
            )
        self._discovered: tuple[str, float | None] | None = None
        self._client_auth = client_auth
        self._audience = _require_text(audience, "audience") if audience is not None else None
        self._audiences = frozenset(() if self._audience is None else (self._audience,))
        self._cache_ttl = seconds_option("cache_ttl", cache_ttl)
        self._inactive_ttl = seconds_option("inactive_ttl", inactive_ttl)
        self._leeway = leeway_option(leeway)
        self._timeout = seconds_option("timeout", timeout, upper=300.0, positive=True)
        seconds_option("retry_after", retry_after, positive=True, whole=True)
        self._retry_after_default = retry_after
        self._store: Store[CachedAnswer] = store if store is not None else MemoryStore()
        # Verifiers with different endpoints or identities must never share an exchange.
        identity = f"{self._endpoint or self._issuer}\n{client_auth.client_id}".encode()
        self._flight_scope = hashlib.sha256(identity).hexdigest()[:16]
        # Store keys within this configuration only (STORE-1): an answer fetched for another
        # client id or audience, active or not, is a miss here and never decides for us.
        self._namespace = configuration_namespace(
            "introspection",
            endpoint=self._endpoint,
            issuer=self._issuer,
            audience=self._audience,
            client_id=client_auth.client_id,
            leeway=self._leeway,
        )
        # This verifier's own single flight (never shared with another verifier's requests).
        self._flights = SingleFlight()

    @property
    def endpoint(self) -> str | None:
        """The introspection URL: configured, or discovered (``None`` until first discovered)."""
        if self._endpoint is not None:
            return self._endpoint
        discovered = self._discovered
        return discovered[0] if discovered is not None else None

    @property
    def store(self) -> Store[CachedAnswer]:
        return self._store

    @property
    def namespace(self) -> str:
        """The digest of the configuration that decides acceptance; part of every store key."""
        return self._namespace

    def store_key(self, token: str) -> str:
        """The key of ``token``'s answer in the store: a SHA-256 within :attr:`namespace`
        (R7662-11, STORE-1)."""
        return token_key(token, self._namespace)

    # -- hot path ------------------------------------------------------------------------------

    def cached(
        self, token: str, now: float, max_cache_age: float | None = None
    ) -> Principal | None:
        """The cached answer for ``token``, re-judged at ``now``; ``None`` when a call is needed.

        ``max_cache_age`` lets a route refuse answers older than that many seconds; ``0`` means
        always introspect (R7662-10). A cached refusal raises :class:`InvalidToken` at once.
        """
        if max_cache_age is not None and max_cache_age <= 0:
            return None
        if not _well_formed(token):
            raise InvalidToken(MALFORMED)
        answer = self._store.get(self.store_key(token), now)
        if answer is None:
            return None
        if max_cache_age is not None and now - answer.fetched_at >= max_cache_age:
            return None
        if answer.principal is None:
            raise InvalidToken(answer.refusal)
        # A shared store (Redis) may hold answers another resource server fetched: judge
        # iss and aud again, so its tokens are not ours (R7662-7, I3).
        refusal = self._context_refusal(answer.principal)
        if refusal is not None:
            raise InvalidToken(refusal)
        self._check_times(answer.principal, now)
        # OIDC-4: an auth_time ahead of our clock happened no later than the answer was fetched.
        return settle_auth_time(answer.principal, answer.fetched_at)

    # -- the flow ------------------------------------------------------------------------------

    def verify(self, token: str, now: float) -> Flow[Principal]:
        """Introspect ``token`` (one POST), judge the answer at ``now`` and cache it."""
        return shared(self._verify(token, now), self._flights)

    def _verify(self, token: str, now: float) -> Flow[Principal]:
        if not _well_formed(token):
            raise InvalidToken(MALFORMED)
        key = self.store_key(token)
        endpoint = self._endpoint
        if endpoint is None:
            endpoint = yield from self._discover(now)
        request = self._request(token, key, endpoint, now)
        try:
            response = yield request
        except TransportError as error:
            _log.warning(
                "introspection endpoint %s unreachable: %s",
                endpoint,
                error.reason,
                extra=log_fields(
                    "introspection_unreachable",
                    url=endpoint,
                    error_type=error.error_type,
                    cause=error.reason,
                ),
            )
            raise VerifierUnavailable(_UNREACHABLE, retry_after=self._retry_after_default) from None
        answer = self._read(response, now)
        principal = self._judge(answer, key, now)
        return principal

    def _discover(self, now: float | None) -> Flow[str]:
        """R8414-6: ``introspection_endpoint`` from the issuer's metadata, kept for a while.

        Metadata without a usable (secure) ``introspection_endpoint`` raises
        :class:`VerifierUnavailable` while serving (opaque tokens cannot be checked: 503) and
        :class:`ConfigurationError` from :meth:`startup_flow`. ``now`` is ``None`` only at
        startup; the first request then starts the endpoint's lifetime.
        """
        discovered = self._discovered
        if discovered is not None and now is not None:
            endpoint, fresh_until = discovered
            if fresh_until is None:
                self._discovered = (endpoint, now + METADATA_TTL)
                return endpoint
            if now < fresh_until:
                return endpoint
        assert self._issuer is not None  # checked in __init__
        metadata = yield from metadata_flow(
            self._issuer, allow_insecure_http=self._allow_insecure_http, timeout=self._timeout
        )
        found = metadata.get("introspection_endpoint")
        if not isinstance(found, str) or not is_secure_url(
            found, allow_insecure_http=self._allow_insecure_http
        ):
            if now is None:
                raise ConfigurationError(
                    "The authorization server metadata has no usable introspection_endpoint "
                    "(R8414-6)"
                )
            _log.warning(
                "metadata of issuer %s has no usable introspection_endpoint",
                self._issuer,
                extra=log_fields("introspection_endpoint_missing", issuer=self._issuer),
            )
            raise VerifierUnavailable(_NO_ENDPOINT, retry_after=self._retry_after_default)
        self._discovered = (found, None if now is None else now + METADATA_TTL)
        return found

    def startup_flow(self, now: float | None = None) -> Flow[None]:
        """Discover the endpoint before the first request (the Guard runs this at start; ``now``
        is unused and may be omitted).

        With a configured ``endpoint`` there is nothing to do. Metadata that cannot be fetched
        raises :class:`VerifierUnavailable` (requests then retry, and get 503 until it loads);
        metadata without an ``introspection_endpoint`` raises :class:`ConfigurationError`.
        """
        return shared(self._startup(now), self._flights)

    def _startup(self, now: float | None) -> Flow[None]:
        if self._endpoint is None:
            yield from self._discover(now)

    def issuer_metadata_flow(self) -> Flow[tuple[IssuerMetadata, ...]]:
        """The issuer's metadata (RFC 8414), for start-up checks such as the acr values of the
        policies (R9470-14); nothing when no issuer is configured."""
        issuers = () if self._issuer is None else (self._issuer,)
        return shared(
            issuers_metadata(issuers, self._allow_insecure_http, self._timeout), self._flights
        )

    def _request(self, token: str, key: str, endpoint: str, now: float) -> HttpRequest:
        """R7662-1: POST, form-encoded ``token`` and ``token_type_hint``; never in the URL."""
        credentials = self._client_auth.credentials(endpoint, now)
        form = [("token", token), ("token_type_hint", "access_token"), *credentials.form]
        headers = (
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Accept", "application/json"),
            *credentials.headers,
        )
        return HttpRequest(
            "POST",
            endpoint,
            headers=headers,
            body=urlencode(form).encode("ascii"),
            timeout=self._timeout,
            flight_key=f"introspect:{token_key(token)}:{self._flight_scope}",
        )

    def _read(self, response: HttpResponse, now: float) -> dict[str, Any]:
        """R7662-3: anything but 200 + a JSON object is our fault or the AS's, never the token's."""
        if response.status != 200:
            # Only the status is logged: the body may echo the token or personal data (R7662-13).
            _log.warning(
                "introspection endpoint answered HTTP %d",
                response.status,
                extra=log_fields("introspection_refused", http_status=response.status),
            )
            raise VerifierUnavailable(
                _REFUSED, retry_after=_retry_after(response.headers, self._retry_after_default)
            )
        document = _parse_answer(response.body)
        if document is None:
            _log.warning(
                "introspection endpoint answered with a body that is not a JSON object",
                extra=log_fields("introspection_garbled", http_status=response.status),
            )
            raise VerifierUnavailable(_GARBLED, retry_after=self._retry_after_default)
        return document

    def _judge(self, document: dict[str, Any], key: str, now: float) -> Principal:
        # R7662-4, R7662-5: only the JSON literal true is active; false, "true", 1, null and a
        # missing member all mean "do not grant". The reason is never repeated (R7662-6).
        if document.get("active") is not True:
            self._remember(key, CachedAnswer(now, None, _NOT_ACTIVE), now + self._inactive_ttl)
            raise InvalidToken(_NOT_ACTIVE)
        # Claim types as for JWTs (R9470-9: acr, amr, auth_time from the top level). A type
        # error is not cached: it says nothing stable about the token.
        principal = Principal.from_claims(document, kind="introspection")
        refusal = self._context_refusal(principal)
        if refusal is not None:
            # Not for us: a stable fact, remembered as briefly as an inactive answer.
            self._remember(key, CachedAnswer(now, None, refusal), now + self._inactive_ttl)
            raise InvalidToken(refusal)
        if self._cache_ttl > 0:
            expires_at = now + self._cache_ttl
            if principal.expires_at is not None:
                # R7662-9: past its exp the answer only ever refuses, and only as long as an
                # inactive answer would be kept.
                expires_at = min(expires_at, principal.expires_at + self._inactive_ttl)
            self._remember(key, CachedAnswer(now, principal), expires_at)
        self._check_times(principal, now)
        return settle_auth_time(principal, now)

    def _context_refusal(self, principal: Principal) -> str | None:
        """R7662-7: ``iss`` (when present) is our issuer, ``aud`` (when present) names us."""
        if self._issuer is not None and principal.issuer is not None:
            if principal.issuer != self._issuer:
                return _WRONG_ISSUER
        if not audience_accepted(principal.audience, self._audiences, required=False):
            return WRONG_AUDIENCE
        return None

    def _check_times(self, principal: Principal, now: float) -> None:
        """Judged on every request, cached or not, so a cached answer never extends a token.

        The rule of ``validity.py``; ``exp`` is the authorization server's own and never
        stretched (R7662-7, R7662-9).
        """
        check_times(principal, now, self._leeway, stretch_exp=False)

    def _remember(self, key: str, answer: CachedAnswer, expires_at: float) -> None:
        if expires_at > answer.fetched_at:
            self._store.put(key, answer, expires_at)

    def __repr__(self) -> str:
        return (
            f"IntrospectionVerifier(endpoint={self._endpoint!r}, client_auth={self._client_auth!r})"
        )


def _well_formed(token: object) -> bool:
    """RFC 6750 ``b64token`` of sane length: anything else cannot be a presented access token."""
    return (
        isinstance(token, str)
        and 0 < len(token) <= MAX_TOKEN_LENGTH
        and B64TOKEN.fullmatch(token) is not None
    )
