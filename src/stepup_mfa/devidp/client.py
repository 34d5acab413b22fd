"""A scripted user agent and OAuth client for the development server: log in without a browser.

It drives the authorization code flow with PKCE (S256) over plain HTTP: it sends the
authorization request, follows the server's redirects to the login and one-time-code forms,
posts the credentials it was given, and exchanges the code at the token endpoint. The token
endpoint, refresh, revocation and introspection calls are standard and work with any
authorization server; the form steps are specific to the development server.

A :class:`DevIdPClient` keeps its cookies, so a second :meth:`~DevIdPClient.login` runs inside the
first one's session: with ``acr_values`` naming the MFA level it is asked only for the TOTP code
(RFC 9470 §4), which is what a step-up looks like from the user's side.

With ``dpop=`` (a :class:`~stepup_mfa.testing.DPoPKey`) every token request carries a DPoP proof
of that key (RFC 9449 §5), so the tokens come back bound to it (``token_type: DPoP``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from .._core.errors import StepUpError
from .models import ERROR_DESCRIPTION_HEADER, ERROR_HEADER, PUBLIC_CLIENT_ID

if TYPE_CHECKING:
    from ..testing.dpop import DPoPKey

DEFAULT_REDIRECT_URI = "http://127.0.0.1/callback"
DEFAULT_SCOPE = "openid dogs:read cats:read"

TotpSource = str | Callable[[], str]


class LoginError(StepUpError):
    """The login did not produce tokens. ``code`` is the OAuth error code (``access_denied``,
    ``invalid_grant``, ``unmet_authentication_requirements``...) or the development server's
    form error (``invalid_credentials``, ``invalid_otp``, ``otp_replayed``,
    ``too_many_attempts``), or ``password_required`` / ``totp_required`` when the server asked
    for something the caller did not supply."""

    def __init__(self, code: str, description: str = "") -> None:
        super().__init__(f"{code}: {description}" if description else code)
        self.code = code


@dataclass(frozen=True, slots=True)
class TokenResponse:
    """A token endpoint answer (RFC 6749 §5.1)."""

    access_token: str
    token_type: str
    expires_in: int | None = None
    refresh_token: str | None = None
    scope: str | None = None
    id_token: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> TokenResponse:
        return cls(
            access_token=str(document["access_token"]),
            token_type=str(document.get("token_type", "")),
            expires_in=document.get("expires_in"),
            refresh_token=document.get("refresh_token"),
            scope=document.get("scope"),
            id_token=document.get("id_token"),
            raw=dict(document),
        )

    def unverified_claims(self) -> dict[str, Any]:
        """The access token's JWT payload, NOT verified: for display and debugging only."""
        parts = self.access_token.split(".")
        if len(parts) != 3:
            raise ValueError("the access token is not a JWT (opaque tokens need introspection)")
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
        return claims


def _pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _same_endpoint(url: str, redirect_uri: str) -> bool:
    a, b = urlsplit(url), urlsplit(redirect_uri)
    return (a.scheme, a.hostname, a.path) == (b.scheme, b.hostname, b.path) and (
        b.port is None or a.port == b.port
    )


