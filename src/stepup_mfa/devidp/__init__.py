"""A development authorization server with password + TOTP login and RFC 9470 step-up.

For local development, demos and tests only: in-memory state, demo users, plain http on loopback.
Needs the ``devidp`` extra (Flask, segno). Run it with ``stepup-mfa dev-idp`` or::

    from stepup_mfa.devidp import DevIdP, login

    with DevIdP() as idp:
        tokens = login(idp.issuer, "demo-client", "alice", "alice-password",
                       totp=idp.totp_code("alice"), acr_values=idp.mfa_acr)
"""

from .._extras import missing_extra as _missing_extra

try:
    from .client import (
        DEFAULT_REDIRECT_URI,
        DEFAULT_SCOPE,
        DevIdPClient,
        LoginError,
        TokenResponse,
        introspect,
        login,
    )
    from .models import (
        CONFIDENTIAL_CLIENT_ID,
        CONFIDENTIAL_CLIENT_SECRET,
        PUBLIC_CLIENT_ID,
        RESOURCE_SERVER_CLIENT_ID,
        RESOURCE_SERVER_CLIENT_SECRET,
        Authentication,
        DemoClient,
        DemoUser,
    )
    from .server import DEFAULT_AUDIENCE, DEFAULT_OPAQUE_AUDIENCE, DEFAULT_PORT, DevIdP
except ModuleNotFoundError as error:  # authlib, pyotp, Flask and segno are the devidp extra
    hint = _missing_extra(error, "devidp", "stepup_mfa.devidp")
    if hint is None:
        raise
    raise hint from None

__all__ = [
    "CONFIDENTIAL_CLIENT_ID",
    "CONFIDENTIAL_CLIENT_SECRET",
    "DEFAULT_AUDIENCE",
    "DEFAULT_OPAQUE_AUDIENCE",
    "DEFAULT_PORT",
    "DEFAULT_REDIRECT_URI",
    "DEFAULT_SCOPE",
    "PUBLIC_CLIENT_ID",
    "RESOURCE_SERVER_CLIENT_ID",
    "RESOURCE_SERVER_CLIENT_SECRET",
    "Authentication",
    "DemoClient",
    "DemoUser",
    "DevIdP",
    "DevIdPClient",
    "LoginError",
    "TokenResponse",
    "introspect",
    "login",
]
