"""Round 3 attacks on ``stepup-mfa doctor`` (DOCTOR-2, DOCTOR-4): make it print the token or
its signature (text and JSON, error paths, an introspection answer that echoes them in other
places), crash with a traceback when the issuer misbehaves, or say "accepted" for a route the
Guard refuses (sender-constrained tokens, which the doctor cannot prove possession of).
A hole is marked ``xfail(strict=True)``.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator

import pytest

from stepup_mfa._core.decision import certificate_thumbprint
from stepup_mfa.cli import main
from stepup_mfa.testing import FakeIssuer

AUDIENCE = "https://api.example.com"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, stepup_issuer: FakeIssuer) -> Iterator[dict[str, str]]:
    for name in [n for n in os.environ if n.startswith("STEPUP_")]:
        monkeypatch.delenv(name)
    yield {"STEPUP_AUDIENCE": AUDIENCE, "STEPUP_ISSUER": stepup_issuer.issuer}


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
    # The token comes last, after "--": an opaque token may begin with "-" (see the xfail below).
    status = main(["doctor", *args[:-1], "--", *args[-1:]])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def introspection(env: dict[str, str], issuer: FakeIssuer) -> dict[str, str]:
    client_id, secret = issuer.introspection_client
    return dict(
        env,
        STEPUP_TOKEN_MODE="introspection",
        STEPUP_INTROSPECTION_CLIENT_ID=client_id,
        STEPUP_INTROSPECTION_CLIENT_SECRET=secret,
    )


ECHOES = {
    "in a list": lambda token: [token, "x"],
    "nested": lambda token: {"token_info": {"value": token}},
    "as a key": lambda token: {token: True},
    "after a prefix": lambda token: "Bearer " + token,
    "twice": lambda token: token + token,
}


@pytest.mark.parametrize("shape", ECHOES.values(), ids=ECHOES.keys())
@pytest.mark.parametrize("output", [(), ("--json",)], ids=["text", "json"])
def test_doctor_an_answer_echoing_the_opaque_token_anywhere_is_redacted(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    stepup_issuer: FakeIssuer,
    shape: object,
    output: tuple[str, ...],
) -> None:
    """Attack: a careless authorization server echoes the token inside structures of its
    answer; the report (text or JSON) must still never contain it (DOCTOR-4)."""
    token = stepup_issuer.opaque_token(mfa=True)
    stepup_issuer._opaque[token]["echo"] = shape(token)  # type: ignore[operator]
    status, out = doctor(monkeypatch, capsys, introspection(env, stepup_issuer), *output, token)
    assert status == 0, out
    assert token not in out
    if output:
        json.loads(out)  # still a JSON document after the redaction


@pytest.mark.parametrize("output", [(), ("--json",)], ids=["text", "json"])
def test_doctor_an_answer_echoing_a_jwt_signature_is_redacted(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    stepup_issuer: FakeIssuer,
    output: tuple[str, ...],
) -> None:
    """Attack: a JWT introspected (introspection mode) whose answer echoes only the JWT's
    signature segment (DOCTOR-4: the signature is never shown)."""
    jwt = stepup_issuer.tokens.mfa_token()
    stepup_issuer._opaque[jwt] = {
        "active": True,
        **stepup_issuer.tokens.claims(mfa=True),
        "token_type": "Bearer",
        "sig": jwt.rpartition(".")[2],
    }
    status, out = doctor(monkeypatch, capsys, introspection(env, stepup_issuer), *output, jwt)
    assert status == 0, out  # the answer was read and shown
    assert jwt.rpartition(".")[2] not in out
    assert jwt not in out


@pytest.mark.parametrize("fault", ["500", "garbage", "close"])
@pytest.mark.parametrize("mode", ["jwt", "introspection"])
@pytest.mark.parametrize("output", [(), ("--json",)], ids=["text", "json"])
def test_doctor_a_misbehaving_issuer_is_reported_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    stepup_issuer: FakeIssuer,
    fault: str,
    mode: str,
    output: tuple[str, ...],
) -> None:
    """Attack: the issuer answers 500, HTML or closes the connection for metadata, JWKS and
    introspection; the doctor must exit 1 with a report (no traceback, no token), and every
    route REFUSED 503 as the Guard would answer (fail closed)."""
    token = (
        stepup_issuer.tokens.mfa_token() if mode == "jwt" else stepup_issuer.opaque_token(mfa=True)
    )
    settings = env if mode == "jwt" else introspection(env, stepup_issuer)
    stepup_issuer.server.fault = fault  # type: ignore[assignment]
    status, out = doctor(monkeypatch, capsys, settings, *output, token)
    assert status == 1, out
    assert "Traceback" not in out
    assert token not in out and token.rpartition(".")[2] not in out
    if output:
        for route in json.loads(out)["routes"]:
            if route["policy"] != "anonymous":
                assert (route["accepted"], route["status"]) == (False, 503), route


def test_doctor_a_token_that_cannot_be_decoded_is_not_echoed_in_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str]
) -> None:
    """Attack: inputs whose parse errors might quote them (bad base64, bad JSON, bad UTF-8,
    four segments, a huge token) in both output modes (DOCTOR-4)."""
    import base64

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    secret_tail = "s3cr3tS1gnatureValue_0123456789"
    inputs = [
        "eyJhbGciOi.@@@notbase64@@@." + secret_tail,
        b64(b'{"alg":"RS256"') + "." + b64(b"{}") + "." + secret_tail,
        b64(b"\xff\xfe\xfd") + "." + b64(b"{}") + "." + secret_tail,
        "a.b.c." + secret_tail,
        "x" * 20_000 + "." + b64(b"{}") + "." + secret_tail,
    ]
    for token in inputs:
        for output in ((), ("--json",)):
            status, out = doctor(monkeypatch, capsys, env, *output, token)
            assert status == 1, out
            assert secret_tail not in out and token not in out
            assert "Traceback" not in out


BOUND = {
    "DPoP-bound": {"cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}},
    "DPoP-typed": {"token_type": "DPoP"},
    "certificate-bound": {"cnf": {"x5t#S256": certificate_thumbprint(b"a certificate")}},
}


@pytest.mark.parametrize(
    ("mode", "claims"),
    [
        pytest.param(mode, claims, id=f"{mode}-{name}")
        for mode in ("jwt", "introspection")
        for name, claims in BOUND.items()
        if mode == "introspection" or "token_type" not in claims  # an introspection member
    ],
)
def test_doctor_never_accepts_a_sender_constrained_token_it_cannot_prove(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    stepup_issuer: FakeIssuer,
    claims: dict[str, object],
    mode: str,
) -> None:
    """Attack: a DPoP- or certificate-bound MFA token; a Guard refuses it without the proof or
    the certificate, so the doctor (which has neither) must not report any route ACCEPTED
    (DOCTOR-2, R9449-17, R8705-2)."""
    if mode == "jwt":
        token = stepup_issuer.tokens.mfa_token(claims=claims)
        settings = env
    else:
        token = stepup_issuer.opaque_token(mfa=True, claims=claims)
        settings = introspection(env, stepup_issuer)
    status, out = doctor(monkeypatch, capsys, settings, "--json", token)
    report = json.loads(out)
    assert status == 1
    protected = [route for route in report["routes"] if route["policy"] != "anonymous"]
    assert protected and not any(route["accepted"] for route in protected)


def test_doctor_a_bound_route_refuses_a_plain_token(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    stepup_issuer: FakeIssuer,
) -> None:
    """Attack: a plain MFA token against ``--policy 'require_bound_token = true'``: the Guard
    refuses it, so must the doctor (DOCTOR-2, DOCTOR-6)."""
    token = stepup_issuer.tokens.mfa_token()
    status, out = doctor(
        monkeypatch, capsys, env, "--json", "--policy", "require_bound_token = true", token
    )
    report = json.loads(out)
    assert status == 1
    assert [route["accepted"] for route in report["routes"]] == [False]


@pytest.mark.parametrize(
    "argv",
    [
        ["-{token}"],
        ["--token-mode", "{token}"],
        ["--routes", "{token}"],
    ],
    ids=["token-starting-with-dash", "token-as-token-mode", "token-as-routes-file"],
)
def test_doctor_usage_errors_never_echo_the_token(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    argv: list[str],
) -> None:
    """Attack: ``stepup-mfa doctor <token>`` with an opaque token that begins with ``-`` (one
    base64url token in 64 does, e.g. from ``secrets.token_urlsafe``), or a token that lands in
    a flag's value when the flag's own value was forgotten. The usage error must not print the
    token (DOCTOR-4: "the token itself ... never shown"); argparse quotes the argument."""
    secret = "kSecretOpaqueTokenValue0123456789abcdefXYZ"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    try:
        main(["doctor", *(part.format(token=secret) for part in argv)])
    except SystemExit:
        pass
    captured = capsys.readouterr()
    assert secret not in captured.out + captured.err
