"""The development server's in-memory world: demo users, clients, sessions, codes and tokens.

Everything lives in process memory and disappears when the server stops; that is the point of a
development tool. The client and token records implement the small method sets authlib's grants
and endpoints call (``ClientMixin``, ``AuthorizationCodeMixin``, ``TokenMixin``), duck-typed.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pyotp

from .totp import provisioning_uri

#: Response header telling scripts why a form was refused (the HTML says it to people).
ERROR_HEADER = "X-DevIdP-Error"
ERROR_DESCRIPTION_HEADER = "X-DevIdP-Error-Description"


@dataclass(frozen=True, slots=True)
class DemoUser:
    """A user who can log in with a password and, when ``totp_secret`` is set, a TOTP code."""

    username: str
    password: str
    totp_secret: str | None = field(default_factory=pyotp.random_base32)
    name: str = ""

    def provisioning_uri(self, issuer_name: str = "stepup-mfa dev-idp") -> str | None:
        """The ``otpauth://`` URI to enrol this user's secret in an authenticator app."""
        if self.totp_secret is None:
            return None
        return provisioning_uri(self.totp_secret, self.username, issuer_name)

    def totp_now(self, now: float) -> str:
        """The current code (ignores replay state; see ``DevIdP.totp_code`` for a fresh one)."""
        if self.totp_secret is None:
            raise ValueError(f"user {self.username!r} has no TOTP secret")
        return str(pyotp.TOTP(self.totp_secret).at(int(now)))


@dataclass(frozen=True, slots=True)
class DemoClient:
    """An OAuth client registered at the development server.

    ``client_secret=None`` makes a public client (PKCE only, ``token_endpoint_auth_method``
    ``none``). ``introspection_audiences`` makes it a resource server that may introspect tokens
    issued for those audiences (RFC 7662 §2.1: the caller must be authorized).
    """

    client_id: str
    client_secret: str | None = None
    redirect_uris: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token")
    scope: str = "openid profile dogs:read cats:read"
    introspection_audiences: tuple[str, ...] = ()

    @property
    def is_public(self) -> bool:
        return self.client_secret is None

    # -- authlib ClientMixin ---------------------------------------------------------------------

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        allowed = set(self.scope.split())
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact match, except that a loopback redirect URI matches on any port (RFC 8252 §7.3,
        for native apps and scripts that listen on an ephemeral port)."""
        if redirect_uri in self.redirect_uris:
            return True
        candidate = urlsplit(redirect_uri)
        if not _is_loopback_http(candidate.scheme, candidate.hostname):
            return False
        for registered in self.redirect_uris:
            known = urlsplit(registered)
            if (
                _is_loopback_http(known.scheme, known.hostname)
                and known.hostname == candidate.hostname
                and known.path == candidate.path
                and known.query == candidate.query
                and not candidate.fragment
            ):
                return True
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        if self.client_secret is None:
            return False
        return secrets.compare_digest(self.client_secret.encode(), client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.is_public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


def _is_loopback_http(scheme: str, hostname: str | None) -> bool:
    if scheme != "http" or hostname is None:
        return False
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Authentication:
    """How and when the user authenticated: the facts every token derived from it carries.

    ``auth_time`` is the time of the last *active* authentication (OIDC Core §2); it changes on a
    re-authentication or a step-up, and never on a refresh (RFC 9068 §2.2.1).
    """

    username: str
    auth_time: int
    acr: str
    amr: tuple[str, ...]

    def get_user_id(self) -> str:
        return self.username


@dataclass(slots=True)
class Session:
    """A browser's single-sign-on session at the server, keyed by an HttpOnly cookie."""

    session_id: str
    authentication: Authentication


@dataclass(slots=True)
class LoginTransaction:
    """One authorization request on its way through the login pages.

    The pages carry only the unguessable ``tx_id``; the request parameters stay here, and the
    transaction is bound to the browser that started it (``browser_id`` cookie), so a form
    posted from elsewhere cannot complete it (login CSRF).
    """

    tx_id: str
    browser_id: str
    params: dict[str, str]
    created_at: float
    username: str | None = None
    password_at: int | None = None
    otp_at: int | None = None
    need_password: bool = True
    need_otp: bool = False
    failures: int = 0
    #: The session's authentication when the transaction started (a step-up builds on it).
    base: Authentication | None = None


@dataclass(slots=True)
class AuthorizationCodeRecord:
    """An issued authorization code (single use, short-lived, bound to client and PKCE)."""

    code: str
    client_id: str
    redirect_uri: str
    scope: str
    resource: str
    nonce: str | None
    code_challenge: str
    code_challenge_method: str
    authentication: Authentication
    expires_at: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass(slots=True)
class TokenRecord:
    """An issued access token (JWT or opaque) and its refresh token, for introspection and
    revocation. ``clock`` lets expiry follow the server's clock."""

    access_token: str
    client_id: str
    subject: str
    scope: str
    resource: str
    issued_at: int
    expires_at: int
    jti: str
    kind: str
    authentication: Authentication | None
    clock: Callable[[], float]
    refresh_token: str | None = None
    refresh_expires_at: int | None = None
    access_revoked: bool = False
    refresh_revoked: bool = False
    #: RFC 7638 thumbprint of the DPoP key the access token is bound to (``cnf.jkt``), if any.
    jkt: str | None = None
    #: The key a refresh must prove possession of (public clients only, RFC 9449 §5).
    refresh_jkt: str | None = None
    grant_id: str = field(default_factory=lambda: secrets.token_urlsafe(8))

    # -- authlib TokenMixin ------------------------------------------------------------------------

    def check_client(self, client: DemoClient) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_at - self.issued_at

    def is_expired(self) -> bool:
        return self.clock() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.access_revoked

    def refresh_usable(self) -> bool:
        return (
            self.refresh_token is not None
            and not self.refresh_revoked
            and (self.refresh_expires_at is None or self.clock() < self.refresh_expires_at)
        )

    def get_user(self) -> Authentication | None:
        return self.authentication


def default_users() -> tuple[DemoUser, ...]:
    """Two demo users with fresh random TOTP secrets."""
    return (
        DemoUser("alice", "alice-password", name="Alice Example"),
        DemoUser("bob", "bob-password", name="Bob Example"),
    )


#: Client ids and secrets the examples default to (they are printed by ``stepup-mfa dev-idp``).
PUBLIC_CLIENT_ID = "demo-client"
CONFIDENTIAL_CLIENT_ID = "demo-confidential"
CONFIDENTIAL_CLIENT_SECRET = "demo-confidential-secret"
RESOURCE_SERVER_CLIENT_ID = "demo-resource-server"
RESOURCE_SERVER_CLIENT_SECRET = "demo-resource-server-secret"


def default_clients(
    issuer: str, audiences: Sequence[str], redirect_uris: Sequence[str]
) -> tuple[DemoClient, ...]:
    """A public client (PKCE), a confidential client and a resource server for introspection."""
    redirects = (
        f"{issuer}/callback",
        "http://127.0.0.1/callback",
        "http://localhost/callback",
        *redirect_uris,
    )
    return (
        DemoClient(PUBLIC_CLIENT_ID, None, redirects),
        DemoClient(
            CONFIDENTIAL_CLIENT_ID,
            CONFIDENTIAL_CLIENT_SECRET,
            redirects,
            ("authorization_code", "refresh_token", "client_credentials"),
        ),
        DemoClient(
            RESOURCE_SERVER_CLIENT_ID,
            RESOURCE_SERVER_CLIENT_SECRET,
            (),
            (),
            "",
            tuple(audiences),
        ),
    )
