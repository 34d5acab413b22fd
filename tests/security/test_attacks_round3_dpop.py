"""Round 3 attacks on the DPoP additions (issue 14): nonces handed out on 200 responses, TOML
``require_bound_token``, and DPoP-bound tokens presented as Bearer (also after a Bearer verdict
was remembered). A hole is marked ``xfail(strict=True)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.adapters.adapter_apps import BUILDERS, Reply
from tests.dpop.dpop_kit import NOW, Client, StubVerifier, view

from stepup_mfa import ConfigurationError, DPoP, Guard, Policy, RequestView
from stepup_mfa.routes import RouteTable

ORIGIN = "https://api.example.com"
SECRET = b"0123456789abcdef0123456789abcdef"
OTHER_SECRET = b"fedcba9876543210fedcba9876543210"
LIFETIME = 300.0
BOUND = Policy(require_bound_token=True, name="bound")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def _nonce_app(
    secret: bytes = SECRET, client: Client | None = None
) -> tuple[Any, Client, Clock, str]:
    stub, clock = StubVerifier(), Clock()
    client = client or Client()
    token = stub.add("bound-token", cnf={"jkt": client.jkt})
    dpop = DPoP(ORIGIN, nonce_secret=secret, nonce_lifetime=LIFETIME)
    guard = Guard(stub, clock=clock, dpop=dpop, refresh_ahead=None)  # type: ignore[arg-type]
    return BUILDERS["asgi-middleware"](guard, "async"), client, clock, token


def _ask(call: Any, client: Client, clock: Clock, token: str, nonce: str | None) -> Reply:
    claims: dict[str, Any] = {} if nonce is None else {"nonce": nonce}
    proof = client.proof(token, url=f"{ORIGIN}/dogs/", iat=clock.now, **claims)
    reply: Reply = call("GET", "/dogs/", [("Authorization", f"DPoP {token}"), ("DPoP", proof)])
    return reply


def test_dpop_a_nonce_from_a_200_is_refused_two_rotations_later() -> None:
    """Attack: keep the nonce a 200 handed out and use it after two nonce periods (RFC 9449
    §8.2, R9449-21): ``use_dpop_nonce`` with a fresh nonce, never a 200."""
    call, client, clock, token = _nonce_app()
    issued = _ask(call, client, clock, token, None).header("dpop-nonce")
    admitted = _ask(call, client, clock, token, issued)
    assert admitted.status == 200
    kept = admitted.header("dpop-nonce")
    clock.now += 2 * LIFETIME
    late = _ask(call, client, clock, token, kept)
    assert late.status == 401
    assert 'error="use_dpop_nonce"' in str(late.header("www-authenticate"))
    assert late.header("dpop-nonce") not in (None, kept)


def test_dpop_a_nonce_of_another_server_secret_is_refused() -> None:
    """Attack: a nonce a 200 of another deployment (another ``nonce_secret``) handed out
    (R9449-20: the nonce is this server's MAC)."""
    other_call, client, clock, token = _nonce_app(OTHER_SECRET)
    issued = _ask(other_call, client, clock, token, None).header("dpop-nonce")
    theirs = _ask(other_call, client, clock, token, issued).header("dpop-nonce")
    call, _, _, _ = _nonce_app(client=client)
    refused = _ask(call, client, clock, token, theirs)
    assert refused.status == 401
    assert 'error="use_dpop_nonce"' in str(refused.header("www-authenticate"))


def test_dpop_a_proof_replayed_after_a_200_is_refused() -> None:
    """Attack: resend the exact request (same proof, valid nonce) that got a 200 (R9449-13)."""
    stub, client = StubVerifier(), Client()
    token = stub.add("bound-token", cnf={"jkt": client.jkt})
    guard = Guard(stub, clock=lambda: NOW, dpop=DPoP(ORIGIN))  # type: ignore[arg-type]
    call = BUILDERS["asgi-middleware"](guard, "async")
    proof = client.proof(token, url=f"{ORIGIN}/dogs/", iat=NOW)
    headers = [("Authorization", f"DPoP {token}"), ("DPoP", proof)]
    assert call("GET", "/dogs/", headers).status == 200
    replayed = call("GET", "/dogs/", headers)
    assert replayed.status == 401
    assert 'error="invalid_dpop_proof"' in str(replayed.header("www-authenticate"))


@pytest.mark.parametrize("with_proof", [False, True])
@pytest.mark.parametrize("dpop_on", [False, True])
def test_dpop_a_bound_token_sent_as_bearer_is_refused_every_time(
    dpop_on: bool, with_proof: bool
) -> None:
    """Attack: a stolen DPoP-bound token sent as ``Bearer`` (with or without a valid proof in
    the DPoP header, with or without a DPoP checker), three times so any remembered verdict
    would show (R9449-17, D9, PERF-1)."""
    stub, client = StubVerifier(), Client()
    token = stub.add("bound-token", cnf={"jkt": client.jkt})
    guard = Guard(
        stub,  # type: ignore[arg-type]
        clock=lambda: NOW,
        dpop=DPoP(ORIGIN) if dpop_on else None,
        refresh_ahead=None,
    )
    for _ in range(3):
        proofs = (client.proof(token, url=f"{ORIGIN}/cats/", iat=NOW),) if with_proof else ()
        request = RequestView("GET", "/cats/", (f"Bearer {token}",), scheme="https", dpop=proofs)
        decision = guard.check(request, Policy())
        assert not decision.allowed and decision.error.code == "invalid_token"
        assert guard.recall(f"Bearer {token}", Policy()) is None


def test_dpop_the_same_bound_token_as_dpop_and_as_bearer_at_once_is_refused() -> None:
    """Attack: ``Authorization: DPoP <t>`` with its proof plus ``Authorization: Bearer <t>``
    (RFC 9449 §7.2, R9449-19: ambiguous; one credential per request)."""
    stub, client = StubVerifier(), Client()
    token = stub.add("bound-token", cnf={"jkt": client.jkt})
    guard = Guard(stub, clock=lambda: NOW, dpop=DPoP(ORIGIN))  # type: ignore[arg-type]
    proof = client.proof(token, iat=NOW)
    both = view(authorization=(f"DPoP {token}", f"Bearer {token}"), proofs=(proof,))
    decision = guard.check(both, Policy())
    assert not decision.allowed and decision.status == 400


def test_dpop_a_bound_route_refuses_a_plain_token_with_a_dpop_header() -> None:
    """Attack: a plain bearer token with a proof by the attacker's own key on a
    ``require_bound_token`` route, as Bearer and as DPoP (R9449-1, D9)."""
    stub, client = StubVerifier(), Client()
    stub.add("plain")
    guard = Guard(stub, clock=lambda: NOW, dpop=DPoP(ORIGIN))  # type: ignore[arg-type]
    proof = client.proof("plain", iat=NOW)
    for scheme in ("Bearer", "DPoP"):
        decision = guard.check(view("plain", (proof,), scheme=scheme), BOUND)
        assert not decision.allowed and decision.error.code == "invalid_token", scheme


TABLES = {
    "a route-level key": """
[[routes]]
match = "GET /cats/"
policy = "authenticated"
require_bound_token = true
""",
    "a built-in policy redefined": """
[policies.authenticated]
require_bound_token = true
[[routes]]
match = "GET /cats/"
policy = "authenticated"
""",
    "an inline policy": """
[[routes]]
match = "GET /cats/"
policy = { require_bound_token = true }
""",
    "a policy name in another case": """
[policies.Bound]
require_bound_token = true
[[routes]]
match = "GET /cats/"
policy = "bound"
""",
    "a top-level key": """
require_bound_token = true
[[routes]]
match = "GET /cats/"
policy = "authenticated"
""",
    "a key in another case": """
[policies.bound]
Require_Bound_Token = true
[[routes]]
match = "GET /cats/"
policy = "bound"
""",
}


@pytest.mark.parametrize("text", TABLES.values(), ids=TABLES.keys())
def test_dpop_toml_spellings_that_would_drop_require_bound_token_fail_at_load(
    tmp_path: Path, text: str
) -> None:
    """Attack (misconfiguration): TOML a reader takes for "this route needs a bound token" but
    that would load a weaker policy if silently accepted (BIND-5: fail at start-up)."""
    path = tmp_path / "policies.toml"
    path.write_text(text)
    with pytest.raises(ConfigurationError):
        RouteTable.from_toml(path)
