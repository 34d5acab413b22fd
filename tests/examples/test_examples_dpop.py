"""DPoP in the examples (issue 14): each example app as its own process against the development
authorization server, configured only through STEPUP_* variables. Bound tokens are accepted with
no setting; ``STEPUP_DPOP_REQUIRED=1`` makes ``/cats/`` refuse bearer tokens with a DPoP challenge;
``STEPUP_PUBLIC_URL`` is the origin proofs must name (default: the URL the app is served on)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stepup_mfa import ConfigurationError, StepUpSettings
from stepup_mfa._core.challenge import Challenge, parse_www_authenticate
from stepup_mfa._demo import ExampleServer, example_environment, find_example, run_example
from stepup_mfa.devidp import DevIdP, DevIdPClient
from stepup_mfa.testing import DPoPKey

BASE = {"STEPUP_ISSUER": "http://127.0.0.1:9400", "STEPUP_AUDIENCE": "https://api.example.com"}


@pytest.fixture(scope="module")
def idp() -> Iterator[DevIdP]:
    with DevIdP() as running:
        yield running


@pytest.fixture(scope="module")
def tokens(idp: DevIdP) -> tuple[str, str, DPoPKey]:
    """An MFA login's bearer token, and a token from the same session bound to ``key``."""
    key = DPoPKey()
    with DevIdPClient(idp.issuer) as client:
        bearer = client.login(
            "alice", "alice-password", totp=idp.totp_code("alice"), acr_values=idp.mfa_acr
        ).access_token
        client.dpop = key
        bound = client.login(acr_values=idp.mfa_acr)
    assert bound.token_type == "DPoP"
    return bearer, bound.access_token, key


@contextmanager
def _serve(app: str, idp: DevIdP, **settings: str) -> Iterator[ExampleServer]:
    env = {**example_environment(idp, "jwt", 300), **settings}
    with run_example(find_example(app), env) as server:
        yield server


def _challenges(response: httpx.Response) -> dict[str, Challenge]:
    found = parse_www_authenticate(response.headers["WWW-Authenticate"])
    return {challenge.scheme.lower(): challenge for challenge in found}


@pytest.mark.parametrize("app", ["starlette", "flask"])
def test_DEMO_2_R9449_17_dpop_required_cats_refuses_bearer_accepts_bound(
    app: str, idp: DevIdP, tokens: tuple[str, str, DPoPKey]
) -> None:
    """DEMO-2, R9449-17, R9449-18: with STEPUP_DPOP_REQUIRED=1, /cats/ answers a (fresh MFA)
    bearer token with 401 and a DPoP challenge offering ``algs``, and a bound token with its
    proof with 200; /dogs/ still takes the bearer token."""
    bearer, bound, key = tokens
    with _serve(app, idp, STEPUP_DPOP_REQUIRED="1") as api:
        refused = httpx.get(api.url + "/cats/", headers={"Authorization": f"Bearer {bearer}"})
        assert refused.status_code == 401
        challenges = _challenges(refused)
        assert challenges["bearer"].error == "invalid_token"
        assert "ES256" in challenges["dpop"].params["algs"].split()
        accepted = httpx.get(
            api.url + "/cats/", headers=key.headers("GET", api.url + "/cats/", bound)
        )
        assert accepted.status_code == 200, accepted.text
        dogs = httpx.get(api.url + "/dogs/", headers={"Authorization": f"Bearer {bearer}"})
        assert dogs.status_code == 200


@pytest.mark.parametrize("app", ["starlette", "flask"])
def test_DEMO_2_bound_tokens_are_accepted_with_no_setting(
    app: str, idp: DevIdP, tokens: tuple[str, str, DPoPKey]
) -> None:
    """DEMO-2, R9449-1: without STEPUP_DPOP_REQUIRED, /cats/ takes both kinds of token."""
    bearer, bound, key = tokens
    with _serve(app, idp) as api:
        with_bearer = httpx.get(api.url + "/cats/", headers={"Authorization": f"Bearer {bearer}"})
        assert with_bearer.status_code == 200
        with_proof = httpx.get(
            api.url + "/cats/", headers=key.headers("GET", api.url + "/cats/", bound)
        )
        assert with_proof.status_code == 200, with_proof.text


def test_DEMO_2_R9449_11_public_url_is_what_proofs_must_name(
    idp: DevIdP, tokens: tuple[str, str, DPoPKey]
) -> None:
    """DEMO-2, R9449-11: behind a proxy, STEPUP_PUBLIC_URL is the origin: a proof naming the
    address the app listens on is refused, one naming the public URL accepted."""
    _, bound, key = tokens
    public = "https://API.example.com:443/"  # normalised like the htu
    with _serve("starlette", idp, STEPUP_PUBLIC_URL=public) as api:
        local = httpx.get(api.url + "/cats/", headers=key.headers("GET", api.url + "/cats/", bound))
        assert local.status_code == 401
        assert _challenges(local)["dpop"].error == "invalid_dpop_proof"
        headers = key.headers("GET", "https://api.example.com/cats/", bound)
        assert httpx.get(api.url + "/cats/", headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("value", "required"),
    [("1", True), ("true", True), ("YES", True), ("0", False), ("no", False), ("", False)],
)
def test_DEMO_2_dpop_required_switch(value: str, required: bool) -> None:
    """DEMO-2: STEPUP_DPOP_REQUIRED is a switch; the MFA policy follows it."""
    settings = StepUpSettings.from_env({**BASE, "STEPUP_DPOP_REQUIRED": value})
    assert settings.dpop_required is required
    assert settings.mfa_policy().require_bound_token is required


@pytest.mark.parametrize("value", ["on", "2", "required", "ture"])
def test_DEMO_2_dpop_required_typo_is_refused(value: str) -> None:
    """DEMO-2: a switch spelt any other way is a start-up error, never silently off."""
    with pytest.raises(ConfigurationError, match="STEPUP_DPOP_REQUIRED"):
        StepUpSettings.from_env({**BASE, "STEPUP_DPOP_REQUIRED": value})


@pytest.mark.parametrize(
    "value", ["api.example.com", "ftp://api.example.com", "https://api.example.com/?x=1", "/api"]
)
def test_DEMO_2_bad_public_url_is_refused(value: str) -> None:
    """DEMO-2, R9449-11: STEPUP_PUBLIC_URL must be an absolute http(s) URL."""
    with pytest.raises(ConfigurationError, match="STEPUP_PUBLIC_URL"):
        StepUpSettings.from_env({**BASE, "STEPUP_PUBLIC_URL": value})


def test_DEMO_2_public_url_defaults_to_the_served_url() -> None:
    """DEMO-2: unset, proofs name the URL the app is served on; set, the public URL."""
    unset = StepUpSettings.from_env(BASE)
    assert unset.dpop("http://127.0.0.1:8000").public_url == "http://127.0.0.1:8000"
    public = StepUpSettings.from_env({**BASE, "STEPUP_PUBLIC_URL": "https://api.example.com/v1"})
    assert public.dpop("http://127.0.0.1:8000").public_url == "https://api.example.com/v1"


@given(st.text(max_size=60))
def test_DEMO_2_any_public_url_fails_at_start_up_or_works(value: str) -> None:
    """DEMO-2: whatever STEPUP_PUBLIC_URL holds, reading the settings either refuses it with a
    ConfigurationError or gives a URL the DPoP checker takes (never an error later)."""
    try:
        settings = StepUpSettings.from_env({**BASE, "STEPUP_PUBLIC_URL": value})
    except ConfigurationError:
        return
    checker = settings.dpop("http://127.0.0.1:8000")
    assert checker.expected_htu("/cats/") is not None
