"""``stepup-mfa doctor`` against real issuers on 127.0.0.1: the development authorization server's
tokens, and tokens a :class:`FakeIssuer` mints with exactly the fault each test needs.

Every test runs the real verifier against the live metadata and JWKS; a route's verdict is
``Guard.check`` itself, so the property test pins that the doctor says what the Guard does.
"""

from __future__ import annotations

import io
import json
import re
import sys
import warnings
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stepup_mfa import Guard, StepUpSettings
from stepup_mfa._core.credentials import RequestView
from stepup_mfa._core.errors import PolicyWarning
from stepup_mfa._core.policy import Policy
from stepup_mfa._doctor import JudgedRoute, diagnose, policy_routes, render, seed_routes
from stepup_mfa.cli import main
from stepup_mfa.devidp import DevIdP, login
from stepup_mfa.testing import MFA_ACR, PASSWORD_ACR, FakeIssuer, FrozenClock, KeyRing

AUDIENCE = "https://api.example.com"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The STEPUP_* variables the doctor reads; each test fills in the issuer."""
    for name in [n for n in __import__("os").environ if n.startswith("STEPUP_")]:
        monkeypatch.delenv(name)
    values: dict[str, str] = {"STEPUP_AUDIENCE": AUDIENCE}
    yield values


def doctor(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    *args: str,
    stdin: str = "",
) -> tuple[int, str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    status = main(["doctor", *args])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def settings_for(issuer: FakeIssuer) -> StepUpSettings:
    return StepUpSettings(issuer=issuer.issuer, audience=AUDIENCE)


# -- the development server's tokens ---------------------------------------------------------------


def test_DOCTOR_1_dev_server_password_token_is_asked_to_step_up_on_cats(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    stepup_dev_idp: DevIdP,
) -> None:
    """DOCTOR-1: a password login passes / and /dogs/, and /cats/ answers the step-up challenge."""
    idp = stepup_dev_idp
    token = login(idp.issuer, "demo-client", "alice", "alice-password").access_token
    env["STEPUP_ISSUER"] = idp.issuer
    status, out = doctor(monkeypatch, capsys, env, token)
    assert status == 1
    assert "acr_values_supported: " + f"{idp.password_acr} {idp.mfa_acr}" in out
    assert "verdict: ACCEPTED (200)" in out.split("GET /cats/")[0]
    cats = out.split("GET /cats/")[1]
    assert f'NOT met  acr one of {idp.mfa_acr}: the token has "{idp.password_acr}"' in cats
    assert "verdict: REFUSED 401 insufficient_user_authentication" in cats
    assert f'acr_values="{idp.mfa_acr}", max_age="60"' in cats
    assert "send the user back to the authorization server" in cats
    assert "NOT OK: 2 of 3 routes accept this token" in out


def test_DOCTOR_1_dev_server_mfa_token_passes_every_route(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    stepup_dev_idp: DevIdP,
) -> None:
    """DOCTOR-1: exit status 0 when every route accepts the token (a fresh MFA login)."""
    idp = stepup_dev_idp
    token = login(
        idp.issuer,
        "demo-client",
        "alice",
        "alice-password",
        totp=idp.totp_code("alice"),
        acr_values=idp.mfa_acr,
    ).access_token
    env["STEPUP_ISSUER"] = idp.issuer
    status, out = doctor(monkeypatch, capsys, env, token)
    assert status == 0, out
    assert "OK: 3 of 3 routes accept this token" in out
    assert "s left" in out  # the max_age countdown of /cats/


def test_DOCTOR_1_countdown_of_max_age(
    stepup_issuer: FakeIssuer, stepup_clock: FrozenClock
) -> None:
    """DOCTOR-1: the freshness countdown, then the same token once the window has passed."""
    token = stepup_issuer.tokens.mfa_token(auth_age=12)
    settings = settings_for(stepup_issuer)
    fresh = render(diagnose(settings, token, seed_routes(settings), clock=stepup_clock))
    assert "max_age 60 s: authenticated 12 s ago, 48 s left" in fresh
    stepup_clock.advance(61)
    stale = diagnose(settings, token, seed_routes(settings), clock=stepup_clock)
    assert "authenticated 73 s ago, too old by 13 s" in render(stale)
    assert [report.accepted for report in stale.routes] == [True, True, False]


# -- the faults integrators meet -------------------------------------------------------------------


def test_DOCTOR_3_jwt_typed_token_suggests_accept_jwt_typ(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    stepup_issuer: FakeIssuer,
) -> None:
    """DOCTOR-3: a token typed JWT is refused, with STEPUP_ACCEPT_JWT_TYP=1 as the fix to try;
    with the flag, every route accepts it."""
    token = stepup_issuer.tokens.mint(mfa=True, header={"typ": "JWT"})
    env["STEPUP_ISSUER"] = stepup_issuer.issuer
    status, out = doctor(monkeypatch, capsys, env, token)
    assert status == 1
    assert "REFUSED: invalid_token: The access token type is wrong" in out
    assert "set STEPUP_ACCEPT_JWT_TYP=1" in out
    status, out = doctor(monkeypatch, capsys, env, "--accept-jwt-typ", token)
    assert status == 0, out


def test_DOCTOR_3_expired_token(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    stepup_issuer: FakeIssuer,
) -> None:
    """DOCTOR-3: an expired token is refused on every protected route, with how long ago."""
    token = stepup_issuer.tokens.mfa_token(expires_in=-600)
    env["STEPUP_ISSUER"] = stepup_issuer.issuer
    status, out = doctor(monkeypatch, capsys, env, token)
    assert status == 1
    assert "REFUSED: invalid_token: The access token expired" in out
    assert re.search(r"fix: the token expired \d+ min \d+ s ago: get a new one", out)
    assert out.count("verdict: REFUSED 401 invalid_token") == 2
    assert 'error="invalid_token", error_description="The access token expired"' in out
    frozen = diagnose(settings_for(stepup_issuer), token, (), clock=stepup_issuer.tokens.clock)
    assert "the token expired 10 min 0 s ago" in render(frozen)


def test_DOCTOR_3_token_without_auth_time(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    stepup_issuer: FakeIssuer,
) -> None:
    """DOCTOR-3: without auth_time a max_age route refuses (R9470-10) and the fix names the AS."""
    token = stepup_issuer.tokens.mfa_token(omit=("auth_time",))
    env["STEPUP_ISSUER"] = stepup_issuer.issuer
    status, out = doctor(monkeypatch, capsys, env, token)
    assert status == 1
    cats = out.split("GET /cats/")[1]
    assert "NOT met  max_age 60 s: the token has no auth_time" in cats
    assert "the authorization server must include auth_time in access tokens" in cats
    assert "2 of 3 routes accept this token" in out


OTHER_KEYS = KeyRing()


@pytest.mark.parametrize(
    ("options", "refusal", "fix"),
    [
        pytest.param(
            {"audience": "https://other.example"},
            "The access token is not intended for this resource",
            "the token's aud is \"https://other.example\", this API's audience setting is",
            id="audience",
        ),
        pytest.param(
            {"issuer": "https://elsewhere.example"},
            "The access token was issued by an untrusted issuer",
            'the token\'s iss is "https://elsewhere.example"',
            id="issuer",
        ),
        pytest.param(
            {"key": OTHER_KEYS.current("RS256")},
            "The access token signing key is unknown",
            "is not in the issuer's JWKS: the key was rotated out",
            id="unknown-kid",
        ),
        pytest.param(
            {"issued_at_ahead": 600},
            "The access token was issued in the future",
            "iat is 10 min 0 s ahead of this machine's clock",
            id="clock-skew",
        ),
    ],
)
def test_DOCTOR_3_verifier_refusals_come_with_their_fix(
    stepup_issuer: FakeIssuer,
    stepup_clock: FrozenClock,
    options: dict[str, object],
    refusal: str,
    fix: str,
) -> None:
    """DOCTOR-3: the verifier's own refusal, and the fix that fits the decoded token."""
    ahead = options.pop("issued_at_ahead", None)
    if isinstance(ahead, int):
        options["issued_at"] = stepup_clock() + ahead
    token = stepup_issuer.tokens.mint(mfa=True, **options)  # type: ignore[arg-type]
    settings = settings_for(stepup_issuer)
    diagnosis = diagnose(settings, token, seed_routes(settings), clock=stepup_clock)
    text = render(diagnosis)
    assert f"REFUSED: invalid_token: {refusal}" in text
    assert fix in text
    assert not diagnosis.ok


def test_DOCTOR_3_unknown_kid_lists_the_published_kids(
    stepup_issuer: FakeIssuer, stepup_clock: FrozenClock
) -> None:
    token = stepup_issuer.tokens.mint(key=OTHER_KEYS.current("RS256"))
    settings = settings_for(stepup_issuer)
    text = render(diagnose(settings, token, seed_routes(settings), clock=stepup_clock))
    kids = sorted(str(key["kid"]) for key in stepup_issuer.tokens.jwks["keys"])
    assert f"publishes {len(kids)} usable keys, kids {' '.join(kids)}" in text
    assert f'kid "{OTHER_KEYS.current("RS256").kid}" is NOT in the issuer\'s JWKS' in text


def test_DOCTOR_3_acr_missing_from_the_access_token(
    stepup_issuer: FakeIssuer, stepup_clock: FrozenClock
) -> None:
    """DOCTOR-3: an access token without acr can never satisfy an acr route: the AS must add it."""
    token = stepup_issuer.tokens.mfa_token(omit=("acr",))
    settings = settings_for(stepup_issuer)
    text = render(diagnose(settings, token, seed_routes(settings), clock=stepup_clock))
    assert f"NOT met  acr one of {MFA_ACR}: the token has no acr claim" in text
    assert "the authorization server must put acr in access tokens" in text