class DevIdPClient:
    """An OAuth client plus a cookie-keeping user agent for the development server."""

    def __init__(
        self,
        issuer: str,
        client_id: str = PUBLIC_CLIENT_ID,
        *,
        client_secret: str | None = None,
        redirect_uri: str = DEFAULT_REDIRECT_URI,
        timeout: float = 10.0,
        dpop: DPoPKey | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.dpop = dpop
        self._http = httpx.Client(follow_redirects=False, timeout=timeout)
        self._metadata: dict[str, Any] | None = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DevIdPClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def metadata(self) -> dict[str, Any]:
        """The server's RFC 8414 metadata (fetched once)."""
        if self._metadata is None:
            response = self._http.get(self.issuer + "/.well-known/oauth-authorization-server")
            response.raise_for_status()
            self._metadata = response.json()
        return self._metadata

    # -- the authorization code flow -------------------------------------------------------------

    def login(
        self,
        username: str | None = None,
        password: str | None = None,
        totp: TotpSource | None = None,
        *,
        scope: str = DEFAULT_SCOPE,
        acr_values: str | Sequence[str] | None = None,
        max_age: int | None = None,
        prompt: str | None = None,
        resource: str | None = None,
    ) -> TokenResponse:
        """Run the authorization code + PKCE flow and return the tokens.

        Supply only what the server may ask for: ``username``/``password`` for the login form,
        ``totp`` (a code, or a callable returning one when asked) for the second factor. Inside
        an existing session the server may ask for less, or nothing at all.
        """
        verifier, challenge = _pkce_pair()
        state = secrets.token_urlsafe(16)
        params: dict[str, str] = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": scope,
            "state": state,
            "nonce": secrets.token_urlsafe(16),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        if acr_values:
            params["acr_values"] = (
                acr_values if isinstance(acr_values, str) else " ".join(acr_values)
            )
        if max_age is not None:
            params["max_age"] = str(max_age)
        if prompt:
            params["prompt"] = prompt
        if resource:
            params["resource"] = resource
        response = self._http.get(self.metadata["authorization_endpoint"], params=params)
        for _ in range(8):
            if response.status_code not in (302, 303):
                raise self._form_error(response)
            location = urljoin(str(response.url), response.headers["location"])
            if _same_endpoint(location, self.redirect_uri):
                code = self._code_from_redirect(location, state)
                return self._exchange(code, verifier, resource)
            target = urlsplit(location)
            tx = parse_qs(target.query).get("tx", [""])[0]
            if target.path.endswith("/login"):
                if username is None or password is None:
                    raise LoginError("password_required", "the server asks for a password")
                response = self._http.post(
                    location, data={"tx": tx, "username": username, "password": password}
                )
            elif target.path.endswith("/otp"):
                if totp is None:
                    raise LoginError("totp_required", "the server asks for a one-time code")
                code = totp() if callable(totp) else totp
                response = self._http.post(location, data={"tx": tx, "code": code})
            else:
                raise LoginError("unexpected_redirect", location)
        raise LoginError("too_many_redirects")

    def _form_error(self, response: httpx.Response) -> LoginError:
        code = response.headers.get(ERROR_HEADER)
        if code:
            return LoginError(code, response.headers.get(ERROR_DESCRIPTION_HEADER, ""))
        return LoginError("unexpected_response", f"HTTP {response.status_code}")

    def _code_from_redirect(self, location: str, state: str) -> str:
        query = parse_qs(urlsplit(location).query)
        if "error" in query:
            raise LoginError(query["error"][0], query.get("error_description", [""])[0])
        if query.get("state", [""])[0] != state:
            raise LoginError("state_mismatch", "the redirect's state is not ours")
        codes = query.get("code", [])
        if len(codes) != 1:
            raise LoginError("invalid_response", "no code in the redirect")
        return codes[0]

    def _post(
        self, url: str, data: dict[str, str], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """POST as this client: a public client names itself, a confidential one uses HTTP
        Basic (``client_secret_basic``, RFC 6749 §2.3.1)."""
        if self.client_secret is None:
            return self._http.post(url, data={**data, "client_id": self.client_id}, headers=headers)
        return self._http.post(
            url, data=data, headers=headers, auth=(self.client_id, self.client_secret)
        )

    def _token_request(self, data: dict[str, str]) -> TokenResponse:
        endpoint = self.metadata["token_endpoint"]
        headers = {"DPoP": self.dpop.proof("POST", endpoint)} if self.dpop is not None else None
        response = self._post(endpoint, data, headers)
        document = response.json()
        if response.status_code != 200:
            error = str(document.get("error", "token_error"))
            raise LoginError(error, str(document.get("error_description", "")))
        return TokenResponse.from_json(document)

    def _exchange(self, code: str, verifier: str, resource: str | None) -> TokenResponse:
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": verifier,
        }
        if resource:
            data["resource"] = resource
        return self._token_request(data)

    # -- the other grants and endpoints ----------------------------------------------------------

    def refresh(self, refresh_token: str, *, scope: str | None = None) -> TokenResponse:
        """A new access token for the same authentication (same ``auth_time``/``acr``/``amr``)."""
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if scope:
            data["scope"] = scope
        return self._token_request(data)

    def client_credentials(
        self, *, scope: str | None = None, resource: str | None = None
    ) -> TokenResponse:
        """A token with no user behind it (confidential clients only)."""
        data = {"grant_type": "client_credentials"}
        if scope:
            data["scope"] = scope
        if resource:
            data["resource"] = resource
        return self._token_request(data)

    def revoke(self, token: str, *, token_type_hint: str | None = None) -> None:
        """RFC 7009 revocation; raises :class:`LoginError` on an error answer."""
        data = {"token": token}
        if token_type_hint:
            data["token_type_hint"] = token_type_hint
        response = self._post(self.metadata["revocation_endpoint"], data)
        if response.status_code != 200:
            raise LoginError(str(response.json().get("error", "revocation_error")))


def login(
    issuer: str,
    client_id: str = PUBLIC_CLIENT_ID,
    username: str | None = None,
    password: str | None = None,
    totp: TotpSource | None = None,
    *,
    acr_values: str | Sequence[str] | None = None,
    max_age: int | None = None,
    scope: str = DEFAULT_SCOPE,
    resource: str | None = None,
    client_secret: str | None = None,
    redirect_uri: str = DEFAULT_REDIRECT_URI,
    dpop: DPoPKey | None = None,
) -> TokenResponse:
    """Log in once, in a fresh session ("password", or "password + TOTP" when ``acr_values``
    asks for the MFA level), and return the tokens (DPoP-bound to ``dpop`` when given)."""
    with DevIdPClient(
        issuer, client_id, client_secret=client_secret, redirect_uri=redirect_uri, dpop=dpop
    ) as client:
        return client.login(
            username,
            password,
            totp,
            scope=scope,
            acr_values=acr_values,
            max_age=max_age,
            resource=resource,
        )


def introspect(
    issuer: str, token: str, client_id: str, client_secret: str, *, timeout: float = 10.0
) -> dict[str, Any]:
    """RFC 7662 introspection as a resource server (client authentication with HTTP Basic)."""
    with httpx.Client(timeout=timeout) as http:
        metadata = http.get(issuer.rstrip("/") + "/.well-known/oauth-authorization-server").json()
        response = http.post(
            metadata["introspection_endpoint"],
            data={"token": token, "token_type_hint": "access_token"},
            auth=httpx.BasicAuth(client_id, client_secret),
        )
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer
