"""Server nonces on successful responses (RFC 9449 §8.2, R9449-22): with nonces on, a response to
an admitted DPoP request carries the current ``DPoP-Nonce`` and ``Cache-Control: no-store``, so a
client moves to a new nonce before its old one stops being accepted, without a ``use_dpop_nonce``
round trip. Through every adapter that wraps the application's response."""

from __future__ import annotations

import pytest
from tests.adapters.adapter_apps import BUILDERS, MODES, Reply
from tests.dpop.dpop_kit import NOW, Client, StubVerifier

from stepup_mfa import DPoP, Guard

ORIGIN = "https://api.example.com"
SECRET = b"0123456789abcdef0123456789abcdef"
LIFETIME = 300.0
#: The FastAPI dependency cannot reach the endpoint's response (documented in docs/dpop.md).
ROTATING = (
    "flask-decorator",
    "flask-blueprint",
    "starlette-decorator",
    "wsgi-middleware",
    "asgi-middleware",
)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("adapter", ROTATING)
def test_R9449_22_R9449_21_a_fresh_nonce_on_200_through_the_adapter(
    adapter: str, mode: str
) -> None:
    stub, client, clock = StubVerifier(), Client(), Clock()
    token = stub.add("bound-token", cnf={"jkt": client.jkt})
    dpop = DPoP(ORIGIN, nonce_secret=SECRET, nonce_lifetime=LIFETIME)
    call = BUILDERS[adapter](Guard(stub, clock=clock, dpop=dpop), mode)  # type: ignore[arg-type]

    def request(nonce: str | None) -> Reply:
        claims = {} if nonce is None else {"nonce": nonce}
        proof = client.proof(token, url=f"{ORIGIN}/dogs/", iat=clock.now, **claims)
        return call("GET", "/dogs/", [("Authorization", f"DPoP {token}"), ("DPoP", proof)])

    first = request(None)
    assert first.status == 401
    issued = first.header("dpop-nonce")
    admitted = request(issued)
    assert admitted.status == 200
    assert admitted.headers["dpop-nonce"] == [issued]
    assert admitted.header("cache-control") == "no-store"
    # The next time bucket: the old nonce is still accepted, and the answer hands out the new one.
    clock.now += LIFETIME
    rotated = request(issued)
    assert rotated.status == 200
    fresh = rotated.header("dpop-nonce")
    assert fresh is not None and fresh != issued and fresh == dpop.new_nonce(clock.now)
    # One more bucket: the first nonce is refused, the one handed out on the 200 is not.
    clock.now += LIFETIME
    assert request(issued).status == 401
    assert request(fresh).status == 200


@pytest.mark.parametrize("adapter", ROTATING)
def test_R9449_22_no_nonce_on_bearer_or_without_nonces(adapter: str) -> None:
    stub, client = StubVerifier(), Client()
    plain = stub.add("plain-token")
    token = stub.add("bound-token", cnf={"jkt": client.jkt})
    nonces = Guard(stub, clock=lambda: NOW, dpop=DPoP(ORIGIN, nonce_secret=SECRET))
    bearer = BUILDERS[adapter](nonces, "sync")(
        "GET", "/dogs/", [("Authorization", f"Bearer {plain}")]
    )
    assert bearer.status == 200 and bearer.header("dpop-nonce") is None
    without = BUILDERS[adapter](Guard(stub, clock=lambda: NOW, dpop=DPoP(ORIGIN)), "sync")
    proof = client.proof(token, url=f"{ORIGIN}/dogs/", iat=NOW)
    reply = without("GET", "/dogs/", [("Authorization", f"DPoP {token}"), ("DPoP", proof)])
    assert reply.status == 200 and reply.header("dpop-nonce") is None