# -- what is printed -------------------------------------------------------------------------------


@pytest.mark.parametrize("output", [(), ("--json",)], ids=["text", "json"])
def test_DOCTOR_4_never_prints_the_token_or_its_signature(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    stepup_issuer: FakeIssuer,
    output: tuple[str, ...],
) -> None:
    """DOCTOR-4: neither the token nor its signature segment appears, refused or accepted."""
    env["STEPUP_ISSUER"] = stepup_issuer.issuer
    for token in (stepup_issuer.tokens.password_token(), stepup_issuer.tokens.mint(expires_in=-9)):
        _status, out = doctor(monkeypatch, capsys, env, *output, token)
        signature = token.rsplit(".", 1)[1]
        assert token not in out
        assert signature not in out
        assert signature[:16] not in out


def test_DOCTOR_4_json_report(stepup_issuer: FakeIssuer, stepup_clock: FrozenClock) -> None:
    """DOCTOR-4: --json carries the same verdicts, challenges and countdowns."""
    token = stepup_issuer.tokens.password_token(auth_age=5)
    settings = settings_for(stepup_issuer)
    diagnosis = diagnose(settings, token, seed_routes(settings), clock=stepup_clock)
    report = json.loads(render(diagnosis, as_json=True))
    assert report["ok"] is False
    assert report["token"]["claims"]["acr"] == PASSWORD_ACR
    cats = report["routes"][2]
    assert (cats["route"], cats["accepted"], cats["status"]) == ("GET /cats/", False, 401)
    assert cats["error"]["code"] == "insufficient_user_authentication"
    assert 'acr_values="' + MFA_ACR + '"' in cats["www_authenticate"]
    assert cats["seconds_left"] == 55


def test_DOCTOR_5_token_from_stdin_as_an_authorization_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    stepup_issuer: FakeIssuer,
) -> None:
    """DOCTOR-5: ``-`` (the default) reads stdin; a pasted ``Authorization: Bearer`` is fine."""
    env["STEPUP_ISSUER"] = stepup_issuer.issuer
    token = stepup_issuer.tokens.mfa_token()
    status, out = doctor(monkeypatch, capsys, env, stdin=f"Authorization: Bearer {token}\n")
    assert status == 0, out


