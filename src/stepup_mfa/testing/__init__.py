"""Tools for testing applications protected by stepup-mfa.

- :class:`FrozenClock`: a clock the test moves; give it to the ``Guard`` as ``clock=``.
- :class:`TokenFactory`: RFC 9068 access tokens with any ``acr``/``amr``/``auth_time``/scope/expiry.
- :class:`FakeIssuer`: metadata, JWKS and introspection on 127.0.0.1, serving the factory's keys.
- :class:`DPoPKey`: a client key that signs DPoP proofs; ``mint(bound_to=key)`` binds a token.
- ``assert_*`` helpers that parse ``WWW-Authenticate`` instead of comparing strings.
- A pytest plugin (loaded automatically) with the fixtures ``stepup_clock``, ``stepup_issuer``,
  ``stepup_tokens`` and ``stepup_dev_idp``.
"""

from .assertions import (
    assert_challenge,
    assert_insufficient_scope,
    assert_invalid_request,
    assert_invalid_token,
    assert_step_up,
    assert_unauthenticated,
    assert_unavailable,
    challenges_of,
)
from .clock import FrozenClock
from .dpop import DPoPKey
from .issuer import FakeIssuer
from .keys import KeyRing
from .server import LocalHTTPServer, RecordedRequest, Reply
from .tokens import MFA_ACR, MFA_AMR, PASSWORD_ACR, PASSWORD_AMR, TokenFactory

__all__ = [
    "MFA_ACR",
    "MFA_AMR",
    "PASSWORD_ACR",
    "PASSWORD_AMR",
    "DPoPKey",
    "FakeIssuer",
    "FrozenClock",
    "KeyRing",
    "LocalHTTPServer",
    "RecordedRequest",
    "Reply",
    "TokenFactory",
    "assert_challenge",
    "assert_insufficient_scope",
    "assert_invalid_request",
    "assert_invalid_token",
    "assert_step_up",
    "assert_unauthenticated",
    "assert_unavailable",
    "challenges_of",
]
