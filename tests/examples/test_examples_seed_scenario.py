"""The seed scenario end to end: each example app, as its own process, against the development
authorization server, configured only through the documented STEPUP_* variables.

The walkthrough (``stepup_mfa._demo``) checks every answer: ``/`` 200 without a token, ``/dogs/``
401 then 200, ``/cats/`` 401 step-up naming the MFA acr, 200 after the TOTP step-up, 401 with
``max_age`` once the window has passed (R9470-1, R9470-4, R9470-10), 200 after re-authentication,
and a DPoP-bound token refused as Bearer and with a thief's proof, accepted with its key's.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stepup_mfa._demo import DemoFailure, find_example, run_demo

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("token_mode", ["jwt", "introspection"])
@pytest.mark.parametrize("app", ["starlette", "flask"])
def test_example_runs_the_seed_scenario(app: str, token_mode: str) -> None:
    """R9470-1, R9470-4, R9470-8, R9470-9, R9470-10, R9449-16, R9449-17: the example answers
    every step as the seed scenario requires, for JWT access tokens and for opaque tokens checked
    by introspection, the DPoP step included."""
    out = io.StringIO()
    status = run_demo(app=app, max_age=2, token_mode=token_mode, out=out)  # type: ignore[arg-type]
    transcript = out.getvalue()
    assert status == 0, transcript
    assert "All 11 steps answered as the seed scenario requires." in transcript
    assert 'error="insufficient_user_authentication"' in transcript
    assert 'max_age="2"' in transcript
    dpop_step = transcript.split("[11] ", 1)[1]
    assert dpop_step.count("-> 401 ") == 2 and "-> 200 OK" in dpop_step
    assert 'error_description="DPoP-bound token presented as Bearer"' in dpop_step
    assert 'DPoP realm="catsdogs", error="invalid_token"' in dpop_step
    assert 'error_description="Invalid DPoP key binding"' in dpop_step


def test_demo_command_exits_zero() -> None:
    """``stepup-mfa demo`` as a newcomer runs it (a shorter window to keep the suite quick)."""
    script = Path(sys.executable).with_name("stepup-mfa")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "stepup_mfa"]
    result = subprocess.run(
        [*command, "demo", "--max-age", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[10] /cats/ accepts the fresh token again" in result.stdout
    assert "[11] A DPoP-bound token is useless when stolen" in result.stdout


def test_demo_reports_a_missing_example_and_fails() -> None:
    with pytest.raises(DemoFailure, match="reinstall it"):
        find_example("nonexistent")