def test_DOCTOR_5_usage_errors_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str]
) -> None:
    status, out = doctor(monkeypatch, capsys, env, "x.y.z")
    assert status == 2
    assert "STEPUP_ISSUER is not set" in out
    env["STEPUP_ISSUER"] = "https://as.example.com"
    status, out = doctor(monkeypatch, capsys, env, stdin="  \n")
    assert (status, "no token given" in out) == (2, True)


# -- routes, policies and the issuer's acr values ------------------------------------------------

TABLE = """
default = "authenticated"

[policies.payouts]
scopes = ["payouts:write"]
acr_values = ["urn:stepup-mfa:acr:mfaa"]
max_age = 300

[[routes]]
match = "GET /"
policy = "anonymous"

[[routes]]
match = "POST,PUT /payouts/{id}"
policy = "payouts"

[[routes]]
match = "GET /cats/"
policy = "mfa-recent"
"""


def test_DOCTOR_6_route_table_and_R9470_14_typo_acr(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    stepup_issuer: FakeIssuer,
    tmp_path: pytest.TempPathFactory,
) -> None:
    """DOCTOR-6, R9470-14: every entry of the table is judged (mfa-recent from the settings);
    the typo acr value is named with the issuer's values; --strict-acr makes it fail."""
    path = tmp_path / "routes.toml"  # type: ignore[operator]
    path.write_text(TABLE)
    env["STEPUP_ISSUER"] = stepup_issuer.issuer
    token = stepup_issuer.tokens.mfa_token(scope="payouts:write")
    status, out = doctor(monkeypatch, capsys, env, "--routes", str(path), token)
    assert status == 1
    assert (
        "WARNING: policy 'payouts' asks for acr_values urn:stepup-mfa:acr:mfaa that the issuer "
        f"does not list in acr_values_supported ({PASSWORD_ACR} {MFA_ACR})"
    ) in out
    assert "POST,PUT /payouts/{id}  (policy payouts: scopes payouts:write" in out
    assert "GET /cats/  (policy mfa-recent" in out
    assert "any other route (the default)" in out
    assert "3 of 4 routes accept this token" in out
    status, out = doctor(monkeypatch, capsys, env, "--routes", str(path), "--strict-acr", token)
    assert "ERROR (strict: the app would not start)" in out
    assert "the acr check fails (strict)" in out


def test_DOCTOR_6_policy_on_the_command_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    stepup_issuer: FakeIssuer,
) -> None:
    """DOCTOR-6: --policy in the route table's TOML syntax, judged instead of the seed routes."""
    env["STEPUP_ISSUER"] = stepup_issuer.issuer
    token = stepup_issuer.tokens.mfa_token(scope="read")
    spec = 'scopes = ["read", "write"], max_age = 30'
    status, out = doctor(monkeypatch, capsys, env, "--policy", spec, token)
    assert status == 1
    assert "policy command-line 1" in out
    assert "NOT met  scope read write: the token grants read; missing write" in out
    assert "ask for scope write in the authorization request" in out
    assert "0 of 1 routes accept this token" in out


def test_DOCTOR_7_introspection_answer(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    stepup_issuer: FakeIssuer,
) -> None:
    """DOCTOR-7: an opaque token is judged by the introspection answer (RFC 7662)."""
    client_id, secret = stepup_issuer.introspection_client
    env.update(
        STEPUP_ISSUER=stepup_issuer.issuer,
        STEPUP_TOKEN_MODE="introspection",
        STEPUP_INTROSPECTION_CLIENT_SECRET=secret,
    )
    token = stepup_issuer.opaque_token(mfa=True)
    status, out = doctor(monkeypatch, capsys, env, "--introspection-client-id", client_id, token)
    assert status == 0, out
    assert "an opaque token of" in out
    assert "accepted: the introspection answer is active and for this API" in out
    assert f'acr: "{MFA_ACR}"' in out
    stepup_issuer.revoke(token)
    status, out = doctor(monkeypatch, capsys, env, "--introspection-client-id", client_id, token)
    assert status == 1
    assert "the introspection answer refuses the token" in out
    assert token not in out


def test_DOCTOR_4_an_answer_echoing_the_token_is_redacted(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    stepup_issuer: FakeIssuer,
) -> None:
    """DOCTOR-4: even an introspection answer that repeats the token does not print it."""
    client_id, secret = stepup_issuer.introspection_client
    env.update(
        STEPUP_ISSUER=stepup_issuer.issuer,
        STEPUP_TOKEN_MODE="introspection",
        STEPUP_INTROSPECTION_CLIENT_ID=client_id,
        STEPUP_INTROSPECTION_CLIENT_SECRET=secret,
    )
    token = stepup_issuer.opaque_token(mfa=True)
    stepup_issuer._opaque[token]["echo"] = token  # a careless authorization server
    for output in ((), ("--json",)):
        status, out = doctor(monkeypatch, capsys, env, *output, token)
        assert status == 0, out
        assert token not in out
        assert "[the token]" in out


# -- the doctor says what the Guard does -----------------------------------------------------------

SCOPES = ["a", "b"]
ACRS = [PASSWORD_ACR, MFA_ACR]


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict[str, object], Policy]:
    claims: dict[str, object] = {
        "scope": " ".join(draw(st.lists(st.sampled_from(SCOPES), unique=True))),
        "acr": draw(st.sampled_from(ACRS)),
        "auth_age": draw(st.integers(0, 200)),
        "expires_in": draw(st.sampled_from([-120, 30, 300])),
    }
    omit = draw(st.lists(st.sampled_from(["auth_time", "acr"]), unique=True, max_size=1))
    if omit:
        claims["omit"] = tuple(omit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PolicyWarning)
        policy = Policy(
            scopes=draw(st.lists(st.sampled_from(SCOPES), max_size=2)),
            acr_values=draw(st.lists(st.sampled_from(ACRS), max_size=1)),
            max_age=draw(st.one_of(st.none(), st.integers(0, 150))),
            name="generated",
        )
    return claims, policy


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=cases())
def test_DOCTOR_2_doctor_verdict_is_the_guards_verdict(
    stepup_issuer: FakeIssuer, stepup_clock: FrozenClock, case: tuple[dict[str, object], Policy]
) -> None:
    """DOCTOR-2: for generated claims and policies, each route's verdict, status and challenge
    are exactly what a Guard of the same settings decides for a request with that token; and
    the doctor's requirement lines are all met exactly when it accepts."""
    claims, policy = case
    token = stepup_issuer.tokens.mint(**claims)  # type: ignore[arg-type]
    settings = settings_for(stepup_issuer)
    routes = (*policy_routes([policy]), JudgedRoute("any", "GET", "/x", Policy(name="plain")))
    diagnosis = diagnose(settings, token, routes, clock=stepup_clock)
    guard = Guard(settings.verifier(), clock=stepup_clock)
    try:
        for report in diagnosis.routes:
            view = RequestView("GET", report.route.path, ("Bearer " + token,), scheme="https")
            decision = guard.check(view, report.route.policy)
            assert report.decision.allowed is decision.allowed
            assert report.decision.status == decision.status
            assert report.decision.headers == decision.headers
            assert all(met for _text, met in report.requirements) is decision.allowed
    finally:
        guard.close()


def test_DOCTOR_5_the_console_command_reads_stdin(stepup_issuer: FakeIssuer) -> None:
    """DOCTOR-5: ``python -m stepup_mfa doctor`` as a user runs it, the token piped in."""
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("STEPUP_")}
    env.update(STEPUP_ISSUER=stepup_issuer.issuer, STEPUP_AUDIENCE=AUDIENCE)
    token = stepup_issuer.tokens.password_token()
    run = subprocess.run(
        [sys.executable, "-m", "stepup_mfa", "doctor", "--json"],
        input=token,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    assert [route["accepted"] for route in report["routes"]] == [True, True, False]
    assert token not in run.stdout + run.stderr
