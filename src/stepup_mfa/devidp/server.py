"""The development authorization server: authlib's grants and endpoints, pyotp, one Flask app.

It runs the whole step-up story on one machine: a user logs in with a password (``acr`` =
password level, ``amr: ["pwd"]``), an API answers "insufficient_user_authentication" with
``acr_values``/``max_age`` (RFC 9470 §3), the client sends the user back here with those
parameters, and this server honours them as RFC 9470 §4 asks: ``acr_values`` naming the MFA level
forces the TOTP step even inside an existing session, and a ``max_age`` shorter than the session's
age forces a fresh login. The new token carries the new ``auth_time``.

DPoP (RFC 9449 §5): a token request carrying a ``DPoP`` proof gets a DPoP-bound access token
(``cnf.jkt`` in the JWT and in the introspection answer, ``token_type: DPoP``); a public client's
refresh token is bound to the same key. The proof is checked by the library's own
:meth:`~stepup_mfa.DPoP.check_token_request`, with a replay store of its own.

It is a DEVELOPMENT TOOL: all state is in memory, users and client secrets are demo values, the
issuer is plain http, and it refuses to listen anywhere but loopback unless told explicitly.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode

import segno
from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc6749.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Flask, Response, g, make_response, redirect, render_template, request
from joserfc import jwt
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .._core.errors import (
    ConfigurationError,
    InvalidDPoPProof,
    UseDPoPNonce,
    VerifierUnavailable,
)
from .._verify.dpop import DPoP
from ..adapters._edge import wsgi_view
from ..testing.keys import KeyRing, SigningAlgorithm
from ..testing.tokens import MFA_ACR, PASSWORD_ACR
from .models import (
    ERROR_DESCRIPTION_HEADER,
    ERROR_HEADER,
    Authentication,
    AuthorizationCodeRecord,
    DemoClient,
    DemoUser,
    LoginTransaction,
    Session,
    TokenRecord,
    default_clients,
    default_users,
)
from .totp import TotpResult, TotpVerifier

log = logging.getLogger("stepup_mfa.devidp")

DEFAULT_PORT = 9400
DEFAULT_AUDIENCE = "https://api.example.com"
DEFAULT_OPAQUE_AUDIENCE = "https://opaque.api.example.com"
DEFAULT_SCOPES: tuple[str, ...] = ("openid", "profile", "dogs:read", "cats:read")

#: How long a login page may stay open, and how many wrong passwords/codes it tolerates.
TRANSACTION_LIFETIME = 600
MAX_FAILURES = 5
#: RFC 6749 §4.1.2 recommends at most 10 minutes; a script or browser needs seconds.
CODE_LIFETIME = 120
#: DPoP proof algorithms the token endpoint accepts (``dpop_signing_alg_values_supported``).
DPOP_ALGORITHMS: tuple[str, ...] = ("ES256", "PS256", "RS256", "EdDSA")


_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


class InvalidTargetError(OAuth2Error):  # type: ignore[misc]
    """RFC 8707 §2: the requested ``resource`` is not one this server issues tokens for."""

    error = "invalid_target"


@dataclass(frozen=True, slots=True)
class _Grantee:
    """What a grant hands the token generator as its "user": the authentication behind the
    grant and the audience the token is for."""

    authentication: Authentication
    resource: str
    nonce: str | None = None

    def get_user_id(self) -> str:
        return self.authentication.username


class _StoredAuthorizationRequest(OAuth2Request):  # type: ignore[misc]
    """The authorization request as it arrived at ``/authorize``, replayed when the login pages
    are done, so authlib validates and answers exactly what the client asked for."""

    def __init__(self, uri: str, params: Mapping[str, str]) -> None:
        super().__init__("GET", uri)
        self._params = dict(params)
        self.payload = BasicOAuth2Payload(self._params)

    @property
    def args(self) -> dict[str, str]:
        return self._params

    @property
    def form(self) -> dict[str, str]:
        return {}


class _S256Required(CodeChallenge):  # type: ignore[misc]
    """PKCE for every client, S256 only (RFC 7636 §4.2; RFC 9700 §2.1.1 forbids ``plain``).

    authlib's ``CodeChallenge(required=True)`` only insists for public clients; a development
    server should teach the strict rule, so a missing or ``plain`` challenge is refused here.
    """

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 - authlib's class attribute

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge (S256)")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug logs every request to stderr; route that to our logger at DEBUG instead."""

    def log(self, type: str, message: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), message % args)


