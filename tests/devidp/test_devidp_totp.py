"""TOTP done right: one-step tolerance, wrong codes refused, a used code never accepted again."""

from __future__ import annotations

import pyotp
import pytest

from stepup_mfa.devidp import DevIdP, DevIdPClient, LoginError, login
from stepup_mfa.devidp.totp import TotpResult, TotpVerifier
from stepup_mfa.testing import FrozenClock

ALICE = ("alice", "alice-password")

SECRET = pyotp.random_base32()
T0 = 1_700_000_010  # 10 s into a 30 s step


def _code_at(t: float) -> str:
    return pyotp.TOTP(SECRET).at(int(t))


@pytest.mark.parametrize(
    ("code_time", "result"),
    [
        (T0, TotpResult.ACCEPTED),
        (T0 - 30, TotpResult.ACCEPTED),  # previous step: drift / typed at the rollover
        (T0 + 30, TotpResult.ACCEPTED),  # next step
        (T0 - 60, TotpResult.INVALID),  # two steps away
        (T0 + 60, TotpResult.INVALID),
    ],
)
def test_valid_window_is_one_step_either_side(code_time: int, result: TotpResult) -> None:
    assert TotpVerifier().check("alice", SECRET, _code_at(code_time), T0) is result


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12 34 5x"])
def test_malformed_codes_are_invalid(code: str) -> None:
    assert TotpVerifier().check("alice", SECRET, code, T0) is TotpResult.INVALID


def test_a_code_is_refused_the_second_time_within_its_window() -> None:
    verifier = TotpVerifier()
    code = _code_at(T0)
    assert verifier.check("alice", SECRET, code, T0) is TotpResult.ACCEPTED
    assert verifier.check("alice", SECRET, code, T0 + 5) is TotpResult.REPLAYED
    assert verifier.check("alice", SECRET, code, T0 + 30) is TotpResult.REPLAYED


def test_after_a_code_is_used_older_steps_are_refused_too() -> None:
    verifier = TotpVerifier()
    assert verifier.check("alice", SECRET, _code_at(T0 + 30), T0) is TotpResult.ACCEPTED
    assert verifier.check("alice", SECRET, _code_at(T0), T0) is TotpResult.REPLAYED


def test_replay_state_is_per_user() -> None:
    verifier = TotpVerifier()
    code = _code_at(T0)
    assert verifier.check("alice", SECRET, code, T0) is TotpResult.ACCEPTED
    assert verifier.check("bob", SECRET, code, T0) is TotpResult.ACCEPTED


def test_fresh_code_skips_a_used_step_and_runs_out_after_two() -> None:
    verifier = TotpVerifier()
    for _ in range(2):
        code = verifier.fresh_code("alice", SECRET, T0)
        assert verifier.check("alice", SECRET, code, T0) is TotpResult.ACCEPTED
    with pytest.raises(RuntimeError, match="wait for the next step"):
        verifier.fresh_code("alice", SECRET, T0)


def test_spaces_inside_a_typed_code_are_ignored() -> None:
    code = _code_at(T0)
    assert (
        TotpVerifier().check("alice", SECRET, f"{code[:3]} {code[3:]}", T0) is TotpResult.ACCEPTED
    )


# -- through the server ----------------------------------------------------------------------------


def test_wrong_code_is_refused_by_the_server(idp: DevIdP) -> None:
    right = idp.users["alice"].totp_now(idp.clock())
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    with pytest.raises(LoginError) as refused:
        login(idp.issuer, "demo-client", *ALICE, totp=wrong, acr_values=idp.mfa_acr)
    assert refused.value.code == "invalid_otp"


def test_replayed_code_is_refused_by_the_server(idp: DevIdP, clock: FrozenClock) -> None:
    code = idp.users["alice"].totp_now(clock())
    login(idp.issuer, "demo-client", *ALICE, totp=code, acr_values=idp.mfa_acr)
    clock.advance(5)
    with pytest.raises(LoginError) as refused:
        login(idp.issuer, "demo-client", *ALICE, totp=code, acr_values=idp.mfa_acr)
    assert refused.value.code == "otp_replayed"


def test_the_next_step_code_lets_a_second_step_up_through(idp: DevIdP, clock: FrozenClock) -> None:
    with DevIdPClient(idp.issuer) as browser:
        browser.login(*ALICE, totp=idp.totp_code("alice"), acr_values=idp.mfa_acr)
        clock.advance(11)
        again = browser.login(
            *ALICE, totp=idp.totp_code("alice"), acr_values=idp.mfa_acr, max_age=10
        )
    assert again.unverified_claims()["auth_time"] == clock()


def test_the_otp_form_allows_five_attempts(idp: DevIdP) -> None:
    right = idp.users["alice"].totp_now(idp.clock())
    wrong = f"{(int(right) + 500_000) % 1_000_000:06d}"
    with DevIdPClient(idp.issuer) as browser:
        attempts: list[str] = []

        def code() -> str:
            attempts.append(wrong)
            return wrong

        with pytest.raises(LoginError) as refused:
            browser.login(*ALICE, totp=code, acr_values=idp.mfa_acr)
    assert refused.value.code == "invalid_otp"
    assert attempts == [wrong]  # the client gives up; the server's limit is tested below


def test_the_otp_form_locks_after_five_wrong_codes(idp: DevIdP) -> None:
    import httpx

    right = idp.users["alice"].totp_now(idp.clock())
    wrong = f"{(int(right) + 500_000) % 1_000_000:06d}"
    params = {
        "response_type": "code",
        "client_id": "demo-client",
        "redirect_uri": "http://127.0.0.1/callback",
        "code_challenge": "c" * 43,
        "code_challenge_method": "S256",
        "acr_values": idp.mfa_acr,
    }
    with httpx.Client(base_url=idp.issuer) as http:
        tx = http.get("/authorize", params=params).headers["location"].split("tx=")[1]
        to_otp = http.post("/login", data={"tx": tx, "username": ALICE[0], "password": ALICE[1]})
        assert to_otp.status_code == 303
        statuses = [http.post("/otp", data={"tx": tx, "code": wrong}).status_code for _ in range(5)]
        after = http.post("/otp", data={"tx": tx, "code": idp.totp_code("alice")})
    assert statuses == [422, 422, 422, 422, 429]
    assert after.status_code == 400  # the transaction is gone; even the right code is too late


def test_enrolment_page_shows_the_otpauth_uri_and_a_qr_code(idp: DevIdP) -> None:
    import httpx

    page = httpx.post(idp.issuer + "/enroll", data={"username": ALICE[0], "password": ALICE[1]})
    assert page.status_code == 200
    uri = idp.users["alice"].provisioning_uri(f"stepup-mfa dev-idp {idp.port}")
    assert uri is not None and uri.startswith("otpauth://totp/")
    secret = idp.users["alice"].totp_secret
    assert secret is not None
    assert "<svg" in page.text
    assert secret in page.text


def test_enrolment_needs_the_password(idp: DevIdP) -> None:
    import httpx

    page = httpx.post(idp.issuer + "/enroll", data={"username": "alice", "password": "nope"})
    secret = idp.users["alice"].totp_secret
    assert secret is not None
    assert page.status_code == 422
    assert secret not in page.text
