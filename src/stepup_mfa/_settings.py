"""Settings read from the environment, so an app can be pointed at any authorization server.

The variable names are a documented interface (the examples and ``stepup-mfa demo`` use them):

=====================================  ==========================================================
``STEPUP_ISSUER``                      required: the trusted issuer; its metadata is discovered
                                       (RFC 8414)
``STEPUP_AUDIENCE``                    required: this API's audience / resource identifier
``STEPUP_TOKEN_MODE``                  ``jwt`` (JWKS, the default) or ``introspection``
``STEPUP_INTROSPECTION_CLIENT_ID``     the API's client id at the introspection endpoint
``STEPUP_INTROSPECTION_CLIENT_SECRET`` and its secret (``client_secret_basic``)
``STEPUP_MFA_ACR``                     the acr value that means MFA at this issuer
``STEPUP_MFA_MAX_AGE``                 the freshness window of MFA routes, seconds (default 60)
``STEPUP_ALLOW_INSECURE_HTTP``         ``1`` to trust an ``http://`` issuer (development only)
``STEPUP_ACCEPT_JWT_TYP``              ``1`` to accept JWT access tokens typed ``JWT`` (or untyped)
                                       as well as ``at+jwt`` (RFC 9068 §4)
``STEPUP_PUBLIC_URL``                  the API's externally visible base URL
                                       (``https://api.example.com``, optionally with a path
                                       prefix), which DPoP proofs' ``htu`` is compared with
                                       (RFC 9449 §4.3); default: the URL the app is served on
``STEPUP_DPOP_REQUIRED``               ``1`` to make the MFA routes require a sender-constrained
                                       token (``Policy(require_bound_token=True)``): a bearer
                                       token is refused there with a ``DPoP`` challenge
``STEPUP_STRICT_ACR``                  ``1`` to refuse to start when a policy asks for
                                       ``acr_values`` the issuer's ``acr_values_supported`` does
                                       not list (``Guard(strict_acr=...)``, R9470-14); by default
                                       a warning
=====================================  ==========================================================

DPoP-bound tokens are accepted with no setting at all: :meth:`StepUpSettings.dpop` builds the
checker the ``Guard`` takes as ``dpop=``, with ``STEPUP_PUBLIC_URL`` or the URL the app is served
on. ``STEPUP_PUBLIC_URL`` is configuration on purpose: the ``Host`` header is the client's to
forge, so behind a proxy set it to the URL clients call.

There is no default issuer or audience: trusting whatever answers on a development port because a
variable was forgotten is a security hole, so an unset ``STEPUP_ISSUER`` or ``STEPUP_AUDIENCE`` is
a :class:`~stepup_mfa.ConfigurationError` naming it. A development setup passes its defaults
visibly, ``StepUpSettings.from_env(defaults={"STEPUP_ISSUER": ...})`` (the examples do).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ._core.errors import ConfigurationError
from ._core.policy import Policy
from ._verify.base import TokenVerifier
from ._verify.dpop import DPoP, normalize_http_uri

DEV_MFA_ACR = "urn:stepup-mfa:acr:mfa"

TokenMode = Literal["jwt", "introspection"]

_TRUE = frozenset({"1", "true", "yes"})
_FALSE = frozenset({"", "0", "false", "no"})
_REQUIRED = {
    "STEPUP_ISSUER": "set it to the issuer this API trusts",
    "STEPUP_AUDIENCE": "set it to this API's audience (resource identifier)",
}


@dataclass(frozen=True, slots=True)
class StepUpSettings:
    """Where tokens come from and what "MFA" means at that issuer.

    ``issuer`` and ``audience`` have no default: they say whom the API trusts.

    - ``token_mode``: ``"jwt"`` (verify signatures against the issuer's JWKS) or
      ``"introspection"`` (RFC 7662, with ``introspection_client_id`` and
      ``introspection_client_secret`` as HTTP Basic credentials).
    - ``mfa_acr``: the acr value the issuer sets after a second factor; ``mfa_max_age``: how many
      seconds such a login counts as fresh (:meth:`mfa_policy`).
    - ``allow_insecure_http``: accept an ``http`` issuer that is not loopback (development only).
    - ``accept_jwt_typ``: accept access tokens typed ``JWT`` (or untyped), see
      :class:`~stepup_mfa.JWTVerifier`.
    - ``public_url``: the API's externally visible origin, for DPoP's ``htu`` check.
    - ``dpop_required``: the MFA policy also requires a DPoP-bound token.
    - ``strict_acr``: for ``Guard(strict_acr=...)``: acr values the issuer does not list stop
      the app at start-up instead of a warning (R9470-14).

    :meth:`from_env` reads each from ``STEPUP_<FIELD>`` (``STEPUP_ISSUER``, ``STEPUP_MFA_ACR``...).
    """

    issuer: str
    audience: str
    token_mode: TokenMode = "jwt"
    introspection_client_id: str | None = None
    introspection_client_secret: str | None = None
    mfa_acr: str = DEV_MFA_ACR
    mfa_max_age: int = 60
    allow_insecure_http: bool = False
    accept_jwt_typ: bool = False
    public_url: str | None = None
    dpop_required: bool = False
    strict_acr: bool = False

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, defaults: Mapping[str, str] | None = None
    ) -> StepUpSettings:
        """Read the ``STEPUP_*`` variables from ``env`` (default ``os.environ``).

        ``defaults`` fills the variables that ``env`` leaves unset or empty; a development setup
        passes its issuer and audience there, in plain sight. An unset ``STEPUP_ISSUER`` or
        ``STEPUP_AUDIENCE``, or a malformed value, is a :class:`ConfigurationError` naming the
        variable.
        """
        values = {name: value for name, value in (defaults or {}).items() if value.strip()}
        source = os.environ if env is None else env
        values.update((name, value) for name, value in source.items() if value.strip())
        env = values
        for name, meaning in _REQUIRED.items():
            if name not in env:
                raise ConfigurationError(f"{name} is not set: {meaning} (there is no default)")
        mode = env.get("STEPUP_TOKEN_MODE", "jwt").strip().lower()
        if mode not in ("jwt", "introspection"):
            raise ConfigurationError("STEPUP_TOKEN_MODE must be 'jwt' or 'introspection'")
        max_age_text = env.get("STEPUP_MFA_MAX_AGE", "60").strip()
        if not max_age_text.isdigit():
            raise ConfigurationError("STEPUP_MFA_MAX_AGE must be a whole number of seconds")
        public_url = env.get("STEPUP_PUBLIC_URL", "").strip() or None
        if public_url is not None and normalize_http_uri(public_url) is None:
            raise ConfigurationError(
                "STEPUP_PUBLIC_URL must be an absolute http(s) URL with no query or fragment, "
                "the base URL clients call (https://api.example.com)"
            )
        return cls(
            issuer=env["STEPUP_ISSUER"].strip(),
            audience=env["STEPUP_AUDIENCE"].strip(),
            token_mode="jwt" if mode == "jwt" else "introspection",
            introspection_client_id=env.get("STEPUP_INTROSPECTION_CLIENT_ID"),
            introspection_client_secret=env.get("STEPUP_INTROSPECTION_CLIENT_SECRET"),
            mfa_acr=env.get("STEPUP_MFA_ACR", DEV_MFA_ACR),
            mfa_max_age=int(max_age_text),
            allow_insecure_http=_flag(env, "STEPUP_ALLOW_INSECURE_HTTP"),
            accept_jwt_typ=_flag(env, "STEPUP_ACCEPT_JWT_TYP"),
            public_url=public_url,
            dpop_required=_flag(env, "STEPUP_DPOP_REQUIRED"),
            strict_acr=_flag(env, "STEPUP_STRICT_ACR"),
        )

    def verifier(self) -> TokenVerifier:
        """A JWT or introspection verifier for the configured issuer and audience."""
        if self.token_mode == "jwt":
            from ._verify.jwt_verifier import JWTVerifier

            return JWTVerifier(
                self.issuer,
                self.audience,
                allow_insecure_http=self.allow_insecure_http,
                accept_jwt_typ=self.accept_jwt_typ,
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
        """Authenticated, with the MFA acr value, within the last ``mfa_max_age`` seconds; with
        ``STEPUP_DPOP_REQUIRED=1`` also with a sender-constrained token. ``name`` labels the
        policy in logs."""
        return Policy(
            acr_values=(self.mfa_acr,),
            max_age=self.mfa_max_age,
            name=name,
            require_bound_token=self.dpop_required,
        )

    def dpop(self, served_url: str) -> DPoP:
        """The DPoP checker for ``Guard(..., dpop=...)`` (RFC 9449): proofs must name
        ``STEPUP_PUBLIC_URL``, or ``served_url`` (the URL the app listens on) when it is unset."""
        return DPoP(self.public_url or served_url)


def _flag(env: Mapping[str, str], name: str) -> bool:
    """``1``/``true``/``yes`` or ``0``/``false``/``no``/unset; anything else is an error, so a
    switch spelt ``on`` is never silently off."""
    value = env.get(name, "").strip().lower()
    if value not in _TRUE | _FALSE:
        raise ConfigurationError(f"{name} must be 1 or 0")
    return value in _TRUE