class DevIdP:
    """A development OAuth 2.0 authorization server with password + TOTP login and step-up.

    ::

        with DevIdP() as idp:
            tokens = login(idp.issuer, "demo-client", "alice", "alice-password")
            stepped_up = login(idp.issuer, "demo-client", "alice", "alice-password",
                               totp=idp.totp_code("alice"), acr_values=idp.mfa_acr)

    ``audience`` is the ``aud`` of JWT access tokens (RFC 9068); tokens requested with
    ``resource=<opaque_audience>`` (RFC 8707) are opaque and checked through introspection
    (RFC 7662), which requires the resource server client's credentials. ``clock`` is the
    server's only source of time (tokens, sessions, TOTP), so tests can move it.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        audience: str = DEFAULT_AUDIENCE,
        opaque_audience: str = DEFAULT_OPAQUE_AUDIENCE,
        users: Sequence[DemoUser] | None = None,
        clients: Sequence[DemoClient] | None = None,
        redirect_uris: Sequence[str] = (),
        scopes: Sequence[str] = DEFAULT_SCOPES,
        password_acr: str = PASSWORD_ACR,
        mfa_acr: str = MFA_ACR,
        signing_alg: SigningAlgorithm = "RS256",
        access_token_lifetime: int = 300,
        refresh_token_lifetime: int = 8 * 3600,
        clock: Callable[[], float] = time.time,
        allow_non_loopback: bool = False,
        dpop_nonces: bool = False,
    ) -> None:
        if not _is_loopback_host(host) and not allow_non_loopback:
            raise ConfigurationError(
                f"refusing to listen on {host!r}: the development server binds to loopback only "
                "(pass allow_non_loopback=True / --allow-non-loopback if you really mean it)"
            )
        if audience == opaque_audience:
            raise ConfigurationError("audience and opaque_audience must differ")
        if password_acr == mfa_acr:
            raise ConfigurationError("password_acr and mfa_acr must differ")
        self.audience = audience
        self.opaque_audience = opaque_audience
        self.password_acr = password_acr
        self.mfa_acr = mfa_acr
        self.signing_alg: SigningAlgorithm = signing_alg
        self.scopes = tuple(scopes)
        self.access_token_lifetime = access_token_lifetime
        self.refresh_token_lifetime = refresh_token_lifetime
        self.clock = clock
        self.keys = KeyRing()
        self.totp = TotpVerifier()
        self.users: dict[str, DemoUser] = {u.username: u for u in (users or default_users())}
        self._lock = threading.RLock()
        self._sessions: dict[str, Session] = {}
        self._transactions: dict[str, LoginTransaction] = {}
        self._codes: dict[str, AuthorizationCodeRecord] = {}
        self._tokens: dict[str, TokenRecord] = {}
        self._refresh: dict[str, TokenRecord] = {}
        self.app = self._create_app()
        self._server: BaseWSGIServer = make_server(
            host, port, self.app, threaded=True, request_handler=_QuietRequestHandler
        )
        bound_port = self._server.server_port
        shown_host = f"[{host}]" if ":" in host else host
        self.issuer = f"http://{shown_host}:{bound_port}"
        self.port = bound_port
        self._cookie_suffix = str(bound_port)
        self.clients: dict[str, DemoClient] = {
            c.client_id: c
            for c in (
                clients or default_clients(self.issuer, (audience, opaque_audience), redirect_uris)
            )
        }
        self._authorization = self._create_authorization_server()
        #: The token endpoint's proof checker (RFC 9449 §5): ``htu`` is ``<issuer>/token``.
        self.dpop = DPoP(
            self.issuer,
            algorithms=DPOP_ALGORITHMS,
            nonce_secret=secrets.token_bytes(32) if dpop_nonces else None,
        )
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> DevIdP:
        """Serve on a background thread (threaded werkzeug server); returns ``self``."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"stepup-mfa-dev-idp:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> DevIdP:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests and demos call ---------------------------------------------------------------

    @property
    def metadata_url(self) -> str:
        return self.issuer + "/.well-known/oauth-authorization-server"

    @property
    def token_endpoint(self) -> str:
        return self.issuer + "/token"

    @property
    def introspection_endpoint(self) -> str:
        return self.issuer + "/introspect"

    def rotate_keys(self, *, keep_previous: bool = True) -> None:
        """Sign new tokens with new RS256/ES256 keys; old public keys stay published when
        ``keep_previous`` (graceful rotation) and vanish otherwise (compromise)."""
        self.keys.rotate(keep_previous=keep_previous)

    def jwks(self) -> dict[str, Any]:
        return self.keys.public_jwks()

    def totp_code(self, username: str) -> str:
        """A TOTP code this server accepts for ``username`` right now and has not seen yet.

        Demos log in with TOTP more than once within 30 seconds; the current step's code is
        then already spent, so this returns the next step's code, which the one-step window
        accepts.
        """
        user = self.users[username]
        if user.totp_secret is None:
            raise ValueError(f"user {username!r} has no TOTP secret")
        return self.totp.fresh_code(username, user.totp_secret, self.clock())

    def metadata(self) -> dict[str, Any]:
        """RFC 8414 authorization server metadata (also served as OpenID discovery)."""
        issuer = self.issuer
        return {
            "issuer": issuer,
            "authorization_endpoint": issuer + "/authorize",
            "token_endpoint": issuer + "/token",
            "jwks_uri": issuer + "/jwks.json",
            "introspection_endpoint": issuer + "/introspect",
            "revocation_endpoint": issuer + "/revoke",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "code_challenge_methods_supported": ["S256"],
            "dpop_signing_alg_values_supported": list(self.dpop.algorithms),
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "introspection_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "scopes_supported": list(self.scopes),
            "acr_values_supported": [self.password_acr, self.mfa_acr],
            "prompt_values_supported": ["none", "login"],
            "claims_supported": [
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "jti",
                "client_id",
                "scope",
                "auth_time",
                "acr",
                "amr",
                "nonce",
                "cnf",
            ],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.signing_alg],
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
        }

    # -- tokens --------------------------------------------------------------------------------

    def _sign(self, header_typ: str, claims: dict[str, Any]) -> str:
        key = self.keys.current(self.signing_alg)
        header = {"alg": self.signing_alg, "typ": header_typ, "kid": str(key.kid)}
        return jwt.encode(header, claims, key, algorithms=[self.signing_alg])

    def _generate_token(
        self,
        grant_type: str,
        client: DemoClient,
        user: _Grantee | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        """authlib's token-generator hook: mint the access token (RFC 9068 JWT, or opaque for
        the introspection audience), the refresh token and, for ``openid``, an ID token."""
        granted_scope = client.get_allowed_scope(scope)
        if user is None:
            resource = self._requested_resource(request.form.get("resource"))
            authentication = None
            nonce = None
        else:
            resource, authentication, nonce = user.resource, user.authentication, user.nonce
        now = int(self.clock())
        lifetime = expires_in or self.access_token_lifetime
        subject = authentication.username if authentication else client.client_id
        jti = secrets.token_urlsafe(16)
        jkt: str | None = g.get("dpop_jkt")  # the token request's proof key (RFC 9449 §5)
        if resource == self.opaque_audience:
            kind = "opaque"
            access_token = "devidp-opaque-" + secrets.token_urlsafe(32)
        else:
            kind = "jwt"
            claims: dict[str, Any] = {
                "iss": self.issuer,
                "aud": resource,
                "sub": subject,
                "client_id": client.client_id,
                "iat": now,
                "exp": now + lifetime,
                "jti": jti,
            }
            if granted_scope:
                claims["scope"] = granted_scope
            if authentication is not None:
                claims["auth_time"] = authentication.auth_time
                claims["acr"] = authentication.acr
                claims["amr"] = list(authentication.amr)
            if jkt is not None:
                claims["cnf"] = {"jkt": jkt}
            access_token = self._sign("at+jwt", claims)
        token: dict[str, Any] = {
            "token_type": "Bearer" if jkt is None else "DPoP",
            "access_token": access_token,
            "expires_in": lifetime,
        }
        if granted_scope:
            token["scope"] = granted_scope
        record = TokenRecord(
            access_token=access_token,
            client_id=client.client_id,
            subject=subject,
            scope=granted_scope,
            resource=resource,
            issued_at=now,
            expires_at=now + lifetime,
            jti=jti,
            kind=kind,
            authentication=authentication,
            clock=self.clock,
            jkt=jkt,
            # RFC 9449 §5: a public client's refresh token is bound to the key too; a
            # confidential client's is already bound to its credentials.
            refresh_jkt=jkt if client.is_public else None,
        )
        if include_refresh_token and authentication is not None:
            record.refresh_token = secrets.token_urlsafe(32)
            record.refresh_expires_at = now + self.refresh_token_lifetime
            token["refresh_token"] = record.refresh_token
        if authentication is not None and "openid" in granted_scope.split():
            token["id_token"] = self._id_token(client, authentication, nonce, now)
        with self._lock:
            self._tokens[access_token] = record
            if record.refresh_token:
                self._refresh[record.refresh_token] = record
        return token

    def _check_dpop_proof(self) -> Response | None:
        """RFC 9449 §5: a token request with a ``DPoP`` header must carry one valid proof for
        ``POST <issuer>/token``; its key's thumbprint is kept for the token generator. Refusals
        are OAuth error answers: 400 ``invalid_dpop_proof`` / ``use_dpop_nonce`` (with
        ``DPoP-Nonce``), 503 when the replay store cannot record."""
        proofs = wsgi_view(request.environ, request.path).dpop
        if not proofs:
            return None
        try:
            g.dpop_jkt = self.dpop.check_token_request(
                proofs, method=request.method, path=request.path, now=self.clock()
            )
        except UseDPoPNonce as error:
            response = self._token_error(400, error.code, error.description)
            if error.nonce is not None:
                response.headers["DPoP-Nonce"] = error.nonce
            return response
        except InvalidDPoPProof as error:
            return self._token_error(400, error.code, error.description)
        except VerifierUnavailable as error:
            return self._token_error(503, error.code, error.description)
        return None

    @staticmethod
    def _token_error(status: int, code: str, description: str) -> Response:
        response = make_response({"error": code, "error_description": description}, status)
        response.headers["Cache-Control"] = "no-store"
        return response

    def _id_token(
        self, client: DemoClient, authentication: Authentication, nonce: str | None, now: int
    ) -> str:
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": authentication.username,
            "aud": client.client_id,
            "iat": now,
            "exp": now + self.access_token_lifetime,
            "auth_time": authentication.auth_time,
            "acr": authentication.acr,
            "amr": list(authentication.amr),
        }
        if nonce:
            claims["nonce"] = nonce
        return self._sign("JWT", claims)

    def _requested_resource(self, resource: str | None) -> str:
        if not resource:
            return self.audience
        if resource not in (self.audience, self.opaque_audience):
            raise InvalidTargetError(f"unknown resource; this server serves {self.audience}")
        return resource

    def _find_access_token(self, token: str) -> TokenRecord | None:
        with self._lock:
            return self._tokens.get(token)

    def _find_any_token(self, token: str) -> tuple[TokenRecord, bool] | None:
        """The record and whether ``token`` was its refresh token."""
        with self._lock:
            if token in self._tokens:
                return self._tokens[token], False
            if token in self._refresh:
                return self._refresh[token], True
        return None

    def _introspection_answer(self, record: TokenRecord) -> dict[str, Any]:
        """RFC 7662 §2.2 answer; the step-up facts are top-level members (RFC 9470 §6.2)."""
        answer: dict[str, Any] = {
            "active": True,
            "iss": self.issuer,
            "aud": record.resource,
            "sub": record.subject,
            "client_id": record.client_id,
            "token_type": "Bearer" if record.jkt is None else "DPoP",
            "iat": record.issued_at,
            "exp": record.expires_at,
            "jti": record.jti,
        }
        if record.scope:
            answer["scope"] = record.scope
        if record.jkt is not None:
            answer["cnf"] = {"jkt": record.jkt}  # RFC 9449 §6.2
        if record.authentication is not None:
            answer["username"] = record.authentication.username
            answer["auth_time"] = record.authentication.auth_time
            answer["acr"] = record.authentication.acr
            answer["amr"] = list(record.authentication.amr)
        return answer

    def _revoke(self, record: TokenRecord, was_refresh_token: bool) -> None:
        """RFC 7009 §2.1: revoking a refresh token also revokes the access tokens of its grant."""
        with self._lock:
            if not was_refresh_token:
                record.access_revoked = True
                return
            for other in self._tokens.values():
                if other.grant_id == record.grant_id:
                    other.access_revoked = True
                    other.refresh_revoked = True

    # -- authlib wiring ------------------------------------------------------------------------

    def _create_authorization_server(self) -> Any:
        idp = self

        class CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012

            def save_authorization_code(self, code: str, oauth_request: Any) -> None:
                data = oauth_request.payload.data
                record = AuthorizationCodeRecord(
                    code=code,
                    client_id=oauth_request.client.client_id,
                    redirect_uri=data.get("redirect_uri") or "",
                    scope=oauth_request.scope or "",
                    resource=idp._requested_resource(data.get("resource")),
                    nonce=data.get("nonce"),
                    code_challenge=data["code_challenge"],
                    code_challenge_method=data.get("code_challenge_method", "S256"),
                    authentication=oauth_request.user,
                    expires_at=idp.clock() + CODE_LIFETIME,
                )
                with idp._lock:
                    idp._codes[code] = record

            def query_authorization_code(
                self, code: str, client: DemoClient
            ) -> AuthorizationCodeRecord | None:
                with idp._lock:
                    record = idp._codes.get(code)
                if record is None or record.client_id != client.client_id:
                    return None
                if idp.clock() >= record.expires_at:
                    return None
                return record

            def delete_authorization_code(self, record: AuthorizationCodeRecord) -> None:
                with idp._lock:
                    idp._codes.pop(record.code, None)

            def authenticate_user(self, record: AuthorizationCodeRecord) -> _Grantee:
                return _Grantee(record.authentication, record.resource, record.nonce)

        class RefreshGrant(RefreshTokenGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012
            INCLUDE_NEW_REFRESH_TOKEN = True

            def authenticate_refresh_token(self, refresh_token: str) -> TokenRecord | None:
                with idp._lock:
                    record = idp._refresh.get(refresh_token)
                if record is None or not record.refresh_usable():
                    return None
                if record.refresh_jkt is not None and g.get("dpop_jkt") != record.refresh_jkt:
                    # RFC 9449 §5: a bound refresh token needs a proof by the same key.
                    raise InvalidGrantError(
                        "this refresh token is DPoP-bound: send a proof signed by its key"
                    )
                return record

            def authenticate_user(self, record: TokenRecord) -> _Grantee | None:
                # RFC 9068 §2.2.1 / R9470-11: a refreshed token keeps the original
                # auth_time, acr and amr; only iat, exp and jti are new.
                if record.authentication is None:
                    return None
                return _Grantee(record.authentication, record.resource)

            def revoke_old_credential(self, record: TokenRecord) -> None:
                # Refresh-token rotation: the old refresh token is spent.
                record.refresh_revoked = True

        class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
            CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

            def query_token(self, token: str, token_type_hint: str | None) -> TokenRecord | None:
                return idp._find_access_token(token)

            def check_permission(
                self, record: TokenRecord, client: DemoClient, oauth_request: Any
            ) -> bool:
                # Only a resource server registered for the token's audience may read it.
                return record.resource in client.introspection_audiences

            def introspect_token(self, record: TokenRecord) -> dict[str, Any]:
                return idp._introspection_answer(record)

        class Revocation(RevocationEndpoint):  # type: ignore[misc]
            CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012

            def query_token(self, token: str, token_type_hint: str | None) -> TokenRecord | None:
                found = idp._find_any_token(token)
                return found[0] if found else None

            def revoke_token(self, record: TokenRecord, oauth_request: Any) -> None:
                found = idp._find_any_token(oauth_request.form["token"])
                idp._revoke(record, bool(found and found[1]))

        class ClientCredentials(ClientCredentialsGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

        server = AuthorizationServer(query_client=self.clients.get, save_token=lambda t, r: None)
        server.init_app(self.app)
        server.scopes_supported = list(self.scopes)
        server.register_token_generator("default", self._generate_token)
        server.register_grant(CodeGrant, [_S256Required(required=True)])
        server.register_grant(RefreshGrant)
        server.register_grant(ClientCredentials)
        server.register_endpoint(Introspection)
        server.register_endpoint(Revocation)
        return server

    # -- sessions and login transactions -------------------------------------------------------

    @property
    def _session_cookie(self) -> str:
        return f"stepup_devidp_session_{self._cookie_suffix}"

    @property
    def _browser_cookie(self) -> str:
        return f"stepup_devidp_browser_{self._cookie_suffix}"

    def _current_session(self) -> Session | None:
        session_id = request.cookies.get(self._session_cookie)
        if not session_id:
            return None
        with self._lock:
            return self._sessions.get(session_id)

    def _transaction(self) -> LoginTransaction | None:
        tx_id = request.values.get("tx", "")
        browser_id = request.cookies.get(self._browser_cookie, "")
        with self._lock:
            tx = self._transactions.get(tx_id)
            if tx is None:
                return None
            if self.clock() - tx.created_at > TRANSACTION_LIFETIME:
                self._transactions.pop(tx_id, None)
                return None
        if not browser_id or not secrets.compare_digest(tx.browser_id, browser_id):
            return None
        return tx

    def _complete(self, tx: LoginTransaction) -> Response:
        """All required steps are done: update the session and answer the client with a code."""
        assert tx.username is not None
        now = int(self.clock())
        if tx.password_at is not None:
            amr: tuple[str, ...] = ("pwd", "otp") if tx.otp_at is not None else ("pwd",)
            authentication = Authentication(tx.username, now, self._acr_for(amr), amr)
        elif tx.otp_at is not None and tx.base is not None:
            # Step-up inside an existing session: the OTP is a new active authentication.
            amr = (*tx.base.amr, *(() if "otp" in tx.base.amr else ("otp",)))
            authentication = Authentication(tx.username, now, self._acr_for(amr), amr)
        else:
            assert tx.base is not None
            authentication = tx.base
        with self._lock:
            self._transactions.pop(tx.tx_id, None)
        old_session = request.cookies.get(self._session_cookie)
        session_id = old_session or ""
        if authentication is not tx.base or not old_session:
            # A new authentication gets a new session id (no session fixation).
            session_id = secrets.token_urlsafe(32)
            with self._lock:
                if old_session:
                    self._sessions.pop(old_session, None)
                self._sessions[session_id] = Session(session_id, authentication)
        oauth_request = _StoredAuthorizationRequest(self.issuer + "/authorize", tx.params)
        try:
            grant = self._authorization.get_authorization_grant(oauth_request)
        except OAuth2Error as error:
            response = self._oauth_error(error)
        else:
            response = self._authorization.create_authorization_response(
                request=oauth_request, grant_user=authentication, grant=grant
            )
        response.set_cookie(
            self._session_cookie, session_id, httponly=True, samesite="Lax", path="/"
        )
        return response

    def _purge(self) -> None:
        """Forget abandoned logins, unused codes and dead tokens, so a server left running for
        days does not grow without bound."""
        now = self.clock()
        with self._lock:
            for tx_id in [
                t.tx_id
                for t in self._transactions.values()
                if now - t.created_at > TRANSACTION_LIFETIME
            ]:
                del self._transactions[tx_id]
            for code in [c.code for c in self._codes.values() if now >= c.expires_at]:
                del self._codes[code]
            dead = [
                r
                for r in self._tokens.values()
                if (r.is_expired() or r.access_revoked) and not r.refresh_usable()
            ]
            for record in dead:
                del self._tokens[record.access_token]
                if record.refresh_token is not None:
                    self._refresh.pop(record.refresh_token, None)

    def _acr_for(self, amr: Sequence[str]) -> str:
        return self.mfa_acr if "otp" in amr else self.password_acr

    # -- the Flask app -------------------------------------------------------------------------

    def _create_app(self) -> Flask:
        app = Flask(__name__, template_folder="templates")
        app.config["TEMPLATES_AUTO_RELOAD"] = False
        idp = self

        @app.after_request
        def _security_headers(response: Response) -> Response:
            response.headers.setdefault("Cache-Control", "no-store")
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "no-referrer"
            if response.mimetype == "text/html":
                response.headers["Content-Security-Policy"] = _PAGE_CSP
                response.headers["X-Frame-Options"] = "DENY"
            return response

        @app.get("/")
        def index() -> str:
            return render_template(
                "index.html",
                idp=idp,
                users=list(idp.users.values()),
                clients=list(idp.clients.values()),
            )

        @app.get("/.well-known/oauth-authorization-server")
        @app.get("/.well-known/openid-configuration")
        def metadata() -> Response:
            response = make_response(idp.metadata())
            response.headers["Cache-Control"] = "max-age=60"
            return response

        @app.get("/jwks.json")
        def jwks() -> Response:
            response = make_response(idp.jwks())
            response.headers["Cache-Control"] = "max-age=60"
            return response

        @app.get("/authorize")
        def authorize() -> Response:
            return idp._authorize()

        @app.route("/login", methods=["GET", "POST"])
        def login() -> Response:
            return idp._login_page()

        @app.route("/otp", methods=["GET", "POST"])
        def otp() -> Response:
            return idp._otp_page()

        @app.post("/token")
        def token() -> Response:
            refused = idp._check_dpop_proof()
            if refused is not None:
                return refused
            return cast(Response, idp._authorization.create_token_response())

        @app.post("/introspect")
        def introspect() -> Response:
            return cast(Response, idp._authorization.create_endpoint_response("introspection"))

        @app.post("/revoke")
        def revoke() -> Response:
            return cast(Response, idp._authorization.create_endpoint_response("revocation"))

        @app.get("/callback")
        def callback() -> Response:
            """Where the demo clients' browser flows land: shows the code (or the error)."""
            return make_response(
                render_template(
                    "callback.html",
                    code=request.args.get("code"),
                    state=request.args.get("state"),
                    error=request.args.get("error"),
                    error_description=request.args.get("error_description"),
                )
            )

        @app.route("/enroll", methods=["GET", "POST"])
        def enroll() -> Response:
            return idp._enroll_page()

        @app.get("/logout")
        def logout() -> Response:
            session_id = request.cookies.get(idp._session_cookie)
            if session_id:
                with idp._lock:
                    idp._sessions.pop(session_id, None)
            response = make_response(
                render_template("message.html", title="Logged out", message="Session ended.")
            )
            response.delete_cookie(idp._session_cookie, path="/")
            return response

        return app

    # -- pages ---------------------------------------------------------------------------------

    def _page_error(self, status: int, code: str, message: str) -> Response:
        response = make_response(
            render_template("message.html", title="Cannot continue", message=message), status
        )
        response.headers[ERROR_HEADER] = code
        response.headers[ERROR_DESCRIPTION_HEADER] = message
        return response

    def _oauth_error(self, error: OAuth2Error) -> Response:
        """Redirect the error to the client when its redirect URI is known and valid (RFC 6749
        §4.1.2.1); otherwise show it here and never redirect to an unverified URI."""
        if error.redirect_uri:
            status, _body, headers = error()
            return cast(Response, redirect(dict(headers)["Location"], code=status))
        return self._page_error(400, error.error, error.get_error_description() or error.error)

    def _redirect_error(
        self, redirect_uri: str, state: str | None, error: str, description: str
    ) -> Response:
        params = [("error", error), ("error_description", description)]
        if state:
            params.append(("state", state))
        return cast(Response, redirect(add_params_to_uri(redirect_uri, params), code=302))

    def _authorize(self) -> Response:
        """The authorization endpoint: validate, decide which login steps this request needs
        (RFC 9470 §4), then send the browser through them."""
        self._purge()
        try:
            grant = self._authorization.get_consent_grant(end_user=None)
        except OAuth2Error as error:
            return self._oauth_error(error)
        redirect_uri: str = grant.redirect_uri
        args = request.args
        state = args.get("state")
        for name in args:
            if len(args.getlist(name)) > 1:
                return self._redirect_error(
                    redirect_uri, state, "invalid_request", f"repeated parameter {name}"
                )
        params = {name: args[name] for name in args}
        max_age: int | None = None
        if "max_age" in params:
            if not params["max_age"].isdigit():
                return self._redirect_error(
                    redirect_uri, state, "invalid_request", "max_age must be a non-negative integer"
                )
            max_age = int(params["max_age"])
        try:
            self._requested_resource(params.get("resource"))
        except InvalidTargetError as error:
            return self._redirect_error(
                redirect_uri, state, "invalid_target", error.description or ""
            )
        requested = params.get("acr_values", "").split()
        known = [value for value in requested if value in (self.password_acr, self.mfa_acr)]
        if requested and not known:
            return self._redirect_error(
                redirect_uri,
                state,
                "unmet_authentication_requirements",
                "none of the requested acr_values is supported",
            )
        # Any requested level satisfied by the password alone means no second factor is needed;
        # otherwise the MFA level was asked for and only a TOTP step can reach it.
        wants_mfa = bool(known) and self.password_acr not in known
        prompt = params.get("prompt", "").split()

        session = self._current_session()
        base = session.authentication if session else None
        now = int(self.clock())
        need_password = (
            base is None
            or "login" in prompt
            or (max_age is not None and now - base.auth_time > max_age)
        )
        need_otp = wants_mfa and (need_password or (base is not None and "otp" not in base.amr))
        if "none" in prompt and (need_password or need_otp):
            error_code = "login_required" if need_password else "interaction_required"
            return self._redirect_error(
                redirect_uri, state, error_code, "prompt=none but the user must authenticate"
            )

        browser_id = request.cookies.get(self._browser_cookie) or secrets.token_urlsafe(24)
        tx = LoginTransaction(
            tx_id=secrets.token_urlsafe(32),
            browser_id=browser_id,
            params=params,
            created_at=self.clock(),
            username=None if need_password or base is None else base.username,
            need_password=need_password,
            need_otp=need_otp,
            base=None if need_password else base,
        )
        with self._lock:
            self._transactions[tx.tx_id] = tx
        if need_password:
            response = cast(Response, redirect("/login?" + urlencode({"tx": tx.tx_id}), 303))
        elif need_otp:
            response = cast(Response, redirect("/otp?" + urlencode({"tx": tx.tx_id}), 303))
        else:
            response = self._complete(tx)
        response.set_cookie(self._browser_cookie, browser_id, httponly=True, samesite="Lax")
        return response

    def _login_page(self) -> Response:
        tx = self._transaction()
        if tx is None or not tx.need_password:
            return self._page_error(
                400, "unknown_transaction", "This login page has expired; start again."
            )
        if request.method == "GET":
            return self._render_login(tx, None, 200)
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        user = self.users.get(username)
        expected = user.password if user else secrets.token_urlsafe(16)
        password_ok = secrets.compare_digest(password.encode(), expected.encode())
        if user is None or not password_ok:
            return self._failed(tx, "invalid_credentials", "Wrong username or password.", "login")
        tx.username = username
        tx.password_at = int(self.clock())
        tx.failures = 0
        if tx.need_otp:
            if user.totp_secret is None:
                return self._unmet(tx, "this user has no second factor enrolled")
            return cast(Response, redirect("/otp?" + urlencode({"tx": tx.tx_id}), 303))
        return self._complete(tx)

    def _otp_page(self) -> Response:
        tx = self._transaction()
        ready = tx is not None and tx.need_otp and tx.username is not None
        if tx is None or not ready or (tx.need_password and tx.password_at is None):
            return self._page_error(
                400, "unknown_transaction", "This login page has expired; start again."
            )
        assert tx.username is not None
        user = self.users.get(tx.username)
        if user is None or user.totp_secret is None:
            return self._unmet(tx, "this user has no second factor enrolled")
        if request.method == "GET":
            return self._render_otp(tx, None, 200)
        result = self.totp.check(
            user.username, user.totp_secret, request.form.get("code", ""), self.clock()
        )
        if result is TotpResult.REPLAYED:
            return self._failed(
                tx, "otp_replayed", "This code was already used; wait for the next one.", "otp"
            )
        if result is TotpResult.INVALID:
            return self._failed(tx, "invalid_otp", "Wrong code.", "otp")
        tx.otp_at = int(self.clock())
        return self._complete(tx)

    def _failed(self, tx: LoginTransaction, code: str, message: str, page: str) -> Response:
        tx.failures += 1
        if tx.failures >= MAX_FAILURES:
            with self._lock:
                self._transactions.pop(tx.tx_id, None)
            return self._page_error(429, "too_many_attempts", "Too many attempts; start again.")
        render = self._render_login if page == "login" else self._render_otp
        response = render(tx, message, 422)
        response.headers[ERROR_HEADER] = code
        response.headers[ERROR_DESCRIPTION_HEADER] = message
        return response

    def _unmet(self, tx: LoginTransaction, description: str) -> Response:
        with self._lock:
            self._transactions.pop(tx.tx_id, None)
        return self._redirect_error(
            tx.params.get("redirect_uri") or self.clients[tx.params["client_id"]].redirect_uris[0],
            tx.params.get("state"),
            "unmet_authentication_requirements",
            description,
        )

    def _render_login(self, tx: LoginTransaction, error: str | None, status: int) -> Response:
        username = request.form.get("username") or (tx.base.username if tx.base else "")
        return make_response(
            render_template(
                "login.html",
                tx=tx.tx_id,
                error=error,
                username=username,
                step_up=tx.need_otp,
                client_id=tx.params.get("client_id", ""),
            ),
            status,
        )

    def _render_otp(self, tx: LoginTransaction, error: str | None, status: int) -> Response:
        return make_response(
            render_template("otp.html", tx=tx.tx_id, error=error, username=tx.username),
            status,
        )

    def _enroll_page(self) -> Response:
        """Shows a user's ``otpauth://`` URI and QR code after a password check."""
        if request.method == "GET":
            return make_response(render_template("enroll.html", user=None, error=None))
        user = self.users.get(request.form.get("username", ""))
        password = request.form.get("password", "")
        expected = user.password if user else secrets.token_urlsafe(16)
        ok = secrets.compare_digest(password.encode(), expected.encode())
        if user is None or not ok or user.totp_secret is None:
            response = make_response(
                render_template(
                    "enroll.html", user=None, error="Wrong username or password (or no TOTP)."
                ),
                422,
            )
            response.headers[ERROR_HEADER] = "invalid_credentials"
            return response
        uri = user.provisioning_uri(f"stepup-mfa dev-idp {self.port}")
        assert uri is not None
        qr_svg = segno.make(uri, error="m").svg_inline(scale=4, title="TOTP enrolment QR code")
        return make_response(
            render_template("enroll.html", user=user, uri=uri, qr_svg=qr_svg, error=None)
        )
