"""A fake authorization server on 127.0.0.1: metadata, JWKS and (optionally) introspection.

It is a :class:`~stepup_mfa.testing.server.LocalHTTPServer`, so a test can count the requests the
verifier makes, slow the answers down or make them fail, while the tokens come from a
:class:`~stepup_mfa.testing.TokenFactory` whose keys this issuer publishes.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from .server import LocalHTTPServer, RecordedRequest, Reply
from .tokens import DEFAULT_AUDIENCE, MFA_ACR, PASSWORD_ACR, TokenFactory

METADATA_PATH = "/.well-known/oauth-authorization-server"
OIDC_DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/jwks.json"
INTROSPECTION_PATH = "/introspect"


class FakeIssuer:
    """Serves RFC 8414 metadata, OIDC discovery and the token factory's JWKS on a loopback port.

    ``issuer`` is ``http://127.0.0.1:<port>``: configure the verifier with
    ``allow_insecure_http=True`` (the library allows http only for loopback issuers).

    ``metadata`` is a plain dict the test may change (or break) between requests; the JWKS is read
    from the factory on every request, so :meth:`rotate_keys` takes effect at once.

    Opaque tokens: :meth:`opaque_token` registers a random token whose RFC 7662 introspection
    answer is built from the same claims :meth:`TokenFactory.claims` produces; the introspection
    endpoint requires HTTP Basic authentication with ``introspection_client``.

    ``audience`` is the tokens' ``aud``, ``clock`` the time source of the tokens and answers
    (a :class:`~stepup_mfa.testing.FrozenClock` in tests), ``acr_values_supported`` what the
    metadata publishes, and ``factory_options`` go to the :class:`TokenFactory` (``subject``,
    ``lifetime``, ``algorithm``...).
    """

    def __init__(
        self,
        audience: str | Sequence[str] = DEFAULT_AUDIENCE,
        *,
        clock: Callable[[], float] = time.time,
        acr_values_supported: Sequence[str] = (PASSWORD_ACR, MFA_ACR),
        introspection_client: tuple[str, str] = ("test-resource-server", "test-rs-secret"),
        **factory_options: Any,
    ) -> None:
        self.server = LocalHTTPServer(poll_interval=0.05)
        self.issuer = self.server.url
        self.tokens = TokenFactory(self.issuer, audience, clock=clock, **factory_options)
        self.introspection_client = introspection_client
        self._opaque: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.metadata: dict[str, Any] = {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "jwks_uri": self.issuer + JWKS_PATH,
            "introspection_endpoint": self.issuer + INTROSPECTION_PATH,
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "acr_values_supported": list(acr_values_supported),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        }
        self.server.routes.update(
            {
                METADATA_PATH: self._serve_metadata,
                OIDC_DISCOVERY_PATH: self._serve_metadata,
                JWKS_PATH: lambda _request: Reply.json(self.tokens.jwks),
                INTROSPECTION_PATH: self._introspect,
            }
        )

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeIssuer:
        """Start serving on the loopback port; returns the issuer."""
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop the server."""
        self.server.stop()

    def __enter__(self) -> FakeIssuer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests call ------------------------------------------------------------------------

    @property
    def jwks_uri(self) -> str:
        return self.issuer + JWKS_PATH

    @property
    def introspection_endpoint(self) -> str:
        return self.issuer + INTROSPECTION_PATH

    def rotate_keys(self, *, keep_previous: bool = True) -> None:
        """Sign new tokens with new keys; with ``keep_previous=False`` the old ones leave the
        JWKS. See :meth:`KeyRing.rotate`."""
        self.tokens.rotate_keys(keep_previous=keep_previous)

    def count(self, path: str | None = None) -> int:
        """Requests received (for ``path`` only, when given): "the JWKS was fetched once"."""
        return self.server.count(path)

    def opaque_token(self, *, active: bool = True, **claim_options: Any) -> str:
        """Register and return an opaque token; its introspection answer carries the claims that
        ``claim_options`` describe (the keywords of :meth:`TokenFactory.claims`), and says
        ``"active": false`` when ``active`` is ``False``.

        With ``bound_to=`` (a :class:`~stepup_mfa.testing.DPoPKey` or a thumbprint) the answer
        says ``cnf.jkt`` and ``token_type: DPoP`` (RFC 9449 §6.2); otherwise ``Bearer``.
        """
        token = secrets.token_urlsafe(32)
        answer: dict[str, Any] = {"active": active}
        if active:
            bound = claim_options.get("bound_to") is not None
            answer.update(self.tokens.claims(**claim_options))
            answer.setdefault("token_type", "DPoP" if bound else "Bearer")
        with self._lock:
            self._opaque[token] = answer
        return token

    def revoke(self, token: str) -> None:
        """From now on ``token`` introspects as ``{"active": false}``."""
        with self._lock:
            self._opaque[token] = {"active": False}

    # -- routes ---------------------------------------------------------------------------------

    def _serve_metadata(self, request: RecordedRequest) -> Reply:
        if request.method != "GET":
            return Reply(405, b"", {"Allow": "GET"})
        return Reply.json(self.metadata)

    def _introspect(self, request: RecordedRequest) -> Reply:
        if request.method != "POST":
            return Reply(405, b"", {"Allow": "POST"})
        if not self._client_authenticated(request.headers):
            return Reply.json(
                {"error": "invalid_client"}, 401, **{"WWW-Authenticate": 'Basic realm="introspect"'}
            )
        form = parse_qs(request.body.decode("utf-8", "replace"))
        tokens = form.get("token", [])
        if len(tokens) != 1:
            return Reply.json({"error": "invalid_request"}, 400)
        with self._lock:
            answer = self._opaque.get(tokens[0], {"active": False})
        reply = Reply.json(answer)
        reply.headers["Cache-Control"] = "no-store"
        return reply

    def _client_authenticated(self, headers: Mapping[str, str]) -> bool:
        scheme, _, encoded = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        client_id, _, secret = (unquote_plus(part) for part in decoded.partition(":"))
        expected_id, expected_secret = self.introspection_client
        # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
        return secrets.compare_digest(client_id.encode(), expected_id.encode()) & (
            secrets.compare_digest(secret.encode(), expected_secret.encode())
        )
