"""DPoP through every adapter: the DPoP header reaches the Guard (asgi_view, wsgi_view)."""

from __future__ import annotations

import pytest
from tests.adapters.adapter_apps import ADAPTERS, BUILDERS, MODES
from tests.dpop.dpop_kit import NOW, Client, StubVerifier

from stepup_mfa import DPoP, Guard

ORIGIN = "https://api.example.com"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_R9449_1_R9449_13_R9449_4_through_the_adapter(adapter: str, mode: str) -> None:
    stub, client = StubVerifier(), Client()
    token = stub.add("bound-token", cnf={"jkt": client.jkt})
    guard = Guard(stub, clock=lambda: NOW, dpop=DPoP(ORIGIN))
    call = BUILDERS[adapter](guard, mode)  # type: ignore[arg-type]
    proof = client.proof(token, url=f"{ORIGIN}/dogs/")
    headers = [("Authorization", f"DPoP {token}"), ("DPoP", proof)]
    assert call("GET", "/dogs/", headers).status == 200
    replay = call("GET", "/dogs/", headers)
    assert replay.status == 401
    assert {c.scheme: c.error for c in replay.challenges}["DPoP"] == "invalid_dpop_proof"
    two = [*headers[:1], ("DPoP", client.proof(token, url=f"{ORIGIN}/dogs/")), ("DPoP", proof)]
    refused = call("GET", "/dogs/", two)
    assert refused.status == 401
    assert {c.scheme: c.error for c in refused.challenges}["DPoP"] == "invalid_dpop_proof"
    missing = call("GET", "/dogs/", headers[:1])
    assert missing.status == 401
