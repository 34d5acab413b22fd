"""The pytest plugin's fixtures are wired together: one clock, one issuer, its tokens."""

from __future__ import annotations

import httpx

from stepup_mfa.testing import FakeIssuer, FrozenClock, TokenFactory


def test_tokens_come_from_the_running_issuer(
    stepup_issuer: FakeIssuer, stepup_tokens: TokenFactory
) -> None:
    assert stepup_tokens is stepup_issuer.tokens
    assert stepup_tokens.claims()["iss"] == stepup_issuer.issuer
    keys = httpx.get(stepup_issuer.jwks_uri).json()["keys"]
    assert {k["kid"] for k in keys} == set(stepup_tokens.keys.kids())


def test_tokens_follow_the_frozen_clock(
    stepup_clock: FrozenClock, stepup_tokens: TokenFactory
) -> None:
    stepup_clock.advance(100)
    assert stepup_tokens.claims()["iat"] == stepup_clock()


def test_audience_fixture_sets_the_tokens_audience(
    stepup_audience: str, stepup_tokens: TokenFactory
) -> None:
    assert stepup_tokens.claims()["aud"] == stepup_audience == "https://api.example.com"
