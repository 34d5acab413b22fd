"""RFC 9470 §4 at the authorization server: acr_values and max_age in the authorization request.

The scripted browser keeps its session cookie, so these tests see what a user sees: which steps
the server asks for inside an existing session, and what the new token says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from stepup_mfa.devidp import DevIdP, DevIdPClient, LoginError, login
from stepup_mfa.testing import FrozenClock

ALICE = ("alice", "alice-password")


def test_password_login_gives_the_password_acr_and_pwd_amr(
    idp: DevIdP, browser: DevIdPClient, claims_of: Callable[[str], dict[str, Any]]
) -> None:
    claims = claims_of(browser.login(*ALICE).access_token)
    assert (claims["acr"], claims["amr"]) == (idp.password_acr, ["pwd"])


def test_acr_values_for_mfa_in_a_fresh_session_asks_password_then_totp(
    idp: DevIdP, clock: FrozenClock, claims_of: Callable[[str], dict[str, Any]]
) -> None:
    tokens = login(
        idp.issuer, "demo-client", *ALICE, totp=idp.totp_code("alice"), acr_values=idp.mfa_acr
    )
    claims = claims_of(tokens.access_token)
    assert (claims["acr"], claims["amr"], claims["auth_time"]) == (
        idp.mfa_acr,
        ["pwd", "otp"],
        clock(),
    )


def test_acr_values_for_mfa_forces_totp_inside_an_existing_session_r9470_1(
    idp: DevIdP,
    browser: DevIdPClient,
    clock: FrozenClock,
    claims_of: Callable[[str], dict[str, Any]],
) -> None:
    """Checklist: R9470-1."""
    browser.login(*ALICE)
    clock.advance(40)
    asked: list[str] = []

    def code() -> str:
        asked.append("totp")
        return idp.totp_code("alice")

    # No password this time: only the second factor may be asked for.
    stepped_up = browser.login(totp=code, acr_values=idp.mfa_acr)
    claims = claims_of(stepped_up.access_token)
    assert asked == ["totp"]
    assert (claims["acr"], claims["amr"]) == (idp.mfa_acr, ["pwd", "otp"])
    assert claims["auth_time"] == clock()  # the step-up is a new active authentication


def test_without_a_totp_code_the_step_up_cannot_complete(
    idp: DevIdP, browser: DevIdPClient
) -> None:
    browser.login(*ALICE)
    with pytest.raises(LoginError) as refused:
        browser.login(acr_values=idp.mfa_acr)
    assert refused.value.code == "totp_required"


def test_a_session_that_already_has_mfa_satisfies_acr_values_without_a_new_code(
    idp: DevIdP, browser: DevIdPClient, claims_of: Callable[[str], dict[str, Any]]
) -> None:
    first = browser.login(*ALICE, totp=idp.totp_code("alice"), acr_values=idp.mfa_acr)
    again = browser.login(acr_values=idp.mfa_acr)
    assert claims_of(again.access_token)["auth_time"] == claims_of(first.access_token)["auth_time"]


@pytest.mark.parametrize(
    ("session_age", "max_age", "reauthenticates"),
    [(60, 60, False), (61, 60, True), (0, 0, False), (1, 0, True)],
)
def test_max_age_forces_reauthentication_only_when_the_session_is_older_oidc_3(
    idp: DevIdP,
    browser: DevIdPClient,
    clock: FrozenClock,
    claims_of: Callable[[str], dict[str, Any]],
    session_age: int,
    max_age: int,
    reauthenticates: bool,
) -> None:
    """Checklist: OIDC-3."""
    login_time = clock()
    browser.login(*ALICE)
    clock.advance(session_age)
    if reauthenticates:
        with pytest.raises(LoginError) as refused:
            browser.login(max_age=max_age)  # no password supplied
        assert refused.value.code == "password_required"
        tokens = browser.login(*ALICE, max_age=max_age)
        assert claims_of(tokens.access_token)["auth_time"] == clock()
    else:
        tokens = browser.login(max_age=max_age)
        assert claims_of(tokens.access_token)["auth_time"] == login_time


def test_max_age_with_mfa_acr_asks_password_and_totp_again_r9470_5(
    idp: DevIdP,
    browser: DevIdPClient,
    clock: FrozenClock,
    claims_of: Callable[[str], dict[str, Any]],
) -> None:
    """Checklist: R9470-5."""
    browser.login(*ALICE, totp=idp.totp_code("alice"), acr_values=idp.mfa_acr)
    clock.advance(61)
    asked: list[str] = []

    def code() -> str:
        asked.append("totp")
        return idp.totp_code("alice")

    tokens = browser.login(*ALICE, totp=code, acr_values=idp.mfa_acr, max_age=60)
    claims = claims_of(tokens.access_token)
    assert asked == ["totp"]
    assert (claims["acr"], claims["auth_time"]) == (idp.mfa_acr, clock())


def test_acr_values_that_accept_the_password_level_need_no_second_factor_r9470_3(
    idp: DevIdP, browser: DevIdPClient, claims_of: Callable[[str], dict[str, Any]]
) -> None:
    """Checklist: R9470-3."""
    tokens = browser.login(*ALICE, acr_values=[idp.mfa_acr, idp.password_acr])
    assert claims_of(tokens.access_token)["acr"] == idp.password_acr


def test_unsupported_acr_values_are_unmet_requirements(idp: DevIdP) -> None:
    with pytest.raises(LoginError) as refused:
        login(idp.issuer, "demo-client", *ALICE, acr_values="urn:example:acr:hwk")
    assert refused.value.code == "unmet_authentication_requirements"


@pytest.mark.parametrize("max_age", ["-1", "1.5", "60s"])
def test_malformed_max_age_is_an_invalid_request(idp: DevIdP, max_age: str) -> None:
    import httpx

    with httpx.Client() as http:
        response = http.get(
            idp.issuer + "/authorize",
            params={
                "response_type": "code",
                "client_id": "demo-client",
                "redirect_uri": "http://127.0.0.1/callback",
                "code_challenge": "c" * 43,
                "code_challenge_method": "S256",
                "max_age": max_age,
            },
        )
    assert "error=invalid_request" in response.headers["location"]


@pytest.mark.parametrize(
    ("with_session", "expected"), [(False, "login_required"), (True, "interaction_required")]
)
def test_prompt_none_never_shows_a_page(
    idp: DevIdP, browser: DevIdPClient, with_session: bool, expected: str
) -> None:
    if with_session:
        browser.login(*ALICE)
    with pytest.raises(LoginError) as refused:
        browser.login(acr_values=idp.mfa_acr, prompt="none")
    assert refused.value.code == expected


def test_prompt_login_forces_the_password_again(idp: DevIdP, browser: DevIdPClient) -> None:
    browser.login(*ALICE)
    with pytest.raises(LoginError) as refused:
        browser.login(prompt="login")
    assert refused.value.code == "password_required"
