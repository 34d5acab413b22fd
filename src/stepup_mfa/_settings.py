"""Settings read from the environment, so an app can be pointed at any authorization server.

The variable names are a documented interface (the examples and ``stepup-mfa demo`` use them):

=====================================  ==========================================================
``STEPUP_ISSUER``                      the trusted issuer; its metadata is discovered (RFC 8414)
``STEPUP_AUDIENCE``                    this API's audience / resource identifier
``STEPUP_TOKEN_MODE``                  ``jwt`` (JWKS, the default) or ``introspection``
``STEPUP_INTROSPECTION_CLIENT_ID``     the API's client id at the introspection endpoint
``STEPUP_INTROSPECTION_CLIENT_SECRET`` and its secret (``client_secret_basic``)
``STEPUP_MFA_ACR``                     the acr value that means MFA at this issuer
``STEPUP_MFA_MAX_AGE``                 the freshness window of MFA routes, seconds (default 60)
``STEPUP_ALLOW_INSECURE_HTTP``         ``1`` to trust an ``http://`` issuer (development only)
=====================================  ==========================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ._core.errors import ConfigurationError
from ._core.policy import Policy
from ._verify.base import TokenVerifier

DEV_ISSUER = "http://127.0.0.1:9400"
DEV_AUDIENCE = "https://api.example.com"
DEV_MFA_ACR = "urn:stepup-mfa:acr:mfa"

TokenMode = Literal["jwt", "introspection"]


@dataclass(frozen=True, slots=True)
class StepUpSettings:
    """Where tokens come from and what "MFA" means at that issuer.

    The defaults point at the development authorization server (``stepup-mfa dev-idp``) on its
    default port, so an example runs with no configuration at all.
    """

    issuer: str = DEV_ISSUER
    audience: str = DEV_AUDIENCE
    token_mode: TokenMode = "jwt"
    introspection_client_id: str | None = None
    introspection_client_secret: str | None = None
    mfa_acr: str = DEV_MFA_ACR
    mfa_max_age: int = 60
    allow_insecure_http: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StepUpSettings:
        """Read the ``STEPUP_*`` variables; a malformed value is a :class:`ConfigurationError`."""
        env = os.environ if env is None else env
        mode = env.get("STEPUP_TOKEN_MODE", "jwt").strip().lower()
        if mode not in ("jwt", "introspection"):
            raise ConfigurationError("STEPUP_TOKEN_MODE must be 'jwt' or 'introspection'")
        max_age_text = env.get("STEPUP_MFA_MAX_AGE", "60").strip()
        if not max_age_text.isdigit():
            raise ConfigurationError("STEPUP_MFA_MAX_AGE must be a whole number of seconds")
        return cls(
            issuer=env.get("STEPUP_ISSUER", DEV_ISSUER),
            audience=env.get("STEPUP_AUDIENCE", DEV_AUDIENCE),
            token_mode="jwt" if mode == "jwt" else "introspection",
            introspection_client_id=env.get("STEPUP_INTROSPECTION_CLIENT_ID"),
            introspection_client_secret=env.get("STEPUP_INTROSPECTION_CLIENT_SECRET"),
            mfa_acr=env.get("STEPUP_MFA_ACR", DEV_MFA_ACR),
            mfa_max_age=int(max_age_text),
            allow_insecure_http=env.get("STEPUP_ALLOW_INSECURE_HTTP", "").strip().lower()
            in {"1", "true", "yes"},
        )

    def verifier(self) -> TokenVerifier:
        """A JWT or introspection verifier for the configured issuer and audience."""
        if self.token_mode == "jwt":
            from ._verify.jwt_verifier import JWTVerifier

            return JWTVerifier(
                self.issuer, self.audience, allow_insecure_http=self.allow_insecure_http
            )
        from ._verify.introspection import ClientSecretBasic, IntrospectionVerifier

        if not self.introspection_client_id or not self.introspection_client_secret:
            raise ConfigurationError(
                "introspection mode needs STEPUP_INTROSPECTION_CLIENT_ID and "
                "STEPUP_INTROSPECTION_CLIENT_SECRET (RFC 7662 §2.1)"
            )
        return IntrospectionVerifier(
            client_auth=ClientSecretBasic(
                self.introspection_client_id, self.introspection_client_secret
            ),
            issuer=self.issuer,
            audience=self.audience,
            allow_insecure_http=self.allow_insecure_http,
        )

    def mfa_policy(self, name: str = "mfa") -> Policy:
        """Authenticated, with the MFA acr value, within the last ``mfa_max_age`` seconds."""
        return Policy(acr_values=(self.mfa_acr,), max_age=self.mfa_max_age, name=name)
