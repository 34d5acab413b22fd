"""Apps for the round 3 mTLS attacks (tests/security/test_attacks_round3_mtls.py), importable by
a server process (``gunicorn round3_mtls_apps:wsgi_app()``): a stub verifier whose token
``alice-token`` is bound to :data:`ALICE_DER` and ``plain-token`` to nothing, behind the WSGI or
ASGI middleware, the certificate taken from the trusted proxy header ``X-Client-Cert``
(base64 DER, Caddy's format)."""

from __future__ import annotations

import base64
from collections.abc import Iterable, MutableMapping
from typing import Any

from stepup_mfa import Guard, MutualTLS, Policy, Principal
from stepup_mfa._core.decision import certificate_thumbprint
from stepup_mfa._core.errors import InvalidToken
from stepup_mfa._verify.flow import Flow
from stepup_mfa.adapters.asgi import StepUpMiddleware
from stepup_mfa.adapters.wsgi import StepUpWSGIMiddleware
from stepup_mfa.routes import Route, RouteTable

NOW = 1_800_000_000.0
ALICE_DER = b"0\x82\x01 alice's certificate (DER bytes stand-in)"
BOB_DER = b"0\x82\x01 bob's certificate (DER bytes stand-in)"
ALICE_HEADER = base64.b64encode(ALICE_DER).decode("ascii")
BOB_HEADER = base64.b64encode(BOB_DER).decode("ascii")
BOUND = Policy(require_bound_token=True, name="bound")
TABLE = RouteTable([Route("GET", "/bound/", BOUND), Route("GET", "/any/", Policy(name="any"))])


class StubVerifier:
    """Tokens are names of principals (no I/O)."""

    def __init__(self) -> None:
        base = {"iss": "https://as.example.com", "sub": "alice", "exp": NOW + 3600}
        self.principals = {
            "alice-token": Principal.from_claims(
                {**base, "cnf": {"x5t#S256": certificate_thumbprint(ALICE_DER)}}
            ),
            "plain-token": Principal.from_claims(base),
        }

    def cached(self, token: str, now: float, max_cache_age: int | None = None) -> Principal | None:
        return self.principals.get(token)

    def verify(self, token: str, now: float) -> Flow[Principal]:
        principal = self.principals.get(token)
        if principal is None:
            raise InvalidToken()
        return principal
        yield  # a generator that never asks for I/O


def guard(header: str | None = "X-Client-Cert") -> Guard:
    mtls = MutualTLS(trusted_proxy_header=header, header_format="der-base64")
    return Guard(StubVerifier(), clock=lambda: NOW, mtls=mtls, refresh_ahead=None)  # type: ignore[arg-type]


def hello_wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


async def hello_asgi(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


def wsgi_app() -> StepUpWSGIMiddleware:
    return StepUpWSGIMiddleware(hello_wsgi, guard=guard(), routes=TABLE)


def asgi_app() -> StepUpMiddleware:
    return StepUpMiddleware(hello_asgi, guard=guard(), routes=TABLE)
